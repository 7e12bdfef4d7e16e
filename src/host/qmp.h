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

#endif
