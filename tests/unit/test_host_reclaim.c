// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Balloon reclaim (src/host/reclaim.c): the arithmetic of reclaim_plan(),
 * the --reclaim-below syntax, and reclaim_tick() over a real store with a
 * fake VM kind that records the targets it is given and can refuse them.
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

#include "host/reclaim.h"
#include "host/store.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static struct reclaim_cfg cfg(void)
{
	struct reclaim_cfg c;

	reclaim_cfg_init(&c, 0, 1 * GIB); /* low 1 GiB, high 1.5 GiB */
	return c;
}

static void defaults_are_ten_percent_and_half_again(void **state)
{
	struct reclaim_cfg c;

	(void)state;
	reclaim_cfg_init(&c, 20 * GIB, 0);
	assert_int_equal(c.low, 2 * GIB);
	assert_int_equal(c.high, 3 * GIB);
	assert_int_equal(c.floor_pct, 50);
	assert_int_equal(c.floor_min, 128 * MIB);
}

static void floor_is_half_but_at_least_128m_and_at_most_ram(void **state)
{
	struct reclaim_cfg c = cfg();

	(void)state;
	assert_int_equal(reclaim_floor(&c, 1 * GIB), 512 * MIB);
	assert_int_equal(reclaim_floor(&c, 200 * MIB), 128 * MIB);
	assert_int_equal(reclaim_floor(&c, 100 * MIB), 100 * MIB);
	assert_int_equal(reclaim_floor(&c, 8 * GIB), 4 * GIB);
}

static void below_low_takes_up_to_high_in_proportion_to_room(void **state)
{
	struct reclaim_cfg c = cfg();
	struct reclaim_vm vm[] = { { 1 * GIB, 1 * GIB }, { 512 * MIB, 512 * MIB } };
	uint64_t to[2];

	(void)state;
	/* want 1.5 GiB - 900 MiB = 636 MiB; rooms 512 and 256 MiB (768): 2/3 and 1/3 */
	assert_int_equal(reclaim_plan(&c, 900 * MIB, vm, 2, to), 2);
	assert_int_equal(to[0], 1 * GIB - 424 * MIB);
	assert_int_equal(to[1], 512 * MIB - 212 * MIB);
	/* never below the floors, whatever is wanted */
	assert_int_equal(reclaim_plan(&c, 10 * MIB, vm, 2, to), 2);
	assert_int_equal(to[0], 512 * MIB);
	assert_int_equal(to[1], 256 * MIB);
}

static void between_low_and_high_nothing_moves(void **state)
{
	struct reclaim_cfg c = cfg();
	struct reclaim_vm vm[] = { { 1 * GIB, 700 * MIB }, { 512 * MIB, 512 * MIB } };
	uint64_t to[2];

	(void)state;
	assert_int_equal(reclaim_plan(&c, 1 * GIB, vm, 2, to), 0);
	assert_int_equal(reclaim_plan(&c, 1536 * MIB, vm, 2, to), 0);
	assert_int_equal(to[0], 700 * MIB);
	assert_int_equal(to[1], 512 * MIB);
}

static void above_high_gives_back_in_proportion_to_what_was_taken(void **state)
{
	struct reclaim_cfg c = cfg();
	struct reclaim_vm vm[] = { { 1 * GIB, 624 * MIB }, { 512 * MIB, 312 * MIB } };
	uint64_t to[2];

	(void)state;
	/* spare 2 GiB - 1.5 GiB = 512 MiB; owed 400 and 200 MiB (600) */
	assert_int_equal(reclaim_plan(&c, 2 * GIB, vm, 2, to), 2);
	assert_int_equal(to[0], 624 * MIB + 341 * MIB);
	assert_int_equal(to[1], 312 * MIB + 170 * MIB);
	/* enough spare: all of it back */
	assert_int_equal(reclaim_plan(&c, 4 * GIB, vm, 2, to), 2);
	assert_int_equal(to[0], 1 * GIB);
	assert_int_equal(to[1], 512 * MIB);
}

static void small_and_odd_vms(void **state)
{
	struct reclaim_cfg c = cfg();
	/* 100 MiB: its floor is its RAM; a target above RAM (plan shrank) comes back */
	struct reclaim_vm vm[] = { { 100 * MIB, 100 * MIB }, { 300 * MIB, 400 * MIB } };
	uint64_t to[2];

	(void)state;
	assert_int_equal(reclaim_plan(&c, 0, vm, 2, to), 1);
	assert_int_equal(to[0], 100 * MIB);
	assert_int_equal(to[1], 150 * MIB);
	assert_int_equal(reclaim_plan(&c, 1200 * MIB, vm, 2, to), 1);
	assert_int_equal(to[1], 300 * MIB);
	/* nothing to take from: no division by zero, nothing moves */
	assert_int_equal(reclaim_plan(&c, 0, vm, 1, to), 0);
	assert_int_equal(reclaim_plan(&c, 0, vm, 0, to), 0);
}

static void parse_below(void **state)
{
	struct err *e = NULL;
	uint64_t x;

	(void)state;
	assert_int_equal(reclaim_parse_below("512M", 10 * GIB, &x, &e), 0);
	assert_int_equal(x, 512 * MIB);
	assert_int_equal(reclaim_parse_below("25%", 10 * GIB, &x, &e), 0);
	assert_int_equal(x, 10 * GIB / 4);
	assert_int_equal(reclaim_parse_below("off", 10 * GIB, &x, &e), 0);
	assert_int_equal(x, 0);
	assert_true(reclaim_parse_below("lots", 10 * GIB, &x, &e) < 0);
	assert_non_null(strstr(err_msg(e), "--reclaim-below: `lots`"));
	err_free(&e);
	assert_true(reclaim_parse_below("150%", 10 * GIB, &x, &e) < 0);
	err_free(&e);
	assert_true(reclaim_parse_below("0", 10 * GIB, &x, &e) < 0);
	err_free(&e);
}

/* --- reclaim_tick over a store, with a fake kind ----------------------------------- */

/* vpsd's main.c defines these; the kinds in the library refer to them */
char *host_vps_dir(const struct host *h, const char *name, const char *leaf)
{
	(void)h, (void)name, (void)leaf;
	return NULL;
}

char *host_vps_run(const struct host *h, const char *name, const char *leaf)
{
	(void)h, (void)name, (void)leaf;
	return NULL;
}

char *host_bin(const struct host *h, const char *prog)
{
	(void)h, (void)prog;
	return NULL;
}

char *host_vps_disks(const struct host *h, const char *name, const char *leaf)
{
	(void)h, (void)name, (void)leaf;
	return NULL;
}

char *host_pool_path(const struct host *h, const char *pool)
{
	(void)h, (void)pool;
	return NULL;
}

static struct {
	char name[8][40];
	uint64_t target[8];
	int n;
	const char *refuse; /* this VM's reclaim fails */
} calls;

static int fake_reclaim(struct host *h, const struct vps *v, uint64_t target, struct err **err)
{
	(void)h;
	if (calls.refuse && !strcmp(v->name, calls.refuse))
		return err_make(err, EIO, "balloon: no answer");
	assert_true(calls.n < 8);
	snprintf(calls.name[calls.n], sizeof(calls.name[0]), "%s", v->name);
	calls.target[calls.n++] = target;
	return 0;
}

static const struct kind_ops fake_vm = { .kind = VPS_VM,
					 .engine = VPS_VMM,
					 .reclaim = fake_reclaim };
static const struct kind_ops fake_ct = { .kind = VPS_CT, .engine = VPS_CTM };

static const struct kind_ops *fake_find(enum vps_kind kind, enum vps_engine engine)
{
	(void)engine;
	return kind == VPS_VM ? &fake_vm : &fake_ct;
}

static uint64_t call_for(const char *name)
{
	for (int i = 0; i < calls.n; i++)
		if (!strcmp(calls.name[i], name))
			return calls.target[i];
	return 0;
}

static void tick(struct host *h, uint64_t avail)
{
	const char *refuse = calls.refuse;

	memset(&calls, 0, sizeof(calls));
	calls.refuse = refuse;
	reclaim_tick(h, avail, fake_find);
}

static void add(struct store *s, const char *name, const char *kind, uint64_t ram,
		enum vps_state state)
{
	struct err *e = NULL;
	struct vps v;

	vps_init(&v);
	snprintf(v.name, sizeof(v.name), "%s", name);
	assert_int_equal(vps_kind_parse(kind, &v.kind), 0);
	v.engine = v.kind == VPS_VM ? VPS_VMM : VPS_CTM;
	if (!strcmp(kind, "vm"))
		strcpy(v.boot, "linux");
	v.ram = ram;
	v.disk = 1 * GIB;
	v.cpus = 1;
	if (store_vps_insert(s, &v, NULL, &e) < 0)
		fail_msg("insert %s: %s", name, err_msg(e));
	if (store_vps_state(s, name, state, "test", &e) < 0)
		fail_msg("state %s: %s", name, err_msg(e));
	vps_free(&v);
}

/* The last event of `name` of kind `kind`, or NULL; caller frees. */
static char *last_event(struct store *s, const char *name, const char *kind)
{
	json_t *a = store_events(s, name, NULL, 0, 1000), *ev;
	char *msg = NULL;
	size_t i;

	json_array_foreach(a, i, ev)
	{
		if (strcmp(json_string_value(json_object_get(ev, "kind")), kind))
			continue;
		free(msg);
		msg = strdup(json_string_value(json_object_get(ev, "message")));
	}
	json_decref(a);
	return msg;
}

static void set_memory_policy(struct store *s, const char *mode)
{
	json_t *p = !strcmp(mode, "reserve") ?
			    json_pack("{s:{s:s, s:f}}", "memory", "mode", mode, "ratio", 1.0) :
			    json_pack("{s:{s:s, s:f}}", "memory", "mode", mode, "ratio", 2.0);
	struct err *e = NULL;

	if (store_policies_put(s, p, &e) < 0)
		fail_msg("policy: %s", err_msg(e));
	json_decref(p);
}

static void tick_over_the_store(void **state)
{
	char db[] = "/tmp/test_host_reclaim.XXXXXX";
	struct reclaim_cfg c = cfg();
	struct host h = { 0 };
	struct err *e = NULL;
	unsigned int nr;
	char *ev;
	int fd = mkstemp(db);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	unlink(db);
	if (store_open(db, &h.store, &e) < 0)
		fail_msg("store: %s", err_msg(e));
	add(h.store, "web1", "vm", 1 * GIB, VPS_RUNNING);
	add(h.store, "web2", "vm", 512 * MIB, VPS_RUNNING);
	add(h.store, "idle", "vm", 2 * GIB, VPS_STOPPED);
	add(h.store, "ct1", "ct", 1 * GIB, VPS_RUNNING);
	reclaim_set_config(&c);

	/* memory `reserve` (the default): nothing is taken, even when short */
	tick(&h, 100 * MIB);
	assert_int_equal(call_for("web1"), 1 * GIB); /* the first pass re-sends full RAM */
	assert_int_equal(calls.n, 2);
	tick(&h, 100 * MIB);
	assert_int_equal(calls.n, 0);
	assert_null(last_event(h.store, "web1", "reclaim"));

	set_memory_policy(h.store, "oversell");
	/* short: both running VMs give, in proportion; the stopped one and the ct do not */
	tick(&h, 900 * MIB);
	assert_int_equal(calls.n, 2);
	assert_int_equal(call_for("web1"), 600 * MIB);
	assert_int_equal(call_for("web2"), 300 * MIB);
	ev = last_event(h.store, "web1", "reclaim");
	assert_string_equal(ev, "balloon 1.0 GiB → 600 MiB: host MemAvailable 900 MiB, "
				"under 1.0 GiB");
	free(ev);
	assert_int_equal(reclaim_taken(&nr), 424 * MIB + 212 * MIB);
	assert_int_equal(nr, 2);
	/* the guests get time to inflate before the next decision */
	for (int i = 0; i < RECLAIM_SETTLE_TICKS; i++) {
		tick(&h, 900 * MIB);
		assert_int_equal(calls.n, 0);
	}
	tick(&h, 900 * MIB);
	assert_int_equal(call_for("web1"), 512 * MIB); /* the floors */
	assert_int_equal(call_for("web2"), 256 * MIB);

	/* between the thresholds: nothing moves, however long */
	for (int i = 0; i < 5; i++) {
		tick(&h, 1200 * MIB);
		assert_int_equal(calls.n, 0);
	}
	/* recovered: all back at once, since the spare covers it */
	tick(&h, 3 * GIB);
	assert_int_equal(call_for("web1"), 1 * GIB);
	assert_int_equal(call_for("web2"), 512 * MIB);
	ev = last_event(h.store, "web2", "reclaim");
	assert_string_equal(ev, "balloon 256 MiB → 512 MiB: host MemAvailable 3.0 GiB, "
				"over 1.5 GiB");
	free(ev);
	assert_int_equal(reclaim_taken(&nr), 0);

	/* a VM whose monitor refuses gets one event and is left alone until it stops */
	for (int i = 0; i <= RECLAIM_SETTLE_TICKS; i++)
		tick(&h, 3 * GIB);
	calls.refuse = "web2";
	tick(&h, 900 * MIB);
	assert_int_equal(calls.n, 1);
	ev = last_event(h.store, "web2", "reclaim-failed");
	assert_non_null(ev);
	assert_non_null(strstr(ev, "balloon: no answer"));
	free(ev);
	calls.refuse = NULL;
	for (int i = 0; i <= RECLAIM_SETTLE_TICKS; i++)
		tick(&h, 100 * MIB);
	assert_int_equal(call_for("web2"), 0);
	assert_int_equal(call_for("web1"), 512 * MIB);

	/* a stopped VM drops out; back to reserve, what was taken goes back */
	assert_int_equal(store_vps_state(h.store, "web2", VPS_STOPPED, "test", NULL), 0);
	set_memory_policy(h.store, "reserve");
	tick(&h, 100 * MIB);
	assert_int_equal(calls.n, 1);
	assert_int_equal(call_for("web1"), 1 * GIB);
	ev = last_event(h.store, "web1", "reclaim");
	assert_string_equal(ev, "balloon 512 MiB → 1.0 GiB: the memory policy is reserve");
	free(ev);

	store_close(h.store);
	unlink(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_are_ten_percent_and_half_again),
		cmocka_unit_test(floor_is_half_but_at_least_128m_and_at_most_ram),
		cmocka_unit_test(below_low_takes_up_to_high_in_proportion_to_room),
		cmocka_unit_test(between_low_and_high_nothing_moves),
		cmocka_unit_test(above_high_gives_back_in_proportion_to_what_was_taken),
		cmocka_unit_test(small_and_odd_vms),
		cmocka_unit_test(parse_below),
		cmocka_unit_test(tick_over_the_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
