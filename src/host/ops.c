// SPDX-License-Identifier: GPL-2.0-or-later
/* Operations: long requests on their own thread, polled by id (ops.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "host/metrics.h"
#include "host/ops.h"
#include "host/store.h"

/* the finished operations kept (the oldest go first) */
#define OPS_KEEP 10000

/*
 * A running operation's percentage (op_progress): kept in memory only, as
 * it means nothing once the operation ended or vpsd restarted.
 */
#define OPS_PROGRESS 64

static struct {
	char id[33];
	double pct;
	char phase[16];
	bool cancellable, cancel; /* op_cancellable, op_cancel */
} progress[OPS_PROGRESS];
static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread const char *current; /* the operation this thread runs */
static __thread double range_lo, range_hi = 100; /* op_progress_range */

struct op {
	struct host *h;
	char id[33];
	char *action, *vps, *user;
	json_t *body;
	op_work work;
};

static void op_free(struct op *o)
{
	free(o->action);
	free(o->vps);
	free(o->user);
	json_decref(o->body);
	free(o);
}

static void finish(struct host *h, const char *id, const char *action, unsigned int status,
		   json_t *out)
{
	char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;

	metrics_op_finished(action, status < 400);
	store_op_finish(h->store, id, status < 400 ? "done" : "failed", (int)status, text,
			time(NULL));
	free(text);
}

/* The calling thread's slot, taken when absent (progress_lock held); -1: none free. */
static int slot(void)
{
	int free_slot = -1, i;

	for (i = 0; i < OPS_PROGRESS; i++) {
		if (!strcmp(progress[i].id, current))
			return i;
		if (free_slot < 0 && !progress[i].id[0])
			free_slot = i;
	}
	if (free_slot >= 0) {
		memset(&progress[free_slot], 0, sizeof(progress[free_slot]));
		snprintf(progress[free_slot].id, sizeof(progress[free_slot].id), "%s", current);
	}
	return free_slot;
}

void op_phase(const char *phase, double pct)
{
	int i;

	if (!current)
		return;
	pct = pct < 0 ? 0 : pct > 100 ? 100 : pct;
	pct = range_lo + (range_hi - range_lo) * pct / 100;
	pthread_mutex_lock(&progress_lock);
	if ((i = slot()) >= 0) {
		/* never backwards: a poller sees the figure only grow */
		if (pct > progress[i].pct)
			progress[i].pct = pct;
		if (phase)
			snprintf(progress[i].phase, sizeof(progress[i].phase), "%s", phase);
	}
	pthread_mutex_unlock(&progress_lock);
}

void op_progress(double pct)
{
	op_phase(NULL, pct);
}

void op_progress_range(double lo, double hi)
{
	range_lo = lo;
	range_hi = hi;
}

void op_cancellable(bool on)
{
	int i;

	if (!current)
		return;
	pthread_mutex_lock(&progress_lock);
	if ((i = slot()) >= 0)
		progress[i].cancellable = on;
	pthread_mutex_unlock(&progress_lock);
}

bool op_cancelled(void)
{
	bool c = false;
	int i;

	if (!current)
		return false;
	pthread_mutex_lock(&progress_lock);
	if ((i = slot()) >= 0)
		c = progress[i].cancel;
	pthread_mutex_unlock(&progress_lock);
	return c;
}

int op_commit(struct err **err)
{
	int i, r = 0;

	if (!current)
		return 0;
	pthread_mutex_lock(&progress_lock);
	if ((i = slot()) >= 0) {
		if (progress[i].cancel)
			r = err_make(err, ECANCELED, "cancelled");
		progress[i].cancellable = false;
	}
	pthread_mutex_unlock(&progress_lock);
	return r;
}

int op_cancel(const char *id, struct err **err)
{
	int r = err_make(err, ENOENT, "the operation is not running on this node");

	pthread_mutex_lock(&progress_lock);
	for (int i = 0; i < OPS_PROGRESS; i++) {
		if (strcmp(progress[i].id, id))
			continue;
		err_free(err);
		if (progress[i].cancel) {
			r = 0;
		} else if (!progress[i].cancellable) {
			r = err_make(err, EBUSY, "the operation cannot be cancelled %s",
				     progress[i].phase[0] ? "any more: it is past its point of no "
							    "return" :
							    "(only a migration can)");
		} else {
			progress[i].cancel = true;
			r = 0;
		}
		break;
	}
	pthread_mutex_unlock(&progress_lock);
	return r;
}

static void progress_forget(const char *id)
{
	pthread_mutex_lock(&progress_lock);
	for (int i = 0; i < OPS_PROGRESS; i++)
		if (!strcmp(progress[i].id, id))
			progress[i].id[0] = 0;
	pthread_mutex_unlock(&progress_lock);
}

static void *run(void *arg)
{
	struct op *o = arg;
	json_t *out = NULL;
	unsigned int status;

	current = o->id;
	range_lo = 0;
	range_hi = 100;
	pthread_mutex_lock(&progress_lock);
	slot(); /* taken now, so a cancel finds it from the start */
	pthread_mutex_unlock(&progress_lock);
	status = o->work(o->h, o->action, o->vps, o->body, o->user, &out);
	current = NULL;
	progress_forget(o->id);

	finish(o->h, o->id, o->action, status, out);
	json_decref(out);
	op_free(o);
	return NULL;
}

json_t *op_get(struct host *h, const char *id, const char *user)
{
	json_t *o = store_op_get(h->store, id, user), *res;

	/* a failure's result is its error: shown as `error`, not `result` */
	res = json_object_get(o, "result");
	if (res && !strcmp(json_string_value(json_object_get(o, "state")), "failed") &&
	    json_object_get(res, "error")) {
		json_object_set(o, "error", json_object_get(res, "error"));
		json_object_del(o, "result");
	}
	if (o && !strcmp(json_string_value(json_object_get(o, "state")), "running")) {
		pthread_mutex_lock(&progress_lock);
		for (int i = 0; i < OPS_PROGRESS; i++)
			if (!strcmp(progress[i].id, id)) {
				json_object_set_new(o, "progress", json_real(progress[i].pct));
				if (progress[i].phase[0])
					json_object_set_new(o, "phase",
							    json_string(progress[i].phase));
				json_object_set_new(o, "cancellable",
						    json_boolean(progress[i].cancellable &&
								 !progress[i].cancel));
			}
		pthread_mutex_unlock(&progress_lock);
	}
	return o;
}

int op_submit(struct host *h, const char *user, const char *vps, const char *action, json_t *body,
	      op_work work, json_t **op, struct err **err)
{
	struct op *o = calloc(1, sizeof(*o));
	unsigned char rnd[16];
	pthread_attr_t attr;
	pthread_t t;
	int r;

	if (!o || !(o->action = strdup(action)) || (vps && !(o->vps = strdup(vps))) ||
	    !(o->user = strdup(user)) || !(o->body = json_deep_copy(body))) {
		if (o)
			op_free(o);
		return err_make(err, ENOMEM, "operation");
	}
	o->h = h;
	o->work = work;
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(o->id, sizeof(o->id), rnd, sizeof(rnd));

	r = store_op_insert(h->store, o->id, vps, user, action, time(NULL), OPS_KEEP, err);
	if (r < 0) {
		op_free(o);
		return r;
	}
	*op = op_get(h, o->id, NULL);
	metrics_op_started(action);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if ((r = pthread_create(&t, &attr, run, o)) != 0) {
		json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code", "internal", "message",
				      "could not start the operation's thread");

		finish(h, o->id, o->action, 500, e);
		json_decref(e);
		json_decref(*op);
		*op = op_get(h, o->id, NULL);
		op_free(o);
	}
	pthread_attr_destroy(&attr);
	return 0;
}

void op_recover(struct host *h)
{
	store_ops_abandon(h->store, 500,
			  "{\"error\": {\"code\": \"internal\", \"message\": "
			  "\"vpsd stopped before the operation ended\"}}",
			  time(NULL));
}
