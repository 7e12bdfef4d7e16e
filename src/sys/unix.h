/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unix stream sockets, for every program of the tree: the monitors' control
 * and console sockets, vpsd's API socket, the runtime's console socket.
 */
#ifndef VPS_SYS_UNIX_H
#define VPS_SYS_UNIX_H

/* A connected unix stream socket (close-on-exec) to path, or -errno. */
int unix_connect(const char *path);
/*
 * Before a bind at path: remove a socket nobody listens on (left by a
 * monitor that could not remove it, a jailed one), 0; -EADDRINUSE when
 * someone listens there or path is not a socket (left as it is).
 */
int unix_clear_stale(const char *path);

#endif
