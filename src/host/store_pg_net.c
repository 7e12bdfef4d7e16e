// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The PostgreSQL store's networks and their addresses (tables networks,
 * addresses; store.h), store_sqlite_net.c's twin.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/store_pg.h"

int pg_net_insert(struct store *base, json_t *n, struct err **err)
{
	struct store_pg *s = pgs(base);
	const char *name = json_string_value(json_object_get(n, "name"));
	const char *bridge = json_string_value(json_object_get(n, "bridge"));
	struct err *e = NULL;
	struct pg_args a = { 0 };
	int r;

	pa_s(&a, name);
	pa_s(&a, bridge);
	pa_s(&a, json_string_value(json_object_get(n, "ipv4")));
	pa_s(&a, json_string_value(json_object_get(n, "ipv6")));
	pa_i(&a, json_is_true(json_object_get(n, "nat")));
	pa_i(&a, json_integer_value(json_object_get(n, "vlan")));
	pa_s(&a, json_string_value(json_object_get(n, "parent")) ?: "");
	pthread_mutex_lock(&s->lock);
	r = pg_run(s,
		   "INSERT INTO networks (name, bridge, ipv4, ipv6, nat, vlan, parent) "
		   "VALUES ($1, $2, $3, $4, $5, $6, $7)",
		   &a, NULL, &e);
	pthread_mutex_unlock(&s->lock);
	if (r == -EEXIST)
		r = strstr(err_msg(e), "bridge") ?
			    err_make(err, EEXIST, "`bridge`: `%s` belongs to another network",
				     bridge) :
			    err_make(err, EEXIST, "a network named `%s` exists", name);
	else if (r < 0)
		r = err_make(err, EIO, "%s", err_msg(e));
	err_free(&e);
	return r;
}

json_t *pg_nets(struct store *base, const char *name)
{
	struct store_pg *s = pgs(base);
	json_t *out = json_array();
	struct pg_args a = { 0 };
	PGresult *res;

	pa_s(&a, name);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "SELECT name, bridge, ipv4, ipv6, nat, vlan, parent, "
		   "(SELECT COUNT(*) FROM addresses a WHERE a.network = n.name AND "
		   "strpos(a.address, ':') = 0), "
		   "(SELECT COUNT(*) FROM addresses a WHERE a.network = n.name AND "
		   "strpos(a.address, ':') > 0), "
		   "(SELECT COUNT(*) FROM vps v WHERE v.network = n.name) "
		   "FROM networks n WHERE $1::text IS NULL OR name = $1 ORDER BY name",
		   &a, &res, NULL) == 0) {
		for (int i = 0; i < PQntuples(res); i++) {
			json_t *n = json_pack("{s:s, s:s, s:s?, s:s?, s:b, s:I, s:I, s:I}", "name",
					      pg_s(res, i, 0), "bridge", pg_s(res, i, 1), "ipv4",
					      pg_s(res, i, 2), "ipv6", pg_s(res, i, 3), "nat",
					      (int)pg_i(res, i, 4), "used4",
					      (json_int_t)pg_i(res, i, 7), "used6",
					      (json_int_t)pg_i(res, i, 8), "vps",
					      (json_int_t)pg_i(res, i, 9));

			/* a VLAN's two fields only on a network that has one */
			if (pg_i(res, i, 5) > 0) {
				json_object_set_new(n, "vlan", json_integer(pg_i(res, i, 5)));
				json_object_set_new(n, "parent", json_string(pg_s(res, i, 6)));
			}
			json_array_append_new(out, n);
		}
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

int pg_net_delete(struct store *base, const char *name, struct err **err)
{
	/* addresses and VPS rows refer to it ON DELETE RESTRICT */
	return pg_delete_named(pgs(base), "DELETE FROM networks WHERE name = $1", "network",
			       "has VPSes and addresses assigned", name, err);
}

json_t *pg_net_addresses(struct store *base, const char *network)
{
	struct store_pg *s = pgs(base);
	json_t *out = json_array();
	struct pg_args a = { 0 };
	PGresult *res;

	pa_s(&a, network);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s, "SELECT address FROM addresses WHERE network = $1", &a, &res, NULL) == 0) {
		for (int i = 0; i < PQntuples(res); i++)
			json_array_append_new(out, json_string(pg_s(res, i, 0)));
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

int pg_address_add(struct store *base, const char *network, const char *address, const char *vps,
		   struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	int r;

	pa_s(&a, network);
	pa_s(&a, address);
	pa_s(&a, vps);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s, "INSERT INTO addresses (network, address, vps) VALUES ($1, $2, $3)", &a, NULL,
		   err);
	pthread_mutex_unlock(&s->lock);
	/* SQLite's one CONSTRAINT answer for both: taken, or no such network or VPS */
	if (r == -EEXIST || r == -ENOENT)
		r = err_make(err, EEXIST, "address `%s` in `%s` is taken", address, network);
	return r;
}

/* --- firewalls ------------------------------------------------------------------ */

char *pg_firewall_get(struct store *base, const char *vps)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res;
	char *doc = NULL;

	pa_s(&a, vps);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s, "SELECT doc FROM firewalls WHERE vps = $1", &a, &res, NULL) == 0) {
		if (PQntuples(res) == 1)
			doc = strdup(pg_s(res, 0, 0));
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return doc;
}

int pg_firewall_put(struct store *base, const char *vps, const char *doc, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	int r;

	pa_s(&a, vps);
	pa_s(&a, doc);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s,
		   "INSERT INTO firewalls (vps, doc) VALUES ($1, $2) "
		   "ON CONFLICT (vps) DO UPDATE SET doc = EXCLUDED.doc",
		   &a, NULL, err);
	if (r == 0)
		pg_event_locked(s, vps, "firewall", "");
	pthread_mutex_unlock(&s->lock);
	if (r == -ENOENT && err) {
		err_free(err);
		r = err_make(err, ENOENT, "no VPS named `%s`", vps);
	}
	return r;
}
