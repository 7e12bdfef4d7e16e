// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio-net (virtio 1.2 §5.1) over a tap: queue 2k receives and 2k+1
 * transmits for queue pair k, and with several pairs (VIRTIO_NET_F_MQ) a
 * control queue follows them (§5.1.2). Each pair has its own fd on a
 * multi-queue tap (IFF_MULTI_QUEUE): the host's stack spreads received
 * flows over the fds that are attached, and the pairs the driver does not
 * use (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, §5.1.6.5.5; one after a reset) have
 * their fd detached (TUNSETQUEUE), so no frame waits where nobody reads.
 * Every frame carries the 12-byte struct virtio_net_hdr, which
 * the tap (IFF_VNET_HDR, TUNSETVNETHDRSZ 12) reads and writes itself, so
 * frames move between tap and guest buffers with one readv/writev on the
 * chain's own segments and no copy of the payload.
 *
 * Offloads (docs/vmm.md, "virtio-net offloads"): the device offers CSUM and
 * HOST_TSO4/6 (the guest hands us frames of up to 64 KiB with a partial
 * checksum; the host's stack segments and checksums them, or never does
 * when they stay on the host), GUEST_CSUM and GUEST_TSO4/6 (the tap hands
 * us the same, as TUNSETOFFLOAD allows, set to what the driver accepted),
 * and MRG_RXBUF (one received frame spans as many posted buffers as it
 * needs; the driver posts page-sized ones, not 64 KiB ones). The transmit
 * header is copied out of the chain (12 bytes), checked and written from
 * that copy, so the guest cannot change it between check and use.
 *
 * Both directions run where the device's notifications are served (its
 * I/O thread with ioeventfd, else the vCPU that notified), and receive also
 * when the tap becomes readable: the tap is in the I/O thread's loop,
 * edge-triggered, so frames the guest has no buffers for wait in the tap
 * until its next notify on the receive queue, without the loop spinning.
 * Both hold the device lock while they touch a queue (see virtio.h).
 *
 * With vhost-net (docs/vmm.md, "vhost-net"), the kernel serves the data
 * queues instead: at the first notification after DRIVER_OK with every data
 * queue ready, each pair's rings go to its /dev/vhost-net, the doorbells and
 * taps leave the I/O thread's loop, and the thread only turns vhost's call
 * eventfds into interrupts (net_vhost.c). The control queue stays here. A
 * reset or a snapshot takes the rings back, and the next notification hands
 * them over again.
 */
#include <endian.h>
#include <errno.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/backends/tap.h"
#include "vmm/devices/virtio/net.h"
#include "vmm/devices/virtio/net_priv.h"
#include "vmm/devices/virtio/virtio.h"

const char *virtio_net_tx_hdr_check(const struct virtio_net_hdr *h, uint64_t frame_len,
				    uint64_t features)
{
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	if (frame_len < VIRTIO_NET_ETH_MIN)
		return "frame shorter than an Ethernet header";
	/* §5.1.6.2.1: DATA_VALID and RSC_INFO are not the driver's to set. */
	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return "unknown or receive-only header flags";
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!(features & BIT_ULL(VIRTIO_NET_F_CSUM)))
			return "partial checksum without VIRTIO_NET_F_CSUM";
		/* The 16-bit checksum field lies inside the frame. */
		if ((uint64_t)h->csum_start + h->csum_offset + 2 > frame_len)
			return "checksum field outside the frame";
	}
	if (h->hdr_len > frame_len)
		return "hdr_len beyond the frame";
	if (h->gso_type & VIRTIO_NET_HDR_GSO_ECN) {
		if (!(features & BIT_ULL(VIRTIO_NET_F_HOST_ECN)))
			return "ECN segmentation without VIRTIO_NET_F_HOST_ECN";
		if (gso == VIRTIO_NET_HDR_GSO_NONE)
			return "ECN bit without a segmentation type";
	}
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		if (frame_len > VIRTIO_NET_FRAME_MAX)
			return "frame longer than an Ethernet frame without segmentation";
		return NULL;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!(features & BIT_ULL(VIRTIO_NET_F_HOST_TSO4)))
			return "TCPv4 segmentation without VIRTIO_NET_F_HOST_TSO4";
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!(features & BIT_ULL(VIRTIO_NET_F_HOST_TSO6)))
			return "TCPv6 segmentation without VIRTIO_NET_F_HOST_TSO6";
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
		if (!(features & BIT_ULL(VIRTIO_NET_F_HOST_UFO)))
			return "UDP fragmentation without VIRTIO_NET_F_HOST_UFO";
		break;
	default:
		return "unknown segmentation type";
	}
	/* §5.1.6.2: a segmented frame has a partial checksum and a segment size. */
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return "segmentation without a partial checksum";
	if (h->gso_size == 0)
		return "segmentation with gso_size 0";
	if (frame_len > VIRTIO_NET_GSO_FRAME_MAX)
		return "segmented frame longer than 64 KiB";
	return NULL;
}

unsigned int virtio_net_tap_offloads(uint64_t features)
{
	unsigned int f = 0;

	/* The kernel refuses TSO without checksum offload (and so does §5.1.3.1). */
	if (!(features & BIT_ULL(VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	f |= TUN_F_CSUM;
	if (features & BIT_ULL(VIRTIO_NET_F_GUEST_TSO4))
		f |= TUN_F_TSO4;
	if (features & BIT_ULL(VIRTIO_NET_F_GUEST_TSO6))
		f |= TUN_F_TSO6;
	if ((f & (TUN_F_TSO4 | TUN_F_TSO6)) && (features & BIT_ULL(VIRTIO_NET_F_GUEST_ECN)))
		f |= TUN_F_TSO_ECN;
	return f;
}

static void hdr_from_le(struct virtio_net_hdr *h)
{
	h->hdr_len = le16toh(h->hdr_len);
	h->gso_size = le16toh(h->gso_size);
	h->csum_start = le16toh(h->csum_start);
	h->csum_offset = le16toh(h->csum_offset);
	h->num_buffers = le16toh(h->num_buffers);
}

/*
 * The iovecs for a transmit: the checked copy of the header, then the
 * chain's readable segments from byte TAP_VNET_HDR_LEN on.
 */
static unsigned int tx_iovec(struct net *n, const struct virtq_chain *c,
			     const struct virtio_net_hdr *le_hdr)
{
	uint64_t skip = TAP_VNET_HDR_LEN;
	unsigned int i, k = 1;

	n->tx_iov[0] = (struct iovec){ (void *)le_hdr, TAP_VNET_HDR_LEN };
	for (i = 0; i < c->nr_out; i++) {
		const struct virtq_iov *v = &c->iov[i];

		if (skip >= v->len) {
			skip -= v->len;
			continue;
		}
		n->tx_iov[k++] = (struct iovec){ (uint8_t *)v->base + skip, v->len - skip };
		skip = 0;
	}
	return k;
}

static void net_tx(struct virtio_dev *vdev, unsigned int k)
{
	struct net *n = vdev->priv;
	struct virtq *vq = &vdev->vqs[NET_TXQ(k)];
	struct virtq_chain *c = &n->c;

	while (virtq_pop(vq, c) == 1) {
		struct virtio_net_hdr h, le;
		const char *why = NULL;
		ssize_t w;

		if (c->out_bytes < TAP_VNET_HDR_LEN) {
			why = "chain shorter than the header";
		} else {
			virtq_chain_read(c, 0, &le, sizeof(le));
			h = le;
			hdr_from_le(&h);
			why = virtio_net_tx_hdr_check(&h, c->out_bytes - TAP_VNET_HDR_LEN,
						      vdev->guest_features);
		}
		if (why) {
			pr_ratelimited(LOG_WARN, "virtio-net: dropped a %llu-byte transmit: %s",
				       (unsigned long long)c->out_bytes, why);
			n->stats.tx_errors++;
			n->stats.tx_bad_hdr++;
		} else {
			le.num_buffers = 0; /* §5.1.6.2: not the driver's field on transmit */
			w = writev(n->pair[k].tap_fd, n->tx_iov, tx_iovec(n, c, &le));
			if (w < 0) {
				n->stats.tx_errors++; /* a full or downed tap drops, as a wire would */
			} else {
				n->stats.tx_packets++;
				n->stats.pair_tx[k]++;
				n->stats.tx_bytes += c->out_bytes - TAP_VNET_HDR_LEN;
				if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE)
					n->stats.tx_gso++;
			}
		}
		virtq_push(vq, c->head, 0);
	}
}

/*
 * Tell the tap which offloads it may hand us: what the driver accepted.
 * Done lazily before receiving, so a reset and a new negotiation are
 * followed too. A refusal (an old kernel, a socket in the fuzz target)
 * leaves the tap sending plain frames, which every driver takes.
 */
void net_sync_tap(struct net *n)
{
	uint64_t g = n->vdev->guest_features;
	unsigned int k;

	if (n->tap_features_set && n->tap_features == g)
		return;
	n->tap_features = g;
	n->tap_features_set = true;
	n->stats.offloads = g & NET_OFFLOAD_FEATURES;
	/* The offloads are the tap's, but each queue fd sets them (QEMU does all too). */
	for (k = 0; k < n->max_pairs; k++)
		if (ioctl(n->pair[k].tap_fd, TUNSETOFFLOAD, virtio_net_tap_offloads(g)) < 0 &&
		    virtio_net_tap_offloads(g))
			pr_ratelimited(LOG_WARN, "virtio-net: TUNSETOFFLOAD %#x: %s",
				       virtio_net_tap_offloads(g), strerror(errno));
}

/* Give back, unused, the last `k` popped receive buffers. */
static void rx_unpop(struct virtq *vq, unsigned int k)
{
	while (k--)
		virtq_unpop(vq);
}

/* Write num_buffers into the header at the start of receive buffer 0. */
static void rx_set_num_buffers(struct net *n, unsigned int nr, unsigned int nr_iov, uint16_t v)
{
	struct virtq_chain *first = &n->c;
	unsigned int i, end = nr > 1 ? n->rx[1].first_iov : nr_iov;
	uint16_t le = htole16(v);

	first->nr_out = 0;
	first->nr_in = end;
	for (i = 0; i < end; i++)
		first->iov[i] =
			(struct virtq_iov){ n->rx_iov[i].iov_base, (uint32_t)n->rx_iov[i].iov_len };
	virtq_chain_write(first, NET_HDR_NUM_BUFFERS, &le, sizeof(le));
}

/*
 * Move frames from the tap into posted buffers, with the lock held, until
 * the tap is empty or the guest has no buffers left. Returns true in the
 * second case (a notify on the receive queue brings us back).
 *
 * Buffers are popped until they hold the largest frame the tap may hand
 * us (one buffer without MRG_RXBUF: the driver sized it), read into with
 * one readv, and the ones the frame filled are pushed together; the rest
 * stay for the next frame, and go back to the ring when the tap is empty.
 */
static bool net_rx_locked(struct net *n, unsigned int k)
{
	struct virtio_dev *vdev = n->vdev;
	struct virtq *vq = &vdev->vqs[NET_RXQ(k)];
	int tap_fd = n->pair[k].tap_fd;
	uint64_t g = vdev->guest_features;
	bool mrg = g & BIT_ULL(VIRTIO_NET_F_MRG_RXBUF);
	uint64_t need = TAP_VNET_HDR_LEN + (virtio_net_tap_offloads(g) & (TUN_F_TSO4 | TUN_F_TSO6) ?
						    VIRTIO_NET_GSO_FRAME_MAX :
						    VIRTIO_NET_FRAME_MAX);
	unsigned int nr = 0, nr_iov = 0;
	uint64_t have = 0;
	unsigned int errs = 0;
	bool pushed = false, dry = false;

	net_sync_tap(n);
	for (;;) {
		unsigned int i, used, shift;
		bool empty = false, full = false;
		uint64_t left;
		ssize_t got;

		/* Enough buffers for the largest frame (one without MRG_RXBUF). */
		while (mrg ? have < need && nr < NET_RX_MAX_CHAINS : nr == 0) {
			struct virtq_chain *c = &n->c;
			int r = virtq_pop(vq, c);

			if (r != 1) {
				empty = true; /* out of buffers, or the queue broke */
				break;
			}
			if (c->in_bytes < TAP_VNET_HDR_LEN) {
				virtq_mark_broken(
					vq, "virtio-net: receive buffer smaller than the header");
				virtio_dev_needs_reset(vdev);
				empty = true;
				break;
			}
			if (nr_iov + c->nr_in > NET_RX_MAX_IOV) {
				virtq_unpop(vq); /* too many segments now: for the next frame */
				full = true;
				break;
			}
			n->rx[nr] = (struct rx_buf){ c->head, (uint32_t)c->in_bytes, nr_iov };
			for (i = 0; i < c->nr_in; i++)
				n->rx_iov[nr_iov++] = (struct iovec){ c->iov[c->nr_out + i].base,
								      c->iov[c->nr_out + i].len };
			nr++;
			have += c->in_bytes;
		}
		/*
		 * Wait for buffers rather than have the tap drop a frame too
		 * long for these, unless these are all the ring can hold (a
		 * small ring would wait for ever).
		 */
		if (vq->broken || nr == 0 ||
		    (empty && mrg && have < need && !full && nr < vq->size)) {
			dry = true;
			break;
		}
		got = readv(tap_fd, n->rx_iov, (int)nr_iov);
		if (got < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			/*
			 * The tap dropped one frame (too long for these buffers):
			 * go on, unless the tap keeps failing (it went away).
			 */
			n->stats.rx_errors++;
			if (++errs > 16)
				break;
			continue;
		}
		if ((uint64_t)got > have)
			got = (ssize_t)have;
		/* The buffers the frame filled, in order; each but the last full. */
		left = (uint64_t)got;
		used = 0;
		do {
			uint32_t len = left < n->rx[used].bytes ? (uint32_t)left :
								  n->rx[used].bytes;

			n->rx_used[used] = (struct virtq_used_elem){ n->rx[used].head, len };
			left -= len;
			used++;
		} while (left && used < nr);
		/* §5.1.6.4: the tap leaves num_buffers alone; it is ours to fill. */
		rx_set_num_buffers(n, nr, nr_iov, (uint16_t)used);
		virtq_push_batch(vq, n->rx_used, used);
		pushed = true;
		n->stats.rx_packets++;
		n->stats.pair_rx[k]++;
		n->stats.rx_bytes += got > TAP_VNET_HDR_LEN ? got - TAP_VNET_HDR_LEN : 0;
		if (used > 1)
			n->stats.rx_merged++;
		/* The buffers left over move to the front for the next frame. */
		shift = used < nr ? n->rx[used].first_iov : nr_iov;
		memmove(n->rx_iov, n->rx_iov + shift, (nr_iov - shift) * sizeof(n->rx_iov[0]));
		memmove(n->rx, n->rx + used, (nr - used) * sizeof(n->rx[0]));
		nr_iov -= shift;
		nr -= used;
		have = 0;
		for (i = 0; i < nr; i++) {
			n->rx[i].first_iov -= shift;
			have += n->rx[i].bytes;
		}
	}
	rx_unpop(vq, nr);
	if (pushed)
		virtio_dev_queue_done(vdev, NET_RXQ(k));
	return dry;
}

bool virtio_net_rx_locked(struct virtio_dev *vdev, unsigned int k)
{
	struct net *n = vdev->priv;

	return k < n->pairs ? net_rx_locked(n, k) : false;
}

/* The I/O thread: pair k's tap fd has a new frame. */
static void net_tap_ready(void *opaque, int fd, uint32_t events)
{
	struct net_pair *p = opaque;
	struct net *n = p->n;
	struct virtq *vq = &n->vdev->vqs[NET_RXQ(p->k)];

	pthread_mutex_lock(&n->vdev->lock);
	if ((n->vdev->status & VIRTIO_STATUS_DRIVER_OK) && vq->ready && !vq->broken &&
	    p->k < n->pairs && !n->vhost_on)
		net_rx_locked(n, p->k);
	pthread_mutex_unlock(&n->vdev->lock);
}

/*
 * Attach the first `pairs` queue fds to the tap and detach the others, so
 * the tap hands frames only to pairs the driver reads. A refusal (a tap
 * that went away, a socket in the tests) is logged; frames then still
 * come, on fewer queues or on one the driver does not read.
 */
static void net_set_pairs(struct net *n, unsigned int pairs)
{
	unsigned int k;

	n->pairs = n->stats.pairs = pairs;
	if (pairs > n->stats.peak_pairs)
		n->stats.peak_pairs = pairs;
	if (n->max_pairs == 1)
		return; /* a single-queue tap has nothing to attach or detach */
	for (k = 0; k < n->max_pairs; k++) {
		struct net_pair *p = &n->pair[k];
		bool want = k < pairs;
		struct ifreq ifr = { .ifr_flags = want ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE };

		if (p->attached == want)
			continue;
		if (ioctl(p->tap_fd, TUNSETQUEUE, &ifr) < 0) {
			pr_ratelimited(LOG_WARN, "virtio-net: %s tap queue %u: %s",
				       want ? "attach" : "detach", k, strerror(errno));
			continue;
		}
		p->attached = want;
	}
}

/* The control queue's index for the features the driver accepted (§5.1.2). */
static unsigned int net_ctrl_queue(const struct net *n, uint64_t g)
{
	if (!(g & BIT_ULL(VIRTIO_NET_F_CTRL_VQ)))
		return VIRTIO_MAX_QUEUES; /* none */
	return g & BIT_ULL(VIRTIO_NET_F_MQ) ? 2 * n->max_pairs : 2;
}

uint8_t virtio_net_ctrl_check(const uint8_t *cmd, uint64_t len, uint64_t features,
			      unsigned int max_pairs, unsigned int *pairs, const char **why)
{
	uint16_t v;

	*why = NULL;
	if (len < 2) {
		*why = "command shorter than its class and code";
		return VIRTIO_NET_ERR;
	}
	if (cmd[0] != VIRTIO_NET_CTRL_MQ || cmd[1] != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET) {
		*why = "unknown command class or code";
		return VIRTIO_NET_ERR;
	}
	if (!(features & BIT_ULL(VIRTIO_NET_F_MQ))) {
		*why = "VQ_PAIRS_SET without VIRTIO_NET_F_MQ";
		return VIRTIO_NET_ERR;
	}
	if (len != 4) {
		*why = "VQ_PAIRS_SET whose data is not two bytes";
		return VIRTIO_NET_ERR;
	}
	v = (uint16_t)(cmd[2] | cmd[3] << 8);
	/* §5.1.6.5.5.2: 1..max_virtqueue_pairs, else the device acks ERR */
	if (v < 1 || v > max_pairs) {
		*why = "queue pair count outside 1..max_virtqueue_pairs";
		return VIRTIO_NET_ERR;
	}
	*pairs = v;
	return VIRTIO_NET_OK;
}

/*
 * The control queue: each chain is one command, acked with one byte at the
 * start of its writable part. A chain with no writable byte cannot be
 * acked: it goes back unexecuted with nothing written, as QEMU does.
 */
static void net_ctrl(struct net *n, unsigned int q)
{
	struct virtio_dev *vdev = n->vdev;
	struct virtq *vq = &vdev->vqs[q];
	struct virtq_chain *c = &n->c;

	while (virtq_pop(vq, c) == 1) {
		uint8_t cmd[4] = { 0 }, ack;
		unsigned int pairs = 0;
		const char *why = "no writable byte for the ack";

		virtq_chain_read(c, 0, cmd,
				 c->out_bytes < sizeof(cmd) ? c->out_bytes : sizeof(cmd));
		if (c->in_bytes < 1) {
			ack = VIRTIO_NET_ERR;
		} else {
			ack = virtio_net_ctrl_check(cmd, c->out_bytes, vdev->guest_features,
						    n->max_pairs, &pairs, &why);
			virtq_chain_write(c, 0, &ack, 1);
		}
		if (ack == VIRTIO_NET_OK) {
			n->stats.ctrl_ok++;
			net_set_pairs(n, pairs);
		} else {
			n->stats.ctrl_errors++;
			pr_ratelimited(LOG_WARN, "virtio-net: control command refused: %s", why);
		}
		virtq_push(vq, c->head, c->in_bytes < 1 ? 0 : 1);
	}
}

/*
 * A RARP request from the guest's MAC to everyone (RFC 903: hardware type
 * Ethernet, protocol IPv4, sender and target hardware address the MAC, no
 * protocol addresses), padded to Ethernet's 60 bytes, behind a plain vnet
 * header. Bridges learn the MAC's new port from its source address; the
 * guest's own stack never sees it.
 */
static void net_send_announce(struct net *n)
{
	uint8_t frame[TAP_VNET_HDR_LEN + 60] = { 0 };
	uint8_t *e = frame + TAP_VNET_HDR_LEN, *a = e + 14;
	const uint8_t *mac = n->vdev->config + NET_CFG_MAC;

	memset(e, 0xff, 6);
	memcpy(e + 6, mac, 6);
	e[12] = 0x80, e[13] = 0x35; /* ETH_P_RARP */
	a[1] = 1; /* ARPHRD_ETHER */
	a[2] = 0x08; /* ETH_P_IP */
	a[4] = 6, a[5] = 4;
	a[7] = 3; /* ARPOP_RREQUEST */
	memcpy(a + 8, mac, 6);
	memcpy(a + 18, mac, 6);
	if (write(n->pair[0].tap_fd, frame, sizeof(frame)) == (ssize_t)sizeof(frame))
		n->stats.announces++;
	n->announce = false;
}

void virtio_net_announce(struct virtio_dev *vdev)
{
	struct net *n = vdev->priv;

	pthread_mutex_lock(&vdev->lock);
	n->announce = true;
	pthread_mutex_unlock(&vdev->lock);
}

static void net_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct net *n = vdev->priv;
	unsigned int k = q / 2;

	if (n->announce)
		net_send_announce(n);
	if (q == net_ctrl_queue(n, vdev->guest_features)) {
		net_ctrl(n, q);
		return;
	}
	/* vhost-net needs KVM to signal its doorbells: not on the exit path */
	if (n->vhost && !vdev->kick_async) {
		pr_warn("virtio-net: no ioeventfd for vhost-net's doorbells: user-space path");
		n->vhost = n->stats.vhost = false;
	}
	if (n->vhost && !n->vhost_on)
		net_vhost_start(n);
	if (n->vhost_on)
		return; /* a doorbell read before it left the loop: the kernel's now */
	if (k >= n->max_pairs)
		return; /* a queue past the pairs that is not the control queue */
	else if (q == NET_TXQ(k))
		net_tx(vdev, k); /* a pair not in use still transmits; the tap may refuse */
	else if (k < n->pairs)
		net_rx_locked(n, k); /* buffers posted: what waits in the tap fits now */
}

/* §5.1.6.5.5: after a reset only the first pair is used. */
static void net_reset(struct virtio_dev *vdev)
{
	net_vhost_stop(vdev->priv);
	net_set_pairs(vdev->priv, 1);
}

static void net_free(struct net *n)
{
	net_vhost_close(n);
	free(n);
}

static int net_init(struct virtio_dev *vdev, const void *params)
{
	const struct virtio_net_params *p = params;
	unsigned int k, q, pairs = p->pairs ? p->pairs : 1;
	struct net *n;
	int ret;

	if (pairs > VIRTIO_NET_MAX_PAIRS)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->vdev = vdev;
	n->max_pairs = n->stats.max_pairs = pairs;
	for (q = 0; q < 2 * VIRTIO_NET_MAX_PAIRS; q++)
		n->call_fd[q] = -1;
	for (k = 0; k < VIRTIO_NET_MAX_PAIRS; k++)
		n->vh[k].fd = -1;
	if (p->vhost) {
		ret = net_vhost_open(n, pairs);
		if (ret < 0) {
			net_free(n);
			return ret;
		}
	}
	for (k = 0; k < pairs; k++) {
		n->pair[k] = (struct net_pair){ n, k, p->tap_fd[k], true };
		ret = iothread_add(&vdev->io, p->tap_fd[k], EPOLLIN | EPOLLET, net_tap_ready,
				   &n->pair[k]);
		if (ret < 0) {
			net_free(n);
			return ret;
		}
	}
	if (!p->offloads)
		vdev->host_features &= ~NET_OFFLOAD_FEATURES; /* the old path, for comparison */
	if (pairs == 1) {
		/* one pair: the layout before MQ, two queues and no control queue */
		vdev->host_features &= ~(BIT_ULL(VIRTIO_NET_F_MQ) | BIT_ULL(VIRTIO_NET_F_CTRL_VQ));
		vdev->num_queues = 2;
	} else {
		vdev->num_queues = 2 * pairs + 1;
	}
	memcpy(vdev->config + NET_CFG_MAC, p->mac, 6);
	virtio_config_put16(vdev, NET_CFG_STATUS, VIRTIO_NET_S_LINK_UP);
	virtio_config_put16(vdev, NET_CFG_MAX_PAIRS, (uint16_t)pairs);
	vdev->priv = n;
	net_set_pairs(n, 1); /* until the driver asks for more */
	return 0;
}

static void net_uninit(struct virtio_dev *vdev)
{
	net_vhost_stop(vdev->priv);
	net_free(vdev->priv); /* the I/O thread is stopped already */
	vdev->priv = NULL;
}

/* Snapshots: the pairs in use, which the driver set and will not set again. */
struct net_state {
	uint16_t pairs;
	uint16_t pad[3];
};

static size_t net_state_save(struct virtio_dev *vdev, void *buf, size_t max)
{
	struct net *n = vdev->priv;
	struct net_state st = { .pairs = (uint16_t)n->pairs };

	if (max < sizeof(st))
		return 0;
	memcpy(buf, &st, sizeof(st));
	return sizeof(st);
}

static int net_state_load(struct virtio_dev *vdev, const void *buf, size_t len)
{
	struct net *n = vdev->priv;
	struct net_state st;

	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	if (st.pairs < 1 || st.pairs > n->max_pairs ||
	    (st.pairs > 1 && !(vdev->guest_features & BIT_ULL(VIRTIO_NET_F_MQ))))
		return -EINVAL;
	net_set_pairs(n, st.pairs);
	return 0;
}

void virtio_net_quiesce_locked(struct virtio_dev *vdev)
{
	net_vhost_stop(vdev->priv);
}

bool virtio_net_vhost(struct virtio_dev *vdev)
{
	struct net *n = vdev->priv;

	return n->vhost;
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
	.features = BIT_ULL(VIRTIO_NET_F_MAC) | BIT_ULL(VIRTIO_NET_F_STATUS) |
		    BIT_ULL(VIRTIO_NET_F_CTRL_VQ) | BIT_ULL(VIRTIO_NET_F_MQ) | NET_OFFLOAD_FEATURES,
	.config_size = 10, /* mac, status, max_virtqueue_pairs (§5.1.4) */
	.num_queues = 2 * VIRTIO_NET_MAX_PAIRS + 1,
	.queue_max_size = NET_QUEUE_SIZE,
	.init = net_init,
	.uninit = net_uninit,
	.notify = net_notify,
	.reset = net_reset,
	.state_save = net_state_save,
	.state_load = net_state_load,
};
