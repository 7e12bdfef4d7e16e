// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Resource policies, admission and the host report (policy.h,
 * docs/policies.md). What the host has is read fresh each time: RAM and
 * swap from /proc/meminfo, the disk from statvfs of the data directory,
 * cores and load from sysconf and /proc/loadavg. What is sold is summed
 * from the store; what the VPSes really use comes from their monitors
 * (memory) and from the allocated blocks of the files in their
 * directories (disk).
 */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "host/caps.h"
#include "host/kind.h"
#include "host/node.h"
#include "host/policy.h"

const char *const policy_res_names[NR_RES] = { "memory", "disk", "cpus" };

/* The modes each resource takes, the first the default for a missing row. */
static const char *const modes[NR_RES][3] = {
	{ "reserve", "oversell", NULL },
	{ "thin", "reserve", NULL },
	{ "oversell", "reserve", NULL },
};

/* The VPS field that each resource counts, to name it in a refusal. */
static const char *const fields[NR_RES] = { "ram", "disk", "cpus" };

static pthread_mutex_t admission = PTHREAD_MUTEX_INITIALIZER;

void policy_lock(void)
{
	pthread_mutex_lock(&admission);
}

void policy_unlock(void)
{
	pthread_mutex_unlock(&admission);
}

/* --- what the host has, what is sold -------------------------------------------- */

struct capacity {
	uint64_t mem_total, mem_avail, swap_total, swap_free; /* /proc/meminfo, bytes */
	uint64_t fs_size, fs_free, fs_used; /* statvfs: f_blocks, f_bavail, f_blocks - f_bfree */
	int cores;
	double load1; /* 1-minute load average */
};

static uint64_t meminfo_field(const char *mi, const char *key)
{
	const char *p = strstr(mi, key);

	return p ? strtoull(p + strlen(key), NULL, 10) << 10 : 0;
}

static void capacity_read(struct host *h, struct capacity *c)
{
	_cleanup_free_ char *mi = NULL, *la = NULL;
	struct statvfs sv;

	memset(c, 0, sizeof(*c));
	if (read_file("/proc/meminfo", &mi, NULL) == 0) {
		c->mem_total = meminfo_field(mi, "MemTotal:");
		c->mem_avail = meminfo_field(mi, "MemAvailable:");
		c->swap_total = meminfo_field(mi, "SwapTotal:");
		c->swap_free = meminfo_field(mi, "SwapFree:");
	}
	if (statvfs(h->data_dir, &sv) == 0) {
		c->fs_size = (uint64_t)sv.f_blocks * sv.f_frsize;
		c->fs_free = (uint64_t)sv.f_bavail * sv.f_frsize;
		c->fs_used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	}
	c->cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (c->cores < 1)
		c->cores = 1;
	if (read_file("/proc/loadavg", &la, NULL) == 0)
		c->load1 = strtod(la, NULL);
}

static double physical(const struct capacity *c, enum policy_res r)
{
	return r == RES_MEMORY ? (double)c->mem_total :
	       r == RES_DISK   ? (double)c->fs_size :
				 (double)c->cores;
}

struct sold {
	double figure[NR_RES]; /* ram, disk, cpus summed */
	uint64_t swap;
	size_t total, running;
};

static double figure(const struct vps *v, enum policy_res r)
{
	return r == RES_MEMORY ? (double)v->ram : r == RES_DISK ? (double)v->disk : v->cpus;
}

/*
 * Every VPS on the host counts, whatever its state, but `skip` (the one
 * being changed); in a cluster (node not NULL), only that node's.
 */
static void sold_of(const struct vps *all, size_t n, const char *node, const char *skip,
		    struct sold *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < n; i++) {
		const struct vps *v = &all[i];

		if (node && strcmp(v->node, node))
			continue;
		s->total++;
		s->running += v->state == VPS_RUNNING;
		if (skip && !strcmp(v->name, skip))
			continue;
		for (int k = 0; k < NR_RES; k++)
			s->figure[k] += figure(v, k);
		s->swap += v->swap;
	}
}

/* This node's VPSes (all on one host) and what they allocate: the cluster's others are theirs. */
static int sold_sum(struct host *h, const char *skip, struct sold *s, struct vps **all, size_t *n,
		    struct err **err)
{
	int r = store_vps_list_local(h->store, all, n, err);

	sold_of(r < 0 ? NULL : *all, r < 0 ? 0 : *n, h->node, skip, s);
	return r;
}

/* --- policies ------------------------------------------------------------------------ */

/* The policies as the store keeps them (store_policies) into out[]. */
static void policies_of(json_t *all, struct policy out[NR_RES])
{
	for (int r = 0; r < NR_RES; r++) {
		json_t *p = json_object_get(all, policy_res_names[r]);
		const char *m = json_string_value(json_object_get(p, "mode"));

		snprintf(out[r].mode, sizeof(out[r].mode), "%s", m ? m : modes[r][0]);
		out[r].ratio = p ? json_number_value(json_object_get(p, "ratio")) : 1.0;
		if (!strcmp(out[r].mode, "reserve") || out[r].ratio < 1.0)
			out[r].ratio = 1.0;
	}
}

int policy_get(struct host *h, struct policy out[NR_RES], struct err **err)
{
	json_t *all = store_policies(h->store);

	policies_of(all, out);
	json_decref(all);
	return 0;
}

void policy_figures(struct host *h, const struct vps *all, size_t n, struct policy_figures *f)
{
	struct capacity c;
	struct sold s;

	memset(f, 0, sizeof(*f));
	policy_get(h, f->p, NULL);
	capacity_read(h, &c);
	sold_of(all, n, h->node, NULL, &s); /* this node's, against its own capacity */
	for (int r = 0; r < NR_RES; r++) {
		f->physical[r] = physical(&c, r);
		f->limit[r] = f->p[r].ratio * f->physical[r];
		f->allocated[r] = s.figure[r];
	}
	f->mem_total = c.mem_total;
	f->mem_avail = c.mem_avail;
	f->swap_total = c.swap_total;
	f->swap_free = c.swap_free;
	f->fs_size = c.fs_size;
	f->fs_free = c.fs_free;
	f->cores = c.cores;
	f->load1 = c.load1;
}

json_t *policy_to_json(struct host *h, const struct policy p[NR_RES])
{
	json_t *o = json_object();

	for (int r = 0; r < NR_RES; r++)
		json_object_set_new(o, policy_res_names[r],
				    json_pack("{s:s, s:f}", "mode", p[r].mode, "ratio",
					      p[r].ratio));
	/* a limit the host cannot enforce: refused at create and set, or accepted with a warning */
	json_object_set_new(o, "limits", json_pack("{s:s}", "mode", caps_mode(h)));
	return o;
}

/* `limits`: {"mode": "refuse" | "warn"} (caps.h), stored beside the resources. */
static int parse_limits(json_t *x, json_t *changed, struct err **err)
{
	const char *k, *m = json_string_value(json_object_get(x, "mode"));
	json_t *v;

	if (!json_is_object(x))
		return err_make(err, EINVAL,
				"`limits`: expected {\"mode\": \"refuse\" or \"warn\"}");
	json_object_foreach(x, k, v)
	{
		if (strcmp(k, "mode"))
			return err_make(err, EINVAL, "`limits.%s`: unknown field (mode)", k);
	}
	if (!m || (strcmp(m, "refuse") && strcmp(m, "warn")))
		return err_make(err, EINVAL, "`limits.mode`: expected refuse or warn");
	json_object_set_new(changed, "limits", json_pack("{s:s, s:f}", "mode", m, "ratio", 1.0));
	return 0;
}

static int parse_one(enum policy_res res, json_t *x, struct policy *p, struct err **err)
{
	const char *name = policy_res_names[res], *k;
	json_t *mode = json_object_get(x, "mode"), *ratio = json_object_get(x, "ratio"), *v;
	const char *const *allowed = modes[res];
	size_t i;

	if (!json_is_object(x))
		return err_make(err, EINVAL, "`%s`: expected {\"mode\": ..., \"ratio\": ...}",
				name);
	json_object_foreach(x, k, v)
	{
		if (strcmp(k, "mode") && strcmp(k, "ratio"))
			return err_make(err, EINVAL, "`%s.%s`: unknown field (mode, ratio)", name,
					k);
	}
	for (i = 0; json_is_string(mode) && allowed[i]; i++)
		if (!strcmp(json_string_value(mode), allowed[i]))
			break;
	if (!json_is_string(mode) || !allowed[i])
		return err_make(err, EINVAL, "`%s.mode`: expected %s or %s", name, allowed[1],
				allowed[0]);
	snprintf(p->mode, sizeof(p->mode), "%s", allowed[i]);
	if (ratio && (!json_is_number(ratio) || !(json_number_value(ratio) >= 1.0) ||
		      json_number_value(ratio) > POLICY_RATIO_MAX))
		return err_make(err, EINVAL, "`%s.ratio`: expected a number from 1.0 to %.0f", name,
				POLICY_RATIO_MAX);
	if (!strcmp(p->mode, "reserve")) {
		if (ratio && json_number_value(ratio) != 1.0)
			return err_make(err, EINVAL,
					"`%s.ratio`: reserve takes no ratio (it is 1.0)", name);
		p->ratio = 1.0;
	} else if (!strcmp(p->mode, "oversell")) {
		if (!ratio)
			return err_make(err, EINVAL,
					"`%s.ratio`: required for oversell (1.0 to %.0f)", name,
					POLICY_RATIO_MAX);
		p->ratio = json_number_value(ratio);
	} else {
		p->ratio = ratio ? json_number_value(ratio) : 1.0; /* thin */
	}
	return 0;
}

int policy_parse(json_t *body, struct policy p[NR_RES], json_t *changed, struct err **err)
{
	const char *k;
	json_t *x;
	int r;

	json_object_foreach(body, k, x)
	{
		int res;

		if (!strcmp(k, "limits")) {
			if ((r = parse_limits(x, changed, err)) < 0)
				return r;
			continue;
		}
		for (res = 0; res < NR_RES && strcmp(k, policy_res_names[res]); res++)
			;
		if (res == NR_RES)
			return err_make(err, EINVAL,
					"`%s`: unknown resource (memory, disk, cpus, limits)", k);
		if ((r = parse_one(res, x, &p[res], err)) < 0)
			return r;
		json_object_set_new(changed, k,
				    json_pack("{s:s, s:f}", "mode", p[res].mode, "ratio",
					      p[res].ratio));
	}
	return 0;
}

/* What is sold beyond a limit: "cpus: 3 allocated, over the 2 that reserve allows". */
static void add_limit_warnings(const struct policy p[NR_RES], const struct capacity *c,
			       const struct sold *s, json_t *warnings);

int policy_put(struct host *h, json_t *body, json_t **out, struct err **err)
{
	struct policy p[NR_RES];
	struct capacity c;
	struct sold s;
	struct vps *all = NULL;
	size_t n = 0;
	json_t *changed, *warnings;
	int r;

	if (!json_is_object(body) || !json_object_size(body))
		return err_make(err, EINVAL,
				"the body must be an object of memory, disk, cpus and/or limits "
				"policies");
	if ((r = policy_get(h, p, err)) < 0)
		return r;
	changed = json_object();
	if ((r = policy_parse(body, p, changed, err)) < 0) {
		json_decref(changed);
		return r;
	}
	policy_lock();
	r = store_policies_put(h->store, changed, err);
	policy_unlock();
	json_decref(changed);
	if (r < 0)
		return r;
	capacity_read(h, &c);
	warnings = json_array();
	if (sold_sum(h, NULL, &s, &all, &n, NULL) == 0)
		add_limit_warnings(p, &c, &s, warnings);
	store_vps_list_free(all, n);
	*out = policy_to_json(h, p);
	json_object_set_new(*out, "warnings", warnings);
	return 0;
}

void policy_apply(struct host *h, struct vps *v)
{
	struct policy p[NR_RES];

	if (policy_get(h, p, NULL) < 0)
		return;
	v->reserve_memory = !strcmp(p[RES_MEMORY].mode, "reserve");
	v->reserve_disk = !strcmp(p[RES_DISK].mode, "reserve");
}

/* --- admission ---------------------------------------------------------------------- */

/* 8589934592 -> "8.0 GiB", 134217728 -> "128 MiB"; cpus as a plain number. */
static const char *fmt(enum policy_res r, double x, char *buf, size_t len)
{
	if (r == RES_CPUS)
		snprintf(buf, len, "%g", round(x * 100) / 100);
	else if (fabs(x) >= (double)(1ULL << 30))
		snprintf(buf, len, "%.1f GiB", x / (double)(1ULL << 30));
	else
		snprintf(buf, len, "%.0f MiB", x / (double)(1ULL << 20));
	return buf;
}

static const char *unit(enum policy_res r, const struct capacity *c, struct host *h, char *buf,
			size_t len)
{
	char x[32];

	fmt(r, physical(c, r), x, sizeof(x));
	if (r == RES_MEMORY)
		snprintf(buf, len, "%s of RAM", x);
	else if (r == RES_DISK)
		snprintf(buf, len, "%s on `%s`", x, h->data_dir);
	else
		snprintf(buf, len, "%s core%s", x, c->cores == 1 ? "" : "s");
	return buf;
}

struct admission {
	struct host *h;
	const struct vps *old, *v;
	json_t *quota; /* the owner's, {} none */
	int addresses; /* the new VPS's: one per family of its network */
};

/* --- quotas per customer ------------------------------------------------------------ */

enum { Q_VPS, Q_RAM, Q_DISK, Q_CPUS, Q_ADDR, NR_Q };
static const char *const q_names[NR_Q] = { "vps", "ram", "disk", "cpus", "addresses" };

static double q_figure(const struct vps *v, int q, int addresses)
{
	switch (q) {
	case Q_VPS:
		return 1;
	case Q_RAM:
		return (double)v->ram;
	case Q_DISK:
		return (double)v->disk;
	case Q_CPUS:
		return v->cpus;
	default:
		return addresses;
	}
}

static const char *q_fmt(int q, double x, char *buf, size_t len)
{
	if (q == Q_RAM || q == Q_DISK)
		return fmt(RES_MEMORY, x, buf, len);
	snprintf(buf, len, "%g", round(x * 100) / 100);
	return buf;
}

/*
 * Inside admission's transaction: what the owner holds besides `old` (the
 * VPS being changed), plus what v asks, against the owner's quota. Every
 * figure past it is named, with its numbers.
 */
static int quota_admit(struct admission *x, const struct vps *all, size_t n, struct err **err)
{
	/* a VPS given to another owner is new to them: all of it counts */
	const struct vps *old = x->old && !strcmp(x->old->owner, x->v->owner) ? x->old : NULL;
	int old_addrs = x->old ? !!*x->old->ipv4 + !!*x->old->ipv6 : 0;
	double used[NR_Q] = { 0 };
	char msg[512] = "", a[32], b[32], c[32];
	size_t len = 0;

	if (!json_object_size(x->quota))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(all[i].owner, x->v->owner) ||
		    (x->old && !strcmp(all[i].name, x->old->name)))
			continue;
		for (int q = 0; q < NR_Q; q++)
			used[q] += q_figure(&all[i], q, !!*all[i].ipv4 + !!*all[i].ipv6);
	}
	for (int q = 0; q < NR_Q; q++) {
		json_t *lim = json_object_get(x->quota, q_names[q]);
		double before = old ? q_figure(old, q, old_addrs) : 0;
		/* a change keeps its addresses; a create takes its network's */
		double now = q_figure(x->v, q, x->old ? old_addrs : x->addresses);

		if (!json_is_number(lim) || now <= before ||
		    used[q] + now <= json_number_value(lim) * (1 + 1e-9) || len >= sizeof(msg))
			continue;
		len += (size_t)snprintf(msg + len, sizeof(msg) - len,
					"%s%s: %s of %s used, %s %sasked", len ? "; " : "",
					q_names[q], q_fmt(q, used[q] + before, a, sizeof(a)),
					q_fmt(q, json_number_value(lim), b, sizeof(b)),
					q_fmt(q, now - before, c, sizeof(c)), old ? "more " : "");
	}
	if (!len)
		return 0;
	return err_make(err, POLICY_EQUOTA,
			"quota of user `%s`: %s (the provider raises it: PATCH /api/v1/users/%s "
			"{\"quota\"})",
			x->v->owner, msg, x->v->owner);
}

/* store_admit_fn: inside the store's transaction, on its rows. */
static int admit(void *arg, const struct vps *all, size_t n, json_t *policies, struct err **err)
{
	struct admission *x = arg;
	const struct vps *old = x->old, *v = x->v;
	struct host *h = x->h;
	struct policy p[NR_RES];
	struct capacity c;
	struct sold s;
	int r;

	if ((r = quota_admit(x, all, n, err)) < 0)
		return r;
	policies_of(policies, p);
	sold_of(all, n, h->node, old ? old->name : NULL, &s);
	capacity_read(h, &c);
	for (int res = 0; res < NR_RES; res++) {
		double now = figure(v, res), before = old ? figure(old, res) : 0;
		double asked = now - before, alloc = s.figure[res] + before;
		double limit = p[res].ratio * physical(&c, res);
		char a[32], b[32], l[32], left[32], ph[96];

		if (asked <= 0)
			continue; /* a change that does not grow this figure always fits */
		if (alloc + asked > limit * (1 + 1e-9))
			return err_make(
				err, ENOSPC,
				"`%s`: %s %sasked, %s of %s allocated under %s %s (ratio %g x %s): %s left",
				fields[res], fmt(res, asked, a, sizeof(a)), old ? "more " : "",
				fmt(res, alloc, b, sizeof(b)), fmt(res, limit, l, sizeof(l)),
				policy_res_names[res], p[res].mode, p[res].ratio,
				unit(res, &c, h, ph, sizeof(ph)),
				fmt(res, limit > alloc ? limit - alloc : 0, left, sizeof(left)));
		/* a reserved disk is allocated at once: the room must be free now */
		if (res == RES_DISK && !strcmp(p[res].mode, "reserve") && asked > (double)c.fs_free)
			return err_make(err, ENOSPC,
					"`disk`: %s %sasked under disk reserve, %s free on `%s`",
					fmt(res, asked, a, sizeof(a)), old ? "more " : "",
					fmt(res, (double)c.fs_free, b, sizeof(b)), h->data_dir);
	}
	return 0;
}

/* --- placement (docs/cluster.md) ------------------------------------------------------- */

/*
 * Whether v fits on node n (a node_list() entry) under the policies p,
 * counting what its rows allocate (its `allocated`, summed by the store):
 * 0 with *score (the smallest share of a limit left after it, over the
 * resources), or -ENOSPC with why in buf.
 */
static int place_one(const struct vps *v, json_t *n, const struct policy p[NR_RES], double *score,
		     char *buf, size_t len)
{
	const char *name = json_string_value(json_object_get(n, "name"));
	json_t *allocated = json_object_get(n, "allocated");
	struct capacity c = { 0 };

	c.mem_total = (uint64_t)json_integer_value(json_object_get(n, "ram"));
	c.fs_size = (uint64_t)json_integer_value(json_object_get(n, "disk"));
	c.cores = (int)json_number_value(json_object_get(n, "cpus"));
	*score = 1;
	for (int res = 0; res < NR_RES; res++) {
		double asked = figure(v, res);
		double alloc = json_number_value(json_object_get(allocated, fields[res]));
		double limit = p[res].ratio * physical(&c, res);
		char a[32], b[32], l[32], left[32];

		if (alloc + asked > limit * (1 + 1e-9)) {
			snprintf(
				buf, len,
				"node `%s`: `%s` %s asked, %s of %s allocated under %s %s: %s left",
				name, fields[res], fmt(res, asked, a, sizeof(a)),
				fmt(res, alloc, b, sizeof(b)), fmt(res, limit, l, sizeof(l)),
				policy_res_names[res], p[res].mode,
				fmt(res, limit > alloc ? limit - alloc : 0, left, sizeof(left)));
			return -ENOSPC;
		}
		if (limit > 0 && (limit - alloc - asked) / limit < *score)
			*score = (limit - alloc - asked) / limit;
	}
	return 0;
}

int policy_place(struct host *h, struct vps *v, struct err **err)
{
	struct policy p[NR_RES];
	json_t *nodes, *n, *best = NULL;
	char why[1536] = "", one[320];
	double best_score = -1, score;
	size_t i, online = 0;
	bool self_online = false;
	int r = 0;

	if (!h->node)
		return 0; /* one host: admission decides, with its own figures */
	if (!strcmp(v->node, h->node)) {
		/* pinned here: admission decides, unless this node is being evacuated (the
		 * nodes' rows as stored: their sums are not needed) */
		json_t *self = (nodes = store_nodes(h->store)) ? node_find(nodes, h->node) : NULL;
		bool leaving = self && !strcmp(json_string_value(json_object_get(self, "state")),
					       "evacuating");

		json_decref(self);
		json_decref(nodes);
		return leaving ? err_make(err, EBUSY,
					  "`node`: node `%s` is evacuating: it takes no new VPS",
					  h->node) :
				 0;
	}
	if (!(nodes = node_list(h, err)))
		return -ENOTCONN;
	policy_get(h, p, NULL);
	json_array_foreach(nodes, i, n)
	{
		const char *name = json_string_value(json_object_get(n, "name"));
		const char *state = json_string_value(json_object_get(n, "state"));

		if (*v->node && strcmp(name, v->node))
			continue;
		online += !strcmp(state, "online");
		self_online |= !strcmp(state, "online") && !strcmp(name, h->node);
		if (strcmp(state, "online")) {
			snprintf(one, sizeof(one), "node `%s` is %s", name, state);
		} else if (place_one(v, n, p, &score, one, sizeof(one)) == 0) {
			/* the most room left; a tie goes to this node (no hop), then by name */
			if (score > best_score + 1e-12 ||
			    (fabs(score - best_score) <= 1e-12 && !strcmp(name, h->node))) {
				best = n;
				best_score = score;
			}
			continue;
		}
		snprintf(why + strlen(why), sizeof(why) - strlen(why), "%s%s", *why ? "; " : "",
			 one);
	}
	if (!best && !*v->node && online == 1 && self_online) {
		/* a cluster of one (online): admission refuses, as on one host */
		snprintf(v->node, sizeof(v->node), "%s", h->node);
		json_decref(nodes);
		return 0;
	}
	if (!best) {
		if (*v->node && !*why)
			r = err_make(err, EINVAL, "`node`: no node named `%.63s` in this cluster",
				     v->node);
		else if (*v->node && strstr(why, "` is "))
			r = err_make(err, EBUSY, "`node`: %s: it takes no new VPS", why);
		else
			r = err_make(err, ENOSPC, "no node has room for `%s`: %s", v->name, why);
		json_decref(nodes);
		return r;
	}
	snprintf(v->node, sizeof(v->node), "%s", json_string_value(json_object_get(best, "name")));
	if (strcmp(v->node, h->node)) {
		const char *addr = json_string_value(json_object_get(best, "address"));

		node_note_elsewhere(v->node, addr);
		r = err_make(err, EXDEV,
			     "placement puts `%s` on node `%s`: send the create to that node's API "
			     "(%s) with \"node\": \"%s\"",
			     v->name, v->node, *addr ? addr : "it advertises no address", v->node);
	}
	json_decref(nodes);
	return r;
}

int policy_admit(struct host *h, const struct vps *old, struct vps *v, const char *plan,
		 struct err **err)
{
	struct admission x = { .h = h, .old = old, .v = v };
	json_t *u = store_users(h->store, v->owner), *net;
	int r;

	/* read before the transaction (admit must not call the store); only admins change it */
	x.quota = json_incref(json_object_get(json_array_get(u, 0), "quota"));
	json_decref(u);
	if (!old && *v->network && (net = store_nets(h->store, v->network))) {
		json_t *one = json_array_get(net, 0);

		x.addresses = json_is_string(json_object_get(one, "ipv4")) +
			      json_is_string(json_object_get(one, "ipv6"));
		json_decref(net);
	}
	r = store_vps_admit(h->store, v, !old, plan, admit, &x, err);
	json_decref(x.quota);
	return r;
}

/* --- the host report -------------------------------------------------------------------- */

static __thread uint64_t walk_blocks;

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	if (type == FTW_F)
		walk_blocks += (uint64_t)st->st_blocks * 512;
	return 0;
}

/* Allocated bytes of the files under a VPS's directory, not into a mounted rootfs. */
static uint64_t dir_allocated(const char *dir)
{
	walk_blocks = 0;
	nftw(dir, walk_one, 16, FTW_PHYS | FTW_MOUNT);
	return walk_blocks;
}

/* What the running VPSes' monitors say they use: ct memory_bytes, vmm rss_bytes. */
static uint64_t vps_memory_used(struct host *h, const struct vps *v)
{
	const struct kind_ops *o = kind_find(v->kind, v->engine);
	json_t *st, *stats;
	uint64_t used = 0;

	if (!o || !o->status || v->state != VPS_RUNNING)
		return 0;
	st = json_object();
	o->status(h, v, st);
	stats = json_object_get(st, "stats");
	if (json_is_integer(json_object_get(stats, "memory_bytes")))
		used = json_integer_value(json_object_get(stats, "memory_bytes"));
	else if (json_is_integer(json_object_get(stats, "rss_bytes")))
		used = json_integer_value(json_object_get(stats, "rss_bytes"));
	json_decref(st);
	return used;
}

static void warn(json_t *w, const char *fmt_, ...) __attribute__((format(printf, 2, 3)));

static void warn(json_t *w, const char *fmt_, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt_);
	vsnprintf(buf, sizeof(buf), fmt_, ap);
	va_end(ap);
	json_array_append_new(w, json_string(buf));
}

static void add_limit_warnings(const struct policy p[NR_RES], const struct capacity *c,
			       const struct sold *s, json_t *warnings)
{
	for (int r = 0; r < NR_RES; r++) {
		double limit = p[r].ratio * physical(c, r);
		char a[32], l[32];

		if (s->figure[r] > limit * (1 + 1e-9))
			warn(warnings,
			     "%s: %s allocated, over the %s that %s (ratio %g) allows: new VPSes "
			     "are refused until some go",
			     policy_res_names[r], fmt(r, s->figure[r], a, sizeof(a)),
			     fmt(r, limit, l, sizeof(l)), p[r].mode, p[r].ratio);
	}
}

/* Real usage against physical: warning at POLICY_WARN_PCT, critical at POLICY_CRIT_PCT. */
static void usage_warning(json_t *w, const char *what, enum policy_res r, double used, double phys)
{
	char u[32], ph[32];
	double pct = phys > 0 ? 100 * used / phys : 0;

	if (pct < POLICY_WARN_PCT)
		return;
	warn(w,
	     r == RES_CPUS ? "%s: load %s on %s cores (%.0f%%, %s at %d%%)" :
			     "%s: %s of %s in use (%.0f%%, %s at %d%%)",
	     what, fmt(r, used, u, sizeof(u)), fmt(r, phys, ph, sizeof(ph)), pct,
	     pct >= POLICY_CRIT_PCT ? "critical" : "warning",
	     pct >= POLICY_CRIT_PCT ? POLICY_CRIT_PCT : POLICY_WARN_PCT);
}

static json_t *resource_json(const struct policy *p, double phys, double alloc)
{
	double limit = p->ratio * phys;

	return json_pack("{s:s, s:f, s:f, s:f}", "policy", p->mode, "ratio", p->ratio, "limit",
			 limit, "headroom", limit - alloc);
}

/* Sizes as integers (bytes), cpus as numbers. */
static void set_num(json_t *o, const char *k, enum policy_res r, double x)
{
	json_object_set_new(o, k, r == RES_CPUS ? json_real(x) : json_integer((json_int_t)x));
}

json_t *policy_report(struct host *h)
{
	struct policy p[NR_RES];
	struct capacity c;
	struct sold s;
	struct vps *all = NULL;
	size_t n = 0;
	uint64_t mem_vps = 0, disk_used = 0;
	json_t *rep, *mem, *disk, *cpus, *w = json_array();

	policy_get(h, p, NULL);
	capacity_read(h, &c);
	sold_sum(h, NULL, &s, &all, &n, NULL);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *dir = host_vps_disks(h, all[i].name, NULL);

		mem_vps += vps_memory_used(h, &all[i]);
		if (dir)
			disk_used += dir_allocated(dir);
	}
	store_vps_list_free(all, n);

	mem = resource_json(&p[RES_MEMORY], physical(&c, RES_MEMORY), s.figure[RES_MEMORY]);
	set_num(mem, "physical", RES_MEMORY, (double)c.mem_total);
	set_num(mem, "available", RES_MEMORY, (double)c.mem_avail);
	set_num(mem, "allocated", RES_MEMORY, s.figure[RES_MEMORY]);
	set_num(mem, "used", RES_MEMORY, (double)(c.mem_total - c.mem_avail));
	set_num(mem, "used_by_vps", RES_MEMORY, (double)mem_vps);
	set_num(mem, "limit", RES_MEMORY, json_real_value(json_object_get(mem, "limit")));
	set_num(mem, "headroom", RES_MEMORY, json_real_value(json_object_get(mem, "headroom")));

	disk = resource_json(&p[RES_DISK], physical(&c, RES_DISK), s.figure[RES_DISK]);
	json_object_set_new(disk, "path", json_string(h->data_dir));
	set_num(disk, "physical", RES_DISK, (double)c.fs_size);
	set_num(disk, "free", RES_DISK, (double)c.fs_free);
	set_num(disk, "allocated", RES_DISK, s.figure[RES_DISK]);
	set_num(disk, "used", RES_DISK, (double)disk_used);
	set_num(disk, "host_used", RES_DISK, (double)(c.fs_size - c.fs_free));
	set_num(disk, "limit", RES_DISK, json_real_value(json_object_get(disk, "limit")));
	{
		double hr = json_real_value(json_object_get(disk, "headroom"));

		if (!strcmp(p[RES_DISK].mode, "reserve") && hr > (double)c.fs_free)
			hr = (double)c.fs_free;
		set_num(disk, "headroom", RES_DISK, hr);
	}

	cpus = resource_json(&p[RES_CPUS], physical(&c, RES_CPUS), s.figure[RES_CPUS]);
	json_object_set_new(cpus, "physical", json_integer(c.cores));
	set_num(cpus, "allocated", RES_CPUS, s.figure[RES_CPUS]);
	set_num(cpus, "used", RES_CPUS, c.load1);

	add_limit_warnings(p, &c, &s, w);
	usage_warning(w, "memory", RES_MEMORY, (double)(c.mem_total - c.mem_avail),
		      (double)c.mem_total);
	usage_warning(w, "disk", RES_DISK, (double)(c.fs_size - c.fs_free), (double)c.fs_size);
	usage_warning(w, "cpus", RES_CPUS, c.load1, (double)c.cores);
	if (c.swap_total)
		usage_warning(w, "swap", RES_MEMORY, (double)(c.swap_total - c.swap_free),
			      (double)c.swap_total);

	rep = json_pack("{s:o, s:o, s:o, s:{s:I, s:I, s:I}, s:{s:i, s:i}, s:o}", "memory", mem,
			"disk", disk, "cpus", cpus, "swap", "physical", (json_int_t)c.swap_total,
			"allocated", (json_int_t)s.swap, "used",
			(json_int_t)(c.swap_total - c.swap_free), "vps", "total", (int)s.total,
			"running", (int)s.running, "warnings", w);
	json_object_set_new(rep, "limits", caps_report());
	return rep;
}
