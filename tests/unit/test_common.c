// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for src/common: error chains, size parsing, whole-file reads,
 * test pause points, opening files in a tree someone else controls, mkdir_p's
 * modes.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/log.h"
#include "common/testpoint.h"
#include "common/util.h"

static void err_chain_reads_outermost_first(void **state)
{
	struct err *e = NULL;

	assert_int_equal(err_make(&e, ENOENT, "open `%s`", "/x"), -ENOENT);
	assert_int_equal(err_wrap(&e, "start vps `%s`", "web1"), -ENOENT);
	assert_string_equal(err_msg(e), "start vps `web1`: open `/x`: No such file or directory");
	assert_int_equal(e->errnum, ENOENT);
	err_free(&e);
	assert_null(e);
}

static void err_without_errno_is_einval(void **state)
{
	struct err *e = NULL;

	assert_int_equal(err_make(&e, 0, "bad key `%s`", "cpus"), -EINVAL);
	assert_string_equal(err_msg(e), "bad key `cpus`");
	assert_int_equal(e->errnum, EINVAL);
	err_free(&e);
	/* A NULL error pointer is allowed: the caller only wants the code. */
	assert_int_equal(err_make(NULL, EIO, "x"), -EIO);
}

static void parse_size_units(void **state)
{
	uint64_t v;

	assert_int_equal(parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("512M", &v), 0);
	assert_int_equal(v, 512ULL << 20);
	assert_int_equal(parse_size("2G", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(parse_size("1KiB", &v), 0);
	assert_int_equal(v, 1024);
	assert_int_equal(parse_size("3kB", &v), 0);
	assert_int_equal(v, 3072);
}

static void parse_size_rejects(void **state)
{
	uint64_t v = 42;

	assert_int_equal(parse_size("", &v), -EINVAL);
	assert_int_equal(parse_size("M", &v), -EINVAL);
	assert_int_equal(parse_size("-1", &v), -EINVAL);
	assert_int_equal(parse_size(" 1", &v), -EINVAL);
	assert_int_equal(parse_size("12X", &v), -EINVAL);
	assert_int_equal(parse_size("12MM", &v), -EINVAL);
	assert_int_equal(parse_size("99999999999999999999", &v), -ERANGE);
	assert_int_equal(parse_size("17179869184G", &v), -ERANGE);
	assert_int_equal(v, 42); /* untouched on error */
}

/* The names networks and pools take: what the old per-caller checks took, no more. */
static void slug_ok_names(void **state)
{
	(void)state;
	assert_true(slug_ok("a", 11));
	assert_true(slug_ok("0-web-1", 11));
	assert_true(slug_ok("abcdefghijk", 11));
	assert_false(slug_ok("abcdefghijkl", 11));
	assert_false(slug_ok("", 11));
	assert_false(slug_ok(NULL, 11));
	assert_false(slug_ok("-a", 11));
	assert_false(slug_ok("Web", 11));
	assert_false(slug_ok("a_b", 11));
	assert_false(slug_ok("a/b", 11));
	assert_false(slug_ok("a.b", 11));
	assert_false(slug_ok("a b", 11));
}

static void read_file_whole(void **state)
{
	char path[] = "/tmp/vps-unit-XXXXXX";
	char *buf = NULL, big[10000];
	size_t len = 0;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	memset(big, 'a', sizeof(big));
	assert_int_equal(write_all(fd, big, sizeof(big)), sizeof(big));
	close(fd);
	assert_int_equal(read_file(path, &buf, &len), 0);
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(buf, big, sizeof(big));
	assert_int_equal(buf[len], '\0');
	free(buf);
	unlink(path);
	assert_int_equal(read_file(path, &buf, &len), -ENOENT);
}

/* A tree as a guest would plant it: every kind of file open_untrusted() refuses. */
static void open_untrusted_refuses_what_a_guest_plants(void **state)
{
	char dir[] = "/tmp/vps-unit-XXXXXX", path[256], big[4096];
	int dfd, fd;

	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(mkdirat(dfd, "etc", 0755), 0);
	fd = openat(dfd, "etc/shadow", O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write_all(fd, "root:x:\n", 8), 8);
	close(fd);
	assert_int_equal(mkfifoat(dfd, "etc/fifo", 0600), 0);
	assert_int_equal(symlinkat("/etc/hostname", dfd, "etc/abs"), 0);
	assert_int_equal(symlinkat("shadow", dfd, "etc/rel"), 0);
	assert_int_equal(symlinkat("etc", dfd, "etc2"), 0);
	memset(big, '#', sizeof(big));
	fd = openat(dfd, "etc/big", O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write_all(fd, big, sizeof(big)), sizeof(big));
	close(fd);

	/* a regular file, through an absolute path of the root: fine */
	fd = open_untrusted(dfd, "/etc/shadow", O_RDWR, 0, 1024);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
	/* a FIFO: refused at once, never opened for reading (no writer would come) */
	assert_int_equal(open_untrusted(dfd, "etc/fifo", O_RDWR, 0, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(open_untrusted(dfd, "etc/fifo", O_RDONLY, 0, 0), -1);
	/* a link: the last one is the link itself, not a regular file; one in the middle, ELOOP */
	assert_int_equal(open_untrusted(dfd, "etc/abs", O_RDONLY, 0, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(open_untrusted(dfd, "etc/rel", O_RDONLY, 0, 0), -1);
	assert_int_equal(open_untrusted(dfd, "etc2/shadow", O_RDONLY, 0, 0), -1);
	assert_int_equal(errno, ELOOP);
	/* out of the tree by `..` */
	assert_int_equal(open_untrusted(dfd, "etc/../../etc/hostname", O_RDONLY, 0, 0), -1);
	assert_int_equal(errno, EXDEV);
	/* too big */
	assert_int_equal(open_untrusted(dfd, "etc/big", O_RDONLY, 0, 1024), -1);
	assert_int_equal(errno, EFBIG);
	assert_true((fd = open_untrusted(dfd, "etc/big", O_RDONLY, 0, 0)) >= 0);
	close(fd);
	/* O_CREAT: a missing file is made, a link is not followed to make one */
	fd = open_untrusted(dfd, "etc/new", O_WRONLY | O_CREAT | O_TRUNC, 0600, 0);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(open_untrusted(dfd, "etc/abs", O_WRONLY | O_CREAT | O_TRUNC, 0600, 0), -1);
	assert_int_equal(open_untrusted(dfd, "etc/fifo", O_WRONLY | O_CREAT | O_TRUNC, 0600, 0),
			 -1);

	close(dfd);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

static void mkdir_p_modes_whatever_the_umask(void **state)
{
	char dir[] = "/tmp/vps-unit-XXXXXX", path[256];
	mode_t old = umask(077);
	struct stat st;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a/b", dir);
	assert_int_equal(mkdir_p(path, 0711, 0751), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0711);
	snprintf(path, sizeof(path), "%s/a", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0751);
	/* one that exists keeps its mode */
	assert_int_equal(mkdir_p(path, 0700, 0700), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0751);
	umask(old);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

static void ratelimit_budget(void **state)
{
	struct ratelimit rl = { 0 };
	int i, ok = 0;

	for (i = 0; i < 25; i++)
		ok += ratelimit_ok(&rl, 10, 1000, 5000);
	assert_int_equal(ok, 10);
	assert_int_equal(rl.missed, 15);
	/* A new interval opens a new budget. */
	assert_true(ratelimit_ok(&rl, 10, 1000, 6000));
	assert_int_equal(rl.missed, 0);
}

/* Only a point named whole in VPS_TEST_PAUSE stops, and it says so first. */
static void testpoint_pauses_only_listed(void **state)
{
	char log[] = "/tmp/test_common_pauseXXXXXX";
	int fd = mkstemp(log), st;
	_cleanup_free_ char *text = NULL;
	pid_t pid;

	assert_true(fd >= 0);
	close(fd);
	unsetenv("VPS_TEST_PAUSE");
	testpoint("stop", "v1"); /* no variable: returns */
	setenv("VPS_TEST_PAUSE", "create-row,stop", 1);
	setenv("VPS_TEST_PAUSE_LOG", log, 1);
	testpoint("create", "v1"); /* a prefix of a listed point */
	testpoint("row", "v1");
	testpoint("stop-asked", "v1"); /* a listed point is its prefix */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		testpoint("stop", "v1");
		_exit(0); /* never: it waits to be killed */
	}
	for (int i = 0; i < 500 && (!text || !*text); i++) {
		free(text);
		text = NULL;
		usleep(10000);
		assert_int_equal(read_file(log, &text, NULL), 0);
	}
	assert_string_equal(text, "test_common: test pause at `stop` of `v1`\n");
	usleep(50000);
	assert_int_equal(waitpid(pid, &st, WNOHANG), 0); /* still paused */
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	unsetenv("VPS_TEST_PAUSE");
	unsetenv("VPS_TEST_PAUSE_LOG");
	unlink(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(err_chain_reads_outermost_first),
		cmocka_unit_test(err_without_errno_is_einval),
		cmocka_unit_test(parse_size_units),
		cmocka_unit_test(parse_size_rejects),
		cmocka_unit_test(read_file_whole),
		cmocka_unit_test(slug_ok_names),
		cmocka_unit_test(ratelimit_budget),
		cmocka_unit_test(testpoint_pauses_only_listed),
		cmocka_unit_test(open_untrusted_refuses_what_a_guest_plants),
		cmocka_unit_test(mkdir_p_modes_whatever_the_umask),
	};

	log_init("test_common", LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
