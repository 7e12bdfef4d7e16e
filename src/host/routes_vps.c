// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The VPS routes (route.h): the list, create, show and change, the actions
 * (destroy, start, stop, ...: now, or as an operation with `?async=1`), the
 * console's socket and its WebSocket, and the usage history. What a
 * customer may send in a create or a change is held to here: their VPS's
 * figures come from a plan.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "host/auth.h"
#include "host/life.h"
#include "host/migrate.h"
#include "host/ops.h"
#include "host/peer.h"
#include "host/route.h"
#include "host/traffic.h"
#include "host/usage.h"
#include "host/ws.h"

/* --- the work of the long requests (synchronous or as an operation) -------------------- */

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
		const char *action, *what, *fields[4];
	} t[] = {
		{ "start", "start takes no body", { NULL } },
		{ "restart", "restart takes no body", { NULL } },
		{ "suspend", "suspend takes no body", { NULL } },
		{ "unsuspend", "unsuspend takes no body", { NULL } },
		{ "destroy", "destroy takes no body", { NULL } },
		{ "stop", "stop takes force, timeout", { "force", "timeout", NULL } },
		{ "exec", "exec takes args", { "args", NULL } },
		{ "migrate",
		  "migrate takes to, live, fallback",
		  { "to", "live", "fallback", NULL } },
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
	} else if (!strcmp(action, "rescue")) {
		r = life_rescue(h, name, body, &e);
	} else if (!strcmp(action, "suspend") || !strcmp(action, "unsuspend")) {
		r = life_suspend(h, name, action[0] == 's', &e);
	} else if (!strcmp(action, "plan")) {
		r = life_plan(h, name, body, NULL, &e);
	} else if (!strcmp(action, "migrate")) {
		return done(migrate_vps(h, name, body, user, out, &e), &e, out, 200);
	} else {
		r = err_make(&e, ENOENT,
			     "no such action (start, stop, restart, reinstall, exec, password, "
			     "rescue, suspend, unsuspend, plan)");
	}
	if (r < 0)
		return done(r, &e, out, 200);
	return show_after(h, name, out);
}

/* --- what a customer may send ---------------------------------------------------------- */

/*
 * A create body as p may send it: a customer's VPS is theirs and comes
 * from a plan; an administrator names any user as the owner.
 */
static int create_body(struct host *h, const struct principal *p, bool forwarded, json_t *body,
		       json_t **out, struct err **err)
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
			/* a member placed it here (placement ran there, under these rules) */
			if (!strcmp(k, "node") && forwarded)
				continue;
			if (!strcmp(k, "node"))
				return err_make(err, EPERM,
						"`node`: only an administrator places a VPS");
			if (!strcmp(k, "pool"))
				return err_make(err, EPERM,
						"`pool`: only an administrator picks a pool");
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
		if (strcmp(k, "hostname") && strcmp(k, "onboot") && strcmp(k, "ssh_keys") &&
		    strcmp(k, "iso"))
			return err_make(
				err, EPERM,
				"`%s`: customers change hostname, onboot, ssh_keys and iso; "
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
	int r;

	if (!want_async(c)) {
		status = work(h, action, name, body, p->user, &out);
		return reply(c, status, out);
	}
	if ((r = op_submit(h, p->user, name, action, body, work, &op, &e)) < 0)
		return reply_err(c, r, &e);
	return reply_operation(c, op);
}

/* --- the handlers ---------------------------------------------------------------------- */

/*
 * GET /vps[?limit=N&after=NAME&owner=&node=&state=]: in name order, a page at a time from
 * the store (store_vps_page), so its lock is held for one page's statement and never for
 * the whole list. Without `limit` the whole list, walked in pages of VPS_PAGE.
 */
#define VPS_PAGE 500
#define VPS_PAGE_MAX 1000

static int vps_page(struct host *h, struct store_vps_filter *f, json_t *a, size_t *got,
		    struct err **e)
{
	struct vps *v;
	size_t n;
	json_t *usage;
	int r;

	if ((r = store_vps_page(h->store, f, &v, &n, e)) < 0)
		return r;
	usage = n ? store_samples_last_range(h->store, v[0].name, v[n - 1].name) : NULL;
	for (size_t i = 0; i < n; i++) {
		json_t *j = vps_to_json(&v[i]), *u = json_object_get(usage, v[i].name);

		json_object_set(j, "usage", u ? u : json_null());
		json_array_append_new(a, j);
	}
	*got = n;
	json_decref(usage);
	store_vps_list_free(v, n);
	return 0;
}

enum MHD_Result api_vps_get_all(struct call *x)
{
	const char *limit = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "limit");
	struct store_vps_filter f = {
		.after = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "after"),
		.owner = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "owner"),
		.node = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "node"),
		.state = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "state"),
	};
	char last[VPS_NAME_MAX + 1] = "";
	enum vps_state st;
	struct err *e = NULL;
	json_t *a;
	size_t got;
	long want = 0;
	char *end;
	int r;

	if (limit) {
		errno = 0;
		want = strtol(limit, &end, 10);
		if (!*limit || *end || errno || want < 1 || want > VPS_PAGE_MAX)
			return reply_error(x->c, EINVAL, "`limit`: expected 1 to 1000");
	}
	if (f.after && strlen(f.after) > VPS_NAME_MAX)
		return reply_error(x->c, EINVAL,
				   "`after`: expected a VPS name (the last one seen)");
	if (f.state && vps_state_parse(f.state, &st) < 0)
		return reply_error(x->c, EINVAL, "`state`: expected a VPS state, as `state` shows");
	if ((f.owner && !*f.owner) || (f.node && !*f.node))
		return reply_error(x->c, EINVAL, "`owner`, `node`: expected a name");
	/* a customer sees their own: an `owner` filter of another name finds nothing */
	if (!x->p->admin) {
		if (f.owner && strcmp(f.owner, x->p->user))
			return reply(x->c, 200, json_array());
		f.owner = x->p->user;
	}
	a = json_array();
	if (want) {
		f.limit = (int)want;
		r = vps_page(x->h, &f, a, &got, &e);
	} else {
		f.limit = VPS_PAGE;
		do {
			if ((r = vps_page(x->h, &f, a, &got, &e)) < 0 || got < VPS_PAGE)
				break;
			snprintf(last, sizeof(last), "%s",
				 json_string_value(json_object_get(
					 json_array_get(a, json_array_size(a) - 1), "name")));
			f.after = last;
		} while (1);
	}
	if (r < 0) {
		json_decref(a);
		return reply_err(x->c, r, &e);
	}
	return reply(x->c, 200, a);
}

/*
 * A create in a cluster: made here (body, as create_body left it), or, when
 * placement chose another node, the client's own body (`sent`) sent there as
 * caller p with that node named (peer.c), its answer the answer (*out). A
 * node without a node-to-node listener: the 421 as before.
 */
static unsigned int create_placed_work(struct host *h, json_t *body, json_t *sent,
				       const struct principal *p, json_t **out)
{
	json_t *fwd, *ans = NULL;
	const char *node;
	char location[PEER_LOCATION_MAX];
	unsigned int status = work(h, "create", json_string_value(json_object_get(body, "name")),
				   body, p->user, out),
		     st = 0;
	struct err *e = NULL;
	int r;

	node = json_string_value(json_object_get(json_object_get(*out, "error"), "node"));
	if (status != 421 || !node || !(fwd = json_deep_copy(sent)))
		return status;
	json_object_set_new(fwd, "node", json_string(node));
	r = peer_forward(h, node, p, "POST", ROUTE_PREFIX "/vps", fwd, &st, &ans, location, &e);
	json_decref(fwd);
	if (r == -ENOTSUP) {
		err_free(&e);
		return status;
	}
	json_decref(*out);
	if (r < 0) {
		pr_warn("forward a create to node `%s`: %s", node, err_msg(e));
		err_free(&e);
		*out = json_pack("{s:{s:s, s:s}}", "error", "code", "node_unreachable", "message",
				 "the node chosen for this VPS does not answer; try again");
		return 503;
	}
	*out = ans;
	return st;
}

static enum MHD_Result create_placed(struct call *x, json_t *body)
{
	json_t *out = NULL;
	unsigned int status = create_placed_work(x->h, body, x->body, x->p, &out);

	json_decref(body);
	return reply(x->c, status, out);
}

/*
 * An asynchronous create in a cluster carries, in the operation's own copy
 * of the body (never shown), the caller and the client's body, so that a
 * create placed on another node is sent there from inside the operation.
 * Set after the checks, over anything a client sent under the name.
 */
#define OP_PLACED "\x01placed"

static unsigned int create_placed_op(struct host *h, const char *action, const char *name,
				     json_t *body, const char *user, json_t **out)
{
	json_t *placed = json_incref(json_object_get(body, OP_PLACED));
	json_t *caller = json_object_get(placed, "caller");
	struct principal p = { 0 };
	unsigned int status;

	json_object_del(body, OP_PLACED);
	if (!caller) { /* not reached: api_vps_post sets it */
		json_decref(placed);
		return work(h, action, name, body, user, out);
	}
	snprintf(p.user, sizeof(p.user), "%s",
		 json_string_value(json_object_get(caller, "user")) ?: "");
	snprintf(p.source, sizeof(p.source), "%s",
		 json_string_value(json_object_get(caller, "source")) ?: "");
	p.admin = json_is_true(json_object_get(caller, "admin"));
	p.local = json_is_true(json_object_get(caller, "local"));
	status = create_placed_work(h, body, json_object_get(placed, "body"), &p, out);
	json_decref(placed);
	return status;
}

enum MHD_Result api_vps_post(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	enum MHD_Result ret;
	int r;

	if ((r = create_body(x->h, x->p, x->forwarded, x->body, &out, &e)) < 0)
		return reply_err(x->c, r, &e);
	if (x->h->peer && !x->forwarded && !want_async(x->c))
		return create_placed(x, out);
	if (x->h->peer && !x->forwarded) { /* asynchronous: placed inside the operation */
		json_t *op = NULL;
		json_object_set_new(out, OP_PLACED,
				    json_pack("{s:{s:s, s:b, s:b, s:s}, s:O}", "caller", "user",
					      x->p->user, "admin", x->p->admin, "local",
					      x->p->local, "source", x->p->source, "body",
					      x->body));
		r = op_submit(x->h, x->p->user, json_string_value(json_object_get(out, "name")),
			      "create", out, create_placed_op, &op, &e);
		json_decref(out);
		if (r < 0)
			return reply_err(x->c, r, &e);
		return reply_operation(x->c, op);
	}
	ret = run_work(x->h, x->c, x->p, "create", json_string_value(json_object_get(out, "name")),
		       out);
	json_decref(out);
	return ret;
}

enum MHD_Result api_vps_get(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL, *t;
	int r;

	if ((r = life_show(x->h, x->arg, &out, &e)) < 0)
		return reply_err(x->c, r, &e);
	json_object_set_new(out, "usage", usage_latest(x->h, x->arg));
	if ((t = traffic_json(x->h, x->arg)))
		json_object_del(t, "months"); /* the month's figures; the history at /traffic */
	json_object_set_new(out, "traffic", t ?: json_null());
	return reply(x->c, 200, out);
}

enum MHD_Result api_vps_patch(struct call *x)
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
	if (r >= 0 && (r = patch_allowed(x->p, x->body, &e)) >= 0)
		r = life_set(h, x->arg, x->body, &out, &e);
	return reply_result(x->c, r, &e, 200, out);
}

/* destroy, start, stop, ...: now or as an operation */
enum MHD_Result api_vps_action(struct call *x)
{
	return run_work(x->h, x->c, x->p, x->rt->action, x->arg, x->body);
}

enum MHD_Result api_vps_console(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = life_console(x->h, x->arg, &out, &e);

	return reply_result(x->c, r, &e, 200, out);
}

enum MHD_Result api_vps_console_ws(struct call *x)
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
	ret = ws_bridge(x->c, &(struct ws_target){ sock, "console", NULL }, x->p->user);
	free(sock);
	return ret;
}

/* The screen: RFB over a WebSocket, as noVNC speaks it (docs/screen.md). */
enum MHD_Result api_vps_vnc(struct call *x)
{
	struct err *e = NULL;
	char *sock = NULL;
	enum MHD_Result ret;
	int r;

	if ((r = life_screen(x->h, x->arg, &sock, &e)) < 0)
		return reply_err(x->c, r, &e);
	ret = ws_bridge(x->c, &(struct ws_target){ sock, "screen", "binary" }, x->p->user);
	free(sock);
	return ret;
}

enum MHD_Result api_vps_usage(struct call *x)
{
	const char *since = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "since");
	const char *span = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "span");
	struct err *e = NULL;
	json_t *out = NULL;
	int r;

	if (span) {
		r = usage_history(x->h, x->arg, span, since ? atoll(since) : 0, &out, &e);
		if (r == -ENOENT) {
			err_free(&e);
			return reply_no_such_vps(x->c, x->arg);
		}
		return reply_result(x->c, r, &e, 200, out);
	}
	out = usage_get(x->h, x->arg, since ? atoll(since) : 0);
	return out ? reply(x->c, 200, out) : reply_no_such_vps(x->c, x->arg);
}

enum MHD_Result api_vps_traffic(struct call *x)
{
	json_t *out = traffic_json(x->h, x->arg);

	return out ? reply(x->c, 200, out) : reply_no_such_vps(x->c, x->arg);
}
