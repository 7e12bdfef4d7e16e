/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Snapshots of a VPS (docs/storage.md): every disk of it at one moment,
 * with its settings then, kept in its pool beside the disks.
 */
#ifndef VPS_HOST_SNAPSHOT_H
#define VPS_HOST_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "host/host.h"

#define SNAPSHOT_MAX 32 /* snapshots a VPS may have at once */
/* A memory snapshot's files beside the disks (vps-vmm's names, docs/vmm.md "Snapshots") */
#define SNAPSHOT_MEMORY "memory"
#define SNAPSHOT_STATE "state"

/* A snapshot's name: [A-Za-z0-9][A-Za-z0-9._-]{0,63}. */
bool snapshot_name_ok(const char *name);
/* GET: the VPS's snapshots, oldest first (store.h's fields). */
int snapshot_list(struct host *h, const char *vps, json_t **out, struct err **err);
/*
 * POST {"name"[, "memory": true]}: take one; *out is the new snapshot.
 * memory: a running VPS's whole state too (kind_ops.snapshot_memory); a
 * revert to it runs the VPS on from there.
 */
int snapshot_create(struct host *h, const char *vps, json_t *body, json_t **out, struct err **err);
/* Revert: a running VPS is stopped, its disks made again from the snapshot, started. */
int snapshot_revert(struct host *h, const char *vps, const char *name, struct err **err);
/*
 * For backup.c, inside life_with (the VPS held): every disk of v copied
 * into dir (made 0700) as a snapshot copies them, a running VPS frozen or
 * paused for it; and a VPS's disks put back from such a dir as a revert
 * does (a running VPS stopped, put back, started; `disk` bytes: the
 * size to record, 0 to keep; `what` names it in the event).
 */
int snapshot_copy(struct host *h, struct vps *v, const char *dir, struct err **err);
int snapshot_put_back(struct host *h, struct vps *v, const char *dir, uint64_t disk,
		      const char *what, struct err **err);
/* The apparent size of the regular files in dir: the disks as the VPS saw them. */
long long snapshot_dir_size(const char *dir);
/* Remove one. */
int snapshot_rm(struct host *h, const char *vps, const char *name, struct err **err);

#endif
