// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The API's routes (route.h, docs/vpsd.md, docs/auth.md): the table, the
 * one place a route is declared, with every method and path under /api/v1,
 * who may call it and its handler; the matcher and the dispatcher that walk
 * it, and whether a caller may see a VPS. The handlers live by resource:
 * routes_vps.c (VPSes and their actions), routes_auth.c (sessions, the
 * caller, tokens, users, audit), routes_host.c (the API description, the
 * host report, policies, settings, templates, plans, ISOs), routes_net.c (networks),
 * routes_ops.c (operations, events), routes_nodes.c (cluster nodes). The connection (api.c) authenticates
 * the caller and reads the body; docs/openapi.json describes each route,
 * and tests/integration/test_openapi.py holds the two against each other
 * (`vpsd --routes`).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "host/node.h"
#include "host/peer.h"
#include "host/route.h"
#include "host/ws.h"

/* --- the table ------------------------------------------------------------------------- */

#define ANYONE ROUTE_ANYONE
#define USER ROUTE_USER
#define ADMIN ROUTE_ADMIN
#define HOST ROUTE_HOST
#define VPS ROUTE_VPS

/* Every route; docs/openapi.json describes each (test_openapi.py checks both ways). */
static const struct route routes[] = {
	{ "GET", "/openapi.json", ANYONE, 0, api_openapi_get, NULL },
	{ "POST", "/login", ANYONE, ROUTE_TCP, api_login, NULL },
	{ "POST", "/logout", USER, ROUTE_TCP | ROUTE_ENROL, api_logout, NULL },
	{ "GET", "/me", USER, ROUTE_ENROL, api_me_get, NULL },
	{ "POST", "/me/2fa", USER, ROUTE_ENROL, api_2fa_post, NULL },
	{ "POST", "/me/2fa/confirm", USER, ROUTE_ENROL, api_2fa_confirm, NULL },
	{ "POST", "/me/2fa/disable", USER, 0, api_2fa_disable, NULL },
	{ "GET", "/tokens", USER, 0, api_tokens_get, NULL },
	{ "POST", "/tokens", USER, 0, api_tokens_post, NULL },
	{ "DELETE", "/tokens/{id}", USER, 0, api_token_delete, NULL },
	{ "GET", "/users", ADMIN, 0, api_users_get, NULL },
	{ "POST", "/users", ADMIN, 0, api_users_post, NULL },
	{ "GET", "/users/{name}", ADMIN, 0, api_user_get, NULL },
	{ "PATCH", "/users/{name}", ADMIN, 0, api_user_patch, NULL },
	{ "DELETE", "/users/{name}", ADMIN, 0, api_user_delete, NULL },
	{ "GET", "/audit", ADMIN, 0, api_audit_get, NULL },
	{ "GET", "/vps", USER, 0, api_vps_get_all, NULL },
	{ "POST", "/vps", USER, 0, api_vps_post, NULL },
	{ "GET", "/vps/{name}", USER, VPS, api_vps_get, NULL },
	{ "PATCH", "/vps/{name}", USER, VPS, api_vps_patch, NULL },
	{ "DELETE", "/vps/{name}", USER, VPS, api_vps_action, "destroy" },
	{ "POST", "/vps/{name}/start", USER, VPS, api_vps_action, "start" },
	{ "POST", "/vps/{name}/stop", USER, VPS, api_vps_action, "stop" },
	{ "POST", "/vps/{name}/restart", USER, VPS, api_vps_action, "restart" },
	{ "POST", "/vps/{name}/reinstall", USER, VPS, api_vps_action, "reinstall" },
	{ "POST", "/vps/{name}/password", USER, VPS, api_vps_action, "password" },
	{ "POST", "/vps/{name}/rescue", USER, VPS, api_vps_action, "rescue" },
	{ "POST", "/vps/{name}/exec", USER, VPS, api_vps_action, "exec" },
	{ "POST", "/vps/{name}/suspend", ADMIN, VPS, api_vps_action, "suspend" },
	{ "POST", "/vps/{name}/unsuspend", ADMIN, VPS, api_vps_action, "unsuspend" },
	{ "POST", "/vps/{name}/plan", ADMIN, VPS, api_vps_action, "plan" },
	{ "POST", "/vps/{name}/migrate", ADMIN, VPS, api_vps_action, "migrate" },
	{ "GET", "/vps/{name}/console", HOST, VPS, api_vps_console, NULL },
	{ "GET", "/vps/{name}/console/ws", USER, VPS | ROUTE_WS, api_vps_console_ws, NULL },
	{ "GET", "/vps/{name}/vnc", USER, VPS | ROUTE_WS, api_vps_vnc, NULL },
	{ "GET", "/vps/{name}/usage", USER, VPS, api_vps_usage, NULL },
	{ "GET", "/vps/{name}/traffic", USER, VPS, api_vps_traffic, NULL },
	{ "GET", "/vps/{name}/firewall", USER, VPS, api_fw_get, NULL },
	{ "PUT", "/vps/{name}/firewall", USER, VPS, api_fw_put, NULL },
	{ "POST", "/vps/{name}/firewall/rules", USER, VPS, api_fw_rules_post, NULL },
	{ "DELETE", "/vps/{name}/firewall/rules/{n}", USER, VPS, api_fw_rule_delete, NULL },
	{ "GET", "/vps/{name}/snapshots", USER, VPS, api_snapshots_get, NULL },
	{ "POST", "/vps/{name}/snapshots", USER, VPS, api_snapshots_post, NULL },
	{ "DELETE", "/vps/{name}/snapshots/{snap}", USER, VPS, api_snapshot_delete, NULL },
	{ "POST", "/vps/{name}/snapshots/{snap}/revert", USER, VPS, api_snapshot_revert, NULL },
	{ "POST", "/vps/{name}/clone", USER, VPS, api_vps_clone, NULL },
	{ "GET", "/vps/{name}/backups", USER, VPS, api_backups_get, NULL },
	{ "POST", "/vps/{name}/backups", USER, VPS, api_backups_post, NULL },
	{ "DELETE", "/vps/{name}/backups/{id}", USER, VPS, api_backup_delete, NULL },
	{ "POST", "/vps/{name}/backups/{id}/restore", USER, VPS, api_backup_restore, NULL },
	{ "POST", "/backups/{id}/restore", USER, 0, api_backups_restore_as, NULL },
	{ "GET", "/vps/{name}/backup-schedule", USER, VPS, api_backup_schedule_get, NULL },
	{ "PUT", "/vps/{name}/backup-schedule", USER, VPS, api_backup_schedule_put, NULL },
	{ "DELETE", "/vps/{name}/backup-schedule", USER, VPS, api_backup_schedule_delete, NULL },
	{ "GET", "/operations/{id}", USER, 0, api_operation_get, NULL },
	{ "DELETE", "/operations/{id}", USER, 0, api_operation_delete, NULL },
	{ "GET", "/host", ADMIN, 0, api_host_get, NULL },
	{ "GET", "/metrics", ADMIN, ROUTE_METRICS, api_metrics_get, NULL },
	{ "GET", "/policies", USER, 0, api_policies_get, NULL },
	{ "PUT", "/policies", ADMIN, 0, api_policies_put, NULL },
	{ "GET", "/settings", ADMIN, 0, api_settings_get, NULL },
	{ "PATCH", "/settings", ADMIN, 0, api_settings_patch, NULL },
	{ "GET", "/templates", USER, 0, api_templates_get, NULL },
	{ "GET", "/templates/{name}", USER, 0, api_template_get, NULL },
	{ "PUT", "/templates/{name}", ADMIN, ROUTE_STREAM, api_template_import, NULL },
	{ "POST", "/templates/{name}/build", ADMIN, 0, api_template_build, NULL },
	{ "POST", "/templates/{name}/from/{vps}", ADMIN, 0, api_template_from, NULL },
	{ "DELETE", "/templates/{name}", ADMIN, 0, api_template_delete, NULL },
	{ "GET", "/isos", USER, 0, api_isos_get, NULL },
	{ "PUT", "/isos/{name}", ADMIN, ROUTE_STREAM, NULL, NULL },
	{ "DELETE", "/isos/{name}", ADMIN, 0, api_iso_delete, NULL },
	{ "GET", "/events", USER, 0, api_events_get, NULL },
	{ "GET", "/plans", USER, 0, api_plans_get, NULL },
	{ "POST", "/plans", ADMIN, 0, api_plans_post, NULL },
	{ "GET", "/plans/{name}", USER, 0, api_plan_get, NULL },
	{ "DELETE", "/plans/{name}", ADMIN, 0, api_plan_delete, NULL },
	{ "GET", "/networks", ADMIN, 0, api_networks_get, NULL },
	{ "POST", "/networks", ADMIN, 0, api_networks_post, NULL },
	{ "GET", "/networks/{name}", ADMIN, 0, api_network_get, NULL },
	{ "DELETE", "/networks/{name}", ADMIN, 0, api_network_delete, NULL },
	{ "GET", "/nodes", ADMIN, 0, api_nodes_get, NULL },
	{ "POST", "/nodes/tokens", ADMIN, 0, api_node_tokens_post, NULL },
	{ "GET", "/nodes/{name}", ADMIN, 0, api_node_get, NULL },
	{ "DELETE", "/nodes/{name}", ADMIN, 0, api_node_delete, NULL },
	{ "POST", "/nodes/{name}/evacuate", ADMIN, 0, api_node_evacuate, NULL },
	{ "POST", "/nodes/{name}/restore", ADMIN, 0, api_node_restore, NULL },
	{ "PUT", "/migrations/{name}", ADMIN, ROUTE_STREAM, NULL, NULL },
	{ "GET", "/migrations/{name}", ADMIN, 0, api_migration_get, NULL },
	{ "GET", "/migrations/{name}/stream", ADMIN, 0, api_migration_stream, NULL },
	{ "GET", "/pools", ADMIN, 0, api_pools_get, NULL },
	{ "POST", "/pools", ADMIN, 0, api_pools_post, NULL },
	{ "DELETE", "/pools/{name}", ADMIN, 0, api_pool_delete, NULL },
	{ "GET", "/repos", ADMIN, 0, api_repos_get, NULL },
	{ "POST", "/repos", ADMIN, 0, api_repos_post, NULL },
	{ "DELETE", "/repos/{name}", ADMIN, 0, api_repo_delete, NULL },
	{ "GET", "/webhooks", USER, 0, api_webhooks_get, NULL },
	{ "POST", "/webhooks", USER, 0, api_webhooks_post, NULL },
	{ "DELETE", "/webhooks/{id}", USER, 0, api_webhook_delete, NULL },
};

/*
 * In a cluster, the VPS routes that act on the host are answered by the
 * node that holds the VPS: sent to another node, they answer 421 naming
 * it (node.h). What only reads the store (show, usage, traffic) answers anywhere.
 */
/* The 421 answer's body: what to send where (docs/cluster.md). */
static json_t *misdirected_json(const char *vps, const char *node, const char *addr)
{
	char msg[512];

	snprintf(msg, sizeof(msg),
		 "VPS `%s` is on node `%s`: send the request to that node's API%s%s", vps, node,
		 *addr ? ", " : " (it advertises no address)", addr);
	return json_pack("{s:{s:s, s:s, s:s, s:s}}", "error", "code", "other_node", "message", msg,
			 "node", node, "address", addr);
}

static enum MHD_Result misdirected(struct MHD_Connection *c, const char *vps, const char *node,
				   const char *addr)
{
	return reply(c, 421, misdirected_json(vps, node, addr));
}

/*
 * Append text to the URL being forwarded, percent-encoded but for the
 * unreserved characters (and `/` when slash): libmicrohttpd hands the path
 * and query decoded, and a CR, LF or space sent on as is would end the
 * forwarded request line and start headers of the customer's own. false:
 * it does not fit.
 */
static bool url_add(char *url, const char *text, bool slash)
{
	size_t n = strlen(url);

	for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
		if (n + 4 >= ROUTE_URL_MAX)
			return false;
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || strchr("-._~", *c) || (slash && *c == '/'))
			url[n++] = (char)*c;
		else
			n += (size_t)snprintf(url + n, 4, "%%%02X", *c);
	}
	url[n] = 0;
	return true;
}

/* One query argument, appended to the URL being forwarded. */
static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	char *url = cls;
	size_t n = strlen(url);

	if (n + 2 >= ROUTE_URL_MAX)
		return MHD_NO;
	url[n] = strchr(url, '?') ? '&' : '?';
	url[n + 1] = 0;
	if (!url_add(url, key, false))
		return MHD_NO;
	if (value && ((n = strlen(url)) + 2 >= ROUTE_URL_MAX ||
		      (url[n] = '=', url[n + 1] = 0, !url_add(url, value, false))))
		return MHD_NO;
	return MHD_YES;
}

/*
 * Send the request to the node that holds the VPS, as this caller, and
 * answer what it answers (peer.c, docs/cluster.md "Forwarding"). A node
 * with no node-to-node listener gets the 421 as before.
 */
static enum MHD_Result forward(struct call *x, const char *node, const char *addr)
{
	char url[ROUTE_URL_MAX], location[PEER_LOCATION_MAX];
	unsigned int status = 0;
	json_t *out = NULL;
	struct err *e = NULL;
	int r;

	*url = 0;
	if (!url_add(url, x->url ? x->url : "", true))
		return reply_error(x->c, EINVAL, "the path is too long");
	MHD_get_connection_values(x->c, MHD_GET_ARGUMENT_KIND, query_arg, url);
	r = peer_forward(x->h, node, x->p, x->rt->method, url, x->body, &status, &out, location,
			 &e);
	if (r == -ENOTSUP) {
		err_free(&e);
		return misdirected(x->c, x->arg, node, addr);
	}
	if (r < 0) {
		pr_warn("forward %s %s to node `%s`: %s", x->rt->method, url, node, err_msg(e));
		err_free(&e);
		/* the customer is not told which node, nor how it failed */
		return reply(x->c, 503,
			     json_pack("{s:{s:s, s:s}}", "error", "code", "node_unreachable",
				       "message",
				       "the node that holds this VPS does not answer; try again"));
	}
	return *location ? reply_hdr(x->c, status, out, "Location", location) :
			   reply(x->c, status, out);
}

/* A console or screen WebSocket asked of a node that does not hold the VPS (ws_forward). */
struct ws_fwd {
	struct call *x;
	const char *node, *addr;
	char url[ROUTE_URL_MAX];
};

static int ws_dial(void *arg, const char *key, const char *protocol, struct peer_stream **ps,
		   json_t **out)
{
	struct ws_fwd *f = arg;
	struct err *e = NULL;
	unsigned int status = 0;
	int r = peer_upgrade(f->x->h, f->node, f->x->p, f->url, key, protocol, ps, &status, out,
			     &e);

	if (r == -ENOTSUP) {
		*out = misdirected_json(f->x->arg, f->node, f->addr);
		r = 421;
	} else if (r < 0) {
		pr_warn("forward the %s of `%s` to node `%s`: %s", f->url, f->x->arg, f->node,
			err_msg(e));
	} else {
		r = (int)status;
	}
	err_free(&e);
	return r;
}

static enum MHD_Result ws_elsewhere(struct call *x, const char *node, const char *addr)
{
	bool screen = !strcmp(x->rt->path, "/vps/{name}/vnc");
	struct ws_fwd f = { .x = x, .node = node, .addr = addr };

	*f.url = 0;
	if (!url_add(f.url, x->url ? x->url : "", true))
		return reply_error(x->c, EINVAL, "the path is too long");
	return ws_forward(x->c,
			  &(struct ws_target){ "", screen ? "screen" : "console",
					       screen ? "binary" : NULL },
			  x->p->user, ws_dial, &f);
}

static bool acts_on_host(const struct route *rt)
{
	return (rt->flags & ROUTE_VPS) &&
	       !(!strcmp(rt->method, "GET") &&
		 (!strcmp(rt->path, "/vps/{name}") || !strcmp(rt->path, "/vps/{name}/usage") ||
		  !strcmp(rt->path, "/vps/{name}/traffic")));
}

#define NR_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* Whether path matches pattern; the `{x}` segments' values go to arg, then arg2. */
static bool path_match(const char *pattern, const char *path, char *arg, char *arg2)
{
	char *to = arg;

	*arg2 = 0;
	while (*pattern) {
		if (*pattern == '{') {
			size_t n = strcspn(path, "/");

			if (n == 0 || n > ROUTE_ARG_MAX || !to)
				return false;
			memcpy(to, path, n);
			to[n] = 0;
			to = to == arg ? arg2 : NULL;
			path += n;
			pattern = strchr(pattern, '}') + 1;
		} else if (*pattern++ != *path++) {
			return false;
		}
	}
	return !*path;
}

void route_match(const char *method, const char *url, bool local, struct route_match *m)
{
	char arg[ROUTE_ARG_MAX + 1], arg2[ROUTE_ARG_MAX + 1];
	size_t used = 0;

	memset(m, 0, sizeof(*m));
	m->admin_only = true;
	if (strncmp(url, ROUTE_PREFIX "/", strlen(ROUTE_PREFIX) + 1))
		return;
	url += strlen(ROUTE_PREFIX);
	for (size_t i = 0; i < NR_ROUTES; i++) {
		const struct route *rt = &routes[i];

		if ((local && (rt->flags & ROUTE_TCP)) || !path_match(rt->path, url, arg, arg2))
			continue;
		m->path_known = true;
		m->anyone |= rt->who == ROUTE_ANYONE;
		m->admin_only &= rt->who == ROUTE_ADMIN;
		if (used < sizeof(m->allow))
			used += snprintf(m->allow + used, sizeof(m->allow) - used, "%s%s",
					 used ? ", " : "", rt->method);
		if (!m->rt && !strcmp(rt->method, method)) {
			m->rt = rt;
			memcpy(m->arg, arg, sizeof(arg));
			memcpy(m->arg2, arg2, sizeof(arg2));
		}
	}
}

enum MHD_Result route_call(struct call *x, const struct route_match *m)
{
	const struct route *rt = m->rt;
	char msg[128];

	if (!rt && !m->path_known)
		return reply_error(x->c, ENOENT,
				   "no such path (the API is under " ROUTE_PREFIX ")");
	if (!rt && m->admin_only && !x->p->admin)
		return forbidden(x->c);
	if (!rt) {
		snprintf(msg, sizeof(msg), "use %s here", m->allow);
		return reply_hdr(x->c, 405,
				 json_pack("{s:{s:s, s:s}}", "error", "code", "method_not_allowed",
					   "message", msg),
				 "Allow", m->allow);
	}
	x->rt = rt;
	x->arg = m->arg;
	x->arg2 = m->arg2;
	/* the host requires 2FA and this session's user has none: enrolment only */
	if (x->p->enrol && !(rt->flags & ROUTE_ENROL))
		return reply_error(x->c, AUTH_EENROL,
				   "this host requires two-factor login: turn it on first "
				   "(`vps 2fa enable`, or POST /api/v1/me/2fa), then log in again");
	/* someone else's VPS answers as one that does not exist, before any other refusal */
	if ((rt->flags & ROUTE_VPS) &&
	    (vps_check_name(x->arg, NULL) < 0 || !auth_may_see(x->h, x->p, x->arg)))
		return reply_no_such_vps(x->c, x->arg);
	if (rt->who == ROUTE_ADMIN && !x->p->admin &&
	    !(x->p->metrics && (rt->flags & ROUTE_METRICS)))
		return forbidden(x->c);
	if (rt->who == ROUTE_HOST && !x->p->local)
		return reply_error(
			x->c, EPERM,
			"only the host's administrator (on the unix socket) may do this");
	if (x->h->node && acts_on_host(rt)) {
		char node[64], addr[256];

		if (node_elsewhere(x->h, x->arg, node, addr) > 0)
			/* the unix socket's console is a path on the holder's host: 421 */
			return x->forwarded || !strcmp(rt->path, "/vps/{name}/console") ?
				       misdirected(x->c, x->arg, node, addr) :
			       (rt->flags & ROUTE_WS) ? ws_elsewhere(x, node, addr) :
							forward(x, node, addr);
	}
	if (!rt->fn) /* ROUTE_STREAM: api.c answers it */
		return reply_error(x->c, EIO, "no handler for this route");
	return rt->fn(x);
}

int routes_print(FILE *f, struct err **err)
{
	static const char *const who[] = {
		[ROUTE_ANYONE] = "anyone",
		[ROUTE_USER] = "user",
		[ROUTE_ADMIN] = "admin",
		[ROUTE_HOST] = "host",
	};

	for (size_t i = 0; i < NR_ROUTES; i++) {
		const struct route *rt = &routes[i];
		json_t *j = json_pack("{s:s, s:s+, s:s}", "method", rt->method, "path",
				      ROUTE_PREFIX, rt->path, "who", who[rt->who]);
		char *text;

		if (j && (rt->flags & ROUTE_TCP))
			json_object_set_new(j, "transport", json_string("tcp"));
		if (j && (rt->flags & ROUTE_VPS))
			json_object_set_new(j, "vps", json_true());
		if (j && (rt->flags & ROUTE_METRICS))
			json_object_set_new(j, "metrics_token", json_true());
		text = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (!text)
			return err_make(err, ENOMEM, "print the routes");
		fprintf(f, "%s\n", text);
		free(text);
	}
	if (fflush(f) < 0)
		return err_make(err, errno, "print the routes");
	return 0;
}
