// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The routes of what happened (route.h): an operation's progress (ops.c,
 * what `?async=1` returns) and the event log, each showing a customer only
 * their own VPSes'.
 */
#include <errno.h>
#include <stdlib.h>

#include "host/ops.h"
#include "host/route.h"

enum MHD_Result api_operation_get(struct call *x)
{
	json_t *out = op_get(x->h, x->arg, x->p->admin ? NULL : x->p->user);

	return out ? reply(x->c, 200, out) : reply_error(x->c, ENOENT, "no such operation");
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
