// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The storage routes (route.h): pools (the administrators') and a VPS's
 * snapshots (its owner's, by the table's ROUTE_VPS check before any of
 * these runs). pool.c and snapshot.c do the work.
 */
#include <errno.h>

#include "host/pool.h"
#include "host/route.h"
#include "host/snapshot.h"
#include "host/webhook.h"

enum MHD_Result api_pools_get(struct call *x)
{
	return reply_page(x->c, pool_list(x->h), "name");
}

enum MHD_Result api_pools_post(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = pool_add(x->h, x->body, &out, &e);

	return reply_result(x->c, r, &e, 201, out);
}

enum MHD_Result api_pool_delete(struct call *x)
{
	struct err *e = NULL;
	int r = pool_rm(x->h, x->arg, &e);

	return reply_ok(x->c, r, &e);
}

enum MHD_Result api_snapshots_get(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = snapshot_list(x->h, x->arg, &out, &e);

	return reply_result(x->c, r, &e, 200, out);
}

enum MHD_Result api_snapshots_post(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = snapshot_create(x->h, x->arg, x->body, &out, &e);

	return reply_result(x->c, r, &e, 201, out);
}

enum MHD_Result api_snapshot_delete(struct call *x)
{
	struct err *e = NULL;
	int r = snapshot_rm(x->h, x->arg, x->arg2, &e);

	return reply_ok(x->c, r, &e);
}

enum MHD_Result api_snapshot_revert(struct call *x)
{
	struct err *e = NULL;
	int r = snapshot_revert(x->h, x->arg, x->arg2, &e);

	return reply_ok(x->c, r, &e);
}

/* Webhooks: a customer sees and changes their own only (webhook.c). */
enum MHD_Result api_webhooks_get(struct call *x)
{
	return reply_page(x->c, webhook_list(x->h, x->p), "id");
}

enum MHD_Result api_webhooks_post(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = webhook_add(x->h, x->p, x->body, &out, &e);

	return reply_result(x->c, r, &e, 201, out);
}

enum MHD_Result api_webhook_delete(struct call *x)
{
	struct err *e = NULL;
	int r = webhook_rm(x->h, x->p, x->arg, &e);

	return reply_ok(x->c, r, &e);
}
