// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * x86 boot state for a Linux guest: see regs.h. The register values follow
 * Documentation/x86/boot.rst §"64-bit Boot Protocol": long mode with paging,
 * the range the kernel uses identity mapped, a GDT with 4 GiB flat segments
 * at __BOOT_CS (0x10) and __BOOT_DS (0x18), interrupts off, rsi = boot_params.
 * Entering IA-32e mode: Intel SDM vol. 3A §9.8.5; 4-level paging §4.5.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "vmm/arch/x86/layout.h"
#include "vmm/arch/x86/regs.h"
#include "vmm/arch/x86/cpu.h"

#define BOOT_CS 0x10
#define BOOT_DS 0x18
#define GDT_ENTRIES 4

/* Local APIC registers (Intel SDM vol. 3A §10.5.1, Table 10-1). */
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_DM_MASK 0x700
#define APIC_DM_NMI 0x400
#define APIC_DM_EXTINT 0x700

#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

#define MISC_ENABLE_FAST_STRING (1ULL << 0)
#define MTRR_ENABLE (1ULL << 11)
#define MTRR_TYPE_WB 6

/* Log a failed ioctl; returns -errno as it was before logging could change it. */
static int ioctl_err(const char *what)
{
	int e = errno;

	pr_err("%s: %s", what, strerror(e));
	return -e;
}

int x86_vm_init(int vm_fd)
{
	uint64_t ident = X86_KVM_IDENT_ADDR;
	struct kvm_pit_config pit = { .flags = 0 };

	/*
	 * Intel needs guest-physical pages for the real-mode TSS and an
	 * identity page table (used while the guest runs unpaged); they must
	 * not be RAM, so they sit in the hole below 4 GiB, reserved in e820.
	 */
	if (ioctl(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident) < 0)
		return ioctl_err("KVM_SET_IDENTITY_MAP_ADDR");
	if (ioctl(vm_fd, KVM_SET_TSS_ADDR, (unsigned long)X86_KVM_TSS_ADDR) < 0)
		return ioctl_err("KVM_SET_TSS_ADDR");
	/* PIC, IO-APIC and a LAPIC per vCPU in the kernel; then the PIT wired to them. */
	if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return ioctl_err("KVM_CREATE_IRQCHIP");
	if (ioctl(vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return ioctl_err("KVM_CREATE_PIT2");
	return 0;
}

int x86_boot_tables(struct guest_mem *m)
{
	uint64_t *gdt = gpa_ptr(m, X86_GDT_ADDR, GDT_ENTRIES * 8);
	uint64_t *pml4 = gpa_ptr(m, X86_PML4_ADDR, 0x1000);
	uint64_t *pdpt = gpa_ptr(m, X86_PDPT_ADDR, 0x1000);
	uint64_t *pd = gpa_ptr(m, X86_PD_ADDR, 4 * 0x1000);
	uint64_t i;

	if (!gdt || !pml4 || !pdpt || !pd)
		return -ENOMEM;
	gdt[0] = 0;
	gdt[1] = 0;
	gdt[BOOT_CS >> 3] = 0x00af9b000000ffffULL; /* code: P, DPL0, S, exec/read, L, G */
	gdt[BOOT_DS >> 3] = 0x00cf93000000ffffULL; /* data: P, DPL0, S, read/write, D/B, G */

	/*
	 * All of the low 4 GiB with 2 MiB pages, hole included: the kernel,
	 * boot_params, command line and initrd are all below 4 GiB and the
	 * kernel replaces these tables early anyway.
	 */
	memset(pml4, 0, 0x1000);
	memset(pdpt, 0, 0x1000);
	pml4[0] = X86_PDPT_ADDR | PTE_P | PTE_RW;
	for (i = 0; i < 4; i++)
		pdpt[i] = (X86_PD_ADDR + i * 0x1000) | PTE_P | PTE_RW;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

int x86_msr_list_get(int kvm_fd, struct x86_msr_list *out)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	_cleanup_free_ struct kvm_msr_list *l = NULL;

	/* The first call fails with E2BIG and says how many there are. */
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return ioctl_err("KVM_GET_MSR_INDEX_LIST");
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(uint32_t));
	if (!l)
		return -ENOMEM;
	l->nmsrs = probe.nmsrs;
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0)
		return ioctl_err("KVM_GET_MSR_INDEX_LIST");
	out->idx = malloc(l->nmsrs * sizeof(uint32_t) + 1);
	if (!out->idx)
		return -ENOMEM;
	memcpy(out->idx, l->indices, l->nmsrs * sizeof(uint32_t));
	out->nr = l->nmsrs;
	return 0;
}

void x86_msr_list_free(struct x86_msr_list *l)
{
	free(l->idx);
	l->idx = NULL;
	l->nr = 0;
}

static int msr_listed(const struct x86_msr_list *l, uint32_t idx)
{
	unsigned int i;

	for (i = 0; i < l->nr; i++)
		if (l->idx[i] == idx)
			return 1;
	return 0;
}

/* What a BIOS leaves behind (Firecracker's and QEMU's reset values). */
static const struct kvm_msr_entry boot_msrs[] = {
	{ .index = MSR_IA32_SYSENTER_CS },
	{ .index = MSR_IA32_SYSENTER_ESP },
	{ .index = MSR_IA32_SYSENTER_EIP },
	{ .index = MSR_STAR },
	{ .index = MSR_LSTAR },
	{ .index = MSR_CSTAR },
	{ .index = MSR_SYSCALL_MASK },
	{ .index = MSR_KERNEL_GS_BASE },
	{ .index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING },
	/* MTRRs on, default write-back: without it Linux turns PAT off. */
	{ .index = MSR_MTRR_DEF_TYPE, .data = MTRR_ENABLE | MTRR_TYPE_WB },
};

/* Log each skipped MSR once per process, not once per vCPU. */
static void msr_skipped(unsigned int i, const char *why)
{
	static uint8_t logged[ARRAY_SIZE(boot_msrs)];

	if (i < ARRAY_SIZE(boot_msrs) && !logged[i]) {
		logged[i] = 1;
		pr_info("boot MSR %#x skipped: %s", boot_msrs[i].index, why);
	}
}

static int set_msrs(int vcpu_fd, const struct x86_msr_list *list)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[ARRAY_SIZE(boot_msrs)];
	} b;
	unsigned int from[ARRAY_SIZE(boot_msrs)];
	unsigned int i, n = 0;
	int ret;

	memset(&b, 0, sizeof(b));
	for (i = 0; i < ARRAY_SIZE(boot_msrs); i++) {
		/*
		 * The MTRR MSRs are handled by every KVM yet not in its
		 * save/restore list; KVM_SET_MSRS itself decides for them.
		 */
		if (list && boot_msrs[i].index != MSR_MTRR_DEF_TYPE &&
		    !msr_listed(list, boot_msrs[i].index)) {
			msr_skipped(i, "not in KVM_GET_MSR_INDEX_LIST");
			continue;
		}
		from[n] = i;
		b.e[n++] = boot_msrs[i];
	}
	/* KVM_SET_MSRS stops at the first MSR it rejects and returns how many it set. */
	while (n) {
		b.hdr.nmsrs = n;
		ret = ioctl(vcpu_fd, KVM_SET_MSRS, &b);
		if (ret < 0)
			return ioctl_err("KVM_SET_MSRS");
		if ((unsigned int)ret >= n)
			break;
		msr_skipped(from[ret], "rejected by KVM_SET_MSRS");
		n -= ret + 1;
		memmove(&b.e[0], &b.e[ret + 1], n * sizeof(b.e[0]));
		memmove(&from[0], &from[ret + 1], n * sizeof(from[0]));
	}
	return 0;
}

static int set_lapic(int vcpu_fd)
{
	struct kvm_lapic_state s;
	uint32_t *lint0 = (uint32_t *)&s.regs[APIC_LVT_LINT0];
	uint32_t *lint1 = (uint32_t *)&s.regs[APIC_LVT_LINT1];

	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &s) < 0)
		return ioctl_err("KVM_GET_LAPIC");
	/*
	 * Virtual-wire mode as a BIOS sets it up (MP spec 1.4 §3.6.2.2):
	 * LINT0 takes the 8259's interrupts, LINT1 is NMI.
	 */
	*lint0 = (*lint0 & ~APIC_DM_MASK) | APIC_DM_EXTINT;
	*lint1 = (*lint1 & ~APIC_DM_MASK) | APIC_DM_NMI;
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &s) < 0)
		return ioctl_err("KVM_SET_LAPIC");
	return 0;
}

int x86_vcpu_init(int vcpu_fd, unsigned int id, const struct x86_msr_list *msrs)
{
	struct kvm_fpu fpu;
	int ret;

	ret = set_lapic(vcpu_fd);
	if (ret < 0)
		return ret;
	/* FNINIT state: all exceptions masked; SSE exceptions masked too. */
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0)
		return ioctl_err("KVM_SET_FPU");
	return set_msrs(vcpu_fd, msrs);
}

int x86_vcpu_boot_regs(int vcpu_fd, uint64_t entry, uint64_t boot_params)
{
	struct kvm_segment code = {
		.base = 0,
		.limit = 0xffffffff,
		.selector = BOOT_CS,
		.type = 0xb, /* execute/read, accessed */
		.present = 1,
		.s = 1,
		.l = 1,
		.g = 1,
	};
	struct kvm_segment data = code;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return ioctl_err("KVM_GET_SREGS");
	data.selector = BOOT_DS;
	data.type = 0x3; /* read/write, accessed */
	data.l = 0;
	data.db = 1;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.gdt.base = X86_GDT_ADDR;
	sregs.gdt.limit = GDT_ENTRIES * 8 - 1;
	sregs.cr3 = X86_PML4_ADDR;
	sregs.cr4 |= CR4_PAE;
	sregs.cr0 |= CR0_PE | CR0_PG | CR0_ET | CR0_NE;
	sregs.efer |= EFER_LME | EFER_LMA;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2; /* IF clear; bit 1 is reserved and must be set */
	regs.rip = entry;
	regs.rsi = boot_params;
	regs.rsp = X86_BOOT_STACK;
	regs.rbp = X86_BOOT_STACK;
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return ioctl_err("KVM_SET_SREGS");
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return ioctl_err("KVM_SET_REGS");
	return 0;
}
