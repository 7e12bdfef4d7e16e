// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the ACPI tables (arch/x86/acpi.c) and the AML encoder
 * (arch/x86/aml.c): encodings checked byte by byte, the tables walked from
 * the RSDP as a guest would, and every table handed to ACPICA's `iasl` to
 * disassemble and the DSDT recompiled, so the compiler that checks real
 * firmware checks ours.
 */
#include <errno.h>
#include <setjmp.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/arch/x86/acpi.h"
#include "vmm/arch/x86/aml.h"

/* ---- AML encoder ---- */

static void expect(struct aml *a, const uint8_t *want, size_t n)
{
	assert_int_equal(a->err, 0);
	assert_int_equal(a->len, n);
	assert_memory_equal(a->buf, want, n);
	aml_free(a);
}

static void aml_integers(void **state)
{
	struct aml a = { 0 };
	static const uint8_t want[] = { 0x00, 0x01, 0x0a, 0x02, 0x0b, 0x00, 0x01,
					0x0c, 0x00, 0x00, 0x01, 0x00, 0x0e, 0,
					0,    0,    0,	  1,	0,    0,    0 };

	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 2);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0x10000);
	aml_integer(&a, 0x100000000ULL);
	expect(&a, want, sizeof(want));
}

static void aml_names(void **state)
{
	struct aml a = { 0 };
	static const uint8_t want[] = { '\\', 0x2e, '_', 'S', 'B',  '_',  'P', 'C', 'I', '0',
					'_',  'S',  '5', '_', '\\', 0x2f, 3,   'A', '_', '_',
					'_',  'B',  '_', '_', '_',  'C',  'D', '_', '_' };

	aml_namestring(&a, "\\_SB.PCI0");
	aml_namestring(&a, "_S5");
	aml_namestring(&a, "\\A.B.CD");
	expect(&a, want, sizeof(want));

	aml_namestring(&a, "TOOLONG");
	assert_int_equal(a.err, -EINVAL);
	aml_free(&a);
	aml_namestring(&a, "0ABC");
	assert_int_equal(a.err, -EINVAL);
	aml_free(&a);
	aml_namestring(&a, "A..B");
	assert_int_equal(a.err, -EINVAL);
	aml_free(&a);
}

static void aml_eisaids(void **state)
{
	struct aml a = { 0 };
	static const uint8_t want[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x03, 0x0c, 0x41, 0xd0, 0x05, 0x01 };

	aml_eisaid(&a, "PNP0A03");
	aml_eisaid(&a, "PNP0501");
	expect(&a, want, sizeof(want));
	aml_eisaid(&a, "pnp0a03");
	assert_int_equal(a.err, -EINVAL);
	aml_free(&a);
}

static void aml_pkglength(void **state)
{
	static const uint8_t small[] = { 0x12, 0x04, 0x02, 0x00, 0x00 };
	struct aml a = { 0 };
	size_t mark, i;

	/* short: one byte covering itself and the body */
	mark = aml_package_begin(&a, 2);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_end(&a, mark);
	expect(&a, small, sizeof(small));

	/* 100 body bytes: two-byte PkgLength of 102 = 0x66 */
	mark = aml_package_begin(&a, 99);
	for (i = 0; i < 99; i++)
		aml_integer(&a, 0);
	aml_end(&a, mark);
	assert_int_equal(a.len, 1 + 2 + 100);
	assert_int_equal(a.buf[1], 0x40 | 0x6);
	assert_int_equal(a.buf[2], 0x6);
	assert_int_equal(a.buf[3], 99);
	aml_free(&a);

	/* 5000 body bytes (root name, NullName, 4998 Ones): three bytes */
	mark = aml_scope_begin(&a, "\\");
	for (i = 0; i < 4998; i++)
		aml_integer(&a, 1);
	aml_end(&a, mark);
	assert_int_equal(a.len, 1 + 3 + 5000);
	assert_int_equal(a.buf[1] >> 6, 2);
	assert_int_equal((a.buf[1] & 0xf) | a.buf[2] << 4 | a.buf[3] << 12, 5003);
	aml_free(&a);
}

static void aml_resources(void **state)
{
	struct aml r = { 0 }, a = { 0 };
	static const uint8_t want[] = {
		0x11, 0x10, 0x0a, 0x0d, /* Buffer, PkgLength 16, size 13 */
		0x47, 0x01, 0xf8, 0x03,
		0xf8, 0x03, 0x01, 0x08, /* IO(Decode16, 0x3f8, 0x3f8, 1, 8) */
		0x22, 0x10, 0x00, /* IRQNoFlags() {4} */
		0x79, 0x00, /* End Tag */
	};

	aml_res_io(&r, 0x3f8, 8);
	aml_res_irq(&r, 4);
	aml_resource_template(&a, &r);
	expect(&a, want, sizeof(want));
	aml_free(&r);

	aml_res_qword_mem(&r, AML_CACHEABLE, 0x100000000ULL, 0x1ffffffffULL);
	assert_int_equal(r.len, 46);
	assert_int_equal(r.buf[0], 0x8a);
	assert_int_equal(r.buf[1] | r.buf[2] << 8, 43);
	assert_int_equal(r.buf[5], 0x03); /* cacheable, read-write */
	aml_free(&r);
	aml_res_dword_mem(&r, AML_NONCACHEABLE, 10, 9);
	assert_int_equal(r.err, -EINVAL);
	aml_free(&r);
}

/* ---- tables ---- */

#define RAM (1 << 20)

static uint8_t *ram;
static struct guest_mem mem;
static struct x86_layout lay;

static int setup(void **state)
{
	ram = calloc(1, RAM);
	memset(&mem, 0, sizeof(mem));
	assert_int_equal(guest_mem_add(&mem, 0, RAM, ram), 0);
	assert_int_equal(x86_layout_init(&lay, 6ULL << 30), 0);
	return 0;
}

static int teardown(void **state)
{
	free(ram);
	return 0;
}

static void *at(uint64_t gpa, size_t len)
{
	void *p = gpa_ptr(&mem, gpa, len);

	assert_non_null(p);
	return p;
}

static const struct acpi_header *table(uint64_t gpa, const char *sig)
{
	const struct acpi_header *h = at(gpa, sizeof(*h));

	assert_memory_equal(h->signature, sig, 4);
	at(gpa, h->length);
	assert_int_equal(acpi_checksum(h, h->length), 0);
	return h;
}

static uint64_t build(unsigned int nr)
{
	struct acpi_config c = { .layout = &lay, .nr_vcpus = nr };
	uint64_t rsdp_gpa = 0;

	memset(ram, 0xaa, RAM);
	assert_int_equal(acpi_build(&mem, &c, &rsdp_gpa), 0);
	return rsdp_gpa;
}

static void tables_linked(void **state)
{
	uint64_t rsdp_gpa = build(4), dsdt_gpa;
	const struct acpi_rsdp *rsdp = at(rsdp_gpa, sizeof(*rsdp));
	const struct acpi_header *xsdt, *t;
	const struct acpi_fadt *fadt = NULL;
	const uint8_t *mcfg = NULL;
	uint64_t entry, base;
	int i, n, seen = 0;

	assert_int_equal(rsdp_gpa, X86_ACPI_ADDR);
	assert_memory_equal(rsdp->signature, "RSD PTR ", 8);
	assert_int_equal(rsdp->revision, 2);
	assert_int_equal(rsdp->length, 36);
	assert_int_equal(acpi_checksum(rsdp, 20), 0);
	assert_int_equal(acpi_checksum(rsdp, 36), 0);

	xsdt = table(rsdp->xsdt_address, "XSDT");
	n = (xsdt->length - sizeof(*xsdt)) / 8;
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		memcpy(&entry, (const uint8_t *)(xsdt + 1) + 8 * i, 8);
		t = at(entry, sizeof(*t));
		if (!memcmp(t->signature, "FACP", 4)) {
			fadt = (const struct acpi_fadt *)table(entry, "FACP");
			seen |= 1;
		} else if (!memcmp(t->signature, "APIC", 4)) {
			table(entry, "APIC");
			seen |= 2;
		} else if (!memcmp(t->signature, "MCFG", 4)) {
			mcfg = (const uint8_t *)table(entry, "MCFG");
			seen |= 4;
		}
	}
	assert_int_equal(seen, 7);

	assert_int_equal(fadt->h.length, 276);
	assert_int_equal(fadt->h.revision, 6);
	dsdt_gpa = fadt->x_dsdt;
	assert_int_equal(fadt->dsdt, dsdt_gpa);
	table(dsdt_gpa, "DSDT");
	assert_memory_equal(at(fadt->firmware_ctrl, 64), "FACS", 4);
	assert_int_equal(fadt->firmware_ctrl % 64, 0);
	assert_int_equal(fadt->sci_int, 9);
	assert_int_equal(fadt->pm1a_evt_blk, 0x600);
	assert_int_equal(fadt->x_pm1a_cnt_blk.address, 0x604);
	assert_int_equal(fadt->x_pm1a_cnt_blk.space_id, 1);
	assert_true(fadt->flags & (1U << 10)); /* RESET_REG_SUP */
	assert_false(fadt->flags & (1U << 4)); /* fixed power button */
	assert_int_equal(fadt->reset_reg.address, ACPI_RESET_PORT);
	assert_int_equal(fadt->reset_value, 6);

	memcpy(&base, mcfg + 44, 8);
	assert_int_equal(base, X86_PCI_ECAM_BASE);
	assert_int_equal(mcfg[44 + 11], 0); /* end bus */

	/* every table inside the reserved region */
	assert_true(dsdt_gpa >= X86_ACPI_ADDR && dsdt_gpa < X86_ACPI_ADDR + X86_ACPI_SIZE);
}

static const uint8_t *find_madt(uint64_t rsdp_gpa)
{
	const struct acpi_rsdp *rsdp = at(rsdp_gpa, sizeof(*rsdp));
	const struct acpi_header *xsdt = table(rsdp->xsdt_address, "XSDT");
	uint64_t entry;
	int i;

	for (i = 0; i < 3; i++) {
		memcpy(&entry, (const uint8_t *)(xsdt + 1) + 8 * i, 8);
		if (!memcmp(((const struct acpi_header *)at(entry, 36))->signature, "APIC", 4))
			return (const uint8_t *)table(entry, "APIC");
	}
	fail();
	return NULL;
}

static void madt_per_vcpu(void **state)
{
	static const unsigned int nrs[] = { 1, 2, 7, 64, 255 };
	unsigned int k, lapics, ioapics, isos, nmis, next_id;
	const uint8_t *madt, *p, *end;
	uint32_t len;

	for (k = 0; k < sizeof(nrs) / sizeof(nrs[0]); k++) {
		madt = find_madt(build(nrs[k]));
		memcpy(&len, madt + 4, 4);
		end = madt + len;
		lapics = ioapics = isos = nmis = next_id = 0;
		for (p = madt + 44; p < end; p += p[1]) {
			assert_true(p[1] >= 2 && p + p[1] <= end);
			switch (p[0]) {
			case ACPI_MADT_LAPIC:
				assert_int_equal(p[3], next_id++); /* APIC id */
				assert_int_equal(p[4] & 1, 1); /* enabled */
				lapics++;
				break;
			case ACPI_MADT_IOAPIC:
				ioapics++;
				break;
			case ACPI_MADT_ISO:
				/* IRQ0 -> GSI 2, SCI level/high */
				assert_true((p[3] == 0 && p[4] == 2) ||
					    (p[3] == 9 && p[4] == 9 && p[8] == 0x0d));
				isos++;
				break;
			case ACPI_MADT_LAPIC_NMI:
				assert_int_equal(p[5], 1);
				nmis++;
				break;
			default:
				fail_msg("unexpected MADT entry %u", p[0]);
			}
		}
		assert_int_equal(lapics, nrs[k]);
		assert_int_equal(ioapics, 1);
		assert_int_equal(isos, 2);
		assert_int_equal(nmis, 1);
	}
}

static void bad_config(void **state)
{
	struct acpi_config c = { .layout = &lay, .nr_vcpus = 0 };
	struct guest_mem small = { 0 };
	uint64_t r;

	assert_int_equal(acpi_build(&mem, &c, &r), -EINVAL);
	c.nr_vcpus = 256;
	assert_int_equal(acpi_build(&mem, &c, &r), -EINVAL);
	c.nr_vcpus = 1;
	assert_int_equal(guest_mem_add(&small, 0, 0xe8000, ram), 0);
	assert_int_equal(acpi_build(&small, &c, &r), -ENOMEM);
}

/* ---- ACPICA's opinion ---- */

static int run(const char *dir, const char *cmd)
{
	char buf[512];
	int st;

	snprintf(buf, sizeof(buf), "cd %s && (%s) >>iasl.log 2>&1", dir, cmd);
	st = system(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void dump(const char *dir, const char *name, const void *p, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	fclose(f);
}

static void iasl_accepts(void **state)
{
	char dir[] = "/tmp/vps-acpi-XXXXXX", cmd[512];
	const struct acpi_rsdp *rsdp;
	const struct acpi_header *xsdt, *t;
	const struct acpi_fadt *fadt;
	uint64_t entry;
	int i;

	if (system("command -v iasl >/dev/null 2>&1") != 0) {
		printf("# skip: iasl not installed (acpica-tools)\n");
		skip();
	}
	assert_non_null(mkdtemp(dir));
	rsdp = at(build(8), sizeof(*rsdp));
	xsdt = table(rsdp->xsdt_address, "XSDT");
	dump(dir, "xsdt.dat", xsdt, xsdt->length);
	for (i = 0; i < 3; i++) {
		memcpy(&entry, (const uint8_t *)(xsdt + 1) + 8 * i, 8);
		t = at(entry, 36);
		snprintf(cmd, sizeof(cmd), "%.4s.dat", t->signature);
		dump(dir, cmd, t, t->length);
		if (!memcmp(t->signature, "FACP", 4)) {
			fadt = (const void *)t;
			t = at(fadt->x_dsdt, 36);
			dump(dir, "dsdt.dat", t, t->length);
			dump(dir, "facs.dat", at(fadt->firmware_ctrl, 64), 64);
		}
	}
	/* Disassemble every table; iasl exits non-zero on a table it cannot parse. */
	assert_int_equal(run(dir, "iasl -d xsdt.dat FACP.dat APIC.dat MCFG.dat facs.dat dsdt.dat"),
			 0);
	/* Recompile: the compiler's semantic checks (object types of _HID, _CRS...) apply. */
	assert_int_equal(run(dir, "iasl -p re-dsdt dsdt.dsl"), 0);
	assert_int_equal(run(dir, "iasl -p re-facp FACP.dsl && iasl -p re-apic APIC.dsl && "
				  "iasl -p re-mcfg MCFG.dsl"),
			 0);
	/* No errors or warnings anywhere in the log. */
	assert_int_equal(
		run(dir, "! grep -E '^(Error|Warning)|[1-9][0-9]* (Errors|Warnings)' iasl.log"), 0);
	assert_int_equal(run(dir, "grep -q 'Device (PCI0)' dsdt.dsl && grep -q 'PNP0501' dsdt.dsl"),
			 0);
	if (!getenv("VPS_KEEP_ACPI")) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	} else {
		printf("# tables kept in %s\n", dir);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(aml_integers),	 cmocka_unit_test(aml_names),
		cmocka_unit_test(aml_eisaids),	 cmocka_unit_test(aml_pkglength),
		cmocka_unit_test(aml_resources), cmocka_unit_test(tables_linked),
		cmocka_unit_test(madt_per_vcpu), cmocka_unit_test(bad_config),
		cmocka_unit_test(iasl_accepts),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
