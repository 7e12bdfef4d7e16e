// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `vps repo`, `vps backup` (docs/backups.md) and `vps clone` (docs/storage.md):
 * the restic repositories of the host, a VPS's backups in them, and its
 * clones. A backup, a restore and a clone run as operations (?async=1): the
 * command polls it and shows its percentage on one line of stderr while it
 * runs.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

int cmd_repo_list(struct args *a)
{
	static const char *const cols[] = { "name", "url", "created", NULL };

	return api_show("/repos", a->json, cols, NULL);
}

int cmd_repo_add(struct args *a)
{
	json_t *body = json_pack("{s:s, s:s}", "name", a->pos[0], "url", a->pos[1]);
	json_t *reply = NULL;
	struct err *err = NULL;
	int r = 0;

	if (api("POST", "/repos", body, &reply, &err) < 0)
		r = fail_err(&err);
	else
		printf("added repository %s (%s)\n", a->pos[0], a->pos[1]);
	json_decref(body);
	json_decref(reply);
	return r;
}

int cmd_repo_rm(struct args *a)
{
	return api_delete("repos", a->pos[0], "removed repository");
}

/* A backup's id as the daemon takes it: 8 to 64 hex digits. */
static int id_ok(struct args *a)
{
	const char *s = a->pos[1];
	size_t n = strlen(s);

	if (n < 8 || n > 64 || strspn(s, "0123456789abcdef") != n)
		return usage_err(a->cmd, "ID: `%.64s` is not a backup id (8 to 64 of 0-9 a-f)", s);
	return 0;
}

static volatile sig_atomic_t interrupted;

static int wait_op(const char *opath, const char *what, json_t **result);

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* ^C while an operation runs: ask it to stop (a second ^C ends the command). */
static void cancel_op(const char *opath)
{
	struct err *err = NULL;
	json_t *reply = NULL;

	fprintf(stderr, "\ncancelling...\n");
	if (api("DELETE", opath, NULL, &reply, &err) < 0) {
		fprintf(stderr, "vps: %s\n", err_msg(err));
		err_free(&err);
	}
	json_decref(reply);
}

int run_op(const char *path, json_t *body, const char *what, json_t **result)
{
	char url[600], opath[128];
	struct err *err = NULL;
	json_t *reply = NULL;
	struct sigaction sa = { .sa_handler = on_interrupt, .sa_flags = SA_RESETHAND }, old;
	int r;

	snprintf(url, sizeof(url), "%s?async=1", path);
	if (api("POST", url, body, &reply, &err) < 0)
		return fail_err(&err);
	snprintf(opath, sizeof(opath), "/operations/%s",
		 json_string_value(json_object_get(json_object_get(reply, "operation"), "id")));
	json_decref(reply);
	interrupted = 0;
	sigaction(SIGINT, &sa, &old);
	r = wait_op(opath, what, result);
	sigaction(SIGINT, &old, NULL);
	return r;
}

/* Poll the operation: its percentage (and phase) on stderr, a line rewritten on a terminal. */
static int wait_op(const char *opath, const char *what, json_t **result)
{
	struct err *err = NULL;
	json_t *op;
	char phase[32] = "";
	bool tty = isatty(2);
	int last = -1;

	for (;;) {
		const char *state, *ph;
		int pct;

		if (interrupted == 1) {
			interrupted = 2;
			cancel_op(opath);
		}
		if (api("GET", opath, NULL, &op, &err) < 0)
			return fail_err(&err);
		state = json_string_value(json_object_get(op, "state"));
		if (state && strcmp(state, "running")) {
			if (!strcmp(state, "done") && last != 100)
				fprintf(stderr, tty ? "\r%s: 100%%" : "%s: 100%%\n", what);
			if (tty && (last >= 0 || !strcmp(state, "done")))
				fputc('\n', stderr);
			if (!strcmp(state, "done")) {
				*result = json_incref(json_object_get(op, "result"));
				json_decref(op);
				return 0;
			}
			fprintf(stderr, "vps: %s: %s\n", what,
				json_string_value(json_object_get(json_object_get(op, "error"), "message")) ?:
					"failed");
			json_decref(op);
			return 1;
		}
		pct = (int)json_number_value(json_object_get(op, "progress"));
		ph = json_string_value(json_object_get(op, "phase"));
		if (pct != last || (ph && strcmp(ph, phase))) {
			/* the phase, where the work names one (a migration's pack, send...) */
			snprintf(phase, sizeof(phase), "%s", ph ? ph : "");
			fprintf(stderr, tty ? "\r%s: %3d%%%s%s%s   " : "%s: %d%%%s%s%s\n", what,
				pct, *phase ? " (" : "", phase, *phase ? ")" : "");
			fflush(stderr);
			last = pct;
		}
		json_decref(op);
		nanosleep(&(struct timespec){ 0, 300 * 1000 * 1000 }, NULL);
	}
}

int cmd_backup_create(struct args *a)
{
	const char *repo = args_get(a, "repo");
	json_t *body = repo ? json_pack("{s:s}", "repo", repo) : json_object(), *res = NULL;
	char path[400], what[200];
	int r;

	snprintf(path, sizeof(path), "/vps/%s/backups", a->pos[0]);
	snprintf(what, sizeof(what), "backing up %s", a->pos[0]);
	r = run_op(path, body, what, &res);
	json_decref(body);
	if (r == 0) {
		if (a->json) {
			print_json(res);
		} else {
			char size[32], added[32];

			human_size((uint64_t)json_integer_value(json_object_get(res, "size")), size,
				   sizeof(size));
			human_size((uint64_t)json_integer_value(json_object_get(res, "added")),
				   added, sizeof(added));
			printf("backup %s of %s in %s: %s, %s added to the repository\n",
			       json_string_value(json_object_get(res, "id")), a->pos[0],
			       json_string_value(json_object_get(res, "repo")), size, added);
		}
	}
	json_decref(res);
	return r;
}

int cmd_backup_list(struct args *a)
{
	static const char *const cols[] = { "id", "repo", "time", "size", NULL };
	char path[400];

	snprintf(path, sizeof(path), "/vps/%s/backups", a->pos[0]);
	return api_show(path, a->json, cols, NULL);
}

int cmd_backup_restore(struct args *a)
{
	const char *as = args_get(a, "as");
	json_t *body, *res = NULL;
	char path[600], what[200];
	int r;

	if (id_ok(a))
		return 2;
	if (as && (r = check_name(a->cmd, "--as", as)))
		return r;
	/* --as: the route outside /vps/NAME, which also finds a destroyed VPS's backups */
	body = as ? json_pack("{s:s, s:s}", "vps", a->pos[0], "as", as) : json_object();
	if (as)
		snprintf(path, sizeof(path), "/backups/%s/restore", a->pos[1]);
	else
		snprintf(path, sizeof(path), "/vps/%s/backups/%s/restore", a->pos[0], a->pos[1]);
	snprintf(what, sizeof(what), "restoring %s", as ? as : a->pos[0]);
	r = run_op(path, body, what, &res);
	json_decref(body);
	if (r == 0)
		printf("%s restored from backup %s\n", as ? as : a->pos[0], a->pos[1]);
	json_decref(res);
	return r;
}

/* vps clone SRC NEW [--snapshot SNAP]: an operation like a restore (clone.c in vpsd). */
int cmd_clone(struct args *a)
{
	const char *snap = args_get(a, "snapshot");
	json_t *body = json_pack("{s:s}", "name", a->pos[1]), *res = NULL;
	char path[400], what[200];
	int r;

	if (snap)
		json_object_set_new(body, "snapshot", json_string(snap));
	snprintf(path, sizeof(path), "/vps/%s/clone", a->pos[0]);
	snprintf(what, sizeof(what), "cloning %s", a->pos[0]);
	r = run_op(path, body, what, &res);
	json_decref(body);
	if (r == 0 && a->json)
		print_json(res);
	else if (r == 0)
		printf("%s cloned from %s%s%s\n", a->pos[1], a->pos[0], snap ? " at " : "",
		       snap ? snap : "");
	json_decref(res);
	return r;
}

int cmd_backup_rm(struct args *a)
{
	char coll[400];

	if (id_ok(a))
		return 2;
	snprintf(coll, sizeof(coll), "vps/%s/backups", a->pos[0]);
	return api_delete(coll, a->pos[1], "removed backup");
}

/* vps backup schedule NAME [--daily HH:MM | --every S] [--keep-* N] [--repo R] | --off */
int cmd_backup_schedule(struct args *a)
{
	static const char *const keeps[] = { "keep-last", "keep-daily", "keep-weekly",
					     "keep-monthly", NULL };
	static const char *const order[] = { "repo",	     "daily",	   "every",
					     "keep_last",    "keep_daily", "keep_weekly",
					     "keep_monthly", "next",	   NULL };
	const char *daily = args_get(a, "daily"), *every = args_get(a, "every");
	json_t *body, *reply = NULL;
	struct err *err = NULL;
	char path[400];
	int r = 0;

	snprintf(path, sizeof(path), "/vps/%s/backup-schedule", a->pos[0]);
	if (args_has(a, "off")) {
		if (daily || every)
			return usage_err(a->cmd, "--off takes no --daily or --every");
		if (api("DELETE", path, NULL, &reply, &err) < 0)
			return fail_err(&err);
		json_decref(reply);
		printf("%s has no backup schedule now\n", a->pos[0]);
		return 0;
	}
	if (!daily && !every)
		return api_show(path, a->json, NULL, order);
	body = json_object();
	if (daily)
		json_object_set_new(body, "daily", json_string(daily));
	if (every)
		json_object_set_new(body, "every", json_integer(args_num(a, "every", 0)));
	if (args_get(a, "repo"))
		json_object_set_new(body, "repo", json_string(args_get(a, "repo")));
	for (int i = 0; keeps[i]; i++) {
		char key[16];

		if (!args_get(a, keeps[i]))
			continue;
		snprintf(key, sizeof(key), "%s", keeps[i]);
		key[4] = '_';
		json_object_set_new(body, key, json_integer(args_num(a, keeps[i], 0)));
	}
	if (api("PUT", path, body, &reply, &err) < 0) {
		r = fail_err(&err);
	} else if (a->json) {
		print_json(reply);
	} else {
		time_t next = (time_t)json_integer_value(json_object_get(reply, "next"));
		char when[40];

		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&next));
		printf("%s is backed up to %s %s%s%s; next at %s\n", a->pos[0],
		       json_string_value(json_object_get(reply, "repo")),
		       daily ? "daily at " : "every ", daily ? daily : every, daily ? " UTC" : " s",
		       when);
	}
	json_decref(body);
	json_decref(reply);
	return r;
}
