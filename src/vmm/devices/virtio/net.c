// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio-net (virtio 1.2 §5.1) over a tap: queue 0 receives, queue 1
 * transmits. Every frame carries the 12-byte struct virtio_net_hdr, which
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
 */
#include <endian.h>
#include <errno.h>
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
#include "vmm/devices/virtio/virtio.h"

#define NET_RXQ 0
#define NET_TXQ 1
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

struct net {
	struct virtio_dev *vdev;
	int tap_fd;
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

static void net_tx(struct virtio_dev *vdev)
{
	struct net *n = vdev->priv;
	struct virtq *vq = &vdev->vqs[NET_TXQ];
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
			w = writev(n->tap_fd, n->tx_iov, tx_iovec(n, c, &le));
			if (w < 0) {
				n->stats.tx_errors++; /* a full or downed tap drops, as a wire would */
			} else {
				n->stats.tx_packets++;
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
static void net_sync_tap(struct net *n)
{
	uint64_t g = n->vdev->guest_features;

	if (n->tap_features_set && n->tap_features == g)
		return;
	n->tap_features = g;
	n->tap_features_set = true;
	n->stats.offloads = g & NET_OFFLOAD_FEATURES;
	if (ioctl(n->tap_fd, TUNSETOFFLOAD, virtio_net_tap_offloads(g)) < 0 &&
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
static bool net_rx_locked(struct net *n)
{
	struct virtio_dev *vdev = n->vdev;
	struct virtq *vq = &vdev->vqs[NET_RXQ];
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
		got = readv(n->tap_fd, n->rx_iov, (int)nr_iov);
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
	if (write(n->tap_fd, frame, sizeof(frame)) == (ssize_t)sizeof(frame))
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

	if (n->announce)
		net_send_announce(n);
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
	if (!p->offloads)
		vdev->host_features &= ~NET_OFFLOAD_FEATURES; /* the old path, for comparison */
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
	.features = BIT_ULL(VIRTIO_NET_F_MAC) | BIT_ULL(VIRTIO_NET_F_STATUS) | NET_OFFLOAD_FEATURES,
	.config_size = 8,
	.num_queues = 2,
	.queue_max_size = NET_QUEUE_SIZE,
	.init = net_init,
	.uninit = net_uninit,
	.notify = net_notify,
};
