// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Users, sessions, tokens, who may see a VPS, the login rate limit and the
 * audit log (auth.h, docs/auth.md).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include <sodium.h>

#include "host/auth.h"
#include "host/auth_body.h"
#include "host/store.h"

#define SESSION_TTL (8 * 3600)

int auth_init(void)
{
	if (auth_limit_init() < 0)
		return -1;
	return sodium_init() < 0 ? -1 : 0;
}

void auth_source(const struct sockaddr *sa, char *out, size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (!sa || sa->sa_family == AF_UNIX) {
		snprintf(out, size, "unix");
		return;
	}
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, a, sizeof(a));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, a, sizeof(a));
	snprintf(out, size, "%s", a);
}

/* --- hashing helpers ------------------------------------------------------------------- */

static void random_hex(char out[AUTH_HEX + 1])
{
	unsigned char b[AUTH_HEX / 2];

	randombytes_buf(b, sizeof(b));
	sodium_bin2hex(out, AUTH_HEX + 1, b, sizeof(b));
}

/* The store keeps BLAKE2b of a secret, never the secret. */
static void secret_hash(const char *secret, char out[AUTH_HEX + 1])
{
	unsigned char d[AUTH_HEX / 2];

	crypto_generichash(d, sizeof(d), (const unsigned char *)secret, strlen(secret), NULL, 0);
	sodium_bin2hex(out, AUTH_HEX + 1, d, sizeof(d));
}

/* Hash a new password (the administrator's requests: waits for a slot). */
static int password_hash(const char *pw, char out[crypto_pwhash_STRBYTES], struct err **err)
{
	int r;

	if (!auth_hash_slot_get(-1))
		return err_make(err, errno, "wait to hash the password");
	r = crypto_pwhash_str_alg(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
				  crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13);
	auth_hash_slot_put();
	if (r != 0)
		return err_make(err, ENOMEM, "hash the password (argon2id)");
	return 0;
}

/* --- users ----------------------------------------------------------------------------- */

json_t *auth_users(struct host *h)
{
	return store_users(h->store, NULL);
}

json_t *auth_user_get(struct host *h, const char *name)
{
	json_t *a = store_users(h->store, name), *u = json_incref(json_array_get(a, 0));

	json_decref(a);
	return u;
}

bool auth_user_exists(struct host *h, const char *name)
{
	json_t *u = auth_user_get(h, name);
	bool yes = u != NULL;

	json_decref(u);
	return yes;
}

/* auth_user_body()'s question: does a network of that name exist? */
static bool net_exists(void *opaque, const char *name)
{
	struct host *h = opaque;
	json_t *row = store_nets(h->store, name);
	bool yes = json_array_size(row) > 0;

	json_decref(row);
	return yes;
}

int auth_network_allowed(struct host *h, const char *owner, const char *net, struct err **err)
{
	json_t *u, *n;
	size_t i;
	bool yes;

	if (!strcmp(owner, AUTH_LOCAL_USER))
		return 0;
	if (!(u = auth_user_get(h, owner)))
		return err_make(err, EPERM, "`network`: no user `%.40s` to join it", owner);
	yes = !strcmp(json_string_value(json_object_get(u, "role")), "admin");
	json_array_foreach(json_object_get(u, "networks"), i, n)
		yes |= !strcmp(json_string_value(n), net);
	json_decref(u);
	if (!yes)
		return err_make(err, EPERM,
				"`network`: `%s` is not one of the networks of user `%s` "
				"(the provider gives them: PATCH /api/v1/users/%s {\"networks\"})",
				net, owner, owner);
	return 0;
}

/* A user's quota, the nulls (no limit) left out. */
static int quota_put(struct host *h, const char *name, json_t *quota, struct err **err)
{
	json_t *q = json_object(), *v;
	const char *k;
	char *text;
	int r;

	json_object_foreach(quota, k, v) if (!json_is_null(v)) json_object_set(q, k, v);
	text = json_dumps(q, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(q);
	if (!text)
		return err_make(err, ENOMEM, "quota");
	r = store_user_quota(h->store, name, text, err);
	free(text);
	return r;
}

int auth_user_add(struct host *h, json_t *body, json_t **out, struct err **err)
{
	char hash[crypto_pwhash_STRBYTES];
	struct auth_user_body u;
	char *nets_text = NULL;
	int r;

	if ((r = auth_user_body(body, false, net_exists, h, &u, err)) < 0 ||
	    (r = password_hash(u.password, hash, err)) < 0)
		return r;
	nets_text = u.networks ? json_dumps(u.networks, JSON_COMPACT) : strdup("[]");
	r = store_user_insert(h->store, u.name, u.role, hash, nets_text, time(NULL), err);
	free(nets_text);
	if (r == 0 && u.quota)
		r = quota_put(h, u.name, u.quota, err);
	sodium_memzero(hash, sizeof(hash));
	if (r == 0)
		*out = auth_user_get(h, u.name);
	return r;
}

int auth_user_patch(struct host *h, const char *name, json_t *body, json_t **out, struct err **err)
{
	char hash[crypto_pwhash_STRBYTES] = "";
	struct auth_user_body u;
	char *nets_text = NULL;
	int r;

	if ((r = auth_user_body(body, true, net_exists, h, &u, err)) < 0)
		return r;
	if (!auth_user_exists(h, name))
		return err_make(err, ENOENT, "no user named `%s`", name);
	if (u.password && (r = password_hash(u.password, hash, err)) < 0)
		return r;
	if (u.networks)
		nets_text = json_dumps(u.networks, JSON_COMPACT);
	/*
	 * A new password or a role change ends the user's sessions; a new
	 * password their tokens too (a password changes because it leaked,
	 * and a token made with it may have leaked with it).
	 */
	r = store_user_update(h->store, name, u.password ? hash : NULL, u.role, nets_text,
			      u.password || u.role, u.password != NULL, err);
	free(nets_text);
	if (r == 0 && u.quota)
		r = quota_put(h, name, u.quota, err);
	if (r == 0 && u.reset_2fa)
		r = auth_2fa_reset(h, name, err);
	sodium_memzero(hash, sizeof(hash));
	if (r == 0)
		*out = auth_user_get(h, name);
	return r;
}

int auth_user_delete(struct host *h, const char *name, struct err **err)
{
	return store_user_delete(h->store, name, err);
}

/* --- the login rate limit (auth_limit.c counts) -------------------------------------- */

/* The rate limit's key for a client: its IPv4 address, or its IPv6 address's /64. */
static void rl_prefix(const char *source, char *out, size_t size)
{
	unsigned char a[16];

	if (inet_pton(AF_INET6, source, a) == 1 &&
	    memcmp(a, (const unsigned char[12]){ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff }, 12)) {
		char text[INET6_ADDRSTRLEN];

		memset(a + 8, 0, 8);
		inet_ntop(AF_INET6, a, text, sizeof(text));
		snprintf(out, size, "net %s/64", text);
		return;
	}
	/* IPv4, IPv4-mapped IPv6 (::ffff:a.b.c.d names one IPv4 address) */
	snprintf(out, size, "addr %s", source);
}

/* --- sessions -------------------------------------------------------------------------- */

/* A hash every unknown name is checked against, so timing does not tell names apart. */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_init(void)
{
	char pw[AUTH_HEX + 1];

	random_hex(pw);
	/* not through password_hash(): the login calling this holds a hash slot already */
	if (crypto_pwhash_str_alg(dummy_hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
				  crypto_pwhash_MEMLIMIT_INTERACTIVE,
				  crypto_pwhash_ALG_ARGON2ID13) != 0)
		dummy_hash[0] = 0;
}

int auth_login(struct host *h, json_t *body, const char *source, char cookie[AUTH_HEX + 1],
	       json_t **out, int *retry_after, struct err **err)
{
	static const char *const keys[] = { "user", "password", "totp", NULL };
	json_t *user = json_object_get(body, "user"), *pw = json_object_get(body, "password"),
	       *code = json_object_get(body, "totp");
	char key[80], ukey[80], hash[crypto_pwhash_STRBYTES] = "", role[16] = "", id[AUTH_HEX + 1],
				csrf[AUTH_HEX + 1];
	time_t now = time(NULL);
	json_t *secret;
	bool ok, enrol;
	int r;

	if ((r = vps_only_fields(body, keys, "login takes user, password and totp", err)) < 0)
		return r;
	if (code && (!json_is_string(code) || json_string_length(code) > 64))
		return err_make(err, EINVAL, "`totp`: expected the authenticator's code");
	if (!json_is_string(user) || !json_string_length(user) ||
	    json_string_length(user) > AUTH_NAME_MAX)
		return err_make(err, EINVAL, "`user`: expected a user name");
	if (!json_is_string(pw) || json_string_length(pw) > AUTH_PASSWORD_MAX)
		return err_make(err, EINVAL, "`password`: expected a string");

	rl_prefix(source, key, sizeof(key));
	snprintf(ukey, sizeof(ukey), "user %s", json_string_value(user));
	if ((*retry_after = auth_rl_take(key, AUTH_RL_FAILS, now)) > 0)
		return err_make(err, EAGAIN, "too many failed logins from %s; try again in %d s",
				source, *retry_after);
	if ((*retry_after = auth_rl_take(ukey, AUTH_RL_USER_FAILS, now)) > 0) {
		auth_rl_untake(key, now);
		return err_make(err, EAGAIN,
				"too many failed logins for this user; try again in %d s",
				*retry_after);
	}
	if (!auth_hash_slot_get(AUTH_HASH_WAIT_MS)) {
		auth_rl_untake(key, now);
		auth_rl_untake(ukey, now);
		*retry_after = 1;
		return err_make(err, EAGAIN, "too many logins at once; try again in 1 s");
	}

	if ((secret = store_user_secret(h->store, json_string_value(user)))) {
		snprintf(hash, sizeof(hash), "%s",
			 json_string_value(json_object_get(secret, "hash")));
		snprintf(role, sizeof(role), "%s",
			 json_string_value(json_object_get(secret, "role")));
	}

	/* outside the store's lock: argon2id takes its time and memory on purpose */
	pthread_once(&dummy_once, dummy_init);
	ok = crypto_pwhash_str_verify(*hash ? hash : dummy_hash, json_string_value(pw),
				      json_string_length(pw)) == 0 &&
	     *hash;
	auth_hash_slot_put();
	if (!ok) {
		json_decref(secret);
		return err_make(err, EACCES, "wrong user name or password");
	}
	/*
	 * The second factor: a wrong code stays counted as a failed login (the
	 * same limits hold the code's guesser); no code yet is not a failure,
	 * the client asks for one and comes back.
	 */
	if (json_object_get(secret, "totp")) {
		if (!code) {
			auth_rl_untake(key, now);
			auth_rl_untake(ukey, now);
			json_decref(secret);
			return err_make(err, AUTH_ETOTP,
					"user `%s` logs in with a second factor: send `totp`, the "
					"authenticator's code or a recovery code",
					json_string_value(user));
		}
		r = auth_2fa_check(h, json_string_value(user), secret, json_string_value(code),
				   err);
		if (r < 0) {
			json_decref(secret);
			return r;
		}
	}
	enrol = !json_object_get(secret, "totp") && auth_2fa_required(h, !strcmp(role, "admin"));
	json_decref(secret);
	auth_rl_untake(key, now);
	auth_rl_untake(ukey, now);

	random_hex(cookie);
	random_hex(csrf);
	secret_hash(cookie, id);
	r = store_session_insert(h->store, id, json_string_value(user), csrf, source, now,
				 now + SESSION_TTL, err);
	if (r == 0)
		*out = json_pack("{s:{s:O, s:s}, s:s, s:I}", "user", "name", user, "role", role,
				 "csrf", csrf, "expires", (json_int_t)(now + SESSION_TTL));
	/* the session opens only enrolment: the panel and the CLI say so */
	if (r == 0 && enrol)
		json_object_set_new(*out, "2fa_required", json_true());
	return r;
}

void auth_logout(struct host *h, const char *cookie)
{
	char id[AUTH_HEX + 1];

	secret_hash(cookie, id);
	store_session_delete(h->store, id);
}

int auth_session_row(struct host *h, json_t *row, const char *source, struct principal *p,
		     struct err **err)
{
	char from[sizeof(p->source)];

	if (!row)
		return err_make(err, EACCES, "the session has expired or ended; log in again");
	snprintf(from, sizeof(from), "%s", source); /* source may be p->source */
	memset(p, 0, sizeof(*p));
	snprintf(p->source, sizeof(p->source), "%s", from);
	snprintf(p->user, sizeof(p->user), "%s", json_string_value(json_object_get(row, "user")));
	p->admin = !strcmp(json_string_value(json_object_get(row, "role")), "admin");
	snprintf(p->csrf, sizeof(p->csrf), "%s", json_string_value(json_object_get(row, "csrf")));
	p->cookie = true;
	p->enrol = !json_is_true(json_object_get(row, "2fa")) && auth_2fa_required(h, p->admin);
	return 0;
}

int auth_session(struct host *h, const char *cookie, const char *source, struct principal *p,
		 struct err **err)
{
	char id[AUTH_HEX + 1];
	json_t *row;
	int r;

	if (strlen(cookie) != AUTH_HEX)
		return err_make(err, EACCES, "the session is not valid; log in again");
	secret_hash(cookie, id);
	row = store_session_get(h->store, id, time(NULL));
	r = auth_session_row(h, row, source, p, err);
	json_decref(row);
	return r;
}

void auth_secret_hash(const char *secret, char out[AUTH_HEX + 1])
{
	secret_hash(secret, out);
}

/* --- tokens ---------------------------------------------------------------------------- */

int auth_token(struct host *h, const char *token, const struct sockaddr *sa, const char *source,
	       struct principal *p, struct err **err)
{
	char id[AUTH_HEX + 1];
	json_t *row;
	int r;

	if (strncmp(token, "vps_", 4) || strlen(token) > 128)
		return err_make(err, EACCES, "the token is not valid");
	secret_hash(token, id);
	row = store_token_use(h->store, id, time(NULL));
	r = auth_token_row(row, sa, source, p, err);
	json_decref(row);
	return r;
}

int auth_token_row(json_t *row, const struct sockaddr *sa, const char *source, struct principal *p,
		   struct err **err)
{
	char user[AUTH_NAME_MAX + 1] = "", role[16] = "";
	json_t *sources = NULL, *s;
	long long expires = 0, tid = 0;
	time_t now = time(NULL);
	bool allowed;
	size_t i;

	if (row) {
		tid = json_integer_value(json_object_get(row, "id"));
		snprintf(user, sizeof(user), "%s", json_string_value(json_object_get(row, "user")));
		snprintf(role, sizeof(role), "%s", json_string_value(json_object_get(row, "role")));
		sources = json_incref(json_object_get(row, "sources"));
		expires = json_integer_value(json_object_get(row, "expires"));
	}
	if (!tid) {
		json_decref(sources);
		return err_make(err, EACCES, "the token is not valid");
	}
	if (expires <= now) {
		json_decref(sources);
		return err_make(err, EACCES, "the token has expired");
	}
	allowed = json_array_size(sources) == 0;
	json_array_foreach(sources, i, s) if (auth_cidr_match(json_string_value(s), sa) == 1)
	{
		allowed = true;
	}
	if (allowed) {
		char *text = json_dumps(sources ? sources : json_array(), JSON_COMPACT);

		/* up to 16 networks of at most 43 characters fit */
		snprintf(p->token_sources, sizeof(p->token_sources), "%s", text ? text : "[]");
		free(text);
		p->token_expires = expires;
	}
	json_decref(sources);
	if (!allowed)
		return err_make(err, EACCES, "the token is not valid from %s", source);
	snprintf(p->user, sizeof(p->user), "%s", user);
	p->admin = !strcmp(role, "admin");
	p->cookie = false;
	if (p->source != source)
		snprintf(p->source, sizeof(p->source), "%s", source);
	return 0;
}

bool auth_metrics_token(struct host *h, const char *token)
{
	char mine[AUTH_HEX + 1], theirs[AUTH_HEX + 1];

	if (!h->metrics_token)
		return false;
	/* hashes of equal length: the comparison tells nothing of the secret's length */
	secret_hash(h->metrics_token, mine);
	secret_hash(token, theirs);
	return sodium_memcmp(mine, theirs, AUTH_HEX) == 0;
}

int auth_token_create(struct host *h, const struct principal *p, json_t *body, json_t **out,
		      struct err **err)
{
	json_t *name = json_object_get(body, "name"), *sources, *s, *inherited = NULL;
	struct auth_token_body t;
	const char *owner = p->user;
	char secret[AUTH_HEX + 1], token[128], hash[AUTH_HEX + 1];
	time_t now = time(NULL);
	long long id = 0;
	char *src_text;
	size_t i;
	int r = 0;

	r = auth_token_body(body, &t, err);
	if (r < 0)
		return r;
	sources = t.sources;
	if (t.user) {
		if (strcmp(t.user, p->user) && !p->admin)
			return err_make(err, EPERM,
					"`user`: only an administrator makes tokens "
					"for others");
		owner = t.user;
	}
	if (!auth_user_exists(h, owner))
		return err_make(err, EINVAL,
				!strcmp(owner, AUTH_LOCAL_USER) ?
					"`user`: tokens belong to users; name one (`user`)" :
					"`user`: no user named `%s`",
				owner);
	/* a token made with a token never outlives it nor reaches further */
	if (p->token_expires) {
		json_t *mine = json_loads(p->token_sources, 0, NULL);

		if (now + t.expires_in > p->token_expires) {
			json_decref(mine);
			return err_make(err, EPERM,
					"`expires_in`: the token making it expires in %lld s; a "
					"token it makes cannot outlive it",
					(long long)(p->token_expires - now));
		}
		json_array_foreach(sources, i, s)
		{
			if (!cidr_within(json_string_value(s), mine)) {
				json_decref(mine);
				return err_make(err, EPERM,
						"`sources`: `%.64s` is not inside the sources of "
						"the token making it",
						json_string_value(s));
			}
		}
		if (!sources && json_is_array(mine)) /* its parent's, then */
			inherited = mine;
		else
			json_decref(mine);
	}

	random_hex(secret);
	sources = inherited ? inherited : sources ? json_incref(sources) : json_array();
	src_text = json_dumps(sources, JSON_COMPACT);
	/* the hash column is unique: a placeholder until the id is known */
	secret_hash(secret, hash);
	r = store_token_insert(h->store, owner, t.name, hash, src_text, now, now + t.expires_in,
			       &id, err);
	if (r == 0) {
		snprintf(token, sizeof(token), "vps_%lld_%s", id, secret);
		secret_hash(token, hash);
		r = store_token_hash(h->store, id, hash, err);
	}
	free(src_text);
	if (r == 0)
		*out = json_pack("{s:I, s:O, s:s, s:s, s:O, s:I, s:I}", "id", (json_int_t)id,
				 "name", name, "user", owner, "token", token, "sources", sources,
				 "created", (json_int_t)now, "expires",
				 (json_int_t)(now + t.expires_in));
	json_decref(sources);
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(token, sizeof(token));
	return r;
}

json_t *auth_tokens(struct host *h, const struct principal *p)
{
	return store_tokens(h->store, p->admin ? NULL : p->user);
}

int auth_token_delete(struct host *h, const struct principal *p, const char *id, struct err **err)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(id, &end, 10);
	if (!*id || *end || errno || n <= 0)
		return err_make(err, ENOENT, "no token %.20s", id);
	return store_token_delete(h->store, n, p->admin ? NULL : p->user, err);
}

/* --- the audit log --------------------------------------------------------------------- */

#define AUDIT_KEEP 100000

void auth_audit(struct host *h, const char *user, const char *source, const char *method,
		const char *path, unsigned int status)
{
	store_audit_add(h->store, time(NULL), user, source, method, path, status, AUDIT_KEEP);
}

json_t *auth_audit_list(struct host *h, long long after, int limit)
{
	return store_audit(h->store, after, limit);
}

bool auth_may_see(struct host *h, const struct principal *p, const char *name)
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
