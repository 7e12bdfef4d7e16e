/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Loading a Linux bzImage for the 64-bit boot protocol: the protected-mode
 * kernel at 1 MiB, the initrd high in low RAM, the command line and the
 * zero page (boot_params) with its e820 map and ACPI RSDP pointer. The
 * vCPU is then entered at the returned rip with rsi = boot_params (see
 * arch/x86/regs.h). Linux boot protocol (Documentation/x86/boot.rst).
 *
 * The image is untrusted input: every offset and length read from it is
 * checked against the file and against guest RAM, and a bad image is an
 * error with a message, never an out-of-bounds access.
 */
#ifndef VPS_VMM_BOOT_LINUX_H
#define VPS_VMM_BOOT_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/arch/x86/layout.h"
#include "vmm/mem.h"

/* What the setup header tells a boot loader, once validated. */
struct linux_image {
	uint16_t version; /* boot protocol, 0x020f = 2.15 */
	size_t setup_size; /* real-mode part, skipped: we enter at startup_64 */
	const uint8_t *kernel; /* protected-mode kernel, inside the image buffer */
	size_t kernel_len;
	uint32_t init_size; /* memory the kernel needs from its load address */
	uint64_t pref_address; /* where a non-relocatable kernel runs */
	uint32_t cmdline_size; /* longest command line, not counting the NUL */
	uint32_t initrd_addr_max; /* highest address the initrd may occupy */
	int relocatable;
};

/* Validate a bzImage held in memory. -ENOEXEC with a logged reason when it is not loadable. */
int linux_parse(const void *img, size_t len, struct linux_image *out);

/*
 * Where an initrd of `size` bytes goes: as high as allowed (below
 * initrd_addr_max, the end of low RAM and 4 GiB), page aligned, above
 * everything the kernel needs while it decompresses. -ENOMEM if it does not fit.
 */
int linux_initrd_place(const struct linux_image *k, const struct x86_layout *l, uint64_t size,
		       uint64_t *addr);

struct linux_boot {
	const void *kernel; /* the bzImage file contents */
	size_t kernel_len;
	const void *initrd; /* optional: NULL when initrd_len == 0 */
	size_t initrd_len;
	const char *cmdline; /* may be NULL: empty */
	uint64_t rsdp; /* guest address of the ACPI RSDP, 0 for none */
};

/* The 64-bit entry: rip, and rsi pointing at boot_params. */
struct linux_entry {
	uint64_t rip;
	uint64_t boot_params;
};

/* Load the kernel, initrd and command line into guest RAM and fill boot_params. */
int linux_load(struct guest_mem *m, const struct x86_layout *l, const struct linux_boot *b,
	       struct linux_entry *out);

/* linux_load() from files; initrd_path may be NULL. */
int linux_load_files(struct guest_mem *m, const struct x86_layout *l, const char *kernel_path,
		     const char *initrd_path, const char *cmdline, uint64_t rsdp,
		     struct linux_entry *out);

#endif
