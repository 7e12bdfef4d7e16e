// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The one argument parser of `vps`, and the checks that turn option values
 * into the API body. A command line is read against the command table
 * (commands.c): the command's word and its subcommand's, then options
 * anywhere (getopt_long's forms: --opt=V, --opt V, -nV, -n V; `--` ends
 * them), checked by type as they come, then the positionals there must be
 * and the options that must be given. The handler gets a filled struct args.
 * The checks are of shape only (a size parses, a name is a name): ranges
 * and everything that depends on the host are the daemon's to judge, and
 * its message reaches the user as it is. Every error names the option, the
 * positional or the `set` key it is about, and exits 2.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/cleanup.h"
#include "common/util.h"

struct cli_target cli_target;

static void vmsg(const char *fmt, va_list ap)
{
	fputs("vps: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int usage_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try `vps %s%s--help`.\n", cmd ? cmd : "", cmd && *cmd ? " " : "");
	return EXIT_USAGE;
}

int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	return EXIT_FAIL;
}

int fail_err(struct err **err)
{
	fail("%s", err_msg(*err));
	err_free(err);
	return EXIT_FAIL;
}

static const struct opt global_opts[] = {
	{ .name = "socket", .type = V_STR, .meta = "PATH" },
	{ .name = "url", .type = V_STR, .meta = "http://HOST:PORT" },
	{ 0 },
};

static bool opt_end(const struct opt *o)
{
	return !o->name && !o->short_name;
}

const char *opt_label(const struct opt *o, char *buf, size_t len)
{
	if (o->name)
		snprintf(buf, len, "--%s", o->name);
	else
		snprintf(buf, len, "-%c", o->short_name);
	return buf;
}

/* The option by long name (len bytes of it) or, with len 0, by short letter. */
static const struct opt *opt_find(const struct opt *opts, const char *name, size_t len)
{
	for (const struct opt *o = opts; o && !opt_end(o); o++) {
		if (len && o->name && strlen(o->name) == len && !strncmp(o->name, name, len))
			return o;
		if (!len && o->short_name && o->short_name == *name)
			return o;
	}
	return NULL;
}

/* "ct or vm", "a, b or c" */
static void join_or(const char *const *words, char *buf, size_t len)
{
	size_t n = 0, used = 0;

	while (words[n])
		n++;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++)
		used += snprintf(buf + used, len - used, "%s%s",
				 i == 0	    ? "" :
				 i + 1 == n ? " or " :
					      ", ",
				 words[i]);
}

/*
 * An option this command does not take but a sibling does (`user rm --role`),
 * or, at a command of commands, one of its subcommands does (`user --role`):
 * "--role: only for `user add`". 0 when none takes it.
 */
static int only_for(const struct args *a, const struct command *parent, const char *label,
		    const char *name, size_t len)
{
	const struct command *family = a->c->subs ? a->c : parent;
	const char *sp = strrchr(a->cmd, ' ');
	int prefix = a->c->subs || !sp ? (int)strlen(a->cmd) : (int)(sp - a->cmd);
	char list[192] = "";
	size_t used = 0;
	int n = 0, total = 0;

	if (!family || !*a->cmd) /* not at the top: `vps --format` is no command's */
		return 0;
	for (const struct command *s = family->subs; s->name; s++)
		total += opt_find(s->opts, name, len) ? 1 : 0;
	for (const struct command *s = family->subs; s->name && used < sizeof(list); s++) {
		if (!opt_find(s->opts, name, len))
			continue;
		used += snprintf(list + used, sizeof(list) - used, "%s`%.*s %s`",
				 n == 0		? "" :
				 n + 1 == total ? " and " :
						  ", ",
				 prefix, a->cmd, s->name);
		n++;
	}
	return n ? usage_err(a->cmd, "%s: only for %s", label, list) : 0;
}

/* Check a value for its option's type and keep it. */
static int take_value(struct args *a, const struct opt *o, const char *label, const char *v)
{
	char which[96], *end;
	long n;

	switch (o->type) {
	case V_FLAG:
	case V_STR:
		break;
	case V_INT:
		errno = 0;
		n = strtol(v, &end, 10);
		if (!*v || *end || errno || n < o->min || n > o->max)
			return usage_err(a->cmd, "%s: `%s` is not %s (%ld to %ld)", label, v,
					 o->what ? o->what : "a number", o->min, o->max);
		break;
	case V_CHOICE:
		for (size_t i = 0; o->choices[i]; i++)
			if (!strcmp(v, o->choices[i]))
				goto ok;
		join_or(o->choices, which, sizeof(which));
		return usage_err(a->cmd, "%s: `%s` is not %s", label, v, which);
	case V_FORMAT:
		if (parse_format(a->cmd, v, &a->json))
			return EXIT_USAGE;
		break;
	case V_FIELD:
		if (!a->body && !(a->body = json_object()))
			return fail("out of memory");
		if (field_put(a->cmd, label, field_find(o->name), v, a->body))
			return EXIT_USAGE;
		break;
	case V_VPS:
		if (!name_ok(v))
			return usage_err(a->cmd, "%s: `%s` is not a VPS name", label, v);
		break;
	}
ok:
	if (a->ngiven == ARGS_MAX)
		return usage_err(a->cmd, "more than %d options", ARGS_MAX);
	a->given[a->ngiven++] = (struct given){ o, v };
	return 0;
}

/* --socket and --url, taken by every command: where vpsd is. */
static int take_global(struct args *a, const struct opt *o, const char *v)
{
	if (!strcmp(o->name, "socket")) {
		if (!*v)
			return usage_err(a->cmd, "--socket: needs a path");
		cli_target.socket = v;
		return 0;
	}
	if (strncmp(v, "http://", 7) || !v[7])
		return usage_err(a->cmd, "--url: `%s` is not http://HOST:PORT", v);
	cli_target.url = v;
	return 0;
}

/*
 * One option word at argv[*i] (already past it): long (`--ram=1G`, `--ram 1G`)
 * or short (`-n 20`, `-n20`). 0, -1 for --help, or EXIT_USAGE.
 */
static int take_option(struct args *a, const struct command *parent, int argc, char **argv, int *i)
{
	const char *w = argv[*i - 1], *name, *eq = NULL, *v = NULL;
	const struct opt *o;
	bool global = false;
	char label[64];
	size_t len;

	if (!strcmp(w, "-h") || !strcmp(w, "--help"))
		return -1;
	if (w[1] != '-') { /* -n 20, -n20 */
		o = opt_find(a->c->opts, w + 1, 0);
		if (!o || (w[2] && o->type == V_FLAG))
			return usage_err(a->cmd, "unknown flag `%s`", w);
		if (w[2])
			v = w + 2;
	} else {
		name = w + 2;
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		o = len > 1 ? opt_find(a->c->opts, name, len) : NULL; /* one letter: -n only */
		if (!o && len > 1 && (o = opt_find(global_opts, name, len)))
			global = true;
		if (!o) {
			snprintf(label, sizeof(label), "--%.*s", (int)(len < 40 ? len : 40), name);
			return only_for(a, parent, label, name, len) ?:
				       usage_err(a->cmd, "unknown flag `%s`", label);
		}
		if (eq)
			v = eq + 1;
	}
	opt_label(o, label, sizeof(label));
	if (o->type == V_FLAG) {
		if (eq)
			return usage_err(a->cmd, "%s: takes no value", label);
	} else if (!v) {
		/* a long option's value may not look like the next option: --ram --swap 1G */
		if (*i < argc && (!o->name || strncmp(argv[*i], "--", 2)))
			v = argv[(*i)++];
		else
			return usage_err(a->cmd, "%s: needs a value", label);
	}
	return global ? take_global(a, o, v) : take_value(a, o, label, v);
}

/* User names: 1-32 of a-z 0-9 _ . -, starting with a letter (a login name). */
int check_user(const char *cmd, const char *what, const char *s)
{
	size_t n;

	if (!s)
		return usage_err(cmd, "missing %s", what);
	n = strlen(s);
	if (n < 1 || n > 32 || s[0] < 'a' || s[0] > 'z' ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != n)
		return usage_err(cmd,
				 "%s%s`%s`: not a user name (1-32 of a-z, 0-9, _, . and -, "
				 "starting with a letter)",
				 what[0] == '-' ? what : "", what[0] == '-' ? ": " : "", s);
	return 0;
}

/* Token and operation ids: what the daemon hands out, letters, digits and -. */
static int check_id(const char *cmd, const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64 ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != n)
		return usage_err(cmd, "`%s`: not an id", s);
	return 0;
}

static int check_pos(const char *cmd, const struct pos *p, const char *v)
{
	switch (p->type) {
	case P_NAME:
		return check_name(cmd, p->name, v);
	case P_USER:
		return check_user(cmd, p->name, v);
	case P_NODE: /* vpsd --node defaults to the host name: dots and capitals too */
		if (!*v || strlen(v) > 63 || *v == '-' || *v == '.' ||
		    strspn(v,
			   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
			    strlen(v))
			return usage_err(cmd,
					 "%s: `%s` is not a node name (1-63 of a-z, A-Z, 0-9, ., _ "
					 "and -, not starting with - or .)",
					 p->name, v);
		break;
	case P_ID:
		return check_id(cmd, v);
	case P_REAL: {
		char *end;

		strtod(v, &end);
		if (end == v || *end)
			return usage_err(cmd, "%s: `%s` is not a number", p->name, v);
		break;
	}
	case P_ANY:
		break;
	}
	return 0;
}

/* The positional spec for the n-th positional, or NULL when there is none. */
static const struct pos *pos_at(const struct command *c, int n)
{
	int i;

	for (i = 0; c->pos && c->pos[i].name; i++)
		if (i == n)
			return &c->pos[i];
	if (i > 0 && c->pos[i - 1].many)
		return &c->pos[i - 1];
	return NULL;
}

/* After the words: the positionals there must be, the options that must be given. */
static int check_complete(struct args *a)
{
	const struct command *c = a->c;
	char which[96], label[64];

	for (int i = 0; c->pos && c->pos[i].name; i++)
		if (i >= a->npos && !c->pos[i].optional && !(c->pos[i].rest && a->nrest))
			return usage_err(a->cmd, "missing %s", c->pos[i].name);
	for (const struct opt *o = c->opts; o && !opt_end(o); o++) {
		if (!o->required || args_get(a, o->name))
			continue;
		if (o->choices)
			join_or(o->choices, which, sizeof(which));
		return usage_err(a->cmd, "%s: required (%s)", opt_label(o, label, sizeof(label)),
				 o->choices ? which :
				 o->hint    ? o->hint :
					      "");
	}
	for (const struct opt *o = c->opts; o && !opt_end(o); o++) {
		const char *eq = o->only_with ? strchr(o->only_with, '=') : NULL, *val;
		char other[32];

		if (!eq || !args_get(a, o->name))
			continue;
		snprintf(other, sizeof(other), "%.*s", (int)(eq - o->only_with), o->only_with);
		if ((val = args_get(a, other)) && strcmp(val, eq + 1))
			return usage_err(a->cmd, "--%s: only for --%s %s", o->name, other, eq + 1);
	}
	return 0;
}

static int parse(const struct command *c, const struct command *parent, const char *cmd, int argc,
		 char **argv, struct args *a)
{
	bool dashdash = false;
	int i = 0, r;

	memset(a, 0, sizeof(*a));
	snprintf(a->cmd, sizeof(a->cmd), "%s", cmd);
	a->c = c;
	while (i < argc) {
		const char *w = argv[i++];
		const struct pos *p;

		if (!dashdash && !strcmp(w, "--")) {
			dashdash = true;
			continue;
		}
		if (!dashdash && w[0] == '-' && w[1]) {
			if ((r = take_option(a, parent, argc, argv, &i)))
				return r;
			continue;
		}
		p = c->subs ? NULL : pos_at(c, a->npos);
		if (c->subs || (p && p->rest)) { /* a subcommand, or exec's command */
			a->rest = argv + i - 1;
			a->nrest = argc - i + 1;
			break;
		}
		if (!p)
			return usage_err(cmd, "unexpected argument `%s`", w);
		if (a->npos == ARGS_MAX)
			return usage_err(cmd, "at most %d %ss at once", ARGS_MAX, p->name);
		if ((r = check_pos(cmd, p, w)))
			return r;
		a->pos[a->npos++] = w;
	}
	return c->subs ? 0 : check_complete(a);
}

int args_parse(const struct command *c, const struct command *parent, const char *cmd, int argc,
	       char **argv, struct args *a)
{
	int r = parse(c, parent, cmd, argc, argv, a);

	if (r)
		args_free(a);
	return r;
}

void args_free(struct args *a)
{
	json_decref(a->body);
	a->body = NULL;
}

const char *args_get(const struct args *a, const char *name)
{
	for (int i = a->ngiven - 1; i >= 0; i--) {
		const struct opt *o = a->given[i].opt;

		if ((o->name && !strcmp(o->name, name)) ||
		    (!o->name && name[0] == o->short_name && !name[1]))
			return a->given[i].val ? a->given[i].val : "";
	}
	return NULL;
}

bool args_has(const struct args *a, const char *name)
{
	return args_get(a, name) != NULL;
}

long args_num(const struct args *a, const char *name, long def)
{
	const char *v = args_get(a, name);

	return v ? strtol(v, NULL, 10) : def; /* checked by take_value() */
}

const struct command *command_find(const struct command *table, const char *word)
{
	for (const struct command *c = table; c->name; c++)
		if (!strcmp(word, c->name) || (c->alias && !strcmp(word, c->alias)))
			return c;
	return NULL;
}

/* `vps help plan create`: the help of a command or of its subcommand. */
static int help_word(const struct command *c, int argc, char **argv)
{
	const struct command *s = argc > 0 && c->subs ? command_find(c->subs, argv[0]) : NULL;
	char cmd[32];

	if (!s) {
		help_command(stdout, c, c->name, NULL);
		return 0;
	}
	snprintf(cmd, sizeof(cmd), "%s %s", c->name, s->name);
	help_command(stdout, s, cmd, c);
	return 0;
}

/* "missing list, show, create or delete" */
static int missing_sub(const char *cmd, const struct command *c)
{
	const char *words[16];
	char which[128];
	size_t n = 0;

	for (const struct command *s = c->subs; s->name && n + 1 < ARRAY_SIZE(words); s++)
		words[n++] = s->name;
	words[n] = NULL;
	join_or(words, which, sizeof(which));
	return usage_err(cmd, "missing %s", which);
}

/* c, found as cmd under parent: parse and run, or go down to its subcommand. */
static int run(const struct command *c, const struct command *parent, const char *cmd, int argc,
	       char **argv)
{
	struct args a;
	int r = parse(c, parent, cmd, argc, argv, &a);

	if (r < 0)
		help_command(stdout, c, cmd, parent);
	if (r) {
		args_free(&a);
		return r < 0 ? 0 : r;
	}
	if (c->subs) {
		const struct command *s;
		char sub[32];

		if (!a.nrest)
			return missing_sub(cmd, c);
		if (!(s = command_find(c->subs, a.rest[0])))
			return usage_err(cmd, "unknown %s command `%s`", cmd, a.rest[0]);
		snprintf(sub, sizeof(sub), "%s %s", cmd, s->name);
		return run(s, c, sub, a.nrest - 1, a.rest + 1);
	}
	r = c->run(&a);
	args_free(&a);
	return r;
}

int command_run(const struct command *table, int argc, char **argv)
{
	const struct command root = { .name = "", .subs = table }, *c;
	struct args a;
	int r = parse(&root, NULL, "", argc, argv, &a);

	if (r)
		return r < 0 ? (help_main(stdout, table), 0) : r;
	if (!a.nrest) {
		help_main(stderr, table);
		return EXIT_USAGE;
	}
	if (!strcmp(a.rest[0], "help")) { /* vps help [CMD [SUB]] */
		if (a.nrest == 1)
			return help_main(stdout, table), 0;
		if (!(c = command_find(table, a.rest[1])))
			return usage_err(NULL, "unknown command `%s`", a.rest[1]);
		return help_word(c, a.nrest - 2, a.rest + 2);
	}
	if (!(c = command_find(table, a.rest[0])))
		return usage_err(NULL, "unknown command `%s`", a.rest[0]);
	return run(c, NULL, c->name, a.nrest - 1, a.rest + 1);
}

bool name_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 32 && s[0] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

int check_name(const char *cmd, const char *what, const char *s)
{
	if (!s)
		return usage_err(cmd, "missing %s", what);
	if (!name_ok(s))
		return usage_err(
			cmd, "`%s`: not a valid name (1-32 of a-z, 0-9 and -, not starting with -)",
			s);
	return 0;
}

const struct field fields[] = {
	{ "ram", "ram", F_SIZE },
	{ "swap", "swap", F_SIZE },
	{ "disk", "disk", F_SIZE },
	{ "cpus", "cpus", F_CPUS },
	{ "io", "io_weight", F_IO },
	{ "io_weight", "io_weight", F_IO },
	{ "bw", "bw", F_SIZE },
	{ "pids", "pids", F_PIDS },
	{ "read-bps", "io_read_bps", F_SIZE },
	{ "write-bps", "io_write_bps", F_SIZE },
	{ "read-iops", "io_read_iops", F_IOPS },
	{ "write-iops", "io_write_iops", F_IOPS },
	{ "features", "features", F_FEATURES },
	{ "hostname", "hostname", F_HOSTNAME },
	{ "owner", "owner", F_TEXT },
	{ "onboot", "onboot", F_BOOL },
	{ "iso", "iso", F_ISO },
	{ NULL, NULL, F_TEXT },
};

const struct field *field_find(const char *flag)
{
	for (const struct field *f = fields; f->flag; f++)
		if (!strcmp(f->flag, flag))
			return f;
	return NULL;
}

/* RFC 1123 host name: labels of letters, digits and -, dots between, at most 63 in all. */
static bool hostname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 63 ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789-.") != n)
		return false;
	for (const char *l = s; l; l = strchr(l, '.') ? strchr(l, '.') + 1 : NULL)
		if (*l == '-' || *l == '.' || !*l)
			return false;
	return true;
}

int field_put(const char *cmd, const char *label, const struct field *f, const char *val,
	      json_t *body)
{
	json_t *j = NULL;
	char *end;

	switch (f->type) {
	case F_SIZE: {
		uint64_t n;

		if (parse_size(val, &n) < 0 || n > (uint64_t)INT64_MAX)
			return usage_err(cmd, "%s: `%s` is not a size such as 512M or 2G", label,
					 val);
		j = json_integer((json_int_t)n);
		break;
	}
	case F_CPUS: {
		double d;

		errno = 0;
		d = strtod(val, &end);
		if (!*val || *end || errno || !isfinite(d) || d <= 0 || d > 256)
			return usage_err(cmd, "%s: `%s` is not a number of CPUs (0.01 to 256)",
					 label, val);
		j = json_real(d);
		break;
	}
	case F_IO: {
		long n;

		errno = 0;
		n = strtol(val, &end, 10);
		if (!*val || *end || errno || n < 10 || n > 1000)
			return usage_err(cmd, "%s: `%s` is not an IO weight (10 to 1000)", label,
					 val);
		j = json_integer(n);
		break;
	}
	case F_PIDS: {
		long n;

		errno = 0;
		n = strtol(val, &end, 10);
		if (!*val || *end || errno || (n != 0 && (n < 16 || n > 4194304)))
			return usage_err(cmd,
					 "%s: `%s` is not a number of processes (16 to 4194304, "
					 "0 for the host's default)",
					 label, val);
		j = json_integer(n);
		break;
	}
	case F_IOPS: {
		long n;

		errno = 0;
		n = strtol(val, &end, 10);
		if (!*val || *end || errno || n < 0 || n > 1000000000)
			return usage_err(cmd,
					 "%s: `%s` is not a number of operations per second (0 for "
					 "none, to 1000000000)",
					 label, val);
		j = json_integer(n);
		break;
	}
	case F_FEATURES: { /* "tun,fuse": the list the API takes; "" turns all off */
		char *dup = strdup(val), *save = NULL;

		j = json_array();
		for (char *t = dup ? strtok_r(dup, ",", &save) : NULL; t;
		     t = strtok_r(NULL, ",", &save)) {
			if (strcmp(t, "tun") && strcmp(t, "fuse") && strcmp(t, "nesting")) {
				int r = usage_err(cmd,
						  "%s: `%s` is not a feature (tun, fuse, nesting, "
						  "joined by commas; empty for none)",
						  label, t);

				json_decref(j);
				free(dup);
				return r;
			}
			json_array_append_new(j, json_string(t));
		}
		free(dup);
		break;
	}
	case F_BOOL:
		if (!strcmp(val, "true") || !strcmp(val, "yes") || !strcmp(val, "on") ||
		    !strcmp(val, "1"))
			j = json_true();
		else if (!strcmp(val, "false") || !strcmp(val, "no") || !strcmp(val, "off") ||
			 !strcmp(val, "0"))
			j = json_false();
		else
			return usage_err(cmd, "%s: `%s` is not true or false", label, val);
		break;
	case F_HOSTNAME:
		if (!hostname_ok(val))
			return usage_err(cmd,
					 "%s: `%s` is not a host name (letters, digits, - and ., "
					 "at most 63)",
					 label, val);
		j = json_string(val);
		break;
	case F_TEXT:
		if (!*val || strlen(val) > 63 || strpbrk(val, "\n\r"))
			return usage_err(cmd, "%s: must be one line of 1 to 63 characters", label);
		j = json_string(val);
		break;
	case F_ISO: /* an uploaded ISO's name; none: eject it (docs/screen.md) */
		if (!strcmp(val, "none")) {
			j = json_null();
			break;
		}
		if (!*val || strlen(val) > 64 || val[0] == '.' ||
		    strspn(val,
			   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
			    strlen(val))
			return usage_err(
				cmd,
				"%s: `%s` is not an ISO's name (1-64 of A-Z a-z 0-9 . _ -), "
				"nor none",
				label, val);
		j = json_string(val);
		break;
	}
	if (!j) /* json_string() refuses what is not UTF-8 */
		return usage_err(cmd, "%s: not valid UTF-8", label);
	if (json_object_set_new(body, f->key, j) < 0)
		return fail("out of memory");
	return 0;
}
