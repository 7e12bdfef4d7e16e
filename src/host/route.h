/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The API's routes (routes.c): one table of method, path, who may call it
 * and handler, which the dispatcher walks and `vpsd --routes` prints, so
 * the tests can hold it against docs/openapi.json both ways. The handlers
 * live by resource in routes_*.c and are declared below. The
 * connection (api.c) finds the route before it reads the body (who asks
 * depends on it, and an ISO upload streams), then calls it.
 */
#ifndef VPS_HOST_ROUTE_H
#define VPS_HOST_ROUTE_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>
#include <microhttpd.h>

#include "common/err.h"
#include "host/auth.h"
#include "host/host.h"
#include "host/reply.h"

#define ROUTE_PREFIX "/api/v1"
#define ROUTE_ARG_MAX 255 /* a path parameter: one segment */
#define ROUTE_URL_MAX 1024 /* a path forwarded to another node (peer.c) */

/* Who may call a route. */
enum route_who {
	ROUTE_ANYONE, /* no authentication: logging in, the API description */
	ROUTE_USER, /* any user; a VPS in the path must be theirs (ROUTE_VPS) */
	ROUTE_ADMIN, /* the provider's administrators */
	ROUTE_HOST, /* the host's own administrator: the unix socket's caller */
};

#define ROUTE_TCP (1u << 0) /* served over TCP only (sessions: login, logout) */
#define ROUTE_VPS (1u << 1) /* the path parameter names a VPS the caller must see */
#define ROUTE_STREAM (1u << 2) /* the body streams to a file in api.c (an ISO upload) */
#define ROUTE_METRICS (1u << 3) /* the metrics token (--metrics-token-file) may call it too */
#define ROUTE_ENROL (1u << 4) /* open to a session that must enrol in 2FA first */
#define ROUTE_WS (1u << 5) /* a WebSocket to a VPS: audited though a GET (api.c) */

struct call;
typedef enum MHD_Result route_fn(struct call *x);

struct route {
	const char *method;
	const char *path; /* under ROUTE_PREFIX; `{x}` stands for one path segment */
	enum route_who who;
	unsigned int flags;
	route_fn *fn; /* NULL for an ISO's ROUTE_STREAM: api.c answers it */
	const char *action; /* the VPS action a shared handler runs */
};

/* What the table says of a request's method and path. */
struct route_match {
	const struct route *rt; /* NULL: no route for this method and path */
	bool path_known; /* some route has this path (another method: 405) */
	bool anyone; /* a route of this path needs no authentication */
	bool admin_only; /* every route of this path is the administrators' */
	char allow[64]; /* the methods of this path, for 405's `Allow` */
	char arg[ROUTE_ARG_MAX + 1]; /* the path parameter's value */
	char arg2[ROUTE_ARG_MAX + 1]; /* a second one's ("" for none) */
};

/* One request, as the handlers see it. */
struct call {
	struct host *h;
	struct MHD_Connection *c;
	const struct principal *p;
	json_t *body; /* an object (empty without a body) */
	const char *arg; /* the path parameter */
	const char *arg2; /* a second one (a VPS's snapshot), "" for none */
	const struct route *rt;
	bool tls; /* the connection is HTTPS (the session cookie is Secure) */
	bool forwarded; /* sent by a member node (peer.c): answered here, never sent on */
	const char *peer_node; /* that member's name (its certificate's); NULL otherwise */
	const char *url; /* the path asked (without its query) */
	const char *upload; /* ROUTE_STREAM with a handler: the streamed body's file, the handler's */
};

/* The route for a method and a URL (local: the unix socket, where ROUTE_TCP routes are not). */
void route_match(const char *method, const char *url, bool local, struct route_match *m);
/* Answer a request whose caller is authenticated (or needs not be). */
enum MHD_Result route_call(struct call *x, const struct route_match *m);
/*
 * Every route as JSON lines: {"method", "path", "who"}, with "transport": "tcp"
 * for ROUTE_TCP, "vps": true for ROUTE_VPS and "metrics_token": true for
 * ROUTE_METRICS; 0 or -errno.
 */
int routes_print(FILE *f, struct err **err);

/* The handlers, by resource; the table in routes.c is where a route is declared. */
/* routes_vps.c */
route_fn api_vps_get_all, api_vps_post, api_vps_get, api_vps_patch, api_vps_action, api_vps_console,
	api_vps_console_ws, api_vps_vnc, api_vps_usage, api_vps_traffic;
/* routes_net.c: a VPS's firewall */
route_fn api_fw_get, api_fw_put, api_fw_rules_post, api_fw_rule_delete;
/* routes_auth.c */
route_fn api_login, api_logout, api_me_get, api_2fa_post, api_2fa_confirm, api_2fa_disable,
	api_tokens_get, api_tokens_post, api_token_delete, api_users_get, api_users_post,
	api_user_get, api_user_patch, api_user_delete, api_audit_get;
/* routes_host.c */
route_fn api_openapi_get, api_host_get, api_metrics_get, api_policies_get, api_policies_put,
	api_settings_get, api_settings_patch, api_templates_get, api_plans_get, api_plans_post,
	api_plan_get, api_plan_delete, api_isos_get, api_iso_delete, api_template_get,
	api_template_build, api_template_import, api_template_delete, api_template_from;
/* routes_net.c */
route_fn api_networks_get, api_networks_post, api_network_get, api_network_delete;
/* routes_pools.c */
route_fn api_pools_get, api_pools_post, api_pool_delete, api_snapshots_get, api_snapshots_post,
	api_snapshot_delete, api_snapshot_revert, api_webhooks_get, api_webhooks_post,
	api_webhook_delete;
/* routes_backup.c */
route_fn api_repos_get, api_repos_post, api_repo_delete, api_backups_get, api_backups_post,
	api_backup_delete, api_backup_restore, api_backups_restore_as, api_backup_schedule_get,
	api_backup_schedule_put, api_backup_schedule_delete, api_vps_clone;
/* routes_ops.c */
route_fn api_operation_get, api_operation_delete, api_events_get;
/* routes_nodes.c */
route_fn api_migration_stream, api_migration_get;
route_fn api_nodes_get, api_node_tokens_post, api_node_evacuate, api_node_restore, api_node_get,
	api_node_delete;

#endif
