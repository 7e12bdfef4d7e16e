// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The PostgreSQL store's storage pools and snapshots (tables pools,
 * vps_pools, snapshots; store.h), store_sqlite_pools.c's twin.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/store_pg.h"

json_t *pg_pools(struct store *base)
{
	struct store_pg *s = pgs(base);
	json_t *out = json_array();
	PGresult *res;

	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "SELECT name, path, reflink, created, "
		   "(SELECT COUNT(*) FROM vps_pools v WHERE v.pool = p.name) "
		   "FROM pools p ORDER BY name",
		   NULL, &res, NULL) == 0) {
		for (int i = 0; i < PQntuples(res); i++)
			json_array_append_new(out,
					      json_pack("{s:s, s:s, s:b, s:I, s:I}", "name",
							pg_s(res, i, 0), "path", pg_s(res, i, 1),
							"reflink", (int)pg_i(res, i, 2), "created",
							(json_int_t)pg_i(res, i, 3), "vps",
							(json_int_t)pg_i(res, i, 4)));
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

int pg_pool_add(struct store *base, const char *name, const char *path, bool reflink,
		long long created, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct err *e = NULL;
	struct pg_args a = { 0 };
	int r;

	pa_s(&a, name);
	pa_s(&a, path);
	pa_i(&a, reflink);
	pa_i(&a, created);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s, "INSERT INTO pools (name, path, reflink, created) VALUES ($1, $2, $3, $4)",
		   &a, NULL, &e);
	pthread_mutex_unlock(&s->lock);
	if (r == -EEXIST)
		r = strstr(err_msg(e), "path") ?
			    err_make(err, EEXIST, "`path`: `%s` is another pool's", path) :
			    err_make(err, EEXIST, "a pool named `%s` exists", name);
	else if (r < 0)
		r = err_make(err, EIO, "%s", err_msg(e));
	err_free(&e);
	return r;
}

int pg_pool_delete(struct store *base, const char *name, struct err **err)
{
	/* vps_pools and plans refer to it ON DELETE RESTRICT */
	return pg_delete_named(pgs(base), "DELETE FROM pools WHERE name = $1", "pool",
			       "holds VPSes or a plan names it", name, err);
}

int pg_vps_pool_set(struct store *base, const char *vps, const char *pool, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	int r;

	pa_s(&a, vps);
	pa_s(&a, pool);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s, "INSERT INTO vps_pools (vps, pool) VALUES ($1, $2)", &a, NULL, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

char *pg_vps_pool(struct store *base, const char *vps)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res;
	char *pool = NULL;

	pa_s(&a, vps);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s, "SELECT pool FROM vps_pools WHERE vps = $1", &a, &res, NULL) == 0) {
		if (PQntuples(res) == 1)
			pool = strdup(pg_s(res, 0, 0));
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return pool;
}

char *pg_vps_plan_of(struct store *base, const char *vps)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res;
	char *plan = NULL;

	pa_s(&a, vps);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s, "SELECT plan FROM vps WHERE name = $1 AND plan IS NOT NULL", &a, &res,
		   NULL) == 0) {
		if (PQntuples(res) == 1)
			plan = strdup(pg_s(res, 0, 0));
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return plan;
}

json_t *pg_snapshots(struct store *base, const char *vps)
{
	struct store_pg *s = pgs(base);
	json_t *out = json_array();
	struct pg_args a = { 0 };
	PGresult *res;

	pa_s(&a, vps);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "SELECT name, created, size, settings FROM snapshots WHERE vps = $1 "
		   "ORDER BY created, name",
		   &a, &res, NULL) == 0) {
		for (int i = 0; i < PQntuples(res); i++) {
			json_t *set = json_loads(pg_s(res, i, 3), 0, NULL);

			json_array_append_new(
				out, json_pack("{s:s, s:I, s:I, s:o}", "name", pg_s(res, i, 0),
					       "created", (json_int_t)pg_i(res, i, 1), "size",
					       (json_int_t)pg_i(res, i, 2), "settings",
					       set ? set : json_object()));
		}
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

int pg_snapshot_add(struct store *base, const char *vps, const char *name, long long created,
		    const char *settings, long long size, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct err *e = NULL;
	struct pg_args a = { 0 };
	int r;

	pa_s(&a, vps);
	pa_s(&a, name);
	pa_i(&a, created);
	pa_s(&a, settings);
	pa_i(&a, size);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s,
		   "INSERT INTO snapshots (vps, name, created, settings, size) "
		   "VALUES ($1, $2, $3, $4, $5)",
		   &a, NULL, &e);
	pthread_mutex_unlock(&s->lock);
	if (r == -EEXIST)
		r = err_make(err, EEXIST, "`%s` has a snapshot named `%s`", vps, name);
	else if (r == -ENOENT) /* the foreign key: no such VPS */
		r = err_make(err, ENOENT, "no VPS named `%s`", vps);
	else if (r < 0)
		r = err_make(err, EIO, "%s", err_msg(e));
	err_free(&e);
	return r;
}

int pg_snapshot_delete(struct store *base, const char *vps, const char *name, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res;
	int r;

	pa_s(&a, vps);
	pa_s(&a, name);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s, "DELETE FROM snapshots WHERE vps = $1 AND name = $2", &a, &res, err);
	if (r == 0 && pg_changes(res) == 0)
		r = err_make(err, ENOENT, "`%s` has no snapshot named `%s`", vps, name);
	PQclear(res);
	pthread_mutex_unlock(&s->lock);
	return r;
}
