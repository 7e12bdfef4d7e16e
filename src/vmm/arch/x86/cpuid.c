// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Guest CPUID policy: see cpuid.h. KVM's supported list says what the host
 * can virtualise; what it cannot know is who this vCPU is (APIC id) and
 * how many siblings it has, and which features we choose to hide. The
 * topology is one package of nr_vcpus cores with one thread each, with
 * APIC id == vCPU id (KVM's default), so the leaves agree with the MADT.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <asm/kvm_para.h>

#include "common/log.h"
#include "vmm/arch/x86/cpuid.h"

/* Leaf 1 (Intel SDM vol. 2A, Table 3-10 and 3-11). */
#define L1_ECX_MONITOR (1U << 3)
#define L1_ECX_VMX (1U << 5)
#define L1_ECX_PDCM (1U << 15) /* perf capabilities MSR: no PMU for the guest */
#define L1_ECX_TSC_DEADLINE (1U << 24)
#define L1_ECX_HYPERVISOR (1U << 31)
#define L1_EDX_HTT (1U << 28)
#define L6_EAX_ARAT (1U << 2) /* APIC timer keeps running in deep C-states */
#define EXT1_ECX_SVM (1U << 2)

/* Leaf 0xb/0x1f level types (SDM vol. 2A, "Extended Topology Enumeration"). */
#define TOPO_SMT 1
#define TOPO_CORE 2

/*
 * KVM paravirtual features we take out: both hypercalls exit to userspace,
 * which we do not handle (Documentation/virt/kvm/x86/cpuid.rst).
 */
#define KVM_PV_HIDDEN ((1U << KVM_FEATURE_HC_MAP_GPA_RANGE) | (1U << KVM_FEATURE_MIGRATION_CONTROL))

int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out)
{
	unsigned int n = 64;
	struct kvm_cpuid2 *c;
	int e;

	/* KVM says E2BIG until the array is large enough; it does not say how large. */
	for (;;) {
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		e = errno;
		free(c);
		if (e != E2BIG || n >= 4096) {
			pr_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(e));
			return -e;
		}
		n *= 2;
	}
	*out = c;
	return 0;
}

static unsigned int ceil_log2(unsigned int n)
{
	unsigned int s = 0;

	while ((1U << s) < n)
		s++;
	return s;
}

static unsigned int min_u(unsigned int a, unsigned int b)
{
	return a < b ? a : b;
}

static bool replaced_leaf(uint32_t fn)
{
	return fn == 0xb || fn == 0x1f || (fn >= 0x40000000 && fn <= 0x400000ff);
}

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid_entry2 *e, unsigned int n,
					   uint32_t fn, uint32_t index)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (e[i].function == fn && e[i].index == index)
			return &e[i];
	return NULL;
}

static bool is_amd(const struct kvm_cpuid_entry2 *sup, unsigned int nsup)
{
	const struct kvm_cpuid_entry2 *l0 = find(sup, nsup, 0, 0);

	/* "AuthenticAMD" and Hygon's "HygonGenuine": EBX "Auth"/"Hygo". */
	return l0 && (l0->ebx == 0x68747541 || l0->ebx == 0x6f677948);
}

struct topo {
	unsigned int id; /* APIC id == vCPU id */
	unsigned int nr; /* cores in the package */
	unsigned int core_shift; /* APIC id bits for the core number */
};

static void fix_entry(struct kvm_cpuid_entry2 *e, const struct topo *t, const struct cpuid_opts *o,
		      bool amd)
{
	unsigned int level;

	switch (e->function) {
	case 1:
		/* EBX: APIC id, addressable logical ids, CLFLUSH line 8 * 8 = 64 bytes. */
		e->ebx = t->id << 24 | min_u(1U << t->core_shift, 255) << 16 | 8 << 8;
		e->ecx |= L1_ECX_HYPERVISOR;
		e->ecx &= ~(L1_ECX_MONITOR | L1_ECX_PDCM);
		if (!o->nested)
			e->ecx &= ~L1_ECX_VMX;
		if (o->tsc_deadline)
			e->ecx |= L1_ECX_TSC_DEADLINE;
		if (t->nr > 1)
			e->edx |= L1_EDX_HTT;
		else
			e->edx &= ~L1_EDX_HTT;
		break;
	case 4:
		/* Deterministic cache parameters: L1/L2 per core, L3 shared by the package. */
		if (!(e->eax & 0x1f))
			break; /* no more caches */
		level = (e->eax >> 5) & 7;
		e->eax &= 0x3fff;
		e->eax |= min_u((1U << t->core_shift) - 1, 63) << 26;
		if (level >= 3)
			e->eax |= min_u(t->nr - 1, 0xfff) << 14;
		break;
	case 5: /* MONITOR/MWAIT is hidden */
	case 0xa: /* architectural PMU: version 0, no counters */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 6:
		e->eax &= L6_EAX_ARAT;
		e->ebx = e->ecx = e->edx = 0;
		break;
	case 0x80000001:
		if (!o->nested)
			e->ecx &= ~EXT1_ECX_SVM;
		break;
	case 0x80000008:
		/* AMD: NC = cores - 1, ApicIdSize; reserved on Intel. */
		if (amd)
			e->ecx = t->core_shift << 12 | min_u(t->nr - 1, 255);
		break;
	case 0x8000001e:
		/* AMD extended APIC id, core id, one node. */
		if (amd) {
			e->eax = t->id;
			e->ebx = t->id & 0xff;
			e->ecx = 0;
			e->edx = 0;
		}
		break;
	case 0x80000022: /* AMD PMU v2 */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	}
}

static int add(struct kvm_cpuid_entry2 *out, unsigned int *n, unsigned int max,
	       struct kvm_cpuid_entry2 e)
{
	if (*n >= max)
		return -E2BIG;
	out[(*n)++] = e;
	return 0;
}

/* Extended topology (leaf 0xb, and 0x1f when the host has it): SMT, core, end. */
static int add_topology(struct kvm_cpuid_entry2 *out, unsigned int *n, unsigned int max,
			uint32_t fn, const struct topo *t)
{
	struct kvm_cpuid_entry2 e = {
		.function = fn,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
		.edx = t->id, /* x2APIC id */
	};
	int ret;

	e.index = 0;
	e.eax = 0; /* one thread per core: no SMT bits */
	e.ebx = 1;
	e.ecx = TOPO_SMT << 8 | 0;
	ret = add(out, n, max, e);
	e.index = 1;
	e.eax = t->core_shift;
	e.ebx = t->nr;
	e.ecx = TOPO_CORE << 8 | 1;
	ret = ret ?: add(out, n, max, e);
	e.index = 2; /* level type 0: no more levels */
	e.eax = e.ebx = 0;
	e.ecx = 2;
	return ret ?: add(out, n, max, e);
}

int cpuid_build(const struct kvm_cpuid_entry2 *sup, unsigned int nsup, unsigned int id,
		unsigned int nr_vcpus, const struct cpuid_opts *opts, struct kvm_cpuid_entry2 *out,
		unsigned int max)
{
	static const struct cpuid_opts no_opts;
	const struct kvm_cpuid_entry2 *pv = find(sup, nsup, KVM_CPUID_FEATURES, 0);
	struct topo t = { .id = id, .nr = nr_vcpus, .core_shift = ceil_log2(nr_vcpus) };
	struct kvm_cpuid_entry2 sig = { .function = KVM_CPUID_SIGNATURE };
	struct kvm_cpuid_entry2 feat = { .function = KVM_CPUID_FEATURES };
	bool amd = is_amd(sup, nsup);
	unsigned int i, n = 0;
	int ret = 0;

	/* APIC ids are 8 bits in xAPIC mode and in the MADT entries we write. */
	if (!nr_vcpus || nr_vcpus > 255 || id >= nr_vcpus)
		return -EINVAL;
	if (!opts)
		opts = &no_opts;
	for (i = 0; i < nsup; i++) {
		if (replaced_leaf(sup[i].function))
			continue;
		ret = add(out, &n, max, sup[i]);
		if (ret < 0)
			return ret;
		fix_entry(&out[n - 1], &t, opts, amd);
	}
	if (find(sup, nsup, 0xb, 0))
		ret = add_topology(out, &n, max, 0xb, &t);
	if (!ret && find(sup, nsup, 0x1f, 0))
		ret = add_topology(out, &n, max, 0x1f, &t);
	if (ret < 0)
		return ret;

	/* "KVMKVMKVM\0\0\0" and the highest KVM leaf (cpuid.rst). */
	sig.eax = KVM_CPUID_FEATURES;
	sig.ebx = 0x4b4d564b;
	sig.ecx = 0x564b4d56;
	sig.edx = 0x4d;
	/* EDX holds hints (KVM_HINTS_REALTIME) that only a pinned-vCPU setup may claim. */
	if (pv)
		feat.eax = pv->eax & ~KVM_PV_HIDDEN;
	ret = add(out, &n, max, sig);
	ret = ret ?: add(out, &n, max, feat);
	return ret < 0 ? ret : (int)n;
}

int cpuid_setup_vcpu(const struct kvm_cpuid2 *sup, int vcpu_fd, unsigned int id,
		     unsigned int nr_vcpus, const struct cpuid_opts *opts)
{
	unsigned int max = sup->nent + 8; /* we add at most 2 x 3 topology + 2 KVM leaves */
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + max * sizeof(c->entries[0]));
	int ret;

	if (!c)
		return -ENOMEM;
	ret = cpuid_build(sup->entries, sup->nent, id, nr_vcpus, opts, c->entries, max);
	if (ret >= 0) {
		c->nent = ret;
		ret = 0;
		if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0) {
			ret = -errno;
			pr_err("vCPU %u: KVM_SET_CPUID2: %s", id, strerror(errno));
		}
	}
	free(c);
	return ret;
}
