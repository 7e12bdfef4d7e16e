// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A one-shot client of QMP, QEMU's JSON control protocol (docs/interop/qmp-spec
 * in QEMU): connect, read the greeting, leave capabilities negotiation with
 * qmp_capabilities, run one command and return its "return" value.
 * Asynchronous events that arrive meanwhile are skipped. The `vm` kind's
 * qemu engine stops, powers down and queries its VMs with it, and hands a
 * running VM a new ISO (a descriptor passed with `add-fd`, then used).
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "host/qmp.h"
#include "sys/unix.h"

#define QMP_TIMEOUT_MS 10000

struct qmp {
	int fd;
	char buf[65536];
	size_t len;
};

/* The next JSON object QEMU sends, events skipped; NULL on timeout/error. */
static json_t *qmp_read(struct qmp *q, int timeout_ms, struct err **err)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->len);
		struct timespec t1;
		int left;

		if (nl) {
			json_t *j;

			*nl = 0;
			j = json_loads(q->buf, 0, NULL);
			q->len -= nl + 1 - q->buf;
			memmove(q->buf, nl + 1, q->len);
			if (!json_is_object(j)) {
				json_decref(j);
				return err_make(err, EPROTO, "bad QMP message"), NULL;
			}
			if (json_object_get(j, "event")) {
				json_decref(j);
				continue;
			}
			return j;
		}
		if (q->len == sizeof(q->buf))
			return err_make(err, E2BIG, "QMP message too long"), NULL;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = timeout_ms -
		       (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd p = { q->fd, POLLIN, 0 };
		if (left <= 0 || poll(&p, 1, left) <= 0)
			return err_make(err, ETIMEDOUT, "no answer from QMP"), NULL;
		ssize_t n = read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len);
		if (n <= 0)
			return err_make(err, n < 0 ? errno : EPIPE, "read QMP"), NULL;
		q->len += n;
	}
}

/* The line, with fd (>= 0) beside its bytes: QEMU keeps it for the command (add-fd). */
static int qmp_send(int sock, const char *line, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)line, .iov_len = strlen(line) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	if (fd < 0)
		return write_all(sock, line, strlen(line));
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0)
		if (errno != EINTR)
			return -1;
	/* the descriptor went with the first bytes; the rest is plain */
	return (size_t)n == iov.iov_len ? 0 : write_all(sock, line + n, iov.iov_len - n);
}

/* Send {"execute": cmd[, "arguments": args]} (and fd) and return its "return" value. */
json_t *qmp_call(struct qmp *q, const char *cmd, json_t *args, int fd, struct err **err)
{
	json_t *req = json_pack("{s:s}", "execute", cmd), *r, *ret;
	_cleanup_free_ char *line = NULL;

	if (req && args)
		json_object_set(req, "arguments", args);
	line = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!line)
		return err_make(err, ENOMEM, "QMP `%s`", cmd), NULL;
	if (qmp_send(q->fd, line, fd) < 0 || write_all(q->fd, "\n", 1) < 0)
		return err_make(err, errno, "QMP `%s`", cmd), NULL;
	r = qmp_read(q, QMP_TIMEOUT_MS, err);
	if (!r)
		return NULL;
	ret = json_object_get(r, "return");
	if (!ret) {
		json_t *e = json_object_get(r, "error");

		err_make(err, EIO, "QMP `%s`: %s", cmd,
			 json_string_value(json_object_get(e, "desc")) ?: "failed");
		json_decref(r);
		return NULL;
	}
	json_incref(ret);
	json_decref(r);
	return ret;
}

struct qmp *qmp_open(const char *path, struct err **err)
{
	struct qmp *q = calloc(1, sizeof(*q));
	json_t *greet, *caps;

	if (!q)
		return err_make(err, ENOMEM, "QMP"), NULL;
	q->fd = unix_connect(path);
	if (q->fd < 0) {
		err_make(err, -q->fd, "connect `%s`", path);
		goto fail;
	}
	greet = qmp_read(q, QMP_TIMEOUT_MS, err);
	if (!greet)
		goto fail;
	if (!json_object_get(greet, "QMP")) {
		json_decref(greet);
		err_make(err, EPROTO, "`%s`: no QMP greeting", path);
		goto fail;
	}
	json_decref(greet);
	caps = qmp_call(q, "qmp_capabilities", NULL, -1, err);
	if (!caps)
		goto fail;
	json_decref(caps);
	return q;
fail:
	qmp_close(q);
	return NULL;
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	free(q);
}

/* One QMP command on a fresh connection (greeting, capabilities, command). */
json_t *qmp_run(const char *path, const char *cmd, json_t *args, struct err **err)
{
	struct qmp *q = qmp_open(path, err);
	json_t *ret = q ? qmp_call(q, cmd, args, -1, err) : NULL;

	qmp_close(q);
	return ret;
}
