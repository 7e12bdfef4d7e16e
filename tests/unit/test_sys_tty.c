// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the console client's loop (src/sys/tty.c), which `vps
 * console` and `vps-ctm console` share: a pseudo-terminal stands for the
 * user's terminal, a socket pair for the console. It runs in a thread of
 * its own while the test types on the terminal's master side and answers
 * from the console's; every way out (the escape key, the console closing,
 * a signal) must leave the terminal as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "sys/tty.h"

struct fix {
	int master, slave; /* the user's terminal */
	int con[2]; /* [0] the loop's peer, [1] the console's end */
	int out[2]; /* what the loop writes for the user */
	int pipe_in[2]; /* input that is not a terminal (-1: the terminal) */
	struct termios before;
	struct tty_session s;
	enum tty_end end;
	bool term_blocked_after; /* SIGTERM in the loop thread's mask once it returned */
	pthread_t th;
};

static void *run(void *arg)
{
	struct fix *f = arg;
	sigset_t m;

	f->end = tty_attach(&f->s);
	pthread_sigmask(SIG_BLOCK, NULL, &m);
	f->term_blocked_after = sigismember(&m, SIGTERM);
	return NULL;
}

/* Read exactly n bytes of fd within 10 s (a hang fails, not blocks, the test). */
static void read_n(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		assert_int_equal(poll(&p, 1, 10000), 1);
		r = read(fd, buf + got, n - got);
		assert_true(r > 0);
		got += r;
	}
}

static void expect(int fd, const char *want)
{
	char buf[64] = "";

	read_n(fd, buf, strlen(want));
	assert_memory_equal(buf, want, strlen(want));
}

static void start(struct fix *f, bool terminal)
{
	memset(f, 0, sizeof(*f));
	f->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(f->master >= 0);
	assert_int_equal(grantpt(f->master), 0);
	assert_int_equal(unlockpt(f->master), 0);
	f->slave = open(ptsname(f->master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(f->slave >= 0);
	assert_int_equal(tcgetattr(f->slave, &f->before), 0);
	assert_true(f->before.c_lflag & ICANON); /* a cooked terminal to start from */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->con), 0);
	assert_int_equal(pipe2(f->out, O_CLOEXEC), 0);
	f->pipe_in[0] = f->pipe_in[1] = -1;
	if (!terminal)
		assert_int_equal(pipe2(f->pipe_in, O_CLOEXEC), 0);
	f->s = (struct tty_session){ .in = terminal ? f->slave : f->pipe_in[0],
				     .out = f->out[1],
				     .peer = f->con[0] };
	assert_int_equal(pthread_create(&f->th, NULL, run, f), 0);
	/* the console's first bytes reaching the user: the loop runs (raw already) */
	assert_int_equal(write(f->con[1], "ready", 5), 5);
	expect(f->out[0], "ready");
}

/* Join the loop; the terminal must be as it was before. */
static void finish(struct fix *f)
{
	struct termios now;

	assert_int_equal(pthread_join(f->th, NULL), 0);
	assert_int_equal(tcgetattr(f->slave, &now), 0);
	assert_int_equal(now.c_iflag, f->before.c_iflag);
	assert_int_equal(now.c_oflag, f->before.c_oflag);
	assert_int_equal(now.c_cflag, f->before.c_cflag);
	assert_int_equal(now.c_lflag, f->before.c_lflag);
	assert_memory_equal(now.c_cc, f->before.c_cc, sizeof(now.c_cc));
	assert_false(f->term_blocked_after);
}

static void cleanup(struct fix *f)
{
	int fds[] = { f->master, f->slave,  f->con[0],	   f->con[1],
		      f->out[0], f->out[1], f->pipe_in[0], f->pipe_in[1] };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Raw while attached (^C is a byte for the console); the escape key detaches, and what follows it stays. */
static void test_raw_copy_and_escape(void **state)
{
	struct termios during;
	struct fix f;
	char c;

	(void)state;
	start(&f, true);
	assert_int_equal(tcgetattr(f.slave, &during), 0);
	assert_false(during.c_lflag & (ICANON | ECHO | ISIG));

	assert_int_equal(write(f.master, "ls\x03", 3), 3);
	expect(f.con[1], "ls\x03");
	assert_int_equal(write(f.con[1], "out\r\n", 5), 5);
	expect(f.out[0], "out\r\n");

	assert_int_equal(write(f.master,
			       "ab\x1d"
			       "cd",
			       5),
			 5);
	expect(f.con[1], "ab");
	finish(&f);
	assert_int_equal(f.end, TTY_DETACHED);
	assert_true(f.s.raw);
	assert_null(tty_end_str(f.end));
	assert_int_equal(recv(f.con[1], &c, 1, MSG_DONTWAIT), -1); /* "cd" was not sent */
	assert_int_equal(errno, EAGAIN);
	cleanup(&f);
}

/* The VPS stops: the console's socket closes. */
static void test_console_closes(void **state)
{
	struct fix f;

	(void)state;
	start(&f, true);
	close(f.con[1]);
	f.con[1] = -1;
	finish(&f);
	assert_int_equal(f.end, TTY_PEER_CLOSED);
	assert_non_null(tty_end_str(f.end));
	cleanup(&f);
}

/*
 * A kill ends the session, not the program: the terminal is restored, the
 * signal reported, and SIGTERM's disposition put back.
 */
static void test_signal(void **state)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL }, now;
	struct fix f;

	(void)state;
	sigaction(SIGTERM, &dfl, NULL);
	start(&f, true);
	assert_int_equal(pthread_kill(f.th, SIGTERM), 0);
	finish(&f);
	assert_int_equal(f.end, TTY_SIGNAL);
	assert_int_equal(f.s.sig, SIGTERM);
	assert_int_equal(sigaction(SIGTERM, NULL, &now), 0);
	assert_ptr_equal(now.sa_handler, SIG_DFL);
	cleanup(&f);
}

/*
 * Input from a pipe: not raw, every byte passes (the escape key's too), and
 * at its end the loop still copies what the console answers, then leaves
 * once the console is quiet.
 */
static void test_pipe_input(void **state)
{
	struct fix f;

	(void)state;
	start(&f, false);
	assert_int_equal(write(f.pipe_in[1],
			       "a\x1d"
			       "b\n",
			       4),
			 4);
	close(f.pipe_in[1]);
	f.pipe_in[1] = -1;
	expect(f.con[1], "a\x1d"
			 "b\n");
	assert_int_equal(write(f.con[1], "login: ", 7), 7);
	expect(f.out[0], "login: ");
	finish(&f);
	assert_int_equal(f.end, TTY_INPUT_DONE);
	assert_false(f.s.raw);
	cleanup(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raw_copy_and_escape),
		cmocka_unit_test(test_console_closes),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_pipe_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
