/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cgroups for the container engine: one interface over three layouts a host
 * can have -- v1 (a hierarchy per controller), v2 (one unified tree) and the
 * hybrid (v1 controllers plus a cgroup2 mount that holds none or few, as on
 * Debian hosts still booted with systemd's hybrid mode). The backend is
 * chosen by what /sys/fs/cgroup really is, never by configuration.
 *
 * Paths are relative to the hierarchy roots (an OCI `cgroupsPath` such as
 * "/vps/web1", or "vps/web1"); "slice:prefix:name" systemd paths are not
 * supported and are refused with an error.
 */
#ifndef VPS_CT_CGROUP_H
#define VPS_CT_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

enum cg_layout { CG_V1, CG_V2, CG_HYBRID };

/*
 * A resource field not given: leave the kernel's value. Distinct from -1,
 * which in the limit fields means "unlimited" as in OCI (so an update can
 * lift a limit); cg_resources_init() sets every field to this.
 */
#define CG_UNSET INT64_MIN

struct cg_device_rule { /* OCI linux.resources.devices[] */
	bool allow;
	char type; /* 'a', 'b' or 'c' */
	int64_t major, minor; /* -1: any */
	char access[4]; /* subset of "rwm" */
};

struct cg_throttle { /* OCI blockIO throttle*Device[] */
	int64_t major, minor;
	uint64_t rate;
};

#define CG_MAX_DEVICE_RULES 64
#define CG_MAX_THROTTLES 16

struct cg_prio { /* OCI network.priorities[] */
	char name[16]; /* IFNAMSIZ */
	uint32_t priority;
};
#define CG_MAX_PRIOS 16
#define CG_MAX_UNIFIED 16
#define CG_UNIFIED_NAME_MAX 64 /* "controller.file", NUL included */
#define CG_UNIFIED_VALUE_MAX 256 /* one line, NUL included */

/*
 * OCI linux.resources.unified: one cgroup v2 file and the value written to
 * it, after the mapped fields. Checked at parse (config.c): a
 * "controller.file" name with no '/', no "..", not cgroup.*; a one-line
 * value.
 */
struct cg_unified {
	char name[CG_UNIFIED_NAME_MAX]; /* "memory.high" */
	char value[CG_UNIFIED_VALUE_MAX];
};

/* OCI linux.resources, the parts we honour; CG_UNSET where not given. */
struct cg_resources {
	int64_t memory_limit; /* bytes */
	int64_t memory_reservation; /* soft limit: v1 soft_limit_in_bytes, v2 memory.low */
	int64_t memory_swap; /* OCI: memory + swap, bytes; -1 unlimited */
	int64_t cpu_shares; /* v1 cpu.shares; converted to v2 cpu.weight */
	int64_t cpu_quota; /* microseconds per period; -1 unlimited */
	int64_t cpu_period; /* microseconds */
	char cpus[64]; /* cpuset, "" when unset */
	char mems[64];
	int64_t memory_swappiness; /* v1 memory.swappiness, 0..100 */
	int64_t memory_kernel_tcp; /* v1 memory.kmem.tcp.limit_in_bytes; -1 unlimited */
	int64_t disable_oom_killer; /* v1 memory.oom_control: CG_UNSET, 0 or 1 */
	int64_t pids_limit; /* -1 or 0: unlimited */
	int64_t blkio_weight; /* 10..1000 */
	struct cg_throttle read_bps[CG_MAX_THROTTLES], write_bps[CG_MAX_THROTTLES];
	struct cg_throttle read_iops[CG_MAX_THROTTLES], write_iops[CG_MAX_THROTTLES];
	unsigned int nr_read_bps, nr_write_bps, nr_read_iops, nr_write_iops;
	int64_t net_class_id; /* v1 net_cls.classid */
	struct cg_prio net_prio[CG_MAX_PRIOS]; /* v1 net_prio.ifpriomap */
	unsigned int nr_net_prio;
	struct cg_device_rule devices[CG_MAX_DEVICE_RULES];
	unsigned int nr_devices;
	struct cg_unified unified[CG_MAX_UNIFIED]; /* v2 only: refused on v1 and hybrid */
	unsigned int nr_unified;
};

/* All fields CG_UNSET / empty. */
void cg_resources_init(struct cg_resources *r);

struct ct_cgroup; /* opaque: the paths of one cgroup in every hierarchy */

/* What this host has. Reads /proc/self/mountinfo (or mounts under root). */
int cg_detect(enum cg_layout *out, struct err **err);

/*
 * Create the cgroup `path` in every hierarchy in use, apply `res`, and
 * return a handle. A failure part-way removes what was created.
 */
int cg_create(const char *path, const struct cg_resources *res, struct ct_cgroup **out,
	      struct err **err);

/* A handle on an existing cgroup (for state, ps, kill, update, delete). */
int cg_open(const char *path, struct ct_cgroup **out, struct err **err);

/* Move pid into the cgroup in every hierarchy. */
int cg_enter(struct ct_cgroup *cg, pid_t pid, struct err **err);

/*
 * cg_enter for a process exec'd into a running container whose init is
 * `init`: on v2, when the container's cgroup takes no process (its own
 * systemd enabled controllers below it), the init's cgroup under it.
 */
int cg_enter_exec(struct ct_cgroup *cg, pid_t pid, pid_t init, struct err **err);

/*
 * A helper of the container's that must count against its limits but is
 * none of its processes (the sysinfo monitor, sysinfo.c) goes into the leaf
 * CG_HELPERS below the container's cgroup, in every hierarchy: on v2 a
 * process in the container's cgroup itself would stop a systemd inside from
 * enabling controllers below it (no internal processes). Made if missing;
 * refused if it is not the host's. cg_pids lists it, so kill and delete
 * reach it; cg_pids_own (ps, the container's own figures) does not.
 */
#define CG_HELPERS "vps-helpers"
int cg_enter_helper(struct ct_cgroup *cg, pid_t pid, struct err **err);

/* Apply a new set of resources (only the fields that are set). */
int cg_update(struct ct_cgroup *cg, const struct cg_resources *res, struct err **err);

/* Freeze or thaw every task (v1 freezer, v2 cgroup.freeze); waits until done. */
int cg_freeze(struct ct_cgroup *cg, bool frozen, struct err **err);

/* The pids in the cgroup and below it (malloc'ed array); _own: without CG_HELPERS. */
int cg_pids(struct ct_cgroup *cg, pid_t **pids, size_t *n, struct err **err);
int cg_pids_own(const struct ct_cgroup *cg, pid_t **pids, size_t *n, struct err **err);

/*
 * Memory figures, in bytes, for a container's view of its own resources
 * (sysinfo.c). limit and swap_limit are -1 when there is none; swap fields
 * stay -1/0 when the kernel does not account swap (v1 without memsw).
 */
struct cg_memory_stat {
	int64_t limit, usage; /* v1 limit_in_bytes, usage_in_bytes; v2 max, current */
	int64_t swap_limit, swap_usage; /* v1 memsw minus memory; v2 swap.max, swap.current */
	int64_t cache, shmem; /* memory.stat: v1 total_cache, total_shmem; v2 file, shmem */
	/* memory.stat's other lines for /proc/meminfo (v1 total_X, v2 X; 0 when absent) */
	int64_t mapped, dirty, writeback,
		anon_thp; /* v1 *_mapped_file, _dirty, _writeback, _rss_huge */
	int64_t active_anon, inactive_anon, active_file, inactive_file, unevictable;
};

int cg_memory_stat(const struct ct_cgroup *cg, struct cg_memory_stat *out, struct err **err);

/* Kill every task with sig (cgroup.kill on v2 where it exists, else one by one). */
int cg_kill_all(struct ct_cgroup *cg, int sig, struct err **err);

/*
 * Remove the cgroup from every hierarchy (it must be empty: kill first),
 * with any cgroups the container made below it, waiting a bounded time for
 * exiting tasks. Also removes the ancestors the create made (see
 * cg_created_depth) when they are empty. Frees cg whatever the outcome: to
 * try again, cg_open the path again.
 */
int cg_destroy(struct ct_cgroup *cg, struct err **err);

/*
 * How many trailing components of the path cg_create made (0 when the leaf
 * already existed). A runtime that creates and deletes in different
 * processes keeps this in its state and hands it back with
 * cg_set_created_depth() after cg_open(), so delete also removes the
 * intermediate directories its create made ("vps" in "vps/web1").
 */
unsigned int cg_created_depth(const struct ct_cgroup *cg);
void cg_set_created_depth(struct ct_cgroup *cg, unsigned int depth);

void cg_free(struct ct_cgroup *cg);

/*
 * One limit this host's kernel can enforce in a container's cgroup, or why
 * not. Names: memory, swap, cpu_weight, cpu_quota, pids, io_weight, io_bps,
 * io_iops (docs/cgroups.md "What the host enforces").
 */
#define CG_NR_FEATURES 8
struct cg_feature {
	const char *name;
	bool enforced;
	char why[192]; /* when not enforced: the files missing and the usual cause */
};

/*
 * Make a throw-away cgroup under parent ("vps-ct"), look for each limit's
 * files in it, remove it. layout: what /sys/fs/cgroup is.
 */
int cg_probe(const char *parent, enum cg_layout *layout, struct cg_feature out[CG_NR_FEATURES],
	     struct err **err);

/*
 * The container's own view of cgroups at target (in the container's mount
 * namespace, before pivot_root), its cgroup as the root. v2: mounts cgroup2
 * there. v1 and hybrid: target must be an empty tmpfs the caller mounted;
 * this binds the container's leaf of each hierarchy into it. flags:
 * MS_RDONLY and the like, from the mount's options.
 */
enum cg_layout cg_layout_of(const struct ct_cgroup *cg);
int cg_mount_view(const struct ct_cgroup *cg, const char *target, unsigned long flags,
		  struct err **err);

/*
 * Hand the container's controller-less cgroups to uid:gid (the host ids of
 * its root): the v2 leaf (or the hybrid's cgroup2 leaf) with the files
 * /sys/kernel/cgroup/delegate lists, and the name=systemd leaf with
 * cgroup.procs and tasks. v1 controller hierarchies and limit files are
 * left alone, so the container can subdivide but never raise its limits.
 */
int cg_delegate(const struct ct_cgroup *cg, uid_t uid, gid_t gid, struct err **err);

#endif
