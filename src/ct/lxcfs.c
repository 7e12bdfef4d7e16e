// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The mounts that show a container lxcfs's /proc files (lxcfs.h). lxcfs
 * answers each read for the cgroup of the reader's pid-namespace init, so
 * one daemon on the host serves every container, and a bind mount of its
 * file over the container's /proc file is all a container needs. LXC's
 * lxcfs hook binds every file under lxcfs's proc/ read-write; we bind a
 * fixed list read-only (the files are 0444 and lxcfs has no write for them;
 * slabinfo is left out: it is the host's anyway and root-only).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "ct/lxcfs.h"

static const char *const lxcfs_files[] = {
	"/proc/meminfo", /* first: the one that must be there */
	"/proc/cpuinfo",
	"/proc/stat",
	"/proc/uptime",
	"/proc/loadavg",
	"/proc/swaps",
	"/proc/diskstats",
	"/sys/devices/system/cpu/online",
};

static json_t *bind_ro(const char *source, const char *destination)
{
	return json_pack("{s:s, s:s, s:s, s:[s, s, s, s, s]}", "destination", destination, "type",
			 "bind", "source", source, "options", "bind", "ro", "nosuid", "nodev",
			 "noexec");
}

int ct_lxcfs_mounts(json_t *mounts, const char *lxcfs_root, struct err **err)
{
	char src[4096];
	size_t i;
	int fd;

	if (!json_is_array(mounts))
		return err_make(err, EINVAL, "lxcfs mounts: `mounts` is not an array");
	/* a read, not a stat: a stale mount of a dead lxcfs still stats */
	snprintf(src, sizeof(src), "%s%s", lxcfs_root, lxcfs_files[0]);
	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/* the message keeps the cause (ENOTCONN: lxcfs died), the caller gets ENOENT */
		err_make(err, errno, "lxcfs is not running at `%s`: open `%s`", lxcfs_root, src);
		if (err && *err)
			(*err)->errnum = ENOENT;
		return -ENOENT;
	}
	close(fd);
	for (i = 0; i < ARRAY_SIZE(lxcfs_files); i++) {
		struct stat st;
		json_t *m;

		if (snprintf(src, sizeof(src), "%s%s", lxcfs_root, lxcfs_files[i]) >=
		    (int)sizeof(src))
			return err_make(err, ENAMETOOLONG, "lxcfs root `%s`", lxcfs_root);
		if (stat(src, &st) < 0 || !S_ISREG(st.st_mode))
			continue; /* an older lxcfs, or one started with fewer files */
		m = bind_ro(src, lxcfs_files[i]);
		if (!m || json_array_append_new(mounts, m) < 0)
			return err_make(err, ENOMEM, "lxcfs mounts");
	}
	return 0;
}
