/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket's client (protocol.h): one request on a fresh
 * connection, one reply. vpsd asks its monitors through it; `vps-ctm ctl`
 * hands it what the user typed.
 */
#ifndef VPS_MONITOR_CLIENT_H
#define VPS_MONITOR_CLIENT_H

#include <jansson.h>

#include "common/err.h"

/*
 * Send line (one request, no newline) to the socket at path and return the
 * reply object, ok or not; NULL with *err when there is none within
 * timeout_ms (-1: wait as long as it takes) or it is not a JSON object.
 */
json_t *monitor_send(const char *path, const char *line, int timeout_ms, struct err **err);
/* The request; the reply when it is ok, else NULL with the monitor's error in *err (EIO). */
json_t *monitor_call(const char *path, json_t *request, int timeout_ms, struct err **err);
/* The same with pass_fd (>= 0) passed beside the request (SCM_RIGHTS); the caller keeps it. */
json_t *monitor_call_fd(const char *path, json_t *request, int pass_fd, int timeout_ms,
			struct err **err);

#endif
