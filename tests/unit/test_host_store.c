// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The store's interface (src/host/store.h), driven through store_* only,
 * against the SQLite backend in a temporary file: what any backend must
 * answer (a second one can run these same cases). Also the VPS state's
 * one table of names (vps.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/store.h"

#define GIB (1ULL << 30)

static char db_path[64];

static int setup(void **state)
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

static int teardown(void **state)
{
	char path[80];

	store_close(*state);
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
	snprintf(v->name, sizeof(v->name), "%s", name);
	snprintf(v->owner, sizeof(v->owner), "%s", owner);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(state_names_round_trip),
		cmocka_unit_test_setup_teardown(state_is_stored_by_name, setup, teardown),
		cmocka_unit_test_setup_teardown(admission_decides_the_write, setup, teardown),
		cmocka_unit_test_setup_teardown(users_sessions_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(operations, setup, teardown),
		cmocka_unit_test_setup_teardown(samples_are_bounded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
