// SPDX-License-Identifier: GPL-2.0-or-later
/* The SQLite store's networks and their addresses (tables networks, addresses; store.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/store_sqlite.h"

/* --- networks and their addresses ------------------------------------------------ */

int sq_net_insert(struct store *base, json_t *n, struct err **err)
{
	struct store_sqlite *s = sq(base);
	const char *name = json_string_value(json_object_get(n, "name"));
	const char *bridge = json_string_value(json_object_get(n, "bridge"));
	sqlite3_stmt *st;
	int r = 0, rc;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO networks (name, bridge, ipv4, ipv6, nat, vlan, parent) "
			       "VALUES (?, ?, ?, ?, ?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK) {
		r = sq_err(s, err, "network");
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, bridge, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, json_string_value(json_object_get(n, "ipv4")), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, json_string_value(json_object_get(n, "ipv6")), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, json_is_true(json_object_get(n, "nat")));
	sqlite3_bind_int(st, 6, (int)json_integer_value(json_object_get(n, "vlan")));
	sqlite3_bind_text(st, 7, json_string_value(json_object_get(n, "parent")) ?: "", -1,
			  SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT)
		r = strstr(sqlite3_errmsg(s->db), "bridge") ?
			    err_make(err, EEXIST, "`bridge`: `%s` belongs to another network",
				     bridge) :
			    err_make(err, EEXIST, "a network named `%s` exists", name);
	else if (rc != SQLITE_DONE)
		r = sq_err(s, err, "network");
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

json_t *sq_nets(struct store *base, const char *name)
{
	struct store_sqlite *s = sq(base);
	json_t *a = json_array();
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db,
			       "SELECT name, bridge, ipv4, ipv6, nat, vlan, parent, "
			       "(SELECT COUNT(*) FROM addresses a WHERE a.network = n.name AND "
			       "instr(a.address, ':') = 0), "
			       "(SELECT COUNT(*) FROM addresses a WHERE a.network = n.name AND "
			       "instr(a.address, ':') > 0), "
			       "(SELECT COUNT(*) FROM vps v WHERE v.network = n.name) "
			       "FROM networks n WHERE ?1 IS NULL OR name = ?1 ORDER BY name",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			json_t *n = json_pack("{s:s, s:s, s:s?, s:s?, s:b, s:I, s:I, s:I}", "name",
					      (const char *)sqlite3_column_text(st, 0), "bridge",
					      (const char *)sqlite3_column_text(st, 1), "ipv4",
					      (const char *)sqlite3_column_text(st, 2), "ipv6",
					      (const char *)sqlite3_column_text(st, 3), "nat",
					      sqlite3_column_int(st, 4), "used4",
					      (json_int_t)sqlite3_column_int64(st, 7), "used6",
					      (json_int_t)sqlite3_column_int64(st, 8), "vps",
					      (json_int_t)sqlite3_column_int64(st, 9));

			/* a VLAN's two fields only on a network that has one */
			if (sqlite3_column_int(st, 5) > 0) {
				json_object_set_new(n, "vlan",
						    json_integer(sqlite3_column_int(st, 5)));
				json_object_set_new(
					n, "parent",
					json_string((const char *)sqlite3_column_text(st, 6)));
			}
			json_array_append_new(a, n);
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return a;
}

int sq_net_delete(struct store *base, const char *name, struct err **err)
{
	/* addresses and VPS rows refer to it ON DELETE RESTRICT */
	return sq_delete_named(sq(base), "DELETE FROM networks WHERE name = ?", "network",
			       "has VPSes and addresses assigned", name, err);
}

json_t *sq_net_addresses(struct store *base, const char *network)
{
	struct store_sqlite *s = sq(base);
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

int sq_address_add(struct store *base, const char *network, const char *address, const char *vps,
		   struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = 0, rc;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO addresses (network, address, vps) VALUES (?, ?, ?)", -1,
			       &st, NULL) != SQLITE_OK) {
		r = sq_err(s, err, "address");
		goto out;
	}
	sqlite3_bind_text(st, 1, network, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, address, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, vps, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT)
		r = err_make(err, EEXIST, "address `%s` in `%s` is taken", address, network);
	else if (rc != SQLITE_DONE)
		r = sq_err(s, err, "address");
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* --- firewalls ------------------------------------------------------------------ */

char *sq_firewall_get(struct store *base, const char *vps)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	char *doc = NULL;

	pthread_mutex_lock(&s->lock);
	st = sq_prepare(s, "SELECT doc FROM firewalls WHERE vps = ?");
	if (st) {
		sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			doc = strdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return doc;
}

int sq_firewall_put(struct store *base, const char *vps, const char *doc, struct err **err)
{
	struct store_sqlite *s = sq(base);
	sqlite3_stmt *st;
	int r = 0, rc;

	pthread_mutex_lock(&s->lock);
	st = sq_prepare(s, "INSERT INTO firewalls (vps, doc) VALUES (?1, ?2) "
			   "ON CONFLICT (vps) DO UPDATE SET doc = excluded.doc");
	if (!st) {
		r = sq_err(s, err, "firewall");
		goto out;
	}
	sqlite3_bind_text(st, 1, vps, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, doc, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT)
		r = err_make(err, ENOENT, "no VPS named `%s`", vps);
	else if (rc != SQLITE_DONE)
		r = sq_err(s, err, "firewall");
	sqlite3_finalize(st);
	if (r == 0)
		sq_event_locked(s, vps, "firewall", "");
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}
