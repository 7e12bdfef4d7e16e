// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The PostgreSQL store's nodes and join tokens (store.h, docs/cluster.md).
 * A node joins in one transaction that holds the nodes table exclusively:
 * the first node of an empty table makes the cluster, any other new name
 * uses up a join token (unused, unexpired) in the same transaction, so two
 * vpsds cannot both join on one token, and none joins on none.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/store_pg.h"

int pg_node_join(struct store *base, const struct store_node *n, const char *join_hash,
		 long long now, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	long long members = 0;
	bool known = false;
	int r;

	pthread_mutex_lock(&s->lock);
	if ((r = pg_begin(s, err)) < 0)
		goto out;
	pa_s(&a, n->name);
	if ((r = pg_run(s, "LOCK TABLE nodes IN EXCLUSIVE MODE", NULL, NULL, err)) < 0 ||
	    (r = pg_run(s,
			"SELECT (SELECT count(*) FROM nodes), "
			"EXISTS (SELECT 1 FROM nodes WHERE name = $1)",
			&a, &res, err)) < 0)
		goto fail;
	members = pg_i(res, 0, 0);
	known = !strcmp(PQgetvalue(res, 0, 1), "t");
	PQclear(res);
	res = NULL;
	if (!known && members > 0) {
		a = (struct pg_args){ 0 };
		pa_s(&a, join_hash);
		pa_i(&a, now);
		pa_s(&a, n->name);
		if (!join_hash) {
			r = err_make(err, EACCES,
				     "node `%s` is not a member of this cluster: start it with "
				     "--join TOKEN (`vps node token` on a member makes one)",
				     n->name);
			goto fail;
		}
		if ((r = pg_run(s,
				"UPDATE join_tokens SET used = $2, node = $3 WHERE hash = $1 AND "
				"used IS NULL AND expires > $2 AND (name IS NULL OR name = $3)",
				&a, &res, err)) < 0)
			goto fail;
		if (pg_changes(res) != 1) {
			r = err_make(err, EACCES,
				     "node `%s`: the join token is not valid (unknown, used, "
				     "expired or for another name): make a new one with `vps node "
				     "token`",
				     n->name);
			goto fail;
		}
		PQclear(res);
		res = NULL;
	}
	a = (struct pg_args){ 0 };
	pa_s(&a, n->name);
	pa_s(&a, n->address);
	pa_d(&a, n->cpus);
	pa_i(&a, (long long)n->ram);
	pa_i(&a, (long long)n->disk);
	pa_i(&a, now);
	r = pg_run(s,
		   "INSERT INTO nodes (name, address, cpus, ram, disk, state, joined, heartbeat) "
		   "VALUES ($1, $2, $3, $4, $5, 'online', $6, $6) ON CONFLICT (name) DO UPDATE SET "
		   "address = $2, cpus = $3, ram = $4, disk = $5, heartbeat = $6, "
		   "joined = CASE WHEN nodes.joined = 0 THEN $6 ELSE nodes.joined END, "
		   "state = CASE WHEN nodes.state = 'evacuating' THEN 'evacuating' "
		   "ELSE 'online' END",
		   &a, NULL, err);
	if (r == 0)
		r = pg_commit(s, err);
fail:
	PQclear(res);
	if (r < 0)
		pg_rollback(s);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int pg_node_heartbeat(struct store *base, const char *name, const char *state, long long now,
		      struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res;
	int r;

	pa_s(&a, name);
	pa_i(&a, now);
	pa_s(&a, state);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s,
		   "UPDATE nodes SET heartbeat = $2, state = CASE WHEN state = 'evacuating' "
		   "THEN state ELSE $3 END WHERE name = $1",
		   &a, &res, err);
	if (r == 0 && pg_changes(res) == 0)
		r = err_make(err, ENOENT, "no node named `%s`", name);
	PQclear(res);
	pthread_mutex_unlock(&s->lock);
	return r;
}

json_t *pg_nodes(struct store *base)
{
	struct store_pg *s = pgs(base);
	json_t *out = NULL;
	PGresult *res;

	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "SELECT name, address, cpus, ram, disk, state, joined, heartbeat, peer, cert "
		   "FROM nodes ORDER BY name",
		   NULL, &res, NULL) == 0) {
		out = json_array();
		for (int i = 0; i < PQntuples(res); i++)
			json_array_append_new(
				out,
				json_pack("{s:s, s:s, s:f, s:I, s:I, s:s, s:I, s:I, s:s, s:s}",
					  "name", pg_s(res, i, 0), "address", pg_s(res, i, 1),
					  "cpus", pg_d(res, i, 2), "ram",
					  (json_int_t)pg_i(res, i, 3), "disk",
					  (json_int_t)pg_i(res, i, 4), "state", pg_s(res, i, 5),
					  "joined", (json_int_t)pg_i(res, i, 6), "heartbeat",
					  (json_int_t)pg_i(res, i, 7), "peer", pg_s(res, i, 8),
					  "cert", pg_s(res, i, 9)));
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

int pg_join_token_insert(struct store *base, const char *hash, const char *name, long long created,
			 long long expires, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	int r;

	pa_s(&a, hash);
	pa_i(&a, created);
	pa_i(&a, expires);
	pa_s(&a, name);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s,
		   "INSERT INTO join_tokens (hash, created, expires, name) VALUES ($1, $2, $3, $4)",
		   &a, NULL, err);
	if (r == 0) {
		/* the spent and the expired ones go after a day */
		a = (struct pg_args){ 0 };
		pa_i(&a, created - 86400);
		pg_run(s, "DELETE FROM join_tokens WHERE expires < $1", &a, NULL, NULL);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

bool pg_ping(struct store *base)
{
	struct store_pg *s = pgs(base);
	bool ok;

	pthread_mutex_lock(&s->lock);
	ok = pg_run(s, "SELECT 1", NULL, NULL, NULL) == 0;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

int pg_cluster_ca(struct store *base, const char *cert, const char *key, char **cert_out,
		  char **key_out, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r;

	pa_s(&a, cert);
	pa_s(&a, key);
	pthread_mutex_lock(&s->lock);
	/* the first one stored stays: a second node's proposal is dropped */
	r = pg_run(s,
		   "INSERT INTO cluster_ca (id, cert, key) VALUES (1, $1, $2) "
		   "ON CONFLICT (id) DO NOTHING",
		   &a, NULL, err);
	if (r == 0)
		r = pg_run(s, "SELECT cert, key FROM cluster_ca WHERE id = 1", NULL, &res, err);
	if (r == 0 && PQntuples(res) != 1)
		r = err_make(err, EPROTO, "store: no cluster authority after storing one");
	if (r == 0 &&
	    (!(*cert_out = strdup(pg_s(res, 0, 0))) || !(*key_out = strdup(pg_s(res, 0, 1))))) {
		free(*cert_out);
		*cert_out = NULL;
		r = err_make(err, ENOMEM, "store: the cluster authority");
	}
	PQclear(res);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/*
 * An UPDATE that must change exactly one row, under the lock: 0, or the
 * error `errnum` with what (the row it was for) when it changed none.
 */
static int update_one(struct store_pg *s, const char *sql, const struct pg_args *a, int errnum,
		      const char *what, struct err **err)
{
	PGresult *res = NULL;
	int r;

	pthread_mutex_lock(&s->lock);
	r = pg_run(s, sql, a, &res, err);
	if (r == 0 && pg_changes(res) != 1)
		r = err_make(err, errnum, "%s", what);
	PQclear(res);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int pg_node_credential(struct store *base, const char *name, const char *peer, const char *cert,
		       struct err **err)
{
	struct pg_args a = { 0 };
	char what[128];

	pa_s(&a, name);
	pa_s(&a, peer);
	pa_s(&a, cert);
	snprintf(what, sizeof(what), "no node named `%s`", name);
	return update_one(pgs(base), "UPDATE nodes SET peer = $2, cert = $3 WHERE name = $1", &a,
			  ENOENT, what, err);
}

int pg_vps_move(struct store *base, const char *name, const char *from, const char *to,
		struct err **err)
{
	struct pg_args a = { 0 };
	char what[200];

	pa_s(&a, name);
	pa_s(&a, from);
	pa_s(&a, to);
	snprintf(what, sizeof(what), "VPS `%s` is not on node `%s` any more", name, from);
	return update_one(pgs(base), "UPDATE vps SET node = $3 WHERE name = $1 AND node = $2", &a,
			  ESTALE, what, err);
}

int pg_node_state(struct store *base, const char *name, const char *state, struct err **err)
{
	struct pg_args a = { 0 };
	char what[128];

	pa_s(&a, name);
	pa_s(&a, state);
	snprintf(what, sizeof(what), "no node named `%s`", name);
	return update_one(pgs(base), "UPDATE nodes SET state = $2 WHERE name = $1", &a, ENOENT,
			  what, err);
}

/*
 * A node's row deleted (node.c, node_remove), in one transaction that
 * holds the VPS table against writes and the nodes table exclusively: no
 * VPS row can come to name the node, and no heartbeat land, between the
 * checks and the delete.
 */
int pg_node_remove(struct store *base, const char *name, long long fresh_after, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	long long vps, beat;
	int r;

	pthread_mutex_lock(&s->lock);
	if ((r = pg_begin(s, err)) < 0)
		goto out;
	pa_s(&a, name);
	if ((r = pg_run(s, "LOCK TABLE vps IN SHARE MODE", NULL, NULL, err)) < 0 ||
	    (r = pg_run(s, "LOCK TABLE nodes IN EXCLUSIVE MODE", NULL, NULL, err)) < 0 ||
	    (r = pg_run(s,
			"SELECT (SELECT count(*) FROM vps WHERE node = $1), "
			"CASE WHEN state = 'offline' THEN 0 ELSE heartbeat END "
			"FROM nodes WHERE name = $1",
			&a, &res, err)) < 0)
		goto fail;
	if (PQntuples(res) != 1) {
		r = err_make(err, ENOENT, "no node named `%s`", name);
		goto fail;
	}
	vps = pg_i(res, 0, 0);
	beat = pg_i(res, 0, 1);
	if (vps > 0) {
		r = err_make(err, EBUSY,
			     "node `%s` holds %lld VPS record%s: move them first (`vps node "
			     "evacuate %s`); removing it would lose them",
			     name, vps, vps == 1 ? "" : "s", name);
		goto fail;
	}
	if (fresh_after >= 0 && beat > fresh_after) {
		r = err_make(err, EBUSY,
			     "node `%s` is online (its heartbeat is fresh): stop its vpsd first, "
			     "or remove it anyway with --force",
			     name);
		goto fail;
	}
	if ((r = pg_run(s, "DELETE FROM nodes WHERE name = $1", &a, NULL, err)) == 0)
		r = pg_commit(s, err);
fail:
	PQclear(res);
	if (r < 0)
		pg_rollback(s);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}
