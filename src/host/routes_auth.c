// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The session routes: logging in sets the session cookie, logging out
 * clears it (docs/auth.md). Served over TCP only.
 */
#include <errno.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>

#include "host/auth.h"
#include "host/reply.h"
#include "host/route.h"

/* The cookie that carries a session: HttpOnly, SameSite=Strict, Secure over TLS. */
static void session_cookie(char *out, size_t size, const char *value, bool tls, bool clear)
{
	snprintf(out, size, "vps_session=%s; Path=/; HttpOnly; SameSite=Strict%s%s", value,
		 tls ? "; Secure" : "", clear ? "; Max-Age=0" : "; Max-Age=28800");
}

enum MHD_Result api_login(struct call *x)
{
	struct MHD_Connection *c = x->c;
	char cookie[AUTH_HEX + 1], hdr[256], retry[16];
	struct err *e = NULL;
	json_t *out = NULL;
	int r, wait = 0;

	r = auth_login(x->h, x->body, x->p->source, cookie, &out, &wait, &e);
	if (r == -EAGAIN) {
		unsigned int status;
		json_t *j = err_json(r, &e, &status);

		snprintf(retry, sizeof(retry), "%d", wait);
		return reply_hdr(c, status, j, "Retry-After", retry);
	}
	if (r < 0)
		return reply_err(c, r, &e);
	session_cookie(hdr, sizeof(hdr), cookie, x->tls, false);
	sodium_memzero(cookie, sizeof(cookie));
	return reply_hdr(c, 200, out, "Set-Cookie", hdr);
}

enum MHD_Result api_logout(struct call *x)
{
	const char *cookie = MHD_lookup_connection_value(x->c, MHD_COOKIE_KIND, "vps_session");
	char hdr[256];

	if (cookie)
		auth_logout(x->h, cookie);
	session_cookie(hdr, sizeof(hdr), "", x->tls, true);
	return reply_hdr(x->c, 200, json_pack("{s:b}", "ok", 1), "Set-Cookie", hdr);
}
