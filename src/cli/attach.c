// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `vps console` and `vps exec`. The console is not proxied by vpsd: the API
 * says where the VPS's console socket is and the CLI, which runs as root on
 * the host, connects to it (raw bytes both ways, the last 64 KiB replayed
 * on connect: docs/ctm.md). Ctrl-] detaches, as in telnet and virsh: the
 * loop is vps-ctm console's too (src/sys/tty.c).
 * exec goes through the API and exits with the command's status, as
 * `incus exec` does.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/cleanup.h"
#include "common/util.h"
#include "sys/tty.h"
#include "sys/unix.h"

int cmd_console(struct args *a)
{
	struct tty_session s = { .in = 0, .out = 1 };
	_cleanup_close_ int fd = -1;
	struct err *err = NULL;
	const char *name = a->pos[0], *sock;
	char path[80], hello[128];
	enum tty_end end;
	json_t *reply;
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
	s.peer = fd;
	snprintf(hello, sizeof(hello), "vps: attached to the console of `%s`; Ctrl-] detaches",
		 name);
	s.hello = hello;
	end = tty_attach(&s);
	if (tty_end_str(end))
		return fail("\nconsole of `%s`: %s%s%s", name, tty_end_str(end), s.err ? ": " : "",
			    s.err ? strerror(s.err) : "");
	if (s.raw)
		fprintf(stderr, "\nvps: detached from `%s`\n", name);
	return s.sig ? 128 + s.sig : 0;
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
