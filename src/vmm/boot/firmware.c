// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * PC firmware boot: see firmware.h. The fw_cfg items are the ones SeaBIOS
 * reads on a QEMU machine (src/fw/paravirt.c in its tree): "etc/e820",
 * the CPU counts, "bootorder" and "vgaroms/"; ACPI tables are left to it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "vmm/arch/x86/layout.h"
#include "vmm/boot/firmware.h"

/* "etc/e820" entries: QEMU's struct e820_entry, little-endian. */
struct fw_e820 {
	uint64_t addr;
	uint64_t len;
	uint32_t type;
} __attribute__((packed));

int firmware_check(const uint8_t *img, size_t len, const char **why)
{
	uint8_t op;

	if (len < FIRMWARE_MIN || len > FIRMWARE_MAX || len % FIRMWARE_MIN) {
		*why = "its size is not whole 64 KiB blocks from 64 KiB to 16 MiB";
		return -EINVAL;
	}
	/* the reset vector: the CPU starts 16 bytes below 4 GiB, at a jump */
	op = img[len - 16];
	if (op != 0xea && op != 0xe9 && op != 0xeb) {
		*why = "no jump at the reset vector (16 bytes from its end)";
		return -EINVAL;
	}
	return 0;
}

static int add_e820(struct fwcfg *f, const struct firmware_config *fc)
{
	struct fw_e820 e[3];
	unsigned int n = 0;

	e[n++] = (struct fw_e820){ 0, fc->low_ram, X86_E820_RAM };
	/* KVM's identity-map page and TSS (x86_vm_init) must not be used */
	e[n++] = (struct fw_e820){ X86_KVM_IDENT_ADDR, X86_KVM_RESERVED_END - X86_KVM_IDENT_ADDR,
				   X86_E820_RESERVED };
	if (fc->high_ram)
		e[n++] = (struct fw_e820){ X86_HIGH_RAM, fc->high_ram, X86_E820_RAM };
	return fwcfg_add_file(f, "etc/e820", e, n * sizeof(e[0]));
}

static int add_vgabios(struct fwcfg *f, const char *path, struct err **err)
{
	_cleanup_free_ char *rom = NULL;
	const char *base = strrchr(path, '/');
	char name[FWCFG_NAME_MAX];
	size_t len;
	int ret;

	ret = read_file(path, &rom, &len);
	if (ret < 0)
		return err_make(err, -ret, "`vgabios`: read `%s`", path);
	/* an option ROM: 0x55 0xaa, its length in 512-byte blocks at byte 2 */
	if (len < 512 || len > FIRMWARE_VGAROM_MAX || (uint8_t)rom[0] != 0x55 ||
	    (uint8_t)rom[1] != 0xaa || (size_t)(uint8_t)rom[2] * 512 > len)
		return err_make(err, EINVAL, "`vgabios`: `%s` is not an option ROM", path);
	snprintf(name, sizeof(name), "vgaroms/%.40s", base ? base + 1 : path);
	ret = fwcfg_add_file(f, name, rom, len);
	if (ret < 0)
		return err_make(err, -ret, "`vgabios`: fw_cfg");
	return 0;
}

int firmware_load(struct vm *vm, struct fwcfg *f, const struct firmware_config *fc,
		  struct err **err)
{
	_cleanup_free_ char *img = NULL;
	uint64_t ram_size = fc->low_ram + fc->high_ram, shadow;
	uint32_t cpus = fc->cpus;
	const char *why;
	uint8_t *area;
	size_t len;
	int ret;

	ret = read_file(fc->path, &img, &len);
	if (ret < 0)
		return err_make(err, -ret, "`firmware`: read `%s`", fc->path);
	if (firmware_check((const uint8_t *)img, len, &why) < 0)
		return err_make(err, EINVAL, "`firmware`: `%s`: %s", fc->path, why);
	ret = vm_add_rom(vm, X86_HIGH_RAM - len, img, len);
	if (ret < 0)
		return err_make(err, -ret, "`firmware`: map `%s` below 4 GiB", fc->path);
	shadow = len < 0x20000 ? len : 0x20000;
	area = gpa_ptr(&vm->mem, 0x100000 - shadow, shadow);
	if (!area)
		return err_make(err, EINVAL, "`memory`: too little for firmware boot");
	memcpy(area, img + len - shadow, shadow);

	ret = fwcfg_add(f, FWCFG_NB_CPUS, &(uint16_t){ cpus }, 2);
	if (ret == 0)
		ret = fwcfg_add(f, FWCFG_MAX_CPUS, &(uint16_t){ cpus }, 2);
	if (ret == 0)
		ret = fwcfg_add(f, FWCFG_RAM_SIZE, &ram_size, 8);
	if (ret == 0)
		ret = add_e820(f, fc);
	/* no "Press ESC for boot menu" wait: a console client may press F12 on its own */
	if (ret == 0)
		ret = fwcfg_add_file(f, "etc/show-boot-menu", &(uint16_t){ 0 }, 2);
	if (ret == 0 && fc->bootorder)
		ret = fwcfg_add_file(f, "bootorder", fc->bootorder, strlen(fc->bootorder));
	if (ret < 0)
		return err_make(err, -ret, "fw_cfg");
	if (fc->vgabios)
		return add_vgabios(f, fc->vgabios, err);
	return 0;
}
