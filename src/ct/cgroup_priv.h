/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Inside the cgroup code: the layout of the hierarchies as read from
 * mountinfo, the handle, and the pure functions (no I/O) that decide what to
 * write where. Those live in cgroup_parse.c and cgroup_bpf.c so the unit
 * tests (tests/unit/test_ct_cgroup.c) can drive them with made-up inputs;
 * cgroup.c, cgroup_res.c and cgroup_bpf.c do the file system and bpf(2)
 * work. Nothing outside src/ct/cgroup*.c and the tests includes this.
 */
#ifndef VPS_CT_CGROUP_PRIV_H
#define VPS_CT_CGROUP_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>

#include "ct/cgroup.h"

/* The v1 controllers we use; name=systemd and the rest are left alone. */
enum cg_ctrl {
	CG_CPU,
	CG_CPUACCT,
	CG_CPUSET,
	CG_MEMORY,
	CG_DEVICES,
	CG_FREEZER,
	CG_BLKIO,
	CG_PIDS,
	CG_NET_CLS,
	CG_NET_PRIO,
	CG_NR_CTRL
};

extern const char *const cg_ctrl_names[CG_NR_CTRL];

#define CG_MAX_HIER CG_NR_CTRL /* at most one hierarchy per controller */
#define CG_PATH_MAX 1024 /* longest cgroup path we accept (relative) */

struct cg_hier { /* one mounted v1 hierarchy */
	char *mnt; /* mount point, e.g. /sys/fs/cgroup/cpu,cpuacct */
	unsigned int ctrls; /* bit (1 << enum cg_ctrl) per controller on it */
};

struct cg_layout_info {
	enum cg_layout layout;
	char *unified; /* cgroup2 mount point, NULL if none */
	char *named; /* v1 name=systemd mount point (no controllers), NULL if none */
	struct cg_hier hier[CG_MAX_HIER];
	unsigned int nr_hier;
	int ctrl_hier[CG_NR_CTRL]; /* index into hier[], -1: not mounted */
};

/*
 * Parse /proc/self/mountinfo text into a layout. Prefers /sys/fs/cgroup (and
 * mounts of a hierarchy's root) when a hierarchy is mounted twice. Fails
 * with ENOENT when there is no cgroup file system at all.
 */
int cg_parse_mountinfo(const char *text, struct cg_layout_info *li, struct err **err);
void cg_layout_free(struct cg_layout_info *li);

/*
 * Validate an OCI cgroupsPath and normalise it into out (the leading slash
 * dropped): refuses the root itself, "." and ".." components, empty
 * components ("a//b", "a/"), systemd "slice:prefix:name", control
 * characters, components over NAME_MAX and paths of CG_PATH_MAX or more.
 */
int cg_path_normalize(const char *path, char *out, size_t outsz, struct err **err);

/* v1 cpu.shares -> v2 cpu.weight; see docs/cgroups.md for the curve. */
uint64_t cg_shares_to_weight(uint64_t shares);

/* OCI blkio weight (10..1000) -> v2 io.weight (1..10000), linear. */
uint64_t cg_blkio_to_io_weight(uint64_t weight);

/*
 * v2 io.max lines, one per device, "MAJ:MIN rbps=.. wbps=.. riops=.. wiops=..",
 * each NUL-terminated and stored one after another in buf; returns the
 * number of lines, or -ENOSPC.
 */
int cg_io_max_lines(const struct cg_resources *r, char *buf, size_t bufsz);

/*
 * The IO weight file a cgroup dir has (v1: blkio.weight or blkio.bfq.weight;
 * v2: io.bfq.weight or io.weight), NULL when none; cg_weight_missing() says
 * why in words. The probe (cgroup_probe.c) and the writes use both.
 */
const char *cg_weight_file(const char *dir, enum cg_layout layout);
const char *cg_weight_missing(enum cg_layout layout);

/* v1 memory: write memsw before memory.limit_in_bytes? (cur_limit: bytes, -1 = max) */
bool cg_v1_swap_first(int64_t cur_limit, int64_t new_swap);

/*
 * v2 memory.swap.max from OCI's memory+swap: "max" for -1, else swap -
 * limit. -EINVAL with a message when swap < limit, or swap without limit.
 */
int cg_v2_swap_max(int64_t limit, int64_t swap, char *out, size_t outsz, struct err **err);

/* v2 cpu.max value; cur_quota is what cpu.max has now (-1: max). */
void cg_v2_cpu_max(int64_t quota, int64_t period, int64_t cur_quota, char *out, size_t outsz);

/*
 * linux.resources.unified on a v1 or hybrid host: every entry's controller
 * (the name up to its first '.') must be in v2_ctrls, the container's
 * cgroup2 leaf's cgroup.controllers (NULL: no usable cgroup2 leaf), or the
 * entry is refused, saying where the controller is (-EINVAL: a
 * configuration this host cannot honour, as crun's "cannot use unified on
 * cgroup v1"). Always 0 on v2, where a
 * missing file is found when it is written.
 */
int cg_unified_check(const struct cg_layout_info *li, const char *v2_ctrls,
		     const struct cg_resources *r, struct err **err);

/* v1 devices.allow / devices.deny line: "c 1:3 rwm", '*' for any. */
void cg_v1_device_line(const struct cg_device_rule *d, char *out, size_t outsz);

/*
 * The BPF_PROG_TYPE_CGROUP_DEVICE program for a rule list: rules are tried
 * last first, the first that matches decides (so later rules override
 * earlier ones, as on v1), and a device no rule matches is denied. Returns
 * the number of instructions written to insns, or -E2BIG.
 */
int cg_bpf_devices_prog(const struct cg_device_rule *rules, unsigned int n, struct bpf_insn *insns,
			size_t max_insns);
#define CG_BPF_MAX_INSNS (6 + 10 * CG_MAX_DEVICE_RULES)

/* Load the program and attach it to the cgroup dir fd, replacing ours. */
int cg_bpf_devices_apply(int dirfd, const char *dir, const struct cg_device_rule *rules,
			 unsigned int n, struct err **err);

/* The handle. dirs[] are the leaf's full paths, one per hierarchy in use. */
struct ct_cgroup {
	struct cg_layout_info li;
	char path[CG_PATH_MAX]; /* normalised, relative */
	char *hdir[CG_MAX_HIER]; /* v1: leaf in hier[i]; NULL if unused */
	char *udir; /* leaf in the cgroup2 mount (v2, or hybrid best effort) */
	bool ujoined; /* hybrid: the cgroup2 leaf exists and we may use it */
	char *ndir; /* v1, hybrid: leaf in the name=systemd hierarchy, NULL if none */
	bool njoined; /* the name=systemd leaf exists and we may use it */
	unsigned int created_depth; /* trailing components this handle made */
};

/* Leaf dir for a controller, or NULL (v2: always udir). */
const char *cg_ctrl_dir(const struct ct_cgroup *cg, enum cg_ctrl c);

/* Files: write one value (message names file and value), read one. */
int cg_write(const char *dir, const char *file, const char *val, struct err **err);
int cg_read(const char *dir, const char *file, char *buf, size_t bufsz, struct err **err);
bool cg_has(const char *dir, const char *file);

/* cgroup_res.c: apply the fields of r that are set. */
int cg_apply_v1(struct ct_cgroup *cg, const struct cg_resources *r, struct err **err);
int cg_apply_v2(struct ct_cgroup *cg, const struct cg_resources *r, struct err **err);

#endif
