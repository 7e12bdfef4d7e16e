// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the screen's RFB server (src/vmm/backends/rfb.c) over
 * socketpairs, without a VM: the handshakes (3.8, 3.7, 3.3), ServerInit,
 * whole and changed-rectangle updates in the server's and a client's pixel
 * format, key events through the hook and into the i8042's queue as set 1
 * scan codes; and what a hostile client sends (a bad version, a security
 * type it was not offered, a colour map, a huge ClientCutText, an unknown
 * message, random bytes, a ninth client) closing that client only.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/backends/rfb.h"
#include "vmm/devices/i8042.h"

struct rig {
	struct rfb r;
	uint32_t colour; /* what the fake display shows: one colour, a 4x4 box in another */
	uint32_t box_x, box_y; /* the box's place; box_w 0: no box */
	uint32_t box_w;
	uint32_t w, h; /* the display's size: RFB_WIDTH x RFB_HEIGHT unless a test changes it */
	int renders;
	uint32_t keys[16];
	bool downs[16];
	unsigned int nkeys;
};

/* A display that changes only where the test moves its box. */
static int fake_render(void *opaque, struct framebuffer *fb)
{
	struct rig *g = opaque;
	uint32_t x0 = g->w, y0 = g->h, x1 = 0, y1 = 0;
	bool resized = fb->width != g->w || fb->height != g->h;

	g->renders++;
	fb->width = g->w, fb->height = g->h;
	for (uint32_t y = 0; y < g->h; y++)
		for (uint32_t x = 0; x < g->w; x++) {
			bool in = g->box_w && x >= g->box_x && x < g->box_x + g->box_w &&
				  y >= g->box_y && y < g->box_y + g->box_w;
			uint32_t px = in ? 0x00ff0000 : g->colour;

			if (fb->pixels[y * fb->stride + x] == px && !resized)
				continue;
			fb->pixels[y * fb->stride + x] = px;
			x0 = x < x0 ? x : x0;
			y0 = y < y0 ? y : y0;
			x1 = x + 1 > x1 ? x + 1 : x1;
			y1 = y + 1 > y1 ? y + 1 : y1;
		}
	if (!x1) {
		fb->dirty_w = 0;
		return 0;
	}
	fb->dirty_x = x0, fb->dirty_y = y0, fb->dirty_w = x1 - x0, fb->dirty_h = y1 - y0;
	return 1;
}

static int fake_key(void *opaque, uint32_t keysym, bool down)
{
	struct rig *g = opaque;

	if (g->nkeys < 16) {
		g->keys[g->nkeys] = keysym;
		g->downs[g->nkeys++] = down;
	}
	return 0;
}

static int setup(void **state)
{
	struct rig *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	g->colour = 0x00102030;
	g->w = RFB_WIDTH, g->h = RFB_HEIGHT;
	assert_int_equal(rfb_open(&g->r, NULL, fake_render, g, fake_key, g, NULL), 0);
	*state = g;
	return 0;
}

static int teardown(void **state)
{
	struct rig *g = *state;

	rfb_close(&g->r);
	free(g);
	return 0;
}

/* A client: our end of a socketpair whose other end the server took. */
static int connect_client(struct rig *g)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	assert_int_equal(rfb_add_client(&g->r, sv[1]), 0);
	return sv[0];
}

/* Let the server run until n bytes are there for the client, and read them. */
static void expect_bytes(struct rig *g, int fd, void *buf, size_t n)
{
	size_t got = 0;

	for (int round = 0; got < n && round < 1000; round++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t k;

		rfb_poll_once(&g->r, 0);
		if (poll(&p, 1, 5) <= 0)
			continue;
		k = read(fd, (uint8_t *)buf + got, n - got);
		assert_true(k > 0);
		got += k;
	}
	assert_int_equal(got, n);
}

/* Whether the server closed this client (end of file after whatever it said). */
static bool closed(struct rig *g, int fd)
{
	uint8_t junk[256];

	for (int round = 0; round < 200; round++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		rfb_poll_once(&g->r, 0);
		if (poll(&p, 1, 5) <= 0)
			continue;
		ssize_t k = read(fd, junk, sizeof(junk));

		if (k == 0 || (k < 0 && errno == ECONNRESET))
			return true;
	}
	return false;
}

/* Nothing more for the client after a few rounds of the server. */
static bool silent(struct rig *g, int fd)
{
	for (int round = 0; round < 5; round++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		rfb_poll_once(&g->r, 0);
		if (poll(&p, 1, 10) > 0)
			return false;
	}
	return true;
}

static void send_all(int fd, const void *p, size_t n)
{
	assert_int_equal(write(fd, p, n), (ssize_t)n);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The 3.8 handshake up to and including ServerInit, checked. */
static int handshake(struct rig *g)
{
	int fd = connect_client(g);
	uint8_t b[64];

	expect_bytes(g, fd, b, 12);
	assert_memory_equal(b, "RFB 003.008\n", 12);
	send_all(fd, "RFB 003.008\n", 12);
	expect_bytes(g, fd, b, 2);
	assert_int_equal(b[0], 1); /* one security type */
	assert_int_equal(b[1], 1); /* None */
	send_all(fd, "\x01", 1);
	expect_bytes(g, fd, b, 4);
	assert_int_equal(be32(b), 0); /* SecurityResult ok */
	send_all(fd, "\x01", 1); /* ClientInit, shared */
	expect_bytes(g, fd, b, 24 + 7);
	assert_int_equal(be16(b), RFB_WIDTH);
	assert_int_equal(be16(b + 2), RFB_HEIGHT);
	assert_int_equal(b[4], 32); /* bpp */
	assert_int_equal(b[5], 24); /* depth */
	assert_int_equal(b[7], 1); /* true colour */
	assert_int_equal(b[14], 16); /* red shift: XRGB8888 */
	assert_int_equal(be32(b + 20), 7);
	assert_memory_equal(b + 24, "vps-vmm", 7);
	return fd;
}

static void request(int fd, bool incremental, uint16_t x, uint16_t y, uint16_t w, uint16_t h)
{
	uint8_t m[10] = { 3, incremental, x >> 8, x, y >> 8, y, w >> 8, w, h >> 8, h };

	send_all(fd, m, sizeof(m));
}

/* Read one FramebufferUpdate with one raw rectangle; its pixels into *px (malloc'd). */
static void read_update(struct rig *g, int fd, uint16_t rect[4], uint8_t **px, unsigned int bpp)
{
	uint8_t h[16];
	size_t n;

	expect_bytes(g, fd, h, 4);
	assert_int_equal(h[0], 0);
	assert_int_equal(be16(h + 2), 1);
	expect_bytes(g, fd, h, 12);
	for (int i = 0; i < 4; i++)
		rect[i] = be16(h + 2 * i);
	assert_int_equal(be32(h + 8), 0); /* raw */
	n = (size_t)rect[2] * rect[3] * bpp / 8;
	*px = malloc(n);
	assert_non_null(*px);
	expect_bytes(g, fd, *px, n);
}

static void test_update_whole_then_changed(void **state)
{
	struct rig *g = *state;
	int fd = handshake(g);
	uint16_t rect[4];
	uint8_t *px;

	request(fd, false, 0, 0, RFB_WIDTH, RFB_HEIGHT);
	read_update(g, fd, rect, &px, 32);
	assert_int_equal(rect[0], 0);
	assert_int_equal(rect[1], 0);
	assert_int_equal(rect[2], RFB_WIDTH);
	assert_int_equal(rect[3], RFB_HEIGHT);
	/* XRGB8888, little endian: B G R X */
	assert_int_equal(px[0], 0x30);
	assert_int_equal(px[1], 0x20);
	assert_int_equal(px[2], 0x10);
	assert_memory_equal(px, px + 4 * (RFB_WIDTH * RFB_HEIGHT - 1), 4);
	free(px);
	/* nothing changed: an incremental request waits */
	request(fd, true, 0, 0, RFB_WIDTH, RFB_HEIGHT);
	assert_true(silent(g, fd));
	/* a 4x4 box appears: only its rectangle is sent */
	g->box_x = 100, g->box_y = 50, g->box_w = 4;
	read_update(g, fd, rect, &px, 32);
	assert_int_equal(rect[0], 100);
	assert_int_equal(rect[1], 50);
	assert_int_equal(rect[2], 4);
	assert_int_equal(rect[3], 4);
	assert_int_equal(px[2], 0xff); /* red */
	assert_int_equal(px[0], 0);
	free(px);
	close(fd);
}

/* noVNC's format: 32 bpp with red in the low byte; and a 16-bit 5-6-5 big-endian one. */
static void test_client_pixel_formats(void **state)
{
	struct rig *g = *state;
	int fd = handshake(g);
	uint8_t fmt[20] = { 0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 0, 8, 16 };
	uint16_t rect[4];
	uint8_t *px;

	send_all(fd, fmt, sizeof(fmt));
	request(fd, false, 0, 0, 8, 8);
	read_update(g, fd, rect, &px, 32);
	assert_int_equal(px[0], 0x10); /* R G B X */
	assert_int_equal(px[1], 0x20);
	assert_int_equal(px[2], 0x30);
	free(px);
	uint8_t f16[20] = { 0, 0, 0, 0, 16, 16, 1, 1, 0, 31, 0, 63, 0, 31, 11, 5, 0 };

	send_all(fd, f16, sizeof(f16));
	request(fd, false, 0, 0, 2, 2);
	read_update(g, fd, rect, &px, 16);
	/* a whole update (the format changed); 0x102030 in 5-6-5 is 2, 8, 6: 0x1106, big endian */
	assert_int_equal(rect[2], RFB_WIDTH);
	assert_int_equal(px[0], 0x11);
	assert_int_equal(px[1], 0x06);
	free(px);
	close(fd);
}

static void test_handshake_37_and_33(void **state)
{
	struct rig *g = *state;
	int fd = connect_client(g);
	uint8_t b[64];

	expect_bytes(g, fd, b, 12);
	send_all(fd, "RFB 003.007\n", 12);
	expect_bytes(g, fd, b, 2);
	send_all(fd, "\x01\x00", 2); /* None, then ClientInit: 3.7 has no SecurityResult */
	expect_bytes(g, fd, b, 24 + 7);
	assert_int_equal(be16(b), RFB_WIDTH);
	close(fd);

	fd = connect_client(g);
	expect_bytes(g, fd, b, 12);
	send_all(fd, "RFB 003.003\n", 12);
	expect_bytes(g, fd, b, 4);
	assert_int_equal(be32(b), 1); /* the server's choice: None */
	send_all(fd, "\x00", 1);
	expect_bytes(g, fd, b, 24 + 7);
	assert_int_equal(be16(b + 2), RFB_HEIGHT);
	close(fd);
}

static void test_keys_reach_the_hook_and_the_keyboard(void **state)
{
	struct rig *g = *state;
	int fd = handshake(g);
	uint8_t press[8] = { 4, 1, 0, 0, 0, 0, 0xff, 0x0d }; /* Return down */
	uint8_t lift[8] = { 4, 0, 0, 0, 0, 0, 0xff, 0x0d };
	uint8_t pointer[6] = { 5, 1, 0, 10, 0, 10 };
	struct i8042 k;
	struct vm vm;
	uint8_t b;

	send_all(fd, press, 8);
	send_all(fd, pointer, 6);
	send_all(fd, lift, 8);
	for (int i = 0; i < 50 && g->nkeys < 2; i++)
		rfb_poll_once(&g->r, 5);
	assert_int_equal(g->nkeys, 2);
	assert_int_equal(g->keys[0], 0xff0d);
	assert_true(g->downs[0]);
	assert_false(g->downs[1]);
	close(fd);

	/* into the controller: set 1 make and break codes, extended keys with 0xe0 */
	memset(&vm, 0, sizeof(vm));
	assert_int_equal(i8042_init(&k, &vm, true), 0);
	assert_int_equal(i8042_keysym(&k, 'a', true), 0);
	assert_int_equal(i8042_keysym(&k, 'A', false), 0); /* the client holds shift itself */
	assert_int_equal(i8042_keysym(&k, 0xff52, true), 0); /* Up */
	assert_int_equal(i8042_keysym(&k, 0xffc9, true), 0); /* F12 */
	assert_int_equal(i8042_keysym(&k, 0x20ac, true), -EINVAL); /* EuroSign: no key */
	static const uint8_t want[] = { 0x1e, 0x9e, 0xe0, 0x48, 0x58 };

	for (size_t i = 0; i < sizeof(want); i++) {
		i8042_pio_read(&k, 0x60, &b, 1);
		assert_int_equal(b, want[i]);
	}
	/* a guest that reads nothing: keys are dropped, never queued past the queue */
	int r = 0;

	for (int i = 0; i < 400 && r == 0; i++)
		r = i8042_keysym(&k, 0xff52, i & 1);
	assert_int_equal(r, -ENOSPC);
	assert_true(k.q_len <= I8042_QUEUE);
	i8042_destroy(&k);
	memset(&vm, 0, sizeof(vm));
	assert_int_equal(i8042_init(&k, &vm, false), 0);
	assert_int_equal(i8042_keysym(&k, 'a', true), -ENODEV); /* kernel boot: no keyboard */
	i8042_destroy(&k);
}

/* After each attack the server still serves a well-behaved client. */
static void still_serves(struct rig *g)
{
	int fd = handshake(g);
	uint16_t rect[4];
	uint8_t *px;

	request(fd, false, 0, 0, 1, 1);
	read_update(g, fd, rect, &px, 32);
	free(px);
	close(fd);
}

static void test_hostile_clients_closed(void **state)
{
	struct rig *g = *state;
	uint8_t b[64];
	int fd;

	/* a version that is not RFB */
	fd = connect_client(g);
	expect_bytes(g, fd, b, 12);
	send_all(fd, "GET / HTTP/1", 12);
	assert_true(closed(g, fd));
	close(fd);
	still_serves(g);

	/* a security type it was not offered: the reason, then closed */
	fd = connect_client(g);
	expect_bytes(g, fd, b, 12);
	send_all(fd, "RFB 003.008\n", 12);
	expect_bytes(g, fd, b, 2);
	send_all(fd, "\x02", 1); /* VNC authentication */
	expect_bytes(g, fd, b, 8);
	assert_int_equal(be32(b), 1);
	assert_int_equal(be32(b + 4), strlen("security type not offered"));
	assert_true(closed(g, fd));
	close(fd);
	still_serves(g);

	/* a ClientCutText of 4 GiB */
	fd = handshake(g);
	send_all(fd, "\x06\0\0\0\xff\xff\xff\xff", 8);
	assert_true(closed(g, fd));
	close(fd);
	/* an unknown message type */
	fd = handshake(g);
	send_all(fd, "\x63", 1);
	assert_true(closed(g, fd));
	close(fd);
	/* a colour-map pixel format, and 24 bits per pixel */
	uint8_t map[20] = { 0, 0, 0, 0, 8, 8, 0, 0 };
	uint8_t b24[20] = { 0, 0, 0, 0, 24, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0 };
	uint8_t shift[20] = { 0, 0, 0, 0, 16, 16, 0, 1, 0, 255, 0, 255, 0, 255, 12, 5, 0 };

	fd = handshake(g);
	send_all(fd, map, 20);
	assert_true(closed(g, fd));
	close(fd);
	fd = handshake(g);
	send_all(fd, b24, 20);
	assert_true(closed(g, fd));
	close(fd);
	fd = handshake(g);
	send_all(fd, shift, 20); /* red's 8 bits from bit 12 overflow 16 */
	assert_true(closed(g, fd));
	close(fd);
	still_serves(g);
	assert_true(g->r.refused >= 6);
}

/* A small cut text and a long encodings list are read and dropped, the stream stays in step. */
static void test_cut_text_and_encodings_skipped(void **state)
{
	struct rig *g = *state;
	int fd = handshake(g);
	uint8_t enc[4 + 4 * 300] = { 2, 0, 300 >> 8, 300 & 0xff };
	uint16_t rect[4];
	uint8_t *px;

	send_all(fd, "\x06\0\0\0\0\0\0\x05hello", 13);
	send_all(fd, enc, sizeof(enc));
	request(fd, false, 0, 0, 3, 3);
	read_update(g, fd, rect, &px, 32);
	free(px);
	close(fd);
}

/*
 * A graphics mode of another size: a client that announced DesktopSize gets
 * the new size, then the whole frame in it; one that did not keeps its size
 * and gets the part that fits.
 */
static void test_desktop_size(void **state)
{
	static const uint8_t enc[] = { 2, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21 };
	struct rig *g = *state;
	int fd = handshake(g), old = handshake(g);
	uint16_t rect[4];
	uint8_t h[16], *px;

	send_all(fd, enc, sizeof(enc)); /* raw, DesktopSize (-223) */
	request(fd, false, 0, 0, RFB_WIDTH, RFB_HEIGHT);
	read_update(g, fd, rect, &px, 32);
	free(px);
	request(old, false, 0, 0, RFB_WIDTH, RFB_HEIGHT);
	read_update(g, old, rect, &px, 32);
	free(px);
	g->w = 800, g->h = 600, g->colour = 0x00405060;
	request(fd, true, 0, 0, RFB_WIDTH, RFB_HEIGHT);
	expect_bytes(g, fd, h, 4);
	assert_int_equal(h[0], 0);
	assert_int_equal(be16(h + 2), 2);
	expect_bytes(g, fd, h, 12);
	assert_int_equal(be16(h + 4), 800);
	assert_int_equal(be16(h + 6), 600);
	assert_int_equal(be32(h + 8), (uint32_t)RFB_DESKTOP_SIZE);
	expect_bytes(g, fd, h, 12);
	assert_int_equal(be16(h + 4), 800);
	assert_int_equal(be16(h + 6), 600);
	assert_int_equal(be32(h + 8), 0);
	px = malloc(800 * 600 * 4);
	assert_non_null(px);
	expect_bytes(g, fd, px, 800 * 600 * 4);
	assert_int_equal(px[(800 * 600 - 1) * 4 + 2], 0x40); /* the last pixel, new colour */
	free(px);
	/* the old client: its 640x400, even when it asks for more */
	request(old, false, 0, 0, 0xffff, 0xffff);
	read_update(g, old, rect, &px, 32);
	assert_int_equal(rect[2], RFB_WIDTH);
	assert_int_equal(rect[3], RFB_HEIGHT);
	assert_int_equal(px[2], 0x40);
	free(px);
	close(old);
	close(fd);
}

static void test_random_bytes_and_too_many_clients(void **state)
{
	struct rig *g = *state;
	int fds[RFB_MAX_CLIENTS + 1], sv[2];
	uint8_t junk[4096];
	unsigned int seed = 42;

	/* random bytes after a good handshake, many times: closed or ignored, never a crash */
	for (int round = 0; round < 200; round++) {
		int fd = handshake(g);

		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = rand_r(&seed);
		send_all(fd, junk, 1 + rand_r(&seed) % sizeof(junk));
		for (int i = 0; i < 3; i++)
			rfb_poll_once(&g->r, 0);
		close(fd);
		rfb_poll_once(&g->r, 0);
	}
	still_serves(g);
	/* a ninth client at once is turned away */
	for (int i = 0; i < 3; i++) /* still_serves's client hung up: the server notices */
		rfb_poll_once(&g->r, 0);
	for (int i = 0; i < RFB_MAX_CLIENTS; i++)
		assert_int_equal(g->r.c[i].fd, -1);
	for (int i = 0; i < RFB_MAX_CLIENTS; i++)
		fds[i] = connect_client(g);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(rfb_add_client(&g->r, sv[1]), -EBUSY);
	fds[RFB_MAX_CLIENTS] = sv[0];
	assert_int_equal(read(sv[0], junk, 1), 0); /* closed */
	for (int i = 0; i <= RFB_MAX_CLIENTS; i++)
		close(fds[i]);
	for (int i = 0; i < 3; i++)
		rfb_poll_once(&g->r, 0);
	still_serves(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_update_whole_then_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_pixel_formats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_37_and_33, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_reach_the_hook_and_the_keyboard, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hostile_clients_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_text_and_encodings_skipped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_desktop_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_bytes_and_too_many_clients, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
