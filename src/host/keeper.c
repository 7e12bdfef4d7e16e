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
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
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

/* vpsd keep NAME RUN_DIR ,RESTART,CODES, -- MONITOR ARGV... */
int keeper_main(int argc, char **argv)
{
	const char *run, *codes;
	char num[32], logp[4200];
	int st, status, restarts = 0;
	pid_t pid;

	if (argc < 7 || strcmp(argv[5], "--"))
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
	/*
	 * Not sys_spawn(): the monitor's stdout and stderr are the log, its
	 * files are passed by number (pass_fds), its pid is written while it
	 * runs, and it is waited for without end.
	 */
	for (;;) {
		pid = fork();
		if (pid < 0) {
			status = 1;
			break;
		}
		if (pid == 0) {
			int log = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
			int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

			signal(SIGHUP, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			signal(SIGPIPE, SIG_DFL);
			if (log >= 0) {
				dup2(log, 1);
				dup2(log, 2);
			}
			if (nul >= 0)
				dup2(nul, 0);
			{
				const char *bad = "";
				int r = pass_fds(argv + 6, &bad);

				if (r < 0) {
					dprintf(2, "vps-keeper: the monitor's file `%s`: %s\n", bad,
						r == -EINVAL ? "not a regular file" : strerror(-r));
					_exit(127);
				}
			}
			execv(argv[6], argv + 6);
			/* the last line of the log is what `start` reports */
			dprintf(2, "vps-keeper: exec `%s`: %s\n", argv[6], strerror(errno));
			_exit(127);
		}
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
	}
	snprintf(logp, sizeof(logp), "%s/keeper.pid", run);
	unlink(logp);
	snprintf(logp, sizeof(logp), "%s/monitor.pid", run);
	unlink(logp);
	return 0;
}

int keeper_spawn(const char *self, const char *name, const char *run_dir, bool (*restart_on)(int),
		 char *const *monitor_argv, struct err **err)
{
	char codes[1100] = ",";
	const char *argv[64];
	size_t n = 0, len = 1;
	int st, pfd[2];
	pid_t pid;
	char c;

	for (int s = 0; s < 256; s++)
		if (restart_on && restart_on(s))
			len += snprintf(codes + len, sizeof(codes) - len, "%d,", s);
	argv[n++] = self;
	argv[n++] = "keep";
	argv[n++] = name;
	argv[n++] = run_dir;
	argv[n++] = codes;
	argv[n++] = "--";
	for (; *monitor_argv && n < 63; monitor_argv++)
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
