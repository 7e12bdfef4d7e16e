// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Raw micro-guest entry in real or long mode: see micro.h.
 *
 * Long mode is the very state a Linux kernel gets (regs.c): the boot GDT
 * (64-bit code at selector 0x10) and identity page tables for the low
 * 4 GiB, at the addresses layout.h gives, all below the payload.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/log.h"
#include "vmm/arch/x86/micro.h"
#include "vmm/arch/x86/regs.h"

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

/*
 * Long mode exactly as the Linux boot protocol gets it (regs.c: the same
 * GDT and identity map of the low 4 GiB), entered at the payload with the
 * stack at the top of the last whole 2 MiB page of RAM below 4 GiB.
 */
static int setup_long(struct vcpu *v, struct kvm_sregs *sregs, struct kvm_regs *regs)
{
	struct vm *vm = v->vm;
	uint64_t mapped = vm->ram_size < (4ULL << 30) ? vm->ram_size : (4ULL << 30);
	int ret;

	/* The payload sits at 1 MiB and the stack above it. */
	if (mapped < (2ULL << 20))
		return -EINVAL;
	ret = x86_boot_tables(&vm->mem);
	if (ret == 0)
		ret = x86_vcpu_boot_regs(v->fd, MICRO_LONG_LOAD, 0);
	if (ret < 0)
		return ret;
	if (ioctl(v->fd, KVM_GET_SREGS, sregs) < 0)
		return -errno;
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
