// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The container's own sysinfo(), by seccomp user notification (opt-in with
 * the annotation org.vps.sysinfo=cgroup; docs/ct-sysinfo.md). lxcfs can
 * only answer reads of /proc files; sysinfo() is a system call, so the
 * container's filter returns SCMP_ACT_NOTIFY for it and a monitor process
 * answers in the caller's place, as LXD's syscall interception and crun's
 * seccomp notify plugins do.
 *
 *   runtime (create, exec)       child                     monitor
 *   socketpair, clone ---------> ...
 *   double-fork monitor -----------------------------------> wait for fd
 *                                load filter (NOTIFY sysinfo)
 *                                send listener fd ---------> poll listener
 *                                execve                      answer each call
 *                                ... it and all its tasks exit: POLLHUP, exit
 *
 * An exec'd process is forked by the runtime, not by the init, so it does
 * not inherit the init's filter: exec makes its own listener and its own
 * monitor, which lives as long as that process and its children.
 *
 * Each answer is the monitor's own (host) sysinfo with the memory, swap,
 * uptime and process count of the container's cgroup put in, written into
 * the caller through /proc/PID/mem, checked with a pidfd (write_caller()).
 * Anything that goes wrong lets the real
 * syscall run (SECCOMP_USER_NOTIF_FLAG_CONTINUE): a caller is never left
 * waiting and never gets an error it would not have had without us.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdio.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#include "common/cleanup.h"
#include "common/util.h"
#include "ct/container.h"
#include "ct/privs.h"
#include "sys/unix.h"

/* The host's sysinfo with the cgroup's figures put in. */
static int container_sysinfo(const struct ct_cgroup *cg, uint64_t init_start, struct sysinfo *si)
{
	struct cg_memory_stat m;
	long hz = sysconf(_SC_CLK_TCK);
	pid_t *pids = NULL;
	size_t n = 0;

	if (!cg || sysinfo(si) < 0 || cg_memory_stat(cg, &m, NULL) < 0)
		return -1;
	/* mem_unit 1 from here on: scale the host values we keep */
	si->totalram *= si->mem_unit;
	si->freeram *= si->mem_unit;
	si->sharedram *= si->mem_unit;
	si->bufferram *= si->mem_unit;
	si->totalswap *= si->mem_unit;
	si->freeswap *= si->mem_unit;
	si->totalhigh *= si->mem_unit;
	si->freehigh *= si->mem_unit;
	si->mem_unit = 1;
	if (m.limit >= 0 && (uint64_t)m.limit < si->totalram) {
		si->totalram = m.limit;
		si->freeram = m.usage < m.limit ? m.limit - m.usage : 0;
		si->sharedram = m.shmem;
		/*
		 * The kernel's bufferram is block-device buffers only; the page
		 * cache comes from /proc/meminfo's Cached (lxcfs, when wired),
		 * which tools add to it: memory.stat's cache here would count twice.
		 */
		si->bufferram = 0;
	}
	/*
	 * The allowance as sold (vswap), whatever the host has behind it: on
	 * OpenVZ a container with 64M of vswap saw 64M of swap on a host with
	 * none. vswap is the memory+swap limit; the kernel backs what is over
	 * `memory` with the host's swap if it has some, else the container
	 * meets its RAM limit first (docs/containers.md, "vswap").
	 */
	if (m.swap_limit >= 0) {
		si->totalswap = m.swap_limit;
		si->freeswap =
			(uint64_t)m.swap_usage < si->totalswap ? si->totalswap - m.swap_usage : 0;
	}
	if (hz > 0 && init_start && si->uptime >= (long)(init_start / hz))
		si->uptime -= init_start / hz;
	if (cg_pids_own(cg, &pids, &n, NULL) == 0)
		si->procs = n > 0xffff ? 0xffff : n;
	free(pids);
	return 0;
}

/*
 * Write SI at the caller's buffer, into the caller and no one else. A pid
 * is only a number: the caller may be killed and reaped, and its pid given
 * to a host process, at any moment after RECV, and the monitor is host
 * root. So: a pidfd first, which is the caller if the notification is still
 * valid after it was taken; then the caller's memory as a file, which
 * stays bound to the address space it was opened on; then the pidfd says
 * whether the caller was still alive (so still the owner of its pid) after
 * that open. 0, -EFAULT (a bad buffer), -ESRCH (gone) or another -errno.
 */
static int write_caller(int lfd, struct seccomp_notif *req, const struct sysinfo *si)
{
	_cleanup_close_ int pidfd = syscall(SYS_pidfd_open, req->pid, 0);
	_cleanup_close_ int mem = -1;
	char path[64];
	ssize_t n;

	if (pidfd < 0)
		return -ESRCH;
	if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) < 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)req->pid);
	mem = open(path, O_WRONLY | O_CLOEXEC);
	if (mem < 0)
		return -errno;
	/*
	 * Readable once the caller has exited: a poll needs no permission to
	 * signal it (CAP_KILL, which the monitor does not keep).
	 */
	if (poll(&(struct pollfd){ .fd = pidfd, .events = POLLIN }, 1, 0) != 0)
		return -ESRCH;
	n = pwrite(mem, si, sizeof(*si), (off_t)req->data.args[0]);
	if (n == (ssize_t)sizeof(*si))
		return 0;
	/* an unmapped buffer: EIO from /proc/PID/mem, EFAULT from the kernel's sysinfo */
	return n < 0 && errno != EIO && errno != EFAULT ? -errno : -EFAULT;
}

/* Answer one notification; on any failure the real syscall runs. */
static void answer(int lfd, const struct ct_cgroup *cg, uint64_t init_start,
		   struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
	struct sysinfo si;

	resp->id = req->id;
	resp->val = 0;
	resp->error = 0;
	resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	/* only the native layout of struct sysinfo is written */
	if (req->data.nr != SCMP_SYS(sysinfo) || req->data.arch != seccomp_arch_native() ||
	    !req->data.args[0])
		goto send;
	if (container_sysinfo(cg, init_start, &si) < 0)
		goto send;
	switch (write_caller(lfd, req, &si)) {
	case 0:
		resp->flags = 0;
		break;
	case -EFAULT: /* what the kernel's sysinfo would say */
		resp->flags = 0, resp->error = -EFAULT;
		break;
	case -ESRCH: /* the caller is gone: nobody to answer */
		return;
	}
send:
	ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, resp);
}

int ct_sysinfo_answer(int lfd, const struct ct_cgroup *cg, uint64_t init_start)
{
	struct seccomp_notif_sizes sz = { 0 };
	_cleanup_free_ struct seccomp_notif *req = NULL;
	_cleanup_free_ struct seccomp_notif_resp *resp = NULL;

	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) < 0)
		return -errno;
	req = calloc(1, sz.seccomp_notif > sizeof(*req) ? sz.seccomp_notif : sizeof(*req));
	resp = calloc(1, sz.seccomp_notif_resp > sizeof(*resp) ? sz.seccomp_notif_resp :
								 sizeof(*resp));
	if (!req || !resp)
		return -ENOMEM;
	if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
		return errno == EINTR || errno == ENOENT ? 0 : -errno; /* ENOENT: the caller died */
	answer(lfd, cg, init_start, req, resp);
	return 0;
}

/*
 * What the monitor does once it has its listener: poll and answer it, read
 * the cgroup's files (which exist: access; memory figures, cgroup.procs
 * under the container's cgroup), open and write the caller's /proc/PID/mem, check the pidfd; and
 * malloc. Anything else kills it (the kernel then fails the container's
 * pending sysinfo() calls with ENOSYS): no exec, no socket, no mount, no
 * ptrace, no signal to another process, no credential change.
 */
static const int monitor_calls[] = {
	SCMP_SYS(poll),		SCMP_SYS(ppoll),	   SCMP_SYS(ioctl),
	SCMP_SYS(sysinfo),	SCMP_SYS(openat),	   SCMP_SYS(read),
	SCMP_SYS(close),	SCMP_SYS(fstat),	   SCMP_SYS(newfstatat),
	SCMP_SYS(getdents64),	SCMP_SYS(lseek),	   SCMP_SYS(fcntl),
	SCMP_SYS(pwrite64),	SCMP_SYS(pidfd_open),	   SCMP_SYS(brk),
	SCMP_SYS(mmap),		SCMP_SYS(munmap),	   SCMP_SYS(mremap),
	SCMP_SYS(madvise),	SCMP_SYS(mprotect),	   SCMP_SYS(futex),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),  SCMP_SYS(exit),
	SCMP_SYS(exit_group),	SCMP_SYS(restart_syscall), SCMP_SYS(clock_gettime),
	SCMP_SYS(getpid),	SCMP_SYS(gettid),	   SCMP_SYS(tgkill),
	SCMP_SYS(write),	SCMP_SYS(access),	   SCMP_SYS(faccessat),
	SCMP_SYS(faccessat2),
};

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
/* The sanitizer runtime of the test builds: its reports. */
static const int sanitizer_calls[] = {
	SCMP_SYS(readlink),	     SCMP_SYS(readlinkat),  SCMP_SYS(getppid),	    SCMP_SYS(prctl),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigaction), SCMP_SYS(uname),
	SCMP_SYS(prlimit64),	     SCMP_SYS(getrlimit),   SCMP_SYS(writev),	    SCMP_SYS(dup2),
};
#endif

static int allow(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Kill by default; no_new_privs is already set (ct_privs_keep). */
static int monitor_filter(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int r = ctx ? 0 : -ENOMEM;

	if (r == 0)
		r = allow(ctx, monitor_calls, ARRAY_SIZE(monitor_calls));
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
	if (r == 0)
		r = allow(ctx, sanitizer_calls, ARRAY_SIZE(sanitizer_calls));
#endif
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

/*
 * The monitor's work on fd 3, its end of the socketpair; never returns. Once
 * in the container's cgroup it writes a byte to fd 4 and closes it: the
 * runtime lets the container's process go only then. A monitor still on its
 * way in would be attached after the process forked up to pids.max, and an
 * attach is not refused at the limit: the container would hold one more.
 */
static __attribute__((noreturn)) void monitor_serve(const char *cgroup_path, uint64_t init_start)
{
	struct seccomp_notif_sizes sz = { 0 };
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	struct ct_cgroup *cg = NULL;
	int lfd;

	/*
	 * Its CPU and memory are the customer's: into the container's cgroup
	 * (the helpers' leaf below it), then every capability dropped but the
	 * two the caller's memory needs: /proc/PID/mem of a process of another
	 * uid and user namespace is a ptrace access (SYS_PTRACE) of a file
	 * that process owns, 0600 (DAC_OVERRIDE); and no_new_privs. A failure
	 * here is EOF on our end: the child's send fails, and so does its
	 * create or exec.
	 */
	if (cg_open(cgroup_path, &cg, NULL) < 0 || cg_enter_helper(cg, getpid(), NULL) < 0 ||
	    ct_privs_keep(CT_CAP(CAP_SYS_PTRACE) | CT_CAP(CAP_DAC_OVERRIDE), true, NULL) < 0)
		_exit(1);
	if (write(4, "", 1) != 1)
		_exit(1);
	close(4);
	lfd = unix_recv_fd(3);
	close(3);
	if (lfd < 0) /* the child died before loading its filter */
		_exit(0);
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) < 0)
		_exit(1);
	req = calloc(1, sz.seccomp_notif > sizeof(*req) ? sz.seccomp_notif : sizeof(*req));
	resp = calloc(1, sz.seccomp_notif_resp > sizeof(*resp) ? sz.seccomp_notif_resp :
								 sizeof(*resp));
	if (!req || !resp)
		_exit(1);
	/* the runtime's heap and stack, forked with us: not the customer's to pay for */
	release_idle_memory();
	if (monitor_filter() < 0)
		_exit(1);
	for (;;) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* POLLHUP: no task holds the filter anymore, the container is gone */
		if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
			break;
		memset(req, 0, sz.seccomp_notif);
		if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) {
			if (errno == EINTR || errno == ENOENT) /* ENOENT: the caller died */
				continue;
			break;
		}
		memset(resp, 0, sz.seccomp_notif_resp);
		answer(lfd, cg, init_start, req, resp);
	}
	_exit(0);
}

/*
 * The forked monitor: stdio on /dev/null, its end on fd 3, nothing else;
 * then a fresh image of vps-ct (ct_sysinfo_monitor_main) rather than the
 * runtime's copy: the fork holds the runtime's heap (config.json parsed),
 * its stack and page tables, all charged (v1: to the cgroup of whoever
 * ran the runtime, outside the container) for as long as
 * it runs (220 KiB of anonymous pages measured), where a fresh image has 108
 * (docs/ct-density.md). Should the exec fail, the fork serves.
 */
#define MONITOR_READY_MS 30000 /* a sanitizer build's start-up on a loaded host is slow */

static __attribute__((noreturn)) void monitor_main(const char *id, const char *cgroup_path,
						   uint64_t init_start, int sock, int ready)
{
	char start[24];
	char *argv[] = { "vps-ct", CT_SYSINFO_MONITOR_CMD, (char *)cgroup_path, start, (char *)id,
			 NULL };
	int null;

	prctl(PR_SET_NAME, "vps-ct-sysinfo", 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
	/* keep nothing of the runtime's: not its stdio, not its pipes */
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 ||
	    dup2(sock, 3) < 0 || dup2(ready, 4) < 0)
		_exit(1);
	syscall(SYS_close_range, 5, ~0U, 0);
	/* dup2 onto itself keeps close-on-exec: the exec must not close them */
	if (fcntl(3, F_SETFD, 0) < 0 || fcntl(4, F_SETFD, 0) < 0)
		_exit(1);
	/*
	 * Not into the container's cgroup before the exec: a sanitizer build's
	 * start-up alone would meet a small container's limit (OOM-killed in
	 * the tests). The fresh image enters it in monitor_serve; its first
	 * pages stay charged where the runtime ran.
	 */
	snprintf(start, sizeof(start), "%" PRIu64, init_start);
	execve("/proc/self/exe", argv, environ);
	monitor_serve(cgroup_path, init_start);
}

int ct_sysinfo_monitor_main(int argc, char **argv)
{
	struct stat st;
	uint64_t init_start;
	char *end;

	/* only as monitor_main runs it: fd 3 a socket, fd 4 a pipe, the init's start time (the id: for ps) */
	if (argc != 5 || fstat(3, &st) < 0 || !S_ISSOCK(st.st_mode) || fstat(4, &st) < 0 ||
	    !S_ISFIFO(st.st_mode)) {
		fprintf(stderr, "vps-ct: %s is vps-ct's own, not a command\n",
			CT_SYSINFO_MONITOR_CMD);
		return 2;
	}
	errno = 0;
	init_start = strtoull(argv[3], &end, 10);
	if (errno || end == argv[3] || *end)
		return 2;
	prctl(PR_SET_NAME, "vps-ct-sysinfo", 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
	monitor_serve(argv[2], init_start);
}

int ct_sysinfo_pair(const struct ct_config *cfg, int sv[2], struct err **err)
{
	sv[0] = sv[1] = -1;
	if (!cfg->sysinfo_view)
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		sv[0] = sv[1] = -1;
		return err_make(err, errno, "socketpair for the sysinfo monitor");
	}
	return 0;
}

/*
 * To a server of org.vps.sysinfo.socket: our end of the pair, over which the
 * child's listener comes; true once it has it. It holds the only copy then
 * and sees EOF if the child dies first, as a monitor of our own would.
 */
static bool send_to_server(const char *server, int fd)
{
	int conn = unix_connect(server), r;

	if (conn < 0)
		return false;
	r = unix_send_fd(conn, fd);
	close(conn);
	return r == 0;
}

int ct_sysinfo_monitor_start(const char *id, const char *cgroup_path, uint64_t init_start,
			     const char *server, int *sock, struct err **err)
{
	int status, fd = *sock, ready[2];
	struct pollfd p;
	char byte;
	pid_t pid;

	if (fd < 0)
		return 0;
	*sock = -1;
	/*
	 * A server (vps-ctm's monitor, which has the capabilities already)
	 * answers for this container: no process of our own. None there (its
	 * monitor is gone): a monitor of our own, as without one.
	 */
	if (server && send_to_server(server, fd)) {
		close(fd);
		return 0;
	}
	if (pipe2(ready, O_CLOEXEC) < 0) {
		close(fd);
		return err_make(err, errno, "pipe for the sysinfo monitor");
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fd);
		close(ready[0]);
		close(ready[1]);
		return err_make(err, errno, "fork sysinfo monitor");
	}
	if (pid == 0) {
		/* double fork: the monitor outlives the runtime, and no one waits for it */
		prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
		if (setsid() < 0)
			_exit(1);
		pid = fork();
		if (pid != 0)
			_exit(pid < 0);
		monitor_main(id, cgroup_path, init_start, fd, ready[1]);
	}
	close(fd);
	close(ready[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			close(ready[0]);
			return err_make(err, errno, "wait for sysinfo monitor");
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		close(ready[0]);
		return err_make(err, EAGAIN, "start sysinfo monitor");
	}
	/* in the container's cgroup before the process it serves may fork */
	p = (struct pollfd){ .fd = ready[0], .events = POLLIN };
	while ((status = poll(&p, 1, MONITOR_READY_MS)) < 0 && errno == EINTR)
		;
	status = status == 1 && read(ready[0], &byte, 1) == 1;
	close(ready[0]);
	return status ?
		       0 :
		       err_make(err, EAGAIN, "sysinfo monitor did not join the container's cgroup");
}
