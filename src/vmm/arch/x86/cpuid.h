/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The CPUID a guest vCPU sees, derived from what KVM supports
 * (KVM_GET_SUPPORTED_CPUID): its APIC id and the topology (one socket,
 * nr_vcpus cores, one thread per core), the hypervisor bit and KVM's
 * paravirtual leaves, with features the guest must not use taken out (PMU,
 * MONITOR/MWAIT, nested VMX/SVM). cpuid_build() is a pure function so the
 * policy is unit tested; cpuid_setup_vcpu() applies it with KVM_SET_CPUID2.
 * Intel SDM vol. 2A "CPUID"; AMD APM vol. 3 appendix E; Linux
 * Documentation/virt/kvm/x86/cpuid.rst for 0x40000000..1.
 */
#ifndef VPS_VMM_X86_CPUID_H
#define VPS_VMM_X86_CPUID_H

#include <stdbool.h>
#include <linux/kvm.h>

struct cpuid_opts {
	bool nested; /* keep VMX/SVM for a guest hypervisor */
	bool tsc_deadline; /* KVM_CAP_TSC_DEADLINE_TIMER: the in-kernel LAPIC has it */
};

/* KVM_GET_SUPPORTED_CPUID into a fresh array; free() it. */
int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out);

/*
 * The guest CPUID of vCPU `id` of `nr_vcpus` from the supported entries.
 * Writes at most `max` entries to out; returns their number, or -E2BIG
 * when max is too small, -EINVAL for a bad id or count.
 */
int cpuid_build(const struct kvm_cpuid_entry2 *sup, unsigned int nsup, unsigned int id,
		unsigned int nr_vcpus, const struct cpuid_opts *opts, struct kvm_cpuid_entry2 *out,
		unsigned int max);

/* Build and KVM_SET_CPUID2 for one vCPU; before its first KVM_RUN. */
int cpuid_setup_vcpu(const struct kvm_cpuid2 *sup, int vcpu_fd, unsigned int id,
		     unsigned int nr_vcpus, const struct cpuid_opts *opts);

#endif
