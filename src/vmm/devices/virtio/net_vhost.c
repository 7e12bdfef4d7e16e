// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio-net's vhost-net path (docs/vmm.md, "vhost-net"): the data queues
 * handed to the kernel's vhost-net (backends/vhost_net.c) and taken back,
 * the doorbells and taps out of the I/O thread's loop meanwhile, and vhost's
 * call eventfds turned into the queues' interrupts. The rest of the device
 * (the control queue, the user-space path) is net.c; both share struct net
 * (net_priv.h) and run under the device lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/devices/virtio/net_priv.h"

/* The I/O thread: vhost signalled queue q's call eventfd; interrupt the guest. */
static void net_call_ready(void *opaque, int fd, uint32_t events)
{
	struct virtio_kick *c = opaque;
	struct virtio_dev *vdev = c->vdev;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
	pthread_mutex_lock(&vdev->lock);
	if ((vdev->status & VIRTIO_STATUS_DRIVER_OK) && vdev->transport)
		vdev->transport->signal(vdev, VIRTIO_SIGNAL_QUEUE, c->q);
	pthread_mutex_unlock(&vdev->lock);
}

/* Watch (or not) the data queues' doorbells and the taps from the I/O thread. */
static void net_watch_data(struct net *n, bool on)
{
	struct virtio_dev *vdev = n->vdev;
	unsigned int k;

	for (k = 0; k < n->max_pairs; k++) {
		iothread_watch(&vdev->io, vdev->kick_fd[NET_RXQ(k)], on);
		iothread_watch(&vdev->io, vdev->kick_fd[NET_TXQ(k)], on);
		iothread_watch(&vdev->io, n->pair[k].tap_fd, on);
	}
}

void net_vhost_stop(struct net *n)
{
	struct virtio_dev *vdev = n->vdev;
	unsigned int k;

	if (!n->vhost_on)
		return;
	for (k = 0; k < n->max_pairs; k++)
		vhost_net_stop(&n->vh[k], &vdev->vqs[NET_RXQ(k)], &vdev->vqs[NET_TXQ(k)]);
	n->vhost_on = false;
	net_watch_data(n, true);
}

/*
 * Hand every pair's rings to vhost-net, once all the data queues are
 * ready. A failure (an old kernel refusing a feature, a ring it will not
 * take) leaves the user-space path for good, and says so.
 */
/*
 * What vhost signals for queue q: the irqfd of its live MSI-X vector, so the
 * kernel interrupts the guest with no thread of ours woken, as QEMU does;
 * else (INTx, a masked or unrouted vector) our call eventfd, which the I/O
 * thread turns into the interrupt. A vector masked or moved after this
 * keeps its irqfd: KVM follows a moved message (same GSI, new route), and
 * a masked one is delivered rather than held pending (a guest that masks a
 * queue's vector while it runs gets an interrupt early; nothing else).
 */
static int net_call_fd(struct net *n, unsigned int q)
{
	struct virtio_dev *vdev = n->vdev;
	int fd = vdev->transport && vdev->transport->queue_irqfd ?
			 vdev->transport->queue_irqfd(vdev, q) :
			 -1;

	return fd >= 0 ? fd : n->call_fd[q];
}

void net_vhost_start(struct net *n)
{
	struct virtio_dev *vdev = n->vdev;
	unsigned int k, q, direct = 0;
	uint64_t one = 1;
	int ret = 0;

	for (q = 0; q < 2 * n->max_pairs; q++)
		if (!vdev->vqs[q].ready || vdev->vqs[q].broken)
			return; /* not yet: the user-space path serves what comes meanwhile */
	net_sync_tap(n); /* the tap's offloads, which vhost leaves to us */
	for (k = 0; k < n->max_pairs && ret == 0; k++) {
		int kick[2] = { vdev->kick_fd[NET_RXQ(k)], vdev->kick_fd[NET_TXQ(k)] };
		int call[2];

		for (q = 0; q < 2; q++) {
			call[q] = net_call_fd(n, 2 * k + q);
			direct += call[q] != n->call_fd[2 * k + q];
		}
		ret = vhost_net_start(&n->vh[k], &vdev->vqs[NET_RXQ(k)], &vdev->vqs[NET_TXQ(k)],
				      kick, call, n->pair[k].tap_fd, vdev->guest_features);
	}
	if (ret < 0) {
		while (k--)
			vhost_net_stop(&n->vh[k], &vdev->vqs[NET_RXQ(k)], &vdev->vqs[NET_TXQ(k)]);
		pr_warn("virtio-net: vhost-net refused the rings (%s): user-space path from now on",
			strerror(-ret));
		n->vhost = false;
		n->stats.vhost = false;
		return;
	}
	n->vhost_on = true;
	n->stats.vhost_starts++;
	pr_info("virtio-net: rings handed to vhost-net; %u of %u queues interrupt by irqfd", direct,
		2 * n->max_pairs);
	net_watch_data(n, false);
	/* what the driver made available before the kernel watched its doorbells */
	for (q = 0; q < 2 * n->max_pairs; q++)
		if (write(vdev->kick_fd[q], &one, sizeof(one)) < 0)
			pr_ratelimited(LOG_WARN, "virtio-net: kick vhost queue %u: %s", q,
				       strerror(errno));
}

/*
 * Before the jail: a /dev/vhost-net per pair, owned, with guest memory, and
 * a call eventfd per data queue. No vhost-net on this host (ENOENT) is not
 * an error: the user-space path runs and the start line says so.
 */
int net_vhost_open(struct net *n, unsigned int pairs)
{
	struct virtio_dev *vdev = n->vdev;
	struct err *err = NULL;
	unsigned int k, q;
	int ret;

	for (k = 0; k < pairs; k++) {
		ret = vhost_net_open(&n->vh[k], vdev->mem, &err);
		if (ret == -ENOENT) {
			pr_info("virtio-net: no /dev/vhost-net on this host: user-space path");
			n->stats.vhost_missing = true;
			return 0;
		}
		if (ret < 0) {
			pr_warn("virtio-net: %s: user-space path", err_msg(err));
			err_free(&err);
			return 0;
		}
	}
	for (q = 0; q < 2 * pairs; q++) {
		n->call[q] = (struct virtio_kick){ vdev, q };
		n->call_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (n->call_fd[q] < 0)
			return -errno;
		ret = iothread_add(&vdev->io, n->call_fd[q], EPOLLIN, net_call_ready, &n->call[q]);
		if (ret < 0)
			return ret;
	}
	n->vhost = n->stats.vhost = true;
	return 0;
}

void net_vhost_close(struct net *n)
{
	unsigned int k, q;

	for (k = 0; k < VIRTIO_NET_MAX_PAIRS; k++)
		vhost_net_close(&n->vh[k]);
	for (q = 0; q < 2 * VIRTIO_NET_MAX_PAIRS; q++)
		if (n->call_fd[q] >= 0)
			close(n->call_fd[q]);
}
