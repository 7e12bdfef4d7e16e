// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The PostgreSQL store's accounts: users, sessions, tokens and the audit
 * log (store.h), store_sqlite_auth.c's twin. "user" is a keyword in
 * PostgreSQL: the column is quoted everywhere.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/store_pg.h"

/* --- users ------------------------------------------------------------------------------ */

json_t *pg_users(struct store *base, const char *name)
{
	struct store_pg *s = pgs(base);
	json_t *out = json_array();
	struct pg_args a = { 0 };
	PGresult *res;

	pa_s(&a, name);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "SELECT name, role, created, networks, quota, (totp IS NOT NULL)::int "
		   "FROM users WHERE $1::text IS NULL OR name = $1 ORDER BY name",
		   &a, &res, NULL) == 0) {
		for (int i = 0; i < PQntuples(res); i++) {
			json_t *nets = json_loads(pg_s(res, i, 3), 0, NULL),
			       *quota = json_loads(pg_s(res, i, 4), 0, NULL);

			json_array_append_new(
				out, json_pack("{s:s, s:s, s:I, s:o, s:o, s:b}", "name",
					       pg_s(res, i, 0), "role", pg_s(res, i, 1), "created",
					       (json_int_t)pg_i(res, i, 2), "networks",
					       json_is_array(nets) ? nets : json_array(), "quota",
					       json_is_object(quota) ? quota : json_object(), "2fa",
					       (int)pg_i(res, i, 5)));
			if (!json_is_array(nets))
				json_decref(nets);
			if (!json_is_object(quota))
				json_decref(quota);
		}
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

int pg_user_insert(struct store *base, const char *name, const char *role, const char *hash,
		   const char *networks, long long created, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	int r;

	pa_s(&a, name);
	pa_s(&a, role);
	pa_s(&a, hash);
	pa_i(&a, created);
	pa_s(&a, networks ? networks : "[]");
	pthread_mutex_lock(&s->lock);
	r = pg_run(s,
		   "INSERT INTO users (name, role, hash, created, networks) "
		   "VALUES ($1, $2, $3, $4, $5)",
		   &a, NULL, err);
	pthread_mutex_unlock(&s->lock);
	if (r == -EEXIST)
		r = err_make(err, EEXIST, "`name`: a user `%s` exists", name);
	return r;
}

int pg_user_update(struct store *base, const char *name, const char *hash, const char *role,
		   const char *networks, bool end_sessions, bool end_tokens, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 }, one = { 0 };
	int r;

	pa_s(&a, name);
	pa_s(&a, hash);
	pa_s(&a, role);
	pa_s(&a, networks);
	pa_s(&one, name);
	pthread_mutex_lock(&s->lock);
	/* one transaction: a new password and the end of the old one's sessions go together */
	if ((r = pg_begin(s, err)) < 0)
		goto out;
	r = pg_run(s,
		   "UPDATE users SET hash = coalesce($2, hash), role = coalesce($3, role), "
		   "networks = coalesce($4, networks) WHERE name = $1",
		   &a, NULL, err);
	if (r == 0 && end_sessions)
		r = pg_run(s, "DELETE FROM sessions WHERE \"user\" = $1", &one, NULL, err);
	if (r == 0 && end_tokens)
		r = pg_run(s, "DELETE FROM tokens WHERE \"user\" = $1", &one, NULL, err);
	if (r == 0)
		r = pg_commit(s, err);
	else
		pg_rollback(s);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int pg_user_delete(struct store *base, const char *name, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	long long owned = 0;
	int r;

	pa_s(&a, name);
	pthread_mutex_lock(&s->lock);
	/* counted and deleted with the vps table held: no node makes a VPS for it in between */
	if ((r = pg_begin(s, err)) < 0)
		goto out;
	r = pg_run(s, "LOCK TABLE vps IN SHARE MODE", NULL, NULL, err);
	if (r == 0)
		r = pg_run(s, "SELECT count(*) FROM vps WHERE owner = $1", &a, &res, err);
	if (r == 0)
		owned = pg_i(res, 0, 0);
	PQclear(res);
	res = NULL;
	if (r == 0 && owned)
		r = err_make(err, EBUSY,
			     "user `%s` owns %lld VPS; terminate or reassign them first", name,
			     owned);
	if (r == 0)
		r = pg_run(s, "DELETE FROM users WHERE name = $1", &a, &res, err);
	if (r == 0 && pg_changes(res) == 0)
		r = err_make(err, ENOENT, "no user named `%s`", name);
	PQclear(res);
	if (r == 0)
		r = pg_commit(s, err);
	else
		pg_rollback(s);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

json_t *pg_user_secret(struct store *base, const char *name)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	json_t *o = NULL;
	PGresult *res;

	pa_s(&a, name);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "SELECT hash, role, totp, totp_pending, totp_step, recovery FROM users "
		   "WHERE name = $1",
		   &a, &res, NULL) == 0) {
		if (PQntuples(res) == 1) {
			o = json_pack("{s:s, s:s, s:I, s:s}", "hash", pg_s(res, 0, 0), "role",
				      pg_s(res, 0, 1), "totp_step", (json_int_t)pg_i(res, 0, 4),
				      "recovery", pg_s(res, 0, 5));
			for (int i = 2; o && i <= 3; i++)
				if (pg_s(res, 0, i))
					json_object_set_new(o, i == 2 ? "totp" : "totp_pending",
							    json_string(pg_s(res, 0, i)));
		}
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return o;
}

int pg_user_totp(struct store *base, const char *name, const char *was_totp,
		 const char *was_pending, const char *totp, const char *pending,
		 const char *recovery, long long step, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r;

	pa_s(&a, name);
	pa_s(&a, was_totp);
	pa_s(&a, was_pending);
	pa_s(&a, totp);
	pa_s(&a, pending);
	pa_s(&a, recovery ? recovery : "[]");
	pa_i(&a, step);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s,
		   "UPDATE users SET totp = $4, totp_pending = $5, recovery = $6, "
		   "totp_step = $7 WHERE name = $1 AND totp IS NOT DISTINCT FROM $2::text AND "
		   "totp_pending IS NOT DISTINCT FROM $3::text",
		   &a, &res, err);
	if (r == 0 && pg_changes(res) == 0)
		r = err_make(err, ESTALE,
			     "the two-factor settings of `%s` changed meanwhile; try again", name);
	PQclear(res);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int pg_user_totp_step(struct store *base, const char *name, long long step)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r;

	pa_s(&a, name);
	pa_i(&a, step);
	pthread_mutex_lock(&s->lock);
	/* one statement: two requests with one code cannot both take its step */
	r = pg_run(s, "UPDATE users SET totp_step = $2 WHERE name = $1 AND totp_step < $2", &a,
		   &res, NULL);
	if (r == 0)
		r = pg_changes(res) == 1;
	PQclear(res);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int pg_user_recovery(struct store *base, const char *name, const char *was, const char *now)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r;

	pa_s(&a, name);
	pa_s(&a, was);
	pa_s(&a, now);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s,
		   "UPDATE users SET recovery = $3 WHERE name = $1 AND recovery = $2 AND "
		   "totp IS NOT NULL",
		   &a, &res, NULL);
	if (r == 0)
		r = pg_changes(res) == 1;
	PQclear(res);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int pg_user_quota(struct store *base, const char *name, const char *quota, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r;

	pa_s(&a, name);
	pa_s(&a, quota);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s, "UPDATE users SET quota = $2 WHERE name = $1", &a, &res, err);
	if (r == 0 && pg_changes(res) == 0)
		r = err_make(err, ENOENT, "no user named `%s`", name);
	PQclear(res);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* --- sessions --------------------------------------------------------------------------- */

int pg_session_insert(struct store *base, const char *id, const char *user, const char *csrf,
		      const char *source, long long created, long long expires, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 }, old = { 0 };
	int r;

	pa_i(&old, created);
	pa_s(&a, id);
	pa_s(&a, user);
	pa_s(&a, csrf);
	pa_s(&a, source);
	pa_i(&a, created);
	pa_i(&a, expires);
	pthread_mutex_lock(&s->lock);
	pg_run(s, "DELETE FROM sessions WHERE expires < $1", &old, NULL, NULL);
	r = pg_run(s,
		   "INSERT INTO sessions (id, \"user\", csrf, source, created, expires) "
		   "VALUES ($1, $2, $3, $4, $5, $6)",
		   &a, NULL, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

void pg_session_delete(struct store *base, const char *id)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };

	pa_s(&a, id);
	pthread_mutex_lock(&s->lock);
	pg_run(s, "DELETE FROM sessions WHERE id = $1", &a, NULL, NULL);
	pthread_mutex_unlock(&s->lock);
}

json_t *pg_session_get(struct store *base, const char *id, long long now)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	json_t *o = NULL;
	PGresult *res;

	pa_s(&a, id);
	pa_i(&a, now);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "SELECT s.\"user\", u.role, s.csrf, (u.totp IS NOT NULL)::int FROM sessions s "
		   "JOIN users u ON u.name = s.\"user\" WHERE s.id = $1 AND s.expires > $2",
		   &a, &res, NULL) == 0) {
		if (PQntuples(res) == 1)
			o = json_pack("{s:s, s:s, s:s, s:b}", "user", pg_s(res, 0, 0), "role",
				      pg_s(res, 0, 1), "csrf", pg_s(res, 0, 2), "2fa",
				      (int)pg_i(res, 0, 3));
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return o;
}

/*
 * What this node needs to authorize reads of its own VPSes with the database away
 * (standby.c): the live sessions and tokens of administrators and of the owners of a VPS
 * this node holds, keyed by their hashes, read in one statement each under the lock.
 */
json_t *pg_credentials(struct store *base, long long now)
{
	struct store_pg *s = pgs(base);
	json_t *ses = json_object(), *tok = json_object(), *out = NULL;
	struct pg_args a = { 0 };
	PGresult *res;
	int r;

	pa_s(&a, s->node);
	pa_i(&a, now);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s,
		   "SELECT s.id, s.\"user\", u.role, s.csrf, (u.totp IS NOT NULL)::int, s.expires "
		   "FROM sessions s JOIN users u ON u.name = s.\"user\" WHERE s.expires > $2 AND "
		   "(u.role = 'admin' OR EXISTS (SELECT 1 FROM vps v WHERE v.owner = u.name AND "
		   "v.node = $1))",
		   &a, &res, NULL);
	if (r == 0) {
		for (int i = 0; i < PQntuples(res); i++)
			json_object_set_new(ses, pg_s(res, i, 0),
					    json_pack("{s:s, s:s, s:s, s:b, s:I}", "user",
						      pg_s(res, i, 1), "role", pg_s(res, i, 2),
						      "csrf", pg_s(res, i, 3), "2fa",
						      (int)pg_i(res, i, 4), "expires",
						      (json_int_t)pg_i(res, i, 5)));
		PQclear(res);
		r = pg_run(s,
			   "SELECT t.hash, t.id, t.\"user\", u.role, t.sources, t.expires "
			   "FROM tokens t JOIN users u ON u.name = t.\"user\" WHERE t.expires > $2 "
			   "AND (u.role = 'admin' OR EXISTS (SELECT 1 FROM vps v WHERE "
			   "v.owner = u.name AND v.node = $1))",
			   &a, &res, NULL);
	}
	if (r == 0) {
		for (int i = 0; i < PQntuples(res); i++)
			json_object_set_new(tok, pg_s(res, i, 0),
					    json_pack("{s:I, s:s, s:s, s:o*, s:I}", "id",
						      (json_int_t)pg_i(res, i, 1), "user",
						      pg_s(res, i, 2), "role", pg_s(res, i, 3),
						      "sources",
						      json_loads(pg_s(res, i, 4), 0, NULL),
						      "expires", (json_int_t)pg_i(res, i, 5)));
		PQclear(res);
		out = json_pack("{s:O, s:O}", "sessions", ses, "tokens", tok);
	}
	pthread_mutex_unlock(&s->lock);
	json_decref(ses);
	json_decref(tok);
	return out;
}

/* --- tokens ----------------------------------------------------------------------------- */

int pg_token_insert(struct store *base, const char *user, const char *name, const char *hash,
		    const char *sources, long long created, long long expires, long long *id,
		    struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res;
	int r;

	pa_s(&a, user);
	pa_s(&a, name);
	pa_s(&a, hash);
	pa_s(&a, sources);
	pa_i(&a, created);
	pa_i(&a, expires);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s,
		   "INSERT INTO tokens (\"user\", name, hash, sources, created, expires) "
		   "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
		   &a, &res, err);
	*id = r == 0 ? pg_i(res, 0, 0) : 0;
	PQclear(res);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int pg_token_hash(struct store *base, long long id, const char *hash, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	int r;

	pa_s(&a, hash);
	pa_i(&a, id);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s, "UPDATE tokens SET hash = $1 WHERE id = $2", &a, NULL, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

json_t *pg_token_use(struct store *base, const char *hash, long long now)
{
	struct store_pg *s = pgs(base);
	long long tid = 0, expires = 0;
	struct pg_args a = { 0 };
	json_t *o = NULL;
	PGresult *res;

	pa_s(&a, hash);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "SELECT t.id, t.\"user\", u.role, t.sources, t.expires FROM tokens t "
		   "JOIN users u ON u.name = t.\"user\" WHERE t.hash = $1",
		   &a, &res, NULL) == 0) {
		if (PQntuples(res) == 1) {
			json_t *src = json_loads(pg_s(res, 0, 3), 0, NULL);

			tid = pg_i(res, 0, 0);
			expires = pg_i(res, 0, 4);
			o = json_pack("{s:I, s:s, s:s, s:o*, s:I}", "id", (json_int_t)tid, "user",
				      pg_s(res, 0, 1), "role", pg_s(res, 0, 2), "sources", src,
				      "expires", (json_int_t)expires);
		}
		PQclear(res);
	}
	if (tid && expires > now) {
		a = (struct pg_args){ 0 };
		pa_i(&a, now);
		pa_i(&a, tid);
		pg_run(s, "UPDATE tokens SET used = $1 WHERE id = $2", &a, NULL, NULL);
	}
	pthread_mutex_unlock(&s->lock);
	return o;
}

json_t *pg_tokens(struct store *base, const char *user)
{
	struct store_pg *s = pgs(base);
	json_t *out = json_array();
	struct pg_args a = { 0 };
	PGresult *res;

	pa_s(&a, user);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "SELECT id, name, \"user\", sources, created, expires, used FROM tokens "
		   "WHERE $1::text IS NULL OR \"user\" = $1 ORDER BY id",
		   &a, &res, NULL) == 0) {
		for (int i = 0; i < PQntuples(res); i++) {
			json_t *src = json_loads(pg_s(res, i, 3), 0, NULL);

			json_array_append_new(
				out, json_pack("{s:I, s:s, s:s, s:o, s:I, s:I, s:o*}", "id",
					       (json_int_t)pg_i(res, i, 0), "name", pg_s(res, i, 1),
					       "user", pg_s(res, i, 2), "sources",
					       src ? src : json_array(), "created",
					       (json_int_t)pg_i(res, i, 4), "expires",
					       (json_int_t)pg_i(res, i, 5), "used",
					       pg_null(res, i, 6) ? NULL :
								    json_integer(pg_i(res, i, 6))));
		}
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

int pg_token_delete(struct store *base, long long id, const char *user, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res;
	int r;

	pa_i(&a, id);
	pa_s(&a, user);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s, "DELETE FROM tokens WHERE id = $1 AND ($2::text IS NULL OR \"user\" = $2)",
		   &a, &res, err);
	if (r == 0 && pg_changes(res) == 0)
		r = err_make(err, ENOENT, "no token %lld", id);
	PQclear(res);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* --- the audit log ---------------------------------------------------------------------- */

void pg_audit_add(struct store *base, long long time, const char *user, const char *source,
		  const char *method, const char *path, unsigned int status, long long keep)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res;

	pa_i(&a, time);
	pa_s(&a, user);
	pa_s(&a, source);
	pa_s(&a, method);
	pa_s(&a, path);
	pa_i(&a, status);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "INSERT INTO audit (time, \"user\", source, method, path, status) "
		   "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
		   &a, &res, NULL) == 0) {
		/* trimmed every 1000 entries, not on each */
		if (pg_i(res, 0, 0) % 1000 == 0) {
			a = (struct pg_args){ 0 };
			pa_i(&a, keep);
			pg_run(s, "DELETE FROM audit WHERE id <= (SELECT max(id) FROM audit) - $1",
			       &a, NULL, NULL);
		}
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
}

json_t *pg_audit(struct store *base, long long after, int limit)
{
	struct store_pg *s = pgs(base);
	json_t *out = json_array();
	struct pg_args a = { 0 };
	PGresult *res;

	pa_i(&a, after);
	pa_i(&a, limit);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "SELECT id, time, \"user\", source, method, path, status FROM audit "
		   "WHERE id > $1 ORDER BY id DESC LIMIT $2",
		   &a, &res, NULL) == 0) {
		/* the last `limit`, oldest first */
		for (int i = 0; i < PQntuples(res); i++)
			json_array_insert_new(
				out, 0,
				json_pack("{s:I, s:I, s:s?, s:s, s:s, s:s, s:i}", "id",
					  (json_int_t)pg_i(res, i, 0), "time",
					  (json_int_t)pg_i(res, i, 1), "user", pg_s(res, i, 2),
					  "source", pg_s(res, i, 3), "method", pg_s(res, i, 4),
					  "path", pg_s(res, i, 5), "status", (int)pg_i(res, i, 6)));
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}
