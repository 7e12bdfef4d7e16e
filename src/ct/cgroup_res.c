// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Writing OCI linux.resources into cgroup files, one function per
 * controller and version. Only fields that are set (not CG_UNSET, not
 * empty) are written, so the same code serves create and update. The
 * mapping table is in docs/cgroups.md; the value conversions and orderings
 * are decided by the pure helpers in cgroup_parse.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup_priv.h"
#include "common/cleanup.h"

static int write_i64(const char *dir, const char *file, int64_t v, struct err **err)
{
	char val[24];

	snprintf(val, sizeof(val), "%lld", (long long)v);
	return cg_write(dir, file, val, err);
}

/* "max" for -1 (v2 spelling of unlimited), the number otherwise. */
static int write_max(const char *dir, const char *file, int64_t v, struct err **err)
{
	return v < 0 ? cg_write(dir, file, "max", err) : write_i64(dir, file, v, err);
}

static bool mem_set(const struct cg_resources *r)
{
	return r->memory_limit != CG_UNSET || r->memory_reservation != CG_UNSET ||
	       r->memory_swap != CG_UNSET || r->memory_swappiness != CG_UNSET ||
	       r->memory_kernel_tcp != CG_UNSET || r->disable_oom_killer != CG_UNSET;
}

static bool cpu_set(const struct cg_resources *r)
{
	return r->cpu_shares != CG_UNSET || r->cpu_quota != CG_UNSET || r->cpu_period != CG_UNSET;
}

static bool io_set(const struct cg_resources *r)
{
	return r->blkio_weight != CG_UNSET || r->nr_read_bps || r->nr_write_bps ||
	       r->nr_read_iops || r->nr_write_iops;
}

static int need(const char *dir, const char *ctrl, struct err **err)
{
	return dir ? 0 : err_make(err, EOPNOTSUPP, "the %s controller is not mounted", ctrl);
}

/* A swap value that asks for nothing beyond what the memory limit gives. */
static bool swap_trivial(const struct cg_resources *r)
{
	return r->memory_swap < 0 || r->memory_swap == r->memory_limit;
}

static int mem_v1(const char *dir, const struct cg_resources *r, struct err **err)
{
	bool memsw = cg_has(dir, "memory.memsw.limit_in_bytes");
	int ret = 0;

	if (r->memory_swap != CG_UNSET && !memsw && !swap_trivial(r))
		return err_make(err, EOPNOTSUPP,
				"swap limit `%lld`: `%s/memory.memsw.limit_in_bytes` missing (boot "
				"with swapaccount=1)",
				(long long)r->memory_swap, dir);
	if (r->memory_swap != CG_UNSET && r->memory_limit != CG_UNSET && r->memory_swap >= 0 &&
	    r->memory_swap < r->memory_limit)
		return err_make(err, 0,
				"memory swap `%lld` is below the memory limit `%lld` (OCI swap is "
				"memory + swap)",
				(long long)r->memory_swap, (long long)r->memory_limit);
	if (r->memory_swap != CG_UNSET && memsw) {
		char cur[32] = "-1";
		bool swap_first = true;

		if (r->memory_limit != CG_UNSET) {
			ret = cg_read(dir, "memory.limit_in_bytes", cur, sizeof(cur), err);
			if (ret < 0)
				return ret;
			swap_first = cg_v1_swap_first(strtoll(cur, NULL, 10), r->memory_swap);
		}
		if (!swap_first)
			ret = write_i64(dir, "memory.limit_in_bytes", r->memory_limit, err);
		if (ret == 0)
			ret = write_i64(dir, "memory.memsw.limit_in_bytes", r->memory_swap, err);
		if (ret == 0 && swap_first && r->memory_limit != CG_UNSET)
			ret = write_i64(dir, "memory.limit_in_bytes", r->memory_limit, err);
	} else if (r->memory_limit != CG_UNSET) {
		ret = write_i64(dir, "memory.limit_in_bytes", r->memory_limit, err);
	}
	if (ret == 0 && r->memory_reservation != CG_UNSET)
		ret = write_i64(dir, "memory.soft_limit_in_bytes", r->memory_reservation, err);
	if (ret == 0 && r->memory_swappiness != CG_UNSET)
		ret = write_i64(dir, "memory.swappiness", r->memory_swappiness, err);
	if (ret == 0 && r->memory_kernel_tcp != CG_UNSET)
		ret = write_i64(dir, "memory.kmem.tcp.limit_in_bytes", r->memory_kernel_tcp, err);
	if (ret == 0 && r->disable_oom_killer != CG_UNSET)
		ret = write_i64(dir, "memory.oom_control", r->disable_oom_killer, err);
	return ret;
}

/* net_cls.classid and net_prio.ifpriomap, v1 only (v2 has neither). */
static int net_v1(struct ct_cgroup *cg, const struct cg_resources *r, struct err **err)
{
	const char *dir = NULL;
	int ret = 0;

	if (r->net_class_id != CG_UNSET) {
		dir = cg_ctrl_dir(cg, CG_NET_CLS);
		ret = need(dir, "net_cls", err);
		if (ret == 0)
			ret = write_i64(dir, "net_cls.classid", r->net_class_id, err);
	}
	if (ret == 0 && r->nr_net_prio) {
		dir = cg_ctrl_dir(cg, CG_NET_PRIO);
		ret = need(dir, "net_prio", err);
	}
	/* one interface per write: the kernel takes the first line only */
	for (unsigned int i = 0; ret == 0 && i < r->nr_net_prio; i++) {
		char val[48];

		snprintf(val, sizeof(val), "%s %u", r->net_prio[i].name, r->net_prio[i].priority);
		ret = cg_write(dir, "net_prio.ifpriomap", val, err);
	}
	return ret;
}

/* What cgroup v2 has no file for: refused rather than ignored. */
static int v1_only_v2(const struct cg_resources *r, struct err **err)
{
	const char *what = r->memory_swappiness != CG_UNSET ? "memory.swappiness" :
			   r->memory_kernel_tcp != CG_UNSET ? "memory.kernelTCP" :
			   r->disable_oom_killer == 1	    ? "memory.disableOOMKiller" :
			   r->net_class_id != CG_UNSET	    ? "network.classID" :
			   r->nr_net_prio		    ? "network.priorities" :
							      NULL;

	return what ? err_make(err, EOPNOTSUPP,
			       "linux.resources.%s: cgroup v1 only, this host runs cgroup v2",
			       what) :
		      0;
}

static int cpu_v1(const char *dir, const struct cg_resources *r, struct err **err)
{
	int ret = 0;

	if (r->cpu_shares != CG_UNSET)
		ret = write_i64(dir, "cpu.shares", r->cpu_shares, err);
	if (ret == 0 && r->cpu_period != CG_UNSET)
		ret = write_i64(dir, "cpu.cfs_period_us", r->cpu_period, err);
	if (ret == 0 && r->cpu_quota != CG_UNSET)
		ret = write_i64(dir, "cpu.cfs_quota_us", r->cpu_quota < 0 ? -1 : r->cpu_quota, err);
	return ret;
}

static int cpuset_apply(const char *dir, const struct cg_resources *r, struct err **err)
{
	int ret = 0;

	/* mems first: a task must never be left with cpus but no memory node. */
	if (r->mems[0])
		ret = cg_write(dir, "cpuset.mems", r->mems, err);
	if (ret == 0 && r->cpus[0])
		ret = cg_write(dir, "cpuset.cpus", r->cpus, err);
	return ret;
}

static int throttles_v1(const char *dir, const char *file, const struct cg_throttle *t,
			unsigned int n, struct err **err)
{
	for (unsigned int i = 0; i < n && i < CG_MAX_THROTTLES; i++) {
		char line[64];
		int ret;

		snprintf(line, sizeof(line), "%lld:%lld %llu", (long long)t[i].major,
			 (long long)t[i].minor, (unsigned long long)t[i].rate);
		ret = cg_write(dir, file, line, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int blkio_v1(const char *dir, const struct cg_resources *r, struct err **err)
{
	int ret = 0;

	if (r->blkio_weight != CG_UNSET) {
		const char *f = cg_weight_file(dir, CG_V1);

		if (!f)
			return err_make(err, EOPNOTSUPP, "blkio weight `%lld`: %s in `%s`",
					(long long)r->blkio_weight, cg_weight_missing(CG_V1), dir);
		ret = write_i64(dir, f, r->blkio_weight, err);
	}
	if (ret == 0)
		ret = throttles_v1(dir, "blkio.throttle.read_bps_device", r->read_bps,
				   r->nr_read_bps, err);
	if (ret == 0)
		ret = throttles_v1(dir, "blkio.throttle.write_bps_device", r->write_bps,
				   r->nr_write_bps, err);
	if (ret == 0)
		ret = throttles_v1(dir, "blkio.throttle.read_iops_device", r->read_iops,
				   r->nr_read_iops, err);
	if (ret == 0)
		ret = throttles_v1(dir, "blkio.throttle.write_iops_device", r->write_iops,
				   r->nr_write_iops, err);
	return ret;
}

static int devices_v1(const char *dir, const struct cg_resources *r, struct err **err)
{
	/* Start from nothing, then the rules in order: later ones override. */
	int ret = cg_write(dir, "devices.deny", "a", err);

	for (unsigned int i = 0; ret == 0 && i < r->nr_devices && i < CG_MAX_DEVICE_RULES; i++) {
		const struct cg_device_rule *d = &r->devices[i];
		char line[64];

		cg_v1_device_line(d, line, sizeof(line));
		ret = cg_write(dir, d->allow ? "devices.allow" : "devices.deny", line, err);
	}
	return ret;
}

/*
 * linux.resources.unified, after the mapped fields (so an entry overrides
 * them, as in runc and crun). A file that is not there is named with the
 * controllers the cgroup has, the usual cause being one not enabled above.
 */
static int unified_write(const char *dir, const struct cg_resources *r, struct err **err)
{
	for (unsigned int i = 0; i < r->nr_unified && i < CG_MAX_UNIFIED; i++) {
		const struct cg_unified *u = &r->unified[i];
		char ctrls[256] = "";
		int ret;

		if (!cg_has(dir, u->name)) {
			cg_read(dir, "cgroup.controllers", ctrls, sizeof(ctrls), NULL);
			return err_make(err, ENOENT,
					"unified: `%s`: no such file in `%s` (its controllers: "
					"`%s`)",
					u->name, dir, ctrls);
		}
		ret = cg_write(dir, u->name, u->value, err);
		if (ret < 0)
			return err_wrap(err, "unified: `%s`", u->name);
	}
	return 0;
}

/*
 * v1 and hybrid: unified entries only for a controller in the hybrid's
 * cgroup2 leaf (one someone enabled above us; we never move a controller
 * there), checked before anything is written.
 */
static const char *unified_dir_v1(struct ct_cgroup *cg, const struct cg_resources *r,
				  struct err **err)
{
	char ctrls[256];
	bool usable = cg->li.layout == CG_HYBRID && cg->ujoined && cg->udir &&
		      cg_read(cg->udir, "cgroup.controllers", ctrls, sizeof(ctrls), NULL) == 0;

	if (cg_unified_check(&cg->li, usable ? ctrls : NULL, r, err) < 0)
		return NULL;
	return cg->udir;
}

int cg_apply_v1(struct ct_cgroup *cg, const struct cg_resources *r, struct err **err)
{
	const char *dir, *udir = NULL;
	int ret = 0;

	if (r->nr_unified && !(udir = unified_dir_v1(cg, r, err)))
		return -EINVAL;
	if (mem_set(r)) {
		dir = cg_ctrl_dir(cg, CG_MEMORY);
		ret = need(dir, "memory", err);
		if (ret == 0)
			ret = mem_v1(dir, r, err);
	}
	if (ret == 0 && cpu_set(r)) {
		dir = cg_ctrl_dir(cg, CG_CPU);
		ret = need(dir, "cpu", err);
		if (ret == 0)
			ret = cpu_v1(dir, r, err);
	}
	if (ret == 0 && (r->cpus[0] || r->mems[0])) {
		dir = cg_ctrl_dir(cg, CG_CPUSET);
		ret = need(dir, "cpuset", err);
		if (ret == 0)
			ret = cpuset_apply(dir, r, err);
	}
	if (ret == 0 && r->pids_limit != CG_UNSET) {
		dir = cg_ctrl_dir(cg, CG_PIDS);
		ret = need(dir, "pids", err);
		if (ret == 0)
			ret = write_max(dir, "pids.max", r->pids_limit > 0 ? r->pids_limit : -1,
					err);
	}
	if (ret == 0 && io_set(r)) {
		dir = cg_ctrl_dir(cg, CG_BLKIO);
		ret = need(dir, "blkio", err);
		if (ret == 0)
			ret = blkio_v1(dir, r, err);
	}
	if (ret == 0 && r->nr_devices) {
		dir = cg_ctrl_dir(cg, CG_DEVICES);
		ret = need(dir, "devices", err);
		if (ret == 0)
			ret = devices_v1(dir, r, err);
	}
	if (ret == 0)
		ret = net_v1(cg, r, err);
	if (ret == 0 && udir)
		ret = unified_write(udir, r, err);
	return ret;
}

static int mem_v2(const char *dir, const struct cg_resources *r, struct err **err)
{
	int ret = 0;

	if (r->memory_limit != CG_UNSET)
		ret = write_max(dir, "memory.max", r->memory_limit, err);
	/* memory.low: protected from reclaim below it, the v2 soft limit. */
	if (ret == 0 && r->memory_reservation != CG_UNSET)
		ret = write_i64(dir, "memory.low",
				r->memory_reservation < 0 ? 0 : r->memory_reservation, err);
	if (ret == 0 && r->memory_swap != CG_UNSET) {
		int64_t limit = r->memory_limit;
		char val[32], cur[32];

		if (!cg_has(dir, "memory.swap.max")) {
			if (swap_trivial(r))
				return 0;
			return err_make(err, EOPNOTSUPP,
					"swap limit `%lld`: `%s/memory.swap.max` missing",
					(long long)r->memory_swap, dir);
		}
		if (limit == CG_UNSET && r->memory_swap >= 0) { /* an update of swap alone */
			ret = cg_read(dir, "memory.max", cur, sizeof(cur), err);
			if (ret < 0)
				return ret;
			limit = strcmp(cur, "max") ? strtoll(cur, NULL, 10) : -1;
		}
		ret = cg_v2_swap_max(limit, r->memory_swap, val, sizeof(val), err);
		if (ret == 0)
			ret = cg_write(dir, "memory.swap.max", val, err);
	}
	return ret;
}

static int cpu_v2(const char *dir, const struct cg_resources *r, struct err **err)
{
	int ret = 0;

	if (r->cpu_shares != CG_UNSET)
		ret = write_i64(dir, "cpu.weight", (int64_t)cg_shares_to_weight(r->cpu_shares),
				err);
	if (ret == 0 && (r->cpu_quota != CG_UNSET || r->cpu_period != CG_UNSET)) {
		char cur[64] = "max", val[64];
		int64_t cur_quota = -1, period = r->cpu_period;

		/* Keep what the file has for the half that is not being set. */
		if (r->cpu_quota == CG_UNSET || period == CG_UNSET) {
			ret = cg_read(dir, "cpu.max", cur, sizeof(cur), err);
			if (ret < 0)
				return ret;
			if (strncmp(cur, "max", 3))
				cur_quota = strtoll(cur, NULL, 10);
			if (period == CG_UNSET && strchr(cur, ' '))
				period = strtoll(strchr(cur, ' ') + 1, NULL, 10);
		}
		cg_v2_cpu_max(r->cpu_quota, period, cur_quota, val, sizeof(val));
		ret = cg_write(dir, "cpu.max", val, err);
	}
	return ret;
}

static int io_v2(const char *dir, const struct cg_resources *r, struct err **err)
{
	char lines[4 * CG_MAX_THROTTLES * 112];
	int ret = 0, n;

	if (r->blkio_weight != CG_UNSET) {
		const char *f = cg_weight_file(dir, CG_V2);

		/* BFQ's file takes the v1 scale as it is; io.weight wants 1..10000. */
		if (!f)
			return err_make(err, EOPNOTSUPP, "blkio weight `%lld`: %s in `%s`",
					(long long)r->blkio_weight, cg_weight_missing(CG_V2), dir);
		if (!strcmp(f, "io.bfq.weight"))
			ret = write_i64(dir, f, r->blkio_weight, err);
		else
			ret = write_i64(dir, f,
					(int64_t)cg_blkio_to_io_weight((uint64_t)r->blkio_weight),
					err);
	}
	if (ret < 0)
		return ret;
	n = cg_io_max_lines(r, lines, sizeof(lines));
	if (n < 0)
		return err_make(err, -n, "io.max lines for `%s`", dir);
	for (const char *l = lines; n-- > 0 && ret == 0; l += strlen(l) + 1)
		ret = cg_write(dir, "io.max", l, err);
	return ret;
}

static int devices_v2(const char *dir, const struct cg_resources *r, struct err **err)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return err_make(err, errno, "open `%s`", dir);
	return cg_bpf_devices_apply(fd, dir, r->devices, r->nr_devices, err);
}

int cg_apply_v2(struct ct_cgroup *cg, const struct cg_resources *r, struct err **err)
{
	const char *dir = cg->udir;
	int ret = v1_only_v2(r, err);

	if (ret == 0 && mem_set(r))
		ret = mem_v2(dir, r, err);
	if (ret == 0 && cpu_set(r))
		ret = cpu_v2(dir, r, err);
	if (ret == 0 && (r->cpus[0] || r->mems[0]))
		ret = cpuset_apply(dir, r, err);
	if (ret == 0 && r->pids_limit != CG_UNSET)
		ret = write_max(dir, "pids.max", r->pids_limit > 0 ? r->pids_limit : -1, err);
	if (ret == 0 && io_set(r))
		ret = io_v2(dir, r, err);
	if (ret == 0 && r->nr_devices)
		ret = devices_v2(dir, r, err);
	if (ret == 0 && r->nr_unified)
		ret = unified_write(dir, r, err);
	return ret;
}
