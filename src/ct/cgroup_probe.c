// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Which limits this host's kernel can enforce (cg_probe), found the way a
 * container's own cgroup would find them: a throw-away cgroup is made under
 * the containers' parent, each limit's files are looked for in it, and it
 * is removed. Kernels differ (BFQ for IO weights, swap accounting, CFS
 * bandwidth, IO throttling), so vpsd asks this before it promises a VPS a
 * limit (`vps-ct features`, docs/cgroups.md "What the host enforces").
 * cgroup_res.c uses the same file choices when it writes a limit, so the
 * probe and the write cannot disagree.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup_priv.h"

const char *cg_weight_file(const char *dir, enum cg_layout layout)
{
	/* CFQ's blkio.weight went with CFQ; BFQ's files take the same 10..1000 scale. */
	static const char *const v1[] = { "blkio.weight", "blkio.bfq.weight" };
	static const char *const v2[] = { "io.bfq.weight", "io.weight" };
	const char *const *f = layout == CG_V2 ? v2 : v1;

	for (int i = 0; i < 2; i++)
		if (cg_has(dir, f[i]))
			return f[i];
	return NULL;
}

const char *cg_weight_missing(enum cg_layout layout)
{
	return layout == CG_V2 ? "neither `io.bfq.weight` nor `io.weight` (the kernel has no BFQ "
				 "scheduler and no io.cost)" :
				 "neither `blkio.weight` nor `blkio.bfq.weight` (the kernel has no "
				 "BFQ scheduler)";
}

/* One limit: the v1 controller and file, the v2 file, the usual cause of a miss. */
static const struct {
	const char *name;
	enum cg_ctrl ctrl;
	const char *v1, *v2, *cause;
} limits[CG_NR_FEATURES] = {
	{ "memory", CG_MEMORY, "memory.limit_in_bytes", "memory.max", "" },
	{ "swap", CG_MEMORY, "memory.memsw.limit_in_bytes", "memory.swap.max",
	  " (the kernel does not account swap: boot with swapaccount=1)" },
	{ "cpu_weight", CG_CPU, "cpu.shares", "cpu.weight", "" },
	{ "cpu_quota", CG_CPU, "cpu.cfs_quota_us", "cpu.max",
	  " (the kernel has no CFS bandwidth control)" },
	{ "pids", CG_PIDS, "pids.max", "pids.max", "" },
	{ "io_weight", CG_BLKIO, NULL, NULL, NULL },
	{ "io_bps", CG_BLKIO, "blkio.throttle.read_bps_device", "io.max",
	  " (the kernel has no block IO throttling)" },
	{ "io_iops", CG_BLKIO, "blkio.throttle.read_iops_device", "io.max",
	  " (the kernel has no block IO throttling)" },
};

static void probe_one(const struct ct_cgroup *cg, unsigned int i, struct cg_feature *f)
{
	enum cg_layout layout = cg->li.layout == CG_V2 ? CG_V2 : CG_V1;
	const char *dir = cg_ctrl_dir(cg, limits[i].ctrl), *file;

	f->name = limits[i].name;
	f->enforced = false;
	if (!dir) {
		snprintf(f->why, sizeof(f->why), "the %s controller is not mounted",
			 cg_ctrl_names[limits[i].ctrl]);
		return;
	}
	if (limits[i].ctrl == CG_BLKIO && !limits[i].v1) {
		f->enforced = cg_weight_file(dir, layout) != NULL;
		if (!f->enforced)
			snprintf(f->why, sizeof(f->why), "%s", cg_weight_missing(layout));
		return;
	}
	file = layout == CG_V2 ? limits[i].v2 : limits[i].v1;
	f->enforced = cg_has(dir, file);
	if (!f->enforced)
		snprintf(f->why, sizeof(f->why), "no `%s`%s", file, limits[i].cause);
}

int cg_probe(const char *parent, enum cg_layout *layout, struct cg_feature out[CG_NR_FEATURES],
	     struct err **err)
{
	struct ct_cgroup *cg = NULL;
	char path[CG_PATH_MAX];
	int r;

	/* a leading dot: never a container's name (vpsd's names start with a letter) */
	snprintf(path, sizeof(path), "%s/.probe-%d", parent, (int)getpid());
	r = cg_create(path, NULL, &cg, err);
	if (r < 0)
		return err_wrap(err, "probe the host's cgroups");
	*layout = cg->li.layout;
	for (unsigned int i = 0; i < CG_NR_FEATURES; i++)
		probe_one(cg, i, &out[i]);
	r = cg_destroy(cg, err);
	return r < 0 ? err_wrap(err, "remove the probe cgroup `%s`", path) : 0;
}
