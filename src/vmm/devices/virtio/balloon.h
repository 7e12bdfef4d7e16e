/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-balloon parameters and the monitor's side of it (the model is
 * balloon.c): set how much memory the guest should keep, read what the guest
 * reports about its memory.
 */
#ifndef VPS_VMM_VIRTIO_BALLOON_H
#define VPS_VMM_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

struct virtio_balloon_params {
	uint64_t ram_size; /* guest RAM, bytes: the ceiling of any target */
	bool reserved; /* RAM is locked (memory `reserve`): never inflate */
};

/* The guest's own memory statistics, virtio 1.2 §5.5.6.3; -1 where not reported. */
struct virtio_balloon_stats {
	int64_t swap_in, swap_out, major_faults, minor_faults;
	int64_t free_memory, total_memory, available_memory, disk_caches;
	uint64_t actual_pages; /* pages the guest has given to the balloon */
	uint64_t target_pages; /* pages we asked for */
	uint64_t inflated_bytes; /* bytes we returned to the host (MADV_DONTNEED) */
};

struct virtio_dev;

/*
 * Leave the guest `target` bytes: the balloon grows to ram_size - target.
 * A reserved VM refuses any target below its RAM (-EPERM): its memory was
 * bought whole and is locked, so it is not reclaimed.
 */
int virtio_balloon_set_target(struct virtio_dev *vdev, uint64_t target, struct err **err);

/* The last statistics; asks the guest for fresh ones at the same time. */
void virtio_balloon_get_stats(struct virtio_dev *vdev, struct virtio_balloon_stats *s);

#endif
