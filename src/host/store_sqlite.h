/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The SQLite store's private header: its handle, the helpers its files
 * share (store_sqlite.c) and the functions of its ops table, one file per
 * group of tables. Nothing outside store_sqlite*.c includes it.
 *
 * One connection, guarded by a mutex, so the API's threads see one
 * writer; a function that holds the mutex calls only the *_locked helpers.
 */
#ifndef VPS_HOST_STORE_SQLITE_H
#define VPS_HOST_STORE_SQLITE_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "host/store_impl.h"

struct store_sqlite {
	struct store base; /* first: a struct store * is a struct store_sqlite * */
	sqlite3 *db;
	pthread_mutex_t lock;
};

static inline struct store_sqlite *sq(struct store *s)
{
	return (struct store_sqlite *)s;
}

/* -EIO "store: what: <SQLite's message>". */
int sq_err(struct store_sqlite *s, struct err **err, const char *what);
int sq_exec(struct store_sqlite *s, const char *sql, struct err **err);
/* A prepared statement, or NULL with a warning. */
sqlite3_stmt *sq_prepare(struct store_sqlite *s, const char *sql);
/*
 * Step st, a bound statement that returns no row, and finalize it: 0, or
 * -EIO with SQLite's message (st NULL: its prepare failed).
 */
int sq_write(struct store_sqlite *s, sqlite3_stmt *st, struct err **err);
/* Step once and finalize (st may be NULL: false): whether it ran. */
bool sq_step_done(sqlite3_stmt *st);
/*
 * Run `sql` (a DELETE ... WHERE name = ?) under the lock: -EBUSY with
 * `busy` when a foreign key (ON DELETE RESTRICT) still refers to the row,
 * -ENOENT when there is none.
 */
int sq_delete_named(struct store_sqlite *s, const char *sql, const char *what, const char *busy,
		    const char *name, struct err **err);
/* The policies (store_policies); the caller holds the lock. */
json_t *sq_policies_locked(struct store_sqlite *s);
/* Append to the event log; the caller holds the lock. */
void sq_event_locked(struct store_sqlite *s, const char *vps, const char *kind, const char *msg);

/* The ops (store.h says what each does). */
int sq_vps_insert(struct store *s, struct vps *v, const char *plan, struct err **err);
int sq_vps_get(struct store *s, const char *name, struct vps *out, struct err **err);
int sq_vps_list(struct store *s, struct vps **out, size_t *n, struct err **err);
json_t *sq_vps_sums(struct store *s);
int sq_vps_page(struct store *s, const struct store_vps_filter *f, struct vps **out, size_t *n,
		struct err **err);
int sq_vps_admit(struct store *s, struct vps *v, bool create, const char *plan,
		 store_admit_fn *admit, void *arg, struct err **err);
int sq_vps_update(struct store *s, const struct vps *v, struct err **err);
int sq_vps_state(struct store *s, const char *name, enum vps_state state, const char *event,
		 struct err **err);
int sq_vps_delete(struct store *s, const char *name, struct err **err);
int sq_vps_plan(struct store *s, const char *name, const char *plan, struct err **err);
int sq_event(struct store *s, const char *vps, const char *kind, const char *msg);
json_t *sq_events(struct store *s, const char *vps, const char *owner, long long after, int limit);
int sq_plan_put(struct store *s, json_t *plan, struct err **err);
json_t *sq_plan_get(struct store *s, const char *name);
json_t *sq_plans(struct store *s);
int sq_plan_delete(struct store *s, const char *name, struct err **err);
json_t *sq_plan_backups(struct store *s);
json_t *sq_policies(struct store *s);
int sq_policies_put(struct store *s, json_t *p, struct err **err);
json_t *sq_settings(struct store *s);
int sq_settings_put(struct store *s, json_t *changed, bool seed, const char *why, struct err **err);
int sq_net_insert(struct store *s, json_t *net, struct err **err);
json_t *sq_nets(struct store *s, const char *name);
int sq_net_delete(struct store *s, const char *name, struct err **err);
json_t *sq_net_addresses(struct store *s, const char *network);
int sq_address_add(struct store *s, const char *network, const char *address, const char *vps,
		   struct err **err);
json_t *sq_users(struct store *s, const char *name);
int sq_user_insert(struct store *s, const char *name, const char *role, const char *hash,
		   const char *networks, long long created, struct err **err);
int sq_user_update(struct store *s, const char *name, const char *hash, const char *role,
		   const char *networks, bool end_sessions, bool end_tokens, struct err **err);
int sq_user_delete(struct store *s, const char *name, struct err **err);
json_t *sq_user_secret(struct store *s, const char *name);
int sq_user_totp(struct store *s, const char *name, const char *was_totp, const char *was_pending,
		 const char *totp, const char *pending, const char *recovery, long long step,
		 struct err **err);
int sq_user_totp_step(struct store *s, const char *name, long long step);
int sq_user_recovery(struct store *s, const char *name, const char *was, const char *now);
int sq_user_quota(struct store *s, const char *name, const char *quota, struct err **err);
int sq_session_insert(struct store *s, const char *id, const char *user, const char *csrf,
		      const char *source, long long created, long long expires, struct err **err);
void sq_session_delete(struct store *s, const char *id);
json_t *sq_session_get(struct store *s, const char *id, long long now);
int sq_token_insert(struct store *s, const char *user, const char *name, const char *hash,
		    const char *sources, long long created, long long expires, long long *id,
		    struct err **err);
int sq_token_hash(struct store *s, long long id, const char *hash, struct err **err);
json_t *sq_token_use(struct store *s, const char *hash, long long now);
json_t *sq_tokens(struct store *s, const char *user);
int sq_token_delete(struct store *s, long long id, const char *user, struct err **err);
void sq_audit_add(struct store *s, long long time, const char *user, const char *source,
		  const char *method, const char *path, unsigned int status, long long keep);
json_t *sq_audit(struct store *s, long long after, int limit);
int sq_sample_add(struct store *s, const char *vps, const struct store_sample *smp, bool replace,
		  long long keep, long long *rows);
json_t *sq_samples(struct store *s, const char *vps, long long since);
json_t *sq_sample_last(struct store *s, const char *vps);
json_t *sq_samples_last(struct store *s, const char *from, const char *to);
int sq_op_insert(struct store *s, const char *id, const char *vps, const char *user,
		 const char *action, long long created, long long keep, struct err **err);
void sq_op_finish(struct store *s, const char *id, const char *state, int status,
		  const char *result, long long finished);
json_t *sq_op_get(struct store *s, const char *id, const char *user);
void sq_ops_abandon(struct store *s, int status, const char *result, long long finished);
int sq_node_join(struct store *s, const struct store_node *n, const char *join_hash, long long now,
		 struct err **err);
int sq_node_heartbeat(struct store *s, const char *name, const char *state, long long now,
		      struct err **err);
json_t *sq_nodes(struct store *s);
int sq_join_token_insert(struct store *s, const char *hash, const char *name, long long created,
			 long long expires, struct err **err);
bool sq_ping(struct store *s);

json_t *sq_pools(struct store *s);
int sq_pool_add(struct store *s, const char *name, const char *path, bool reflink,
		long long created, struct err **err);
int sq_pool_delete(struct store *s, const char *name, struct err **err);
int sq_vps_pool_set(struct store *s, const char *vps, const char *pool, struct err **err);
char *sq_vps_pool(struct store *s, const char *vps);
char *sq_vps_plan_of(struct store *s, const char *vps);
json_t *sq_snapshots(struct store *s, const char *vps);
int sq_snapshot_add(struct store *s, const char *vps, const char *name, long long created,
		    const char *settings, long long size, struct err **err);
int sq_snapshot_delete(struct store *s, const char *vps, const char *name, struct err **err);
json_t *sq_history(struct store *s, const char *vps, long long step, long long since);
json_t *sq_webhooks(struct store *s, const char *owner, bool secrets);
int sq_webhook_add(struct store *s, const struct store_webhook *w, long long *id, struct err **err);
int sq_webhook_delete(struct store *s, long long id, const char *owner, struct err **err);
int sq_webhook_done(struct store *s, long long id, long long from, long long to, int outcome,
		    const char *status);
int sq_traffic_add(struct store *s, const char *vps, const char *month, long long rx, long long tx,
		   json_t **row);
json_t *sq_traffic(struct store *s, const char *vps, const char *month);
int sq_traffic_action(struct store *s, const char *vps, const char *month, const char *action);
char *sq_firewall_get(struct store *s, const char *vps);
int sq_firewall_put(struct store *s, const char *vps, const char *doc, struct err **err);

#endif
