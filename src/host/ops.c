// SPDX-License-Identifier: GPL-2.0-or-later
/* Operations: long requests on their own thread, polled by id (ops.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "host/ops.h"
#include "host/store.h"

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

static void finish(struct host *h, const char *id, unsigned int status, json_t *out)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;

	db = store_lock(h->store);
	if (sqlite3_prepare_v2(db,
			       "UPDATE operations SET state = ?, status = ?, result = ?, "
			       "finished = ? WHERE id = ?",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, status < 400 ? "done" : "failed", -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, (int)status);
		sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, time(NULL));
		sqlite3_bind_text(st, 5, id, -1, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	store_unlock(h->store);
	free(text);
}

static void *run(void *arg)
{
	struct op *o = arg;
	json_t *out = NULL;
	unsigned int status = o->work(o->h, o->action, o->vps, o->body, o->user, &out);

	finish(o->h, o->id, status, out);
	json_decref(out);
	op_free(o);
	return NULL;
}

static json_t *row(sqlite3_stmt *st)
{
	const char *state = (const char *)sqlite3_column_text(st, 4);
	json_t *o = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:I}", "id", sqlite3_column_text(st, 0),
			      "vps", sqlite3_column_text(st, 1), "user", sqlite3_column_text(st, 2),
			      "action", sqlite3_column_text(st, 3), "state", state, "created",
			      (json_int_t)sqlite3_column_int64(st, 7));
	json_t *res;

	if (!o)
		return NULL;
	if (sqlite3_column_type(st, 8) != SQLITE_NULL)
		json_object_set_new(o, "finished", json_integer(sqlite3_column_int64(st, 8)));
	if (sqlite3_column_type(st, 5) != SQLITE_NULL)
		json_object_set_new(o, "status", json_integer(sqlite3_column_int(st, 5)));
	res = sqlite3_column_type(st, 6) == SQLITE_NULL ?
		      NULL :
		      json_loads((const char *)sqlite3_column_text(st, 6), 0, NULL);
	if (res && !strcmp(state, "failed") && json_object_get(res, "error"))
		json_object_set(o, "error", json_object_get(res, "error"));
	else if (res)
		json_object_set(o, "result", res);
	json_decref(res);
	return o;
}

#define OP_COLUMNS "id, vps, user, action, state, status, result, created, finished"

json_t *op_get(struct host *h, const char *id, const char *user)
{
	sqlite3 *db = store_lock(h->store);
	sqlite3_stmt *st;
	json_t *o = NULL;

	if (sqlite3_prepare_v2(db,
			       "SELECT " OP_COLUMNS " FROM operations WHERE id = ?1 AND "
			       "(?2 IS NULL OR user = ?2)",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			o = row(st);
		sqlite3_finalize(st);
	}
	store_unlock(h->store);
	return o;
}

int op_submit(struct host *h, const char *user, const char *vps, const char *action, json_t *body,
	      op_work work, json_t **op, struct err **err)
{
	struct op *o = calloc(1, sizeof(*o));
	unsigned char rnd[16];
	pthread_attr_t attr;
	pthread_t t;
	sqlite3 *db;
	sqlite3_stmt *st;
	int r = 0;

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

	db = store_lock(h->store);
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO operations (id, vps, user, action, state, created) "
			       "VALUES (?, ?, ?, ?, 'running', ?)",
			       -1, &st, NULL) != SQLITE_OK) {
		r = err_make(err, EIO, "store: %s", sqlite3_errmsg(db));
	} else {
		sqlite3_bind_text(st, 1, o->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, vps, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, user, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, time(NULL));
		if (sqlite3_step(st) != SQLITE_DONE)
			r = err_make(err, EIO, "store: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		/* bounded: the oldest finished ones go */
		sqlite3_exec(db,
			     "DELETE FROM operations WHERE state != 'running' AND rowid <= "
			     "(SELECT max(rowid) FROM operations) - 10000",
			     NULL, NULL, NULL);
	}
	store_unlock(h->store);
	if (r < 0) {
		op_free(o);
		return r;
	}
	*op = op_get(h, o->id, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if ((r = pthread_create(&t, &attr, run, o)) != 0) {
		json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code", "internal", "message",
				      "could not start the operation's thread");

		finish(h, o->id, 500, e);
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
	sqlite3 *db = store_lock(h->store);

	sqlite3_exec(db,
		     "UPDATE operations SET state = 'failed', status = 500, finished = "
		     "strftime('%s', 'now'), result = '{\"error\": {\"code\": \"internal\", "
		     "\"message\": \"vpsd stopped before the operation ended\"}}' "
		     "WHERE state = 'running'",
		     NULL, NULL, NULL);
	store_unlock(h->store);
}
