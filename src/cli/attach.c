// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `vps console` and `vps exec`. The console is not proxied by vpsd: the API
 * says where the VPS's console socket is and the CLI, which runs as root on
 * the host, connects to it (raw bytes both ways, the last 64 KiB replayed
 * on connect: docs/ctm.md). Ctrl-] detaches, as in telnet and virsh.
 * exec goes through the API and exits with the command's status, as
 * `incus exec` does.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/cleanup.h"
#include "common/util.h"
#include "sys/unix.h"

#define ESCAPE_KEY 0x1d /* Ctrl-] */
#define IDLE_MS 1000 /* stdin not a terminal and at its end: leave after this much quiet */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* Copy between the terminal and the console until Ctrl-], hang-up or a signal. */
static const char *pump(int fd, bool tty)
{
	bool in_open = true;
	char buf[4096];

	for (;;) {
		struct pollfd p[2] = { { in_open ? 0 : -1, POLLIN, 0 }, { fd, POLLIN, 0 } };
		int n = poll(p, 2, in_open ? -1 : IDLE_MS);
		ssize_t len;

		if (got_signal)
			return "a signal";
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return strerror(errno);
		if (n == 0)
			return NULL; /* stdin ended and the console went quiet */
		if (p[1].revents) {
			len = read(fd, buf, sizeof(buf));
			if (len <= 0)
				return "the console closed (the VPS stopped?)";
			if (write_all(1, buf, len) < 0)
				return "stdout closed";
		}
		if (p[0].revents) {
			char *esc;

			len = read(0, buf, sizeof(buf));
			if (len <= 0) {
				if (tty)
					return NULL;
				in_open = false;
				continue;
			}
			esc = memchr(buf, ESCAPE_KEY, len);
			if (esc && tty)
				len = esc - buf;
			if (len > 0 && write_all(fd, buf, len) < 0)
				return "the console closed (the VPS stopped?)";
			if (esc && tty)
				return NULL;
		}
	}
}

int cmd_console(struct args *a)
{
	struct sigaction sa = { .sa_handler = on_signal };
	_cleanup_close_ int fd = -1;
	struct termios saved, raw;
	struct err *err = NULL;
	const char *name = a->pos[0], *sock, *why;
	bool tty = isatty(0);
	json_t *reply;
	char path[80];
	int r;

	snprintf(path, sizeof(path), "/vps/%s/console", name);
	if (api("GET", path, NULL, &reply, &err) < 0)
		return fail_err(&err);
	sock = json_string_value(json_object_get(reply, "path"));
	if (!sock) {
		json_decref(reply);
		return fail("console of `%s`: vpsd gave no socket path", name);
	}
	fd = unix_connect(sock);
	if (fd < 0) {
		r = fail("console of `%s`: connect to `%s`: %s%s", name, sock, strerror(-fd),
			 cli_target.url ? " (the console socket is on vpsd's host)" : "");
		json_decref(reply);
		return r;
	}
	json_decref(reply);

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL); /* only when not raw: raw mode sends ^C to the VPS */
	signal(SIGPIPE, SIG_IGN);
	if (tty && tcgetattr(0, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
		fprintf(stderr, "vps: attached to the console of `%s`; Ctrl-] detaches\r\n", name);
	} else {
		tty = false;
	}
	why = pump(fd, tty);
	if (tty)
		tcsetattr(0, TCSAFLUSH, &saved);
	if (why && strcmp(why, "a signal"))
		return fail("\nconsole of `%s`: %s", name, why);
	if (tty)
		fprintf(stderr, "\nvps: detached from `%s`\n", name);
	return got_signal ? 128 + got_signal : 0;
}

static int print_stream(json_t *s, FILE *to)
{
	if (!s)
		return 0;
	if (!json_is_string(s))
		return -1;
	fwrite(json_string_value(s), 1, json_string_length(s), to);
	return 0;
}

int cmd_exec(struct args *a)
{
	json_t *args = json_array(), *body, *reply = NULL, *st;
	const char *name = a->pos[0];
	struct err *err = NULL;
	char path[80], **cmd = a->rest;
	int n = a->nrest, r;

	for (int i = 0; i < n; i++)
		if (json_array_append_new(args, json_string(cmd[i])) < 0) {
			json_decref(args);
			return usage_err("exec", "argument %d is not valid UTF-8", i + 1);
		}
	body = json_pack("{s:o}", "args", args);
	snprintf(path, sizeof(path), "/vps/%s/exec", name);
	r = api("POST", path, body, &reply, &err);
	json_decref(body);
	if (r < 0)
		return fail_err(&err);
	st = json_object_get(reply, "status");
	if (!json_is_integer(st) || print_stream(json_object_get(reply, "stdout"), stdout) < 0 ||
	    print_stream(json_object_get(reply, "stderr"), stderr) < 0) {
		json_decref(reply);
		return fail("exec in `%s`: vpsd's reply has no status or output", name);
	}
	r = json_integer_value(st) < 0 || json_integer_value(st) > 255 ?
		    255 :
		    (int)json_integer_value(st);
	json_decref(reply);
	return r;
}
