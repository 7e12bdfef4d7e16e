// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The console socket's server: see console.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "monitor/console.h"
#include "sys/unix.h"

int monitor_console_listen(struct monitor_console *c, const char *path, unsigned int max_clients,
			   bool take_over, struct err **err)
{
	int fd;

	memset(c, 0, sizeof(*c));
	c->listen_fd = -1;
	c->max_clients = max_clients < MONITOR_MAX_CLIENTS ? max_clients : MONITOR_MAX_CLIENTS;
	c->take_over = take_over;
	for (size_t i = 0; i < MONITOR_MAX_CLIENTS; i++)
		c->client[i] = -1;
	c->ring = malloc(MONITOR_CONSOLE_RING);
	if (!c->ring)
		return err_make(err, ENOMEM, "console socket `%s`", path);
	/* non-blocking: a client gone between poll and accept must not hang the caller */
	fd = unix_listen(path, 0600, SOCK_NONBLOCK, c->max_clients);
	if (fd < 0) {
		free(c->ring);
		c->ring = NULL;
		return err_make(err, -fd, "console socket `%s`", path);
	}
	c->listen_fd = fd;
	return 0;
}

void monitor_console_drop(struct monitor_console *c, unsigned int i)
{
	if (c->client[i] >= 0)
		close(c->client[i]);
	c->client[i] = -1;
}

static void replay(struct monitor_console *c, int fd)
{
	size_t start = (c->ring_pos + MONITOR_CONSOLE_RING - c->ring_len) % MONITOR_CONSOLE_RING;

	if (start + c->ring_len <= MONITOR_CONSOLE_RING) {
		write_all(fd, c->ring + start, c->ring_len);
	} else {
		write_all(fd, c->ring + start, MONITOR_CONSOLE_RING - start);
		write_all(fd, c->ring, c->ring_len - (MONITOR_CONSOLE_RING - start));
	}
}

int monitor_console_accept(struct monitor_console *c)
{
	static const char busy[] = "console: too many clients\r\n";
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	unsigned int i;

	if (fd < 0)
		return -1;
	for (i = 0; i < c->max_clients && c->client[i] >= 0; i++)
		;
	if (i == c->max_clients && c->take_over) {
		i = 0;
		monitor_console_drop(c, i);
	}
	if (i == c->max_clients) {
		write_all(fd, busy, sizeof(busy) - 1);
		close(fd);
		return -1;
	}
	replay(c, fd);
	c->client[i] = fd;
	return i;
}

void monitor_console_output(struct monitor_console *c, const uint8_t *buf, size_t len)
{
	size_t n = len < MONITOR_CONSOLE_RING ? len : MONITOR_CONSOLE_RING;
	const uint8_t *p = buf + len - n;

	/* the ring keeps the last MONITOR_CONSOLE_RING bytes: copy at most that, in two runs */
	while (n) {
		size_t k = MONITOR_CONSOLE_RING - c->ring_pos < n ?
				   MONITOR_CONSOLE_RING - c->ring_pos :
				   n;

		memcpy(c->ring + c->ring_pos, p, k);
		c->ring_pos = (c->ring_pos + k) % MONITOR_CONSOLE_RING;
		c->ring_len = c->ring_len + k > MONITOR_CONSOLE_RING ? MONITOR_CONSOLE_RING :
								       c->ring_len + k;
		p += k;
		n -= k;
	}
	for (unsigned int i = 0; i < c->max_clients; i++)
		if (c->client[i] >= 0 && write_all(c->client[i], buf, len) < 0)
			monitor_console_drop(c, i);
}

void monitor_console_close(struct monitor_console *c, const char *path)
{
	for (unsigned int i = 0; i < MONITOR_MAX_CLIENTS; i++)
		monitor_console_drop(c, i);
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		if (path)
			unlink(path);
	}
	c->listen_fd = -1;
	free(c->ring);
	c->ring = NULL;
	c->ring_len = c->ring_pos = 0;
}
