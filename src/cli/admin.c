// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The host side of `vps`: the host report and resource policies, the event log (with --follow,
 * which asks for the events after the last one seen, once a second, as
 * `incus monitor` would over a stream), templates and plans. The tables
 * take their columns from the rows, so new fields the daemon adds show up
 * without a CLI change.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/cleanup.h"

#define AUTO_COLS 10

static const char usage_host[] =
	"usage: vps host [--format table|json]\n"
	"The host report: per resource its policy, physical, limit (ratio x physical),\n"
	"allocated (sold), used (real) and headroom (limit - allocated); the limits this\n"
	"host enforces for each kind (and why not, for the others); warnings.\n";
static const char usage_events[] =
	"usage: vps events [--vps NAME] [--follow] [--format table|json]\n"
	"The event log, oldest first; --follow waits for new events until\n"
	"interrupted. --format json prints one JSON object a line.\n";
static const char usage_policy[] =
	"usage: vps policy list [--format table|json]\n"
	"       vps policy set RESOURCE MODE [RATIO] [--format table|json]\n"
	"Resource policies of this host (docs/policies.md):\n"
	"  memory  reserve | oversell RATIO   (RAM counted against RATIO x physical RAM)\n"
	"  disk    reserve | thin [RATIO]     (disk sizes against RATIO x the data filesystem)\n"
	"  cpus    reserve | oversell RATIO   (vCPUs against RATIO x cores)\n"
	"  limits  refuse | warn              (a limit this host cannot enforce: refused,\n"
	"                                      or accepted with a warning event)\n"
	"New VPSes, and changes that grow one, are refused when they do not fit.\n";
static const char usage_template[] = "usage: vps template list [--format table|json]\n";
static const char usage_plan[] =
	"usage: vps plan list [--format table|json]\n"
	"       vps plan show NAME [--format table|json]\n"
	"       vps plan create NAME [--ram SIZE] [--swap SIZE] [--cpus N] [--disk SIZE]\n"
	"                       [--io W] [--bw RATE] [--pids N]\n"
	"       vps plan delete NAME\n"
	"A plan is a named set of limits; `vps create --plan NAME` uses one.\n"
	"--pids: a container's processes at most (16 to 4194304); without it, or 0,\n"
	"the host's default (vpsd --pids-limit).\n";

static const struct flag format_flag[] = { { "format", true }, { NULL, false } };

/* Flags: only --format; positionals into pos[] (at most npos). */
static int simple_args(const char *cmd, const char *usage, int argc, char **argv, const char **pos,
		       int npos, bool *json)
{
	const char *f, *v;
	struct argp p;
	int t, n = 0;

	argp_init(&p, cmd, argc, argv);
	while ((t = argp_next(&p, format_flag, &f, &v)) != ARGP_END) {
		if (t == ARGP_ERR)
			return EXIT_USAGE;
		if (t == ARGP_HELP) {
			fputs(usage, stdout);
			return -1;
		}
		if (t == ARGP_FLAG && parse_format(cmd, v, json))
			return EXIT_USAGE;
		if (t == ARGP_POS && n == npos)
			return usage_err(cmd, "unexpected argument `%s`", v);
		if (t == ARGP_POS)
			pos[n++] = v;
	}
	return 0;
}

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

int cmd_host(int argc, char **argv)
{
	struct err *err = NULL;
	bool json = false;
	json_t *reply;
	int r = simple_args("host", usage_host, argc, argv, NULL, 0, &json);

	if (r)
		return r < 0 ? 0 : r;
	if (api("GET", "/host", NULL, &reply, &err) < 0)
		return fail_err(&err);
	if (json)
		print_json(reply);
	else
		print_report(reply);
	json_decref(reply);
	return 0;
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

static int policy_set(int argc, char **argv)
{
	const char *pos[3] = { NULL, NULL, NULL };
	struct err *err = NULL;
	json_t *body, *one, *reply, *w;
	bool json = false;
	size_t i;
	int r = simple_args("policy set", usage_policy, argc, argv, pos, 3, &json);

	if (r)
		return r < 0 ? 0 : r;
	if (!pos[0] || !pos[1])
		return usage_err("policy set", "expected RESOURCE MODE [RATIO]");
	one = json_pack("{s:s}", "mode", pos[1]);
	if (pos[2]) {
		char *end;
		double ratio = strtod(pos[2], &end);

		if (end == pos[2] || *end) {
			json_decref(one);
			return usage_err("policy set", "RATIO: `%s` is not a number", pos[2]);
		}
		json_object_set_new(one, "ratio", json_real(ratio));
	}
	body = json_pack("{s:o}", pos[0], one);
	r = api("PUT", "/policies", body, &reply, &err);
	json_decref(body);
	if (r < 0)
		return fail_err(&err);
	if (json) {
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

int cmd_policy(int argc, char **argv)
{
	struct err *err = NULL;
	bool json = false;
	json_t *reply;
	int r;

	if (argc < 1 || argv[0][0] == '-') {
		r = simple_args("policy", usage_policy, argc, argv, NULL, 0, &json);
		return r < 0 ? 0 : r ? r : usage_err("policy", "missing list or set");
	}
	if (!strcmp(argv[0], "set"))
		return policy_set(argc - 1, argv + 1);
	if (strcmp(argv[0], "list") && strcmp(argv[0], "ls"))
		return usage_err("policy", "unknown policy command `%s`", argv[0]);
	r = simple_args("policy list", usage_policy, argc - 1, argv + 1, NULL, 0, &json);
	if (r)
		return r < 0 ? 0 : r;
	if (api("GET", "/policies", NULL, &reply, &err) < 0)
		return fail_err(&err);
	if (json)
		print_json(reply);
	else
		print_policies(reply);
	json_decref(reply);
	return 0;
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

int cmd_events(int argc, char **argv)
{
	static const struct flag flags[] = {
		{ "vps", true }, { "follow", false }, { "format", true }, { NULL, false }
	};
	struct sigaction sa = { .sa_handler = on_signal };
	const char *vps = NULL, *f, *v;
	bool follow = false, json = false;
	json_int_t after = -1;
	struct argp p;
	int t;

	argp_init(&p, "events", argc, argv);
	while ((t = argp_next(&p, flags, &f, &v)) != ARGP_END) {
		if (t == ARGP_ERR)
			return EXIT_USAGE;
		if (t == ARGP_HELP)
			return fputs(usage_events, stdout), 0;
		if (t == ARGP_POS)
			return usage_err("events", "unexpected argument `%s`", v);
		if (!strcmp(f, "follow"))
			follow = true;
		else if (!strcmp(f, "format") && parse_format("events", v, &json))
			return EXIT_USAGE;
		else if (!strcmp(f, "vps") && !name_ok(v))
			return usage_err("events", "--vps: `%s` is not a VPS name", v);
		else if (!strcmp(f, "vps"))
			vps = v;
	}
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

int cmd_template(int argc, char **argv)
{
	const char *sub = NULL;
	bool json = false;
	int r;

	if (argc < 1 || argv[0][0] == '-') {
		r = simple_args("template", usage_template, argc, argv, NULL, 0, &json);
		return r < 0 ? 0 : r ? r : usage_err("template", "missing list");
	}
	sub = argv[0];
	if (strcmp(sub, "list") && strcmp(sub, "ls"))
		return usage_err("template", "unknown template command `%s`", sub);
	r = simple_args("template list", usage_template, argc - 1, argv + 1, NULL, 0, &json);
	if (r)
		return r < 0 ? 0 : r;
	return get_and_print("/templates", json);
}

static int plan_create(int argc, char **argv)
{
	static const struct flag flags[] = {
		{ "ram", true }, { "swap", true }, { "cpus", true }, { "disk", true },
		{ "io", true },	 { "bw", true },   { "pids", true }, { NULL, false },
	};
	json_t *body = json_object(), *reply = NULL;
	const char *name = NULL, *f, *v;
	struct err *err = NULL;
	struct argp p;
	int t = ARGP_END, r = 0;

	argp_init(&p, "plan create", argc, argv);
	while (!r && (t = argp_next(&p, flags, &f, &v)) != ARGP_END) {
		char label[16];

		if (t == ARGP_ERR) {
			r = EXIT_USAGE;
		} else if (t == ARGP_HELP) {
			fputs(usage_plan, stdout);
			break;
		} else if (t == ARGP_POS) {
			r = name ? usage_err("plan create", "unexpected argument `%s`", v) : 0;
			name = v;
		} else {
			snprintf(label, sizeof(label), "--%s", f);
			r = field_put("plan create", label, field_find(f), v, body);
		}
	}
	if (!r && t != ARGP_HELP && !(r = check_name("plan create", "NAME", name))) {
		json_object_set_new(body, "name", json_string(name));
		if (api("POST", "/plans", body, &reply, &err) < 0)
			r = fail_err(&err);
		else
			printf("created plan %s\n", name);
	}
	json_decref(reply);
	json_decref(body);
	return r;
}

int cmd_plan(int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : NULL, *name = NULL;
	struct err *err = NULL;
	bool json = false;
	json_t *reply;
	char path[64];
	int r;

	if (!sub || sub[0] == '-') {
		r = simple_args("plan", usage_plan, argc, argv, NULL, 0, &json);
		return r < 0 ? 0 :
		       r     ? r :
			       usage_err("plan", "missing list, show, create or delete");
	}
	if (!strcmp(sub, "create"))
		return plan_create(argc - 1, argv + 1);
	if (!strcmp(sub, "list") || !strcmp(sub, "ls")) {
		r = simple_args("plan list", usage_plan, argc - 1, argv + 1, NULL, 0, &json);
		return r < 0 ? 0 : r ? r : get_and_print("/plans", json);
	}
	if (strcmp(sub, "show") && strcmp(sub, "delete"))
		return usage_err("plan", "unknown plan command `%s`", sub);
	r = simple_args(!strcmp(sub, "show") ? "plan show" : "plan delete", usage_plan, argc - 1,
			argv + 1, &name, 1, &json);
	if (r)
		return r < 0 ? 0 : r;
	if ((r = check_name(sub[0] == 's' ? "plan show" : "plan delete", "NAME", name)))
		return r;
	snprintf(path, sizeof(path), "/plans/%s", name);
	if (sub[0] == 's')
		return get_and_print(path, json);
	if (api("DELETE", path, NULL, &reply, &err) < 0)
		return fail_err(&err);
	json_decref(reply);
	printf("deleted plan %s\n", name);
	return 0;
}
