// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the users' and tokens' bodies (src/host/auth_body.c), the
 * checks vpsd runs on POST and PATCH /users and POST /tokens before it asks
 * the store or hashes a password. What a body that passed promises is
 * checked here too: auth.c hands those fields to SQLite and argon2id as
 * they are.
 *
 * Input: a selector byte (0 POST /users, 1 PATCH /users, 2 POST /tokens),
 * then the body as it would arrive (parsed as the API parses it, duplicate
 * keys refused). The networks that exist are `lan` and `dmz`.
 */
#include <errno.h>
#include <stdlib.h>

#include "fuzz.h"
#include "host/auth.h"
#include "host/auth_body.h"

static bool net_exists(void *opaque, const char *name)
{
	(void)opaque;
	return !strcmp(name, "lan") || !strcmp(name, "dmz");
}

/* A refusal is -EINVAL and says why. */
static void refused(int r, struct err **e)
{
	if (r != -EINVAL || !*e || !*err_msg(*e))
		__builtin_trap();
	err_free(e);
}

static bool is_string_list(json_t *a, size_t max)
{
	json_t *s;
	size_t i;

	if (!json_is_array(a) || json_array_size(a) > max)
		return false;
	json_array_foreach(a, i, s) if (!json_is_string(s)) return false;
	return true;
}

static void user_body(json_t *body, bool patch)
{
	struct auth_user_body u;
	struct err *e = NULL;
	json_t *n;
	size_t i;
	int r = auth_user_body(body, patch, net_exists, NULL, &u, &e);

	if (r < 0) {
		refused(r, &e);
		return;
	}
	if (patch ? u.name != NULL : !u.name || !u.password || !u.role)
		__builtin_trap();
	/* the name stored is the name given, whole */
	if (u.name && (!*u.name || strlen(u.name) > AUTH_NAME_MAX ||
		       strlen(u.name) != json_string_length(json_object_get(body, "name")) ||
		       !strcmp(u.name, AUTH_LOCAL_USER)))
		__builtin_trap();
	if (u.password &&
	    (strlen(u.password) < AUTH_PASSWORD_MIN || strlen(u.password) > AUTH_PASSWORD_MAX))
		__builtin_trap();
	if (u.role && strcmp(u.role, "admin") && strcmp(u.role, "customer"))
		__builtin_trap();
	if (u.networks) {
		if (!is_string_list(u.networks, AUTH_USER_NETS_MAX))
			__builtin_trap();
		json_array_foreach(u.networks, i, n) if (!net_exists(NULL, json_string_value(n)))
			__builtin_trap();
	}
}

static void token_body(json_t *body)
{
	struct auth_token_body t;
	struct err *e = NULL;
	json_t *s;
	size_t i;
	int r = auth_token_body(body, &t, &e);

	if (r < 0) {
		refused(r, &e);
		return;
	}
	if (!t.name || !*t.name || strlen(t.name) > AUTH_TOKEN_NAME_MAX ||
	    strlen(t.name) != json_string_length(json_object_get(body, "name")) ||
	    t.expires_in < AUTH_TOKEN_TTL_MIN || t.expires_in > AUTH_TOKEN_TTL_MAX)
		__builtin_trap();
	if (t.sources) {
		if (!is_string_list(t.sources, AUTH_TOKEN_SOURCES_MAX))
			__builtin_trap();
		json_array_foreach(t.sources, i,
				   s) if (auth_cidr_match(json_string_value(s), NULL) != 0)
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *body;

	if (!size)
		return 0;
	body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &je);
	if (!body)
		return 0;
	switch (data[0] % 3) {
	case 0:
	case 1:
		user_body(body, data[0] % 3 == 1);
		break;
	case 2:
		token_body(body);
		break;
	}
	json_decref(body);
	return 0;
}
