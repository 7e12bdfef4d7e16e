/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-net's state, shared by its two files: net.c (the device, the
 * user-space path, the control queue) and net_vhost.c (the vhost-net path).
 * Not for other code: they use net.h.
 */
#ifndef VPS_VMM_VIRTIO_NET_PRIV_H
#define VPS_VMM_VIRTIO_NET_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/backends/vhost_net.h"
#include "vmm/devices/virtio/net.h"
#include "vmm/devices/virtio/virtio.h"

/* Queue pair k: receive 2k, transmit 2k+1; the control queue after the last pair. */
#define NET_RXQ(k) (2 * (k))
#define NET_TXQ(k) (2 * (k) + 1)
#define NET_QUEUE_SIZE 256
#define NET_HDR_NUM_BUFFERS 10 /* offset of num_buffers in the header */

/* A received frame takes at most this many buffers and segments. */
#define NET_RX_MAX_CHAINS 64
#define NET_RX_MAX_IOV 256
#define NET_TX_MAX_IOV (VIRTQ_MAX_IOV + 1)

#define VIRTIO_NET_S_LINK_UP 1

/* §5.1.4 config layout */
#define NET_CFG_MAC 0
#define NET_CFG_STATUS 6
#define NET_CFG_MAX_PAIRS 8

#define NET_OFFLOAD_FEATURES                                                   \
	(BIT_ULL(VIRTIO_NET_F_CSUM) | BIT_ULL(VIRTIO_NET_F_GUEST_CSUM) |       \
	 BIT_ULL(VIRTIO_NET_F_GUEST_TSO4) | BIT_ULL(VIRTIO_NET_F_GUEST_TSO6) | \
	 BIT_ULL(VIRTIO_NET_F_HOST_TSO4) | BIT_ULL(VIRTIO_NET_F_HOST_TSO6) |   \
	 BIT_ULL(VIRTIO_NET_F_MRG_RXBUF))

/* A receive buffer popped and waiting for a frame. */
struct rx_buf {
	uint16_t head;
	uint32_t bytes;
	unsigned int first_iov; /* its segments in net.rx_iov */
};

/* One queue pair's tap fd; the opaque of its handler on the I/O thread. */
struct net_pair {
	struct net *n;
	unsigned int k;
	int tap_fd;
	bool attached; /* the tap steers frames to this fd (TUNSETQUEUE) */
};

struct net {
	struct virtio_dev *vdev;
	struct net_pair pair[VIRTIO_NET_MAX_PAIRS];
	unsigned int max_pairs; /* offered; 1 offers neither MQ nor the control queue */
	unsigned int pairs; /* in use */
	struct vhost_net vh[VIRTIO_NET_MAX_PAIRS];
	bool vhost; /* /dev/vhost-net is open for every pair and has not failed */
	bool vhost_on; /* the kernel has the data queues now */
	int call_fd[2 * VIRTIO_NET_MAX_PAIRS]; /* vhost signals these for an interrupt */
	struct virtio_kick call[2 * VIRTIO_NET_MAX_PAIRS];
	struct virtio_net_stats stats;
	uint64_t tap_features; /* the guest features the tap's offloads were last set for */
	bool tap_features_set;
	bool announce; /* send a RARP at the next notification (virtio_net_announce) */
	struct virtq_chain c;
	struct iovec tx_iov[NET_TX_MAX_IOV];
	/* Receive: buffers popped for the frame being read, in pop order. */
	struct rx_buf rx[NET_RX_MAX_CHAINS];
	struct iovec rx_iov[NET_RX_MAX_IOV];
	struct virtq_used_elem rx_used[NET_RX_MAX_CHAINS];
};

/* net.c: set the tap's offloads to what the driver accepted, if they changed. */
void net_sync_tap(struct net *n);

/* net_vhost.c, all under the device lock but open and close. */
/* Before the jail: vhost-net per pair, and the call eventfds in the I/O thread's loop. */
int net_vhost_open(struct net *n, unsigned int pairs);
/* The first data-queue notification after DRIVER_OK: hand the rings to the kernel. */
void net_vhost_start(struct net *n);
/* Take them back (reset, snapshot, exit); nothing when the kernel does not have them. */
void net_vhost_stop(struct net *n);
void net_vhost_close(struct net *n);

#endif
