/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The API's answers (reply.c), for the connection (api.c) and the route
 * handlers alike.
 */
#ifndef VPS_HOST_REPLY_H
#define VPS_HOST_REPLY_H

#include <jansson.h>
#include <microhttpd.h>

#include "common/err.h"

extern __thread unsigned int last_status; /* the status answered, for the audit log */
enum MHD_Result reply_hdr(struct MHD_Connection *c, unsigned int status, json_t *j, const char *hdr,
			  const char *value);
enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, json_t *j);
/* 202 for an operation started (?async=1): {"operation": op} (taken), its Location. */
enum MHD_Result reply_operation(struct MHD_Connection *c, json_t *op);
/* A body that is not JSON: text (malloc'd, taken) of len bytes, as `type`. */
enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status, char *text, size_t len,
			   const char *type);
enum MHD_Result reply_error(struct MHD_Connection *c, int errnum, const char *msg);
enum MHD_Result reply_err(struct MHD_Connection *c, int r, struct err **e);
/*
 * The answer to a call into the core that returned r: out with status, or
 * (r < 0) the error e, out dropped. reply_ok answers {"ok": true}.
 */
enum MHD_Result reply_result(struct MHD_Connection *c, int r, struct err **e, unsigned int status,
			     json_t *out);
enum MHD_Result reply_ok(struct MHD_Connection *c, int r, struct err **e);
json_t *err_json(int r, struct err **e, unsigned int *status);
/*
 * A list (taken) answered a page at a time, as GET /vps is: ordered by `key` (a name, or "id", an
 * integer id), only the entries after the query's `after`, at most its `limit` (1 to 1000);
 * without them, the whole list. A bad `limit` or `after` is 400. NULL list: 500.
 */
enum MHD_Result reply_page(struct MHD_Connection *c, json_t *list, const char *key);
enum MHD_Result forbidden(struct MHD_Connection *c);
/* 404 for a VPS that does not exist, or that the caller may not see (auth_may_see). */
enum MHD_Result reply_no_such_vps(struct MHD_Connection *c, const char *name);

#endif
