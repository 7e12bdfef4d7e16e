// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The container's first process, from clone() to execve(). It runs in the
 * new namespaces and talks to the runtime process over a SOCK_SEQPACKET
 * socketpair (struct ct_sync_msg):
 *
 *   runtime                         child
 *   clone ------------------------> wait GO
 *   uid/gid maps, cgroup, GO -----> become root in the user ns, join ns
 *                                   by path, cgroup ns, hostname, mounts
 *   run prestart/createRuntime <--- HOOKS (only when there are hooks)
 *   HOOKS_DONE ------------------>  createContainer hooks, pivot_root,
 *                                   sysctl, masked/readonly paths, tty
 *   write state.json <------------- READY
 *   (run) START ------------------> or (create) wait on exec.fifo
 *                                   startContainer hooks, seccomp, user,
 *                                   caps, execve
 * Any failure is sent back as ERROR with the message, and the child exits;
 * the runtime then removes everything it made.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "ct/container.h"

static int join_namespaces(const struct ct_config *cfg, struct err **err)
{
	static const enum ct_ns order[] = { CT_NS_USER, CT_NS_IPC,    CT_NS_UTS,
					    CT_NS_NET,	CT_NS_CGROUP, CT_NS_MOUNT };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(order); i++) {
		const struct ct_namespace *n = ct_config_ns(cfg, order[i]);
		_cleanup_close_ int fd = -1;

		if (!n || !n->path)
			continue;
		fd = open(n->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return err_make(err, errno, "open namespace `%s`", n->path);
		if (setns(fd, ct_ns_flag(order[i])) < 0)
			return err_make(err, errno, "join %s namespace `%s`", n->type, n->path);
	}
	return 0;
}

static int setup(struct ct_child_args *a, char *state, struct err **err)
{
	const struct ct_config *cfg = a->cfg;
	const struct ct_namespace *uts = ct_config_ns(cfg, CT_NS_UTS);
	const struct ct_namespace *user = ct_config_ns(cfg, CT_NS_USER);
	const struct ct_namespace *cg = ct_config_ns(cfg, CT_NS_CGROUP);
	char rootfs[PATH_MAX];
	struct ct_sync_msg m;
	int r;

	/* resolved first: joining a mount namespace moves cwd (the bundle) to its "/" */
	if (!realpath(cfg->root_path, rootfs))
		return err_make(err, errno, "rootfs `%s`", cfg->root_path);
	if (user && !user->path && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		return err_make(err, errno, "become root in the user namespace");
	if ((r = join_namespaces(cfg, err)) < 0)
		return r;
	if (cg && !cg->path && unshare(CLONE_NEWCGROUP) < 0)
		return err_make(err, errno, "create cgroup namespace");
	if (uts && !uts->path && cfg->hostname &&
	    sethostname(cfg->hostname, strlen(cfg->hostname)) < 0)
		return err_make(err, errno, "set hostname `%s`", cfg->hostname);
	if ((r = ct_rootfs_prepare(cfg, rootfs, a->cg, err)) < 0)
		return r;
	if (cfg->hooks.nr[CT_HOOK_PRESTART] + cfg->hooks.nr[CT_HOOK_CREATE_RUNTIME]) {
		if (ct_sync_send(a->sync_fd, CT_SYNC_HOOKS, 0, NULL) < 0 ||
		    ct_sync_recv(a->sync_fd, &m) < 0 || m.type != CT_SYNC_HOOKS_DONE)
			return err_make(err, EPIPE, "wait for createRuntime hooks");
	}
	if ((r = ct_hooks_run(cfg, CT_HOOK_CREATE_CONTAINER, state, err)) < 0)
		return r;
	if ((r = ct_rootfs_enter(cfg, rootfs, err)) < 0 || (r = ct_rootfs_finish(cfg, err)) < 0)
		return r;
	if ((r = ct_process_rlimits(cfg->process, err)) < 0 ||
	    (r = ct_process_oom(cfg->process, err)) < 0)
		return r;
	if (cfg->process->terminal &&
	    ((r = ct_process_terminal(a->console_fd, !cfg->console_mode, err)) < 0 ||
	     (r = ct_rootfs_console(err)) < 0))
		return r;
	if (a->console_fd >= 0)
		close(a->console_fd);
	if (chdir(cfg->process->cwd) < 0)
		return err_make(err, errno, "chdir `%s`", cfg->process->cwd);
	return 0;
}

static int wait_start(struct ct_child_args *a, struct err **err)
{
	struct ct_sync_msg m;
	char c;

	if (a->fifo_fd < 0) {
		if (ct_sync_recv(a->sync_fd, &m) < 0 || m.type != CT_SYNC_START)
			return err_make(err, EPIPE, "wait for start");
		return 0;
	}
	/* create: the runtime is gone; `start` writes a byte into exec.fifo */
	close(a->sync_fd);
	a->sync_fd = -1;
	while (read(a->fifo_fd, &c, 1) < 0)
		if (errno != EINTR)
			return err_make(err, errno, "wait on exec.fifo");
	close(a->fifo_fd);
	return 0;
}

void ct_child_main(struct ct_child_args *a)
{
	const struct ct_config *cfg = a->cfg;
	const struct ct_process *p = cfg->process;
	struct err *err = NULL;
	struct ct_sync_msg go;
	int r;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (ct_sync_recv(a->sync_fd, &go) < 0 || go.type != CT_SYNC_GO)
		_exit(1);
	r = setup(a, go.msg, &err);
	if (r < 0)
		goto fail;
	/* create, run -d: the runtime exits and must not take us along */
	if (a->fifo_fd >= 0 || a->opts->detach)
		prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
	if (ct_sync_send(a->sync_fd, CT_SYNC_READY, 0, NULL) < 0)
		_exit(1);
	if ((r = wait_start(a, &err)) < 0)
		goto fail;
	if ((r = ct_hooks_run(cfg, CT_HOOK_START_CONTAINER, go.msg, &err)) < 0)
		goto fail;
	r = ct_process_finish(cfg->seccomp, a->notify_fd, p, a->opts->preserve_fds, a->sync_fd,
			      &err);
fail:
	if (a->sync_fd >= 0)
		ct_sync_send(a->sync_fd, CT_SYNC_ERROR, err ? err->errnum : EINVAL, err_msg(err));
	else
		fprintf(stderr, "vps-ct: %s\n", err_msg(err));
	_exit(1);
}
