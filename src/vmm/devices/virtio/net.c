// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio-net (virtio 1.2 §5.1) over a tap: queue 0 receives, queue 1
 * transmits. No offloads and no mergeable buffers are offered, so each
 * frame fills one chain that begins with the 12-byte header.
 *
 * Both directions run where the device's notifications are served (its
 * I/O thread with ioeventfd, else the vCPU that notified), and receive also
 * when the tap becomes readable: the tap is in the I/O thread's loop,
 * edge-triggered, so frames the guest has no buffers for wait in the tap
 * until its next notify on the receive queue, without the loop spinning.
 * Both hold the device lock while they touch a queue (see virtio.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/backends/tap.h"
#include "vmm/devices/virtio/net.h"
#include "vmm/devices/virtio/virtio.h"

#define NET_RXQ 0
#define NET_TXQ 1
#define NET_QUEUE_SIZE 256
#define NET_MAX_FRAME (TAP_VNET_HDR_LEN + 1514) /* no TSO: one Ethernet frame */

#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1

/* §5.1.4 config layout */
#define NET_CFG_MAC 0
#define NET_CFG_STATUS 6

struct net {
	struct virtio_dev *vdev;
	int tap_fd;
	struct virtio_net_stats stats;
	struct iovec iov[VIRTQ_MAX_IOV];
};

static unsigned int to_iovec(const struct virtq_chain *c, unsigned int first, unsigned int n,
			     struct iovec *iov)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		iov[i].iov_base = c->iov[first + i].base;
		iov[i].iov_len = c->iov[first + i].len;
	}
	return n;
}

static void net_tx(struct virtio_dev *vdev)
{
	struct net *n = vdev->priv;
	struct virtq *vq = &vdev->vqs[NET_TXQ];
	struct virtq_chain c;

	while (virtq_pop(vq, &c) == 1) {
		ssize_t w;

		if (c.out_bytes < TAP_VNET_HDR_LEN || c.out_bytes > NET_MAX_FRAME) {
			pr_ratelimited(LOG_WARN, "virtio-net: dropped a %llu-byte transmit",
				       (unsigned long long)c.out_bytes);
			n->stats.tx_errors++;
		} else {
			w = writev(n->tap_fd, n->iov, to_iovec(&c, 0, c.nr_out, n->iov));
			if (w < 0) {
				n->stats.tx_errors++; /* a full or downed tap drops, as a wire would */
			} else {
				n->stats.tx_packets++;
				n->stats.tx_bytes += c.out_bytes - TAP_VNET_HDR_LEN;
			}
		}
		virtq_push(vq, c.head, 0);
	}
}

/*
 * Move frames from the tap into posted buffers, with the lock held, until
 * the tap is empty or the guest has no buffers left. Returns true in the
 * second case (a notify on the receive queue brings us back).
 */
static bool net_rx_locked(struct net *n)
{
	struct virtio_dev *vdev = n->vdev;
	struct virtq *vq = &vdev->vqs[NET_RXQ];
	const uint16_t one = 1;
	struct virtq_chain c;
	bool pushed = false, dry = false;

	for (;;) {
		ssize_t got;
		int r = virtq_pop(vq, &c);

		if (r != 1) {
			dry = true; /* out of buffers, or the queue broke: wait either way */
			break;
		}
		if (c.in_bytes < TAP_VNET_HDR_LEN) {
			virtq_mark_broken(vq, "virtio-net: receive buffer smaller than the header");
			virtio_dev_needs_reset(vdev);
			dry = true;
			break;
		}
		got = readv(n->tap_fd, n->iov, to_iovec(&c, c.nr_out, c.nr_in, n->iov));
		if (got < 0) {
			/* Nothing to read: give the chain back unused for next time. */
			virtq_unpop(vq);
			break;
		}
		/* §5.1.6.4: without MRG_RXBUF the device sets num_buffers to 1. */
		virtq_chain_write(&c, 10, &one, sizeof(one));
		virtq_push(vq, c.head, got);
		pushed = true;
		n->stats.rx_packets++;
		n->stats.rx_bytes += got > TAP_VNET_HDR_LEN ? got - TAP_VNET_HDR_LEN : 0;
	}
	if (pushed)
		virtio_dev_queue_done(vdev, NET_RXQ);
	return dry;
}

bool virtio_net_rx_locked(struct virtio_dev *vdev)
{
	return net_rx_locked(vdev->priv);
}

/* The I/O thread: the tap has a new frame. */
static void net_tap_ready(void *opaque, int fd, uint32_t events)
{
	struct net *n = opaque;
	struct virtq *vq = &n->vdev->vqs[NET_RXQ];

	pthread_mutex_lock(&n->vdev->lock);
	if ((n->vdev->status & VIRTIO_STATUS_DRIVER_OK) && vq->ready && !vq->broken)
		net_rx_locked(n);
	pthread_mutex_unlock(&n->vdev->lock);
}

static void net_notify(struct virtio_dev *vdev, unsigned int q)
{
	if (q == NET_TXQ)
		net_tx(vdev);
	else if (q == NET_RXQ)
		net_rx_locked(vdev->priv); /* buffers posted: what waits in the tap fits now */
}

static int net_init(struct virtio_dev *vdev, const void *params)
{
	const struct virtio_net_params *p = params;
	struct net *n = calloc(1, sizeof(*n));
	int ret;

	if (!n)
		return -ENOMEM;
	n->vdev = vdev;
	n->tap_fd = p->tap_fd;
	ret = iothread_add(&vdev->io, n->tap_fd, EPOLLIN | EPOLLET, net_tap_ready, n);
	if (ret < 0) {
		free(n);
		return ret;
	}
	memcpy(vdev->config + NET_CFG_MAC, p->mac, 6);
	virtio_config_put16(vdev, NET_CFG_STATUS, VIRTIO_NET_S_LINK_UP);
	vdev->priv = n;
	return 0;
}

static void net_uninit(struct virtio_dev *vdev)
{
	free(vdev->priv); /* the I/O thread is stopped already */
	vdev->priv = NULL;
}

void virtio_net_get_stats(struct virtio_dev *vdev, struct virtio_net_stats *s)
{
	struct net *n = vdev->priv;

	pthread_mutex_lock(&vdev->lock);
	*s = n->stats;
	pthread_mutex_unlock(&vdev->lock);
}

const struct virtio_dev_ops virtio_net_ops = {
	.name = "net",
	.device_id = VIRTIO_ID_NET,
	.pci_class = 0x020000, /* network controller, Ethernet */
	.features = BIT_ULL(VIRTIO_NET_F_MAC) | BIT_ULL(VIRTIO_NET_F_STATUS),
	.config_size = 8,
	.num_queues = 2,
	.queue_max_size = NET_QUEUE_SIZE,
	.init = net_init,
	.uninit = net_uninit,
	.notify = net_notify,
};
