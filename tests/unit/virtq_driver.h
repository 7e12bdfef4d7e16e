/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The driver side of a split virtqueue, for unit tests: lays out the rings in
 * fake guest memory, builds descriptor chains (direct, indirect, or raw
 * descriptors for hostile ones), makes them available and reads the used
 * ring, as a guest driver would (virtio 1.2 §2.7.13).
 */
#ifndef VPS_TESTS_VIRTQ_DRIVER_H
#define VPS_TESTS_VIRTQ_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/mem.h"

struct vqd {
	const struct guest_mem *mem;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t size;
	uint16_t next_desc; /* descriptors are handed out in order, wrapping */
	uint16_t avail_idx;
	uint16_t last_used;
};

struct vqd_buf {
	uint64_t gpa;
	uint32_t len;
	bool write; /* device-writable */
};

/* Rings at `base` (16-byte aligned), zeroed; returns the first free byte after them. */
uint64_t vqd_init(struct vqd *d, const struct guest_mem *mem, uint64_t base, uint16_t size);

/* Write descriptor `i` raw, flags and all. */
void vqd_set_desc(struct vqd *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		  uint16_t next);

/* Chain `n` buffers in fresh descriptors; returns the head (not yet available). */
uint16_t vqd_add_chain(struct vqd *d, const struct vqd_buf *b, unsigned int n);

/* Write an indirect table of `n` buffers at table_gpa and one descriptor for it. */
uint16_t vqd_add_indirect(struct vqd *d, uint64_t table_gpa, const struct vqd_buf *b,
			  unsigned int n);

/* Put `head` on the avail ring and publish the new index. */
void vqd_publish(struct vqd *d, uint16_t head);

/* Overwrite avail->idx (for a hostile jump). */
void vqd_set_avail_idx(struct vqd *d, uint16_t idx);
void vqd_set_avail_flags(struct vqd *d, uint16_t flags);
void vqd_set_used_event(struct vqd *d, uint16_t v);
uint16_t vqd_avail_event(const struct vqd *d);

/* Take the next used element; returns false when there is none. */
bool vqd_get_used(struct vqd *d, uint32_t *id, uint32_t *len);

/* Host pointer into fake guest memory; asserts the range is RAM. */
void *vqd_ptr(const struct vqd *d, uint64_t gpa, uint64_t len);

#endif
