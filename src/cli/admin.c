// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The host side of `vps`: the host report, the event log (with --follow,
 * which asks for the events after the last one seen, once a second, as
 * `incus monitor` would over a stream), templates and plans. The tables
 * take their columns from the rows, so new fields the daemon adds show up
 * without a CLI change.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/cleanup.h"

#define AUTO_COLS 10

static const char usage_host[] = "usage: vps host [--format table|json]\n";
static const char usage_events[] =
	"usage: vps events [--vps NAME] [--follow] [--format table|json]\n"
	"The event log, oldest first; --follow waits for new events until\n"
	"interrupted. --format json prints one JSON object a line.\n";
static const char usage_template[] = "usage: vps template list [--format table|json]\n";
static const char usage_plan[] =
	"usage: vps plan list [--format table|json]\n"
	"       vps plan show NAME [--format table|json]\n"
	"       vps plan create NAME [--ram SIZE] [--swap SIZE] [--cpus N] [--disk SIZE]\n"
	"                       [--io W] [--bw RATE]\n"
	"       vps plan delete NAME\n"
	"A plan is a named set of limits; `vps create --plan NAME` uses one.\n";

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

int cmd_host(int argc, char **argv)
{
	bool json = false;
	int r = simple_args("host", usage_host, argc, argv, NULL, 0, &json);

	if (r)
		return r < 0 ? 0 : r;
	return get_and_print("/host", json);
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
		{ "io", true },	 { "bw", true },   { NULL, false },
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
