/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A firewall per VPS (issue 23, docs/networks.md "Firewall"), managed by
 * the VPS's owner: a default policy each way and up to FW_RULES_MAX rules
 * (direction, action, protocol, destination ports, source and destination
 * prefixes). Kept in the store as one JSON document per VPS; applied on
 * the host in `table inet vps` as two chains per VPS (fwi_DEV to it,
 * fwo_DEV from it) reached through verdict maps keyed on the VPS's own
 * addresses, so a customer's rules only ever see that VPS's packets. The
 * rules are made from the parsed numbers and addresses, never from the
 * text the customer sent.
 */
#ifndef VPS_HOST_FIREWALL_H
#define VPS_HOST_FIREWALL_H

#include <jansson.h>

#include "common/err.h"
#include "host/host.h"
#include "host/vps.h"

#define FW_RULES_MAX 64

/* GET /vps/NAME/firewall: {policy_in, policy_out, rules: [{n, direction, ...}]}. */
json_t *fw_get(struct host *h, const char *name);
/* PUT: the whole document, checked, stored, applied to the running VPS. */
int fw_put(struct host *h, const char *name, json_t *body, json_t **out, struct err **err);
/* POST /firewall/rules: one rule appended (or at `position`, 1-based). */
int fw_rule_add(struct host *h, const char *name, json_t *body, json_t **out, struct err **err);
/* DELETE /firewall/rules/N. */
int fw_rule_rm(struct host *h, const char *name, const char *n, json_t **out, struct err **err);

/* The VPS's chains and map elements, made again from the store (its start, adopt, a change). */
int fw_apply(struct host *h, const struct vps *v, struct err **err);
/* Gone (its stop, destroy); quiet and idempotent. */
void fw_remove(struct host *h, const struct vps *v);

#endif
