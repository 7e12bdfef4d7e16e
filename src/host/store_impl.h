/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a store backend implements (store.h says what each call means).
 * Only the backends (store_sqlite*.c, store_pg*.c) and the dispatch in store.c include
 * this: to the rest of vpsd a `struct store` is opaque.
 *
 * A backend's handle starts with a `struct store` (its first member) and
 * its open function points base.ops at its table, every entry filled.
 */
#ifndef VPS_HOST_STORE_IMPL_H
#define VPS_HOST_STORE_IMPL_H

#include "host/store.h"

struct store_ops {
	const char *name; /* "sqlite", "postgresql" */
	void (*close)(struct store *s);
	int (*schema_version)(struct store *s);
	int (*vps_insert)(struct store *s, struct vps *v, const char *plan, struct err **err);
	int (*vps_get)(struct store *s, const char *name, struct vps *out, struct err **err);
	int (*vps_list)(struct store *s, struct vps **out, size_t *n, struct err **err);
	int (*vps_list_local)(struct store *s, struct vps **out, size_t *n, struct err **err);
	json_t *(*vps_sums)(struct store *s);
	int (*vps_page)(struct store *s, const struct store_vps_filter *f, struct vps **out,
			size_t *n, struct err **err);
	int (*vps_admit)(struct store *s, struct vps *v, bool create, const char *plan,
			 store_admit_fn *admit, void *arg, struct err **err);
	int (*vps_update)(struct store *s, const struct vps *v, struct err **err);
	int (*vps_state)(struct store *s, const char *name, enum vps_state state, const char *event,
			 struct err **err);
	int (*vps_delete)(struct store *s, const char *name, struct err **err);
	int (*vps_plan)(struct store *s, const char *name, const char *plan, struct err **err);
	int (*event)(struct store *s, const char *vps, const char *kind, const char *msg);
	json_t *(*events)(struct store *s, const char *vps, const char *owner, long long after,
			  int limit);
	int (*plan_put)(struct store *s, json_t *plan, struct err **err);
	json_t *(*plan_get)(struct store *s, const char *name);
	json_t *(*plans)(struct store *s);
	int (*plan_delete)(struct store *s, const char *name, struct err **err);
	json_t *(*plan_backups)(struct store *s);
	json_t *(*policies)(struct store *s);
	int (*policies_put)(struct store *s, json_t *p, struct err **err);
	json_t *(*settings)(struct store *s);
	int (*settings_put)(struct store *s, json_t *changed, bool seed, const char *why,
			    struct err **err);
	int (*net_insert)(struct store *s, json_t *net, struct err **err);
	json_t *(*nets)(struct store *s, const char *name);
	int (*net_delete)(struct store *s, const char *name, struct err **err);
	json_t *(*net_addresses)(struct store *s, const char *network);
	int (*address_add)(struct store *s, const char *network, const char *address,
			   const char *vps, struct err **err);
	json_t *(*users)(struct store *s, const char *name);
	int (*user_insert)(struct store *s, const char *name, const char *role, const char *hash,
			   const char *networks, long long created, struct err **err);
	int (*user_update)(struct store *s, const char *name, const char *hash, const char *role,
			   const char *networks, bool end_sessions, bool end_tokens,
			   struct err **err);
	int (*user_delete)(struct store *s, const char *name, struct err **err);
	json_t *(*user_secret)(struct store *s, const char *name);
	int (*user_totp)(struct store *s, const char *name, const char *was_totp,
			 const char *was_pending, const char *totp, const char *pending,
			 const char *recovery, long long step, struct err **err);
	int (*user_totp_step)(struct store *s, const char *name, long long step);
	int (*user_recovery)(struct store *s, const char *name, const char *was, const char *now);
	int (*user_quota)(struct store *s, const char *name, const char *quota, struct err **err);
	int (*session_insert)(struct store *s, const char *id, const char *user, const char *csrf,
			      const char *source, long long created, long long expires,
			      struct err **err);
	void (*session_delete)(struct store *s, const char *id);
	json_t *(*session_get)(struct store *s, const char *id, long long now);
	int (*token_insert)(struct store *s, const char *user, const char *name, const char *hash,
			    const char *sources, long long created, long long expires,
			    long long *id, struct err **err);
	int (*token_hash)(struct store *s, long long id, const char *hash, struct err **err);
	json_t *(*token_use)(struct store *s, const char *hash, long long now);
	json_t *(*tokens)(struct store *s, const char *user);
	int (*token_delete)(struct store *s, long long id, const char *user, struct err **err);
	void (*audit_add)(struct store *s, long long time, const char *user, const char *source,
			  const char *method, const char *path, unsigned int status,
			  long long keep);
	json_t *(*audit)(struct store *s, long long after, int limit);
	int (*sample_add)(struct store *s, const char *vps, const struct store_sample *smp,
			  bool replace, long long keep, long long *rows);
	json_t *(*samples)(struct store *s, const char *vps, long long since);
	json_t *(*sample_last)(struct store *s, const char *vps);
	json_t *(*samples_last)(struct store *s, const char *from, const char *to);
	int (*op_insert)(struct store *s, const char *id, const char *vps, const char *user,
			 const char *action, long long created, long long keep, struct err **err);
	void (*op_finish)(struct store *s, const char *id, const char *state, int status,
			  const char *result, long long finished);
	json_t *(*op_get)(struct store *s, const char *id, const char *user);
	void (*ops_abandon)(struct store *s, int status, const char *result, long long finished);
	int (*node_join)(struct store *s, const struct store_node *n, const char *join_hash,
			 long long now, struct err **err);
	int (*node_heartbeat)(struct store *s, const char *name, const char *state, long long now,
			      struct err **err);
	json_t *(*nodes)(struct store *s);
	int (*join_token_insert)(struct store *s, const char *hash, const char *name,
				 long long created, long long expires, struct err **err);
	bool (*ping)(struct store *s);
	/* cluster only (NULL on SQLite: one host forwards nothing) */
	int (*cluster_ca)(struct store *s, const char *cert, const char *key, char **cert_out,
			  char **key_out, struct err **err);
	int (*node_credential)(struct store *s, const char *name, const char *peer,
			       const char *cert, struct err **err);
	int (*node_state)(struct store *s, const char *name, const char *state, struct err **err);
	int (*node_remove)(struct store *s, const char *name, long long fresh_after,
			   struct err **err);
	int (*vps_move)(struct store *s, const char *name, const char *from, const char *to,
			struct err **err);
	json_t *(*credentials)(struct store *s, long long now);
	json_t *(*pools)(struct store *s);
	int (*pool_add)(struct store *s, const char *name, const char *path, bool reflink,
			long long created, struct err **err);
	int (*pool_delete)(struct store *s, const char *name, struct err **err);
	int (*vps_pool_set)(struct store *s, const char *vps, const char *pool, struct err **err);
	char *(*vps_pool)(struct store *s, const char *vps);
	char *(*vps_plan_of)(struct store *s, const char *vps);
	json_t *(*snapshots)(struct store *s, const char *vps);
	int (*snapshot_add)(struct store *s, const char *vps, const char *name, long long created,
			    const char *settings, long long size, struct err **err);
	int (*snapshot_delete)(struct store *s, const char *vps, const char *name,
			       struct err **err);
	json_t *(*history)(struct store *s, const char *vps, long long step, long long since);
	json_t *(*webhooks)(struct store *s, const char *owner, bool secrets);
	int (*webhook_add)(struct store *s, const struct store_webhook *w, long long *id,
			   struct err **err);
	int (*webhook_delete)(struct store *s, long long id, const char *owner, struct err **err);
	int (*webhook_done)(struct store *s, long long id, long long from, long long to,
			    int outcome, const char *status);
	int (*traffic_add)(struct store *s, const char *vps, const char *month, long long rx,
			   long long tx, json_t **row);
	json_t *(*traffic)(struct store *s, const char *vps, const char *month);
	int (*traffic_action)(struct store *s, const char *vps, const char *month,
			      const char *action);
	char *(*firewall_get)(struct store *s, const char *vps);
	int (*firewall_put)(struct store *s, const char *vps, const char *doc, struct err **err);
};

struct store {
	const struct store_ops *ops;
};

/* The backends: one open function each. */
int store_sqlite_open(const char *path, struct store **out, struct err **err);
int store_pg_open(const char *conninfo, const char *node, struct store **out, struct err **err);

#endif
