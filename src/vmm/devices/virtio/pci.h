/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The virtio-pci modern transport (virtio 1.2 §4.1): a virtio device shown to
 * the guest as a PCI function 1af4:1040+id, revision 1, with no legacy
 * interface. All four configuration structures, the MSI-X table and PBA live
 * in one 64-bit memory BAR (BAR 0/1); vendor capabilities point into it.
 *
 * Interrupts go out through `struct pci_irq_ops`: MSI-X messages when the
 * driver enabled MSI-X (Linux does), else level INTx with the ISR register
 * read-to-clear. All register accesses for one device are serialized by its
 * lock, which is also held while the device model runs.
 *
 * With KVM's fast paths (virtio_pci_fast_paths, docs/vmm.md): each enabled
 * queue's notify address has an ioeventfd on the device's doorbell eventfd,
 * registered where BAR 0 decodes now (moved with the BAR, dropped at reset);
 * and each MSI-X vector has a GSI routed to its table entry and an irqfd, so
 * an interrupt is a write to an eventfd. Masking stays ours: a masked
 * vector's message goes to the PBA and the irqfd is written on unmask.
 */
#ifndef VPS_VMM_VIRTIO_PCI_H
#define VPS_VMM_VIRTIO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/devices/pci.h"
#include "vmm/devices/virtio/virtio.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* §4.1.2: 0x1040 + virtio device id */

/* virtio_pci_cap.cfg_type, §4.1.4 */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4

/* Layout of BAR 0: each structure on its own page. */
#define VIRTIO_PCI_BAR_SIZE 0x8000
#define VIRTIO_PCI_COMMON_OFF 0x0000
#define VIRTIO_PCI_COMMON_LEN 0x38 /* struct virtio_pci_common_cfg, §4.1.4.3 */
#define VIRTIO_PCI_ISR_OFF 0x1000
#define VIRTIO_PCI_DEVICE_OFF 0x2000
#define VIRTIO_PCI_NOTIFY_OFF 0x3000
#define VIRTIO_PCI_NOTIFY_MULT 4 /* notify_off_multiplier: one dword per queue */
#define VIRTIO_PCI_MSIX_TABLE_OFF 0x4000
#define VIRTIO_PCI_MSIX_PBA_OFF 0x5000

#define VIRTIO_PCI_MSIX_VECTORS (VIRTIO_MAX_QUEUES + 1) /* one per queue, one for config */
#define VIRTIO_MSI_NO_VECTOR 0xffff

#define VIRTIO_PCI_ISR_QUEUE 0x1
#define VIRTIO_PCI_ISR_CONFIG 0x2

struct msix_entry { /* PCI Local Bus 3.0 §6.8.2.6 */
	uint32_t addr_lo, addr_hi, data, ctrl; /* ctrl bit 0: masked */
};

struct virtio_pci {
	struct pci_dev pdev;
	struct virtio_dev vdev; /* its lock guards the registers below too */
	const struct pci_irq_ops *irq;
	void *irq_opaque;
	unsigned int gsi; /* where INTA# is wired */

	/* common configuration registers not held in vdev */
	uint32_t dev_feature_sel, drv_feature_sel;
	uint16_t queue_sel;
	uint16_t config_vector;
	uint16_t queue_vector[VIRTIO_MAX_QUEUES];
	uint8_t isr; /* §4.1.4.5 */
	bool intx_level;

	unsigned int msix_cap; /* offset of the MSI-X capability */
	unsigned int nr_vectors;
	bool msix_enabled, msix_masked; /* cached from the capability */
	struct msix_entry msix[VIRTIO_PCI_MSIX_VECTORS];
	uint64_t pba; /* pending bits, one per vector */

	/* KVM's fast paths (virtio_pci_fast_paths) */
	struct pci_host *host; /* its window bounds where an ioeventfd may sit */
	uint64_t bar_addr; /* where BAR 0 is, cached from config space */
	bool bar_decodes; /* memory decoding on and BAR 0 inside the window */
	bool unplugged; /* no more ioeventfds */
	uint64_t notify_evfd[VIRTIO_MAX_QUEUES]; /* address of queue q's ioeventfd, 0: none */
	bool irqfd;
	struct {
		int fd; /* eventfd: a write injects the message routed to gsi */
		int gsi; /* -1: none, KVM_SIGNAL_MSI */
		bool routed; /* KVM has addr and data for gsi */
		uint64_t addr;
		uint32_t data;
	} vec[VIRTIO_PCI_MSIX_VECTORS];
};

/*
 * Create the device model `ops` behind a virtio-pci function. `params` go to
 * the model's init. Plug it in with virtio_pci_plug().
 */
int virtio_pci_init(struct virtio_pci *vp, const struct virtio_dev_ops *ops, const void *params,
		    const struct guest_mem *mem, const struct pci_irq_ops *irq, void *irq_opaque);

/* Put the function on the host bridge with INTA# wired to `gsi`. */
int virtio_pci_plug(struct virtio_pci *vp, struct pci_host *host, unsigned int gsi);

/*
 * Use KVM's fast paths where the VM has them (after plug): ioeventfds on the
 * notify addresses, with notifications served on the device's I/O thread,
 * and irqfds on MSI routes for the MSI-X vectors. Without, notifications
 * are served on the vCPU and interrupts go out through irq->msi.
 */
void virtio_pci_fast_paths(struct virtio_pci *vp, bool ioeventfd, bool irqfd);

void virtio_pci_uninit(struct virtio_pci *vp);

/*
 * Snapshots (snapshot.h), under vdev.lock: the transport (config image,
 * common configuration selectors, MSI-X table) and then the device
 * (virtio_dev_save_locked), keyed by PCI slot. Load takes from the file
 * only the config bits a guest may write, checks every vector number, and
 * puts KVM's ioeventfds and MSI routes where the loaded state says.
 */
void virtio_pci_save_locked(struct virtio_pci *vp, struct snap_w *w);
int virtio_pci_load_locked(struct virtio_pci *vp, const struct snap_r *r, struct err **err);

#endif
