// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Metrics for Prometheus (metrics.h, docs/metrics.md): the counters of the
 * API's requests and of operations, kept here since vpsd started, and the
 * exposition of everything in the text format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): a family
 * is its `# HELP` and `# TYPE` lines and then all its samples together;
 * label values escape backslash, double quote and newline.
 *
 * A scrape costs one store query (every VPS's row), the policies' rows,
 * /proc/meminfo, /proc/loadavg, one statvfs and a copy of the sampling
 * thread's newest readings (usage_readings): the disk walk and the cgroup
 * reads stay on the sampler's beat, whatever the scrapers' (Incus reads
 * its instances on a scrape and caches the answer for 8 s instead).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

#include "host/metrics.h"
#include "host/traffic.h"
#include "host/policy.h"
#include "host/usage.h"

/* --- the API's requests, the operations ------------------------------------------------ */

/* Upper bounds of the latency buckets, seconds (+Inf is the count). */
static const double api_le[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				 0.25,	0.5,	1,     2.5,  5,	    10,	  30 };
#define NR_BUCKETS (sizeof(api_le) / sizeof(api_le[0]))

/*
 * Bounds on the series kept: methods, routes and statuses come from
 * vpsd's own tables (api.c names any other method "other"), so these are
 * never reached; an action is a string from the daemon's code too.
 */
#define SERIES_MAX 4096
#define ACTIONS_MAX 64

struct api_count {
	const char *method, *route; /* static strings */
	unsigned int status;
	uint64_t n;
};

struct api_hist {
	const char *method, *route;
	uint64_t bucket[NR_BUCKETS]; /* requests in (le[i-1], le[i]]: made cumulative when shown */
	uint64_t n;
	double sum;
};

struct op_count {
	char action[32];
	uint64_t started, done, failed;
};

static struct {
	pthread_mutex_t lock;
	struct api_count *count;
	size_t nr_count, cap_count;
	struct api_hist *hist;
	size_t nr_hist, cap_hist;
	struct op_count ops[ACTIONS_MAX];
	size_t nr_ops;
} M = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Room for one more of n in *a (capacity *cap, elements of size sz); false when full. */
static bool grow(void **a, size_t n, size_t *cap, size_t sz)
{
	size_t c = *cap ? *cap * 2 : 32;
	void *na;

	if (n < *cap)
		return true;
	if (n >= SERIES_MAX || !(na = realloc(*a, c * sz)))
		return false;
	*a = na;
	*cap = c;
	return true;
}

void metrics_api_observe(const char *method, const char *route, unsigned int status, double seconds)
{
	struct api_count *c = NULL;
	struct api_hist *hs = NULL;
	size_t i;

	pthread_mutex_lock(&M.lock);
	for (i = 0; i < M.nr_count; i++)
		if (M.count[i].status == status && !strcmp(M.count[i].route, route) &&
		    !strcmp(M.count[i].method, method)) {
			c = &M.count[i];
			break;
		}
	if (!c && grow((void **)&M.count, M.nr_count, &M.cap_count, sizeof(*M.count))) {
		c = &M.count[M.nr_count++];
		*c = (struct api_count){ .method = method, .route = route, .status = status };
	}
	if (c)
		c->n++;
	for (i = 0; i < M.nr_hist; i++)
		if (!strcmp(M.hist[i].route, route) && !strcmp(M.hist[i].method, method)) {
			hs = &M.hist[i];
			break;
		}
	if (!hs && grow((void **)&M.hist, M.nr_hist, &M.cap_hist, sizeof(*M.hist))) {
		hs = &M.hist[M.nr_hist++];
		memset(hs, 0, sizeof(*hs));
		hs->method = method;
		hs->route = route;
	}
	if (hs) {
		for (i = 0; i < NR_BUCKETS && seconds > api_le[i]; i++)
			;
		if (i < NR_BUCKETS)
			hs->bucket[i]++;
		hs->n++;
		hs->sum += seconds;
	}
	pthread_mutex_unlock(&M.lock);
}

/* The action's counters (M.lock held), NULL when the table is full. */
static struct op_count *op_of(const char *action)
{
	struct op_count *o;

	for (size_t i = 0; i < M.nr_ops; i++)
		if (!strcmp(M.ops[i].action, action))
			return &M.ops[i];
	if (M.nr_ops == ACTIONS_MAX)
		return NULL;
	o = &M.ops[M.nr_ops++];
	memset(o, 0, sizeof(*o));
	snprintf(o->action, sizeof(o->action), "%s", action);
	return o;
}

void metrics_op_started(const char *action)
{
	struct op_count *o;

	pthread_mutex_lock(&M.lock);
	if ((o = op_of(action)))
		o->started++;
	pthread_mutex_unlock(&M.lock);
}

void metrics_op_finished(const char *action, bool ok)
{
	struct op_count *o;

	pthread_mutex_lock(&M.lock);
	if ((o = op_of(action))) {
		if (ok)
			o->done++;
		else
			o->failed++;
	}
	pthread_mutex_unlock(&M.lock);
}

/* --- the text format -------------------------------------------------------------------- */

void metrics_label_value(FILE *f, const char *s)
{
	/* runs of plain characters in one write: a scrape writes thousands of values */
	for (;;) {
		size_t n = strcspn(s, "\\\"\n");

		fwrite(s, 1, n, f);
		s += n;
		if (!*s)
			return;
		fputs(*s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : "\\n", f);
		s++;
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A number as the format writes a float: integers without a fraction. */
static void value(FILE *f, double x)
{
	fprintf(f, " %.15g\n", x);
}

/* --- the host --------------------------------------------------------------------------- */

static void host_figures(FILE *f, struct host *h, const struct vps *all, size_t n)
{
	static const char *const unit[NR_RES] = { "_bytes", "_bytes", "" };
	struct policy_figures pf;
	unsigned long count[NR_VPS_KINDS][NR_VPS_STATES] = { { 0 } };
	char name[96];

	policy_figures(h, all, n, &pf);
	family(f, "vps_host_cpus", "gauge", "CPUs online on the host");
	fprintf(f, "vps_host_cpus %d\n", pf.cores);
	family(f, "vps_host_load1", "gauge", "the host's 1-minute load average");
	fprintf(f, "vps_host_load1");
	value(f, pf.load1);
	family(f, "vps_host_memory_total_bytes", "gauge", "the host's RAM (MemTotal)");
	fprintf(f, "vps_host_memory_total_bytes %" PRIu64 "\n", pf.mem_total);
	family(f, "vps_host_memory_available_bytes", "gauge",
	       "RAM available without swapping (MemAvailable)");
	fprintf(f, "vps_host_memory_available_bytes %" PRIu64 "\n", pf.mem_avail);
	family(f, "vps_host_swap_total_bytes", "gauge", "the host's swap");
	fprintf(f, "vps_host_swap_total_bytes %" PRIu64 "\n", pf.swap_total);
	family(f, "vps_host_swap_free_bytes", "gauge", "the host's free swap");
	fprintf(f, "vps_host_swap_free_bytes %" PRIu64 "\n", pf.swap_free);
	family(f, "vps_host_disk_total_bytes", "gauge",
	       "size of the file system of the data directory");
	fprintf(f, "vps_host_disk_total_bytes %" PRIu64 "\n", pf.fs_size);
	family(f, "vps_host_disk_free_bytes", "gauge",
	       "free space on the file system of the data directory");
	fprintf(f, "vps_host_disk_free_bytes %" PRIu64 "\n", pf.fs_free);

	/* admission (docs/policies.md): what is sold against what the policy allows */
	for (int r = 0; r < NR_RES; r++) {
		snprintf(name, sizeof(name), "vps_host_%s_allocated%s", policy_res_names[r],
			 unit[r]);
		family(f, name, "gauge", "sold to the VPSes on the host (plan figures summed)");
		fputs(name, f);
		value(f, pf.allocated[r]);
		snprintf(name, sizeof(name), "vps_host_%s_limit%s", policy_res_names[r], unit[r]);
		family(f, name, "gauge", "what admission allows: the policy's ratio x physical");
		fputs(name, f);
		value(f, pf.limit[r]);
	}
	family(f, "vps_host_policy_ratio", "gauge",
	       "each resource's policy (mode) and oversell ratio");
	for (int r = 0; r < NR_RES; r++) {
		fprintf(f, "vps_host_policy_ratio{resource=\"%s\",mode=\"", policy_res_names[r]);
		metrics_label_value(f, pf.p[r].mode);
		fputs("\"}", f);
		value(f, pf.p[r].ratio);
	}

	for (size_t i = 0; i < n; i++)
		if ((unsigned int)all[i].kind < NR_VPS_KINDS &&
		    (unsigned int)all[i].state < NR_VPS_STATES)
			count[all[i].kind][all[i].state]++;
	family(f, "vps_host_vps", "gauge", "VPSes on the host by kind and state");
	for (int k = VPS_KIND_NONE + 1; k < NR_VPS_KINDS; k++)
		for (int s = 0; s < NR_VPS_STATES; s++)
			fprintf(f, "vps_host_vps{kind=\"%s\",state=\"%s\"} %lu\n",
				vps_kind_name((enum vps_kind)k), vps_state_name((enum vps_state)s),
				count[k][s]);
	family(f, "vpsd_usage_sample_interval_seconds", "gauge",
	       "how often the VPSes' usage is read (--sample-every; 0: never)");
	fprintf(f, "vpsd_usage_sample_interval_seconds %d\n", h->sample_every);
}

/* --- the VPSes ---------------------------------------------------------------------------- */

/* `metric{name="..",kind="..",owner=".."` and the closing brace and a space, or `,state=".."}` */
static void vps_series(FILE *f, const char *metric, const struct vps *v, const char *state)
{
	fprintf(f, "%s{name=\"", metric);
	metrics_label_value(f, v->name);
	fprintf(f, "\",kind=\"%s\",owner=\"", vps_kind_name(v->kind));
	metrics_label_value(f, v->owner);
	if (state)
		fprintf(f, "\",state=\"%s", state);
	fputs("\"} ", f);
}

static int reading_cmp(const void *a, const void *b)
{
	return strcmp(((const struct usage_reading *)a)->name,
		      ((const struct usage_reading *)b)->name);
}

/* The VPS's newest reading, if the sampler has one of this very row. */
static const struct usage_reading *reading_of(const struct usage_reading *r, size_t nr,
					      const struct vps *v)
{
	struct usage_reading key;
	const struct usage_reading *x;

	snprintf(key.name, sizeof(key.name), "%s", v->name);
	x = bsearch(&key, r, nr, sizeof(*r), reading_cmp);
	return x && x->id == v->id ? x : NULL;
}

/* What a reading says of a VPS, as one family. */
enum reading_field { R_CPU, R_MEM, R_DISK, R_RX, R_TX, R_TIME };

static const struct {
	const char *name, *type, *help;
} reading_families[] = {
	[R_CPU] = { "vps_cpu_seconds_total", "counter",
		    "CPU time used: a container's cgroup, a VM's monitor process (from 0 at each "
		    "start)" },
	[R_MEM] = { "vps_memory_bytes", "gauge",
		    "memory in use: a container's cgroup less inactive file cache, a VM's monitor "
		    "RSS" },
	[R_DISK] = { "vps_disk_bytes", "gauge",
		     "bytes the VPS's files take on the host (allocated blocks)" },
	[R_RX] = { "vps_network_receive_bytes_total", "counter",
		   "bytes the VPS received (its host device's transmit counter)" },
	[R_TX] = { "vps_network_transmit_bytes_total", "counter",
		   "bytes the VPS sent (its host device's receive counter)" },
	[R_TIME] = { "vps_usage_sample_timestamp_seconds", "gauge",
		     "when the usage figures above were read (Unix time)" },
};

static void vps_figures(FILE *f, const struct vps *all, size_t n, const struct usage_reading *r,
			size_t nr)
{
	family(f, "vps_state", "gauge", "1 for the state each VPS is in");
	for (size_t i = 0; i < n; i++) {
		vps_series(f, "vps_state", &all[i], vps_state_name(all[i].state));
		fputs("1\n", f);
	}
	family(f, "vps_suspended", "gauge", "1 when the provider suspended the VPS");
	for (size_t i = 0; i < n; i++) {
		vps_series(f, "vps_suspended", &all[i], NULL);
		fputs(all[i].suspended ? "1\n" : "0\n", f);
	}
	family(f, "vps_memory_limit_bytes", "gauge", "the plan's RAM");
	for (size_t i = 0; i < n; i++) {
		vps_series(f, "vps_memory_limit_bytes", &all[i], NULL);
		fprintf(f, "%" PRIu64 "\n", all[i].ram);
	}
	family(f, "vps_disk_limit_bytes", "gauge", "the plan's disk");
	for (size_t i = 0; i < n; i++) {
		vps_series(f, "vps_disk_limit_bytes", &all[i], NULL);
		fprintf(f, "%" PRIu64 "\n", all[i].disk);
	}
	family(f, "vps_cpus", "gauge", "the plan's CPUs (a VM's vCPUs, a container's CPU quota)");
	for (size_t i = 0; i < n; i++) {
		vps_series(f, "vps_cpus", &all[i], NULL);
		fprintf(f, "%.15g\n", all[i].cpus);
	}
	/* usage: the running VPSes the sampler has read */
	for (size_t k = 0; k < sizeof(reading_families) / sizeof(reading_families[0]); k++) {
		family(f, reading_families[k].name, reading_families[k].type,
		       reading_families[k].help);
		for (size_t i = 0; i < n; i++) {
			const struct usage_reading *x = reading_of(r, nr, &all[i]);

			if (!x || ((k == R_RX || k == R_TX) && !x->net))
				continue;
			vps_series(f, reading_families[k].name, &all[i], NULL);
			if (k == R_CPU)
				fprintf(f, "%" PRIu64 ".%09" PRIu64 "\n", x->cpu_ns / 1000000000,
					x->cpu_ns % 1000000000);
			else
				fprintf(f, "%" PRIu64 "\n",
					k == R_MEM  ? x->mem :
					k == R_DISK ? x->disk :
					k == R_RX   ? x->rx :
					k == R_TX   ? x->tx :
						      (uint64_t)x->time);
		}
	}
}

/* This month's traffic (traffic.h): the store's figures, what the allowance counts. */
static void traffic_figures(FILE *f, struct host *h, const struct vps *all, size_t n)
{
	json_t *rows, *by = json_object(), *x;
	char month[8];
	size_t i;

	traffic_month(time(NULL), month);
	rows = store_traffic(h->store, NULL, month);
	json_array_foreach(rows, i, x)
		json_object_set(by, json_string_value(json_object_get(x, "vps")), x);
	for (int k = 0; k < 2; k++) {
		const char *name = k ? "vps_traffic_month_transmit_bytes" :
				       "vps_traffic_month_receive_bytes";

		family(f, name, "gauge",
		       k ? "bytes the VPS sent this calendar month (UTC), kept across restarts" :
			   "bytes the VPS received this calendar month (UTC), kept across restarts");
		for (i = 0; i < n; i++) {
			json_t *row = json_object_get(by, all[i].name);

			if (!row)
				continue;
			vps_series(f, name, &all[i], NULL);
			fprintf(f, "%" JSON_INTEGER_FORMAT "\n",
				json_integer_value(json_object_get(row, k ? "tx" : "rx")));
		}
	}
	json_decref(by);
	json_decref(rows);
}

/* --- the daemon ----------------------------------------------------------------------------- */

static void api_label(FILE *f, const char *method, const char *route)
{
	fprintf(f, "method=\"%s\",route=\"", method);
	metrics_label_value(f, route);
	fputc('"', f);
}

static void daemon_figures(FILE *f)
{
	uint64_t running = 0;

	pthread_mutex_lock(&M.lock);
	family(f, "vpsd_api_requests_total", "counter",
	       "API requests answered, by method, route (the route table's path) and status");
	for (size_t i = 0; i < M.nr_count; i++) {
		fputs("vpsd_api_requests_total{", f);
		api_label(f, M.count[i].method, M.count[i].route);
		fprintf(f, ",status=\"%u\"} %" PRIu64 "\n", M.count[i].status, M.count[i].n);
	}
	family(f, "vpsd_api_request_duration_seconds", "histogram",
	       "time from a request's arrival to its answer ready to send");
	for (size_t i = 0; i < M.nr_hist; i++) {
		const struct api_hist *hs = &M.hist[i];
		uint64_t cum = 0;

		for (size_t b = 0; b < NR_BUCKETS; b++) {
			cum += hs->bucket[b];
			fputs("vpsd_api_request_duration_seconds_bucket{", f);
			api_label(f, hs->method, hs->route);
			fprintf(f, ",le=\"%g\"} %" PRIu64 "\n", api_le[b], cum);
		}
		fputs("vpsd_api_request_duration_seconds_bucket{", f);
		api_label(f, hs->method, hs->route);
		fprintf(f, ",le=\"+Inf\"} %" PRIu64 "\n", hs->n);
		fputs("vpsd_api_request_duration_seconds_sum{", f);
		api_label(f, hs->method, hs->route);
		fputc('}', f);
		value(f, hs->sum);
		fputs("vpsd_api_request_duration_seconds_count{", f);
		api_label(f, hs->method, hs->route);
		fprintf(f, "} %" PRIu64 "\n", hs->n);
	}
	family(f, "vpsd_operations_started_total", "counter",
	       "operations (?async=1 requests) started, by action");
	for (size_t i = 0; i < M.nr_ops; i++) {
		fputs("vpsd_operations_started_total{action=\"", f);
		metrics_label_value(f, M.ops[i].action);
		fprintf(f, "\"} %" PRIu64 "\n", M.ops[i].started);
	}
	family(f, "vpsd_operations_finished_total", "counter",
	       "operations ended, by action and result (done, failed)");
	for (size_t i = 0; i < M.nr_ops; i++) {
		for (int ok = 1; ok >= 0; ok--) {
			fputs("vpsd_operations_finished_total{action=\"", f);
			metrics_label_value(f, M.ops[i].action);
			fprintf(f, "\",result=\"%s\"} %" PRIu64 "\n", ok ? "done" : "failed",
				ok ? M.ops[i].done : M.ops[i].failed);
		}
		running += M.ops[i].started - M.ops[i].done - M.ops[i].failed;
	}
	family(f, "vpsd_operations_running", "gauge", "operations running now");
	fprintf(f, "vpsd_operations_running %" PRIu64 "\n", running);
	pthread_mutex_unlock(&M.lock);
}

int metrics_render(struct host *h, char **text, size_t *len, struct err **err)
{
	struct usage_reading *r = NULL;
	struct vps *all = NULL;
	size_t n = 0, nr = 0;
	FILE *f;
	int rc;

	*text = NULL;
	*len = 0;
	rc = store_vps_list(h->store, &all, &n, err);
	if (rc < 0)
		return rc;
	if (usage_readings(&r, &nr) < 0) {
		store_vps_list_free(all, n);
		return err_make(err, ENOMEM, "metrics: the usage readings");
	}
	qsort(r, nr, sizeof(*r), reading_cmp);
	f = open_memstream(text, len);
	if (!f) {
		rc = err_make(err, errno, "metrics: a buffer");
	} else {
		__fsetlocking(f, FSETLOCKING_BYCALLER); /* this thread's alone: no lock per call */
		host_figures(f, h, all, n);
		vps_figures(f, all, n, r, nr);
		traffic_figures(f, h, all, n);
		daemon_figures(f);
		if (ferror(f) | fclose(f))
			rc = err_make(err, ENOMEM, "metrics: write the text");
	}
	free(r);
	store_vps_list_free(all, n);
	if (rc < 0) {
		free(*text);
		*text = NULL;
	}
	return rc;
}
