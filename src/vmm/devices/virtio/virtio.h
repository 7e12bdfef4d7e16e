/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The transport-independent part of a virtio device (virtio 1.2 §2, §3): the
 * device status state machine, feature negotiation, the queues and the plug-in
 * point for device models. A model (blk.c, rng.c) is a `struct
 * virtio_dev_ops`; virtio_dev_types[] in virtio.c lists them all. A transport
 * (pci.c; MMIO could follow) embeds a `struct virtio_dev`, maps its registers
 * onto these calls and turns signals into interrupts through
 * `struct virtio_transport_ops`.
 */
#ifndef VPS_VMM_VIRTIO_VIRTIO_H
#define VPS_VMM_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/devices/virtio/virtqueue.h"
#include "vmm/iothread.h"
#include "vmm/mem.h"

/* Device status bits, §2.1 */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* Reserved feature bits, §6 */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

/* Device IDs, §5 */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_BALLOON 5

#define VIRTIO_MAX_QUEUES 8
#define VIRTIO_CONFIG_MAX 256 /* bytes of device-specific configuration */

#define BIT_ULL(n) (1ULL << (n))

struct virtio_dev;

/* A device model. */
struct virtio_dev_ops {
	const char *name; /* as in the VM config: "blk", "rng" */
	uint16_t device_id; /* §5 */
	uint32_t pci_class; /* class code the PCI transport shows */
	uint64_t features; /* device-specific bits offered; may be trimmed by init */
	unsigned int config_size; /* bytes of device config space, ≤ VIRTIO_CONFIG_MAX */
	unsigned int num_queues; /* the most; init may offer fewer (vdev->num_queues) */
	uint16_t queue_max_size;

	/* Set up vdev->priv and vdev->config from model-specific params. */
	int (*init)(struct virtio_dev *vdev, const void *params);
	void (*uninit)(struct virtio_dev *vdev);
	/*
	 * The driver wrote config space at [off, off + len), inside config_size.
	 * The model stores what the spec lets the driver change and ignores the
	 * rest (a driver must not overwrite what the device reports).
	 */
	void (*config_write)(struct virtio_dev *vdev, unsigned int off, const void *data,
			     unsigned int len);
	/* The driver notified queue q (§2.7.13.3); process what is available. */
	void (*notify)(struct virtio_dev *vdev, unsigned int q);
	/* The driver reset the device: drop any request state. */
	void (*reset)(struct virtio_dev *vdev);
	/*
	 * Optional, snapshots (snapshot.h): the model's state beyond the
	 * queues, under lock. save returns the bytes written to buf (≤ max);
	 * load gets bytes from an untrusted file and checks every value.
	 */
	size_t (*state_save)(struct virtio_dev *vdev, void *buf, size_t max);
	int (*state_load)(struct virtio_dev *vdev, const void *buf, size_t len);
};

enum virtio_signal { VIRTIO_SIGNAL_QUEUE, VIRTIO_SIGNAL_CONFIG };

/* What the core needs from a transport. */
struct virtio_transport_ops {
	/* Raise the interrupt for queue q, or the config-change interrupt. */
	void (*signal)(struct virtio_dev *vdev, enum virtio_signal what, unsigned int q);
	/*
	 * Optional: an eventfd whose write raises queue q's interrupt right now
	 * (an irqfd routed to its live, unmasked MSI-X vector), or -1. For a
	 * backend in the kernel (vhost-net) to interrupt the guest itself.
	 */
	int (*queue_irqfd)(struct virtio_dev *vdev, unsigned int q);
};

/* How notifications came and interrupts went, for stats and the tests. */
struct virtio_counters {
	uint64_t kicks; /* doorbell signals the I/O thread read: KVM's and forwarded ones */
	uint64_t kicks_forwarded; /* of those, written by us (virtio_dev_kick) */
	uint64_t kick_exits; /* notify writes that exited to the monitor */
	uint64_t irq_irqfd, irq_msi, irq_intx; /* interrupts by irqfd, KVM_SIGNAL_MSI, INTx */
};

/* What the I/O thread's handler for one queue's doorbell needs. */
struct virtio_kick {
	struct virtio_dev *vdev;
	unsigned int q;
};

struct virtio_dev {
	/*
	 * Serializes everything that touches this device: the transport's
	 * register accesses (and so the model's callbacks, which run under
	 * them), the device's I/O thread and other threads (control: balloon
	 * target and stats).
	 */
	pthread_mutex_t lock;
	const struct virtio_dev_ops *ops;
	void *priv; /* the model's state */
	const struct guest_mem *mem;
	const struct virtio_transport_ops *transport;
	void *transport_priv;

	unsigned int num_queues; /* queues offered: ops->num_queues unless init lowered it */
	uint64_t host_features; /* what we offer, transport bits included */
	uint64_t guest_features; /* what the driver accepted */
	uint8_t status;
	uint8_t config_generation; /* §2.5.1: bumped when the device changes config */
	uint8_t config[VIRTIO_CONFIG_MAX]; /* little-endian, the model fills it */
	struct virtq vqs[VIRTIO_MAX_QUEUES];

	/*
	 * The device's I/O thread (iothread.h) and one doorbell eventfd per
	 * queue. With kick_async, a notification is served there: KVM signals
	 * the eventfd itself (an ioeventfd the transport registers), or the
	 * transport does on an MMIO exit. Without, the vCPU that wrote the
	 * doorbell serves it, as before ioeventfd. Backends add their own
	 * descriptors (the tap) to the same loop.
	 */
	struct iothread io;
	int kick_fd[VIRTIO_MAX_QUEUES];
	struct virtio_kick kick[VIRTIO_MAX_QUEUES];
	bool kick_async;
	struct virtio_counters counters; /* under lock */
};

/* The models, one line each in virtio.c. */
extern const struct virtio_dev_ops *const virtio_dev_types[];

const struct virtio_dev_ops *virtio_dev_type_find(const char *name);

int virtio_dev_init(struct virtio_dev *vdev, const struct virtio_dev_ops *ops,
		    const struct guest_mem *mem, const void *params);
void virtio_dev_uninit(struct virtio_dev *vdev);

/* §2.4: back to the state at power-on; queues disabled, features cleared. */
void virtio_dev_reset(struct virtio_dev *vdev);

/*
 * The driver wrote the device status register. 0 resets. FEATURES_OK is
 * accepted only for a feature set we offered that includes VERSION_1
 * (§2.2.2, §6.1); DRIVER_OK only after FEATURES_OK. Refused bits do not
 * stick, so the driver sees the refusal when it reads status back (§3.1.1).
 */
void virtio_dev_set_status(struct virtio_dev *vdev, uint8_t val);

/* The driver wrote 32 feature bits at `sel`; ignored once FEATURES_OK. */
void virtio_dev_set_guest_features(struct virtio_dev *vdev, unsigned int sel, uint32_t val);

/* The driver enabled queue q; failure sets NEEDS_RESET. */
int virtio_dev_queue_enable(struct virtio_dev *vdev, unsigned int q);

/* The driver notified queue q: run the model, then signal if the driver wants. */
void virtio_dev_queue_notify(struct virtio_dev *vdev, unsigned int q);

/*
 * A notification for queue q came some other way than the queue's
 * ioeventfd (an MMIO exit, DRIVER_OK): hand it to the I/O thread with
 * kick_async, else serve it here. Under lock.
 */
void virtio_dev_kick(struct virtio_dev *vdev, unsigned int q);

/* Start the device's I/O thread: after the monitor's jail, which it narrows. */
int virtio_dev_start(struct virtio_dev *vdev);

/*
 * A model pushed used buffers on queue q outside a notify (an I/O thread, a
 * timer): signal the driver if it wants to hear about them.
 */
void virtio_dev_queue_done(struct virtio_dev *vdev, unsigned int q);

/* §2.5.1: the device changed its config space; bump the generation, tell the driver. */
void virtio_dev_config_changed(struct virtio_dev *vdev);

/* §2.1.2: the device hit an error it cannot recover from without reset. */
void virtio_dev_needs_reset(struct virtio_dev *vdev);

/* Little-endian stores into the config space, for models. */
void virtio_config_put16(struct virtio_dev *vdev, unsigned int off, uint16_t v);
void virtio_config_put32(struct virtio_dev *vdev, unsigned int off, uint32_t v);
void virtio_config_put64(struct virtio_dev *vdev, unsigned int off, uint64_t v);

struct snap_w;
struct snap_r;
struct err;
/*
 * Snapshots: features, status and each queue's addresses and positions,
 * then the model's state (SNAP_VIRTIO_MODEL), as section `id`. Under lock;
 * nothing may be in flight (the I/O thread serves requests under lock).
 * Load checks what the file says against this device (same model, same
 * features offered, queues inside RAM) and maps the queues.
 */
void virtio_dev_save_locked(struct virtio_dev *vdev, struct snap_w *w, uint32_t id);
int virtio_dev_load_locked(struct virtio_dev *vdev, const struct snap_r *r, uint32_t id,
			   struct err **err);

extern const struct virtio_dev_ops virtio_blk_ops;
extern const struct virtio_dev_ops virtio_rng_ops;
extern const struct virtio_dev_ops virtio_net_ops;
extern const struct virtio_dev_ops virtio_balloon_ops;
extern const struct virtio_dev_ops virtio_scsi_ops;

#endif
