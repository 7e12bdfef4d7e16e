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

#include <stdbool.h>

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
/* 0, or POLICY_EQUOTA when one more backup of VPS would pass its owner's quota.backups. */
int backup_quota(struct host *h, const char *vps, struct err **err);
/* POST /vps/NAME/backups {"repo"?}: take one (the VPS held, running on). */
int backup_create(struct host *h, const char *vps, json_t *body, json_t **out, struct err **err);
/* POST /vps/NAME/backups/ID/restore {"as"?}: put it back, or into a new VPS. */
int backup_restore(struct host *h, const char *vps, const char *id, json_t *body, json_t **out,
		   struct err **err);
/*
 * POST /backups/ID/restore {"vps", "as"}: backup ID of VPS `vps` into a new
 * VPS `as`, whether `vps` is still there or destroyed. owner: the caller, a
 * customer, who sees only backups of theirs (NULL: an administrator).
 */
int backup_restore_as(struct host *h, const char *id, json_t *body, const char *owner, json_t **out,
		      struct err **err);
/*
 * At vpsd's start, before any request: what restores --as of destroyed
 * VPSes staged in DATA/restore and a crash left (the new VPS itself, still
 * `creating`, life_init undoes).
 */
void backup_sweep(struct host *h);
/* DELETE /vps/NAME/backups/ID: forget it in its repository (restic forget --prune). */
int backup_rm(struct host *h, const char *vps, const char *id, struct err **err);

/*
 * Retention: forget the VPS's backups in repository `repo` that the
 * keep-* rules (restic forget --keep-last, -daily, -weekly, -monthly; 0:
 * that rule unused) do not keep, and prune. Nothing when every rule is 0.
 */
int backup_prune(struct host *h, const char *vps, const char *repo, const int keep[4],
		 struct err **err);

/*
 * Schedules (backup_sched.c): one per VPS, in its own directory, run by
 * vpsd's timer thread one backup at a time. PUT {"repo", "daily":
 * "HH:MM" (UTC, spread by up to 15 minutes per VPS) or "every": seconds
 * (an administrator's: 5 s and up; a customer's: an hour and up),
 * "keep_last", "keep_daily", "keep_weekly", "keep_monthly"}. A VPS with
 * none of its own follows its plan's (GET shows it with "from": "plan").
 */
#define BACKUP_JITTER_S 900
/*
 * A schedule's rule checked and completed (the repository named, every
 * keep_* present), as a VPS's PUT and a plan's "backup" take it; what: the
 * prefix of the field names in a refusal ("" or "backup.").
 */
int backup_rule_parse(struct host *h, json_t *body, bool admin, const char *what, json_t **out,
		      struct err **err);
int backup_schedule_get(struct host *h, const char *vps, json_t **out, struct err **err);
int backup_schedule_put(struct host *h, const char *vps, json_t *body, bool admin, json_t **out,
			struct err **err);
int backup_schedule_rm(struct host *h, const char *vps, struct err **err);
int backup_timer_start(struct host *h, struct err **err);
void backup_timer_stop(void);

#endif
