// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The SQLite store's VPS rows and their event log (tables vps, events;
 * store.h). A VPS's addresses are read with its row (table addresses).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "host/store_sqlite.h"

/* --- VPS rows ------------------------------------------------------------- */

/* The VPS's IPv4 (no `:`) or IPv6 address on its network (addresses table). */
#define VPS_ADDR(cmp)                                                  \
	"(SELECT address FROM addresses a WHERE a.vps = vps.name AND " \
	"instr(a.address, ':') " cmp " LIMIT 1)"

#define VPS_COLUMNS                                                                          \
	"id, name, kind, engine, boot, template, iso, owner, state, ram, swap, disk, cpus, " \
	"io_weight, bw, hostname, ssh_keys, onboot, created, uid_base, last_exit, "          \
	"network, mac, " VPS_ADDR("= 0") ", " VPS_ADDR(                                      \
		"> 0") ", suspended, pids, "                                                 \
		       "features, io_read_bps, io_write_bps, io_read_iops, io_write_iops"

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
	/* the names the API shows (vps.h); a name vpsd does not know finds no kind_ops */
	if (vps_kind_parse(col_text(st, 2), &v->kind) < 0 ||
	    vps_engine_parse(col_text(st, 3), &v->engine) < 0)
		pr_warn("store: VPS `%s` has an unknown kind `%s` or engine `%s`", v->name,
			col_text(st, 2), col_text(st, 3));
	snprintf(v->boot, sizeof(v->boot), "%s", sqlite3_column_text(st, 4));
	v->template = col_dup(st, 5);
	v->iso = col_dup(st, 6);
	snprintf(v->owner, sizeof(v->owner), "%s", sqlite3_column_text(st, 7));
	/* only vpsd writes the column: a name it does not know is a bug, read as stopped */
	if (vps_state_parse((const char *)sqlite3_column_text(st, 8), &v->state) < 0)
		pr_warn("store: VPS `%s` has an unknown state `%s`", v->name, col_text(st, 8));
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
	if (vps_features_parse(col_text(st, 27), &v->features) < 0)
		pr_warn("store: VPS `%s` has unknown features `%s`", v->name, col_text(st, 27));
	v->io_read_bps = sqlite3_column_int64(st, 28);
	v->io_write_bps = sqlite3_column_int64(st, 29);
	v->io_read_iops = sqlite3_column_int64(st, 30);
	v->io_write_iops = sqlite3_column_int64(st, 31);
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

/* ?1..?30 (?21 the plan, insert only); features are text, so `feats` holds them. */
static void bind_vps(sqlite3_stmt *st, const struct vps *v, const char *keys, char feats[32])
{
	sqlite3_bind_text(st, 1, v->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, vps_kind_name(v->kind), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, vps_engine_name(v->engine), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, v->boot, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, v->template, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, v->iso, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, v->owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, vps_state_name(v->state), -1, SQLITE_STATIC);
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
	sqlite3_bind_text(st, 26, vps_features_str(v->features, feats, 32), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 27, (sqlite3_int64)v->io_read_bps);
	sqlite3_bind_int64(st, 28, (sqlite3_int64)v->io_write_bps);
	sqlite3_bind_int64(st, 29, (sqlite3_int64)v->io_read_iops);
	sqlite3_bind_int64(st, 30, (sqlite3_int64)v->io_write_iops);
}

int sq_event(struct store *base, const char *vps, const char *kind, const char *msg)
{
	struct store_sqlite *s = sq(base);

	pthread_mutex_lock(&s->lock);
	sq_event_locked(s, vps, kind, msg);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* In a transaction, under the lock: the row and its `create` event. */
static int insert_locked(struct store_sqlite *s, struct vps *v, const char *plan, struct err **err)
{
	char *keys = keys_json(v), feats[32];
	sqlite3_stmt *st = NULL;
	int rc, r = 0;

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
		    "onboot, created, uid_base, last_exit, plan, network, mac, pids, features, "
		    "io_read_bps, io_write_bps, io_read_iops, io_write_iops, id) VALUES "
		    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?, ?25, ?26, ?27, ?28, ?29, ?30, "
		    "1 + MAX("
		    "COALESCE((SELECT MAX(id) FROM vps), 0), "
		    "COALESCE((SELECT MAX(vps_id) FROM events), 0)))",
		    -1, &st, NULL) != SQLITE_OK) {
		r = sq_err(s, err, "insert");
		goto out;
	}
	bind_vps(st, v, keys, feats);
	sqlite3_bind_text(st, 21, plan, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT) {
		r = strstr(sqlite3_errmsg(s->db), "FOREIGN KEY") ?
			    err_make(err, ENOENT,
				     "`plan` or `network`: no plan `%s` or network `%s`",
				     plan ? plan : "", v->network) :
			    err_make(err, EEXIST, "a VPS named `%s` exists", v->name);
		goto out;
	}
	if (rc != SQLITE_DONE) {
		r = sq_err(s, err, "insert");
		goto out;
	}
	v->id = sqlite3_last_insert_rowid(s->db);
	sq_event_locked(s, v->name, "create", vps_kind_name(v->kind));
out:
	sqlite3_finalize(st);
	free(keys);
	return r;
}

int sq_vps_get(struct store *base, const char *name, struct vps *out, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, "SELECT " VPS_COLUMNS " FROM vps WHERE name = ?", -1, &st,
			       NULL) != SQLITE_OK) {
		r = sq_err(s, err, "select");
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

static int list_locked(struct store_sqlite *s, struct vps **out, size_t *n, struct err **err)
{
	sqlite3_stmt *st;
	struct vps *v = NULL, *nv;
	size_t cap = 0;
	int r = 0;

	*n = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT " VPS_COLUMNS " FROM vps ORDER BY name", -1, &st,
			       NULL) != SQLITE_OK) {
		r = sq_err(s, err, "select");
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
	*out = v;
	return r;
}

json_t *sq_vps_sums(struct store *base)
{
	struct store_sqlite *s = sq(base);
	json_t *out = NULL;
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db,
			       "SELECT count(*), total(ram), total(disk), total(cpus) FROM vps", -1,
			       &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			out = json_object();
			if (sqlite3_column_int64(st, 0) > 0)
				json_object_set_new(
					out, "",
					json_pack("{s:I, s:f, s:f, s:f}", "vps",
						  (json_int_t)sqlite3_column_int64(st, 0), "ram",
						  sqlite3_column_double(st, 1), "disk",
						  sqlite3_column_double(st, 2), "cpus",
						  sqlite3_column_double(st, 3)));
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

int sq_vps_page(struct store *base, const struct store_vps_filter *f, struct vps **out, size_t *n,
		struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	struct vps *v = NULL;
	int r = 0;

	*n = 0;
	*out = NULL;
	if (f->limit > 0 && !(v = calloc((size_t)f->limit, sizeof(*v))))
		return err_make(err, ENOMEM, "list");
	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db,
			       "SELECT " VPS_COLUMNS " FROM vps WHERE name > ?1 AND "
			       "(?2 IS NULL OR owner = ?2) AND "
			       "(?3 IS NULL OR ?3 = (SELECT name FROM nodes LIMIT 1)) AND "
			       "(?4 IS NULL OR state = ?4) ORDER BY name LIMIT ?5",
			       -1, &st, NULL) != SQLITE_OK) {
		r = sq_err(s, err, "select");
		goto out;
	}
	sqlite3_bind_text(st, 1, f->after ? f->after : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, f->owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, f->node, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, f->state, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, f->limit);
	while (*n < (size_t)f->limit && sqlite3_step(st) == SQLITE_ROW)
		row_to_vps(st, &v[(*n)++]);
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	if (r < 0) {
		free(v); /* no row read before the failure */
		return r;
	}
	*out = v;
	return 0;
}

int sq_vps_list(struct store *base, struct vps **out, size_t *n, struct err **err)
{
	struct store_sqlite *s = sq(base);
	int r;

	pthread_mutex_lock(&s->lock);
	r = list_locked(s, out, n, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int update_locked(struct store_sqlite *s, const struct vps *v, struct err **err)
{
	char *keys = keys_json(v), feats[32];
	sqlite3_stmt *st;
	int r = 0;

	if (sqlite3_prepare_v2(
		    s->db,
		    "UPDATE vps SET name = ?1, kind = ?2, engine = ?3, boot = ?4, "
		    "template = ?5, iso = ?6, owner = ?7, state = ?8, ram = ?9, swap = ?10, "
		    "disk = ?11, cpus = ?12, io_weight = ?13, bw = ?14, hostname = ?15, "
		    "ssh_keys = ?16, onboot = ?17, created = ?18, uid_base = ?19, "
		    "last_exit = ?20, network = ?22, mac = ?23, suspended = ?24, pids = ?25, "
		    "features = ?26, io_read_bps = ?27, io_write_bps = ?28, io_read_iops = ?29, "
		    "io_write_iops = ?30 WHERE name = ?1",
		    -1, &st, NULL) != SQLITE_OK) {
		r = sq_err(s, err, "update");
		goto out;
	}
	bind_vps(st, v, keys, feats);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = sq_err(s, err, "update");
	else if (sqlite3_changes(s->db) == 0)
		r = err_make(err, ENOENT, "no VPS named `%s`", v->name);
	sqlite3_finalize(st);
out:
	free(keys);
	return r;
}

int sq_vps_update(struct store *base, const struct vps *v, struct err **err)
{
	struct store_sqlite *s = sq(base);
	int r;

	pthread_mutex_lock(&s->lock);
	r = update_locked(s, v, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int sq_vps_insert(struct store *base, struct vps *v, const char *plan, struct err **err)
{
	return sq_vps_admit(base, v, true, plan, NULL, NULL, err);
}

/*
 * BEGIN IMMEDIATE takes SQLite's write lock at once: no other connection
 * (a second vpsd is refused anyway) writes between the rows admit() sees
 * and the write.
 */
int sq_vps_admit(struct store *base, struct vps *v, bool create, const char *plan,
		 store_admit_fn *admit, void *arg, struct err **err)
{
	struct store_sqlite *s = sq(base);
	struct vps *all = NULL;
	json_t *policies = NULL;
	size_t n = 0;
	int r;

	pthread_mutex_lock(&s->lock);
	if (sq_exec(s, "BEGIN IMMEDIATE", err) < 0) {
		pthread_mutex_unlock(&s->lock);
		return -EIO;
	}
	r = admit ? list_locked(s, &all, &n, err) : 0;
	if (r == 0 && admit) {
		policies = sq_policies_locked(s);
		r = admit(arg, all, n, policies, err);
	}
	if (r == 0)
		r = create ? insert_locked(s, v, plan, err) : update_locked(s, v, err);
	if (r == 0 && sq_exec(s, "COMMIT", err) < 0)
		r = -EIO;
	if (r < 0)
		sq_exec(s, "ROLLBACK", NULL);
	pthread_mutex_unlock(&s->lock);
	json_decref(policies);
	for (size_t i = 0; i < n; i++)
		vps_free(&all[i]);
	free(all);
	return r;
}

int sq_vps_state(struct store *base, const char *name, enum vps_state state, const char *event,
		 struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (sq_exec(s, "BEGIN IMMEDIATE", err) < 0) {
		r = -EIO;
		goto out;
	}
	if (sqlite3_prepare_v2(s->db, "UPDATE vps SET state = ? WHERE name = ?", -1, &st, NULL) !=
	    SQLITE_OK) {
		r = sq_err(s, err, "update state");
		sq_exec(s, "ROLLBACK", NULL);
		goto out;
	}
	sqlite3_bind_text(st, 1, vps_state_name(state), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = sq_err(s, err, "update state");
	else if (sqlite3_changes(s->db) == 0)
		r = err_make(err, ENOENT, "no VPS named `%s`", name);
	sqlite3_finalize(st);
	if (r == 0 && event)
		sq_event_locked(s, name, vps_state_name(state), event);
	if (r == 0)
		r = sq_exec(s, "COMMIT", err);
	else
		sq_exec(s, "ROLLBACK", NULL);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int sq_vps_delete(struct store *base, const char *name, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (sq_exec(s, "BEGIN IMMEDIATE", err) < 0) {
		r = -EIO;
		goto out;
	}
	sq_event_locked(s, name, "destroyed", ""); /* while the row still gives its id */
	if (sqlite3_prepare_v2(s->db, "DELETE FROM vps WHERE name = ?", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			r = sq_err(s, err, "delete");
		sqlite3_finalize(st);
	} else {
		r = sq_err(s, err, "delete");
	}
	if (r == 0) {
		r = sq_exec(s, "COMMIT", err);
	} else {
		sq_exec(s, "ROLLBACK", NULL);
	}
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int sq_vps_plan(struct store *base, const char *name, const char *plan, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, "UPDATE vps SET plan = ? WHERE name = ?", -1, &st, NULL) !=
	    SQLITE_OK) {
		r = sq_err(s, err, "update plan");
	} else {
		sqlite3_bind_text(st, 1, plan, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			r = sq_err(s, err, "update plan");
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

json_t *sq_events(struct store *base, const char *vps, const char *owner, long long after,
		  int limit)
{
	struct store_sqlite *s = sq(base);
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
