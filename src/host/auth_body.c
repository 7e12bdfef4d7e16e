// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The users' and tokens' request bodies: see auth_body.h. auth.c calls
 * these first, then asks the store and hashes; the fuzzer calls them alone.
 */
#include <errno.h>
#include <string.h>

#include "host/auth.h"
#include "host/auth_body.h"
#include "host/vps.h"

static int password_check(json_t *p, struct err **err)
{
	size_t n;

	if (!json_is_string(p))
		return err_make(err, EINVAL, "`password`: expected a string");
	n = json_string_length(p);
	if (n < AUTH_PASSWORD_MIN || n > AUTH_PASSWORD_MAX)
		return err_make(err, EINVAL, "`password`: must be %d to %d characters",
				AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX);
	if (strlen(json_string_value(p)) != n)
		return err_make(err, EINVAL, "`password`: must not contain NUL");
	return 0;
}

static int user_name_check(json_t *n, struct err **err)
{
	const char *s = json_string_value(n);
	size_t l = s ? strlen(s) : 0;

	if (!s || l < 1 || l > AUTH_NAME_MAX || !(s[0] >= 'a' && s[0] <= 'z') ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != l)
		return err_make(err, EINVAL,
				"`name`: expected 1-32 of a-z, 0-9, `-`, `_`, `.`, starting with a "
				"letter");
	if (!strcmp(s, AUTH_LOCAL_USER))
		return err_make(err, EINVAL, "`name`: `%s` is the host's own administrator", s);
	return 0;
}

static int role_check(json_t *r, struct err **err)
{
	const char *s = json_string_value(r);

	if (!s || (strcmp(s, "admin") && strcmp(s, "customer")))
		return err_make(err, EINVAL, "`role`: expected `admin` or `customer`");
	return 0;
}

/* `networks`: the networks a customer's VPSes may join, each one that exists. */
static int networks_check(json_t *nets, auth_net_exists_fn *net_exists, void *opaque,
			  struct err **err)
{
	json_t *n;
	size_t i;

	if (!json_is_array(nets) || json_array_size(nets) > AUTH_USER_NETS_MAX)
		return err_make(err, EINVAL,
				"`networks`: expected a list of up to %d network names",
				AUTH_USER_NETS_MAX);
	json_array_foreach(nets, i, n)
	{
		if (!json_is_string(n))
			return err_make(err, EINVAL, "`networks[%zu]`: expected a network name", i);
		if (!net_exists(opaque, json_string_value(n)))
			return err_make(err, EINVAL, "`networks[%zu]`: no network `%.40s`", i,
					json_string_value(n));
	}
	return 0;
}

/* `quota`: {vps, addresses, ram, disk, cpus, backups}, each a number >= 0 or null (none). */
static int quota_check(json_t *q, struct err **err)
{
	static const char *const keys[] = { "vps",  "addresses", "ram", "disk",
					    "cpus", "backups",	 NULL };
	const char *k;
	json_t *v;
	int r;

	if (!json_is_object(q))
		return err_make(err, EINVAL, "`quota`: expected an object");
	if ((r = vps_only_fields(q, keys, "`quota` has vps, ram, disk, cpus, addresses, backups",
				 err)) < 0)
		return err_wrap(err, "`quota`");
	json_object_foreach(q, k, v)
	{
		bool whole = strcmp(k, "cpus") != 0;

		if (json_is_null(v))
			continue;
		if (whole ? !json_is_integer(v) || json_integer_value(v) < 0 ||
				    json_integer_value(v) > (1LL << 53) :
			    !json_is_number(v) || json_number_value(v) < 0 ||
				    json_number_value(v) > 1e6)
			return err_make(err, EINVAL, "`quota.%s`: expected %s, or null (no limit)",
					k, whole ? "a whole number >= 0" : "a number >= 0");
	}
	return 0;
}

int auth_user_body(json_t *body, bool patch, auth_net_exists_fn *net_exists, void *opaque,
		   struct auth_user_body *u, struct err **err)
{
	static const char *const add_keys[] = { "name",	    "password", "role",
						"networks", "quota",	NULL };
	static const char *const patch_keys[] = { "password", "role", "networks",
						  "quota",    "2fa",  NULL };
	json_t *name = json_object_get(body, "name"), *pw = json_object_get(body, "password"),
	       *role = json_object_get(body, "role"), *nets = json_object_get(body, "networks"),
	       *quota = json_object_get(body, "quota"), *tfa = json_object_get(body, "2fa");
	int r;

	memset(u, 0, sizeof(*u));
	if (patch) {
		if ((r = vps_only_fields(body, patch_keys,
					 "a user's password, role, networks, quota and 2fa can "
					 "change",
					 err)) < 0 ||
		    (pw && (r = password_check(pw, err)) < 0) ||
		    (role && (r = role_check(role, err)) < 0) ||
		    (nets && (r = networks_check(nets, net_exists, opaque, err)) < 0) ||
		    (quota && (r = quota_check(quota, err)) < 0))
			return r;
		if (tfa && !json_is_false(tfa))
			return err_make(
				err, EINVAL,
				"`2fa`: only false (end the user's second factor); the user "
				"turns it on themselves");
		u->reset_2fa = tfa != NULL;
	} else {
		if ((r = vps_only_fields(body, add_keys,
					 "a user has name, password, role, networks, quota", err)) <
			    0 ||
		    (quota && (r = quota_check(quota, err)) < 0) ||
		    (r = user_name_check(name, err)) < 0 ||
		    (nets && (r = networks_check(nets, net_exists, opaque, err)) < 0) ||
		    (r = password_check(pw, err)) < 0 || (r = role_check(role, err)) < 0)
			return r;
		u->name = json_string_value(name);
	}
	u->password = json_string_value(pw);
	u->role = json_string_value(role);
	u->networks = nets;
	u->quota = quota;
	return 0;
}

int auth_token_body(json_t *body, struct auth_token_body *t, struct err **err)
{
	static const char *const keys[] = { "name", "expires_in", "sources", "user", NULL };
	json_t *name = json_object_get(body, "name"), *ttl = json_object_get(body, "expires_in"),
	       *sources = json_object_get(body, "sources"), *user = json_object_get(body, "user"),
	       *s;
	size_t i;
	int r;

	memset(t, 0, sizeof(*t));
	if ((r = vps_only_fields(body, keys, "a token has name, expires_in, sources, user", err)) <
	    0)
		return r;
	if (!json_is_string(name) || !json_string_length(name) ||
	    json_string_length(name) > AUTH_TOKEN_NAME_MAX)
		return err_make(err, EINVAL, "`name`: expected 1 to %d characters",
				AUTH_TOKEN_NAME_MAX);
	if (!json_is_integer(ttl) || json_integer_value(ttl) < AUTH_TOKEN_TTL_MIN ||
	    json_integer_value(ttl) > AUTH_TOKEN_TTL_MAX)
		return err_make(err, EINVAL, "`expires_in`: expected %d to %lld seconds",
				AUTH_TOKEN_TTL_MIN, AUTH_TOKEN_TTL_MAX);
	if (sources &&
	    (!json_is_array(sources) || json_array_size(sources) > AUTH_TOKEN_SOURCES_MAX))
		return err_make(err, EINVAL, "`sources`: expected a list of up to %d networks",
				AUTH_TOKEN_SOURCES_MAX);
	json_array_foreach(sources, i, s)
	{
		if (!json_is_string(s) || auth_cidr_match(json_string_value(s), NULL) < 0)
			return err_make(err, EINVAL,
					"`sources`: `%.64s` is not an address or a network "
					"(10.0.0.0/8, ::1/128)",
					json_is_string(s) ? json_string_value(s) : "?");
	}
	if (user && !json_is_string(user))
		return err_make(err, EINVAL, "`user`: expected a user name");
	t->name = json_string_value(name);
	t->expires_in = json_integer_value(ttl);
	t->sources = sources;
	t->user = json_string_value(user);
	return 0;
}
