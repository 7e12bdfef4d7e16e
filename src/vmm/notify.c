// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ioeventfds and MSI-routed irqfds: see notify.h. The routing table is the
 * VM's, shared by every device; KVM_SET_GSI_ROUTING replaces it whole, so
 * each commit carries the IOAPIC and PIC pins KVM routes by default too
 * (otherwise the first MSI route would cut the legacy lines off).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "common/log.h"
#include "vmm/notify.h"
#include "vmm/vm.h"

#define NOTIFY_LEGACY_PINS 24 /* IOAPIC pins; the first 16 are also PIC lines */

static bool has_cap(struct vm *vm, long cap)
{
	return ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, cap) > 0;
}

void notify_init(struct vm *vm, bool want_ioeventfd, bool want_irqfd)
{
	struct vm_notify *n = &vm->notify;

	memset(n, 0, sizeof(*n));
	pthread_mutex_init(&n->lock, NULL);
	n->next_gsi = NOTIFY_FIRST_MSI_GSI;
	if (!want_ioeventfd)
		n->why_not_ioeventfd = "turned off by `ioeventfd`: false";
	else if (!has_cap(vm, KVM_CAP_IOEVENTFD))
		n->why_not_ioeventfd = "KVM lacks KVM_CAP_IOEVENTFD";
	else
		n->ioeventfd = true;
	if (!want_irqfd)
		n->why_not_irqfd = "turned off by `irqfd`: false";
	else if (!vm->has_irqchip)
		n->why_not_irqfd = "no in-kernel irqchip";
	else if (!has_cap(vm, KVM_CAP_IRQFD))
		n->why_not_irqfd = "KVM lacks KVM_CAP_IRQFD";
	else if (!has_cap(vm, KVM_CAP_IRQ_ROUTING))
		n->why_not_irqfd = "KVM lacks KVM_CAP_IRQ_ROUTING";
	else
		n->irqfd = true;
}

void notify_log(struct vm *vm)
{
	struct vm_notify *n = &vm->notify;

	pr_info("queue notifications: %s%s%s",
		n->ioeventfd ? "ioeventfd, served on I/O threads" :
			       "MMIO exit, served on the vCPU (",
		n->ioeventfd ? "" : n->why_not_ioeventfd, n->ioeventfd ? "" : ")");
	pr_info("MSI-X interrupts: %s%s%s", n->irqfd ? "irqfd with MSI routes" : "KVM_SIGNAL_MSI (",
		n->irqfd ? "" : n->why_not_irqfd, n->irqfd ? "" : ")");
}

void notify_destroy(struct vm *vm)
{
	pthread_mutex_destroy(&vm->notify.lock);
}

int notify_ioeventfd(struct vm *vm, uint64_t addr, int fd, bool assign)
{
	struct kvm_ioeventfd ioe = {
		.addr = addr,
		.len = 2, /* §4.1.5.2: the driver writes a 16-bit queue index */
		.fd = fd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	if (!vm->notify.ioeventfd)
		return -ENOTSUP;
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &ioe) < 0)
		return -errno;
	return 0;
}

int notify_msi_gsi(struct vm *vm)
{
	struct vm_notify *n = &vm->notify;
	int gsi = -ENOSPC;

	pthread_mutex_lock(&n->lock);
	if (n->next_gsi < NOTIFY_MAX_ROUTES)
		gsi = n->next_gsi++;
	pthread_mutex_unlock(&n->lock);
	return gsi;
}

/* KVM's default routes for the legacy lines, then every MSI route set; under the lock. */
static int commit_locked(struct vm *vm)
{
	struct vm_notify *n = &vm->notify;
	struct kvm_irq_routing *r;
	unsigned int i, nr = 0;
	int ret = 0;

	r = calloc(1, sizeof(*r) + (16 + NOTIFY_MAX_ROUTES) * sizeof(r->entries[0]));
	if (!r)
		return -ENOMEM;
	for (i = 0; i < NOTIFY_LEGACY_PINS; i++) {
		r->entries[nr++] = (struct kvm_irq_routing_entry){
			.gsi = i,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = i },
		};
		if (i < 16)
			r->entries[nr++] = (struct kvm_irq_routing_entry){
				.gsi = i,
				.type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = i < 8 ? KVM_IRQCHIP_PIC_MASTER :
								  KVM_IRQCHIP_PIC_SLAVE,
					       .pin = i % 8 },
			};
	}
	for (i = 0; i < n->nr_msi; i++) {
		if (!n->msi[i].set)
			continue;
		r->entries[nr++] = (struct kvm_irq_routing_entry){
			.gsi = NOTIFY_FIRST_MSI_GSI + i,
			.type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = (uint32_t)n->msi[i].addr,
				   .address_hi = (uint32_t)(n->msi[i].addr >> 32),
				   .data = n->msi[i].data },
		};
	}
	r->nr = nr;
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, r) < 0) {
		ret = -errno;
		pr_ratelimited(LOG_WARN, "KVM_SET_GSI_ROUTING (%u routes): %s", nr,
			       strerror(errno));
	}
	free(r);
	return ret;
}

int notify_msi_route(struct vm *vm, unsigned int gsi, int fd, uint64_t addr, uint32_t data)
{
	struct vm_notify *n = &vm->notify;
	unsigned int i = gsi - NOTIFY_FIRST_MSI_GSI;
	struct notify_msi_route old;
	int ret;

	if (!n->irqfd)
		return -ENOTSUP;
	if (gsi < NOTIFY_FIRST_MSI_GSI || gsi >= NOTIFY_MAX_ROUTES)
		return -EINVAL;
	pthread_mutex_lock(&n->lock);
	old = n->msi[i];
	if (old.set && old.addr == addr && old.data == data) {
		pthread_mutex_unlock(&n->lock);
		return 0;
	}
	if (i >= n->nr_msi)
		n->nr_msi = i + 1;
	n->msi[i].addr = addr;
	n->msi[i].data = data;
	n->msi[i].set = true;
	ret = commit_locked(vm);
	if (ret < 0) {
		n->msi[i] = old; /* the kernel kept the table it had */
	} else if (!old.attached) {
		struct kvm_irqfd irqfd = { .fd = fd, .gsi = gsi };

		if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) == 0) {
			n->msi[i].attached = true;
		} else {
			ret = -errno;
			pr_ratelimited(LOG_WARN, "KVM_IRQFD gsi %u: %s", gsi, strerror(errno));
		}
	}
	pthread_mutex_unlock(&n->lock);
	return ret;
}

void notify_irqfd_detach(struct vm *vm, unsigned int gsi, int fd)
{
	struct kvm_irqfd irqfd = { .fd = fd, .gsi = gsi, .flags = KVM_IRQFD_FLAG_DEASSIGN };
	unsigned int i = gsi - NOTIFY_FIRST_MSI_GSI;

	if (!vm->notify.irqfd || gsi < NOTIFY_FIRST_MSI_GSI || gsi >= NOTIFY_MAX_ROUTES)
		return;
	pthread_mutex_lock(&vm->notify.lock);
	if (i < vm->notify.nr_msi && vm->notify.msi[i].attached) {
		vm->notify.msi[i].attached = false;
		ioctl(vm->vm_fd, KVM_IRQFD, &irqfd);
	}
	pthread_mutex_unlock(&vm->notify.lock);
}
