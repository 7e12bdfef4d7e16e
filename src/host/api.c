// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The REST API (docs/vpsd.md) on libmicrohttpd: a thread per connection
 * (a create or a stop may take seconds), who asks (docs/auth.md), bodies
 * up to 1 MiB, JSON in and out (the answers: reply.c). What each path
 * does is routes.c's table; this file is the connection only, and the
 * one layer above the route table.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <microhttpd.h>
#include <sodium.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "host/api.h"
#include "host/auth.h"
#include "host/life.h"
#include "host/metrics.h"
#include "host/migrate.h"
#include "host/peer.h"
#include "host/reply.h"
#include "host/route.h"
#include "host/standby.h"
#include "host/store.h"
#include "host/tmpl.h"
#include "host/vps.h"
#include "host/web.h"
#include "sys/unix.h"

#define MAX_BODY (1 << 20)

struct req {
	struct route_match m; /* found before the body is read */
	struct principal p;
	int auth_err; /* -errno: refused before the body was read; the message in e */
	struct err *e;
	bool csrf_bad;
	bool forwarded; /* sent by a member on the node-to-node listener */
	char node[64]; /* that member's name (its certificate's) */
	char *body;
	size_t len;
	bool too_big;
	/* PUT /api/v1/isos/NAME: the body streams to a file instead */
	int iso_fd;
	char *iso_tmp, *iso_path;
	unsigned long long iso_len;
	int iso_err;
	/* PUT /api/v1/migrations/NAME (node to node): the same stream, hashed (migrate.c) */
	bool mig;
	bool mig_blocks; /* a live move's blocks file (MIGRATE_BLOCKS_HEADER), not its archive */
	gnutls_hash_hd_t mig_hash;
	char *upload; /* a streamed upload handed to its route's handler */
	/* for the metrics (metrics.c): an API request's method and arrival */
	bool api;
	const char *method; /* one of methods[] */
	struct timespec t0; /* CLOCK_MONOTONIC */
	char url[ROUTE_URL_MAX]; /* the path asked, for forwarding it (peer.c) */
};

/* The methods counted by name; any other a client sends is "other" (the label stays bounded). */
static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS" };

static const char *method_label(const char *m)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (!strcmp(m, methods[i]))
			return methods[i];
	return "other";
}

/*
 * The request answered (its answer queued, last_status): counted before
 * the handler returns, so before the client can read the answer, and a
 * scrape that follows it always sees it.
 */
static void observe(const struct req *rq)
{
	struct timespec t1;

	if (!rq->api || !last_status)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_api_observe(rq->method, rq->m.rt ? rq->m.rt->path : "unmatched", last_status,
			    (double)(t1.tv_sec - rq->t0.tv_sec) +
				    (double)(t1.tv_nsec - rq->t0.tv_nsec) / 1e9);
}

#define MAX_ISO (16ULL << 30)

/*
 * Start streaming an ISO upload into DATA/isos/.NAME.PID.tmp; the upload of
 * a route with a handler (a template import) into DATA/uploads/, which the
 * handler then owns (x->upload).
 */
static void iso_begin(struct host *h, struct req *rq, const char *name)
{
	char dir[4200];

	if (rq->m.rt->fn) {
		snprintf(dir, sizeof(dir), "%s/uploads", h->data_dir);
		mkdir(dir, 0700);
		if (asprintf(&rq->iso_tmp, "%s/.%s.%d.%p.tmp", dir, name, (int)getpid(),
			     (void *)rq) < 0) {
			rq->iso_err = ENOMEM;
			return;
		}
		rq->iso_fd = open(rq->iso_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (rq->iso_fd < 0)
			rq->iso_err = errno;
		return;
	}
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

/* --- the connection: who asks, and the body ---------------------------------------- */

struct api {
	struct host *h;
	bool local; /* the unix socket: its caller is the host's administrator */
	bool tls;
	bool peer; /* the node-to-node listener: members only (peer.c) */
	struct MHD_Daemon *d;
	char *cert, *key, *trust; /* PEM, for libmicrohttpd, which keeps pointers to them */
};

/*
 * Who is asking: the unix socket's caller is the administrator; over TCP a
 * bearer token or a session cookie. 0, or -errno with the message in e.
 */
static int authenticate(struct api *a, struct MHD_Connection *c, const char *method, struct req *rq,
			struct err **e)
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
	if (a->peer) {
		/* a member's certificate, then the caller it names; nothing else opens it */
		const union MHD_ConnectionInfo *ti =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		char node[64];

		if ((r = peer_check_client(a->h, ti ? ti->tls_session : NULL, node, e)) < 0 ||
		    (r = peer_caller(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
								 PEER_CALLER_HEADER),
				     &rq->p, e)) < 0)
			return r;
		rq->forwarded = true;
		snprintf(rq->node, sizeof(rq->node), "%s", node);
		return 0;
	}
	if (rq->m.anyone) /* logging in, the API description */
		return 0;
	/* the metrics token opens the metrics only: asked only on their route */
	if (authz && !strncasecmp(authz, "Bearer ", 7) && rq->m.rt &&
	    (rq->m.rt->flags & ROUTE_METRICS) && auth_metrics_token(a->h, authz + 7)) {
		rq->p.metrics = true;
		return 0;
	}
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

/*
 * The cluster's database away: GET /vps and GET /vps/NAME answer from this node's read
 * copy (standby.c) with its age in `X-Vps-Stale`, the list holding this node's VPSes only;
 * all else, and whatever the copy cannot answer for this caller, is the same 503.
 */
static enum MHD_Result store_away(struct api *a, struct MHD_Connection *c, struct req *rq)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	struct standby_creds cr = {
		.local = a->local,
		.cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "vps_session"),
		.sa = ci ? ci->client_addr : NULL,
		.source = rq->p.source,
	};
	const struct route *rt = rq->m.rt;
	bool one = rt && rt->fn == api_vps_get;
	struct vps *vs = NULL;
	long long age = -1;
	json_t *out = NULL;
	size_t n = 0;
	char v[24];

	if (authz)
		cr.token = strncasecmp(authz, "Bearer ", 7) ? "" : authz + 7;
	if (rt && !a->peer && (one || rt->fn == api_vps_get_all) &&
	    standby_read(a->h, &cr, one ? rq->m.arg : NULL, &vs, &n, &age) == 0) {
		/* no usage or traffic figures: they are the database's */
		out = one ? life_show_vps(a->h, &vs[0]) : json_array();
		if (one)
			json_object_set_new(out, "traffic", json_null());
		for (size_t i = 0; i < n && !one; i++)
			json_array_append_new(out, vps_to_json(&vs[i]));
		for (size_t i = 0; i < n; i++)
			json_object_set_new(one ? out : json_array_get(out, i), "usage",
					    json_null());
		store_vps_list_free(vs, n);
	}
	if (!out)
		return reply_error(c, ENOTCONN,
				   "the store does not answer: the cluster's database (PostgreSQL) "
				   "is unreachable; try again when it is back");
	snprintf(v, sizeof(v), "%lld", age);
	return reply_hdr(c, 200, out, "X-Vps-Stale", v);
}

static enum MHD_Result serve(struct api *a, struct MHD_Connection *c, struct req *rq, json_t *body)
{
	struct call x = { .h = a->h,
			  .c = c,
			  .p = &rq->p,
			  .body = body,
			  .tls = a->tls,
			  .forwarded = rq->forwarded,
			  .peer_node = rq->forwarded ? rq->node : NULL,
			  .url = rq->url,
			  .upload = rq->upload };

	/*
	 * The cluster's database away: every route but the API's description
	 * needs it (a failed session lookup would otherwise answer 401).
	 */
	if (!(rq->m.rt && rq->m.rt->fn == api_openapi_get) && !store_ping(a->h->store))
		return store_away(a, c, rq);
	if (rq->auth_err) {
		unsigned int status;
		json_t *j = err_json(rq->auth_err, &rq->e, &status);

		if (rq->csrf_bad)
			json_object_set_new(json_object_get(j, "error"), "code",
					    json_string("csrf"));
		return reply(c, status, j);
	}
	return route_call(&x, &rq->m);
}

/* Whether the request says its body is JSON (`application/json`, parameters allowed). */
static bool json_content(struct MHD_Connection *c)
{
	const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	size_t n = strlen("application/json");

	return t && !strncasecmp(t, "application/json", n) &&
	       (!t[n] || t[n] == ';' || t[n] == ' ' || t[n] == '\t');
}

/*
 * A migration's archive, or a live move's blocks file, arriving (node to
 * node only): its file, and its hash as it comes.
 */
static void mig_begin(struct api *a, struct MHD_Connection *c, struct req *rq)
{
	struct err *e = NULL;

	if (!a->peer) {
		rq->iso_err = EPERM;
		return;
	}
	rq->mig_blocks = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MIGRATE_BLOCKS_HEADER);
	rq->iso_fd = rq->mig_blocks ? migrate_blocks_incoming(a->h, rq->m.arg, &rq->iso_tmp, &e) :
				      migrate_incoming(a->h, rq->m.arg, &rq->iso_tmp, &e);
	if (rq->iso_fd < 0) {
		rq->iso_err = rq->iso_fd == -EEXIST ? EEXIST : EINVAL;
		rq->iso_fd = -1;
	} else if (gnutls_hash_init(&rq->mig_hash, GNUTLS_DIG_SHA256) < 0) {
		rq->iso_err = EIO;
	} else {
		rq->mig = true;
	}
	err_free(&e);
}

static enum MHD_Result mig_end(struct api *a, struct MHD_Connection *c, struct req *rq)
{
	unsigned char d[32];
	char got[65];
	struct err *e = NULL;
	json_t *out = NULL;
	int r = rq->iso_err;

	gnutls_hash_deinit(rq->mig_hash, d);
	rq->mig = false;
	for (int i = 0; i < 32; i++)
		snprintf(got + 2 * i, 3, "%02x", d[i]);
	if (rq->iso_fd >= 0 && !r && fsync(rq->iso_fd) < 0)
		r = errno;
	close(rq->iso_fd);
	rq->iso_fd = -1;
	if (r) {
		unlink(rq->iso_tmp);
		return reply_error(c, r, "the migration's archive did not arrive whole");
	}
	if (rq->mig_blocks) {
		r = migrate_blocks_in(a->h, rq->m.arg, rq->iso_tmp, got,
				      MHD_lookup_connection_value(c, MHD_HEADER_KIND,
								  MIGRATE_SHA_HEADER),
				      rq->node, &out, &e);
		return reply_result(c, r, &e, 200, out);
	}
	r = migrate_receive(a->h, rq->m.arg, rq->iso_tmp, got,
			    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MIGRATE_SHA_HEADER),
			    rq->iso_len,
			    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MIGRATE_LIVE_HEADER) ?
				    rq->node :
				    NULL,
			    &out, &e);
	return reply_result(c, r, &e, 201, out);
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
		if (!a->local && !a->peer && strncmp(url, "/api/", 5) && strcmp(url, "/api"))
			return MHD_YES;
		rq->api = true;
		rq->method = method_label(method);
		clock_gettime(CLOCK_MONOTONIC, &rq->t0);
		route_match(method, url, a->local, &rq->m);
		snprintf(rq->url, sizeof(rq->url), "%s", url);
		rq->auth_err = authenticate(a, c, method, rq, &rq->e);
		if (rq->m.rt && (rq->m.rt->flags & ROUTE_STREAM)) {
			if (rq->auth_err)
				rq->iso_err = -1; /* the body is drained, the refusal answered */
			else if (!rq->p.admin)
				rq->iso_err = EPERM;
			else if (!strcmp(rq->m.rt->path, "/migrations/{name}"))
				mig_begin(a, c, rq);
			else if (rq->m.rt->fn ? !tmpl_name_ok(rq->m.arg) :
						!life_iso_name_ok(rq->m.arg))
				rq->iso_err = EINVAL;
			else
				iso_begin(a->h, rq, rq->m.arg);
		}
		return MHD_YES;
	}
	if (!a->local && strncmp(url, "/api/", 5) && strcmp(url, "/api")) {
		*upload_size = 0;
		if (a->peer)
			return reply_error(c, ENOENT,
					   "the node-to-node listener serves the API only");
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
			else if (rq->mig)
				gnutls_hash(rq->mig_hash, upload, *upload_size);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->mig) {
		ret = mig_end(a, c, rq);
		auth_audit(a->h, rq->p.user[0] ? rq->p.user : NULL, rq->p.source, method, url,
			   last_status);
		observe(rq);
		return ret;
	}
	if (rq->iso_fd >= 0 || rq->iso_err) {
		int e = rq->iso_err;

		if (rq->iso_fd >= 0) {
			if (!e && (fsync(rq->iso_fd) < 0 ||
				   (rq->iso_path && rename(rq->iso_tmp, rq->iso_path) < 0)))
				e = errno;
			close(rq->iso_fd);
			rq->iso_fd = -1;
			if (e)
				unlink(rq->iso_tmp);
		}
		if (e == -1)
			ret = serve(a, c, rq, NULL);
		else if (e == EPERM)
			ret = forbidden(c);
		else if (e == EINVAL)
			ret = reply_error(c, EINVAL,
					  rq->m.rt->fn ?
						  "a template's name is 1-64 of a-z 0-9 . -" :
						  "an ISO's name is 1-64 of A-Z a-z 0-9 . _ -");
		else if (e == E2BIG)
			ret = reply_error(c, E2BIG, "an upload may be at most 16 GiB");
		else if (e)
			ret = reply_error(c, EIO, strerror(e));
		else if (rq->m.rt->fn) {
			rq->upload = rq->iso_tmp; /* the handler owns it now */
			rq->iso_tmp = NULL;
			ret = serve(a, c, rq, NULL);
			free(rq->upload);
			rq->upload = NULL;
		} else {
			store_event(a->h->store, NULL, "iso", rq->m.arg);
			ret = reply(c, 201,
				    json_pack("{s:s, s:I}", "name", rq->m.arg, "size",
					      (json_int_t)rq->iso_len));
		}
		auth_audit(a->h, rq->p.user[0] ? rq->p.user : NULL, rq->p.source, method, url,
			   last_status);
		observe(rq);
		return ret;
	}
	if (*upload_size) {
		if (!rq->m.rt) { /* no route: answered 404 or 405, the body unread */
			*upload_size = 0;
			return MHD_YES;
		}
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
	if (rq->auth_err || !rq->m.rt) {
		ret = serve(a, c, rq, NULL);
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
		ret = serve(a, c, rq, body);
	}
	/*
	 * the audit log: every change and every login, who, from where, and how
	 * it ended; and every console or screen session asked for (ROUTE_WS)
	 */
	if ((strcmp(method, "GET") && strcmp(method, "HEAD")) ||
	    (rq->m.rt && (rq->m.rt->flags & ROUTE_WS))) {
		const char *who = rq->p.user[0] ? rq->p.user : NULL;

		if (!who && !strcmp(url, "/api/v1/login") &&
		    json_is_string(json_object_get(body, "user")))
			who = json_string_value(json_object_get(body, "user"));
		auth_audit(a->h, who, rq->p.source, method, url, last_status);
	}
	observe(rq);
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
		if (rq->mig) /* a migration's sender stopped (a cancel): its hash too */
			gnutls_hash_deinit(rq->mig_hash, NULL);
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
	struct api *a;
	int fd;

	if (!(a = calloc(1, sizeof(*a))))
		return err_make(err, ENOMEM, "api"), NULL;
	a->h = h;
	a->local = true;
	fd = unix_listen(path, 0660, 0, 64);
	if (fd < 0) {
		free(a);
		return err_make(err, -fd, "listen on `%s`", path), NULL;
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

static struct api *start_tcp(struct host *h, const char *addr, unsigned short port, char *cert_pem,
			     char *key_pem, char *trust, struct err **err);

struct api *api_start_tcp(struct host *h, const char *addr, unsigned short port, const char *cert,
			  const char *key, struct err **err)
{
	char *cert_pem = NULL, *key_pem = NULL;

	if (!!cert != !!key)
		return err_make(err, EINVAL, "--cert and --key go together"), NULL;
	if (cert && (!(cert_pem = load_pem(cert, err)) || !(key_pem = load_pem(key, err)))) {
		free(cert_pem);
		return NULL;
	}
	return start_tcp(h, addr, port, cert_pem, key_pem, NULL, err);
}

struct api *api_start_peer(struct host *h, const char *addr, unsigned short port, struct err **err)
{
	char *cert = h->peer ? strdup(h->peer->cert) : NULL,
	     *key = h->peer ? strdup(h->peer->key) : NULL;
	char *trust = h->peer ? strdup(h->peer->ca) : NULL;
	struct api *a;

	if (!cert || !key || !trust) {
		free(cert);
		free(key);
		free(trust);
		return err_make(err, ENOMEM, "--peer: the node credentials"), NULL;
	}
	if ((a = start_tcp(h, addr, port, cert, key, trust, err)))
		a->peer = true;
	else
		err_wrap(err, "--peer");
	return a;
}

/*
 * The TCP listener's options into o (room for TCP_OPTIONS): TLS with
 * cert_pem and key_pem when given, the client's certificate asked for and
 * checked against trust when that is given too (peer.c).
 */
enum { TCP_OPTIONS = 10 };
static struct MHD_OptionItem *tcp_options(struct MHD_OptionItem *o, struct sockaddr_storage *ss,
					  const char *cert_pem, const char *key_pem,
					  const char *trust)
{
	int n = 0;

	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, ss };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, API_IDLE_S, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, API_CONNECTIONS, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
					  API_CONNECTIONS_PER_ADDR, NULL };
	if (cert_pem) {
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cert_pem };
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key_pem };
		if (trust)
			o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0,
							  (void *)trust };
	}
	o[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	return o;
}

/* Takes cert_pem, key_pem and trust (PEM; NULL: plain HTTP, no client certificates). */
static struct api *start_tcp(struct host *h, const char *addr, unsigned short port, char *cert_pem,
			     char *key_pem, char *trust, struct err **err)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct MHD_OptionItem o[TCP_OPTIONS];
	unsigned int flags = API_FLAGS;
	struct api *a = NULL;

	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		flags |= MHD_USE_IPv6;
	} else {
		err_make(err, EINVAL, "`%s` is not an IP address", addr);
		goto fail;
	}
	if (cert_pem) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			err_make(err, ENOTSUP, "this libmicrohttpd has no TLS");
			goto fail;
		}
		flags |= MHD_USE_TLS;
	}
	if (!(a = calloc(1, sizeof(*a)))) {
		err_make(err, ENOMEM, "api");
		goto fail;
	}
	a->h = h;
	a->tls = cert_pem != NULL;
	a->d = MHD_start_daemon(flags, port, NULL, NULL, handler, a, MHD_OPTION_ARRAY,
				tcp_options(o, &ss, cert_pem, key_pem, trust), MHD_OPTION_END);
	/* libmicrohttpd copies none: they live as long as the daemon */
	if (!a->d) {
		err_make(err, EADDRINUSE, "listen on %s port %u%s", addr, port,
			 cert_pem ? " (or the certificate and key do not load)" : "");
		goto fail;
	}
	a->cert = cert_pem;
	a->key = key_pem;
	a->trust = trust;
	return a;
fail:
	free(a);
	free(cert_pem);
	free(key_pem);
	free(trust);
	return NULL;
}

void api_stop(struct api *a)
{
	if (!a)
		return;
	MHD_stop_daemon(a->d);
	free(a->cert);
	free(a->key);
	free(a->trust);
	free(a);
}
