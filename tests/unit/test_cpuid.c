// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the guest CPUID policy (arch/x86/cpuid.c): a fixed
 * "supported" list stands in for KVM_GET_SUPPORTED_CPUID, and each test
 * checks what one vCPU of an N-vCPU guest sees.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/arch/x86/cpuid.h"

#define IDX KVM_CPUID_FLAG_SIGNIFCANT_INDEX

/* An Intel-like host: what KVM typically reports, trimmed. */
static const struct kvm_cpuid_entry2 intel[] = {
	{ .function = 0, .eax = 0x1f, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69 },
	{ .function = 1,
	  .eax = 0x806f8,
	  .ebx = 0x00ff0800,
	  .ecx = 0xfffa3223 | (1U << 5),
	  .edx = 0x1f8bfbff },
	{ .function = 4, .index = 0, .flags = IDX, .eax = 0xfc004121 },
	{ .function = 4, .index = 1, .flags = IDX, .eax = 0xfc004122 },
	{ .function = 4, .index = 2, .flags = IDX, .eax = 0xfc01c143 },
	{ .function = 4, .index = 3, .flags = IDX, .eax = 0xfc1fc163 },
	{ .function = 4, .index = 4, .flags = IDX, .eax = 0 },
	{ .function = 5, .eax = 0x40, .ebx = 0x40, .ecx = 3, .edx = 0x1120 },
	{ .function = 6, .eax = 0x4 | 0x2, .ecx = 0x9 },
	{ .function = 0xa, .eax = 0x07300805, .edx = 0x603 },
	{ .function = 0xb, .index = 0, .flags = IDX, .eax = 1, .ebx = 2, .ecx = 0x100 },
	{ .function = 0xb, .index = 1, .flags = IDX, .eax = 7, .ebx = 0x70, .ecx = 0x201 },
	{ .function = 0x1f, .index = 0, .flags = IDX, .eax = 1, .ebx = 2, .ecx = 0x100 },
	{ .function = 0x40000000, .eax = 0x40000001, .ebx = 0x4b4d564b },
	{ .function = 0x40000001, .eax = 0x01007afb | (1U << 16) | (1U << 17) },
	{ .function = 0x80000000, .eax = 0x80000008 },
	{ .function = 0x80000001, .ecx = 0x121 | (1U << 2), .edx = 0x2c100800 },
	{ .function = 0x80000002, .eax = 0x65746e49, .ebx = 0x2952286c },
	{ .function = 0x80000008, .eax = 0x3027 },
};

#define MAX 64

static const struct kvm_cpuid_entry2 *get(const struct kvm_cpuid_entry2 *e, int n, uint32_t fn,
					  uint32_t idx)
{
	int i;

	for (i = 0; i < n; i++)
		if (e[i].function == fn && e[i].index == idx)
			return &e[i];
	fail_msg("leaf %#x.%u missing", fn, idx);
	return NULL;
}

static int build(unsigned int id, unsigned int nr, const struct cpuid_opts *o,
		 struct kvm_cpuid_entry2 *out)
{
	int n = cpuid_build(intel, sizeof(intel) / sizeof(intel[0]), id, nr, o, out, MAX);

	assert_true(n > 0);
	return n;
}

static void leaf1_apic_id(void **state)
{
	struct kvm_cpuid_entry2 out[MAX];
	const struct kvm_cpuid_entry2 *l1;
	unsigned int id;
	int n;

	for (id = 0; id < 6; id++) {
		n = build(id, 6, NULL, out);
		l1 = get(out, n, 1, 0);
		assert_int_equal(l1->ebx >> 24, id);
		assert_int_equal((l1->ebx >> 16) & 0xff, 8); /* 6 cores: 3 id bits */
		assert_int_equal((l1->ebx >> 8) & 0xff, 8); /* 64-byte CLFLUSH */
		assert_true(l1->ecx & (1U << 31)); /* hypervisor */
		assert_false(l1->ecx & (1U << 3)); /* no MONITOR */
		assert_false(l1->ecx & (1U << 5)); /* no VMX */
		assert_false(l1->ecx & (1U << 15)); /* no PDCM */
		assert_true(l1->edx & (1U << 28)); /* HTT: more than one logical CPU */
		assert_int_equal(l1->eax, 0x806f8); /* signature untouched */
	}
}

static void leaf1_single(void **state)
{
	struct kvm_cpuid_entry2 out[MAX];
	struct cpuid_opts o = { .nested = true, .tsc_deadline = true };
	const struct kvm_cpuid_entry2 *l1;
	int n;

	n = build(0, 1, &o, out);
	l1 = get(out, n, 1, 0);
	assert_false(l1->edx & (1U << 28));
	assert_int_equal((l1->ebx >> 16) & 0xff, 1);
	assert_true(l1->ecx & (1U << 5)); /* nested keeps VMX */
	assert_true(l1->ecx & (1U << 24)); /* TSC deadline */
	assert_true(get(out, n, 0x80000001, 0)->ecx & (1U << 2));
}

static void topology_leaves(void **state)
{
	struct kvm_cpuid_entry2 out[MAX];
	const struct kvm_cpuid_entry2 *e;
	static const uint32_t fns[] = { 0xb, 0x1f };
	unsigned int id, i;
	int n;

	for (id = 0; id < 4; id++) {
		n = build(id, 4, NULL, out);
		for (i = 0; i < 2; i++) {
			e = get(out, n, fns[i], 0);
			assert_int_equal(e->eax, 0); /* one thread per core */
			assert_int_equal(e->ebx, 1);
			assert_int_equal(e->ecx, 0x100);
			assert_int_equal(e->edx, id);
			assert_int_equal(e->flags, IDX);
			e = get(out, n, fns[i], 1);
			assert_int_equal(e->eax, 2); /* 4 cores: 2 bits */
			assert_int_equal(e->ebx, 4);
			assert_int_equal(e->ecx, 0x201);
			assert_int_equal(e->edx, id);
			e = get(out, n, fns[i], 2);
			assert_int_equal(e->ecx >> 8 & 0xff, 0); /* end of levels */
		}
	}
}

static void cache_leaf4(void **state)
{
	struct kvm_cpuid_entry2 out[MAX];
	int n = build(2, 3, NULL, out);

	/* cores field: 2 id bits -> 3; L1/L2 per core, L3 shared by 3 */
	assert_int_equal(get(out, n, 4, 0)->eax, (3U << 26) | 0x121);
	assert_int_equal(get(out, n, 4, 2)->eax, (3U << 26) | 0x143);
	assert_int_equal(get(out, n, 4, 3)->eax, (3U << 26) | (2U << 14) | 0x163);
	assert_int_equal(get(out, n, 4, 4)->eax, 0);
}

static void pmu_and_power_hidden(void **state)
{
	struct kvm_cpuid_entry2 out[MAX];
	const struct kvm_cpuid_entry2 *e;
	int n = build(0, 2, NULL, out);

	e = get(out, n, 0xa, 0);
	assert_int_equal(e->eax | e->ebx | e->ecx | e->edx, 0);
	e = get(out, n, 5, 0);
	assert_int_equal(e->eax | e->ebx | e->ecx | e->edx, 0);
	e = get(out, n, 6, 0);
	assert_int_equal(e->eax, 0x4); /* ARAT only */
	assert_int_equal(e->ecx, 0);
	assert_false(get(out, n, 0x80000001, 0)->ecx & (1U << 2)); /* no SVM */
}

static void kvm_leaves(void **state)
{
	struct kvm_cpuid_entry2 out[MAX];
	const struct kvm_cpuid_entry2 *e;
	int n = build(0, 2, NULL, out), i, count = 0;

	e = get(out, n, 0x40000000, 0);
	assert_int_equal(e->eax, 0x40000001);
	assert_memory_equal(&e->ebx, "KVMK", 4);
	assert_memory_equal(&e->ecx, "VMKV", 4);
	assert_memory_equal(&e->edx, "M\0\0\0", 4);
	e = get(out, n, 0x40000001, 0);
	assert_true(e->eax & (1U << 3)); /* CLOCKSOURCE2 kept */
	assert_true(e->eax & (1U << 24)); /* stable bit kept */
	assert_false(e->eax & (3U << 16)); /* exits to userspace we do not handle */
	for (i = 0; i < n; i++)
		count += out[i].function == 0x40000000;
	assert_int_equal(count, 1);
	/* brand string untouched */
	assert_int_equal(get(out, n, 0x80000002, 0)->eax, 0x65746e49);
}

static void amd_topology(void **state)
{
	struct kvm_cpuid_entry2 sup[] = {
		{ .function = 0, .eax = 0xd, .ebx = 0x68747541 },
		{ .function = 1, .ecx = 1 },
		{ .function = 0x80000008, .ecx = 0x700f },
		{ .function = 0x8000001e, .eax = 9, .ebx = 0x109 },
	};
	struct kvm_cpuid_entry2 out[MAX];
	int n = cpuid_build(sup, 4, 5, 6, NULL, out, MAX);

	assert_true(n > 0);
	assert_int_equal(get(out, n, 0x80000008, 0)->ecx, (3U << 12) | 5);
	assert_int_equal(get(out, n, 0x8000001e, 0)->eax, 5);
	assert_int_equal(get(out, n, 0x8000001e, 0)->ebx, 5);
}

static void bad_args(void **state)
{
	struct kvm_cpuid_entry2 out[MAX];

	assert_int_equal(cpuid_build(intel, 3, 2, 2, NULL, out, MAX), -EINVAL);
	assert_int_equal(cpuid_build(intel, 3, 0, 0, NULL, out, MAX), -EINVAL);
	assert_int_equal(cpuid_build(intel, 3, 0, 256, NULL, out, MAX), -EINVAL);
	assert_int_equal(cpuid_build(intel, sizeof(intel) / sizeof(intel[0]), 0, 1, NULL, out, 10),
			 -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(leaf1_apic_id),	cmocka_unit_test(leaf1_single),
		cmocka_unit_test(topology_leaves),	cmocka_unit_test(cache_leaf4),
		cmocka_unit_test(pmu_and_power_hidden), cmocka_unit_test(kvm_leaves),
		cmocka_unit_test(amd_topology),		cmocka_unit_test(bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
