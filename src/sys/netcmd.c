// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nft, tc and ip, run (netcmd.h) through sys_spawn(): no shell, output and
 * errors together, bounded, the child killed if the caller dies.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sys/netcmd.h"
#include "sys/spawn.h"

/* The path of an administration tool; valid until the next call in this thread. */
static const char *tool(const char *name)
{
	static const char *const dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin" };
	static __thread char path[64];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
		if (access(path, X_OK) == 0)
			return path;
	}
	return name;
}

/*
 * Run argv with `input` on stdin (none: /dev/null); stdout and stderr
 * together in *out. Exit status, or -errno.
 */
static int run(char *const argv[], const char *input, char **out)
{
	const struct sys_spawn s = { .argv = argv,
				     .input = input,
				     .in = SYS_SPAWN_NULL,
				     .out = SYS_SPAWN_CAPTURE,
				     .err = SYS_SPAWN_TO_OUT,
				     .flags = SYS_SPAWN_DIE_WITH_PARENT | SYS_SPAWN_CLOSE_FDS };
	struct sys_spawn_result r;
	int st = sys_spawn(&s, &r, NULL);

	if (st < 0)
		return st;
	*out = r.out;
	free(r.err);
	return st;
}

/* The output's first line, in place. */
static const char *first_line(char *s)
{
	if (s && strchr(s, '\n'))
		*strchr(s, '\n') = 0;
	return s ? s : "";
}

int sys_nft(const char *batch, struct err **err)
{
	char *argv[] = { (char *)tool("nft"), "-f", "-", NULL };
	_cleanup_free_ char *out = NULL;
	int r = run(argv, batch, &out);

	if (r == 0)
		return 0;
	if (r == 127)
		return err_make(err, ENOENT, "cannot run `nft` (Debian package nftables)");
	if (r < 0)
		return err_make(err, -r, "run `nft`");
	return err_make(err, EIO, "nft: %s", out && *out ? first_line(out) : "failed");
}

/* argv: the tool's path, then the words of fmt in line; run. */
static int vrun_line(char **out, const char *prog, const char *fmt, va_list ap)
{
	char line[512], *argv[40], *save = NULL;
	int n = 0;

	vsnprintf(line, sizeof(line), fmt, ap);
	argv[n++] = (char *)tool(prog);
	for (char *w = strtok_r(line, " ", &save); w && n < 39; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	return run(argv, NULL, out);
}

int sys_netcmd_output(char **out, const char *prog, const char *fmt, ...)
{
	va_list ap;
	int r;

	*out = NULL;
	va_start(ap, fmt);
	r = vrun_line(out, prog, fmt, ap);
	va_end(ap);
	return r;
}

int sys_netcmd(struct err **err, const char *prog, const char *fmt, ...)
{
	_cleanup_free_ char *out = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vrun_line(&out, prog, fmt, ap);
	va_end(ap);
	if (r == 0)
		return 0;
	if (r < 0)
		return err_make(err, -r, "run `%s`", prog);
	return err_make(err, r == 127 ? ENOENT : EIO, "%s: %s", prog,
			r == 127 ? "not found (Debian package iproute2)" : first_line(out));
}
