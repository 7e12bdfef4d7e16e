// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vCPU creation and the run loop: KVM_RUN, then dispatch of the exit to the
 * port-I/O bus. An exit the guest can cause is never fatal to the host
 * process beyond stopping this VM: it is logged (rate limited) and the VM
 * ends with a status that says why.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/vm.h"

int vcpu_create(struct vm *vm, unsigned int id, struct vcpu **out)
{
	struct vcpu *v;
	int size, ret;

	if (vm->nr_vcpus >= VM_MAX_VCPUS)
		return -ENOSPC;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		ret = -errno;
		pr_err("KVM_CREATE_VCPU %u: %s", id, strerror(errno));
		goto err_free;
	}
	size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run)) {
		ret = size < 0 ? -errno : -EINVAL;
		pr_err("KVM_GET_VCPU_MMAP_SIZE: %d", size);
		goto err_close;
	}
	v->run_size = size;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		ret = -errno;
		pr_err("mmap kvm_run: %s", strerror(errno));
		goto err_close;
	}
	/* the coalesced writes' ring is a page of every vCPU's mapping: take the first's */
	if (vm->coalesced_page && !vm->coalesced &&
	    (size_t)(vm->coalesced_page + 1) * sysconf(_SC_PAGESIZE) <= v->run_size) {
		vm->coalesced = (struct kvm_coalesced_mmio_ring *)((uint8_t *)v->run +
								   vm->coalesced_page *
									   sysconf(_SC_PAGESIZE));
		vm->coalesced_max = (sysconf(_SC_PAGESIZE) - sizeof(*vm->coalesced)) /
				    sizeof(struct kvm_coalesced_mmio);
	}
	vm->vcpus[vm->nr_vcpus++] = v;
	*out = v;
	return 0;

err_close:
	close(v->fd);
err_free:
	free(v);
	return ret;
}

void vcpu_destroy(struct vcpu *v)
{
	if (!v)
		return;
	munmap(v->run, v->run_size);
	close(v->fd);
	free(v);
}

static void vcpu_handle_pio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data;
	uint32_t i;

	/* KVM guarantees data_offset lies inside the run page; count can repeat (rep outs). */
	data = (uint8_t *)run + run->io.data_offset;
	for (i = 0; i < run->io.count; i++) {
		iobus_access(&v->vm->pio, run->io.port, data, run->io.size,
			     run->io.direction == KVM_EXIT_IO_OUT);
		data += run->io.size;
	}
}

/*
 * What a supervisor needs to tell one guest crash from another. After a
 * triple fault on AMD, KVM has already put the vCPU through INIT (the VMCB is
 * undefined after a shutdown intercept), so the registers read as the reset
 * state, rip 0xfff0 and cr0 0x10; on Intel they are the faulting ones.
 */
static void vcpu_log_crash(struct vcpu *v, const char *what)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0 || ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0) {
		pr_err("vcpu %u: %s", v->id, what);
		return;
	}
	pr_err("vcpu %u: %s at rip %#llx rsp %#llx cr0 %#llx cr3 %#llx cr4 %#llx efer %#llx", v->id,
	       what, (unsigned long long)regs.rip, (unsigned long long)regs.rsp,
	       (unsigned long long)sregs.cr0, (unsigned long long)sregs.cr3,
	       (unsigned long long)sregs.cr4, (unsigned long long)sregs.efer);
}

/* Park while the VM is paused; returns false once the VM is stopping. */
static bool vcpu_wait_unpaused(struct vcpu *v)
{
	struct vm *vm = v->vm;
	bool running;

	pthread_mutex_lock(&vm->lock);
	if (vm->paused && vm->exit_reason == VM_RUNNING) {
		vm->nr_parked++;
		pthread_cond_broadcast(&vm->cond);
		while (vm->paused && vm->exit_reason == VM_RUNNING)
			pthread_cond_wait(&vm->cond, &vm->lock);
		vm->nr_parked--;
	}
	running = vm->exit_reason == VM_RUNNING;
	pthread_mutex_unlock(&vm->lock);
	return running;
}

int vcpu_run_loop(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_run *run = v->run;

	for (;;) {
		/*
		 * Before parking for a pause, finish what the last exit left
		 * half done (an IN's result still to be put in the register, a
		 * string I/O's next step): KVM does that on re-entry, and with
		 * immediate_exit set it returns EINTR right after. Only then is
		 * the vCPU's state consistent for a snapshot (KVM's API
		 * documentation, KVM_EXIT_IO and immediate_exit).
		 */
		if (__atomic_load_n(&vm->paused, __ATOMIC_SEQ_CST)) {
			__atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
			if (ioctl(v->fd, KVM_RUN, 0) == 0 || (errno != EINTR && errno != EAGAIN))
				pr_ratelimited(LOG_WARN, "vcpu %u: settle before pause: %s", v->id,
					       strerror(errno));
		}
		__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		if (!vcpu_wait_unpaused(v))
			break;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			int e = errno;

			vm_coalesced_flush(vm); /* before a pause parks this vCPU */
			if (e == EINTR || e == EAGAIN)
				continue;
			pr_err("vcpu %u: KVM_RUN: %s", v->id, strerror(e));
			vm_request_exit(vm, VM_ERROR, 0);
			return -e;
		}
		/* writes KVM queued come before whatever made this exit */
		vm_coalesced_flush(vm);
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			vcpu_handle_pio(v);
			break;
		case KVM_EXIT_HLT:
			vm_request_exit(vm, VM_HALTED, 0);
			break;
		case KVM_EXIT_SHUTDOWN:
			vcpu_log_crash(v, "triple fault");
			vm_request_exit(vm, VM_SHUTDOWN, 0);
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			/* In-kernel PSCI-like events; x86 reports reset and shutdown here. */
			if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
				vm_request_exit(vm, VM_REBOOT, 0);
			else
				vm_request_exit(vm, VM_POWEROFF, 0);
			break;
		case KVM_EXIT_MMIO:
			/* Unclaimed addresses read as all ones; writes vanish. */
			if (run->mmio.len > sizeof(run->mmio.data))
				break;
			if (!iobus_access(&vm->mmio, run->mmio.phys_addr, run->mmio.data,
					  run->mmio.len, run->mmio.is_write))
				pr_ratelimited(LOG_DEBUG, "vcpu %u: unclaimed mmio at %#llx", v->id,
					       (unsigned long long)run->mmio.phys_addr);
			break;
		case KVM_EXIT_FAIL_ENTRY:
			pr_err("vcpu %u: entry failed, hardware reason %#llx", v->id,
			       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			vm_request_exit(vm, VM_ERROR, 0);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			/*
			 * An instruction KVM could not emulate is the guest's doing
			 * (PVM hosts report a triple fault this way too): the guest
			 * crashed, the monitor did not.
			 */
			vcpu_log_crash(v, run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
						  "instruction KVM cannot emulate" :
						  "KVM internal error");
			if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
				vm_request_exit(vm, VM_SHUTDOWN, 0);
			else
				vm_request_exit(vm, VM_ERROR, 0);
			break;
		default:
			pr_err("vcpu %u: unhandled exit reason %u", v->id, run->exit_reason);
			vm_request_exit(vm, VM_ERROR, 0);
			break;
		}
	}
	return 0;
}
