/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The screen's server: RFB 3.8 (RFC 6143, "VNC") on a unix socket, the
 * display backend as console.h is the serial line's. A thread of its own
 * accepts clients (vpsd's bridge, docs/screen.md), renders the display into
 * a framebuffer (framebuffer.h) when a client has asked for an update and
 * at most every RFB_FRAME_MS while one waits, and sends each client the
 * rectangle that changed since its last update, raw-encoded in the pixel
 * format it asked for. Key events go to the guest's PS/2 keyboard through
 * a hook (i8042_keysym); pointer events and cut text are read and dropped.
 *
 * Security type None: the socket (0600, root's, in a run directory only
 * root reaches) is the access control, as for QEMU's vnc.sock.
 *
 * Hostile input: a client is a small state machine over a bounded input
 * buffer; a bad version, a security type it was not offered, an unknown
 * message, a colour-map pixel format or cut text beyond RFB_CUT_MAX closes
 * that client and nothing else. A client that does not read is not waited
 * for: its output stays queued (one update at most) and it gets no more.
 */
#ifndef VPS_VMM_RFB_H
#define VPS_VMM_RFB_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "vmm/devices/framebuffer.h"

#define RFB_MAX_CLIENTS 8 /* vpsd allows 4 sessions per user; more are turned away */
#define RFB_FRAME_MS 40 /* renders at most 25 times a second while a client waits */
#define RFB_CUT_MAX 65536 /* ClientCutText beyond this closes the client */
#define RFB_WIDTH 640 /* the size at start: the text mode's 80x25 cells of 8x16 (vga_render) */
#define RFB_HEIGHT 400
#define RFB_DESKTOP_SIZE (-223) /* the pseudo-encoding a client takes size changes by */

/* What a client asked for pixels to look like (RFC 6143 §7.4). */
struct rfb_format {
	uint8_t bpp; /* 8, 16 or 32 */
	bool big_endian;
	uint16_t max[3]; /* red, green, blue */
	uint8_t shift[3];
};

struct rfb_client {
	int fd; /* -1: a free slot */
	enum { RFB_VERSION, RFB_SECURITY, RFB_INIT, RFB_NORMAL } state;
	unsigned int minor; /* 3, 7 or 8 */
	uint8_t in[32]; /* the message being read; cut text is skipped, not kept */
	size_t in_len;
	uint32_t skip; /* bytes of cut text (or encodings) still to read and drop */
	uint32_t skip_encodings; /* SetEncodings entries still to read */
	bool desktop_size; /* it takes RFB_DESKTOP_SIZE: told when the display's size changes */
	uint32_t w, h; /* the size it knows (ServerInit, then each DesktopSize) */
	struct rfb_format fmt;
	bool want; /* a FramebufferUpdateRequest is outstanding */
	uint32_t dx0, dy0, dx1, dy1; /* what changed since its last update; dx1 == 0: nothing */
	uint8_t *out; /* queued output not yet taken by the client */
	size_t out_len, out_off, out_cap;
	uint64_t keys; /* key events passed on */
};

struct rfb {
	int listen_fd;
	int wake_fd; /* eventfd: stop the thread */
	struct framebuffer *fb;
	/* render the display into fb: 1 when it changed (fb->dirty_*), 0 when not */
	int (*render)(void *opaque, struct framebuffer *fb);
	void *render_opaque;
	/* one key down or up, an X keysym (RFC 6143 §7.5.4); NULL: keys are dropped */
	int (*key)(void *opaque, uint32_t keysym, bool down);
	void *key_opaque;
	struct rfb_client c[RFB_MAX_CLIENTS];
	pthread_t thread;
	bool thread_started;
	char *path;
	uint64_t last_render_ms;
	uint64_t refused; /* clients closed for what they sent, or turned away */
};

/* Listen at path (0600; a stale socket replaced) before the jail. */
int rfb_open(struct rfb *r, const char *path, int (*render)(void *, struct framebuffer *),
	     void *render_opaque, int (*key)(void *, uint32_t, bool), void *key_opaque,
	     struct err **err);
/* Serve on a thread of its own (jail class JAIL_IO). */
int rfb_start(struct rfb *r);
/* Stop the thread, close the clients and the socket; unlink path unless jailed. */
void rfb_close(struct rfb *r);

/*
 * One round of the loop: wait at most timeout_ms (-1: until something
 * happens) for the listening socket, the clients and the wake eventfd, then
 * serve. 1 when woken to stop, 0 otherwise. For the unit tests, which drive
 * it without a thread; rfb_open() with path NULL makes no socket.
 */
int rfb_poll_once(struct rfb *r, int timeout_ms);
/* Take a connected client (for the unit tests: one end of a socketpair). */
int rfb_add_client(struct rfb *r, int fd);

#endif
