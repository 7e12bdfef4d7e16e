// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Console backends: see console.h. One input thread per VM polls the input
 * side (and, for the socket kind, the listening socket) and feeds the UART
 * no faster than its FIFO drains; output is written on the vCPU thread that
 * wrote THR, under the console lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "monitor/console.h"
#include "vmm/backends/console.h"
#include "vmm/jail.h"

/*
 * Up to MONITOR_MAX_CLIENTS clients at once, as vps-ctm's console: each sees
 * the output and types into the line, and a client past that replaces the
 * first slot's, so stale clients never lock the owner out (monitor/console.c
 * keeps the ring).
 */
static int open_listen(struct console *c, const char *path, struct err **err)
{
	/* a jailed monitor before us (a guest reboot) could not remove its socket: replaced */
	if (monitor_console_listen(&c->srv, path, MONITOR_MAX_CLIENTS, true, err) < 0)
		return err_wrap(err, "`serial`");
	c->path = strdup(path);
	if (!c->path)
		return err_make(err, ENOMEM, "`serial`");
	return 0;
}

static int open_pty(struct console *c, struct err **err)
{
	struct termios t;
	int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0 || grantpt(fd) < 0 || unlockpt(fd) < 0) {
		int ret = err_make(err, errno, "`serial`: open a pty");

		if (fd >= 0)
			close(fd);
		return ret;
	}
	/* The guest does its own echo and line editing. */
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	c->out_fd = fd;
	c->in_fd = fd;
	c->path = strdup(ptsname(fd));
	if (!c->path)
		return err_make(err, ENOMEM, "`serial`");
	pr_info("serial console on %s", c->path);
	return 0;
}

int console_open(struct console *c, const struct vmm_config *cfg, struct err **err)
{
	struct termios t;

	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->kind = cfg->serial;
	c->out_fd = c->in_fd = c->srv.listen_fd = -1;
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0)
		return err_make(err, errno, "eventfd");
	switch (cfg->serial) {
	case SERIAL_STDIO:
		c->out_fd = dup(STDOUT_FILENO);
		if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &c->saved) == 0) {
			t = c->saved;
			cfmakeraw(&t);
			t.c_oflag |= OPOST | ONLCR; /* keep our own log lines readable */
			tcsetattr(STDIN_FILENO, TCSANOW, &t);
			c->raw_tty = true;
			c->in_fd = STDIN_FILENO;
		}
		return 0;
	case SERIAL_FILE:
		c->out_fd = open(cfg->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (c->out_fd < 0)
			return err_make(err, errno, "`serial`: open `%s`", cfg->serial_path);
		return 0;
	case SERIAL_PTY:
		return open_pty(c, err);
	case SERIAL_SOCKET:
		return open_listen(c, cfg->serial_path, err);
	case SERIAL_NONE:
		return 0;
	}
	return err_make(err, EINVAL, "`serial`");
}

void console_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct console *c = opaque;

	pthread_mutex_lock(&c->lock);
	if (c->kind == SERIAL_SOCKET)
		/* a client that went away is dropped; the input thread notices the hangup too */
		monitor_console_output(&c->srv, buf, len);
	else if (c->out_fd >= 0)
		write_all(c->out_fd, buf, len);
	pthread_mutex_unlock(&c->lock);
}

/* Socket kind: take a new client, replaying recent output (when all slots are taken, the oldest goes). */
static void accept_client(struct console *c)
{
	pthread_mutex_lock(&c->lock);
	monitor_console_accept(&c->srv);
	pthread_mutex_unlock(&c->lock);
}

/* Input from fd ended: a socket client is dropped, other input is no longer read. */
static void end_input(struct console *c, int fd)
{
	pthread_mutex_lock(&c->lock);
	if (c->kind == SERIAL_SOCKET) {
		for (unsigned int i = 0; i < MONITOR_MAX_CLIENTS; i++)
			if (c->srv.client[i] == fd)
				monitor_console_drop(&c->srv, i);
	} else {
		c->in_fd = -1; /* end of input: stop reading, keep output */
	}
	pthread_mutex_unlock(&c->lock);
}

/*
 * Every socket client types into the one UART (as on a shared serial line),
 * or the input fd of the other kinds does; read more only when the guest
 * has taken what we hold, so nothing typed is lost.
 */
static void *input_thread(void *arg)
{
	struct console *c = arg;
	uint8_t buf[SERIAL_RX_FIFO];
	size_t have = 0, off = 0;

	if (jail_thread(JAIL_IO) < 0)
		return NULL;
	for (;;) {
		struct pollfd pfd[2 + MONITOR_MAX_CLIENTS];
		int n = 0;

		pfd[n++] = (struct pollfd){ .fd = c->wake_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = c->srv.listen_fd, .events = POLLIN };
		pthread_mutex_lock(&c->lock);
		if (c->kind == SERIAL_SOCKET)
			for (unsigned int i = 0; i < MONITOR_MAX_CLIENTS; i++)
				pfd[n++] = (struct pollfd){ .fd = have ? -1 : c->srv.client[i],
							    .events = POLLIN };
		else
			pfd[n++] = (struct pollfd){ .fd = have ? -1 : c->in_fd, .events = POLLIN };
		pthread_mutex_unlock(&c->lock);
		if (poll(pfd, n, have ? 10 : -1) < 0 && errno != EINTR)
			return NULL;
		if (pfd[0].revents)
			return NULL;
		if (have) {
			off += serial_rx(c->uart, buf + off, have - off);
			if (off == have)
				have = off = 0;
		}
		/* before any accept, so a descriptor number here is still the client polled */
		for (int k = 2; k < n && !have; k++) {
			if (!pfd[k].revents)
				continue;
			ssize_t r = read(pfd[k].fd, buf, sizeof(buf));

			if (r > 0) {
				have = r;
				off = serial_rx(c->uart, buf, have);
				if (off == have)
					have = off = 0;
			} else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
				end_input(c, pfd[k].fd);
			}
		}
		if (pfd[1].revents & POLLIN)
			accept_client(c);
	}
}

int console_start(struct console *c, struct serial *uart)
{
	int ret;

	c->uart = uart;
	if (c->in_fd < 0 && c->srv.listen_fd < 0)
		return 0;
	ret = pthread_create(&c->thread, NULL, input_thread, c);
	if (ret)
		return -ret;
	c->thread_started = true;
	return 0;
}

void console_close(struct console *c)
{
	uint64_t one = 1;

	if (c->thread_started) {
		if (write(c->wake_fd, &one, sizeof(one)) < 0)
			pr_warn("stop console thread: %s", strerror(errno));
		pthread_join(c->thread, NULL);
	}
	if (c->raw_tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
	if (c->out_fd >= 0 && c->out_fd != STDIN_FILENO)
		close(c->out_fd);
	/* jailed, the path is out of reach: the keeper removes it */
	if (c->kind == SERIAL_SOCKET && c->path)
		monitor_console_close(&c->srv, jail_active() ? NULL : c->path);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	free(c->path);
	memset(c, 0, sizeof(*c));
	c->out_fd = c->in_fd = c->srv.listen_fd = c->wake_fd = -1;
}
