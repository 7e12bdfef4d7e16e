// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The SQLite store's webhooks (table webhooks; store.h, docs/webhooks.md).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "host/store_sqlite.h"

json_t *sq_webhooks(struct store *base, const char *owner, bool secrets)
{
	struct store_sqlite *s = sq(base);
	json_t *a = json_array();
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	st = sq_prepare(s, "SELECT id, owner, url, events, created, last_event, delivered, failed, "
			   "last_status, secret FROM webhooks WHERE ?1 IS NULL OR owner = ?1 "
			   "ORDER BY id");
	if (st) {
		if (owner)
			sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			json_t *o = json_pack("{s:I, s:s?, s:s, s:s, s:I, s:I, s:I, s:I, s:s}",
					      "id", (json_int_t)sqlite3_column_int64(st, 0),
					      "owner", (const char *)sqlite3_column_text(st, 1),
					      "url", (const char *)sqlite3_column_text(st, 2),
					      "events", (const char *)sqlite3_column_text(st, 3),
					      "created", (json_int_t)sqlite3_column_int64(st, 4),
					      "last_event", (json_int_t)sqlite3_column_int64(st, 5),
					      "delivered", (json_int_t)sqlite3_column_int64(st, 6),
					      "failed", (json_int_t)sqlite3_column_int64(st, 7),
					      "last_status",
					      (const char *)sqlite3_column_text(st, 8));

			if (o && secrets)
				json_object_set_new(
					o, "secret",
					json_string((const char *)sqlite3_column_text(st, 9)));
			json_array_append_new(a, o);
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return a;
}

int sq_webhook_add(struct store *base, const struct store_webhook *w, long long *id,
		   struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r;

	pthread_mutex_lock(&s->lock);
	st = sq_prepare(s, "INSERT INTO webhooks (owner, url, secret, events, created, last_event) "
			   "VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(id), 0) FROM events))");
	if (st) {
		if (w->owner)
			sqlite3_bind_text(st, 1, w->owner, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, w->url, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, w->secret, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, w->events, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, w->created);
	}
	r = sq_write(s, st, err);
	if (r == 0)
		*id = sqlite3_last_insert_rowid(s->db);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int sq_webhook_delete(struct store *base, long long id, const char *owner, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r;

	pthread_mutex_lock(&s->lock);
	st = sq_prepare(s, "DELETE FROM webhooks WHERE id = ?1 AND (?2 IS NULL OR owner = ?2)");
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		if (owner)
			sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
	}
	r = sq_write(s, st, err);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		r = err_make(err, ENOENT, "no webhook %lld", id);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int sq_webhook_done(struct store *base, long long id, long long from, long long to, int outcome,
		    const char *status)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	st = sq_prepare(s, "UPDATE webhooks SET last_event = ?3, delivered = delivered + (?4 = 1), "
			   "failed = failed + (?4 = 0), last_status = COALESCE(?5, last_status) "
			   "WHERE id = ?1 AND last_event = ?2");
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, from);
		sqlite3_bind_int64(st, 3, to);
		sqlite3_bind_int(st, 4, outcome);
		if (status)
			sqlite3_bind_text(st, 5, status, -1, SQLITE_STATIC);
	}
	if (sq_write(s, st, NULL) == 0)
		r = sqlite3_changes(s->db) > 0;
	pthread_mutex_unlock(&s->lock);
	return r;
}
