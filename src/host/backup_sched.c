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

int backup_schedule_get(struct host *h, const char *vps, json_t **out, struct err **err)
{
	_cleanup_free_ char *p = sched_path(h, vps);
	struct vps v;
	int r = store_vps_get(h->store, vps, &v, err);

	if (r < 0)
		return r;
	vps_free(&v);
	if (!p || !(*out = json_load_file(p, 0, NULL)))
		return err_make(err, ENOENT, "`%s` has no backup schedule", vps);
	return 0;
}

static bool hhmm_ok(const char *s)
{
	return s && strlen(s) == 5 && s[2] == ':' && strspn(s, "0123456789:") == 5 &&
	       atoi(s) < 24 && atoi(s + 3) < 60 && s[0] <= '2';
}

int backup_schedule_put(struct host *h, const char *vps, json_t *body, bool admin, json_t **out,
			struct err **err)
{
	_cleanup_free_ char *p = sched_path(h, vps);
	json_t *daily = json_object_get(body, "daily"), *every = json_object_get(body, "every");
	json_t *repo = json_object_get(body, "repo"), *s, *repos, *x;
	long long min = admin ? EVERY_MIN_ADMIN : EVERY_MIN_CUSTOMER;
	struct vps v;
	const char *k;
	bool found = false;
	size_t i;
	int r;

	if ((r = store_vps_get(h->store, vps, &v, err)) < 0)
		return r;
	vps_free(&v);
	json_object_foreach(body, k, x)
	{
		bool known = !strcmp(k, "repo") || !strcmp(k, "daily") || !strcmp(k, "every");

		for (i = 0; i < 4; i++)
			known |= !strcmp(k, keeps[i]);
		if (!known)
			return err_make(err, EINVAL,
					"`%s`: unknown field (repo, daily, every, keep_last, "
					"keep_daily, keep_weekly, keep_monthly)",
					k);
	}
	if (!daily == !every)
		return err_make(err, EINVAL,
				"give one of `daily` (HH:MM, UTC) and `every` (seconds)");
	if (daily && !hhmm_ok(json_string_value(daily)))
		return err_make(err, EINVAL, "`daily`: expected HH:MM (UTC), 00:00 to 23:59");
	if (every && (!json_is_integer(every) || json_integer_value(every) < min ||
		      json_integer_value(every) > 31 * 86400))
		return err_make(err, EINVAL, "`every`: expected %lld to %d seconds", min,
				31 * 86400);
	for (i = 0; i < 4; i++) {
		x = json_object_get(body, keeps[i]);
		if (x && (!json_is_integer(x) || json_integer_value(x) < 0 ||
			  json_integer_value(x) > KEEP_MAX))
			return err_make(err, EINVAL, "`%s`: expected 0 to %d", keeps[i], KEEP_MAX);
	}
	repos = backup_repos(h);
	json_array_foreach(repos, i, x) found |=
		repo ? json_equal(json_object_get(x, "name"), repo) : json_array_size(repos) == 1;
	if (!repo && json_array_size(repos) == 1)
		repo = json_object_get(json_array_get(repos, 0), "name");
	s = found ? json_pack("{s:O}", "repo", repo) : NULL;
	json_decref(repos);
	if (!s && repo)
		return err_make(err, EINVAL, "`repo`: no repository `%.40s` (vps repo list)",
				json_string_value(repo) ?: "");
	if (!s)
		return err_make(err, EINVAL,
				"`repo`: name one (the host has no single repository)");
	if (daily)
		json_object_set(s, "daily", daily);
	else
		json_object_set(s, "every", every);
	for (i = 0; i < 4; i++)
		json_object_set_new(
			s, keeps[i],
			json_integer(json_integer_value(json_object_get(body, keeps[i]))));
	json_object_set_new(s, "next", json_integer(next_due(s, vps, time(NULL))));
	if (!p || (r = save(p, s, err)) < 0) {
		json_decref(s);
		return p ? r : err_make(err, ENOMEM, "schedule");
	}
	store_event(h->store, vps, "backup-schedule", daily ? json_string_value(daily) : "every");
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
		return err_make(err, ENOENT, "`%s` has no backup schedule", vps);
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

/* Run v's schedule if it is due. */
static void run_due(struct host *h, const char *vps)
{
	_cleanup_free_ char *p = sched_path(h, vps);
	json_t *s = p ? json_load_file(p, 0, NULL) : NULL, *body, *out = NULL;
	long long now = time(NULL);
	struct err *e = NULL;
	int keep[4], r;

	if (!s || json_integer_value(json_object_get(s, "next")) > now) {
		json_decref(s);
		return;
	}
	/* the next time first: a crash mid-backup does not start it again at once */
	json_object_set_new(s, "next", json_integer(next_due(s, vps, now)));
	if (save(p, s, &e) < 0)
		goto out;
	body = json_pack("{s:O}", "repo", json_object_get(s, "repo"));
	r = backup_create(h, vps, body, &out, &e);
	if (r == -EBUSY) {
		/* another operation holds the VPS (a stop, a snapshot): again in a minute */
		json_object_set_new(s, "next", json_integer(now + BUSY_RETRY_S));
		save(p, s, NULL);
	}
	if (r == 0) {
		for (int i = 0; i < 4; i++)
			keep[i] = (int)json_integer_value(json_object_get(s, keeps[i]));
		backup_prune(h, vps, json_string_value(json_object_get(s, "repo")), keep, &e);
	}
	json_decref(body);
	json_decref(out);
out:
	if (e) {
		pr_warn("scheduled backup of `%s`: %s", vps, err_msg(e));
		store_event(h->store, vps, "backup-failed", err_msg(e));
	}
	err_free(&e);
	json_decref(s);
}

static void *timer_thread(void *arg)
{
	struct host *h = arg;

	pthread_mutex_lock(&T.lock);
	while (!T.stop) {
		struct timespec t;
		struct vps *vs = NULL;
		size_t n = 0;

		pthread_mutex_unlock(&T.lock);
		if (store_vps_list(h->store, &vs, &n, NULL) == 0) {
			for (size_t i = 0; i < n && !T.stop; i++)
				if (!*vs[i].node || !h->node || !strcmp(vs[i].node, h->node))
					run_due(h, vs[i].name);
			store_vps_list_free(vs, n);
		}
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
