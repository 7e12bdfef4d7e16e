// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * PC firmware boot: see firmware.h. The fw_cfg items are the ones SeaBIOS
 * reads on a QEMU machine (src/fw/paravirt.c in its tree): "etc/e820",
 * the CPU counts, "bootorder" and the VGA's option ROM; ACPI tables are left to it.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "vmm/arch/x86/acpi.h"
#include "vmm/arch/x86/layout.h"
#include "vmm/boot/firmware.h"
#include "vmm/devices/vga.h"

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
	/*
	 * The option ROM of our VGA's PCI function: SeaBIOS runs it with the
	 * function's address, so the vgabios finds BAR 0 (its linear framebuffer)
	 */
	snprintf(name, sizeof(name), "pci%04x,%04x.rom", VGA_PCI_VENDOR, VGA_PCI_DEVICE);
	ret = fwcfg_add_file(f, name, rom, len);
	if (ret < 0)
		return err_make(err, -ret, "`vgabios`: fw_cfg");
	return 0;
}

/*
 * The ACPI tables, as QEMU hands them to SeaBIOS (hw/acpi/bios-linker-loader.c
 * in QEMU's tree): two files, "etc/acpi/rsdp" (to the F segment, where an OS
 * scans for it) and "etc/acpi/tables" (high in RAM), and "etc/table-loader",
 * 128-byte commands that allocate both, add each file's final address to
 * the pointer fields naming it, then fix the checksums.
 */
#define LOADER_ALLOCATE 1
#define LOADER_ADD_POINTER 2
#define LOADER_ADD_CHECKSUM 3
#define LOADER_ZONE_HIGH 1
#define LOADER_ZONE_FSEG 2
#define LOADER_ENTRY 128
#define LOADER_MAX 16
#define ACPI_RSDP_FILE "etc/acpi/rsdp"
#define ACPI_TABLES_FILE "etc/acpi/tables"

struct loader {
	uint8_t e[LOADER_MAX][LOADER_ENTRY];
	unsigned int n;
};

static uint8_t *loader_entry(struct loader *l, uint32_t cmd)
{
	uint8_t *e = l->e[l->n++]; /* callers stay within LOADER_MAX */

	memset(e, 0, LOADER_ENTRY);
	memcpy(e, &(uint32_t){ htole32(cmd) }, 4);
	return e + 4;
}

static void loader_alloc(struct loader *l, const char *file, uint32_t align, uint8_t zone)
{
	uint8_t *e = loader_entry(l, LOADER_ALLOCATE);

	strcpy((char *)e, file);
	memcpy(e + 56, &(uint32_t){ htole32(align) }, 4);
	e[60] = zone;
}

/* The `size`-byte field at `off` in `dest` holds an offset into the tables: make it an address. */
static void loader_pointer(struct loader *l, const char *dest, uint32_t off, uint8_t size)
{
	uint8_t *e = loader_entry(l, LOADER_ADD_POINTER);

	strcpy((char *)e, dest);
	strcpy((char *)e + 56, ACPI_TABLES_FILE);
	memcpy(e + 112, &(uint32_t){ htole32(off) }, 4);
	e[116] = size;
}

static void loader_checksum(struct loader *l, const char *file, uint32_t off, uint32_t start,
			    uint32_t len)
{
	uint8_t *e = loader_entry(l, LOADER_ADD_CHECKSUM);

	strcpy((char *)e, file);
	memcpy(e + 56, &(uint32_t){ htole32(off) }, 4);
	memcpy(e + 60, &(uint32_t){ htole32(start) }, 4);
	memcpy(e + 64, &(uint32_t){ htole32(len) }, 4);
}

/* Subtract `base` from the pointer at p (size 4 or 8): it becomes an offset into the tables. */
static void rebase(uint8_t *p, uint8_t size, uint64_t base)
{
	uint64_t v = 0;

	memcpy(&v, p, size);
	v -= base;
	memcpy(p, &v, size);
}

static int add_acpi(struct fwcfg *f, const struct firmware_config *fc)
{
	struct x86_layout lay = {
		.ram_size = fc->low_ram + fc->high_ram,
		.low_ram = fc->low_ram,
		.high_ram = fc->high_ram,
		.mmio64_base = (X86_HIGH_RAM + fc->high_ram + (1ULL << 30) - 1) &
			       ~((1ULL << 30) - 1),
		.mmio64_size = X86_PCI_MMIO64_SIZE,
	};
	struct acpi_config ac = { .layout = &lay,
				  .nr_vcpus = fc->cpus,
				  .ecam_base = FIRMWARE_ECAM_BASE,
				  .mmio32_base = FIRMWARE_PCI_MMIO_BASE,
				  .mmio32_size = FIRMWARE_PCI_MMIO_SIZE,
				  .pc_legacy = true };
	_cleanup_free_ uint8_t *buf = calloc(1, X86_ACPI_SIZE);
	_cleanup_free_ struct loader *ld = calloc(1, sizeof(*ld));
	struct guest_mem scratch = { 0 };
	struct acpi_header *xsdt, *fadt;
	struct acpi_rsdp *rsdp;
	uint64_t rsdp_gpa, xsdt_off, fadt_off, end;
	unsigned int i, n;
	int ret;

	if (!buf || !ld)
		return -ENOMEM;
	/* built as for a kernel at X86_ACPI_ADDR, in a buffer instead of guest RAM */
	ret = guest_mem_add(&scratch, X86_ACPI_ADDR, X86_ACPI_SIZE, buf);
	if (ret == 0)
		ret = acpi_build(&scratch, &ac, &rsdp_gpa);
	if (ret < 0)
		return ret;
	rsdp = (struct acpi_rsdp *)(buf + (rsdp_gpa - X86_ACPI_ADDR));
	xsdt_off = rsdp->xsdt_address - X86_ACPI_ADDR;
	xsdt = (struct acpi_header *)(buf + xsdt_off);
	n = (xsdt->length - sizeof(*xsdt)) / 8;
	end = xsdt_off + xsdt->length; /* the XSDT is the last table acpi_build() places */
	if (rsdp_gpa != X86_ACPI_ADDR || n == 0 || end > X86_ACPI_SIZE)
		return -EINVAL;
	memcpy(&fadt_off, xsdt + 1, 8); /* the FADT comes first */
	fadt_off -= X86_ACPI_ADDR;
	fadt = (struct acpi_header *)(buf + fadt_off);
	if (fadt_off + sizeof(struct acpi_fadt) > X86_ACPI_SIZE ||
	    memcmp(fadt->signature, "FACP", 4))
		return -EINVAL;

	loader_alloc(ld, ACPI_RSDP_FILE, 16, LOADER_ZONE_FSEG);
	loader_alloc(ld, ACPI_TABLES_FILE, 64, LOADER_ZONE_HIGH);
	for (i = 0; i < n; i++) {
		rebase((uint8_t *)(xsdt + 1) + 8 * i, 8, X86_ACPI_ADDR);
		loader_pointer(ld, ACPI_TABLES_FILE, xsdt_off + sizeof(*xsdt) + 8 * i, 8);
	}
	rebase(buf + fadt_off + offsetof(struct acpi_fadt, firmware_ctrl), 4, X86_ACPI_ADDR);
	loader_pointer(ld, ACPI_TABLES_FILE, fadt_off + offsetof(struct acpi_fadt, firmware_ctrl),
		       4);
	rebase(buf + fadt_off + offsetof(struct acpi_fadt, dsdt), 4, X86_ACPI_ADDR);
	loader_pointer(ld, ACPI_TABLES_FILE, fadt_off + offsetof(struct acpi_fadt, dsdt), 4);
	rebase(buf + fadt_off + offsetof(struct acpi_fadt, x_dsdt), 8, X86_ACPI_ADDR);
	loader_pointer(ld, ACPI_TABLES_FILE, fadt_off + offsetof(struct acpi_fadt, x_dsdt), 8);
	rebase((uint8_t *)&rsdp->xsdt_address, 8, X86_ACPI_ADDR);
	loader_pointer(ld, ACPI_RSDP_FILE, offsetof(struct acpi_rsdp, xsdt_address), 8);
	/* the patched tables' checksums, recomputed over the whole table by the loader */
	loader_checksum(ld, ACPI_TABLES_FILE, fadt_off + offsetof(struct acpi_header, checksum),
			fadt_off, fadt->length);
	loader_checksum(ld, ACPI_TABLES_FILE, xsdt_off + offsetof(struct acpi_header, checksum),
			xsdt_off, xsdt->length);
	loader_checksum(ld, ACPI_RSDP_FILE, offsetof(struct acpi_rsdp, checksum), 0, 20);
	loader_checksum(ld, ACPI_RSDP_FILE, offsetof(struct acpi_rsdp, ext_checksum), 0,
			sizeof(*rsdp));

	ret = fwcfg_add_file(f, ACPI_RSDP_FILE, rsdp, sizeof(*rsdp));
	if (ret == 0)
		ret = fwcfg_add_file(f, ACPI_TABLES_FILE, buf, end);
	if (ret == 0)
		ret = fwcfg_add_file(f, "etc/table-loader", ld->e, ld->n * LOADER_ENTRY);
	return ret;
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
	if (ret == 0)
		ret = add_acpi(f, fc);
	if (ret == 0 && fc->bootorder)
		ret = fwcfg_add_file(f, "bootorder", fc->bootorder, strlen(fc->bootorder));
	if (ret < 0)
		return err_make(err, -ret, "fw_cfg");
	if (fc->vgabios)
		return add_vgabios(f, fc->vgabios, err);
	return 0;
}
