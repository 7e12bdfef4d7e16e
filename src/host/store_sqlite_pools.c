// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The SQLite store's storage pools and snapshots (tables pools, vps_pools,
 * snapshots; store.h, docs/storage.md).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "host/store_sqlite.h"

json_t *sq_pools(struct store *base)
{
	struct store_sqlite *s = sq(base);
	json_t *a = json_array();
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db,
			       "SELECT name, path, reflink, created, "
			       "(SELECT COUNT(*) FROM vps_pools v WHERE v.pool = p.name) "
			       "FROM pools p ORDER BY name",
			       -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(
				a, json_pack("{s:s, s:s, s:b, s:I, s:I}", "name",
					     (const char *)sqlite3_column_text(st, 0), "path",
					     (const char *)sqlite3_column_text(st, 1), "reflink",
					     sqlite3_column_int(st, 2), "created",
					     (json_int_t)sqlite3_column_int64(st, 3), "vps",
					     (json_int_t)sqlite3_column_int64(st, 4)));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return a;
}

int sq_pool_add(struct store *base, const char *name, const char *path, bool reflink,
		long long created, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = 0, rc;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(
		    s->db, "INSERT INTO pools (name, path, reflink, created) VALUES (?, ?, ?, ?)",
		    -1, &st, NULL) != SQLITE_OK) {
		r = sq_err(s, err, "pool");
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, reflink);
	sqlite3_bind_int64(st, 4, created);
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT)
		r = strstr(sqlite3_errmsg(s->db), "path") ?
			    err_make(err, EEXIST, "`path`: `%s` is another pool's", path) :
			    err_make(err, EEXIST, "a pool named `%s` exists", name);
	else if (rc != SQLITE_DONE)
		r = sq_err(s, err, "pool");
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int sq_pool_delete(struct store *base, const char *name, struct err **err)
{
	/* vps_pools and plans refer to it ON DELETE RESTRICT */
	return sq_delete_named(sq(base), "DELETE FROM pools WHERE name = ?", "pool",
			       "holds VPSes or a plan names it", name, err);
}

int sq_vps_pool_set(struct store *base, const char *vps, const char *pool, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r;

	pthread_mutex_lock(&s->lock);
	st = sq_prepare(s, "INSERT INTO vps_pools (vps, pool) VALUES (?, ?)");
	if (st) {
		sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, pool, -1, SQLITE_STATIC);
	}
	r = sq_write(s, st, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

char *sq_vps_pool(struct store *base, const char *vps)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	char *pool = NULL;

	pthread_mutex_lock(&s->lock);
	st = sq_prepare(s, "SELECT pool FROM vps_pools WHERE vps = ?");
	if (st) {
		sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			pool = strdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return pool;
}

char *sq_vps_plan_of(struct store *base, const char *vps)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	char *plan = NULL;

	pthread_mutex_lock(&s->lock);
	st = sq_prepare(s, "SELECT plan FROM vps WHERE name = ? AND plan IS NOT NULL");
	if (st) {
		sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			plan = strdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return plan;
}

json_t *sq_snapshots(struct store *base, const char *vps)
{
	struct store_sqlite *s = sq(base);
	json_t *a = json_array();
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	st = sq_prepare(s, "SELECT name, created, size, settings FROM snapshots WHERE vps = ? "
			   "ORDER BY created, rowid");
	if (st) {
		sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			json_t *set = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);

			json_array_append_new(
				a, json_pack("{s:s, s:I, s:I, s:o}", "name",
					     (const char *)sqlite3_column_text(st, 0), "created",
					     (json_int_t)sqlite3_column_int64(st, 1), "size",
					     (json_int_t)sqlite3_column_int64(st, 2), "settings",
					     set ? set : json_object()));
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return a;
}

int sq_snapshot_add(struct store *base, const char *vps, const char *name, long long created,
		    const char *settings, long long size, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = 0, rc;

	pthread_mutex_lock(&s->lock);
	if (!(st = sq_prepare(s, "INSERT INTO snapshots (vps, name, created, settings, size) "
				 "VALUES (?, ?, ?, ?, ?)"))) {
		r = sq_err(s, err, "snapshot");
		goto out;
	}
	sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, created);
	sqlite3_bind_text(st, 4, settings, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, size);
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT)
		r = strstr(sqlite3_errmsg(s->db), "FOREIGN") ?
			    err_make(err, ENOENT, "no VPS named `%s`", vps) :
			    err_make(err, EEXIST, "`%s` has a snapshot named `%s`", vps, name);
	else if (rc != SQLITE_DONE)
		r = sq_err(s, err, "snapshot");
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int sq_snapshot_delete(struct store *base, const char *vps, const char *name, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r;

	pthread_mutex_lock(&s->lock);
	st = sq_prepare(s, "DELETE FROM snapshots WHERE vps = ? AND name = ?");
	if (st) {
		sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	}
	r = sq_write(s, st, err);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		r = err_make(err, ENOENT, "`%s` has no snapshot named `%s`", vps, name);
	pthread_mutex_unlock(&s->lock);
	return r;
}
