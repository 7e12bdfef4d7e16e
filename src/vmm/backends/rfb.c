// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The screen's RFB server: see rfb.h. One thread polls the listening
 * socket, the clients and a wake eventfd. RFC 6143: the version handshake
 * (§7.1.1; 3.3, 3.7 and 3.8, anything else closed), security type None
 * (§7.2.1), ServerInit with XRGB8888 as the server's format (§7.3.2), and
 * the client messages of §7.5, of which SetPixelFormat, FramebufferUpdate
 * Request and KeyEvent do something. Updates are one raw rectangle (§7.7.1):
 * the bounding box of what changed since the client's last update.
 *
 * Why not libvncserver: Debian 12 ships it as a shared library only
 * (no libvncserver.a), so the monitor, linked statically for its start time
 * and memory, could not take it; linked dynamically it brings gnutls,
 * gcrypt, sasl2, jpeg and lzo into every jailed monitor (a program that only
 * initialises a libvncserver screen has 4.9 MiB resident, the whole monitor
 * 2.5 MiB) and their calls into its seccomp filter. The part of RFB a
 * screen behind vpsd needs is this file.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "sys/unix.h"
#include "vmm/backends/rfb.h"
#include "vmm/jail.h"

#define RFB_NAME "vps-vmm"
#define OUT_KEEP 65536 /* a drained output buffer larger than this is freed */

/* The server's own pixel format: what framebuffer.h holds (§7.4). */
static const struct rfb_format xrgb = { .bpp = 32,
					.max = { 255, 255, 255 },
					.shift = { 16, 8, 0 } };

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint8_t *put16(uint8_t *o, uint16_t v)
{
	o[0] = v >> 8;
	o[1] = v;
	return o + 2;
}

static uint8_t *put32(uint8_t *o, uint32_t v)
{
	o[0] = v >> 24;
	o[1] = v >> 16;
	o[2] = v >> 8;
	o[3] = v;
	return o + 4;
}

static void drop(struct rfb_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Room for n more bytes of output; NULL when memory runs out. */
static uint8_t *out_room(struct rfb_client *c, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_len + n;
		uint8_t *p = realloc(c->out, cap);

		if (!p)
			return NULL;
		c->out = p;
		c->out_cap = cap;
	}
	return c->out + c->out_len;
}

static int queue(struct rfb_client *c, const void *p, size_t n)
{
	uint8_t *o = out_room(c, n);

	if (!o)
		return -ENOMEM;
	memcpy(o, p, n);
	c->out_len += n;
	return 0;
}

/* Send what is queued without waiting: 0 (done, or the rest waits for POLLOUT), or -errno. */
static int flush(struct rfb_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		c->out_off += n;
	}
	c->out_len = c->out_off = 0;
	if (c->out_cap > OUT_KEEP) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	return 0;
}

static void mark(struct rfb_client *c, uint32_t x0, uint32_t y0, uint32_t x1, uint32_t y1)
{
	if (x1 <= x0 || y1 <= y0)
		return;
	if (c->dx1 == 0) {
		c->dx0 = x0, c->dy0 = y0, c->dx1 = x1, c->dy1 = y1;
		return;
	}
	c->dx0 = x0 < c->dx0 ? x0 : c->dx0;
	c->dy0 = y0 < c->dy0 ? y0 : c->dy0;
	c->dx1 = x1 > c->dx1 ? x1 : c->dx1;
	c->dy1 = y1 > c->dy1 ? y1 : c->dy1;
}

static void put_pixel(uint8_t *o, const struct rfb_format *f, uint32_t px)
{
	uint32_t rgb[3] = { px >> 16 & 0xff, px >> 8 & 0xff, px & 0xff }, v = 0;
	unsigned int bytes = f->bpp / 8;

	for (int i = 0; i < 3; i++)
		v |= (rgb[i] * f->max[i] + 127) / 255 << f->shift[i];
	for (unsigned int i = 0; i < bytes; i++)
		o[f->big_endian ? bytes - 1 - i : i] = v >> 8 * i;
}

/* One FramebufferUpdate (§7.6.1) with one raw rectangle: what changed for this client. */
static int send_update(struct rfb *r, struct rfb_client *c)
{
	const struct framebuffer *fb = r->fb;
	uint32_t x0 = c->dx0, y0 = c->dy0, x1 = c->dx1, y1 = c->dy1, w, h;
	unsigned int bytes = c->fmt.bpp / 8;
	uint8_t *o;

	bool resize = c->desktop_size && (c->w != fb->width || c->h != fb->height) && fb->width &&
		      fb->height;

	if (resize) { /* the new size first, then the whole frame in it */
		c->w = fb->width;
		c->h = fb->height;
		x0 = y0 = 0;
		x1 = c->w;
		y1 = c->h;
	}
	/* a client that takes no size change keeps its size: fb's rows are FB_MAX_WIDTH wide */
	x1 = x1 > c->w ? c->w : x1;
	y1 = y1 > c->h ? c->h : y1;
	c->dx0 = c->dy0 = c->dx1 = c->dy1 = 0;
	c->want = false;
	if (x1 <= x0 || y1 <= y0) /* asked for nothing on the screen: an empty update */
		x0 = y0 = x1 = y1 = 0;
	w = x1 - x0;
	h = y1 - y0;
	o = out_room(c, 28 + (size_t)w * h * bytes);
	if (!o)
		return -ENOMEM;
	*o++ = 0; /* FramebufferUpdate */
	*o++ = 0;
	o = put16(o, (w && h ? 1 : 0) + resize);
	if (resize) /* §7.8.2 */
		o = put32(put16(put16(put16(put16(o, 0), 0), c->w), c->h),
			  (uint32_t)RFB_DESKTOP_SIZE);
	if (w && h) {
		o = put16(put16(put16(put16(o, x0), y0), w), h);
		o = put32(o, 0); /* raw */
		for (uint32_t y = y0; y < y1; y++)
			for (uint32_t x = x0; x < x1; x++, o += bytes)
				put_pixel(o, &c->fmt, fb->pixels[y * fb->stride + x]);
	}
	c->out_len = o - c->out;
	return flush(c);
}

/* §7.1.1: "RFB 003.00x\n"; 3.7 and 3.8 as themselves, other 3.x as 3.3, the rest closed. */
static int on_version(struct rfb_client *c)
{
	static const uint8_t types[] = { 1, 1 }; /* one type: None */
	static const uint8_t none33[] = { 0, 0, 0, 1 };
	const uint8_t *v = c->in;
	unsigned int minor;

	if (memcmp(v, "RFB 003.", 8) || v[11] != '\n' || v[8] < '0' || v[8] > '9' || v[9] < '0' ||
	    v[9] > '9' || v[10] < '0' || v[10] > '9')
		return -EPROTO;
	minor = (v[8] - '0') * 100 + (v[9] - '0') * 10 + (v[10] - '0');
	c->minor = minor >= 8 ? 8 : minor == 7 ? 7 : 3;
	if (c->minor == 3) { /* the server picks the type (§7.2, 3.3) */
		c->state = RFB_INIT;
		return queue(c, none33, sizeof(none33));
	}
	c->state = RFB_SECURITY;
	return queue(c, types, sizeof(types));
}

static int on_security(struct rfb_client *c)
{
	static const char why[] = "security type not offered";
	uint8_t fail[8 + sizeof(why) - 1];

	if (c->in[0] != 1) {
		if (c->minor == 8) { /* SecurityResult failed, with the reason (§7.1.3) */
			put32(put32(fail, 1), sizeof(why) - 1);
			memcpy(fail + 8, why, sizeof(why) - 1);
			queue(c, fail, sizeof(fail));
			flush(c);
		}
		return -EPROTO;
	}
	c->state = RFB_INIT;
	if (c->minor == 8) {
		static const uint8_t ok[4] = { 0 };

		return queue(c, ok, sizeof(ok));
	}
	return 0;
}

/* ClientInit (the shared flag: every client shares) -> ServerInit (§7.3.2). */
static int on_init(struct rfb *r, struct rfb_client *c)
{
	uint8_t m[24 + sizeof(RFB_NAME) - 1] = { 0 }, *o = m;

	c->w = r->fb->width;
	c->h = r->fb->height;
	o = put16(put16(o, c->w), c->h);
	*o++ = 32; /* bits per pixel */
	*o++ = 24; /* depth */
	*o++ = 0; /* little endian */
	*o++ = 1; /* true colour */
	o = put16(put16(put16(o, 255), 255), 255);
	*o++ = 16;
	*o++ = 8;
	*o++ = 0;
	o += 3; /* padding */
	o = put32(o, sizeof(RFB_NAME) - 1);
	memcpy(o, RFB_NAME, sizeof(RFB_NAME) - 1);
	c->state = RFB_NORMAL;
	c->fmt = xrgb;
	mark(c, 0, 0, c->w, c->h); /* it has nothing yet, whatever it asks */
	return queue(c, m, sizeof(m));
}

/* SetPixelFormat (§7.5.1): true colour in 8, 16 or 32 bits; no colour maps. */
static int on_pixel_format(struct rfb_client *c)
{
	const uint8_t *p = c->in + 4;
	struct rfb_format f = { .bpp = p[0], .big_endian = p[2] != 0 };

	if ((f.bpp != 8 && f.bpp != 16 && f.bpp != 32) || !p[3])
		return -EPROTO;
	for (int i = 0; i < 3; i++) {
		f.max[i] = be16(p + 4 + 2 * i);
		f.shift[i] = p[10 + i];
		/* every component's bits inside the pixel */
		if (!f.max[i] || f.shift[i] >= f.bpp ||
		    ((uint64_t)f.max[i] << f.shift[i]) >= (1ULL << f.bpp))
			return -EPROTO;
	}
	c->fmt = f;
	return 0;
}

/* The bytes a complete message of this state and first byte takes; 0: unknown type. */
static size_t need(const struct rfb_client *c)
{
	switch (c->state) {
	case RFB_VERSION:
		return 12;
	case RFB_SECURITY:
	case RFB_INIT:
		return 1;
	case RFB_NORMAL:
		break;
	}
	if (c->skip_encodings)
		return 4; /* one SetEncodings entry */
	if (c->in_len == 0)
		return 1;
	switch (c->in[0]) {
	case 0: /* SetPixelFormat */
		return 20;
	case 2: /* SetEncodings: raw is all we send; of the list, DesktopSize counts */
		return 4;
	case 3: /* FramebufferUpdateRequest */
		return 10;
	case 4: /* KeyEvent */
		return 8;
	case 5: /* PointerEvent */
		return 6;
	case 6: /* ClientCutText */
		return 8;
	}
	return 0;
}

static int on_message(struct rfb *r, struct rfb_client *c)
{
	const uint8_t *m = c->in;

	switch (c->state) {
	case RFB_VERSION:
		return on_version(c);
	case RFB_SECURITY:
		return on_security(c);
	case RFB_INIT:
		return on_init(r, c);
	case RFB_NORMAL:
		break;
	}
	if (c->skip_encodings) {
		c->skip_encodings--;
		c->desktop_size |= be32(m) == (uint32_t)RFB_DESKTOP_SIZE;
		return 0;
	}
	switch (m[0]) {
	case 0:
		if (on_pixel_format(c) < 0)
			return -EPROTO;
		mark(c, 0, 0, c->w, c->h); /* old pixels are in the old format */
		return 0;
	case 2:
		c->skip_encodings = be16(m + 2);
		c->desktop_size = false;
		return 0;
	case 3: {
		uint32_t x = be16(m + 2), y = be16(m + 4), w = be16(m + 6), h = be16(m + 8);

		c->want = true;
		if (!m[1]) /* not incremental: the whole area, changed or not */
			mark(c, x, y, x + w > c->w ? c->w : x + w, y + h > c->h ? c->h : y + h);
		return 0;
	}
	case 4:
		c->keys++;
		if (r->key)
			r->key(r->key_opaque, be32(m + 4), m[1] != 0);
		return 0;
	case 5: /* no pointer yet: the mouse port answers but never moves */
		return 0;
	case 6:
		c->skip = be32(m + 4);
		return c->skip > RFB_CUT_MAX ? -EMSGSIZE : 0;
	}
	return -EPROTO;
}

/* Bytes from a client, through the state machine; -errno closes it. */
static int feed(struct rfb *r, struct rfb_client *c, const uint8_t *p, size_t n)
{
	while (n) {
		size_t want, k;
		int ret;

		if (c->skip) {
			k = c->skip < n ? c->skip : n;
			c->skip -= k;
			p += k, n -= k;
			continue;
		}
		want = need(c);
		if (want == 0 || want > sizeof(c->in))
			return -EPROTO;
		k = want - c->in_len < n ? want - c->in_len : n;
		memcpy(c->in + c->in_len, p, k);
		c->in_len += k;
		p += k, n -= k;
		if (c->in_len < want)
			continue;
		if (need(c) != want) { /* the type byte alone: the rest, unless it is unknown */
			if (need(c) == 0)
				return -EPROTO;
			continue;
		}
		ret = on_message(r, c);
		c->in_len = 0;
		if (ret < 0)
			return ret;
	}
	return 0;
}

int rfb_add_client(struct rfb *r, int fd)
{
	static const char version[] = "RFB 003.008\n";
	struct rfb_client *c = NULL;

	for (unsigned int i = 0; i < RFB_MAX_CLIENTS && !c; i++)
		if (r->c[i].fd < 0)
			c = &r->c[i];
	if (!c) {
		r->refused++;
		pr_ratelimited(LOG_WARN, "screen: %d clients already, one turned away",
			       RFB_MAX_CLIENTS);
		close(fd);
		return -EBUSY;
	}
	c->fd = fd;
	c->state = RFB_VERSION;
	if (queue(c, version, sizeof(version) - 1) < 0 || flush(c) < 0) {
		drop(c);
		return -EPIPE;
	}
	return 0;
}

static void read_client(struct rfb *r, struct rfb_client *c)
{
	uint8_t buf[4096];
	ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	int ret;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop(c);
		return;
	}
	ret = feed(r, c, buf, n);
	if (ret == 0)
		ret = flush(c);
	if (ret < 0) {
		if (ret == -EPROTO || ret == -EMSGSIZE) {
			r->refused++;
			pr_ratelimited(LOG_WARN, "screen: a client sent what RFB does not: closed");
		}
		drop(c);
	}
}

/* Render when a client waits and a frame's time has passed; send what changed. */
static int serve_updates(struct rfb *r)
{
	uint64_t now = log_now_ms();
	bool waiting = false;
	int timeout = -1;

	for (unsigned int i = 0; i < RFB_MAX_CLIENTS; i++)
		waiting |= r->c[i].fd >= 0 && r->c[i].state == RFB_NORMAL && r->c[i].want;
	if (!waiting)
		return -1;
	if (now - r->last_render_ms >= RFB_FRAME_MS) {
		r->last_render_ms = now;
		if (r->render(r->render_opaque, r->fb) > 0 && r->fb->dirty_w)
			for (unsigned int i = 0; i < RFB_MAX_CLIENTS; i++)
				if (r->c[i].fd >= 0 && r->c[i].state == RFB_NORMAL)
					mark(&r->c[i], r->fb->dirty_x, r->fb->dirty_y,
					     r->fb->dirty_x + r->fb->dirty_w,
					     r->fb->dirty_y + r->fb->dirty_h);
	}
	for (unsigned int i = 0; i < RFB_MAX_CLIENTS; i++) {
		struct rfb_client *c = &r->c[i];

		if (c->fd < 0 || c->state != RFB_NORMAL || !c->want)
			continue;
		if (c->dx1 && c->out_len == 0) {
			if (send_update(r, c) < 0)
				drop(c);
		} else {
			/* nothing new yet: look again in a frame's time */
			timeout = RFB_FRAME_MS;
		}
	}
	return timeout;
}

int rfb_poll_once(struct rfb *r, int timeout_ms)
{
	struct pollfd pfd[2 + RFB_MAX_CLIENTS];
	int t = serve_updates(r);

	if (t >= 0 && (timeout_ms < 0 || t < timeout_ms))
		timeout_ms = t;
	pfd[0] = (struct pollfd){ .fd = r->wake_fd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = r->listen_fd, .events = POLLIN };
	for (unsigned int i = 0; i < RFB_MAX_CLIENTS; i++)
		pfd[2 + i] = (struct pollfd){
			.fd = r->c[i].fd,
			/* a client with output queued is not read until it takes it */
			.events = r->c[i].out_len ? POLLOUT : POLLIN,
		};
	if (poll(pfd, 2 + RFB_MAX_CLIENTS, timeout_ms) < 0)
		return errno == EINTR ? 0 : -errno;
	if (pfd[0].revents)
		return 1;
	if (pfd[1].revents & POLLIN) {
		int fd = accept4(r->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0)
			rfb_add_client(r, fd);
	}
	for (unsigned int i = 0; i < RFB_MAX_CLIENTS; i++) {
		struct rfb_client *c = &r->c[i];
		short ev = pfd[2 + i].revents;

		if (c->fd < 0 || !ev)
			continue;
		if (ev & POLLOUT) {
			if (flush(c) < 0)
				drop(c);
		} else if (ev & (POLLIN | POLLHUP | POLLERR)) {
			read_client(r, c);
		}
	}
	serve_updates(r);
	return 0;
}

static void *rfb_thread(void *arg)
{
	struct rfb *r = arg;

	prctl(PR_SET_NAME, "rfb", 0, 0, 0); /* before the narrower filter, which has no prctl */
	if (jail_thread(JAIL_IO) < 0)
		return NULL;
	while (rfb_poll_once(r, -1) == 0)
		;
	return NULL;
}

int rfb_open(struct rfb *r, const char *path, int (*render)(void *, struct framebuffer *),
	     void *render_opaque, int (*key)(void *, uint32_t, bool), void *key_opaque,
	     struct err **err)
{
	memset(r, 0, sizeof(*r));
	r->listen_fd = -1;
	for (unsigned int i = 0; i < RFB_MAX_CLIENTS; i++)
		r->c[i].fd = -1;
	r->render = render;
	r->render_opaque = render_opaque;
	r->key = key;
	r->key_opaque = key_opaque;
	r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->wake_fd < 0)
		return err_make(err, errno, "`vnc`: eventfd");
	/* the pixels are touched as they are drawn: 640x400 of the 1024x768 are resident */
	r->fb = calloc(1, sizeof(*r->fb));
	if (!r->fb) {
		rfb_close(r);
		return err_make(err, ENOMEM, "`vnc`: framebuffer");
	}
	/* what a client has before its first update: black, the size the text mode renders */
	r->fb->width = RFB_WIDTH;
	r->fb->height = RFB_HEIGHT;
	r->fb->stride = FB_MAX_WIDTH;
	if (!path)
		return 0;
	/* a jailed monitor before us (a guest reboot) could not remove its socket: replaced */
	r->listen_fd = unix_listen(path, 0600, SOCK_NONBLOCK, RFB_MAX_CLIENTS);
	if (r->listen_fd < 0) {
		int ret = err_make(err, -r->listen_fd, "`vnc`: listen at `%s`", path);

		rfb_close(r);
		return ret;
	}
	r->path = strdup(path);
	if (!r->path) {
		rfb_close(r);
		return err_make(err, ENOMEM, "`vnc`");
	}
	return 0;
}

int rfb_start(struct rfb *r)
{
	int ret = pthread_create(&r->thread, NULL, rfb_thread, r);

	if (ret)
		return -ret;
	r->thread_started = true;
	return 0;
}

void rfb_close(struct rfb *r)
{
	uint64_t one = 1;

	if (r->thread_started) {
		if (write(r->wake_fd, &one, sizeof(one)) < 0)
			pr_warn("stop the screen thread: %s", strerror(errno));
		pthread_join(r->thread, NULL);
		r->thread_started = false;
	}
	for (unsigned int i = 0; i < RFB_MAX_CLIENTS; i++)
		if (r->c[i].fd >= 0)
			drop(&r->c[i]);
	if (r->listen_fd >= 0)
		close(r->listen_fd);
	/* jailed, the path is out of reach: the next monitor's rfb_open replaces it */
	if (r->path && !jail_active())
		unlink(r->path);
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	free(r->path);
	free(r->fb);
	r->path = NULL;
	r->fb = NULL;
	r->listen_fd = r->wake_fd = -1;
}
