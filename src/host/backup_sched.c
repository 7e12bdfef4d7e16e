// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Backup schedules and retention (backup.h, docs/backups.md). A VPS's
 * schedule is a file in its own directory, DATA/vps/NAME/backup-schedule.json
 * (it goes with the VPS), holding the rule and when it is next due. vpsd's
 * timer thread looks each second for a due one and runs it: the next time
 * is written first (a crash does not run it again and again), then the
 * backup, then restic's retention. One backup at a time, and a daily time
 * spread over BACKUP_JITTER_S by the VPS's name, so a host does not start
 * them all at once.
 *
 * A plan may carry a rule of the same shape (plans.backup, store.h): it
 * applies to each VPS on that plan that has no schedule of its own, with
 * the same jitter; that VPS's next due time is kept beside it, in
 * DATA/vps/NAME/backup-plan.json with the rule it was worked out from, so
 * a changed plan starts afresh and a VPS's own schedule always wins.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "host/backup.h"

#define EVERY_MIN_ADMIN 5 /* seconds: a test's schedule fires in seconds */
#define EVERY_MIN_CUSTOMER 3600
#define KEEP_MAX 1000
#define BUSY_RETRY_S 60 /* a due VPS that another operation holds */

static const char *const keeps[4] = { "keep_last", "keep_daily", "keep_weekly", "keep_monthly" };

static char *sched_path(struct host *h, const char *vps)
{
	return host_vps_dir(h, vps, "backup-schedule.json");
}

/* {"rule": the plan's rule, "next"}: a plan's schedule as it applies to this VPS */
static char *plan_state_path(struct host *h, const char *vps)
{
	return host_vps_dir(h, vps, "backup-plan.json");
}

/* The VPS's spread within the jitter window: the same every day. */
static long jitter(const char *vps)
{
	unsigned long x = 5381;

	for (; *vps; vps++)
		x = x * 33 + (unsigned char)*vps;
	return (long)(x % BACKUP_JITTER_S);
}

/* When the rule is next due after now. */
static long long next_due(json_t *s, const char *vps, long long now)
{
	const char *daily = json_string_value(json_object_get(s, "daily"));
	long long t;

	if (!daily)
		return now + json_integer_value(json_object_get(s, "every"));
	/* today at HH:MM UTC plus the spread, or tomorrow's once that has gone by */
	t = now - now % 86400 + (atoi(daily) * 60 + atoi(daily + 3)) * 60 + jitter(vps);
	return t > now ? t : t + 86400;
}

static int save(const char *path, json_t *s, struct err **err)
{
	_cleanup_free_ char *tmp = NULL;

	if (asprintf(&tmp, "%s.new", path) < 0)
		return err_make(err, ENOMEM, "schedule");
	if (json_dump_file(s, tmp, JSON_COMPACT | JSON_SORT_KEYS) < 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		return err_make(err, errno ? errno : EIO, "write `%s`", path);
	}
	return 0;
}

/* The plan's schedule of a VPS that has none of its own, with "from": "plan" and its next time. */
static int plan_schedule_get(struct host *h, const char *vps, json_t **out, struct err **err)
{
	_cleanup_free_ char *sp = plan_state_path(h, vps);
	json_t *all = store_plan_backups(h->store), *rule = json_object_get(all, vps), *st;
	long long next;

	if (!rule) {
		json_decref(all);
		return err_make(err, ENOENT, "`%s` has no backup schedule", vps);
	}
	st = sp ? json_load_file(sp, 0, NULL) : NULL;
	next = st && json_equal(json_object_get(st, "rule"), rule) ?
		       json_integer_value(json_object_get(st, "next")) :
		       next_due(rule, vps, time(NULL));
	*out = json_deep_copy(rule);
	json_object_set_new(*out, "from", json_string("plan"));
	json_object_set_new(*out, "next", json_integer(next));
	json_decref(st);
	json_decref(all);
	return 0;
}

int backup_schedule_get(struct host *h, const char *vps, json_t **out, struct err **err)
{
	_cleanup_free_ char *p = sched_path(h, vps);
	struct vps v;
	int r = store_vps_get(h->store, vps, &v, err);

	if (r < 0)
		return r;
	vps_free(&v);
	if (p && (*out = json_load_file(p, 0, NULL)))
		return 0;
	return plan_schedule_get(h, vps, out, err);
}

static bool hhmm_ok(const char *s)
{
	return s && strlen(s) == 5 && s[2] == ':' && strspn(s, "0123456789:") == 5 &&
	       atoi(s) < 24 && atoi(s + 3) < 60 && s[0] <= '2';
}

int backup_rule_parse(struct host *h, json_t *body, bool admin, const char *what, json_t **out,
		      struct err **err)
{
	json_t *daily = json_object_get(body, "daily"), *every = json_object_get(body, "every");
	json_t *repo = json_object_get(body, "repo"), *s, *repos, *x;
	long long min = admin ? EVERY_MIN_ADMIN : EVERY_MIN_CUSTOMER;
	const char *k;
	bool found = false;
	size_t i;

	if (!json_is_object(body))
		return err_make(err, EINVAL, "`%.*s`: expected an object", (int)strlen(what) - 1,
				what);
	json_object_foreach(body, k, x)
	{
		bool known = !strcmp(k, "repo") || !strcmp(k, "daily") || !strcmp(k, "every");

		for (i = 0; i < 4; i++)
			known |= !strcmp(k, keeps[i]);
		if (!known)
			return err_make(err, EINVAL,
					"`%s%.40s`: unknown field (repo, daily, every, keep_last, "
					"keep_daily, keep_weekly, keep_monthly)",
					what, k);
	}
	if (!daily == !every)
		return err_make(err, EINVAL,
				"give one of `%sdaily` (HH:MM, UTC) and `%severy` (seconds)", what,
				what);
	if (daily && !hhmm_ok(json_string_value(daily)))
		return err_make(err, EINVAL, "`%sdaily`: expected HH:MM (UTC), 00:00 to 23:59",
				what);
	if (every && (!json_is_integer(every) || json_integer_value(every) < min ||
		      json_integer_value(every) > 31 * 86400))
		return err_make(err, EINVAL, "`%severy`: expected %lld to %d seconds", what, min,
				31 * 86400);
	for (i = 0; i < 4; i++) {
		x = json_object_get(body, keeps[i]);
		if (x && (!json_is_integer(x) || json_integer_value(x) < 0 ||
			  json_integer_value(x) > KEEP_MAX))
			return err_make(err, EINVAL, "`%s%s`: expected 0 to %d", what, keeps[i],
					KEEP_MAX);
	}
	repos = backup_repos(h);
	json_array_foreach(repos, i, x) found |=
		repo ? json_equal(json_object_get(x, "name"), repo) : json_array_size(repos) == 1;
	if (!repo && json_array_size(repos) == 1)
		repo = json_object_get(json_array_get(repos, 0), "name");
	s = found ? json_pack("{s:O}", "repo", repo) : NULL;
	json_decref(repos);
	if (!s && repo)
		return err_make(err, EINVAL, "`%srepo`: no repository `%.40s` (vps repo list)",
				what, json_string_value(repo) ?: "");
	if (!s)
		return err_make(err, EINVAL,
				"`%srepo`: name one (the host has no single repository)", what);
	if (daily)
		json_object_set(s, "daily", daily);
	else
		json_object_set(s, "every", every);
	for (i = 0; i < 4; i++)
		json_object_set_new(
			s, keeps[i],
			json_integer(json_integer_value(json_object_get(body, keeps[i]))));
	*out = s;
	return 0;
}

int backup_schedule_put(struct host *h, const char *vps, json_t *body, bool admin, json_t **out,
			struct err **err)
{
	_cleanup_free_ char *p = sched_path(h, vps);
	const char *daily;
	struct vps v;
	json_t *s;
	int r;

	if ((r = store_vps_get(h->store, vps, &v, err)) < 0)
		return r;
	vps_free(&v);
	if ((r = backup_rule_parse(h, body, admin, "", &s, err)) < 0)
		return r;
	json_object_set_new(s, "next", json_integer(next_due(s, vps, time(NULL))));
	if (!p || (r = save(p, s, err)) < 0) {
		json_decref(s);
		return p ? r : err_make(err, ENOMEM, "schedule");
	}
	daily = json_string_value(json_object_get(s, "daily"));
	store_event(h->store, vps, "backup-schedule", daily ?: "every");
	*out = s;
	return 0;
}

int backup_schedule_rm(struct host *h, const char *vps, struct err **err)
{
	_cleanup_free_ char *p = sched_path(h, vps);
	struct vps v;
	int r = store_vps_get(h->store, vps, &v, err);

	if (r < 0)
		return r;
	vps_free(&v);
	if (!p || unlink(p) < 0)
		return err_make(err, ENOENT, "`%s` has no backup schedule of its own", vps);
	store_event(h->store, vps, "backup-schedule", "off");
	return 0;
}

/* --- the timer --------------------------------------------------------------------------- */

static struct {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started, stop;
} T = { .lock = PTHREAD_MUTEX_INITIALIZER };

/*
 * Run a due rule: st is what `path` holds (the rule itself for a VPS's own
 * schedule, {"rule", "next"} for its plan's), rule the rule in it.
 */
static void run_rule(struct host *h, const char *vps, const char *path, json_t *st, json_t *rule,
		     long long now)
{
	json_t *body, *out = NULL;
	struct err *e = NULL;
	int keep[4], r;

	/* the next time first: a crash mid-backup does not start it again at once */
	json_object_set_new(st, "next", json_integer(next_due(rule, vps, now)));
	if (save(path, st, &e) < 0)
		goto out;
	body = json_pack("{s:O}", "repo", json_object_get(rule, "repo"));
	r = backup_create(h, vps, body, &out, &e);
	if (r == -EBUSY) {
		/* another operation holds the VPS (a stop, a snapshot): again in a minute */
		json_object_set_new(st, "next", json_integer(now + BUSY_RETRY_S));
		save(path, st, NULL);
	}
	if (r == 0) {
		for (int i = 0; i < 4; i++)
			keep[i] = (int)json_integer_value(json_object_get(rule, keeps[i]));
		backup_prune(h, vps, json_string_value(json_object_get(rule, "repo")), keep, &e);
	}
	json_decref(body);
	json_decref(out);
out:
	if (e) {
		pr_warn("scheduled backup of `%s`: %s", vps, err_msg(e));
		store_event(h->store, vps, "backup-failed", err_msg(e));
	}
	err_free(&e);
}

/*
 * Run v's schedule if it is due: its own, or else plan (its plan's rule,
 * NULL: none). A plan's rule first seen for this VPS (or changed since) is
 * only timed, not run: it fires at its first due time after that.
 */
static void run_due(struct host *h, const char *vps, json_t *plan)
{
	_cleanup_free_ char *p = sched_path(h, vps), *sp = plan_state_path(h, vps);
	json_t *s = p ? json_load_file(p, 0, NULL) : NULL, *st;
	long long now = time(NULL);

	if (s) {
		if (sp)
			unlink(sp); /* its own schedule wins; the plan's starts afresh after --off */
		if (json_integer_value(json_object_get(s, "next")) <= now)
			run_rule(h, vps, p, s, s, now);
		json_decref(s);
		return;
	}
	if (!plan || !sp)
		return;
	st = json_load_file(sp, 0, NULL);
	if (!st || !json_equal(json_object_get(st, "rule"), plan)) {
		json_decref(st);
		st = json_pack("{s:O, s:I}", "rule", plan, "next",
			       (json_int_t)next_due(plan, vps, now));
		save(sp, st, NULL);
	} else if (json_integer_value(json_object_get(st, "next")) <= now) {
		run_rule(h, vps, sp, st, plan, now);
	}
	json_decref(st);
}

static void *timer_thread(void *arg)
{
	struct host *h = arg;

	pthread_mutex_lock(&T.lock);
	while (!T.stop) {
		struct timespec t;
		struct vps *vs = NULL;
		json_t *plans;
		size_t n = 0;

		pthread_mutex_unlock(&T.lock);
		plans = store_plan_backups(h->store);
		/* this node's VPSes, not the cluster's: a second's look costs its own rows */
		if (store_vps_list_local(h->store, &vs, &n, NULL) == 0) {
			for (size_t i = 0; i < n && !T.stop; i++)
				run_due(h, vs[i].name, json_object_get(plans, vs[i].name));
			store_vps_list_free(vs, n);
		}
		json_decref(plans);
		pthread_mutex_lock(&T.lock);
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_sec += 1;
		if (!T.stop)
			pthread_cond_timedwait(&T.cond, &T.lock, &t);
	}
	pthread_mutex_unlock(&T.lock);
	return NULL;
}

int backup_timer_start(struct host *h, struct err **err)
{
	pthread_condattr_t ca;
	int rc;

	backup_sweep(h); /* no request is served yet: nothing restores now */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&T.cond, &ca);
	pthread_condattr_destroy(&ca);
	T.stop = false;
	if ((rc = pthread_create(&T.thread, NULL, timer_thread, h)) != 0)
		return err_make(err, rc, "backups: start the schedule's thread");
	T.started = true;
	return 0;
}

void backup_timer_stop(void)
{
	if (!T.started)
		return;
	pthread_mutex_lock(&T.lock);
	T.stop = true;
	pthread_cond_signal(&T.cond);
	pthread_mutex_unlock(&T.lock);
	pthread_join(T.thread, NULL);
	T.started = false;
}
