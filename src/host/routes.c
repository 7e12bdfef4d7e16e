// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The API's routes (route.h, docs/vpsd.md, docs/auth.md): the table of
 * every method and path under /api/v1 with who may call it, the matcher
 * and dispatcher that walk it, and the handlers. The connection (api.c)
 * authenticates the caller and reads the body; docs/openapi.json describes
 * each route, and tests/integration/test_openapi.py holds the two against
 * each other (`vpsd --routes`).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/auth.h"
#include "host/kind.h"
#include "host/life.h"
#include "host/net.h"
#include "host/ops.h"
#include "host/policy.h"
#include "host/reclaim.h"
#include "host/route.h"
#include "host/usage.h"
#include "host/ws.h"

/* A plan body: name plus the plan figures, sizes as in a VPS body. */
static int plan_from_json(json_t *body, json_t **out, struct err **err)
{
	struct vps v;
	json_t *name = json_object_get(body, "name"), *copy;
	int r;

	if (!json_is_string(name) || vps_check_name(json_string_value(name), NULL) < 0)
		return err_make(err, EINVAL, "`name`: expected a plan name (a-z, 0-9, -)");
	copy = json_deep_copy(body);
	json_object_del(copy, "name");
	vps_init(&v);
	r = vps_from_json(&v, copy, false, NULL, err);
	json_decref(copy);
	if (r == 0 && (!v.ram || !v.disk || !v.cpus))
		r = err_make(err, EINVAL, "`%s`: required",
			     !v.ram  ? "ram" :
			     !v.disk ? "disk" :
				       "cpus");
	if (r == 0)
		*out = json_pack("{s:O, s:I, s:I, s:f, s:I, s:i, s:I, s:I}", "name", name, "ram",
				 (json_int_t)v.ram, "swap", (json_int_t)v.swap, "cpus", v.cpus,
				 "disk", (json_int_t)v.disk, "io_weight", v.io_weight, "bw",
				 (json_int_t)v.bw, "pids", (json_int_t)v.pids);
	vps_free(&v);
	return r;
}

/* --- the work of the long requests (synchronous or as an operation) ------------------ */

static unsigned int done(int r, struct err **e, json_t **out, unsigned int ok_status)
{
	unsigned int status = ok_status;

	if (r < 0) {
		json_decref(*out);
		*out = err_json(r, e, &status);
	}
	return status;
}

/* The answer after an action: the VPS as it is now. */
static unsigned int show_after(struct host *h, const char *name, json_t **out)
{
	if (life_show(h, name, out, NULL) < 0)
		*out = json_pack("{s:b}", "ok", 1);
	return 200;
}

/* The fields an action's body may have (an action not here checks its body itself). */
static int action_fields(const char *action, json_t *body, struct err **err)
{
	static const struct {
		const char *action, *what, *fields[3];
	} t[] = {
		{ "start", "start takes no body", { NULL } },
		{ "restart", "restart takes no body", { NULL } },
		{ "suspend", "suspend takes no body", { NULL } },
		{ "unsuspend", "unsuspend takes no body", { NULL } },
		{ "destroy", "destroy takes no body", { NULL } },
		{ "stop", "stop takes force, timeout", { "force", "timeout", NULL } },
		{ "exec", "exec takes args", { "args", NULL } },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(t[i].action, action))
			return vps_only_fields(body, t[i].fields, t[i].what, err);
	return 0;
}

static unsigned int work(struct host *h, const char *action, const char *name, json_t *body,
			 const char *user, json_t **out)
{
	struct err *e = NULL;
	int r;

	*out = NULL;
	if ((r = action_fields(action, body, &e)) < 0)
		return done(r, &e, out, 200);
	if (!strcmp(action, "create"))
		return done(life_create(h, body, out, &e), &e, out, 201);
	if (!strcmp(action, "destroy")) {
		r = life_destroy(h, name, &e);
		if (r == 0)
			*out = json_pack("{s:b}", "ok", 1);
		return done(r, &e, out, 200);
	}
	if (!strcmp(action, "start")) {
		r = life_start(h, name, &e);
	} else if (!strcmp(action, "stop")) {
		json_t *f = json_object_get(body, "force"), *t = json_object_get(body, "timeout");

		if ((f && !json_is_boolean(f)) ||
		    (t && (!json_is_integer(t) || json_integer_value(t) < 1 ||
			   json_integer_value(t) > 3600)))
			r = err_make(&e, EINVAL,
				     f && !json_is_boolean(f) ?
					     "`force`: expected true or false" :
					     "`timeout`: expected 1 to 3600 seconds");
		else
			r = life_stop(h, name, json_is_true(f), t ? json_integer_value(t) : 30, &e);
	} else if (!strcmp(action, "restart")) {
		r = life_restart(h, name, &e);
	} else if (!strcmp(action, "reinstall")) {
		r = life_reinstall(h, name, body, &e);
	} else if (!strcmp(action, "exec")) {
		return done(life_exec(h, name, body, out, &e), &e, out, 200);
	} else if (!strcmp(action, "password")) {
		r = life_password(h, name, body, &e);
	} else if (!strcmp(action, "suspend") || !strcmp(action, "unsuspend")) {
		r = life_suspend(h, name, action[0] == 's', &e);
	} else if (!strcmp(action, "plan")) {
		r = life_plan(h, name, body, NULL, &e);
	} else {
		r = err_make(&e, ENOENT,
			     "no such action (start, stop, restart, reinstall, exec, password, "
			     "suspend, unsuspend, plan)");
	}
	if (r < 0)
		return done(r, &e, out, 200);
	return show_after(h, name, out);
}

/* --- who may do what ------------------------------------------------------------------- */

/*
 * Whether p may see the VPS. A customer asking for someone else's gets the
 * very answer of a VPS that does not exist.
 */
static bool visible(struct host *h, const struct principal *p, const char *name)
{
	struct vps v;
	bool yes;

	if (p->admin)
		return true;
	if (store_vps_get(h->store, name, &v, NULL) < 0)
		return false;
	yes = !strcmp(v.owner, p->user);
	vps_free(&v);
	return yes;
}

static enum MHD_Result no_such_vps(struct MHD_Connection *c, const char *name)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "no VPS named `%s`", name);
	return reply_error(c, ENOENT, msg);
}

/*
 * A create body as p may send it: a customer's VPS is theirs and comes
 * from a plan; an administrator names any user as the owner.
 */
static int create_body(struct host *h, const struct principal *p, json_t *body, json_t **out,
		       struct err **err)
{
	/* what a customer may send; the figures come from the plan */
	static const char *const mine[] = {
		"name",	    "kind",	"engine",	 "boot",   "template", "iso",	"plan",
		"hostname", "ssh_keys", "root_password", "onboot", "network",  "start", NULL
	};
	json_t *owner = json_object_get(body, "owner"), *x;
	const char *k;

	if (!json_is_object(body))
		return err_make(err, EINVAL, "the body must be a JSON object");
	if (!p->admin) {
		json_object_foreach(body, k, x)
		{
			size_t i;

			for (i = 0; mine[i] && strcmp(mine[i], k); i++)
				;
			if (mine[i])
				continue;
			if (!strcmp(k, "owner"))
				return err_make(err, EPERM,
						"`owner`: only an administrator sets the owner");
			if (vps_known_field(k))
				return err_make(err, EPERM,
						"`%s`: a customer's VPS takes its figures from a "
						"`plan`",
						k);
			return err_make(err, EINVAL, "`%s`: unknown field", k);
		}
		if (!json_object_get(body, "plan"))
			return err_make(err, EINVAL, "`plan`: required");
	} else if (owner) {
		if (!json_is_string(owner))
			return err_make(err, EINVAL, "`owner`: expected a user name");
		if (strcmp(json_string_value(owner), AUTH_LOCAL_USER) &&
		    !auth_user_exists(h, json_string_value(owner)))
			return err_make(err, EINVAL, "`owner`: no user named `%.40s`",
					json_string_value(owner));
	}
	*out = json_deep_copy(body);
	if (!owner)
		json_object_set_new(*out, "owner", json_string(p->user));
	return 0;
}

/* A customer's PATCH changes the VPS's identity, never its figures. */
static int patch_allowed(const struct principal *p, json_t *body, struct err **err)
{
	const char *k;
	json_t *x;

	if (p->admin)
		return 0;
	json_object_foreach(body, k, x)
	{
		if (strcmp(k, "hostname") && strcmp(k, "onboot") && strcmp(k, "ssh_keys"))
			return err_make(err, EPERM,
					"`%s`: customers change hostname, onboot and ssh_keys; "
					"the rest is the plan's",
					k);
	}
	return 0;
}

static bool want_async(struct MHD_Connection *c)
{
	const char *a = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "async");

	return a && (!strcmp(a, "1") || !strcmp(a, "true"));
}

/* Run the work now, or as an operation when the client asked for ?async=1. */
static enum MHD_Result run_work(struct host *h, struct MHD_Connection *c, const struct principal *p,
				const char *action, const char *name, json_t *body)
{
	struct err *e = NULL;
	json_t *out = NULL, *op;
	unsigned int status;
	char loc[128];
	int r;

	if (!want_async(c)) {
		status = work(h, action, name, body, p->user, &out);
		return reply(c, status, out);
	}
	if ((r = op_submit(h, p->user, name, action, body, work, &op, &e)) < 0)
		return reply_err(c, r, &e);
	snprintf(loc, sizeof(loc), "/api/v1/operations/%s",
		 json_string_value(json_object_get(op, "id")));
	return reply_hdr(c, 202, json_pack("{s:o}", "operation", op), "Location", loc);
}

/* --- the handlers ----------------------------------------------------------------------- */

static json_t *vps_list(struct host *h, const struct principal *p, struct err **e, int *r)
{
	struct vps *all;
	size_t n;
	json_t *a = json_array(), *usage;

	if ((*r = store_vps_list(h->store, &all, &n, e)) < 0) {
		json_decref(a);
		return NULL;
	}
	usage = usage_latest_all(h);
	for (size_t i = 0; i < n; i++) {
		json_t *j, *u;

		if (!p->admin && strcmp(all[i].owner, p->user))
			continue;
		j = vps_to_json(&all[i]);
		u = json_object_get(usage, all[i].name);
		json_object_set(j, "usage", u ? u : json_null());
		json_array_append_new(a, j);
	}
	json_decref(usage);
	store_vps_list_free(all, n);
	return a;
}

static enum MHD_Result openapi_get(struct call *x)
{
	json_t *doc = x->h->api_doc ? json_load_file(x->h->api_doc, 0, NULL) : NULL;

	return doc ? reply(x->c, 200, doc) : reply_error(x->c, ENOENT, "no API description here");
}

static enum MHD_Result me_get(struct call *x)
{
	json_t *out = json_pack("{s:s, s:s}", "name", x->p->user, "role",
				x->p->admin ? "admin" : "customer");

	if (x->p->cookie)
		json_object_set_new(out, "csrf", json_string(x->p->csrf));
	return reply(x->c, 200, out);
}

static enum MHD_Result vps_get_all(struct call *x)
{
	struct err *e = NULL;
	int r;
	json_t *a = vps_list(x->h, x->p, &e, &r);

	return a ? reply(x->c, 200, a) : reply_err(x->c, r, &e);
}

static enum MHD_Result vps_post(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	enum MHD_Result ret;
	int r;

	if ((r = create_body(x->h, x->p, x->body, &out, &e)) < 0)
		return reply_err(x->c, r, &e);
	ret = run_work(x->h, x->c, x->p, "create", json_string_value(json_object_get(out, "name")),
		       out);
	json_decref(out);
	return ret;
}

static enum MHD_Result vps_get(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r;

	if ((r = life_show(x->h, x->arg, &out, &e)) < 0)
		return reply_err(x->c, r, &e);
	json_object_set_new(out, "usage", usage_latest(x->h, x->arg));
	return reply(x->c, 200, out);
}

static enum MHD_Result vps_patch(struct call *x)
{
	struct host *h = x->h;
	json_t *owner = json_object_get(x->body, "owner"), *out = NULL;
	struct err *e = NULL;
	int r;

	if (owner &&
	    (!json_is_string(owner) || (strcmp(json_string_value(owner), AUTH_LOCAL_USER) &&
					!auth_user_exists(h, json_string_value(owner)))))
		r = err_make(&e, EINVAL, "`owner`: no user named `%.40s`",
			     json_is_string(owner) ? json_string_value(owner) : "?");
	else
		r = 0;
	if (r < 0 || (r = patch_allowed(x->p, x->body, &e)) < 0 ||
	    (r = life_set(h, x->arg, x->body, &out, &e)) < 0)
		return reply_err(x->c, r, &e);
	return reply(x->c, 200, out);
}

/* destroy, start, stop, ...: now or as an operation */
static enum MHD_Result vps_action(struct call *x)
{
	return run_work(x->h, x->c, x->p, x->rt->action, x->arg, x->body);
}

static enum MHD_Result vps_console(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r;

	if ((r = life_console(x->h, x->arg, &out, &e)) < 0)
		return reply_err(x->c, r, &e);
	return reply(x->c, 200, out);
}

static enum MHD_Result vps_console_ws(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	char *sock = NULL;
	enum MHD_Result ret;
	int r;

	if ((r = life_console(x->h, x->arg, &out, &e)) < 0)
		return reply_err(x->c, r, &e);
	if (!json_is_string(json_object_get(out, "path")) ||
	    !(sock = strdup(json_string_value(json_object_get(out, "path"))))) {
		json_decref(out);
		return reply_error(x->c, EBUSY, "the VPS has no console now");
	}
	json_decref(out);
	last_status = 101;
	ret = ws_console(x->c, sock, x->p->user);
	free(sock);
	return ret;
}

static enum MHD_Result vps_usage(struct call *x)
{
	const char *since = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "since");
	json_t *out = usage_get(x->h, x->arg, since ? atoll(since) : 0);

	return out ? reply(x->c, 200, out) : no_such_vps(x->c, x->arg);
}

static enum MHD_Result operation_get(struct call *x)
{
	json_t *out = op_get(x->h, x->arg, x->p->admin ? NULL : x->p->user);

	return out ? reply(x->c, 200, out) : reply_error(x->c, ENOENT, "no such operation");
}

static enum MHD_Result tokens_get(struct call *x)
{
	return reply(x->c, 200, auth_tokens(x->h, x->p));
}

static enum MHD_Result tokens_post(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r;

	if ((r = auth_token_create(x->h, x->p, x->body, &out, &e)) < 0)
		return reply_err(x->c, r, &e);
	return reply(x->c, 201, out);
}

static enum MHD_Result token_delete(struct call *x)
{
	struct err *e = NULL;
	int r;

	if ((r = auth_token_delete(x->h, x->p, x->arg, &e)) < 0)
		return reply_err(x->c, r, &e);
	return reply(x->c, 200, json_pack("{s:b}", "ok", 1));
}

static enum MHD_Result templates_get(struct call *x)
{
	return reply(x->c, 200, kind_templates());
}

static enum MHD_Result plans_get(struct call *x)
{
	return reply(x->c, 200, store_plans(x->h->store));
}

static enum MHD_Result plans_post(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r;

	if ((r = plan_from_json(x->body, &out, &e)) < 0 ||
	    (r = store_plan_put(x->h->store, out, &e)) < 0) {
		json_decref(out);
		return reply_err(x->c, r, &e);
	}
	return reply(x->c, 201, out);
}

static enum MHD_Result plan_get(struct call *x)
{
	json_t *out = store_plan_get(x->h->store, x->arg);

	return out ? reply(x->c, 200, out) : reply_error(x->c, ENOENT, "no such plan");
}

static enum MHD_Result plan_delete(struct call *x)
{
	struct err *e = NULL;
	int r;

	if ((r = store_plan_delete(x->h->store, x->arg, &e)) < 0)
		return reply_err(x->c, r, &e);
	return reply(x->c, 200, json_pack("{s:b}", "ok", 1));
}

static enum MHD_Result policies_get(struct call *x)
{
	struct policy pol[NR_RES];
	struct err *e = NULL;
	int r;

	if ((r = policy_get(x->h, pol, &e)) < 0)
		return reply_err(x->c, r, &e);
	return reply(x->c, 200, policy_to_json(x->h, pol));
}

static enum MHD_Result policies_put(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r;

	if ((r = policy_put(x->h, x->body, &out, &e)) < 0)
		return reply_err(x->c, r, &e);
	return reply(x->c, 200, out);
}

static enum MHD_Result events_get(struct call *x)
{
	struct MHD_Connection *c = x->c;
	const char *vps = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "vps");
	const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
	const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");

	if (vps && !visible(x->h, x->p, vps))
		return no_such_vps(c, vps);
	return reply(c, 200,
		     store_events(x->h->store, vps, x->p->admin ? NULL : x->p->user,
				  after ? atoll(after) : 0,
				  limit && atoi(limit) > 0 ? atoi(limit) : 1000));
}

static enum MHD_Result host_get(struct call *x)
{
	json_t *j = policy_report(x->h);

	/* the policies' figures, and what balloon reclaim (reclaim.c) holds now */
	json_object_set_new(json_object_get(j, "memory"), "reclaim", reclaim_report());
	return reply(x->c, 200, j);
}

static enum MHD_Result audit_get(struct call *x)
{
	const char *after = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "after");
	const char *limit = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "limit");

	return reply(x->c, 200,
		     auth_audit_list(x->h, after ? atoll(after) : 0,
				     limit && atoi(limit) > 0 ? atoi(limit) : 1000));
}

static enum MHD_Result users_get(struct call *x)
{
	return reply(x->c, 200, auth_users(x->h));
}

static enum MHD_Result users_post(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r;

	if ((r = auth_user_add(x->h, x->body, &out, &e)) < 0)
		return reply_err(x->c, r, &e);
	return reply(x->c, 201, out);
}

static enum MHD_Result user_get(struct call *x)
{
	json_t *out = auth_user_get(x->h, x->arg);

	return out ? reply(x->c, 200, out) : reply_error(x->c, ENOENT, "no such user");
}

static enum MHD_Result user_patch(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r;

	if ((r = auth_user_patch(x->h, x->arg, x->body, &out, &e)) < 0)
		return reply_err(x->c, r, &e);
	return reply(x->c, 200, out);
}

static enum MHD_Result user_delete(struct call *x)
{
	struct err *e = NULL;
	int r;

	if ((r = auth_user_delete(x->h, x->arg, &e)) < 0)
		return reply_err(x->c, r, &e);
	return reply(x->c, 200, json_pack("{s:b}", "ok", 1));
}

static enum MHD_Result networks_get(struct call *x)
{
	return reply(x->c, 200, net_list(x->h));
}

static enum MHD_Result networks_post(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r;

	if ((r = net_create(x->h, x->body, &out, &e)) < 0)
		return reply_err(x->c, r, &e);
	return reply(x->c, 201, out);
}

static enum MHD_Result network_get(struct call *x)
{
	json_t *out = net_show(x->h, x->arg);

	return out ? reply(x->c, 200, out) : reply_error(x->c, ENOENT, "no such network");
}

static enum MHD_Result network_delete(struct call *x)
{
	struct err *e = NULL;
	int r;

	if ((r = net_delete(x->h, x->arg, &e)) < 0)
		return reply_err(x->c, r, &e);
	return reply(x->c, 200, json_pack("{s:b}", "ok", 1));
}

/* --- the table ------------------------------------------------------------------------- */

#define ANYONE ROUTE_ANYONE
#define USER ROUTE_USER
#define ADMIN ROUTE_ADMIN
#define HOST ROUTE_HOST
#define VPS ROUTE_VPS

/* Every route; docs/openapi.json describes each (test_openapi.py checks both ways). */
static const struct route routes[] = {
	{ "GET", "/openapi.json", ANYONE, 0, openapi_get, NULL },
	{ "POST", "/login", ANYONE, ROUTE_TCP, api_login, NULL },
	{ "POST", "/logout", USER, ROUTE_TCP, api_logout, NULL },
	{ "GET", "/me", USER, 0, me_get, NULL },
	{ "GET", "/tokens", USER, 0, tokens_get, NULL },
	{ "POST", "/tokens", USER, 0, tokens_post, NULL },
	{ "DELETE", "/tokens/{id}", USER, 0, token_delete, NULL },
	{ "GET", "/users", ADMIN, 0, users_get, NULL },
	{ "POST", "/users", ADMIN, 0, users_post, NULL },
	{ "GET", "/users/{name}", ADMIN, 0, user_get, NULL },
	{ "PATCH", "/users/{name}", ADMIN, 0, user_patch, NULL },
	{ "DELETE", "/users/{name}", ADMIN, 0, user_delete, NULL },
	{ "GET", "/audit", ADMIN, 0, audit_get, NULL },
	{ "GET", "/vps", USER, 0, vps_get_all, NULL },
	{ "POST", "/vps", USER, 0, vps_post, NULL },
	{ "GET", "/vps/{name}", USER, VPS, vps_get, NULL },
	{ "PATCH", "/vps/{name}", USER, VPS, vps_patch, NULL },
	{ "DELETE", "/vps/{name}", USER, VPS, vps_action, "destroy" },
	{ "POST", "/vps/{name}/start", USER, VPS, vps_action, "start" },
	{ "POST", "/vps/{name}/stop", USER, VPS, vps_action, "stop" },
	{ "POST", "/vps/{name}/restart", USER, VPS, vps_action, "restart" },
	{ "POST", "/vps/{name}/reinstall", USER, VPS, vps_action, "reinstall" },
	{ "POST", "/vps/{name}/password", USER, VPS, vps_action, "password" },
	{ "POST", "/vps/{name}/exec", USER, VPS, vps_action, "exec" },
	{ "POST", "/vps/{name}/suspend", ADMIN, VPS, vps_action, "suspend" },
	{ "POST", "/vps/{name}/unsuspend", ADMIN, VPS, vps_action, "unsuspend" },
	{ "POST", "/vps/{name}/plan", ADMIN, VPS, vps_action, "plan" },
	{ "GET", "/vps/{name}/console", HOST, VPS, vps_console, NULL },
	{ "GET", "/vps/{name}/console/ws", USER, VPS, vps_console_ws, NULL },
	{ "GET", "/vps/{name}/usage", USER, VPS, vps_usage, NULL },
	{ "GET", "/operations/{id}", USER, 0, operation_get, NULL },
	{ "GET", "/host", ADMIN, 0, host_get, NULL },
	{ "GET", "/policies", USER, 0, policies_get, NULL },
	{ "PUT", "/policies", ADMIN, 0, policies_put, NULL },
	{ "GET", "/templates", USER, 0, templates_get, NULL },
	{ "GET", "/isos", USER, 0, api_isos_get, NULL },
	{ "PUT", "/isos/{name}", ADMIN, ROUTE_STREAM, NULL, NULL },
	{ "DELETE", "/isos/{name}", ADMIN, 0, api_iso_delete, NULL },
	{ "GET", "/events", USER, 0, events_get, NULL },
	{ "GET", "/plans", USER, 0, plans_get, NULL },
	{ "POST", "/plans", ADMIN, 0, plans_post, NULL },
	{ "GET", "/plans/{name}", USER, 0, plan_get, NULL },
	{ "DELETE", "/plans/{name}", ADMIN, 0, plan_delete, NULL },
	{ "GET", "/networks", ADMIN, 0, networks_get, NULL },
	{ "POST", "/networks", ADMIN, 0, networks_post, NULL },
	{ "GET", "/networks/{name}", ADMIN, 0, network_get, NULL },
	{ "DELETE", "/networks/{name}", ADMIN, 0, network_delete, NULL },
};

#define NR_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* Whether path matches pattern; the `{x}` segment's value goes to arg. */
static bool path_match(const char *pattern, const char *path, char *arg)
{
	while (*pattern) {
		if (*pattern == '{') {
			size_t n = strcspn(path, "/");

			if (n == 0 || n > ROUTE_ARG_MAX)
				return false;
			memcpy(arg, path, n);
			arg[n] = 0;
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
	char arg[ROUTE_ARG_MAX + 1];
	size_t used = 0;

	memset(m, 0, sizeof(*m));
	m->admin_only = true;
	if (strncmp(url, ROUTE_PREFIX "/", strlen(ROUTE_PREFIX) + 1))
		return;
	url += strlen(ROUTE_PREFIX);
	for (size_t i = 0; i < NR_ROUTES; i++) {
		const struct route *rt = &routes[i];

		if ((local && (rt->flags & ROUTE_TCP)) || !path_match(rt->path, url, arg))
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
	/* someone else's VPS answers as one that does not exist, before any other refusal */
	if ((rt->flags & ROUTE_VPS) &&
	    (vps_check_name(x->arg, NULL) < 0 || !visible(x->h, x->p, x->arg)))
		return no_such_vps(x->c, x->arg);
	if (rt->who == ROUTE_ADMIN && !x->p->admin)
		return forbidden(x->c);
	if (rt->who == ROUTE_HOST && !x->p->local)
		return reply_error(
			x->c, EPERM,
			"only the host's administrator (on the unix socket) may do this");
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
