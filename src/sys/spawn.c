// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Running a program and waiting for it (spawn.h). fork, not vfork or
 * posix_spawn: vpsd resets its signal mask in a pthread_atfork() child
 * handler, and the child here has a few steps of its own (death signal,
 * umask, closing descriptors) before exec. The parent feeds stdin and reads
 * stdout and stderr in one poll loop, so a child that writes much before it
 * reads cannot deadlock against us, and the deadline covers all of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sys/spawn.h"

/* A growing capture: the head of stdout, the tail of stderr. */
struct capture {
	char *buf;
	size_t len, max;
	bool tail;
};

static int capture_add(struct capture *c, const char *data, size_t n)
{
	char *nb;

	if (c->tail && n > c->max) {
		data += n - c->max;
		n = c->max;
	}
	if (!c->tail && c->len + n > c->max)
		n = c->max - c->len;
	if (c->tail && c->len + n > c->max) {
		size_t drop = c->len + n - c->max;

		memmove(c->buf, c->buf + drop, c->len - drop);
		c->len -= drop;
	}
	if (!n)
		return 0;
	nb = realloc(c->buf, c->len + n + 1);
	if (!nb)
		return -ENOMEM;
	c->buf = nb;
	memcpy(c->buf + c->len, data, n);
	c->len += n;
	c->buf[c->len] = 0;
	return 0;
}

static char *capture_take(struct capture *c)
{
	char *s = c->buf ? c->buf : strdup("");

	c->buf = NULL;
	return s;
}

/* --- the child ------------------------------------------------------------- */

/* dup2 that also works when fd is already `to` (it then loses close-on-exec). */
static void move_fd(int fd, int to)
{
	if (fd == to)
		fcntl(fd, F_SETFD, 0);
	else
		dup2(fd, to);
}

static void exec_child(const struct sys_spawn *s)
{
	const char *name = s->path ? s->path : s->argv[0];
	char *const *envp = s->envp ? s->envp : environ;

	if (s->flags & SYS_SPAWN_PATH)
		execvpe(name, s->argv, envp);
	else
		execve(name, s->argv, envp);
	if ((s->flags & SYS_SPAWN_SBIN) && !strchr(name, '/')) {
		static const char *const dirs[] = { "/usr/sbin", "/sbin" };
		int e = errno;

		for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
			char path[256];

			snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
			execve(path, s->argv, envp);
		}
		errno = e;
	}
}

static _Noreturn void child(const struct sys_spawn *s, int in, int out, int err)
{
	int nul = -1;

	if (s->flags & SYS_SPAWN_DIE_WITH_PARENT)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	if ((s->in == SYS_SPAWN_NULL && in < 0) || s->out == SYS_SPAWN_NULL ||
	    s->err == SYS_SPAWN_NULL)
		nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (in >= 0)
		move_fd(in, 0);
	else if (s->in == SYS_SPAWN_NULL && nul >= 0)
		move_fd(nul, 0);
	if (out >= 0)
		move_fd(out, 1);
	else if (s->out == SYS_SPAWN_NULL && nul >= 0)
		move_fd(nul, 1);
	if (s->err == SYS_SPAWN_TO_OUT)
		dup2(1, 2);
	else if (err >= 0)
		move_fd(err, 2);
	else if (s->err == SYS_SPAWN_NULL && nul >= 0)
		move_fd(nul, 2);
	if (s->flags & SYS_SPAWN_UMASK_077)
		umask(077);
	if (s->cwd && chdir(s->cwd) < 0) {
		dprintf(2, "chdir `%s`: %s\n", s->cwd, strerror(errno));
		_exit(127);
	}
	if (s->flags & SYS_SPAWN_CLOSE_FDS)
		syscall(SYS_close_range, 3U, ~0U, 0U);
	exec_child(s);
	dprintf(2, "exec `%s`: %s\n", s->path ? s->path : s->argv[0], strerror(errno));
	_exit(127);
}

/* --- the parent ------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/*
 * Feed `input` to *in and read *out and *err into the captures until all
 * three are closed and, with a deadline (and a pidfd to wait on), the child
 * has exited. False when the deadline passed first.
 */
static bool pump(const struct sys_spawn *s, pid_t pid, int *in, int *out, int *err,
		 struct capture cap[2])
{
	int64_t end = now_ms() + (int64_t)s->timeout_s * 1000;
	size_t in_len = s->input ? strlen(s->input) : 0, in_done = 0;
	int pidfd = s->timeout_s > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
	bool ok = true;

	if (*in >= 0)
		fcntl(*in, F_SETFL, O_NONBLOCK);
	if (*in >= 0 && in_len == 0)
		close_fd(in);
	while (*in >= 0 || *out >= 0 || *err >= 0 || pidfd >= 0) {
		struct pollfd p[4] = { { *in, POLLOUT, 0 },
				       { *out, POLLIN, 0 },
				       { *err, POLLIN, 0 },
				       { pidfd, POLLIN, 0 } };
		int left = -1, n;

		if (s->timeout_s > 0) {
			int64_t ms = end - now_ms();

			if (ms <= 0) {
				ok = false;
				break;
			}
			left = ms > 60000 ? 60000 : (int)ms;
		}
		n = poll(p, 4, left);
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0)
			continue;
		if (p[0].revents) {
			ssize_t w = write(*in, s->input + in_done, in_len - in_done);

			if (w > 0)
				in_done += (size_t)w;
			/* EPIPE: the child need not read all of it */
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_done == in_len)
				close_fd(in);
		}
		for (int i = 0; i < 2; i++) {
			int *fd = i ? err : out;
			char chunk[16384];
			ssize_t r;

			if (!p[1 + i].revents)
				continue;
			r = read(*fd, chunk, sizeof(chunk));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				close_fd(fd);
			} else if (i == 0 && s->on_out) {
				if (s->on_out(chunk, (size_t)r, s->on_out_arg) < 0) {
					kill(pid, SIGKILL);
					close_fd(fd);
				}
			} else {
				capture_add(&cap[i], chunk, (size_t)r);
			}
		}
		/* the child exited: from here on only its pipes are waited for */
		if (p[3].revents)
			close_fd(&pidfd);
	}
	close_fd(&pidfd);
	if (!ok)
		kill(pid, SIGKILL);
	return ok;
}

int sys_spawn(const struct sys_spawn *s, struct sys_spawn_result *res, struct err **err)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, er[2] = { -1, -1 }, st = 0, e;
	struct capture cap[2] = {
		{ .max = s->out_max ? s->out_max : SYS_SPAWN_CAPTURE_MAX },
		{ .max = s->err_max ? s->err_max : SYS_SPAWN_CAPTURE_MAX, .tail = true },
	};
	bool in_time;
	pid_t pid;

	if (res)
		memset(res, 0, sizeof(*res));
	if ((s->input && pipe2(in, O_CLOEXEC) < 0) ||
	    (s->out == SYS_SPAWN_CAPTURE && pipe2(out, O_CLOEXEC) < 0) ||
	    (s->err == SYS_SPAWN_CAPTURE && pipe2(er, O_CLOEXEC) < 0)) {
		e = errno;
		pid = -1;
		goto fail;
	}
	pid = fork();
	if (pid == 0)
		child(s, in[0], out[1], er[1]);
	e = errno;
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&er[1]);
	if (pid < 0)
		goto fail;
	in_time = pump(s, pid, &in[1], &out[0], &er[0], cap);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&er[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			e = errno;
			goto fail;
		}
	if (res) {
		res->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		res->signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
		res->timed_out = !in_time;
		res->out = capture_take(&cap[0]);
		res->err = capture_take(&cap[1]);
	}
	free(cap[0].buf);
	free(cap[1].buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
fail:
	for (int i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&out[i]);
		close_fd(&er[i]);
		free(cap[i].buf);
	}
	return err_make(err, e, "%s `%s`", pid < 0 ? "start" : "wait for",
			s->path ? s->path : s->argv[0]);
}

const char *sys_spawn_last_line(const char *text, char *buf, size_t len)
{
	const char *end = text ? text + strlen(text) : NULL, *start;

	buf[0] = 0;
	if (!text || !len)
		return buf;
	while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	for (start = end; start > text && start[-1] != '\n';)
		start--;
	snprintf(buf, len, "%.*s", (int)(end - start), start);
	return buf;
}

/* An error without strerror appended: the child's own words say why. */
static int fail(struct err **err, int errnum, const char *msg)
{
	err_make(err, 0, "%s", msg);
	if (err && *err)
		(*err)->errnum = errnum;
	return -errnum;
}

int sys_run(const struct sys_spawn *s, struct sys_spawn_result *res, struct err **err)
{
	struct sys_spawn_result own;
	struct sys_spawn_result *r = res ? res : &own;
	char line[512], msg[768];
	const char *name = s->path ? s->path : s->argv[0];
	int st = sys_spawn(s, r, err);

	if (st <= 0)
		goto out;
	sys_spawn_last_line(s->err == SYS_SPAWN_CAPTURE ? r->err : r->out, line, sizeof(line));
	if (r->timed_out)
		snprintf(msg, sizeof(msg), "`%s` timed out after %d s", name, s->timeout_s);
	else if (st == 127)
		snprintf(msg, sizeof(msg), "cannot run `%s`%s%s", name, *line ? ": " : "", line);
	else if (r->signal)
		snprintf(msg, sizeof(msg), "`%s` killed by signal %d%s%s", name, r->signal,
			 *line ? ": " : "", line);
	else
		snprintf(msg, sizeof(msg), "`%s` exited with status %d%s%s", name, st,
			 *line ? ": " : "", line);
	st = fail(err, r->timed_out ? ETIMEDOUT : st == 127 ? ENOENT : EIO, msg);
out:
	if (!res)
		sys_spawn_result_free(&own);
	return st;
}

void sys_spawn_result_free(struct sys_spawn_result *res)
{
	if (!res)
		return;
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
}
