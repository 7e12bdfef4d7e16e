/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lxcfs (docs/ct-sysinfo.md, "/proc from lxcfs"): the bind mounts that put
 * a running lxcfs's view of /proc/meminfo and friends over the container's
 * own, for whoever writes the container's config.json (the system-container
 * kind). vps-ct itself needs nothing for them: they are ordinary bind
 * mounts, applied in order after the /proc and /sys mounts.
 */
#ifndef VPS_CT_LXCFS_H
#define VPS_CT_LXCFS_H

#include <jansson.h>

#include "common/err.h"

#define CT_LXCFS_ROOT "/var/lib/lxcfs" /* where Debian's lxcfs.service mounts it */

/*
 * Append to the OCI `mounts` array one read-only bind mount for each file
 * lxcfs serves under lxcfs_root (proc/meminfo, cpuinfo, stat, uptime,
 * loadavg, swaps, diskstats and sys/devices/system/cpu/online); files this
 * lxcfs does not have are skipped. Append after the /proc and /sys mounts:
 * they go on top of those. -ENOENT, and nothing appended, when
 * lxcfs_root/proc/meminfo cannot be read (lxcfs is not running there).
 */
int ct_lxcfs_mounts(json_t *mounts, const char *lxcfs_root, struct err **err);

#endif
