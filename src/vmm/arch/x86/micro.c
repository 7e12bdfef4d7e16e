// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Raw micro-guest entry in real or long mode: see micro.h.
 *
 * For long mode the monitor builds what firmware or a boot loader would:
 * a GDT with a 64-bit code segment, and identity page tables (PML4 ->
 * one PDPT -> up to four page directories of 2 MiB pages). Layout in low
 * RAM, below the payload:
 *   0x0500  GDT (null, code64, data)
 *   0x1000  PML4
 *   0x2000  PDPT
 *   0x3000  4 page directories (0x3000..0x6fff)
 * Intel SDM vol. 3A §4.5 (4-level paging), §9.8.5 (entering IA-32e mode).
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/log.h"
#include "vmm/arch/x86/micro.h"

#define GDT_ADDR 0x500
#define PML4_ADDR 0x1000
#define PDPT_ADDR 0x2000
#define PD_ADDR 0x3000

#define PTE_P (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_PS (1ULL << 7)

#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

int micro_load(struct vm *vm, enum micro_mode mode, const void *img, size_t len)
{
	uint64_t at = mode == MICRO_REAL ? MICRO_REAL_LOAD : MICRO_LONG_LOAD;
	uint64_t room = mode == MICRO_REAL ? 0x10000 : vm->ram_size;
	void *dst;

	if (!len || len > room)
		return -E2BIG;
	dst = gpa_ptr(&vm->mem, at, len);
	if (!dst)
		return -E2BIG;
	memcpy(dst, img, len);
	return 0;
}

static void seg_real(struct kvm_segment *s, uint16_t sel)
{
	s->selector = sel;
	s->base = (uint64_t)sel << 4;
	s->limit = 0xffff;
}

static int setup_real(struct vcpu *v, struct kvm_sregs *sregs, struct kvm_regs *regs)
{
	uint16_t seg = MICRO_REAL_LOAD >> 4;

	seg_real(&sregs->cs, seg);
	seg_real(&sregs->ds, seg);
	seg_real(&sregs->es, seg);
	seg_real(&sregs->ss, seg);
	seg_real(&sregs->fs, seg);
	seg_real(&sregs->gs, seg);
	regs->rip = 0;
	regs->rsp = 0xfffe;
	return 0;
}

static int setup_long(struct vcpu *v, struct kvm_sregs *sregs, struct kvm_regs *regs)
{
	struct vm *vm = v->vm;
	uint64_t mapped = vm->ram_size < (4ULL << 30) ? vm->ram_size : (4ULL << 30);
	uint64_t *gdt, *pml4, *pdpt, *pd, i;
	struct kvm_segment code = {
		.base = 0,
		.limit = 0xffffffff,
		.selector = 1 << 3,
		.type = 0xb, /* execute/read, accessed */
		.present = 1,
		.dpl = 0,
		.db = 0,
		.s = 1,
		.l = 1,
		.g = 1,
	};
	struct kvm_segment data = code;

	/* The payload sits at 1 MiB and the stack at the top of the last whole 2 MiB page. */
	if (mapped < (2ULL << 20))
		return -EINVAL;
	gdt = gpa_ptr(&vm->mem, GDT_ADDR, 3 * 8);
	pml4 = gpa_ptr(&vm->mem, PML4_ADDR, 0x1000);
	pdpt = gpa_ptr(&vm->mem, PDPT_ADDR, 0x1000);
	pd = gpa_ptr(&vm->mem, PD_ADDR, 4 * 0x1000);
	if (!gdt || !pml4 || !pdpt || !pd)
		return -EINVAL;

	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffULL; /* code64: P, DPL0, S, type b, L, G */
	gdt[2] = 0x00cf93000000ffffULL; /* data: P, DPL0, S, type 3, D/B, G */
	memset(pml4, 0, 0x1000);
	memset(pdpt, 0, 0x1000);
	memset(pd, 0, 4 * 0x1000);
	pml4[0] = PDPT_ADDR | PTE_P | PTE_RW;
	for (i = 0; i < 4; i++)
		pdpt[i] = (PD_ADDR + i * 0x1000) | PTE_P | PTE_RW;
	for (i = 0; i < mapped >> 21; i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;

	sregs->gdt.base = GDT_ADDR;
	sregs->gdt.limit = 3 * 8 - 1;
	sregs->cr3 = PML4_ADDR;
	sregs->cr4 |= CR4_PAE;
	sregs->cr0 |= CR0_PE | CR0_PG | CR0_ET | CR0_NE;
	sregs->efer |= EFER_LME | EFER_LMA;

	data.type = 0x3; /* read/write, accessed */
	data.selector = 2 << 3;
	data.l = 0;
	data.db = 1;
	sregs->cs = code;
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;

	regs->rip = MICRO_LONG_LOAD;
	regs->rsp = (mapped >> 21) << 21;
	regs->rdi = vm->ram_size;
	return 0;
}

int micro_setup_vcpu(struct vcpu *v, enum micro_mode mode)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int ret;

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2; /* bit 1 is reserved and must be set */
	ret = mode == MICRO_REAL ? setup_real(v, &sregs, &regs) : setup_long(v, &sregs, &regs);
	if (ret < 0)
		return ret;
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0) {
		ret = -errno;
		pr_err("KVM_SET_SREGS: %s", strerror(errno));
		return ret;
	}
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0) {
		ret = -errno;
		pr_err("KVM_SET_REGS: %s", strerror(errno));
		return ret;
	}
	return 0;
}
