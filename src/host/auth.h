/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Who is asking (docs/auth.md): users with a role, passwords hashed with
 * argon2id (libsodium), browser sessions (an HttpOnly SameSite cookie and
 * a CSRF token), API tokens with an expiry and optional source networks, a
 * login rate limit, and the audit log. The store keeps only hashes of
 * session cookies and tokens.
 *
 * Errors: -EACCES not authenticated (401), -EPERM not allowed (403),
 * -EAGAIN rate limited (429), -EINVAL bad input naming the field, -ENOENT,
 * -EEXIST, -EBUSY.
 */
#ifndef VPS_HOST_AUTH_H
#define VPS_HOST_AUTH_H

#include <stdbool.h>
#include <sys/socket.h>

#include <jansson.h>

#include "common/err.h"
#include "host/cidr.h"
#include "host/host.h"

#define AUTH_NAME_MAX 32
#define AUTH_HEX 64 /* 32 random bytes as hex */
#define AUTH_LOCAL_USER "root" /* the unix socket's caller; not a user name anyone can take */

struct principal {
	char user[AUTH_NAME_MAX + 1];
	bool admin;
	bool local; /* the unix socket */
	bool cookie; /* a browser session: writes need the CSRF token */
	bool metrics; /* the metrics token (--metrics-token-file): ROUTE_METRICS routes only */
	char csrf[AUTH_HEX + 1];
	char source[64]; /* the client's address, "unix" for the socket */
	/* a bearer token's bounds: a token it makes stays inside them */
	long long token_expires; /* Unix time; 0: not a token */
	char token_sources[1280]; /* its `sources` as a JSON list, "[]": anywhere */
};

int auth_init(void);

/* The client's address as text (for the audit log and source checks). */
void auth_source(const struct sockaddr *sa, char *out, size_t size);

/* Users (admin only; the API checks the role). */
json_t *auth_users(struct host *h);
json_t *auth_user_get(struct host *h, const char *name);
int auth_user_add(struct host *h, json_t *body, json_t **out, struct err **err);
int auth_user_patch(struct host *h, const char *name, json_t *body, json_t **out, struct err **err);
int auth_user_delete(struct host *h, const char *name, struct err **err);
/* Whether a user of that name exists (owner checks). */
bool auth_user_exists(struct host *h, const char *name);
/*
 * Whether p may see the VPS named name (an administrator sees every one).
 * A customer asking for someone else's gets the very answer of a VPS that
 * does not exist (reply_no_such_vps).
 */
bool auth_may_see(struct host *h, const struct principal *p, const char *name);
/*
 * 0 when a VPS of `owner` may join network `net`: the host's administrator
 * and admins join any, a customer those the provider gave them (a user's
 * `networks`); else -EPERM naming the network.
 */
int auth_network_allowed(struct host *h, const char *owner, const char *net, struct err **err);

/*
 * Login: on success a new session; cookie receives its secret (hex) and out
 * {"user": {...}, "csrf"}. *retry_after is set with -EAGAIN.
 */
int auth_login(struct host *h, json_t *body, const char *source, char cookie[AUTH_HEX + 1],
	       json_t **out, int *retry_after, struct err **err);
void auth_logout(struct host *h, const char *cookie);
/* Who holds this session cookie / bearer token (0), or -EACCES with why. */
int auth_session(struct host *h, const char *cookie, const char *source, struct principal *p,
		 struct err **err);
int auth_token(struct host *h, const char *token, const struct sockaddr *sa, const char *source,
	       struct principal *p, struct err **err);

/*
 * Whether `token` is the host's metrics token (h->metrics_token), compared
 * in constant time; false when the host has none.
 */
bool auth_metrics_token(struct host *h, const char *token);

/* Tokens: created for p->user (or body "user" by an admin). */
int auth_token_create(struct host *h, const struct principal *p, json_t *body, json_t **out,
		      struct err **err);
json_t *auth_tokens(struct host *h, const struct principal *p);
int auth_token_delete(struct host *h, const struct principal *p, const char *id, struct err **err);

/* The audit log. */
void auth_audit(struct host *h, const char *user, const char *source, const char *method,
		const char *path, unsigned int status);
json_t *auth_audit_list(struct host *h, long long after, int limit);

#endif
