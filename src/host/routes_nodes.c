// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The node routes (route.h; the administrators'): the cluster's nodes, and
 * a join token for a new one. node.c does the work (docs/cluster.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/migrate.h"
#include "host/node.h"
#include "host/ops.h"
#include "host/peer.h"
#include "host/route.h"

enum MHD_Result api_nodes_get(struct call *x)
{
	struct err *e = NULL;
	json_t *out = node_list(x->h, &e);

	return out ? reply_page(x->c, out, "name") : reply_err(x->c, -ENOTCONN, &e);
}

/* An evacuation as an operation (?async=1): the node's name is the body's `node`. */
static unsigned int evacuate_work(struct host *h, const char *action, const char *vps, json_t *body,
				  const char *user, json_t **out)
{
	struct err *e = NULL;
	unsigned int status = 200;
	int r = migrate_evacuate(h, json_string_value(json_object_get(body, "node")), user, out,
				 &e);

	(void)action;
	(void)vps;
	if (r < 0) {
		json_decref(*out);
		*out = err_json(r, &e, &status);
	}
	return status;
}

enum MHD_Result api_node_evacuate(struct call *x)
{
	const char *as = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "async");
	struct err *e = NULL;
	json_t *out = NULL, *op, *body;
	int r;

	if (as && (!strcmp(as, "1") || !strcmp(as, "true"))) {
		body = json_pack("{s:s}", "node", x->arg);
		r = op_submit(x->h, x->p->user, NULL, "evacuate", body, evacuate_work, &op, &e);
		json_decref(body);
		if (r < 0)
			return reply_err(x->c, r, &e);
		return reply_operation(x->c, op);
	}
	r = migrate_evacuate(x->h, x->arg, x->p->user, &out, &e);
	return reply_result(x->c, r, &e, 200, out);
}

enum MHD_Result api_node_restore(struct call *x)
{
	struct err *e = NULL;
	int r = migrate_restore(x->h, x->arg, &e);

	return reply_result(x->c, r, &e, 200, r < 0 ? NULL : json_pack("{s:s}", "node", x->arg));
}

/*
 * A live move's stream arriving (node to node only, docs/cluster.md "A
 * running VM on vps-vmm"): the VPS's monitor started here, waiting, and a
 * TLS listener of vpsd's own for the stream (peer_stream_serve): its port
 * and the ticket the sending node shows there.
 */
enum MHD_Result api_migration_stream(struct call *x)
{
	struct err *e = NULL;
	char *sock = NULL, ticket[PEER_TICKET_LEN + 1];
	unsigned int port = 0;
	int r;

	if (!x->forwarded || !x->peer_node)
		return reply_error(x->c, EPERM,
				   "a migration's stream comes node to node only (--peer)");
	if ((r = migrate_stream_in(x->h, x->arg, x->peer_node, &sock, &e)) < 0)
		return reply_err(x->c, r, &e);
	r = peer_stream_serve(x->h, x->peer_node, sock, &port, ticket, &e);
	free(sock);
	if (r < 0) /* the monitor waiting gives the move up by itself */
		return reply_err(x->c, r, &e);
	return reply_result(x->c, 0, &e, 200,
			    json_pack("{s:i, s:s}", "port", (int)port, "ticket", ticket));
}

/* Whether a live move's arrival runs here (node to node only): its source then lets go. */
enum MHD_Result api_migration_get(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r;

	if (!x->forwarded || !x->peer_node)
		return reply_error(x->c, EPERM, "a migration is asked after node to node only");
	r = migrate_arrived(x->h, x->arg, x->peer_node, &out, &e);
	return reply_result(x->c, r, &e, 200, out);
}

enum MHD_Result api_node_tokens_post(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = node_token(x->h, x->body, &out, &e);

	return reply_result(x->c, r, &e, 201, out);
}

enum MHD_Result api_node_get(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = node_show(x->h, x->arg, &out, &e);

	return reply_result(x->c, r, &e, 200, out);
}

/* ?force=1: remove a node whose heartbeat is fresh (a VPS record on it still refuses). */
enum MHD_Result api_node_delete(struct call *x)
{
	const char *f = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "force");
	struct err *e = NULL;
	bool force = f && (!strcmp(f, "1") || !strcmp(f, "true"));
	int r;

	if (f && !force && strcmp(f, "0") && strcmp(f, "false"))
		return reply_error(x->c, EINVAL, "`force`: expected 1, true, 0 or false");
	r = node_remove(x->h, x->arg, force, &e);
	return reply_result(x->c, r, &e, 200, r < 0 ? NULL : json_pack("{s:s}", "node", x->arg));
}
