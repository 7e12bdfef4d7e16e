// SPDX-License-Identifier: GPL-2.0-or-later
/* The SQLite store's operations (table operations; store.h, ops.h). */
#include <errno.h>
#include <pthread.h>

#include "host/store_sqlite.h"

int sq_op_insert(struct store *base, const char *id, const char *vps, const char *user,
		 const char *action, long long created, long long keep, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "INSERT INTO operations (id, vps, user, action, state, created) "
				"VALUES (?, ?, ?, ?, 'running', ?)"))) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, vps, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, user, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, created);
	}
	if ((r = sq_write(s, st, err)) == 0) {
		/* bounded: the oldest finished ones go */
		if ((st = sq_prepare(s, "DELETE FROM operations WHERE state != 'running' AND "
					"rowid <= (SELECT max(rowid) FROM operations) - ?")))
			sqlite3_bind_int64(st, 1, keep);
		sq_step_done(st);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void sq_op_finish(struct store *base, const char *id, const char *state, int status,
		  const char *result, long long finished)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "UPDATE operations SET state = ?, status = ?, result = ?, "
				"finished = ? WHERE id = ?"))) {
		sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, status);
		sqlite3_bind_text(st, 3, result, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, finished);
		sqlite3_bind_text(st, 5, id, -1, SQLITE_STATIC);
	}
	sq_step_done(st);
	pthread_mutex_unlock(&s->lock);
}

static json_t *row(sqlite3_stmt *st)
{
	json_t *o = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:I}", "id", sqlite3_column_text(st, 0),
			      "vps", sqlite3_column_text(st, 1), "user", sqlite3_column_text(st, 2),
			      "action", sqlite3_column_text(st, 3), "state",
			      sqlite3_column_text(st, 4), "created",
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
	if (res)
		json_object_set_new(o, "result", res);
	return o;
}

json_t *sq_op_get(struct store *base, const char *id, const char *user)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	json_t *o = NULL;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "SELECT id, vps, user, action, state, status, result, created, "
				"finished FROM operations WHERE id = ?1 AND "
				"(?2 IS NULL OR user = ?2)"))) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			o = row(st);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return o;
}

void sq_ops_abandon(struct store *base, int status, const char *result, long long finished)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "UPDATE operations SET state = 'failed', status = ?, "
				"finished = ?, result = ? WHERE state = 'running'"))) {
		sqlite3_bind_int(st, 1, status);
		sqlite3_bind_int64(st, 2, finished);
		sqlite3_bind_text(st, 3, result, -1, SQLITE_STATIC);
	}
	sq_step_done(st);
	pthread_mutex_unlock(&s->lock);
}
