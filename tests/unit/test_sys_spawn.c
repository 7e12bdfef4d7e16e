// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the spawn helper (src/sys/spawn.c) with /bin/sh as the
 * child: what is captured (the head of stdout, the tail of stderr, the two
 * merged), input on stdin, the deadline, a failed exec, the descriptors a
 * child keeps, and the messages sys_run() makes of a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sys/spawn.h"

#define SH(script) ((char *const[]){ "/bin/sh", "-c", script, NULL })

static void expect_msg(struct err *err, const char *needle)
{
	assert_non_null(err);
	if (!strstr(err_msg(err), needle))
		fail_msg("`%s` does not contain `%s`", err_msg(err), needle);
}

static void test_capture(void **state)
{
	struct sys_spawn s = { .argv = SH("echo out; echo err >&2; exit 3"),
			       .out = SYS_SPAWN_CAPTURE,
			       .err = SYS_SPAWN_CAPTURE };
	struct sys_spawn_result r;

	(void)state;
	assert_int_equal(sys_spawn(&s, &r, NULL), 3);
	assert_string_equal(r.out, "out\n");
	assert_string_equal(r.err, "err\n");
	assert_int_equal(r.status, 3);
	assert_int_equal(r.signal, 0);
	assert_false(r.timed_out);
	sys_spawn_result_free(&r);

	s.err = SYS_SPAWN_TO_OUT;
	assert_int_equal(sys_spawn(&s, &r, NULL), 3);
	assert_string_equal(r.out, "out\nerr\n");
	assert_string_equal(r.err, "");
	sys_spawn_result_free(&r);
}

/* stdout as it comes: all of it, in order, past the capture's bound, and none in out */
struct streamed {
	size_t n, stop_after;
	char first[8];
};

static int on_out(const char *data, size_t n, void *arg)
{
	struct streamed *st = arg;

	if (st->n == 0)
		memcpy(st->first, data, n < 7 ? n : 7);
	st->n += n;
	return st->stop_after && st->n >= st->stop_after ? -1 : 0;
}

static void test_stream(void **state)
{
	struct streamed st = { 0 };
	struct sys_spawn s = { .argv = SH("printf 'start'; head -c 300000 /dev/zero; echo err >&2"),
			       .out = SYS_SPAWN_CAPTURE,
			       .err = SYS_SPAWN_CAPTURE,
			       .out_max = 16,
			       .on_out = on_out,
			       .on_out_arg = &st };
	struct sys_spawn_result r;

	(void)state;
	assert_int_equal(sys_spawn(&s, &r, NULL), 0);
	assert_int_equal(st.n, 5 + 300000);
	assert_memory_equal(st.first, "start", 5);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err, "err\n");
	sys_spawn_result_free(&r);

	/* a callback that says stop kills the child: no waiting for the rest */
	st = (struct streamed){ .stop_after = 1 };
	s.argv = SH("echo x; exec sleep 30");
	s.timeout_s = 60;
	assert_int_equal(sys_spawn(&s, &r, NULL), 128 + SIGKILL);
	assert_false(r.timed_out);
	sys_spawn_result_free(&r);
}

static void test_bounds(void **state)
{
	struct sys_spawn s = { .argv = SH("echo 0123456789; echo abcdefghij >&2"),
			       .out = SYS_SPAWN_CAPTURE,
			       .err = SYS_SPAWN_CAPTURE,
			       .out_max = 4,
			       .err_max = 4 };
	struct sys_spawn_result r;

	(void)state;
	assert_int_equal(sys_spawn(&s, &r, NULL), 0);
	assert_string_equal(r.out, "0123"); /* the head */
	assert_string_equal(r.err, "hij\n"); /* the tail */
	sys_spawn_result_free(&r);
}

static void test_input(void **state)
{
	static char big[300000]; /* more than a pipe holds: fed while output is read */
	struct sys_spawn s = { .argv = (char *const[]){ "/bin/cat", NULL },
			       .input = big,
			       .out = SYS_SPAWN_CAPTURE };
	struct sys_spawn_result r;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	assert_int_equal(sys_spawn(&s, &r, NULL), 0);
	assert_int_equal(strlen(r.out), sizeof(big) - 1);
	sys_spawn_result_free(&r);

	/* a child that reads none of it */
	s.argv = SH("exit 0");
	assert_int_equal(sys_spawn(&s, &r, NULL), 0);
	sys_spawn_result_free(&r);

	s.argv = SH("cat");
	s.input = NULL;
	s.in = SYS_SPAWN_NULL;
	assert_int_equal(sys_spawn(&s, &r, NULL), 0);
	assert_string_equal(r.out, "");
	sys_spawn_result_free(&r);
}

static void test_deadline(void **state)
{
	struct sys_spawn s = { .argv = SH("exec sleep 30"), .timeout_s = 1 };
	struct sys_spawn_result r;
	struct err *err = NULL;
	time_t t0 = time(NULL);

	(void)state;
	assert_int_equal(sys_spawn(&s, &r, NULL), 128 + 9);
	assert_true(r.timed_out);
	assert_int_equal(r.signal, 9);
	sys_spawn_result_free(&r);
	assert_int_equal(sys_run(&s, NULL, &err), -ETIMEDOUT);
	expect_msg(err, "`/bin/sh` timed out after 1 s");
	err_free(&err);
	assert_true(time(NULL) - t0 < 10);
}

static void test_exec_fails(void **state)
{
	struct sys_spawn s = { .argv = (char *const[]){ "vps-no-such-tool", NULL },
			       .err = SYS_SPAWN_CAPTURE,
			       .flags = SYS_SPAWN_PATH | SYS_SPAWN_SBIN };
	struct err *err = NULL;

	(void)state;
	assert_int_equal(sys_run(&s, NULL, &err), -ENOENT);
	expect_msg(err, "cannot run `vps-no-such-tool`: exec `vps-no-such-tool`: No such file");
	err_free(&err);

	/* without SYS_SPAWN_PATH a bare name is not looked up */
	s.argv = (char *const[]){ "sh", "-c", "exit 0", NULL };
	s.flags = 0;
	assert_int_equal(sys_spawn(&s, NULL, NULL), 127);
	s.flags = SYS_SPAWN_PATH;
	assert_int_equal(sys_spawn(&s, NULL, NULL), 0);
}

static void test_path(void **state)
{
	struct sys_spawn s = { .argv = (char *const[]){ "hook-name", "-c", "echo $0", NULL },
			       .path = "/bin/sh",
			       .out = SYS_SPAWN_CAPTURE };
	struct sys_spawn_result r;

	(void)state;
	assert_int_equal(sys_spawn(&s, &r, NULL), 0);
	assert_string_equal(r.out, "hook-name\n");
	sys_spawn_result_free(&r);
}

static void test_run_message(void **state)
{
	struct sys_spawn s = { .argv = SH("echo progress >&2; echo 'no space left' >&2; exit 1"),
			       .err = SYS_SPAWN_CAPTURE };
	struct err *err = NULL;

	(void)state;
	assert_int_equal(sys_run(&s, NULL, &err), -EIO);
	expect_msg(err, "`/bin/sh` exited with status 1: no space left");
	err_free(&err);
	s.argv = SH("exit 0");
	assert_int_equal(sys_run(&s, NULL, &err), 0);
	assert_null(err);
}

static void test_env_fds_umask(void **state)
{
	struct sys_spawn s = { .argv = SH(
				       "echo \"$X\"; umask; [ -e /proc/self/fd/$FD ] && echo open"),
			       .out = SYS_SPAWN_CAPTURE };
	struct sys_spawn_result r;
	char fdenv[32];
	int fd = open("/dev/null", O_RDONLY); /* inherited: no O_CLOEXEC */

	(void)state;
	assert_true(fd > 2);
	snprintf(fdenv, sizeof(fdenv), "FD=%d", fd);
	s.envp = (char *const[]){ "X=y", fdenv, NULL };
	assert_int_equal(sys_spawn(&s, &r, NULL), 0);
	assert_non_null(strstr(r.out, "y\n"));
	assert_non_null(strstr(r.out, "open"));
	sys_spawn_result_free(&r);

	s.flags = SYS_SPAWN_CLOSE_FDS | SYS_SPAWN_UMASK_077;
	assert_int_equal(sys_spawn(&s, &r, NULL), 1);
	assert_non_null(strstr(r.out, "0077"));
	assert_null(strstr(r.out, "open"));
	sys_spawn_result_free(&r);
	close(fd);
}

static void test_last_line(void **state)
{
	char buf[16];

	(void)state;
	assert_string_equal(sys_spawn_last_line("a\nb\n\n", buf, sizeof(buf)), "b");
	assert_string_equal(sys_spawn_last_line("", buf, sizeof(buf)), "");
	assert_string_equal(sys_spawn_last_line(NULL, buf, sizeof(buf)), "");
	assert_string_equal(sys_spawn_last_line("one line", buf, 4), "one");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capture),	      cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_input),	      cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_exec_fails),    cmocka_unit_test(test_run_message),
		cmocka_unit_test(test_env_fds_umask), cmocka_unit_test(test_last_line),
		cmocka_unit_test(test_path),	      cmocka_unit_test(test_stream),
	};

	signal(SIGPIPE, SIG_IGN); /* as spawn.h asks of a caller that gives input */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
