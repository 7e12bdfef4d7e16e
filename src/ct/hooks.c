// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * OCI hooks (config.md "POSIX-platform Hooks"): each hook is a program run
 * with the container state on its stdin. A hook that fails or outlives its
 * timeout fails the operation for the creation-time hooks; poststart and
 * poststop failures are only warnings, as the spec says.
 */
#include <errno.h>
#include <signal.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "ct/container.h"
#include "sys/spawn.h"

static const char *const kind_names[CT_HOOK_NKINDS] = {
	"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
};

static int run_one(const struct ct_hook *h, const char *state, struct err **err)
{
	static char *const no_env[] = { NULL };
	char *const argv0[] = { (char *)h->path, NULL };
	/* stdout and stderr are the runtime's; no PATH search; only the hook's environment */
	const struct sys_spawn s = { .argv = h->args ? (char *const *)h->args : argv0,
				     .path = h->path,
				     .envp = h->env ? (char *const *)h->env : no_env,
				     .input = state,
				     .timeout_s = h->timeout > 0 ? h->timeout : 0 };
	struct sys_spawn_result r;
	int st;

	/* a hook need not read its stdin: ignore EPIPE */
	signal(SIGPIPE, SIG_IGN);
	st = sys_spawn(&s, &r, err);
	sys_spawn_result_free(&r);
	if (st < 0)
		return st;
	if (r.timed_out)
		return err_make(err, ETIMEDOUT, "hook `%s` timed out after %d s", h->path,
				h->timeout);
	if (r.signal)
		return err_make(err, 0, "hook `%s` killed by signal %d", h->path, r.signal);
	if (st)
		return err_make(err, 0, "hook `%s` exited with status %d", h->path, st);
	return 0;
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
