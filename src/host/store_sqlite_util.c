// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The SQLite store's helpers, shared by its per-table files
 * (store_sqlite.h): errors, statements, and the append to the event log
 * that writes to several tables make. Calls nothing of theirs, so the
 * files above it import one way (tests/integration/test_house.py).
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "common/log.h"
#include "host/store_sqlite.h"

int sq_err(struct store_sqlite *s, struct err **err, const char *what)
{
	return err_make(err, EIO, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

int sq_exec(struct store_sqlite *s, const char *sql, struct err **err)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int r = err_make(err, EIO, "store: %s", msg ? msg : sqlite3_errmsg(s->db));

		sqlite3_free(msg);
		return r;
	}
	return 0;
}

sqlite3_stmt *sq_prepare(struct store_sqlite *s, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		pr_warn("store: %s", sqlite3_errmsg(s->db));
		return NULL;
	}
	return st;
}

bool sq_step_done(sqlite3_stmt *st)
{
	int rc = st ? sqlite3_step(st) : SQLITE_ERROR;

	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW;
}

int sq_write(struct store_sqlite *s, sqlite3_stmt *st, struct err **err)
{
	int r = 0;

	if (!st || sqlite3_step(st) != SQLITE_DONE)
		r = err_make(err, EIO, "store: %s", sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	return r;
}

int sq_delete_named(struct store_sqlite *s, const char *sql, const char *what, const char *busy,
		    const char *name, struct err **err)
{
	sqlite3_stmt *st;
	int r = 0, rc;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		r = sq_err(s, err, what);
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT)
		r = err_make(err, EBUSY, "%s `%s` %s", what, name, busy);
	else if (rc != SQLITE_DONE)
		r = sq_err(s, err, what);
	else if (sqlite3_changes(s->db) == 0)
		r = err_make(err, ENOENT, "no %s named `%s`", what, name);
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

void sq_event_locked(struct store_sqlite *s, const char *vps, const char *kind, const char *msg)
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
