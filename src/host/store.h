/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's store: SQLite in WAL mode, foreign keys on, schema migrated
 * by PRAGMA user_version. One connection, guarded by a mutex, so the API's
 * threads see one writer. Errors: -ENOENT (no such row), -EEXIST (name
 * taken), -EIO (the database) with a message.
 */
#ifndef VPS_HOST_STORE_H
#define VPS_HOST_STORE_H

#include <stddef.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/err.h"
#include "host/vps.h"

struct store;

int store_open(const char *path, struct store **out, struct err **err);
void store_close(struct store *s);
int store_schema_version(struct store *s);
/*
 * For the modules with tables of their own (auth.c, usage.c, ops.c): the
 * connection, held under the store's lock until store_unlock().
 */
sqlite3 *store_lock(struct store *s);
void store_unlock(struct store *s);

/* Insert (v->id and, for ct, v->uid_base are filled in) with a `create` event. */
int store_vps_insert(struct store *s, struct vps *v, const char *plan, struct err **err);
int store_vps_get(struct store *s, const char *name, struct vps *out, struct err **err);
int store_vps_list(struct store *s, struct vps **out, size_t *n, struct err **err);
void store_vps_list_free(struct vps *v, size_t n);
/* Write every field back (by name). */
int store_vps_update(struct store *s, const struct vps *v, struct err **err);
/* Change the state and log the event in one transaction. */
int store_vps_state(struct store *s, const char *name, const char *state, const char *event,
		    struct err **err);
int store_vps_delete(struct store *s, const char *name, struct err **err);

/* The event log. */
int store_event(struct store *s, const char *vps, const char *kind, const char *msg);
/* owner: only the events of that user's VPSes (NULL: all). */
json_t *store_events(struct store *s, const char *vps, const char *owner, long long after,
		     int limit);

/* Plans: {name, ram, swap, cpus, disk, io_weight, bw, pids}; pids 0: the host's default. */
int store_plan_put(struct store *s, json_t *plan, struct err **err);
json_t *store_plan_get(struct store *s, const char *name);
json_t *store_plans(struct store *s);
int store_plan_delete(struct store *s, const char *name, struct err **err);
/* The plan a VPS is on (after a plan change; its figures are written by store_vps_update). */
int store_vps_plan(struct store *s, const char *name, const char *plan, struct err **err);

/* Resource policies (policy.h): {"memory": {"mode", "ratio"}, "disk": ..., "cpus": ...}. */
json_t *store_policies(struct store *s);
/* Write the resources present in p (same shape, already checked), with a `policy` event. */
int store_policies_put(struct store *s, json_t *p, struct err **err);

/*
 * Networks {name, bridge, ipv4, ipv6, nat} (net.h) and their addresses.
 * store_nets: all (name NULL) or one, each with used4, used6 and vps counts.
 * Delete: -EBUSY while a VPS or address refers to it. Addresses go with
 * their VPS's row (ON DELETE CASCADE); adding a taken one is -EEXIST.
 */
int store_net_insert(struct store *s, json_t *net, struct err **err);
json_t *store_nets(struct store *s, const char *name);
int store_net_delete(struct store *s, const char *name, struct err **err);
json_t *store_net_addresses(struct store *s, const char *network);
int store_address_add(struct store *s, const char *network, const char *address, const char *vps,
		      struct err **err);

#endif
