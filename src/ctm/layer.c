// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Layered storage ("storage": "layered", layer.h): one unpacked copy of a
 * template per host, shared read-only by every container made from it, so
 * that its files sit once in the page cache (Virtuozzo's vzfs and pfcache,
 * Docker's overlay layers). Each container's root is an overlayfs:
 *
 *   lower  an idmapped, read-only clone of TEMPLATE_DIR/KEY/rootfs: the
 *          template's ids 0..65535 appear as uid_base..uid_base+65535, so
 *          the container's root owns its files without a chown per file
 *   upper  DIR/disk/upper on the container's own ext4 image: every write,
 *          copy-up included, lands there and counts against its quota
 *
 * The idmap needs a user namespace whose map is `0 uid_base uid_size`. The
 * container's own one exists only once vps-ct has cloned the init, after
 * the root is mounted, so a short-lived child makes one with the same map
 * and the mount keeps a reference to it (mount_setattr(2)).
 *
 * The template directory is host-owned (root, setuid binaries and all, with
 * the tarball's own ids) and only the host's root can walk into it (0700).
 * Nothing from a container is ever written there: overlayfs never writes to
 * a lower layer, and the clone is read-only besides.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "sys/disk.h"
#include "ctm/ctm.h"
#include "ctm/layer.h"

/* The key ids and the tarball are checked against, in TEMPLATE_DIR/KEY/source. */
struct stamp {
	long long size, mtime, mtime_ns; /* of the tarball when it was unpacked */
	unsigned long max_id; /* highest uid or gid in the tree */
};

static bool is_mount_root(const char *path)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, 0, &stx) < 0)
		return false;
	return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/*
 * The tarball's name without its extension: mktemplate names a tarball by
 * the hash of its inputs (busybox-ad206101c0d42b5b.tar.zst), so a changed
 * template gets a new key and a new directory.
 */
static int template_key(const char *tarball, char *key, size_t size, struct err **err)
{
	static const char *const exts[] = { ".tar.zst", ".tar.gz", ".tar.xz", ".tgz", ".tar" };
	const char *base = strrchr(tarball, '/') ? strrchr(tarball, '/') + 1 : tarball;
	size_t n = strlen(base);

	for (size_t i = 0; i < ARRAY_SIZE(exts); i++) {
		size_t e = strlen(exts[i]);

		if (n > e && !strcmp(base + n - e, exts[i])) {
			n -= e;
			break;
		}
	}
	if (n == 0 || n >= size || base[0] == '.' ||
	    strspn(base, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") < n)
		return err_make(err, EINVAL,
				"template `%s`: its name must be letters, digits, `.`, `_`, `-`",
				tarball);
	memcpy(key, base, n);
	key[n] = 0;
	return 0;
}

static unsigned long walk_max_id;

static int max_id_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)path, (void)flag, (void)f;
	if (st->st_uid > walk_max_id)
		walk_max_id = st->st_uid;
	if (st->st_gid > walk_max_id)
		walk_max_id = st->st_gid;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)f;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

static int read_stamp(const char *path, struct stamp *s)
{
	_cleanup_free_ char *text = NULL;
	int r = read_file(path, &text, NULL);

	if (r < 0)
		return r;
	if (sscanf(text, "%lld %lld %lld %lu", &s->size, &s->mtime, &s->mtime_ns, &s->max_id) != 4)
		return -EINVAL;
	return 0;
}

/* Unpack into a fresh hidden directory and rename it to DIR whole; the lock is held. */
static int unpack(const char *tarball, const struct stat *tst, const char *tdir, const char *key,
		  const char *dir, struct err **err)
{
	_cleanup_free_ char *tmp = NULL, *root = NULL, *source = NULL, *text = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (asprintf(&tmp, "%s/.%s.XXXXXX", tdir, key) < 0 || !mkdtemp(tmp))
		return err_make(err, errno ? errno : ENOMEM, "make a directory in `%s`", tdir);
	if (asprintf(&root, "%s/rootfs", tmp) < 0 || asprintf(&source, "%s/source", tmp) < 0) {
		r = err_make(err, ENOMEM, "unpack");
		goto fail;
	}
	if (mkdir(root, 0755) < 0) {
		r = err_make(err, errno, "mkdir `%s`", root);
		goto fail;
	}
	{
		const char *tar[] = { "tar",	  "--numeric-owner",
				      "--xattrs", "--xattrs-include=*",
				      "--acls",	  "-xpf",
				      tarball,	  "-C",
				      root,	  NULL };

		if ((r = ctm_run_cmd(tar, err)) < 0) {
			err_wrap(err, "unpack `%s`", tarball);
			goto fail;
		}
	}
	walk_max_id = 0;
	if (nftw(root, max_id_one, 64, FTW_PHYS | FTW_MOUNT) != 0) {
		r = err_make(err, errno, "walk `%s`", root);
		goto fail;
	}
	if (asprintf(&text, "%lld %lld %lld %lu\n", (long long)tst->st_size,
		     (long long)tst->st_mtim.tv_sec, (long long)tst->st_mtim.tv_nsec,
		     walk_max_id) < 0) {
		r = err_make(err, ENOMEM, "unpack");
		goto fail;
	}
	fd = open(source, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	/* the tree whole on disk before its name is: a crash leaves a hidden
	 * directory, never a half template under the key */
	if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || syncfs(fd) < 0) {
		r = err_make(err, errno, "write `%s`", source);
		goto fail;
	}
	if (rename(tmp, dir) < 0) {
		r = err_make(err, errno, "rename `%s` to `%s`", tmp, dir);
		goto fail;
	}
	return 0;
fail:
	nftw(tmp, rm_one, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	return r;
}

int ctm_layer_prepare(const struct ctm_config *c, struct err **err)
{
	_cleanup_free_ char *dir = NULL, *lock = NULL, *source = NULL, *rootfs = NULL;
	_cleanup_free_ char *link = ctm_path(c, false, "template");
	_cleanup_close_ int lfd = -1;
	struct stamp s;
	struct stat tst;
	char key[256];
	int r;

	if (template_key(c->template, key, sizeof(key), err) < 0)
		return -EINVAL;
	if (asprintf(&dir, "%s/%s", c->template_dir, key) < 0 ||
	    asprintf(&lock, "%s/.%s.lock", c->template_dir, key) < 0 ||
	    asprintf(&source, "%s/source", dir) < 0 || asprintf(&rootfs, "%s/rootfs", dir) < 0 ||
	    !link)
		return err_make(err, ENOMEM, "template");
	if (stat(c->template, &tst) < 0)
		return err_make(err, errno, "template `%s`", c->template);
	/* 0700: it holds the template's own ids, set-uid root binaries among them */
	if ((r = mkdir_p(c->template_dir, 0700, 0755)) < 0)
		return err_make(err, -r, "mkdir `%s`", c->template_dir);
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0)
		return err_make(err, errno, "open `%s`", lock);
	while (flock(lfd, LOCK_EX) < 0)
		if (errno != EINTR)
			return err_make(err, errno, "lock `%s`", lock);
	r = read_stamp(source, &s);
	if (r == -ENOENT) {
		if (unpack(c->template, &tst, c->template_dir, key, dir, err) < 0)
			return -EIO;
		r = read_stamp(source, &s);
	}
	if (r < 0)
		return err_make(err, -r, "read `%s`", source);
	if (s.size != (long long)tst.st_size || s.mtime != (long long)tst.st_mtim.tv_sec ||
	    s.mtime_ns != (long long)tst.st_mtim.tv_nsec)
		return err_make(err, EEXIST,
				"template `%s` is not the tarball `%s` was unpacked from "
				"(a changed template needs a new name)",
				c->template, dir);
	if (s.max_id >= c->uid_size)
		return err_make(err, ERANGE,
				"template `%s` has ids up to %lu: more than `uid_size` %u",
				c->template, s.max_id, c->uid_size);
	if (symlink(rootfs, link) < 0)
		return err_make(err, errno, "symlink `%s`", link);
	return 0;
}

/* --- mounts ----------------------------------------------------------------- */

/*
 * A user namespace mapping 0..size-1 to base..: made by a child that
 * unshares and waits, kept as an fd to /proc/CHILD/ns/user once the maps
 * are written, then the child exits (the fd keeps the namespace).
 */
static int idmap_userns(uint32_t base, uint32_t size, struct err **err)
{
	int ready[2], hold[2], fd = -1, e = 0, st;
	char map[64], path[64], b = 0;
	const char *const files[] = { "uid_map", "gid_map" };
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return err_make(err, errno, "pipe");
	if (pipe2(hold, O_CLOEXEC) < 0) {
		e = errno;
		close(ready[0]);
		close(ready[1]);
		return err_make(err, e, "pipe");
	}
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(hold[1]);
		if (unshare(CLONE_NEWUSER) < 0 || write(ready[1], &b, 1) != 1)
			_exit(1);
		(void)!read(hold[0], &b, 1); /* until the parent closes its end */
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	if (pid < 0)
		e = errno;
	else if (read(ready[0], &b, 1) != 1)
		e = ECHILD;
	snprintf(map, sizeof(map), "0 %u %u\n", base, size);
	for (size_t i = 0; !e && i < ARRAY_SIZE(files); i++) {
		_cleanup_close_ int mfd = -1;

		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, files[i]);
		mfd = open(path, O_WRONLY | O_CLOEXEC);
		if (mfd < 0 || write(mfd, map, strlen(map)) < 0)
			e = errno;
	}
	if (!e) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			e = errno;
	}
	close(ready[0]);
	close(hold[1]);
	if (pid > 0)
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	if (e)
		return err_make(err, e, "user namespace for the idmap `%s`", map);
	return fd;
}

/* An idmapped, read-only clone of the template directory at target. */
static int mount_lower(const struct ctm_config *c, const char *link, const char *target,
		       struct err **err)
{
	_cleanup_close_ int ns = -1, tree = -1;
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY };
	char shared[4096];
	ssize_t n = readlink(link, shared, sizeof(shared) - 1);

	if (n < 0)
		return err_make(err, errno, "readlink `%s`", link);
	shared[n] = 0;
	if ((ns = idmap_userns(c->uid_base, c->uid_size, err)) < 0)
		return ns;
	attr.userns_fd = ns;
	tree = open_tree(AT_FDCWD, shared, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0)
		return err_make(err, errno, "open_tree `%s`", shared);
	if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return err_make(err, errno, "idmap `%s` to %u", shared, c->uid_base);
	if (move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return err_make(err, errno, "mount `%s` on `%s`", shared, target);
	return 0;
}

/* overlayfs unescapes `\` before any byte in a layer's path */
static char *ovl_escape(const char *s)
{
	char *out = malloc(strlen(s) * 2 + 1), *p = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		if (*s == '\\' || *s == ':' || *s == ',')
			*p++ = '\\';
		*p++ = *s;
	}
	*p = 0;
	return out;
}

/* The kernel's own words on why fsconfig failed, if it left any. */
static const char *fs_log(int fs, char *buf, size_t size)
{
	ssize_t n = read(fs, buf, size - 1);

	if (n <= 2)
		return "";
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

static int mount_overlay(const char *lower, const char *upper, const char *work, const char *target,
			 struct err **err)
{
	_cleanup_free_ char *l = ovl_escape(lower), *u = ovl_escape(upper), *w = ovl_escape(work);
	_cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC), mnt = -1;
	char why[256];

	if (!l || !u || !w)
		return err_make(err, ENOMEM, "overlay");
	if (fs < 0)
		return err_make(err, errno, "fsopen overlay");
	if (fsconfig(fs, FSCONFIG_SET_STRING, "source", "vps-ctm", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", l, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", u, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "workdir", w, 0) < 0 ||
	    /* whatever the host's module defaults: no inode index (it ties the
	     * upper to the lower's file handles) and no metacopy (an upper file
	     * whose data comes from below is an xattr to trust) */
	    fsconfig(fs, FSCONFIG_SET_STRING, "index", "off", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "metacopy", "off", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		int e = errno;

		return err_make(err, e, "overlay on `%s` (lower `%s`, upper `%s`) %s", target,
				lower, upper, fs_log(fs, why, sizeof(why)));
	}
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	if (mnt < 0)
		return err_make(err, errno, "fsmount overlay for `%s`", target);
	if (move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return err_make(err, errno, "mount overlay on `%s`", target);
	return 0;
}

/* A directory of the disk's root made once; refuses anything but a directory. */
static int disk_dir(int dfd, const char *name, mode_t mode, bool *made, struct err **err)
{
	struct stat st;

	*made = mkdirat(dfd, name, mode) == 0;
	if (!*made && errno != EEXIST)
		return err_make(err, errno, "mkdir `%s` on the disk", name);
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return err_make(err, errno ? errno : ENOTDIR, "`%s` on the disk: not a directory",
				name);
	return 0;
}

/*
 * upper/ is the root directory the container sees (overlayfs takes a
 * directory's attributes from its upper copy): give it the template root's
 * owner and mode as the idmapped lower shows them.
 */
static int make_layers(const char *disk, const char *lower, struct err **err)
{
	_cleanup_close_ int dfd = open(disk, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	bool made;

	if (dfd < 0)
		return err_make(err, errno, "open `%s`", disk);
	/* only the host's root: the container sees upper/'s contents, never this */
	if (fchmod(dfd, 0700) < 0)
		return err_make(err, errno, "chmod `%s`", disk);
	if (disk_dir(dfd, "work", 0700, &made, err) < 0 ||
	    disk_dir(dfd, "upper", 0755, &made, err) < 0)
		return -EIO;
	if (!made)
		return 0;
	if (stat(lower, &st) < 0)
		return err_make(err, errno, "stat `%s`", lower);
	if (fchownat(dfd, "upper", st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(dfd, "upper", st.st_mode & 07777, 0) < 0)
		return err_make(err, errno, "chown `%s/upper`", disk);
	return 0;
}

int ctm_layer_mount(const struct ctm_config *c, struct err **err)
{
	_cleanup_free_ char *img = ctm_path(c, false, "disk.img");
	_cleanup_free_ char *disk = ctm_path(c, false, "disk");
	_cleanup_free_ char *lower = ctm_path(c, false, "lower");
	_cleanup_free_ char *rootfs = ctm_path(c, false, "rootfs");
	_cleanup_free_ char *link = ctm_path(c, false, "template");
	_cleanup_free_ char *upper = ctm_path(c, false, "disk/upper");
	_cleanup_free_ char *work = ctm_path(c, false, "disk/work");
	_cleanup_free_ char *loop = NULL;
	bool mounted_disk = false, mounted_lower = false;

	if (!img || !disk || !lower || !rootfs || !link || !upper || !work)
		return err_make(err, ENOMEM, "mount");
	if (is_mount_root(rootfs))
		return 0;
	if ((mkdir(disk, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(lower, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(rootfs, 0755) < 0 && errno != EEXIST))
		return err_make(err, errno, "mkdir in `%s`", c->dir);
	if (!is_mount_root(disk)) {
		/* a device left attached by a crash between attach and mount */
		if (sys_disk_find_loop(img, &loop, err) < 0)
			return -EIO;
		if (!loop && sys_disk_attach(img, false, &loop, err) < 0)
			return -EIO;
		if (sys_disk_mount(loop, disk, false, err) < 0) {
			sys_disk_detach(loop, NULL);
			return -EIO;
		}
		mounted_disk = true;
	}
	if (!is_mount_root(lower)) {
		if (mount_lower(c, link, lower, err) < 0)
			goto fail;
		mounted_lower = true;
	}
	if (make_layers(disk, lower, err) < 0 || mount_overlay(lower, upper, work, rootfs, err) < 0)
		goto fail;
	return 0;
fail:
	if (mounted_lower)
		umount2(lower, UMOUNT_NOFOLLOW);
	if (mounted_disk)
		umount2(disk, UMOUNT_NOFOLLOW);
	return -EIO;
}

int ctm_layer_umount(const struct ctm_config *c, struct err **err)
{
	static const char *const order[] = { "rootfs", "lower", "disk" };

	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		_cleanup_free_ char *p = ctm_path(c, false, order[i]);

		if (!p)
			return err_make(err, ENOMEM, "umount");
		/* the overlay holds lower and disk: stop at the first that stays */
		if (is_mount_root(p) && umount2(p, UMOUNT_NOFOLLOW) < 0)
			return err_make(err, errno, "umount `%s`", p);
	}
	return 0;
}

int ctm_layer_remove(const struct ctm_config *c, struct err **err)
{
	_cleanup_free_ char *link = ctm_path(c, false, "template");
	_cleanup_free_ char *lower = ctm_path(c, false, "lower");
	_cleanup_free_ char *disk = ctm_path(c, false, "disk");

	if (!link || !lower || !disk)
		return err_make(err, ENOMEM, "remove");
	if (unlink(link) < 0 && errno != ENOENT)
		return err_make(err, errno, "remove `%s`", link);
	if (rmdir(lower) < 0 && errno != ENOENT)
		return err_make(err, errno, "remove `%s`", lower);
	if (rmdir(disk) < 0 && errno != ENOENT)
		return err_make(err, errno, "remove `%s`", disk);
	return 0;
}
