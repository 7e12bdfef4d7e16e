// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The host side of `vps`: the host report, resource policies and the host's settings, the event log (with --follow,
 * which asks for the events after the last one seen, once a second, as
 * `incus monitor` would over a stream), templates and plans. The tables
 * take their columns from the rows, so new fields the daemon adds show up
 * without a CLI change.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/cleanup.h"

#define AUTO_COLS 10

/* A table whose columns are the scalar fields of the first row. */
static void print_rows(json_t *rows)
{
	const char *cols[AUTO_COLS + 1];
	json_t *first = json_array_get(rows, 0), *v;
	const char *k;
	int n = 0;

	if (json_object_get(first, "name") || !first)
		cols[n++] = "name";
	json_object_foreach(first, k, v)
	{
		if (n < AUTO_COLS && !json_is_object(v) && strcmp(k, "name"))
			cols[n++] = k;
	}
	cols[n] = NULL;
	print_table(rows, cols);
}

/* GET path and print it: a table for lists, `key: value` for an object. */
static int get_and_print(const char *path, bool json)
{
	struct err *err = NULL;
	json_t *reply, *rows;

	if (api("GET", path, NULL, &reply, &err) < 0)
		return fail_err(&err);
	rows = json_is_array(reply) ? reply : NULL;
	if (json)
		print_json(reply);
	else if (rows)
		print_rows(rows);
	else
		print_object(reply, 0);
	json_decref(reply);
	return 0;
}

/* One report figure as a cell: sizes human, cpus as numbers, absent as "-". */
static json_t *figure_cell(json_t *res, const char *key, bool size)
{
	json_t *v = json_object_get(res, key);
	char buf[32];

	if (!json_is_number(v))
		return json_string("-");
	if (size && json_number_value(v) < 0) {
		human_size((uint64_t)-json_number_value(v), buf + 1, sizeof(buf) - 1);
		buf[0] = '-';
	} else if (size) {
		human_size((uint64_t)json_number_value(v), buf, sizeof(buf));
	} else {
		snprintf(buf, sizeof(buf), "%.4g", json_number_value(v));
	}
	return json_string(buf);
}

/* The limits this host enforces, per kind: "ct: memory swap ... not enforced: io_weight (why)". */
static void print_limits(json_t *limits)
{
	const char *kind, *name;
	json_t *k, *l;

	if (!json_is_object(limits))
		return;
	printf("\nlimits this host enforces:\n");
	json_object_foreach(limits, kind, k)
	{
		const char *cg = json_string_value(json_object_get(k, "cgroup"));

		printf("  %s%s%s%s:", kind, cg ? " (cgroup " : "", cg ? cg : "", cg ? ")" : "");
		json_object_foreach(json_object_get(k, "limits"), name, l)
		{
			if (json_is_true(json_object_get(l, "enforced")))
				printf(" %s", name);
		}
		printf("\n");
		json_object_foreach(json_object_get(k, "limits"), name, l)
		{
			if (!json_is_true(json_object_get(l, "enforced")))
				printf("    not %s: %s\n", name,
				       json_string_value(json_object_get(l, "why")));
		}
	}
}

/* The host report as a table, one row a resource, then the limits and the warnings. */
static void print_report(json_t *rep)
{
	static const char *const res[] = { "memory", "swap", "disk", "cpus", NULL };
	static const char *const cols[] = { "resource",	 "policy", "ratio",    "physical", "limit",
					    "allocated", "used",   "headroom", NULL };
	json_t *rows = json_array(), *w = json_object_get(rep, "warnings"), *x;
	size_t i;

	for (i = 0; res[i]; i++) {
		json_t *r = json_object_get(rep, res[i]), *row;
		bool size = strcmp(res[i], "cpus") != 0;

		if (!r)
			continue;
		row = json_pack("{s:s, s:s}", "resource", res[i], "policy",
				json_string_value(json_object_get(r, "policy")) ?
					json_string_value(json_object_get(r, "policy")) :
					"-");
		json_object_set_new(row, "ratio", figure_cell(r, "ratio", false));
		for (size_t c = 3; cols[c]; c++)
			json_object_set_new(row, cols[c], figure_cell(r, cols[c], size));
		json_array_append_new(rows, row);
	}
	print_table(rows, cols);
	json_decref(rows);
	x = json_object_get(rep, "vps");
	printf("\nVPSes: %" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT " running)",
	       json_integer_value(json_object_get(x, "total")),
	       json_integer_value(json_object_get(x, "running")));
	if ((x = json_object_get(rep, "memory"))) {
		char b[32];

		human_size(json_integer_value(json_object_get(x, "used_by_vps")), b, sizeof(b));
		printf("; memory used by running VPSes: %s", b);
	}
	if ((x = json_object_get(rep, "disk"))) {
		char b[32];

		human_size(json_integer_value(json_object_get(x, "free")), b, sizeof(b));
		printf("; disk free on %s: %s", json_string_value(json_object_get(x, "path")), b);
	}
	printf("\n");
	print_limits(json_object_get(rep, "limits"));
	if (json_array_size(w))
		printf("warnings:\n");
	json_array_foreach(w, i, x)
	{
		printf("  %s\n", json_string_value(x));
	}
}

/* One request (body borrowed) and its answer: as JSON with --format json, else by print. */
static int call_print(const char *method, const char *path, json_t *body, bool json,
		      void (*print)(json_t *))
{
	struct err *err = NULL;
	json_t *reply;

	if (api(method, path, body, &reply, &err) < 0)
		return fail_err(&err);
	if (json)
		print_json(reply);
	else
		print(reply);
	json_decref(reply);
	return 0;
}

int cmd_host(struct args *a)
{
	return call_print("GET", "/host", NULL, a->json, print_report);
}

/* ---- policies ---- */

static void print_policies(json_t *p)
{
	static const char *const res[] = { "memory", "disk", "cpus", "limits", NULL };
	static const char *const cols[] = { "resource", "mode", "ratio", NULL };
	json_t *rows = json_array();

	for (size_t i = 0; res[i]; i++) {
		json_t *r = json_object_get(p, res[i]), *row;

		if (!r)
			continue;
		row = json_pack("{s:s, s:O?}", "resource", res[i], "mode",
				json_object_get(r, "mode"));
		json_object_set_new(row, "ratio", figure_cell(r, "ratio", false));
		json_array_append_new(rows, row);
	}
	print_table(rows, cols);
	json_decref(rows);
}

int cmd_policy_set(struct args *a)
{
	const char *const *pos = a->pos;
	struct err *err = NULL;
	json_t *body, *one, *reply, *w;
	size_t i;
	int r;

	one = json_pack("{s:s}", "mode", pos[1]);
	if (a->npos > 2) /* P_REAL: args.c checked it */
		json_object_set_new(one, "ratio", json_real(strtod(pos[2], NULL)));
	body = json_pack("{s:o}", pos[0], one);
	r = api("PUT", "/policies", body, &reply, &err);
	json_decref(body);
	if (r < 0)
		return fail_err(&err);
	if (a->json) {
		print_json(reply);
	} else {
		print_policies(reply);
		json_array_foreach(json_object_get(reply, "warnings"), i, w)
		{
			printf("warning: %s\n", json_string_value(w));
		}
	}
	json_decref(reply);
	return 0;
}

int cmd_policy_list(struct args *a)
{
	return call_print("GET", "/policies", NULL, a->json, print_policies);
}

/* ---- settings (GET and PATCH /settings) ---- */

/* One row a setting, named as on the command line: require_2fa is require-2fa. */
static void print_settings(json_t *s)
{
	static const char *const cols[] = { "setting", "value", NULL };
	json_t *rows = json_array(), *v;
	const char *k;

	json_object_foreach(s, k, v)
	{
		char name[64];

		snprintf(name, sizeof(name), "%s", k);
		for (char *c = name; *c; c++)
			if (*c == '_')
				*c = '-';
		json_array_append_new(rows, json_pack("{s:s, s:O}", "setting", name, "value", v));
	}
	print_table(rows, cols);
	json_decref(rows);
}

int cmd_settings_show(struct args *a)
{
	return call_print("GET", "/settings", NULL, a->json, print_settings);
}

/* KEY=VALUE...: every one in one PATCH; vpsd checks names and values, and names the wrong one. */
int cmd_settings_set(struct args *a)
{
	json_t *body = json_object();
	int r;

	for (int i = 0; i < a->npos; i++) {
		const char *kv = a->pos[i], *eq = strchr(kv, '=');
		char key[64];

		if (!eq || eq == kv || eq - kv >= (long)sizeof(key)) {
			json_decref(body);
			return usage_err("settings set",
					 "`%s`: expected KEY=VALUE (require-2fa=all)", kv);
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
		for (char *c = key; *c; c++)
			if (*c == '-')
				*c = '_';
		json_object_set_new(body, key, json_string(eq + 1));
	}
	r = call_print("PATCH", "/settings", body, a->json, print_settings);
	json_decref(body);
	return r;
}

/* ---- events ---- */

static volatile sig_atomic_t stop_follow;

static void on_signal(int sig)
{
	stop_follow = sig;
}

static const char *first_str(json_t *o, const char *const *keys, char *buf, size_t len)
{
	for (size_t i = 0; keys[i]; i++) {
		json_t *v = json_object_get(o, keys[i]);

		if (v && !json_is_null(v)) {
			cell_text(keys[i], v, buf, len);
			return buf;
		}
	}
	return "-";
}

static void print_event(json_t *e, bool json)
{
	static const char *const when[] = { "time", "at", "created", NULL };
	static const char *const who[] = { "vps", "name", NULL };
	static const char *const what[] = { "type", "event", "kind", NULL };
	static const char *const detail[] = { "message", "detail", "data", NULL };
	char b1[64], b2[64], b3[64], b4[512];

	if (json) {
		json_dumpf(e, stdout, JSON_COMPACT);
		putchar('\n');
	} else {
		printf("%-19s  %-16s %-14s %s\n", first_str(e, when, b1, sizeof(b1)),
		       first_str(e, who, b2, sizeof(b2)), first_str(e, what, b3, sizeof(b3)),
		       strcmp(first_str(e, detail, b4, sizeof(b4)), "-") ? b4 : "");
	}
	fflush(stdout);
}

int cmd_events(struct args *a)
{
	struct sigaction sa = { .sa_handler = on_signal };
	const char *vps = args_get(a, "vps");
	bool follow = args_has(a, "follow"), json = a->json;
	json_int_t after = -1;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!json)
		printf("%-19s  %-16s %-14s %s\n", "TIME", "VPS", "EVENT", "DETAIL");
	do {
		struct err *err = NULL;
		json_t *reply, *e;
		char path[128];
		size_t i;

		snprintf(path, sizeof(path), "/events%s%s%s", vps ? "?vps=" : "", vps ? vps : "",
			 after >= 0 ? (vps ? "&after=" : "?after=") : "");
		if (after >= 0)
			snprintf(path + strlen(path), sizeof(path) - strlen(path),
				 "%" JSON_INTEGER_FORMAT, after);
		if (api("GET", path, NULL, &reply, &err) < 0) {
			if (stop_follow)
				break;
			return fail_err(&err);
		}
		json_array_foreach(as_list(reply), i, e)
		{
			json_t *id = json_object_get(e, "id");

			print_event(e, json);
			if (json_is_integer(id) && json_integer_value(id) > after)
				after = json_integer_value(id);
		}
		json_decref(reply);
		if (follow && !stop_follow)
			sleep(1); /* no stream endpoint yet: poll for what came after `after` */
	} while (follow && !stop_follow);
	return 0;
}

/* ---- templates, plans ---- */

int cmd_template_list(struct args *a)
{
	static const char *const cols[] = { "name", "kind", "version", "os",	 "release",
					    "init", "size", "created", "source", NULL };

	const char *plan = args_get(a, "plan");
	_cleanup_free_ char *path = NULL;
	int r;

	/* --plan P: those P offers (the server checks the name; escaped for the query) */
	if (plan && (r = check_name(a->cmd, "--plan", plan)))
		return r;
	if (asprintf(&path, "/templates%s%s", plan ? "?plan=" : "", plan ?: "") < 0)
		return fail("out of memory");
	return api_show(path, a->json, cols, NULL);
}

int cmd_template_show(struct args *a)
{
	static const char *const order[] = { "name",	"version", "kinds",  "os",
					     "release", "arch",	   "init",   "size",
					     "sha256",	"created", "source", NULL };
	char path[300];

	snprintf(path, sizeof(path), "/templates/%s", a->pos[0]);
	return api_show(path, a->json, NULL, order);
}

static void print_version(json_t *reply, const char *what)
{
	printf("%s template %s version %" JSON_INTEGER_FORMAT "%s\n", what,
	       json_string_value(json_object_get(reply, "name")) ?: "?",
	       json_integer_value(json_object_get(reply, "version")),
	       json_is_true(json_object_get(reply, "unchanged")) ? " (unchanged)" : "");
}

int cmd_template_build(struct args *a)
{
	struct err *err = NULL;
	json_t *reply;
	char path[300];

	snprintf(path, sizeof(path), "/templates/%s/build", a->pos[0]);
	if (api("POST", path, NULL, &reply, &err) < 0)
		return fail_err(&err);
	if (a->json)
		print_json(reply);
	else
		print_version(reply, "built");
	json_decref(reply);
	return 0;
}

/* An OCI layout directory, as a tar in a temporary file for the upload; the file's path. */
static char *tar_layout(const char *dir, struct err **err)
{
	char *tmp = strdup("/tmp/vps-oci-XXXXXX");
	int fd = tmp ? mkstemp(tmp) : -1, st = -1;
	pid_t p;

	if (fd < 0) {
		err_make(err, errno ? errno : ENOMEM, "a temporary file for `%s`", dir);
		free(tmp);
		return NULL;
	}
	p = fork();
	if (p == 0) {
		if (dup2(fd, 1) < 0)
			_exit(127);
		execl("/bin/tar", "tar", "-C", dir, "-cf", "-", ".", (char *)NULL);
		_exit(127);
	}
	close(fd);
	while (p > 0 && waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	if (p < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		err_make(err, EIO, "tar `%s` for the upload: failed", dir);
		unlink(tmp);
		free(tmp);
		return NULL;
	}
	return tmp;
}

int cmd_template_import(struct args *a)
{
	const char *kind = args_get(a, "kind"), *fmt = args_get(a, "image-format"),
		   *ref = args_get(a, "ref");
	_cleanup_free_ char *tmp = NULL;
	struct err *err = NULL;
	struct stat st;
	json_t *reply;
	char path[400];
	int r;

	/* a directory is an OCI image layout; --ref names a manifest of one */
	if (stat(a->pos[1], &st) == 0 && S_ISDIR(st.st_mode)) {
		if (!(tmp = tar_layout(a->pos[1], &err)))
			return fail_err(&err);
		fmt = "oci";
	}
	if (ref && !fmt)
		fmt = "oci";
	/* no format given: the kind's own (vpsd's default: a tarball, a raw disk) */
	snprintf(path, sizeof(path), "/templates/%s?kind=%s%s%s%s%s", a->pos[0], kind ? kind : "ct",
		 fmt ? "&format=" : "", fmt ? fmt : "", ref ? "&ref=" : "", ref ? ref : "");
	r = api_upload(path, tmp ? tmp : a->pos[1], &reply, &err);
	if (tmp)
		unlink(tmp);
	if (r < 0)
		return fail_err(&err);
	if (a->json)
		print_json(reply);
	else
		print_version(reply, "imported");
	json_decref(reply);
	return 0;
}

int cmd_template_create(struct args *a)
{
	struct err *err = NULL;
	json_t *reply;
	char path[400];

	snprintf(path, sizeof(path), "/templates/%s/from/%s", a->pos[0], args_get(a, "from"));
	if (api("POST", path, NULL, &reply, &err) < 0)
		return fail_err(&err);
	if (a->json)
		print_json(reply);
	else
		print_version(reply, "made");
	json_decref(reply);
	return 0;
}

int cmd_template_rm(struct args *a)
{
	return api_delete("templates", a->pos[0], "removed template");
}

int cmd_plan_list(struct args *a)
{
	return get_and_print("/plans", a->json);
}

int cmd_plan_show(struct args *a)
{
	char path[64];

	snprintf(path, sizeof(path), "/plans/%s", a->pos[0]);
	return get_and_print(path, a->json);
}

/* --backup-*: the plan's "backup", as `vps backup schedule` builds a VPS's; 2: bad usage */
static int plan_backup(struct args *a, json_t *body)
{
	static const char *const keys[] = { "daily",	    "every",	  "repo",
					    "keep_last",    "keep_daily", "keep_weekly",
					    "keep_monthly", NULL };
	json_t *b = json_object();

	for (int i = 0; keys[i]; i++) {
		const char *v;
		char opt[32], *end;
		long n;

		snprintf(opt, sizeof(opt), "backup-%s", keys[i]);
		for (char *c = opt; *c; c++)
			*c = *c == '_' ? '-' : *c;
		if (!(v = args_get(a, opt)))
			continue;
		/* a number goes as one; anything else as text, for vpsd to refuse by name */
		errno = 0;
		n = strtol(v, &end, 10);
		if (i == 0 || i == 2 || !*v || *end || errno)
			json_object_set_new(b, keys[i], json_string(v));
		else
			json_object_set_new(b, keys[i], json_integer(n));
	}
	if (json_object_size(b) && !json_object_get(b, "daily") && !json_object_get(b, "every")) {
		json_decref(b);
		return usage_err(a->cmd, "--backup-* needs --backup-daily or --backup-every");
	}
	if (json_object_size(b))
		json_object_set(body, "backup", b);
	json_decref(b);
	return 0;
}

int cmd_plan_create(struct args *a)
{
	json_t *body = a->body ? json_incref(a->body) : json_object(), *reply = NULL;
	const char *name = a->pos[0];
	struct err *err = NULL;
	int r = 0;

	json_object_set_new(body, "name", json_string(name));
	/* the allowance: the server parses and checks the sizes */
	if (args_get(a, "traffic") || args_get(a, "traffic-action") || args_get(a, "traffic-bw")) {
		json_t *t = json_object();

		if (args_get(a, "traffic"))
			json_object_set_new(t, "allowance", json_string(args_get(a, "traffic")));
		if (args_get(a, "traffic-action"))
			json_object_set_new(t, "action",
					    json_string(args_get(a, "traffic-action")));
		if (args_get(a, "traffic-bw"))
			json_object_set_new(t, "bw", json_string(args_get(a, "traffic-bw")));
		json_object_set_new(body, "traffic", t);
	}
	for (int i = 0; i < a->ngiven; i++)
		if (!strcmp(a->given[i].opt->name, "pool"))
			json_object_set_new(body, "pool", json_string(a->given[i].val));
	/* T,T: the names, checked by the server (templates there are) */
	if (args_get(a, "templates")) {
		_cleanup_free_ char *list = strdup(args_get(a, "templates"));
		json_t *t = json_array();
		char *save = NULL;

		for (char *n = list ? strtok_r(list, ",", &save) : NULL; n;
		     n = strtok_r(NULL, ",", &save))
			json_array_append_new(t, json_string(n));
		json_object_set_new(body, "templates", t);
	}
	/* the schedule of its VPSes without one of their own: the server checks it */
	if ((r = plan_backup(a, body))) {
		json_decref(body);
		return r;
	}
	if (api("POST", "/plans", body, &reply, &err) < 0)
		r = fail_err(&err);
	else
		printf("created plan %s\n", name);
	json_decref(reply);
	json_decref(body);
	return r;
}

int cmd_plan_delete(struct args *a)
{
	return api_delete("plans", a->pos[0], "deleted plan");
}
