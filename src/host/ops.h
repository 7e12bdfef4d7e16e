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

#include <stdbool.h>

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
/* The same, naming the phase it is in (shown as `phase`; NULL: unchanged). */
void op_phase(const char *phase, double pct);
/*
 * The calling thread's next op_progress figures map into lo..hi (an
 * evacuation's one migration of several). The figure shown never goes back.
 */
void op_progress_range(double lo, double hi);
/*
 * Cancelling (DELETE /operations/ID): a work that can stop cleanly says so
 * with op_cancellable(true), looks at op_cancelled() as it goes, and calls
 * op_commit() at its point of no return: -ECANCELED if a cancel came first,
 * else from then on a cancel is refused (EBUSY). Nothing when synchronous.
 */
void op_cancellable(bool on);
bool op_cancelled(void);
int op_commit(struct err **err);
/* Ask operation id, running in this vpsd, to stop: ENOENT (not here), EBUSY (cannot now). */
int op_cancel(const char *id, struct err **err);
/* At start: operations left running by a previous vpsd failed with it. */
void op_recover(struct host *h);

#endif
