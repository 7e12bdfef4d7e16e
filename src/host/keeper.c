// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The keeper: the parent of one VPS's monitor, in a session of its own,
 * not a child of vpsd (it is double-forked), so the daemon can die and
 * come back without touching a running VPS. It runs the monitor, records
 * each exit in RUN/exit, restarts the monitor when its exit status asks
 * for it (a guest reboot), and exits when the monitor is done for good.
 *
 *   RUN/keeper.pid    the keeper's pid (gone when it exits)
 *   RUN/monitor.pid   the monitor's pid
 *   RUN/exit          "STATUS\n" of the last monitor exit
 *   RUN/restarted     "COUNT STATUS\n": the monitor was started again COUNT
 *                     times, the last after exit STATUS (vpsd watches for it
 *                     and records a `rebooted` event; vps-ctm, which reboots
 *                     a container in place, writes it the same way)
 *   RUN/monitor.log   the monitor's stdout and stderr
 *   RUN/cgroup        "PATH\n": the monitor's cgroup, with --cgroup
 *
 * The keeper is also the VM monitor's jailer for what the monitor cannot do
 * to itself (docs/security.md "The monitor's jail"), after Firecracker's
 * jailer and its --cgroup and --new-pid-ns: with --cgroup PATH the monitor
 * runs in a cgroup of its own (made at the keeper's start with a pids and a
 * memory limit, entered before the monitor's exec, removed when the keeper
 * is done), and with --new-pid-ns it is pid 1 of a PID namespace of its own
 * (a new one at each start: a namespace dies with its pid 1). With --once N
 * the monitor argv's last N words are for its first start only: a VM run
 * on from a memory snapshot (`--restore DIR`) boots afresh at a reboot.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "ct/cgroup.h"
#include "host/keeper.h"

static int write_small(const char *dir, const char *leaf, const char *text)
{
	char path[4096], tmp[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, leaf);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write_all(fd, text, strlen(text)) < 0) {
		close(fd);
		return -errno;
	}
	close(fd);
	return rename(tmp, path) < 0 ? -errno : 0;
}

static bool in_list(const char *list, int status)
{
	char tok[16];

	snprintf(tok, sizeof(tok), ",%d,", status);
	return strstr(list, tok) != NULL;
}

/*
 * The files a monitor gets as descriptors, named in its argv the way QEMU
 * takes them: `-add-fd fd=N,set=S,opaque=rw:PATH` (or ro:). The keeper
 * opens PATH without following a link, checks it is a regular file and
 * puts it at N, so the monitor (which drops root) never opens a path it was
 * handed. Each start opens them again: a guest reboot that restarts the
 * monitor needs them too. 0, or -errno with the path in `bad`.
 */
static int pass_fds(char *const *argv, const char **bad)
{
	for (size_t i = 0; argv[i] && argv[i + 1]; i++) {
		const char *spec = argv[i + 1], *op;
		struct stat st;
		int fd, want, flags;

		if (strcmp(argv[i], "-add-fd") || !(op = strstr(spec, ",opaque=")))
			continue;
		op += strlen(",opaque=");
		if (sscanf(spec, "fd=%d,", &want) != 1 || want < 3 || want > 1000 ||
		    (strncmp(op, "rw:", 3) && strncmp(op, "ro:", 3)))
			return *bad = spec, -EINVAL;
		flags = (op[1] == 'w' ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
		*bad = op + 3;
		fd = open(op + 3, flags);
		if (fd < 0)
			return -errno;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			return -EINVAL;
		}
		if (fd != want && (dup2(fd, want) < 0 || close(fd) < 0))
			return -errno;
		/* the monitor reads and writes it as it likes: back to blocking */
		fcntl(want, F_SETFL, fcntl(want, F_GETFL) & ~O_NONBLOCK);
	}
	return 0;
}

/* The options between the restart codes and `--` (keeper_spawn writes them). */
struct keeper_opts {
	const char *cgroup; /* NULL: none of its own */
	int64_t pids_max, memory_max; /* CG_UNSET: the kernel's */
	bool new_pid_ns;
	long once; /* the monitor argv's last words given to its first start only */
};

static int parse_opts(char **argv, struct keeper_opts *o)
{
	int i = 0;

	*o = (struct keeper_opts){ .pids_max = CG_UNSET, .memory_max = CG_UNSET };
	for (; argv[i] && strcmp(argv[i], "--"); i++) {
		char *end = NULL;

		if (!strcmp(argv[i], "--new-pid-ns")) {
			o->new_pid_ns = true;
			continue;
		}
		if (!argv[i + 1])
			return -1;
		if (!strcmp(argv[i], "--cgroup"))
			o->cgroup = argv[++i];
		else if (!strcmp(argv[i], "--pids-max"))
			o->pids_max = strtoll(argv[++i], &end, 10);
		else if (!strcmp(argv[i], "--memory-max"))
			o->memory_max = strtoll(argv[++i], &end, 10);
		else if (!strcmp(argv[i], "--once"))
			o->once = strtol(argv[++i], &end, 10);
		else
			return -1;
		if (end && (*end || o->pids_max == 0 || o->memory_max == 0 || o->once < 0))
			return -1;
	}
	return argv[i] && argv[i + 1] ? i : -1;
}

/* The monitor's own cgroup, made anew; a line in the log when it cannot be. */
static struct ct_cgroup *make_cgroup(const struct keeper_opts *o, int log)
{
	struct ct_cgroup *cg = NULL;
	struct cg_resources res;
	struct err *e = NULL;

	cg_resources_init(&res);
	res.pids_limit = o->pids_max;
	res.memory_limit = o->memory_max;
	if (cg_create(o->cgroup, &res, &cg, &e) < 0) {
		dprintf(log, "vps-keeper: %s\n", err_msg(e));
		err_free(&e);
		return NULL;
	}
	/*
	 * Only the leaf is the VM's: the parent ("vps-vm") stays, so one VM's
	 * stop never removes it under another's start.
	 */
	cg_set_created_depth(cg, 1);
	return cg;
}

static void remove_cgroup(struct ct_cgroup *cg, int log)
{
	struct err *e = NULL;

	/* the monitor is reaped: nothing of it is left unless it escaped its namespace */
	if (cg_kill_all(cg, SIGKILL, &e) < 0 || cg_destroy(cg, &e) < 0)
		dprintf(log, "vps-keeper: %s\n", err_msg(e));
	err_free(&e);
}

/*
 * The monitor's process: fork(2), or with new_pid_ns the first process of
 * a new PID namespace (clone(2) with no new stack is fork with flags; the
 * keeper has one thread).
 */
static pid_t new_process(bool new_pid_ns)
{
	if (!new_pid_ns)
		return fork();
	return (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);
}

/* The words of `vpsd keep` before the monitor's argv, every option given. */
#define KEEPER_OWN_ARGS 15

/* vpsd keep NAME RUN_DIR ,RESTART,CODES, [OPTIONS] -- MONITOR ARGV... */
int keeper_main(int argc, char **argv)
{
	const char *run, *codes;
	char num[32], logp[4200];
	int st, status, restarts = 0, dash, klog;
	long mon_n;
	struct keeper_opts opts;
	struct ct_cgroup *cg = NULL;
	char **mon; /* the monitor's argv */
	pid_t pid;

	if (argc < 7 || (dash = parse_opts(argv + 5, &opts)) < 0)
		return 2;
	mon = argv + 5 + dash + 1;
	for (mon_n = 0; mon[mon_n]; mon_n++)
		;
	if (opts.once > mon_n - 1)
		return 2;
	run = argv[3];
	codes = argv[4];
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	snprintf(num, sizeof(num), "%d\n", (int)getpid());
	if (write_small(run, "keeper.pid", num) < 0)
		return 1;
	snprintf(logp, sizeof(logp), "%s/monitor.log", run);
	/* the keeper's own lines (a cgroup it could not make) go to the log too */
	klog = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (opts.cgroup && !(cg = make_cgroup(&opts, klog))) {
		status = 1;
		snprintf(num, sizeof(num), "%d\n", status);
		write_small(run, "exit", num);
		goto out;
	}
	if (cg) {
		char line[4200];

		snprintf(line, sizeof(line), "%s\n", opts.cgroup);
		write_small(run, "cgroup", line);
	}
	/*
	 * Not sys_spawn(): the monitor's stdout and stderr are the log, its
	 * files are passed by number (pass_fds), its pid is written while it
	 * runs, and it is waited for without end.
	 */
	for (;;) {
		int go[2];
		char c = 0;

		if (pipe2(go, O_CLOEXEC) < 0) {
			status = 1;
			break;
		}
		pid = new_process(opts.new_pid_ns);
		if (pid < 0) {
			dprintf(klog, "vps-keeper: start the monitor: %s\n", strerror(errno));
			close(go[0]);
			close(go[1]);
			status = 1;
			break;
		}
		if (pid == 0) {
			int log = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
			int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

			signal(SIGHUP, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			signal(SIGPIPE, SIG_DFL);
			/* not a step further before the keeper put it in its cgroup */
			close(go[1]);
			if (read(go[0], &c, 1) != 1)
				_exit(127);
			close(go[0]);
			if (log >= 0) {
				dup2(log, 1);
				dup2(log, 2);
			}
			if (nul >= 0)
				dup2(nul, 0);
			{
				const char *bad = "";
				int r = pass_fds(mon, &bad);

				if (r < 0) {
					dprintf(2, "vps-keeper: the monitor's file `%s`: %s\n", bad,
						r == -EINVAL ? "not a regular file" : strerror(-r));
					_exit(127);
				}
			}
			execv(mon[0], mon);
			/* the last line of the log is what `start` reports */
			dprintf(2, "vps-keeper: exec `%s`: %s\n", mon[0], strerror(errno));
			_exit(127);
		}
		close(go[0]);
		if (cg) {
			struct err *e = NULL;

			/* not in its cgroup: the child reads nothing and exits */
			if (cg_enter(cg, pid, &e) < 0) {
				dprintf(klog, "vps-keeper: %s\n", err_msg(e));
				c = 'x';
			}
			err_free(&e);
		}
		if (c != 'x')
			(void)!write(go[1], "g", 1);
		close(go[1]);
		snprintf(num, sizeof(num), "%d\n", (int)pid);
		write_small(run, "monitor.pid", num);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		snprintf(num, sizeof(num), "%d\n", status);
		write_small(run, "exit", num);
		if (!in_list(codes, status))
			break;
		snprintf(num, sizeof(num), "%d %d\n", ++restarts, status);
		write_small(run, "restarted", num);
		/* a guest's reboot starts it afresh, not from the snapshot again */
		mon[mon_n - opts.once] = NULL;
	}
	if (cg)
		remove_cgroup(cg, klog);
out:
	if (klog >= 0)
		close(klog);
	snprintf(logp, sizeof(logp), "%s/keeper.pid", run);
	unlink(logp);
	snprintf(logp, sizeof(logp), "%s/monitor.pid", run);
	unlink(logp);
	return 0;
}

int keeper_spawn(const char *self, const char *name, const char *run_dir, bool (*restart_on)(int),
		 const struct keeper_jail *jail, char *const *monitor_argv, struct err **err)
{
	char codes[1100] = ",", pids[24], mem[24], once[24];
	_cleanup_free_ const char **argv = NULL;
	size_t n = 0, len = 1, mon_n = 0;
	int st, pfd[2];
	pid_t pid;
	char c;

	/*
	 * As long as the monitor's argv is: a QEMU VM on a network with a seed
	 * has some 50 words, and a cut one starts a QEMU that lacks its last
	 * options (its QMP socket: never `up`).
	 */
	while (monitor_argv[mon_n])
		mon_n++;
	argv = calloc(KEEPER_OWN_ARGS + mon_n + 1, sizeof(*argv));
	if (!argv)
		return err_make(err, ENOMEM, "the keeper's argv");
	for (int s = 0; s < 256; s++)
		if (restart_on && restart_on(s))
			len += snprintf(codes + len, sizeof(codes) - len, "%d,", s);
	argv[n++] = self;
	argv[n++] = "keep";
	argv[n++] = name;
	argv[n++] = run_dir;
	argv[n++] = codes;
	if (jail && jail->cgroup) {
		argv[n++] = "--cgroup";
		argv[n++] = jail->cgroup;
	}
	if (jail && jail->pids_max > 0) {
		snprintf(pids, sizeof(pids), "%lld", (long long)jail->pids_max);
		argv[n++] = "--pids-max";
		argv[n++] = pids;
	}
	if (jail && jail->memory_max > 0) {
		snprintf(mem, sizeof(mem), "%lld", (long long)jail->memory_max);
		argv[n++] = "--memory-max";
		argv[n++] = mem;
	}
	if (jail && jail->new_pid_ns)
		argv[n++] = "--new-pid-ns";
	if (jail && jail->once > 0) {
		snprintf(once, sizeof(once), "%d", jail->once);
		argv[n++] = "--once";
		argv[n++] = once;
	}
	argv[n++] = "--";
	for (; *monitor_argv; monitor_argv++)
		argv[n++] = *monitor_argv;
	argv[n] = NULL;
	/*
	 * Not sys_spawn(): the keeper must outlive vpsd, so it is double-forked
	 * into its own session and not waited for; only its exec is checked.
	 */
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return err_make(err, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return err_make(err, errno, "fork");
	}
	if (pid == 0) {
		/* the keeper's parent exits at once: init adopts it */
		setsid();
		if (fork() != 0)
			_exit(0);
		close(pfd[0]);
		execv(self, (char *const *)argv);
		(void)!write(pfd[1], "x", 1);
		_exit(127);
	}
	close(pfd[1]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	/* EOF on the pipe: exec worked (close-on-exec); a byte: it did not */
	if (read(pfd[0], &c, 1) == 1) {
		close(pfd[0]);
		return err_make(err, ENOEXEC, "start the keeper `%s`", self);
	}
	close(pfd[0]);
	return 0;
}

pid_t keeper_pid(const char *run_dir, const char *name)
{
	_cleanup_free_ char *s = NULL, *cmd = NULL;
	char path[4200];
	size_t len = 0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/keeper.pid", run_dir);
	if (read_file(path, &s, NULL) < 0 || (pid = atoi(s)) <= 0)
		return -1;
	/* the pid may have been reused since: it must be our keeper of this VPS */
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (read_file(path, &cmd, &len) < 0 || len < 2)
		return -1;
	for (size_t i = 0; i + 1 < len; i++)
		if (!cmd[i])
			cmd[i] = ' ';
	if (!strstr(cmd, " keep ") || !strstr(cmd, name) || !strstr(cmd, run_dir))
		return -1;
	return pid;
}

pid_t keeper_find(const char *run_dir, const char *name)
{
	pid_t pid = keeper_pid(run_dir, name);
	DIR *d;
	struct dirent *e;

	if (pid > 0)
		return pid;
	/* started just before a crash of vpsd, before it wrote its pid file */
	d = opendir("/proc");
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		_cleanup_free_ char *cmd = NULL;
		char path[300];
		size_t len = 0;
		int p = atoi(e->d_name);

		if (p <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", p);
		if (read_file(path, &cmd, &len) < 0 || len < 2)
			continue;
		/* argv: vpsd keep NAME RUN_DIR ... */
		{
			char *a1 = memchr(cmd, 0, len), *a2, *a3;

			if (!a1 || (size_t)(++a1 - cmd) >= len || strcmp(a1, "keep"))
				continue;
			a2 = a1 + strlen(a1) + 1;
			if ((size_t)(a2 - cmd) >= len || strcmp(a2, name))
				continue;
			a3 = a2 + strlen(a2) + 1;
			if ((size_t)(a3 - cmd) >= len || strcmp(a3, run_dir))
				continue;
		}
		pid = p;
		break;
	}
	closedir(d);
	return pid;
}

int keeper_last_exit(const char *run_dir)
{
	_cleanup_free_ char *s = NULL;
	char path[4200];

	snprintf(path, sizeof(path), "%s/exit", run_dir);
	if (read_file(path, &s, NULL) < 0)
		return -1;
	return atoi(s);
}

int keeper_restarts(const char *run_dir)
{
	_cleanup_free_ char *s = NULL;
	char path[4200];

	snprintf(path, sizeof(path), "%s/restarted", run_dir);
	if (read_file(path, &s, NULL) < 0)
		return 0;
	return atoi(s);
}
