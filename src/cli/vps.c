// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `vps`: main, the command table and the VPS lifecycle commands (create,
 * list, show, start, stop, restart, destroy, suspend, unsuspend, set). Each command parses its
 * flags into the API body (args.c), makes one request (api.c) and prints
 * the reply (out.c). The habits are incus's and vzctl's: `vps start web1`,
 * `vps set web1 ram=1G`, no confirmation prompts, plain tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "common/cleanup.h"
#include "common/util.h"

static const char usage_main[] =
	"usage: vps [--socket PATH | --url http://HOST:PORT] COMMAND [ARGS]\n"
	"\n"
	"VPSes:\n"
	"  create NAME --kind ct|vm ...   make a VPS (see `vps create --help`)\n"
	"  list [--format table|json]     all VPSes\n"
	"  show NAME [--format json]      one VPS, with its live state and figures\n"
	"  start|stop|restart NAME...     run, stop (graceful, then forced), restart\n"
	"  destroy NAME...                stop and remove, disks included (no prompt)\n"
	"  reinstall NAME [--template T]  a fresh disk from a template; new password, keys\n"
	"  set NAME KEY=VALUE...          change ram, swap, cpus, disk, io, bw, pids, hostname,\n"
	"                                 owner, onboot: stored, and live where it can be\n"
	"  set NAME --plan P              take plan P's limits\n"
	"  suspend|unsuspend NAME...      stop it and keep its owner from starting it; undo\n"
	"  passwd NAME                    root's password (read from standard input)\n"
	"  console NAME                   attach to the console (Ctrl-] detaches)\n"
	"  exec NAME -- CMD [ARG...]      run a command inside a ct; exits with its status\n"
	"  op ID                          one long operation (?async=1): state, result\n"
	"The host:\n"
	"  host [--format json]           the host report\n"
	"  policy list|set RES MODE [R]   resource policies: reserve, oversell, thin\n"
	"  events [--vps NAME] [--follow] the event log\n"
	"  template list                  templates\n"
	"  plan list|create|delete        plans (named sets of limits)\n"
	"  net list|create|delete         networks: bridge, NAT, address pools\n"
	"Access:\n"
	"  user list|add|passwd|rm        users of the panel and the API, and their roles\n"
	"  token list|create|rm           API tokens (for scripts over TCP)\n"
	"  audit [-n N]                   who changed what, and every login attempt\n"
	"\n"
	"vpsd's socket: --socket PATH, else $VPS_SOCKET, else " DEFAULT_SOCKET ".\n"
	"With --url, $VPS_TOKEN is sent as the API token (`vps token create`).\n"
	"`vps COMMAND --help` describes each command. Exit status: 0 done, 1 failed,\n"
	"2 bad usage; exec: the command's.\n";

static const char usage_create[] =
	"usage: vps create NAME --kind ct|vm [--template T]\n"
	"           [--plan P | --ram SIZE --swap SIZE --cpus N --disk SIZE --io W --bw RATE\n"
	"            --pids N]\n"
	"           [--engine vmm|qemu] [--boot linux|firmware] [--iso NAME]\n"
	"           [--owner USER] [--hostname HOST] [--password-file FILE | --password P]\n"
	"           [--ssh-key KEY]... [--onboot] [--start]\n"
	"           [--network NET [--ipv4 ADDR] [--ipv6 ADDR]]\n"
	"\n"
	"Sizes take K, M, G, T (binary): 512M, 10G. --cpus may be fractional (1.5);\n"
	"--io is a weight from 10 to 1000; --bw is bits per second (100M); --pids is a\n"
	"container's processes at most (16 to 4194304; the host's default without it).\n"
	"--engine, --boot and --iso are for vm only; --iso names an uploaded ISO\n"
	"(PUT /api/v1/isos/NAME), never a path. --password-file reads the first\n"
	"line of FILE (--password shows the password to `ps`). --ssh-key adds a line\n"
	"to root's authorized_keys; repeat it for more. --network joins a network\n"
	"(`vps net`): the next free addresses, or the ones given.\n";

static const char usage_list[] = "usage: vps list [--format table|json]\n";
static const char usage_show[] = "usage: vps show NAME [--format table|json]\n";
static const char usage_start[] = "usage: vps start NAME...\n";
static const char usage_restart[] = "usage: vps restart NAME...\n";
static const char usage_destroy[] =
	"usage: vps destroy NAME...\n"
	"Stops the VPS if it runs and removes it with its disks. It does not ask.\n";
static const char usage_stop[] =
	"usage: vps stop [--force] [--timeout SECONDS] NAME...\n"
	"Asks the guest to power off; after the timeout (default: the daemon's) it is\n"
	"killed. --force kills it at once.\n";
static const char usage_suspend[] =
	"usage: vps suspend NAME...\n"
	"Stops the VPS; its owner can no longer start it until `vps unsuspend`.\n";
static const char usage_unsuspend[] = "usage: vps unsuspend NAME...\n";
static const char usage_set[] =
	"usage: vps set NAME KEY=VALUE...\n"
	"       vps set NAME --plan P\n"
	"Keys: ram, swap, disk, bw (sizes: 512M, 2G), cpus (1.5), io (10 to 1000),\n"
	"pids (16 to 4194304, 0 for the host's default), hostname, owner, onboot\n"
	"(true|false). Always stored; applied to a running VPS\n"
	"where its kind can, and the rest at its next start (the reply says which).\n"
	"--plan moves the VPS to plan P: it takes the plan's limits, if the host has\n"
	"room for them.\n";

/* ---- create ---- */

static int put_str(json_t *body, const char *key, const char *val)
{
	if (json_object_set_new(body, key, json_string(val)) < 0)
		return fail("out of memory");
	return 0;
}

static int read_password(const char *cmd, const char *file, json_t *body)
{
	_cleanup_free_ char *pw = NULL;
	size_t n;
	int r;

	if ((r = read_file(file, &pw, &n)) < 0)
		return usage_err(cmd, "--password-file: open `%s`: %s", file, strerror(-r));
	n = strcspn(pw, "\r\n"); /* the first line */
	pw[n] = '\0';
	if (!n)
		return usage_err(cmd, "--password-file: `%s` has an empty first line", file);
	return put_str(body, "root_password", pw);
}

static int cmd_create(int argc, char **argv)
{
	static const struct flag flags[] = {
		{ "kind", true },	   { "template", true }, { "plan", true },
		{ "ram", true },	   { "swap", true },	 { "cpus", true },
		{ "disk", true },	   { "io", true },	 { "bw", true },
		{ "engine", true },	   { "boot", true },	 { "iso", true },
		{ "owner", true },	   { "hostname", true }, { "password", true },
		{ "password-file", true }, { "ssh-key", true },	 { "onboot", false },
		{ "start", false },	   { "network", true },	 { "ipv4", true },
		{ "ipv6", true },	   { "pids", true },	 { NULL, false },
	};
	json_t *body = json_object(), *keys = json_array(), *reply = NULL;
	const char *name = NULL, *f, *v, *limit = NULL, *vm_only = NULL, *kind = NULL;
	bool password = false;
	struct err *err = NULL;
	struct argp p;
	int r = 0, t;

	argp_init(&p, "create", argc, argv);
	while (!r && (t = argp_next(&p, flags, &f, &v)) != ARGP_END) {
		if (t == ARGP_ERR) {
			r = EXIT_USAGE;
		} else if (t == ARGP_HELP) {
			fputs(usage_create, stdout);
			goto out;
		} else if (t == ARGP_POS) {
			if (name)
				r = usage_err("create", "unexpected argument `%s`", v);
			name = v;
		} else if (!strcmp(f, "kind")) {
			if (strcmp(v, "ct") && strcmp(v, "vm"))
				r = usage_err("create", "--kind: `%s` is not ct or vm", v);
			else
				r = put_str(body, "kind", kind = v);
		} else if (!strcmp(f, "engine") || !strcmp(f, "boot")) {
			bool eng = !strcmp(f, "engine");

			if (eng ? strcmp(v, "vmm") && strcmp(v, "qemu") :
				  strcmp(v, "linux") && strcmp(v, "firmware"))
				r = usage_err("create", "--%s: `%s` is not %s", f, v,
					      eng ? "vmm or qemu" : "linux or firmware");
			else
				r = put_str(body, f, v);
			vm_only = f;
		} else if (!strcmp(f, "iso")) {
			if (!*v || strpbrk(v, "\n\r"))
				r = usage_err("create", "--iso: needs an ISO's name");
			else
				r = put_str(body, "iso", v);
			vm_only = f;
		} else if (!strcmp(f, "network") || !strcmp(f, "ipv4") || !strcmp(f, "ipv6")) {
			/* the daemon checks the address against the network's prefix */
			if (!*v || strlen(v) > 45 || strpbrk(v, "/ \n\r"))
				r = usage_err("create", "--%s: `%s` is not a %s", f, v,
					      f[0] == 'n' ? "network name" : "bare address");
			else
				r = put_str(body, f, v);
		} else if (!strcmp(f, "template") || !strcmp(f, "plan")) {
			if (!*v || strlen(v) > 64 || strpbrk(v, "/\n\r"))
				r = usage_err("create", "--%s: `%s` is not a %s name", f, v, f);
			else
				r = put_str(body, f, v);
		} else if (!strcmp(f, "password") || !strcmp(f, "password-file")) {
			if (password)
				r = usage_err("create", "--password: given twice (or with "
							"--password-file)");
			else if (!strcmp(f, "password-file"))
				r = read_password("create", v, body);
			else if (!*v || strpbrk(v, "\n\r"))
				r = usage_err("create", "--password: must be one non-empty line");
			else
				r = put_str(body, "root_password", v);
			password = true;
		} else if (!strcmp(f, "ssh-key")) {
			if (strncmp(v, "ssh-", 4) && strncmp(v, "ecdsa-", 6) &&
			    strncmp(v, "sk-", 3))
				r = usage_err("create",
					      "--ssh-key: `%.20s...` is not an OpenSSH "
					      "public key (ssh-ed25519 AAAA...)",
					      v);
			else if (json_array_append_new(keys, json_string(v)) < 0)
				r = usage_err("create", "--ssh-key: not valid UTF-8");
		} else if (!strcmp(f, "onboot") || !strcmp(f, "start")) {
			r = json_object_set_new(body, f, json_true()) < 0 ? fail("out of memory") :
									    0;
		} else {
			char label[32];

			snprintf(label, sizeof(label), "--%s", f);
			r = field_put("create", label, field_find(f), v, body);
			if (strcmp(f, "owner") && strcmp(f, "hostname"))
				limit = f;
		}
	}
	if (r)
		goto out;
	if ((r = check_name("create", "NAME", name)))
		goto out;
	if (!kind) {
		r = usage_err("create", "--kind: required (ct or vm)");
		goto out;
	}
	if (vm_only && !strcmp(kind, "ct")) {
		r = usage_err("create", "--%s: only for --kind vm", vm_only);
		goto out;
	}
	if (limit && json_object_get(body, "plan")) {
		r = usage_err("create", "--%s: cannot be combined with --plan", limit);
		goto out;
	}
	if (json_array_size(keys))
		json_object_set(body, "ssh_keys", keys);
	json_object_set_new(body, "name", json_string(name));
	if (api("POST", "/vps", body, &reply, &err) < 0) {
		r = fail_err(&err);
		goto out;
	}
	printf("created %s (%s, %s)\n", name, kind,
	       json_string_value(json_object_get(reply, "state")) ?:
		       (json_object_get(body, "start") ? "running" : "stopped"));
out:
	json_decref(reply);
	json_decref(keys);
	json_decref(body);
	return r;
}

/* ---- list, show ---- */

static int cmd_list(int argc, char **argv)
{
	static const struct flag flags[] = { { "format", true }, { NULL, false } };
	static const char *const cols[] = { "name", "kind", "engine", "state", "ram",
					    "cpus", "disk", "owner",  NULL };
	struct err *err = NULL;
	json_t *reply, *rows;
	const char *f, *v;
	bool json = false;
	struct argp p;
	int t;

	argp_init(&p, "list", argc, argv);
	while ((t = argp_next(&p, flags, &f, &v)) != ARGP_END) {
		if (t == ARGP_ERR)
			return EXIT_USAGE;
		if (t == ARGP_HELP)
			return fputs(usage_list, stdout), 0;
		if (t == ARGP_POS)
			return usage_err("list", "unexpected argument `%s`", v);
		if (parse_format("list", v, &json))
			return EXIT_USAGE;
	}
	if (api("GET", "/vps", NULL, &reply, &err) < 0)
		return fail_err(&err);
	rows = as_list(reply);
	if (json) {
		print_json(rows ? rows : reply);
	} else {
		print_table(rows, cols);
	}
	json_decref(reply);
	return 0;
}

static int cmd_show(int argc, char **argv)
{
	static const char *const show_order[] = {
		"name",	 "kind",     "engine", "boot",	   "template", "iso",	    "state",
		"owner", "ram",	     "swap",   "cpus",	   "disk",     "io_weight", "bw",
		"pids",	 "hostname", "onboot", "ssh_keys", "created",  "last_exit", NULL
	};
	static const struct flag flags[] = { { "format", true }, { NULL, false } };
	const char *name = NULL, *f, *v;
	struct err *err = NULL;
	char path[64];
	bool json = false;
	struct argp p;
	json_t *reply;
	int t, r;

	argp_init(&p, "show", argc, argv);
	while ((t = argp_next(&p, flags, &f, &v)) != ARGP_END) {
		if (t == ARGP_ERR)
			return EXIT_USAGE;
		if (t == ARGP_HELP)
			return fputs(usage_show, stdout), 0;
		if (t == ARGP_POS && name)
			return usage_err("show", "unexpected argument `%s`", v);
		if (t == ARGP_POS)
			name = v;
		else if (parse_format("show", v, &json))
			return EXIT_USAGE;
	}
	if ((r = check_name("show", "NAME", name)))
		return r;
	snprintf(path, sizeof(path), "/vps/%s", name);
	if (api("GET", path, NULL, &reply, &err) < 0)
		return fail_err(&err);
	if (json)
		print_json(reply);
	else
		print_object_ordered(reply, show_order);
	json_decref(reply);
	return 0;
}

/* ---- start, stop, restart, destroy, suspend, unsuspend: one request per name ---- */

static const char *const done_words[][2] = {
	{ "start", "started" },	    { "stop", "stopped" },	{ "restart", "restarted" },
	{ "destroy", "destroyed" }, { "suspend", "suspended" }, { "unsuspend", "unsuspended" },
};

static const char *done_word(const char *cmd)
{
	for (size_t i = 0; i < ARRAY_SIZE(done_words); i++)
		if (!strcmp(cmd, done_words[i][0]))
			return done_words[i][1];
	return cmd;
}

static int lifecycle(const char *cmd, const char *usage, int argc, char **argv)
{
	static const struct flag stop_flags[] = { { "force", false },
						  { "timeout", true },
						  { NULL, false } };
	bool stop = !strcmp(cmd, "stop");
	const char *names[64], *f, *v;
	json_t *body = NULL, *reply;
	struct err *err = NULL;
	int n = 0, t, r = 0;
	struct argp p;

	argp_init(&p, cmd, argc, argv);
	if (stop)
		body = json_object();
	while ((t = argp_next(&p, stop ? stop_flags : NULL, &f, &v)) != ARGP_END) {
		if (t == ARGP_ERR) {
			r = EXIT_USAGE;
		} else if (t == ARGP_HELP) {
			fputs(usage, stdout);
			goto out;
		} else if (t == ARGP_POS) {
			if ((r = check_name(cmd, "NAME", v)))
				goto out;
			if (n == (int)ARRAY_SIZE(names)) {
				r = usage_err(cmd, "at most %zu names at once", ARRAY_SIZE(names));
				goto out;
			}
			names[n++] = v;
		} else if (!strcmp(f, "force")) {
			json_object_set_new(body, "force", json_true());
		} else {
			char *end;
			long s = strtol(v, &end, 10);

			if (!*v || *end || s < 1 || s > 3600)
				r = usage_err(
					cmd,
					"--timeout: `%s` is not a number of seconds (1 to 3600)",
					v);
			else
				json_object_set_new(body, "timeout", json_integer(s));
		}
		if (r)
			goto out;
	}
	if (!n) {
		r = usage_err(cmd, "missing NAME");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		char path[80];
		bool del = !strcmp(cmd, "destroy");

		if (del)
			snprintf(path, sizeof(path), "/vps/%s", names[i]);
		else
			snprintf(path, sizeof(path), "/vps/%s/%s", names[i], cmd);
		if (api(del ? "DELETE" : "POST", path, body, &reply, &err) < 0) {
			r = fail_err(&err);
			continue;
		}
		json_decref(reply);
		printf("%s %s\n", done_word(cmd), names[i]);
	}
out:
	json_decref(body);
	return r;
}

static int cmd_start(int argc, char **argv)
{
	return lifecycle("start", usage_start, argc, argv);
}

static int cmd_stop(int argc, char **argv)
{
	return lifecycle("stop", usage_stop, argc, argv);
}

static int cmd_restart(int argc, char **argv)
{
	return lifecycle("restart", usage_restart, argc, argv);
}

static int cmd_destroy(int argc, char **argv)
{
	return lifecycle("destroy", usage_destroy, argc, argv);
}

static int cmd_suspend(int argc, char **argv)
{
	return lifecycle("suspend", usage_suspend, argc, argv);
}

static int cmd_unsuspend(int argc, char **argv)
{
	return lifecycle("unsuspend", usage_unsuspend, argc, argv);
}

/* ---- reinstall ---- */

static const char usage_reinstall[] =
	"usage: vps reinstall NAME [--template T] [--password P | --password-file F]\n"
	"                          [--hostname H] [--ssh-key KEY]...\n"
	"A fresh disk from the template (its own, or T); the VPS keeps its name, plan,\n"
	"owner and addresses. Everything on the old disk is lost.\n";

static int cmd_reinstall(int argc, char **argv)
{
	static const struct flag flags[] = {
		{ "template", true }, { "password", true }, { "password-file", true },
		{ "hostname", true }, { "ssh-key", true },  { NULL, false },
	};
	json_t *body = json_object(), *keys = json_array(), *reply = NULL;
	const char *name = NULL, *f, *v;
	struct err *err = NULL;
	bool password = false;
	struct argp p;
	char path[80];
	int r = 0, t;

	argp_init(&p, "reinstall", argc, argv);
	while (!r && (t = argp_next(&p, flags, &f, &v)) != ARGP_END) {
		if (t == ARGP_ERR) {
			r = EXIT_USAGE;
		} else if (t == ARGP_HELP) {
			fputs(usage_reinstall, stdout);
			goto out;
		} else if (t == ARGP_POS) {
			if (name)
				r = usage_err("reinstall", "unexpected argument `%s`", v);
			name = v;
		} else if (!strcmp(f, "template")) {
			if (!*v || strlen(v) > 64 || strpbrk(v, "/\n\r"))
				r = usage_err("reinstall",
					      "--template: `%s` is not a template name", v);
			else
				r = put_str(body, "template", v);
		} else if (!strcmp(f, "password") || !strcmp(f, "password-file")) {
			if (password)
				r = usage_err("reinstall", "--password: given twice (or with "
							   "--password-file)");
			else if (!strcmp(f, "password-file"))
				r = read_password("reinstall", v, body);
			else if (!*v || strpbrk(v, "\n\r"))
				r = usage_err("reinstall",
					      "--password: must be one non-empty line");
			else
				r = put_str(body, "root_password", v);
			password = true;
		} else if (!strcmp(f, "hostname")) {
			r = put_str(body, "hostname", v);
		} else if (!strcmp(f, "ssh-key")) {
			if (strncmp(v, "ssh-", 4) && strncmp(v, "ecdsa-", 6) &&
			    strncmp(v, "sk-", 3))
				r = usage_err("reinstall",
					      "--ssh-key: `%.20s...` is not an OpenSSH public key",
					      v);
			else
				json_array_append_new(keys, json_string(v));
		}
	}
	if (r)
		goto out;
	if (!name) {
		r = usage_err("reinstall", "missing NAME");
		goto out;
	}
	if ((r = check_name("reinstall", "NAME", name)))
		goto out;
	if (json_array_size(keys))
		json_object_set(body, "ssh_keys", keys);
	snprintf(path, sizeof(path), "/vps/%s/reinstall", name);
	if (api("POST", path, body, &reply, &err) < 0) {
		r = fail_err(&err);
		goto out;
	}
	printf("reinstalled %s (%s)\n", name,
	       json_string_value(json_object_get(reply, "template")) ?: "");
out:
	json_decref(reply);
	json_decref(keys);
	json_decref(body);
	return r;
}

/* ---- set ---- */

static bool in_list(json_t *list, const char *s)
{
	json_t *e;
	size_t i;

	json_array_foreach(list, i, e)
	{
		if (json_is_string(e) && !strcmp(json_string_value(e), s))
			return true;
	}
	return false;
}

/* Settings that are not the running guest's: they never wait for a start. */
static bool not_runtime(const char *k)
{
	return !strcmp(k, "owner") || !strcmp(k, "onboot");
}

/*
 * "updated web1 (live: ram, cpus; at next start: hostname)" when the reply
 * lists the keys applied live; with a plain true or false, for all of them.
 */
static void print_set(const char *name, json_t *body, json_t *live)
{
	const char *k, *open = " (";
	bool first;
	json_t *v;

	printf("updated %s", name);
	if (json_is_boolean(live)) {
		printf(json_is_true(live) ? " (applied live)" : " (stored; applies at next start)");
	} else if (json_is_array(live)) {
		first = true;
		json_object_foreach(body, k, v)
		{
			if (!in_list(live, k))
				continue;
			printf("%s%s%s", first ? open : ", ", first ? "live: " : "", k);
			first = false;
			open = "; ";
		}
		first = true;
		json_object_foreach(body, k, v)
		{
			if (in_list(live, k) || not_runtime(k))
				continue;
			printf("%s%s%s", first ? open : ", ", first ? "at next start: " : "", k);
			first = false;
			open = "; ";
		}
		if (*open == ';')
			putchar(')');
	}
	putchar('\n');
}

/* `vps set NAME --plan P`: the plan action, which takes the plan's figures. */
static int set_plan(const char *name, const char *plan)
{
	json_t *body = json_pack("{s:s}", "plan", plan), *reply;
	struct err *err = NULL;
	char path[80];
	int r;

	snprintf(path, sizeof(path), "/vps/%s/plan", name);
	r = api("POST", path, body, &reply, &err);
	json_decref(body);
	if (r < 0)
		return fail_err(&err);
	json_decref(reply);
	printf("updated %s (plan %s)\n", name, plan);
	return 0;
}

static int cmd_set(int argc, char **argv)
{
	static const struct flag flags[] = { { "plan", true }, { NULL, false } };
	const char *name = NULL, *plan = NULL, *f, *v;
	json_t *body = json_object(), *reply = NULL;
	struct err *err = NULL;
	char path[64];
	struct argp p;
	int t, r = 0;

	argp_init(&p, "set", argc, argv);
	while (!r && (t = argp_next(&p, flags, &f, &v)) != ARGP_END) {
		const struct field *fd;
		char key[32];
		const char *eq;

		if (t == ARGP_ERR) {
			r = EXIT_USAGE;
		} else if (t == ARGP_HELP) {
			fputs(usage_set, stdout);
			goto out;
		} else if (t == ARGP_FLAG) {
			if (!*v || strlen(v) > 64 || strpbrk(v, "/\n\r"))
				r = usage_err("set", "--plan: `%s` is not a plan name", v);
			plan = v;
		} else if (!name) {
			r = check_name("set", "NAME", v);
			name = v;
		} else if (!(eq = strchr(v, '=')) || eq == v) {
			r = usage_err("set", "`%s`: expected KEY=VALUE (ram=1G)", v);
		} else {
			snprintf(key, sizeof(key), "%.*s", (int)(eq - v), v);
			if (!(fd = field_find(key)))
				r = usage_err(
					"set",
					"`%s`: unknown key `%s` (one of ram, swap, disk, cpus, "
					"io, bw, pids, hostname, owner, onboot)",
					v, key);
			else
				r = field_put("set", key, fd, eq + 1, body);
		}
	}
	if (r)
		goto out;
	if ((r = check_name("set", "NAME", name)))
		goto out;
	if (plan && json_object_size(body)) {
		r = usage_err("set", "--plan: cannot be combined with KEY=VALUE");
		goto out;
	}
	if (plan) {
		r = set_plan(name, plan);
		goto out;
	}
	if (!json_object_size(body)) {
		r = usage_err("set", "nothing to set (KEY=VALUE...)");
		goto out;
	}
	snprintf(path, sizeof(path), "/vps/%s", name);
	if (api("PATCH", path, body, &reply, &err) < 0) {
		r = fail_err(&err);
		goto out;
	}
	print_set(name, body, json_object_get(reply, "live"));
out:
	json_decref(reply);
	json_decref(body);
	return r;
}

/* ---- main ---- */

static const struct command {
	const char *name, *alias;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "create", NULL, cmd_create },	      { "list", "ls", cmd_list },
	{ "show", "info", cmd_show },	      { "start", NULL, cmd_start },
	{ "stop", NULL, cmd_stop },	      { "restart", NULL, cmd_restart },
	{ "destroy", "delete", cmd_destroy }, { "set", NULL, cmd_set },
	{ "reinstall", NULL, cmd_reinstall }, { "console", NULL, cmd_console },
	{ "exec", NULL, cmd_exec },	      { "host", NULL, cmd_host },
	{ "events", NULL, cmd_events },	      { "template", NULL, cmd_template },
	{ "plan", NULL, cmd_plan },	      { "net", "network", cmd_net },
	{ "policy", NULL, cmd_policy },	      { "suspend", NULL, cmd_suspend },
	{ "unsuspend", NULL, cmd_unsuspend }, { "passwd", NULL, cmd_passwd },
	{ "user", NULL, cmd_user },	      { "token", NULL, cmd_token },
	{ "audit", NULL, cmd_audit },	      { "op", NULL, cmd_op },
};

int main(int argc, char **argv)
{
	const char *env = getenv("VPS_SOCKET");
	struct argp p;
	const char *f, *v;
	int t, r;

	if (env && *env)
		cli_target.socket = env;
	/* Global flags come before the command (and are taken after it too: args.c). */
	argp_init(&p, NULL, argc - 1, argv + 1);
	while ((t = argp_next(&p, NULL, &f, &v)) != ARGP_POS) {
		if (t == ARGP_ERR)
			return EXIT_USAGE;
		if (t == ARGP_HELP)
			return fputs(usage_main, stdout), 0;
		if (t == ARGP_END) {
			fputs(usage_main, stderr);
			return EXIT_USAGE;
		}
	}
	if (!strcmp(v, "help"))
		return fputs(usage_main, stdout), 0;
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(v, commands[i].name) &&
		    (!commands[i].alias || strcmp(v, commands[i].alias)))
			continue;
		curl_global_init(CURL_GLOBAL_DEFAULT);
		r = commands[i].fn(argc - p.i - 1, argv + p.i + 1); /* the arguments after it */
		curl_global_cleanup();
		fflush(stdout);
		return r;
	}
	return usage_err(NULL, "unknown command `%s`", v);
}
