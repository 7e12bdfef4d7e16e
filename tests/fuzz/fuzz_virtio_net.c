// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: virtio-net (src/vmm/devices/virtio/net.c): transmit chains
 * of any shape, with any header, going to the tap, and receive into
 * whatever buffers a hostile driver posts, mergeable or not. The features
 * mask of vdev.h picks among the offloads (CSUM, GUEST_CSUM, TSO both
 * ways, MRG_RXBUF), and MQ and the control queue, so every path is
 * reached. The device has two queue pairs; each pair's tap is one end of a
 * datagram socketpair; a notify of a receive queue sends one frame (up to
 * 64 KiB, as a tap with TSO hands us) into its pair's tap first and runs
 * the receive step on this thread (the device's own thread only wakes to
 * find the lock held and the tap drained). A notify of queue 4 (or 2,
 * with CTRL_VQ and no MQ) runs control commands out of guest memory.
 *
 * Oracle beyond the sanitizers: every frame that reaches a tap carries a
 * header that virtio_net_tx_hdr_check() accepts for the features the
 * driver had: a refused header never leaves the device. The pairs in use
 * stay within 1..2 whatever the commands said.
 *
 * Input: u16 frame length, the frame, then tests/fuzz/vdev.h.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vdev.h"
#include "vmm/devices/virtio/net.h"

#define PAIRS 2

static struct virtio_dev vdev;
static int tap[PAIRS] = { -1, -1 }, peer[PAIRS] = { -1, -1 };
static uint64_t tx_seen; /* transmits already drained from the peer */

static uint8_t buf[65536 + 128];

FUZZ_NOCOV
static void drain(int fd)
{
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

/* What went to the tap: each frame's header passes the checks. */
FUZZ_NOCOV
static void drain_tx(int fd, uint64_t features)
{
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		struct virtio_net_hdr h;

		if (n < 12)
			abort();
		memcpy(&h, buf, sizeof(h));
		h.hdr_len = le16toh(h.hdr_len);
		h.gso_size = le16toh(h.gso_size);
		h.csum_start = le16toh(h.csum_start);
		h.csum_offset = le16toh(h.csum_offset);
		if (h.num_buffers || virtio_net_tx_hdr_check(&h, (uint64_t)n - 12, features))
			abort();
	}
}

FUZZ_NOCOV
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fuzz_vdev_run run;
	struct virtio_net_stats st;
	static uint8_t frame[65536];
	uint64_t features;
	bool sent[PAIRS] = { false, false };
	size_t flen;
	unsigned int i, k;
	int sv[2];

	if (!vdev.ops) {
		struct virtio_net_params p = { .mac = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 },
					       .offloads = true,
					       .pairs = PAIRS };

		for (k = 0; k < PAIRS; k++) {
			if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) <
			    0)
				abort();
			p.tap_fd[k] = tap[k] = sv[0];
			peer[k] = sv[1];
		}
		if (virtio_dev_init(&vdev, &virtio_net_ops, fuzz_ram(), &p) < 0)
			abort();
	}
	flen = fuzz_u16(&in);
	fuzz_take(&in, frame, flen);
	pthread_mutex_lock(&vdev.lock);
	fuzz_vdev_start(&vdev, &in, &run);
	for (i = 0; i < run.nr_notify; i++) {
		unsigned int q = run.notify[i];

		/* a receive queue: queue 2 is the control queue with CTRL_VQ and no MQ */
		if (q % 2 || q >= 2 * PAIRS ||
		    (q == 2 && (vdev.guest_features & BIT_ULL(VIRTIO_NET_F_CTRL_VQ)) &&
		     !(vdev.guest_features & BIT_ULL(VIRTIO_NET_F_MQ)))) {
			virtio_dev_queue_notify(&vdev, q);
			continue;
		}
		k = q / 2;
		if (send(peer[k], frame, flen, MSG_DONTWAIT) < 0 && errno != EAGAIN)
			abort();
		sent[k] = true;
		if (vdev.vqs[q].ready && !vdev.vqs[q].broken)
			virtio_net_rx_locked(&vdev, k);
	}
	features = vdev.guest_features;
	fuzz_vdev_stop(&vdev);
	pthread_mutex_unlock(&vdev.lock);
	/*
	 * Empty both ends for the next input, but only an end something went
	 * to: each drain is a recv() more, and most inputs send nothing.
	 */
	virtio_net_get_stats(&vdev, &st);
	if (st.pairs < 1 || st.pairs > PAIRS)
		abort();
	if (st.tx_packets != tx_seen)
		for (k = 0; k < PAIRS; k++)
			drain_tx(peer[k], features);
	tx_seen = st.tx_packets;
	for (k = 0; k < PAIRS; k++)
		if (sent[k])
			drain(tap[k]);
	return 0;
}
