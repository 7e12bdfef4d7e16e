// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket's server: see server.h. vps-vmm and vps-ctm each had
 * their own copy of this; their replies are kept (sorted compact JSON, the
 * `unknown command` message listing the table, vps-vmm's `too many clients`
 * and `request longer than` errors).
 */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "monitor/server.h"
#include "sys/unix.h"

json_t *monitor_ok(void)
{
	return json_pack("{s:b}", "ok", 1);
}

json_t *monitor_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

void monitor_server_init(struct monitor_server *s, const struct monitor_cmd *cmds, size_t nr_cmds,
			 void *ctx)
{
	memset(s, 0, offsetof(struct monitor_server, bufs));
	s->listen_fd = -1;
	s->cmds = cmds;
	s->nr_cmds = nr_cmds;
	s->ctx = ctx;
	s->send = write_all;
	for (size_t i = 0; i < MONITOR_MAX_CLIENTS; i++)
		s->conn[i] = (struct monitor_conn){ .fd = -1, .passed_fd = -1, .buf = s->bufs[i] };
}

int monitor_server_listen(struct monitor_server *s, const char *path, struct err **err)
{
	int fd = unix_listen(path, 0600, SOCK_NONBLOCK, MONITOR_MAX_CLIENTS);

	if (fd < 0)
		return err_make(err, -fd, "control socket `%s`", path);
	s->listen_fd = fd;
	return 0;
}

static void drop_passed(struct monitor_conn *c)
{
	if (c->passed_fd >= 0)
		close(c->passed_fd);
	c->passed_fd = -1;
}

static void conn_drop(struct monitor_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
	drop_passed(c);
}

int monitor_take_fd(struct monitor_server *s)
{
	int fd = s->cur ? s->cur->passed_fd : -1;

	if (s->cur)
		s->cur->passed_fd = -1;
	return fd;
}

void monitor_server_close(struct monitor_server *s, const char *path)
{
	for (size_t i = 0; i < MONITOR_MAX_CLIENTS; i++)
		conn_drop(&s->conn[i]);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		if (path)
			unlink(path);
	}
	s->listen_fd = -1;
}

/* {"ok": false, "error": "unknown command `x` (known: a, b, c)"} */
static json_t *unknown(const struct monitor_server *s, const char *cmd)
{
	char known[256];
	size_t len = 0;

	known[0] = '\0';
	for (size_t i = 0; i < s->nr_cmds && len < sizeof(known); i++)
		len += snprintf(known + len, sizeof(known) - len, "%s%s", i ? ", " : "",
				s->cmds[i].name);
	return monitor_error("unknown command `%.40s` (known: %s)", cmd, known);
}

char *monitor_handle(struct monitor_server *s, const char *line)
{
	json_t *req = json_loads(line, 0, NULL), *r = NULL;
	const char *cmd = NULL;
	char *out;

	if (!json_is_object(req) || json_unpack(req, "{s:s}", "cmd", &cmd) < 0) {
		r = monitor_error("expected {\"cmd\": ...}");
	} else {
		for (size_t i = 0; i < s->nr_cmds && !r; i++)
			if (!strcmp(cmd, s->cmds[i].name))
				r = s->cmds[i].run(s->ctx, req);
		if (!r)
			r = unknown(s, cmd);
	}
	json_decref(req);
	out = r ? json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(r);
	return out;
}

static void conn_send(struct monitor_server *s, struct monitor_conn *c, const char *line)
{
	if (s->send(c->fd, line, strlen(line)) < 0 || s->send(c->fd, "\n", 1) < 0)
		conn_drop(c);
}

void monitor_conn_input(struct monitor_server *s, struct monitor_conn *c, size_t n)
{
	size_t off = 0;
	char *nl;

	c->len += n;
	while (c->fd >= 0 && (nl = memchr(c->buf + off, '\n', c->len - off))) {
		char *reply;

		*nl = '\0';
		s->cur = c;
		reply = monitor_handle(s, c->buf + off);
		s->cur = NULL;
		drop_passed(c); /* it came with this line: not the next one's */
		if (reply)
			conn_send(s, c, reply);
		free(reply);
		off = nl + 1 - c->buf;
	}
	if (c->fd < 0)
		return;
	c->len -= off;
	memmove(c->buf, c->buf + off, c->len);
	if (c->len == MONITOR_MAX_LINE) {
		conn_send(s, c, "{\"error\":\"request longer than 4096 bytes\",\"ok\":false}");
		conn_drop(c);
	}
}

/* Keep the first descriptor a message brought (if none is held yet); close the others. */
static void take_passed(struct monitor_conn *c, struct msghdr *msg)
{
	struct cmsghdr *cm;
	int fd;

	for (cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; CMSG_LEN((i + 1) * sizeof(int)) <= cm->cmsg_len; i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (c->passed_fd < 0)
				c->passed_fd = fd;
			else
				close(fd);
		}
	}
}

static void conn_read(struct monitor_server *s, struct monitor_conn *c)
{
	char cbuf[CMSG_SPACE(4 * sizeof(int))];
	struct iovec iov = { c->buf + c->len, MONITOR_MAX_LINE - c->len };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);

	if (n >= 0)
		take_passed(c, &msg);
	if (n > 0)
		monitor_conn_input(s, c, n);
	else if (n == 0 || (errno != EINTR && errno != EAGAIN))
		conn_drop(c);
}

static void conn_accept(struct monitor_server *s)
{
	static const char busy[] = "{\"error\":\"too many clients\",\"ok\":false}\n";
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	for (size_t i = 0; i < MONITOR_MAX_CLIENTS; i++) {
		if (s->conn[i].fd < 0) {
			s->conn[i].fd = fd;
			s->conn[i].len = 0;
			return;
		}
	}
	s->send(fd, busy, sizeof(busy) - 1);
	close(fd);
}

void monitor_server_fds(const struct monitor_server *s, struct pollfd *p)
{
	p[0] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
	for (size_t i = 0; i < MONITOR_MAX_CLIENTS; i++)
		p[1 + i] = (struct pollfd){ .fd = s->conn[i].fd, .events = POLLIN };
}

void monitor_server_events(struct monitor_server *s, const struct pollfd *p)
{
	if (p[0].revents & POLLIN)
		conn_accept(s);
	for (size_t i = 0; i < MONITOR_MAX_CLIENTS; i++)
		if (p[1 + i].revents && s->conn[i].fd >= 0 && s->conn[i].fd == p[1 + i].fd)
			conn_read(s, &s->conn[i]);
}

int monitor_server_run(struct monitor_server *s, int stop_fd)
{
	struct pollfd p[1 + MONITOR_SERVER_FDS];

	for (;;) {
		p[0] = (struct pollfd){ .fd = stop_fd, .events = POLLIN };
		monitor_server_fds(s, p + 1);
		if (poll(p, 1 + MONITOR_SERVER_FDS, -1) < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			pr_err("control: poll: %s", strerror(e));
			return -e;
		}
		if (p[0].revents)
			return 0;
		monitor_server_events(s, p + 1);
	}
}
