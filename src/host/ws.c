// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The browser's sockets to a VPS (docs/console-ws.md, docs/screen.md): a
 * WebSocket (RFC 6455) bridged byte for byte to a unix socket of the VPS's
 * run directory: GET /api/v1/vps/NAME/console/ws to its console socket, the
 * one `vps console` attaches to (the last 64 KiB replayed on connect), and
 * GET /api/v1/vps/NAME/vnc to its screen's RFB socket (subprotocol
 * `binary`, as noVNC asks). The router in api.c authenticates and checks
 * the VPS first; here are the handshake, the frame parser (a pure function
 * over a buffer, so the unit tests can feed it hostile input) and a thread
 * per session that copies the socket's bytes into binary frames and the
 * client's data frames into the socket. Both kinds of session share one
 * table and its limits.
 *
 * The bridge runs on a thread of its own, not in MHD's upgrade callback:
 * under HTTPS MHD forwards the TLS stream through a socketpair on the
 * connection's thread only once that callback has returned.
 */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "host/peer.h"
#include "host/reply.h"
#include "host/ws.h"
#include "sys/unix.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" /* RFC 6455 §1.3 */
#define WS_MAX_SESSIONS 64 /* bridges at once (each holds a thread, 2 fds, up to 1 MiB) */
#define WS_MAX_PER_USER 4 /* of them one user's: one customer cannot take them all */
#define WS_USER_MAX 64
#define CHUNK 16384 /* socket bytes per frame */
#define IN_START 65536 /* first size of a session's input buffer */
#define PING_MS 30000 /* a ping after this much quiet, to find dead peers */
#define DEAD_MS (3 * PING_MS) /* nothing from the client this long: it is gone */
#define SEND_MS 30000 /* a write that cannot proceed this long ends the session */
#define LINGER_MS 2000 /* after our close frame, wait this long for the client's */
#define PENDING_MS 60000 /* a 101 queued this long ago and never upgraded: its slot is free */
#define STOP_MS 5000 /* ws_shutdown() waits this long for the bridges to end */

/* --- the frame format (pure) ------------------------------------------------------- */

int ws_parse(const uint8_t *buf, size_t len, struct ws_frame *f)
{
	size_t need = 2;
	uint64_t pl;

	memset(f, 0, sizeof(*f));
	if (len < 2)
		return 0;
	f->fin = buf[0] & 0x80;
	f->opcode = buf[0] & 0x0f;
	if (buf[0] & 0x70)
		return -EPROTO; /* RSV1-3: we negotiate no extension (§5.2) */
	switch (f->opcode) {
	case WS_CONT:
	case WS_TEXT:
	case WS_BINARY:
	case WS_CLOSE:
	case WS_PING:
	case WS_PONG:
		break;
	default:
		return -EPROTO; /* reserved opcodes */
	}
	if (!(buf[1] & 0x80))
		return -EPROTO; /* a client masks every frame (§5.1) */
	pl = buf[1] & 0x7f;
	if ((f->opcode & 0x8) && (!f->fin || pl > WS_MAX_CONTROL))
		return -EPROTO; /* control frames: not fragmented, at most 125 bytes (§5.5) */
	if (pl == 126)
		need += 2;
	else if (pl == 127)
		need += 8;
	need += 4; /* the masking key */
	if (len < need)
		return 0;
	if (pl == 126) {
		pl = (uint64_t)buf[2] << 8 | buf[3];
	} else if (pl == 127) {
		pl = 0;
		for (int i = 0; i < 8; i++)
			pl = pl << 8 | buf[2 + i];
		if (pl >> 63)
			return -EPROTO; /* the most significant bit must be 0 (§5.2) */
	}
	if (pl > WS_MAX_MESSAGE)
		return -EMSGSIZE;
	memcpy(f->mask, buf + need - 4, 4);
	f->len = pl;
	f->hdr = need;
	if (len - need < pl)
		return 0;
	return (int)(need + pl);
}

void ws_unmask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t mask[4], uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] ^ mask[(off + i) & 3];
}

size_t ws_header(uint8_t out[WS_MAX_HEADER], enum ws_opcode op, uint64_t len)
{
	out[0] = 0x80 | op;
	if (len < 126) {
		out[1] = len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = len >> 8;
		out[3] = len & 0xff;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (len >> (56 - 8 * i)) & 0xff;
	return 10;
}

/* --- the handshake (pure) ---------------------------------------------------------- */

int ws_accept(const char *key, char out[WS_ACCEPT_LEN + 1])
{
	char cat[24 + sizeof(WS_GUID)];
	unsigned char bin[18], digest[20];
	const char *end;
	size_t n;

	if (strlen(key) != 24 ||
	    sodium_base642bin(bin, sizeof(bin), key, 24, NULL, &n, &end,
			      sodium_base64_VARIANT_ORIGINAL) < 0 ||
	    *end || n != 16)
		return -EINVAL;
	memcpy(cat, key, 24);
	memcpy(cat + 24, WS_GUID, sizeof(WS_GUID));
	if (gnutls_hash_fast(GNUTLS_DIG_SHA1, cat, strlen(cat), digest) < 0)
		return -EIO;
	sodium_bin2base64(out, WS_ACCEPT_LEN + 1, digest, sizeof(digest),
			  sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

bool ws_has_token(const char *value, const char *token)
{
	size_t tl = strlen(token);

	while (value && *value) {
		size_t l;

		value += strspn(value, " \t,");
		l = strcspn(value, ",");
		while (l && (value[l - 1] == ' ' || value[l - 1] == '\t'))
			l--;
		if (l == tl && !strncasecmp(value, token, tl))
			return true;
		value += strcspn(value, ",");
	}
	return false;
}

/* Drop the scheme's default port, which browsers leave out of Origin and clients of Host. */
static void drop_default_port(const char *s, size_t *l, bool https)
{
	const char *port = https ? ":443" : ":80";
	size_t pl = strlen(port);

	if (*l > pl && !strncmp(s + *l - pl, port, pl))
		*l -= pl;
}

bool ws_origin_ok(const char *origin, const char *host)
{
	const char *a = strstr(origin, "://");
	bool https = !strncasecmp(origin, "https://", 8) || !strncasecmp(origin, "wss://", 6);
	size_t al, hl;

	if (!a || !host)
		return false; /* "null" (a sandboxed page, a file://) is nobody's origin */
	a += 3;
	al = strcspn(a, "/");
	hl = strlen(host);
	drop_default_port(a, &al, https);
	drop_default_port(host, &hl, https);
	return al > 0 && al == hl && !strncasecmp(a, host, al);
}

/* --- the sessions ------------------------------------------------------------------ */

/*
 * A queued 101 waits here for MHD's upgrade callback: a fixed table, not a
 * malloc'd closure, because MHD never calls back (and so never frees) when
 * the client goes away before the 101 is sent.
 */
struct pending {
	struct MHD_Connection *c; /* NULL: free */
	uint64_t since; /* ms: when the 101 was queued */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *what; /* ws_target's (a literal) */
	char user[WS_USER_MAX]; /* who asked */
	struct peer_stream *ps; /* forwarded: the stream to the holder, instead of path */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ended = PTHREAD_COND_INITIALIZER; /* a bridge ended */
static struct pending pending[WS_MAX_SESSIONS];
static int sessions; /* bridges running */
static char running[WS_MAX_SESSIONS][WS_USER_MAX]; /* whose they are; "": a free entry */
static bool stopping; /* ws_shutdown() was called: no new bridge */
static pthread_once_t stop_once = PTHREAD_ONCE_INIT;
static int stop_fd = -1; /* an eventfd every bridge polls: readable once vpsd stops */

static void stop_fd_init(void)
{
	stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

struct ws_conn {
	int sock; /* the client: MHD's, closed only through MHD_upgrade_action() */
	int con; /* the console */
	struct MHD_UpgradeResponseHandle *urh;
	uint8_t *in; /* client bytes not parsed yet */
	size_t in_len, in_cap;
	uint64_t msg_len; /* payload of the data message in progress so far */
	bool in_msg; /* a fragmented data message awaits its continuations */
	uint64_t heard; /* ms: last bytes from the client */
	int slot; /* its entry in running[] */
	const char *what; /* "console", "screen": in close reasons and the log */
	char closed[32]; /* the reason when the socket ends: "the console closed" */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct peer_stream *ps; /* forwarded (ws_forward): relayed byte for byte */
};

/* How the pump ended: the close frame to send, or none when the client is gone or closed. */
struct ending {
	int code; /* 0: send no close frame */
	const char *why;
};

/* A bridge ended: its entry in running[] is free. */
static void session_end(int slot)
{
	pthread_mutex_lock(&lock);
	running[slot][0] = 0;
	sessions--;
	pthread_cond_broadcast(&ended);
	pthread_mutex_unlock(&lock);
}

void ws_shutdown(void)
{
	struct timespec until;
	uint64_t one = 1;

	pthread_once(&stop_once, stop_fd_init);
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_mutex_unlock(&lock);
	if (stop_fd < 0 || write(stop_fd, &one, sizeof(one)) < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += STOP_MS / 1000;
	pthread_mutex_lock(&lock);
	while (sessions > 0 && pthread_cond_timedwait(&ended, &lock, &until) == 0)
		;
	if (sessions > 0)
		pr_warn("websocket: %d session(s) did not end in time", sessions);
	pthread_mutex_unlock(&lock);
}

static int send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pf[2] = { { fd, POLLOUT, 0 }, { stop_fd, POLLIN, 0 } };
			int r = poll(pf, 2, SEND_MS);

			if (r < 0 && errno != EINTR)
				return -errno;
			if (r == 0)
				return -ETIMEDOUT;
			if (pf[1].revents)
				return -ECANCELED; /* vpsd stops: no waiting on a slow client */
			continue;
		}
		if (n < 0)
			return -errno;
		p += n, len -= n;
	}
	return 0;
}

/* A control frame, header and payload in one send: two would leave the payload
 * waiting behind Nagle for the header's ACK, and a close() in that window
 * (unread input makes it a reset) would discard it. */
static int send_frame(struct ws_conn *w, enum ws_opcode op, const void *payload, size_t len)
{
	uint8_t frame[WS_MAX_HEADER + WS_MAX_CONTROL];
	size_t hl;

	if (len > WS_MAX_CONTROL)
		return -EMSGSIZE;
	hl = ws_header(frame, op, len);
	if (len)
		memcpy(frame + hl, payload, len);
	return send_all(w->sock, frame, hl + len);
}

/* vpsd stops: no lingering for the client's close, but no reset either. A close()
 * with unread input (a pong, keystrokes) sends RST, and a client that has not read
 * our close frame yet loses it; half-close and drain what came first. */
static void end_quietly(struct ws_conn *w)
{
	uint8_t sink[4096];

	shutdown(w->sock, SHUT_WR);
	while (recv(w->sock, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
}

static void send_close(struct ws_conn *w, int code, const char *why)
{
	uint8_t body[WS_MAX_CONTROL];
	size_t l = strlen(why);

	if (l > sizeof(body) - 2)
		l = sizeof(body) - 2;
	body[0] = code >> 8;
	body[1] = code & 0xff;
	memcpy(body + 2, why, l);
	send_frame(w, WS_CLOSE, body, l + 2);
}

/* A close code a client may send (RFC 6455 §7.4): the one we echo. */
static bool close_code_ok(int code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
	       (code >= 3000 && code <= 4999);
}

/* The frames in w->in: data to the console, pings answered, a close echoed. */
static bool handle_input(struct ws_conn *w, struct ending *end)
{
	size_t off = 0;
	bool go_on = true;

	while (go_on && off < w->in_len) {
		struct ws_frame f;
		int n = ws_parse(w->in + off, w->in_len - off, &f);
		uint8_t *pl = w->in + off + f.hdr;

		if (n == -EMSGSIZE) {
			*end = (struct ending){ WS_TOO_BIG, "a message over 1 MiB" };
			return false;
		}
		if (n < 0) {
			*end = (struct ending){ WS_PROTOCOL_ERROR, "a frame RFC 6455 forbids" };
			return false;
		}
		if (n == 0) {
			/* the frame is larger than the buffer: make room (ws_parse capped it) */
			if (f.hdr && f.hdr + f.len > w->in_cap - off) {
				size_t cap = f.hdr + f.len;
				uint8_t *in;

				memmove(w->in, w->in + off, w->in_len - off);
				w->in_len -= off;
				off = 0;
				if (!(in = realloc(w->in, cap))) {
					*end = (struct ending){ WS_INTERNAL, "out of memory" };
					return false;
				}
				w->in = in, w->in_cap = cap;
			}
			break;
		}
		ws_unmask(pl, pl, f.len, f.mask, 0);
		switch (f.opcode) {
		case WS_TEXT: /* bytes too: the terminal (or the RFB server) decides what they mean */
		case WS_BINARY:
			if (w->in_msg) {
				*end = (struct ending){ WS_PROTOCOL_ERROR,
							"a new message inside a fragmented one" };
				return false;
			}
			w->msg_len = 0;
			/* fall through */
		case WS_CONT:
			if (f.opcode == WS_CONT && !w->in_msg) {
				*end = (struct ending){ WS_PROTOCOL_ERROR,
							"a continuation of no message" };
				return false;
			}
			w->in_msg = !f.fin;
			w->msg_len += f.len;
			if (w->msg_len > WS_MAX_MESSAGE) {
				*end = (struct ending){ WS_TOO_BIG, "a message over 1 MiB" };
				return false;
			}
			if (f.len && send_all(w->con, pl, f.len) < 0) {
				*end = (struct ending){ WS_GOING_AWAY, w->closed };
				return false;
			}
			break;
		case WS_PING:
			if (send_frame(w, WS_PONG, pl, f.len) < 0) {
				*end = (struct ending){ 0, "the client is gone" };
				return false;
			}
			break;
		case WS_PONG:
			break;
		case WS_CLOSE: {
			int code = f.len >= 2 ? pl[0] << 8 | pl[1] : WS_NORMAL;

			if (f.len == 1 || !close_code_ok(code))
				send_close(w, WS_PROTOCOL_ERROR, "a bad close frame");
			else
				send_close(w, code, "");
			*end = (struct ending){ 0, "the client closed" };
			go_on = false;
			break;
		}
		}
		off += n;
	}
	memmove(w->in, w->in + off, w->in_len - off);
	w->in_len -= off;
	return go_on;
}

/* Copy both ways until one side ends; says how it ended. */
static struct ending pump(struct ws_conn *w)
{
	struct ending end = { WS_NORMAL, "" };
	uint8_t out[WS_MAX_HEADER + CHUNK];

	if (w->in_len && !handle_input(w, &end)) /* what came along with the handshake */
		return end;
	for (;;) {
		struct pollfd p[3] = { { w->sock, POLLIN, 0 },
				       { w->con, POLLIN, 0 },
				       { stop_fd, POLLIN, 0 } };
		int n = poll(p, 3, PING_MS);
		ssize_t len;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return (struct ending){ WS_INTERNAL, "poll failed" };
		if (p[2].revents)
			return (struct ending){ WS_GOING_AWAY, "vpsd is stopping" };
		if (n == 0) {
			if (log_now_ms() - w->heard > DEAD_MS)
				return (struct ending){ WS_GOING_AWAY, "no answer to pings" };
			if (send_frame(w, WS_PING, NULL, 0) < 0)
				return (struct ending){ 0, "the client is gone" };
			continue;
		}
		if (p[1].revents) {
			len = recv(w->con, out + WS_MAX_HEADER, CHUNK, MSG_DONTWAIT);
			if (len == 0 || (len < 0 && errno != EAGAIN && errno != EINTR))
				return (struct ending){ WS_GOING_AWAY, w->closed };
			if (len > 0) {
				uint8_t hdr[WS_MAX_HEADER];
				size_t hl = ws_header(hdr, WS_BINARY, len);

				/* one write per frame: the header just before the payload */
				memcpy(out + WS_MAX_HEADER - hl, hdr, hl);
				if (send_all(w->sock, out + WS_MAX_HEADER - hl, hl + len) < 0)
					return (struct ending){ 0, "the client is gone" };
			}
		}
		if (p[0].revents) {
			if (w->in_len == w->in_cap) /* never: handle_input makes room */
				return (struct ending){ WS_INTERNAL, "input buffer full" };
			len = recv(w->sock, w->in + w->in_len, w->in_cap - w->in_len, MSG_DONTWAIT);
			if (len == 0 || (len < 0 && errno != EAGAIN && errno != EINTR))
				return (struct ending){ 0, "the client is gone" };
			if (len > 0) {
				w->in_len += len;
				w->heard = log_now_ms();
				if (!handle_input(w, &end))
					return end;
			}
		}
	}
}

/* After our close frame: drop what comes until the client's close, its hang-up or LINGER_MS. */
static void linger(struct ws_conn *w)
{
	uint64_t until = log_now_ms() + LINGER_MS;

	w->in_len = 0;
	for (uint64_t now; (now = log_now_ms()) < until;) {
		struct pollfd p = { w->sock, POLLIN, 0 };
		struct ws_frame f;
		ssize_t len;
		int n;

		if (poll(&p, 1, (int)(until - now)) <= 0)
			return;
		len = recv(w->sock, w->in + w->in_len, w->in_cap - w->in_len, MSG_DONTWAIT);
		if (len == 0 || (len < 0 && errno != EAGAIN && errno != EINTR))
			return;
		w->in_len += len > 0 ? len : 0;
		while ((n = ws_parse(w->in, w->in_len, &f)) > 0) {
			if (f.opcode == WS_CLOSE)
				return;
			memmove(w->in, w->in + n, w->in_len - n);
			w->in_len -= n;
		}
		if (n < 0 || w->in_len == w->in_cap)
			return; /* garbage, or a frame too large to wait for */
	}
}

/*
 * The VPS's socket, and nothing a link leads to: the run directory is
 * root's, but a socket that is not one (a link planted by whatever could
 * write there) is refused rather than followed.
 */
static int connect_socket(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	return unix_connect(path);
}

/*
 * A forwarded session: the client's bytes to the node that holds the VPS
 * and back, as they are (the frames are the client's and that node's; it
 * pings, it closes). Either side ending ends both, with no frame of ours.
 */
static struct ending relay(struct ws_conn *w)
{
	uint8_t buf[CHUNK];
	int pfd = peer_stream_fd(w->ps);

	if (w->in_len && peer_stream_send(w->ps, w->in, w->in_len) < 0)
		return (struct ending){ 0, "the node that holds it is gone" };
	w->in_len = 0;
	for (;;) {
		struct pollfd p[3] = { { w->sock, POLLIN, 0 },
				       { pfd, POLLIN, 0 },
				       { stop_fd, POLLIN, 0 } };
		ssize_t len;
		int n = 1;

		if (peer_stream_pending(
			    w->ps)) /* TLS records read already: no poll would see them */
			p[1].revents = POLLIN;
		else
			n = poll(p, 3, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return (struct ending){ 0, "poll failed" };
		if (p[2].revents)
			return (struct ending){ 0, "vpsd is stopping" };
		if (p[1].revents) {
			len = peer_stream_recv(w->ps, buf, sizeof(buf));
			if (len == 0 || (len < 0 && len != -EAGAIN))
				return (struct ending){ 0, "the node that holds it closed" };
			if (len > 0 && send_all(w->sock, buf, (size_t)len) < 0)
				return (struct ending){ 0, "the client is gone" };
		}
		if (p[0].revents) {
			len = recv(w->sock, buf, sizeof(buf), MSG_DONTWAIT);
			if (len == 0 || (len < 0 && errno != EAGAIN && errno != EINTR))
				return (struct ending){ 0, "the client is gone" };
			if (len > 0 && peer_stream_send(w->ps, buf, (size_t)len) < 0)
				return (struct ending){ 0, "the node that holds it is gone" };
		}
	}
}

static void *bridge(void *arg)
{
	struct ws_conn *w = arg;
	struct ending end;
	char why[48];
	int slot;

	if (w->ps) {
		end = relay(w);
		peer_stream_close(w->ps);
		w->ps = NULL;
	} else if ((w->con = connect_socket(w->path)) < 0) {
		pr_ratelimited(LOG_WARN, "%s websocket: connect to `%s`: %s", w->what, w->path,
			       strerror(-w->con));
		snprintf(why, sizeof(why), "the %s is not available", w->what);
		end = (struct ending){ WS_INTERNAL, why };
	} else {
		end = pump(w);
		close(w->con);
	}
	if (end.code) {
		send_close(w, end.code, end.why);
		if (!__atomic_load_n(&stopping, __ATOMIC_RELAXED))
			linger(w);
		else
			end_quietly(w);
	}
	pr_debug("%s websocket on `%s` ended: %s", w->what, w->path, end.why);
	MHD_upgrade_action(w->urh, MHD_UPGRADE_ACTION_CLOSE);
	slot = w->slot;
	free(w->in);
	free(w);
	session_end(slot);
	return NULL;
}

/* MHD's upgrade callback: claim the pending slot and start the bridge's thread. */
static void on_upgrade(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra,
		       size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct pending *slot = cls;
	struct ws_conn *w = NULL;
	size_t cap = extra_len > IN_START ? extra_len : IN_START;
	char path[sizeof(slot->path)];
	const char *what = NULL;
	struct peer_stream *ps = NULL;
	pthread_attr_t attr;
	pthread_t t;
	bool mine;
	int r, run = 0;

	(void)con_cls;
	pthread_mutex_lock(&lock);
	mine = slot->c == c && !stopping; /* else the slot expired and went to another one */
	if (slot->c == c) {
		slot->c = NULL;
		ps = slot->ps;
		slot->ps = NULL;
	}
	if (mine) {
		memcpy(path, slot->path, sizeof(path));
		what = slot->what;
		/* fewer than WS_MAX_SESSIONS run (pending_claim() counted this one) */
		while (running[run][0])
			run++;
		snprintf(running[run], sizeof(running[run]), "%s", slot->user);
		sessions++;
	}
	pthread_mutex_unlock(&lock);
	if (!mine) {
		peer_stream_close(ps);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	if (!(w = calloc(1, sizeof(*w))) || !(w->in = malloc(cap)))
		goto fail;
	memcpy(w->path, path, sizeof(path));
	w->what = what;
	snprintf(w->closed, sizeof(w->closed), "the %s closed", what);
	w->slot = run;
	w->sock = sock;
	w->con = -1;
	w->urh = urh;
	w->ps = ps;
	ps = NULL;
	w->in_cap = cap;
	w->in_len = extra_len;
	memcpy(w->in, extra, extra_len);
	w->heard = log_now_ms();
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &attr, bridge, w);
	pthread_attr_destroy(&attr);
	if (r == 0)
		return;
	pr_ratelimited(LOG_WARN, "%s websocket: no thread for `%s`: %s", what, path, strerror(r));
fail:
	if (w) {
		peer_stream_close(w->ps);
		free(w->in);
	}
	peer_stream_close(ps);
	free(w);
	session_end(run);
	MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

/*
 * A free slot for a queued 101 (one never upgraded frees after PENDING_MS),
 * or NULL; *theirs: because `user` has WS_MAX_PER_USER already.
 */
static struct pending *pending_claim(struct MHD_Connection *c, const struct ws_target *t,
				     const char *user, struct peer_stream *ps, bool *theirs)
{
	struct peer_stream *stale = NULL;
	uint64_t now = log_now_ms();
	struct pending *slot = NULL;
	int waiting = 0, users = 0;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < WS_MAX_SESSIONS; i++) {
		if (pending[i].c && now - pending[i].since < PENDING_MS) {
			waiting++;
			users += !strcmp(pending[i].user, user);
		} else if (!slot) {
			slot = &pending[i];
		}
		users += running[i][0] && !strcmp(running[i], user);
	}
	*theirs = users >= WS_MAX_PER_USER;
	if (slot && !stopping && !*theirs && sessions + waiting < WS_MAX_SESSIONS) {
		stale = slot->ps; /* a forwarded one never upgraded (its client went away) */
		slot->ps = ps;
		slot->c = c;
		slot->since = now;
		snprintf(slot->path, sizeof(slot->path), "%s", t->path);
		slot->what = t->what;
		snprintf(slot->user, sizeof(slot->user), "%s", user);
	} else {
		slot = NULL;
	}
	pthread_mutex_unlock(&lock);
	peer_stream_close(stale);
	return slot;
}

static enum MHD_Result ws_error(struct MHD_Connection *c, unsigned int status, const char *code,
				const char *msg)
{
	char *body = NULL;
	struct MHD_Response *r;
	enum MHD_Result ret;

	/* the messages are ours: no quote or backslash to escape */
	if (asprintf(&body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, msg) < 0)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	last_status = status; /* for the audit log */
	if (status == 400)
		MHD_add_response_header(r, "Sec-WebSocket-Version", "13"); /* §4.4 */
	if (status == 429)
		MHD_add_response_header(r, "Retry-After", "5");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/*
 * The checks of a client's handshake (RFC 6455 §4.2.1): NULL when it is
 * one (accept gets its Sec-WebSocket-Accept), else the refusal queued.
 */
static bool handshake_ok(struct MHD_Connection *c, const struct ws_target *t,
			 char accept[WS_ACCEPT_LEN + 1], enum MHD_Result *ret)
{
	const char *upgrade = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Upgrade");
	const char *conn = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Connection");
	const char *version =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Version");
	const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	const char *proto =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Protocol");
	char msg[128];

	if (!upgrade || strcasecmp(upgrade, "websocket"))
		*ret = ws_error(c, 400, "bad_request",
				"not a WebSocket handshake: `Upgrade: websocket` is missing");
	else if (!conn || !ws_has_token(conn, "upgrade"))
		*ret = ws_error(c, 400, "bad_request",
				"not a WebSocket handshake: `Connection: Upgrade` is missing");
	else if (!version || strcmp(version, "13"))
		*ret = ws_error(c, 400, "bad_request", "`Sec-WebSocket-Version`: expected 13");
	else if (!key || ws_accept(key, accept) < 0)
		*ret = ws_error(c, 400, "bad_request",
				"`Sec-WebSocket-Key`: expected the base64 of 16 bytes");
	else if (origin && !ws_origin_ok(origin, host))
		*ret = ws_error(c, 403, "forbidden", "`Origin`: not the same host as `Host`");
	/* RFC 6455 §4.2.2: the server picks one the client offered, or answers none */
	else if (t->protocol && proto && !ws_has_token(proto, t->protocol)) {
		snprintf(msg, sizeof(msg), "`Sec-WebSocket-Protocol`: the %s speaks `%s` only",
			 t->what, t->protocol);
		*ret = ws_error(c, 400, "bad_request", msg);
	} else if (strlen(t->path) >= sizeof(pending[0].path)) {
		snprintf(msg, sizeof(msg), "the %s socket's path is too long", t->what);
		*ret = ws_error(c, 500, "internal", msg);
	} else {
		pthread_once(&stop_once, stop_fd_init);
		if (stop_fd >= 0)
			return true;
		*ret = ws_error(c, 500, "internal", "no eventfd for the session");
	}
	return false;
}

/* Queue the 101 for a claimed slot; its bridge starts when MHD hands over the socket. */
static enum MHD_Result upgrade(struct MHD_Connection *c, const struct ws_target *t,
			       struct pending *slot, const char *accept)
{
	const char *proto =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Protocol");
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (sodium_init() < 0 || !(r = MHD_create_response_for_upgrade(on_upgrade, slot))) {
		pthread_mutex_lock(&lock);
		slot->c = NULL;
		pthread_mutex_unlock(&lock);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Upgrade", "websocket");
	MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
	if (t->protocol && proto)
		MHD_add_response_header(r, "Sec-WebSocket-Protocol", t->protocol);
	ret = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	last_status = MHD_HTTP_SWITCHING_PROTOCOLS;
	MHD_destroy_response(r);
	if (ret == MHD_NO) {
		pthread_mutex_lock(&lock);
		slot->c = NULL;
		pthread_mutex_unlock(&lock);
		return ws_error(c, 500, "internal",
				"vpsd cannot upgrade this connection (no MHD_ALLOW_UPGRADE)");
	}
	return ret;
}

static enum MHD_Result too_many(struct MHD_Connection *c, bool theirs)
{
	return ws_error(c, 429, "rate_limited",
			theirs ? "too many console and screen sessions of this user" :
				 "too many console and screen sessions on this host");
}

enum MHD_Result ws_bridge(struct MHD_Connection *c, const struct ws_target *t, const char *user)
{
	char accept[WS_ACCEPT_LEN + 1];
	struct pending *slot;
	enum MHD_Result ret;
	bool theirs;

	if (!handshake_ok(c, t, accept, &ret))
		return ret;
	if (!(slot = pending_claim(c, t, user, NULL, &theirs)))
		return too_many(c, theirs);
	return upgrade(c, t, slot, accept);
}

enum MHD_Result ws_forward(struct MHD_Connection *c, const struct ws_target *t, const char *user,
			   ws_dial_fn dial, void *arg)
{
	const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	const char *proto =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Protocol");
	char accept[WS_ACCEPT_LEN + 1];
	struct peer_stream *ps = NULL;
	struct pending *slot;
	json_t *out = NULL;
	enum MHD_Result ret;
	bool theirs;
	int status;

	if (!handshake_ok(c, t, accept, &ret))
		return ret;
	/* the holder's handshake first: its refusal (409 not running, 429) is the answer */
	status = dial(arg, key, t->protocol && proto ? t->protocol : NULL, &ps, &out);
	if (status < 0)
		return ws_error(c, 503, "node_unreachable",
				"the node that holds this VPS does not answer; try again");
	if (status != 101) {
		last_status = (unsigned int)status;
		return reply(c, (unsigned int)status, out);
	}
	json_decref(out);
	if (!(slot = pending_claim(c, t, user, ps, &theirs))) {
		peer_stream_close(ps);
		return too_many(c, theirs);
	}
	return upgrade(c, t, slot, accept);
}
