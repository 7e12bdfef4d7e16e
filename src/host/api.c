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
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "host/api.h"
#include "host/life.h"
#include "host/net.h"
#include "host/policy.h"

#define MAX_BODY (1 << 20)

struct req {
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
	size_t l = strlen(n);

	return l > 0 && l <= 64 && n[0] != '.' &&
	       strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == l;
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

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
	struct MHD_Response *r;
	enum MHD_Result ret;

	json_decref(j);
	if (!text)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, int errnum, const char *msg)
{
	unsigned int status = 500;
	const char *code = "internal";

	switch (errnum) {
	case EINVAL:
		status = 400, code = "bad_request";
		break;
	case ENOENT:
		status = 404, code = "not_found";
		break;
	case EEXIST:
		status = 409, code = "exists";
		break;
	case EBUSY:
		status = 409, code = "conflict";
		break;
	case ENOSPC:
		status = 409, code = "no_room"; /* admission: the policy has no room for it */
		break;
	case ETIMEDOUT:
		status = 504, code = "timeout";
		break;
	case E2BIG:
		status = 413, code = "too_large";
		break;
	case ENOSYS:
		status = 405, code = "method_not_allowed";
		break;
	}
	return reply(c, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

/*
 * The chain without the errno's text at its end: "no VPS named `x`" says
 * it all; ": No such file or directory" after it would only confuse.
 */
static enum MHD_Result reply_err(struct MHD_Connection *c, int r, struct err **e)
{
	char msg[2048];
	const char *tail = strerror(-r);
	size_t n, t = strlen(tail);
	enum MHD_Result ret;

	snprintf(msg, sizeof(msg), "%s", err_msg(*e));
	n = strlen(msg);
	if ((-r == EINVAL || -r == ENOENT || -r == EEXIST || -r == EBUSY || -r == ENOSPC) &&
	    n > t + 2 && !strcmp(msg + n - t, tail) && !strncmp(msg + n - t - 2, ": ", 2))
		msg[n - t - 2] = 0;
	ret = reply_error(c, -r, msg);

	err_free(e);
	return ret;
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

/* --- routing --------------------------------------------------------------------------- */

static enum MHD_Result route(struct host *h, struct MHD_Connection *c, const char *url,
			     const char *method, json_t *body)
{
	struct err *e = NULL;
	json_t *out = NULL;
	char name[VPS_NAME_MAX + 2], action[16];
	const char *rest;
	int r;

	if (!strncmp(url, "/api/v1/", 8))
		rest = url + 8;
	else
		return reply_error(c, ENOENT, "no such path (the API is under /api/v1)");

	if (!strcmp(rest, "vps")) {
		if (!strcmp(method, "GET")) {
			struct vps *all;
			size_t n;
			json_t *a = json_array();

			if ((r = store_vps_list(h->store, &all, &n, &e)) < 0)
				return reply_err(c, r, &e);
			for (size_t i = 0; i < n; i++)
				json_array_append_new(a, vps_to_json(&all[i]));
			store_vps_list_free(all, n);
			return reply(c, 200, a);
		}
		if (!strcmp(method, "POST")) {
			if ((r = life_create(h, body, &out, &e)) < 0)
				return reply_err(c, r, &e);
			return reply(c, 201, out);
		}
		return reply_error(c, ENOSYS, "use GET or POST on /api/v1/vps");
	}
	if (!strncmp(rest, "vps/", 4)) {
		const char *p = rest + 4, *slash = strchr(p, '/');
		size_t nl = slash ? (size_t)(slash - p) : strlen(p);

		if (nl == 0 || nl > VPS_NAME_MAX)
			return reply_error(c, ENOENT, "no such VPS");
		memcpy(name, p, nl);
		name[nl] = 0;
		if (vps_check_name(name, &e) < 0)
			return reply_err(c, -ENOENT, &e);
		if (!slash) {
			if (!strcmp(method, "GET"))
				r = life_show(h, name, &out, &e);
			else if (!strcmp(method, "PATCH"))
				r = life_set(h, name, body, &out, &e);
			else if (!strcmp(method, "DELETE"))
				r = life_destroy(h, name, &e);
			else
				return reply_error(c, ENOSYS, "use GET, PATCH or DELETE on a VPS");
			if (r < 0)
				return reply_err(c, r, &e);
			return reply(c, 200, out ? out : json_pack("{s:b}", "ok", 1));
		}
		snprintf(action, sizeof(action), "%.15s", slash + 1);
		if (!strcmp(action, "console") && !strcmp(method, "GET")) {
			if ((r = life_console(h, name, &out, &e)) < 0)
				return reply_err(c, r, &e);
			return reply(c, 200, out);
		}
		if (strcmp(method, "POST"))
			return reply_error(c, ENOSYS, "use POST for actions");
		if (!strcmp(action, "start")) {
			r = life_start(h, name, &e);
		} else if (!strcmp(action, "stop")) {
			json_t *f = json_object_get(body, "force"),
			       *t = json_object_get(body, "timeout");

			if ((f && !json_is_boolean(f)) ||
			    (t && (!json_is_integer(t) || json_integer_value(t) < 1 ||
				   json_integer_value(t) > 3600)))
				return reply_error(c, EINVAL,
						   f && !json_is_boolean(f) ?
							   "`force`: expected true or false" :
							   "`timeout`: expected 1 to 3600 seconds");
			r = life_stop(h, name, json_is_true(f), t ? json_integer_value(t) : 30, &e);
		} else if (!strcmp(action, "restart")) {
			r = life_restart(h, name, &e);
		} else if (!strcmp(action, "reinstall")) {
			r = life_reinstall(h, name, body, &e);
		} else if (!strcmp(action, "exec")) {
			if ((r = life_exec(h, name, body, &out, &e)) < 0)
				return reply_err(c, r, &e);
			return reply(c, 200, out);
		} else {
			return reply_error(
				c, ENOENT,
				"no such action (start, stop, restart, reinstall, exec)");
		}
		if (r < 0)
			return reply_err(c, r, &e);
		if (life_show(h, name, &out, NULL) < 0)
			out = json_pack("{s:b}", "ok", 1);
		return reply(c, 200, out);
	}
	if (!strcmp(rest, "host") && !strcmp(method, "GET"))
		return reply(c, 200, policy_report(h));
	if (!strcmp(rest, "policies")) {
		struct policy p[NR_RES];

		if (!strcmp(method, "GET")) {
			if ((r = policy_get(h, p, &e)) < 0)
				return reply_err(c, r, &e);
			return reply(c, 200, policy_to_json(p));
		}
		if (!strcmp(method, "PUT")) {
			if ((r = policy_put(h, body, &out, &e)) < 0)
				return reply_err(c, r, &e);
			return reply(c, 200, out);
		}
		return reply_error(c, ENOSYS, "use GET or PUT on /api/v1/policies");
	}
	if (!strcmp(rest, "templates") && !strcmp(method, "GET"))
		return reply(c, 200, templates());
	if (!strcmp(rest, "isos") && !strcmp(method, "GET"))
		return reply(c, 200, isos(h));
	if (!strncmp(rest, "isos/", 5) && !strcmp(method, "DELETE")) {
		char p[4200];

		if (!iso_name_ok(rest + 5))
			return reply_error(c, ENOENT, "no such ISO");
		snprintf(p, sizeof(p), "%s/isos/%s.iso", h->data_dir, rest + 5);
		if (life_iso_in_use(h, p))
			return reply_error(c, EBUSY, "the ISO is in use by a VPS");
		if (unlink(p) < 0)
			return reply_error(c, ENOENT, "no such ISO");
		return reply(c, 200, json_pack("{s:b}", "ok", 1));
	}
	if (!strncmp(rest, "events", 6) && !strcmp(method, "GET")) {
		const char *vps = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "vps");
		const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
		const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");

		return reply(c, 200,
			     store_events(h->store, vps, after ? atoll(after) : 0,
					  limit && atoi(limit) > 0 ? atoi(limit) : 1000));
	}
	if (!strcmp(rest, "plans")) {
		if (!strcmp(method, "GET"))
			return reply(c, 200, store_plans(h->store));
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
		if (!strcmp(method, "GET")) {
			out = store_plan_get(h->store, rest + 6);
			return out ? reply(c, 200, out) : reply_error(c, ENOENT, "no such plan");
		}
		if (!strcmp(method, "DELETE")) {
			if ((r = store_plan_delete(h->store, rest + 6, &e)) < 0)
				return reply_err(c, r, &e);
			return reply(c, 200, json_pack("{s:b}", "ok", 1));
		}
		return reply_error(c, ENOSYS, "use GET or DELETE on a plan");
	}
	return reply_error(c, ENOENT, "no such path");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct req *rq = *con_cls;
	json_error_t je;
	json_t *body = NULL;
	enum MHD_Result ret;

	if (!rq) {
		if (!(rq = calloc(1, sizeof(*rq))))
			return MHD_NO;
		rq->iso_fd = -1;
		*con_cls = rq;
		if (!strcmp(method, "PUT") && !strncmp(url, "/api/v1/isos/", 13)) {
			if (!iso_name_ok(url + 13))
				rq->iso_err = EINVAL;
			else
				iso_begin(cls, rq, url + 13);
		}
		return MHD_YES;
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
		if (e == EINVAL)
			return reply_error(c, EINVAL, "an ISO's name is 1-64 of A-Z a-z 0-9 . _ -");
		if (e == E2BIG)
			return reply_error(c, E2BIG, "an ISO may be at most 16 GiB");
		if (e)
			return reply_error(c, EIO, strerror(e));
		store_event(((struct host *)cls)->store, NULL, "iso", url + 13);
		return reply(c, 201,
			     json_pack("{s:s, s:I}", "name", url + 13, "size",
				       (json_int_t)rq->iso_len));
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
	if (rq->too_big)
		return reply_error(c, E2BIG, "the body is larger than 1 MiB");
	if (rq->len) {
		body = json_loadb(rq->body, rq->len, JSON_REJECT_DUPLICATES, &je);
		if (!body) {
			char msg[256];

			snprintf(msg, sizeof(msg), "the body is not JSON: %s (line %d)", je.text,
				 je.line);
			return reply_error(c, EINVAL, msg);
		}
	} else {
		body = json_object();
	}
	ret = route(cls, c, url, method, body);
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
		free(rq->iso_tmp);
		free(rq->iso_path);
		free(rq->body);
		free(rq);
	}
	*con_cls = NULL;
}

struct MHD_Daemon *api_start_unix(struct host *h, const char *path, struct err **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct MHD_Daemon *d;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return err_make(err, ENAMETOOLONG, "socket `%s`", path), NULL;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0660) < 0 ||
	    listen(fd, 64) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return err_make(err, e, "listen on `%s`", path), NULL;
	}
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
			     NULL, NULL, handler, h, MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)900, MHD_OPTION_END);
	if (!d) {
		close(fd);
		return err_make(err, EIO, "start the API on `%s`", path), NULL;
	}
	return d;
}

struct MHD_Daemon *api_start_tcp(struct host *h, const char *addr, unsigned short port,
				 struct err **err)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct MHD_Daemon *d;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return err_make(err, EINVAL, "--tcp: `%s` is not an IPv4 address", addr), NULL;
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, port,
			     NULL, NULL, handler, h, MHD_OPTION_SOCK_ADDR, &sa,
			     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)900, MHD_OPTION_END);
	if (!d)
		return err_make(err, EADDRINUSE, "listen on %s:%u", addr, port), NULL;
	return d;
}
