/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The container's /proc/meminfo and /proc/swaps, served by its monitor
 * (docs/ct-sysinfo.md, "meminfo and swaps from vps-ctm"): a read-only FUSE
 * file system of two files at DIR/proc, answered by a thread of vps-ctm
 * from the container's memory cgroup at every read, and bound by the spec
 * over the container's /proc files (over lxcfs's, where lxcfs runs). lxcfs
 * caps SwapTotal at the host's swap; here it is the vswap as sold, as
 * sysinfo() already answers it.
 */
#ifndef VPS_CTM_PROCFS_H
#define VPS_CTM_PROCFS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "ctm/config.h"

/* The figures the two files are made of, in bytes. */
struct ctm_meminfo {
	uint64_t limit; /* memory limit; 0: none (the host's total shows) */
	uint64_t usage;
	uint64_t swap; /* the vswap sold */
	uint64_t swap_usage; /* memsw usage - memory usage (v1), swap.current (v2) */
	uint64_t cache, shmem, mapped, dirty, writeback, anon_thp;
	uint64_t active_anon, inactive_anon, active_file, inactive_file, unevictable;
};

/*
 * /proc/meminfo for m: the host's text (host, NUL-terminated) line by line,
 * the container's figures in place of the host's where the cgroup has them
 * (the rest as the host has it, as lxcfs does). Returns the length written
 * to out (NUL-terminated), or -ENOSPC.
 */
int ctm_meminfo_render(const char *host, const struct ctm_meminfo *m, char *out, size_t size);
/* /proc/swaps for m: the header, and one line for the vswap when any was sold. */
int ctm_swaps_render(const struct ctm_meminfo *m, char *out, size_t size);

struct ctm_procfs;

/*
 * Mount the file system at DIR/proc (a stale mount of a dead monitor is
 * detached first) and start the thread that answers it. c->swap is shown
 * as sold where the kernel does not account swap per cgroup; elsewhere the
 * cgroup's limit is read at every read, so a live `set` shows at once.
 */
int ctm_procfs_start(const struct ctm_config *c, struct ctm_procfs **out, struct err **err);
/* Stop the thread, detach the mount, free. NULL is allowed. */
void ctm_procfs_stop(struct ctm_procfs *p);
/* Detach a mount left at DIR/proc by a monitor that died (destroy). */
void ctm_procfs_detach(const struct ctm_config *c);

#endif
