/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The host's settings (settings.c, docs/auth.md "Requiring it"): what an
 * administrator sets for the whole host, or in a cluster for every node,
 * through GET and PATCH /settings. They live in the store, so a cluster's
 * nodes share them; today one: require_2fa, who must log in with a second
 * factor.
 *
 * Precedence: the store wins. vpsd's flag (--require-2fa) only seeds a
 * setting nobody has set yet (a fresh host, or one upgraded from when it
 * was a flag); once set, through the API or a seed, the flag is ignored
 * with a warning when it disagrees. As Proxmox's datacenter.cfg and
 * Incus's cluster-wide keys: a node's own start options do not override
 * what the cluster agreed on, so one node restarted with an old config
 * file cannot loosen (or tighten) login for all.
 */
#ifndef VPS_HOST_SETTINGS_H
#define VPS_HOST_SETTINGS_H

#include <jansson.h>

#include "common/err.h"
#include "host/host.h"

/* enum auth_require's value of "none", "admins", "all"; -1 for anything else. */
int settings_require_parse(const char *s);
/*
 * At vpsd's start: the flag's value (NULL: not given) written to the
 * store when require_2fa has none yet; a warning when the store's
 * differs. The cache is filled either way.
 */
int settings_seed(struct host *h, const char *require_2fa, struct err **err);
/* Every setting with its value (defaults for those not set): {"require_2fa": "none"}. */
int settings_get(struct host *h, json_t **out, struct err **err);
/*
 * PATCH /settings: body {"require_2fa": "none"|"admins"|"all"}. Unknown
 * names, wrong types and values are -EINVAL naming the field, and nothing
 * is written; *out is every setting after the change.
 */
int settings_patch(struct host *h, json_t *body, json_t **out, struct err **err);
/*
 * enum auth_require for logins and sessions: read from the store at most
 * every SETTINGS_TTL seconds (another node's change shows within that),
 * this vpsd's own change at once. A store that does not answer leaves
 * the last value read, for another SETTINGS_TTL (no request waits on a
 * database that is away more than once in that time).
 */
#define SETTINGS_TTL 5
int settings_require_2fa(struct host *h);

#endif
