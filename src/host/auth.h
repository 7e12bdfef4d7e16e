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

#include <errno.h>
#include <stdbool.h>
#include <time.h>
#include <sys/socket.h>

#include <jansson.h>

#include "common/err.h"
#include "host/cidr.h"
#include "host/host.h"

#define AUTH_NAME_MAX 32
#define AUTH_HEX 64 /* 32 random bytes as hex */
#define AUTH_LOCAL_USER "root" /* the unix socket's caller; not a user name anyone can take */

/* The login needs a second factor (401 `totp_required`): the client asks for a code. */
#define AUTH_ETOTP ENOKEY
/* The host requires two-factor login and this user has none (403 `2fa_required`). */
#define AUTH_EENROL EKEYREVOKED

/* Who must log in with a second factor (the require_2fa setting: settings.h). */
enum auth_require { AUTH_REQUIRE_NONE, AUTH_REQUIRE_ADMINS, AUTH_REQUIRE_ALL };

struct principal {
	char user[AUTH_NAME_MAX + 1];
	bool admin;
	bool local; /* the unix socket */
	bool cookie; /* a browser session: writes need the CSRF token */
	bool metrics; /* the metrics token (--metrics-token-file): ROUTE_METRICS routes only */
	char csrf[AUTH_HEX + 1];
	char source[64]; /* the client's address, "unix" for the socket */
	/* a bearer token's bounds: a token it makes stays inside them */
	bool enrol; /* a session of a user who must enrol in 2FA first: only that is open */
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
 * The same checks on a row already read (the store's session_get and token_use rows, or
 * the read copy standby.c keeps for the database's absence); NULL is "no such".
 */
int auth_session_row(struct host *h, json_t *row, const char *source, struct principal *p,
		     struct err **err);
int auth_token_row(json_t *row, const struct sockaddr *sa, const char *source, struct principal *p,
		   struct err **err);
/* BLAKE2b of a secret as hex, the key the store keeps sessions and tokens under. */
void auth_secret_hash(const char *secret, char out[AUTH_HEX + 1]);

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

/*
 * Two-factor login (auth_2fa.c, docs/auth.md): TOTP (RFC 6238) through
 * liboath, and recovery codes. begin (with the user's password again): a
 * new secret, pending until confirm
 * gets a valid code from it; confirm answers the recovery codes, once.
 * disable takes a code (TOTP or recovery). Wrong codes count per user;
 * -EAGAIN sets *retry_after. Admins reset a user's through
 * PATCH /users/NAME {"2fa": false}.
 */
int auth_2fa_begin(struct host *h, const struct principal *p, json_t *body, json_t **out,
		   int *retry_after, struct err **err);
int auth_2fa_confirm(struct host *h, const struct principal *p, json_t *body, json_t **out,
		     int *retry_after, struct err **err);
int auth_2fa_disable(struct host *h, const struct principal *p, json_t *body, int *retry_after,
		     struct err **err);
/* An administrator ends `name`'s second factor (a lost phone and its recovery codes). */
int auth_2fa_reset(struct host *h, const char *name, struct err **err);
/*
 * A code of the user whose secret row (store_user_secret) is `row`: a
 * TOTP code (each time step once) or a recovery code (each once). 0, or
 * -EACCES with why. The caller counts the attempt (auth_rl_take).
 */
int auth_2fa_check(struct host *h, const char *user, json_t *row, const char *code,
		   struct err **err);
/* Whether the host requires a second factor of a user of this role. */
bool auth_2fa_required(struct host *h, bool admin);

/*
 * The attempt limit and the hash slots (auth_limit.c), shared by auth.c
 * and auth_2fa.c: within a window of 60 s, AUTH_RL_FAILS failures from one
 * client prefix, AUTH_RL_USER_FAILS for one user name; a hash waits
 * AUTH_HASH_WAIT_MS for one of the slots, then gets 429.
 */
#define AUTH_RL_FAILS 5
#define AUTH_RL_USER_FAILS 10
#define AUTH_HASH_WAIT_MS 1000
int auth_limit_init(void);
int auth_rl_take(const char *key, int limit, time_t now);
void auth_rl_untake(const char *key, time_t now);
bool auth_hash_slot_get(int wait_ms);
void auth_hash_slot_put(void);

/* The audit log. */
void auth_audit(struct host *h, const char *user, const char *source, const char *method,
		const char *path, unsigned int status);
json_t *auth_audit_list(struct host *h, long long after, int limit);

#endif
