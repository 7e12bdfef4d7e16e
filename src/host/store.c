// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The store's dispatch (store.h): every call goes to the backend's ops
 * table (store_impl.h). Nothing here knows a database.
 */
#include <errno.h>
#include <stdlib.h>

#include "host/store_impl.h"

int store_open(const char *path, struct store **out, struct err **err)
{
	return store_sqlite_open(path, out, err);
}

int store_open_cluster(const char *conninfo, const char *node, struct store **out, struct err **err)
{
	return store_pg_open(conninfo, node, out, err);
}

const char *store_backend(struct store *s)
{
	return s->ops->name;
}

void store_vps_list_free(struct vps *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vps_free(&v[i]);
	free(v);
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

int store_schema_version(struct store *s)
{
	return s->ops->schema_version(s);
}

int store_vps_insert(struct store *s, struct vps *v, const char *plan, struct err **err)
{
	return s->ops->vps_insert(s, v, plan, err);
}

int store_vps_get(struct store *s, const char *name, struct vps *out, struct err **err)
{
	return s->ops->vps_get(s, name, out, err);
}

int store_vps_list(struct store *s, struct vps **out, size_t *n, struct err **err)
{
	return s->ops->vps_list(s, out, n, err);
}

int store_vps_list_local(struct store *s, struct vps **out, size_t *n, struct err **err)
{
	return s->ops->vps_list_local(s, out, n, err);
}

json_t *store_vps_sums(struct store *s)
{
	return s->ops->vps_sums(s);
}

int store_vps_admit(struct store *s, struct vps *v, bool create, const char *plan,
		    store_admit_fn *admit, void *arg, struct err **err)
{
	return s->ops->vps_admit(s, v, create, plan, admit, arg, err);
}

int store_vps_update(struct store *s, const struct vps *v, struct err **err)
{
	return s->ops->vps_update(s, v, err);
}

int store_vps_state(struct store *s, const char *name, enum vps_state state, const char *event,
		    struct err **err)
{
	return s->ops->vps_state(s, name, state, event, err);
}

int store_vps_delete(struct store *s, const char *name, struct err **err)
{
	return s->ops->vps_delete(s, name, err);
}

int store_vps_plan(struct store *s, const char *name, const char *plan, struct err **err)
{
	return s->ops->vps_plan(s, name, plan, err);
}

int store_event(struct store *s, const char *vps, const char *kind, const char *msg)
{
	return s->ops->event(s, vps, kind, msg);
}

json_t *store_events(struct store *s, const char *vps, const char *owner, long long after,
		     int limit)
{
	return s->ops->events(s, vps, owner, after, limit);
}

int store_plan_put(struct store *s, json_t *plan, struct err **err)
{
	return s->ops->plan_put(s, plan, err);
}

json_t *store_plan_get(struct store *s, const char *name)
{
	return s->ops->plan_get(s, name);
}

json_t *store_plans(struct store *s)
{
	return s->ops->plans(s);
}

int store_plan_delete(struct store *s, const char *name, struct err **err)
{
	return s->ops->plan_delete(s, name, err);
}

json_t *store_plan_backups(struct store *s)
{
	return s->ops->plan_backups(s);
}

json_t *store_policies(struct store *s)
{
	return s->ops->policies(s);
}

int store_policies_put(struct store *s, json_t *p, struct err **err)
{
	return s->ops->policies_put(s, p, err);
}

json_t *store_settings(struct store *s)
{
	return s->ops->settings(s);
}

int store_settings_put(struct store *s, json_t *changed, bool seed, const char *why,
		       struct err **err)
{
	return s->ops->settings_put(s, changed, seed, why, err);
}

int store_net_insert(struct store *s, json_t *net, struct err **err)
{
	return s->ops->net_insert(s, net, err);
}

json_t *store_nets(struct store *s, const char *name)
{
	return s->ops->nets(s, name);
}

int store_net_delete(struct store *s, const char *name, struct err **err)
{
	return s->ops->net_delete(s, name, err);
}

json_t *store_net_addresses(struct store *s, const char *network)
{
	return s->ops->net_addresses(s, network);
}

int store_address_add(struct store *s, const char *network, const char *address, const char *vps,
		      struct err **err)
{
	return s->ops->address_add(s, network, address, vps, err);
}

json_t *store_users(struct store *s, const char *name)
{
	return s->ops->users(s, name);
}

int store_user_insert(struct store *s, const char *name, const char *role, const char *hash,
		      const char *networks, long long created, struct err **err)
{
	return s->ops->user_insert(s, name, role, hash, networks, created, err);
}

int store_user_update(struct store *s, const char *name, const char *hash, const char *role,
		      const char *networks, bool end_sessions, bool end_tokens, struct err **err)
{
	return s->ops->user_update(s, name, hash, role, networks, end_sessions, end_tokens, err);
}

int store_user_delete(struct store *s, const char *name, struct err **err)
{
	return s->ops->user_delete(s, name, err);
}

json_t *store_user_secret(struct store *s, const char *name)
{
	return s->ops->user_secret(s, name);
}

int store_user_totp(struct store *s, const char *name, const char *was_totp,
		    const char *was_pending, const char *totp, const char *pending,
		    const char *recovery, long long step, struct err **err)
{
	return s->ops->user_totp(s, name, was_totp, was_pending, totp, pending, recovery, step,
				 err);
}

int store_user_totp_step(struct store *s, const char *name, long long step)
{
	return s->ops->user_totp_step(s, name, step);
}

int store_user_recovery(struct store *s, const char *name, const char *was, const char *now)
{
	return s->ops->user_recovery(s, name, was, now);
}

int store_user_quota(struct store *s, const char *name, const char *quota, struct err **err)
{
	return s->ops->user_quota(s, name, quota, err);
}

int store_session_insert(struct store *s, const char *id, const char *user, const char *csrf,
			 const char *source, long long created, long long expires, struct err **err)
{
	return s->ops->session_insert(s, id, user, csrf, source, created, expires, err);
}

void store_session_delete(struct store *s, const char *id)
{
	s->ops->session_delete(s, id);
}

json_t *store_session_get(struct store *s, const char *id, long long now)
{
	return s->ops->session_get(s, id, now);
}

int store_token_insert(struct store *s, const char *user, const char *name, const char *hash,
		       const char *sources, long long created, long long expires, long long *id,
		       struct err **err)
{
	return s->ops->token_insert(s, user, name, hash, sources, created, expires, id, err);
}

int store_token_hash(struct store *s, long long id, const char *hash, struct err **err)
{
	return s->ops->token_hash(s, id, hash, err);
}

json_t *store_token_use(struct store *s, const char *hash, long long now)
{
	return s->ops->token_use(s, hash, now);
}

json_t *store_tokens(struct store *s, const char *user)
{
	return s->ops->tokens(s, user);
}

int store_token_delete(struct store *s, long long id, const char *user, struct err **err)
{
	return s->ops->token_delete(s, id, user, err);
}

void store_audit_add(struct store *s, long long time, const char *user, const char *source,
		     const char *method, const char *path, unsigned int status, long long keep)
{
	s->ops->audit_add(s, time, user, source, method, path, status, keep);
}

json_t *store_audit(struct store *s, long long after, int limit)
{
	return s->ops->audit(s, after, limit);
}

int store_sample_add(struct store *s, const char *vps, const struct store_sample *smp, bool replace,
		     long long keep, long long *rows)
{
	return s->ops->sample_add(s, vps, smp, replace, keep, rows);
}

json_t *store_samples(struct store *s, const char *vps, long long since)
{
	return s->ops->samples(s, vps, since);
}

json_t *store_sample_last(struct store *s, const char *vps)
{
	return s->ops->sample_last(s, vps);
}

json_t *store_samples_last(struct store *s)
{
	return s->ops->samples_last(s, NULL, NULL);
}

json_t *store_samples_last_range(struct store *s, const char *from, const char *to)
{
	return s->ops->samples_last(s, from, to);
}

int store_op_insert(struct store *s, const char *id, const char *vps, const char *user,
		    const char *action, long long created, long long keep, struct err **err)
{
	return s->ops->op_insert(s, id, vps, user, action, created, keep, err);
}

void store_op_finish(struct store *s, const char *id, const char *state, int status,
		     const char *result, long long finished)
{
	s->ops->op_finish(s, id, state, status, result, finished);
}

json_t *store_op_get(struct store *s, const char *id, const char *user)
{
	return s->ops->op_get(s, id, user);
}

void store_ops_abandon(struct store *s, int status, const char *result, long long finished)
{
	s->ops->ops_abandon(s, status, result, finished);
}

int store_node_join(struct store *s, const struct store_node *n, const char *join_hash,
		    long long now, struct err **err)
{
	return s->ops->node_join(s, n, join_hash, now, err);
}

int store_node_heartbeat(struct store *s, const char *name, const char *state, long long now,
			 struct err **err)
{
	return s->ops->node_heartbeat(s, name, state, now, err);
}

json_t *store_nodes(struct store *s)
{
	return s->ops->nodes(s);
}

int store_cluster_ca(struct store *s, const char *cert, const char *key, char **cert_out,
		     char **key_out, struct err **err)
{
	if (!s->ops->cluster_ca)
		return err_make(err, ENOTSUP, "store: no cluster authority on one host");
	return s->ops->cluster_ca(s, cert, key, cert_out, key_out, err);
}

int store_node_state(struct store *s, const char *name, const char *state, struct err **err)
{
	if (!s->ops->node_state)
		return err_make(err, EBUSY,
				"one host evacuates to nowhere: it is not in a cluster");
	return s->ops->node_state(s, name, state, err);
}

int store_node_remove(struct store *s, const char *name, long long fresh_after, struct err **err)
{
	if (!s->ops->node_remove)
		return err_make(err, EBUSY,
				"one host is its own one node: there is none to remove");
	return s->ops->node_remove(s, name, fresh_after, err);
}

int store_vps_move(struct store *s, const char *name, const char *from, const char *to,
		   struct err **err)
{
	if (!s->ops->vps_move)
		return err_make(err, ENOTSUP, "store: one host moves no VPS");
	return s->ops->vps_move(s, name, from, to, err);
}

int store_node_credential(struct store *s, const char *name, const char *peer, const char *cert,
			  struct err **err)
{
	if (!s->ops->node_credential)
		return err_make(err, ENOTSUP, "store: no node credentials on one host");
	return s->ops->node_credential(s, name, peer, cert, err);
}

int store_join_token_insert(struct store *s, const char *hash, const char *name, long long created,
			    long long expires, struct err **err)
{
	return s->ops->join_token_insert(s, hash, name, created, expires, err);
}

int store_vps_page(struct store *s, const struct store_vps_filter *f, struct vps **out, size_t *n,
		   struct err **err)
{
	return s->ops->vps_page(s, f, out, n, err);
}

bool store_ping(struct store *s)
{
	return s->ops->ping(s);
}

json_t *store_credentials(struct store *s, long long now)
{
	return s->ops->credentials ? s->ops->credentials(s, now) : NULL;
}

json_t *store_pools(struct store *s)
{
	return s->ops->pools(s);
}

int store_pool_add(struct store *s, const char *name, const char *path, bool reflink,
		   long long created, struct err **err)
{
	return s->ops->pool_add(s, name, path, reflink, created, err);
}

int store_pool_delete(struct store *s, const char *name, struct err **err)
{
	return s->ops->pool_delete(s, name, err);
}

int store_vps_pool_set(struct store *s, const char *vps, const char *pool, struct err **err)
{
	return s->ops->vps_pool_set(s, vps, pool, err);
}

char *store_vps_pool(struct store *s, const char *vps)
{
	return s->ops->vps_pool(s, vps);
}

char *store_vps_plan_of(struct store *s, const char *vps)
{
	return s->ops->vps_plan_of(s, vps);
}

json_t *store_snapshots(struct store *s, const char *vps)
{
	return s->ops->snapshots(s, vps);
}

int store_snapshot_add(struct store *s, const char *vps, const char *name, long long created,
		       const char *settings, long long size, struct err **err)
{
	return s->ops->snapshot_add(s, vps, name, created, settings, size, err);
}

int store_snapshot_delete(struct store *s, const char *vps, const char *name, struct err **err)
{
	return s->ops->snapshot_delete(s, vps, name, err);
}

int store_traffic_add(struct store *s, const char *vps, const char *month, long long rx,
		      long long tx, json_t **row)
{
	return s->ops->traffic_add(s, vps, month, rx, tx, row);
}

json_t *store_traffic(struct store *s, const char *vps, const char *month)
{
	return s->ops->traffic(s, vps, month);
}

int store_traffic_action(struct store *s, const char *vps, const char *month, const char *action)
{
	return s->ops->traffic_action(s, vps, month, action);
}

char *store_firewall_get(struct store *s, const char *vps)
{
	return s->ops->firewall_get(s, vps);
}

int store_firewall_put(struct store *s, const char *vps, const char *doc, struct err **err)
{
	return s->ops->firewall_put(s, vps, doc, err);
}

json_t *store_webhooks(struct store *s, const char *owner, bool secrets)
{
	return s->ops->webhooks(s, owner, secrets);
}

int store_webhook_add(struct store *s, const struct store_webhook *w, long long *id,
		      struct err **err)
{
	return s->ops->webhook_add(s, w, id, err);
}

int store_webhook_delete(struct store *s, long long id, const char *owner, struct err **err)
{
	return s->ops->webhook_delete(s, id, owner, err);
}

int store_webhook_done(struct store *s, long long id, long long from, long long to, int outcome,
		       const char *status)
{
	return s->ops->webhook_done(s, id, from, to, outcome, status);
}

json_t *store_history(struct store *s, const char *vps, long long step, long long since)
{
	return s->ops->history(s, vps, step, since);
}
