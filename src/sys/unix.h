/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unix stream sockets, for every program of the tree: the monitors' control
 * and console sockets, vpsd's API socket, the runtime's console socket.
 */
#ifndef VPS_SYS_UNIX_H
#define VPS_SYS_UNIX_H

#include <sys/types.h>

/* A connected unix stream socket (close-on-exec) to path, or -errno. */
int unix_connect(const char *path);
/*
 * Before a bind at path: remove a socket nobody listens on (left by a
 * monitor that could not remove it, a jailed one), 0; -EADDRINUSE when
 * someone listens there or path is not a socket (left as it is).
 */
int unix_clear_stale(const char *path);
/*
 * A listening socket at path with exactly `mode` (0600: only the owner may
 * connect), close-on-exec, plus `flags` (SOCK_NONBLOCK): a stale socket
 * there is replaced, a live one refused (unix_clear_stale). The mode is set
 * with chmod(2) after bind(2), which leaves the umask alone (a daemon's other
 * threads share it): a program whose umask lets others write sets a stricter
 * one first, or a client may connect in between. fd or -errno.
 */
int unix_listen(const char *path, mode_t mode, int flags, int backlog);

/* Pass fd over a connected unix socket (SCM_RIGHTS, one byte of data); 0 or -errno. */
int unix_send_fd(int sock, int fd);
/*
 * The fd unix_send_fd() passed (close-on-exec); -EPIPE at end of file,
 * -EPROTO when the message carries no fd or more than one (those closed).
 */
int unix_recv_fd(int sock);

#endif
