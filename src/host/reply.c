// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The API's answers (reply.h): JSON bodies with the headers every answer
 * carries, and errors as {"error": {"code", "message"}} with the HTTP
 * status that fits the errno of the failure.
 */
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/auth.h"
#include "host/life.h"
#include "host/migrate.h"
#include "host/node.h"
#include "host/policy.h"
#include "host/reply.h"

/* The status of the answer queued on this thread's connection (for the audit log). */
__thread unsigned int last_status;

enum MHD_Result reply_hdr(struct MHD_Connection *c, unsigned int status, json_t *j, const char *hdr,
			  const char *value)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : strdup("{}");
	struct MHD_Response *r;
	enum MHD_Result ret;

	json_decref(j);
	if (!text)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (hdr)
		MHD_add_response_header(r, hdr, value);
	if (status == 405 && !hdr)
		MHD_add_response_header(r, "Allow", "GET, POST, PUT, PATCH, DELETE");
	last_status = status;
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static int page_cmp(const void *a, const void *b, void *key)
{
	json_t *x = json_object_get(*(json_t *const *)a, key),
	       *y = json_object_get(*(json_t *const *)b, key);

	if (json_is_integer(x) && json_is_integer(y))
		return json_integer_value(x) < json_integer_value(y) ?
			       -1 :
			       json_integer_value(x) > json_integer_value(y);
	return strcmp(json_string_value(x) ?: "", json_string_value(y) ?: "");
}

enum MHD_Result reply_page(struct MHD_Connection *c, json_t *list, const char *key)
{
	const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit"),
		   *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
	size_t n = json_array_size(list), i;
	long long want = 1000, from = 0;
	json_t **v, *out;
	bool by_id;
	char *end;

	if (!json_is_array(list)) {
		json_decref(list);
		return reply_error(c, EIO, "the list could not be read");
	}
	if (!limit && !after)
		return reply(c, 200, list);
	errno = 0;
	if (limit && ((want = strtoll(limit, &end, 10)),
		      !*limit || *end || errno || want < 1 || want > 1000)) {
		json_decref(list);
		return reply_error(c, EINVAL, "`limit`: expected 1 to 1000");
	}
	by_id = !strcmp(key, "id");
	if (after && by_id &&
	    ((from = strtoll(after, &end, 10)), !*after || *end || errno || from < 0)) {
		json_decref(list);
		return reply_error(c, EINVAL, "`after`: expected the last id seen");
	}
	if (!(v = calloc(n ? n : 1, sizeof(*v)))) {
		json_decref(list);
		return reply_error(c, ENOMEM, "list");
	}
	for (i = 0; i < n; i++)
		v[i] = json_array_get(list, i);
	qsort_r(v, n, sizeof(*v), page_cmp, (void *)key);
	out = json_array();
	for (i = 0; i < n && (long long)json_array_size(out) < want; i++) {
		json_t *k = json_object_get(v[i], key);

		if (after && (by_id ? json_integer_value(k) <= from :
				      strcmp(json_string_value(k) ?: "", after) <= 0))
			continue;
		json_array_append(out, v[i]);
	}
	free(v);
	json_decref(list);
	return reply(c, 200, out);
}

enum MHD_Result reply_operation(struct MHD_Connection *c, json_t *op)
{
	char loc[128];

	snprintf(loc, sizeof(loc), "/api/v1/operations/%s",
		 json_string_value(json_object_get(op, "id")));
	return reply_hdr(c, 202, json_pack("{s:o}", "operation", op), "Location", loc);
}

enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, json_t *j)
{
	return reply_hdr(c, status, j, NULL, NULL);
}

enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status, char *text, size_t len,
			   const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	last_status = status;
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The error object and HTTP status for an errno. */
static json_t *error_json(int errnum, const char *msg, unsigned int *status)
{
	const char *code = "internal";
	json_t *j;

	*status = 500;
	switch (errnum) {
	case EINVAL:
		*status = 400, code = "bad_request";
		break;
	case EACCES:
		*status = 401, code = "unauthenticated";
		break;
	case EPERM:
		*status = 403, code = "forbidden";
		break;
	case ENOENT:
		*status = 404, code = "not_found";
		break;
	case EEXIST:
		*status = 409, code = "exists";
		break;
	case EBADMSG: /* a migration's archive whose checksum does not match (migrate.c) */
		*status = 409, code = "conflict";
		break;
	case EBUSY:
		*status = 409, code = "conflict";
		break;
	case MIGRATE_ENOLIVE: /* a live move this node cannot make (migrate_live.c) */
		*status = 409, code = "live_unavailable";
		break;
	case ENOSPC:
		*status = 409, code = "no_room"; /* admission: the policy has no room for it */
		break;
	case EOPNOTSUPP:
		*status = 409,
		code = "unenforceable"; /* a limit this host cannot enforce (caps.h) */
		break;
	case AUTH_ETOTP:
		*status = 401, code = "totp_required"; /* the client asks for a code */
		break;
	case AUTH_EENROL:
		*status = 403, code = "2fa_required";
		break;
	case POLICY_EQUOTA:
		*status = 403, code = "quota";
		break;
	case ESTALE:
		*status = 409, code = "conflict";
		break;
	case LIFE_ESUSPENDED:
		*status = 409, code = "suspended";
		break;
	case E2BIG:
		*status = 413, code = "too_large";
		break;
	case EAGAIN:
		*status = 429, code = "rate_limited";
		break;
	case ETIMEDOUT:
		*status = 504, code = "timeout";
		break;
	case ENOSYS:
		*status = 405, code = "method_not_allowed";
		break;
	case EMEDIUMTYPE:
		*status = 415, code = "unsupported_media_type";
		break;
	case EXDEV: /* placement chose another node (node.h) */
		*status = 421, code = "other_node";
		break;
	case ECANCELED: /* an operation cancelled (DELETE /operations/ID) */
		*status = 409, code = "cancelled";
		break;
	case ENOTCONN: /* the cluster's database is away (docs/cluster.md) */
		*status = 503, code = "store_unavailable";
		break;
	}
	j = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
	if (j && errnum == EXDEV)
		node_noted_elsewhere(json_object_get(j, "error"));
	return j;
}

enum MHD_Result reply_error(struct MHD_Connection *c, int errnum, const char *msg)
{
	unsigned int status;
	json_t *j = error_json(errnum, msg, &status);

	return reply(c, status, j);
}

/*
 * The chain without the errno's text at its end: "no VPS named `x`" says
 * it all; ": No such file or directory" after it would only confuse.
 */
json_t *err_json(int r, struct err **e, unsigned int *status)
{
	char msg[2048];
	const char *tail = strerror(-r);
	size_t n, t = strlen(tail);
	json_t *j;

	snprintf(msg, sizeof(msg), "%s", err_msg(*e));
	n = strlen(msg);
	if (n > t + 2 && !strcmp(msg + n - t, tail) && !strncmp(msg + n - t - 2, ": ", 2) &&
	    -r != EIO)
		msg[n - t - 2] = 0;
	j = error_json(-r, msg, status);
	err_free(e);
	return j;
}

enum MHD_Result reply_err(struct MHD_Connection *c, int r, struct err **e)
{
	unsigned int status;
	json_t *j = err_json(r, e, &status);

	return reply(c, status, j);
}

enum MHD_Result forbidden(struct MHD_Connection *c)
{
	return reply_error(c, EPERM, "only the provider's administrators may do this");
}

enum MHD_Result reply_no_such_vps(struct MHD_Connection *c, const char *name)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "no VPS named `%s`", name);
	return reply_error(c, ENOENT, msg);
}

enum MHD_Result reply_result(struct MHD_Connection *c, int r, struct err **e, unsigned int status,
			     json_t *out)
{
	if (r < 0) {
		json_decref(out);
		return reply_err(c, r, e);
	}
	return reply(c, status, out);
}

enum MHD_Result reply_ok(struct MHD_Connection *c, int r, struct err **e)
{
	return r < 0 ? reply_err(c, r, e) : reply(c, 200, json_pack("{s:b}", "ok", 1));
}
