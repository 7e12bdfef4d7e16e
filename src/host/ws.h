/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The browser's sockets to a VPS: GET /api/v1/vps/NAME/console/ws and
 * GET /api/v1/vps/NAME/vnc upgraded to a WebSocket (RFC 6455) and bridged
 * to the VPS's console socket or its screen's RFB socket (ws.c,
 * docs/console-ws.md, docs/screen.md). The frame parser and the handshake
 * checks are pure functions so tests/unit/test_ws.c can feed them hostile
 * input.
 */
#ifndef VPS_HOST_WS_H
#define VPS_HOST_WS_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_MAX_MESSAGE (1 << 20) /* a message (all its fragments) larger than this: close 1009 */
#define WS_MAX_CONTROL 125 /* RFC 6455 §5.5: control payloads fit in the 7-bit length */
#define WS_MAX_HEADER 14 /* 2 + 8 (64-bit length) + 4 (mask) */
#define WS_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */

/* RFC 6455 §5.2 opcodes */
enum ws_opcode {
	WS_CONT = 0x0,
	WS_TEXT = 0x1,
	WS_BINARY = 0x2,
	WS_CLOSE = 0x8,
	WS_PING = 0x9,
	WS_PONG = 0xa,
};

/* RFC 6455 §7.4.1 status codes we send */
enum ws_status {
	WS_NORMAL = 1000,
	WS_GOING_AWAY = 1001,
	WS_PROTOCOL_ERROR = 1002,
	WS_TOO_BIG = 1009,
	WS_INTERNAL = 1011,
};

/* One frame from a client, as ws_parse() found it in a buffer. */
struct ws_frame {
	bool fin; /* last fragment of its message */
	uint8_t opcode; /* enum ws_opcode */
	uint8_t mask[4]; /* the masking key (client frames are always masked) */
	uint64_t len; /* payload length */
	size_t hdr; /* header length: the payload starts at buf + hdr */
};

/*
 * Parse the client frame at the start of buf. Returns the bytes the whole
 * frame takes (header and payload) when all of it is in buf; 0 when more
 * is needed (f->hdr is then non-zero once the header is complete, and
 * f->len says how much payload to wait for); -EPROTO for a frame RFC 6455
 * forbids from a client (unmasked, reserved bits or opcodes, a fragmented
 * or over-long control frame, a 64-bit length with its top bit set) and
 * -EMSGSIZE for a payload over WS_MAX_MESSAGE. Both errors are known from
 * the header alone, before any payload arrives.
 */
int ws_parse(const uint8_t *buf, size_t len, struct ws_frame *f);

/* XOR n bytes of payload with the mask; off is the payload offset of src[0]. */
void ws_unmask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t mask[4], uint64_t off);

/* Write a server frame header (FIN set, unmasked) for a payload of len; returns its length. */
size_t ws_header(uint8_t out[WS_MAX_HEADER], enum ws_opcode op, uint64_t len);

/*
 * Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2): out gets
 * WS_ACCEPT_LEN characters and a NUL. -EINVAL when the key is not the
 * base64 of 16 bytes.
 */
int ws_accept(const char *key, char out[WS_ACCEPT_LEN + 1]);

/* Whether a comma-separated header value (Connection) holds token, case-insensitively. */
bool ws_has_token(const char *value, const char *token);

/* Whether an Origin (scheme://host[:port]) names the same host[:port] as the Host header. */
bool ws_origin_ok(const char *origin, const char *host);

/* What a session bridges to. */
struct ws_target {
	const char *path; /* the VPS's unix socket (copied) */
	const char *what; /* "console", "screen": a literal, named in messages and reasons */
	/*
	 * The subprotocol the socket speaks ("binary": RFB as noVNC asks for
	 * it), echoed when offered; offers without it are refused (400). NULL:
	 * none negotiated, offers ignored.
	 */
	const char *protocol;
};

/*
 * Answer a request for a VPS's WebSocket: 400 for a handshake that is not
 * a valid upgrade, 403 for a foreign Origin, else 101 and a thread that
 * bridges the client and t->path byte for byte until either side ends. The
 * caller has authenticated the request and checked that the VPS is the
 * caller's and running. The daemon must run with MHD_ALLOW_UPGRADE. 429
 * when the host has 64 sessions, or `user` has 4 (queued or running), of
 * both kinds together.
 */
enum MHD_Result ws_bridge(struct MHD_Connection *c, const struct ws_target *t, const char *user);

/*
 * Dial the node that holds the VPS and ask it for the WebSocket with the
 * client's key (and the subprotocol, or NULL): < 0 it does not answer;
 * 101 with *ps the stream to relay; any other status with its JSON *out.
 */
struct peer_stream;
typedef int (*ws_dial_fn)(void *arg, const char *key, const char *protocol, struct peer_stream **ps,
			  json_t **out);
/*
 * A VPS's WebSocket on another node (docs/cluster.md "The console through
 * any node"): the client's handshake checked here as ws_bridge does, then
 * dial()'s; its refusal answered as it is, its 101 relayed: this node
 * answers the client 101 and copies bytes both ways until either ends.
 * Counts against the same limits as ws_bridge's sessions.
 */
enum MHD_Result ws_forward(struct MHD_Connection *c, const struct ws_target *t, const char *user,
			   ws_dial_fn dial, void *arg);
/*
 * Before MHD_stop_daemon(): end every session (close 1001 to its client)
 * and wait for the bridges, at most 5 s, so none touches a connection the
 * daemon has freed. Later handshakes are refused.
 */
void ws_shutdown(void);

#endif
