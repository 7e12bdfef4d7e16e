/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Usage history, the figures behind the control panel's graphs
 * (docs/usage.md): a thread of vpsd samples every running VPS every
 * h->sample_every seconds -- CPU (cores used over the interval), memory in
 * use, disk allocated on the host, network bytes/s in and out -- and keeps
 * the newest h->usage_keep samples of each in the store's `usage` table.
 * The samples of a destroyed VPS go with its row (ON DELETE CASCADE).
 */
#ifndef VPS_HOST_USAGE_H
#define VPS_HOST_USAGE_H

#include <jansson.h>

#include "common/err.h"
#include "host/host.h"
#include "host/vps.h"

/*
 * The newest reading of a running VPS, as the sampling thread took it: the
 * cumulative counters behind the rates of the samples (what /metrics
 * serves, metrics.c), so a scrape reads memory, not the host.
 */
struct usage_reading {
	char name[VPS_NAME_MAX + 1];
	int64_t id; /* the row's id */
	long long time; /* Unix time of the reading */
	uint64_t cpu_ns; /* CPU time since its cgroup or monitor began (a restart starts over) */
	uint64_t mem, disk; /* bytes */
	uint64_t rx, tx; /* bytes, as the VPS sees them; valid when net */
	bool net;
};

/* The sampling thread, every h->sample_every s (0 or less: none is started). */
int usage_start(struct host *h, struct err **err);
/* Wakes the thread at once and waits for it; idempotent. */
void usage_stop(struct host *h);

/*
 * {"interval": s, "samples": [{"time", "cpu", "mem", "disk", "rx", "tx"}, ...]}:
 * the VPS's samples newer than `since` (Unix time; 0: all), oldest first.
 * NULL when there is no such VPS.
 */
json_t *usage_get(struct host *h, const char *name, long long since);
/*
 * The VPS's history of one span ("day": minute averages, "month": half
 * hours, "year": days; docs/usage.md "History") after `since`, as
 * usage_get's object with "span" and the step as "interval".
 */
int usage_history(struct host *h, const char *name, const char *span, long long since, json_t **out,
		  struct err **err);
/* The VPS's newest sample (the same object as in usage_get), or json_null(). */
json_t *usage_latest(struct host *h, const char *name);
/* A copy of every running VPS's newest reading (*out freed by the caller); 0 or -ENOMEM. */
int usage_readings(struct usage_reading **out, size_t *n);
/* Every VPS's newest sample, {NAME: sample} (one query, for the list). */
json_t *usage_latest_all(struct host *h);

#endif
