/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The console socket's server, shared by vps-vmm (socket:PATH serial) and
 * vps-ctm (console.sock): a unix stream socket (0600) whose clients read
 * what the guest's console says and type into it. The last
 * MONITOR_CONSOLE_RING bytes of output are kept and replayed to each new
 * client, so attaching late still shows the boot.
 *
 * It only keeps the clients and the ring; the monitor reads the clients'
 * input itself (vps-vmm paces it to the UART) and does its own locking
 * (vps-vmm writes output on vCPU threads). Calls: accept4, write, close.
 */
#ifndef VPS_MONITOR_CONSOLE_H
#define VPS_MONITOR_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "monitor/protocol.h"

#define MONITOR_CONSOLE_RING 65536

struct monitor_console {
	int listen_fd; /* -1: none */
	unsigned int max_clients; /* at most MONITOR_MAX_CLIENTS */
	bool take_over; /* when full, a new client replaces the first instead of being refused */
	int client[MONITOR_MAX_CLIENTS]; /* -1: a free slot */
	uint8_t *ring; /* recent output */
	size_t ring_pos, ring_len;
};

/*
 * Listen at path (0600, blocking clients: output waits for a slow reader);
 * take_over as above. Nothing to close after a failure.
 */
int monitor_console_listen(struct monitor_console *c, const char *path, unsigned int max_clients,
			   bool take_over, struct err **err);
/* Take a waiting client and replay the ring to it; its slot, or -1. */
int monitor_console_accept(struct monitor_console *c);
/* Output: into the ring and to every client; one whose write fails is dropped. */
void monitor_console_output(struct monitor_console *c, const uint8_t *buf, size_t len);
void monitor_console_drop(struct monitor_console *c, unsigned int i);
/* Close the clients and the socket; unlink path unless NULL. */
void monitor_console_close(struct monitor_console *c, const char *path);

#endif
