// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The store's interface (src/host/store.h), driven through store_* only,
 * against each backend: SQLite in a temporary file, and PostgreSQL when
 * VPS_TEST_PG holds a conninfo (tests/integration/framework/pg.py starts
 * a private server and sets it; meson runs this program through it). The
 * same cases, what any backend must answer; each PostgreSQL case starts
 * on an empty schema. Also the VPS state's one table of names (vps.c).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "host/store.h"

#define GIB (1ULL << 30)

static char db_path[64];

/* A second handle on the same database: another vpsd (a node) as the store sees it. */
static struct store *open_again(struct store *s)
{
	struct store *t = NULL;
	struct err *e = NULL;
	int r = !strcmp(store_backend(s), "sqlite") ?
			store_open(db_path, &t, &e) :
			store_open_cluster(getenv("VPS_TEST_PG"), "n2", &t, &e);

	if (r < 0)
		fail_msg("open the store again: %s", err_msg(e));
	return t;
}

static int setup_sqlite(void **state)
{
	struct store *s = NULL;
	struct err *e = NULL;
	int fd;

	snprintf(db_path, sizeof(db_path), "/tmp/test_host_store.XXXXXX");
	fd = mkstemp(db_path);
	if (fd < 0)
		return -1;
	close(fd);
	unlink(db_path);
	if (store_open(db_path, &s, &e) < 0) {
		fprintf(stderr, "store: %s\n", err_msg(e));
		err_free(&e);
		return -1;
	}
	*state = s;
	return 0;
}

static int setup_pg(void **state)
{
	const char *conninfo = getenv("VPS_TEST_PG");
	struct store *s = NULL;
	struct err *e = NULL;
	PGresult *res;
	PGconn *c;
	int ok;

	if (!conninfo || !*conninfo)
		return -1; /* main() runs these cases only with a server */
	/* every case on an empty schema, as SQLite's on a new file */
	c = PQconnectdb(conninfo);
	res = PQexec(c, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; "
			"CREATE SCHEMA public");
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "reset the schema: %s\n", PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
	if (!ok)
		return -1;
	if (store_open_cluster(conninfo, "n1", &s, &e) < 0) {
		fprintf(stderr, "store: %s\n", err_msg(e));
		err_free(&e);
		return -1;
	}
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	char path[80];
	bool sqlite = !strcmp(store_backend(*state), "sqlite");

	store_close(*state);
	if (!sqlite)
		return 0;
	unlink(db_path);
	snprintf(path, sizeof(path), "%s-wal", db_path);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", db_path);
	unlink(path);
	return 0;
}

static void make_vps(struct vps *v, const char *name, const char *owner, uint64_t ram)
{
	vps_init(v);
	assert_true(strlen(name) < sizeof(v->name) && strlen(owner) < sizeof(v->owner));
	memcpy(v->name, name, strlen(name) + 1);
	memcpy(v->owner, owner, strlen(owner) + 1);
	v->kind = VPS_CT;
	v->engine = VPS_CTM;
	v->ram = ram;
	v->disk = 1 * GIB;
	v->cpus = 1;
}

static void state_names_round_trip(void **state)
{
	enum vps_state s;

	(void)state;
	for (int i = 0; i < NR_VPS_STATES; i++) {
		assert_int_equal(vps_state_parse(vps_state_name((enum vps_state)i), &s), 0);
		assert_int_equal(s, i);
	}
	assert_string_equal(vps_state_name(VPS_RUNNING), "running");
	assert_string_equal(vps_state_name(VPS_REINSTALLING), "reinstalling");
	assert_int_equal(vps_state_parse("Running", &s), -EINVAL);
	assert_int_equal(vps_state_parse(NULL, &s), -EINVAL);
}

/* The state goes to the row and, by its name, to the event log. */
static void state_is_stored_by_name(void **state)
{
	struct store *st = *state;
	struct vps v, got;
	json_t *ev;

	make_vps(&v, "s1", "admin", GIB);
	assert_int_equal(store_vps_insert(st, &v, NULL, NULL), 0);
	assert_true(v.id > 0);
	assert_int_equal(store_vps_state(st, "s1", VPS_RUNNING, "started", NULL), 0);
	assert_int_equal(store_vps_get(st, "s1", &got, NULL), 0);
	assert_int_equal(got.state, VPS_RUNNING);
	vps_free(&got);
	ev = store_events(st, "s1", NULL, 0, 10);
	assert_int_equal(json_array_size(ev), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 1), "kind")),
			    "running");
	json_decref(ev);
	assert_int_equal(store_vps_state(st, "nosuch", VPS_STOPPED, NULL, NULL), -ENOENT);
	vps_free(&v);
}

/*
 * The VPS list a page at a time (GET /vps?limit=&after=): in name order from the name
 * after `after`, at most `limit`, the filters ANDed; the pages walked end to end give every
 * row once. The usage of a page's range only.
 */
static void vps_pages(void **state)
{
	struct store *st = *state;
	struct store_vps_filter f = { .limit = 7 };
	char name[16], last[VPS_NAME_MAX + 1] = "";
	struct vps v, *p;
	size_t n, seen = 0;
	long long rows = -1;
	json_t *u;

	for (int i = 0; i < 25; i++) {
		snprintf(name, sizeof(name), "p%02d", (i * 7) % 25); /* inserted out of order */
		make_vps(&v, name, i % 2 ? "bob" : "alice", GIB);
		assert_int_equal(store_vps_insert(st, &v, NULL, NULL), 0);
		vps_free(&v);
	}
	assert_int_equal(store_vps_state(st, "p03", VPS_RUNNING, "started", NULL), 0);
	assert_int_equal(store_sample_add(st, "p03", &(struct store_sample){ .time = 5 }, false, 9,
					  &rows),
			 0);
	rows = -1;
	assert_int_equal(store_sample_add(st, "p20", &(struct store_sample){ .time = 6 }, false, 9,
					  &rows),
			 0);
	do {
		f.after = last;
		assert_int_equal(store_vps_page(st, &f, &p, &n, NULL), 0);
		assert_true(n <= 7);
		for (size_t i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "p%02zu", seen + i);
			assert_string_equal(p[i].name, name);
		}
		seen += n;
		if (n)
			snprintf(last, sizeof(last), "%s", p[n - 1].name);
		store_vps_list_free(p, n);
	} while (n == 7);
	assert_int_equal(seen, 25);
	/* filters: alice's are the even i, (i * 7) % 25 of those */
	f = (struct store_vps_filter){ .after = "p10", .limit = 100, .owner = "alice" };
	assert_int_equal(store_vps_page(st, &f, &p, &n, NULL), 0);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(p[i].owner, "alice");
		assert_true(strcmp(p[i].name, "p10") > 0);
	}
	assert_true(n > 0 && n < 15);
	store_vps_list_free(p, n);
	f = (struct store_vps_filter){ .limit = 100, .state = "running" };
	assert_int_equal(store_vps_page(st, &f, &p, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(p[0].name, "p03");
	store_vps_list_free(p, n);
	f = (struct store_vps_filter){ .limit = 100, .node = "nosuch" };
	assert_int_equal(store_vps_page(st, &f, &p, &n, NULL), 0);
	assert_int_equal(n, 0);
	store_vps_list_free(p, n);
	/* a name of quotes and SQL is a cursor like any other */
	f = (struct store_vps_filter){ .after = "p1' OR '1'='1", .limit = 100 };
	assert_int_equal(store_vps_page(st, &f, &p, &n, NULL), 0);
	assert_int_equal(n, 15); /* p10 .. p24 sort after it */
	store_vps_list_free(p, n);
	u = store_samples_last_range(st, "p00", "p10");
	assert_int_equal(json_object_size(u), 1);
	assert_non_null(json_object_get(u, "p03"));
	json_decref(u);
}

/* A container's switches and IO limits go to the row and back, on VPSes and plans. */
static void features_and_io_limits(void **state)
{
	struct store *st = *state;
	struct vps v, got;
	json_t *plan, *p;
	unsigned int bits;

	make_vps(&v, "f1", "admin", GIB);
	v.features = VPS_FEATURE_TUN | VPS_FEATURE_NESTING;
	v.io_read_bps = 20 << 20;
	v.io_write_bps = 10 << 20;
	v.io_read_iops = 500;
	v.io_write_iops = 250;
	assert_int_equal(store_vps_insert(st, &v, NULL, NULL), 0);
	assert_int_equal(store_vps_get(st, "f1", &got, NULL), 0);
	assert_int_equal(got.features, VPS_FEATURE_TUN | VPS_FEATURE_NESTING);
	assert_int_equal(got.io_read_bps, 20 << 20);
	assert_int_equal(got.io_write_bps, 10 << 20);
	assert_int_equal(got.io_read_iops, 500);
	assert_int_equal(got.io_write_iops, 250);
	got.features = 0; /* all off again, through an update */
	got.io_write_iops = 0;
	assert_int_equal(store_vps_update(st, &got, NULL), 0);
	vps_free(&got);
	assert_int_equal(store_vps_get(st, "f1", &got, NULL), 0);
	assert_int_equal(got.features, 0);
	assert_int_equal(got.io_write_iops, 0);
	assert_int_equal(got.io_read_iops, 500);
	vps_free(&got);
	vps_free(&v);

	plan = json_pack("{s:s, s:I, s:I, s:f, s:I, s:i, s:I, s:I, s:[s, s], s:I, s:I, s:I, s:I}",
			 "name", "vpn", "ram", (json_int_t)GIB, "swap", (json_int_t)0, "cpus", 1.0,
			 "disk", (json_int_t)GIB, "io_weight", 0, "bw", (json_int_t)0, "pids",
			 (json_int_t)0, "features", "fuse", "tun", "io_read_bps",
			 (json_int_t)(1 << 20), "io_write_bps", (json_int_t)(2 << 20),
			 "io_read_iops", (json_int_t)30, "io_write_iops", (json_int_t)40);
	assert_int_equal(store_plan_put(st, plan, NULL), 0);
	json_decref(plan);
	p = store_plan_get(st, "vpn");
	assert_non_null(p);
	bits = vps_features_bits(json_object_get(p, "features"));
	assert_int_equal(bits, VPS_FEATURE_TUN | VPS_FEATURE_FUSE);
	/* in the one order of the names, whatever order they were given in */
	assert_string_equal(json_string_value(json_array_get(json_object_get(p, "features"), 0)),
			    "tun");
	assert_int_equal(json_integer_value(json_object_get(p, "io_read_bps")), 1 << 20);
	assert_int_equal(json_integer_value(json_object_get(p, "io_write_bps")), 2 << 20);
	assert_int_equal(json_integer_value(json_object_get(p, "io_read_iops")), 30);
	assert_int_equal(json_integer_value(json_object_get(p, "io_write_iops")), 40);
	json_decref(p);
	/* a name the store does not know is no feature; the column's text parses strictly */
	assert_int_equal(vps_features_parse("tun,bogus", &bits), -EINVAL);
	assert_int_equal(vps_features_parse("", &bits), 0);
	assert_int_equal(bits, 0);
}

/* A plan's backup rule goes to its row and back; each VPS on it is listed with the rule. */
static void plan_backup_schedules(void **state)
{
	struct store *st = *state;
	json_t *on = json_pack("{s:s, s:I, s:I, s:f, s:I, s:{s:s, s:s, s:i}}", "name", "nightly",
			       "ram", (json_int_t)GIB, "swap", (json_int_t)0, "cpus", 1.0, "disk",
			       (json_int_t)GIB, "backup", "repo", "local", "daily", "03:00",
			       "keep_daily", 7);
	json_t *off = json_pack("{s:s, s:I, s:I, s:f, s:I}", "name", "bare", "ram", (json_int_t)GIB,
				"swap", (json_int_t)0, "cpus", 1.0, "disk", (json_int_t)GIB);
	json_t *p, *all;
	struct vps a, b, c;

	assert_int_equal(store_plan_put(st, on, NULL), 0);
	assert_int_equal(store_plan_put(st, off, NULL), 0);
	p = store_plan_get(st, "nightly");
	assert_true(json_equal(json_object_get(p, "backup"), json_object_get(on, "backup")));
	json_decref(p);
	p = store_plan_get(st, "bare");
	assert_int_equal(json_object_size(json_object_get(p, "backup")), 0); /* {}: none */
	json_decref(p);
	make_vps(&a, "pb1", "admin", GIB);
	make_vps(&b, "pb2", "admin", GIB);
	make_vps(&c, "pb3", "admin", GIB);
	assert_int_equal(store_vps_insert(st, &a, "nightly", NULL), 0);
	assert_int_equal(store_vps_insert(st, &b, "bare", NULL), 0);
	assert_int_equal(store_vps_insert(st, &c, NULL, NULL), 0);
	all = store_plan_backups(st);
	/* only the VPS whose plan has a schedule, with that schedule */
	assert_int_equal(json_object_size(all), 1);
	assert_true(json_equal(json_object_get(all, "pb1"), json_object_get(on, "backup")));
	json_decref(all);
	/* the plan's schedule taken away: nobody is listed */
	json_object_set_new(on, "backup", json_object());
	assert_int_equal(store_plan_put(st, on, NULL), 0);
	all = store_plan_backups(st);
	assert_int_equal(json_object_size(all), 0);
	json_decref(all);
	vps_free(&a);
	vps_free(&b);
	vps_free(&c);
	json_decref(on);
	json_decref(off);
}

struct seen {
	size_t n;
	uint64_t ram;
	bool policies;
	int answer;
};

static int admit(void *arg, const struct vps *all, size_t n, json_t *policies, struct err **err)
{
	struct seen *x = arg;

	x->n = n;
	x->ram = 0;
	for (size_t i = 0; i < n; i++)
		x->ram += all[i].ram;
	x->policies = json_object_get(policies, "memory") != NULL;
	return x->answer < 0 ? err_make(err, -x->answer, "no room") : 0;
}

/* admit() sees the rows and the policies; a refusal writes nothing. */
static void admission_decides_the_write(void **state)
{
	struct store *st = *state;
	struct seen x = { .answer = -ENOSPC };
	struct err *e = NULL;
	struct vps a, b, got;

	make_vps(&a, "a1", "admin", 2 * GIB);
	assert_int_equal(store_vps_admit(st, &a, true, NULL, admit, &x, NULL), -ENOSPC);
	assert_int_equal(x.n, 0);
	assert_true(x.policies);
	assert_int_equal(store_vps_get(st, "a1", &got, NULL), -ENOENT);

	x.answer = 0;
	assert_int_equal(store_vps_admit(st, &a, true, NULL, admit, &x, &e), 0);
	make_vps(&b, "a2", "admin", 1 * GIB);
	assert_int_equal(store_vps_admit(st, &b, true, NULL, admit, &x, NULL), 0);
	assert_int_equal(x.n, 1);
	assert_int_equal(x.ram, 2 * GIB);

	/* a change: refused, the row keeps its figures */
	b.ram = 4 * GIB;
	x.answer = -ENOSPC;
	assert_int_equal(store_vps_admit(st, &b, false, NULL, admit, &x, NULL), -ENOSPC);
	assert_int_equal(x.n, 2);
	assert_int_equal(store_vps_get(st, "a2", &got, NULL), 0);
	assert_int_equal(got.ram, 1 * GIB);
	vps_free(&got);
	x.answer = 0;
	assert_int_equal(store_vps_admit(st, &b, false, NULL, admit, &x, NULL), 0);
	assert_int_equal(store_vps_get(st, "a2", &got, NULL), 0);
	assert_int_equal(got.ram, 4 * GIB);
	vps_free(&got);
	vps_free(&a);
	vps_free(&b);
	err_free(&e);
}

/*
 * The store sums each node's rows (placement and the node list read no
 * row), and an admission in a cluster sees only the rows that bear on it:
 * its node's and its owner's (SQLite, one host: every row).
 */
static void sums_and_admission_rows(void **state)
{
	struct store *st = *state;
	bool pg = strcmp(store_backend(st), "sqlite") != 0;
	struct seen x = { .answer = 0 };
	struct vps v[4], c;
	json_t *sums = store_vps_sums(st), *one;

	assert_non_null(sums);
	assert_int_equal(json_object_size(sums), 0);
	json_decref(sums);
	make_vps(&v[0], "s1", "admin", 2 * GIB);
	make_vps(&v[1], "s2", "admin", 1 * GIB); /* another node, the same owner */
	make_vps(&v[2], "s3", "cust", 4 * GIB); /* another node, another owner */
	make_vps(&v[3], "s4", "cust", 8 * GIB); /* this node, another owner */
	v[1].cpus = 0.5;
	if (pg) {
		memcpy(v[1].node, "n2", 3);
		memcpy(v[2].node, "n2", 3);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(store_vps_insert(st, &v[i], NULL, NULL), 0);
	sums = store_vps_sums(st);
	assert_non_null(sums);
	if (pg) {
		assert_int_equal(json_object_size(sums), 2);
		one = json_object_get(sums, "n1");
		assert_int_equal(json_integer_value(json_object_get(one, "vps")), 2);
		assert_true(json_number_value(json_object_get(one, "ram")) == 10.0 * GIB);
		assert_true(json_number_value(json_object_get(one, "disk")) == 2.0 * GIB);
		assert_true(json_number_value(json_object_get(one, "cpus")) == 2);
		one = json_object_get(sums, "n2");
		assert_int_equal(json_integer_value(json_object_get(one, "vps")), 2);
		assert_true(json_number_value(json_object_get(one, "ram")) == 5.0 * GIB);
		assert_true(json_number_value(json_object_get(one, "cpus")) == 1.5);
	} else {
		assert_int_equal(json_object_size(sums), 1);
		one = json_object_get(sums, "");
		assert_int_equal(json_integer_value(json_object_get(one, "vps")), 4);
		assert_true(json_number_value(json_object_get(one, "ram")) == 15.0 * GIB);
		assert_true(json_number_value(json_object_get(one, "cpus")) == 3.5);
	}
	json_decref(sums);

	/* admin's new VPS here: this node's rows (s1, s4) and admin's (s2), not s3 */
	make_vps(&c, "s5", "admin", 1 * GIB);
	assert_int_equal(store_vps_admit(st, &c, true, NULL, admit, &x, NULL), 0);
	assert_int_equal(x.n, pg ? 3 : 4);
	assert_int_equal(x.ram, pg ? 11 * GIB : 15 * GIB);
	vps_free(&c);
	for (int i = 0; i < 4; i++)
		vps_free(&v[i]);
}

static void users_sessions_tokens(void **state)
{
	struct store *st = *state;
	long long id = 0;
	struct vps v;
	json_t *o;

	assert_int_equal(store_user_insert(st, "alice", "customer", "h1", "[]", 100, NULL), 0);
	assert_int_equal(store_user_insert(st, "alice", "admin", "h2", NULL, 100, NULL), -EEXIST);
	o = store_user_secret(st, "alice");
	assert_string_equal(json_string_value(json_object_get(o, "hash")), "h1");
	json_decref(o);
	assert_null(store_user_secret(st, "bob"));

	assert_int_equal(store_session_insert(st, "sid", "alice", "csrf", "src", 100, 200, NULL),
			 0);
	o = store_session_get(st, "sid", 150);
	assert_string_equal(json_string_value(json_object_get(o, "role")), "customer");
	json_decref(o);
	assert_null(store_session_get(st, "sid", 200)); /* expired */

	assert_int_equal(store_token_insert(st, "alice", "ci", "tmp", "[\"10.0.0.0/8\"]", 100, 300,
					    &id, NULL),
			 0);
	assert_true(id > 0);
	assert_int_equal(store_token_hash(st, id, "th", NULL), 0);
	o = store_token_use(st, "th", 150);
	assert_int_equal(json_integer_value(json_object_get(o, "id")), id);
	assert_int_equal(json_array_size(json_object_get(o, "sources")), 1);
	json_decref(o);
	o = store_tokens(st, "alice");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(o, 0), "used")), 150);
	json_decref(o);

	/* a new password ends sessions and tokens */
	assert_int_equal(store_user_update(st, "alice", "h3", NULL, NULL, true, true, NULL), 0);
	assert_null(store_session_get(st, "sid", 150));
	assert_null(store_token_use(st, "th", 150));
	assert_int_equal(store_token_delete(st, id, NULL, NULL), -ENOENT);

	make_vps(&v, "av", "alice", GIB);
	assert_int_equal(store_vps_insert(st, &v, NULL, NULL), 0);
	assert_int_equal(store_user_delete(st, "alice", NULL), -EBUSY);
	assert_int_equal(store_vps_delete(st, "av", NULL), 0);
	assert_int_equal(store_user_delete(st, "alice", NULL), 0);
	assert_int_equal(store_user_delete(st, "alice", NULL), -ENOENT);
	vps_free(&v);
}

static void operations(void **state)
{
	struct store *st = *state;
	json_t *o;

	assert_int_equal(store_op_insert(st, "op1", NULL, "admin", "create", 100, 10000, NULL), 0);
	assert_int_equal(store_op_insert(st, "op2", NULL, "bob", "start", 100, 10000, NULL), 0);
	o = store_op_get(st, "op1", NULL);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "running");
	assert_null(json_object_get(o, "status"));
	json_decref(o);
	assert_null(store_op_get(st, "op1", "bob")); /* another user's */

	store_op_finish(st, "op1", "done", 201, "{\"name\": \"x\"}", 110);
	o = store_op_get(st, "op1", "admin");
	assert_string_equal(json_string_value(json_object_get(o, "state")), "done");
	assert_int_equal(json_integer_value(json_object_get(o, "status")), 201);
	assert_int_equal(json_integer_value(json_object_get(o, "finished")), 110);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(o, "result"), "name")), "x");
	json_decref(o);

	store_ops_abandon(st, 500, "{}", 120);
	o = store_op_get(st, "op2", NULL);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "failed");
	assert_int_equal(json_integer_value(json_object_get(o, "status")), 500);
	json_decref(o);
}

/* Samples are kept to `keep`, oldest out; the caller's row count follows. */
static void samples_are_bounded(void **state)
{
	struct store *st = *state;
	struct store_sample smp = { .cpu = 0.5, .mem = 1, .disk = 2 };
	long long rows = -1;
	struct vps v;
	json_t *a;

	make_vps(&v, "u1", "admin", GIB);
	assert_int_equal(store_vps_insert(st, &v, NULL, NULL), 0);
	for (smp.time = 1; smp.time <= 3; smp.time++)
		assert_int_equal(store_sample_add(st, "u1", &smp, false, 2, &rows), 0);
	assert_int_equal(rows, 2);
	/* the same second again replaces its row */
	assert_int_equal(
		store_sample_add(st, "u1", &(struct store_sample){ .time = 3 }, true, 2, &rows), 0);
	assert_int_equal(rows, 2);
	a = store_samples(st, "u1", 0);
	assert_int_equal(json_array_size(a), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "time")), 2);
	json_decref(a);
	assert_null(store_samples(st, "nosuch", 0));
	a = store_samples_last(st);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "u1"), "time")), 3);
	json_decref(a);
	vps_free(&v);
}

/*
 * History (docs/usage.md "History"): each sample is averaged into its
 * minute, half hour and day; a replaced sample is not counted twice; rows
 * older than their step's keep go.
 */
static double hist_cpu(json_t *a, size_t i)
{
	return json_real_value(json_object_get(json_array_get(a, i), "cpu"));
}

static void history_consolidates(void **state)
{
	struct store *st = *state;
	const long long day = 86400, t0 = 1000 * day; /* a day's, half hour's and minute's start */
	struct store_sample smp = { .mem = 100, .disk = 10 };
	long long rows = -1;
	struct vps v;
	json_t *a;

	make_vps(&v, "h1", "admin", GIB);
	assert_int_equal(store_vps_insert(st, &v, NULL, NULL), 0);
	smp.time = t0, smp.cpu = 1, smp.mem = 100;
	assert_int_equal(store_sample_add(st, "h1", &smp, false, 100, &rows), 0);
	smp.time = t0 + 10, smp.cpu = 3, smp.mem = 300;
	assert_int_equal(store_sample_add(st, "h1", &smp, false, 100, &rows), 0);
	/* the same second again: the raw row is replaced, the averages keep their count */
	smp.cpu = 50;
	assert_int_equal(store_sample_add(st, "h1", &smp, true, 100, &rows), 0);
	smp.time = t0 + 70, smp.cpu = 5, smp.mem = 500;
	assert_int_equal(store_sample_add(st, "h1", &smp, false, 100, &rows), 0);

	a = store_history(st, "h1", 60, 0); /* minutes: (1+3)/2, then 5 */
	assert_int_equal(json_array_size(a), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "time")), t0);
	assert_true(hist_cpu(a, 0) > 1.999 && hist_cpu(a, 0) < 2.001);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "mem")), 200);
	assert_true(hist_cpu(a, 1) > 4.999 && hist_cpu(a, 1) < 5.001);
	json_decref(a);
	a = store_history(st, "h1", 1800, 0); /* the half hour: all three, 3 */
	assert_int_equal(json_array_size(a), 1);
	assert_true(hist_cpu(a, 0) > 2.999 && hist_cpu(a, 0) < 3.001);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "mem")), 300);
	json_decref(a);
	a = store_history(st, "h1", 60, t0); /* after `since` only */
	assert_int_equal(json_array_size(a), 1);
	json_decref(a);

	/* two days on: the minutes of day 0 are past their day, the half hour is kept */
	smp.time = t0 + 2 * day, smp.cpu = 7;
	assert_int_equal(store_sample_add(st, "h1", &smp, false, 100, &rows), 0);
	a = store_history(st, "h1", 60, 0);
	assert_int_equal(json_array_size(a), 1);
	assert_true(hist_cpu(a, 0) > 6.999);
	json_decref(a);
	a = store_history(st, "h1", 1800, 0);
	assert_int_equal(json_array_size(a), 2);
	json_decref(a);
	a = store_history(st, "h1", 86400, 0);
	assert_int_equal(json_array_size(a), 2);
	json_decref(a);
	/* 40 days on: the half hours of days 0 and 2 are past their month, the days kept */
	smp.time = t0 + 40 * day, smp.cpu = 9;
	assert_int_equal(store_sample_add(st, "h1", &smp, false, 100, &rows), 0);
	a = store_history(st, "h1", 1800, 0);
	assert_int_equal(json_array_size(a), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "time")),
			 t0 + 40 * day);
	json_decref(a);
	a = store_history(st, "h1", 86400, 0);
	assert_int_equal(json_array_size(a), 3);
	json_decref(a);
	/* 369 days on: days 0 and 2 are past their year (366 days), day 40 is kept */
	smp.time = t0 + 369 * day, smp.cpu = 11;
	assert_int_equal(store_sample_add(st, "h1", &smp, false, 100, &rows), 0);
	a = store_history(st, "h1", 86400, 0);
	assert_int_equal(json_array_size(a), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "time")),
			 t0 + 40 * day);
	assert_true(hist_cpu(a, 0) > 8.999 && hist_cpu(a, 0) < 9.001);
	json_decref(a);
	/* a VPS without history is an empty list; no such VPS: NULL */
	vps_free(&v);
	make_vps(&v, "h2", "admin", GIB);
	assert_int_equal(store_vps_insert(st, &v, NULL, NULL), 0);
	a = store_history(st, "h2", 60, 0);
	assert_non_null(a);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	assert_null(store_history(st, "nosuch", 60, 0));
	vps_free(&v);
}

/*
 * Two handles (two nodes) admit at once where there is room for one: one
 * is written, the other refused. admit() dawdles, so without the backend's
 * lock both would see the room.
 */
#define ROOM (3 * GIB)

struct racer {
	struct store *st;
	const char *name;
	pthread_barrier_t *go;
	int r;
};

static int admit_room(void *arg, const struct vps *all, size_t n, json_t *policies,
		      struct err **err)
{
	uint64_t used = 0;

	(void)arg;
	(void)policies;
	for (size_t i = 0; i < n; i++)
		used += all[i].ram;
	usleep(100 * 1000);
	return used + 2 * GIB > ROOM ? err_make(err, ENOSPC, "no room") : 0;
}

static void *race(void *arg)
{
	struct racer *x = arg;
	struct vps v;

	make_vps(&v, x->name, "admin", 2 * GIB);
	pthread_barrier_wait(x->go);
	x->r = store_vps_admit(x->st, &v, true, NULL, admit_room, NULL, NULL);
	vps_free(&v);
	return NULL;
}

static void admission_across_handles(void **state)
{
	struct store *st = *state, *other = open_again(st);
	pthread_barrier_t go;
	struct racer x[2] = { { st, "r1", &go, 1 }, { other, "r2", &go, 1 } };
	pthread_t t[2];
	struct vps *all;
	size_t n;

	pthread_barrier_init(&go, NULL, 2);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race, &x[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	assert_true((x[0].r == 0 && x[1].r == -ENOSPC) || (x[0].r == -ENOSPC && x[1].r == 0));
	/* both handles see the one row */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(store_vps_list(i ? other : st, &all, &n, NULL), 0);
		assert_int_equal(n, 1);
		assert_string_equal(all[0].name, x[0].r == 0 ? "r1" : "r2");
		store_vps_list_free(all, n);
	}
	store_close(other);
}

/*
 * What a hostile customer or a careless admin could put in a field: quotes
 * of both kinds, SQL, a parameter marker, backslashes, JSON escapes (a
 * NUL's among them: C strings hold no raw NUL, the API's JSON refuses one,
 * test_cluster.py), non-ASCII. Stored and read back byte for byte, and
 * the tables still there.
 */
static const char *const hostile[] = {
	"o'brien",	 "\"; DROP TABLE vps; --", "x'); DELETE FROM users; --", "$1 $2 ?1 %s %n",
	"back\\slash\\", "nul \\u0000 escaped",	   "\u00e9t\u00e9 \u2603",	 "tab\there\nline",
};

static void hostile_values(void **state)
{
	struct store *st = *state;
	struct vps v, got;
	json_t *o, *a;

	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		const char *h = hostile[i];
		char name[64], owner[64];
		long long id = 0;

		snprintf(name, sizeof(name), "h%zu%s", i, h);
		snprintf(owner, sizeof(owner), "%.60s", h);
		assert_int_equal(store_user_insert(st, owner, "customer", h,
						   "[\"n'1\", \"\\u0000\"]", 1, NULL),
				 0);
		o = store_user_secret(st, owner);
		assert_non_null(o);
		assert_string_equal(json_string_value(json_object_get(o, "hash")), h);
		json_decref(o);
		o = store_users(st, owner);
		assert_int_equal(json_array_size(o), 1);
		assert_string_equal(
			json_string_value(json_object_get(json_array_get(o, 0), "name")), owner);
		json_decref(o);

		make_vps(&v, name, owner, GIB);
		v.hostname = strdup(h);
		v.ssh_keys[v.nr_ssh_keys++] = strdup(h);
		assert_int_equal(store_vps_insert(st, &v, NULL, NULL), 0);
		assert_int_equal(store_vps_get(st, name, &got, NULL), 0);
		assert_string_equal(got.name, name);
		assert_string_equal(got.owner, owner);
		assert_string_equal(got.hostname, h);
		assert_int_equal(got.nr_ssh_keys, 1);
		assert_string_equal(got.ssh_keys[0], h);
		vps_free(&got);
		assert_int_equal(store_vps_state(st, name, VPS_RUNNING, h, NULL), 0);
		a = store_events(st, name, owner, 0, 10);
		assert_int_equal(json_array_size(a), 2);
		assert_string_equal(
			json_string_value(json_object_get(json_array_get(a, 1), "message")), h);
		json_decref(a);

		assert_int_equal(store_session_insert(st, h, owner, h, h, 1, 100, NULL), 0);
		o = store_session_get(st, h, 50);
		assert_non_null(o);
		assert_string_equal(json_string_value(json_object_get(o, "csrf")), h);
		json_decref(o);
		assert_int_equal(store_token_insert(st, owner, h, name, "[]", 1, 100, &id, NULL),
				 0);
		o = store_token_use(st, name, 50);
		assert_non_null(o);
		assert_string_equal(json_string_value(json_object_get(o, "user")), owner);
		json_decref(o);
		store_audit_add(st, 1, owner, h, "POST", h, 200, 1000);
		assert_int_equal(store_op_insert(st, name, name, owner, h, 1, 100, NULL), 0);
		o = store_op_get(st, name, owner);
		assert_non_null(o);
		assert_string_equal(json_string_value(json_object_get(o, "action")), h);
		json_decref(o);
		vps_free(&v);
	}
	a = store_audit(st, 0, 100);
	assert_int_equal(json_array_size(a), sizeof(hostile) / sizeof(hostile[0]));
	for (size_t i = 0; i < json_array_size(a); i++)
		assert_string_equal(
			json_string_value(json_object_get(json_array_get(a, i), "path")),
			hostile[i]);
	json_decref(a);
	/* a plan and a network of hostile names, and the tables all still there */
	o = json_pack("{s:s, s:I, s:I, s:f, s:I}", "name", hostile[1], "ram", (json_int_t)GIB,
		      "swap", (json_int_t)0, "cpus", 1.0, "disk", (json_int_t)GIB);
	assert_int_equal(store_plan_put(st, o, NULL), 0);
	json_decref(o);
	o = store_plan_get(st, hostile[1]);
	assert_non_null(o);
	json_decref(o);
	o = json_pack("{s:s, s:s, s:b}", "name", hostile[2], "bridge", hostile[0], "nat", 1);
	assert_int_equal(store_net_insert(st, o, NULL), 0);
	json_decref(o);
	o = store_nets(st, hostile[2]);
	assert_string_equal(json_string_value(json_object_get(json_array_get(o, 0), "bridge")),
			    hostile[0]);
	json_decref(o);
	o = store_users(st, NULL);
	assert_int_equal(json_array_size(o), sizeof(hostile) / sizeof(hostile[0]));
	json_decref(o);
}

/*
 * PostgreSQL restarted, or vpsd's connection cut: the call that finds it
 * gone fails, the next one connects again, and nothing written is lost.
 */
static void connection_comes_back(void **state) /* PostgreSQL only */
{
	struct store *st = *state;
	struct vps v, got;
	PGresult *res;
	PGconn *c;
	int r = -1;

	make_vps(&v, "c1", "admin", GIB);
	assert_int_equal(store_vps_insert(st, &v, NULL, NULL), 0);
	c = PQconnectdb(getenv("VPS_TEST_PG"));
	res = PQexec(c, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
			"application_name = 'vpsd'");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(res, 0, 0), "1");
	PQclear(res);
	PQfinish(c);
	for (int i = 0; i < 2 && r < 0; i++)
		r = store_vps_state(st, "c1", VPS_RUNNING, "started", NULL);
	assert_int_equal(r, 0);
	assert_int_equal(store_vps_get(st, "c1", &got, NULL), 0);
	assert_int_equal(got.state, VPS_RUNNING);
	vps_free(&got);
	vps_free(&v);
}

/* A network's VLAN (docs/networks.md "VLANs"): stored and read back; out of 802.1Q's range refused. */
static void vlan_round_trip(struct store *st)
{
	json_t *n = json_pack("{s:s, s:s, s:s, s:b, s:i, s:s}", "name", "vl", "bridge", "vbr-vl",
			      "ipv4", "10.9.1.1/24", "nat", 0, "vlan", 100, "parent", "eth1");
	json_t *bad = json_pack("{s:s, s:s, s:b, s:i, s:s}", "name", "vx", "bridge", "vbr-vx",
				"nat", 0, "vlan", 4095, "parent", "eth1");
	json_t *o;

	assert_int_equal(store_net_insert(st, n, NULL), 0);
	o = store_nets(st, "vl");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(o, 0), "vlan")), 100);
	assert_string_equal(json_string_value(json_object_get(json_array_get(o, 0), "parent")),
			    "eth1");
	json_decref(o);
	assert_true(store_net_insert(st, bad, NULL) < 0); /* the column's CHECK */
	o = store_nets(st, "vx");
	assert_int_equal(json_array_size(o), 0);
	json_decref(o);
	assert_int_equal(store_net_delete(st, "vl", NULL), 0);
	json_decref(n);
	json_decref(bad);
}

/* Keys and references answer with the same errno on both backends. */
static void keys_and_references(void **state)
{
	struct store *st = *state;
	json_t *n1 = json_pack("{s:s, s:s, s:s, s:b}", "name", "lan", "bridge", "vbr0", "ipv4",
			       "10.9.0.0/24", "nat", 1);
	json_t *n2 = json_pack("{s:s, s:s, s:b}", "name", "lan", "bridge", "vbr1", "nat", 0);
	json_t *n3 = json_pack("{s:s, s:s, s:b}", "name", "wan", "bridge", "vbr0", "nat", 0);
	json_t *plan = json_pack("{s:s, s:I, s:I, s:f, s:I}", "name", "small", "ram",
				 (json_int_t)GIB, "swap", (json_int_t)0, "cpus", 1.0, "disk",
				 (json_int_t)GIB);
	struct err *e = NULL;
	struct vps v, dup;
	json_t *o;

	assert_int_equal(store_net_insert(st, n1, NULL), 0);
	assert_int_equal(store_net_insert(st, n2, &e), -EEXIST);
	assert_non_null(strstr(err_msg(e), "a network named `lan` exists"));
	assert_int_equal(store_net_insert(st, n3, &e), -EEXIST);
	assert_non_null(strstr(err_msg(e), "`vbr0` belongs to another network"));
	assert_int_equal(store_plan_put(st, plan, NULL), 0);

	make_vps(&v, "k1", "admin", GIB);
	strcpy(v.network, "nosuch");
	assert_int_equal(store_vps_insert(st, &v, "small", &e), -ENOENT); /* no such network */
	strcpy(v.network, "lan");
	assert_int_equal(store_vps_insert(st, &v, "nosuch", &e), -ENOENT); /* no such plan */
	assert_int_equal(store_vps_insert(st, &v, "small", NULL), 0);
	make_vps(&dup, "k1", "admin", GIB);
	assert_int_equal(store_vps_insert(st, &dup, NULL, &e), -EEXIST);
	assert_non_null(strstr(err_msg(e), "a VPS named `k1` exists"));
	assert_int_equal(store_address_add(st, "lan", "10.9.0.2", "k1", NULL), 0);
	assert_int_equal(store_address_add(st, "lan", "10.9.0.2", "k1", NULL), -EEXIST);
	assert_int_equal(store_vps_get(st, "k1", &dup, NULL), 0);
	assert_string_equal(dup.ipv4, "10.9.0.2");
	vps_free(&dup);
	o = store_nets(st, "lan");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(o, 0), "used4")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(o, 0), "vps")), 1);
	assert_null(json_object_get(json_array_get(o, 0), "vlan")); /* none: no field */
	assert_null(json_object_get(json_array_get(o, 0), "parent"));
	json_decref(o);
	vlan_round_trip(st);

	assert_int_equal(store_net_delete(st, "lan", NULL), -EBUSY);
	assert_int_equal(store_plan_delete(st, "small", NULL), -EBUSY);
	assert_int_equal(store_net_delete(st, "nosuch", NULL), -ENOENT);
	assert_int_equal(store_vps_delete(st, "k1", NULL), 0); /* its addresses go with it */
	o = store_net_addresses(st, "lan");
	assert_int_equal(json_array_size(o), 0);
	json_decref(o);
	assert_int_equal(store_plan_delete(st, "small", NULL), 0);
	assert_int_equal(store_net_delete(st, "lan", NULL), 0);
	vps_free(&v);
	err_free(&e);
	json_decref(n1);
	json_decref(n2);
	json_decref(n3);
	json_decref(plan);
}

/* Run sql on the test's database behind the store's back (setting up what a test needs). */
static void behind(struct store *st, const char *sql)
{
	if (!strcmp(store_backend(st), "sqlite")) {
		sqlite3 *db;

		assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
	} else {
		PGconn *c = PQconnectdb(getenv("VPS_TEST_PG"));
		PGresult *res = PQexec(c, sql);

		assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
		PQclear(res);
		PQfinish(c);
	}
}

/*
 * Two-factor state and quotas (issue 23): enrolment and its confirmation
 * only from the state the caller read (compare and set), a time step taken
 * once, recovery hashes swapped only from what was read, a quota kept.
 */
static void two_factor_and_quota(void **state)
{
	struct store *st = *state;
	struct err *e = NULL;
	json_t *row, *u;

	assert_int_equal(store_user_insert(st, "alice", "customer", "h1", "[]", 100, NULL), 0);
	row = store_user_secret(st, "alice");
	assert_null(json_object_get(row, "totp"));
	assert_string_equal(json_string_value(json_object_get(row, "recovery")), "[]");
	json_decref(row);
	/* begin: pending; a second writer starting from the old state loses */
	assert_int_equal(store_user_totp(st, "alice", NULL, NULL, NULL, "P1", "[]", 0, NULL), 0);
	assert_int_equal(store_user_totp(st, "alice", NULL, NULL, NULL, "P2", "[]", 0, &e),
			 -ESTALE);
	err_free(&e);
	/* confirm: pending becomes the secret, with the confirming step taken */
	assert_int_equal(
		store_user_totp(st, "alice", NULL, "P1", "P1", NULL, "[\"a\",\"b\"]", 40, NULL), 0);
	row = store_user_secret(st, "alice");
	assert_string_equal(json_string_value(json_object_get(row, "totp")), "P1");
	assert_null(json_object_get(row, "totp_pending"));
	assert_int_equal(json_integer_value(json_object_get(row, "totp_step")), 40);
	json_decref(row);
	u = store_users(st, "alice");
	assert_true(json_is_true(json_object_get(json_array_get(u, 0), "2fa")));
	json_decref(u);
	/* a step is taken once, and never one before the last */
	assert_int_equal(store_user_totp_step(st, "alice", 40), 0);
	assert_int_equal(store_user_totp_step(st, "alice", 39), 0);
	assert_int_equal(store_user_totp_step(st, "alice", 41), 1);
	assert_int_equal(store_user_totp_step(st, "alice", 41), 0);
	/* a recovery code: swapped from what was read, once */
	assert_int_equal(store_user_recovery(st, "alice", "[\"a\",\"b\"]", "[null,\"b\"]"), 1);
	assert_int_equal(store_user_recovery(st, "alice", "[\"a\",\"b\"]", "[null,\"b\"]"), 0);
	/* quotas: kept as given; none for a user that does not exist */
	assert_int_equal(store_user_quota(st, "alice", "{\"vps\":3}", NULL), 0);
	assert_int_equal(store_user_quota(st, "nobody", "{}", &e), -ENOENT);
	err_free(&e);
	u = store_users(st, "alice");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_array_get(u, 0), "quota"), "vps")),
			 3);
	json_decref(u);
	/* off: from the confirmed state only */
	assert_int_equal(store_user_totp(st, "alice", "P1", NULL, NULL, NULL, "[]", 0, NULL), 0);
	assert_int_equal(store_user_recovery(st, "alice", "[]", "[]"), 0); /* no 2FA: no codes */
	u = store_users(st, "alice");
	assert_true(json_is_false(json_object_get(json_array_get(u, 0), "2fa")));
	json_decref(u);
}

/* Pools and snapshots: names and paths unique, a pool in use kept, rows gone with their VPS. */
static void webhooks(void **state)
{
	struct store *st = *state;
	struct store_webhook w = { .owner = NULL,
				   .url = "http://a/",
				   .secret = "s3cret-s3cret-s3",
				   .events = "*",
				   .created = 1 };
	long long id = 0, id2 = 0, at;
	struct err *e = NULL;
	json_t *o, *h;

	store_event(st, NULL, "before", "");
	assert_int_equal(store_webhook_add(st, &w, &id, NULL), 0);
	assert_true(id > 0);
	assert_int_equal(store_user_insert(st, "cust", "customer", "x", NULL, 1, NULL), 0);
	w.owner = "cust";
	assert_int_equal(store_webhook_add(st, &w, &id2, NULL), 0);
	o = store_webhooks(st, "cust", false);
	assert_int_equal(json_array_size(o), 1);
	h = json_array_get(o, 0);
	assert_int_equal(json_integer_value(json_object_get(h, "id")), id2);
	assert_null(json_object_get(h, "secret")); /* only when asked for */
	at = json_integer_value(json_object_get(h, "last_event"));
	assert_true(at > 0); /* a new hook starts after the newest event */
	json_decref(o);
	o = store_webhooks(st, NULL, true);
	assert_int_equal(json_array_size(o), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(o, 0), "secret")),
			    "s3cret-s3cret-s3");
	assert_true(json_is_null(json_object_get(json_array_get(o, 0), "owner")));
	json_decref(o);
	/* the cursor moves by compare-and-set: a second mover from the same place loses */
	assert_int_equal(store_webhook_done(st, id2, at, at + 5, 1, "HTTP 200"), 1);
	assert_int_equal(store_webhook_done(st, id2, at, at + 5, 1, "HTTP 200"), 0);
	assert_int_equal(store_webhook_done(st, id2, at + 5, at + 6, 0, "gave up"), 1);
	assert_int_equal(store_webhook_done(st, id2, at + 6, at + 7, -1, NULL), 1);
	o = store_webhooks(st, "cust", false);
	h = json_array_get(o, 0);
	assert_int_equal(json_integer_value(json_object_get(h, "delivered")), 1);
	assert_int_equal(json_integer_value(json_object_get(h, "failed")), 1);
	assert_int_equal(json_integer_value(json_object_get(h, "last_event")), at + 7);
	assert_string_equal(json_string_value(json_object_get(h, "last_status")), "gave up");
	json_decref(o);
	/* a customer deletes only their own; an administrator any */
	assert_int_equal(store_webhook_delete(st, id, "cust", &e), -ENOENT);
	err_free(&e);
	assert_int_equal(store_webhook_delete(st, id2, "cust", NULL), 0);
	assert_int_equal(store_webhook_delete(st, id, NULL, NULL), 0);
	assert_int_equal(store_webhook_delete(st, id, NULL, &e), -ENOENT);
	err_free(&e);
}

static void pools_and_snapshots(void **state)
{
	struct store *st = *state;
	struct err *e = NULL;
	struct vps v;
	json_t *o;
	char *p;

	assert_int_equal(store_pool_add(st, "fast", "/srv/fast", true, 1, NULL), 0);
	assert_int_equal(store_pool_add(st, "fast", "/srv/other", false, 2, &e), -EEXIST);
	assert_non_null(strstr(err_msg(e), "a pool named `fast` exists"));
	err_free(&e);
	assert_int_equal(store_pool_add(st, "slow", "/srv/fast", false, 2, &e), -EEXIST);
	assert_non_null(strstr(err_msg(e), "`/srv/fast` is another pool's"));
	err_free(&e);
	make_vps(&v, "p1", "admin", GIB);
	assert_int_equal(store_vps_insert(st, &v, NULL, NULL), 0);
	assert_null(store_vps_pool(st, "p1")); /* the default pool: no row */
	assert_null(store_vps_plan_of(st, "p1")); /* on no plan */
	assert_int_equal(store_vps_pool_set(st, "p1", "fast", NULL), 0);
	p = store_vps_pool(st, "p1");
	assert_string_equal(p, "fast");
	free(p);
	o = store_pools(st);
	assert_int_equal(json_array_size(o), 1);
	assert_true(json_is_true(json_object_get(json_array_get(o, 0), "reflink")));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(o, 0), "vps")), 1);
	assert_null(json_object_get(json_array_get(o, 0), "vlan")); /* none: no field */
	assert_null(json_object_get(json_array_get(o, 0), "parent"));
	json_decref(o);
	vlan_round_trip(st);
	assert_int_equal(store_pool_delete(st, "fast", &e), -EBUSY);
	err_free(&e);

	assert_int_equal(store_snapshot_add(st, "p1", "s1", 10, "{\"disk\": 5}", 100, NULL), 0);
	assert_int_equal(store_snapshot_add(st, "p1", "s1", 11, "{}", 1, &e), -EEXIST);
	err_free(&e);
	assert_int_equal(store_snapshot_add(st, "nosuch", "s1", 11, "{}", 1, &e), -ENOENT);
	err_free(&e);
	assert_int_equal(store_snapshot_add(st, "p1", "s2", 12, "{}", 1, NULL), 0);
	o = store_snapshots(st, "p1");
	assert_int_equal(json_array_size(o), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(o, 0), "name")), "s1");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_array_get(o, 0), "settings"), "disk")),
			 5);
	json_decref(o);
	assert_int_equal(store_snapshot_delete(st, "p1", "s1", NULL), 0);
	assert_int_equal(store_snapshot_delete(st, "p1", "s1", &e), -ENOENT);
	err_free(&e);
	/* a plan names the pool: kept with it, read back, and the pool stays while it does */
	o = json_pack("{s:s, s:I, s:I, s:f, s:I, s:s}", "name", "inpool", "ram", (json_int_t)GIB,
		      "swap", (json_int_t)0, "cpus", 1.0, "disk", (json_int_t)GIB, "pool", "fast");
	assert_int_equal(store_plan_put(st, o, NULL), 0);
	json_decref(o);
	o = store_plan_get(st, "inpool");
	assert_string_equal(json_string_value(json_object_get(o, "pool")), "fast");
	json_decref(o);
	o = json_pack("{s:s, s:I, s:I, s:f, s:I, s:s}", "name", "bad", "ram", (json_int_t)GIB,
		      "swap", (json_int_t)0, "cpus", 1.0, "disk", (json_int_t)GIB, "pool",
		      "nosuch");
	assert_int_not_equal(store_plan_put(st, o, &e), 0); /* the foreign key */
	err_free(&e);
	json_decref(o);
	/* the VPS gone: its pool row and snapshots with it */
	assert_int_equal(store_vps_delete(st, "p1", NULL), 0);
	o = store_snapshots(st, "p1");
	assert_int_equal(json_array_size(o), 0);
	json_decref(o);
	assert_int_equal(store_pool_delete(st, "fast", &e), -EBUSY); /* the plan still names it */
	assert_non_null(strstr(err_msg(e), "a plan names it"));
	err_free(&e);
	assert_int_equal(store_plan_delete(st, "inpool", NULL), 0);
	assert_int_equal(store_pool_delete(st, "fast", NULL), 0);
	assert_int_equal(store_pool_delete(st, "fast", &e), -ENOENT);
	err_free(&e);
	vps_free(&v);
}

/*
 * Traffic per VPS and month: bytes add up (beyond 32 bits), months apart,
 * the plan's allowance read back with the row, the action recorded once,
 * rows gone with their VPS, no row for a VPS that is not there; and the
 * firewall's document, which goes with its VPS too.
 */
static void traffic_months(void **state)
{
	struct store *st = *state;
	json_t *plan, *row = NULL, *o;
	struct vps v;
	char *fw;

	plan = json_pack("{s:s, s:I, s:I, s:f, s:I, s:{s:I, s:s, s:I}}", "name", "tp", "ram",
			 (json_int_t)GIB, "swap", (json_int_t)0, "cpus", 1.0, "disk",
			 (json_int_t)GIB, "traffic", "allowance", (json_int_t)5000000000LL,
			 "action", "throttle", "bw", (json_int_t)1000000);
	assert_int_equal(store_plan_put(st, plan, NULL), 0);
	json_decref(plan);
	plan = store_plan_get(st, "tp");
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(plan, "traffic"), "allowance")),
		5000000000LL);
	json_decref(plan);
	make_vps(&v, "t1", "admin", GIB);
	assert_int_equal(store_vps_insert(st, &v, "tp", NULL), 0);
	{ /* the plan it is on, as a clone asks (clone.c); none: NULL */
		char *pn = store_vps_plan_of(st, "t1");

		assert_string_equal(pn, "tp");
		free(pn);
		assert_null(store_vps_plan_of(st, "nosuch"));
	}
	assert_int_equal(store_traffic_add(st, "t1", "2026-11", 4000000000LL, 10, &row), 0);
	json_decref(row);
	assert_int_equal(store_traffic_add(st, "t1", "2026-11", 1000000000LL, 5, &row), 0);
	assert_int_equal(json_integer_value(json_object_get(row, "rx")), 5000000000LL);
	assert_int_equal(json_integer_value(json_object_get(row, "tx")), 15);
	assert_string_equal(json_string_value(json_object_get(row, "action")), "");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(row, "plan"), "action")),
		"throttle");
	json_decref(row);
	assert_int_equal(store_traffic_add(st, "t1", "2026-12", 7, 8, &row), 0);
	json_decref(row);
	assert_int_equal(store_traffic_action(st, "t1", "2026-11", "throttle"), 1);
	assert_int_equal(store_traffic_action(st, "t1", "2026-11", "throttle"), 0); /* once */
	o = store_traffic(st, "t1", NULL);
	assert_int_equal(json_array_size(o), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(o, 0), "month")),
			    "2026-12"); /* newest first */
	assert_string_equal(json_string_value(json_object_get(json_array_get(o, 1), "action")),
			    "throttle");
	json_decref(o);
	o = store_traffic(st, NULL, "2026-12");
	assert_int_equal(json_array_size(o), 1);
	json_decref(o);
	assert_true(store_traffic_add(st, "nosuch", "2026-12", 1, 1, &row) < 0);
	assert_null(row);
	/* the firewall document: one a VPS, replaced, gone with the VPS */
	assert_null(store_firewall_get(st, "t1"));
	assert_int_equal(store_firewall_put(st, "t1", "{\"rules\": []}", NULL), 0);
	assert_int_equal(store_firewall_put(st, "t1", "{\"policy_in\": \"drop\"}", NULL), 0);
	fw = store_firewall_get(st, "t1");
	assert_string_equal(fw, "{\"policy_in\": \"drop\"}");
	free(fw);
	assert_int_equal(store_firewall_put(st, "nosuch", "{}", NULL), -ENOENT);
	assert_int_equal(store_vps_delete(st, "t1", NULL), 0);
	o = store_traffic(st, "t1", NULL);
	assert_int_equal(json_array_size(o), 0);
	json_decref(o);
	assert_null(store_firewall_get(st, "t1"));
	vps_free(&v);
}

/*
 * The host's settings (issue 23): none set at first; a seed writes only
 * what nobody set, a put replaces, each write with its `setting` event;
 * another handle (a second node) reads what the first wrote.
 */
static void settings_seed_and_put(void **state)
{
	struct store *st = *state, *again;
	json_t *o, *ev, *x = json_pack("{s:s}", "require_2fa", "admins");
	struct err *e = NULL;
	size_t n0;

	o = store_settings(st);
	assert_non_null(o);
	assert_int_equal(json_object_size(o), 0);
	json_decref(o);
	ev = store_events(st, NULL, NULL, 0, 1000);
	n0 = json_array_size(ev);
	json_decref(ev);
	assert_int_equal(store_settings_put(st, x, true, "vpsd --require-2fa", &e), 1);
	json_object_set_new(x, "require_2fa", json_string("all"));
	/* seeded already: a second seed writes nothing, and logs nothing */
	assert_int_equal(store_settings_put(st, x, true, "vpsd --require-2fa", &e), 0);
	o = store_settings(st);
	assert_string_equal(json_string_value(json_object_get(o, "require_2fa")), "admins");
	json_decref(o);
	assert_int_equal(store_settings_put(st, x, false, NULL, &e), 1);
	again = open_again(st);
	o = store_settings(again);
	assert_string_equal(json_string_value(json_object_get(o, "require_2fa")), "all");
	json_decref(o);
	store_close(again);
	ev = store_events(st, NULL, NULL, 0, 1000);
	assert_int_equal(json_array_size(ev), n0 + 2);
	o = json_array_get(ev, json_array_size(ev) - 2);
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "setting");
	assert_string_equal(json_string_value(json_object_get(o, "message")),
			    "require_2fa admins (vpsd --require-2fa)");
	o = json_array_get(ev, json_array_size(ev) - 1);
	assert_string_equal(json_string_value(json_object_get(o, "message")), "require_2fa all");
	json_decref(ev);
	json_decref(x);
}

/* The schema is at its last version; a database newer than this vpsd knows is refused. */
static void schema_version(void **state)
{
	struct store *st = *state, *again = NULL;
	bool sqlite = !strcmp(store_backend(st), "sqlite");
	struct err *e = NULL;
	int v = store_schema_version(st);

	assert_int_equal(v, sqlite ? 19 : 15);
	again = open_again(st); /* opened again: nothing to migrate, same version */
	assert_int_equal(store_schema_version(again), v);
	store_close(again);
	behind(st, sqlite ? "PRAGMA user_version = 99" : "UPDATE vps_schema SET version = 99");
	again = NULL;
	assert_int_equal(sqlite ? store_open(db_path, &again, &e) :
				  store_open_cluster(getenv("VPS_TEST_PG"), "n3", &again, &e),
			 -EPROTO);
	assert_null(again);
	assert_non_null(strstr(err_msg(e), "newer than this vpsd knows"));
	err_free(&e);
}

/* Two nodes started at once on an empty database: the schema is made once, both open. */
struct opener {
	const char *node;
	pthread_barrier_t *go;
	struct store *st;
	int r;
};

static void *open_node(void *arg)
{
	struct opener *o = arg;

	pthread_barrier_wait(o->go);
	o->r = store_open_cluster(getenv("VPS_TEST_PG"), o->node, &o->st, NULL);
	return NULL;
}

static void nodes_migrate_once(void **state)
{
	struct opener o[4] = {
		{ .node = "m1" }, { .node = "m2" }, { .node = "m3" }, { .node = "m4" }
	};
	pthread_barrier_t go;
	pthread_t t[4];

	/* the setup's store made the schema: start again from an empty one */
	behind(*state, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	pthread_barrier_init(&go, NULL, 4);
	for (int i = 0; i < 4; i++) {
		o[i].go = &go;
		assert_int_equal(pthread_create(&t[i], NULL, open_node, &o[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(o[i].r, 0);
		assert_int_equal(store_schema_version(o[i].st), 15);
		store_close(o[i].st);
	}
}

static const char *node_field(json_t *list, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(list, i), key));
}

/*
 * Nodes: the first one of an empty table joins freely; a stranger needs a
 * join token, unknown, expired and used ones are refused with nothing
 * written, a good one is used up; a member comes back without one. SQLite:
 * one row, the host, and no tokens.
 */
static void nodes_and_join_tokens(void **state)
{
	struct store *st = *state;
	bool sqlite = !strcmp(store_backend(st), "sqlite");
	struct store_node a = { "n1", "http://a:1", 2, 1ULL << 30, 10ULL << 30 };
	struct store_node b = { "n9", "http://b:2", 4, 2ULL << 30, 20ULL << 30 };
	struct store_node c = { "n7", "", 1, 1ULL << 30, 1ULL << 30 };
	struct err *e = NULL;
	json_t *l;

	assert_int_equal(store_node_join(st, &a, NULL, 1000, &e), 0);
	l = store_nodes(st);
	assert_int_equal(json_array_size(l), 1);
	assert_string_equal(node_field(l, 0, "name"), "n1");
	assert_string_equal(node_field(l, 0, "state"), "online");
	assert_string_equal(node_field(l, 0, "address"), "http://a:1");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(l, 0), "ram")),
			 1LL << 30);
	json_decref(l);
	if (sqlite) {
		/* one host: a new name replaces the row, no token is asked or made */
		assert_int_equal(store_node_join(st, &b, NULL, 1001, &e), 0);
		l = store_nodes(st);
		assert_int_equal(json_array_size(l), 1);
		assert_string_equal(node_field(l, 0, "name"), "n9");
		json_decref(l);
		assert_int_equal(store_join_token_insert(st, "h1", NULL, 1000, 1100, &e),
				 -EOPNOTSUPP);
		err_free(&e);
		return;
	}
	assert_int_equal(store_node_join(st, &b, NULL, 1001, &e), -EACCES);
	assert_non_null(strstr(err_msg(e), "--join TOKEN"));
	err_free(&e);
	assert_int_equal(store_node_join(st, &b, "no-such-hash", 1001, &e), -EACCES);
	err_free(&e);
	assert_int_equal(store_join_token_insert(st, "h1", NULL, 1000, 1100, &e), 0);
	assert_int_equal(store_join_token_insert(st, "h2", NULL, 1000, 1005, &e), 0);
	assert_int_equal(store_join_token_insert(st, "h3", "n8", 1000, 1100, &e), 0);
	assert_int_equal(store_join_token_insert(st, "h1", NULL, 1000, 1100, &e), -EEXIST);
	err_free(&e);
	assert_int_equal(store_node_join(st, &b, "h3", 1001, &e), -EACCES); /* for n8 only */
	err_free(&e);
	assert_int_equal(store_node_join(st, &b, "h2", 1006, &e), -EACCES); /* expired */
	assert_non_null(strstr(err_msg(e), "not valid"));
	err_free(&e);
	l = store_nodes(st);
	assert_int_equal(json_array_size(l), 1); /* nothing written by the refusals */
	json_decref(l);
	assert_int_equal(store_node_join(st, &b, "h1", 1010, &e), 0);
	assert_int_equal(store_node_join(st, &c, "h1", 1011, &e), -EACCES); /* used */
	err_free(&e);
	assert_int_equal(store_node_join(st, &b, NULL, 1012, &e), 0); /* a member again */
	assert_int_equal(store_node_heartbeat(st, "n9", "offline", 1020, &e), 0);
	assert_int_equal(store_node_heartbeat(st, "nosuch", "online", 1020, &e), -ENOENT);
	err_free(&e);
	l = store_nodes(st);
	assert_int_equal(json_array_size(l), 2);
	assert_string_equal(node_field(l, 1, "name"), "n9");
	assert_string_equal(node_field(l, 1, "state"), "offline");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(l, 1), "heartbeat")),
			 1020);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(l, 1), "joined")), 1010);
	json_decref(l);
}

/*
 * A node out (vps node rm): refused while a VPS row names it (however
 * fresh_after says) and while its heartbeat is fresh, nothing written
 * then; once offline, gone, and back only with a new token. SQLite: the
 * one row is the host, never removed.
 */
static void node_removal(void **state)
{
	struct store *st = *state;
	struct store_node a = { "n1", "http://a:1", 2, 1ULL << 30, 10ULL << 30 };
	struct store_node b = { "n9", "http://b:2", 4, 2ULL << 30, 20ULL << 30 };
	struct err *e = NULL;
	struct vps v;
	json_t *l;

	assert_int_equal(store_node_join(st, &a, NULL, 1000, &e), 0);
	if (!strcmp(store_backend(st), "sqlite")) {
		assert_int_equal(store_node_remove(st, "n1", -1, &e), -EBUSY);
		err_free(&e);
		l = store_nodes(st);
		assert_int_equal(json_array_size(l), 1);
		json_decref(l);
		return;
	}
	assert_int_equal(store_join_token_insert(st, "h1", NULL, 1000, 1100, &e), 0);
	assert_int_equal(store_node_join(st, &b, "h1", 1010, &e), 0);
	make_vps(&v, "r1", "admin", GIB);
	assert_int_equal(store_vps_insert(st, &v, NULL, NULL), 0);
	vps_free(&v);
	assert_int_equal(store_vps_move(st, "r1", "n1", "n9", &e), 0);
	assert_int_equal(store_node_remove(st, "n9", -1, &e), -EBUSY);
	assert_non_null(strstr(err_msg(e), "holds 1 VPS record:"));
	assert_non_null(strstr(err_msg(e), "vps node evacuate n9"));
	err_free(&e);
	assert_int_equal(store_node_remove(st, "nosuch", -1, &e), -ENOENT);
	err_free(&e);
	assert_int_equal(store_vps_move(st, "r1", "n9", "n1", &e), 0);
	assert_int_equal(store_node_remove(st, "n9", 1005, &e), -EBUSY); /* beat 1010: fresh */
	assert_non_null(strstr(err_msg(e), "is online"));
	err_free(&e);
	l = store_nodes(st);
	assert_int_equal(json_array_size(l), 2); /* nothing written by the refusals */
	json_decref(l);
	assert_int_equal(store_node_heartbeat(st, "n9", "offline", 1020, &e), 0);
	assert_int_equal(store_node_remove(st, "n9", 1005, &e), 0); /* stopped cleanly */
	l = store_nodes(st);
	assert_int_equal(json_array_size(l), 1);
	assert_string_equal(node_field(l, 0, "name"), "n1");
	json_decref(l);
	assert_int_equal(store_node_heartbeat(st, "n9", "online", 1030, &e), -ENOENT);
	err_free(&e);
	assert_int_equal(store_node_join(st, &b, NULL, 1040, &e), -EACCES); /* a stranger now */
	err_free(&e);
	assert_int_equal(store_node_join(st, &b, "h1", 1040, &e), -EACCES); /* its token spent */
	err_free(&e);
}

/* Each case on each backend: "sqlite: name" and "postgresql: name". */
#define SQ(fn)                                                   \
	{                                                        \
		"sqlite: " #fn, fn, setup_sqlite, teardown, NULL \
	}
#define PG(fn)                                                   \
	{                                                        \
		"postgresql: " #fn, fn, setup_pg, teardown, NULL \
	}
#define BOTH(fn) SQ(fn), PG(fn)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(state_names_round_trip),
		BOTH(state_is_stored_by_name),
		BOTH(vps_pages),
		BOTH(features_and_io_limits),
		BOTH(plan_backup_schedules),
		BOTH(admission_decides_the_write),
		BOTH(sums_and_admission_rows),
		BOTH(users_sessions_tokens),
		BOTH(two_factor_and_quota),
		BOTH(operations),
		BOTH(samples_are_bounded),
		BOTH(admission_across_handles),
		BOTH(hostile_values),
		BOTH(keys_and_references),
		BOTH(pools_and_snapshots),
		BOTH(webhooks),
		BOTH(history_consolidates),
		BOTH(traffic_months),
		BOTH(settings_seed_and_put),
		PG(connection_comes_back),
		BOTH(schema_version),
		PG(nodes_migrate_once),
		BOTH(nodes_and_join_tokens),
		BOTH(node_removal),
	};
	struct CMUnitTest run[sizeof(tests) / sizeof(tests[0])];
	bool pg = getenv("VPS_TEST_PG") && *getenv("VPS_TEST_PG");
	size_t n = 0;

	/* no server (pg.py found none to start): the PostgreSQL cases are left out, and said so */
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (pg || tests[i].setup_func != setup_pg)
			run[n++] = tests[i];
	if (!pg)
		fprintf(stderr, "VPS_TEST_PG unset: the PostgreSQL cases are not run\n");
	return _cmocka_run_group_tests("tests", run, n, NULL, NULL);
}
