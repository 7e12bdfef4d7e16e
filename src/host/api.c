// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The REST API (docs/vpsd.md) on libmicrohttpd: a thread per connection
 * (a create or a stop may take seconds), bodies up to 1 MiB, JSON in and
 * out, errors as {"error": {"code", "message"}} with the HTTP status that
 * fits the errno of the failure.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <sodium.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "host/api.h"
#include "host/auth.h"
#include "host/life.h"
#include "host/net.h"
#include "host/ops.h"
#include "host/policy.h"
#include "host/usage.h"
#include "host/web.h"
#include "host/ws.h"

#define MAX_BODY (1 << 20)

struct req {
	struct principal p;
	int auth_err; /* -errno: refused before the body was read; the message in e */
	struct err *e;
	bool csrf_bad;
	char *body;
	size_t len;
	bool too_big;
	/* PUT /api/v1/isos/NAME: the body streams to a file instead */
	int iso_fd;
	char *iso_tmp, *iso_path;
	unsigned long long iso_len;
	int iso_err;
};

#define MAX_ISO (16ULL << 30)

static bool iso_name_ok(const char *n)
{
	return life_iso_name_ok(n);
}

/* Start streaming an ISO upload into DATA/isos/.NAME.PID.tmp. */
static void iso_begin(struct host *h, struct req *rq, const char *name)
{
	char dir[4200];

	snprintf(dir, sizeof(dir), "%s/isos", h->data_dir);
	mkdir(dir, 0755);
	if (asprintf(&rq->iso_path, "%s/%s.iso", dir, name) < 0 ||
	    asprintf(&rq->iso_tmp, "%s/.%s.%d.%p.tmp", dir, name, (int)getpid(), (void *)rq) < 0) {
		rq->iso_err = ENOMEM;
		return;
	}
	rq->iso_fd = open(rq->iso_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (rq->iso_fd < 0)
		rq->iso_err = errno;
}

static json_t *isos(struct host *h)
{
	char dir[4200];
	json_t *a = json_array();
	DIR *d;
	struct dirent *e;

	snprintf(dir, sizeof(dir), "%s/isos", h->data_dir);
	if (!(d = opendir(dir)))
		return a;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		struct stat st;
		char p[4500];

		if (e->d_name[0] == '.' || l < 5 || strcmp(e->d_name + l - 4, ".iso"))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (stat(p, &st) == 0)
			json_array_append_new(a, json_pack("{s:s%, s:I}", "name", e->d_name, l - 4,
							   "size", (json_int_t)st.st_size));
	}
	closedir(d);
	return a;
}

/* The status of the answer queued on this thread's connection (for the audit log). */
static __thread unsigned int last_status;

static enum MHD_Result reply_hdr(struct MHD_Connection *c, unsigned int status, json_t *j,
				 const char *hdr, const char *value)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : strdup("{}");
	struct MHD_Response *r;
	enum MHD_Result ret;

	json_decref(j);
	if (!text)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (hdr)
		MHD_add_response_header(r, hdr, value);
	if (status == 405)
		MHD_add_response_header(r, "Allow", "GET, POST, PUT, PATCH, DELETE");
	last_status = status;
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, json_t *j)
{
	return reply_hdr(c, status, j, NULL, NULL);
}

/* The error object and HTTP status for an errno. */
static json_t *error_json(int errnum, const char *msg, unsigned int *status)
{
	const char *code = "internal";

	*status = 500;
	switch (errnum) {
	case EINVAL:
		*status = 400, code = "bad_request";
		break;
	case EACCES:
		*status = 401, code = "unauthenticated";
		break;
	case EPERM:
		*status = 403, code = "forbidden";
		break;
	case ENOENT:
		*status = 404, code = "not_found";
		break;
	case EEXIST:
		*status = 409, code = "exists";
		break;
	case EBUSY:
		*status = 409, code = "conflict";
		break;
	case ENOSPC:
		*status = 409, code = "no_room"; /* admission: the policy has no room for it */
		break;
	case EOPNOTSUPP:
		*status = 409,
		code = "unenforceable"; /* a limit this host cannot enforce (caps.h) */
		break;
	case LIFE_ESUSPENDED:
		*status = 409, code = "suspended";
		break;
	case E2BIG:
		*status = 413, code = "too_large";
		break;
	case EAGAIN:
		*status = 429, code = "rate_limited";
		break;
	case ETIMEDOUT:
		*status = 504, code = "timeout";
		break;
	case ENOSYS:
		*status = 405, code = "method_not_allowed";
		break;
	case EMEDIUMTYPE:
		*status = 415, code = "unsupported_media_type";
		break;
	}
	return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, int errnum, const char *msg)
{
	unsigned int status;
	json_t *j = error_json(errnum, msg, &status);

	return reply(c, status, j);
}

/*
 * The chain without the errno's text at its end: "no VPS named `x`" says
 * it all; ": No such file or directory" after it would only confuse.
 */
static json_t *err_json(int r, struct err **e, unsigned int *status)
{
	char msg[2048];
	const char *tail = strerror(-r);
	size_t n, t = strlen(tail);
	json_t *j;

	snprintf(msg, sizeof(msg), "%s", err_msg(*e));
	n = strlen(msg);
	if (n > t + 2 && !strcmp(msg + n - t, tail) && !strncmp(msg + n - t - 2, ": ", 2) &&
	    -r != EIO)
		msg[n - t - 2] = 0;
	j = error_json(-r, msg, status);
	err_free(e);
	return j;
}

static enum MHD_Result reply_err(struct MHD_Connection *c, int r, struct err **e)
{
	unsigned int status;
	json_t *j = err_json(r, e, &status);

	return reply(c, status, j);
}

static json_t *templates(void)
{
	return json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "name", "busybox", "kind", "ct",
			 "name", "debian-12", "kind", "ct", "name", "debian-12", "kind", "vm");
}

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
		*out = json_pack("{s:O, s:I, s:I, s:f, s:I, s:i, s:I}", "name", name, "ram",
				 (json_int_t)v.ram, "swap", (json_int_t)v.swap, "cpus", v.cpus,
				 "disk", (json_int_t)v.disk, "io_weight", v.io_weight, "bw",
				 (json_int_t)v.bw);
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
 * The actions on a VPS (POST /vps/NAME/ACTION), and which of them a
 * customer takes on their own VPS. Anything else is no action: a VPS is
 * made by POST /vps alone, whose body goes through create_body().
 */
static int action_allowed(const struct principal *p, const char *a, struct err **err)
{
	static const struct {
		const char *name;
		bool customer;
	} t[] = {
		{ "start", true },     { "stop", true },       { "restart", true },
		{ "reinstall", true }, { "password", true },   { "exec", true },
		{ "suspend", false },  { "unsuspend", false }, { "plan", false },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(t[i].name, a))
			return t[i].customer || p->admin ?
				       0 :
				       err_make(err, EPERM,
						"only the provider's administrators may do this");
	return err_make(err, ENOENT,
			"no such action (start, stop, restart, reinstall, exec, password, suspend, "
			"unsuspend, plan)");
}

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

static enum MHD_Result forbidden(struct MHD_Connection *c)
{
	return reply_error(c, EPERM, "only the provider's administrators may do this");
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

/* --- routing --------------------------------------------------------------------------- */

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

static enum MHD_Result route_vps(struct host *h, struct MHD_Connection *c,
				 const struct principal *p, const char *rest, const char *method,
				 json_t *body)
{
	const char *slash = strchr(rest, '/');
	size_t nl = slash ? (size_t)(slash - rest) : strlen(rest);
	char name[VPS_NAME_MAX + 1], action[16];
	struct err *e = NULL;
	json_t *out = NULL;
	int r;

	if (nl == 0 || nl > VPS_NAME_MAX)
		return reply_error(c, ENOENT, "no such VPS");
	memcpy(name, rest, nl);
	name[nl] = 0;
	if (vps_check_name(name, NULL) < 0 || !visible(h, p, name))
		return no_such_vps(c, name);
	if (!slash) {
		if (!strcmp(method, "GET")) {
			if ((r = life_show(h, name, &out, &e)) < 0)
				return reply_err(c, r, &e);
			json_object_set_new(out, "usage", usage_latest(h, name));
			return reply(c, 200, out);
		}
		if (!strcmp(method, "PATCH")) {
			json_t *owner = json_object_get(body, "owner");

			if (owner && (!json_is_string(owner) ||
				      (strcmp(json_string_value(owner), AUTH_LOCAL_USER) &&
				       !auth_user_exists(h, json_string_value(owner)))))
				r = err_make(&e, EINVAL, "`owner`: no user named `%.40s`",
					     json_is_string(owner) ? json_string_value(owner) :
								     "?");
			else
				r = 0;
			if (r < 0 || (r = patch_allowed(p, body, &e)) < 0 ||
			    (r = life_set(h, name, body, &out, &e)) < 0)
				return reply_err(c, r, &e);
			return reply(c, 200, out);
		}
		if (!strcmp(method, "DELETE"))
			return run_work(h, c, p, "destroy", name, body);
		return reply_error(c, ENOSYS, "use GET, PATCH or DELETE on a VPS");
	}
	if (strlen(slash + 1) >= sizeof(action))
		return reply_error(c, ENOENT, "no such action");
	snprintf(action, sizeof(action), "%s", slash + 1);
	if (!strcmp(action, "console/ws")) {
		char *sock = NULL;

		if (strcmp(method, "GET"))
			return reply_error(c, ENOSYS, "use GET to open the console");
		if ((r = life_console(h, name, &out, &e)) < 0)
			return reply_err(c, r, &e);
		if (!json_is_string(json_object_get(out, "path")) ||
		    !(sock = strdup(json_string_value(json_object_get(out, "path"))))) {
			json_decref(out);
			return reply_error(c, EBUSY, "the VPS has no console now");
		}
		json_decref(out);
		last_status = 101;
		enum MHD_Result ret = ws_console(c, sock, p->user);
		free(sock);
		return ret;
	}
	if (!strcmp(action, "console") || !strcmp(action, "usage")) {
		if (strcmp(method, "GET"))
			return reply_error(c, ENOSYS, "use GET");
		if (action[0] == 'u') {
			const char *since =
				MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");

			out = usage_get(h, name, since ? atoll(since) : 0);
			return out ? reply(c, 200, out) : no_such_vps(c, name);
		}
		if (!p->local)
			return reply_error(c, EPERM,
					   "the console socket is for the host; use console/ws");
		if ((r = life_console(h, name, &out, &e)) < 0)
			return reply_err(c, r, &e);
		return reply(c, 200, out);
	}
	if (strcmp(method, "POST"))
		return reply_error(c, ENOSYS, "use POST for actions");
	if ((r = action_allowed(p, action, &e)) < 0)
		return reply_err(c, r, &e);
	return run_work(h, c, p, action, name, body);
}

static enum MHD_Result route_users(struct host *h, struct MHD_Connection *c, const char *rest,
				   const char *method, json_t *body)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r;

	if (!*rest) {
		if (!strcmp(method, "GET"))
			return reply(c, 200, auth_users(h));
		if (!strcmp(method, "POST")) {
			if ((r = auth_user_add(h, body, &out, &e)) < 0)
				return reply_err(c, r, &e);
			return reply(c, 201, out);
		}
		return reply_error(c, ENOSYS, "use GET or POST on /api/v1/users");
	}
	if (*rest++ != '/')
		return reply_error(c, ENOENT, "no such path");
	if (!strcmp(method, "GET")) {
		out = auth_user_get(h, rest);
		return out ? reply(c, 200, out) : reply_error(c, ENOENT, "no such user");
	}
	if (!strcmp(method, "PATCH")) {
		if ((r = auth_user_patch(h, rest, body, &out, &e)) < 0)
			return reply_err(c, r, &e);
		return reply(c, 200, out);
	}
	if (!strcmp(method, "DELETE")) {
		if ((r = auth_user_delete(h, rest, &e)) < 0)
			return reply_err(c, r, &e);
		return reply(c, 200, json_pack("{s:b}", "ok", 1));
	}
	return reply_error(c, ENOSYS, "use GET, PATCH or DELETE on a user");
}

static enum MHD_Result route(struct host *h, struct MHD_Connection *c, const struct principal *p,
			     const char *url, const char *method, json_t *body)
{
	struct err *e = NULL;
	json_t *out = NULL;
	const char *rest;
	int r;

	if (!strncmp(url, "/api/v1/", 8))
		rest = url + 8;
	else
		return reply_error(c, ENOENT, "no such path (the API is under /api/v1)");

	if (!strcmp(rest, "me") && !strcmp(method, "GET")) {
		out = json_pack("{s:s, s:s}", "name", p->user, "role",
				p->admin ? "admin" : "customer");
		if (p->cookie)
			json_object_set_new(out, "csrf", json_string(p->csrf));
		return reply(c, 200, out);
	}
	if (!strcmp(rest, "vps")) {
		if (!strcmp(method, "GET")) {
			json_t *a = vps_list(h, p, &e, &r);

			return a ? reply(c, 200, a) : reply_err(c, r, &e);
		}
		if (!strcmp(method, "POST")) {
			enum MHD_Result ret;

			if ((r = create_body(h, p, body, &out, &e)) < 0)
				return reply_err(c, r, &e);
			ret = run_work(h, c, p, "create",
				       json_string_value(json_object_get(out, "name")), out);
			json_decref(out);
			return ret;
		}
		return reply_error(c, ENOSYS, "use GET or POST on /api/v1/vps");
	}
	if (!strncmp(rest, "vps/", 4))
		return route_vps(h, c, p, rest + 4, method, body);
	if (!strncmp(rest, "operations/", 11) && !strcmp(method, "GET")) {
		out = op_get(h, rest + 11, p->admin ? NULL : p->user);
		return out ? reply(c, 200, out) : reply_error(c, ENOENT, "no such operation");
	}
	if (!strcmp(rest, "tokens")) {
		if (!strcmp(method, "GET"))
			return reply(c, 200, auth_tokens(h, p));
		if (!strcmp(method, "POST")) {
			if ((r = auth_token_create(h, p, body, &out, &e)) < 0)
				return reply_err(c, r, &e);
			return reply(c, 201, out);
		}
		return reply_error(c, ENOSYS, "use GET or POST on /api/v1/tokens");
	}
	if (!strncmp(rest, "tokens/", 7)) {
		if (strcmp(method, "DELETE"))
			return reply_error(c, ENOSYS, "use DELETE on a token");
		if ((r = auth_token_delete(h, p, rest + 7, &e)) < 0)
			return reply_err(c, r, &e);
		return reply(c, 200, json_pack("{s:b}", "ok", 1));
	}
	if (!strcmp(rest, "templates") && !strcmp(method, "GET"))
		return reply(c, 200, templates());
	if (!strcmp(rest, "isos") && !strcmp(method, "GET"))
		return reply(c, 200, isos(h));
	if (!strcmp(rest, "plans") && !strcmp(method, "GET"))
		return reply(c, 200, store_plans(h->store));
	if (!strncmp(rest, "plans/", 6) && !strcmp(method, "GET")) {
		out = store_plan_get(h->store, rest + 6);
		return out ? reply(c, 200, out) : reply_error(c, ENOENT, "no such plan");
	}
	if (!strcmp(rest, "policies") && !strcmp(method, "GET")) {
		struct policy pol[NR_RES];

		if ((r = policy_get(h, pol, &e)) < 0)
			return reply_err(c, r, &e);
		return reply(c, 200, policy_to_json(h, pol));
	}
	if (!strncmp(rest, "events", 6) && !strcmp(method, "GET")) {
		const char *vps = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "vps");
		const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
		const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");

		if (vps && !visible(h, p, vps))
			return no_such_vps(c, vps);
		return reply(c, 200,
			     store_events(h->store, vps, p->admin ? NULL : p->user,
					  after ? atoll(after) : 0,
					  limit && atoi(limit) > 0 ? atoi(limit) : 1000));
	}

	/* the provider's side */
	if (!p->admin) {
		static const char *const known[] = { "host", "policies", "plans", "networks",
						     "isos", "users",	 "audit", NULL };

		for (size_t i = 0; known[i]; i++) {
			size_t l = strlen(known[i]);

			if (!strncmp(rest, known[i], l) && (!rest[l] || rest[l] == '/'))
				return forbidden(c);
		}
		return reply_error(c, ENOENT, "no such path");
	}
	if (!strcmp(rest, "host") && !strcmp(method, "GET"))
		return reply(c, 200, policy_report(h));
	if (!strcmp(rest, "users") || !strncmp(rest, "users/", 6))
		return route_users(h, c, rest + 5, method, body);
	if (!strcmp(rest, "audit") && !strcmp(method, "GET")) {
		const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
		const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");

		return reply(c, 200,
			     auth_audit_list(h, after ? atoll(after) : 0,
					     limit && atoi(limit) > 0 ? atoi(limit) : 1000));
	}
	if (!strcmp(rest, "policies")) {
		if (!strcmp(method, "PUT")) {
			if ((r = policy_put(h, body, &out, &e)) < 0)
				return reply_err(c, r, &e);
			return reply(c, 200, out);
		}
		return reply_error(c, ENOSYS, "use GET or PUT on /api/v1/policies");
	}
	if (!strncmp(rest, "isos/", 5) && !strcmp(method, "DELETE")) {
		char path[4200];

		if (!iso_name_ok(rest + 5))
			return reply_error(c, ENOENT, "no such ISO");
		snprintf(path, sizeof(path), "%s/isos/%s.iso", h->data_dir, rest + 5);
		if (life_iso_in_use(h, path))
			return reply_error(c, EBUSY, "the ISO is in use by a VPS");
		if (unlink(path) < 0)
			return reply_error(c, ENOENT, "no such ISO");
		return reply(c, 200, json_pack("{s:b}", "ok", 1));
	}
	if (!strcmp(rest, "plans")) {
		if (!strcmp(method, "POST")) {
			if ((r = plan_from_json(body, &out, &e)) < 0 ||
			    (r = store_plan_put(h->store, out, &e)) < 0) {
				json_decref(out);
				return reply_err(c, r, &e);
			}
			return reply(c, 201, out);
		}
		return reply_error(c, ENOSYS, "use GET or POST on /api/v1/plans");
	}
	if (!strcmp(rest, "networks")) {
		if (!strcmp(method, "GET"))
			return reply(c, 200, net_list(h));
		if (!strcmp(method, "POST")) {
			if ((r = net_create(h, body, &out, &e)) < 0)
				return reply_err(c, r, &e);
			return reply(c, 201, out);
		}
		return reply_error(c, ENOSYS, "use GET or POST on /api/v1/networks");
	}
	if (!strncmp(rest, "networks/", 9)) {
		if (!strcmp(method, "GET")) {
			out = net_show(h, rest + 9);
			return out ? reply(c, 200, out) : reply_error(c, ENOENT, "no such network");
		}
		if (!strcmp(method, "DELETE")) {
			if ((r = net_delete(h, rest + 9, &e)) < 0)
				return reply_err(c, r, &e);
			return reply(c, 200, json_pack("{s:b}", "ok", 1));
		}
		return reply_error(c, ENOSYS, "use GET or DELETE on a network");
	}
	if (!strncmp(rest, "plans/", 6)) {
		if (!strcmp(method, "DELETE")) {
			if ((r = store_plan_delete(h->store, rest + 6, &e)) < 0)
				return reply_err(c, r, &e);
			return reply(c, 200, json_pack("{s:b}", "ok", 1));
		}
		return reply_error(c, ENOSYS, "use GET or DELETE on a plan");
	}
	return reply_error(c, ENOENT, "no such path");
}

/* --- the connection: who asks, and the body ---------------------------------------- */

struct api {
	struct host *h;
	bool local; /* the unix socket: its caller is the host's administrator */
	bool tls;
	struct MHD_Daemon *d;
	char *cert, *key; /* PEM, for libmicrohttpd, which keeps pointers to them */
};

/* The cookie that carries a session: HttpOnly, SameSite=Strict, Secure over TLS. */
static void session_cookie(char *out, size_t size, const char *value, bool tls, bool clear)
{
	snprintf(out, size, "vps_session=%s; Path=/; HttpOnly; SameSite=Strict%s%s", value,
		 tls ? "; Secure" : "", clear ? "; Max-Age=0" : "; Max-Age=28800");
}

static enum MHD_Result login(struct api *a, struct MHD_Connection *c, const struct req *rq,
			     json_t *body)
{
	char cookie[AUTH_HEX + 1], hdr[256], retry[16];
	struct err *e = NULL;
	json_t *out = NULL;
	int r, wait = 0;

	r = auth_login(a->h, body, rq->p.source, cookie, &out, &wait, &e);
	if (r == -EAGAIN) {
		unsigned int status;
		json_t *j = err_json(r, &e, &status);

		snprintf(retry, sizeof(retry), "%d", wait);
		return reply_hdr(c, status, j, "Retry-After", retry);
	}
	if (r < 0)
		return reply_err(c, r, &e);
	session_cookie(hdr, sizeof(hdr), cookie, a->tls, false);
	sodium_memzero(cookie, sizeof(cookie));
	return reply_hdr(c, 200, out, "Set-Cookie", hdr);
}

/*
 * Who is asking: the unix socket's caller is the administrator; over TCP a
 * bearer token or a session cookie. 0, or -errno with the message in e.
 */
static int authenticate(struct api *a, struct MHD_Connection *c, const char *url,
			const char *method, struct req *rq, struct err **e)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "vps_session");
	const char *csrf;
	int r;

	memset(&rq->p, 0, sizeof(rq->p));
	if (a->local) {
		snprintf(rq->p.user, sizeof(rq->p.user), AUTH_LOCAL_USER);
		snprintf(rq->p.source, sizeof(rq->p.source), "unix");
		rq->p.admin = rq->p.local = true;
		return 0;
	}
	auth_source(sa, rq->p.source, sizeof(rq->p.source));
	if (!strcmp(url, "/api/v1/login") || !strcmp(url, "/api/v1/openapi.json"))
		return 0;
	if (authz && !strncasecmp(authz, "Bearer ", 7))
		r = auth_token(a->h, authz + 7, sa, rq->p.source, &rq->p, e);
	else if (authz)
		r = err_make(e, EACCES, "`Authorization`: expected `Bearer TOKEN`");
	else if (cookie)
		r = auth_session(a->h, cookie, rq->p.source, &rq->p, e);
	else
		r = err_make(e, EACCES, "log in, or send a token (`Authorization: Bearer TOKEN`)");
	if (r < 0)
		return r;
	if (rq->p.cookie && strcmp(method, "GET") && strcmp(method, "HEAD")) {
		csrf = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
		if (!csrf || strlen(csrf) != AUTH_HEX ||
		    sodium_memcmp(csrf, rq->p.csrf, AUTH_HEX) != 0) {
			rq->csrf_bad = true;
			return err_make(e, EPERM, "`X-CSRF-Token`: missing or wrong");
		}
	}
	return 0;
}

static enum MHD_Result serve(struct api *a, struct MHD_Connection *c, const char *url,
			     const char *method, struct req *rq, json_t *body)
{
	struct host *h = a->h;

	if (rq->auth_err) {
		unsigned int status;
		json_t *j = err_json(rq->auth_err, &rq->e, &status);

		if (rq->csrf_bad)
			json_object_set_new(json_object_get(j, "error"), "code",
					    json_string("csrf"));
		return reply(c, status, j);
	}
	if (!a->local && !strcmp(url, "/api/v1/login")) {
		if (strcmp(method, "POST"))
			return reply_error(c, ENOSYS, "use POST to log in");
		return login(a, c, rq, body);
	}
	if (!strcmp(url, "/api/v1/openapi.json") && !strcmp(method, "GET")) {
		json_t *doc = h->api_doc ? json_load_file(h->api_doc, 0, NULL) : NULL;

		return doc ? reply(c, 200, doc) : reply_error(c, ENOENT, "no API description here");
	}
	if (!a->local && !strcmp(url, "/api/v1/logout")) {
		const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "vps_session");
		char hdr[256];

		if (strcmp(method, "POST"))
			return reply_error(c, ENOSYS, "use POST to log out");
		if (cookie)
			auth_logout(h, cookie);
		session_cookie(hdr, sizeof(hdr), "", a->tls, true);
		return reply_hdr(c, 200, json_pack("{s:b}", "ok", 1), "Set-Cookie", hdr);
	}
	return route(h, c, &rq->p, url, method, body);
}

/* Whether the request says its body is JSON (`application/json`, parameters allowed). */
static bool json_content(struct MHD_Connection *c)
{
	const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	size_t n = strlen("application/json");

	return t && !strncasecmp(t, "application/json", n) &&
	       (!t[n] || t[n] == ';' || t[n] == ' ' || t[n] == '\t');
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct api *a = cls;
	struct req *rq = *con_cls;
	json_error_t je;
	json_t *body = NULL;
	enum MHD_Result ret;

	if (!rq) {
		if (!(rq = calloc(1, sizeof(*rq))))
			return MHD_NO;
		rq->iso_fd = -1;
		*con_cls = rq;
		/* the panel's files: no data in them, no authentication */
		if (!a->local && strncmp(url, "/api/", 5) && strcmp(url, "/api"))
			return MHD_YES;
		rq->auth_err = authenticate(a, c, url, method, rq, &rq->e);
		if (!strcmp(method, "PUT") && !strncmp(url, "/api/v1/isos/", 13)) {
			if (rq->auth_err)
				rq->iso_err = -1; /* the body is drained, the refusal answered */
			else if (!rq->p.admin)
				rq->iso_err = EPERM;
			else if (!iso_name_ok(url + 13))
				rq->iso_err = EINVAL;
			else
				iso_begin(a->h, rq, url + 13);
		}
		return MHD_YES;
	}
	if (!a->local && strncmp(url, "/api/", 5) && strcmp(url, "/api")) {
		*upload_size = 0;
		if (strcmp(method, "GET") && strcmp(method, "HEAD"))
			return reply_error(c, ENOSYS, "use GET for the panel's files");
		return web_serve(c, a->h->web_dir ? a->h->web_dir : "/nonexistent", url);
	}
	if (*upload_size && (rq->iso_fd >= 0 || rq->iso_err)) {
		if (rq->iso_fd >= 0 && !rq->iso_err) {
			rq->iso_len += *upload_size;
			if (rq->iso_len > MAX_ISO)
				rq->iso_err = E2BIG;
			else if (write_all(rq->iso_fd, upload, *upload_size) < 0)
				rq->iso_err = errno;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->iso_fd >= 0 || rq->iso_err) {
		int e = rq->iso_err;

		if (rq->iso_fd >= 0) {
			if (!e && (fsync(rq->iso_fd) < 0 || rename(rq->iso_tmp, rq->iso_path) < 0))
				e = errno;
			close(rq->iso_fd);
			rq->iso_fd = -1;
			if (e)
				unlink(rq->iso_tmp);
		}
		if (e == -1)
			ret = serve(a, c, url, method, rq, NULL);
		else if (e == EPERM)
			ret = forbidden(c);
		else if (e == EINVAL)
			ret = reply_error(c, EINVAL, "an ISO's name is 1-64 of A-Z a-z 0-9 . _ -");
		else if (e == E2BIG)
			ret = reply_error(c, E2BIG, "an ISO may be at most 16 GiB");
		else if (e)
			ret = reply_error(c, EIO, strerror(e));
		else {
			store_event(a->h->store, NULL, "iso", url + 13);
			ret = reply(c, 201,
				    json_pack("{s:s, s:I}", "name", url + 13, "size",
					      (json_int_t)rq->iso_len));
		}
		auth_audit(a->h, rq->p.user[0] ? rq->p.user : NULL, rq->p.source, method, url,
			   last_status);
		return ret;
	}
	if (*upload_size) {
		if (rq->len + *upload_size > MAX_BODY) {
			rq->too_big = true;
		} else {
			char *nb = realloc(rq->body, rq->len + *upload_size + 1);

			if (!nb)
				return MHD_NO;
			rq->body = nb;
			memcpy(rq->body + rq->len, upload, *upload_size);
			rq->len += *upload_size;
			rq->body[rq->len] = 0;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	last_status = 0;
	if (rq->auth_err) {
		ret = serve(a, c, url, method, rq, NULL);
	} else if (rq->too_big) {
		ret = reply_error(c, E2BIG, "the body is larger than 1 MiB");
	} else if (rq->len && !json_content(c)) {
		/* a cross-site form can send text/plain that parses as JSON */
		ret = reply_error(c, EMEDIUMTYPE,
				  "`Content-Type`: a body must be application/json");
	} else if (rq->len &&
		   !(body = json_loadb(rq->body, rq->len, JSON_REJECT_DUPLICATES, &je))) {
		char msg[256];

		snprintf(msg, sizeof(msg), "the body is not JSON: %s (line %d)", je.text, je.line);
		ret = reply_error(c, EINVAL, msg);
	} else {
		if (!body)
			body = json_object();
		ret = serve(a, c, url, method, rq, body);
	}
	/* the audit log: every change and every login, who, from where, and how it ended */
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		const char *who = rq->p.user[0] ? rq->p.user : NULL;

		if (!who && !strcmp(url, "/api/v1/login") &&
		    json_is_string(json_object_get(body, "user")))
			who = json_string_value(json_object_get(body, "user"));
		auth_audit(a->h, who, rq->p.source, method, url, last_status);
	}
	json_decref(body);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	if (rq) {
		if (rq->iso_fd >= 0) { /* the client went away mid-upload */
			close(rq->iso_fd);
			unlink(rq->iso_tmp);
		}
		err_free(&rq->e);
		free(rq->iso_tmp);
		free(rq->iso_path);
		free(rq->body);
		sodium_memzero(&rq->p, sizeof(rq->p));
		free(rq);
	}
	*con_cls = NULL;
}

/*
 * Connections (docs/auth.md, "Connections"): each holds a thread, so TCP
 * has a ceiling in all and per client address, and an idle one (a client
 * that sends nothing, or keeps a connection alive between requests) is
 * closed after API_IDLE_S. A request being served is not idle.
 */
#define API_IDLE_S 30
#define API_CONNECTIONS 256
#define API_CONNECTIONS_PER_ADDR 32

#define API_FLAGS \
	(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_ALLOW_UPGRADE)

struct api *api_start_unix(struct host *h, const char *path, struct err **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct api *a;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return err_make(err, ENAMETOOLONG, "socket `%s`", path), NULL;
	if (!(a = calloc(1, sizeof(*a))))
		return err_make(err, ENOMEM, "api"), NULL;
	a->h = h;
	a->local = true;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0660) < 0 ||
	    listen(fd, 64) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		free(a);
		return err_make(err, e, "listen on `%s`", path), NULL;
	}
	a->d = MHD_start_daemon(API_FLAGS, 0, NULL, NULL, handler, a, MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)API_IDLE_S,
				MHD_OPTION_END);
	if (!a->d) {
		close(fd);
		free(a);
		return err_make(err, EIO, "start the API on `%s`", path), NULL;
	}
	return a;
}

static char *load_pem(const char *path, struct err **err)
{
	char *text = NULL;
	size_t len;

	if (read_file(path, &text, &len) < 0 || !len) {
		free(text);
		err_make(err, errno ? errno : EINVAL, "read `%s`", path);
		return NULL;
	}
	return text;
}

struct api *api_start_tcp(struct host *h, const char *addr, unsigned short port, const char *cert,
			  const char *key, struct err **err)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	char *cert_pem = NULL, *key_pem = NULL;
	unsigned int flags = API_FLAGS;
	struct api *a;

	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		flags |= MHD_USE_IPv6;
	} else {
		return err_make(err, EINVAL, "--tcp: `%s` is not an IP address", addr), NULL;
	}
	if (!!cert != !!key)
		return err_make(err, EINVAL, "--cert and --key go together"), NULL;
	if (cert) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
			return err_make(err, ENOTSUP, "this libmicrohttpd has no TLS"), NULL;
		if (!(cert_pem = load_pem(cert, err)) || !(key_pem = load_pem(key, err))) {
			free(cert_pem);
			return NULL;
		}
		flags |= MHD_USE_TLS;
	}
	if (!(a = calloc(1, sizeof(*a)))) {
		free(cert_pem);
		free(key_pem);
		return err_make(err, ENOMEM, "api"), NULL;
	}
	a->h = h;
	a->tls = cert != NULL;
	if (cert)
		a->d = MHD_start_daemon(flags, port, NULL, NULL, handler, a, MHD_OPTION_SOCK_ADDR,
					&ss, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
					MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)API_IDLE_S,
					MHD_OPTION_CONNECTION_LIMIT, (unsigned int)API_CONNECTIONS,
					MHD_OPTION_PER_IP_CONNECTION_LIMIT,
					(unsigned int)API_CONNECTIONS_PER_ADDR,
					MHD_OPTION_HTTPS_MEM_CERT, cert_pem,
					MHD_OPTION_HTTPS_MEM_KEY, key_pem, MHD_OPTION_END);
	else
		a->d = MHD_start_daemon(flags, port, NULL, NULL, handler, a, MHD_OPTION_SOCK_ADDR,
					&ss, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
					MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)API_IDLE_S,
					MHD_OPTION_CONNECTION_LIMIT, (unsigned int)API_CONNECTIONS,
					MHD_OPTION_PER_IP_CONNECTION_LIMIT,
					(unsigned int)API_CONNECTIONS_PER_ADDR, MHD_OPTION_END);
	/* libmicrohttpd copies neither: they live as long as the daemon */
	if (!a->d) {
		free(cert_pem);
		free(key_pem);
		free(a);
		return err_make(err, EADDRINUSE, "listen on %s port %u%s", addr, port,
				cert ? " (or the certificate and key do not load)" : ""),
		       NULL;
	}
	a->cert = cert_pem;
	a->key = key_pem;
	return a;
}

void api_stop(struct api *a)
{
	if (!a)
		return;
	MHD_stop_daemon(a->d);
	free(a->cert);
	free(a->key);
	free(a);
}
