/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Running a program and waiting for it: the one fork/exec of the daemon and
 * the monitors (nft, tc, ip, e2fsprogs, xorriso, vps-ctm, vps-ct, tar, the
 * template builders, OCI hooks). No shell: argv goes to execve as it is.
 * What the child's stdin, stdout and stderr are, a deadline, its
 * environment and the descriptors it keeps are the caller's choice; the
 * answer is the exit status, with what the child said on the way.
 *
 * Not for processes that are not "run and wait": the keeper (double fork,
 * setsid), the runtime's container init, a helper that enters a namespace
 * without exec (sys/net.c), or an exec whose terminal is proxied while it
 * runs (vps-ctm exec).
 */
#ifndef VPS_SYS_SPAWN_H
#define VPS_SYS_SPAWN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* What one of the child's standard descriptors is. */
enum sys_spawn_io {
	SYS_SPAWN_INHERIT, /* the caller's own */
	SYS_SPAWN_NULL, /* /dev/null */
	SYS_SPAWN_CAPTURE, /* a pipe, read into the result's out or err */
	SYS_SPAWN_TO_OUT, /* stderr only: into the same buffer as stdout */
};

enum {
	SYS_SPAWN_PATH = 1 << 0, /* argv[0] without a slash is looked up in PATH */
	SYS_SPAWN_SBIN = 1 << 1, /* then in /usr/sbin and /sbin (a daemon's PATH may lack them) */
	SYS_SPAWN_DIE_WITH_PARENT = 1 << 2, /* SIGKILL when the caller dies: nothing half done */
	SYS_SPAWN_CLOSE_FDS = 1 << 3, /* the child keeps only stdin, stdout and stderr */
	SYS_SPAWN_UMASK_077 = 1 << 4, /* what it creates is the owner's only */
};

#define SYS_SPAWN_CAPTURE_MAX (1 << 20) /* default bound of each captured stream */

struct sys_spawn {
	char *const *argv; /* argv[0]: a path, or a name with SYS_SPAWN_PATH */
	const char *path; /* what to execute when not argv[0] (OCI hooks) */
	const char *cwd; /* the child's working directory; NULL: the caller's */
	char *const *envp; /* NULL: the caller's environment */
	const char *input; /* written to stdin, then closed (stdin is then a pipe) */
	enum sys_spawn_io in, out, err; /* in: INHERIT or NULL when there is no input */
	/* 0: SYS_SPAWN_CAPTURE_MAX; stdout keeps the head, stderr the tail */
	size_t out_max, err_max;
	int timeout_s; /* SIGKILL after this long (status 128 + 9); 0: no deadline */
	unsigned int flags; /* SYS_SPAWN_* */
	/*
	 * With out = CAPTURE: stdout's bytes go here as they come, not into the
	 * result (a long job's progress, a stream into a file); a return < 0
	 * kills the child.
	 */
	int (*on_out)(const char *data, size_t n, void *arg);
	void *on_out_arg;
};

struct sys_spawn_result {
	int status; /* the exit status, 128 + signal when killed, 127 when exec failed */
	int signal; /* the signal that ended it, 0 when it exited */
	bool timed_out; /* killed at the deadline */
	char *out, *err; /* captured, NUL-terminated, never NULL after a return >= 0 */
};

/*
 * Run s->argv and wait. The exit status (>= 0), or -errno with *err set when
 * the program could not be started or waited for. `res` may be NULL when
 * nothing is captured; otherwise the caller frees it with
 * sys_spawn_result_free(). A failed exec is status 127, its reason on the
 * child's stderr. The caller ignores SIGPIPE when it gives input (a child
 * need not read it).
 */
int sys_spawn(const struct sys_spawn *s, struct sys_spawn_result *res, struct err **err);

/*
 * As sys_spawn, and a status other than 0 is an error too: ENOENT for 127,
 * ETIMEDOUT at the deadline, EIO otherwise, its message naming the program
 * and ending with the last line it printed on stderr (or, merged, stdout).
 */
int sys_run(const struct sys_spawn *s, struct sys_spawn_result *res, struct err **err);

/* The last non-empty line of `text`, into buf (empty when there is none). */
const char *sys_spawn_last_line(const char *text, char *buf, size_t len);

void sys_spawn_result_free(struct sys_spawn_result *res);

#endif
