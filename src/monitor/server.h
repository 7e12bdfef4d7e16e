/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket's server, shared by vps-vmm and vps-ctm: a unix stream
 * socket (0600) answering one JSON object per line (protocol.h). A monitor
 * hands it a table of commands; the server frames lines, parses each,
 * finds the command and sends back what it returns. Requests are small and
 * answered at once, so one poll loop serves every client; a line longer
 * than MONITOR_MAX_LINE gets an error and its client is dropped, never
 * buffered without bound.
 *
 * It uses poll, accept4, recvmsg, write and close only: vps-vmm's control
 * thread runs it under its seccomp filter (vmm/jail.c). A request may
 * carry one descriptor (SCM_RIGHTS), as vps-vmm's `media` needs: a command
 * takes it with monitor_take_fd(); more than one, or one nobody takes, is
 * closed.
 */
#ifndef VPS_MONITOR_SERVER_H
#define VPS_MONITOR_SERVER_H

#include <poll.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "common/err.h"
#include "monitor/protocol.h"

struct monitor_cmd {
	const char *name; /* protocol.h's MONITOR_CMD_* */
	/* The reply (monitor_ok() or monitor_error()); req is the whole request. */
	json_t *(*run)(void *ctx, json_t *req);
};

struct monitor_conn {
	int fd; /* -1: a free slot */
	int passed_fd; /* a descriptor that came with the bytes in buf (SCM_RIGHTS), or -1 */
	size_t len; /* bytes in buf not answered yet */
	char *buf; /* MONITOR_MAX_LINE bytes: its monitor_server's bufs[i] */
};

struct monitor_server {
	int listen_fd; /* -1: no socket (tests) */
	const struct monitor_cmd *cmds;
	size_t nr_cmds;
	void *ctx; /* passed to each command */
	struct monitor_conn *cur; /* whose line a command answers (monitor_take_fd) */
	/* Where replies go: write_all(2); tests and the fuzz target put their own. */
	ssize_t (*send)(int fd, const void *buf, size_t len);
	struct monitor_conn conn[MONITOR_MAX_CLIENTS];
	/*
	 * Last, apart from the connections' headers, and not written by
	 * monitor_server_init: in memory not yet touched (a fresh mapping) a
	 * buffer costs a page only once a client has used it
	 * (docs/ct-density.md, step 5). Not to be copied once initialized.
	 */
	char bufs[MONITOR_MAX_CLIENTS][MONITOR_MAX_LINE];
};

/* A server of cmds, without a socket yet. */
void monitor_server_init(struct monitor_server *s, const struct monitor_cmd *cmds, size_t nr_cmds,
			 void *ctx);
/* Listen at path (0600, non-blocking; a stale socket replaced, a live one refused). */
int monitor_server_listen(struct monitor_server *s, const char *path, struct err **err);
/* Close the clients and the socket; unlink path unless NULL. */
void monitor_server_close(struct monitor_server *s, const char *path);

/* For a monitor's own poll loop: the MONITOR_SERVER_FDS entries to poll... */
#define MONITOR_SERVER_FDS (1 + MONITOR_MAX_CLIENTS)
void monitor_server_fds(const struct monitor_server *s, struct pollfd *p);
/* ...and what to do once poll(2) filled in their revents. */
void monitor_server_events(struct monitor_server *s, const struct pollfd *p);
/* Or a loop of its own: serve until stop_fd is readable; 0, or -errno if poll fails. */
int monitor_server_run(struct monitor_server *s, int stop_fd);

/*
 * A client's slot got n more bytes after its len: answer each whole line,
 * drop it if the buffer is full without a newline. The framing, apart from
 * the reading, so the fuzz target drives it without a socket.
 */
void monitor_conn_input(struct monitor_server *s, struct monitor_conn *c, size_t n);
/*
 * For a command: the descriptor its client passed with the request (the
 * caller owns it now), or -1. One per request; one a command did not take
 * is closed once the line is answered.
 */
int monitor_take_fd(struct monitor_server *s);
/* One request line (no newline) to its reply line (caller frees); NULL when out of memory. */
char *monitor_handle(struct monitor_server *s, const char *line);

/* {"ok": true} to add fields to; {"ok": false, "error": MESSAGE}. */
json_t *monitor_ok(void);
json_t *monitor_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
