// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Usage history (usage.h, docs/usage.md): the thread that samples every
 * running VPS from the host's side, and the reads of the `usage` table.
 *
 * Nothing is asked of the monitors: a container's CPU time and memory are
 * its cgroup's (the kind's cgroup_parent/NAME, v1 cpuacct and memory or
 * the v2 tree), a VM's are its monitor process's (/proc/PID/stat and
 * VmRSS, the pid from the keeper's monitor.pid), the disk is what the files
 * in DATA/vps/NAME take on the host, and the network is the counters of the
 * VPS's host device (net_ifname()). CPU and network are rates: the
 * cumulative counters of the previous pass are kept here, by VPS, and a
 * VPS gets its first sample on its second pass after it started.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "host/keeper.h"
#include "host/kind.h"
#include "host/life.h"
#include "host/net.h"
#include "host/traffic.h"
#include "host/usage.h"

#define DISK_WALK_DEPTH 8 /* DATA/vps/NAME/ct/disk.img is two down */

/* What one pass reads of one VPS: cumulative counters and levels. */
struct reading {
	unsigned long long ident; /* the counters' source: cgroup inode, monitor start time */
	uint64_t cpu_ns; /* CPU time since that source began */
	uint64_t mem, disk; /* bytes */
	uint64_t rx, tx; /* bytes, as the VPS sees them (received, sent) */
	bool net; /* rx and tx were read */
};

/* The previous pass's reading of one running VPS. */
struct prev {
	char name[VPS_NAME_MAX + 1];
	int64_t id; /* the row's id: a VPS made again under the name starts over */
	struct reading r;
	struct timespec at; /* CLOCK_MONOTONIC */
	long long wall; /* Unix time of that reading */
	long long last; /* time of its newest stored sample, 0: none by this vpsd */
	long long rows; /* its rows in the table, -1: not counted yet */
	bool seen; /* running in this pass */
};

static struct {
	pthread_mutex_t lock; /* stop and the condition variable */
	pthread_cond_t cond;
	pthread_t thread;
	bool started, stop;
	pthread_mutex_t plock; /* p, nr, cap: the thread writes them, usage_readings() reads */
	struct prev *p;
	size_t nr, cap;
	char *cpuacct, *memory, *unified; /* cgroup mount points, NULL: none */
	long clk_tck;
} U = { .lock = PTHREAD_MUTEX_INITIALIZER, .plock = PTHREAD_MUTEX_INITIALIZER };

/* --- reading the host --------------------------------------------------------- */

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p; p = strchr(p, ','), p = p ? p + 1 : NULL)
		if (!strncmp(p, word, n) && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

/* A mount of a hierarchy's root wins over one of a subtree. */
static void keep_mount(char **slot, bool *slot_root, const char *mnt, bool root)
{
	if (*slot && (*slot_root || !root))
		return;
	free(*slot);
	*slot = strdup(mnt);
	*slot_root = root;
}

/* Where the cpuacct and memory hierarchies (v1) and the cgroup2 tree are. */
static void find_cgroups(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	bool rc = false, rm = false, ru = false;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;

	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		char root[PATH_MAX], mnt[PATH_MAX], type[32], src[64], opts[256];
		const char *dash = strstr(line, " - ");
		bool is_root;

		if (!dash || sscanf(line, "%*d %*d %*s %4095s %4095s", root, mnt) != 2 ||
		    sscanf(dash + 3, "%31s %63s %255s", type, src, opts) != 3)
			continue;
		is_root = !strcmp(root, "/");
		if (!strcmp(type, "cgroup2")) {
			keep_mount(&U.unified, &ru, mnt, is_root);
		} else if (!strcmp(type, "cgroup")) {
			if (has_word(opts, "cpuacct"))
				keep_mount(&U.cpuacct, &rc, mnt, is_root);
			if (has_word(opts, "memory"))
				keep_mount(&U.memory, &rm, mnt, is_root);
		}
	}
}

static int read_u64(const char *path, uint64_t *out)
{
	_cleanup_free_ char *s = NULL;
	char *end;

	if (read_file(path, &s, NULL) < 0)
		return -EIO;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || end == s ? -EIO : 0;
}

/* The number after `key ` at the start of a line of a cgroup's or /proc's key-value file. */
static int field_u64(const char *text, const char *key, uint64_t *out)
{
	size_t n = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, key, n) && (p[n] == ' ' || p[n] == '\t')) {
			*out = strtoull(p + n + 1, NULL, 10);
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * A container: CPU time from cpuacct.usage (v1) or cpu.stat's usage_usec
 * (v2); memory in use is the usage less the inactive file cache, the
 * "working set" of docker stats and the kubelet (page cache the kernel can
 * drop at once is not memory the VPS needs; tmpfs and shmem stay in).
 */
static int read_cgroup(const char *parent, const char *name, struct reading *r)
{
	_cleanup_free_ char *mstat = NULL, *cpu = NULL;
	char dir[PATH_MAX], path[PATH_MAX + 32];
	uint64_t usage, inactive = 0;
	bool v1mem = U.memory != NULL;
	struct stat st;

	if (U.cpuacct) {
		snprintf(dir, sizeof(dir), "%s/%s/%s", U.cpuacct, parent, name);
		snprintf(path, sizeof(path), "%s/cpuacct.usage", dir);
		if (stat(dir, &st) < 0 || read_u64(path, &r->cpu_ns) < 0)
			return -ENOENT;
	} else if (U.unified) {
		snprintf(dir, sizeof(dir), "%s/%s/%s", U.unified, parent, name);
		snprintf(path, sizeof(path), "%s/cpu.stat", dir);
		if (stat(dir, &st) < 0 || read_file(path, &cpu, NULL) < 0 ||
		    field_u64(cpu, "usage_usec", &r->cpu_ns) < 0)
			return -ENOENT;
		r->cpu_ns *= 1000;
	} else {
		return -ENOENT;
	}
	r->ident = st.st_ino; /* a container started again has a new cgroup */

	if (!v1mem && !U.unified)
		return -ENOENT;
	snprintf(dir, sizeof(dir), "%s/%s/%s", v1mem ? U.memory : U.unified, parent, name);
	snprintf(path, sizeof(path), "%s/%s", dir,
		 v1mem ? "memory.usage_in_bytes" : "memory.current");
	if (read_u64(path, &usage) < 0)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/memory.stat", dir);
	if (read_file(path, &mstat, NULL) == 0)
		field_u64(mstat, v1mem ? "total_inactive_file" : "inactive_file", &inactive);
	r->mem = usage > inactive ? usage - inactive : 0;
	return 0;
}

/*
 * A VM: its monitor process, checked to be the child of this VPS's live
 * keeper (a stale pid file names nobody, or somebody else). utime + stime
 * of /proc/PID/stat count every thread of the process.
 */
static int read_monitor(struct host *h, const char *name, struct reading *r)
{
	_cleanup_free_ char *run = host_vps_run(h, name, NULL);
	_cleanup_free_ char *pidf = host_vps_run(h, name, "monitor.pid");
	_cleanup_free_ char *s = NULL, *pstat = NULL, *status = NULL;
	unsigned long long ut, sy, start;
	pid_t pid, keeper;
	char path[64];
	const char *p;
	uint64_t rss;
	int ppid;

	if (!run || !pidf || read_file(pidf, &s, NULL) < 0 || (pid = atoi(s)) <= 0)
		return -ENOENT;
	keeper = keeper_pid(run, name);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (keeper <= 0 || read_file(path, &pstat, NULL) < 0 || !(p = strrchr(pstat, ')')))
		return -ENOENT;
	/* fields 3 on (proc(5)): state ppid ... utime(14) stime(15) ... starttime(22) */
	if (sscanf(p + 1,
		   " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d "
		   "%llu",
		   &ppid, &ut, &sy, &start) != 4 ||
	    ppid != keeper)
		return -ENOENT;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_file(path, &status, NULL) < 0 || !(p = strstr(status, "\nVmRSS:")) ||
	    field_u64(p + 1, "VmRSS:", &rss) < 0)
		return -ENOENT;
	r->ident = start;
	r->cpu_ns = (ut + sy) * (1000000000ULL / (unsigned long long)U.clk_tck);
	r->mem = rss << 10;
	return 0;
}

/*
 * Bytes allocated to the regular files under fd0 (closed). Mount points
 * are not entered (a container's mounted disk and root, the idmapped
 * template clone): the data is its disk image, counted once. Directories
 * are compared by device, files not (overlayfs gives them the lower
 * layer's).
 */
static uint64_t allocated(int fd0, dev_t dev, int depth)
{
	DIR *d = fdopendir(fd0);
	struct dirent *de;
	uint64_t sum = 0;

	if (!d) {
		close(fd0);
		return 0;
	}
	while ((de = readdir(d))) {
		struct statx stx;
		int fd;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (statx(dirfd(d), de->d_name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
			  STATX_TYPE | STATX_BLOCKS, &stx) < 0)
			continue;
		if (S_ISREG(stx.stx_mode)) {
			sum += stx.stx_blocks * 512;
			continue;
		}
		if (!S_ISDIR(stx.stx_mode) || depth >= DISK_WALK_DEPTH ||
		    makedev(stx.stx_dev_major, stx.stx_dev_minor) != dev ||
		    (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT &&
		     stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			sum += allocated(fd, dev, depth + 1);
	}
	closedir(d);
	return sum;
}

static uint64_t disk_allocated(struct host *h, const char *name)
{
	/* its directory in its pool: the disks and the snapshots */
	_cleanup_free_ char *dir = host_vps_disks(h, name, NULL);
	struct stat st;
	int fd;

	if (!dir || (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return 0;
	}
	return allocated(fd, st.st_dev, 0);
}

/* The host device's counters, swapped: what it received, the VPS sent. */
static void read_net(const struct vps *v, struct reading *r)
{
	char ifname[16], path[96];

	r->net = false;
	if (!*v->network)
		return;
	net_ifname(v, ifname);
	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/tx_bytes", ifname);
	if (read_u64(path, &r->rx) < 0)
		return;
	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/rx_bytes", ifname);
	r->net = read_u64(path, &r->tx) == 0;
}

static int read_vps(struct host *h, const struct vps *v, struct reading *r)
{
	const struct kind_ops *o = kind_find(v->kind, v->engine);
	int rc;

	memset(r, 0, sizeof(*r));
	if (!o)
		return -ENOENT;
	rc = o->cgroup_parent ? read_cgroup(o->cgroup_parent, v->name, r) :
				read_monitor(h, v->name, r);
	if (rc < 0)
		return rc; /* not up yet, or gone: no sample */
	r->disk = disk_allocated(h, v->name);
	read_net(v, r);
	return 0;
}

/* --- the table ---------------------------------------------------------------- */

/* The sample, with the oldest beyond h->usage_keep deleted (the row count kept in p). */
static void insert(struct host *h, struct prev *p, const struct store_sample *s)
{
	if (store_sample_add(h->store, p->name, s, s->time == p->last, h->usage_keep, &p->rows) ==
	    0)
		p->last = s->time;
}

json_t *usage_get(struct host *h, const char *name, long long since)
{
	json_t *samples = store_samples(h->store, name, since);

	if (!samples)
		return NULL;
	return json_pack("{s:i, s:o}", "interval", h->sample_every, "samples", samples);
}

int usage_history(struct host *h, const char *name, const char *span, long long since, json_t **out,
		  struct err **err)
{
	for (int i = 0; i < STORE_STEPS; i++) {
		const struct store_step *k = &store_steps[i];
		json_t *samples;

		if (strcmp(span, k->span))
			continue;
		samples = store_history(h->store, name, k->step, since);
		if (!samples)
			return err_make(err, ENOENT, "no VPS `%s`", name);
		*out = json_pack("{s:I, s:s, s:o}", "interval", (json_int_t)k->step, "span",
				 k->span, "samples", samples);
		return 0;
	}
	return err_make(err, EINVAL, "`span`: day, month or year, not `%.32s`", span);
}

json_t *usage_latest(struct host *h, const char *name)
{
	json_t *out = store_sample_last(h->store, name);

	return out ? out : json_null();
}

json_t *usage_latest_all(struct host *h)
{
	return store_samples_last(h->store);
}

int usage_readings(struct usage_reading **out, size_t *n)
{
	struct usage_reading *a;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&U.plock);
	a = calloc(U.nr ? U.nr : 1, sizeof(*a));
	if (!a) {
		pthread_mutex_unlock(&U.plock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < U.nr; i++) {
		const struct prev *p = &U.p[i];

		memcpy(a[i].name, p->name, sizeof(a[i].name));
		a[i].id = p->id;
		a[i].time = p->wall;
		a[i].cpu_ns = p->r.cpu_ns;
		a[i].mem = p->r.mem;
		a[i].disk = p->r.disk;
		a[i].rx = p->r.rx;
		a[i].tx = p->r.tx;
		a[i].net = p->r.net;
	}
	*n = U.nr;
	pthread_mutex_unlock(&U.plock);
	*out = a;
	return 0;
}

/*
 * The traffic counters of every running VPS on a network (traffic.h), and
 * the allowance's action where it fell due: a suspend, or the throttle's
 * rate. A new month lifts last month's throttle.
 */
static void traffic_pass(struct host *h)
{
	static char last_month[8];
	struct vps *all = NULL;
	char month[8];
	size_t n = 0;
	bool new_month;

	traffic_month(time(NULL), month);
	new_month = *last_month && strcmp(month, last_month);
	memcpy(last_month, month, sizeof(month));
	if (store_vps_list_local(h->store, &all, &n, NULL) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct vps *v = &all[i];
		struct err *e = NULL;
		const char *due;

		if (v->state != VPS_RUNNING || !*v->network)
			continue;
		due = traffic_collect(h, v, true);
		if (due && !strcmp(due, "suspend")) {
			if (life_suspend(h, v->name, true, &e) < 0)
				pr_warn("vps `%s`: suspend: %s", v->name, err_msg(e));
		} else if ((due || new_month) && net_vps_bw(h, v, traffic_bw(h, v), &e) < 0) {
			store_event(h->store, v->name, "net-failed", err_msg(e));
		}
		err_free(&e);
	}
	store_vps_list_free(all, n);
}

/* --- one pass ----------------------------------------------------------------- */

static struct prev *prev_of(const struct vps *v)
{
	struct prev *p;

	for (size_t i = 0; i < U.nr; i++)
		if (!strcmp(U.p[i].name, v->name))
			return &U.p[i];
	if (U.nr == U.cap) {
		size_t cap = U.cap ? U.cap * 2 : 16;

		p = realloc(U.p, cap * sizeof(*p));
		if (!p)
			return NULL;
		U.p = p;
		U.cap = cap;
	}
	p = &U.p[U.nr++];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", v->name);
	p->id = -1; /* no reading yet */
	return p;
}

static double rate(uint64_t now, uint64_t then, double secs)
{
	return round((double)(now - then) / secs);
}

static void sample_vps(struct host *h, const struct vps *v, long long t)
{
	struct reading r;
	struct timespec at;
	struct prev *p;
	double secs;

	if (read_vps(h, v, &r) < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &at);
	/*
	 * Only this thread writes U.p; usage_readings() copies it under
	 * plock. So the lock is held where the array may move (prev_of) and
	 * where the fields a copy takes change, not over the store's write.
	 */
	pthread_mutex_lock(&U.plock);
	p = prev_of(v);
	pthread_mutex_unlock(&U.plock);
	if (!p)
		return;
	p->seen = true;
	secs = (double)(at.tv_sec - p->at.tv_sec) + (double)(at.tv_nsec - p->at.tv_nsec) / 1e9;
	/*
	 * A rate needs the previous reading of the same source: not on the
	 * first pass, nor after the container or the monitor started again
	 * (its counters began anew).
	 */
	if (p->id == v->id && p->r.ident == r.ident && r.cpu_ns >= p->r.cpu_ns && secs > 0.1) {
		bool net = r.net && p->r.net && r.rx >= p->r.rx && r.tx >= p->r.tx;
		struct store_sample s = {
			.time = t,
			.cpu = round((double)(r.cpu_ns - p->r.cpu_ns) / (secs * 1e6)) / 1000,
			.mem = r.mem,
			.disk = r.disk,
			.rx = net ? rate(r.rx, p->r.rx, secs) : 0,
			.tx = net ? rate(r.tx, p->r.tx, secs) : 0,
		};

		insert(h, p, &s);
	}
	if (p->id != v->id) {
		p->rows = -1;
		p->last = 0;
	}
	pthread_mutex_lock(&U.plock);
	p->id = v->id;
	p->r = r;
	p->at = at;
	p->wall = t;
	pthread_mutex_unlock(&U.plock);
}

static void usage_tick(struct host *h)
{
	struct vps *all = NULL;
	size_t n = 0;
	long long t = time(NULL);

	if (store_vps_list_local(h->store, &all, &n, NULL) < 0)
		return;
	pthread_mutex_lock(&U.plock);
	for (size_t i = 0; i < U.nr; i++)
		U.p[i].seen = false;
	pthread_mutex_unlock(&U.plock);
	for (size_t i = 0; i < n; i++)
		if (all[i].state == VPS_RUNNING)
			sample_vps(h, &all[i], t);
	/* stopped (or unreadable): its next sample needs a fresh reading */
	pthread_mutex_lock(&U.plock);
	for (size_t i = 0; i < U.nr;) {
		if (U.p[i].seen)
			i++;
		else
			U.p[i] = U.p[--U.nr];
	}
	pthread_mutex_unlock(&U.plock);
	store_vps_list_free(all, n);
	traffic_pass(h); /* the traffic counters, on the same beat */
}

/* --- the thread --------------------------------------------------------------- */

static void *usage_thread(void *arg)
{
	struct host *h = arg;
	struct timespec next, now;

	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&U.lock);
	while (!U.stop) {
		pthread_mutex_unlock(&U.lock);
		usage_tick(h);
		/* on a fixed beat; a pass that overran starts the next one now */
		clock_gettime(CLOCK_MONOTONIC, &now);
		next.tv_sec += h->sample_every;
		if (next.tv_sec < now.tv_sec)
			next = now;
		pthread_mutex_lock(&U.lock);
		while (!U.stop && pthread_cond_timedwait(&U.cond, &U.lock, &next) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&U.lock);
	return NULL;
}

int usage_start(struct host *h, struct err **err)
{
	pthread_condattr_t ca;
	int rc;

	if (h->sample_every <= 0 || U.started)
		return 0;
	U.clk_tck = sysconf(_SC_CLK_TCK);
	if (U.clk_tck <= 0)
		U.clk_tck = 100;
	find_cgroups();
	if (!U.cpuacct && !U.unified)
		pr_warn("usage: no cgroup file system: containers get no samples");
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&U.cond, &ca);
	pthread_condattr_destroy(&ca);
	U.stop = false;
	rc = pthread_create(&U.thread, NULL, usage_thread, h);
	if (rc) {
		pthread_cond_destroy(&U.cond);
		return err_make(err, rc, "usage: start the sampling thread");
	}
	U.started = true;
	return 0;
}

void usage_stop(struct host *h)
{
	if (!U.started)
		return;
	pthread_mutex_lock(&U.lock);
	U.stop = true;
	pthread_cond_broadcast(&U.cond);
	pthread_mutex_unlock(&U.lock);
	pthread_join(U.thread, NULL);
	pthread_cond_destroy(&U.cond);
	U.started = false;
	pthread_mutex_lock(&U.plock);
	free(U.p);
	U.p = NULL;
	U.nr = U.cap = 0;
	pthread_mutex_unlock(&U.plock);
	free(U.cpuacct);
	free(U.memory);
	free(U.unified);
	U.cpuacct = U.memory = U.unified = NULL;
}
