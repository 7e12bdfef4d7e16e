// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The cgroup filesystem a container sees at /sys/fs/cgroup: its own cgroup
 * as the root, never the host's tree. On v2 that is a fresh cgroup2 mount
 * made inside the container's cgroup namespace. On v1 and the hybrid there
 * is no single cgroup fs: the caller mounts a tmpfs, and this fills it with
 * one directory per hierarchy, each a bind of the container's leaf in that
 * hierarchy (and `unified` on the hybrid), with the controller names of a
 * co-mounted hierarchy as symlinks (cpu -> cpu,cpuacct), as runc lays it
 * out, and `systemd` for systemd's name=systemd hierarchy. The binds take the
 * mount's flags (read-only by default).
 *
 * Delegation (cg_delegate): a container with a user namespace and a
 * read-write cgroup mount gets the controller-less trees -- the v2 leaf, the
 * hybrid's cgroup2 leaf and the name=systemd leaf -- chowned to its root, so
 * a systemd inside can make its own cgroups there. v1 controller
 * hierarchies are never chowned (the runtime-spec forbids it: v1 delegation
 * is not safe), and in v2 only the directory and the files the kernel lists
 * in /sys/kernel/cgroup/delegate, never the limits (docs/ct-systemd.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup_priv.h"
#include "common/cleanup.h"
#include "common/util.h"

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
	if (cg->njoined) {
		snprintf(dst, sizeof(dst), "%s/systemd", target);
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			return err_make(err, errno, "create `%s`", dst);
		r = bind_ro(cg->ndir, dst, flags, err);
		if (r < 0)
			return r;
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

/* The files of a v2 cgroup its delegatee must own, when the kernel lists none. */
static const char v2_delegate_default[] = "cgroup.procs\ncgroup.threads\ncgroup.subtree_control\n";

/*
 * chown dir and each name in files (newline-separated; names dir lacks are
 * skipped, as memory.* is without the memory controller).
 */
static int chown_tree(const char *dir, const char *files, uid_t uid, gid_t gid, struct err **err)
{
	char name[NAME_MAX + 1];

	if (chown(dir, uid, gid) < 0)
		return err_make(err, errno, "chown `%s` to %u:%u", dir, (unsigned int)uid,
				(unsigned int)gid);
	for (const char *p = files; *p;) {
		size_t len = strcspn(p, "\n");
		char path[PATH_MAX];

		if (len && len < sizeof(name)) {
			memcpy(name, p, len);
			name[len] = '\0';
			snprintf(path, sizeof(path), "%s/%s", dir, name);
			if (chown(path, uid, gid) < 0 && errno != ENOENT)
				return err_make(err, errno, "chown `%s` to %u:%u", path,
						(unsigned int)uid, (unsigned int)gid);
		}
		p += len;
		if (*p == '\n')
			p++;
	}
	return 0;
}

int cg_delegate(const struct ct_cgroup *cg, uid_t uid, gid_t gid, struct err **err)
{
	_cleanup_free_ char *listed = NULL;
	const char *v2files = v2_delegate_default;
	size_t len;
	int r;

	/* Linux 4.15+ says which v2 files go with a delegation; newer ones list more. */
	if (read_file("/sys/kernel/cgroup/delegate", &listed, &len) == 0 && len)
		v2files = listed;
	if (cg->ujoined && (r = chown_tree(cg->udir, v2files, uid, gid, err)) < 0)
		return err_wrap(err, "delegate cgroup `%s`", cg->path);
	/* name=systemd has no controllers: moving tasks is all it does */
	if (cg->njoined && (r = chown_tree(cg->ndir, "cgroup.procs\ntasks\n", uid, gid, err)) < 0)
		return err_wrap(err, "delegate cgroup `%s`", cg->path);
	return 0;
}
