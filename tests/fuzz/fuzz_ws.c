// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the console WebSocket's parsers (src/host/ws.c): the client
 * frame parser over a stream of frames, as the bridge reads them, checking
 * what ws.h promises (never more than it was given; a complete frame's
 * prefix asks for more; the header and payload add up), and the handshake's
 * Sec-WebSocket-Key, Connection and Origin checks.
 *
 * Input: a selector byte (0: frames, 1: key, 2: Connection token, 3:
 * Origin and Host split at the first NUL), then the bytes.
 */
#include <stdlib.h>

#include "fuzz.h"
#include "host/ws.h"

#define MAX_TEXT 4096

static void frames(const uint8_t *p, size_t n)
{
	static uint8_t payload[1 << 16];
	struct ws_frame f, g;
	int r;

	while (n) {
		r = ws_parse(p, n, &f);
		if (r <= 0)
			return;
		if ((size_t)r > n || f.hdr > (size_t)r || f.hdr + f.len != (uint64_t)r)
			__builtin_trap();
		if (ws_parse(p, r - 1, &g) != 0)
			__builtin_trap(); /* a frame one byte short is not complete */
		ws_unmask(payload, p + f.hdr, f.len < sizeof(payload) ? f.len : sizeof(payload),
			  f.mask, 0);
		p += r;
		n -= r;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[MAX_TEXT + 1], accept[WS_ACCEPT_LEN + 1];
	size_t n, split;

	if (!size)
		return 0;
	if (data[0] % 4 == 0) {
		frames(data + 1, size - 1);
		return 0;
	}
	n = size - 1 < MAX_TEXT ? size - 1 : MAX_TEXT;
	memcpy(text, data + 1, n);
	text[n] = '\0';
	switch (data[0] % 4) {
	case 1:
		if (ws_accept(text, accept) == 0 && strlen(accept) != WS_ACCEPT_LEN)
			__builtin_trap();
		break;
	case 2:
		split = strlen(text);
		ws_has_token(text, split < n ? text + split + 1 : "upgrade");
		break;
	case 3:
		split = strlen(text);
		ws_origin_ok(text, split < n ? text + split + 1 : "localhost");
		break;
	}
	return 0;
}
