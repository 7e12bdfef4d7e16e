// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ACPI table builder: see acpi.h. Tables go in the order RSDP (16-byte
 * aligned at the start of the region, so a scan finds it), FACS (64-byte
 * aligned), DSDT, FADT, MADT, MCFG, XSDT; each is checksummed after it is
 * complete, the XSDT last since it points at the others.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/arch/x86/acpi.h"
#include "vmm/arch/x86/aml.h"

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP is 36 bytes (ACPI 6.4 Table 5.3)");
_Static_assert(sizeof(struct acpi_header) == 36, "SDT header is 36 bytes");
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS is 12 bytes");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 is 276 bytes");

#define OEM_ID "VPS   "
#define OEM_TABLE_ID "VPSVMM  "
#define CREATOR_ID "VPS "

#define GAS_IO 1
#define GAS_BYTE 1
#define GAS_WORD 2
#define GAS_DWORD 3

/* FADT flags (Table 5.10) and IA-PC boot architecture flags (Table 5.11). */
#define FADT_WBINVD (1U << 0)
#define FADT_PROC_C1 (1U << 2)
#define FADT_SLP_BUTTON (1U << 5) /* no fixed-feature sleep button; PWR_BUTTON clear: we have one */
#define FADT_RESET_REG_SUP (1U << 10)
#define BOOT_LEGACY_DEVICES (1U << 0)
#define BOOT_8042 (1U << 1)
#define BOOT_VGA_NOT_PRESENT (1U << 2)
#define BOOT_PCIE_ASPM_CONTROLS (1U << 4)

#define MADT_PCAT_COMPAT 1 /* dual 8259s present: KVM_CREATE_IRQCHIP makes them */
#define MADT_LAPIC_ENABLED 1
#define MPS_INTI_FLAGS_DEFAULT 0 /* conforms to the bus: ISA is edge, active high */
#define MPS_INTI_LEVEL_HIGH 0x0d /* trigger 11 = level, polarity 01 = active high */

uint8_t acpi_checksum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return -sum;
}

static void header(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, OEM_ID, 6);
	memcpy(h->oem_table_id, OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, CREATOR_ID, 4);
	h->creator_revision = 1;
}

static void seal(struct acpi_header *h)
{
	h->checksum = 0;
	h->checksum = acpi_checksum(h, h->length);
}

/* \_SB.PCI0: the host bridge, ACPI 6.4 §6.5.9 ("PCI Root Bridge"), PCI Firmware 3.2 §4.5. */
static void dsdt_pci0(struct aml *a, const struct acpi_config *c)
{
	const struct x86_layout *l = c->layout;
	uint64_t base = c->mmio32_size ? c->mmio32_base : X86_PCI_MMIO32_BASE;
	uint64_t size = c->mmio32_size ? c->mmio32_size : X86_PCI_MMIO32_SIZE;
	struct aml crs = { 0 };
	unsigned int slot, pin;
	size_t dev, prt, entry;

	dev = aml_device_begin(a, "PCI0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A08"); /* PCI Express root bridge */
	aml_name(a, "_CID");
	aml_eisaid(a, "PNP0A03"); /* compatible with PCI */
	aml_name(a, "_SEG");
	aml_integer(a, 0);
	aml_name(a, "_BBN");
	aml_integer(a, 0);
	aml_name(a, "_UID");
	aml_integer(a, 0);

	aml_res_word_bus(&crs, 0, X86_PCI_ECAM_BUSES - 1);
	aml_res_io(&crs, 0xcf8, 8); /* the config address/data ports it consumes */
	aml_res_word_io(&crs, 0x0000, 0x0cf7);
	aml_res_word_io(&crs, 0x0d00, 0xffff);
	aml_res_dword_mem(&crs, AML_NONCACHEABLE, base, base + size - 1);
	aml_res_qword_mem(&crs, AML_CACHEABLE, l->mmio64_base, l->mmio64_base + l->mmio64_size - 1);
	aml_name(a, "_CRS");
	aml_resource_template(a, &crs);
	aml_free(&crs);

	/* _PRT (§6.2.13): {address 0xSSSSFFFF, pin, source 0 = GSI below, GSI}. */
	aml_name(a, "_PRT");
	prt = aml_package_begin(a, 31 * 4);
	for (slot = 1; slot < 32; slot++) {
		for (pin = 0; pin < 4; pin++) {
			entry = aml_package_begin(a, 4);
			aml_integer(a, (uint64_t)slot << 16 | 0xffff);
			aml_integer(a, pin);
			aml_integer(a, 0);
			aml_integer(a, x86_pci_gsi(slot, pin));
			aml_end(a, entry);
		}
	}
	aml_end(a, prt);
	aml_end(a, dev);
}

static void dsdt_com1(struct aml *a)
{
	struct aml crs = { 0 };
	size_t dev;

	dev = aml_device_begin(a, "COM1");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0501"); /* 16550A-compatible UART */
	aml_name(a, "_UID");
	aml_integer(a, 1);
	aml_res_io(&crs, X86_COM1_PORT, 8);
	aml_res_irq(&crs, X86_COM1_IRQ);
	aml_name(a, "_CRS");
	aml_resource_template(a, &crs);
	aml_free(&crs);
	aml_end(a, dev);
}

/*
 * Motherboard resources (PNP0C02): ECAM, so Linux trusts MCFG also after
 * boot (arch/x86/pci/mmconfig-shared.c), and the PM block, so no PCI
 * device is given them.
 */
static void dsdt_mres(struct aml *a)
{
	struct aml crs = { 0 };
	size_t dev;

	dev = aml_device_begin(a, "MRES");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0C02");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_res_mem32_fixed(&crs, X86_PCI_ECAM_BASE, X86_PCI_ECAM_SIZE);
	aml_res_io(&crs, PM_X86_BASE, PM_BLOCK_LEN);
	aml_name(a, "_CRS");
	aml_resource_template(a, &crs);
	aml_free(&crs);
	aml_end(a, dev);
}

int acpi_dsdt_build(const struct acpi_config *c, uint8_t **out, size_t *len)
{
	struct acpi_header h = { 0 };
	struct aml a = { 0 };
	size_t scope, pkg;

	if (!c->layout)
		return -EINVAL;
	aml_bytes(&a, &h, sizeof(h)); /* filled in below */

	/* \_S5 (§7.4.2): SLP_TYP for PM1a and PM1b, then two reserved. */
	aml_name(&a, "\\_S5");
	pkg = aml_package_begin(&a, 4);
	aml_integer(&a, ACPI_SLP_TYP_S5);
	aml_integer(&a, ACPI_SLP_TYP_S5);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_end(&a, pkg);

	scope = aml_scope_begin(&a, "\\_SB");
	dsdt_pci0(&a, c);
	dsdt_com1(&a);
	dsdt_mres(&a);
	aml_end(&a, scope);
	if (a.err) {
		int err = a.err;

		aml_free(&a);
		return err;
	}
	/* Revision 2: integers are 64 bits (§5.2.11.1), needed for the 64-bit window. */
	header((struct acpi_header *)a.buf, "DSDT", a.len, 2);
	seal((struct acpi_header *)a.buf);
	*out = a.buf;
	*len = a.len;
	return 0;
}

/* A bump allocator over the guest region. */
struct region {
	uint8_t *p;
	uint64_t gpa;
	size_t size;
	size_t off;
};

static void *alloc(struct region *r, size_t len, size_t align, uint64_t *gpa)
{
	size_t at = (r->off + align - 1) & ~(align - 1);

	if (at > r->size || len > r->size - at)
		return NULL;
	r->off = at + len;
	*gpa = r->gpa + at;
	return r->p + at;
}

static void gas_io(struct acpi_gas *g, uint16_t port, uint8_t bits, uint8_t access)
{
	*g = (struct acpi_gas){
		.space_id = GAS_IO,
		.bit_width = bits,
		.access_size = access,
		.address = port,
	};
}

static void fadt_fill(struct acpi_fadt *f, uint64_t facs, uint64_t dsdt, bool pc_legacy)
{
	header(&f->h, "FACP", sizeof(*f), 6);
	f->minor_version = 4; /* FADT 6.4 */
	f->firmware_ctrl = facs;
	f->x_firmware_ctrl = 0; /* only one of the two may be set (§5.2.9) */
	f->dsdt = dsdt;
	f->x_dsdt = dsdt;
	f->sci_int = ACPI_SCI_IRQ;
	f->smi_cmd = 0;
	f->pm1a_evt_blk = ACPI_PM1A_EVT_PORT;
	f->pm1a_cnt_blk = ACPI_PM1A_CNT_PORT;
	f->pm_tmr_blk = ACPI_PM_TMR_PORT;
	f->pm1_evt_len = ACPI_PM1_EVT_LEN;
	f->pm1_cnt_len = ACPI_PM1_CNT_LEN;
	f->pm_tmr_len = ACPI_PM_TMR_LEN; /* 24-bit: TMR_VAL_EXT stays clear */
	gas_io(&f->x_pm1a_evt_blk, ACPI_PM1A_EVT_PORT, ACPI_PM1_EVT_LEN * 8, GAS_WORD);
	gas_io(&f->x_pm1a_cnt_blk, ACPI_PM1A_CNT_PORT, ACPI_PM1_CNT_LEN * 8, GAS_WORD);
	gas_io(&f->x_pm_tmr_blk, ACPI_PM_TMR_PORT, ACPI_PM_TMR_LEN * 8, GAS_DWORD);
	f->p_lvl2_lat = 101;
	f->p_lvl3_lat = 1001;
	/*
	 * No 8042 flag: it would make Linux probe for a PS/2 keyboard, and
	 * devices/i8042.c is only the reset line, which Linux uses without
	 * it, after the reset register. The CMOS RTC is there (devices/rtc.c).
	 */
	f->iapc_boot_arch = BOOT_LEGACY_DEVICES | BOOT_VGA_NOT_PRESENT | BOOT_PCIE_ASPM_CONTROLS;
	if (pc_legacy) /* firmware boot: the keyboard controller and VGA are real (i8042.c, vga.c) */
		f->iapc_boot_arch = BOOT_LEGACY_DEVICES | BOOT_8042 | BOOT_PCIE_ASPM_CONTROLS;
	f->flags = FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_RESET_REG_SUP;
	gas_io(&f->reset_reg, ACPI_RESET_PORT, 8, GAS_BYTE);
	f->reset_value = ACPI_RESET_VALUE;
	memcpy(&f->hypervisor_vendor_id, "VPSVMM\0\0", 8);
	seal(&f->h);
}

static void *madt_entry(uint8_t **p, uint8_t type, uint8_t len)
{
	uint8_t *e = *p;

	e[0] = type;
	e[1] = len;
	*p += len;
	return e;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static size_t madt_size(unsigned int nr_vcpus)
{
	return sizeof(struct acpi_header) + 8 + nr_vcpus * 8 + 12 + 2 * 10 + 6;
}

/* MADT (§5.2.12): one LAPIC per vCPU, the IO-APIC, ISA overrides, LINT1 = NMI. */
static void madt_fill(uint8_t *t, const struct acpi_config *c)
{
	struct acpi_header *h = (struct acpi_header *)t;
	uint8_t *p = t + sizeof(*h), *e;
	unsigned int i;

	header(h, "APIC", madt_size(c->nr_vcpus), 5);
	put32(p, X86_LAPIC_ADDR);
	put32(p + 4, MADT_PCAT_COMPAT);
	p += 8;
	for (i = 0; i < c->nr_vcpus; i++) {
		e = madt_entry(&p, ACPI_MADT_LAPIC, 8);
		e[2] = i; /* ACPI processor UID */
		e[3] = i; /* APIC id: KVM gives vCPU n APIC id n */
		put32(e + 4, MADT_LAPIC_ENABLED);
	}
	e = madt_entry(&p, ACPI_MADT_IOAPIC, 12);
	e[2] = 0; /* IO-APIC id: what KVM's IO-APIC reports after reset */
	put32(e + 4, X86_IOAPIC_ADDR);
	put32(e + 8, 0); /* GSI base */
	/* The PIT's IRQ0 is IO-APIC pin 2, as in KVM's default routing. */
	e = madt_entry(&p, ACPI_MADT_ISO, 10);
	e[2] = 0; /* ISA */
	e[3] = 0;
	put32(e + 4, 2);
	e[8] = MPS_INTI_FLAGS_DEFAULT;
	e[9] = 0;
	e = madt_entry(&p, ACPI_MADT_ISO, 10);
	e[2] = 0;
	e[3] = ACPI_SCI_IRQ;
	put32(e + 4, ACPI_SCI_IRQ);
	e[8] = MPS_INTI_LEVEL_HIGH;
	e[9] = 0;
	e = madt_entry(&p, ACPI_MADT_LAPIC_NMI, 6);
	e[2] = 0xff; /* all processors */
	e[3] = 0; /* flags: conforms */
	e[4] = 0;
	e[5] = 1; /* LINT1 */
	seal(h);
}

/* MCFG (PCI Firmware 3.2 §4.1.2): one ECAM allocation for segment 0. */
static size_t mcfg_fill(uint8_t *t, uint64_t ecam)
{
	struct acpi_header *h = (struct acpi_header *)t;
	uint8_t *a = t + sizeof(*h) + 8;
	uint64_t base = ecam ? ecam : X86_PCI_ECAM_BASE;

	header(h, "MCFG", sizeof(*h) + 8 + 16, 1);
	memcpy(a, &base, 8);
	a[8] = a[9] = 0; /* segment 0 */
	a[10] = 0; /* start bus */
	a[11] = X86_PCI_ECAM_BUSES - 1; /* end bus */
	seal(h);
	return h->length;
}

int acpi_build(struct guest_mem *m, const struct acpi_config *c, uint64_t *rsdp_gpa)
{
	struct region r = { .gpa = X86_ACPI_ADDR, .size = X86_ACPI_SIZE };
	uint64_t facs_gpa = 0, dsdt_gpa = 0, fadt_gpa = 0, madt_gpa = 0, mcfg_gpa = 0, xsdt_gpa = 0;
	struct acpi_header *xsdt;
	struct acpi_rsdp *rsdp;
	struct acpi_fadt *fadt;
	uint8_t *facs, *dsdt, *madt, *mcfg, *blob;
	uint64_t tables[3];
	size_t len;
	int ret;

	if (!c->layout || !c->nr_vcpus || c->nr_vcpus > 255)
		return -EINVAL;
	r.p = gpa_ptr(m, r.gpa, r.size);
	if (!r.p)
		return -ENOMEM;
	memset(r.p, 0, r.size);
	ret = acpi_dsdt_build(c, &blob, &len);
	if (ret < 0)
		return ret;

	rsdp = alloc(&r, sizeof(*rsdp), 16, rsdp_gpa);
	facs = alloc(&r, 64, 64, &facs_gpa);
	dsdt = alloc(&r, len, 16, &dsdt_gpa);
	fadt = alloc(&r, sizeof(*fadt), 16, &fadt_gpa);
	madt = alloc(&r, madt_size(c->nr_vcpus), 16, &madt_gpa);
	mcfg = alloc(&r, sizeof(struct acpi_header) + 8 + 16, 16, &mcfg_gpa);
	xsdt = alloc(&r, sizeof(*xsdt) + sizeof(tables), 16, &xsdt_gpa);
	if (!rsdp || !facs || !dsdt || !fadt || !madt || !mcfg || !xsdt) {
		free(blob);
		return -E2BIG;
	}
	memcpy(dsdt, blob, len);
	free(blob);

	/* FACS (§5.2.10): no checksum; version 2, 64 bytes. */
	memcpy(facs, "FACS", 4);
	put32(facs + 4, 64);
	facs[32] = 2;

	fadt_fill(fadt, facs_gpa, dsdt_gpa, c->pc_legacy);
	madt_fill(madt, c);
	mcfg_fill(mcfg, c->ecam_base);

	tables[0] = fadt_gpa;
	tables[1] = madt_gpa;
	tables[2] = mcfg_gpa;
	header(xsdt, "XSDT", sizeof(*xsdt) + sizeof(tables), 1);
	memcpy(xsdt + 1, tables, sizeof(tables));
	seal(xsdt);

	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, OEM_ID, 6);
	rsdp->revision = 2;
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt_address = xsdt_gpa;
	rsdp->checksum = acpi_checksum(rsdp, 20);
	rsdp->ext_checksum = acpi_checksum(rsdp, sizeof(*rsdp));
	return 0;
}
