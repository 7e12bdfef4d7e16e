// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket's client: see client.h.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "monitor/client.h"
#include "sys/unix.h"

/* The line's first byte with pass_fd beside it (SCM_RIGHTS); 1 byte sent, or -1 with errno. */
static ssize_t send_with_fd(int sock, const char *line, int pass_fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)line, 1 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	ssize_t n;

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0)
		if (errno != EINTR)
			return -1;
	return n;
}

static json_t *send_line(const char *path, const char *line, int pass_fd, int timeout_ms,
			 struct err **err)
{
	_cleanup_close_ int fd = unix_connect(path);
	char buf[65536];
	size_t len = 0, off = 0;
	json_t *reply;

	if (fd < 0)
		return err_make(err, -fd, "connect `%s`", path), NULL;
	if (pass_fd >= 0 && *line && send_with_fd(fd, line, pass_fd) != 1)
		return err_make(err, errno, "write `%s`", path), NULL;
	off = pass_fd >= 0 && *line;
	if (write_all(fd, line + off, strlen(line + off)) < 0 || write_all(fd, "\n", 1) < 0)
		return err_make(err, errno, "write `%s`", path), NULL;
	while (!memchr(buf, '\n', len)) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0)
			return err_make(err, ETIMEDOUT, "no answer on `%s`", path), NULL;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return err_make(err, n < 0 ? errno : EPIPE, "read `%s`", path), NULL;
		len += n;
		if (len == sizeof(buf) - 1)
			return err_make(err, E2BIG, "answer on `%s` too long", path), NULL;
	}
	buf[len] = 0;
	reply = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
	if (!json_is_object(reply)) {
		json_decref(reply);
		return err_make(err, EPROTO, "bad answer on `%s`", path), NULL;
	}
	return reply;
}

json_t *monitor_send(const char *path, const char *line, int timeout_ms, struct err **err)
{
	return send_line(path, line, -1, timeout_ms, err);
}

json_t *monitor_call_fd(const char *path, json_t *request, int pass_fd, int timeout_ms,
			struct err **err)
{
	_cleanup_free_ char *line = json_dumps(request, JSON_COMPACT);
	json_t *reply;

	if (!line)
		return err_make(err, EINVAL, "control socket `%s`", path), NULL;
	reply = send_line(path, line, pass_fd, timeout_ms, err);
	if (reply && !json_is_true(json_object_get(reply, "ok"))) {
		err_make(err, EIO, "%s",
			 json_string_value(json_object_get(reply, "error")) ?: "failed");
		json_decref(reply);
		return NULL;
	}
	return reply;
}

json_t *monitor_call(const char *path, json_t *request, int timeout_ms, struct err **err)
{
	return monitor_call_fd(path, request, -1, timeout_ms, err);
}
