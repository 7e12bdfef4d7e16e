/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The device side of a split virtqueue (virtio 1.2 §2.7). A device model
 * pops descriptor chains the driver made available, turned into lists of
 * host pointers, and pushes them back on the used ring; the transport asks
 * virtq_should_signal() whether the driver wants an interrupt for that.
 *
 * The rings live in guest RAM and the guest writes them concurrently from
 * other vCPUs, so everything read from them is read once, bounds-checked and
 * then used from a local copy. A chain that breaks a rule of §2.7 marks the
 * queue broken: the transport then sets DEVICE_NEEDS_RESET, and the queue
 * does nothing more until the driver resets the device.
 */
#ifndef VPS_VMM_VIRTIO_VIRTQUEUE_H
#define VPS_VMM_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/mem.h"

/* Descriptor flags, virtio 1.2 §2.7.5 */
#define VIRTQ_DESC_F_NEXT 1 /* the chain continues in `next` */
#define VIRTQ_DESC_F_WRITE 2 /* device-writable (else device-readable) */
#define VIRTQ_DESC_F_INDIRECT 4 /* the buffer is a table of descriptors */

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1 /* §2.7.7: driver asks for no interrupts */
#define VIRTQ_USED_F_NO_NOTIFY 1 /* §2.7.10: device asks for no notifications */

#define VIRTQ_MAX_SIZE 32768 /* §2.7: largest queue size a split ring allows */
#define VIRTQ_MAX_IOV 256 /* segments in one chain we accept; more is an error */
#define VIRTQ_MAX_CHAIN_BYTES (256u << 20) /* total bytes in one chain; used.len is 32 bits */

/* One descriptor as laid out in guest memory, §2.7.5 (little-endian). */
struct virtq_desc {
	uint64_t addr; /* guest-physical buffer address */
	uint32_t len; /* buffer length in bytes */
	uint16_t flags; /* VIRTQ_DESC_F_* */
	uint16_t next; /* index of the next descriptor when F_NEXT */
};

/* §2.7.8: one completed chain on the used ring. */
struct virtq_used_elem {
	uint32_t id; /* head index of the chain */
	uint32_t len; /* bytes the device wrote into the chain */
};

/* A host view of one guest buffer, checked to lie wholly in one RAM region. */
struct virtq_iov {
	void *base;
	uint32_t len;
};

/*
 * A popped chain: iov[0 .. nr_out) are device-readable (driver to device),
 * iov[nr_out .. nr_out + nr_in) device-writable, in chain order.
 */
struct virtq_chain {
	uint16_t head; /* what goes back in the used element */
	unsigned int nr_out, nr_in;
	uint64_t out_bytes, in_bytes;
	struct virtq_iov iov[VIRTQ_MAX_IOV];
};

struct virtq {
	/* Set by the transport while the queue is disabled (§4.1.4.3). */
	uint16_t max_size; /* what the device offers */
	uint16_t size; /* what the driver chose; a power of two, §2.7 */
	uint64_t desc_gpa, avail_gpa, used_gpa;

	/* Valid once enabled. */
	bool ready;
	bool broken; /* a rule was broken; nothing more until reset */
	bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect; /* VIRTIO_F_INDIRECT_DESC negotiated */
	const struct guest_mem *mem;
	struct virtq_desc *desc; /* host views of the three rings */
	uint16_t *avail; /* flags, idx, ring[size], used_event */
	uint8_t *used; /* flags, idx, ring[size] of used_elem, avail_event */

	uint16_t last_avail; /* next avail ring slot to consume */
	uint16_t used_idx; /* our copy of used->idx */
	uint16_t signalled_used; /* used_idx when we last decided to signal */
	bool signalled_valid; /* signalled_used means something */
};

/* Back to the state after device reset: disabled, size = max_size. */
void virtq_reset(struct virtq *vq, uint16_t max_size);

/*
 * The driver wrote queue_enable = 1: check size, alignment and that each ring
 * lies wholly in guest RAM (§2.7, table in §2.7.2), then map it.
 * Returns 0 or -EINVAL (the queue is then marked broken).
 */
int virtq_enable(struct virtq *vq, const struct guest_mem *mem, bool event_idx, bool indirect);

/*
 * Take the next available chain. Returns 1 with *c filled, 0 when the ring is
 * empty, -EIO when the queue is (or has just become) broken.
 */
int virtq_pop(struct virtq *vq, struct virtq_chain *c);

/*
 * Undo the last successful virtq_pop(): the chain stays available and the
 * next pop returns it again (a device that found nothing to put in it).
 * Called k times it undoes the last k pops, which are returned again in
 * the same order, provided nothing was pushed from them.
 */
void virtq_unpop(struct virtq *vq);

/* Return a chain to the driver with `len` bytes written into it. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);

/*
 * Return n chains with one store of the used index, so the driver sees all
 * of them or none: the buffers of one mergeable virtio-net frame
 * (§5.1.6.4.2) are read together by the driver. `elems` holds host-order
 * values. n ≤ queue size.
 */
void virtq_push_batch(struct virtq *vq, const struct virtq_used_elem *elems, unsigned int n);

/*
 * Whether the driver wants an interrupt for what was pushed since the last
 * call that returned true (§2.7.7 and §2.7.10, with or without EVENT_IDX).
 */
bool virtq_should_signal(struct virtq *vq);

/* Mark the queue broken; `why` is logged, rate limited. */
void virtq_mark_broken(struct virtq *vq, const char *why);

/* Gather `len` bytes at byte offset `off` of the readable part of a chain. */
size_t virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *dst, size_t len);

/* Scatter `len` bytes to byte offset `off` of the writable part of a chain. */
size_t virtq_chain_write(const struct virtq_chain *c, uint64_t off, const void *src, size_t len);

#endif
