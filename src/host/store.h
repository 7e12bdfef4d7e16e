/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's store: the one interface through which vpsd reads and
 * writes its records (VPS rows, events, plans, policies, networks and
 * addresses, users, sessions, tokens, the audit log, usage samples,
 * operations). No SQL and no database handle leave it: callers see rows
 * as `struct vps` or JSON objects, and every transaction a caller needs
 * (a state change with its event, a sample with its trimming, a user
 * change with the sessions it ends) is one call here.
 *
 * Why an ops table rather than one set of functions linked in: the
 * second implementation (PostgreSQL, issue 19) lives in the same vpsd
 * binary as SQLite, chosen at start (`--cluster` or not), so the choice
 * is made at run time. A backend is a `const struct store_ops` plus an
 * open function that returns a `struct store` whose first member points
 * at its ops (store_impl.h); the store_* functions below only dispatch.
 * The table is the checklist of what a new backend must answer.
 *
 * Conventions, for every backend: functions taking `struct err **`
 * return 0 or -errno with a message: -ENOENT (no such row), -EEXIST
 * (name taken), -EBUSY (still referred to), -EIO (the database). The
 * ones without report nothing (a read that fails is an empty answer, a
 * best-effort write is dropped with a warning). Each call is atomic and
 * safe from any thread. JSON results are new references the caller
 * drops; JSON arguments are borrowed. Times are Unix seconds, passed in
 * by the caller (a backend never asks the database for the time).
 *
 * The backends: store_sqlite*.c (SQLite in WAL mode, foreign keys on,
 * schema migrated by PRAGMA user_version), one host's own file; and
 * store_pg*.c (PostgreSQL, vpsd --cluster; docs/cluster.md), one database
 * that several vpsds (nodes) share.
 */
#ifndef VPS_HOST_STORE_H
#define VPS_HOST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "host/vps.h"

struct store;

/* The store at path (SQLite), created and migrated as needed. */
int store_open(const char *path, struct store **out, struct err **err);
/*
 * The cluster's store: PostgreSQL at conninfo (libpq's `host=... dbname=...`
 * or a postgresql:// URI), migrated as needed; node names the rows this vpsd
 * makes (its VPSes, its operations).
 */
int store_open_cluster(const char *conninfo, const char *node, struct store **out,
		       struct err **err);
/* "sqlite" or "postgresql". */
const char *store_backend(struct store *s);
void store_close(struct store *s);
/* The schema's version (the number of migrations applied), -1 on error. */
int store_schema_version(struct store *s);

/* --- VPS rows and their events ------------------------------------------------------- */

/* Insert (v->id and v->uid_base are filled in) with a `create` event. */
int store_vps_insert(struct store *s, struct vps *v, const char *plan, struct err **err);
int store_vps_get(struct store *s, const char *name, struct vps *out, struct err **err);
int store_vps_list(struct store *s, struct vps **out, size_t *n, struct err **err);
/*
 * The VPSes this vpsd runs: every one on SQLite, this node's in a cluster.
 * What acts on the host (the start's reconciling, sampling, reclaim) reads
 * this list; what answers the API reads store_vps_list.
 */
int store_vps_list_local(struct store *s, struct vps **out, size_t *n, struct err **err);
void store_vps_list_free(struct vps *v, size_t n);
/*
 * What the VPS rows allocate, summed per node by the store (no row read
 * into vpsd): an object node name -> {"vps": rows, "ram": bytes, "disk":
 * bytes, "cpus": n}, nodes without a row absent. On one host (SQLite) its
 * one entry is "", every row. NULL when the store does not answer.
 */
json_t *store_vps_sums(struct store *s);
/*
 * One page of the VPS list in name order (GET /vps?limit=&after=): the rows whose name
 * sorts after `after` ("" for the first page), at most `limit`, only those of `owner`,
 * on `node` (SQLite: the one host's name) and in `state` where these are not NULL. The
 * store's lock is held for this one page's statement, never for the whole list.
 */
struct store_vps_filter {
	const char *after;
	int limit;
	const char *owner;
	const char *node;
	const char *state;
};
int store_vps_page(struct store *s, const struct store_vps_filter *f, struct vps **out, size_t *n,
		   struct err **err);
/*
 * Admission (policy.h): write v (create: insert it, as store_vps_insert;
 * else update it, as store_vps_update) only when admit(arg, ...) returns
 * 0 on the VPS rows that bear on it (on one host every row; in a cluster
 * those of this node, of v's node and of v's owner: what the node's
 * policies and the owner's quota count) and the policies as they stand inside the write's
 * transaction. Two admissions never see the same room: a backend runs
 * the read, the check and the write in one transaction that no other
 * write enters (SQLite: BEGIN IMMEDIATE under the store's lock;
 * PostgreSQL: SERIALIZABLE, or a lock on the vps table). admit must not
 * call the store.
 */
typedef int store_admit_fn(void *arg, const struct vps *all, size_t n, json_t *policies,
			   struct err **err);
int store_vps_admit(struct store *s, struct vps *v, bool create, const char *plan,
		    store_admit_fn *admit, void *arg, struct err **err);
/* Write every field back (by name). */
int store_vps_update(struct store *s, const struct vps *v, struct err **err);
/* Change the state and log the event (kind: the state's name) in one transaction. */
int store_vps_state(struct store *s, const char *name, enum vps_state state, const char *event,
		    struct err **err);
int store_vps_delete(struct store *s, const char *name, struct err **err);
/* The plan a VPS is on (after a plan change; its figures are written by store_vps_update). */
int store_vps_plan(struct store *s, const char *name, const char *plan, struct err **err);

/* The event log. */
int store_event(struct store *s, const char *vps, const char *kind, const char *msg);
/* owner: only the events of that user's VPSes (NULL: all). */
json_t *store_events(struct store *s, const char *vps, const char *owner, long long after,
		     int limit);

/* --- plans and policies -------------------------------------------------------------- */

/*
 * Plans: {name, ram, swap, cpus, disk, io_weight, bw, pids, ..., backup}; pids 0: the host's
 * default; backup {} none.
 */
int store_plan_put(struct store *s, json_t *plan, struct err **err);
json_t *store_plan_get(struct store *s, const char *name);
json_t *store_plans(struct store *s);
int store_plan_delete(struct store *s, const char *name, struct err **err);
/*
 * A plan's backup schedule (backup_sched.c) for each VPS on a plan that has
 * one: {vps name: {"repo", "daily" | "every", "keep_*"}}; one query a tick.
 */
json_t *store_plan_backups(struct store *s);

/* Resource policies (policy.h): {"memory": {"mode", "ratio"}, "disk": ..., "cpus": ...}. */
json_t *store_policies(struct store *s);
/* Write the resources present in p (same shape, already checked), with a `policy` event. */
int store_policies_put(struct store *s, json_t *p, struct err **err);

/*
 * The host's settings (settings.h; in a cluster, the cluster's): {name:
 * value}, values as text, only the settings that have been set (the
 * others are at their defaults); NULL when the store did not answer.
 * store_settings_put writes each of changed's (already checked, string
 * values) with a `setting` event "NAME VALUE" (plus " (why)" when why is
 * not NULL), in one transaction; seed: only those that have no value yet
 * (vpsd's flags at its start), an existing one is left alone. Returns how
 * many it wrote, or -errno.
 */
json_t *store_settings(struct store *s);
int store_settings_put(struct store *s, json_t *changed, bool seed, const char *why,
		       struct err **err);

/* --- networks and addresses ---------------------------------------------------------- */

/*
 * Networks {name, bridge, ipv4, ipv6, nat} (net.h) and their addresses.
 * store_nets: all (name NULL) or one, each with used4, used6 and vps counts.
 * Delete: -EBUSY while a VPS or address refers to it. Addresses go with
 * their VPS's row; adding a taken one is -EEXIST.
 */
int store_net_insert(struct store *s, json_t *net, struct err **err);
json_t *store_nets(struct store *s, const char *name);
int store_net_delete(struct store *s, const char *name, struct err **err);
json_t *store_net_addresses(struct store *s, const char *network);
int store_address_add(struct store *s, const char *network, const char *address, const char *vps,
		      struct err **err);

/* --- users, sessions, tokens, the audit log (auth.h) --------------------------------- */

/*
 * Users {name, role, created, networks, quota, 2fa}: all (name NULL) or
 * one, by name. quota: what the user may hold (policy.h), {} none; 2fa:
 * whether a TOTP is confirmed.
 */
json_t *store_users(struct store *s, const char *name);
/* -EEXIST: the name is taken. networks: a JSON list as text. */
int store_user_insert(struct store *s, const char *name, const char *role, const char *hash,
		      const char *networks, long long created, struct err **err);
/*
 * Change the fields that are not NULL; end_sessions, end_tokens: delete
 * the user's sessions, tokens, in the same call.
 */
int store_user_update(struct store *s, const char *name, const char *hash, const char *role,
		      const char *networks, bool end_sessions, bool end_tokens, struct err **err);
/* -EBUSY while the user owns a VPS, -ENOENT when there is none. */
int store_user_delete(struct store *s, const char *name, struct err **err);
/*
 * What a login checks: {hash, role, totp?, totp_pending?, totp_step,
 * recovery} or NULL. totp, totp_pending: base32 secrets (absent: none);
 * recovery: the recovery codes' hashes as JSON text.
 */
json_t *store_user_secret(struct store *s, const char *name);
/*
 * Two-factor state, compare and set: only while the user's totp and
 * totp_pending are was_totp and was_pending (NULL: none), write totp,
 * totp_pending, recovery (JSON text) and the last step taken. -ESTALE
 * when they changed under the caller, -ENOENT: no such user.
 */
int store_user_totp(struct store *s, const char *name, const char *was_totp,
		    const char *was_pending, const char *totp, const char *pending,
		    const char *recovery, long long step, struct err **err);
/*
 * Take time step `step` of the user's TOTP: 1 when it is after the last
 * one taken (and now is the last), 0 when not (a replay), -errno.
 */
int store_user_totp_step(struct store *s, const char *name, long long step);
/* Swap the recovery hashes from was to now (JSON text): 1 done, 0 they changed meanwhile. */
int store_user_recovery(struct store *s, const char *name, const char *was, const char *now);
/* A user's quota, JSON text ("{}": none). -ENOENT: no such user. */
int store_user_quota(struct store *s, const char *name, const char *quota, struct err **err);

/* Sessions, by a hash of the cookie. Insert drops the ones expired by `created`. */
int store_session_insert(struct store *s, const char *id, const char *user, const char *csrf,
			 const char *source, long long created, long long expires,
			 struct err **err);
void store_session_delete(struct store *s, const char *id);
/* A live session at `now`: {user, role, csrf} or NULL. */
json_t *store_session_get(struct store *s, const char *id, long long now);

/*
 * Tokens, by a hash of the secret. Insert fills *id; the hash may be set
 * after (store_token_hash), when it depends on the id.
 */
int store_token_insert(struct store *s, const char *user, const char *name, const char *hash,
		       const char *sources, long long created, long long expires, long long *id,
		       struct err **err);
int store_token_hash(struct store *s, long long id, const char *hash, struct err **err);
/*
 * The token of that hash: {id, user, role, sources, expires} or NULL; when
 * it has not expired at `now`, it is marked used at `now`.
 */
json_t *store_token_use(struct store *s, const char *hash, long long now);
/* Tokens {id, name, user, sources, created, expires, used?}: all (user NULL) or a user's. */
json_t *store_tokens(struct store *s, const char *user);
/* -ENOENT: no such token (of that user, when user is not NULL). */
int store_token_delete(struct store *s, long long id, const char *user, struct err **err);

/* Append to the audit log; it keeps the last `keep` entries. */
void store_audit_add(struct store *s, long long time, const char *user, const char *source,
		     const char *method, const char *path, unsigned int status, long long keep);
/* Entries {id, time, user, source, method, path, status} after id `after`, the last `limit`. */
json_t *store_audit(struct store *s, long long after, int limit);

/* --- usage samples (usage.h) --------------------------------------------------------- */

struct store_sample {
	long long time;
	double cpu; /* cores */
	uint64_t mem, disk; /* bytes */
	double rx, tx; /* bytes/s */
};

/*
 * Add a VPS's sample and delete its oldest beyond `keep`, in one
 * transaction. *rows: the VPS's row count, kept by the caller so the
 * delete touches only what it removes; -1 (count them) on the way in is
 * fine, -1 on the way out after a failure. replace: the sample's second
 * has a row already (it replaces it, the count stays).
 */
int store_sample_add(struct store *s, const char *vps, const struct store_sample *smp, bool replace,
		     long long keep, long long *rows);
/* A VPS's samples {time, cpu, mem, disk, rx, tx} after `since`, oldest first; NULL: no VPS. */
json_t *store_samples(struct store *s, const char *vps, long long since);
/*
 * History, consolidated as RRD tools do (docs/usage.md "History"): every
 * sample store_sample_add takes (not a replaced one) is also folded into
 * the running average of its minute, half hour and day, in the same
 * transaction, and rows older than a day, 31 days and 366 days of their
 * step are dropped. store_history: a VPS's averages of one step after
 * `since`, oldest first, as store_samples' objects; NULL: no VPS.
 */
enum { STORE_STEPS = 3 };
extern const struct store_step {
	const char *span; /* "day", "month", "year" */
	long long step, keep; /* seconds */
} store_steps[STORE_STEPS];
json_t *store_history(struct store *s, const char *vps, long long step, long long since);
/* The last sample of a VPS, or NULL. */
json_t *store_sample_last(struct store *s, const char *vps);
/* The last sample of every VPS: {name: sample}. */
json_t *store_samples_last(struct store *s);
/* The same for the VPSes whose names sort from `from` to `to` (a page of the list). */
json_t *store_samples_last_range(struct store *s, const char *from, const char *to);

/* --- operations (ops.h) -------------------------------------------------------------- */

/* A running operation; the oldest finished ones beyond `keep` go. */
int store_op_insert(struct store *s, const char *id, const char *vps, const char *user,
		    const char *action, long long created, long long keep, struct err **err);
/* state: "done" or "failed"; result: JSON text or NULL. */
void store_op_finish(struct store *s, const char *id, const char *state, int status,
		     const char *result, long long finished);
/*
 * One operation (of that user, when user is not NULL): {id, vps, user,
 * action, state, created, finished?, status?, result?}, or NULL.
 */
json_t *store_op_get(struct store *s, const char *id, const char *user);
/*
 * Mark every running operation of this vpsd failed (at start: vpsd stopped
 * before they ended); in a cluster, other nodes' operations are theirs.
 */
void store_ops_abandon(struct store *s, int status, const char *result, long long finished);

/* --- nodes and join tokens (docs/cluster.md) ----------------------------------------- */

/* A node as it registers: its name, API address and capacity. */
struct store_node {
	const char *name;
	const char *address; /* HOST:PORT of its API (vpsd --advertise), "" for none */
	double cpus;
	uint64_t ram, disk; /* bytes */
};

/*
 * Register this vpsd's node, or refresh its row (address, capacity,
 * heartbeat; an evacuating node stays so). A name new to a store whose
 * nodes table is not empty joins only with join_hash, the hash of a join
 * token that is unused and unexpired at `now`, used up in the same
 * transaction: -EACCES otherwise. The first node of an empty table makes
 * the cluster. SQLite: the one row is the host itself, no token asked.
 */
int store_node_join(struct store *s, const struct store_node *n, const char *join_hash,
		    long long now, struct err **err);
/* The heartbeat: `now` and state ("online", "offline": a clean stop) written to the row. */
int store_node_heartbeat(struct store *s, const char *name, const char *state, long long now,
			 struct err **err);
/*
 * Every node {name, address, cpus, ram, disk, state, joined, heartbeat},
 * by name; the state as stored (the caller turns a stale heartbeat into
 * offline). NULL: the store did not answer.
 */
json_t *store_nodes(struct store *s);
/*
 * The cluster's certificate authority (docs/cluster.md, "Forwarding"): the
 * one stored, or cert and key (PEM) stored now when there is none, in one
 * statement so two nodes starting at once agree. The PEM texts the store
 * holds go to *cert_out and *key_out (malloc'd). -ENOTSUP on SQLite.
 */
int store_cluster_ca(struct store *s, const char *cert, const char *key, char **cert_out,
		     char **key_out, struct err **err);
/*
 * Migration (migrate.c): VPS name's row goes from node `from` to `to`, in
 * one statement that changes it only if `from` holds it (-ESTALE if not).
 */
/* A node's state set: "evacuating" (it takes no new VPS) or back to "online". */
int store_node_state(struct store *s, const char *name, const char *state, struct err **err);
int store_vps_move(struct store *s, const char *name, const char *from, const char *to,
		   struct err **err);
/*
 * A node's row deleted (vps node rm), its certificate with it: -ENOENT for
 * no such node, -EBUSY while any VPS row names it or, fresh_after >= 0,
 * while it is not offline and its heartbeat is after fresh_after; checked
 * and deleted in one transaction. -EBUSY on SQLite (one host: no other).
 */
int store_node_remove(struct store *s, const char *name, long long fresh_after, struct err **err);
/* A node's node-to-node address (HOST:PORT) and its certificate (PEM). */
int store_node_credential(struct store *s, const char *name, const char *peer, const char *cert,
			  struct err **err);
/*
 * A join token, by its hash, good until `expires`, for the node `name`
 * only (NULL: any new name): -EOPNOTSUPP on SQLite (no cluster).
 */
int store_join_token_insert(struct store *s, const char *hash, const char *name, long long created,
			    long long expires, struct err **err);
/* Whether the database answers now (PostgreSQL: a round trip, reconnecting if it can). */
bool store_ping(struct store *s);
/*
 * The live sessions and tokens of administrators and of the owners of a VPS this node
 * holds: {"sessions": {ID: {"user", "role", "csrf", "2fa", "expires"}}, "tokens": {HASH:
 * {"id", "user", "role", "sources", "expires"}}}, for the read copy kept for the database's
 * absence (standby.c). NULL when the store does not answer, and on SQLite (never away).
 */
json_t *store_credentials(struct store *s, long long now);

/*
 * Storage pools (pool.c, docs/storage.md): [{"name", "path", "reflink",
 * "created", "vps"}] of the pools added (the default pool has no row);
 * add: -EEXIST for a name or path taken; delete: -EBUSY while a VPS is in
 * it. A VPS's pool: set once at create (NULL: the default pool, no row);
 * store_vps_pool is its name (caller frees), NULL for the default pool.
 */
json_t *store_pools(struct store *s);
int store_pool_add(struct store *s, const char *name, const char *path, bool reflink,
		   long long created, struct err **err);
int store_pool_delete(struct store *s, const char *name, struct err **err);
int store_vps_pool_set(struct store *s, const char *vps, const char *pool, struct err **err);
char *store_vps_pool(struct store *s, const char *vps);
/* The name of the plan a VPS is on (caller frees), NULL for none (a clone's, clone.c). */
char *store_vps_plan_of(struct store *s, const char *vps);
/*
 * A VPS's snapshots (snapshot.c), oldest first: [{"name", "created",
 * "size", "settings"}] (settings: the VPS as JSON when it was taken). A
 * row is added only once the snapshot's files are complete; -EEXIST for a
 * name taken, -ENOENT for no such VPS or snapshot.
 */
json_t *store_snapshots(struct store *s, const char *vps);
int store_snapshot_add(struct store *s, const char *vps, const char *name, long long created,
		       const char *settings, long long size, struct err **err);
int store_snapshot_delete(struct store *s, const char *vps, const char *name, struct err **err);

/*
 * Webhooks (webhook.c, docs/webhooks.md): [{"id", "owner" (null: an
 * administrator's, every event), "url", "events" (kinds joined by commas,
 * "*": all), "created", "last_event" (the events up to this id are done),
 * "delivered", "failed", "last_status"}], with "secret" when `secrets`;
 * owner NULL: every hook. A new hook starts after the newest event.
 * webhook_delete: owner NULL may delete any, else only the owner's own
 * (ENOENT otherwise). webhook_done moves the cursor from `from` to `to`
 * and counts the outcome (1 delivered, 0 failed, -1 neither) and keeps
 * `status` (NULL: the last one stays); 1 when it moved, 0 when another
 * node had.
 */
struct store_webhook {
	const char *owner; /* NULL: every event */
	const char *url;
	const char *secret;
	const char *events;
	long long created;
};
json_t *store_webhooks(struct store *s, const char *owner, bool secrets);
int store_webhook_add(struct store *s, const struct store_webhook *w, long long *id,
		      struct err **err);
int store_webhook_delete(struct store *s, long long id, const char *owner, struct err **err);
int store_webhook_done(struct store *s, long long id, long long from, long long to, int outcome,
		       const char *status);
/* --- traffic (docs/networks.md, "Traffic") ---------------------------------------------- */

/*
 * Add rx and tx bytes to a VPS's month ('YYYY-MM', UTC) and read the row
 * back with its plan's allowance: *row = {vps, month, rx, tx, action,
 * plan: {allowance, action, bw} or {}}. -ENOENT (or -EIO) when the VPS's
 * row is gone. rx and tx 0: a read.
 */
int store_traffic_add(struct store *s, const char *vps, const char *month, long long rx,
		      long long tx, json_t **row);
/* [{vps, month, rx, tx, action}], by VPS then newest month first; NULL: any VPS, any month. */
json_t *store_traffic(struct store *s, const char *vps, const char *month);
/* Record the allowance action of the month: 1 when it was not that already, 0, or -errno. */
int store_traffic_action(struct store *s, const char *vps, const char *month, const char *action);

/* A VPS's firewall (firewall.h) as JSON text, NULL: none; put: -ENOENT without the VPS. */
char *store_firewall_get(struct store *s, const char *vps);
int store_firewall_put(struct store *s, const char *vps, const char *doc, struct err **err);

#endif
