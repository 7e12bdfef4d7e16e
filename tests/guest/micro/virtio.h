/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A minimal virtio-pci modern driver for the C micro-guests (virtio 1.2
 * §4.1): find a function, locate its configuration structures through its
 * vendor capabilities, run the initialization sequence of §3.1.1, and drive
 * split virtqueues (§2.7) by polling, since a micro-guest has no interrupt
 * controller. It is written from the spec, not from the monitor's code, so
 * that it checks the monitor rather than mirroring it; the hostile tests
 * reach under it (vq->desc, vq->avail) to break the rules on purpose.
 */
#ifndef MICRO_VIRTIO_H
#define MICRO_VIRTIO_H

#include "rt.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_DEV(id) (0x1040 + (id)) /* §4.1.2.1: modern device IDs */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_BALLOON 5

/* Device status, §2.1 */
#define VIRTIO_S_ACKNOWLEDGE 0x01
#define VIRTIO_S_DRIVER 0x02
#define VIRTIO_S_DRIVER_OK 0x04
#define VIRTIO_S_FEATURES_OK 0x08
#define VIRTIO_S_NEEDS_RESET 0x40
#define VIRTIO_S_FAILED 0x80

#define VIRTIO_F_VERSION_1 32 /* §6.1 */

/* virtio_pci_cap.cfg_type, §4.1.4 */
#define VIRTIO_PCI_CAP_COMMON 1
#define VIRTIO_PCI_CAP_NOTIFY 2
#define VIRTIO_PCI_CAP_ISR 3
#define VIRTIO_PCI_CAP_DEVICE 4

/* struct virtio_pci_common_cfg, §4.1.4.3 */
#define VC_DFSELECT 0x00
#define VC_DF 0x04
#define VC_GFSELECT 0x08
#define VC_GF 0x0c
#define VC_MSIX_CONFIG 0x10
#define VC_NUM_QUEUES 0x12
#define VC_STATUS 0x14
#define VC_CFG_GEN 0x15
#define VC_Q_SELECT 0x16
#define VC_Q_SIZE 0x18
#define VC_Q_MSIX 0x1a
#define VC_Q_ENABLE 0x1c
#define VC_Q_NOTIFY_OFF 0x1e
#define VC_Q_DESC 0x20
#define VC_Q_DRIVER 0x28
#define VC_Q_DEVICE 0x30

/* Descriptor flags, §2.7.5 */
#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_AVAIL_F_NO_INTERRUPT 1 /* §2.7.7: we poll */

#define VQ_MAX 8

/* §2.7.5: one descriptor */
struct vring_desc {
	uint64_t addr; /* guest-physical */
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* §2.7.6: the driver area; ring[] has `size` entries, then used_event */
struct vring_avail {
	uint16_t flags;
	uint16_t idx; /* where the driver puts the next entry */
	uint16_t ring[];
};

/* §2.7.8: one used element and the device area */
struct vring_used_elem {
	uint32_t id; /* head of the completed chain */
	uint32_t len; /* bytes the device wrote */
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];
};

struct vq {
	struct vdev *dev;
	uint16_t index, size;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t notify; /* address of this queue's notify register */
	uint16_t next_desc; /* next descriptor to hand out, round robin */
	uint16_t last_used; /* used->idx we have consumed up to */
};

struct vdev {
	int slot;
	uint16_t device_id; /* the PCI device ID, 0x1040 + virtio ID */
	uint64_t bar; /* BAR 0/1 address */
	uint64_t common, isr, device, notify_base; /* 0 when the cap is missing */
	uint32_t device_len;
	uint32_t notify_mult;
	uint32_t caps_seen; /* bit n: a cfg_type n capability; bit 0x11: MSI-X */
	uint64_t features; /* negotiated */
	struct vq vqs[VQ_MAX];
};

/* One buffer of a chain. */
struct vbuf {
	void *addr;
	uint32_t len;
	bool write; /* device-writable */
};

/*
 * Find the first virtio function with `virtio_id`, enable memory decoding
 * and bus mastering, and walk its capabilities. 0, or -1 when absent, -2
 * when a capability points outside its BAR or a required one is missing.
 */
int virtio_find(struct vdev *d, unsigned int virtio_id);

/* Walk the capability list of the function in `slot` into `d` (also for pci64). */
int virtio_read_caps(struct vdev *d, int slot);

static inline uint8_t virtio_status(struct vdev *d)
{
	return mmio_read8(d->common + VC_STATUS);
}

/*
 * §3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, features. Accepts
 * VERSION_1 plus whichever of `want` the device offers; 0 when FEATURES_OK
 * stuck, else a negative step number.
 */
int virtio_negotiate(struct vdev *d, uint64_t want);

/* Write 0 to status and wait (bounded) until it reads back 0, §4.1.4.3.2. */
int virtio_reset(struct vdev *d);

/* Set up queue `index` with `size` entries (0: the device's maximum); 0 or negative. */
int vq_setup(struct vdev *d, unsigned int index, uint16_t size);

/* §3.1.1 step 8. Returns the status read back. */
uint8_t virtio_driver_ok(struct vdev *d);

/* Put the chain in free descriptors, make it available and notify; returns its head. */
int vq_submit(struct vq *q, const struct vbuf *b, unsigned int n);

/* Make `head` available (the descriptors are the caller's) and notify. */
void vq_publish(struct vq *q, uint16_t head);

/* Tell the device to look at queue q (§4.1.5.2). */
void vq_notify(struct vq *q);

/*
 * Wait for the next used element (bounded by `ms`). 0 with *head and *len
 * filled, -1 on timeout.
 */
int vq_wait(struct vq *q, unsigned int ms, uint32_t *head, uint32_t *len);

/* Submit and wait for that chain; -1 on timeout, -2 when another head came back. */
int vq_transfer(struct vq *q, const struct vbuf *b, unsigned int n, uint32_t *len);

#endif
