// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The SQLite store's accounts: users, sessions, tokens and the audit log
 * (store.h; auth.c decides who may do what, this file only keeps rows).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/store_sqlite.h"

/* --- users ------------------------------------------------------------------------------ */

json_t *sq_users(struct store *base, const char *name)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	json_t *a = json_array();

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "SELECT name, role, created, networks, quota, totp IS NOT NULL "
				"FROM users WHERE ?1 IS NULL OR name = ?1 ORDER BY name"))) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			json_t *nets = json_loads((const char *)sqlite3_column_text(st, 3), 0,
						  NULL),
			       *quota = json_loads((const char *)sqlite3_column_text(st, 4), 0,
						   NULL);

			json_array_append_new(
				a, json_pack("{s:s, s:s, s:I, s:o, s:o, s:b}", "name",
					     sqlite3_column_text(st, 0), "role",
					     sqlite3_column_text(st, 1), "created",
					     (json_int_t)sqlite3_column_int64(st, 2), "networks",
					     json_is_array(nets) ? nets : json_array(), "quota",
					     json_is_object(quota) ? quota : json_object(), "2fa",
					     sqlite3_column_int(st, 5)));
			if (!json_is_array(nets))
				json_decref(nets);
			if (!json_is_object(quota))
				json_decref(quota);
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return a;
}

int sq_user_insert(struct store *base, const char *name, const char *role, const char *hash,
		   const char *networks, long long created, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO users (name, role, hash, created, networks) "
			       "VALUES (?,?,?,?,?)",
			       -1, &st, NULL) != SQLITE_OK) {
		r = err_make(err, EIO, "store: %s", sqlite3_errmsg(s->db));
	} else {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, role, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, created);
		sqlite3_bind_text(st, 5, networks ? networks : "[]", -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			r = sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_PRIMARYKEY ?
				    err_make(err, EEXIST, "`name`: a user `%s` exists", name) :
				    err_make(err, EIO, "store: %s", sqlite3_errmsg(s->db));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int sq_user_update(struct store *base, const char *name, const char *hash, const char *role,
		   const char *networks, bool end_sessions, bool end_tokens, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "UPDATE users SET hash = coalesce(?2, hash), "
				"role = coalesce(?3, role), networks = coalesce(?4, networks) "
				"WHERE name = ?1"))) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, networks, -1, SQLITE_STATIC);
	}
	r = sq_write(s, st, err);
	for (int i = 0; r == 0 && i < 2; i++) {
		if (!(i == 0 ? end_sessions : end_tokens))
			continue;
		st = sq_prepare(s, i == 0 ? "DELETE FROM sessions WHERE user = ?" :
					    "DELETE FROM tokens WHERE user = ?");
		if (st)
			sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sq_step_done(st);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int sq_user_delete(struct store *base, const char *name, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = 0, owned = 0;

	pthread_mutex_lock(&s->lock);
	/* counted and deleted under one hold of the lock: no VPS is made for it in between */
	if ((st = sq_prepare(s, "SELECT count(*) FROM vps WHERE owner = ?"))) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			owned = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	if (owned) {
		r = err_make(err, EBUSY, "user `%s` owns %d VPS; terminate or reassign them first",
			     name, owned);
	} else {
		if ((st = sq_prepare(s, "DELETE FROM users WHERE name = ?")))
			sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if ((r = sq_write(s, st, err)) == 0 && sqlite3_changes(s->db) == 0)
			r = err_make(err, ENOENT, "no user named `%s`", name);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

json_t *sq_user_secret(struct store *base, const char *name)
{
	struct store_sqlite *s = sq(base);
	json_t *o = NULL;
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "SELECT hash, role, totp, totp_pending, totp_step, recovery "
				"FROM users WHERE name = ?"))) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			o = json_pack("{s:s, s:s, s:I, s:s}", "hash", sqlite3_column_text(st, 0),
				      "role", sqlite3_column_text(st, 1), "totp_step",
				      (json_int_t)sqlite3_column_int64(st, 4), "recovery",
				      sqlite3_column_text(st, 5));
			for (int i = 2; o && i <= 3; i++)
				if (sqlite3_column_type(st, i) != SQLITE_NULL)
					json_object_set_new(
						o, i == 2 ? "totp" : "totp_pending",
						json_string(
							(const char *)sqlite3_column_text(st, i)));
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return o;
}

int sq_user_totp(struct store *base, const char *name, const char *was_totp,
		 const char *was_pending, const char *totp, const char *pending,
		 const char *recovery, long long step, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "UPDATE users SET totp = ?4, totp_pending = ?5, recovery = ?6, "
				"totp_step = ?7 WHERE name = ?1 AND totp IS ?2 AND "
				"totp_pending IS ?3"))) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, was_totp, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, was_pending, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, totp, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, pending, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, recovery ? recovery : "[]", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 7, step);
	}
	if ((r = sq_write(s, st, err)) == 0 && sqlite3_changes(s->db) == 0)
		r = err_make(err, ESTALE,
			     "the two-factor settings of `%s` changed meanwhile; "
			     "try again",
			     name);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int sq_user_totp_step(struct store *base, const char *name, long long step)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r;

	pthread_mutex_lock(&s->lock);
	/* one statement: two requests with one code cannot both take its step */
	if ((st = sq_prepare(s, "UPDATE users SET totp_step = ?2 WHERE name = ?1 AND "
				"totp_step < ?2"))) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, step);
	}
	r = sq_write(s, st, NULL);
	if (r == 0)
		r = sqlite3_changes(s->db) == 1;
	pthread_mutex_unlock(&s->lock);
	return r;
}

int sq_user_recovery(struct store *base, const char *name, const char *was, const char *now)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "UPDATE users SET recovery = ?3 WHERE name = ?1 AND "
				"recovery = ?2 AND totp IS NOT NULL"))) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, was, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, now, -1, SQLITE_STATIC);
	}
	r = sq_write(s, st, NULL);
	if (r == 0)
		r = sqlite3_changes(s->db) == 1;
	pthread_mutex_unlock(&s->lock);
	return r;
}

int sq_user_quota(struct store *base, const char *name, const char *quota, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "UPDATE users SET quota = ?2 WHERE name = ?1"))) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, quota, -1, SQLITE_STATIC);
	}
	if ((r = sq_write(s, st, err)) == 0 && sqlite3_changes(s->db) == 0)
		r = err_make(err, ENOENT, "no user named `%s`", name);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* --- sessions --------------------------------------------------------------------------- */

int sq_session_insert(struct store *base, const char *id, const char *user, const char *csrf,
		      const char *source, long long created, long long expires, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "DELETE FROM sessions WHERE expires < ?")))
		sqlite3_bind_int64(st, 1, created);
	sq_step_done(st);
	if ((st = sq_prepare(s, "INSERT INTO sessions (id, user, csrf, source, created, expires) "
				"VALUES (?, ?, ?, ?, ?, ?)"))) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, csrf, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, source, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, created);
		sqlite3_bind_int64(st, 6, expires);
	}
	r = sq_write(s, st, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

void sq_session_delete(struct store *base, const char *id)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "DELETE FROM sessions WHERE id = ?")))
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sq_step_done(st);
	pthread_mutex_unlock(&s->lock);
}

json_t *sq_session_get(struct store *base, const char *id, long long now)
{
	struct store_sqlite *s = sq(base);
	json_t *o = NULL;
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s,
			     "SELECT s.user, u.role, s.csrf, u.totp IS NOT NULL FROM sessions s "
			     "JOIN users u ON u.name = s.user WHERE s.id = ? AND s.expires > ?"))) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		if (sqlite3_step(st) == SQLITE_ROW)
			o = json_pack("{s:s, s:s, s:s, s:b}", "user", sqlite3_column_text(st, 0),
				      "role", sqlite3_column_text(st, 1), "csrf",
				      sqlite3_column_text(st, 2), "2fa", sqlite3_column_int(st, 3));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return o;
}

/* --- tokens ----------------------------------------------------------------------------- */

int sq_token_insert(struct store *base, const char *user, const char *name, const char *hash,
		    const char *sources, long long created, long long expires, long long *id,
		    struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "INSERT INTO tokens (user, name, hash, sources, created, expires) "
				"VALUES (?, ?, ?, ?, ?, ?)"))) {
		sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, sources, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, created);
		sqlite3_bind_int64(st, 6, expires);
	}
	r = sq_write(s, st, err);
	*id = sqlite3_last_insert_rowid(s->db);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int sq_token_hash(struct store *base, long long id, const char *hash, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "UPDATE tokens SET hash = ? WHERE id = ?"))) {
		sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, id);
	}
	r = sq_write(s, st, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

json_t *sq_token_use(struct store *base, const char *hash, long long now)
{
	struct store_sqlite *s = sq(base);
	long long tid = 0, expires = 0;
	json_t *o = NULL;
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "SELECT t.id, t.user, u.role, t.sources, t.expires FROM tokens t "
				"JOIN users u ON u.name = t.user WHERE t.hash = ?"))) {
		sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			json_t *src = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);

			tid = sqlite3_column_int64(st, 0);
			expires = sqlite3_column_int64(st, 4);
			o = json_pack("{s:I, s:s, s:s, s:o*, s:I}", "id", (json_int_t)tid, "user",
				      sqlite3_column_text(st, 1), "role",
				      sqlite3_column_text(st, 2), "sources", src, "expires",
				      (json_int_t)expires);
		}
		sqlite3_finalize(st);
	}
	if (tid && expires > now &&
	    (st = sq_prepare(s, "UPDATE tokens SET used = ? WHERE id = ?"))) {
		sqlite3_bind_int64(st, 1, now);
		sqlite3_bind_int64(st, 2, tid);
		sq_step_done(st);
	}
	pthread_mutex_unlock(&s->lock);
	return o;
}

static json_t *token_row(sqlite3_stmt *st)
{
	json_t *src = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);

	return json_pack("{s:I, s:s, s:s, s:o, s:I, s:I, s:o*}", "id",
			 (json_int_t)sqlite3_column_int64(st, 0), "name",
			 sqlite3_column_text(st, 1), "user", sqlite3_column_text(st, 2), "sources",
			 src ? src : json_array(), "created",
			 (json_int_t)sqlite3_column_int64(st, 4), "expires",
			 (json_int_t)sqlite3_column_int64(st, 5), "used",
			 sqlite3_column_type(st, 6) == SQLITE_NULL ?
				 NULL :
				 json_integer(sqlite3_column_int64(st, 6)));
}

json_t *sq_tokens(struct store *base, const char *user)
{
	struct store_sqlite *s = sq(base);
	json_t *a = json_array();
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s,
			     "SELECT id, name, user, sources, created, expires, used FROM tokens "
			     "WHERE ?1 IS NULL OR user = ?1 ORDER BY id"))) {
		sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(a, token_row(st));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return a;
}

int sq_token_delete(struct store *base, long long id, const char *user, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s,
			     "DELETE FROM tokens WHERE id = ?1 AND (?2 IS NULL OR user = ?2)"))) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
	}
	if ((r = sq_write(s, st, err)) == 0 && sqlite3_changes(s->db) == 0)
		r = err_make(err, ENOENT, "no token %lld", id);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* --- the audit log ---------------------------------------------------------------------- */

void sq_audit_add(struct store *base, long long time, const char *user, const char *source,
		  const char *method, const char *path, unsigned int status, long long keep)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "INSERT INTO audit (time, user, source, method, path, status) "
				"VALUES (?, ?, ?, ?, ?, ?)"))) {
		sqlite3_bind_int64(st, 1, time);
		sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, source, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, method, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, path, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 6, (int)status);
		/* trimmed every 1000 entries, not on each */
		if (sq_step_done(st) && sqlite3_last_insert_rowid(s->db) % 1000 == 0 &&
		    (st = sq_prepare(s, "DELETE FROM audit WHERE id <= "
					"(SELECT max(id) FROM audit) - ?")))
			sqlite3_bind_int64(st, 1, keep);
		else
			st = NULL;
		if (st)
			sq_step_done(st);
	}
	pthread_mutex_unlock(&s->lock);
}

json_t *sq_audit(struct store *base, long long after, int limit)
{
	struct store_sqlite *s = sq(base);
	json_t *a = json_array();
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "SELECT id, time, user, source, method, path, status FROM audit "
				"WHERE id > ? ORDER BY id DESC LIMIT ?"))) {
		sqlite3_bind_int64(st, 1, after);
		sqlite3_bind_int(st, 2, limit);
		/* the last `limit`, oldest first */
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_insert_new(
				a, 0,
				json_pack("{s:I, s:I, s:s?, s:s, s:s, s:s, s:i}", "id",
					  (json_int_t)sqlite3_column_int64(st, 0), "time",
					  (json_int_t)sqlite3_column_int64(st, 1), "user",
					  sqlite3_column_text(st, 2), "source",
					  sqlite3_column_text(st, 3), "method",
					  sqlite3_column_text(st, 4), "path",
					  sqlite3_column_text(st, 5), "status",
					  sqlite3_column_int(st, 6)));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return a;
}
