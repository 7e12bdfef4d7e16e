/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Console backends: where the guest's serial console goes and where its
 * input comes from. stdio (input only when stdin is a terminal, put in raw
 * mode and restored at exit), pty (a new pseudo-terminal; its path is in
 * the control socket's state reply), socket:PATH (a unix socket taking one
 * client at a time; the last 64 KiB of output are replayed to each new
 * client, so attaching late still shows the boot), file:PATH (output only),
 * none.
 */
#ifndef VPS_VMM_CONSOLE_H
#define VPS_VMM_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "common/err.h"
#include "monitor/console.h"
#include "vmm/config.h"
#include "vmm/devices/serial.h"

struct console {
	enum serial_kind kind;
	pthread_mutex_t lock; /* guards out_fd and the ring */
	int out_fd; /* -1: nowhere (yet); the socket kind writes to srv's client */
	int in_fd; /* -1: no input; the socket kind reads srv's clients instead */
	struct monitor_console srv; /* socket kind; listen_fd -1 otherwise */
	int wake_fd; /* eventfd to stop the input thread */
	char *path; /* socket path to unlink; pty path */
	struct serial *uart;
	pthread_t thread;
	bool thread_started;
	bool raw_tty; /* stdin was put in raw mode */
	struct termios saved;
};

/* Open the backend's files (before the vCPUs start). */
int console_open(struct console *c, const struct vmm_config *cfg, struct err **err);
/* The serial device's transmit hook. */
void console_tx(void *opaque, const uint8_t *buf, size_t len);
/* Start feeding input to the UART. */
int console_start(struct console *c, struct serial *uart);
void console_close(struct console *c);

#endif
