/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-blk (virtio 1.2 §5.2) over a raw image: what the caller hands the
 * model when it creates one. The caller opens the image (or block device)
 * and keeps ownership of the descriptor; the model only reads, writes,
 * fdatasyncs and fallocates on it (itself or through an io_uring that may do
 * nothing else), and never past the capacity it computed at init.
 */
#ifndef VPS_VMM_VIRTIO_BLK_H
#define VPS_VMM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#define VIRTIO_BLK_SERIAL_LEN 20 /* §5.2.6: GET_ID returns at most 20 bytes */

struct virtio_blk_params {
	int fd; /* raw image, opened O_RDWR (or O_RDONLY when readonly) */
	bool readonly; /* offer VIRTIO_BLK_F_RO; every write fails with IOERR */
	const char *serial; /* GET_ID answer; NULL for none; truncated to 20 bytes */
	unsigned int num_queues; /* request queues, 1..VIRTIO_MAX_QUEUES; 0 means 1 */
	bool io_uring; /* try io_uring; without it, or when the kernel refuses, pread/pwrite */
};

/* Counters for the control socket's stats. */
struct virtio_blk_stats {
	uint64_t read_ops, read_bytes, write_ops, write_bytes, flush_ops, errors;
	uint64_t uring_ops; /* requests that went through io_uring (the rest were synchronous) */
};

struct virtio_dev;
void virtio_blk_get_stats(struct virtio_dev *vdev, struct virtio_blk_stats *s);

/* Whether this disk's requests go through io_uring (else pread/pwrite). */
bool virtio_blk_uses_io_uring(struct virtio_dev *vdev);

/*
 * Complete what io_uring finished, as the I/O thread does when the ring's
 * eventfd fires; with `wait`, until nothing is in flight. Under vdev->lock.
 * For tests, which have no I/O thread.
 */
void virtio_blk_reap(struct virtio_dev *vdev, bool wait);

/*
 * Before a snapshot, under vdev->lock: nothing left in flight, what was
 * completed into the used ring. -EBUSY when a failed submit left requests
 * only the I/O thread can send.
 */
int virtio_blk_quiesce(struct virtio_dev *vdev);

/*
 * Under vdev->lock, after virtio_blk_quiesce(): with `on`, serve no new
 * request (a notification leaves them on the avail ring) until called
 * again without; the caller kicks every queue after the release. For a
 * copy of the image made outside while the vCPUs are parked.
 */
void virtio_blk_hold(struct virtio_dev *vdev, bool on);

/*
 * The dirty-block log, for a live move that copies the disks while the guest
 * writes (docs/cluster.md): from virtio_blk_dirty_start() on, every block of
 * VIRTIO_BLK_DIRTY_BLOCK bytes that a write, discard or write-zeroes touched is
 * marked once the request reached the file (or failed, which may have written
 * part of it). A copy that reads a block after taking it from the log can
 * only be older than the file when the block is marked again. All three under
 * vdev->lock, as the requests are served.
 */
#define VIRTIO_BLK_DIRTY_SHIFT 16
#define VIRTIO_BLK_DIRTY_BLOCK \
	(1ULL << VIRTIO_BLK_DIRTY_SHIFT) /* 64 KiB: 20 KiB of log per 10 GiB */
/* Start (or restart) with every block clean. -ENOMEM. */
int virtio_blk_dirty_start(struct virtio_dev *vdev);
void virtio_blk_dirty_stop(struct virtio_dev *vdev);
/*
 * Up to `max` byte ranges {offset, length} of marked blocks, in order and
 * merged where adjacent (the last cut at the capacity), each cleared as it is
 * taken. *more: marked blocks remain past the last range; the next call goes
 * on from there. Returns how many ranges, or -ENOENT when the log is off.
 */
int virtio_blk_dirty_take(struct virtio_dev *vdev, uint64_t (*ranges)[2], unsigned int max,
			  bool *more);

/* The disk's ring, or NULL: for the test that attacks its restrictions. */
struct io_uring;
struct io_uring *virtio_blk_ring(struct virtio_dev *vdev);

#endif
