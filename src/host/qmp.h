/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A one-shot QMP client (QEMU's control protocol), for the qemu engine. */
#ifndef VPS_HOST_QMP_H
#define VPS_HOST_QMP_H

#include <jansson.h>

#include "common/err.h"

/*
 * Connect to the QMP socket at `path`, negotiate capabilities, run `cmd`
 * with `args` (may be NULL; not consumed) and return its "return" value.
 */
json_t *qmp_run(const char *path, const char *cmd, json_t *args, struct err **err);

/*
 * A connection for several commands (greeting and capabilities done), for
 * what must share one: QEMU frees an fd set (`add-fd`) that nothing uses
 * once the connection that added it closes, so the command that opens
 * /dev/fdset/N must follow on it. qmp_close() ends it (NULL is fine).
 */
struct qmp;
struct qmp *qmp_open(const char *path, struct err **err);
/* Run `cmd` with `args` (may be NULL; not consumed) and fd (>= 0: passed beside it, SCM_RIGHTS). */
json_t *qmp_call(struct qmp *q, const char *cmd, json_t *args, int fd, struct err **err);
void qmp_close(struct qmp *q);

#endif
