/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The virtio device targets' driver: each input starts with a small header
 * that picks the features the driver accepts, the queue size and which
 * queues it notifies, in order; the rest of the input is the guest RAM
 * image (descriptor tables, rings and buffers all come from the fuzzer).
 *
 * Header: u8 flags (bit 0: accept EVENT_IDX, bit 1: accept INDIRECT_DESC,
 * bits 2-3: queue size 2 << n), u32 mask over the device's low feature
 * bits, u8 number of notifies (n % 8 + 1), that many u8 queue indexes.
 * Queue q's rings: descriptors at q * 0x400, driver area at + 0x100,
 * device area at + 0x200 (tests/fuzz/mkseeds writes seeds in this layout).
 */
#ifndef VPS_TESTS_FUZZ_VDEV_H
#define VPS_TESTS_FUZZ_VDEV_H

#include "fuzz.h"
#include "vmm/devices/virtio/virtio.h"

#define FUZZ_QUEUE_STRIDE 0x400
#define FUZZ_MAX_NOTIFY 8

struct fuzz_vdev_run {
	unsigned int notify[FUZZ_MAX_NOTIFY]; /* queue indexes, < num_queues */
	unsigned int nr_notify;
};

/* A transport that counts signals and nothing else. */
extern const struct virtio_transport_ops fuzz_transport;

/*
 * Reset the device and guest RAM, take the header from `in`, negotiate, lay
 * the queues out, copy the rest of `in` into RAM and enable the queues.
 * All three calls here want vdev->lock held, as the transport holds it.
 */
void fuzz_vdev_start(struct virtio_dev *vdev, struct fuzz_in *in, struct fuzz_vdev_run *run);

/* Notify the queues the header named, in order (the device's own notify). */
void fuzz_vdev_notify_all(struct virtio_dev *vdev, const struct fuzz_vdev_run *run);

/* Reset the device: no queue stays enabled on RAM the next input rewrites. */
void fuzz_vdev_stop(struct virtio_dev *vdev);

#endif
