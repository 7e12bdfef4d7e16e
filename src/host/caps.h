/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which limits this host enforces, per kind (caps.c, docs/policies.md
 * "Limits the host enforces"). Kernels differ: one has no BFQ scheduler
 * (no IO weight), one does not account swap. A limit the host cannot
 * enforce is found out before a VPS is promised it: create and set refuse
 * it naming the limit and why, or, under the `limits warn` policy, accept
 * it with a warning event; a start never passes such a limit on.
 */
#ifndef VPS_HOST_CAPS_H
#define VPS_HOST_CAPS_H

#include <stdbool.h>

#include <jansson.h>

#include "common/err.h"
#include "host/host.h"
#include "host/vps.h"

/* Let each kind find out what this host enforces for it (once, at vpsd's
 * start; kind_family.probe). Never fails vpsd: where a kind cannot tell,
 * its limits read "not enforced". */
void caps_probe(struct host *h);

/* For the host report: {KIND: {"limits": {NAME: {enforced, why}}, ...}} of every kind. */
json_t *caps_report(void);

/* Whether this host enforces limit (a name from the report) for kind. */
bool caps_enforced(enum vps_kind kind, const char *limit);

/*
 * The limits v asks for (that old, when not NULL, did not) which its kind
 * cannot enforce here: under the `limits refuse` policy (the default) an
 * -EOPNOTSUPP naming the first; under `limits warn` 0, with a warning
 * appended to `warnings` (strings) for each: the caller records them.
 */
int caps_admit(struct host *h, const struct vps *old, const struct vps *v, json_t *warnings,
	       struct err **err);

/* Warning events for what a starting VPS asks and the host does not enforce. */
void caps_start_warnings(struct host *h, const struct vps *v);

/* The `limits` policy: "refuse" or "warn" (policy.c keeps it with the others). */
const char *caps_mode(struct host *h);

#endif
