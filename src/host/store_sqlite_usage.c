// SPDX-License-Identifier: GPL-2.0-or-later
/* The SQLite store's usage samples (table usage; store.h, usage.h). */
#include <errno.h>
#include <pthread.h>

#include "common/log.h"
#include "host/store_sqlite.h"

static long long count_rows(struct store_sqlite *s, const char *vps)
{
	sqlite3_stmt *st = sq_prepare(s, "SELECT count(*) FROM usage WHERE vps = ?1");
	long long n = -1;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* The sample into its minute's, half hour's and day's averages; the old ones out. */
static bool fold(struct store_sqlite *s, const char *vps, const struct store_sample *smp)
{
	for (int i = 0; i < STORE_STEPS; i++) {
		const struct store_step *k = &store_steps[i];
		sqlite3_stmt *st = sq_prepare(
			s,
			"INSERT INTO usage_history (vps, step, time, n, cpu, mem, disk, rx, tx) "
			"VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8) "
			"ON CONFLICT (vps, step, time) DO UPDATE SET n = n + 1, "
			"cpu = (cpu * n + excluded.cpu) / (n + 1), "
			"mem = (mem * n + excluded.mem) / (n + 1), "
			"disk = (disk * n + excluded.disk) / (n + 1), "
			"rx = (rx * n + excluded.rx) / (n + 1), tx = (tx * n + excluded.tx) / (n + 1)");

		if (st) {
			sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, k->step);
			sqlite3_bind_int64(st, 3, smp->time - smp->time % k->step);
			sqlite3_bind_double(st, 4, smp->cpu);
			sqlite3_bind_int64(st, 5, (sqlite3_int64)smp->mem);
			sqlite3_bind_int64(st, 6, (sqlite3_int64)smp->disk);
			sqlite3_bind_double(st, 7, smp->rx);
			sqlite3_bind_double(st, 8, smp->tx);
		}
		if (!sq_step_done(st))
			return false;
		st = sq_prepare(
			s, "DELETE FROM usage_history WHERE vps = ?1 AND step = ?2 AND time < ?3");
		if (st) {
			sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, k->step);
			sqlite3_bind_int64(st, 3, smp->time - k->keep);
		}
		if (!sq_step_done(st))
			return false;
	}
	return true;
}

int sq_sample_add(struct store *base, const char *vps, const struct store_sample *smp, bool replace,
		  long long keep, long long *rows_io)
{
	struct store_sqlite *s = sq(base);
	long long rows = *rows_io, excess;
	sqlite3_stmt *st;
	bool ok;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		pr_warn("usage: %s: %s", vps, sqlite3_errmsg(s->db));
		pthread_mutex_unlock(&s->lock);
		return -EIO;
	}
	if (rows < 0)
		rows = count_rows(s, vps);
	st = sq_prepare(s, "INSERT OR REPLACE INTO usage (vps, time, cpu, mem, disk, rx, tx) "
			   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
	if (st) {
		sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, smp->time);
		sqlite3_bind_double(st, 3, smp->cpu);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)smp->mem);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)smp->disk);
		sqlite3_bind_double(st, 6, smp->rx);
		sqlite3_bind_double(st, 7, smp->tx);
	}
	ok = rows >= 0 && sq_step_done(st);
	if (ok && !replace) {
		rows++;
		ok = fold(s, vps, smp);
	}
	excess = rows - (keep > 0 ? keep : 1);
	if (ok && excess > 0) {
		st = sq_prepare(s,
				"DELETE FROM usage WHERE vps = ?1 AND time IN "
				"(SELECT time FROM usage WHERE vps = ?1 ORDER BY time LIMIT ?2)");
		if (st) {
			sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, excess);
		}
		ok = sq_step_done(st);
		rows -= excess;
	}
	if (ok && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
		*rows_io = rows;
	} else {
		pr_warn("usage: %s: %s", vps, sqlite3_errmsg(s->db));
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		*rows_io = -1; /* count again next time */
		ok = false;
	}
	pthread_mutex_unlock(&s->lock);
	return ok ? 0 : -EIO;
}

static json_t *row_json(sqlite3_stmt *st)
{
	return json_pack("{s:I, s:f, s:I, s:I, s:f, s:f}", "time",
			 (json_int_t)sqlite3_column_int64(st, 0), "cpu",
			 sqlite3_column_double(st, 1), "mem",
			 (json_int_t)sqlite3_column_int64(st, 2), "disk",
			 (json_int_t)sqlite3_column_int64(st, 3), "rx",
			 sqlite3_column_double(st, 4), "tx", sqlite3_column_double(st, 5));
}

json_t *sq_samples(struct store *base, const char *vps, long long since)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	json_t *out = NULL;
	bool found = false;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "SELECT 1 FROM vps WHERE name = ?1"))) {
		sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
		found = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
	}
	if (found && (st = sq_prepare(s, "SELECT time, cpu, mem, disk, rx, tx FROM usage "
					 "WHERE vps = ?1 AND time > ?2 ORDER BY time"))) {
		out = json_array();
		sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, since);
		while (out && sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(out, row_json(st));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

json_t *sq_sample_last(struct store *base, const char *vps)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	json_t *out = NULL;

	pthread_mutex_lock(&s->lock);
	if ((st = sq_prepare(s, "SELECT time, cpu, mem, disk, rx, tx FROM usage "
				"WHERE vps = ?1 ORDER BY time DESC LIMIT 1"))) {
		sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			out = row_json(st);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

json_t *sq_samples_last(struct store *base, const char *from, const char *to)
{
	struct store_sqlite *s = sq(base);
	json_t *out = json_object();
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	/* SQLite gives the other columns of the row max() picked; the key (vps, time) finds it */
	st = sq_prepare(s, "SELECT max(time), cpu, mem, disk, rx, tx, vps FROM usage "
			   "WHERE (?1 IS NULL OR vps >= ?1) AND (?2 IS NULL OR vps <= ?2) "
			   "GROUP BY vps");
	if (st) {
		sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
	}
	while (st && sqlite3_step(st) == SQLITE_ROW)
		json_object_set_new(out, (const char *)sqlite3_column_text(st, 6), row_json(st));
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return out;
}

/* --- traffic ------------------------------------------------------------------ */

static json_t *traffic_row(sqlite3_stmt *st, int c)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:s}", "vps",
			 (const char *)sqlite3_column_text(st, c), "month",
			 (const char *)sqlite3_column_text(st, c + 1), "rx",
			 (json_int_t)sqlite3_column_int64(st, c + 2), "tx",
			 (json_int_t)sqlite3_column_int64(st, c + 3), "action",
			 (const char *)sqlite3_column_text(st, c + 4));
}

int sq_traffic_add(struct store *base, const char *vps, const char *month, long long rx,
		   long long tx, json_t **row)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = -EIO;

	*row = NULL;
	pthread_mutex_lock(&s->lock);
	st = sq_prepare(s, "INSERT INTO traffic (vps, month, rx, tx) VALUES (?1, ?2, ?3, ?4) "
			   "ON CONFLICT (vps, month) DO UPDATE SET rx = rx + excluded.rx, "
			   "tx = tx + excluded.tx");
	if (st) {
		sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, month, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, rx);
		sqlite3_bind_int64(st, 4, tx);
	}
	if (!sq_step_done(st)) {
		pr_warn("traffic: %s: %s", vps, sqlite3_errmsg(s->db));
		goto out;
	}
	st = sq_prepare(s,
			"SELECT t.vps, t.month, t.rx, t.tx, t.action, "
			"COALESCE(p.traffic, '{}') FROM traffic t JOIN vps v ON v.name = t.vps "
			"LEFT JOIN plans p ON p.name = v.plan WHERE t.vps = ?1 AND t.month = ?2");
	if (st) {
		sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, month, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			*row = traffic_row(st, 0);
			json_object_set_new(*row, "plan",
					    json_loads((const char *)sqlite3_column_text(st, 5), 0,
						       NULL));
			r = 0;
		}
		sqlite3_finalize(st);
	}
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

json_t *sq_traffic(struct store *base, const char *vps, const char *month)
{
	struct store_sqlite *s = sq(base);
	json_t *out = json_array();
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	st = sq_prepare(s, "SELECT vps, month, rx, tx, action FROM traffic WHERE "
			   "(?1 IS NULL OR vps = ?1) AND (?2 IS NULL OR month = ?2) "
			   "ORDER BY vps, month DESC");
	if (st) {
		sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, month, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(out, traffic_row(st, 0));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

int sq_traffic_action(struct store *base, const char *vps, const char *month, const char *action)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = -EIO;

	pthread_mutex_lock(&s->lock);
	st = sq_prepare(s, "UPDATE traffic SET action = ?3 WHERE vps = ?1 AND month = ?2 AND "
			   "action != ?3");
	if (st) {
		sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, month, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
		if (sq_step_done(st))
			r = sqlite3_changes(s->db) > 0;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

json_t *sq_history(struct store *base, const char *vps, long long step, long long since)
{
	struct store_sqlite *s = sq(base);
	json_t *out = NULL;
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	st = sq_prepare(
		s, "SELECT h.time, h.cpu, h.mem, h.disk, h.rx, h.tx FROM vps v "
		   "LEFT JOIN usage_history h ON h.vps = v.name AND h.step = ?2 AND h.time > ?3 "
		   "WHERE v.name = ?1 ORDER BY h.time");
	if (st) {
		sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, step);
		sqlite3_bind_int64(st, 3, since);
		while (sqlite3_step(st) == SQLITE_ROW) {
			if (!out)
				out = json_array();
			if (sqlite3_column_type(st, 0) != SQLITE_NULL)
				json_array_append_new(out, row_json(st));
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}
