// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio-net (virtio 1.2 §5.1) over a tap: queue 0 receives, queue 1
 * transmits. No offloads and no mergeable buffers are offered, so each
 * frame fills one chain that begins with the 12-byte header.
 *
 * Transmit runs on the vCPU that notified. Receive runs on the device's own
 * thread, which waits for the tap to be readable only while the guest has
 * posted buffers; a notify on the receive queue wakes it when it ran dry.
 * Both hold the device lock while they touch a queue (see virtio.h).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/jail.h"
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
	int wake_fd; /* eventfd: buffers posted, or stop */
	pthread_t thread;
	bool started; /* virtio_net_start: after the monitor's jail, so the thread narrows itself */
	bool stop;
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
 * Move frames from the tap into posted buffers, with the lock held.
 * Returns true when the guest ran out of buffers (wait for a notify).
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

static void *net_rx_thread(void *arg)
{
	struct net *n = arg;
	bool wait_buffers = true;

	if (jail_thread(JAIL_IO) < 0)
		return NULL;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = n->wake_fd, .events = POLLIN },
			{ .fd = wait_buffers ? -1 : n->tap_fd, .events = POLLIN },
		};
		uint64_t v;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			return NULL;
		if (pfd[0].revents) {
			if (read(n->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				return NULL;
			wait_buffers = false;
		}
		pthread_mutex_lock(&n->vdev->lock);
		if (n->stop) {
			pthread_mutex_unlock(&n->vdev->lock);
			return NULL;
		}
		if (!n->vdev->vqs[NET_RXQ].ready || n->vdev->vqs[NET_RXQ].broken)
			wait_buffers = true;
		else
			wait_buffers = net_rx_locked(n);
		pthread_mutex_unlock(&n->vdev->lock);
	}
}

static void net_wake(struct net *n)
{
	uint64_t one = 1;

	if (write(n->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_ratelimited(LOG_WARN, "virtio-net: wake receive thread: %m");
}

static void net_notify(struct virtio_dev *vdev, unsigned int q)
{
	if (q == NET_TXQ)
		net_tx(vdev);
	else if (q == NET_RXQ)
		net_wake(vdev->priv);
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
	n->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->wake_fd < 0) {
		ret = -errno;
		free(n);
		return ret;
	}
	memcpy(vdev->config + NET_CFG_MAC, p->mac, 6);
	virtio_config_put16(vdev, NET_CFG_STATUS, VIRTIO_NET_S_LINK_UP);
	vdev->priv = n;
	return 0;
}

int virtio_net_start(struct virtio_dev *vdev)
{
	struct net *n = vdev->priv;
	int ret = pthread_create(&n->thread, NULL, net_rx_thread, n);

	if (ret)
		return -ret;
	n->started = true;
	return 0;
}

static void net_uninit(struct virtio_dev *vdev)
{
	struct net *n = vdev->priv;

	if (!n)
		return;
	pthread_mutex_lock(&vdev->lock);
	n->stop = true;
	pthread_mutex_unlock(&vdev->lock);
	net_wake(n);
	if (n->started)
		pthread_join(n->thread, NULL);
	close(n->wake_fd);
	free(n);
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
