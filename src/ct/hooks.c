// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * OCI hooks (config.md "POSIX-platform Hooks"): each hook is a program run
 * with the container state on its stdin. A hook that fails or outlives its
 * timeout fails the operation for the creation-time hooks; poststart and
 * poststop failures are only warnings, as the spec says.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "ct/container.h"

static const char *const kind_names[CT_HOOK_NKINDS] = {
	"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
};

static int run_one(const struct ct_hook *h, const char *state, struct err **err)
{
	static const char *const no_env[] = { NULL };
	int in[2], status = 0, pfd;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return err_make(err, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		close(in[0]);
		close(in[1]);
		return err_make(err, errno, "fork");
	}
	if (pid == 0) {
		const char *argv0[] = { h->path, NULL };

		dup2(in[0], 0);
		execve(h->path, (char *const *)(h->args ? h->args : argv0),
		       (char *const *)(h->env ? h->env : no_env));
		_exit(127);
	}
	close(in[0]);
	/* a hook need not read its stdin: ignore EPIPE */
	signal(SIGPIPE, SIG_IGN);
	write_all(in[1], state, strlen(state));
	close(in[1]);
	pfd = syscall(SYS_pidfd_open, pid, 0);
	if (h->timeout > 0 && pfd >= 0) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };

		if (poll(&p, 1, h->timeout * 1000) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(pfd);
			return err_make(err, ETIMEDOUT, "hook `%s` timed out after %d s", h->path,
					h->timeout);
		}
	}
	if (pfd >= 0)
		close(pfd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return err_make(err, 0, "hook `%s` exited with status %d", h->path,
				WEXITSTATUS(status));
	return err_make(err, 0, "hook `%s` killed by signal %d", h->path, WTERMSIG(status));
}

int ct_hooks_run(const struct ct_config *cfg, enum ct_hook_kind kind, const char *state,
		 struct err **err)
{
	size_t i;
	int r;

	for (i = 0; i < cfg->hooks.nr[kind]; i++) {
		r = run_one(&cfg->hooks.list[kind][i], state, err);
		if (r < 0 && (kind == CT_HOOK_POSTSTART || kind == CT_HOOK_POSTSTOP)) {
			pr_warn("%s hook: %s", kind_names[kind], err_msg(*err));
			err_free(err);
			continue;
		}
		if (r < 0)
			return err_wrap(err, "%s hook %zu", kind_names[kind], i);
	}
	return 0;
}
