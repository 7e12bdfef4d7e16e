/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * KVM's eventfd plumbing for the devices (docs/vmm.md, "Notifications and
 * interrupts"): ioeventfds, which turn a guest's write to a doorbell address
 * into an eventfd signal inside the kernel, with no exit to the monitor;
 * and irqfds on GSIs routed to MSI messages (KVM_SET_GSI_ROUTING), which
 * turn a write to an eventfd into an interrupt without an ioctl.
 *
 * What the kernel offers is asked once per VM (KVM_CHECK_EXTENSION); the
 * configuration may turn either off (`ioeventfd`, `irqfd`: the old paths,
 * for tests and comparisons). Without them a doorbell is an MMIO exit
 * served on the vCPU and an interrupt is KVM_SIGNAL_MSI, as before.
 */
#ifndef VPS_VMM_NOTIFY_H
#define VPS_VMM_NOTIFY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;

#define NOTIFY_MAX_ROUTES 1024 /* GSIs we route: 24 IOAPIC pins, then MSI vectors */
#define NOTIFY_FIRST_MSI_GSI 24 /* the IOAPIC has pins 0-23 */

struct vm_notify {
	bool ioeventfd; /* KVM_CAP_IOEVENTFD, and not turned off */
	bool irqfd; /* KVM_CAP_IRQFD and KVM_CAP_IRQ_ROUTING, an irqchip, not turned off */
	const char *why_not_ioeventfd, *why_not_irqfd; /* for the log line */

	/* The GSI routing table: KVM takes it whole, so we keep all of it. */
	pthread_mutex_t lock;
	unsigned int next_gsi; /* next free MSI GSI */
	unsigned int nr_msi; /* routes in msi[]: GSI NOTIFY_FIRST_MSI_GSI + i */
	struct notify_msi_route {
		uint64_t addr;
		uint32_t data;
		bool set; /* in the table KVM has */
		bool attached; /* the device's irqfd is on this GSI */
	} msi[NOTIFY_MAX_ROUTES - NOTIFY_FIRST_MSI_GSI];
};

/*
 * Ask KVM what it offers and settle what this VM uses; `want_*` are the
 * configuration's. irqfd needs the in-kernel irqchip (vm->has_irqchip set
 * before).
 */
void notify_init(struct vm *vm, bool want_ioeventfd, bool want_irqfd);
/* Say what notify_init chose and why, as the VM starts. */
void notify_log(struct vm *vm);
void notify_destroy(struct vm *vm);

/*
 * Assign (or deassign) `fd` to 2-byte MMIO writes at `addr`. Returns 0 or
 * -errno; -EEXIST when something else is registered there (a guest that
 * put two BARs on one address).
 */
int notify_ioeventfd(struct vm *vm, uint64_t addr, int fd, bool assign);

/* A fresh GSI for an MSI vector, or -ENOSPC. */
int notify_msi_gsi(struct vm *vm);

/*
 * Route `gsi` to the MSI message (addr, data) and commit the table; on the
 * first route of a GSI also attach `fd` as its irqfd. Returns 0 or -errno
 * (the caller then injects with KVM_SIGNAL_MSI).
 */
int notify_msi_route(struct vm *vm, unsigned int gsi, int fd, uint64_t addr, uint32_t data);

/* Detach `fd` from `gsi` (the device goes away). */
void notify_irqfd_detach(struct vm *vm, unsigned int gsi, int fd);

#endif
