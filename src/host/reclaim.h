/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Memory reclaim through balloon targets, the VMware way (docs/policies.md):
 * a thread of vpsd reads the host's MemAvailable every RECLAIM_PERIOD_MS.
 * Below `low`, it lowers the balloon targets of the running VMs that are not
 * under memory `reserve`, each in proportion to its RAM above its floor, so
 * that MemAvailable climbs back to `high`; above `high`, it gives what it
 * took back, in the same proportion; between the two it does nothing (the
 * hysteresis that keeps it from flapping). Every change is an event of the
 * VPS (`reclaim`, "balloon 512 MiB → 384 MiB: ...").
 *
 * reclaim_plan() is the arithmetic, pure for unit tests; reclaim_tick() is
 * one pass over the store and the kinds; reclaim_start() runs the thread.
 */
#ifndef VPS_HOST_RECLAIM_H
#define VPS_HOST_RECLAIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "host/host.h"
#include "host/kind.h"

#define RECLAIM_PERIOD_MS 2000
#define RECLAIM_LOW_PCT 10 /* default `low`: 10% of MemTotal */
#define RECLAIM_FLOOR_PCT 50 /* a VM keeps at least half its RAM... */
#define RECLAIM_FLOOR_MIN (128ULL << 20) /* ...and never less than 128 MiB */
#define RECLAIM_SETTLE_TICKS 2 /* after a change, let the guests' balloons move first */
#define RECLAIM_MAX_VMS 1024

struct reclaim_cfg {
	uint64_t low; /* reclaim when MemAvailable is below this; 0: never */
	uint64_t high; /* give back when MemAvailable is above this (> low) */
	unsigned int floor_pct; /* of each VM's RAM */
	uint64_t floor_min; /* bytes */
};

/* One VM as the arithmetic sees it. */
struct reclaim_vm {
	uint64_t ram; /* its plan RAM: the balloon target that takes nothing */
	uint64_t target; /* the target in force (ram: nothing taken) */
};

/* Defaults for a host: low = `low` (0: 10% of mem_total), high = 1.5 x low. */
void reclaim_cfg_init(struct reclaim_cfg *c, uint64_t mem_total, uint64_t low);

/* `vpsd --reclaim-below`: "512M", "2G", a byte count, "8%" of mem_total, or "off" (0). */
int reclaim_parse_below(const char *s, uint64_t mem_total, uint64_t *out, struct err **err);

/* The least a VM of `ram` bytes is left: max(floor_pct of ram, floor_min), at most ram. */
uint64_t reclaim_floor(const struct reclaim_cfg *c, uint64_t ram);

/*
 * New targets (out[i]) for n VMs, given MemAvailable `avail`. Below low:
 * take high - avail, split over the VMs in proportion to target - floor
 * (all of it when that is not enough). Above high: give back avail - high,
 * split in proportion to ram - target (all of it when that is enough).
 * Amounts are whole MiB, targets never below the floor nor above ram.
 * Returns how many targets changed.
 */
size_t reclaim_plan(const struct reclaim_cfg *c, uint64_t avail, const struct reclaim_vm *vm,
		    size_t n, uint64_t *out);

/*
 * One pass: the running VPSes whose kind can reclaim and that are not under
 * memory `reserve` (the policy now) get their new targets through
 * kind->reclaim. `find` is kind_find (tests pass a fake).
 */
void reclaim_tick(struct host *h, uint64_t avail,
		  const struct kind_ops *(*find)(enum vps_kind kind, enum vps_engine engine));

/* Use c from now on and forget what earlier passes took (reclaim_start; tests). */
void reclaim_set_config(const struct reclaim_cfg *c);

/* Bytes the balloons hold now by our targets, and over how many VMs (the host report). */
uint64_t reclaim_taken(unsigned int *nr_vms);
const struct reclaim_cfg *reclaim_config(void);
/* The host report's memory.reclaim: {"below", "above", "taken", "vms"}. */
json_t *reclaim_report(void);

/*
 * The thread: a pass every RECLAIM_PERIOD_MS on /proc/meminfo's MemAvailable.
 * `below` is vpsd's --reclaim-below (NULL: the default); "off" starts none.
 */
int reclaim_start(struct host *h, const char *below, struct err **err);
void reclaim_stop(void);

#endif
