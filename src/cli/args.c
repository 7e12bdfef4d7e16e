// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The flag parser and the checks that turn flag values into the API body.
 * The checks are of shape only (a size parses, a name is a name): ranges
 * and everything that depends on the host are the daemon's to judge, and
 * its message reaches the user as it is. Every error names the flag or the
 * `set` key it is about.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
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
	fprintf(stderr, "Try `vps %s%s--help`.\n", cmd ? cmd : "", cmd ? " " : "");
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

void argp_init(struct argp *p, const char *cmd, int argc, char **argv)
{
	memset(p, 0, sizeof(*p));
	p->cmd = cmd;
	p->argc = argc;
	p->argv = argv;
}

static const struct flag global_flags[] = { { "socket", true }, { "url", true }, { NULL, false } };

static const struct flag *flag_lookup(const struct flag *flags, const char *name, size_t len)
{
	for (size_t i = 0; flags && flags[i].name; i++)
		if (strlen(flags[i].name) == len && !strncmp(flags[i].name, name, len))
			return &flags[i];
	return NULL;
}

/* A flag with a one-letter name: `-n 20` or `-n20` (as tail and head take it). */
static int short_flag(struct argp *p, const struct flag *flags, const char *a, const char **name,
		      const char **val)
{
	const struct flag *f = flag_lookup(flags, a + 1, 1);

	if (!f || (a[2] && !f->value)) {
		usage_err(p->cmd, "unknown flag `%s`", a);
		return ARGP_ERR;
	}
	*name = f->name;
	if (!f->value)
		return ARGP_FLAG;
	if (a[2]) {
		*val = a + 2;
	} else if (p->i < p->argc) {
		*val = p->argv[p->i++];
	} else {
		usage_err(p->cmd, "-%s: needs a value", f->name);
		return ARGP_ERR;
	}
	return ARGP_FLAG;
}

int argp_next(struct argp *p, const struct flag *flags, const char **name, const char **val)
{
	const struct flag *f;
	const char *a, *eq;
	size_t len;

again:
	if (p->i >= p->argc)
		return ARGP_END;
	a = p->argv[p->i++];
	*name = NULL;
	*val = NULL;
	if (p->dashdash || a[0] != '-' || !a[1]) {
		*val = a;
		return ARGP_POS;
	}
	if (!strcmp(a, "--")) {
		p->dashdash = true;
		goto again;
	}
	if (!strcmp(a, "-h") || !strcmp(a, "--help"))
		return ARGP_HELP;
	if (a[1] != '-')
		return short_flag(p, flags, a, name, val);
	a += 2;
	eq = strchr(a, '=');
	len = eq ? (size_t)(eq - a) : strlen(a);
	f = len > 1 ? flag_lookup(flags, a, len) : NULL; /* one letter: -n only */
	if (!f)
		f = flag_lookup(global_flags, a, len);
	if (!f) {
		usage_err(p->cmd, "unknown flag `--%.*s`", (int)len, a);
		return ARGP_ERR;
	}
	*name = f->name;
	if (!f->value) {
		if (eq) {
			usage_err(p->cmd, "--%s: takes no value", f->name);
			return ARGP_ERR;
		}
		return ARGP_FLAG;
	}
	if (eq) {
		*val = eq + 1;
	} else if (p->i < p->argc && strncmp(p->argv[p->i], "--", 2)) {
		*val = p->argv[p->i++];
	} else {
		usage_err(p->cmd, "--%s: needs a value", f->name);
		return ARGP_ERR;
	}
	if (!strcmp(f->name, "socket")) {
		if (!**val) {
			usage_err(p->cmd, "--socket: needs a path");
			return ARGP_ERR;
		}
		cli_target.socket = *val;
		goto again;
	}
	if (!strcmp(f->name, "url")) {
		if (strncmp(*val, "http://", 7) || !(*val)[7]) {
			usage_err(p->cmd, "--url: `%s` is not http://HOST:PORT", *val);
			return ARGP_ERR;
		}
		cli_target.url = *val;
		goto again;
	}
	return ARGP_FLAG;
}

char **argp_rest(struct argp *p, int *n)
{
	*n = p->argc - (p->i - 1);
	return p->argv + p->i - 1;
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
	{ "hostname", "hostname", F_HOSTNAME },
	{ "owner", "owner", F_TEXT },
	{ "onboot", "onboot", F_BOOL },
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
	}
	if (!j) /* json_string() refuses what is not UTF-8 */
		return usage_err(cmd, "%s: not valid UTF-8", label);
	if (json_object_set_new(body, f->key, j) < 0)
		return fail("out of memory");
	return 0;
}
