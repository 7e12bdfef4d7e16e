// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The PostgreSQL store's helpers, shared by its per-table files
 * (store_pg.h): parameters, running a statement and mapping its error to
 * an errno, reading columns, and the append to the event log. Calls
 * nothing of theirs, so the files above it import one way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "host/store_pg.h"

void pa_s(struct pg_args *a, const char *s)
{
	if (a->n < PG_MAX_ARGS)
		a->v[a->n++] = s;
}

void pa_i(struct pg_args *a, long long x)
{
	if (a->n < PG_MAX_ARGS) {
		snprintf(a->num[a->n], sizeof(a->num[0]), "%lld", x);
		a->v[a->n] = a->num[a->n];
		a->n++;
	}
}

void pa_d(struct pg_args *a, double x)
{
	if (a->n < PG_MAX_ARGS) {
		/* %.17g: the double back exactly */
		snprintf(a->num[a->n], sizeof(a->num[0]), "%.17g", x);
		a->v[a->n] = a->num[a->n];
		a->n++;
	}
}

static int sqlstate_errno(const char *state)
{
	if (!state)
		return EIO;
	if (!strcmp(state, "23505")) /* unique_violation */
		return EEXIST;
	if (!strcmp(state, "23503")) /* foreign_key_violation */
		return ENOENT;
	if (!strcmp(state, "40001") || !strcmp(state, "40P01")) /* serialization, deadlock */
		return EAGAIN;
	return EIO;
}

int pg_run(struct store_pg *s, const char *sql, const struct pg_args *a, PGresult **res,
	   struct err **err)
{
	PGresult *r;
	ExecStatusType st;
	int e;

	if (res)
		*res = NULL;
	/* the database went away (and may be back): a new connection, outside a transaction */
	if (PQstatus(s->db) == CONNECTION_BAD) {
		if (s->in_tx)
			return err_make(err, EIO, "store: the connection to PostgreSQL was lost");
		pr_warn("store: the connection to PostgreSQL was lost; connecting again");
		PQreset(s->db);
		if (PQstatus(s->db) == CONNECTION_OK) {
			struct err *claim = NULL;

			PQclear(PQexec(s->db, "SET client_min_messages = warning"));
			/* the old connection's hold on the node's name went with it */
			if (pg_claim_node(s, &claim) < 0)
				pr_err("%s", err_msg(claim));
			err_free(&claim);
		}
	}
	r = PQexecParams(s->db, sql, a ? a->n : 0, NULL, a ? a->v : NULL, NULL, NULL, 0);
	st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (res)
			*res = r;
		else
			PQclear(r);
		return 0;
	}
	e = sqlstate_errno(r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL);
	{
		/* the primary message, one line: no DETAIL, no trailing newline */
		const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;

		if (!m)
			m = PQerrorMessage(s->db);
		err_make(err, e, "store: %.*s", (int)strcspn(m, "\n"), m);
	}
	PQclear(r);
	return -e;
}

/* pg_advisory_lock's first key for node names: "vpsd" in ASCII */
#define NODE_LOCK "1987081060"

int pg_claim_node(struct store_pg *s, struct err **err)
{
	struct pg_args a = { 0 };
	PGresult *res;
	int r;

	pa_s(&a, s->node);
	r = pg_run(s, "SELECT pg_try_advisory_lock(" NODE_LOCK ", hashtext($1))", &a, &res, err);
	if (r < 0)
		return r;
	if (strcmp(PQgetvalue(res, 0, 0), "t"))
		r = err_make(err, EBUSY, "store: node `%s` runs already on this database", s->node);
	PQclear(res);
	return r;
}

long long pg_changes(PGresult *res)
{
	const char *n = res ? PQcmdTuples(res) : "";

	return *n ? strtoll(n, NULL, 10) : 0;
}

int pg_begin(struct store_pg *s, struct err **err)
{
	int r = pg_run(s, "BEGIN", NULL, NULL, err);

	s->in_tx = r == 0;
	return r;
}

int pg_commit(struct store_pg *s, struct err **err)
{
	PGresult *res;
	int r = pg_run(s, "COMMIT", NULL, &res, err);

	/* a transaction a statement failed in answers COMMIT with ROLLBACK, not an error */
	if (r == 0 && strcmp(PQcmdStatus(res), "COMMIT"))
		r = err_make(err, EIO, "store: the transaction was rolled back");
	PQclear(res);
	if (r < 0)
		pg_rollback(s);
	s->in_tx = false;
	return r;
}

void pg_rollback(struct store_pg *s)
{
	if (PQstatus(s->db) == CONNECTION_OK)
		pg_run(s, "ROLLBACK", NULL, NULL, NULL);
	s->in_tx = false;
}

const char *pg_s(PGresult *r, int i, int col)
{
	return PQgetisnull(r, i, col) ? NULL : PQgetvalue(r, i, col);
}

long long pg_i(PGresult *r, int i, int col)
{
	return PQgetisnull(r, i, col) ? 0 : strtoll(PQgetvalue(r, i, col), NULL, 10);
}

double pg_d(PGresult *r, int i, int col)
{
	return PQgetisnull(r, i, col) ? 0 : strtod(PQgetvalue(r, i, col), NULL);
}

bool pg_null(PGresult *r, int i, int col)
{
	return PQgetisnull(r, i, col);
}

int pg_delete_named(struct store_pg *s, const char *sql, const char *what, const char *busy,
		    const char *name, struct err **err)
{
	struct pg_args a = { 0 };
	PGresult *res;
	int r;

	pa_s(&a, name);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s, sql, &a, &res, err);
	if (r == -ENOENT) /* a foreign key (ON DELETE RESTRICT) still refers to it */
		r = err_make(err, EBUSY, "%s `%s` %s", what, name, busy);
	else if (r == 0 && pg_changes(res) == 0)
		r = err_make(err, ENOENT, "no %s named `%s`", what, name);
	PQclear(res);
	pthread_mutex_unlock(&s->lock);
	return r;
}

void pg_event_locked(struct store_pg *s, const char *vps, const char *kind, const char *msg)
{
	struct pg_args a = { 0 };

	pa_i(&a, time(NULL));
	pa_s(&a, vps);
	pa_s(&a, kind);
	pa_s(&a, msg);
	pg_run(s,
	       "INSERT INTO events (time, vps, vps_id, kind, message) VALUES "
	       "($1, $2, (SELECT id FROM vps WHERE name = $2), $3, $4)",
	       &a, NULL, NULL);
}
