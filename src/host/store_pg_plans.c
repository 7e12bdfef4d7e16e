// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The PostgreSQL store's plans, resource policies and the cluster's
 * settings (tables plans, policies, settings; store.h),
 * store_sqlite_plans.c's twin.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/store_pg.h"
#include "host/vps.h"

/* a plan's IO limits, in their columns' order */
static const char *const plan_io[] = { "io_read_bps", "io_write_bps", "io_read_iops",
				       "io_write_iops" };

/* --- plans ------------------------------------------------------------------ */

int pg_plan_put(struct store *base, json_t *p, struct err **err)
{
	struct store_pg *s = pgs(base);
	const char *name = json_string_value(json_object_get(p, "name"));
	struct pg_args a = { 0 };
	char feats[32], *traffic, *backup, *templates;
	json_t *empty = json_object();
	int r;

	pa_s(&a, name);
	pa_i(&a, json_integer_value(json_object_get(p, "ram")));
	pa_i(&a, json_integer_value(json_object_get(p, "swap")));
	pa_d(&a, json_number_value(json_object_get(p, "cpus")));
	pa_i(&a, json_integer_value(json_object_get(p, "disk")));
	pa_i(&a, json_integer_value(json_object_get(p, "io_weight")));
	pa_i(&a, json_integer_value(json_object_get(p, "bw")));
	pa_i(&a, json_integer_value(json_object_get(p, "pids")));
	pa_s(&a, vps_features_str(vps_features_bits(json_object_get(p, "features")), feats,
				  sizeof(feats)));
	for (int i = 0; i < 4; i++)
		pa_i(&a, json_integer_value(json_object_get(p, plan_io[i])));
	traffic = json_dumps(json_object_get(p, "traffic") ?: empty, JSON_COMPACT);
	pa_s(&a, traffic ?: "{}");
	pa_s(&a, json_string_value(json_object_get(p, "pool")));
	backup = json_dumps(json_object_get(p, "backup") ?: empty, JSON_COMPACT | JSON_SORT_KEYS);
	pa_s(&a, backup ?: "{}");
	templates = json_object_get(p, "templates") ?
			    json_dumps(json_object_get(p, "templates"), JSON_COMPACT) :
			    NULL;
	pa_s(&a, templates ?: "[]");
	pthread_mutex_lock(&s->lock);
	r = pg_run(
		s,
		"INSERT INTO plans (name, ram, swap, cpus, disk, io_weight, bw, pids, features, "
		"io_read_bps, io_write_bps, io_read_iops, io_write_iops, traffic, pool, backup, "
		"templates) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
		"$15, $16, $17) "
		"ON CONFLICT (name) DO UPDATE SET "
		"ram = $2, swap = $3, cpus = $4, disk = $5, io_weight = $6, bw = $7, pids = $8, "
		"features = $9, io_read_bps = $10, io_write_bps = $11, io_read_iops = $12, "
		"io_write_iops = $13, traffic = $14, pool = $15, backup = $16, templates = $17",
		&a, NULL, err);
	if (r == 0)
		pg_event_locked(s, NULL, "plan", name);
	pthread_mutex_unlock(&s->lock);
	free(traffic);
	free(backup);
	free(templates);
	json_decref(empty);
	return r;
}

static json_t *plan_rows(struct store_pg *s, const char *name)
{
	json_t *out = json_array();
	struct pg_args a = { 0 };
	PGresult *res;

	pa_s(&a, name);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "SELECT name, ram, swap, cpus, disk, io_weight, bw, pids, features, "
		   "io_read_bps, io_write_bps, io_read_iops, io_write_iops, traffic, pool, backup, "
		   "templates FROM plans "
		   "WHERE $1::text IS NULL OR name = $1 ORDER BY name",
		   &a, &res, NULL) == 0) {
		for (int i = 0; i < PQntuples(res); i++) {
			unsigned int bits = 0;
			json_t *row = json_pack("{s:s, s:I, s:I, s:f, s:I, s:I, s:I, s:I}", "name",
						pg_s(res, i, 0), "ram", (json_int_t)pg_i(res, i, 1),
						"swap", (json_int_t)pg_i(res, i, 2), "cpus",
						pg_d(res, i, 3), "disk",
						(json_int_t)pg_i(res, i, 4), "io_weight",
						(json_int_t)pg_i(res, i, 5), "bw",
						(json_int_t)pg_i(res, i, 6), "pids",
						(json_int_t)pg_i(res, i, 7));

			vps_features_parse(pg_s(res, i, 8), &bits);
			json_object_set_new(row, "features", vps_features_json(bits));
			for (int k = 0; k < 4; k++)
				json_object_set_new(row, plan_io[k],
						    json_integer(pg_i(res, i, 9 + k)));
			json_object_set_new(row, "traffic",
					    json_loads(pg_s(res, i, 13), 0, NULL) ?: json_object());
			if (!PQgetisnull(res, i, 14))
				json_object_set_new(row, "pool", json_string(pg_s(res, i, 14)));
			json_object_set_new(row, "backup",
					    json_loads(pg_s(res, i, 15), 0, NULL) ?: json_object());
			json_object_set_new(row, "templates",
					    json_loads(pg_s(res, i, 16), 0, NULL) ?: json_array());
			json_array_append_new(out, row);
		}
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

json_t *pg_plan_get(struct store *base, const char *name)
{
	json_t *a = plan_rows(pgs(base), name), *p = json_incref(json_array_get(a, 0));

	json_decref(a);
	return p;
}

json_t *pg_plans(struct store *base)
{
	return plan_rows(pgs(base), NULL);
}

int pg_plan_delete(struct store *base, const char *name, struct err **err)
{
	return pg_delete_named(pgs(base), "DELETE FROM plans WHERE name = $1", "plan", "is in use",
			       name, err);
}

json_t *pg_plan_backups(struct store *base)
{
	struct store_pg *s = pgs(base);
	json_t *o = json_object();
	PGresult *res;

	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "SELECT v.name, p.backup FROM vps v JOIN plans p ON p.name = v.plan "
		   "WHERE p.backup <> '{}'",
		   NULL, &res, NULL) == 0) {
		for (int i = 0; i < PQntuples(res); i++) {
			json_t *rule = json_loads(pg_s(res, i, 1), 0, NULL);

			if (rule)
				json_object_set_new(o, pg_s(res, i, 0), rule);
		}
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return o;
}

/* --- resource policies --------------------------------------------------------- */

json_t *pg_policies_locked(struct store_pg *s)
{
	json_t *o = json_object();
	PGresult *res;

	if (pg_run(s, "SELECT resource, mode, ratio FROM policies", NULL, &res, NULL) == 0) {
		for (int i = 0; i < PQntuples(res); i++)
			json_object_set_new(o, pg_s(res, i, 0),
					    json_pack("{s:s, s:f}", "mode", pg_s(res, i, 1),
						      "ratio", pg_d(res, i, 2)));
		PQclear(res);
	}
	return o;
}

json_t *pg_policies(struct store *base)
{
	struct store_pg *s = pgs(base);
	json_t *o;

	pthread_mutex_lock(&s->lock);
	o = pg_policies_locked(s);
	pthread_mutex_unlock(&s->lock);
	return o;
}

int pg_policies_put(struct store *base, json_t *p, struct err **err)
{
	struct store_pg *s = pgs(base);
	const char *res;
	json_t *x;
	int r;

	pthread_mutex_lock(&s->lock);
	if ((r = pg_begin(s, err)) < 0)
		goto out;
	json_object_foreach(p, res, x)
	{
		const char *mode = json_string_value(json_object_get(x, "mode"));
		double ratio = json_number_value(json_object_get(x, "ratio"));
		struct pg_args a = { 0 };
		char msg[96];

		pa_s(&a, res);
		pa_s(&a, mode);
		pa_d(&a, ratio);
		if ((r = pg_run(s,
				"INSERT INTO policies (resource, mode, ratio) VALUES ($1, $2, $3) "
				"ON CONFLICT (resource) DO UPDATE SET mode = $2, ratio = $3",
				&a, NULL, err)) < 0)
			break;
		/* `limits` has a mode only (caps.h) */
		if (!strcmp(res, "limits"))
			snprintf(msg, sizeof(msg), "%s %s", res, mode);
		else
			snprintf(msg, sizeof(msg), "%s %s %.2f", res, mode, ratio);
		pg_event_locked(s, NULL, "policy", msg);
	}
	if (r == 0)
		r = pg_commit(s, err);
	else
		pg_rollback(s);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* --- the cluster's settings ------------------------------------------------------ */

json_t *pg_settings(struct store *base)
{
	struct store_pg *s = pgs(base);
	json_t *o = NULL;
	PGresult *res;

	pthread_mutex_lock(&s->lock);
	if (pg_run(s, "SELECT name, value FROM settings", NULL, &res, NULL) == 0) {
		o = json_object();
		for (int i = 0; i < PQntuples(res); i++)
			json_object_set_new(o, pg_s(res, i, 0), json_string(pg_s(res, i, 1)));
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return o;
}

int pg_settings_put(struct store *base, json_t *changed, bool seed, const char *why,
		    struct err **err)
{
	struct store_pg *s = pgs(base);
	const char *name;
	json_t *x;
	int r, n = 0;

	pthread_mutex_lock(&s->lock);
	if ((r = pg_begin(s, err)) < 0)
		goto out;
	json_object_foreach(changed, name, x)
	{
		struct pg_args a = { 0 };
		PGresult *res;
		char msg[160];
		long long done;

		pa_s(&a, name);
		pa_s(&a, json_string_value(x));
		/* a seed leaves a value set before, by any node, alone */
		if ((r = pg_run(s,
				seed ? "INSERT INTO settings (name, value) VALUES ($1, $2) "
				       "ON CONFLICT (name) DO NOTHING" :
				       "INSERT INTO settings (name, value) VALUES ($1, $2) "
				       "ON CONFLICT (name) DO UPDATE SET value = $2",
				&a, &res, err)) < 0)
			break;
		done = pg_changes(res);
		PQclear(res);
		if (!done)
			continue;
		snprintf(msg, sizeof(msg), "%s %s%s%s%s", name, json_string_value(x),
			 why ? " (" : "", why ?: "", why ? ")" : "");
		pg_event_locked(s, NULL, "setting", msg);
		n++;
	}
	if (r == 0)
		r = pg_commit(s, err);
	else
		pg_rollback(s);
out:
	pthread_mutex_unlock(&s->lock);
	return r < 0 ? r : n;
}
