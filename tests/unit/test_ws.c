// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The console WebSocket's pure parts (src/host/ws.c): the frame parser on
 * good, bad and partial client frames (RFC 6455 §5), the server's frame
 * headers, the handshake's accept key and header checks, and random bytes
 * that must never make the parser claim more than it was given.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host/ws.h"

static const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* A masked client frame: header, key and masked payload into out; returns its length. */
static size_t client_frame(uint8_t *out, uint8_t first, const uint8_t *payload, uint64_t len)
{
	size_t h = ws_header(out, 0, len);

	out[0] = first;
	out[1] |= 0x80;
	memcpy(out + h, mask, 4);
	ws_unmask(out + h + 4, payload, len, mask, 0);
	return h + 4 + len;
}

/* RFC 6455 §5.7: a single-frame masked text message "Hello". */
static void parses_rfc_example(void **state)
{
	static const uint8_t buf[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
				       0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	struct ws_frame f;
	uint8_t text[5];

	(void)state;
	assert_int_equal(ws_parse(buf, sizeof(buf), &f), sizeof(buf));
	assert_true(f.fin);
	assert_int_equal(f.opcode, WS_TEXT);
	assert_int_equal(f.len, 5);
	assert_int_equal(f.hdr, 6);
	ws_unmask(text, buf + f.hdr, f.len, f.mask, 0);
	assert_memory_equal(text, "Hello", 5);
}

/* Every prefix of a frame asks for more; the header is reported once complete. */
static void partial_input_needs_more(void **state)
{
	static const uint8_t payload[300] = { 1, 2, 3 };
	uint8_t buf[400];
	size_t n = client_frame(buf, 0x82, payload, sizeof(payload));
	struct ws_frame f;

	(void)state;
	assert_int_equal(n, 2 + 2 + 4 + 300);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ws_parse(buf, i, &f), 0);
		if (i >= 8) {
			assert_int_equal(f.hdr, 8);
			assert_int_equal(f.len, 300);
		} else {
			assert_int_equal(f.hdr, 0);
		}
	}
	assert_int_equal(ws_parse(buf, n, &f), n);
	/* bytes after the frame are the next frame's: not consumed */
	assert_int_equal(ws_parse(buf, sizeof(buf), &f), n);
}

static void lengths_7_16_64_bit(void **state)
{
	static const uint64_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536, WS_MAX_MESSAGE };
	uint8_t *payload = calloc(1, WS_MAX_MESSAGE), *buf = malloc(WS_MAX_MESSAGE + 14),
		*back = malloc(WS_MAX_MESSAGE);

	(void)state;
	for (size_t i = 0; i < WS_MAX_MESSAGE; i++)
		payload[i] = i * 7;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = client_frame(buf, 0x82, payload, lens[i]);
		struct ws_frame f;

		assert_int_equal(ws_parse(buf, n, &f), n);
		assert_int_equal(f.len, lens[i]);
		assert_int_equal(f.hdr, lens[i] < 126 ? 6 : lens[i] < 65536 ? 8 : 14);
		ws_unmask(back, buf + f.hdr, f.len, f.mask, 0);
		if (lens[i])
			assert_memory_equal(back, payload, lens[i]);
	}
	free(payload);
	free(buf);
	free(back);
}

/* The server's headers: the shortest length encoding, FIN set, no mask. */
static void server_headers(void **state)
{
	uint8_t h[WS_MAX_HEADER];

	(void)state;
	assert_int_equal(ws_header(h, WS_BINARY, 125), 2);
	assert_int_equal(h[0], 0x82);
	assert_int_equal(h[1], 125);
	assert_int_equal(ws_header(h, WS_PONG, 126), 4);
	assert_int_equal(h[0], 0x8a);
	assert_int_equal(h[1], 126);
	assert_int_equal(h[2] << 8 | h[3], 126);
	assert_int_equal(ws_header(h, WS_BINARY, 65535), 4);
	assert_int_equal(ws_header(h, WS_BINARY, 65536), 10);
	assert_int_equal(h[1], 127);
	assert_int_equal(h[7], 1); /* 0x0000000000010000 */
	assert_int_equal(h[8], 0);
}

/* The mask runs on across the pieces of a payload unmasked in parts. */
static void unmask_with_offset(void **state)
{
	static const uint8_t plain[] = "console bytes";
	uint8_t masked[sizeof(plain)], back[sizeof(plain)];

	(void)state;
	ws_unmask(masked, plain, sizeof(plain), mask, 0);
	ws_unmask(back, masked, 5, mask, 0);
	ws_unmask(back + 5, masked + 5, sizeof(plain) - 5, mask, 5);
	assert_memory_equal(back, plain, sizeof(plain));
}

static int parse_bytes(const uint8_t *b, size_t n)
{
	struct ws_frame f;

	return ws_parse(b, n, &f);
}

static void bad_frames(void **state)
{
	uint8_t b[32] = { 0 };

	(void)state;
	/* unmasked */
	assert_int_equal(parse_bytes((const uint8_t[]){ 0x82, 0x01, 'x' }, 3), -EPROTO);
	/* RSV1, RSV2, RSV3 */
	assert_int_equal(parse_bytes((const uint8_t[]){ 0xc2, 0x80, 0, 0, 0, 0 }, 6), -EPROTO);
	assert_int_equal(parse_bytes((const uint8_t[]){ 0xa2, 0x80, 0, 0, 0, 0 }, 6), -EPROTO);
	assert_int_equal(parse_bytes((const uint8_t[]){ 0x92, 0x80, 0, 0, 0, 0 }, 6), -EPROTO);
	/* reserved opcodes, data and control */
	for (int op = 3; op <= 0xf; op++) {
		if (op == WS_CLOSE || op == WS_PING || op == WS_PONG)
			continue;
		assert_int_equal(parse_bytes((const uint8_t[]){ 0x80 | op, 0x80, 0, 0, 0, 0 }, 6),
				 -EPROTO);
	}
	/* a fragmented ping, a close without FIN */
	assert_int_equal(parse_bytes((const uint8_t[]){ 0x09, 0x80, 0, 0, 0, 0 }, 6), -EPROTO);
	assert_int_equal(parse_bytes((const uint8_t[]){ 0x08, 0x80, 0, 0, 0, 0 }, 6), -EPROTO);
	/* control frames over 125 bytes, in each length encoding */
	assert_int_equal(parse_bytes((const uint8_t[]){ 0x89, 0x80 | 126, 0, 126 }, 4), -EPROTO);
	assert_int_equal(parse_bytes((const uint8_t[]){ 0x88, 0x80 | 127 }, 2), -EPROTO);
	/* 64-bit length with the top bit set */
	b[0] = 0x82, b[1] = 0x80 | 127, b[2] = 0x80;
	assert_int_equal(parse_bytes(b, 14), -EPROTO);
	/* larger than a message may be: known from the header, before the payload */
	memset(b, 0, sizeof(b));
	b[0] = 0x82, b[1] = 0x80 | 127, b[7] = 0x10, b[9] = 1; /* 1 MiB + 1 */
	assert_int_equal(parse_bytes(b, 14), -EMSGSIZE);
	b[9] = 0; /* exactly 1 MiB: fine, wait for it */
	assert_int_equal(parse_bytes(b, 14), 0);
	b[2] = 0x7f, b[3] = 0xff; /* huge */
	assert_int_equal(parse_bytes(b, 14), -EMSGSIZE);
	/* control frames of 125 bytes are fine, and so is an empty continuation */
	assert_int_equal(parse_bytes((const uint8_t[]){ 0x89, 0x80 | 125, 0, 0, 0, 0 }, 6), 0);
	assert_int_equal(parse_bytes((const uint8_t[]){ 0x00, 0x80, 0, 0, 0, 0 }, 6), 6);
	/* errors known from the first two bytes come without waiting */
	assert_int_equal(parse_bytes((const uint8_t[]){ 0x82, 0x05 }, 2), -EPROTO);
	assert_int_equal(parse_bytes((const uint8_t[]){ 0x82 }, 1), 0);
	assert_int_equal(parse_bytes(NULL, 0), 0);
}

/* Random bytes: whatever comes back is inside what was given. */
static void random_bytes_stay_in_bounds(void **state)
{
	uint32_t x = 12345;
	uint8_t buf[64];

	(void)state;
	for (int round = 0; round < 200000; round++) {
		size_t n = 0;
		struct ws_frame f;
		int r;

		x = x * 1103515245 + 12345;
		n = (x >> 16) % sizeof(buf);
		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245 + 12345;
			buf[i] = x >> 16;
		}
		if (round & 1 && n > 1)
			buf[1] |= 0x80; /* masked half the time, to get past that check */
		r = ws_parse(buf, n, &f);
		assert_true(r == 0 || r == -EPROTO || r == -EMSGSIZE || r > 0);
		if (r > 0) {
			assert_true((size_t)r <= n);
			assert_int_equal((size_t)r, f.hdr + f.len);
		}
	}
}

/* RFC 6455 §1.3's example key and answer. */
static void accept_key(void **state)
{
	char out[WS_ACCEPT_LEN + 1];

	(void)state;
	assert_int_equal(ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(ws_accept("", out), -EINVAL);
	assert_int_equal(ws_accept("dGhlIHNhbXBsZSBub25jZQ=", out), -EINVAL); /* 23 chars */
	assert_int_equal(ws_accept("AAAAAAAAAAAAAAAAAAAAAAAA", out), -EINVAL); /* 18 bytes */
	assert_int_equal(ws_accept("dGhlIHNhbXBsZSBub25j!Q==", out), -EINVAL); /* not base64 */
	assert_int_equal(ws_accept("dGhlIHNhbXBsZSBub25jZQ==dGhl", out), -EINVAL);
}

static void connection_tokens(void **state)
{
	(void)state;
	assert_true(ws_has_token("Upgrade", "upgrade"));
	assert_true(ws_has_token("keep-alive, Upgrade", "upgrade")); /* Firefox */
	assert_true(ws_has_token("upgrade ,keep-alive", "upgrade"));
	assert_true(ws_has_token(" \tUPGRADE\t ", "upgrade"));
	assert_false(ws_has_token("Upgrade2", "upgrade"));
	assert_false(ws_has_token("keep-alive", "upgrade"));
	assert_false(ws_has_token("", "upgrade"));
	assert_false(ws_has_token(",,,", "upgrade"));
	assert_false(ws_has_token(NULL, "upgrade"));
}

static void origins(void **state)
{
	(void)state;
	assert_true(ws_origin_ok("http://127.0.0.1:8080", "127.0.0.1:8080"));
	assert_true(ws_origin_ok("https://Panel.Example", "panel.example"));
	assert_true(ws_origin_ok("https://panel.example", "panel.example:443"));
	assert_true(ws_origin_ok("http://panel.example:80", "panel.example"));
	assert_true(ws_origin_ok("http://[::1]:8080", "[::1]:8080"));
	assert_false(ws_origin_ok("http://evil.example", "127.0.0.1:8080"));
	assert_false(ws_origin_ok("http://127.0.0.1:8081", "127.0.0.1:8080"));
	assert_false(ws_origin_ok("http://127.0.0.1", "127.0.0.1:8080"));
	assert_false(ws_origin_ok("https://panel.example", "panel.example:80"));
	assert_false(ws_origin_ok("http://panel.example.evil", "panel.example"));
	assert_false(ws_origin_ok("null", "127.0.0.1:8080"));
	assert_false(ws_origin_ok("http://", ""));
	assert_false(ws_origin_ok("http://127.0.0.1:8080", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_rfc_example),
		cmocka_unit_test(partial_input_needs_more),
		cmocka_unit_test(lengths_7_16_64_bit),
		cmocka_unit_test(server_headers),
		cmocka_unit_test(unmask_with_offset),
		cmocka_unit_test(bad_frames),
		cmocka_unit_test(random_bytes_stay_in_bounds),
		cmocka_unit_test(accept_key),
		cmocka_unit_test(connection_tokens),
		cmocka_unit_test(origins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
