// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The PostgreSQL store's usage samples (table usage; store.h, usage.h),
 * store_sqlite_usage.c's twin.
 */
#include <errno.h>

#include "common/log.h"
#include "host/store_pg.h"

/* The sample into its minute's, half hour's and day's averages; the old ones out. */
static int fold(struct store_pg *s, const char *vps, const struct store_sample *smp, struct err **e)
{
	for (int i = 0; i < STORE_STEPS; i++) {
		const struct store_step *k = &store_steps[i];
		struct pg_args a = { 0 }, d = { 0 };
		int r;

		pa_s(&a, vps);
		pa_i(&a, k->step);
		pa_i(&a, smp->time - smp->time % k->step);
		pa_d(&a, smp->cpu);
		pa_i(&a, (long long)smp->mem);
		pa_i(&a, (long long)smp->disk);
		pa_d(&a, smp->rx);
		pa_d(&a, smp->tx);
		r = pg_run(
			s,
			"INSERT INTO usage_history AS h (vps, step, time, n, cpu, mem, disk, rx, tx) "
			"VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8) "
			"ON CONFLICT (vps, step, time) DO UPDATE SET n = h.n + 1, "
			"cpu = (h.cpu * h.n + EXCLUDED.cpu) / (h.n + 1), "
			"mem = (h.mem * h.n + EXCLUDED.mem) / (h.n + 1), "
			"disk = (h.disk * h.n + EXCLUDED.disk) / (h.n + 1), "
			"rx = (h.rx * h.n + EXCLUDED.rx) / (h.n + 1), "
			"tx = (h.tx * h.n + EXCLUDED.tx) / (h.n + 1)",
			&a, NULL, e);
		if (r < 0)
			return r;
		pa_s(&d, vps);
		pa_i(&d, k->step);
		pa_i(&d, smp->time - k->keep);
		r = pg_run(s,
			   "DELETE FROM usage_history WHERE vps = $1 AND step = $2 AND time < $3",
			   &d, NULL, e);
		if (r < 0)
			return r;
	}
	return 0;
}

int pg_sample_add(struct store *base, const char *vps, const struct store_sample *smp, bool replace,
		  long long keep, long long *rows_io)
{
	struct store_pg *s = pgs(base);
	long long rows = *rows_io, excess;
	struct pg_args a = { 0 }, one = { 0 };
	struct err *e = NULL;
	PGresult *res;
	int r;

	pa_s(&one, vps);
	pa_s(&a, vps);
	pa_i(&a, smp->time);
	pa_d(&a, smp->cpu);
	pa_i(&a, (long long)smp->mem);
	pa_i(&a, (long long)smp->disk);
	pa_d(&a, smp->rx);
	pa_d(&a, smp->tx);
	pthread_mutex_lock(&s->lock);
	if ((r = pg_begin(s, &e)) < 0)
		goto out;
	if (rows < 0 &&
	    (r = pg_run(s, "SELECT count(*) FROM usage WHERE vps = $1", &one, &res, &e)) == 0) {
		rows = pg_i(res, 0, 0);
		PQclear(res);
	}
	if (r == 0)
		r = pg_run(s,
			   "INSERT INTO usage (vps, time, cpu, mem, disk, rx, tx) "
			   "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (vps, time) DO UPDATE "
			   "SET cpu = $3, mem = $4, disk = $5, rx = $6, tx = $7",
			   &a, NULL, &e);
	if (r == 0 && !replace) {
		rows++;
		r = fold(s, vps, smp, &e);
	}
	excess = rows - (keep > 0 ? keep : 1);
	if (r == 0 && excess > 0) {
		pa_i(&one, excess);
		r = pg_run(s,
			   "DELETE FROM usage WHERE vps = $1 AND time IN "
			   "(SELECT time FROM usage WHERE vps = $1 ORDER BY time LIMIT $2)",
			   &one, NULL, &e);
		rows -= excess;
	}
	if (r == 0)
		r = pg_commit(s, &e);
out:
	if (r == 0) {
		*rows_io = rows;
	} else {
		pr_warn("usage: %s: %s", vps, err_msg(e));
		pg_rollback(s);
		*rows_io = -1; /* count again next time */
	}
	pthread_mutex_unlock(&s->lock);
	err_free(&e);
	return r < 0 ? -EIO : 0;
}

static json_t *row_json(PGresult *r, int i)
{
	return json_pack("{s:I, s:f, s:I, s:I, s:f, s:f}", "time", (json_int_t)pg_i(r, i, 0), "cpu",
			 pg_d(r, i, 1), "mem", (json_int_t)pg_i(r, i, 2), "disk",
			 (json_int_t)pg_i(r, i, 3), "rx", pg_d(r, i, 4), "tx", pg_d(r, i, 5));
}

/*
 * A VPS's rows {time, cpu, mem, disk, rx, tx} from sql, a LEFT JOIN from
 * vps on $1 (a NULL time: the VPS has none): NULL without the VPS.
 */
static json_t *series(struct store_pg *s, const char *sql, const struct pg_args *a)
{
	json_t *out = NULL;
	PGresult *res;

	pthread_mutex_lock(&s->lock);
	if (pg_run(s, sql, a, &res, NULL) == 0) {
		if (PQntuples(res) > 0)
			out = json_array();
		for (int i = 0; i < PQntuples(res); i++)
			if (!pg_null(res, i, 0))
				json_array_append_new(out, row_json(res, i));
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

json_t *pg_samples(struct store *base, const char *vps, long long since)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };

	pa_s(&a, vps);
	pa_i(&a, since);
	/* NULL for no VPS of that name, [] for one without samples: one statement, one snapshot */
	return series(
		s,
		"SELECT u.time, u.cpu, u.mem, u.disk, u.rx, u.tx FROM vps v LEFT JOIN usage u "
		"ON u.vps = v.name AND u.time > $2 WHERE v.name = $1 ORDER BY u.time",
		&a);
}

json_t *pg_sample_last(struct store *base, const char *vps)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	json_t *out = NULL;
	PGresult *res;

	pa_s(&a, vps);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "SELECT time, cpu, mem, disk, rx, tx FROM usage WHERE vps = $1 "
		   "ORDER BY time DESC LIMIT 1",
		   &a, &res, NULL) == 0) {
		if (PQntuples(res) == 1)
			out = row_json(res, 0);
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

json_t *pg_samples_last(struct store *base, const char *from, const char *to)
{
	struct store_pg *s = pgs(base);
	json_t *out = json_object();
	struct pg_args a = { 0 };
	PGresult *res;

	pa_s(&a, from);
	pa_s(&a, to);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "SELECT DISTINCT ON (vps) time, cpu, mem, disk, rx, tx, vps FROM usage "
		   "WHERE ($1::text IS NULL OR vps >= $1) AND ($2::text IS NULL OR vps <= $2) "
		   "ORDER BY vps, time DESC",
		   &a, &res, NULL) == 0) {
		for (int i = 0; i < PQntuples(res); i++)
			json_object_set_new(out, pg_s(res, i, 6), row_json(res, i));
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

/* --- traffic ------------------------------------------------------------------ */

static json_t *traffic_row(PGresult *res, int i)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:s}", "vps", pg_s(res, i, 0), "month",
			 pg_s(res, i, 1), "rx", (json_int_t)pg_i(res, i, 2), "tx",
			 (json_int_t)pg_i(res, i, 3), "action", pg_s(res, i, 4));
}

int pg_traffic_add(struct store *base, const char *vps, const char *month, long long rx,
		   long long tx, json_t **row)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 }, k = { 0 };
	struct err *e = NULL;
	PGresult *res;
	int r;

	*row = NULL;
	pa_s(&a, vps);
	pa_s(&a, month);
	pa_i(&a, rx);
	pa_i(&a, tx);
	pa_s(&k, vps);
	pa_s(&k, month);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s,
		   "INSERT INTO traffic (vps, month, rx, tx) VALUES ($1, $2, $3, $4) "
		   "ON CONFLICT (vps, month) DO UPDATE SET rx = traffic.rx + EXCLUDED.rx, "
		   "tx = traffic.tx + EXCLUDED.tx",
		   &a, NULL, &e);
	if (r == 0 &&
	    (r = pg_run(s,
			"SELECT t.vps, t.month, t.rx, t.tx, t.action, COALESCE(p.traffic, '{}') "
			"FROM traffic t JOIN vps v ON v.name = t.vps LEFT JOIN plans p ON "
			"p.name = v.plan WHERE t.vps = $1 AND t.month = $2",
			&k, &res, &e)) == 0) {
		if (PQntuples(res) == 1) {
			*row = traffic_row(res, 0);
			json_object_set_new(*row, "plan", json_loads(pg_s(res, 0, 5), 0, NULL));
		} else {
			r = -ENOENT;
		}
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	if (e) {
		pr_warn("traffic: %s: %s", vps, err_msg(e));
		err_free(&e);
	}
	return r;
}

json_t *pg_traffic(struct store *base, const char *vps, const char *month)
{
	struct store_pg *s = pgs(base);
	json_t *out = json_array();
	struct pg_args a = { 0 };
	PGresult *res;

	pa_s(&a, vps);
	pa_s(&a, month);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "SELECT vps, month, rx, tx, action FROM traffic WHERE "
		   "($1::text IS NULL OR vps = $1) AND ($2::text IS NULL OR month = $2) "
		   "ORDER BY vps, month DESC",
		   &a, &res, NULL) == 0) {
		for (int i = 0; i < PQntuples(res); i++)
			json_array_append_new(out, traffic_row(res, i));
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

int pg_traffic_action(struct store *base, const char *vps, const char *month, const char *action)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res;
	int r;

	pa_s(&a, vps);
	pa_s(&a, month);
	pa_s(&a, action);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s,
		   "UPDATE traffic SET action = $3 WHERE vps = $1 AND month = $2 AND action != $3",
		   &a, &res, NULL);
	if (r == 0) {
		r = pg_changes(res) > 0;
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

json_t *pg_history(struct store *base, const char *vps, long long step, long long since)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };

	pa_s(&a, vps);
	pa_i(&a, step);
	pa_i(&a, since);
	return series(s,
		      "SELECT h.time, h.cpu, h.mem, h.disk, h.rx, h.tx FROM vps v "
		      "LEFT JOIN usage_history h ON h.vps = v.name AND h.step = $2 AND h.time > $3 "
		      "WHERE v.name = $1 ORDER BY h.time",
		      &a);
}
