/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Storage pools (docs/storage.md): directories where VPS disks live. The
 * default pool is vpsd's DATA/vps; others are added by the host's
 * administrator. Each says whether its filesystem shares blocks between
 * files (reflink: XFS with reflink=1, btrfs), which makes a snapshot an
 * instant copy-on-write copy; elsewhere a snapshot is a full copy.
 */
#ifndef VPS_HOST_POOL_H
#define VPS_HOST_POOL_H

#include <stdbool.h>

#include <jansson.h>

#include "host/host.h"

/* GET /pools: [{"name", "path", "reflink", "default", "vps", "created"?}], the default first. */
json_t *pool_list(struct host *h);
/* Add a pool: a name, an absolute path to an existing directory no other pool has. */
int pool_add(struct host *h, json_t *body, json_t **out, struct err **err);
/* Remove a pool no VPS is in (-EBUSY otherwise); its directory is left as it is. */
int pool_rm(struct host *h, const char *name, struct err **err);
/*
 * Take `pool` out of a create's body: *pool is NULL (the default pool) or
 * the name of a pool that exists (the caller frees it).
 */
int pool_take(struct host *h, json_t *body, char **pool, struct err **err);
/* Whether a file in `dir` can be cloned (FICLONE) into another: 1 yes, 0 no, -errno. */
int pool_probe_reflink(const char *dir, struct err **err);

#endif
