// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The monitor's jail (jail.h, docs/security.md "The monitor's jail"), after
 * Firecracker's jailer, done inside the monitor once everything it needs
 * from the host is open: guest memory, /dev/kvm and the VM's fds, the
 * disks, the taps, the console and control sockets. Then, in order:
 *
 *  1. a mount namespace of its own whose root is an empty read-only tmpfs
 *     (pivot_root; the host's tree is detached), and an IPC namespace;
 *  2. every capability out of the bounding set, the groups dropped, and the
 *     VM's own uid and gid (which clears the permitted and effective sets);
 *  3. no_new_privs, and a seccomp filter whose default is to kill the
 *     process: the union of what the thread classes need, for every thread;
 *  4. each thread then narrows itself to its class (jail_thread): vCPU,
 *     device I/O (a virtio device's I/O thread), I/O (console input) or
 *     control (the main thread).
 *
 * The sanitizer build, which only the tests run, also keeps /proc in the
 * jail, lets the sanitizer runtime open its files and trace its own threads
 * (LeakSanitizer at exit), and sends reports to a file opened before the
 * jail; the release build has none of that.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/vhost.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/jail.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define JAIL_SANITIZER 1
#else
#define JAIL_SANITIZER 0
#endif

static bool jailed;

/* What every thread needs: memory, locks, signals for the vCPU kick, time, exit. */
static const int common_calls[] = {
	SCMP_SYS(futex),
	SCMP_SYS(mmap),
	SCMP_SYS(munmap),
	SCMP_SYS(mprotect),
	SCMP_SYS(madvise),
	SCMP_SYS(brk),
	SCMP_SYS(mremap),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep),
	SCMP_SYS(sched_yield),
	SCMP_SYS(gettid),
	SCMP_SYS(getpid),
	SCMP_SYS(tgkill),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
	SCMP_SYS(restart_syscall),
	SCMP_SYS(write),
	SCMP_SYS(writev),
	SCMP_SYS(read),
	SCMP_SYS(close),
};

/* KVM_RUN and the device models: disk IO, tap writes, interrupts, balloon. */
static const int vcpu_calls[] = {
	SCMP_SYS(ioctl),     SCMP_SYS(pread64),	  SCMP_SYS(pwrite64), SCMP_SYS(preadv),
	SCMP_SYS(pwritev),   SCMP_SYS(fdatasync), SCMP_SYS(fsync),    SCMP_SYS(fallocate),
	SCMP_SYS(readv),     SCMP_SYS(sendto),	  SCMP_SYS(sendmsg),  SCMP_SYS(poll),
	SCMP_SYS(ppoll),     SCMP_SYS(getrandom), /* virtio-rng */
	SCMP_SYS(epoll_ctl), /* virtio-net's reset takes the rings back from vhost-net */
};

/*
 * A virtio device's I/O thread (iothread.c): wait on its doorbells and its
 * tap, serve the queues (disk IO, tap frames, random bytes, balloon pages:
 * madvise is common), interrupt the guest by writing an irqfd. ioctl only
 * for the paths without KVM's eventfds: KVM_SIGNAL_MSI, KVM_IRQ_LINE (INTx),
 * and TUNSETOFFLOAD, which virtio-net sets on its tap to the offloads the
 * driver accepted when it first receives after a negotiation, and
 * TUNSETQUEUE, which attaches and detaches its tap's queue fds when the
 * driver sets how many queue pairs it uses (the control queue). With
 * vhost-net, the ring hand-over to the kernel (vhost_net.c; /dev/vhost-net
 * was opened, owned and given guest memory before the jail, so neither
 * VHOST_SET_OWNER nor VHOST_SET_MEM_TABLE is allowed anywhere) and
 * epoll_ctl, which takes the doorbells and taps out of the loop meanwhile
 * (the vCPU and control threads take the rings back on reset and snapshot:
 * their classes allow ioctl already, and epoll_ctl for the same reason).
 * io_uring_enter submits the disk's batches (blk.c); the ring was set up,
 * restricted and enabled before the jail, so neither io_uring_setup nor
 * io_uring_register is allowed in any class.
 */
static const int device_calls[] = {
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(readv),	  SCMP_SYS(pread64),
	SCMP_SYS(pwrite64),   SCMP_SYS(preadv),	     SCMP_SYS(pwritev),	  SCMP_SYS(fdatasync),
	SCMP_SYS(fsync),      SCMP_SYS(fallocate),   SCMP_SYS(getrandom), SCMP_SYS(io_uring_enter),
	SCMP_SYS(epoll_ctl),
};
static const unsigned long device_ioctls[] = {
	KVM_SIGNAL_MSI,	      KVM_IRQ_LINE,	    TUNSETOFFLOAD,	   TUNSETQUEUE,
	VHOST_SET_FEATURES,   VHOST_SET_VRING_NUM,  VHOST_SET_VRING_BASE,  VHOST_SET_VRING_ADDR,
	VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL, VHOST_NET_SET_BACKEND, VHOST_GET_VRING_BASE,
};

/* Console input and the screen's RFB server: wait, accept, read, hand to the guest, answer. */
static const int io_calls[] = {
	SCMP_SYS(ioctl),    SCMP_SYS(poll),	SCMP_SYS(ppoll),   SCMP_SYS(readv),
	SCMP_SYS(recvfrom), SCMP_SYS(recvmsg),	SCMP_SYS(sendto),  SCMP_SYS(sendmsg),
	SCMP_SYS(accept4),  SCMP_SYS(shutdown), SCMP_SYS(pread64),
};

/* The control socket, stats, pause and stop, the threads' start and end. */
static const int control_calls[] = {
	SCMP_SYS(ioctl),
	SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	SCMP_SYS(accept4),
	SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg),
	SCMP_SYS(sendto),
	SCMP_SYS(sendmsg),
	SCMP_SYS(shutdown),
	SCMP_SYS(fcntl),
	SCMP_SYS(pread64),
	SCMP_SYS(getrusage),
	SCMP_SYS(fsync),
	SCMP_SYS(fdatasync),
	SCMP_SYS(readv),
	SCMP_SYS(epoll_ctl), /* `snapshot` takes virtio-net's rings back from vhost-net */
	/* `snapshot`: a directory and two files under the snapshot_dir opened before the jail */
	SCMP_SYS(mkdirat),
	SCMP_SYS(openat),
	SCMP_SYS(ftruncate),
	SCMP_SYS(pwrite64),
	SCMP_SYS(renameat),
	SCMP_SYS(unlinkat),
	/* `media`: the type and size of the ISO passed in (recvmsg, SCM_RIGHTS) */
	SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),
};

/*
 * The migration thread (migrate.c): KVM's dirty log and slot flags, the
 * vCPU and irqchip state (ioctl), one socket out (TCP, or a unix socket
 * reached by fchdir into the migrate_dir opened before the jail), writes
 * and reads on it. The destination receives on the main thread before the
 * other threads start (jail_enter's filter, the union).
 */
static const int migrate_calls[] = {
	SCMP_SYS(ioctl),  SCMP_SYS(socket),   SCMP_SYS(connect), SCMP_SYS(setsockopt),
	SCMP_SYS(fchdir), SCMP_SYS(openat),   SCMP_SYS(sendto),	 SCMP_SYS(recvfrom),
	SCMP_SYS(poll),	  SCMP_SYS(shutdown), SCMP_SYS(readv),
};

/* Only while the main thread starts the others (jail_enter's filter). */
static const int spawn_calls[] = {
	SCMP_SYS(clone), SCMP_SYS(clone3),	SCMP_SYS(set_robust_list),
	SCMP_SYS(rseq),	 SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigaction),
};

/* The sanitizer runtime (test builds): reports, and LeakSanitizer at exit. */
static const int sanitizer_calls[] = {
	SCMP_SYS(openat),      SCMP_SYS(open),
	SCMP_SYS(getdents64),  SCMP_SYS(getdents),
	SCMP_SYS(readlink),    SCMP_SYS(readlinkat),
	SCMP_SYS(newfstatat),  SCMP_SYS(fstat),
	SCMP_SYS(lseek),       SCMP_SYS(ptrace),
	SCMP_SYS(wait4),       SCMP_SYS(clone),
	SCMP_SYS(prctl),       SCMP_SYS(sched_getaffinity),
	SCMP_SYS(getppid),     SCMP_SYS(kill),
	SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigaction),
	SCMP_SYS(prlimit64),   SCMP_SYS(getrlimit),
	SCMP_SYS(pipe2),       SCMP_SYS(dup2),
	SCMP_SYS(dup),	       SCMP_SYS(setrlimit),
	SCMP_SYS(uname),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int allow(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);

		if (r < 0)
			return r;
	}
	return 0;
}

/* ioctl(2) with one of these requests only. */
static int allow_ioctls(scmp_filter_ctx ctx, const unsigned long *req, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					 SCMP_A1(SCMP_CMP_EQ, req[i]));

		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Load a kill-by-default filter allowing the given lists, and ioctl with the
 * requests `ioctls` (when ioctl is not in a list); for this thread, or all
 * (tsync).
 */
static int load_with(const int *const lists[], const size_t sizes[], size_t nlists,
		     const unsigned long *ioctls, size_t nioctls, bool tsync)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int r = ctx ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < nlists; i++)
		r = allow(ctx, lists[i], sizes[i]);
	if (r == 0)
		r = allow_ioctls(ctx, ioctls, nioctls);
	if (r == 0 && JAIL_SANITIZER)
		r = allow(ctx, sanitizer_calls, N(sanitizer_calls));
	/* threads name themselves (`io-blk`) before they narrow their filter */
	if (r == 0 && tsync)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				     SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
	/* the process filter lets each thread add its narrower one, and nothing else */
	if (r == 0 && tsync)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(seccomp), 1,
				     SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER));
	if (r == 0 && tsync)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r == 0 && !tsync) /* set with the process filter; prctl is not in the list */
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

static int load(const int *const lists[], const size_t sizes[], size_t nlists, bool tsync)
{
	return load_with(lists, sizes, nlists, NULL, 0, tsync);
}

#if JAIL_SANITIZER
/*
 * The sanitizer runtimes open their report file (log_path.PID) when they
 * first report, which a jailed monitor cannot: open it now, once, and hand
 * the descriptor to both runtimes (libasan, and libubsan with GCC).
 */
extern void __sanitizer_set_report_fd(void *fd) __attribute__((weak));

static void sanitizer_report_fd(void)
{
	const char *opts = getenv("ASAN_OPTIONS"), *p = opts ? strstr(opts, "log_path=") : NULL;
	void (*set_fd)(void *);
	char path[4096];
	void *ubsan;
	size_t n;
	int fd;

	if (!p || !__sanitizer_set_report_fd)
		return;
	p += strlen("log_path=");
	n = strcspn(p, ": ");
	if (n == 0 || n + 16 >= sizeof(path))
		return;
	snprintf(path, sizeof(path), "%.*s.%d", (int)n, p, (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	__sanitizer_set_report_fd((void *)(long)fd);
	/* with GCC, libubsan is a runtime of its own with its own report file */
	ubsan = dlopen("libubsan.so.1", RTLD_NOLOAD | RTLD_LAZY);
	set_fd = ubsan ? (void (*)(void *))dlsym(ubsan, "__sanitizer_set_report_fd") : NULL;
	if (set_fd)
		set_fd((void *)(long)fd);
}
#endif

/* An empty read-only tmpfs as / in a mount namespace of our own; the host's tree detached. */
static int empty_root(struct err **err)
{
	const char *at = "/tmp"; /* any directory will do: the mount is ours alone */

	if (unshare(CLONE_NEWNS | CLONE_NEWIPC) < 0)
		return err_make(err, errno, "jail: unshare");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return err_make(err, errno, "jail: make / private");
	if (mount("vps-jail", at, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k,mode=0755") <
	    0)
		return err_make(err, errno, "jail: mount tmpfs");
	if (JAIL_SANITIZER &&
	    (mkdir("/tmp/proc", 0555) < 0 ||
	     mount("proc", "/tmp/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0))
		return err_make(err, errno, "jail: /proc for the sanitizer runtime");
	if (chdir(at) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		return err_make(err, errno, "jail: pivot_root");
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return err_make(err, errno, "jail: detach the host's root");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) <
	    0)
		return err_make(err, errno, "jail: remount / read-only");
	return 0;
}

static int drop_privileges(uid_t uid, gid_t gid, struct err **err)
{
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return err_make(err, errno, "jail: drop capability %d", c);
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0)
		return err_make(err, errno, "jail: gid %u", (unsigned int)gid);
	if (setresuid(uid, uid, uid) < 0)
		return err_make(err, errno, "jail: uid %u", (unsigned int)uid);
	/* ambient and inheritable were empty; a uid change cleared permitted and effective */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_make(err, errno, "jail: no_new_privs");
	if (JAIL_SANITIZER)
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0); /* LeakSanitizer traces its own threads */
	return 0;
}

int jail_enter(uid_t uid, gid_t gid, struct err **err)
{
	static const int *const lists[] = { common_calls,  vcpu_calls,	  device_calls, io_calls,
					    control_calls, migrate_calls, spawn_calls };
	static const size_t sizes[] = { N(common_calls), N(vcpu_calls),	   N(device_calls),
					N(io_calls),	 N(control_calls), N(migrate_calls),
					N(spawn_calls) };
	int r;

	if (uid == 0 || gid == 0)
		return err_make(err, EINVAL, "jail: uid and gid must not be 0");
#if JAIL_SANITIZER
	sanitizer_report_fd();
#endif
	if ((r = empty_root(err)) < 0 || (r = drop_privileges(uid, gid, err)) < 0)
		return r;
	r = load(lists, sizes, N(lists), true);
	if (r < 0)
		return err_make(err, -r, "jail: load the seccomp filter");
	jailed = true;
	return 0;
}

bool jail_active(void)
{
	return jailed;
}

int jail_thread(enum jail_class c)
{
	static const int *const device[] = { common_calls, device_calls };
	static const size_t ds[] = { N(common_calls), N(device_calls) };
	static const int *const vcpu[] = { common_calls, vcpu_calls };
	static const int *const io[] = { common_calls, io_calls };
	static const int *const control[] = { common_calls, control_calls };
	static const size_t vs[] = { N(common_calls), N(vcpu_calls) };
	static const size_t is[] = { N(common_calls), N(io_calls) };
	static const size_t cs[] = { N(common_calls), N(control_calls) };
	static const int *const migrate[] = { common_calls, migrate_calls };
	static const size_t ms[] = { N(common_calls), N(migrate_calls) };
	int r;

	if (!jailed)
		return 0;
	r = c == JAIL_VCPU    ? load(vcpu, vs, 2, false) :
	    c == JAIL_DEVICE  ? load_with(device, ds, 2, device_ioctls, N(device_ioctls), false) :
	    c == JAIL_IO      ? load(io, is, 2, false) :
	    c == JAIL_MIGRATE ? load(migrate, ms, 2, false) :
				load(control, cs, 2, false);
	if (r < 0)
		pr_err("jail: thread filter: %s", strerror(-r));
	return r;
}
