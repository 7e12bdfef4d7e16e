// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The routes of what happened (route.h): an operation's progress (ops.c,
 * what `?async=1` returns), its cancel, and the event log, each showing a
 * customer only their own VPSes'. A running operation's figures and its
 * cancel live in the memory of the node that runs it: asked on another
 * node, the request goes there (peer.c), as a VPS's actions do.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "host/ops.h"
#include "host/peer.h"
#include "host/route.h"

/* The node that runs operation o, when that is not this one and it still runs. */
static const char *runs_elsewhere(const struct call *x, json_t *o)
{
	const char *node = json_string_value(json_object_get(o, "node"));
	const char *state = json_string_value(json_object_get(o, "state"));

	if (!x->h->peer || x->forwarded || !x->h->node || !node || !*node ||
	    !strcmp(node, x->h->node) || !state || strcmp(state, "running"))
		return NULL;
	return node;
}

/*
 * Send the request to the node running the operation; its answer is the
 * answer. *ans NULL: it did not answer (the log says why).
 */
static unsigned int to_runner(const struct call *x, const char *node, const char *method,
			      json_t **ans)
{
	char path[256], loc[PEER_LOCATION_MAX];
	json_t *empty = json_object();
	struct err *e = NULL;
	unsigned int st = 0;

	snprintf(path, sizeof(path), ROUTE_PREFIX "/operations/%s", x->arg);
	*ans = NULL;
	if (peer_forward(x->h, node, x->p, method, path, empty, &st, ans, loc, &e) < 0) {
		pr_warn("operation %s on node `%s`: %s", x->arg, node, err_msg(e));
		json_decref(*ans);
		*ans = NULL;
	}
	err_free(&e);
	json_decref(empty);
	return st;
}

enum MHD_Result api_operation_get(struct call *x)
{
	json_t *out = op_get(x->h, x->arg, x->p->admin ? NULL : x->p->user), *ans;
	const char *node = out ? runs_elsewhere(x, out) : NULL;
	unsigned int st;

	if (!out)
		return reply_error(x->c, ENOENT, "no such operation");
	if (node && (st = to_runner(x, node, "GET", &ans), ans)) {
		json_decref(out);
		return reply(x->c, st, ans);
	}
	return reply(x->c, 200, out); /* the row without the figures: all the store knows */
}

enum MHD_Result api_operation_delete(struct call *x)
{
	json_t *o = op_get(x->h, x->arg, x->p->admin ? NULL : x->p->user), *ans;
	const char *node = o ? runs_elsewhere(x, o) : NULL;
	struct err *e = NULL;
	unsigned int st;
	int r;

	if (!o)
		return reply_error(x->c, ENOENT, "no such operation");
	if (node) {
		st = to_runner(x, node, "DELETE", &ans);
		json_decref(o);
		if (!ans)
			return reply(x->c, 503,
				     json_pack("{s:{s:s, s:s}}", "error", "code",
					       "node_unreachable", "message",
					       "the node running the operation does not answer; "
					       "try again"));
		return reply(x->c, st, ans);
	}
	if (strcmp(json_string_value(json_object_get(o, "state")), "running")) {
		json_decref(o);
		return reply_error(x->c, EBUSY, "the operation has ended");
	}
	json_decref(o);
	if ((r = op_cancel(x->arg, &e)) < 0) {
		if (r == -ENOENT)
			r = -EBUSY;
		return reply_err(x->c, r, &e);
	}
	/* asked: the work stops at its next look, leaving what it had as it was */
	return reply(x->c, 202, op_get(x->h, x->arg, NULL));
}

enum MHD_Result api_events_get(struct call *x)
{
	struct MHD_Connection *c = x->c;
	const char *vps = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "vps");
	const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
	const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");

	if (vps && !auth_may_see(x->h, x->p, vps))
		return reply_no_such_vps(c, vps);
	return reply(c, 200,
		     store_events(x->h->store, vps, x->p->admin ? NULL : x->p->user,
				  after ? atoll(after) : 0,
				  limit && atoi(limit) > 0 ? atoi(limit) : 1000));
}
