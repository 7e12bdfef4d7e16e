/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The lifecycle of a VPS, the same for every kind: create, start, stop,
 * restart, set, destroy, and what vpsd does at start (recover from a
 * crash, adopt running VPSes, start the onboot ones). Each returns -errno
 * with a message: -EINVAL bad input, -ENOENT no such VPS, -EEXIST,
 * -EBUSY (another operation on it is running, or wrong state).
 */
#ifndef VPS_HOST_LIFE_H
#define VPS_HOST_LIFE_H

#include <errno.h>
#include <stdbool.h>

#include <jansson.h>

#include "host/host.h"

int life_init(struct host *h, struct err **err); /* recover, adopt, onboot; starts the watcher */
void life_fini(struct host *h);

int life_create(struct host *h, json_t *body, json_t **out, struct err **err);
/*
 * A clone's create (clone.c): as life_create, its disks made by the kind's
 * create_from from the copy of `from`'s in `dir` in place of a template.
 */
int life_create_from(struct host *h, json_t *body, const char *dir, const struct vps *from,
		     json_t **out, struct err **err);
int life_start(struct host *h, const char *name, struct err **err);
int life_stop(struct host *h, const char *name, bool force, int timeout, struct err **err);
int life_restart(struct host *h, const char *name, struct err **err);
int life_destroy(struct host *h, const char *name, struct err **err);
int life_reinstall(struct host *h, const char *name, json_t *body, struct err **err);
int life_set(struct host *h, const char *name, json_t *body, json_t **out, struct err **err);
int life_show(struct host *h, const char *name, json_t **out, struct err **err);
/* A record as the show answers it, with what its kind adds while it runs (its state, rescue). */
json_t *life_show_vps(struct host *h, struct vps *v);
int life_exec(struct host *h, const char *name, json_t *body, json_t **out, struct err **err);
/* Whether a VPS boots from the ISO at path. */
bool life_iso_in_use(struct host *h, const char *path);
/* Whether NAME can name an uploaded ISO (1-64 of A-Z a-z 0-9 . _ -, not starting with a dot). */
bool life_iso_name_ok(const char *name);
int life_console(struct host *h, const char *name, json_t **out, struct err **err);
/* The running VPS's screen socket (caller frees *path; docs/screen.md); -EBUSY when none. */
int life_screen(struct host *h, const char *name, char **path, struct err **err);

/* A start refused because the provider suspended the VPS (409 `suspended`). */
#define LIFE_ESUSPENDED ESHUTDOWN
/* Suspend (stops it; no start until unsuspended) or unsuspend. */
int life_suspend(struct host *h, const char *name, bool on, struct err **err);
/* Move to a plan: its figures through life_set (admission, live apply). */
int life_plan(struct host *h, const char *name, json_t *body, json_t **out, struct err **err);
/* Reset root's password ({"password"}) through the kind. */
int life_password(struct host *h, const char *name, json_t *body, struct err **err);
/* Rescue mode ({"on": bool}): a running VPS restarts into it or out of it. */
int life_rescue(struct host *h, const char *name, json_t *body, struct err **err);

/*
 * Run fn on the VPS `name` held as every operation holds it (no other
 * operation on it meanwhile; -EBUSY if one runs): snapshot.c's work.
 * Inside fn, life_stop_held and life_start_held stop and start it.
 */
typedef int life_with_fn(struct host *h, struct vps *v, void *arg, struct err **err);
int life_with(struct host *h, const char *name, life_with_fn *fn, void *arg, struct err **err);
/* Asked to shut down, killed after timeout seconds (and 5 more for the shutdown to end). */
int life_stop_held(struct host *h, struct vps *v, int timeout, struct err **err);
/* Stopped at once (stop --force): what it holds now is about to be replaced. */
int life_kill_held(struct host *h, struct vps *v, struct err **err);
int life_start_held(struct host *h, struct vps *v, struct err **err);
/* Remove a directory tree on its own filesystem; -EBUSY where a mount is left. */
int life_rm_rf(const char *path);

/*
 * In a VPS's directory: it is a live move's arrival (migrate.c), not yet
 * confirmed to its source; a monitor of it that ends takes it all away.
 */
#define LIFE_ARRIVING ".arriving"

#endif
