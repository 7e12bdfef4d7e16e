// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The container process's own properties (config.md "Process"), applied by
 * the child after the filesystem is in place: rlimits and oomScoreAdj while
 * still privileged; then the identity -- bounding set, groups, gid, uid
 * (keeping capabilities across the uid change), the capability sets
 * through libcap and the ambient set; no_new_privs; seccomp through
 * libseccomp; execve. Also the terminal: a pty from the container's own
 * devpts, whose master goes to --console-socket by SCM_RIGHTS.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "ct/container.h"
#include "sys/unix.h"

int ct_process_rlimits(const struct ct_process *p, struct err **err)
{
	size_t i;

	for (i = 0; i < p->nr_rlimits; i++) {
		struct rlimit rl = { p->rlimits[i].soft, p->rlimits[i].hard };

		if (setrlimit(p->rlimits[i].resource, &rl) < 0)
			return err_make(err, errno, "setrlimit `%s`", p->rlimits[i].type);
	}
	return 0;
}

int ct_process_oom(const struct ct_process *p, struct err **err)
{
	_cleanup_close_ int fd = -1;
	char buf[16];

	if (!p->has_oom_score_adj)
		return 0;
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return err_make(err, errno, "open `/proc/self/oom_score_adj`");
	snprintf(buf, sizeof(buf), "%d", p->oom_score_adj);
	if (write_all(fd, buf, strlen(buf)) < 0)
		return err_make(err, errno, "write oomScoreAdj %d", p->oom_score_adj);
	return 0;
}

/*
 * sysinfo for the monitor (sysinfo.c): SCMP_ACT_NOTIFY, unless the profile
 * gives sysinfo an action of its own other than allow (then that stands).
 * Loading makes the listener (SECCOMP_FILTER_FLAG_NEW_LISTENER, which
 * libseccomp sets when a rule notifies); it goes to the monitor and is
 * closed here, so the container never holds it.
 */
static int seccomp_notify_send(scmp_filter_ctx ctx, int notify_fd, struct err **err)
{
	int lfd = seccomp_notify_fd(ctx), r;

	if (lfd < 0)
		return err_make(err, -lfd, "seccomp listener for sysinfo");
	r = unix_send_fd(notify_fd, lfd);
	close(lfd);
	if (r < 0)
		return err_make(err, -r, "send seccomp listener to the sysinfo monitor");
	return 0;
}

int ct_seccomp_load(const struct ct_seccomp *s, bool nnp, int notify_fd, struct err **err)
{
	struct ct_seccomp none = { .default_value = SCMP_ACT_ALLOW };
	scmp_filter_ctx ctx;
	size_t i, j, k;
	int r;

	if (!s && notify_fd < 0)
		return 0;
	if (!s)
		s = &none;
	ctx = seccomp_init(s->default_value);
	if (!ctx)
		return err_make(err, ENOMEM, "seccomp init");
	/* libseccomp sets no_new_privs by default: honour the config instead */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, nnp);
	for (i = 0; i < s->nr_architectures; i++) {
		const char *a = s->architectures[i];
		uint32_t arch = strncmp(a, "SCMP_ARCH_", 10) ? 0 :
							       seccomp_arch_resolve_name(a + 10);

		/* an arch libseccomp does not know, or already native: skip */
		if (arch && arch != seccomp_arch_native())
			seccomp_arch_add(ctx, arch);
	}
	for (i = 0; i < s->nr_rules; i++) {
		const struct ct_seccomp_rule *rule = &s->rules[i];
		struct scmp_arg_cmp cmp[6];

		if (rule->action_value == s->default_value)
			continue;
		for (k = 0; k < rule->nr_args && k < 6; k++) {
			const struct ct_seccomp_arg *a = &rule->args[k];

			cmp[k] = (struct scmp_arg_cmp){ .arg = a->index,
							.op = a->cmp,
							.datum_a = a->value,
							.datum_b = a->value_two };
		}
		for (j = 0; j < rule->nr_names; j++) {
			int nr = seccomp_syscall_resolve_name(rule->names[j]);

			/* profiles name syscalls of other kernels and arches */
			if (nr == __NR_SCMP_ERROR)
				continue;
			/* notify, below, does what allow does when the monitor fails */
			if (notify_fd >= 0 && nr == SCMP_SYS(sysinfo) &&
			    rule->action_value == SCMP_ACT_ALLOW)
				continue;
			r = seccomp_rule_add_array(ctx, rule->action_value, nr, k, cmp);
			if (r < 0 && r != -EEXIST) {
				seccomp_release(ctx);
				return err_make(err, -r, "seccomp rule for `%s`", rule->names[j]);
			}
		}
	}
	if (notify_fd >= 0) {
		r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(sysinfo), 0);
		if (r < 0 && r != -EEXIST) {
			seccomp_release(ctx);
			return err_make(err, -r, "seccomp notify rule for `sysinfo`");
		}
	}
	r = seccomp_load(ctx);
	if (r == 0 && notify_fd >= 0)
		r = seccomp_notify_send(ctx, notify_fd, err);
	else if (r < 0)
		r = err_make(err, -r, "load seccomp filter");
	seccomp_release(ctx);
	return r;
}

static int set_caps(const struct ct_process *p, struct err **err)
{
	int last = cap_max_bits() - 1, c;
	cap_t caps;

	caps = cap_init();
	if (!caps)
		return err_make(err, errno, "cap_init");
	for (c = 0; c <= last; c++) {
		cap_value_t v = c;

		if (p->capmask[CT_CAP_EFFECTIVE] & (1ULL << c))
			cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_SET);
		if (p->capmask[CT_CAP_PERMITTED] & (1ULL << c))
			cap_set_flag(caps, CAP_PERMITTED, 1, &v, CAP_SET);
		if (p->capmask[CT_CAP_INHERITABLE] & (1ULL << c))
			cap_set_flag(caps, CAP_INHERITABLE, 1, &v, CAP_SET);
	}
	if (cap_set_proc(caps) < 0) {
		int e = errno;

		cap_free(caps);
		return err_make(err, e, "set capabilities");
	}
	cap_free(caps);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (c = 0; c <= last; c++)
		if ((p->capmask[CT_CAP_AMBIENT] & (1ULL << c)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			return err_make(err, errno, "raise ambient capability %d", c);
	return 0;
}

int ct_process_identity(const struct ct_process *p, struct err **err)
{
	if (p->umask >= 0)
		umask(p->umask);
	if (p->has_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return err_make(err, errno, "keep capabilities");
	if (p->has_caps) {
		int last = cap_max_bits() - 1, c;

		/* the bounding set must shrink while CAP_SETPCAP is still held */
		for (c = 0; c <= last; c++)
			if (!(p->capmask[CT_CAP_BOUNDING] & (1ULL << c)) &&
			    prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
				return err_make(err, errno, "drop capability %d", c);
	}
	if (setgroups(p->nr_additional_gids, p->additional_gids) < 0 && errno != EPERM)
		return err_make(err, errno, "setgroups");
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return err_make(err, errno, "setgid %u", p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return err_make(err, errno, "setuid %u", p->uid);
	if (p->has_caps) {
		int r = set_caps(p, err);

		if (r < 0)
			return r;
	}
	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_make(err, errno, "set no_new_privs");
	return 0;
}

int ct_process_terminal(int console_fd, bool ctty, struct err **err)
{
	_cleanup_close_ int master = -1;
	char name[64];
	int slave, r;

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return err_make(err, errno, "open `/dev/ptmx`");
	if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)))
		return err_make(err, errno, "unlock pty");
	slave = open(name, O_RDWR | O_NOCTTY);
	if (slave < 0)
		return err_make(err, errno, "open `%s`", name);
	if (setsid() < 0 && errno != EPERM)
		return err_make(err, errno, "setsid");
	if (ctty && ioctl(slave, TIOCSCTTY, 0) < 0)
		return err_make(err, errno, "set controlling terminal");
	if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
		return err_make(err, errno, "dup pty");
	if (slave > 2)
		close(slave);
	if ((r = unix_send_fd(console_fd, master)) < 0)
		return err_make(err, -r, "send pty to console socket");
	return 0;
}

static const char *env_path(const struct ct_process *p)
{
	size_t i;

	for (i = 0; i < p->nr_env; i++)
		if (!strncmp(p->env[i], "PATH=", 5))
			return p->env[i] + 5;
	return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

/* execve, searching the container's PATH; report_fd gets the error if it fails. */
void ct_process_exec(const struct ct_process *p, int report_fd)
{
	static const char *const no_env[] = { NULL };
	const char *const *env = p->env ? p->env : no_env;
	const char *arg0 = p->args[0], *path;
	char buf[4096], msg[4200];
	int e = ENOENT;

	if (strchr(arg0, '/')) {
		execve(arg0, (char *const *)p->args, (char *const *)env);
		e = errno;
	} else {
		for (path = env_path(p); path && *path;) {
			const char *colon = strchr(path, ':');
			size_t n = colon ? (size_t)(colon - path) : strlen(path);

			snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, arg0);
			execve(buf, (char *const *)p->args, (char *const *)env);
			if (errno != ENOENT)
				e = errno;
			path = colon ? colon + 1 : NULL;
		}
	}
	snprintf(msg, sizeof(msg), "exec `%s`: %s", arg0, strerror(e));
	if (report_fd >= 0)
		ct_sync_send(report_fd, CT_SYNC_ERROR, e, msg);
	else
		fprintf(stderr, "vps-ct: %s\n", msg);
	_exit(127);
}

/*
 * What the caller of vps-ct had open is not the container's (runc and
 * crun close it too): every descriptor from 3 + preserve_fds on closes at
 * execve. Close-on-exec rather than closed, so report_fd still carries a
 * failed execve back, and the seccomp listener still goes out.
 */
static int close_inherited(unsigned int preserve_fds, struct err **err)
{
	unsigned int from = 3 + preserve_fds;
	struct rlimit rl;

	if (syscall(SYS_close_range, from, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return err_make(err, errno, "close inherited descriptors");
	/* before Linux 5.11: one by one, up to the descriptor limit */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return err_make(err, errno, "close inherited descriptors");
	for (unsigned int fd = from; fd < rl.rlim_cur && fd < (1U << 20); fd++) {
		int fl = fcntl((int)fd, F_GETFD);

		if (fl >= 0 && !(fl & FD_CLOEXEC))
			fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC);
	}
	return 0;
}

/*
 * The last steps, shared by create and exec. Without no_new_privileges the
 * filter must be loaded while we still hold CAP_SYS_ADMIN, so before the
 * identity drops it; with it, after, so the filter need not allow the
 * setuid and capset calls the identity change makes.
 */
int ct_process_finish(const struct ct_seccomp *seccomp, int notify_fd, const struct ct_process *p,
		      unsigned int preserve_fds, int report_fd, struct err **err)
{
	int r;

	if ((r = close_inherited(preserve_fds, err)) < 0)
		return r;
	if (!p->no_new_privileges && (r = ct_seccomp_load(seccomp, false, notify_fd, err)) < 0)
		return r;
	if ((r = ct_process_identity(p, err)) < 0)
		return r;
	if (p->no_new_privileges && (r = ct_seccomp_load(seccomp, true, notify_fd, err)) < 0)
		return r;
	ct_process_exec(p, report_fd);
}
