/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One virtual machine: the KVM file descriptors, guest RAM, the vCPUs and the
 * port-I/O bus the devices hang off. This is the core of `vps-vmm`; it knows
 * nothing of users, stores or the daemon (see docs/vmm.md).
 */
#ifndef VPS_VMM_VM_H
#define VPS_VMM_VM_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "vmm/iobus.h"
#include "vmm/mem.h"

#define VM_MAX_VCPUS 64

/* Why the VM stopped running; decides the process exit status. */
enum vm_exit_reason {
	VM_RUNNING = 0,
	VM_EXIT_PORT, /* guest wrote its status to the exit port */
	VM_HALTED, /* guest halted with nothing to wake it */
	VM_SHUTDOWN, /* triple fault or equivalent */
	VM_ERROR, /* the monitor could not go on */
};

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run; /* shared with KVM, mmap'ed */
	size_t run_size;
};

struct vm {
	int kvm_fd;
	int vm_fd;
	struct guest_mem mem;
	void *ram; /* the host mapping of guest RAM */
	uint64_t ram_size;
	struct vcpu *vcpus[VM_MAX_VCPUS];
	unsigned int nr_vcpus;
	struct iobus pio; /* port I/O */

	enum vm_exit_reason exit_reason;
	int exit_status; /* meaningful for VM_EXIT_PORT */
};

/* Open /dev/kvm, create the VM and map ram_size bytes of guest RAM at 0. */
int vm_create(struct vm *vm, uint64_t ram_size);
void vm_destroy(struct vm *vm);

int vcpu_create(struct vm *vm, unsigned int id, struct vcpu **out);
void vcpu_destroy(struct vcpu *v);

/* Run one vCPU until the VM stops; returns 0 or -errno on a monitor error. */
int vcpu_run_loop(struct vcpu *v);

/* Record why the VM stops; the first reason wins. */
void vm_request_exit(struct vm *vm, enum vm_exit_reason why, int status);

#endif
