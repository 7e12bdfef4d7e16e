// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The SQLite store's plans, resource policies and the host's settings
 * (tables plans, policies, settings; store.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/store_sqlite.h"
#include "host/vps.h"

/* a plan's IO limits, in their columns' order */
static const char *const plan_io[] = { "io_read_bps", "io_write_bps", "io_read_iops",
				       "io_write_iops" };

/* --- plans ------------------------------------------------------------------ */

int sq_plan_put(struct store *base, json_t *p, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	char feats[32], *traffic, *backup, *templates;
	json_t *empty = json_object();
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(
		    s->db,
		    /* an update in place: REPLACE would delete the row its VPSes refer to */
		    "INSERT INTO plans (name, ram, swap, cpus, disk, io_weight, "
		    "bw, pids, features, io_read_bps, io_write_bps, io_read_iops, io_write_iops, "
		    "traffic, pool, backup, templates) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
		    "?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) ON CONFLICT (name) DO UPDATE SET "
		    "ram = ?2, swap = ?3, cpus = ?4, disk = ?5, io_weight = ?6, bw = ?7, pids = ?8, "
		    "features = ?9, io_read_bps = ?10, io_write_bps = ?11, io_read_iops = ?12, "
		    "io_write_iops = ?13, traffic = ?14, pool = ?15, backup = ?16, templates = ?17",
		    -1, &st, NULL) != SQLITE_OK) {
		r = sq_err(s, err, "plan");
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
	sqlite3_bind_text(st, 9,
			  vps_features_str(vps_features_bits(json_object_get(p, "features")), feats,
					   sizeof(feats)),
			  -1, SQLITE_STATIC);
	for (int i = 0; i < 4; i++)
		sqlite3_bind_int64(st, 10 + i, json_integer_value(json_object_get(p, plan_io[i])));
	traffic = json_dumps(json_object_get(p, "traffic") ?: empty, JSON_COMPACT);
	sqlite3_bind_text(st, 14, traffic ?: "{}", -1, SQLITE_TRANSIENT);
	free(traffic);
	sqlite3_bind_text(st, 15, json_string_value(json_object_get(p, "pool")), -1, SQLITE_STATIC);
	backup = json_dumps(json_object_get(p, "backup") ?: empty, JSON_COMPACT | JSON_SORT_KEYS);
	sqlite3_bind_text(st, 16, backup ?: "{}", -1, SQLITE_TRANSIENT);
	free(backup);
	templates = json_object_get(p, "templates") ?
			    json_dumps(json_object_get(p, "templates"), JSON_COMPACT) :
			    NULL;
	sqlite3_bind_text(st, 17, templates ?: "[]", -1, SQLITE_TRANSIENT);
	free(templates);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = sq_err(s, err, "plan");
	sqlite3_finalize(st);
	if (r == 0)
		sq_event_locked(s, NULL, "plan", json_string_value(json_object_get(p, "name")));
out:
	pthread_mutex_unlock(&s->lock);
	json_decref(empty);
	return r;
}

static json_t *plan_rows(struct store_sqlite *s, const char *name)
{
	json_t *a = json_array();
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(
		    s->db,
		    "SELECT name, ram, swap, cpus, disk, io_weight, bw, pids, features, "
		    "io_read_bps, io_write_bps, io_read_iops, io_write_iops, traffic, pool, backup, "
		    "templates FROM plans "
		    "WHERE ?1 IS NULL OR name = ?1 ORDER BY name",
		    -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			unsigned int bits = 0;
			json_t *row = json_pack("{s:s, s:I, s:I, s:f, s:I, s:I, s:I, s:I}", "name",
						(const char *)sqlite3_column_text(st, 0), "ram",
						(json_int_t)sqlite3_column_int64(st, 1), "swap",
						(json_int_t)sqlite3_column_int64(st, 2), "cpus",
						sqlite3_column_double(st, 3), "disk",
						(json_int_t)sqlite3_column_int64(st, 4),
						"io_weight",
						(json_int_t)sqlite3_column_int64(st, 5), "bw",
						(json_int_t)sqlite3_column_int64(st, 6), "pids",
						(json_int_t)sqlite3_column_int64(st, 7));

			vps_features_parse((const char *)sqlite3_column_text(st, 8), &bits);
			json_object_set_new(row, "features", vps_features_json(bits));
			for (int i = 0; i < 4; i++)
				json_object_set_new(row, plan_io[i],
						    json_integer(sqlite3_column_int64(st, 9 + i)));
			json_object_set_new(
				row, "traffic",
				json_loads((const char *)sqlite3_column_text(st, 13), 0, NULL) ?:
					json_object());
			if (sqlite3_column_type(st, 14) != SQLITE_NULL)
				json_object_set_new(
					row, "pool",
					json_string((const char *)sqlite3_column_text(st, 14)));
			json_object_set_new(
				row, "backup",
				json_loads((const char *)sqlite3_column_text(st, 15), 0, NULL) ?:
					json_object());
			json_object_set_new(
				row, "templates",
				json_loads((const char *)sqlite3_column_text(st, 16), 0, NULL) ?:
					json_array());
			json_array_append_new(a, row);
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return a;
}

json_t *sq_plan_get(struct store *base, const char *name)
{
	struct store_sqlite *s = sq(base);
	json_t *a = plan_rows(s, name), *p = json_incref(json_array_get(a, 0));

	json_decref(a);
	return p;
}

json_t *sq_plans(struct store *base)
{
	return plan_rows(sq(base), NULL);
}

int sq_plan_delete(struct store *base, const char *name, struct err **err)
{
	return sq_delete_named(sq(base), "DELETE FROM plans WHERE name = ?", "plan", "is in use",
			       name, err);
}

json_t *sq_plan_backups(struct store *base)
{
	struct store_sqlite *s = sq(base);
	json_t *o = json_object();
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s,
			     "SELECT v.name, p.backup FROM vps v JOIN plans p ON p.name = v.plan "
			     "WHERE p.backup <> '{}'"))) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			json_t *rule =
				json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);

			if (rule)
				json_object_set_new(o, (const char *)sqlite3_column_text(st, 0),
						    rule);
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return o;
}

/* --- resource policies --------------------------------------------------------- */

json_t *sq_policies_locked(struct store_sqlite *s)
{
	json_t *o = json_object();
	sqlite3_stmt *st;

	if ((st = sq_prepare(s, "SELECT resource, mode, ratio FROM policies"))) {
		while (sqlite3_step(st) == SQLITE_ROW)
			json_object_set_new(o, (const char *)sqlite3_column_text(st, 0),
					    json_pack("{s:s, s:f}", "mode",
						      (const char *)sqlite3_column_text(st, 1),
						      "ratio", sqlite3_column_double(st, 2)));
		sqlite3_finalize(st);
	}
	return o;
}

json_t *sq_policies(struct store *base)
{
	struct store_sqlite *s = sq(base);
	json_t *o;

	pthread_mutex_lock(&s->lock);
	o = sq_policies_locked(s);
	pthread_mutex_unlock(&s->lock);
	return o;
}

int sq_policies_put(struct store *base, json_t *p, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st = NULL;
	const char *res;
	json_t *x;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (sq_exec(s, "BEGIN IMMEDIATE", err) < 0) {
		r = -EIO;
		goto out;
	}
	if (sqlite3_prepare_v2(s->db,
			       "INSERT OR REPLACE INTO policies (resource, mode, ratio) "
			       "VALUES (?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK) {
		r = sq_err(s, err, "policy");
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
			r = sq_err(s, err, "policy");
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
		sq_event_locked(s, NULL, "policy", msg);
	}
	if (sq_exec(s, "COMMIT", err) < 0)
		r = -EIO;
	goto out;
rollback:
	sq_exec(s, "ROLLBACK", NULL);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* --- the host's settings --------------------------------------------------------- */

json_t *sq_settings(struct store *base)
{
	struct store_sqlite *s = sq(base);
	json_t *o = NULL;
	sqlite3_stmt *st;
	int rc;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "SELECT name, value FROM settings"))) {
		o = json_object();
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			json_object_set_new(o, (const char *)sqlite3_column_text(st, 0),
					    json_string((const char *)sqlite3_column_text(st, 1)));
		if (rc != SQLITE_DONE) {
			json_decref(o);
			o = NULL;
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return o;
}

int sq_settings_put(struct store *base, json_t *changed, bool seed, const char *why,
		    struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st = NULL;
	const char *name;
	json_t *x;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (sq_exec(s, "BEGIN IMMEDIATE", err) < 0) {
		r = -EIO;
		goto out;
	}
	/* a seed leaves a value set before alone: OR IGNORE on the primary key */
	if (sqlite3_prepare_v2(s->db,
			       seed ? "INSERT OR IGNORE INTO settings (name, value) VALUES (?, ?)" :
				      "INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)",
			       -1, &st, NULL) != SQLITE_OK) {
		r = sq_err(s, err, "setting");
		goto rollback;
	}
	json_object_foreach(changed, name, x)
	{
		char msg[160];

		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, json_string_value(x), -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			r = sq_err(s, err, "setting");
			goto rollback;
		}
		if (sqlite3_changes(s->db) == 0)
			continue;
		snprintf(msg, sizeof(msg), "%s %s%s%s%s", name, json_string_value(x),
			 why ? " (" : "", why ?: "", why ? ")" : "");
		sq_event_locked(s, NULL, "setting", msg);
		r++;
	}
	if (sq_exec(s, "COMMIT", err) < 0)
		r = -EIO;
	goto out;
rollback:
	sq_exec(s, "ROLLBACK", NULL);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return r;
}
