// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The container's filesystem view, built by the child inside its new mount
 * namespace (config.md "Root", "Mounts"; config-linux.md "Devices",
 * "maskedPaths", "readonlyPaths", "rootfsPropagation"):
 *
 *   prepare: "/" private (or slave), rootfs bound onto itself, mounts[],
 *            /dev nodes and symlinks -- while host paths are still visible
 *   enter:   pivot_root(".", ".") then detach the old root (no temp dir);
 *            chroot when the mount namespace is not the container's own
 *   finish:  sysctl, masked and read-only paths, root propagation, root ro
 *
 * Every target inside the rootfs is resolved with openat2(RESOLVE_IN_ROOT)
 * and mounted on through /proc/self/fd, so a symlink in an image cannot send
 * a mount outside the rootfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "ct/container.h"

static int open_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC,
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

/* mkdir -p inside the root; returns an O_PATH fd on the directory. */
static int mkdir_in_root(int rootfd, const char *path)
{
	char buf[4096], *p;
	int fd;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (p = buf + 1;; p++) {
		if (*p != '/' && *p)
			continue;
		{
			char save = *p, *slash;
			int pfd;

			*p = 0;
			slash = strrchr(buf, '/');
			*slash = 0;
			pfd = open_in_root(rootfd, buf, O_PATH | O_DIRECTORY, 0);
			*slash = '/';
			if (pfd < 0)
				return pfd;
			if (mkdirat(pfd, slash + 1, 0755) < 0 && errno != EEXIST) {
				int e = errno;

				close(pfd);
				return -e;
			}
			close(pfd);
			*p = save;
		}
		if (!*p)
			break;
	}
	fd = open_in_root(rootfd, path, O_PATH | O_DIRECTORY, 0);
	return fd;
}

/* Create `path` (a directory, or a file when `file`) and return an O_PATH fd. */
static int make_target(int rootfd, const char *path, bool file)
{
	char parent[4096], *slash;
	int fd;

	fd = open_in_root(rootfd, path, O_PATH, 0);
	if (fd >= 0 || fd != -ENOENT)
		return fd;
	if (!file)
		return mkdir_in_root(rootfd, path);
	snprintf(parent, sizeof(parent), "%s", path);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = 0;
		fd = mkdir_in_root(rootfd, parent);
		if (fd < 0)
			return fd;
		close(fd);
	}
	fd = open_in_root(rootfd, path, O_CREAT | O_WRONLY, 0644);
	if (fd < 0)
		return fd;
	close(fd);
	return open_in_root(rootfd, path, O_PATH, 0);
}

static void fdpath(char *buf, size_t sz, int fd)
{
	snprintf(buf, sz, "/proc/self/fd/%d", fd);
}

/* The flags a remount must keep: in a user namespace they are locked. */
static unsigned long locked_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;

	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

static int remount_bind(const char *path, unsigned long flags)
{
	flags |= locked_flags(path);
	if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | flags, NULL) < 0)
		return -errno;
	return 0;
}

#define PROP_MASK (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)

static int do_mount(int rootfd, const struct ct_mount *m, size_t idx, const struct ct_cgroup *cg,
		    struct err **err)
{
	struct stat st;
	_cleanup_close_ int fd = -1;
	char tgt[64];
	bool file = false;
	const char *type = m->type;
	unsigned long flags = m->flags & ~(PROP_MASK | MS_BIND | MS_REC);

	if (m->bind) {
		if (stat(m->source, &st) < 0)
			return err_make(err, errno, "mounts[%zu]: source `%s`", idx, m->source);
		file = !S_ISDIR(st.st_mode);
	}
	fd = make_target(rootfd, m->destination, file);
	if (fd < 0)
		return err_make(err, -fd, "mounts[%zu]: create `%s`", idx, m->destination);
	fdpath(tgt, sizeof(tgt), fd);
	if (m->bind) {
		if (mount(m->source, tgt, NULL, MS_BIND | (m->flags & MS_REC), NULL) < 0)
			return err_make(err, errno, "bind `%s` on `%s`", m->source, m->destination);
		if (flags) {
			/* the fd still names the directory under the new mount */
			_cleanup_close_ int fd2 = open_in_root(rootfd, m->destination, O_PATH, 0);
			char t2[64];

			fdpath(t2, sizeof(t2), fd2);
			if (fd2 < 0 || remount_bind(t2, flags) < 0)
				return err_make(err, fd2 < 0 ? -fd2 : errno, "remount `%s`",
						m->destination);
		}
	} else if (type && (!strcmp(type, "cgroup") || !strcmp(type, "cgroup2"))) {
		/* The container's own cgroup as the root, never the host's tree. */
		if (!cg)
			return err_make(err, EINVAL, "mounts[%zu]: no cgroup to mount", idx);
		if (cg_layout_of(cg) == CG_V2) {
			if (cg_mount_view(cg, tgt, m->flags, err) < 0)
				return err_wrap(err, "mounts[%zu]: `%s`", idx, m->destination);
		} else {
			/* A tmpfs to hold the hierarchies, reached again through the
			 * root: the fd behind tgt still names the directory under it. */
			_cleanup_close_ int fd2 = -1;
			char t2[64];

			if (mount("tmpfs", tgt, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
				  "mode=755") < 0)
				return err_make(err, errno, "mount `tmpfs` on `%s`",
						m->destination);
			fd2 = open_in_root(rootfd, m->destination, O_PATH | O_DIRECTORY, 0);
			if (fd2 < 0)
				return err_make(err, -fd2, "open `%s`", m->destination);
			fdpath(t2, sizeof(t2), fd2);
			if (cg_mount_view(cg, t2, m->flags, err) < 0)
				return err_wrap(err, "mounts[%zu]: `%s`", idx, m->destination);
			if (mount(NULL, t2, NULL,
				  MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
				  "mode=755") < 0)
				return err_make(err, errno, "remount `%s` read-only",
						m->destination);
		}
	} else {
		const char *src = m->source ? m->source : type;

		if (mount(src, tgt, type, flags, *m->data ? m->data : NULL) < 0) {
			int e = errno;

			/* sysfs needs the net namespace's owner: fall back to the host's */
			if (!(type && !strcmp(type, "sysfs") && e == EPERM &&
			      mount("/sys", tgt, NULL, MS_BIND | MS_REC, NULL) == 0))
				return err_make(err, e, "mount `%s` on `%s`", type ? type : src,
						m->destination);
		}
	}
	if (m->propagation) {
		_cleanup_close_ int fd2 = open_in_root(rootfd, m->destination, O_PATH, 0);
		char t2[64];

		fdpath(t2, sizeof(t2), fd2);
		if (fd2 < 0 || mount(NULL, t2, NULL, m->propagation, NULL) < 0)
			return err_make(err, fd2 < 0 ? -fd2 : errno, "set propagation of `%s`",
					m->destination);
	}
	return 0;
}

static const struct {
	const char *path;
	unsigned int major, minor;
} default_devices[] = {
	{ "/dev/null", 1, 3 },	 { "/dev/zero", 1, 5 },	   { "/dev/full", 1, 7 },
	{ "/dev/random", 1, 8 }, { "/dev/urandom", 1, 9 }, { "/dev/tty", 5, 0 },
};

/* mknod name in the directory pfd; an existing node is replaced. */
static int make_node(int pfd, const char *name, const char *path, char type, unsigned int major,
		     unsigned int minor, mode_t perm, uid_t uid, gid_t gid, struct err **err)
{
	mode_t mode = perm | (type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR);
	int r;

	/* unlink only when something is there: /dev is usually a fresh tmpfs */
	while ((r = mknodat(pfd, name, mode, makedev(major, minor))) < 0 && errno == EEXIST &&
	       unlinkat(pfd, name, 0) == 0)
		;
	if (r < 0)
		return err_make(err, errno, "mknod `%s`", path);
	fchmodat(pfd, name, perm, 0);
	if (fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return err_make(err, errno, "chown `%s`", path);
	return 0;
}

static int make_device(int rootfd, const char *path, char type, unsigned int major,
		       unsigned int minor, mode_t perm, uid_t uid, gid_t gid, bool bind,
		       struct err **err)
{
	char parent[4096], *slash, tgt[64];
	_cleanup_close_ int pfd = -1;
	int fd;

	snprintf(parent, sizeof(parent), "%s", path);
	slash = strrchr(parent, '/');
	*slash = 0;
	pfd = mkdir_in_root(rootfd, *parent ? parent : "/");
	if (pfd < 0)
		return err_make(err, -pfd, "create `%s`", parent);
	if (bind) {
		/* no mknod in a user namespace: bind the host's node */
		fd = make_target(rootfd, path, true);
		if (fd < 0)
			return err_make(err, -fd, "create `%s`", path);
		fdpath(tgt, sizeof(tgt), fd);
		if (mount(path, tgt, NULL, MS_BIND, NULL) < 0) {
			int e = errno;

			close(fd);
			return err_make(err, e, "bind device `%s`", path);
		}
		close(fd);
		return 0;
	}
	return make_node(pfd, slash + 1, path, type, major, minor, perm, uid, gid, err);
}

static int make_devices(const struct ct_config *cfg, int rootfd, struct err **err)
{
	static const char *const links[][2] = {
		{ "/proc/self/fd", "/dev/fd" },
		{ "/proc/self/fd/0", "/dev/stdin" },
		{ "/proc/self/fd/1", "/dev/stdout" },
		{ "/proc/self/fd/2", "/dev/stderr" },
	};
	bool userns = ct_config_ns(cfg, CT_NS_USER) != NULL;
	_cleanup_close_ int devfd = -1, ptsfd = -1;
	size_t i, j;
	int r;

	/* /dev is looked up once for the default nodes (bind mounts need paths) */
	if (!userns && (devfd = mkdir_in_root(rootfd, "/dev")) < 0)
		return err_make(err, -devfd, "create `/dev`");
	for (i = 0; i < ARRAY_SIZE(default_devices); i++) {
		for (j = 0; j < cfg->nr_devices; j++)
			if (!strcmp(cfg->devices[j].path, default_devices[i].path))
				break;
		if (j < cfg->nr_devices)
			continue;
		if (userns)
			r = make_device(rootfd, default_devices[i].path, 'c',
					default_devices[i].major, default_devices[i].minor, 0666, 0,
					0, true, err);
		else
			r = make_node(devfd, default_devices[i].path + 5, default_devices[i].path,
				      'c', default_devices[i].major, default_devices[i].minor, 0666,
				      0, 0, err);
		if (r < 0)
			return r;
	}
	for (i = 0; i < cfg->nr_devices; i++) {
		const struct ct_device *d = &cfg->devices[i];

		r = make_device(rootfd, d->path, d->type == 'u' ? 'c' : d->type, d->major, d->minor,
				d->has_mode ? d->file_mode & 07777 : 0666, d->has_uid ? d->uid : 0,
				d->has_gid ? d->gid : 0, userns, err);
		if (r < 0)
			return err_wrap(err, "linux.devices[%zu]", i);
	}
	if (devfd < 0)
		devfd = mkdir_in_root(rootfd, "/dev");
	if (devfd < 0)
		return err_make(err, -devfd, "create `/dev`");
	for (i = 0; i < ARRAY_SIZE(links); i++)
		if (symlinkat(links[i][0], devfd, links[i][1] + 5) < 0 && errno != EEXIST)
			return err_make(err, errno, "symlink `%s`", links[i][1]);
	/* with a devpts instance of its own, ptmx must point into it */
	ptsfd = open_in_root(rootfd, "/dev/pts/ptmx", O_PATH, 0);
	if (ptsfd >= 0) {
		unlinkat(devfd, "ptmx", 0);
		if (symlinkat("pts/ptmx", devfd, "ptmx") < 0)
			return err_make(err, errno, "symlink `/dev/ptmx`");
	}
	return 0;
}

int ct_rootfs_prepare(const struct ct_config *cfg, const char *rootfs, const struct ct_cgroup *cg,
		      struct err **err)
{
	unsigned long prop = MS_REC | MS_PRIVATE;
	_cleanup_close_ int rootfd = -1;
	size_t i;
	int r;

	if (cfg->rootfs_prop_flags & (MS_SLAVE | MS_SHARED))
		prop = MS_REC | MS_SLAVE;
	if (ct_rootfs_new_mntns(cfg)) {
		if (mount(NULL, "/", NULL, prop, NULL) < 0)
			return err_make(err, errno, "make `/` private");
		if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
			return err_make(err, errno, "bind rootfs `%s`", rootfs);
	}
	rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return err_make(err, errno, "open rootfs `%s`", rootfs);
	for (i = 0; i < cfg->nr_mounts; i++)
		if ((r = do_mount(rootfd, &cfg->mounts[i], i, cg, err)) < 0)
			return r;
	return make_devices(cfg, rootfd, err);
}

bool ct_rootfs_new_mntns(const struct ct_config *cfg)
{
	const struct ct_namespace *n = ct_config_ns(cfg, CT_NS_MOUNT);

	return n && !n->path;
}

int ct_rootfs_enter(const struct ct_config *cfg, const char *rootfs, struct err **err)
{
	if (chdir(rootfs) < 0)
		return err_make(err, errno, "chdir `%s`", rootfs);
	if (!ct_rootfs_new_mntns(cfg)) {
		/* not ours to pivot: the namespace is the host's or another's */
		if (chroot(".") < 0)
			return err_make(err, errno, "chroot `%s`", rootfs);
		if (chdir("/") < 0)
			return err_make(err, errno, "chdir `/`");
		return 0;
	}
	/* stack the new root over the old and detach the old: no temp dir needed */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return err_make(err, errno, "pivot_root `%s`", rootfs);
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return err_make(err, errno, "make old root a slave");
	if (umount2(".", MNT_DETACH) < 0)
		return err_make(err, errno, "detach old root");
	if (chdir("/") < 0)
		return err_make(err, errno, "chdir `/`");
	return 0;
}

static int write_sysctl(const char *key, const char *value, struct err **err)
{
	char path[512], *p;
	_cleanup_close_ int fd = -1;

	snprintf(path, sizeof(path), "/proc/sys/%s", key);
	for (p = path + 10; *p; p++)
		if (*p == '.')
			*p = '/';
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return err_make(err, errno, "sysctl `%s`: open `%s`", key, path);
	if (write_all(fd, value, strlen(value)) < 0)
		return err_make(err, errno, "sysctl `%s`: write `%s`", key, value);
	return 0;
}

static int mask_path(const char *path, struct err **err)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : err_make(err, errno, "mask `%s`", path);
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0k") < 0)
			return err_make(err, errno, "mask `%s`", path);
	} else if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0) {
		return err_make(err, errno, "mask `%s`", path);
	}
	return 0;
}

static int readonly_path(const char *path, struct err **err)
{
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return errno == ENOENT ? 0 : err_make(err, errno, "readonly `%s`", path);
	if (remount_bind(path, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC) < 0)
		return err_make(err, errno, "remount `%s` read-only", path);
	return 0;
}

int ct_rootfs_finish(const struct ct_config *cfg, struct err **err)
{
	size_t i;
	int r;

	for (i = 0; i < cfg->nr_sysctl; i++)
		if ((r = write_sysctl(cfg->sysctl[i].key, cfg->sysctl[i].value, err)) < 0)
			return r;
	for (i = 0; i < cfg->nr_masked_paths; i++)
		if ((r = mask_path(cfg->masked_paths[i], err)) < 0)
			return r;
	for (i = 0; i < cfg->nr_readonly_paths; i++)
		if ((r = readonly_path(cfg->readonly_paths[i], err)) < 0)
			return r;
	if (ct_rootfs_new_mntns(cfg) && (cfg->rootfs_prop_flags & ~MS_REC) != MS_PRIVATE &&
	    mount(NULL, "/", NULL, cfg->rootfs_prop_flags, NULL) < 0)
		return err_make(err, errno, "set rootfs propagation `%s`", cfg->rootfs_propagation);
	if (cfg->root_readonly && remount_bind("/", MS_RDONLY) < 0)
		return err_make(err, errno, "remount `/` read-only");
	return 0;
}

int ct_rootfs_console(struct err **err)
{
	char pts[64];
	int fd;

	if (ttyname_r(0, pts, sizeof(pts)) != 0)
		return err_make(err, errno, "name of the console pty");
	/* no mknod in a user namespace: a plain file to bind the pty on */
	fd = open("/dev/console", O_CREAT | O_WRONLY | O_NOCTTY | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_make(err, errno, "create `/dev/console`");
	close(fd);
	if (mount(pts, "/dev/console", NULL, MS_BIND, NULL) < 0)
		return err_make(err, errno, "bind `%s` on `/dev/console`", pts);
	return 0;
}
