/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The users' and tokens' request bodies (docs/api.md, docs/auth.md):
 * POST and PATCH /users, POST /tokens. Each is checked here, before auth.c
 * touches the store or spends an argon2id hash on it, and comes out as a
 * struct whose strings point into the body (valid while the body lives).
 * Nothing here reaches the store: whether a network exists is asked through
 * the caller's function, so the checks run alone under a fuzzer
 * (tests/fuzz/fuzz_auth_body.c).
 *
 * Errors: -EINVAL with a message naming the field.
 */
#ifndef VPS_HOST_AUTH_BODY_H
#define VPS_HOST_AUTH_BODY_H

#include <stdbool.h>

#include <jansson.h>

#include "common/err.h"

#define AUTH_PASSWORD_MIN 8
#define AUTH_PASSWORD_MAX 1024
#define AUTH_TOKEN_NAME_MAX 64
#define AUTH_TOKEN_TTL_MIN 60 /* seconds */
#define AUTH_TOKEN_TTL_MAX (365LL * 24 * 3600)
#define AUTH_TOKEN_SOURCES_MAX 16
#define AUTH_USER_NETS_MAX 64

/* Whether a network named `name` exists (auth.c asks the store). */
typedef bool auth_net_exists_fn(void *opaque, const char *name);

/* A user's fields; NULL: not in the body (a PATCH leaves it as it is). */
struct auth_user_body {
	const char *name; /* POST only */
	const char *password; /* 8 to 1024 bytes, no NUL */
	const char *role; /* "admin" or "customer" */
	json_t *networks; /* a list of existing network names, borrowed from the body */
	json_t *quota; /* what the user may hold: {vps, ram, disk, cpus, addresses}, borrowed */
	bool reset_2fa; /* PATCH only, `"2fa": false`: end the user's second factor */
};

/*
 * POST /users (patch false: name, password and role required, networks
 * and quota optional) or PATCH /users/NAME (patch true: any of password,
 * role, networks, quota and `"2fa": false`). A quota's keys are `vps`,
 * `addresses` (counts), `ram`, `disk` (bytes) and `cpus`, each a number
 * >= 0 or null (no limit on it); the object replaces the user's quota. The checks run in the order the error names the first bad field.
 */
int auth_user_body(json_t *body, bool patch, auth_net_exists_fn *net_exists, void *opaque,
		   struct auth_user_body *u, struct err **err);

struct auth_token_body {
	const char *name; /* 1 to 64 bytes */
	long long expires_in; /* seconds, AUTH_TOKEN_TTL_MIN to _MAX */
	json_t *sources; /* up to 16 addresses or networks, borrowed; NULL: not given */
	const char *user; /* whose token; NULL: the caller's (auth.c checks the right) */
};

/* POST /tokens. */
int auth_token_body(json_t *body, struct auth_token_body *t, struct err **err);

#endif
