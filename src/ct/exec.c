// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `exec`: a new process in a running container. The runtime joins the
 * container's pid namespace (which only affects its children) and forks;
 * it puts the child in the container's cgroup from the host side, and the
 * child joins the other namespaces -- user first, mount last -- then takes
 * the container's capabilities, no_new_privs and seccomp filter (or those
 * of --process) and executes. The child reports a failed execve over the
 * socketpair, so `exec` fails with the reason instead of exit status 127.
 * With org.vps.sysinfo=cgroup the filter also sends sysinfo to a monitor of
 * its own (sysinfo.c), as create does for the init.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "ct/cgroup.h"
#include "ct/container.h"
#include "sys/unix.h"

/* setns order: the user namespace grants the right to join the others */
static const enum ct_ns join_order[] = { CT_NS_USER, CT_NS_IPC,	   CT_NS_UTS,
					 CT_NS_NET,  CT_NS_CGROUP, CT_NS_MOUNT };

static int open_ns(pid_t pid, enum ct_ns ns)
{
	char path[64], self[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ct_ns_procname(ns));
	snprintf(self, sizeof(self), "/proc/self/ns/%s", ct_ns_procname(ns));
	if (stat(path, &a) < 0 || stat(self, &b) < 0)
		return -errno;
	if (a.st_ino == b.st_ino && a.st_dev == b.st_dev)
		return -EEXIST; /* shared with the host: nothing to join */
	return open(path, O_RDONLY | O_CLOEXEC);
}

static int parse_user(const char *s, struct ct_process *p, struct err **err)
{
	unsigned int uid, gid;
	int n = sscanf(s, "%u:%u", &uid, &gid);

	if (n < 1)
		return err_make(err, 0, "--user `%s`: want uid[:gid]", s);
	p->uid = uid;
	p->gid = n == 2 ? gid : 0;
	p->nr_additional_gids = 0;
	return 0;
}

static const char **merge_env(const struct ct_process *base, const char **extra)
{
	size_t n = base->nr_env, m = 0, i;
	const char **env;

	while (extra && extra[m])
		m++;
	env = calloc(n + m + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (i = 0; i < n; i++)
		env[i] = base->env[i];
	for (i = 0; i < m; i++)
		env[n + i] = extra[i];
	return env;
}

__attribute__((noreturn)) static void
exec_child(int sync_fd, int console_fd, int notify_fd, int *nsfds, int rootfd, bool userns,
	   const struct ct_process *p, const struct ct_config *cfg, unsigned int preserve_fds)
{
	struct err *err = NULL;
	struct ct_sync_msg m;
	size_t i;
	int r = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/*
	 * Not dumpable until execve (which sets it again): from setns(user)
	 * to setresuid we are a process of the container's user namespace
	 * that the container's root may ptrace-access, with the host's root
	 * and cwd until the mount namespace and chroot; through
	 * /proc/PID/{cwd,root,fd} it would keep a host directory
	 * (tests/integration/test_ctm_security.py, test_exec_does_not_leak_the_host).
	 * Non-dumpable, access needs CAP_SYS_PTRACE in the host's user
	 * namespace. runc's nsexec does the same (CVE-2016-9962).
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		_exit(1);
	if (ct_sync_recv(sync_fd, &m) < 0 || m.type != CT_SYNC_GO)
		_exit(1);
	for (i = 0; i < ARRAY_SIZE(join_order); i++) {
		if (nsfds[i] >= 0 && setns(nsfds[i], ct_ns_flag(join_order[i])) < 0) {
			r = err_make(&err, errno, "join %s namespace",
				     ct_ns_procname(join_order[i]));
			goto fail;
		}
	}
	if (userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) {
		r = err_make(&err, errno, "become root in the user namespace");
		goto fail;
	}
	/*
	 * setns(CLONE_NEWNS) puts us at the root of the namespace's first
	 * mount, which is the container's root only if the runtime itself was
	 * not chrooted (in the L1 test host it is: exec ran L1's /init). The
	 * init's own root, taken from /proc/PID/root before joining, is right
	 * either way.
	 */
	if (rootfd >= 0 && (fchdir(rootfd) < 0 || chroot(".") < 0)) {
		r = err_make(&err, errno, "enter the container's root");
		goto fail;
	}
	if ((r = ct_process_rlimits(p, &err)) < 0)
		goto fail;
	if (p->terminal && (r = ct_process_terminal(console_fd, true, &err)) < 0)
		goto fail;
	if (chdir(p->cwd) < 0) {
		r = err_make(&err, errno, "chdir `%s`", p->cwd);
		goto fail;
	}
	r = ct_process_finish(cfg->seccomp, notify_fd, p, preserve_fds, sync_fd, &err);
fail:
	ct_sync_send(sync_fd, CT_SYNC_ERROR, err ? err->errnum : EINVAL, err_msg(err));
	_exit(1);
}

static int connect_console(const char *path, struct err **err)
{
	int fd;

	if (!path)
		return err_make(err, EINVAL, "--tty needs a --console-socket");
	fd = unix_connect(path);
	if (fd < 0)
		return err_make(err, -fd, "connect console socket `%s`", path);
	return fd;
}

static int do_exec(const struct ct_exec_opts *o, const struct ct_state *st,
		   const struct ct_config *cfg, const struct ct_process *p, int *status,
		   struct err **err)
{
	int nsfds[ARRAY_SIZE(join_order)], sv[2] = { -1, -1 }, r = 0, console_fd = -1;
	int notify_sv[2] = { -1, -1 }; /* to the sysinfo monitor: [0] its end, [1] the child's */
	_cleanup_close_ int pidns = -1, selfns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int rootfd = -1;
	struct ct_cgroup *cg = NULL;
	struct ct_sync_msg m;
	pid_t pid = -1;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(nsfds); i++)
		nsfds[i] = open_ns(st->pid, join_order[i]);
	pidns = open_ns(st->pid, CT_NS_PID);
	{ /* see exec_child; also the root of a container that chroots (no mount namespace) */
		char root[64];

		snprintf(root, sizeof(root), "/proc/%d/root", st->pid);
		rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0) {
			r = err_make(err, errno, "open `%s`", root);
			goto out;
		}
	}
	if (p->terminal && (console_fd = connect_console(o->console_socket, err)) < 0) {
		r = console_fd;
		goto out;
	}
	if ((r = cg_open(st->cgroup_path, &cg, err)) < 0)
		goto out;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = err_make(err, errno, "socketpair");
		goto out;
	}
	if ((r = ct_sysinfo_pair(cfg, notify_sv, err)) < 0)
		goto out;
	if (pidns >= 0 && setns(pidns, CLONE_NEWPID) < 0) {
		r = err_make(err, errno, "join pid namespace of %d", st->pid);
		goto out;
	}
	fflush(NULL);
	pid = fork();
	/*
	 * Only the child belongs in the container's pid namespace: go back,
	 * or helpers the runtime forks later (LeakSanitizer's tracer) land there.
	 */
	if (pid != 0 && pidns >= 0 && selfns >= 0)
		setns(selfns, CLONE_NEWPID);
	if (pid < 0) {
		r = err_make(err, errno, "fork");
		goto out;
	}
	if (pid == 0) {
		close(sv[0]);
		if (notify_sv[0] >= 0)
			close(notify_sv[0]);
		exec_child(sv[1], console_fd, notify_sv[1], nsfds, rootfd, nsfds[0] >= 0, p, cfg,
			   o->preserve_fds);
	}
	close(sv[1]);
	sv[1] = -1;
	if (notify_sv[1] >= 0) {
		close(notify_sv[1]);
		notify_sv[1] = -1;
	}
	/* uptime is the container's: from the init's start, as for the init itself */
	if ((r = cg_enter_exec(cg, pid, st->pid, err)) < 0 ||
	    (r = ct_sysinfo_monitor_start(st->id, st->cgroup_path, st->start_time,
					  cfg->sysinfo_socket, &notify_sv[0], err)) < 0 ||
	    (r = ct_sync_send(sv[0], CT_SYNC_GO, 0, NULL)) < 0) {
		if (r == -EPIPE)
			err_make(err, EPIPE, "exec process died");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
	if (ct_sync_recv(sv[0], &m) == 0 && m.type == CT_SYNC_ERROR) {
		err_make(err, 0, "%s", m.msg);
		(*err)->errnum = m.errnum ? m.errnum : EINVAL;
		r = -(*err)->errnum;
		waitpid(pid, NULL, 0);
		goto out;
	}
	if (o->pid_file) {
		FILE *f = fopen(o->pid_file, "we");

		if (f) {
			fprintf(f, "%d", pid);
			fclose(f);
		}
	}
	if (o->detach)
		goto out;
	while (waitpid(pid, &r, 0) < 0)
		if (errno != EINTR)
			break;
	*status = WIFEXITED(r) ? WEXITSTATUS(r) : 128 + WTERMSIG(r);
	r = 0;
out:
	for (i = 0; i < ARRAY_SIZE(nsfds); i++)
		if (nsfds[i] >= 0)
			close(nsfds[i]);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	for (i = 0; i < 2; i++)
		if (notify_sv[i] >= 0)
			close(notify_sv[i]);
	if (console_fd >= 0)
		close(console_fd);
	if (cg)
		cg_free(cg);
	return r;
}

int ct_exec(const struct ct_exec_opts *o, int *status, struct err **err)
{
	struct ct_config *cfg = NULL;
	struct ct_process p;
	_cleanup_free_ const char **env = NULL;
	struct ct_state st;
	const char *s;
	int r;

	*status = 0;
	if ((r = ct_state_load(o->root, o->id, &st, err)) < 0)
		return r;
	s = ct_state_status(o->root, &st);
	if (strcmp(s, "running") && strcmp(s, "created")) {
		r = err_make(err, EBUSY, "container `%s` is %s", o->id, s);
		goto out;
	}
	if ((r = ct_config_load(st.bundle, &cfg, err)) < 0 ||
	    (r = ct_config_validate(cfg, err)) < 0)
		goto out;
	if (o->process) {
		p = *o->process;
	} else {
		p = *cfg->process;
		p.args = o->args;
		for (p.nr_args = 0; o->args[p.nr_args];)
			p.nr_args++;
		env = merge_env(cfg->process, o->env);
		if (!env) {
			r = err_make(err, ENOMEM, "exec");
			goto out;
		}
		p.env = env;
		while (env[p.nr_env])
			p.nr_env++;
		p.cwd = o->cwd ? o->cwd : cfg->process->cwd;
		p.terminal = o->tty;
		p.has_oom_score_adj = false;
		if (o->user && (r = parse_user(o->user, &p, err)) < 0)
			goto out;
	}
	r = do_exec(o, &st, cfg, &p, status, err);
out:
	ct_config_free(cfg);
	ct_state_clear(&st);
	return r < 0 ? err_wrap(err, "exec in container `%s`", o->id) : 0;
}
