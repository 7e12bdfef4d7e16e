// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The cgroup filesystem a container sees at /sys/fs/cgroup: its own cgroup
 * as the root, never the host's tree. On v2 that is a fresh cgroup2 mount
 * made inside the container's cgroup namespace. On v1 and the hybrid there
 * is no single cgroup fs: the caller mounts a tmpfs, and this fills it with
 * one directory per hierarchy, each a bind of the container's leaf in that
 * hierarchy (and `unified` on the hybrid), with the controller names of a
 * co-mounted hierarchy as symlinks (cpu -> cpu,cpuacct), as runc lays it
 * out. The binds take the mount's flags (read-only by default).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup_priv.h"

static int bind_ro(const char *src, const char *dst, unsigned long flags, struct err **err)
{
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		return err_make(err, errno, "bind `%s` on `%s`", src, dst);
	if (mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | flags, NULL) < 0)
		return err_make(err, errno, "remount `%s`", dst);
	return 0;
}

/* "cpu,cpuacct" -> symlinks cpu and cpuacct to it (skipping the name itself). */
static void link_controllers(const char *target, const char *name)
{
	char buf[256], path[PATH_MAX], *save = NULL, *tok;

	if (!strchr(name, ','))
		return;
	snprintf(buf, sizeof(buf), "%s", name);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		snprintf(path, sizeof(path), "%s/%s", target, tok);
		if (symlink(name, path) < 0 && errno != EEXIST)
			continue; /* a view without the link is still a view */
	}
}

enum cg_layout cg_layout_of(const struct ct_cgroup *cg)
{
	return cg->li.layout;
}

int cg_mount_view(const struct ct_cgroup *cg, const char *target, unsigned long flags,
		  struct err **err)
{
	char dst[PATH_MAX];
	unsigned int i;
	int r;

	flags &= MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME | MS_NOATIME;
	if (cg->li.layout == CG_V2) {
		if (mount("cgroup2", target, "cgroup2", flags, NULL) < 0)
			return err_make(err, errno, "mount `cgroup2` on `%s`", target);
		return 0;
	}
	for (i = 0; i < cg->li.nr_hier; i++) {
		const char *name = strrchr(cg->li.hier[i].mnt, '/');

		if (!cg->hdir[i] || !name)
			continue;
		name++;
		snprintf(dst, sizeof(dst), "%s/%s", target, name);
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			return err_make(err, errno, "create `%s`", dst);
		r = bind_ro(cg->hdir[i], dst, flags, err);
		if (r < 0)
			return r;
		link_controllers(target, name);
	}
	if (cg->udir) {
		snprintf(dst, sizeof(dst), "%s/unified", target);
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			return err_make(err, errno, "create `%s`", dst);
		r = bind_ro(cg->udir, dst, flags, err);
		if (r < 0)
			return r;
	}
	return 0;
}
