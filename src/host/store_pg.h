/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The PostgreSQL store's private header (issue 19, docs/cluster.md): its
 * handle, the helpers its files share (store_pg_util.c) and the functions
 * of its ops table, one file per group of tables as store_sqlite*.c.
 * Nothing outside store_pg*.c includes it.
 *
 * One libpq connection per vpsd, guarded by a mutex as the SQLite one:
 * the API's threads take turns on it; other vpsds (nodes) have their own
 * connections and PostgreSQL orders them. Every statement goes through
 * pg_run (PQexecParams): values travel as parameters, never in the SQL.
 */
#ifndef VPS_HOST_STORE_PG_H
#define VPS_HOST_STORE_PG_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>

#include "host/store_impl.h"

struct store_pg {
	struct store base; /* first: a struct store * is a struct store_pg * */
	PGconn *db;
	pthread_mutex_t lock;
	char node[64]; /* --node: written on the rows this vpsd makes (vps, operations) */
	bool in_tx; /* between pg_begin and its commit or rollback: no reconnecting there */
};

static inline struct store_pg *pgs(struct store *s)
{
	return (struct store_pg *)s;
}

/* A statement's parameters, as text (libpq's text format): pa_s NULL is SQL NULL. */
#define PG_MAX_ARGS 32
struct pg_args {
	int n;
	const char *v[PG_MAX_ARGS];
	char num[PG_MAX_ARGS][32];
};

void pa_s(struct pg_args *a, const char *s);
void pa_i(struct pg_args *a, long long x);
void pa_d(struct pg_args *a, double x);

/*
 * Run sql with the parameters a (NULL: none), under the caller's lock:
 * 0 with *res (the caller PQclears it; res NULL: dropped), or -errno with
 * PostgreSQL's message in err: -EEXIST (a unique key), -ENOENT (a foreign
 * key: the row referred to is missing, or still referred to on a delete),
 * -EAGAIN (a serialization failure or deadlock), -EIO (anything else).
 * A lost connection is made again before the next statement outside a
 * transaction; inside one, every statement fails until the rollback (a
 * new connection would run the rest of it outside the transaction).
 */
int pg_run(struct store_pg *s, const char *sql, const struct pg_args *a, PGresult **res,
	   struct err **err);
/* The number of rows a statement changed. */
long long pg_changes(PGresult *res);
/*
 * Hold the node's name for this connection (a session advisory lock on it):
 * -EBUSY when another vpsd of that name holds it.
 */
int pg_claim_node(struct store_pg *s, struct err **err);
/* BEGIN, COMMIT, ROLLBACK (the last reports nothing). */
int pg_begin(struct store_pg *s, struct err **err);
int pg_commit(struct store_pg *s, struct err **err);
void pg_rollback(struct store_pg *s);

/* A column of row i: text or NULL (SQL NULL), a number (NULL: 0). */
const char *pg_s(PGresult *r, int i, int col);
long long pg_i(PGresult *r, int i, int col);
double pg_d(PGresult *r, int i, int col);
bool pg_null(PGresult *r, int i, int col);

/* The delete of one named row (sq_delete_named's twin): -EBUSY, -ENOENT. */
int pg_delete_named(struct store_pg *s, const char *sql, const char *what, const char *busy,
		    const char *name, struct err **err);
/* The policies (store_policies); the caller holds the lock. */
json_t *pg_policies_locked(struct store_pg *s);
/* Append to the event log; the caller holds the lock. */
void pg_event_locked(struct store_pg *s, const char *vps, const char *kind, const char *msg);

/* The ops (store.h says what each does). */
int pg_vps_insert(struct store *s, struct vps *v, const char *plan, struct err **err);
int pg_vps_get(struct store *s, const char *name, struct vps *out, struct err **err);
int pg_vps_list(struct store *s, struct vps **out, size_t *n, struct err **err);
int pg_vps_page(struct store *s, const struct store_vps_filter *f, struct vps **out, size_t *n,
		struct err **err);
int pg_vps_list_local(struct store *s, struct vps **out, size_t *n, struct err **err);
json_t *pg_vps_sums(struct store *s);
int pg_vps_admit(struct store *s, struct vps *v, bool create, const char *plan,
		 store_admit_fn *admit, void *arg, struct err **err);
int pg_vps_update(struct store *s, const struct vps *v, struct err **err);
int pg_vps_state(struct store *s, const char *name, enum vps_state state, const char *event,
		 struct err **err);
int pg_vps_delete(struct store *s, const char *name, struct err **err);
int pg_vps_plan(struct store *s, const char *name, const char *plan, struct err **err);
int pg_event(struct store *s, const char *vps, const char *kind, const char *msg);
json_t *pg_events(struct store *s, const char *vps, const char *owner, long long after, int limit);
int pg_plan_put(struct store *s, json_t *plan, struct err **err);
json_t *pg_plan_get(struct store *s, const char *name);
json_t *pg_plans(struct store *s);
int pg_plan_delete(struct store *s, const char *name, struct err **err);
json_t *pg_plan_backups(struct store *s);
json_t *pg_policies(struct store *s);
int pg_policies_put(struct store *s, json_t *p, struct err **err);
json_t *pg_settings(struct store *s);
int pg_settings_put(struct store *s, json_t *changed, bool seed, const char *why, struct err **err);
int pg_net_insert(struct store *s, json_t *net, struct err **err);
json_t *pg_nets(struct store *s, const char *name);
int pg_net_delete(struct store *s, const char *name, struct err **err);
json_t *pg_net_addresses(struct store *s, const char *network);
int pg_address_add(struct store *s, const char *network, const char *address, const char *vps,
		   struct err **err);
json_t *pg_users(struct store *s, const char *name);
int pg_user_insert(struct store *s, const char *name, const char *role, const char *hash,
		   const char *networks, long long created, struct err **err);
int pg_user_update(struct store *s, const char *name, const char *hash, const char *role,
		   const char *networks, bool end_sessions, bool end_tokens, struct err **err);
int pg_user_delete(struct store *s, const char *name, struct err **err);
json_t *pg_user_secret(struct store *s, const char *name);
int pg_user_totp(struct store *s, const char *name, const char *was_totp, const char *was_pending,
		 const char *totp, const char *pending, const char *recovery, long long step,
		 struct err **err);
int pg_user_totp_step(struct store *s, const char *name, long long step);
int pg_user_recovery(struct store *s, const char *name, const char *was, const char *now);
int pg_user_quota(struct store *s, const char *name, const char *quota, struct err **err);
int pg_session_insert(struct store *s, const char *id, const char *user, const char *csrf,
		      const char *source, long long created, long long expires, struct err **err);
void pg_session_delete(struct store *s, const char *id);
json_t *pg_session_get(struct store *s, const char *id, long long now);
int pg_token_insert(struct store *s, const char *user, const char *name, const char *hash,
		    const char *sources, long long created, long long expires, long long *id,
		    struct err **err);
int pg_token_hash(struct store *s, long long id, const char *hash, struct err **err);
json_t *pg_token_use(struct store *s, const char *hash, long long now);
json_t *pg_tokens(struct store *s, const char *user);
int pg_token_delete(struct store *s, long long id, const char *user, struct err **err);
void pg_audit_add(struct store *s, long long time, const char *user, const char *source,
		  const char *method, const char *path, unsigned int status, long long keep);
json_t *pg_audit(struct store *s, long long after, int limit);
int pg_sample_add(struct store *s, const char *vps, const struct store_sample *smp, bool replace,
		  long long keep, long long *rows);
json_t *pg_samples(struct store *s, const char *vps, long long since);
json_t *pg_sample_last(struct store *s, const char *vps);
json_t *pg_samples_last(struct store *s, const char *from, const char *to);
int pg_op_insert(struct store *s, const char *id, const char *vps, const char *user,
		 const char *action, long long created, long long keep, struct err **err);
void pg_op_finish(struct store *s, const char *id, const char *state, int status,
		  const char *result, long long finished);
json_t *pg_op_get(struct store *s, const char *id, const char *user);
void pg_ops_abandon(struct store *s, int status, const char *result, long long finished);
int pg_node_join(struct store *s, const struct store_node *n, const char *join_hash, long long now,
		 struct err **err);
int pg_node_heartbeat(struct store *s, const char *name, const char *state, long long now,
		      struct err **err);
json_t *pg_nodes(struct store *s);
int pg_join_token_insert(struct store *s, const char *hash, const char *name, long long created,
			 long long expires, struct err **err);
bool pg_ping(struct store *s);
json_t *pg_credentials(struct store *s, long long now);
int pg_cluster_ca(struct store *s, const char *cert, const char *key, char **cert_out,
		  char **key_out, struct err **err);
int pg_node_state(struct store *s, const char *name, const char *state, struct err **err);
int pg_vps_move(struct store *s, const char *name, const char *from, const char *to,
		struct err **err);
int pg_node_credential(struct store *s, const char *name, const char *peer, const char *cert,
		       struct err **err);
int pg_node_remove(struct store *s, const char *name, long long fresh_after, struct err **err);

json_t *pg_pools(struct store *s);
int pg_pool_add(struct store *s, const char *name, const char *path, bool reflink,
		long long created, struct err **err);
int pg_pool_delete(struct store *s, const char *name, struct err **err);
int pg_vps_pool_set(struct store *s, const char *vps, const char *pool, struct err **err);
char *pg_vps_pool(struct store *s, const char *vps);
char *pg_vps_plan_of(struct store *s, const char *vps);
json_t *pg_snapshots(struct store *s, const char *vps);
int pg_snapshot_add(struct store *s, const char *vps, const char *name, long long created,
		    const char *settings, long long size, struct err **err);
int pg_snapshot_delete(struct store *s, const char *vps, const char *name, struct err **err);
json_t *pg_history(struct store *s, const char *vps, long long step, long long since);
json_t *pg_webhooks(struct store *s, const char *owner, bool secrets);
int pg_webhook_add(struct store *s, const struct store_webhook *w, long long *id, struct err **err);
int pg_webhook_delete(struct store *s, long long id, const char *owner, struct err **err);
int pg_webhook_done(struct store *s, long long id, long long from, long long to, int outcome,
		    const char *status);
int pg_traffic_add(struct store *s, const char *vps, const char *month, long long rx, long long tx,
		   json_t **row);
json_t *pg_traffic(struct store *s, const char *vps, const char *month);
int pg_traffic_action(struct store *s, const char *vps, const char *month, const char *action);
char *pg_firewall_get(struct store *s, const char *vps);
int pg_firewall_put(struct store *s, const char *vps, const char *doc, struct err **err);

#endif
