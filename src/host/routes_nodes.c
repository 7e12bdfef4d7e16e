// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The node routes (route.h; the administrators'): the cluster's nodes, and
 * a join token for a new one. node.c does the work (docs/cluster.md).
 */
#include <errno.h>

#include "host/migrate.h"
#include "host/node.h"
#include "host/route.h"

enum MHD_Result api_nodes_get(struct call *x)
{
	struct err *e = NULL;
	json_t *out = node_list(x->h, &e);

	return out ? reply(x->c, 200, out) : reply_err(x->c, -ENOTCONN, &e);
}

enum MHD_Result api_node_evacuate(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = migrate_evacuate(x->h, x->arg, x->p->user, &out, &e);

	return reply_result(x->c, r, &e, 200, out);
}

enum MHD_Result api_node_restore(struct call *x)
{
	struct err *e = NULL;
	int r = migrate_restore(x->h, x->arg, &e);

	return reply_result(x->c, r, &e, 200, r < 0 ? NULL : json_pack("{s:s}", "node", x->arg));
}

enum MHD_Result api_node_tokens_post(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = node_token(x->h, x->body, &out, &e);

	return reply_result(x->c, r, &e, 201, out);
}
