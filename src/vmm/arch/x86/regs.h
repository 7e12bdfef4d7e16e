/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * x86 VM and vCPU state for booting Linux: the VM-wide KVM setup (TSS and
 * identity-map pages, in-kernel irqchip and PIT), the boot page tables and
 * GDT in guest memory, and per-vCPU state: local APIC LINT pins, FPU, boot
 * MSRs, and for the boot CPU the registers of the 64-bit boot protocol
 * (Documentation/x86/boot.rst §"64-bit Boot Protocol").
 *
 * Secondary vCPUs get everything but the registers: with the in-kernel
 * LAPIC, KVM holds them in wait-for-SIPI until the guest starts them with
 * INIT/SIPI, which sets their registers.
 */
#ifndef VPS_VMM_X86_REGS_H
#define VPS_VMM_X86_REGS_H

#include <stdint.h>

#include "vmm/mem.h"

/*
 * VM-wide setup, after KVM_CREATE_VM and before any KVM_CREATE_VCPU (KVM
 * refuses the identity map and an in-kernel irqchip once vCPUs exist):
 * KVM_SET_IDENTITY_MAP_ADDR, KVM_SET_TSS_ADDR, KVM_CREATE_IRQCHIP,
 * KVM_CREATE_PIT2. -errno with the failing ioctl logged.
 */
int x86_vm_init(int vm_fd);

/* GDT and identity page tables for the first 4 GiB (see layout.h). */
int x86_boot_tables(struct guest_mem *m);

/*
 * The MSRs KVM lets us save and restore (KVM_GET_MSR_INDEX_LIST), fetched
 * once per process from /dev/kvm and used to filter the boot MSRs.
 */
struct x86_msr_list {
	uint32_t *idx;
	unsigned int nr;
};

int x86_msr_list_get(int kvm_fd, struct x86_msr_list *out);
void x86_msr_list_free(struct x86_msr_list *l);

/* Every vCPU: LAPIC LINT0 = ExtINT, LINT1 = NMI; FPU; boot MSRs. */
int x86_vcpu_init(int vcpu_fd, unsigned int id, const struct x86_msr_list *msrs);

/* The boot vCPU: long mode, CS/DS = __BOOT_CS/__BOOT_DS, rip = entry, rsi = boot_params. */
int x86_vcpu_boot_regs(int vcpu_fd, uint64_t entry, uint64_t boot_params);

#endif
