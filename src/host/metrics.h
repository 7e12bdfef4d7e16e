/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Metrics for Prometheus (docs/metrics.md): GET /api/v1/metrics answers
 * metrics_render()'s text in the exposition format 0.0.4. The host's
 * figures and every VPS's record are read per scrape (a few files and one
 * store query); the VPSes' usage is the sampling thread's newest reading
 * (usage.c), so a scrape walks no disk and opens no cgroup. The API's
 * request counts and latencies (api.c) and the operations (ops.c) are
 * counted here, in memory, since vpsd started.
 */
#ifndef VPS_HOST_METRICS_H
#define VPS_HOST_METRICS_H

#include <stdbool.h>
#include <stdio.h>

#include "common/err.h"
#include "host/host.h"

/*
 * One API request answered: method and route are static strings (the
 * route table's path, or "unmatched"), status the HTTP status, seconds
 * from its arrival to its answer queued (counted before the client can
 * read the answer).
 */
void metrics_api_observe(const char *method, const char *route, unsigned int status,
			 double seconds);
/* An operation (ops.c) started, and ended (ok: its status was below 400). */
void metrics_op_started(const char *action);
void metrics_op_finished(const char *action, bool ok);

/* The whole exposition into *text (length *len; the caller frees): 0 or -errno. */
int metrics_render(struct host *h, char **text, size_t *len, struct err **err);

/* A label value as the format escapes it: backslash, double quote and newline. */
void metrics_label_value(FILE *f, const char *s);

#endif
