// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The console client's loop (tty.h): the terminal raw, poll on it and the
 * console's socket, the escape key, and the terminal, the signal
 * dispositions and the signal mask put back on every way out. The signals
 * that end a session are blocked but inside ppoll(2), so one that comes
 * between two polls is not lost (a plain poll after a handler could sleep
 * through it).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "sys/tty.h"

static const int stop_signals[] = { SIGTERM, SIGHUP, SIGINT };
#define NR_STOP (sizeof(stop_signals) / sizeof(stop_signals[0]))

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* The copy itself; `inside` is the signal mask inside ppoll. */
static enum tty_end pump(struct tty_session *s, const sigset_t *inside)
{
	const struct timespec idle = { TTY_IDLE_MS / 1000, (TTY_IDLE_MS % 1000) * 1000000L };
	bool in_open = true;
	char buf[4096];

	for (;;) {
		struct pollfd p[2] = { { in_open ? s->in : -1, POLLIN, 0 },
				       { s->peer, POLLIN, 0 } };
		int n = ppoll(p, 2, in_open ? NULL : &idle, inside);
		ssize_t len;

		if (got_signal) {
			s->sig = got_signal;
			return TTY_SIGNAL;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			s->err = errno;
			return TTY_FAILED;
		}
		if (n == 0)
			return TTY_INPUT_DONE; /* input ended and the console went quiet */
		if (p[1].revents) {
			len = read(s->peer, buf, sizeof(buf));
			if (len <= 0)
				return TTY_PEER_CLOSED;
			if (write_all(s->out, buf, len) < 0)
				return TTY_OUTPUT_CLOSED;
		}
		if (p[0].revents) {
			char *esc;

			len = read(s->in, buf, sizeof(buf));
			if (len <= 0) {
				if (s->raw)
					return TTY_INPUT_DONE;
				in_open =
					false; /* a pipe or file: what the console answers still comes */
				continue;
			}
			esc = s->raw ? memchr(buf, TTY_ESCAPE, len) : NULL;
			if (esc)
				len = esc - buf;
			if (len > 0 && write_all(s->peer, buf, len) < 0)
				return TTY_PEER_CLOSED;
			if (esc)
				return TTY_DETACHED;
		}
	}
}

enum tty_end tty_attach(struct tty_session *s)
{
	struct sigaction caught = { .sa_handler = on_signal }, ignore = { .sa_handler = SIG_IGN };
	struct sigaction old[NR_STOP], old_pipe;
	sigset_t stop, before, inside;
	struct termios saved, raw;
	enum tty_end end;

	s->raw = false;
	s->sig = s->err = 0;
	got_signal = 0;
	sigemptyset(&stop);
	for (size_t i = 0; i < NR_STOP; i++)
		sigaddset(&stop, stop_signals[i]);
	pthread_sigmask(SIG_BLOCK, &stop, &before);
	inside = before;
	for (size_t i = 0; i < NR_STOP; i++) {
		sigdelset(&inside, stop_signals[i]);
		sigaction(stop_signals[i], &caught, &old[i]);
	}
	sigaction(SIGPIPE, &ignore, &old_pipe); /* a closed console is a return, not a death */

	if (isatty(s->in) && tcgetattr(s->in, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		s->raw = tcsetattr(s->in, TCSANOW, &raw) == 0;
	}
	if (s->raw && s->hello)
		fprintf(stderr, "%s\r\n", s->hello);
	end = pump(s, &inside);
	if (s->raw)
		tcsetattr(s->in, TCSAFLUSH, &saved);

	sigaction(SIGPIPE, &old_pipe, NULL);
	for (size_t i = 0; i < NR_STOP; i++)
		sigaction(stop_signals[i], &old[i], NULL);
	pthread_sigmask(SIG_SETMASK, &before, NULL);
	return end;
}

const char *tty_end_str(enum tty_end end)
{
	switch (end) {
	case TTY_PEER_CLOSED:
		return "the console closed (the VPS stopped?)";
	case TTY_OUTPUT_CLOSED:
		return "stdout closed";
	case TTY_FAILED:
		return "poll failed";
	default:
		return NULL;
	}
}
