// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: virtio-net (src/vmm/devices/virtio/net.c): transmit chains
 * of any shape going to the tap, and receive into whatever buffers a
 * hostile driver posts. The tap is one end of a datagram socketpair; a
 * notify of the receive queue sends one frame into it first and runs the
 * receive step on this thread (the device's own thread only wakes to find
 * the lock held and the tap drained).
 *
 * Input: u16 frame length (% 1600), the frame, then tests/fuzz/vdev.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vdev.h"
#include "vmm/devices/virtio/net.h"

#define RXQ 0

static struct virtio_dev vdev;
static int tap = -1, peer = -1;
static uint64_t tx_seen; /* transmits already drained from the peer */

FUZZ_NOCOV
static void drain(int fd)
{
	uint8_t buf[2048];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

FUZZ_NOCOV
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fuzz_vdev_run run;
	struct virtio_net_stats st;
	uint8_t frame[1600];
	bool sent = false;
	size_t flen;
	unsigned int i;
	int sv[2];

	if (!vdev.ops) {
		struct virtio_net_params p = { .mac = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 } };

		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
			abort();
		p.tap_fd = tap = sv[0];
		peer = sv[1];
		if (virtio_dev_init(&vdev, &virtio_net_ops, fuzz_ram(), &p) < 0)
			abort();
	}
	flen = fuzz_u16(&in) % sizeof(frame);
	fuzz_take(&in, frame, flen);
	pthread_mutex_lock(&vdev.lock);
	fuzz_vdev_start(&vdev, &in, &run);
	for (i = 0; i < run.nr_notify; i++) {
		if (run.notify[i] != RXQ) {
			virtio_dev_queue_notify(&vdev, run.notify[i]);
			continue;
		}
		if (send(peer, frame, flen, MSG_DONTWAIT) < 0 && errno != EAGAIN)
			abort();
		sent = true;
		if (vdev.vqs[RXQ].ready && !vdev.vqs[RXQ].broken)
			virtio_net_rx_locked(&vdev);
	}
	fuzz_vdev_stop(&vdev);
	pthread_mutex_unlock(&vdev.lock);
	/*
	 * Empty both ends for the next input, but only an end something went
	 * to: each drain is a recv() more, and most inputs send nothing.
	 */
	virtio_net_get_stats(&vdev, &st);
	if (st.tx_packets != tx_seen)
		drain(peer);
	tx_seen = st.tx_packets;
	if (sent)
		drain(tap);
	return 0;
}
