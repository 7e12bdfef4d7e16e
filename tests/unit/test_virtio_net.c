// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for virtio-net: the transmit header checks (every field a
 * hostile driver writes, against the features it negotiated), the tap
 * offloads that follow the features, and both directions through a real
 * virtqueue in fake guest memory, with a datagram socketpair as the tap:
 * refused headers never reach the tap and are counted, a received frame
 * spans mergeable buffers with num_buffers set, buffers it did not use go
 * back to the ring, and a guest with too few buffers waits. With two queue
 * pairs: the control queue's commands as a hostile driver writes them
 * (short, split, without room for the ack, a pair count out of range),
 * each acked as the spec says and none changing what it must not, and each
 * pair's transmit going to its own tap fd.
 */
#include <endian.h>
#include <linux/if_tun.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/devices/virtio/net.h"
#include "vmm/devices/virtio/virtio.h"
#include "virtq_driver.h"

#define RAM_SIZE 0x100000
#define RXQ_GPA 0x1000
#define TXQ_GPA 0x4000
#define BUF_GPA 0x10000
#define RXQ 0
#define TXQ 1
#define HDR 12

#define F(b) BIT_ULL(VIRTIO_NET_F_##b)
#define ALL_OFFLOADS                                                                             \
	(F(CSUM) | F(GUEST_CSUM) | F(GUEST_TSO4) | F(GUEST_TSO6) | F(HOST_TSO4) | F(HOST_TSO6) | \
	 F(MRG_RXBUF))

static uint16_t rx_size = 64; /* the receive queue's size for the next start() */

struct fx {
	struct guest_mem mem;
	uint8_t *ram;
	int tap, peer;
	struct virtio_dev vdev;
	struct vqd rx, tx;
	int tap1, peer1; /* pair 1's tap fd and its far end (two-pair fixtures) */
	struct vqd tx1, ctrl;
};

static void fake_signal(struct virtio_dev *vdev, enum virtio_signal what, unsigned int q)
{
}

static const struct virtio_transport_ops fake_transport = { .signal = fake_signal };

static void start(struct fx *f, bool offloads, uint64_t drop)
{
	struct virtio_net_params p = { .mac = { 0x52, 0x54, 0, 1, 2, 3 }, .offloads = offloads };
	int sv[2];
	uint64_t g;

	f->ram = calloc(1, RAM_SIZE);
	assert_int_equal(guest_mem_add(&f->mem, 0, RAM_SIZE, f->ram), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv), 0);
	f->tap = sv[0];
	f->peer = sv[1];
	p.tap_fd[0] = f->tap;
	assert_int_equal(virtio_dev_init(&f->vdev, &virtio_net_ops, &f->mem, &p), 0);
	f->vdev.transport = &fake_transport;
	f->vdev.transport_priv = f;
	g = f->vdev.host_features & ~drop;
	virtio_dev_set_status(&f->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_dev_set_guest_features(&f->vdev, 0, g);
	virtio_dev_set_guest_features(&f->vdev, 1, g >> 32);
	virtio_dev_set_status(&f->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
						VIRTIO_STATUS_FEATURES_OK);
	assert_true(f->vdev.status & VIRTIO_STATUS_FEATURES_OK);
	vqd_init(&f->rx, &f->mem, RXQ_GPA, rx_size);
	vqd_init(&f->tx, &f->mem, TXQ_GPA, 16);
	f->vdev.vqs[RXQ].size = rx_size;
	f->vdev.vqs[RXQ].desc_gpa = f->rx.desc_gpa;
	f->vdev.vqs[RXQ].avail_gpa = f->rx.avail_gpa;
	f->vdev.vqs[RXQ].used_gpa = f->rx.used_gpa;
	f->vdev.vqs[TXQ].size = 16;
	f->vdev.vqs[TXQ].desc_gpa = f->tx.desc_gpa;
	f->vdev.vqs[TXQ].avail_gpa = f->tx.avail_gpa;
	f->vdev.vqs[TXQ].used_gpa = f->tx.used_gpa;
	assert_int_equal(virtio_dev_queue_enable(&f->vdev, RXQ), 0);
	assert_int_equal(virtio_dev_queue_enable(&f->vdev, TXQ), 0);
	virtio_dev_set_status(&f->vdev, f->vdev.status | VIRTIO_STATUS_DRIVER_OK);
	assert_true(f->vdev.status & VIRTIO_STATUS_DRIVER_OK);
}

static int setup(void **state)
{
	*state = calloc(1, sizeof(struct fx));
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->vdev.ops)
		virtio_dev_uninit(&f->vdev);
	if (f->ram) {
		close(f->tap);
		close(f->peer);
		free(f->ram);
	}
	if (f->tap1 > 0) {
		close(f->tap1);
		close(f->peer1);
	}
	free(f);
	return 0;
}

static struct virtio_net_hdr hdr(uint8_t flags, uint8_t gso, uint16_t hdr_len, uint16_t gso_size,
				 uint16_t cstart, uint16_t coff)
{
	return (struct virtio_net_hdr){ flags, gso, hdr_len, gso_size, cstart, coff, 0 };
}

#define NC VIRTIO_NET_HDR_F_NEEDS_CSUM
#define T4 VIRTIO_NET_HDR_GSO_TCPV4
#define T6 VIRTIO_NET_HDR_GSO_TCPV6

/* Every check, one field at a time, from a header the device takes. */
static void tx_hdr_checks(void **state)
{
	const uint64_t all = ALL_OFFLOADS;
	const struct {
		struct virtio_net_hdr h;
		uint64_t len, features;
		bool ok;
	} cases[] = {
		{ hdr(0, 0, 0, 0, 0, 0), 60, 0, true }, /* plain frame, no offloads */
		{ hdr(0, 0, 0, 0, 0, 0), 1518, 0, true },
		{ hdr(0, 0, 0, 0, 0, 0), 1519, all, false }, /* too long without GSO */
		{ hdr(0, 0, 0, 0, 0, 0), 13, all, false }, /* shorter than Ethernet */
		{ hdr(NC, 0, 0, 0, 34, 16), 60, all, true }, /* TCP checksum at 50 */
		{ hdr(NC, 0, 0, 0, 34, 16), 60, all & ~F(CSUM), false }, /* not negotiated */
		{ hdr(NC, 0, 0, 0, 34, 24), 60, all, true }, /* field ends at the last byte */
		{ hdr(NC, 0, 0, 0, 34, 25), 60, all, false }, /* one past */
		{ hdr(NC, 0, 0, 0, 0xffff, 0xffff), 60, all, false }, /* no 16-bit wrap */
		{ hdr(VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0, 0), 60, all, false },
		{ hdr(0x80, 0, 0, 0, 0, 0), 60, all, false }, /* unknown flag */
		{ hdr(0, 0, 61, 0, 0, 0), 60, all, false }, /* hdr_len beyond the frame */
		{ hdr(NC, T4, 54, 1448, 34, 16), 65550, all, true }, /* 64 KiB TSO */
		{ hdr(NC, T4, 54, 1448, 34, 16), 65551, all, false },
		{ hdr(NC, T4, 54, 1448, 34, 16), 9000, all & ~F(HOST_TSO4), false },
		{ hdr(NC, T6, 74, 1428, 54, 16), 9000, all, true },
		{ hdr(NC, T6, 74, 1428, 54, 16), 9000, all & ~F(HOST_TSO6), false },
		{ hdr(0, T4, 54, 1448, 0, 0), 9000, all, false }, /* GSO needs a partial checksum */
		{ hdr(NC, T4, 54, 0, 34, 16), 9000, all, false }, /* gso_size 0 */
		{ hdr(NC, VIRTIO_NET_HDR_GSO_UDP, 42, 1472, 34, 6), 9000, all, false }, /* no UFO */
		{ hdr(NC, 2, 54, 1448, 34, 16), 9000, all, false }, /* unknown type */
		{ hdr(NC, 5, 54, 1448, 34, 16), 9000, all, false },
		{ hdr(NC, T4 | VIRTIO_NET_HDR_GSO_ECN, 54, 1448, 34, 16), 9000, all, false },
		{ hdr(NC, VIRTIO_NET_HDR_GSO_ECN, 54, 1448, 34, 16), 9000, all | F(HOST_ECN),
		  false },
		{ hdr(NC, T4 | VIRTIO_NET_HDR_GSO_ECN, 54, 1448, 34, 16), 9000, all | F(HOST_ECN),
		  true },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why =
			virtio_net_tx_hdr_check(&cases[i].h, cases[i].len, cases[i].features);

		if ((why == NULL) != cases[i].ok)
			fail_msg("case %u: %s", i, why ? why : "accepted");
	}
}

static void tap_offloads(void **state)
{
	assert_int_equal(virtio_net_tap_offloads(0), 0);
	/* TSO without GUEST_CSUM: nothing, the kernel would refuse it. */
	assert_int_equal(virtio_net_tap_offloads(F(GUEST_TSO4) | F(GUEST_TSO6)), 0);
	assert_int_equal(virtio_net_tap_offloads(F(GUEST_CSUM)), TUN_F_CSUM);
	assert_int_equal(virtio_net_tap_offloads(ALL_OFFLOADS),
			 TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
	/* Host-side features do not open the tap's receive offloads. */
	assert_int_equal(virtio_net_tap_offloads(F(CSUM) | F(HOST_TSO4)), 0);
}

static void offloads_off(void **state)
{
	struct fx *f = *state;

	start(f, false, 0);
	assert_int_equal(f->vdev.guest_features & ALL_OFFLOADS, 0);
	assert_true(f->vdev.host_features & BIT_ULL(VIRTIO_NET_F_MAC));
}

/* Put a transmit chain of `len` frame bytes after header h, split in two. */
static void tx_post(struct fx *f, const struct virtio_net_hdr *h, uint32_t len)
{
	struct virtio_net_hdr le = *h;
	uint8_t *p = vqd_ptr(&f->tx, BUF_GPA, HDR + len);
	struct vqd_buf b[2] = { { BUF_GPA, 5, false }, { BUF_GPA + 5, HDR + len - 5, false } };

	le.hdr_len = htole16(h->hdr_len);
	le.gso_size = htole16(h->gso_size);
	le.csum_start = htole16(h->csum_start);
	le.csum_offset = htole16(h->csum_offset);
	le.num_buffers = htole16(0x5555);
	memcpy(p, &le, HDR);
	memset(p + HDR, 0xab, len);
	vqd_publish(&f->tx, vqd_add_chain(&f->tx, b, 2));
}

static void tx_good_and_hostile(void **state)
{
	struct fx *f = *state;
	struct virtio_net_hdr good = hdr(NC, T4, 54, 1448, 34, 16);
	struct virtio_net_hdr bad = hdr(NC, T4, 54, 1448, 34, 0xfff0); /* checksum far outside */
	struct virtio_net_stats st;
	static uint8_t got[70000];
	struct virtio_net_hdr out;
	uint32_t id, len;
	ssize_t n;

	start(f, true, 0);
	tx_post(f, &good, 20000);
	virtio_dev_queue_notify(&f->vdev, TXQ);
	n = recv(f->peer, got, sizeof(got), MSG_DONTWAIT);
	assert_int_equal(n, HDR + 20000);
	memcpy(&out, got, HDR);
	assert_int_equal(out.gso_type, T4);
	assert_int_equal(le16toh(out.gso_size), 1448);
	assert_int_equal(out.num_buffers, 0); /* the driver's 0x5555 does not pass */
	assert_int_equal(got[HDR], 0xab);
	assert_int_equal(got[HDR + 19999], 0xab);
	assert_true(vqd_get_used(&f->tx, &id, &len));

	tx_post(f, &bad, 20000);
	virtio_dev_queue_notify(&f->vdev, TXQ);
	assert_true(recv(f->peer, got, sizeof(got), MSG_DONTWAIT) <
		    0); /* nothing reached the tap */
	assert_true(vqd_get_used(&f->tx, &id, &len)); /* the chain still comes back */
	virtio_net_get_stats(&f->vdev, &st);
	assert_int_equal(st.tx_packets, 1);
	assert_int_equal(st.tx_gso, 1);
	assert_int_equal(st.tx_errors, 1);
	assert_int_equal(st.tx_bad_hdr, 1);
	assert_false(f->vdev.status & VIRTIO_STATUS_NEEDS_RESET); /* a frame dropped, no more */
}

/* Post n receive buffers of `size` bytes each, one descriptor apiece. */
static void rx_post(struct fx *f, unsigned int n, uint32_t size, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct vqd_buf b = { gpa + (uint64_t)i * size, size, true };

		vqd_publish(&f->rx, vqd_add_chain(&f->rx, &b, 1));
	}
}

static void frame_send_to(int peer, uint32_t len)
{
	static uint8_t fr[70000];
	uint32_t i;

	memset(fr, 0, HDR);
	for (i = HDR; i < HDR + len; i++)
		fr[i] = (uint8_t)i;
	assert_int_equal(send(peer, fr, HDR + len, 0), HDR + len);
}

static void frame_send(struct fx *f, uint32_t len)
{
	frame_send_to(f->peer, len);
}

static void rx_mergeable(void **state)
{
	struct fx *f = *state;
	struct virtio_net_stats st;
	uint32_t id, len, i;
	uint8_t *ram;
	uint16_t nb;

	/* Without GUEST_TSO the largest frame is 1530 bytes: three 512-byte buffers hold it. */
	start(f, true, F(GUEST_TSO4) | F(GUEST_TSO6));
	rx_post(f, 8, 512, BUF_GPA);
	frame_send(f, 1500);
	frame_send(f, 100);
	assert_false(virtio_net_rx_locked(&f->vdev, 0));
	ram = vqd_ptr(&f->rx, BUF_GPA, 8 * 512);
	/* Frame 1: buffers 0, 1, 2 (512 + 512 + 488), num_buffers 3 in buffer 0. */
	for (i = 0; i < 3; i++) {
		assert_true(vqd_get_used(&f->rx, &id, &len));
		assert_int_equal(id, i);
		assert_int_equal(len, i < 2 ? 512 : HDR + 1500 - 1024);
	}
	memcpy(&nb, ram + 10, 2);
	assert_int_equal(le16toh(nb), 3);
	for (i = HDR; i < HDR + 1500; i++)
		if (ram[i] != (uint8_t)i)
			fail_msg("byte %u: %#x", i, ram[i]);
	/* Frame 2: buffer 3 alone. */
	assert_true(vqd_get_used(&f->rx, &id, &len));
	assert_int_equal(id, 3);
	assert_int_equal(len, HDR + 100);
	memcpy(&nb, ram + 3 * 512 + 10, 2);
	assert_int_equal(le16toh(nb), 1);
	assert_false(vqd_get_used(&f->rx, &id, &len));
	/* Buffers popped for a third frame that never came went back: the next takes 4. */
	frame_send(f, 50);
	virtio_net_rx_locked(&f->vdev, 0);
	assert_true(vqd_get_used(&f->rx, &id, &len));
	assert_int_equal(id, 4);
	virtio_net_get_stats(&f->vdev, &st);
	assert_int_equal(st.rx_packets, 3);
	assert_int_equal(st.rx_merged, 1);
	assert_int_equal(st.rx_bytes, 1650);
	assert_true(st.offloads);
	/* The driver's reset at poweroff does not hide what it had negotiated. */
	virtio_dev_reset(&f->vdev);
	virtio_net_get_stats(&f->vdev, &st);
	assert_true(st.offloads);
}

/* With GUEST_TSO a frame may be 64 KiB: with less posted, the device waits. */
static void rx_waits_for_room(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;
	unsigned int k = 0;

	start(f, true, 0);
	rx_post(f, 30, 2048, BUF_GPA); /* 60 KiB */
	frame_send(f, 100);
	assert_true(virtio_net_rx_locked(&f->vdev, 0)); /* dry: a 64 KiB frame might not fit */
	assert_false(vqd_get_used(&f->rx, &id, &len));
	rx_post(f, 4, 2048, BUF_GPA + 30 * 2048);
	assert_false(virtio_net_rx_locked(&f->vdev, 0));
	assert_true(vqd_get_used(&f->rx, &id, &len));
	assert_int_equal(id, 0);
	assert_int_equal(len, HDR + 100);
	/* A 64 KiB frame spans 33 buffers. */
	rx_post(f, 1, 2048, BUF_GPA);
	frame_send(f, 65550);
	virtio_net_rx_locked(&f->vdev, 0); /* dry again after it: one buffer is left */
	while (vqd_get_used(&f->rx, &id, &len))
		k++;
	assert_int_equal(k, (HDR + 65550 + 2047) / 2048);
}

/* A ring too small for a 64 KiB frame: its buffers are read into all the same. */
static void rx_small_ring(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	rx_size = 8;
	start(f, true, 0);
	rx_size = 64;
	rx_post(f, 8, 2048, BUF_GPA); /* 16 KiB: all the ring holds */
	frame_send(f, 3000);
	virtio_net_rx_locked(&f->vdev, 0);
	assert_true(vqd_get_used(&f->rx, &id, &len));
	assert_int_equal(len, 2048);
	assert_true(vqd_get_used(&f->rx, &id, &len));
	assert_int_equal(len, HDR + 3000 - 2048);
	assert_false(vqd_get_used(&f->rx, &id, &len));
}

/* Without MRG_RXBUF each frame takes one buffer, whatever its size. */
static void rx_one_buffer_each(void **state)
{
	struct fx *f = *state;
	struct virtio_net_stats st;
	uint32_t id, len;
	uint16_t nb;

	start(f, false, 0);
	rx_post(f, 2, 1600, BUF_GPA);
	frame_send(f, 60);
	frame_send(f, 1500);
	virtio_net_rx_locked(&f->vdev, 0);
	assert_true(vqd_get_used(&f->rx, &id, &len));
	assert_int_equal(len, HDR + 60);
	assert_true(vqd_get_used(&f->rx, &id, &len));
	assert_int_equal(len, HDR + 1500);
	memcpy(&nb, vqd_ptr(&f->rx, BUF_GPA + 1600 + 10, 2), 2);
	assert_int_equal(le16toh(nb), 1);
	virtio_net_get_stats(&f->vdev, &st);
	assert_int_equal(st.rx_merged, 0);
	assert_false(st.offloads);
}

/* A receive buffer too small for the header breaks the queue; nothing is written. */
static void rx_tiny_buffer(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	start(f, true, 0);
	rx_post(f, 1, 11, BUF_GPA);
	frame_send(f, 60);
	assert_true(virtio_net_rx_locked(&f->vdev, 0));
	assert_true(f->vdev.status & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(vqd_get_used(&f->rx, &id, &len));
}

#define TX1 3 /* pair 1's transmit queue */
#define CTRLQ 4 /* after two pairs */
#define TX1_GPA 0x7000
#define CTRL_GPA 0x8000
#define CMD_GPA 0x9000

/* Every control command check, from a command the device takes. */
static void ctrl_checks(void **state)
{
	const struct {
		uint8_t cmd[4];
		uint64_t len, features;
		uint8_t ack;
		unsigned int pairs;
	} cases[] = {
		{ { 4, 0, 2, 0 }, 4, F(MQ), VIRTIO_NET_OK, 2 },
		{ { 4, 0, 1, 0 }, 4, F(MQ), VIRTIO_NET_OK, 1 },
		{ { 4, 0, 3, 0 }, 4, F(MQ), VIRTIO_NET_ERR, 0 }, /* more than the device has */
		{ { 4, 0, 0, 0 }, 4, F(MQ), VIRTIO_NET_ERR, 0 }, /* zero pairs */
		{ { 4, 0, 0xff, 0xff }, 4, F(MQ), VIRTIO_NET_ERR, 0 }, /* no 16-bit wrap */
		{ { 4, 0, 0, 0x80 }, 4, F(MQ), VIRTIO_NET_ERR, 0 }, /* the spec's 0x8000 */
		{ { 4, 0, 2, 0 }, 4, 0, VIRTIO_NET_ERR, 0 }, /* MQ not negotiated */
		{ { 4, 0, 2, 0 }, 3, F(MQ), VIRTIO_NET_ERR, 0 }, /* one byte of data */
		{ { 4, 0, 2, 0 }, 5, F(MQ), VIRTIO_NET_ERR, 0 }, /* three bytes of data */
		{ { 4, 0, 2, 0 }, 1 << 20, F(MQ), VIRTIO_NET_ERR, 0 }, /* a megabyte of data */
		{ { 4 }, 1, F(MQ), VIRTIO_NET_ERR, 0 }, /* class alone */
		{ { 0 }, 0, F(MQ), VIRTIO_NET_ERR, 0 }, /* nothing */
		{ { 4, 1, 2, 0 }, 4, F(MQ), VIRTIO_NET_ERR, 0 }, /* RSS_CONFIG: not offered */
		{ { 0, 0, 1, 0 }, 3, F(MQ), VIRTIO_NET_ERR, 0 }, /* RX_PROMISC: no CTRL_RX */
		{ { 0xff, 0xff, 2, 0 }, 4, F(MQ), VIRTIO_NET_ERR, 0 },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned int pairs = 99;
		const char *why;
		uint8_t ack = virtio_net_ctrl_check(cases[i].cmd, cases[i].len, cases[i].features,
						    2, &pairs, &why);

		if (ack != cases[i].ack)
			fail_msg("case %u: ack %u: %s", i, ack, why ? why : "accepted");
		if (ack == VIRTIO_NET_OK && pairs != cases[i].pairs)
			fail_msg("case %u: %u pairs", i, pairs);
		if (ack == VIRTIO_NET_ERR && (!why || pairs != 99))
			fail_msg("case %u: refused without a reason, or pairs changed", i);
	}
}

/* A device with two pairs; the driver takes `features` of what is offered. */
static void start_mq(struct fx *f, uint64_t drop)
{
	struct virtio_net_params p = { .mac = { 0x52, 0x54, 0, 1, 2, 3 },
				       .offloads = true,
				       .pairs = 2 };
	int sv[2], sv1[2];
	uint64_t g;

	f->ram = calloc(1, RAM_SIZE);
	assert_int_equal(guest_mem_add(&f->mem, 0, RAM_SIZE, f->ram), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv1), 0);
	f->tap = p.tap_fd[0] = sv[0];
	f->peer = sv[1];
	f->tap1 = p.tap_fd[1] = sv1[0];
	f->peer1 = sv1[1];
	assert_int_equal(virtio_dev_init(&f->vdev, &virtio_net_ops, &f->mem, &p), 0);
	assert_int_equal(f->vdev.num_queues, 5);
	/* §5.1.4: max_virtqueue_pairs at 8, little-endian */
	assert_int_equal(f->vdev.config[8] | f->vdev.config[9] << 8, 2);
	assert_true(f->vdev.host_features & F(MQ));
	assert_true(f->vdev.host_features & F(CTRL_VQ));
	f->vdev.transport = &fake_transport;
	g = f->vdev.host_features & ~drop;
	virtio_dev_set_status(&f->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_dev_set_guest_features(&f->vdev, 0, g);
	virtio_dev_set_guest_features(&f->vdev, 1, g >> 32);
	virtio_dev_set_status(&f->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
						VIRTIO_STATUS_FEATURES_OK);
	assert_true(f->vdev.status & VIRTIO_STATUS_FEATURES_OK);
}

/* Queue q's rings at gpa, 16 entries, enabled. */
static void enable_q(struct fx *f, struct vqd *d, unsigned int q, uint64_t gpa)
{
	vqd_init(d, &f->mem, gpa, 16);
	f->vdev.vqs[q].size = 16;
	f->vdev.vqs[q].desc_gpa = d->desc_gpa;
	f->vdev.vqs[q].avail_gpa = d->avail_gpa;
	f->vdev.vqs[q].used_gpa = d->used_gpa;
	assert_int_equal(virtio_dev_queue_enable(&f->vdev, q), 0);
}

/*
 * Send a command on the control queue: `out` bytes readable, split after
 * `split` bytes when nonzero, and `in` writable bytes (prefilled 0xee).
 * Returns the used length; *ack gets the first writable byte.
 */
static uint32_t ctrl_send(struct fx *f, const uint8_t *cmd, uint32_t out, uint32_t split,
			  uint32_t in, uint8_t *ack)
{
	uint8_t *p = vqd_ptr(&f->ctrl, CMD_GPA, 64);
	struct vqd_buf b[3];
	unsigned int n = 0;
	uint32_t id, len;

	memcpy(p, cmd, out);
	memset(p + 32, 0xee, 32);
	if (split && split < out) {
		b[n++] = (struct vqd_buf){ CMD_GPA, split, false };
		b[n++] = (struct vqd_buf){ CMD_GPA + split, out - split, false };
	} else if (out) {
		b[n++] = (struct vqd_buf){ CMD_GPA, out, false };
	}
	if (in)
		b[n++] = (struct vqd_buf){ CMD_GPA + 32, in, true };
	vqd_publish(&f->ctrl, vqd_add_chain(&f->ctrl, b, n));
	virtio_dev_queue_notify(&f->vdev, CTRLQ);
	assert_true(vqd_get_used(&f->ctrl, &id, &len));
	*ack = p[32];
	return len;
}

static unsigned int pairs_in_use(struct fx *f)
{
	struct virtio_net_stats st;

	virtio_net_get_stats(&f->vdev, &st);
	return st.pairs;
}

static void ctrl_queue_hostile(void **state)
{
	struct fx *f = *state;
	const uint8_t two[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 2, 0 };
	const uint8_t three[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 3, 0 };
	const uint8_t one[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 1, 0 };
	struct virtio_net_stats st;
	uint8_t ack;

	start_mq(f, 0);
	enable_q(f, &f->ctrl, CTRLQ, CTRL_GPA);
	virtio_dev_set_status(&f->vdev, f->vdev.status | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(pairs_in_use(f), 1); /* §5.1.6.5.5: one until the driver says */

	assert_int_equal(ctrl_send(f, three, 4, 0, 1, &ack), 1); /* more than offered */
	assert_int_equal(ack, VIRTIO_NET_ERR);
	assert_int_equal(pairs_in_use(f), 1);
	assert_int_equal(ctrl_send(f, two, 3, 0, 1, &ack), 1); /* data cut short */
	assert_int_equal(ack, VIRTIO_NET_ERR);
	assert_int_equal(ctrl_send(f, two, 1, 0, 1, &ack), 1); /* class alone */
	assert_int_equal(ack, VIRTIO_NET_ERR);
	assert_int_equal(ctrl_send(f, two, 0, 0, 1, &ack), 1); /* nothing readable */
	assert_int_equal(ack, VIRTIO_NET_ERR);
	/* No writable byte: not executed, nothing written, the chain comes back. */
	assert_int_equal(ctrl_send(f, two, 4, 0, 0, &ack), 0);
	assert_int_equal(ack, 0xee);
	assert_int_equal(pairs_in_use(f), 1);
	assert_false(f->vdev.status & VIRTIO_STATUS_NEEDS_RESET);
	/* Good, split over two descriptors mid-field, with a large ack buffer. */
	assert_int_equal(ctrl_send(f, two, 4, 3, 16, &ack), 1);
	assert_int_equal(ack, VIRTIO_NET_OK);
	assert_int_equal(pairs_in_use(f), 2);
	assert_int_equal(ctrl_send(f, one, 4, 0, 1, &ack), 1);
	assert_int_equal(ack, VIRTIO_NET_OK);
	assert_int_equal(pairs_in_use(f), 1);
	virtio_net_get_stats(&f->vdev, &st);
	assert_int_equal(st.ctrl_ok, 2);
	assert_int_equal(st.ctrl_errors, 5);
	assert_int_equal(st.max_pairs, 2);
	/* A reset goes back to one pair. */
	assert_int_equal(ctrl_send(f, two, 4, 0, 1, &ack), 1);
	assert_int_equal(pairs_in_use(f), 2);
	virtio_dev_set_status(&f->vdev, 0);
	assert_int_equal(pairs_in_use(f), 1);
}

/* Each pair transmits on its own fd; a pair not in use does not receive. */
static void pairs_own_fds(void **state)
{
	struct fx *f = *state;
	const uint8_t two[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 2, 0 };
	struct virtio_net_hdr h = hdr(0, 0, 0, 0, 0, 0);
	struct vqd_buf b = { BUF_GPA, HDR + 60, false };
	struct virtio_net_stats st;
	static uint8_t got[2048];
	uint8_t ack;

	start_mq(f, F(GUEST_TSO4) | F(GUEST_TSO6)); /* one 2 KiB buffer holds any frame */
	enable_q(f, &f->ctrl, CTRLQ, CTRL_GPA);
	enable_q(f, &f->tx1, TX1, TX1_GPA);
	vqd_init(&f->rx, &f->mem, RXQ_GPA, 16);
	f->vdev.vqs[2].size = 16; /* pair 1's receive queue */
	f->vdev.vqs[2].desc_gpa = f->rx.desc_gpa;
	f->vdev.vqs[2].avail_gpa = f->rx.avail_gpa;
	f->vdev.vqs[2].used_gpa = f->rx.used_gpa;
	assert_int_equal(virtio_dev_queue_enable(&f->vdev, 2), 0);
	virtio_dev_set_status(&f->vdev, f->vdev.status | VIRTIO_STATUS_DRIVER_OK);

	/* Pair 1 not in use: a frame waiting on its fd stays there. */
	frame_send_to(f->peer1, 60);
	rx_post(f, 1, 2048, BUF_GPA + 0x1000);
	virtio_dev_queue_notify(&f->vdev, 2);
	assert_false(virtio_net_rx_locked(&f->vdev, 1));
	virtio_net_get_stats(&f->vdev, &st);
	assert_int_equal(st.rx_packets, 0);
	/* In use: it arrives on pair 1's receive queue. */
	assert_int_equal(ctrl_send(f, two, 4, 0, 1, &ack), 1);
	assert_int_equal(ack, VIRTIO_NET_OK);
	virtio_dev_queue_notify(&f->vdev, 2);
	virtio_net_get_stats(&f->vdev, &st);
	assert_int_equal(st.pair_rx[1], 1);
	assert_int_equal(st.pair_rx[0], 0);

	memcpy(vqd_ptr(&f->tx1, BUF_GPA, HDR), &h, HDR);
	vqd_publish(&f->tx1, vqd_add_chain(&f->tx1, &b, 1));
	virtio_dev_queue_notify(&f->vdev, TX1);
	assert_int_equal(recv(f->peer1, got, sizeof(got), MSG_DONTWAIT), HDR + 60);
	assert_true(recv(f->peer, got, sizeof(got), MSG_DONTWAIT) < 0); /* not pair 0's fd */
	virtio_net_get_stats(&f->vdev, &st);
	assert_int_equal(st.pair_tx[1], 1);
	assert_int_equal(st.pair_tx[0], 0);
}

/*
 * A driver that took CTRL_VQ without MQ has its control queue at 2 (§5.1.2)
 * and may not set pairs; one that took neither has no control queue, and a
 * notify on the queue past the first pair does nothing.
 */
static void ctrl_without_mq(void **state)
{
	struct fx *f = *state;
	const uint8_t two[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 2, 0 };
	uint8_t *p;
	struct vqd_buf b[2] = { { CMD_GPA, 4, false }, { CMD_GPA + 32, 1, true } };
	uint32_t id, len;

	start_mq(f, F(MQ));
	enable_q(f, &f->ctrl, 2, CTRL_GPA);
	virtio_dev_set_status(&f->vdev, f->vdev.status | VIRTIO_STATUS_DRIVER_OK);
	p = vqd_ptr(&f->ctrl, CMD_GPA, 64);
	memcpy(p, two, 4);
	p[32] = 0xee;
	vqd_publish(&f->ctrl, vqd_add_chain(&f->ctrl, b, 2));
	virtio_dev_queue_notify(&f->vdev, 2);
	assert_true(vqd_get_used(&f->ctrl, &id, &len));
	assert_int_equal(p[32], VIRTIO_NET_ERR);
	assert_int_equal(pairs_in_use(f), 1);
}

static void no_ctrl_queue(void **state)
{
	struct fx *f = *state;
	struct virtio_net_stats st;
	uint32_t id, len;
	struct vqd_buf b[2] = { { CMD_GPA, 4, false }, { CMD_GPA + 32, 1, true } };

	start_mq(f, F(MQ) | F(CTRL_VQ));
	enable_q(f, &f->ctrl, CTRLQ, CTRL_GPA);
	virtio_dev_set_status(&f->vdev, f->vdev.status | VIRTIO_STATUS_DRIVER_OK);
	vqd_publish(&f->ctrl, vqd_add_chain(&f->ctrl, b, 2));
	virtio_dev_queue_notify(&f->vdev, CTRLQ);
	assert_false(vqd_get_used(&f->ctrl, &id, &len));
	virtio_net_get_stats(&f->vdev, &st);
	assert_int_equal(st.ctrl_ok + st.ctrl_errors, 0);
	assert_false(f->vdev.status & VIRTIO_STATUS_NEEDS_RESET);
}

/* One pair: the layout from before MQ, two queues and neither feature. */
static void one_pair_layout(void **state)
{
	struct fx *f = *state;

	start(f, true, 0);
	assert_int_equal(f->vdev.num_queues, 2);
	assert_false(f->vdev.host_features & (F(MQ) | F(CTRL_VQ)));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tx_hdr_checks),
		cmocka_unit_test(tap_offloads),
		T(offloads_off),
		T(tx_good_and_hostile),
		T(rx_mergeable),
		T(rx_waits_for_room),
		T(rx_one_buffer_each),
		T(rx_small_ring),
		T(rx_tiny_buffer),
		cmocka_unit_test(ctrl_checks),
		T(ctrl_queue_hostile),
		T(pairs_own_fds),
		T(ctrl_without_mq),
		T(no_ctrl_queue),
		T(one_pair_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
