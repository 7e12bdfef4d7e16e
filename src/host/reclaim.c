// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Memory reclaim through balloon targets (reclaim.h, docs/policies.md): the
 * arithmetic, one pass over the running VMs, and the thread of vpsd that
 * runs a pass every two seconds.
 *
 * What a pass took is kept here, by VPS name, and nowhere else: a VM that
 * stops drops out (its balloon went with its monitor), and a new vpsd starts
 * by giving every running VM its whole RAM back, since a vpsd before it may
 * have left balloons inflated.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "host/policy.h"
#include "host/reclaim.h"

#define MIB (1ULL << 20)

struct entry {
	char name[VPS_NAME_MAX + 1];
	struct reclaim_vm vm;
	bool failed; /* its kind refused: left alone until it stops */
	bool seen; /* running in this pass */
};

static struct {
	pthread_mutex_t lock; /* the table and the config, against the host report */
	struct reclaim_cfg cfg;
	struct entry e[RECLAIM_MAX_VMS];
	size_t nr;
	unsigned int settle; /* passes to sit out after a change */
	bool synced; /* the first pass gave adopted VMs their RAM back */
	struct host *h;
	int wake; /* eventfd: stop */
	pthread_t thread;
	bool started;
} R = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = -1 };

/* --- the arithmetic ------------------------------------------------------------ */

void reclaim_cfg_init(struct reclaim_cfg *c, uint64_t mem_total, uint64_t low)
{
	c->low = low ? low : mem_total * RECLAIM_LOW_PCT / 100;
	c->high = c->low + c->low / 2;
	c->floor_pct = RECLAIM_FLOOR_PCT;
	c->floor_min = RECLAIM_FLOOR_MIN;
}

int reclaim_parse_below(const char *s, uint64_t mem_total, uint64_t *out, struct err **err)
{
	size_t len = strlen(s);
	char *end;

	if (!strcmp(s, "off")) {
		*out = 0;
		return 0;
	}
	if (len > 1 && s[len - 1] == '%') {
		double pct = strtod(s, &end);

		if (end != s + len - 1 || !(pct > 0 && pct < 100))
			return err_make(err, EINVAL, "--reclaim-below: `%s`: expected 0 to 100%%",
					s);
		*out = (uint64_t)((double)mem_total * pct / 100);
		return 0;
	}
	if (parse_size(s, out) < 0 || !*out)
		return err_make(err, EINVAL,
				"--reclaim-below: `%s`: expected a size (512M, 2G), N%% or off", s);
	return 0;
}

uint64_t reclaim_floor(const struct reclaim_cfg *c, uint64_t ram)
{
	uint64_t f = (ram * c->floor_pct / 100 + MIB - 1) & ~(MIB - 1);

	if (f < c->floor_min)
		f = c->floor_min;
	return f < ram ? f : ram;
}

/* part x share/total, in whole MiB (share <= total, so it never exceeds part) */
static uint64_t portion(uint64_t part, uint64_t share, uint64_t total)
{
	return (uint64_t)((double)part * (double)share / (double)total) & ~(MIB - 1);
}

size_t reclaim_plan(const struct reclaim_cfg *c, uint64_t avail, const struct reclaim_vm *vm,
		    size_t n, uint64_t *out)
{
	uint64_t sum = 0;
	size_t changed = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t f = reclaim_floor(c, vm[i].ram);

		/* a target outside [floor, ram] (the plan changed) comes back inside */
		out[i] = vm[i].target < f ? f : vm[i].target > vm[i].ram ? vm[i].ram : vm[i].target;
	}
	if (c->low && avail < c->low) {
		uint64_t want = c->high - avail;

		for (size_t i = 0; i < n; i++)
			sum += out[i] - reclaim_floor(c, vm[i].ram);
		for (size_t i = 0; sum && i < n; i++) {
			uint64_t room = out[i] - reclaim_floor(c, vm[i].ram);

			out[i] -= sum <= want ? room : portion(want, room, sum);
		}
	} else if (avail > c->high) {
		uint64_t spare = avail - c->high;

		for (size_t i = 0; i < n; i++)
			sum += vm[i].ram - out[i];
		for (size_t i = 0; sum && i < n; i++) {
			uint64_t owed = vm[i].ram - out[i];

			out[i] += sum <= spare ? owed : portion(spare, owed, sum);
		}
	}
	for (size_t i = 0; i < n; i++)
		changed += out[i] != vm[i].target;
	return changed;
}

/* --- one pass ------------------------------------------------------------------- */

static const char *human(uint64_t x, char *buf, size_t len)
{
	if (x >= (1ULL << 30))
		snprintf(buf, len, "%.1f GiB", (double)x / (1ULL << 30));
	else
		snprintf(buf, len, "%llu MiB", (unsigned long long)(x >> 20));
	return buf;
}

static struct entry *entry_of(const char *name)
{
	for (size_t i = 0; i < R.nr; i++)
		if (!strcmp(R.e[i].name, name))
			return &R.e[i];
	if (R.nr == RECLAIM_MAX_VMS)
		return NULL;
	memset(&R.e[R.nr], 0, sizeof(R.e[0]));
	snprintf(R.e[R.nr].name, sizeof(R.e[0].name), "%s", name);
	return &R.e[R.nr++];
}

static bool memory_reserved(struct host *h)
{
	struct policy p[NR_RES];

	/* the policy unreadable: take nothing */
	return policy_get(h, p, NULL) < 0 || !strcmp(p[RES_MEMORY].mode, "reserve");
}

struct action {
	struct vps *v;
	const struct kind_ops *o;
	uint64_t from, to;
	bool sync; /* the first pass re-sends full RAM: no event */
};

static void act(struct host *h, const struct action *a, const char *why)
{
	char f[32], t[32], msg[256];
	struct err *e = NULL;
	struct entry *en;

	if (a->o->reclaim(h, a->v, a->to, &e) < 0) {
		struct vps now;
		bool running = false;

		if (store_vps_get(h->store, a->v->name, &now, NULL) == 0) {
			running = now.state == VPS_RUNNING;
			vps_free(&now);
		}
		pr_warn("reclaim: %s balloon %s: %s", a->v->name, human(a->to, t, sizeof(t)),
			err_msg(e));
		/* a VM that stopped meanwhile is no failure; one that refuses is left alone */
		if (running && !a->sync) {
			snprintf(msg, sizeof(msg), "balloon %s: %s", human(a->to, t, sizeof(t)),
				 err_msg(e));
			store_event(h->store, a->v->name, "reclaim-failed", msg);
			pthread_mutex_lock(&R.lock);
			en = entry_of(a->v->name);
			if (en)
				en->failed = true;
			pthread_mutex_unlock(&R.lock);
		}
		err_free(&e);
		return;
	}
	pthread_mutex_lock(&R.lock);
	en = entry_of(a->v->name);
	if (en)
		en->vm.target = a->to;
	pthread_mutex_unlock(&R.lock);
	if (a->sync)
		return;
	snprintf(msg, sizeof(msg), "balloon %s → %s: %s", human(a->from, f, sizeof(f)),
		 human(a->to, t, sizeof(t)), why);
	pr_info("reclaim: %s %s", a->v->name, msg);
	store_event(h->store, a->v->name, "reclaim", msg);
}

void reclaim_tick(struct host *h, uint64_t avail,
		  const struct kind_ops *(*find)(enum vps_kind kind, enum vps_engine engine))
{
	struct vps *all = NULL;
	size_t n = 0, nr_vm = 0, nr_act = 0;
	bool reserve = memory_reserved(h), sync, low;
	char why[128], av[32], th[32];
	struct reclaim_cfg c;
	struct reclaim_vm *vm;
	struct action *acts;
	uint64_t *to;
	size_t *idx;

	if (store_vps_list_local(h->store, &all, &n, NULL) < 0)
		return;
	vm = calloc(n + 1, sizeof(*vm));
	to = calloc(n + 1, sizeof(*to));
	idx = calloc(n + 1, sizeof(*idx));
	acts = calloc(n + 1, sizeof(*acts));
	if (!vm || !to || !idx || !acts)
		goto out;

	pthread_mutex_lock(&R.lock);
	c = R.cfg;
	sync = !R.synced;
	R.synced = true;
	for (size_t i = 0; i < R.nr; i++)
		R.e[i].seen = false;
	for (size_t i = 0; i < n; i++) {
		const struct kind_ops *o = find(all[i].kind, all[i].engine);
		struct entry *en;

		if (all[i].state != VPS_RUNNING || !o || !o->reclaim)
			continue;
		en = entry_of(all[i].name);
		if (!en)
			continue;
		/* new, untouched, or its plan shrank below what we left it (set ballooned it) */
		if (!en->vm.ram || en->vm.target == en->vm.ram || en->vm.target > all[i].ram)
			en->vm.target = all[i].ram;
		en->vm.ram = all[i].ram;
		en->seen = true;
		if (en->failed)
			continue;
		vm[nr_vm] = en->vm;
		idx[nr_vm++] = i;
	}
	/* VMs that stopped: their balloons went with their monitors */
	for (size_t i = 0; i < R.nr;) {
		if (R.e[i].seen)
			i++;
		else
			R.e[i] = R.e[--R.nr];
	}
	if (reserve || !c.low) {
		/* nothing is taken; what was taken goes back */
		for (size_t i = 0; i < nr_vm; i++)
			to[i] = vm[i].ram;
	} else if (R.settle && !sync) {
		R.settle--;
		for (size_t i = 0; i < nr_vm; i++)
			to[i] = vm[i].target;
	} else if (reclaim_plan(&c, avail, vm, nr_vm, to)) {
		R.settle = RECLAIM_SETTLE_TICKS;
	}
	pthread_mutex_unlock(&R.lock);

	low = c.low && avail < c.low;
	if (reserve)
		snprintf(why, sizeof(why), "the memory policy is reserve");
	else if (!c.low)
		snprintf(why, sizeof(why), "reclaim is off");
	else
		snprintf(why, sizeof(why), "host MemAvailable %s, %s %s",
			 human(avail, av, sizeof(av)), low ? "under" : "over",
			 human(low ? c.low : c.high, th, sizeof(th)));
	for (size_t i = 0; i < nr_vm; i++) {
		/* the first pass also re-sends full RAM: an older vpsd may have taken some */
		if (to[i] == vm[i].target && !(sync && to[i] == vm[i].ram))
			continue;
		acts[nr_act++] = (struct action){ .v = &all[idx[i]],
						  .o = find(all[idx[i]].kind, all[idx[i]].engine),
						  .from = vm[i].target,
						  .to = to[i],
						  .sync = to[i] == vm[i].target };
	}
	/* the kinds talk to monitors (seconds at worst): outside the lock */
	for (size_t i = 0; i < nr_act; i++)
		act(h, &acts[i], why);
out:
	free(vm);
	free(to);
	free(idx);
	free(acts);
	store_vps_list_free(all, n);
}

void reclaim_set_config(const struct reclaim_cfg *c)
{
	pthread_mutex_lock(&R.lock);
	R.cfg = *c;
	R.nr = 0;
	R.settle = 0;
	R.synced = false;
	pthread_mutex_unlock(&R.lock);
}

uint64_t reclaim_taken(unsigned int *nr_vms)
{
	uint64_t sum = 0;

	pthread_mutex_lock(&R.lock);
	*nr_vms = 0;
	for (size_t i = 0; i < R.nr; i++) {
		if (R.e[i].vm.target < R.e[i].vm.ram) {
			sum += R.e[i].vm.ram - R.e[i].vm.target;
			(*nr_vms)++;
		}
	}
	pthread_mutex_unlock(&R.lock);
	return sum;
}

const struct reclaim_cfg *reclaim_config(void)
{
	return &R.cfg;
}

/* --- the thread ------------------------------------------------------------------ */

static int meminfo(uint64_t *total, uint64_t *avail)
{
	_cleanup_free_ char *mi = NULL;
	const char *t, *a;

	if (read_file("/proc/meminfo", &mi, NULL) < 0)
		return -EIO;
	t = strstr(mi, "MemTotal:");
	a = strstr(mi, "MemAvailable:");
	if (!t || !a)
		return -EIO;
	*total = strtoull(t + 9, NULL, 10) << 10;
	*avail = strtoull(a + 13, NULL, 10) << 10;
	return 0;
}

static void *reclaim_thread(void *arg)
{
	struct host *h = arg;

	for (;;) {
		struct pollfd p = { R.wake, POLLIN, 0 };
		uint64_t total, avail;

		if (poll(&p, 1, RECLAIM_PERIOD_MS) != 0)
			break; /* woken: stop */
		if (meminfo(&total, &avail) == 0)
			reclaim_tick(h, avail, kind_find);
		if (!R.cfg.low)
			break; /* off: the first pass gave back what an older vpsd took */
	}
	return NULL;
}

int reclaim_start(struct host *h, const char *below, struct err **err)
{
	struct reclaim_cfg c;
	uint64_t total, avail, low = 0;
	char l[32], hi[32];

	if (meminfo(&total, &avail) < 0)
		return err_make(err, EIO, "reclaim: read `/proc/meminfo`");
	if (below && reclaim_parse_below(below, total, &low, err) < 0)
		return -EINVAL;
	reclaim_cfg_init(&c, total, low);
	if (below && !low)
		c.low = c.high = 0; /* off */
	reclaim_set_config(&c);
	/* off still runs one pass: an older vpsd may have left balloons inflated */
	R.h = h;
	R.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (R.wake < 0)
		return err_make(err, errno, "reclaim: eventfd");
	if (pthread_create(&R.thread, NULL, reclaim_thread, h) != 0) {
		close(R.wake);
		R.wake = -1;
		return err_make(err, EAGAIN, "reclaim: start the thread");
	}
	R.started = true;
	if (!c.low) {
		pr_info("reclaim: off (running VMs get their whole RAM back)");
		return 0;
	}
	pr_info("reclaim: balloons lowered below %s of MemAvailable, given back above %s",
		human(c.low, l, sizeof(l)), human(c.high, hi, sizeof(hi)));
	return 0;
}

void reclaim_stop(void)
{
	uint64_t one = 1;

	if (!R.started)
		return;
	(void)!write(R.wake, &one, sizeof(one));
	pthread_join(R.thread, NULL);
	close(R.wake);
	R.wake = -1;
	R.started = false;
}

json_t *reclaim_report(void)
{
	const struct reclaim_cfg *rc = reclaim_config();
	unsigned int nr_vms;
	uint64_t taken = reclaim_taken(&nr_vms);

	return json_pack("{s:I, s:I, s:I, s:i}", "below", (json_int_t)rc->low, "above",
			 (json_int_t)rc->high, "taken", (json_int_t)taken, "vms", (int)nr_vms);
}
