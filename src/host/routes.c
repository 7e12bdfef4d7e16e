// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The API's routes (route.h, docs/vpsd.md, docs/auth.md): the table, the
 * one place a route is declared, with every method and path under /api/v1,
 * who may call it and its handler; the matcher and the dispatcher that walk
 * it, and whether a caller may see a VPS. The handlers live by resource:
 * routes_vps.c (VPSes and their actions), routes_auth.c (sessions, the
 * caller, tokens, users, audit), routes_host.c (the API description, the
 * host report, policies, templates, plans, ISOs), routes_net.c (networks),
 * routes_ops.c (operations, events), routes_nodes.c (cluster nodes). The connection (api.c) authenticates
 * the caller and reads the body; docs/openapi.json describes each route,
 * and tests/integration/test_openapi.py holds the two against each other
 * (`vpsd --routes`).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/node.h"
#include "host/route.h"

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
	{ "POST", "/vps/{name}/exec", USER, VPS, api_vps_action, "exec" },
	{ "POST", "/vps/{name}/suspend", ADMIN, VPS, api_vps_action, "suspend" },
	{ "POST", "/vps/{name}/unsuspend", ADMIN, VPS, api_vps_action, "unsuspend" },
	{ "POST", "/vps/{name}/plan", ADMIN, VPS, api_vps_action, "plan" },
	{ "GET", "/vps/{name}/console", HOST, VPS, api_vps_console, NULL },
	{ "GET", "/vps/{name}/console/ws", USER, VPS, api_vps_console_ws, NULL },
	{ "GET", "/vps/{name}/usage", USER, VPS, api_vps_usage, NULL },
	{ "GET", "/vps/{name}/snapshots", USER, VPS, api_snapshots_get, NULL },
	{ "POST", "/vps/{name}/snapshots", USER, VPS, api_snapshots_post, NULL },
	{ "DELETE", "/vps/{name}/snapshots/{snap}", USER, VPS, api_snapshot_delete, NULL },
	{ "POST", "/vps/{name}/snapshots/{snap}/revert", USER, VPS, api_snapshot_revert, NULL },
	{ "GET", "/operations/{id}", USER, 0, api_operation_get, NULL },
	{ "GET", "/host", ADMIN, 0, api_host_get, NULL },
	{ "GET", "/metrics", ADMIN, ROUTE_METRICS, api_metrics_get, NULL },
	{ "GET", "/policies", USER, 0, api_policies_get, NULL },
	{ "PUT", "/policies", ADMIN, 0, api_policies_put, NULL },
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
	{ "GET", "/pools", ADMIN, 0, api_pools_get, NULL },
	{ "POST", "/pools", ADMIN, 0, api_pools_post, NULL },
	{ "DELETE", "/pools/{name}", ADMIN, 0, api_pool_delete, NULL },
};

/*
 * In a cluster, the VPS routes that act on the host are answered by the
 * node that holds the VPS: sent to another node, they answer 421 naming
 * it (node.h). What only reads the store (show, usage) answers anywhere.
 */
/* The 421 answer: what to send where (docs/cluster.md). */
static enum MHD_Result misdirected(struct MHD_Connection *c, const char *vps, const char *node,
				   const char *addr)
{
	char msg[512];

	snprintf(msg, sizeof(msg),
		 "VPS `%s` is on node `%s`: send the request to that node's API%s%s", vps, node,
		 *addr ? ", " : " (it advertises no address)", addr);
	return reply(c, 421,
		     json_pack("{s:{s:s, s:s, s:s, s:s}}", "error", "code", "other_node", "message",
			       msg, "node", node, "address", addr));
}

static bool acts_on_host(const struct route *rt)
{
	return (rt->flags & ROUTE_VPS) &&
	       !(!strcmp(rt->method, "GET") &&
		 (!strcmp(rt->path, "/vps/{name}") || !strcmp(rt->path, "/vps/{name}/usage")));
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
			return misdirected(x->c, x->arg, node, addr);
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
