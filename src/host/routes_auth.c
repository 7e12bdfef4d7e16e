// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The routes of who asks (route.h, docs/auth.md): logging in sets the
 * session cookie and logging out clears it (served over TCP only); the
 * caller (`/me`), their API tokens, the users and the audit log (the
 * administrators'). auth.c does the work.
 */
#include <errno.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "host/auth.h"
#include "host/reply.h"
#include "host/route.h"

/* The cookie that carries a session: HttpOnly, SameSite=Strict, Secure over TLS. */
static void session_cookie(char *out, size_t size, const char *value, bool tls, bool clear)
{
	snprintf(out, size, "vps_session=%s; Path=/; HttpOnly; SameSite=Strict%s%s", value,
		 tls ? "; Secure" : "", clear ? "; Max-Age=0" : "; Max-Age=28800");
}

/* 429 with Retry-After, else the usual answer of r. */
static enum MHD_Result reply_limited(struct MHD_Connection *c, int r, int wait, struct err **e,
				     unsigned int status, json_t *out)
{
	if (r == -EAGAIN) {
		unsigned int st;
		json_t *j = err_json(r, e, &st);
		char retry[16];

		snprintf(retry, sizeof(retry), "%d", wait > 0 ? wait : 1);
		return reply_hdr(c, st, j, "Retry-After", retry);
	}
	return reply_result(c, r, e, status, out);
}

enum MHD_Result api_login(struct call *x)
{
	struct MHD_Connection *c = x->c;
	char cookie[AUTH_HEX + 1], hdr[256];
	struct err *e = NULL;
	json_t *out = NULL;
	int r, wait = 0;

	r = auth_login(x->h, x->body, x->p->source, cookie, &out, &wait, &e);
	if (r < 0)
		return reply_limited(c, r, wait, &e, 0, NULL);
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

enum MHD_Result api_me_get(struct call *x)
{
	json_t *out = json_pack("{s:s, s:s}", "name", x->p->user, "role",
				x->p->admin ? "admin" : "customer");

	if (x->p->cookie)
		json_object_set_new(out, "csrf", json_string(x->p->csrf));
	if (!x->p->local) {
		json_t *u = auth_user_get(x->h, x->p->user);

		json_object_set(out, "2fa", json_object_get(u, "2fa"));
		json_object_set_new(out, "2fa_required", json_boolean(x->p->enrol));
		json_decref(u);
	}
	return reply(x->c, 200, out);
}

enum MHD_Result api_2fa_post(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int wait = 0, r = auth_2fa_begin(x->h, x->p, x->body, &out, &wait, &e);

	return reply_limited(x->c, r, wait, &e, 200, out);
}

enum MHD_Result api_2fa_confirm(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int wait = 0, r = auth_2fa_confirm(x->h, x->p, x->body, &out, &wait, &e);

	return reply_limited(x->c, r, wait, &e, 200, out);
}

enum MHD_Result api_2fa_disable(struct call *x)
{
	struct err *e = NULL;
	int wait = 0, r = auth_2fa_disable(x->h, x->p, x->body, &wait, &e);

	return reply_limited(x->c, r, wait, &e, 200, r < 0 ? NULL : json_pack("{s:b}", "ok", 1));
}

enum MHD_Result api_tokens_get(struct call *x)
{
	return reply_page(x->c, auth_tokens(x->h, x->p), "id");
}

enum MHD_Result api_tokens_post(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = auth_token_create(x->h, x->p, x->body, &out, &e);

	return reply_result(x->c, r, &e, 201, out);
}

enum MHD_Result api_token_delete(struct call *x)
{
	struct err *e = NULL;
	int r = auth_token_delete(x->h, x->p, x->arg, &e);

	return reply_ok(x->c, r, &e);
}

enum MHD_Result api_users_get(struct call *x)
{
	return reply_page(x->c, auth_users(x->h), "name");
}

enum MHD_Result api_users_post(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = auth_user_add(x->h, x->body, &out, &e);

	return reply_result(x->c, r, &e, 201, out);
}

enum MHD_Result api_user_get(struct call *x)
{
	json_t *out = auth_user_get(x->h, x->arg);

	return out ? reply(x->c, 200, out) : reply_error(x->c, ENOENT, "no such user");
}

enum MHD_Result api_user_patch(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = auth_user_patch(x->h, x->arg, x->body, &out, &e);

	return reply_result(x->c, r, &e, 200, out);
}

enum MHD_Result api_user_delete(struct call *x)
{
	struct err *e = NULL;
	int r = auth_user_delete(x->h, x->arg, &e);

	return reply_ok(x->c, r, &e);
}

enum MHD_Result api_audit_get(struct call *x)
{
	const char *after = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "after");
	const char *limit = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "limit");

	return reply(x->c, 200,
		     auth_audit_list(x->h, after ? atoll(after) : 0,
				     limit && atoi(limit) > 0 ? atoi(limit) : 1000));
}
