// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Who may do what on vpsd: `vps user` (accounts and their roles), `vps token`
 * (API tokens for scripts over TCP), `vps audit` (the record of every change
 * and login), `vps op` (one long operation started with ?async=1), and
 * `vps passwd` (a VPS's root password). Over the unix socket the caller is
 * root, the administrator; the daemon judges the rest.
 *
 * Passwords never go on the command line, where `ps` shows them: they are
 * one line of standard input, or typed twice without echo when standard
 * input is a terminal (passwd(1)'s habit).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "cli/cli.h"
#include "common/cleanup.h"

#define PASSWORD_MAX 1024 /* bytes of UTF-8, as the daemon counts them */
#define EXPIRES_MIN 60 /* s: the contract's range of expires_in */
#define EXPIRES_MAX 31536000 /* 365 days */

/* ---- passwords from standard input ---- */

static struct termios saved_tty;
static volatile sig_atomic_t echo_off;

/* ^C at the prompt: give the terminal its echo back before dying of the signal. */
static void restore_echo(int sig)
{
	if (echo_off)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* One line of stdin without its newline, or NULL at end of input. */
char *read_line(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);

	if (n < 0) {
		free(line);
		return NULL;
	}
	line[strcspn(line, "\r\n")] = '\0';
	return line;
}

char *prompt_line(const char *prompt)
{
	struct sigaction sa = { .sa_handler = restore_echo }, old_int, old_term;
	struct termios t;
	char *line;

	if (tcgetattr(STDIN_FILENO, &saved_tty) < 0) {
		fputs(prompt, stderr);
		fflush(stderr);
		return read_line();
	}
	t = saved_tty;
	t.c_lflag &= ~(tcflag_t)ECHO;
	t.c_lflag |= ECHONL;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	/*
	 * Echo off before the prompt shows, and TCSANOW, not TCSAFLUSH: an answer
	 * typed as soon as the prompt appears must be neither echoed nor thrown away.
	 */
	echo_off = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
	fputs(prompt, stderr);
	fflush(stderr);
	line = read_line();
	if (echo_off)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
	echo_off = 0;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return line;
}

void free_secret(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

/*
 * The password for `what` ("user `alice`"), between min and PASSWORD_MAX
 * characters: prompted twice on a terminal unless line_only, else stdin's
 * first line. 0 and *out (free_secret it), or a usage error.
 */
static int read_password(const char *cmd, const char *what, size_t min, bool line_only, char **out)
{
	char prompt[128], *pw, *again;
	size_t n;

	*out = NULL;
	if (!line_only && isatty(STDIN_FILENO)) {
		snprintf(prompt, sizeof(prompt), "New password for %s: ", what);
		if (!(pw = prompt_line(prompt)))
			return usage_err(cmd, "password: no password typed");
		again = prompt_line("Again: ");
		if (!again || strcmp(pw, again)) {
			free_secret(pw);
			free_secret(again);
			return usage_err(cmd, "password: the two do not match");
		}
		free_secret(again);
	} else if (!(pw = read_line())) {
		return usage_err(cmd, "password: nothing on standard input (give it as a line)");
	}
	n = strlen(pw);
	if (n < min || n > PASSWORD_MAX) {
		free_secret(pw);
		return usage_err(cmd, "password: must be %zu to %d characters (not %zu)", min,
				 PASSWORD_MAX, n);
	}
	*out = pw;
	return 0;
}

/* A body {key: password}, or NULL when it is not UTF-8 (json_string refuses it). */
static json_t *password_body(const char *key, const char *pw)
{
	json_t *v = json_string(pw);

	return v ? json_pack("{s:o}", key, v) : NULL;
}

/* ---- checks of shape ---- */

/* 30d, 12h, 90m, 3600s, 2w or a bare number of seconds. */
static int parse_duration(const char *s, long *secs)
{
	static const struct {
		char unit;
		long mult;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 } };
	char *end;
	long n;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || n > EXPIRES_MAX)
		return -ERANGE;
	if (!*end) {
		*secs = n;
		return 0;
	}
	if (end[1])
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (*end == units[i].unit) {
			*secs = n * units[i].mult; /* n <= EXPIRES_MAX: no overflow in a long */
			return 0;
		}
	return -EINVAL;
}

/* ADDR/LEN, IPv4 or IPv6; a bare address is the one host (/32, /128). */
static int put_cidr(const char *cmd, const char *v, json_t *list)
{
	unsigned char addr[16];
	char host[INET6_ADDRSTRLEN], cidr[INET6_ADDRSTRLEN + 8], *end;
	const char *slash = strchr(v, '/');
	size_t hlen = slash ? (size_t)(slash - v) : strlen(v);
	bool v6 = memchr(v, ':', hlen) != NULL;
	long len = v6 ? 128 : 32;

	if (hlen >= sizeof(host))
		goto bad;
	memcpy(host, v, hlen);
	host[hlen] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) != 1)
		goto bad;
	if (slash) {
		errno = 0;
		len = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || errno || slash[1] < '0' || slash[1] > '9' || len < 0 ||
		    len > (v6 ? 128 : 32))
			goto bad;
	}
	snprintf(cidr, sizeof(cidr), "%s/%ld", host, len);
	json_array_append_new(list, json_string(cidr));
	return 0;
bad:
	return usage_err(cmd, "--source: `%s` is not an address or ADDR/LEN (10.0.0.0/8, ::1/128)",
			 v);
}

/* ---- vps user ---- */

static const char *const user_cols[] = { "name", "role", "created", NULL };

static int user_write(const char *sub, const char *name, const char *role, bool line_only)
{
	char cmd[32], what[64], path[64];
	struct err *err = NULL;
	json_t *body, *reply;
	char *pw;
	int r;

	snprintf(cmd, sizeof(cmd), "user %s", sub);
	snprintf(what, sizeof(what), "user `%s`", name);
	if ((r = read_password(cmd, what, 8, line_only, &pw)))
		return r;
	body = password_body("password", pw);
	free_secret(pw);
	if (!body)
		return usage_err(cmd, "password: not valid UTF-8");
	if (role) {
		json_object_set_new(body, "name", json_string(name));
		json_object_set_new(body, "role", json_string(role));
		r = api("POST", "/users", body, &reply, &err);
	} else {
		snprintf(path, sizeof(path), "/users/%s", name);
		r = api("PATCH", path, body, &reply, &err);
	}
	json_decref(body);
	if (r < 0)
		return fail_err(&err);
	json_decref(reply);
	if (role)
		printf("created user %s (%s)\n", name, role);
	else
		printf("changed the password of user %s\n", name);
	return 0;
}

int cmd_user_list(struct args *a)
{
	return api_show("/users", a->json, user_cols, NULL);
}

int cmd_user_add(struct args *a)
{
	return user_write(a->c->name, a->pos[0], args_get(a, "role"),
			  args_has(a, "password-stdin"));
}

int cmd_user_passwd(struct args *a)
{
	return user_write(a->c->name, a->pos[0], NULL, args_has(a, "password-stdin"));
}

/*
 * `vps user set NAME quota.vps=3 quota.ram=4G quota.disk=none 2fa=off`:
 * the quota's other figures are kept (the API replaces the whole object).
 */
int cmd_user_set(struct args *a)
{
	static const struct field sizes = { "size", "v", F_SIZE }, cpus = { "cpus", "v", F_CPUS };
	json_t *body = json_object(), *quota = NULL, *cur = NULL, *v;
	const char *cmd = "user set", *name = a->pos[0];
	struct err *err = NULL;
	char path[64];
	int r = 0;

	snprintf(path, sizeof(path), "/users/%s", name);
	for (int i = 1; i < a->npos && r == 0; i++) {
		const char *kv = a->pos[i], *eq = strchr(kv, '='), *val = eq ? eq + 1 : "";
		char key[32];

		if (!eq || eq - kv >= (long)sizeof(key) || !*val) {
			r = usage_err(cmd, "`%s`: expected KEY=VALUE (quota.vps=3, 2fa=off)", kv);
			break;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
		if (!strcmp(key, "2fa")) {
			if (strcmp(val, "off"))
				r = usage_err(cmd, "2fa: only `off` (the user turns it on: vps 2fa "
						   "enable)");
			json_object_set_new(body, "2fa", json_false());
			continue;
		}
		if (strncmp(key, "quota.", 6)) {
			r = usage_err(
				cmd,
				"`%s`: not a setting of a user (quota.vps, quota.ram, "
				"quota.disk, quota.cpus, quota.addresses, quota.backups, 2fa)",
				key);
			break;
		}
		if (!quota) { /* what the user has now: the figures not named stay */
			if (api("GET", path, NULL, &cur, &err) < 0) {
				json_decref(body);
				return fail_err(&err);
			}
			quota = json_deep_copy(json_object_get(cur, "quota"));
			json_decref(cur);
			if (!json_is_object(quota)) {
				json_decref(quota);
				quota = json_object();
			}
			json_object_set_new(body, "quota", quota);
		}
		v = json_object();
		if (!strcmp(val, "none")) {
			json_object_set_new(v, "v", json_null());
		} else if (!strcmp(key, "quota.ram") || !strcmp(key, "quota.disk")) {
			r = field_put(cmd, key, &sizes, val, v);
		} else if (!strcmp(key, "quota.cpus")) {
			r = field_put(cmd, key, &cpus, val, v);
		} else if (!strcmp(key, "quota.vps") || !strcmp(key, "quota.addresses") ||
			   !strcmp(key, "quota.backups")) {
			char *end;
			long n;

			errno = 0;
			n = strtol(val, &end, 10);
			if (*end || errno || n < 0 || n > 1000000)
				r = usage_err(cmd,
					      "%s: `%s` is not a count (0 to 1000000, or none)",
					      key, val);
			else
				json_object_set_new(v, "v", json_integer(n));
		} else {
			r = usage_err(cmd,
				      "`%s`: a quota has vps, ram, disk, cpus, addresses, backups",
				      key);
		}
		if (r == 0)
			json_object_set(quota, key + 6, json_object_get(v, "v"));
		json_decref(v);
	}
	if (r == 0 && !json_object_size(body))
		r = usage_err(cmd, "nothing to set (quota.vps=3, quota.ram=4G, 2fa=off)");
	if (r == 0 && api("PATCH", path, body, &cur, &err) < 0)
		r = fail_err(&err);
	else if (r == 0) {
		static const char *const order[] = { "name", "role", "quota", "2fa", NULL };

		print_object_ordered(cur, order);
		json_decref(cur);
	}
	json_decref(body);
	return r;
}

int cmd_user_rm(struct args *a)
{
	return api_delete("users", a->pos[0], "removed user");
}

/* ---- vps token ---- */

static const char *const token_cols[] = { "id",	     "name",	"user",	     "created",
					  "expires", "sources", "last_used", NULL };

static int token_create(const char *name, json_t *body, bool json)
{
	struct err *err = NULL;
	char when[64], id[80];
	json_t *reply;

	json_object_set_new(body, "name", json_string(name));
	if (api("POST", "/tokens", body, &reply, &err) < 0)
		return fail_err(&err);
	if (json) {
		print_json(reply);
	} else {
		/* the secret alone on stdout, for TOKEN=$(vps token create ...) */
		printf("%s\n", json_string_value(json_object_get(reply, "token")) ?: "");
		cell_text("expires", json_object_get(reply, "expires"), when, sizeof(when));
		cell_text("id", json_object_get(reply, "id"), id, sizeof(id));
		fprintf(stderr,
			"token %s (id %s, user %s) expires %s; it is shown only this once\n", name,
			id, json_string_value(json_object_get(reply, "user")) ?: "-", when);
	}
	json_decref(reply);
	return 0;
}

int cmd_token_list(struct args *a)
{
	struct err *err = NULL;
	json_t *reply, *row;
	size_t i;

	if (api("GET", "/tokens", NULL, &reply, &err) < 0)
		return fail_err(&err);
	if (a->json) {
		print_json(reply);
	} else {
		/* "used" is a time here but a size in the host report: renamed */
		json_array_foreach(as_list(reply), i, row)
		{
			json_object_set(row, "last_used", json_object_get(row, "used"));
		}
		print_table(as_list(reply), token_cols);
	}
	json_decref(reply);
	return 0;
}

int cmd_token_create(struct args *a)
{
	json_t *body = json_object(), *sources = json_array();
	const char *name = a->pos[0];
	long expires = 0;
	int r = 0;

	for (int i = 0; !r && i < a->ngiven; i++) {
		const char *f = a->given[i].opt->name, *v = a->given[i].val;

		if (!strcmp(f, "expires")) {
			int e = parse_duration(v, &expires);

			if (e == -EINVAL)
				r = usage_err(a->cmd,
					      "--expires: `%s` is not a duration (30d, 12h, "
					      "3600s)",
					      v);
			else if (e < 0 || expires < EXPIRES_MIN || expires > EXPIRES_MAX)
				r = usage_err(a->cmd,
					      "--expires: `%s` is out of range (60 s to 365 days)",
					      v);
		} else if (!strcmp(f, "source")) {
			r = put_cidr(a->cmd, v, sources);
		} else if (!strcmp(f, "user") && !(r = check_user(a->cmd, "--user", v))) {
			json_object_set_new(body, "user", json_string(v));
		}
	}
	if (r)
		goto out;
	if (!*name || strlen(name) > 64 || strpbrk(name, "\n\r")) {
		r = usage_err(a->cmd, "`%s`: a token name is one line of 1 to 64 characters", name);
		goto out;
	}
	json_object_set_new(body, "expires_in", json_integer(expires));
	if (json_array_size(sources))
		json_object_set(body, "sources", sources);
	r = token_create(name, body, a->json);
out:
	json_decref(sources);
	json_decref(body);
	return r;
}

int cmd_token_rm(struct args *a)
{
	return api_delete("tokens", a->pos[0], "removed token");
}

/* ---- vps audit ---- */

int cmd_audit(struct args *a)
{
	static const char *const cols[] = { "time", "user",   "source", "method",
					    "path", "status", NULL };
	char path[64] = "/audit";

	if (args_has(a, "n"))
		snprintf(path, sizeof(path), "/audit?limit=%ld", args_num(a, "n", 0));
	return api_show(path, a->json, cols, NULL);
}

/* ---- vps op ---- */

int cmd_op(struct args *a)
{
	static const char *const order[] = { "id",	"vps",	    "action", "user",	"state",
					     "created", "finished", "error",  "result", NULL };
	char path[96];

	snprintf(path, sizeof(path), "/operations/%s", a->pos[0]);
	return api_show(path, a->json, NULL, order);
}

/* ---- vps passwd: a VPS's root password ---- */

int cmd_passwd(struct args *a)
{
	const char *name = a->pos[0];
	struct err *err = NULL;
	json_t *body, *reply;
	char path[80], what[64], *pw;
	int r;

	snprintf(what, sizeof(what), "root on `%s`", name);
	if ((r = read_password(a->cmd, what, 1, args_has(a, "password-stdin"), &pw)))
		return r;
	body = password_body("password", pw);
	free_secret(pw);
	if (!body)
		return usage_err("passwd", "password: not valid UTF-8");
	snprintf(path, sizeof(path), "/vps/%s/password", name);
	r = api("POST", path, body, &reply, &err);
	json_decref(body);
	if (r < 0)
		return fail_err(&err);
	json_decref(reply);
	printf("changed the root password of %s\n", name);
	return 0;
}
