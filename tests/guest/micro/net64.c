// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Micro-guest net64: virtio-net with several queue pairs (virtio 1.2
 * §5.1.2, §5.1.6.5.5; src/vmm/devices/virtio/net.c). The driver asks for
 * MQ and CTRL_VQ and, when the device offers them, reads
 * max_virtqueue_pairs, sets up every queue, sends VQ_PAIRS_SET commands a
 * hostile driver would (0 pairs, one past the maximum, data cut short),
 * each of which must be acked VIRTIO_NET_ERR, then a good one for all the
 * pairs, acked VIRTIO_NET_OK. Then it sends one frame on each pair's
 * transmit queue, to the broadcast address with ethertype 0x88b5 (IEEE
 * local experimental) and "VPS-MQ pair N" as payload, which the host test
 * reads from the tap. Without MQ on offer (a single-queue tap) it sends
 * one frame on pair 0 and says so.
 *
 * Prints "pairs N" and ends with "VPS-MICRO net64 ok".
 */
#include "virtio.h"

#define NAME "net64"
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_CTRL_VQ 17
#define VIRTIO_NET_F_MQ 22
#define CTRL_MQ 4
#define CTRL_MQ_VQ_PAIRS_SET 0
#define NET_OK 0
#define NET_ERR 1
#define HDR 12 /* struct virtio_net_hdr_v1 */
#define FRAME 60

static uint8_t *cmd, *ack;

/* One control command of `len` readable bytes; returns the ack, or 0x100 + error. */
static int ctrl(struct vq *q, uint16_t pairs, uint32_t len)
{
	struct vbuf b[2] = { { cmd, len, false }, { ack, 1, true } };
	uint32_t used;

	cmd[0] = CTRL_MQ;
	cmd[1] = CTRL_MQ_VQ_PAIRS_SET;
	cmd[2] = (uint8_t)pairs;
	cmd[3] = (uint8_t)(pairs >> 8);
	*ack = 0xee; /* no ack value: proves the device wrote it */
	if (vq_transfer(q, b, 2, &used) < 0)
		return 0x100 + 1;
	if (used != 1)
		return 0x100 + 2;
	return *ack;
}

/* Send one frame from `mac` on transmit queue q, "VPS-MQ pair N" inside. */
static int send_frame(struct vq *q, const uint8_t *mac, unsigned int pair)
{
	static const char text[] = "VPS-MQ pair ";
	uint8_t *p = alloc_pages(1);
	uint32_t len;

	memset(p, 0, HDR + FRAME); /* header: no offloads */
	memset(p + HDR, 0xff, 6);
	memcpy(p + HDR + 6, mac, 6);
	p[HDR + 12] = 0x88;
	p[HDR + 13] = 0xb5;
	memcpy(p + HDR + 14, text, sizeof(text) - 1);
	p[HDR + 14 + sizeof(text) - 1] = (uint8_t)('0' + pair);
	return vq_transfer(q, &(struct vbuf){ p, HDR + FRAME, false }, 1, &len);
}

int main(uint64_t ram_size)
{
	static struct vdev d;
	uint8_t mac[6];
	unsigned int i, pairs = 1, nq;
	bool mq;

	(void)ram_size;
	if (virtio_find(&d, VIRTIO_ID_NET) < 0 || !d.device)
		return fail(NAME, 1, "no virtio-net function with a device config");
	if (virtio_negotiate(&d, 1ULL << VIRTIO_NET_F_MAC | 1ULL << VIRTIO_NET_F_CTRL_VQ |
					 1ULL << VIRTIO_NET_F_MQ) < 0)
		return fail(NAME, 2, "feature negotiation");
	mq = d.features & 1ULL << VIRTIO_NET_F_MQ;
	if (mq != !!(d.features & 1ULL << VIRTIO_NET_F_CTRL_VQ))
		return fail(NAME, 3, "MQ offered without CTRL_VQ or the other way");
	for (i = 0; i < 6; i++)
		mac[i] = mmio_read8(d.device + i);
	if (mq)
		pairs = mmio_read16(d.device + 8); /* §5.1.4: max_virtqueue_pairs */
	if (pairs < 1 || 2 * pairs + 1 > VQ_MAX)
		return fail(NAME, 4, "max_virtqueue_pairs out of range");
	nq = mq ? 2 * pairs + 1 : 2;
	if (mmio_read16(d.common + VC_NUM_QUEUES) != nq)
		return fail(NAME, 5, "num_queues does not match the pairs");
	for (i = 0; i < nq; i++)
		if (vq_setup(&d, i, 16) < 0)
			return fail(NAME, 6, "queue setup");
	if ((virtio_driver_ok(&d) & (VIRTIO_S_DRIVER_OK | VIRTIO_S_NEEDS_RESET)) !=
	    VIRTIO_S_DRIVER_OK)
		return fail(NAME, 7, "DRIVER_OK did not stick");
	puts("pairs ");
	put_dec(pairs);
	puts("\n");
	if (mq) {
		struct vq *cq = &d.vqs[2 * pairs];

		cmd = alloc_pages(1);
		ack = alloc_pages(1);
		if (ctrl(cq, 0, 4) != NET_ERR)
			return fail(NAME, 8, "VQ_PAIRS_SET 0 not refused");
		if (ctrl(cq, (uint16_t)(pairs + 1), 4) != NET_ERR)
			return fail(NAME, 9, "VQ_PAIRS_SET past the maximum not refused");
		if (ctrl(cq, 0x8000, 4) != NET_ERR)
			return fail(NAME, 10, "VQ_PAIRS_SET 0x8000 not refused");
		if (ctrl(cq, (uint16_t)pairs, 3) != NET_ERR)
			return fail(NAME, 11, "VQ_PAIRS_SET cut short not refused");
		if (ctrl(cq, (uint16_t)pairs, 4) != NET_OK)
			return fail(NAME, 12, "VQ_PAIRS_SET to the maximum not acked OK");
	} else {
		puts("no MQ offered\n");
	}
	for (i = 0; i < pairs; i++)
		if (send_frame(&d.vqs[2 * i + 1], mac, i) < 0)
			return fail(NAME, 13, "a transmit did not complete");
	if (virtio_status(&d) & VIRTIO_S_NEEDS_RESET)
		return fail(NAME, 14, "the device needs a reset");
	puts("VPS-MICRO net64 ok\n");
	return 0;
}
