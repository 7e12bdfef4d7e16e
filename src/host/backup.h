/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Backups of VPSes into restic repositories (backup.c, docs/backups.md).
 * A repository is the administrator's: a local path, sftp:... or rest:...,
 * with a password vpsd makes and keeps. A backup is a VPS's disks and
 * settings at one moment (a snapshot's copy), sent by restic; the list is
 * restic's own, filtered to the VPS.
 */
#ifndef VPS_HOST_BACKUP_H
#define VPS_HOST_BACKUP_H

#include <jansson.h>

#include "host/host.h"

#define BACKUP_REPO_NAME_MAX 32 /* a-z, 0-9 and -, as a pool's (slug_ok) */

/* GET /repos: [{"name", "url", "created"}], by name. */
json_t *backup_repos(struct host *h);
/* POST /repos {"name", "url"}: checked, its password made, `restic init`. */
int backup_repo_add(struct host *h, json_t *body, json_t **out, struct err **err);
/* DELETE /repos/NAME: refused while it holds backups (its password would go). */
int backup_repo_rm(struct host *h, const char *name, struct err **err);

/* GET /vps/NAME/backups: the VPS's backups in every repository, oldest first. */
int backup_list(struct host *h, const char *vps, json_t **out, struct err **err);
/* POST /vps/NAME/backups {"repo"?}: take one (the VPS held, running on). */
int backup_create(struct host *h, const char *vps, json_t *body, json_t **out, struct err **err);
/* POST /vps/NAME/backups/ID/restore {"as"?}: put it back, or into a new VPS. */
int backup_restore(struct host *h, const char *vps, const char *id, json_t *body, json_t **out,
		   struct err **err);
/* DELETE /vps/NAME/backups/ID: forget it in its repository (restic forget --prune). */
int backup_rm(struct host *h, const char *vps, const char *id, struct err **err);

#endif
