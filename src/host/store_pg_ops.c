// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The PostgreSQL store's operations (table operations; store.h, ops.h),
 * store_sqlite_ops.c's twin. Each row names the node that runs it: a vpsd
 * that starts abandons its own, never another node's.
 */
#include <errno.h>

#include "host/store_pg.h"

int pg_op_insert(struct store *base, const char *id, const char *vps, const char *user,
		 const char *action, long long created, long long keep, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	int r;

	pa_s(&a, id);
	pa_s(&a, vps);
	pa_s(&a, user);
	pa_s(&a, action);
	pa_i(&a, created);
	pa_s(&a, s->node);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s,
		   "INSERT INTO operations (id, vps, \"user\", action, state, created, node) "
		   "VALUES ($1, $2, $3, $4, 'running', $5, $6)",
		   &a, NULL, err);
	if (r == 0) {
		/* bounded: the oldest finished ones go */
		a = (struct pg_args){ 0 };
		pa_i(&a, keep);
		pg_run(s,
		       "DELETE FROM operations WHERE state != 'running' AND "
		       "seq <= (SELECT max(seq) FROM operations) - $1",
		       &a, NULL, NULL);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void pg_op_finish(struct store *base, const char *id, const char *state, int status,
		  const char *result, long long finished)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };

	pa_s(&a, state);
	pa_i(&a, status);
	pa_s(&a, result);
	pa_i(&a, finished);
	pa_s(&a, id);
	pthread_mutex_lock(&s->lock);
	pg_run(s,
	       "UPDATE operations SET state = $1, status = $2, result = $3, finished = $4 "
	       "WHERE id = $5",
	       &a, NULL, NULL);
	pthread_mutex_unlock(&s->lock);
}

json_t *pg_op_get(struct store *base, const char *id, const char *user)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	json_t *o = NULL, *res_json;
	PGresult *res;

	pa_s(&a, id);
	pa_s(&a, user);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "SELECT id, vps, \"user\", action, state, status, result, created, finished, "
		   "node FROM operations WHERE id = $1 AND ($2::text IS NULL OR \"user\" = $2)",
		   &a, &res, NULL) == 0) {
		if (PQntuples(res) == 1 &&
		    (o = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:I}", "id", pg_s(res, 0, 0), "vps",
				   pg_s(res, 0, 1), "user", pg_s(res, 0, 2), "action",
				   pg_s(res, 0, 3), "state", pg_s(res, 0, 4), "created",
				   (json_int_t)pg_i(res, 0, 7)))) {
			if (!pg_null(res, 0, 8))
				json_object_set_new(o, "finished", json_integer(pg_i(res, 0, 8)));
			if (!pg_null(res, 0, 9)) /* the node that runs it (routes_ops.c) */
				json_object_set_new(o, "node", json_string(pg_s(res, 0, 9)));
			if (!pg_null(res, 0, 5))
				json_object_set_new(o, "status", json_integer(pg_i(res, 0, 5)));
			res_json = pg_null(res, 0, 6) ? NULL : json_loads(pg_s(res, 0, 6), 0, NULL);
			if (res_json)
				json_object_set_new(o, "result", res_json);
		}
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return o;
}

void pg_ops_abandon(struct store *base, int status, const char *result, long long finished)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };

	pa_i(&a, status);
	pa_i(&a, finished);
	pa_s(&a, result);
	pa_s(&a, s->node);
	pthread_mutex_lock(&s->lock);
	pg_run(s,
	       "UPDATE operations SET state = 'failed', status = $1, finished = $2, result = $3 "
	       "WHERE state = 'running' AND node = $4",
	       &a, NULL, NULL);
	pthread_mutex_unlock(&s->lock);
}
