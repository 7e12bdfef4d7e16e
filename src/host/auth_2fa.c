// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Two-factor login (auth.h, docs/auth.md): a TOTP secret per user (RFC
 * 6238: HMAC-SHA1, 6 digits, 30 s steps) and ten single-use recovery
 * codes. The one-time codes are liboath's (oath-toolkit): this file makes
 * no HMAC of its own. A secret is pending from `begin` until `confirm`
 * gets a valid code from it, so an enrolment the user's authenticator did
 * not take locks nobody out. A code is good once: its time step is taken
 * in the store in one statement (store_user_totp_step), so a replay within
 * the window, or two requests racing with one code, get one success.
 * Recovery codes are kept as argon2id hashes (libsodium), as passwords
 * are, and each is taken by a compare-and-swap of the list.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <liboath/oath.h>
#include <sodium.h>

#include "host/auth.h"
#include "host/settings.h"
#include "host/store.h"

#define TOTP_STEP 30 /* s: RFC 6238's default, what every authenticator app uses */
#define TOTP_WINDOW 1 /* steps either side of now: a clock 30 s off still works */
#define TOTP_DIGITS 6
#define TOTP_SECRET_BYTES 20 /* 160 bits: RFC 4226 §4's recommendation for HMAC-SHA1 */
#define RECOVERY_CODES 10
#define RECOVERY_BYTES 10 /* 80 bits each, 16 base32 characters */
/*
 * A recovery code is 80 random bits: argon2id's cost protects a guessable
 * password, and here guards a copy of the store only against a search of
 * 2^80. 8 MiB rather than a password's 64 MiB: confirm makes ten at once.
 */
#define RECOVERY_OPS crypto_pwhash_OPSLIMIT_INTERACTIVE
#define RECOVERY_MEM (8u << 20)

bool auth_2fa_required(struct host *h, bool admin)
{
	int require = settings_require_2fa(h); /* the store's, read at most every few seconds */

	return require == AUTH_REQUIRE_ALL || (require == AUTH_REQUIRE_ADMINS && admin);
}

static int oath_ready(struct err **err)
{
	return oath_init() == OATH_OK ? 0 : err_make(err, EIO, "liboath: initialize");
}

/* A six-digit code at `now` for the base32 secret: the matched step (>= 0), or -1. */
static long long totp_match(const char *secret32, const char *code, time_t now)
{
	char *secret = NULL;
	size_t len = 0;
	uint64_t step = 0;
	int pos, r;

	if (strlen(code) != TOTP_DIGITS || strspn(code, "0123456789") != TOTP_DIGITS)
		return -1;
	if (oath_base32_decode(secret32, strlen(secret32), &secret, &len) != OATH_OK)
		return -1;
	r = oath_totp_validate3(secret, len, now, TOTP_STEP, OATH_TOTP_DEFAULT_START_TIME,
				TOTP_WINDOW, &pos, &step, code);
	sodium_memzero(secret, len);
	free(secret);
	return r < 0 ? -1 : (long long)step;
}

/*
 * "3-abcd-efgh-ijkl-mnop": the slot (0-9) and 16 base32 characters, dashes
 * and case as the user typed them. The slot says which hash to check, so a
 * guess costs one argon2id and not ten.
 */
static int recovery_parse(const char *code, int *slot, char norm[RECOVERY_BYTES * 2 + 1])
{
	size_t n = 0;

	if (code[0] < '0' || code[0] > '9' || code[1] != '-')
		return -1;
	*slot = code[0] - '0';
	for (const char *c = code + 2; *c; c++) {
		if (*c == '-' || *c == ' ')
			continue;
		if (n == RECOVERY_BYTES * 2 - 4 ||
		    !strchr("abcdefghijklmnopqrstuvwxyz234567", *c | 0x20))
			return -1;
		norm[n++] = (char)(*c | 0x20);
	}
	norm[n] = 0;
	return n == 16 ? 0 : -1;
}

static int recovery_check(struct host *h, const char *user, json_t *row, const char *code,
			  struct err **err)
{
	const char *was = json_string_value(json_object_get(row, "recovery"));
	json_t *list = was ? json_loads(was, 0, NULL) : NULL;
	char norm[RECOVERY_BYTES * 2 + 1], *now = NULL;
	const char *hash;
	bool ok = false;
	int slot, r;

	if (recovery_parse(code, &slot, norm) < 0 || !json_array_get(list, (size_t)slot)) {
		json_decref(list);
		return err_make(err, EACCES, "wrong two-factor code");
	}
	/* a used code's slot is null: saying so tells nothing of the others */
	if (!(hash = json_string_value(json_array_get(list, (size_t)slot)))) {
		json_decref(list);
		return err_make(err, EACCES, "recovery code %d was used already", slot);
	}
	if (!auth_hash_slot_get(AUTH_HASH_WAIT_MS)) {
		json_decref(list);
		return err_make(err, EAGAIN, "too many logins at once; try again in 1 s");
	}
	ok = crypto_pwhash_str_verify(hash, norm, strlen(norm)) == 0;
	auth_hash_slot_put();
	sodium_memzero(norm, sizeof(norm));
	if (!ok) {
		json_decref(list);
		return err_make(err, EACCES, "wrong two-factor code");
	}
	json_array_set_new(list, (size_t)slot, json_null()); /* used */
	now = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	r = now ? store_user_recovery(h->store, user, was, now) : -ENOMEM;
	free(now);
	if (r != 1) /* another request took it, or any code, first */
		return err_make(err, EACCES, "this recovery code was used already");
	return 0;
}

int auth_2fa_check(struct host *h, const char *user, json_t *row, const char *code,
		   struct err **err)
{
	const char *secret = json_string_value(json_object_get(row, "totp"));
	long long step;
	int r;

	if (!secret)
		return err_make(err, EACCES, "user `%s` has no two-factor login", user);
	if (strchr(code, '-'))
		return recovery_check(h, user, row, code, err);
	if ((r = oath_ready(err)) < 0)
		return r;
	if ((step = totp_match(secret, code, time(NULL))) < 0)
		return err_make(err, EACCES, "wrong two-factor code");
	r = store_user_totp_step(h->store, user, step);
	if (r < 0)
		return err_make(err, EIO, "store: take the code's time step");
	if (r == 0)
		return err_make(err, EACCES,
				"this code was used already; wait for the next one (every %d s)",
				TOTP_STEP);
	return 0;
}

/* The caller's own secret row; -EINVAL for the host's administrator, who is no user. */
static int own_row(struct host *h, const struct principal *p, json_t **row, struct err **err)
{
	if (p->local)
		return err_make(
			err, EINVAL,
			"the host's administrator (the unix socket) has no two-factor login: "
			"the socket's permissions guard it");
	if (!(*row = store_user_secret(h->store, p->user)))
		return err_make(err, ENOENT, "no user named `%s`", p->user);
	return 0;
}

/* Ten new codes: their text into `codes`, their hashes into `hashes` (JSON list). */
static int recovery_make(json_t *codes, json_t *hashes, struct err **err)
{
	for (int i = 0; i < RECOVERY_CODES; i++) {
		unsigned char bin[RECOVERY_BYTES];
		char *b32 = NULL, code[40], hash[crypto_pwhash_STRBYTES];
		size_t len = 0;
		int r;

		randombytes_buf(bin, sizeof(bin));
		if (oath_base32_encode((const char *)bin, sizeof(bin), &b32, &len) != OATH_OK ||
		    len != 16)
			return err_make(err, ENOMEM, "liboath: base32");
		for (size_t j = 0; j < len; j++)
			b32[j] = (char)(b32[j] | 0x20); /* lower case: easier to read back */
		if (!auth_hash_slot_get(-1)) {
			free(b32);
			return err_make(err, errno, "wait to hash the recovery codes");
		}
		r = crypto_pwhash_str_alg(hash, b32, len, RECOVERY_OPS, RECOVERY_MEM,
					  crypto_pwhash_ALG_ARGON2ID13);
		auth_hash_slot_put();
		snprintf(code, sizeof(code), "%d-%.4s-%.4s-%.4s-%.4s", i, b32, b32 + 4, b32 + 8,
			 b32 + 12);
		sodium_memzero(b32, len);
		free(b32);
		if (r != 0)
			return err_make(err, ENOMEM, "hash a recovery code (argon2id)");
		json_array_append_new(codes, json_string(code));
		json_array_append_new(hashes, json_string(hash));
		sodium_memzero(code, sizeof(code));
	}
	return 0;
}

/* {"code": "123456"}: the body of confirm and disable. */
static int code_of(json_t *body, const char **code, struct err **err)
{
	static const char *const keys[] = { "code", NULL };
	json_t *c = json_object_get(body, "code");
	int r;

	if ((r = vps_only_fields(body, keys, "the body has `code`", err)) < 0)
		return r;
	if (!json_is_string(c) || !json_string_length(c) || json_string_length(c) > 64)
		return err_make(err, EINVAL,
				"`code`: expected the authenticator's code (or a recovery code)");
	*code = json_string_value(c);
	return 0;
}

/* Count a code attempt of p's user on the 2FA routes: 0, or -EAGAIN. */
static int code_attempt(const struct principal *p, char key[80], time_t now, int *retry_after,
			struct err **err)
{
	snprintf(key, 80, "2fa %s", p->user);
	if ((*retry_after = auth_rl_take(key, AUTH_RL_FAILS, now)) > 0)
		return err_make(err, EAGAIN, "too many wrong codes; try again in %d s",
				*retry_after);
	return 0;
}

/*
 * The user's password again, before a new secret: a stolen session or
 * token cannot turn 2FA on with the thief's phone and lock the owner out.
 */
static int password_again(const struct principal *p, json_t *body, json_t *row, int *retry_after,
			  struct err **err)
{
	static const char *const keys[] = { "password", NULL };
	json_t *pw = json_object_get(body, "password");
	time_t now = time(NULL);
	char key[80];
	bool ok;
	int r;

	if ((r = vps_only_fields(body, keys, "the body has `password`", err)) < 0)
		return r;
	if (!json_is_string(pw) || json_string_length(pw) > 1024)
		return err_make(err, EINVAL, "`password`: your password, again");
	if ((r = code_attempt(p, key, now, retry_after, err)) < 0)
		return r;
	if (!auth_hash_slot_get(AUTH_HASH_WAIT_MS)) {
		auth_rl_untake(key, now);
		*retry_after = 1;
		return err_make(err, EAGAIN, "too many logins at once; try again in 1 s");
	}
	ok = crypto_pwhash_str_verify(json_string_value(json_object_get(row, "hash")),
				      json_string_value(pw), json_string_length(pw)) == 0;
	auth_hash_slot_put();
	if (!ok)
		return err_make(err, EPERM, "`password`: wrong password");
	auth_rl_untake(key, now);
	return 0;
}

int auth_2fa_begin(struct host *h, const struct principal *p, json_t *body, json_t **out,
		   int *retry_after, struct err **err)
{
	unsigned char bin[TOTP_SECRET_BYTES];
	char *secret = NULL, uri[256];
	size_t len = 0;
	json_t *row;
	int r;

	if ((r = own_row(h, p, &row, err)) < 0)
		return r;
	if (json_object_get(row, "totp")) {
		json_decref(row);
		return err_make(err, EEXIST,
				"two-factor login is on already; disable it first (with a code)");
	}
	if ((r = password_again(p, body, row, retry_after, err)) < 0 || (r = oath_ready(err)) < 0)
		goto out;
	randombytes_buf(bin, sizeof(bin));
	if (oath_base32_encode((const char *)bin, sizeof(bin), &secret, &len) != OATH_OK) {
		r = err_make(err, ENOMEM, "liboath: base32");
		goto out;
	}
	/* a second begin replaces a pending secret: only the last one shown is good */
	r = store_user_totp(h->store, p->user, NULL,
			    json_string_value(json_object_get(row, "totp_pending")), NULL, secret,
			    "[]", json_integer_value(json_object_get(row, "totp_step")), err);
	if (r == 0) {
		/* Key Uri Format (Google Authenticator's, which every authenticator reads) */
		snprintf(uri, sizeof(uri),
			 "otpauth://totp/vps:%s?secret=%s&issuer=vps&algorithm=SHA1&digits=%d&"
			 "period=%d",
			 p->user, secret, TOTP_DIGITS, TOTP_STEP);
		*out = json_pack("{s:s, s:s, s:i, s:i}", "secret", secret, "uri", uri, "digits",
				 TOTP_DIGITS, "period", TOTP_STEP);
	}
out:
	sodium_memzero(bin, sizeof(bin));
	if (secret)
		sodium_memzero(secret, len);
	free(secret);
	json_decref(row);
	return r;
}

int auth_2fa_confirm(struct host *h, const struct principal *p, json_t *body, json_t **out,
		     int *retry_after, struct err **err)
{
	json_t *row = NULL, *codes = NULL, *hashes = NULL;
	const char *code, *pending;
	char key[80], *text = NULL;
	time_t now = time(NULL);
	long long step;
	int r;

	if ((r = code_of(body, &code, err)) < 0 || (r = own_row(h, p, &row, err)) < 0)
		return r;
	if (!(pending = json_string_value(json_object_get(row, "totp_pending")))) {
		r = err_make(err, ENOENT, "no enrolment to confirm: begin with POST /me/2fa");
		goto out;
	}
	if ((r = code_attempt(p, key, now, retry_after, err)) < 0 || (r = oath_ready(err)) < 0)
		goto out;
	if ((step = totp_match(pending, code, now)) < 0) {
		r = err_make(err, EACCES,
			     "wrong code: the authenticator's code for the secret just shown");
		goto out;
	}
	codes = json_array();
	hashes = json_array();
	if ((r = recovery_make(codes, hashes, err)) < 0)
		goto out;
	if (!(text = json_dumps(hashes, JSON_COMPACT))) {
		r = err_make(err, ENOMEM, "confirm");
		goto out;
	}
	/* the confirming code's step is taken: it cannot log in a second time */
	r = store_user_totp(h->store, p->user, NULL, pending, pending, NULL, text, step, err);
	if (r == 0) {
		auth_rl_untake(key, now);
		*out = json_pack("{s:b, s:O}", "2fa", 1, "recovery_codes", codes);
	}
out:
	free(text);
	json_decref(codes);
	json_decref(hashes);
	json_decref(row);
	return r;
}

int auth_2fa_disable(struct host *h, const struct principal *p, json_t *body, int *retry_after,
		     struct err **err)
{
	const char *code, *secret;
	time_t now = time(NULL);
	json_t *row = NULL;
	char key[80];
	int r;

	if ((r = code_of(body, &code, err)) < 0 || (r = own_row(h, p, &row, err)) < 0)
		return r;
	if (!(secret = json_string_value(json_object_get(row, "totp")))) {
		r = err_make(err, ENOENT, "two-factor login is not on");
		goto out;
	}
	if ((r = code_attempt(p, key, now, retry_after, err)) < 0 ||
	    (r = auth_2fa_check(h, p->user, row, code, err)) < 0)
		goto out;
	auth_rl_untake(key, now);
	r = store_user_totp(h->store, p->user, secret, NULL, NULL, NULL, "[]", 0, err);
out:
	json_decref(row);
	return r;
}

int auth_2fa_reset(struct host *h, const char *name, struct err **err)
{
	json_t *row = store_user_secret(h->store, name);
	int r;

	if (!row)
		return err_make(err, ENOENT, "no user named `%s`", name);
	r = store_user_totp(h->store, name, json_string_value(json_object_get(row, "totp")),
			    json_string_value(json_object_get(row, "totp_pending")), NULL, NULL,
			    "[]", 0, err);
	json_decref(row);
	return r;
}
