// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The PostgreSQL store's webhooks (table webhooks; store.h),
 * store_sqlite_hooks.c's twin. webhook_done's compare-and-set on
 * last_event is what keeps two nodes from both counting one delivery.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/store_pg.h"

json_t *pg_webhooks(struct store *base, const char *owner, bool secrets)
{
	struct store_pg *s = pgs(base);
	json_t *out = json_array();
	struct pg_args a = { 0 };
	PGresult *res;

	pa_s(&a, owner);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "SELECT id, owner, url, events, created, last_event, delivered, failed, "
		   "last_status, secret FROM webhooks WHERE $1::text IS NULL OR owner = $1 "
		   "ORDER BY id",
		   &a, &res, NULL) == 0) {
		for (int i = 0; i < PQntuples(res); i++) {
			json_t *o = json_pack("{s:I, s:s?, s:s, s:s, s:I, s:I, s:I, s:I, s:s}",
					      "id", (json_int_t)pg_i(res, i, 0), "owner",
					      pg_null(res, i, 1) ? NULL : pg_s(res, i, 1), "url",
					      pg_s(res, i, 2), "events", pg_s(res, i, 3), "created",
					      (json_int_t)pg_i(res, i, 4), "last_event",
					      (json_int_t)pg_i(res, i, 5), "delivered",
					      (json_int_t)pg_i(res, i, 6), "failed",
					      (json_int_t)pg_i(res, i, 7), "last_status",
					      pg_s(res, i, 8));

			if (o && secrets)
				json_object_set_new(o, "secret", json_string(pg_s(res, i, 9)));
			json_array_append_new(out, o);
		}
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

int pg_webhook_add(struct store *base, const struct store_webhook *w, long long *id,
		   struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res;
	int r;

	pa_s(&a, w->owner);
	pa_s(&a, w->url);
	pa_s(&a, w->secret);
	pa_s(&a, w->events);
	pa_i(&a, w->created);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s,
		   "INSERT INTO webhooks (owner, url, secret, events, created, last_event) "
		   "VALUES ($1, $2, $3, $4, $5, (SELECT COALESCE(MAX(id), 0) FROM events)) "
		   "RETURNING id",
		   &a, &res, err);
	if (r == 0) {
		*id = PQntuples(res) == 1 ? pg_i(res, 0, 0) : 0;
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int pg_webhook_delete(struct store *base, long long id, const char *owner, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res;
	int r;

	pa_i(&a, id);
	pa_s(&a, owner);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s, "DELETE FROM webhooks WHERE id = $1 AND ($2::text IS NULL OR owner = $2)", &a,
		   &res, err);
	if (r == 0) {
		if (pg_changes(res) == 0)
			r = err_make(err, ENOENT, "no webhook %lld", id);
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int pg_webhook_done(struct store *base, long long id, long long from, long long to, int outcome,
		    const char *status)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res;
	int r = 0;

	pa_i(&a, id);
	pa_i(&a, from);
	pa_i(&a, to);
	pa_i(&a, outcome);
	pa_s(&a, status);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "UPDATE webhooks SET last_event = $3, "
		   "delivered = delivered + CASE WHEN $4::int = 1 THEN 1 ELSE 0 END, "
		   "failed = failed + CASE WHEN $4::int = 0 THEN 1 ELSE 0 END, "
		   "last_status = COALESCE($5, last_status) WHERE id = $1 AND last_event = $2",
		   &a, &res, NULL) == 0) {
		r = pg_changes(res) > 0;
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}
