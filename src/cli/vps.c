// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `vps`: the VPS lifecycle commands (create, list, show, start, stop,
 * restart, destroy, suspend, unsuspend, reinstall, set). Each handler reads
 * the arguments args.c parsed against commands.c's table, builds the API
 * body, makes one request (api.c) and prints the reply (out.c). The habits are incus's and vzctl's: `vps start web1`,
 * `vps set web1 ram=1G`, no confirmation prompts, plain tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/cleanup.h"
#include "common/util.h"

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

/* --user-data FILE: its text into the body as user_data; the daemon checks what it is. */
static int read_user_data(const char *cmd, const char *file, json_t *body)
{
	_cleanup_free_ char *text = NULL;
	size_t n;
	int r;

	if ((r = read_file(file, &text, &n)) < 0)
		return usage_err(cmd, "--user-data: open `%s`: %s", file, strerror(-r));
	if (memchr(text, '\0', n))
		return usage_err(cmd, "--user-data: `%s` is not text (a NUL byte)", file);
	if (json_object_set_new(body, "user_data", json_stringn(text, n)) < 0)
		return usage_err(cmd, "--user-data: `%s` is not UTF-8 text", file);
	return 0;
}

/* A name of something vpsd holds (a template, a plan): the daemon looks it up. */
static bool ref_ok(const char *v)
{
	return *v && strlen(v) <= 64 && !strpbrk(v, "/\n\r");
}

static bool ssh_key_ok(const char *v)
{
	return !strncmp(v, "ssh-", 4) || !strncmp(v, "ecdsa-", 6) || !strncmp(v, "sk-", 3);
}

/*
 * --password and --password-file, at most one of them once: into the body as
 * root_password. Shared by create and reinstall.
 */
static int take_password(const char *cmd, const char *f, const char *v, bool *password,
			 json_t *body)
{
	if (*password)
		return usage_err(cmd, "--password: given twice (or with --password-file)");
	*password = true;
	if (!strcmp(f, "password-file"))
		return read_password(cmd, v, body);
	if (!*v || strpbrk(v, "\n\r"))
		return usage_err(cmd, "--password: must be one non-empty line");
	return put_str(body, "root_password", v);
}

/* The body's fields (V_FIELD: ram, owner ...) are in a->body already; these are the others. */
static int create_option(struct args *a, const char *f, const char *v, bool *password, json_t *keys,
			 json_t *body)
{
	if (!strcmp(f, "kind") || !strcmp(f, "engine") || !strcmp(f, "boot"))
		return put_str(body, f, v); /* a choice: the parser checked it */
	if (!strcmp(f, "iso")) {
		if (!*v || strpbrk(v, "\n\r"))
			return usage_err(a->cmd, "--iso: needs an ISO's name");
		return put_str(body, "iso", v);
	}
	if (!strcmp(f, "network") || !strcmp(f, "ipv4") || !strcmp(f, "ipv6") ||
	    !strcmp(f, "node")) {
		/* the daemon checks the address against the network's prefix */
		if (!*v || strlen(v) > 45 || strpbrk(v, "/ \n\r"))
			return usage_err(a->cmd, "--%s: `%s` is not a %s", f, v,
					 !strcmp(f, "node") ? "node name" :
					 f[0] == 'n'	    ? "network name" :
							      "bare address");
		return put_str(body, f, v);
	}
	if (!strcmp(f, "template") || !strcmp(f, "plan") || !strcmp(f, "pool")) {
		if (!ref_ok(v))
			return usage_err(a->cmd, "--%s: `%s` is not a %s name", f, v, f);
		return put_str(body, f, v);
	}
	if (!strcmp(f, "password") || !strcmp(f, "password-file"))
		return take_password(a->cmd, f, v, password, body);
	if (!strcmp(f, "user-data"))
		return read_user_data(a->cmd, v, body);
	if (!strcmp(f, "ssh-key")) {
		if (!ssh_key_ok(v))
			return usage_err(a->cmd,
					 "--ssh-key: `%.20s...` is not an OpenSSH "
					 "public key (ssh-ed25519 AAAA...)",
					 v);
		if (json_array_append_new(keys, json_string(v)) < 0)
			return usage_err(a->cmd, "--ssh-key: not valid UTF-8");
		return 0;
	}
	if (!strcmp(f, "onboot") || !strcmp(f, "start"))
		return json_object_set_new(body, f, json_true()) < 0 ? fail("out of memory") : 0;
	return 0;
}

int cmd_create(struct args *a)
{
	json_t *body = a->body ? json_incref(a->body) : json_object(), *keys = json_array();
	const char *name = a->pos[0], *limit = NULL, *kind = args_get(a, "kind");
	json_t *reply = NULL;
	bool password = false;
	struct err *err = NULL;
	int r = 0;

	for (int i = 0; !r && i < a->ngiven; i++) {
		const char *f = a->given[i].opt->name;

		if (a->given[i].opt->type == V_FIELD) {
			if (strcmp(f, "owner") && strcmp(f, "hostname"))
				limit = f;
			continue;
		}
		r = create_option(a, f, a->given[i].val, &password, keys, body);
	}
	if (r)
		goto out;
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

int cmd_list(struct args *a)
{
	static const char *const cols[] = { "name", "kind", "engine", "state", "ram",
					    "cpus", "disk", "owner",  NULL };
	static const char *const query[] = { "limit", "after", "owner", "node", "state", NULL };
	struct err *err = NULL;
	json_t *reply, *rows;
	char path[512] = "/vps";
	size_t len = strlen(path);

	for (int i = 0; query[i]; i++) {
		const char *v = args_get(a, query[i]);

		if (!v)
			continue;
		/* names are letters, digits, `.`, `_` and `-`: nothing to escape in a query */
		if (strspn(v,
			   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
		    strlen(v))
			return fail("--%s: `%s` is not a name", query[i], v);
		len += (size_t)snprintf(path + len, sizeof(path) - len, "%c%s=%s",
					len == 4 ? '?' : '&', query[i], v);
		if (len >= sizeof(path))
			return fail("--%s: too long", query[i]);
	}
	if (api("GET", path, NULL, &reply, &err) < 0)
		return fail_err(&err);
	rows = as_list(reply);
	if (a->json) {
		print_json(rows ? rows : reply);
	} else {
		print_table(rows, cols);
	}
	json_decref(reply);
	return 0;
}

int cmd_show(struct args *a)
{
	static const char *const show_order[] = {
		"name",		 "kind",	"engine",	"boot",
		"template",	 "iso",		"state",	"owner",
		"ram",		 "swap",	"cpus",		"disk",
		"io_weight",	 "io_read_bps", "io_write_bps", "io_read_iops",
		"io_write_iops", "bw",		"pids",		"features",
		"hostname",	 "onboot",	"ssh_keys",	"created",
		"last_exit",	 NULL
	};
	char path[64];

	snprintf(path, sizeof(path), "/vps/%s", a->pos[0]);
	return api_show(path, a->json, NULL, show_order);
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

/* start, stop, restart, destroy, suspend, unsuspend: each NAME in turn; a failure does not stop the rest. */
int cmd_lifecycle(struct args *a)
{
	const char *cmd = a->c->name, *const *names = a->pos;
	json_t *body = NULL, *reply;
	struct err *err = NULL;
	int n = a->npos, r = 0;

	if (!strcmp(cmd, "stop")) {
		body = json_object();
		if (args_has(a, "force"))
			json_object_set_new(body, "force", json_true());
		if (args_has(a, "timeout"))
			json_object_set_new(body, "timeout",
					    json_integer(args_num(a, "timeout", 0)));
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
	json_decref(body);
	return r;
}

/* ---- rescue ---- */

int cmd_rescue(struct args *a)
{
	const char *name = a->pos[0], *how = a->pos[1];
	json_t *reply = NULL, *body;
	struct err *err = NULL;
	char path[80];
	int r;

	if (strcmp(how, "on") && strcmp(how, "off"))
		return usage_err("rescue", "`%s`: on or off", how);
	snprintf(path, sizeof(path), "/vps/%s/rescue", name);
	body = json_pack("{s:b}", "on", !strcmp(how, "on"));
	r = api("POST", path, body, &reply, &err);
	json_decref(body);
	if (r < 0)
		return fail_err(&err);
	json_decref(reply);
	printf("rescue %s for %s\n", how, name);
	return 0;
}

/* ---- reinstall ---- */

int cmd_reinstall(struct args *a)
{
	json_t *body = json_object(), *keys = json_array(), *reply = NULL;
	const char *name = a->pos[0];
	struct err *err = NULL;
	bool password = false;
	char path[80];
	int r = 0;

	for (int i = 0; !r && i < a->ngiven; i++) {
		const char *f = a->given[i].opt->name, *v = a->given[i].val;

		if (!strcmp(f, "template")) {
			if (!ref_ok(v))
				r = usage_err(a->cmd, "--template: `%s` is not a template name", v);
			else
				r = put_str(body, "template", v);
		} else if (!strcmp(f, "password") || !strcmp(f, "password-file")) {
			r = take_password(a->cmd, f, v, &password, body);
		} else if (!strcmp(f, "hostname")) {
			r = put_str(body, "hostname", v);
		} else if (!strcmp(f, "user-data")) {
			r = read_user_data(a->cmd, v, body);
		} else if (!ssh_key_ok(v)) {
			r = usage_err(a->cmd, "--ssh-key: `%.20s...` is not an OpenSSH public key",
				      v);
		} else {
			json_array_append_new(keys, json_string(v));
		}
	}
	if (r)
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

int cmd_set(struct args *a)
{
	const char *name = a->pos[0], *plan = args_get(a, "plan");
	json_t *body = json_object(), *reply = NULL;
	struct err *err = NULL;
	char path[64];
	int r = 0;

	if (plan && !ref_ok(plan)) {
		r = usage_err(a->cmd, "--plan: `%s` is not a plan name", plan);
		goto out;
	}
	for (int i = 1; !r && i < a->npos; i++) {
		const char *v = a->pos[i], *eq = strchr(v, '=');
		const struct field *fd;
		char key[32];

		if (!eq || eq == v) {
			r = usage_err(a->cmd, "`%s`: expected KEY=VALUE (ram=1G)", v);
		} else {
			snprintf(key, sizeof(key), "%.*s", (int)(eq - v), v);
			if (!(fd = field_find(key)))
				r = usage_err(
					a->cmd,
					"`%s`: unknown key `%s` (one of ram, swap, disk, cpus, "
					"io, bw, pids, read-bps, write-bps, read-iops, write-iops, "
					"features, hostname, owner, onboot, iso)",
					v, key);
			else
				r = field_put(a->cmd, key, fd, eq + 1, body);
		}
	}
	if (r)
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
