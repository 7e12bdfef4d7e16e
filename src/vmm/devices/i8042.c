// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The i8042 keyboard controller, only as far as a VPS needs it: the reset
 * line. Linux's reboot falls back to pulsing it (command 0xfe to port 0x64)
 * when the ACPI reset register did not take. There is no keyboard: the
 * status register reports an empty output buffer, data reads as zero.
 */
#include <string.h>

#include "vmm/devices/i8042.h"

#define I8042_DATA 0x60
#define I8042_CMD 0x64 /* command (write) / status (read) */
#define I8042_CMD_RESET 0xfe /* pulse output line 0: the CPU reset */

static void i8042_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	memset(data, 0, len);
}

static void i8042_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	if (off == 0 && *(const uint8_t *)data == I8042_CMD_RESET)
		vm_request_exit(opaque, VM_REBOOT, 0);
}

static const struct io_ops i8042_ops = { .read = i8042_read, .write = i8042_write };

int i8042_init(struct vm *vm)
{
	int ret = iobus_register(&vm->pio, I8042_DATA, 1, &i8042_ops, vm);

	if (ret < 0)
		return ret;
	return iobus_register(&vm->pio, I8042_CMD, 1, &i8042_ops, vm);
}
