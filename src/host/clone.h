/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Clones of a VPS (clone.c, docs/storage.md "Clones"): a new VPS from its
 * disks, now or at one of its snapshots, with an identity of its own.
 */
#ifndef VPS_HOST_CLONE_H
#define VPS_HOST_CLONE_H

#include <jansson.h>

#include "host/host.h"

/*
 * POST /vps/SRC/clone {"name", "snapshot"?}: the new VPS made (its owner
 * SRC's, checked as a create), left stopped; *out is it as GET shows it.
 */
int clone_vps(struct host *h, const char *src, json_t *body, json_t **out, struct err **err);

#endif
