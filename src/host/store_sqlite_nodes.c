// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The SQLite store's nodes (store.h, docs/cluster.md): one host, one row,
 * itself. A start replaces whatever row was there (the host may have been
 * renamed); there are no join tokens, as there is no one to join.
 */
#include <errno.h>
#include <pthread.h>

#include "host/store_sqlite.h"

int sq_node_join(struct store *base, const struct store_node *n, const char *join_hash,
		 long long now, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r;

	(void)join_hash;
	pthread_mutex_lock(&s->lock);
	if ((r = sq_exec(s, "BEGIN IMMEDIATE", err)) < 0)
		goto out;
	if ((st = sq_prepare(s, "DELETE FROM nodes WHERE name != ?")))
		sqlite3_bind_text(st, 1, n->name, -1, SQLITE_STATIC);
	if ((r = sq_write(s, st, err)) == 0 &&
	    (st = sq_prepare(s, "INSERT INTO nodes (name, address, cpus, ram, disk, state, joined, "
				"heartbeat) VALUES (?1, ?2, ?3, ?4, ?5, 'online', ?6, ?6) "
				"ON CONFLICT (name) DO UPDATE SET address = ?2, cpus = ?3, "
				"ram = ?4, disk = ?5, heartbeat = ?6, state = 'online'"))) {
		sqlite3_bind_text(st, 1, n->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, n->address, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 3, n->cpus);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)n->ram);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)n->disk);
		sqlite3_bind_int64(st, 6, now);
	}
	if (r == 0)
		r = sq_write(s, st, err);
	if (r == 0)
		r = sq_exec(s, "COMMIT", err);
	if (r < 0)
		sq_exec(s, "ROLLBACK", NULL);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int sq_node_heartbeat(struct store *base, const char *name, const char *state, long long now,
		      struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "UPDATE nodes SET heartbeat = ?, state = ? WHERE name = ?"))) {
		sqlite3_bind_int64(st, 1, now);
		sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	}
	r = sq_write(s, st, err);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		r = err_make(err, ENOENT, "no node named `%s`", name);
	pthread_mutex_unlock(&s->lock);
	return r;
}

json_t *sq_nodes(struct store *base)
{
	struct store_sqlite *s = sq(base);
	json_t *out = NULL;
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "SELECT name, address, cpus, ram, disk, state, joined, heartbeat "
				"FROM nodes ORDER BY name"))) {
		out = json_array();
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(
				out, json_pack("{s:s, s:s, s:f, s:I, s:I, s:s, s:I, s:I}", "name",
					       sqlite3_column_text(st, 0), "address",
					       sqlite3_column_text(st, 1), "cpus",
					       sqlite3_column_double(st, 2), "ram",
					       (json_int_t)sqlite3_column_int64(st, 3), "disk",
					       (json_int_t)sqlite3_column_int64(st, 4), "state",
					       sqlite3_column_text(st, 5), "joined",
					       (json_int_t)sqlite3_column_int64(st, 6), "heartbeat",
					       (json_int_t)sqlite3_column_int64(st, 7)));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

int sq_join_token_insert(struct store *base, const char *hash, const char *name, long long created,
			 long long expires, struct err **err)
{
	(void)base, (void)hash, (void)name, (void)created, (void)expires;
	return err_make(err, EOPNOTSUPP,
			"join tokens are for a cluster (vpsd --cluster): this host is on its own");
}

bool sq_ping(struct store *base)
{
	(void)base;
	return true;
}
