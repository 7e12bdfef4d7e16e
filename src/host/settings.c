// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The host's settings (settings.h): their names, defaults and checks, the
 * seed from vpsd's flags at its start, GET and PATCH /settings behind the
 * routes (routes_host.c), and the short-lived copy of require_2fa that
 * every login and session asks (auth.c) without a round trip to the
 * store each time. The rows are the store's (store_settings).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "host/auth.h"
#include "host/settings.h"
#include "host/store.h"

static const char *const require_names[] = {
	[AUTH_REQUIRE_NONE] = "none",
	[AUTH_REQUIRE_ADMINS] = "admins",
	[AUTH_REQUIRE_ALL] = "all",
};

#define NR_REQUIRE (int)(sizeof(require_names) / sizeof(require_names[0]))

int settings_require_parse(const char *s)
{
	for (int i = 0; s && i < NR_REQUIRE; i++)
		if (!strcmp(s, require_names[i]))
			return i;
	return -1;
}

/* The copy of require_2fa: written by any thread, read by every request's. */
static void cache_put(struct host *h, int require)
{
	__atomic_store_n(&h->require_2fa, require, __ATOMIC_RELAXED);
	__atomic_store_n(&h->require_2fa_read, (long long)time(NULL), __ATOMIC_RELEASE);
}

/* The store's require_2fa (the default when unset); -EIO when the store did not answer. */
static int stored_require(struct host *h, struct err **err)
{
	json_t *all = store_settings(h->store);
	const char *v;
	int r;

	if (!all)
		return err_make(err, EIO, "store: read the settings");
	v = json_string_value(json_object_get(all, "require_2fa"));
	r = v ? settings_require_parse(v) : AUTH_REQUIRE_NONE;
	json_decref(all);
	/* a value this vpsd does not know (a newer node wrote it): the strictest it knows */
	return r < 0 ? AUTH_REQUIRE_ALL : r;
}

int settings_require_2fa(struct host *h)
{
	long long at = __atomic_load_n(&h->require_2fa_read, __ATOMIC_ACQUIRE), now = time(NULL);
	int r;

	/* a clock set back reads again */
	if (at && now >= at && now - at < SETTINGS_TTL)
		return __atomic_load_n(&h->require_2fa, __ATOMIC_RELAXED);
	/* away: the last value read, asked again only after another SETTINGS_TTL */
	if ((r = stored_require(h, NULL)) < 0)
		r = __atomic_load_n(&h->require_2fa, __ATOMIC_RELAXED);
	cache_put(h, r);
	return r;
}

int settings_seed(struct host *h, const char *require_2fa, struct err **err)
{
	int flag = settings_require_parse(require_2fa), r;
	json_t *seed;

	if (require_2fa && flag < 0)
		return err_make(err, EINVAL, "--require-2fa: expected none, admins or all");
	if (require_2fa) {
		seed = json_pack("{s:s}", "require_2fa", require_2fa);
		r = store_settings_put(h->store, seed, true, "vpsd --require-2fa", err);
		json_decref(seed);
		if (r < 0)
			return err_wrap(err, "settings: seed require_2fa");
	}
	if ((r = stored_require(h, err)) < 0)
		return r;
	if (require_2fa && r != flag)
		pr_warn("--require-2fa %s: the store's require_2fa is %s, which stands (set it with "
			"`vps settings set require-2fa=%s`)",
			require_2fa, require_names[r], require_2fa);
	cache_put(h, r);
	return 0;
}

int settings_get(struct host *h, json_t **out, struct err **err)
{
	int r = stored_require(h, err);

	if (r < 0)
		return r;
	cache_put(h, r);
	*out = json_pack("{s:s}", "require_2fa", require_names[r]);
	return 0;
}

int settings_patch(struct host *h, json_t *body, json_t **out, struct err **err)
{
	const char *name;
	json_t *v;
	int r;

	if (!json_is_object(body) || !json_object_size(body))
		return err_make(err, EINVAL, "the body must be an object of settings: require_2fa");
	/* every name and value checked before anything is written */
	json_object_foreach(body, name, v)
	{
		if (strcmp(name, "require_2fa"))
			return err_make(err, EINVAL, "`%s`: not a setting (require_2fa)", name);
		if (settings_require_parse(json_string_value(v)) < 0)
			return err_make(err, EINVAL,
					"require_2fa: expected \"none\", \"admins\" or \"all\"");
	}
	if ((r = store_settings_put(h->store, body, false, NULL, err)) < 0)
		return err_wrap(err, "settings");
	return settings_get(h, out, err);
}
