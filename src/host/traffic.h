/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Traffic accounting (issue 23, docs/networks.md "Traffic"): the bytes
 * each VPS on a network receives and sends, counted by two named nftables
 * counters per VPS (`rx_DEV`, `tx_DEV` in `table bridge vps_filter`, made
 * by net.c with the VPS's rules), added to the store per calendar month
 * (UTC) by a read-and-reset of the counters, and a plan's monthly
 * allowance with its action (throttle to a rate, or suspend) once the
 * month's total passes it.
 *
 * The counters live in the kernel, not in vpsd: what a VPS moves while
 * vpsd is down is read at its next pass; a reset is atomic, so nothing is
 * counted twice. What a host reboot takes is what was not yet collected
 * (one sampling interval at most).
 */
#ifndef VPS_HOST_TRAFFIC_H
#define VPS_HOST_TRAFFIC_H

#include <jansson.h>

#include "common/err.h"
#include "host/host.h"
#include "host/vps.h"

/* The month a Unix time is in, UTC: "YYYY-MM". */
void traffic_month(long long t, char buf[8]);

/*
 * A plan's `traffic` object, checked: {"allowance": size (bytes, "500G"),
 * "action": "throttle" | "suspend", "bw": rate (bits/s, "10M"; throttle
 * only, required there)}; *out the normalized copy (numbers).
 */
int traffic_plan_parse(json_t *in, json_t **out, struct err **err);

/*
 * Read and reset a VPS's counters, add them to its month. With `act`, a
 * total past its plan's allowance makes the plan's action due once a month
 * (recorded as a `traffic-exceeded` event) and returns it, "suspend" or
 * "throttle", for the caller to take (usage.c: life_suspend, or the
 * throttle's rate through net_vps_bw); NULL otherwise. Without `act`,
 * nothing but the count (the stop path, which holds the VPS's lock).
 */
const char *traffic_collect(struct host *h, const struct vps *v, bool act);
/*
 * Zero a VPS's counters without counting them: at its start, where what
 * they hold is not its own (a device of that name left by a vpsd that died
 * before its stop counted them). Adoption keeps them: they are its own.
 */
void traffic_reset(const struct vps *v);

/* The rate to shape a VPS to: its `bw`, or the throttle's when its month's allowance is spent. */
uint64_t traffic_bw(struct host *h, const struct vps *v);

/*
 * GET /vps/NAME/traffic: {month, rx, tx, total, allowance, action,
 * months: [{month, rx, tx, action}]} (allowance 0: none).
 */
json_t *traffic_json(struct host *h, const char *name);

#endif
