/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One virtual machine: the KVM file descriptors, guest RAM, the vCPUs and the
 * port-I/O bus the devices hang off. This is the core of `vps-vmm`; it knows
 * nothing of users, stores or the daemon (see docs/vmm.md).
 */
#ifndef VPS_VMM_VM_H
#define VPS_VMM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "vmm/iobus.h"
#include "vmm/mem.h"
#include "vmm/notify.h"

#define VM_MAX_VCPUS 64

/* Why the VM stopped running; decides the process exit status. */
enum vm_exit_reason {
	VM_RUNNING = 0,
	VM_EXIT_PORT, /* guest wrote its status to the exit port */
	VM_HALTED, /* guest halted with nothing to wake it */
	VM_SHUTDOWN, /* triple fault or equivalent */
	VM_ERROR, /* the monitor could not go on */
	VM_POWEROFF, /* the guest powered off (ACPI S5) */
	VM_REBOOT, /* the guest asked for a reset */
	VM_STOPPED, /* hard stop from the control socket */
};

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run; /* shared with KVM, mmap'ed */
	size_t run_size;
	pthread_t thread;
	bool started; /* thread is running */
	/* Called once on the vCPU's own thread before the first KVM_RUN. */
	int (*setup)(struct vcpu *v, void *opaque);
	void *setup_opaque;
};

struct vm {
	int kvm_fd;
	int vm_fd;
	struct guest_mem mem;
	void *ram; /* the host mapping of guest RAM */
	uint64_t ram_size;
	bool ram_reserved; /* prefaulted and locked (vm_reserve_ram) */
	void *rom; /* firmware image mapped below 4 GiB (vm_add_rom), or NULL */
	uint64_t rom_size;
	struct vcpu *vcpus[VM_MAX_VCPUS];
	unsigned int nr_vcpus;
	struct iobus pio; /* port I/O */
	struct iobus mmio; /* memory-mapped I/O outside RAM */

	/* Pause: vCPUs park on cond while paused; lock guards both counters. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool paused;
	unsigned int nr_parked;
	int stop_efd; /* eventfd, readable once the VM stops */
	bool has_irqchip; /* in-kernel PIC, IOAPIC and LAPICs */
	struct vm_notify notify; /* ioeventfds and irqfds (notify.h) */

	enum vm_exit_reason exit_reason;
	int exit_status; /* meaningful for VM_EXIT_PORT */

	/*
	 * Coalesced port writes (vm_coalesce_pio): KVM's ring, a page of every
	 * vCPU's mapping (the first vCPU's is used), and what flushing took.
	 */
	unsigned int coalesced_page; /* its page in the vCPU mapping; 0: none */
	struct kvm_coalesced_mmio_ring *coalesced;
	uint32_t coalesced_max; /* entries in the ring */
	pthread_mutex_t coalesced_lock; /* one flusher at a time, so writes stay in order */
	uint64_t coalesced_writes; /* under coalesced_lock */
};

/*
 * Open /dev/kvm, create the VM and map ram_size bytes of guest RAM: at 0 up
 * to hole_start, the rest from 4 GiB (x86 keeps [3 GiB, 4 GiB) for devices).
 * Pass UINT64_MAX for no hole.
 */
int vm_create(struct vm *vm, uint64_t ram_size, uint64_t hole_start);
void vm_destroy(struct vm *vm);

/*
 * Memory `reserve` (docs/policies.md): fault every page of guest RAM in and
 * mlock() it, so the host can neither be short of it later nor reclaim or
 * swap it. RLIMIT_MEMLOCK is raised first (root can). Returns 0 or -errno,
 * with the reason logged: "reserve: mlock 512 MiB: ...".
 */
int vm_reserve_ram(struct vm *vm);

/*
 * Map `size` bytes (whole pages) of firmware image at guest address gpa,
 * read-only where KVM can (KVM_CAP_READONLY_MEM: a guest write then exits
 * as MMIO and is dropped), else as private memory only the guest's own
 * copy of which it can change. The VM owns the copy made here.
 */
int vm_add_rom(struct vm *vm, uint64_t gpa, const void *image, uint64_t size);

/*
 * Coalesced port writes (KVM_CAP_COALESCED_PIO): a guest's writes to ports
 * [port, port + len) are queued by KVM in a ring page instead of leaving
 * KVM_RUN, and reach the port bus when vm_coalesced_flush() runs. Every vCPU
 * flushes after each KVM_RUN, before serving the exit, so a read of any port
 * sees the writes before it; a device read by another thread (the screen)
 * flushes first. Only for ports whose writes change nothing but the
 * device's own state. -EOPNOTSUPP where KVM lacks it (the writes exit as
 * before); call before the vCPUs are created.
 */
int vm_coalesce_pio(struct vm *vm, uint16_t port, uint32_t len);
void vm_coalesced_flush(struct vm *vm);

int vcpu_create(struct vm *vm, unsigned int id, struct vcpu **out);
void vcpu_destroy(struct vcpu *v);

/* Run one vCPU until the VM stops; returns 0 or -errno on a monitor error. */
int vcpu_run_loop(struct vcpu *v);

/* Record why the VM stops; the first reason wins. Wakes every vCPU and stop_efd. */
void vm_request_exit(struct vm *vm, enum vm_exit_reason why, int status);

/* Start one thread per vCPU; returns 0 or -errno (threads started are stopped). */
int vm_start(struct vm *vm);
/* Wait for every vCPU thread to end (after vm_request_exit). */
void vm_join(struct vm *vm);
/* Park every vCPU outside KVM_RUN and wait until all are parked / let them go. */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);
bool vm_is_paused(struct vm *vm);
/*
 * Set an interrupt line (GSI) high or low on the in-kernel irqchip; a no-op
 * without one (micro-guests poll).
 */
void vm_irq_line(struct vm *vm, unsigned int gsi, int level);
/* Deliver a message-signalled interrupt. Returns 0 or -errno. */
int vm_signal_msi(struct vm *vm, uint64_t addr, uint32_t data);

/* Make every vCPU leave KVM_RUN soon (to notice a pause or a stop). */
void vm_kick_vcpus(struct vm *vm);
/* Per-vCPU thread CPU time in nanoseconds. */
uint64_t vcpu_cpu_time_ns(struct vcpu *v);

#endif
