/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Operations (docs/vpsd.md): a long request asked with ?async=1 runs on a
 * thread of its own; the client gets an id at once and polls
 * GET /api/v1/operations/ID. The store keeps each operation's state and
 * answer (the newest OPS_KEEP), so a poll works after the request's
 * connection is gone; vpsd marks the ones a restart cut short as failed.
 */
#ifndef VPS_HOST_OPS_H
#define VPS_HOST_OPS_H

#include <jansson.h>

#include "common/err.h"
#include "host/host.h"

#define OPS_KEEP 10000

/* The work: the HTTP status and body the synchronous request would have answered. */
typedef unsigned int (*op_work)(struct host *h, const char *action, const char *vps, json_t *body,
				const char *user, json_t **out);

/* Start it; *op gets the operation's object. body is copied. */
int op_submit(struct host *h, const char *user, const char *vps, const char *action, json_t *body,
	      op_work work, json_t **op, struct err **err);
/* The operation, if it exists and `user` may see it (NULL: anyone's). */
json_t *op_get(struct host *h, const char *id, const char *user);
/*
 * The calling thread's operation is pct (0 to 100) done: shown as
 * `progress` while it runs. Nothing when the work runs synchronously.
 */
void op_progress(double pct);
/* At start: operations left running by a previous vpsd failed with it. */
void op_recover(struct host *h);

#endif
