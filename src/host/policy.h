/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Resource policies (docs/policies.md): per host and per resource a mode,
 * kept in the store's `policies` table:
 *   memory  reserve | oversell RATIO
 *   disk    reserve | thin [RATIO]
 *   cpus    reserve | oversell RATIO
 * Admission counts what is sold (the plan figures of every VPS on the host,
 * whatever its state) against RATIO x physical and refuses what does not
 * fit with -ENOSPC and the numbers. The host report puts physical, limit,
 * allocated, used and headroom side by side, with warnings when real usage
 * nears physical.
 */
#ifndef VPS_HOST_POLICY_H
#define VPS_HOST_POLICY_H

#include <jansson.h>

#include "common/err.h"
#include "host/host.h"
#include "host/vps.h"

/* Real usage at or past these percentages of physical raises a warning in the report. */
#define POLICY_WARN_PCT 85
#define POLICY_CRIT_PCT 95
#define POLICY_RATIO_MAX 100.0

enum policy_res { RES_MEMORY, RES_DISK, RES_CPUS, NR_RES };

struct policy {
	char mode[12]; /* reserve | oversell | thin */
	double ratio; /* 1.0 for reserve */
};

extern const char *const policy_res_names[NR_RES]; /* "memory", "disk", "cpus" */

/* The host's policies (defaults from the store's migration). */
int policy_get(struct host *h, struct policy out[NR_RES], struct err **err);
/* {"memory": {"mode", "ratio"}, ...} */
json_t *policy_to_json(struct host *h, const struct policy p[NR_RES]);

/*
 * PUT /api/v1/policies: the resources named in body change (the others
 * stay); every field is checked and errors name it (`memory.ratio`).
 * *out: the policies now, and `warnings` when what is allocated already
 * exceeds a new limit (accepted: existing VPSes stay; new ones are refused).
 */
int policy_put(struct host *h, json_t *body, json_t **out, struct err **err);

/*
 * policy_put()'s parser, without the store: the resources named in body
 * (an object) overwrite p[] and go into `changed` as the store keeps them.
 */
int policy_parse(json_t *body, struct policy p[NR_RES], json_t *changed, struct err **err);

/*
 * Admission: write v to the store only if its figures fit, decided in the
 * store's transaction (store_vps_admit) on the rows as they stand, so two
 * creates cannot both take the last room. old is the VPS as stored (a
 * change: only growth is checked, v is written with store_vps_update),
 * NULL for a create (v is inserted on `plan`, as store_vps_insert).
 * Refusal: -ENOSPC, "`ram`: 8.0 GiB asked, 16.0 GiB of 23.6 GiB allocated
 * under memory reserve (1.0 x 23.6 GiB of RAM): 7.6 GiB left".
 */
int policy_admit(struct host *h, const struct vps *old, struct vps *v, const char *plan,
		 struct err **err);
/*
 * Placement, in a cluster (h->node; on one host it does nothing): the
 * online node where v fits with the most room left under the policies,
 * each node's VPS rows counted against its registered capacity; v->node
 * set on the way in pins it. 0 with v->node this node; -EXDEV when
 * another node is chosen (node_note_elsewhere has it: the API answers
 * 421 naming it); -ENOSPC naming every node's figures when none has room;
 * -EBUSY for a pinned node that is offline or evacuating; -EINVAL for an
 * unknown one.
 */
int policy_place(struct host *h, struct vps *v, struct err **err);
/* Held by a policy change, and by a VPS change from its limits check to its write. */
void policy_lock(void);
void policy_unlock(void);

/* Set v's reserve_memory / reserve_disk from the host's policies now. */
void policy_apply(struct host *h, struct vps *v);

/*
 * The admission figures without the report's walk of every VPS (for
 * /metrics, metrics.c): per resource the physical amount, the limit
 * (ratio x physical) and what `all` (every VPS on the host) is sold, and
 * what the host has free. Reads /proc/meminfo, /proc/loadavg, statvfs of
 * the data directory and the policies' rows only.
 */
struct policy_figures {
	struct policy p[NR_RES];
	double physical[NR_RES], limit[NR_RES], allocated[NR_RES]; /* bytes; cpus */
	uint64_t mem_total, mem_avail, swap_total, swap_free; /* bytes */
	uint64_t fs_size, fs_free; /* the data directory's file system, bytes */
	int cores;
	double load1;
};
void policy_figures(struct host *h, const struct vps *all, size_t n, struct policy_figures *f);
/* GET /api/v1/host: the policies' figures per resource (routes_host.c adds memory.reclaim). */
json_t *policy_report(struct host *h);

#endif
