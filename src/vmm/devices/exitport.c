// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Test exit port: see exitport.h.
 */
#include <stdint.h>

#include "vmm/devices/exitport.h"

static void exitport_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	vm_request_exit(opaque, VM_EXIT_PORT, *(const uint8_t *)data);
}

static const struct io_ops exitport_ops = {
	.write = exitport_write,
};

int exitport_init(struct vm *vm)
{
	return iobus_register(&vm->pio, EXITPORT_BASE, 1, &exitport_ops, vm);
}
