/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Webhooks (webhook.c, docs/webhooks.md): events POSTed, signed and
 * retried, to URLs their owners gave. A customer's hook carries the events
 * of their own VPSes and reaches only what webhook_may_reach allows.
 */
#ifndef VPS_HOST_WEBHOOK_H
#define VPS_HOST_WEBHOOK_H

#include <stdbool.h>
#include <sys/socket.h>

#include <jansson.h>

#include "common/err.h"
#include "host/auth.h"
#include "host/host.h"

/* POST /webhooks: {url, events?, secret?}; *out carries the secret, this once. */
int webhook_add(struct host *h, const struct principal *p, json_t *body, json_t **out,
		struct err **err);
/* The caller's hooks (an administrator's: all), without secrets. */
json_t *webhook_list(struct host *h, const struct principal *p);
/* ENOENT for a hook the caller may not see. */
int webhook_rm(struct host *h, const struct principal *p, const char *id, struct err **err);

/* --webhook-allow CIDR[,CIDR...]: networks customers' hooks may reach after all. */
int webhook_allow(const char *cidr, struct err **err);
/* Whether a customer's hook may connect to sa. */
bool webhook_may_reach(const struct sockaddr *sa);

/* The delivery thread. */
int webhook_start(struct host *h, struct err **err);
void webhook_stop(void);

#endif
