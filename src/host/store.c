// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The store (see store.h). Migrations are a list of SQL scripts; script i
 * takes the schema from version i to i + 1 and runs in one transaction
 * with the user_version bump, so a crash mid-migration leaves the old
 * version intact.
 */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/store.h"

struct store {
	sqlite3 *db;
	pthread_mutex_t lock;
};

static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE plans ("
	"  name TEXT PRIMARY KEY,"
	"  ram INTEGER NOT NULL, swap INTEGER NOT NULL, cpus REAL NOT NULL,"
	"  disk INTEGER NOT NULL, io_weight INTEGER NOT NULL DEFAULT 0,"
	"  bw INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE vps ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT UNIQUE NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('ct', 'vm')),"
	"  engine TEXT NOT NULL, boot TEXT NOT NULL DEFAULT '',"
	"  template TEXT, iso TEXT,"
	"  plan TEXT REFERENCES plans(name) ON DELETE RESTRICT,"
	"  owner TEXT NOT NULL, state TEXT NOT NULL,"
	"  ram INTEGER NOT NULL, swap INTEGER NOT NULL, disk INTEGER NOT NULL,"
	"  cpus REAL NOT NULL, io_weight INTEGER NOT NULL DEFAULT 0,"
	"  bw INTEGER NOT NULL DEFAULT 0, hostname TEXT,"
	"  ssh_keys TEXT NOT NULL DEFAULT '[]', onboot INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL, uid_base INTEGER NOT NULL DEFAULT 0,"
	"  last_exit INTEGER NOT NULL DEFAULT -1);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY, time INTEGER NOT NULL, vps TEXT,"
	"  kind TEXT NOT NULL, message TEXT NOT NULL);"
	"CREATE INDEX events_by_vps ON events(vps, id);",
	/* 1 -> 2: resource policies and networks (issue 7) */
	"CREATE TABLE policies ("
	"  resource TEXT PRIMARY KEY CHECK (resource IN ('memory', 'disk', 'cpus')),"
	"  mode TEXT NOT NULL CHECK (mode IN ('reserve', 'oversell', 'thin')),"
	"  ratio REAL NOT NULL DEFAULT 1.0 CHECK (ratio >= 1.0));"
	"INSERT INTO policies VALUES ('memory', 'reserve', 1.0), ('disk', 'thin', 1.0),"
	"  ('cpus', 'oversell', 4.0);"
	"CREATE TABLE networks ("
	"  name TEXT PRIMARY KEY, bridge TEXT UNIQUE NOT NULL,"
	"  ipv4 TEXT, ipv6 TEXT, nat INTEGER NOT NULL DEFAULT 1);"
	"CREATE TABLE addresses ("
	"  network TEXT NOT NULL REFERENCES networks(name) ON DELETE RESTRICT,"
	"  address TEXT NOT NULL,"
	"  vps TEXT NOT NULL REFERENCES vps(name) ON DELETE CASCADE,"
	"  PRIMARY KEY (network, address));"
	"CREATE INDEX addresses_by_vps ON addresses(vps);"
	"ALTER TABLE vps ADD COLUMN network TEXT REFERENCES networks(name) ON DELETE RESTRICT;"
	"ALTER TABLE vps ADD COLUMN mac TEXT;",
	/* 2 -> 3: users, sessions, tokens, audit, usage history, operations (issue 8) */
	"CREATE TABLE users ("
	"  name TEXT PRIMARY KEY, role TEXT NOT NULL CHECK (role IN ('admin', 'customer')),"
	"  hash TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE TABLE sessions ("
	"  id TEXT PRIMARY KEY," /* a hash of the cookie: the store never holds the secret */
	"  user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
	"  csrf TEXT NOT NULL, source TEXT NOT NULL,"
	"  created INTEGER NOT NULL, expires INTEGER NOT NULL);"
	"CREATE TABLE tokens ("
	"  id INTEGER PRIMARY KEY,"
	"  user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
	"  name TEXT NOT NULL, hash TEXT UNIQUE NOT NULL, sources TEXT NOT NULL DEFAULT '[]',"
	"  created INTEGER NOT NULL, expires INTEGER NOT NULL, used INTEGER);"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY, time INTEGER NOT NULL, user TEXT, source TEXT NOT NULL,"
	"  method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL);"
	"CREATE TABLE usage ("
	"  vps TEXT NOT NULL REFERENCES vps(name) ON DELETE CASCADE,"
	"  time INTEGER NOT NULL, cpu REAL NOT NULL, mem INTEGER NOT NULL, disk INTEGER NOT NULL,"
	"  rx REAL NOT NULL, tx REAL NOT NULL, PRIMARY KEY (vps, time)) WITHOUT ROWID;"
	"CREATE TABLE operations ("
	"  id TEXT PRIMARY KEY, vps TEXT, user TEXT NOT NULL, action TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed')),"
	"  status INTEGER, result TEXT, created INTEGER NOT NULL, finished INTEGER);"
	"ALTER TABLE vps ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0;",
	/* 3 -> 4: the networks a customer's VPSes may join (issue 15) */
	"ALTER TABLE users ADD COLUMN networks TEXT NOT NULL DEFAULT '[]';",
	/* 4 -> 5: the `limits` policy, what to do with a limit the host cannot enforce (issue 14) */
	"CREATE TABLE policies4 ("
	"  resource TEXT PRIMARY KEY CHECK (resource IN ('memory', 'disk', 'cpus', 'limits')),"
	"  mode TEXT NOT NULL CHECK (mode IN ('reserve', 'oversell', 'thin', 'refuse', 'warn')),"
	"  ratio REAL NOT NULL DEFAULT 1.0 CHECK (ratio >= 1.0));"
	"INSERT INTO policies4 SELECT resource, mode, ratio FROM policies;"
	"INSERT INTO policies4 VALUES ('limits', 'refuse', 1.0);"
	"DROP TABLE policies;"
	"ALTER TABLE policies4 RENAME TO policies;",
	/*
	 * 5 -> 6: events belong to a VPS's id, not its name (issue 15: a new
	 * VPS of an old name read the old one's history). A name's events from
	 * its last `create` on are the VPS that has it now.
	 */
	"ALTER TABLE events ADD COLUMN vps_id INTEGER;"
	"UPDATE events SET vps_id = (SELECT v.id FROM vps v WHERE v.name = events.vps AND "
	"  events.id >= (SELECT MAX(e.id) FROM events e WHERE e.vps = v.name AND "
	"  e.kind = 'create'));"
	"CREATE INDEX events_by_vps_id ON events(vps_id, id);",
	/*
	 * 6 -> 7: a pids limit in every plan, and on every VPS made from one
	 * (issue 15: containers had the host's default only). 0: the host's
	 * default, vpsd --pids-limit.
	 */
	"ALTER TABLE plans ADD COLUMN pids INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE vps ADD COLUMN pids INTEGER NOT NULL DEFAULT 0;",
};

#define NR_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

static int db_err(struct store *s, struct err **err, const char *what)
{
	return err_make(err, EIO, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

static int exec_sql(struct store *s, const char *sql, struct err **err)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int r = err_make(err, EIO, "store: %s", msg ? msg : sqlite3_errmsg(s->db));

		sqlite3_free(msg);
		return r;
	}
	return 0;
}

int store_schema_version(struct store *s)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int migrate(struct store *s, struct err **err)
{
	int v = store_schema_version(s);
	char bump[64];

	if (v < 0)
		return db_err(s, err, "read the schema version");
	if ((size_t)v > NR_MIGRATIONS)
		return err_make(err, EPROTO,
				"store: schema version %d is newer than this vpsd knows (%zu)", v,
				NR_MIGRATIONS);
	for (; (size_t)v < NR_MIGRATIONS; v++) {
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d;", v + 1);
		if (exec_sql(s, "BEGIN IMMEDIATE", err) < 0)
			return -EIO;
		if (exec_sql(s, migrations[v], err) < 0 || exec_sql(s, bump, err) < 0) {
			exec_sql(s, "ROLLBACK", NULL);
			return err_wrap(err, "migrate the store to version %d", v + 1);
		}
		if (exec_sql(s, "COMMIT", err) < 0)
			return -EIO;
	}
	return 0;
}

int store_open(const char *path, struct store **out, struct err **err)
{
	struct store *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return err_make(err, ENOMEM, "store");
	pthread_mutex_init(&s->lock, NULL);
	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		r = err_make(err, EIO, "store: open `%s`: %s", path,
			     s->db ? sqlite3_errmsg(s->db) : "out of memory");
		store_close(s);
		return r;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if ((r = exec_sql(s,
			  "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; "
			  "PRAGMA synchronous = NORMAL;",
			  err)) < 0 ||
	    (r = migrate(s, err)) < 0) {
		store_close(s);
		return r;
	}
	*out = s;
	return 0;
}

sqlite3 *store_lock(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	return s->db;
}

void store_unlock(struct store *s)
{
	pthread_mutex_unlock(&s->lock);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* --- VPS rows ------------------------------------------------------------- */

/* The VPS's IPv4 (no `:`) or IPv6 address on its network (addresses table). */
#define VPS_ADDR(cmp)                                                  \
	"(SELECT address FROM addresses a WHERE a.vps = vps.name AND " \
	"instr(a.address, ':') " cmp " LIMIT 1)"

#define VPS_COLUMNS                                                                          \
	"id, name, kind, engine, boot, template, iso, owner, state, ram, swap, disk, cpus, " \
	"io_weight, bw, hostname, ssh_keys, onboot, created, uid_base, last_exit, "          \
	"network, mac, " VPS_ADDR("= 0") ", " VPS_ADDR("> 0") ", suspended, pids"

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? strdup((const char *)t) : NULL;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

static void row_to_vps(sqlite3_stmt *st, struct vps *v)
{
	json_t *keys;
	size_t i;
	json_t *k;

	vps_init(v);
	v->id = sqlite3_column_int64(st, 0);
	snprintf(v->name, sizeof(v->name), "%s", sqlite3_column_text(st, 1));
	snprintf(v->kind, sizeof(v->kind), "%s", sqlite3_column_text(st, 2));
	snprintf(v->engine, sizeof(v->engine), "%s", sqlite3_column_text(st, 3));
	snprintf(v->boot, sizeof(v->boot), "%s", sqlite3_column_text(st, 4));
	v->template = col_dup(st, 5);
	v->iso = col_dup(st, 6);
	snprintf(v->owner, sizeof(v->owner), "%s", sqlite3_column_text(st, 7));
	snprintf(v->state, sizeof(v->state), "%s", sqlite3_column_text(st, 8));
	v->ram = sqlite3_column_int64(st, 9);
	v->swap = sqlite3_column_int64(st, 10);
	v->disk = sqlite3_column_int64(st, 11);
	v->cpus = sqlite3_column_double(st, 12);
	v->io_weight = sqlite3_column_int(st, 13);
	v->bw = sqlite3_column_int64(st, 14);
	v->hostname = col_dup(st, 15);
	keys = json_loads((const char *)sqlite3_column_text(st, 16), 0, NULL);
	json_array_foreach(keys, i, k) if (i < VPS_MAX_KEYS && json_is_string(k))
	{
		v->ssh_keys[v->nr_ssh_keys++] = strdup(json_string_value(k));
	}
	json_decref(keys);
	v->onboot = sqlite3_column_int(st, 17);
	v->created = sqlite3_column_int64(st, 18);
	v->uid_base = sqlite3_column_int64(st, 19);
	v->last_exit = sqlite3_column_int(st, 20);
	snprintf(v->network, sizeof(v->network), "%s", col_text(st, 21));
	snprintf(v->mac, sizeof(v->mac), "%s", col_text(st, 22));
	snprintf(v->ipv4, sizeof(v->ipv4), "%s", col_text(st, 23));
	snprintf(v->ipv6, sizeof(v->ipv6), "%s", col_text(st, 24));
	v->suspended = sqlite3_column_int(st, 25);
	v->pids = (unsigned int)sqlite3_column_int64(st, 26);
}

static char *keys_json(const struct vps *v)
{
	json_t *a = json_array();
	char *s;

	for (unsigned int i = 0; i < v->nr_ssh_keys; i++)
		json_array_append_new(a, json_string(v->ssh_keys[i]));
	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return s;
}

static void bind_vps(sqlite3_stmt *st, const struct vps *v, const char *keys)
{
	sqlite3_bind_text(st, 1, v->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, v->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, v->engine, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, v->boot, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, v->template, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, v->iso, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, v->owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, v->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, v->ram);
	sqlite3_bind_int64(st, 10, v->swap);
	sqlite3_bind_int64(st, 11, v->disk);
	sqlite3_bind_double(st, 12, v->cpus);
	sqlite3_bind_int(st, 13, v->io_weight);
	sqlite3_bind_int64(st, 14, v->bw);
	sqlite3_bind_text(st, 15, v->hostname, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 16, keys, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 17, v->onboot);
	sqlite3_bind_int64(st, 18, v->created);
	sqlite3_bind_int64(st, 19, v->uid_base);
	sqlite3_bind_int(st, 20, v->last_exit);
	/* 21 is the plan (insert only) */
	sqlite3_bind_text(st, 22, *v->network ? v->network : NULL, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 23, *v->mac ? v->mac : NULL, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 24, v->suspended);
	sqlite3_bind_int64(st, 25, v->pids);
}

static void event_locked(struct store *s, const char *vps, const char *kind, const char *msg)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO events (time, vps, vps_id, kind, message) VALUES "
			       "(?1, ?2, (SELECT id FROM vps WHERE name = ?2), ?3, ?4)",
			       -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(st, 1, time(NULL));
	sqlite3_bind_text(st, 2, vps, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, msg, -1, SQLITE_STATIC);
	sqlite3_step(st);
	sqlite3_finalize(st);
}

int store_event(struct store *s, const char *vps, const char *kind, const char *msg)
{
	pthread_mutex_lock(&s->lock);
	event_locked(s, vps, kind, msg);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int store_vps_insert(struct store *s, struct vps *v, const char *plan, struct err **err)
{
	char *keys = keys_json(v);
	sqlite3_stmt *st = NULL;
	int rc, r = 0;

	pthread_mutex_lock(&s->lock);
	if (exec_sql(s, "BEGIN IMMEDIATE", err) < 0) {
		r = -EIO;
		goto out;
	}
	{
		/* each VPS its own 65536 ids, after the highest in use: a container's
		 * user namespace, a VM monitor's jail (its first id) */
		if (sqlite3_prepare_v2(s->db, "SELECT COALESCE(MAX(uid_base), 934464) FROM vps", -1,
				       &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			v->uid_base = (uint32_t)(sqlite3_column_int64(st, 0) + 65536);
		sqlite3_finalize(st);
		st = NULL;
	}
	if (sqlite3_prepare_v2(
		    s->db,
		    /* ids are never reused (SQLite would reuse the highest one
				  after a delete): events stay with the VPS they are of */
		    "INSERT INTO vps (name, kind, engine, boot, template, iso, owner, "
		    "state, ram, swap, disk, cpus, io_weight, bw, hostname, ssh_keys, "
		    "onboot, created, uid_base, last_exit, plan, network, mac, pids, id) VALUES "
		    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?, ?25, 1 + MAX("
		    "COALESCE((SELECT MAX(id) FROM vps), 0), "
		    "COALESCE((SELECT MAX(vps_id) FROM events), 0)))",
		    -1, &st, NULL) != SQLITE_OK) {
		r = db_err(s, err, "insert");
		goto rollback;
	}
	bind_vps(st, v, keys);
	sqlite3_bind_text(st, 21, plan, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT) {
		r = strstr(sqlite3_errmsg(s->db), "FOREIGN KEY") ?
			    err_make(err, ENOENT,
				     "`plan` or `network`: no plan `%s` or network `%s`",
				     plan ? plan : "", v->network) :
			    err_make(err, EEXIST, "a VPS named `%s` exists", v->name);
		goto rollback;
	}
	if (rc != SQLITE_DONE) {
		r = db_err(s, err, "insert");
		goto rollback;
	}
	v->id = sqlite3_last_insert_rowid(s->db);
	event_locked(s, v->name, "create", v->kind);
	if (exec_sql(s, "COMMIT", err) < 0)
		r = -EIO;
	goto out;
rollback:
	exec_sql(s, "ROLLBACK", NULL);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	free(keys);
	return r;
}

int store_vps_get(struct store *s, const char *name, struct vps *out, struct err **err)
{
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, "SELECT " VPS_COLUMNS " FROM vps WHERE name = ?", -1, &st,
			       NULL) != SQLITE_OK) {
		r = db_err(s, err, "select");
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		row_to_vps(st, out);
	else
		r = err_make(err, ENOENT, "no VPS named `%s`", name);
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_vps_list(struct store *s, struct vps **out, size_t *n, struct err **err)
{
	sqlite3_stmt *st;
	struct vps *v = NULL, *nv;
	size_t cap = 0;
	int r = 0;

	*n = 0;
	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, "SELECT " VPS_COLUMNS " FROM vps ORDER BY name", -1, &st,
			       NULL) != SQLITE_OK) {
		r = db_err(s, err, "select");
		goto out;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			if (!(nv = realloc(v, cap * sizeof(*v)))) {
				r = err_make(err, ENOMEM, "list");
				break;
			}
			v = nv;
		}
		row_to_vps(st, &v[(*n)++]);
	}
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	*out = v;
	return r;
}

void store_vps_list_free(struct vps *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vps_free(&v[i]);
	free(v);
}

int store_vps_update(struct store *s, const struct vps *v, struct err **err)
{
	char *keys = keys_json(v);
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(
		    s->db,
		    "UPDATE vps SET name = ?1, kind = ?2, engine = ?3, boot = ?4, "
		    "template = ?5, iso = ?6, owner = ?7, state = ?8, ram = ?9, swap = ?10, "
		    "disk = ?11, cpus = ?12, io_weight = ?13, bw = ?14, hostname = ?15, "
		    "ssh_keys = ?16, onboot = ?17, created = ?18, uid_base = ?19, "
		    "last_exit = ?20, network = ?22, mac = ?23, suspended = ?24, pids = ?25 "
		    "WHERE name = ?1",
		    -1, &st, NULL) != SQLITE_OK) {
		r = db_err(s, err, "update");
		goto out;
	}
	bind_vps(st, v, keys);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_err(s, err, "update");
	else if (sqlite3_changes(s->db) == 0)
		r = err_make(err, ENOENT, "no VPS named `%s`", v->name);
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	free(keys);
	return r;
}

int store_vps_state(struct store *s, const char *name, const char *state, const char *event,
		    struct err **err)
{
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (exec_sql(s, "BEGIN IMMEDIATE", err) < 0) {
		r = -EIO;
		goto out;
	}
	if (sqlite3_prepare_v2(s->db, "UPDATE vps SET state = ? WHERE name = ?", -1, &st, NULL) !=
	    SQLITE_OK) {
		r = db_err(s, err, "update state");
		exec_sql(s, "ROLLBACK", NULL);
		goto out;
	}
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_err(s, err, "update state");
	else if (sqlite3_changes(s->db) == 0)
		r = err_make(err, ENOENT, "no VPS named `%s`", name);
	sqlite3_finalize(st);
	if (r == 0 && event)
		event_locked(s, name, state, event);
	if (r == 0)
		r = exec_sql(s, "COMMIT", err);
	else
		exec_sql(s, "ROLLBACK", NULL);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_vps_delete(struct store *s, const char *name, struct err **err)
{
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (exec_sql(s, "BEGIN IMMEDIATE", err) < 0) {
		r = -EIO;
		goto out;
	}
	event_locked(s, name, "destroyed", ""); /* while the row still gives its id */
	if (sqlite3_prepare_v2(s->db, "DELETE FROM vps WHERE name = ?", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			r = db_err(s, err, "delete");
		sqlite3_finalize(st);
	} else {
		r = db_err(s, err, "delete");
	}
	if (r == 0) {
		r = exec_sql(s, "COMMIT", err);
	} else {
		exec_sql(s, "ROLLBACK", NULL);
	}
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

json_t *store_events(struct store *s, const char *vps, const char *owner, long long after,
		     int limit)
{
	json_t *a = json_array();
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(
		    s->db,
		    /* the VPS of that name now; one gone: by name (the provider only) */
		    "SELECT id, time, vps, kind, message FROM events WHERE id > ?1 AND "
		    "(?2 IS NULL OR CASE WHEN EXISTS (SELECT 1 FROM vps WHERE name = ?2) "
		    "THEN vps_id = (SELECT id FROM vps WHERE name = ?2) ELSE vps = ?2 END) AND "
		    "(?4 IS NULL OR vps_id IN (SELECT id FROM vps WHERE owner = ?4)) "
		    "ORDER BY id LIMIT ?3",
		    -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, after);
		sqlite3_bind_text(st, 2, vps, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, limit);
		sqlite3_bind_text(st, 4, owner, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(
				a, json_pack("{s:I, s:I, s:s?, s:s, s:s}", "id",
					     (json_int_t)sqlite3_column_int64(st, 0), "time",
					     (json_int_t)sqlite3_column_int64(st, 1), "vps",
					     (const char *)sqlite3_column_text(st, 2), "kind",
					     (const char *)sqlite3_column_text(st, 3), "message",
					     (const char *)sqlite3_column_text(st, 4)));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return a;
}

/* --- plans ------------------------------------------------------------------ */

int store_plan_put(struct store *s, json_t *p, struct err **err)
{
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(
		    s->db,
		    "INSERT OR REPLACE INTO plans (name, ram, swap, cpus, disk, io_weight, "
		    "bw, pids) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		    -1, &st, NULL) != SQLITE_OK) {
		r = db_err(s, err, "plan");
		goto out;
	}
	sqlite3_bind_text(st, 1, json_string_value(json_object_get(p, "name")), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, json_integer_value(json_object_get(p, "ram")));
	sqlite3_bind_int64(st, 3, json_integer_value(json_object_get(p, "swap")));
	sqlite3_bind_double(st, 4, json_number_value(json_object_get(p, "cpus")));
	sqlite3_bind_int64(st, 5, json_integer_value(json_object_get(p, "disk")));
	sqlite3_bind_int64(st, 6, json_integer_value(json_object_get(p, "io_weight")));
	sqlite3_bind_int64(st, 7, json_integer_value(json_object_get(p, "bw")));
	sqlite3_bind_int64(st, 8, json_integer_value(json_object_get(p, "pids")));
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_err(s, err, "plan");
	sqlite3_finalize(st);
	if (r == 0)
		event_locked(s, NULL, "plan", json_string_value(json_object_get(p, "name")));
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

static json_t *plan_rows(struct store *s, const char *name)
{
	json_t *a = json_array();
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(
		    s->db,
		    "SELECT name, ram, swap, cpus, disk, io_weight, bw, pids FROM plans WHERE ?1 "
		    "IS NULL OR name = ?1 ORDER BY name",
		    -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(
				a, json_pack("{s:s, s:I, s:I, s:f, s:I, s:I, s:I, s:I}", "name",
					     (const char *)sqlite3_column_text(st, 0), "ram",
					     (json_int_t)sqlite3_column_int64(st, 1), "swap",
					     (json_int_t)sqlite3_column_int64(st, 2), "cpus",
					     sqlite3_column_double(st, 3), "disk",
					     (json_int_t)sqlite3_column_int64(st, 4), "io_weight",
					     (json_int_t)sqlite3_column_int64(st, 5), "bw",
					     (json_int_t)sqlite3_column_int64(st, 6), "pids",
					     (json_int_t)sqlite3_column_int64(st, 7)));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return a;
}

json_t *store_plan_get(struct store *s, const char *name)
{
	json_t *a = plan_rows(s, name), *p = json_incref(json_array_get(a, 0));

	json_decref(a);
	return p;
}

json_t *store_plans(struct store *s)
{
	return plan_rows(s, NULL);
}

/*
 * DELETE FROM `table` WHERE name = ?: -EBUSY with `busy` when a foreign key
 * (ON DELETE RESTRICT) still refers to it, -ENOENT when there is none.
 */
static int delete_named(struct store *s, const char *sql, const char *what, const char *busy,
			const char *name, struct err **err)
{
	sqlite3_stmt *st;
	int r = 0, rc;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		r = db_err(s, err, what);
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT)
		r = err_make(err, EBUSY, "%s `%s` %s", what, name, busy);
	else if (rc != SQLITE_DONE)
		r = db_err(s, err, what);
	else if (sqlite3_changes(s->db) == 0)
		r = err_make(err, ENOENT, "no %s named `%s`", what, name);
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_vps_plan(struct store *s, const char *name, const char *plan, struct err **err)
{
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, "UPDATE vps SET plan = ? WHERE name = ?", -1, &st, NULL) !=
	    SQLITE_OK) {
		r = db_err(s, err, "update plan");
	} else {
		sqlite3_bind_text(st, 1, plan, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			r = db_err(s, err, "update plan");
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_plan_delete(struct store *s, const char *name, struct err **err)
{
	return delete_named(s, "DELETE FROM plans WHERE name = ?", "plan", "is in use", name, err);
}

/* --- resource policies --------------------------------------------------------- */

json_t *store_policies(struct store *s)
{
	json_t *o = json_object();
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, "SELECT resource, mode, ratio FROM policies", -1, &st,
			       NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW)
			json_object_set_new(o, (const char *)sqlite3_column_text(st, 0),
					    json_pack("{s:s, s:f}", "mode",
						      (const char *)sqlite3_column_text(st, 1),
						      "ratio", sqlite3_column_double(st, 2)));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return o;
}

int store_policies_put(struct store *s, json_t *p, struct err **err)
{
	sqlite3_stmt *st = NULL;
	const char *res;
	json_t *x;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (exec_sql(s, "BEGIN IMMEDIATE", err) < 0) {
		r = -EIO;
		goto out;
	}
	if (sqlite3_prepare_v2(s->db,
			       "INSERT OR REPLACE INTO policies (resource, mode, ratio) "
			       "VALUES (?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK) {
		r = db_err(s, err, "policy");
		goto rollback;
	}
	json_object_foreach(p, res, x)
	{
		char msg[96];

		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, res, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, json_string_value(json_object_get(x, "mode")), -1,
				  SQLITE_STATIC);
		sqlite3_bind_double(st, 3, json_number_value(json_object_get(x, "ratio")));
		if (sqlite3_step(st) != SQLITE_DONE) {
			r = db_err(s, err, "policy");
			goto rollback;
		}
		/* `limits` has a mode only (caps.h) */
		if (!strcmp(res, "limits"))
			snprintf(msg, sizeof(msg), "%s %s", res,
				 json_string_value(json_object_get(x, "mode")));
		else
			snprintf(msg, sizeof(msg), "%s %s %.2f", res,
				 json_string_value(json_object_get(x, "mode")),
				 json_number_value(json_object_get(x, "ratio")));
		event_locked(s, NULL, "policy", msg);
	}
	if (exec_sql(s, "COMMIT", err) < 0)
		r = -EIO;
	goto out;
rollback:
	exec_sql(s, "ROLLBACK", NULL);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* --- networks and their addresses ------------------------------------------------ */

int store_net_insert(struct store *s, json_t *n, struct err **err)
{
	const char *name = json_string_value(json_object_get(n, "name"));
	const char *bridge = json_string_value(json_object_get(n, "bridge"));
	sqlite3_stmt *st;
	int r = 0, rc;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO networks (name, bridge, ipv4, ipv6, nat) "
			       "VALUES (?, ?, ?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK) {
		r = db_err(s, err, "network");
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, bridge, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, json_string_value(json_object_get(n, "ipv4")), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, json_string_value(json_object_get(n, "ipv6")), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, json_is_true(json_object_get(n, "nat")));
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT)
		r = strstr(sqlite3_errmsg(s->db), "bridge") ?
			    err_make(err, EEXIST, "`bridge`: `%s` belongs to another network",
				     bridge) :
			    err_make(err, EEXIST, "a network named `%s` exists", name);
	else if (rc != SQLITE_DONE)
		r = db_err(s, err, "network");
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

json_t *store_nets(struct store *s, const char *name)
{
	json_t *a = json_array();
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db,
			       "SELECT name, bridge, ipv4, ipv6, nat, "
			       "(SELECT COUNT(*) FROM addresses a WHERE a.network = n.name AND "
			       "instr(a.address, ':') = 0), "
			       "(SELECT COUNT(*) FROM addresses a WHERE a.network = n.name AND "
			       "instr(a.address, ':') > 0), "
			       "(SELECT COUNT(*) FROM vps v WHERE v.network = n.name) "
			       "FROM networks n WHERE ?1 IS NULL OR name = ?1 ORDER BY name",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(
				a, json_pack("{s:s, s:s, s:s?, s:s?, s:b, s:I, s:I, s:I}", "name",
					     (const char *)sqlite3_column_text(st, 0), "bridge",
					     (const char *)sqlite3_column_text(st, 1), "ipv4",
					     (const char *)sqlite3_column_text(st, 2), "ipv6",
					     (const char *)sqlite3_column_text(st, 3), "nat",
					     sqlite3_column_int(st, 4), "used4",
					     (json_int_t)sqlite3_column_int64(st, 5), "used6",
					     (json_int_t)sqlite3_column_int64(st, 6), "vps",
					     (json_int_t)sqlite3_column_int64(st, 7)));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return a;
}

int store_net_delete(struct store *s, const char *name, struct err **err)
{
	/* addresses and VPS rows refer to it ON DELETE RESTRICT */
	return delete_named(s, "DELETE FROM networks WHERE name = ?", "network",
			    "has VPSes and addresses assigned", name, err);
}

json_t *store_net_addresses(struct store *s, const char *network)
{
	json_t *a = json_array();
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, "SELECT address FROM addresses WHERE network = ?", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, network, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(
				a, json_string((const char *)sqlite3_column_text(st, 0)));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return a;
}

int store_address_add(struct store *s, const char *network, const char *address, const char *vps,
		      struct err **err)
{
	sqlite3_stmt *st;
	int r = 0, rc;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO addresses (network, address, vps) VALUES (?, ?, ?)", -1,
			       &st, NULL) != SQLITE_OK) {
		r = db_err(s, err, "address");
		goto out;
	}
	sqlite3_bind_text(st, 1, network, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, address, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, vps, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT)
		r = err_make(err, EEXIST, "address `%s` in `%s` is taken", address, network);
	else if (rc != SQLITE_DONE)
		r = db_err(s, err, "address");
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}
