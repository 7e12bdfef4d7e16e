/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-net parameters (the model is net.c).
 */
#ifndef VPS_VMM_VIRTIO_NET_H
#define VPS_VMM_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

struct virtio_net_params {
	int tap_fd; /* from tap_open(): non-blocking, with the vnet header */
	uint8_t mac[6];
};

/* Counters for the control socket's stats. */
struct virtio_net_stats {
	uint64_t rx_packets, rx_bytes;
	uint64_t tx_packets, tx_bytes, tx_errors;
};

struct virtio_dev;
void virtio_net_get_stats(struct virtio_dev *vdev, struct virtio_net_stats *s);

/*
 * What the I/O thread does when the tap is readable, here and now, with vdev->lock
 * held: frames from the tap into posted buffers. For the fuzz target, which
 * drives receive without the thread. True when the guest ran out of buffers.
 */
bool virtio_net_rx_locked(struct virtio_dev *vdev);

#endif
