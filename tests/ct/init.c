// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vps-ct-init: the multi-call test helper that runs inside test containers
 * (after crun's tests/init.c). Static, so it needs nothing from the rootfs;
 * `/init CMD ARGS` prints one fact about the container the test then checks:
 * its identity, capabilities, mounts, limits, namespaces, files. Integration
 * tests (tests/integration/test_ct_*.py) build bundles around it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <dirent.h>
#include <unistd.h>

extern char **environ;

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

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "true";
	const char *arg = argc > 2 ? argv[2] : NULL;
	char buf[PATH_MAX];
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "true"))
		return 0;
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
	fprintf(stderr, "init: unknown command `%s`\n", cmd);
	return 2;
}
