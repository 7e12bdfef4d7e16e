// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vps-ct-init: the multi-call test helper that runs inside test containers
 * (after crun's tests/init.c). Static, so it needs nothing from the rootfs;
 * `/init CMD ARGS` prints one fact about the container the test then checks:
 * its identity, capabilities, mounts, limits, namespaces, files. Integration
 * tests (tests/integration/test_ct_*.py) build bundles around it. The
 * security applets (security(): mount, mknod, open, put, modload, syscalls,
 * initns, forkbomb, fill, snoop) try what a container must not be able to do and
 * print the errno name they got (test_ctm_security.py); switches.c's
 * applets try a container's features (test_ct_features.py).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <dirent.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* switches.c: fuse, swap, userns, nest */
int switches(const char *cmd, int argc, char **argv);

static int cat(const char *path)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		printf("error: %s\n", strerror(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, n, stdout);
	close(fd);
	return 0;
}

static int status_lines(const char *prefix)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, prefix, strlen(prefix)))
			fputs(line, stdout);
	fclose(f);
	return 0;
}

static const struct {
	const char *name;
	int res;
} limits[] = {
	{ "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },
	{ "RLIMIT_CORE", RLIMIT_CORE },
	{ "RLIMIT_STACK", RLIMIT_STACK },
};

static void on_term(int sig)
{
	_exit(128 + sig);
}

/* "ok", or the errno's name (EPERM): what the security applets print. */
static const char *res(long r)
{
	return r < 0 ? strerrorname_np(errno) : "ok";
}

static unsigned long mount_flags(char *opts, char **data)
{
	static const struct {
		const char *name;
		unsigned long flag;
	} f[] = { { "bind", MS_BIND },	     { "rec", MS_REC },	      { "ro", MS_RDONLY },
		  { "remount", MS_REMOUNT }, { "nosuid", MS_NOSUID }, { "nodev", MS_NODEV } };
	unsigned long flags = 0;
	char *tok, *save = NULL;
	size_t i;

	*data = calloc(1, strlen(opts) + 1);
	for (tok = strtok_r(opts, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < sizeof(f) / sizeof(f[0]) && strcmp(tok, f[i].name); i++)
			;
		if (i < sizeof(f) / sizeof(f[0])) {
			flags |= f[i].flag;
		} else {
			if (**data)
				strcat(*data, ",");
			strcat(*data, tok);
		}
	}
	return flags;
}

/* Fork until the kernel says no; hold the children SECONDS, then end them. */
static int forkbomb(int seconds)
{
	pid_t kids[1 << 16];
	int n = 0, e;

	for (;;) {
		pid_t p = n < (1 << 16) ? fork() : (errno = ENOSPC, -1);

		if (p == 0) {
			pause();
			_exit(0);
		}
		if (p < 0)
			break;
		kids[n++] = p;
	}
	e = errno;
	printf("forked %d %s\n", n, strerrorname_np(e));
	fflush(stdout);
	sleep(seconds);
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	return 0;
}

/* sysinfo-loop SECONDS: call sysinfo() as fast as it answers; print "CALLS TOTALRAM_BYTES" */
static int sysinfo_loop(int seconds)
{
	struct timespec t0, t;
	struct sysinfo si = { 0 };
	unsigned long calls = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (sysinfo(&si) < 0)
			return 1;
		calls++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < seconds);
	printf("%lu %llu\n", calls, (unsigned long long)si.totalram * si.mem_unit);
	return 0;
}

/* Write 1 MiB blocks to PATH until a write fails: bytes written and why. */
static int fill(const char *path)
{
	static char block[1 << 20];
	long long total = 0;
	ssize_t n;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0) {
		printf("open %s\n", strerrorname_np(errno));
		return 1;
	}
	memset(block, 0x5a, sizeof(block));
	while ((n = write(fd, block, sizeof(block))) > 0)
		total += n;
	printf("wrote %lld %s\n", total, n < 0 ? strerrorname_np(errno) : "EOF");
	n = fsync(fd);
	printf("fsync %s\n", res(n));
	close(fd);
	return 0;
}

/* Calls the seccomp list denies; iopl(0) and ioperm(off) need no capability,
 * so only the filter makes them fail. */
static int syscalls(void)
{
	struct {
		struct file_handle fh;
		unsigned char buf[128];
	} h = { .fh.handle_bytes = 128 };
	int mnt = -1;

	printf("iopl %s\n", res(syscall(SYS_iopl, 0)));
	printf("ioperm %s\n", res(syscall(SYS_ioperm, 0x80, 1, 0)));
	printf("kexec_load %s\n", res(syscall(SYS_kexec_load, 0, 0, NULL, 0)));
	printf("kexec_file_load %s\n", res(syscall(SYS_kexec_file_load, -1, -1, 0, NULL, 2)));
	printf("init_module %s\n", res(syscall(SYS_init_module, "", 0, "")));
	printf("finit_module %s\n", res(syscall(SYS_finit_module, 0, "", 0)));
	printf("delete_module %s\n", res(syscall(SYS_delete_module, "loop", O_NONBLOCK)));
	printf("swapoff %s\n", res(syscall(SYS_swapoff, "/nonexistent")));
	printf("swapon %s\n", res(syscall(SYS_swapon, "/nonexistent", 0)));
	printf("syslog %s\n", res(syscall(SYS_syslog, 10, NULL, 0))); /* SIZE_BUFFER */
	/* a handle of a file on the container's own /dev tmpfs: since 6.10
	 * the kernel may decode it for a user namespace's root */
	if (name_to_handle_at(AT_FDCWD, "/dev/null", &h.fh, &mnt, 0) < 0 &&
	    name_to_handle_at(AT_FDCWD, "/", &h.fh, &mnt, 0) < 0)
		printf("name_to_handle_at %s\n", strerrorname_np(errno));
	mnt = open("/", O_RDONLY | O_DIRECTORY);
	printf("open_by_handle_at %s\n", res(open_by_handle_at(mnt, &h.fh, O_RDONLY)));
	/*
	 * Docker's list and beyond (issue 15). The arguments are ones the
	 * kernel itself answers with EFAULT, EBADF, EINVAL, ENOSYS or success,
	 * so EPERM can only be the filter's.
	 */
	printf("io_uring_setup %s\n", res(syscall(SYS_io_uring_setup, 1, NULL)));
	printf("io_uring_enter %s\n", res(syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0)));
	printf("io_uring_register %s\n", res(syscall(SYS_io_uring_register, -1, 0, NULL, 0)));
	printf("keyctl %s\n", res(syscall(SYS_keyctl, 0x7fff, 0, 0, 0, 0)));
	printf("add_key %s\n", res(syscall(SYS_add_key, NULL, NULL, NULL, 0, 0)));
	printf("request_key %s\n", res(syscall(SYS_request_key, NULL, NULL, NULL, 0)));
	printf("bpf %s\n", res(syscall(SYS_bpf, 0x7fff, NULL, 0)));
	printf("perf_event_open %s\n", res(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0)));
	/* UFFD_USER_MODE_ONLY: what an unprivileged caller may open */
	printf("userfaultfd %s\n", res(syscall(SYS_userfaultfd, 1 | O_CLOEXEC)));
	printf("quotactl %s\n", res(syscall(SYS_quotactl, 0x800007, NULL, 0, NULL)));
	printf("lookup_dcookie %s\n", res(syscall(SYS_lookup_dcookie, 0, NULL, 0)));
	printf("sysfs %s\n", res(syscall(SYS_sysfs, 1, NULL)));
	printf("ustat %s\n", res(syscall(SYS_ustat, 0, NULL)));
	printf("uselib %s\n", res(syscall(SYS_uselib, NULL)));
	printf("socket_vsock %s\n", res(socket(40 /* AF_VSOCK */, SOCK_STREAM, 0)));
	/* ADDR_NO_RANDOMIZE and READ_IMPLIES_EXEC refused; the query and PER_LINUX not */
	printf("personality_norandom %s\n", res(syscall(SYS_personality, 0x0040000)));
	printf("personality_readexec %s\n", res(syscall(SYS_personality, 0x0400000)));
	printf("personality_query %s\n", res(syscall(SYS_personality, 0xffffffffUL)));
	printf("personality_linux %s\n", res(syscall(SYS_personality, 0)));
	return 0;
}

/* Calls that need a capability in the initial user namespace (the
 * container has each in its own) and the ways out of its namespaces. */
static int initns(void)
{
	static const char *const ns[] = { "user", "pid", "net", "mnt", "uts", "ipc", "cgroup" };
	struct rlimit rl;
	struct timespec ts;
	char path[64];

	printf("acct %s\n", res(acct("/tmp/.acct")));
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_max = rl.rlim_cur = rl.rlim_max + 1;
	printf("setrlimit %s\n", res(setrlimit(RLIMIT_NOFILE, &rl)));
	clock_gettime(CLOCK_REALTIME, &ts);
	printf("clock_settime %s\n", res(clock_settime(CLOCK_REALTIME, &ts)));
	printf("mknod %s\n", res(mknod("/tmp/.null", S_IFCHR | 0600, makedev(1, 3))));
	printf("vhangup %s\n", res(vhangup()));
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		int fd, up;

		snprintf(path, sizeof(path), "/proc/self/ns/%s", ns[i]);
		fd = open(path, O_RDONLY);
		up = ioctl(fd, NS_GET_PARENT);
		printf("%s NS_GET_PARENT %s", ns[i], res(up));
		if (up >= 0)
			printf(" setns %s", res(setns(up, 0)));
		up = ioctl(fd, NS_GET_USERNS);
		if (up >= 0) {
			/* the owner of the container's namespaces is its own user ns */
			int upper = ioctl(up, NS_GET_PARENT);

			printf(" NS_GET_USERNS.NS_GET_PARENT %s", res(upper));
			if (upper >= 0)
				printf(" setns %s", res(setns(upper, 0)));
		} else {
			printf(" NS_GET_USERNS %s", res(up));
		}
		putchar('\n');
	}
	return 0;
}

/* Through a directory fd of the host's: the host's /etc/hostname. */
static void escaped(int dirfd)
{
	char text[256];
	ssize_t n;
	int fd = openat(dirfd, "../../../../../../../../etc/hostname", O_RDONLY);

	n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
	text[n > 0 ? n : 0] = 0;
	printf(" host /etc/hostname: %s\n", fd < 0 ? strerrorname_np(errno) : strtok(text, "\n"));
	if (fd >= 0)
		close(fd);
}

/* For SECONDS, watch every other process's cwd and root (what a `vps-ct
 * exec` child shows before it is inside): print each that is on a device
 * this container has no mount of -- the host's, reached from inside. */
static int snoop(int seconds)
{
	time_t end = time(NULL) + seconds;
	struct stat me;
	char path[64], link[PATH_MAX];
	long scans = 0, hits = 0;

	stat("/", &me);
	while (time(NULL) < end) {
		DIR *d = opendir("/proc");
		struct dirent *de;

		scans++;
		while (d && (de = readdir(d))) {
			static const char *const what[] = { "cwd", "root" };
			int pid = atoi(de->d_name);

			if (pid <= 1 || pid == getpid())
				continue;
			for (int w = 0; w < 2; w++) {
				struct stat st;
				ssize_t n;
				int fd;

				snprintf(path, sizeof(path), "/proc/%d/%s", pid, what[w]);
				fd = open(path, O_PATH | O_DIRECTORY);
				if (fd < 0)
					continue;
				if (fstat(fd, &st) == 0 && major(st.st_dev) != major(me.st_dev) &&
				    major(st.st_dev) != 0) {
					snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
					n = readlink(path, link, sizeof(link) - 1);
					link[n > 0 ? n : 0] = 0;
					printf("hit %d %s %u:%u %s", pid, what[w], major(st.st_dev),
					       minor(st.st_dev), link);
					escaped(fd);
					hits++;
				}
				close(fd);
			}
		}
		if (d)
			closedir(d);
		if (hits > 20)
			break;
	}
	printf("scans %ld hits %ld\n", scans, hits);
	return 0;
}

/* The security applets; -1 when CMD is none of them. */
static int security(const char *cmd, int argc, char **argv)
{
	char *data = NULL;
	int fd;

	if (!strcmp(cmd, "mount") && argc >= 5) {
		unsigned long flags = mount_flags(argc > 5 ? argv[5] : (char[]){ "" }, &data);
		const char *type = strcmp(argv[4], "none") ? argv[4] : NULL;

		printf("%s\n", res(mount(argv[2], argv[3], type, flags, *data ? data : NULL)));
		return 0;
	}
	if (!strcmp(cmd, "umount") && argc >= 3) {
		printf("%s\n", res(umount2(argv[2], 0)));
		return 0;
	}
	if (!strcmp(cmd, "mknod") && argc >= 6) {
		mode_t t = argv[3][0] == 'b' ? S_IFBLK : S_IFCHR;

		printf("%s\n",
		       res(mknod(argv[2], t | 0600, makedev(atoi(argv[4]), atoi(argv[5])))));
		return 0;
	}
	if (!strcmp(cmd, "open") && argc >= 4) { /* open PATH r|w|rw */
		int flags = !strcmp(argv[3], "r") ? O_RDONLY :
			    !strcmp(argv[3], "w") ? O_WRONLY :
						    O_RDWR;

		fd = open(argv[2], flags);
		printf("%s\n", res(fd));
		return 0;
	}
	if (!strcmp(cmd, "put") && argc >= 4) { /* write to an existing file */
		fd = open(argv[2], O_WRONLY);
		if (fd < 0) {
			printf("open %s\n", strerrorname_np(errno));
			return 0;
		}
		printf("write %s\n", res(write(fd, argv[3], strlen(argv[3]))));
		return 0;
	}
	if (!strcmp(cmd, "modload") && argc >= 3) {
		static char image[1 << 20];
		ssize_t n;

		fd = open(argv[2], O_RDONLY);
		n = fd < 0 ? -1 : read(fd, image, sizeof(image));
		printf("finit_module %s\n", res(syscall(SYS_finit_module, fd, "", 0)));
		printf("init_module %s\n", res(syscall(SYS_init_module, image, n > 0 ? n : 0, "")));
		return 0;
	}
	if (!strcmp(cmd, "syscalls"))
		return syscalls();
	if (!strcmp(cmd, "initns"))
		return initns();
	if (!strcmp(cmd, "forkbomb"))
		return forkbomb(argc > 2 ? atoi(argv[2]) : 1);
	if (!strcmp(cmd, "snoop"))
		return snoop(argc > 2 ? atoi(argv[2]) : 5);
	if (!strcmp(cmd, "fill") && argc >= 3)
		return fill(argv[2]);
	if (!strcmp(cmd, "sysinfo-loop") && argc >= 3)
		return sysinfo_loop(atoi(argv[2]));
	return -1;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "true";
	const char *arg = argc > 2 ? argv[2] : NULL;
	char buf[PATH_MAX];
	size_t i;
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "true"))
		return 0;
	if (!strcmp(cmd, "tun") && arg) { /* tun NAME: make a TUN device, print its name */
		struct {
			char name[16];
			short flags;
			char pad[22];
		} ifr = { .flags = 0x0001 | 0x1000 }; /* IFF_TUN | IFF_NO_PI */

		int tfd;

		snprintf(ifr.name, sizeof(ifr.name), "%s", arg);
		tfd = open("/dev/net/tun", O_RDWR);
		if (tfd < 0 || ioctl(tfd, 0x400454ca /* TUNSETIFF */, &ifr) < 0) {
			printf("tun %s: %s\n", tfd < 0 ? "open" : "TUNSETIFF",
			       strerrorname_np(errno));
			return 1;
		}
		printf("tun %s\n", ifr.name);
		return 0;
	}
	if (!strcmp(cmd, "exit"))
		return arg ? atoi(arg) : 0;
	if (!strcmp(cmd, "cat") && arg)
		return cat(arg);
	if (!strcmp(cmd, "echo")) {
		for (i = 2; i < (size_t)argc; i++)
			printf("%s%s", i > 2 ? " " : "", argv[i]);
		putchar('\n');
		return 0;
	}
	if (!strcmp(cmd, "ls") && arg) {
		DIR *d = opendir(arg);
		struct dirent *de;

		if (!d) {
			printf("error: %s\n", strerror(errno));
			return 1;
		}
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				printf("%s\n", de->d_name);
		closedir(d);
		return 0;
	}
	if (!strcmp(cmd, "id")) {
		gid_t groups[64];
		int n = getgroups(64, groups), k;

		printf("uid=%d gid=%d groups=", getuid(), getgid());
		for (k = 0; k < n; k++)
			printf("%s%d", k ? "," : "", groups[k]);
		putchar('\n');
		return 0;
	}
	if (!strcmp(cmd, "caps"))
		return status_lines("Cap");
	if (!strcmp(cmd, "nnp")) {
		printf("%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
		return 0;
	}
	if (!strcmp(cmd, "seccomp"))
		return status_lines("Seccomp:");
	if (!strcmp(cmd, "hostname")) {
		gethostname(buf, sizeof(buf));
		printf("%s\n", buf);
		return 0;
	}
	if (!strcmp(cmd, "mounts"))
		return cat("/proc/self/mountinfo");
	if (!strcmp(cmd, "cwd")) {
		printf("%s\n", getcwd(buf, sizeof(buf)) ? buf : strerror(errno));
		return 0;
	}
	if (!strcmp(cmd, "env")) {
		for (i = 0; environ[i]; i++)
			printf("%s\n", environ[i]);
		return 0;
	}
	if (!strcmp(cmd, "limits")) {
		for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
			struct rlimit rl;

			getrlimit(limits[i].res, &rl);
			printf("%s %llu %llu\n", limits[i].name, (unsigned long long)rl.rlim_cur,
			       (unsigned long long)rl.rlim_max);
		}
		return 0;
	}
	if (!strcmp(cmd, "pid")) {
		printf("%d\n", getpid());
		return 0;
	}
	if (!strcmp(cmd, "ns") && arg) {
		char path[64];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/ns/%s", arg);
		n = readlink(path, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = 0;
		printf("%s\n", n > 0 ? buf : strerror(errno));
		return 0;
	}
	if (!strcmp(cmd, "write") && arg && argc > 3) {
		int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0 || write(fd, argv[3], strlen(argv[3])) < 0) {
			printf("error: %s\n", strerror(errno));
			return 1;
		}
		printf("ok\n");
		return 0;
	}
	if (!strcmp(cmd, "mkdir") && arg) {
		if (mkdir(arg, 0755) < 0) {
			printf("error: %s\n", strerror(errno));
			return 1;
		}
		printf("ok\n");
		return 0;
	}
	if (!strcmp(cmd, "stat") && arg) {
		struct stat st;

		if (lstat(arg, &st) < 0) {
			printf("error: %s\n", strerror(errno));
			return 1;
		}
		printf("%c %u:%u %o %d:%d\n",
		       S_ISCHR(st.st_mode)  ? 'c' :
		       S_ISBLK(st.st_mode)  ? 'b' :
		       S_ISDIR(st.st_mode)  ? 'd' :
		       S_ISLNK(st.st_mode)  ? 'l' :
		       S_ISFIFO(st.st_mode) ? 'p' :
					      'f',
		       major(st.st_rdev), minor(st.st_rdev), st.st_mode & 07777, st.st_uid,
		       st.st_gid);
		return 0;
	}
	if (!strcmp(cmd, "readlink") && arg) {
		ssize_t n = readlink(arg, buf, sizeof(buf) - 1);

		buf[n > 0 ? n : 0] = 0;
		printf("%s\n", n > 0 ? buf : strerror(errno));
		return 0;
	}
	if (!strcmp(cmd, "isatty")) {
		printf("%d\n", isatty(0));
		return 0;
	}
	if (!strcmp(cmd, "pause")) {
		/* pid 1 ignores signals it has no handler for: install one */
		signal(SIGTERM, on_term);
		for (;;)
			pause();
	}
	r = security(cmd, argc, argv);
	if (r >= 0)
		return r;
	r = switches(cmd, argc, argv);
	if (r >= 0)
		return r;
	fprintf(stderr, "init: unknown command `%s`\n", cmd);
	return 2;
}
