// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The JSON-lines control-socket client that the ct and vmm kinds share
 * (vps-ctm and vps-vmm speak the same protocol).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "host/kind.h"

json_t *kind_ctl(const char *path, json_t *request, int timeout_ms, struct err **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *line = json_dumps(request, JSON_COMPACT);
	char buf[65536];
	size_t len = 0;
	json_t *reply;

	if (!line || strlen(path) >= sizeof(sa.sun_path))
		return err_make(err, EINVAL, "control socket `%s`", path), NULL;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return err_make(err, errno, "connect `%s`", path), NULL;
	if (write_all(fd, line, strlen(line)) < 0 || write_all(fd, "\n", 1) < 0)
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
	if (!json_is_true(json_object_get(reply, "ok"))) {
		err_make(err, EIO, "%s",
			 json_string_value(json_object_get(reply, "error")) ?: "failed");
		json_decref(reply);
		return NULL;
	}
	return reply;
}
