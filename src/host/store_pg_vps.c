// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The PostgreSQL store's VPS rows and their event log (tables vps,
 * events; store.h), store_sqlite_vps.c's twin. A VPS's addresses are read
 * with its row (table addresses). Admission is where nodes meet: see
 * pg_vps_admit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "host/store_pg.h"

/* The VPS's IPv4 (no `:`) or IPv6 address on its network (addresses table). */
#define VPS_ADDR(cmp)                                                  \
	"(SELECT address FROM addresses a WHERE a.vps = vps.name AND " \
	"strpos(a.address, ':') " cmp " LIMIT 1)"

#define VPS_COLUMNS                                                                          \
	"id, name, kind, engine, boot, template, iso, owner, state, ram, swap, disk, cpus, " \
	"io_weight, bw, hostname, ssh_keys, onboot, created, uid_base, last_exit, "          \
	"network, mac, " VPS_ADDR("= 0") ", " VPS_ADDR(                                      \
		"> 0") ", suspended, pids, node, "                                           \
		       "features, io_read_bps, io_write_bps, io_read_iops, io_write_iops"

static char *col_dup(PGresult *r, int i, int c)
{
	const char *t = pg_s(r, i, c);

	return t ? strdup(t) : NULL;
}

static const char *col_text(PGresult *r, int i, int c)
{
	const char *t = pg_s(r, i, c);

	return t ? t : "";
}

static void row_to_vps(PGresult *r, int i, struct vps *v)
{
	json_t *keys;
	size_t k;
	json_t *key;

	vps_init(v);
	v->id = pg_i(r, i, 0);
	snprintf(v->name, sizeof(v->name), "%s", col_text(r, i, 1));
	/* the names the API shows (vps.h); a name vpsd does not know finds no kind_ops */
	if (vps_kind_parse(col_text(r, i, 2), &v->kind) < 0 ||
	    vps_engine_parse(col_text(r, i, 3), &v->engine) < 0)
		pr_warn("store: VPS `%s` has an unknown kind `%s` or engine `%s`", v->name,
			col_text(r, i, 2), col_text(r, i, 3));
	snprintf(v->boot, sizeof(v->boot), "%s", col_text(r, i, 4));
	v->template = col_dup(r, i, 5);
	v->iso = col_dup(r, i, 6);
	snprintf(v->owner, sizeof(v->owner), "%s", col_text(r, i, 7));
	/* only vpsd writes the column: a name it does not know is a bug, read as stopped */
	if (vps_state_parse(pg_s(r, i, 8), &v->state) < 0)
		pr_warn("store: VPS `%s` has an unknown state `%s`", v->name, col_text(r, i, 8));
	v->ram = (uint64_t)pg_i(r, i, 9);
	v->swap = (uint64_t)pg_i(r, i, 10);
	v->disk = (uint64_t)pg_i(r, i, 11);
	v->cpus = pg_d(r, i, 12);
	v->io_weight = (int)pg_i(r, i, 13);
	v->bw = (uint64_t)pg_i(r, i, 14);
	v->hostname = col_dup(r, i, 15);
	keys = json_loads(col_text(r, i, 16), 0, NULL);
	json_array_foreach(keys, k, key) if (k < VPS_MAX_KEYS && json_is_string(key))
	{
		v->ssh_keys[v->nr_ssh_keys++] = strdup(json_string_value(key));
	}
	json_decref(keys);
	v->onboot = (int)pg_i(r, i, 17);
	v->created = pg_i(r, i, 18);
	v->uid_base = (uint32_t)pg_i(r, i, 19);
	v->last_exit = (int)pg_i(r, i, 20);
	snprintf(v->network, sizeof(v->network), "%s", col_text(r, i, 21));
	snprintf(v->mac, sizeof(v->mac), "%s", col_text(r, i, 22));
	snprintf(v->ipv4, sizeof(v->ipv4), "%s", col_text(r, i, 23));
	snprintf(v->ipv6, sizeof(v->ipv6), "%s", col_text(r, i, 24));
	v->suspended = (int)pg_i(r, i, 25);
	v->pids = (unsigned int)pg_i(r, i, 26);
	snprintf(v->node, sizeof(v->node), "%s", col_text(r, i, 27));
	if (vps_features_parse(col_text(r, i, 28), &v->features) < 0)
		pr_warn("store: VPS `%s` has unknown features `%s`", v->name, col_text(r, i, 28));
	v->io_read_bps = (uint64_t)pg_i(r, i, 29);
	v->io_write_bps = (uint64_t)pg_i(r, i, 30);
	v->io_read_iops = (uint64_t)pg_i(r, i, 31);
	v->io_write_iops = (uint64_t)pg_i(r, i, 32);
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

/* $1..$29: the row's fields (an insert adds $30 the plan, $31 the node). */
static void args_vps(struct pg_args *a, const struct vps *v, const char *keys)
{
	pa_s(a, v->name);
	pa_s(a, vps_kind_name(v->kind));
	pa_s(a, vps_engine_name(v->engine));
	pa_s(a, v->boot);
	pa_s(a, v->template);
	pa_s(a, v->iso);
	pa_s(a, v->owner);
	pa_s(a, vps_state_name(v->state));
	pa_i(a, (long long)v->ram);
	pa_i(a, (long long)v->swap);
	pa_i(a, (long long)v->disk);
	pa_d(a, v->cpus);
	pa_i(a, v->io_weight);
	pa_i(a, (long long)v->bw);
	pa_s(a, v->hostname);
	pa_s(a, keys);
	pa_i(a, v->onboot);
	pa_i(a, v->created);
	pa_i(a, v->uid_base);
	pa_i(a, v->last_exit);
	pa_s(a, *v->network ? v->network : NULL);
	pa_s(a, *v->mac ? v->mac : NULL);
	pa_i(a, v->suspended);
	pa_i(a, v->pids);
	/* the names in the argument's own number buffer: pa_s keeps a pointer */
	if (a->n < PG_MAX_ARGS)
		pa_s(a, vps_features_str(v->features, a->num[a->n], sizeof(a->num[0])));
	pa_i(a, (long long)v->io_read_bps);
	pa_i(a, (long long)v->io_write_bps);
	pa_i(a, (long long)v->io_read_iops);
	pa_i(a, (long long)v->io_write_iops);
}

int pg_event(struct store *base, const char *vps, const char *kind, const char *msg)
{
	struct store_pg *s = pgs(base);

	pthread_mutex_lock(&s->lock);
	pg_event_locked(s, vps, kind, msg);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* In a transaction, under the lock: the row and its `create` event. */
static int insert_locked(struct store_pg *s, struct vps *v, const char *plan, struct err **err)
{
	char *keys = keys_json(v);
	struct pg_args a = { 0 };
	PGresult *res;
	int r;

	/* each VPS its own 65536 ids, after the highest in use: a container's user
	 * namespace, a VM monitor's jail (its first id); read under the admission lock */
	if (pg_run(s, "SELECT COALESCE(MAX(uid_base), 934464) FROM vps", NULL, &res, err) < 0) {
		free(keys);
		return -EIO;
	}
	v->uid_base = (uint32_t)(pg_i(res, 0, 0) + 65536);
	PQclear(res);
	args_vps(&a, v, keys);
	pa_s(&a, plan);
	pa_s(&a, *v->node ? v->node : s->node); /* placed (policy_place), or this node */
	r = pg_run(s,
		   "INSERT INTO vps (name, kind, engine, boot, template, iso, owner, "
		   "state, ram, swap, disk, cpus, io_weight, bw, hostname, ssh_keys, "
		   "onboot, created, uid_base, last_exit, network, mac, suspended, pids, "
		   "features, io_read_bps, io_write_bps, io_read_iops, io_write_iops, plan, "
		   "node) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
		   "$15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, "
		   "$30, $31) RETURNING id",
		   &a, &res, err);
	free(keys);
	if (r == -ENOENT)
		return err_make(err, ENOENT, "`plan` or `network`: no plan `%s` or network `%s`",
				plan ? plan : "", v->network);
	if (r == -EEXIST)
		return err_make(err, EEXIST, "a VPS named `%s` exists", v->name);
	if (r < 0)
		return r;
	v->id = pg_i(res, 0, 0);
	PQclear(res);
	pg_event_locked(s, v->name, "create", vps_kind_name(v->kind));
	return 0;
}

int pg_vps_get(struct store *base, const char *name, struct vps *out, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res;
	int r;

	pa_s(&a, name);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s, "SELECT " VPS_COLUMNS " FROM vps WHERE name = $1", &a, &res, err);
	if (r == 0 && PQntuples(res) == 1)
		row_to_vps(res, 0, out);
	else if (r == 0)
		r = err_make(err, ENOENT, "no VPS named `%s`", name);
	PQclear(res);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* node NULL: every VPS; else that node's. */
/* Every row of a VPS query into a new array (*out, *n); res is cleared. */
static int take_rows(PGresult *res, struct vps **out, size_t *n, struct err **err)
{
	int rows = PQntuples(res);

	if (rows > 0 && !(*out = calloc((size_t)rows, sizeof(**out)))) {
		PQclear(res);
		return err_make(err, ENOMEM, "list");
	}
	for (int i = 0; i < rows; i++)
		row_to_vps(res, i, &(*out)[(*n)++]);
	PQclear(res);
	return 0;
}

static int list_locked(struct store_pg *s, const char *node, struct vps **out, size_t *n,
		       struct err **err)
{
	struct pg_args a = { 0 };
	PGresult *res;
	int r;

	*n = 0;
	*out = NULL;
	pa_s(&a, node);
	r = pg_run(s,
		   "SELECT " VPS_COLUMNS " FROM vps WHERE $1::text IS NULL OR node = $1 "
		   "ORDER BY name",
		   &a, &res, err);
	if (r < 0)
		return r;
	return take_rows(res, out, n, err);
}

int pg_vps_list(struct store *base, struct vps **out, size_t *n, struct err **err)
{
	struct store_pg *s = pgs(base);
	int r;

	pthread_mutex_lock(&s->lock);
	r = list_locked(s, NULL, out, n, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

json_t *pg_vps_sums(struct store *base)
{
	struct store_pg *s = pgs(base);
	json_t *out = NULL;
	PGresult *res;

	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   "SELECT node, count(*), COALESCE(sum(ram), 0)::float8, "
		   "COALESCE(sum(disk), 0)::float8, COALESCE(sum(cpus), 0) FROM vps GROUP BY node",
		   NULL, &res, NULL) == 0) {
		out = json_object();
		for (int i = 0; i < PQntuples(res); i++)
			json_object_set_new(out, col_text(res, i, 0),
					    json_pack("{s:I, s:f, s:f, s:f}", "vps",
						      (json_int_t)pg_i(res, i, 1), "ram",
						      pg_d(res, i, 2), "disk", pg_d(res, i, 3),
						      "cpus", pg_d(res, i, 4)));
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

int pg_vps_page(struct store *base, const struct store_vps_filter *f, struct vps **out, size_t *n,
		struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res;
	int r;

	*n = 0;
	*out = NULL;
	pa_s(&a, f->after ? f->after : "");
	pa_s(&a, f->owner);
	pa_s(&a, f->node);
	pa_s(&a, f->state);
	pa_i(&a, f->limit);
	pthread_mutex_lock(&s->lock);
	/* the primary key's index walks from `after`: a page costs its rows, not the table */
	r = pg_run(s,
		   "SELECT " VPS_COLUMNS " FROM vps WHERE name > $1 AND "
		   "($2::text IS NULL OR owner = $2) AND ($3::text IS NULL OR node = $3) AND "
		   "($4::text IS NULL OR state = $4) ORDER BY name LIMIT $5",
		   &a, &res, err);
	pthread_mutex_unlock(&s->lock);
	if (r < 0)
		return r;
	return take_rows(res, out, n, err);
}

int pg_vps_list_local(struct store *base, struct vps **out, size_t *n, struct err **err)
{
	struct store_pg *s = pgs(base);
	int r;

	pthread_mutex_lock(&s->lock);
	r = list_locked(s, s->node, out, n, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int update_locked(struct store_pg *s, const struct vps *v, struct err **err)
{
	char *keys = keys_json(v);
	struct pg_args a = { 0 };
	PGresult *res;
	int r;

	args_vps(&a, v, keys); /* not the node: a migration (later) moves a VPS */
	r = pg_run(s,
		   "UPDATE vps SET kind = $2, engine = $3, boot = $4, "
		   "template = $5, iso = $6, owner = $7, state = $8, ram = $9, swap = $10, "
		   "disk = $11, cpus = $12, io_weight = $13, bw = $14, hostname = $15, "
		   "ssh_keys = $16, onboot = $17, created = $18, uid_base = $19, "
		   "last_exit = $20, network = $21, mac = $22, suspended = $23, pids = $24, "
		   "features = $25, io_read_bps = $26, io_write_bps = $27, io_read_iops = $28, "
		   "io_write_iops = $29 WHERE name = $1",
		   &a, &res, err);
	free(keys);
	if (r == 0 && pg_changes(res) == 0)
		r = err_make(err, ENOENT, "no VPS named `%s`", v->name);
	else if (r == -ENOENT)
		r = err_make(err, ENOENT, "`network`: no network `%s`", v->network);
	PQclear(res);
	return r;
}

int pg_vps_update(struct store *base, const struct vps *v, struct err **err)
{
	struct store_pg *s = pgs(base);
	int r;

	pthread_mutex_lock(&s->lock);
	r = update_locked(s, v, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int pg_vps_insert(struct store *base, struct vps *v, const char *plan, struct err **err)
{
	return pg_vps_admit(base, v, true, plan, NULL, NULL, err);
}

/*
 * The rows an admission counts (store.h): this node's, v's node's and
 * v's owner's, not the cluster's; read under the table lock below.
 */
static int admit_rows_locked(struct store_pg *s, const struct vps *v, struct vps **out, size_t *n,
			     struct err **err)
{
	struct pg_args a = { 0 };
	PGresult *res;
	int r;

	*n = 0;
	*out = NULL;
	pa_s(&a, s->node);
	pa_s(&a, v->node);
	pa_s(&a, v->owner);
	r = pg_run(s,
		   "SELECT " VPS_COLUMNS " FROM vps WHERE node = $1 OR node = $2 OR owner = $3 "
		   "ORDER BY name",
		   &a, &res, err);
	if (r < 0)
		return r;
	return take_rows(res, out, n, err);
}

/*
 * Admission across nodes: every vpsd's admission takes the vps table in
 * SHARE ROW EXCLUSIVE mode (it conflicts with itself and with the
 * ROW EXCLUSIVE lock any INSERT, UPDATE or DELETE of a VPS row takes) and
 * the policies in SHARE mode, before it reads. So the rows admit() sees
 * are the rows as they stand when the write commits, on every node, and
 * a second admission waits for the first rather than failing. Chosen over
 * SERIALIZABLE: that would also be correct, but it answers a conflict
 * with a serialization failure to retry (admit() run again) where a
 * create is rare and short enough to wait; and over SELECT ... FOR
 * UPDATE, which locks the rows there are and so cannot stop two creates
 * that each add a new one. Reads (lists, gets) never wait for it.
 */
int pg_vps_admit(struct store *base, struct vps *v, bool create, const char *plan,
		 store_admit_fn *admit, void *arg, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct vps *all = NULL;
	json_t *policies = NULL;
	size_t n = 0;
	int r;

	pthread_mutex_lock(&s->lock);
	if ((r = pg_begin(s, err)) < 0) {
		pthread_mutex_unlock(&s->lock);
		return r;
	}
	r = pg_run(s, "LOCK TABLE vps IN SHARE ROW EXCLUSIVE MODE", NULL, NULL, err);
	if (r == 0)
		r = pg_run(s, "LOCK TABLE policies IN SHARE MODE", NULL, NULL, err);
	if (r == 0 && admit)
		r = admit_rows_locked(s, v, &all, &n, err);
	if (r == 0 && admit) {
		policies = pg_policies_locked(s);
		r = admit(arg, all, n, policies, err);
	}
	if (r == 0)
		r = create ? insert_locked(s, v, plan, err) : update_locked(s, v, err);
	if (r == 0)
		r = pg_commit(s, err);
	if (r < 0)
		pg_rollback(s);
	pthread_mutex_unlock(&s->lock);
	json_decref(policies);
	for (size_t i = 0; i < n; i++)
		vps_free(&all[i]);
	free(all);
	return r;
}

int pg_vps_state(struct store *base, const char *name, enum vps_state state, const char *event,
		 struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r;

	pa_s(&a, vps_state_name(state));
	pa_s(&a, name);
	pthread_mutex_lock(&s->lock);
	if ((r = pg_begin(s, err)) < 0)
		goto out;
	r = pg_run(s, "UPDATE vps SET state = $1 WHERE name = $2", &a, &res, err);
	if (r == 0 && pg_changes(res) == 0)
		r = err_make(err, ENOENT, "no VPS named `%s`", name);
	PQclear(res);
	if (r == 0 && event)
		pg_event_locked(s, name, vps_state_name(state), event);
	if (r == 0)
		r = pg_commit(s, err);
	else
		pg_rollback(s);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int pg_vps_delete(struct store *base, const char *name, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	int r;

	pa_s(&a, name);
	pthread_mutex_lock(&s->lock);
	if ((r = pg_begin(s, err)) < 0)
		goto out;
	pg_event_locked(s, name, "destroyed", ""); /* while the row still gives its id */
	r = pg_run(s, "DELETE FROM vps WHERE name = $1", &a, NULL, err);
	if (r == 0)
		r = pg_commit(s, err);
	else
		pg_rollback(s);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int pg_vps_plan(struct store *base, const char *name, const char *plan, struct err **err)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	int r;

	pa_s(&a, plan);
	pa_s(&a, name);
	pthread_mutex_lock(&s->lock);
	r = pg_run(s, "UPDATE vps SET plan = $1 WHERE name = $2", &a, NULL, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

json_t *pg_events(struct store *base, const char *vps, const char *owner, long long after,
		  int limit)
{
	struct store_pg *s = pgs(base);
	struct pg_args a = { 0 };
	json_t *out = json_array();
	PGresult *res;

	pa_i(&a, after);
	pa_s(&a, vps);
	pa_i(&a, limit);
	pa_s(&a, owner);
	pthread_mutex_lock(&s->lock);
	if (pg_run(s,
		   /* the VPS of that name now; one gone: by name (the provider only) */
		   "SELECT id, time, vps, kind, message FROM events WHERE id > $1 AND "
		   "($2::text IS NULL OR CASE WHEN EXISTS (SELECT 1 FROM vps WHERE name = $2) "
		   "THEN vps_id = (SELECT id FROM vps WHERE name = $2) ELSE vps = $2 END) AND "
		   "($4::text IS NULL OR vps_id IN (SELECT id FROM vps WHERE owner = $4)) "
		   "ORDER BY id LIMIT $3",
		   &a, &res, NULL) == 0) {
		for (int i = 0; i < PQntuples(res); i++)
			json_array_append_new(out,
					      json_pack("{s:I, s:I, s:s?, s:s, s:s}", "id",
							(json_int_t)pg_i(res, i, 0), "time",
							(json_int_t)pg_i(res, i, 1), "vps",
							pg_s(res, i, 2), "kind", pg_s(res, i, 3),
							"message", pg_s(res, i, 4)));
		PQclear(res);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}
