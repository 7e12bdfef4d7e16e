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

/*
 * A new VPS `name` from the disks a snapshot's copy put in `dir` (a
 * clone's, a restored backup's), made as a create from `settings` (the
 * source's as GET showed them) with an identity of its own: src's owner,
 * kind and network (new MAC and addresses), on `pool` and `plan` (NULL:
 * none named), a container's files shifted from src->uid_base to its own
 * range. Left stopped; on any failure nothing of it is left (a crash
 * meanwhile: it is `creating`, which vpsd's next start undoes). *out (may
 * be NULL) is it as GET shows it.
 */
int clone_make(struct host *h, const struct vps *src, json_t *settings, const char *name,
	       const char *dir, const char *pool, const char *plan, json_t **out, struct err **err);

#endif
