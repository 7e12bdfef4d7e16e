// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: vps-vmm's RFB server (src/vmm/backends/rfb.c) as a hostile
 * client drives it through vpsd's bridge: the fuzzer's bytes go to the
 * server over a socketpair from the first byte of the version handshake on,
 * in pieces of the sizes the input's first byte picks, while the display
 * changes between rounds (so updates in any pixel format are built and
 * sent) and key events go into a real i8042 with its keyboard. Whatever the
 * server answers is read and dropped; what it holds queued for the client
 * must stay within one whole update.
 *
 * Input: one byte (piece size), then the bytes a client sends.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "vmm/backends/rfb.h"
#include "vmm/devices/i8042.h"

#define MAX_INPUT 65536

static struct rfb r;
static struct vm vm;
static struct i8042 kbd;
static unsigned int frame;

/* A display whose one changing cell moves every render. */
FUZZ_NOCOV
static int render(void *opaque, struct framebuffer *fb)
{
	uint32_t x = (frame * 8) % RFB_WIDTH, y = (frame * 16 / RFB_WIDTH * 16) % RFB_HEIGHT;

	(void)opaque;
	frame++;
	for (uint32_t dy = 0; dy < 16; dy++)
		for (uint32_t dx = 0; dx < 8; dx++)
			fb->pixels[(y + dy) * fb->stride + x + dx] = frame * 0x010203;
	fb->dirty_x = x, fb->dirty_y = y, fb->dirty_w = 8, fb->dirty_h = 16;
	return 1;
}

FUZZ_NOCOV
static int key(void *opaque, uint32_t keysym, bool down)
{
	return i8042_keysym(opaque, keysym, down);
}

FUZZ_NOCOV
static void drain(int fd)
{
	static uint8_t sink[1 << 16];

	while (read(fd, sink, sizeof(sink)) > 0)
		;
}

/* The server and keyboard once (the framebuffer is 3 MiB); a new client per input. */
FUZZ_NOCOV
static void build(void)
{
	static bool built;

	if (built)
		return;
	vm.vm_fd = vm.kvm_fd = vm.stop_efd = -1;
	if (i8042_init(&kbd, &vm, true) < 0 ||
	    rfb_open(&r, NULL, render, NULL, key, &kbd, NULL) < 0)
		abort();
	built = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t piece, off = 1;
	int sv[2];

	if (size < 1 || size > MAX_INPUT)
		return 0;
	build();
	kbd.q_len = 0;
	kbd.out_full = false;
	piece = 1 + data[0] % 64;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0 ||
	    rfb_add_client(&r, sv[1]) < 0)
		abort();
	while (off < size) {
		size_t n = size - off < piece ? size - off : piece;
		ssize_t w = write(sv[0], data + off, n);

		if (w <= 0) /* closed by the server, or its buffer full: let it run */
			w = 0;
		off += w;
		r.last_render_ms = 0; /* a render each round, as if a frame's time had passed */
		rfb_poll_once(&r, 0);
		drain(sv[0]);
		if (r.c[0].fd < 0)
			break;
		/* the keyboard's queue drains as a guest would read it */
		for (int i = 0; i < 4 && kbd.q_len; i++) {
			uint8_t b;

			i8042_pio_read(&kbd, 0x60, &b, 1);
		}
	}
	/* what the server holds for a client stays bounded: one update and the handshake's bytes */
	if (r.c[0].fd >= 0 && r.c[0].out_len > 16 + (size_t)RFB_WIDTH * RFB_HEIGHT * 4 + 64)
		__builtin_trap();
	/* the client hangs up: the server lets go of it at once */
	close(sv[0]);
	for (int i = 0; i < 4 && r.c[0].fd >= 0; i++)
		rfb_poll_once(&r, 0);
	if (r.c[0].fd >= 0)
		__builtin_trap();
	return 0;
}
