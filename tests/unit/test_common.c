// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for src/common: error chains, size parsing, whole-file reads,
 * test pause points.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
		cmocka_unit_test(ratelimit_budget),
		cmocka_unit_test(testpoint_pauses_only_listed),
	};

	log_init("test_common", LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
