/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Booting PC firmware instead of a kernel (`firmware`, docs/vmm.md): the
 * image (Debian's SeaBIOS, /usr/share/seabios/bios.bin) is mapped read-only
 * so that it ends at 4 GiB, its last 128 KiB are copied to 0xe0000..0xfffff
 * (the BIOS area, guest RAM SeaBIOS shadows itself into), and vCPU 0 starts
 * at the reset vector as KVM leaves it. What the firmware needs to know
 * comes from fw_cfg (devices/fwcfg.h): the e820 map, the CPU count, the
 * boot order and the VGA option ROM; the CMOS memory bytes say the same for
 * firmware that reads those.
 *
 * The image is untrusted input too (a path the configuration names): its
 * size must be whole 64 KiB blocks from 64 KiB to 16 MiB and its reset
 * vector, 16 bytes from the end, a jump, or it is refused with a message.
 */
#ifndef VPS_VMM_BOOT_FIRMWARE_H
#define VPS_VMM_BOOT_FIRMWARE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "vmm/devices/fwcfg.h"
#include "vmm/vm.h"

#define FIRMWARE_MIN (64u << 10)
#define FIRMWARE_MAX (16u << 20)
#define FIRMWARE_BIOS_AREA 0xe0000ULL /* 128 KiB below 1 MiB */
#define FIRMWARE_VGAROM_MAX (256u << 10)
#define FIRMWARE_DEBUG_PORT 0x402 /* QEMU's debugcon, where SeaBIOS writes its messages */

/* The RAM hole for firmware boot: SeaBIOS's q35 places MMCONFIG at 0xb0000000 (dev-q35.h). */
#define FIRMWARE_PCI_HOLE 0xb0000000ULL
#define FIRMWARE_ECAM_BASE 0xb0000000ULL
/* and PCI memory BARs top-down from 0xfec00000, above MMCONFIG's 256 MiB */
#define FIRMWARE_PCI_MMIO_BASE 0xc0000000ULL
#define FIRMWARE_PCI_MMIO_SIZE (0xfec00000ULL - FIRMWARE_PCI_MMIO_BASE)

struct firmware_config {
	const char *path; /* the firmware image */
	const char *vgabios; /* the VGA function's option ROM (fw_cfg "pci1234,1111.rom"), or NULL */
	uint64_t low_ram, high_ram; /* RAM below the hole and from 4 GiB */
	unsigned int cpus;
	const char *bootorder; /* OpenFirmware device paths, one a line, or NULL */
};

/* Check an image in memory: 0 or -EINVAL with the reason in *why. */
int firmware_check(const uint8_t *img, size_t len, const char **why);

/* Map the image and fill fw_cfg; errors name the file and the reason. */
int firmware_load(struct vm *vm, struct fwcfg *f, const struct firmware_config *fc,
		  struct err **err);

#endif
