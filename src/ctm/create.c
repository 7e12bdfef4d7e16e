// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A container's disk and root filesystem: create (disk image, template,
 * ownership shifted into the container's uid range, hostname, network
 * files, root password and SSH keys), mount, umount and destroy.
 *
 * At create the files come from our own template, so the tree is walked
 * with plain paths. Everything that touches a container that has run
 * (mount, destroy) treats its contents as hostile: files are opened with
 * RESOLVE_IN_ROOT, and nothing is followed out of the root.
 */
#include <crypt.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <search.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/testpoint.h"
#include "common/util.h"
#include "sys/disk.h"
#include "sys/image.h"
#include "sys/net.h"
#include "sys/passwd.h"
#include "sys/spawn.h"
#include "ctm/ctm.h"
#include "ctm/procfs.h"
#include "ctm/layer.h"

const char *ctm_vps_ct(void)
{
	static char path[4200];
	char self[4096], cand[4200];
	ssize_t n;

	if (getenv("VPS_CT") && *getenv("VPS_CT"))
		return getenv("VPS_CT");
	if (*path)
		return path;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		dirname(self);
		snprintf(cand, sizeof(cand), "%s/vps-ct", self);
		if (access(cand, X_OK) == 0)
			return memcpy(path, cand, sizeof(path));
		snprintf(cand, sizeof(cand), "%s/../ct/vps-ct", self);
		if (access(cand, X_OK) == 0)
			return memcpy(path, cand, sizeof(path));
	}
	return "vps-ct";
}

int ctm_vps_ct_run(const struct ctm_config *c, const char *const *args, struct err **err)
{
	_cleanup_free_ char *root = ctm_path(c, true, "ct");
	const char *argv[32] = { ctm_vps_ct(), "--root", root };
	const struct sys_spawn s = { .argv = (char *const *)argv, .flags = SYS_SPAWN_PATH };
	struct sys_spawn_result r;
	size_t n = 3;
	int st;

	for (; *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	st = sys_spawn(&s, &r, err);
	sys_spawn_result_free(&r);
	if (st < 0 || !r.signal)
		return st;
	return err_make(err, EINTR, "vps-ct %s: killed by signal %d", argv[3] ? argv[3] : "",
			r.signal);
}

int ctm_run_cmd(const char *const *argv, struct err **err)
{
	/* no tar left writing if we are killed */
	const struct sys_spawn s = { .argv = (char *const *)argv,
				     .flags = SYS_SPAWN_PATH | SYS_SPAWN_DIE_WITH_PARENT };

	return sys_run(&s, NULL, err);
}

static int open_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = { .flags = flags | O_CLOEXEC,
				.mode = (flags & O_CREAT) ? mode : 0,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };

	return syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

enum ctm_init ctm_detect_init(const char *rootfs)
{
	_cleanup_close_ int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int fd = -1;
	char link[4096];
	struct stat st;

	if (root < 0)
		return CTM_INIT_BUSYBOX;
	/* follow /sbin -> usr/sbin inside the root, then read the last link */
	fd = open_in_root(root, "/sbin", O_PATH | O_DIRECTORY, 0);
	if (fd >= 0) {
		ssize_t n = readlinkat(fd, "init", link, sizeof(link) - 1);

		if (n > 0) {
			link[n] = 0;
			if (strstr(link, "systemd"))
				return CTM_INIT_SYSTEMD;
		} else if (fstatat(fd, "init", &st, AT_SYMLINK_NOFOLLOW) == 0) {
			return CTM_INIT_BUSYBOX;
		}
	}
	return CTM_INIT_BUSYBOX;
}

/* --- ownership shift ---------------------------------------------------- */

static uint32_t shift_from, shift_base, shift_size; /* ids from [from, from+size) to base.. */
static int shift_errno;
static char shift_path[4096];
static void *shift_seen; /* tsearch tree of hard-linked inodes already shifted */

static int ino_cmp(const void *a, const void *b)
{
	const ino_t x = *(const ino_t *)a, y = *(const ino_t *)b;

	return x < y ? -1 : x > y;
}

/* True the second time a hard-linked inode comes by (one filesystem: FTW_MOUNT). */
static bool seen_before(const struct stat *st)
{
	ino_t *key, **found;

	if (S_ISDIR(st->st_mode) || st->st_nlink < 2)
		return false;
	key = malloc(sizeof(*key));
	if (!key)
		return false;
	*key = st->st_ino;
	found = tsearch(key, &shift_seen, ino_cmp);
	if (found && *found != key) {
		free(key);
		return true;
	}
	return false;
}

static int shift_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	uid_t uid = st->st_uid;
	gid_t gid = st->st_gid;

	if (seen_before(st))
		return 0;
	/* a clone's tree shifted again after a crash: what is already in the new range stays */
	if (shift_from != shift_base && uid - shift_base < shift_size &&
	    gid - shift_base < shift_size)
		return 0;
	if (uid - shift_from >= shift_size || gid - shift_from >= shift_size) {
		shift_errno = ERANGE;
		snprintf(shift_path, sizeof(shift_path), "%s", path);
		return 1;
	}
	if (lchown(path, uid - shift_from + shift_base, gid - shift_from + shift_base) < 0 ||
	    (!S_ISLNK(st->st_mode) && (st->st_mode & 07000) &&
	     chmod(path, st->st_mode & 07777) < 0)) {
		shift_errno = errno;
		snprintf(shift_path, sizeof(shift_path), "%s", path);
		return 1;
	}
	return 0;
}

/*
 * Give every file of the tree to the container's uid range: ids FROM.. of
 * the tree (0 for a fresh template, the source's range for a clone) become
 * BASE... No link is followed and no other filesystem entered (FTW_PHYS,
 * FTW_MOUNT); the tree is a disk only this process has mounted, so nothing
 * changes it under the walk.
 */
static int shift_tree(const char *rootfs, uint32_t from, uint32_t base, uint32_t size,
		      struct err **err)
{
	int r;

	shift_from = from;
	shift_base = base;
	shift_size = size;
	shift_errno = 0;
	shift_seen = NULL;
	r = nftw(rootfs, shift_one, 64, FTW_PHYS | FTW_MOUNT);
	tdestroy(shift_seen, free);
	shift_seen = NULL;
	if (r != 0)
		return err_make(err, shift_errno ? shift_errno : errno, "shift owner of `%s`%s",
				shift_path,
				shift_errno == ERANGE ? ": id outside the container's range" : "");
	return 0;
}

/* --- files inside the root ---------------------------------------------- */

static int chown_in_root(int rootfd, const char *path, uid_t uid, struct err **err)
{
	_cleanup_close_ int fd = open_in_root(rootfd, path, O_PATH | O_NOFOLLOW, 0);

	if (fd < 0 || fchownat(fd, "", uid, uid, AT_EMPTY_PATH) < 0)
		return err_make(err, errno, "chown `%s` in the container", path);
	return 0;
}

static int set_ssh_keys(int rootfd, char *const *keys, size_t n, uid_t owner, struct err **err)
{
	_cleanup_close_ int root = open_in_root(rootfd, "/root", O_PATH | O_DIRECTORY, 0);
	_cleanup_close_ int fd = -1;

	if (root < 0)
		return err_make(err, errno, "open `/root` in the container");
	if (mkdirat(root, ".ssh", 0700) < 0 && errno != EEXIST)
		return err_make(err, errno, "mkdir `/root/.ssh`");
	/* a template may be an uploaded image: no link followed, a regular file only */
	fd = open_untrusted(rootfd, "/root/.ssh/authorized_keys", O_WRONLY | O_CREAT | O_TRUNC,
			    0600, 0);
	if (fd < 0)
		return err_make(err, errno, "open `/root/.ssh/authorized_keys`");
	for (size_t i = 0; i < n; i++)
		if (write_all(fd, keys[i], strlen(keys[i])) < 0 || write_all(fd, "\n", 1) < 0)
			return err_make(err, errno, "write `/root/.ssh/authorized_keys`");
	if (fchmod(fd, 0600) < 0)
		return err_make(err, errno, "chmod `/root/.ssh/authorized_keys`");
	if (chown_in_root(rootfd, "/root/.ssh", owner, err) < 0 ||
	    chown_in_root(rootfd, "/root/.ssh/authorized_keys", owner, err) < 0)
		return -EIO;
	return 0;
}

static char *addr_only(const char *cidr)
{
	char *s = cidr ? strdup(cidr) : NULL;

	if (s && strchr(s, '/'))
		*strchr(s, '/') = 0;
	return s;
}

static int write_identity(const struct ctm_config *c, const char *rootfs, struct err **err)
{
	_cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *v4 = addr_only(c->net.ipv4), *v6 = addr_only(c->net.ipv6);
	static const char *const files[] = { "/etc/hostname", "/etc/hosts", "/etc/resolv.conf" };

	if (rootfd < 0)
		return err_make(err, errno, "open `%s`", rootfs);
	if (sys_net_write_hostname(rootfd, c->hostname, err) < 0 ||
	    sys_net_write_hosts(rootfd, c->hostname, v4, v6, err) < 0 ||
	    (c->net.nr_nameservers &&
	     sys_net_write_resolv(rootfd, (const char *const *)c->net.nameservers,
				  c->net.nr_nameservers, err) < 0))
		return -EIO;
	for (size_t i = 0; i < 3; i++)
		if (chown_in_root(rootfd, files[i], c->uid_base, err) < 0)
			return -EIO;
	if (c->root_password && sys_set_root_password(rootfd, c->root_password, err) < 0)
		return -EIO;
	if (c->nr_ssh_keys &&
	    set_ssh_keys(rootfd, c->ssh_keys, c->nr_ssh_keys, c->uid_base, err) < 0)
		return -EIO;
	return 0;
}

/*
 * What makes a machine itself, removed so that the clone's own first boot
 * makes it anew inside the container (docs/storage.md, "Clones"): an empty
 * /etc/machine-id (systemd writes a new one at boot, as for a fresh
 * template), no /var/lib/dbus/machine-id, and no /etc/ssh/ssh_host_* (the
 * template's vps-ssh-keygen.service runs `ssh-keygen -A`). Only through
 * open_untrusted(): no link followed, nothing but a regular file written.
 */
static int forget_identity(int rootfd, struct err **err)
{
	_cleanup_close_ int etc = open_untrusted(rootfd, "/etc", O_PATH | O_DIRECTORY, 0, 0);
	_cleanup_close_ int mid =
		etc < 0 ? -1 : open_untrusted(etc, "machine-id", O_WRONLY | O_TRUNC, 0, 0);
	int mid_errno = errno;
	_cleanup_close_ int dbus =
		open_untrusted(rootfd, "/var/lib/dbus", O_PATH | O_DIRECTORY, 0, 0);
	_cleanup_close_ int ssh = open_untrusted(rootfd, "/etc/ssh", O_RDONLY | O_DIRECTORY, 0, 0);
	DIR *d;
	struct dirent *e;

	/* a link, a FIFO or a device put there instead: removed, never followed or opened */
	if (etc >= 0 && mid < 0 && mid_errno != ENOENT && unlinkat(etc, "machine-id", 0) < 0 &&
	    errno != ENOENT && errno != EISDIR)
		return err_make(err, errno, "remove `/etc/machine-id`");
	if (dbus >= 0 && unlinkat(dbus, "machine-id", 0) < 0 && errno != ENOENT && errno != EISDIR)
		return err_make(err, errno, "remove `/var/lib/dbus/machine-id`");
	if (ssh < 0)
		return 0;
	if (!(d = fdopendir(ssh)))
		return err_make(err, errno, "read `/etc/ssh`");
	ssh = -1; /* the DIR's now */
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "ssh_host_", 9) && unlinkat(dirfd(d), e->d_name, 0) < 0 &&
		    errno != EISDIR) {
			int r = err_make(err, errno, "remove `/etc/ssh/%s`", e->d_name);

			closedir(d);
			return r;
		}
	closedir(d);
	return 0;
}

/*
 * A clone's disk (create with `clone_disk`, vpsd's clone.c), copied from
 * another container's and mounted at rootfs: its files shifted from that
 * container's uid range FROM to this one's, the hostname, hosts and
 * resolv.conf written for this container, and what makes the machine itself
 * removed (forget_identity). The root password and the keys are the
 * source's, as on its disk. Files already in the new range are left as they
 * are.
 */
/* The mounted tree at rootfs, another container's files: made this one's (above). */
static int make_own(const struct ctm_config *c, const char *rootfs, uint32_t from, struct err **err)
{
	struct ctm_config id = *c;
	_cleanup_close_ int rootfd = -1;

	/* the identity files only: the password and the keys stay the source's */
	id.root_password = NULL;
	id.nr_ssh_keys = 0;
	if (shift_tree(rootfs, from, c->uid_base, c->uid_size, err) < 0 ||
	    write_identity(&id, rootfs, err) < 0)
		return -EIO;
	if ((rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return err_make(err, errno, "open `%s`", rootfs);
	return forget_identity(rootfd, err);
}

/* --- mount ---------------------------------------------------------------- */

static bool is_mounted(const char *path)
{
	struct stat a, b;
	_cleanup_free_ char *parent = NULL;

	if (stat(path, &a) < 0 || asprintf(&parent, "%s/..", path) < 0 || stat(parent, &b) < 0)
		return false;
	return a.st_dev != b.st_dev;
}

int ctm_mount(const struct ctm_config *c, struct err **err)
{
	_cleanup_free_ char *img = ctm_path(c, false, "disk.img");
	_cleanup_free_ char *rootfs = ctm_path(c, false, "rootfs");
	_cleanup_free_ char *loop = NULL;

	if (c->storage == CTM_STORAGE_LAYERED)
		return ctm_layer_mount(c, err);
	if (!img || !rootfs)
		return err_make(err, ENOMEM, "mount");
	if (is_mounted(rootfs))
		return 0;
	if (mkdir(rootfs, 0755) < 0 && errno != EEXIST)
		return err_make(err, errno, "mkdir `%s`", rootfs);
	/* a device left attached by a crash between attach and mount */
	if (sys_disk_find_loop(img, &loop, err) < 0)
		return -EIO;
	if (!loop && sys_disk_attach(img, false, &loop, err) < 0)
		return -EIO;
	if (sys_disk_mount(loop, rootfs, false, err) < 0) {
		sys_disk_detach(loop, NULL);
		return -EIO;
	}
	return 0;
}

int ctm_umount(const struct ctm_config *c, struct err **err)
{
	_cleanup_free_ char *rootfs = ctm_path(c, false, "rootfs");

	if (c->storage == CTM_STORAGE_LAYERED)
		return ctm_layer_umount(c, err);
	if (!rootfs)
		return err_make(err, ENOMEM, "umount");
	if (!is_mounted(rootfs))
		return 0;
	return sys_disk_umount(rootfs, err);
}

/*
 * Rescue mode (docs/rescue.md): the rescue system's own disk, made by a
 * vps-ctm create of its own in rescue_dir (image storage, the same uid
 * range), mounted at RESCUE_DIR/rootfs beside the container's own root.
 */
static void rescue_config(const struct ctm_config *c, struct ctm_config *rc)
{
	*rc = *c;
	rc->dir = c->rescue_dir;
	rc->storage = CTM_STORAGE_IMAGE;
	rc->rescue_dir = NULL;
}

int ctm_rescue_mount(const struct ctm_config *c, struct err **err)
{
	struct ctm_config rc;

	if (!c->rescue_dir)
		return 0;
	rescue_config(c, &rc);
	if (ctm_mount(&rc, err) < 0)
		return err_wrap(err, "rescue system `%s`", c->rescue_dir);
	return 0;
}

int ctm_rescue_umount(const struct ctm_config *c, struct err **err)
{
	struct ctm_config rc;

	if (!c->rescue_dir)
		return 0;
	rescue_config(c, &rc);
	return ctm_umount(&rc, err);
}

/* --- create / destroy ---------------------------------------------------- */

int ctm_create(const struct ctm_config *c, struct err **err)
{
	_cleanup_free_ char *img = ctm_path(c, false, "disk.img");
	_cleanup_free_ char *rootfs = ctm_path(c, false, "rootfs");
	int r;

	if (!img || !rootfs)
		return err_make(err, ENOMEM, "create");
	/* a clone's (vpsd's clone.c): another container's disk in place of the template */
	if (c->clone_disk && c->storage != CTM_STORAGE_IMAGE)
		return err_make(err, EINVAL, "create `%s`: a clone only with `image` storage",
				c->name);
	if (!c->template && !c->clone_disk)
		return err_make(err, EINVAL, "create `%s`: `template` is required", c->name);
	if (access(c->clone_disk ?: c->template, R_OK) < 0)
		return err_make(err, errno, "create `%s`: %s `%s`", c->name,
				c->clone_disk ? "clone_disk" : "template",
				c->clone_disk ?: c->template);
	/*
	 * 0710, group the container's root group: its root must reach rootfs/,
	 * and no other host user may (a set-uid file made inside would run as
	 * uid_base for whoever can reach it).
	 */
	if (mkdir(c->dir, 0710) < 0)
		return err_make(err, errno, "create `%s`: mkdir `%s`", c->name, c->dir);
	if (chown(c->dir, 0, c->uid_base) < 0 || chmod(c->dir, 0710) < 0) {
		r = err_make(err, errno, "create `%s`: chown `%s`", c->name, c->dir);
		rmdir(c->dir);
		return r;
	}
	r = sys_disk_create(img, c->disk_size, c->disk_alloc, err);
	/* as a revert puts a disk back: the copy beside it, renamed over it, its marks kept */
	if (r == 0 && c->clone_disk)
		r = sys_image_replace(c->clone_disk, img, err);
	/* layered: the template once per host, under an overlay (layer.c) */
	if (r == 0 && c->storage == CTM_STORAGE_LAYERED)
		r = ctm_layer_prepare(c, err);
	if (r == 0)
		r = ctm_mount(c, err);
	if (r == 0)
		testpoint("ctm-create-mounted", c->name);
	if (r == 0 && c->clone_disk) {
		r = make_own(c, rootfs, c->clone_uid_base, err);
	} else if (r == 0 && c->storage == CTM_STORAGE_IMAGE) {
		const char *tar[] = { "tar",	   "--numeric-owner",
				      "--xattrs",  "--xattrs-include=*",
				      "--acls",	   "-xpf",
				      c->template, "-C",
				      rootfs,	   NULL };

		r = ctm_run_cmd(tar, err);
		if (r < 0)
			err_wrap(err, "unpack `%s`", c->template);
		if (r == 0)
			r = shift_tree(rootfs, 0, c->uid_base, c->uid_size, err);
		if (r == 0)
			r = write_identity(c, rootfs, err);
	} else if (r == 0) {
		r = write_identity(c, rootfs, err);
	}
	if (r == 0)
		testpoint("ctm-create-unpacked", c->name);
	if (r == 0)
		r = ctm_umount(c, err);
	if (r < 0) {
		err_wrap(err, "create `%s`", c->name);
		ctm_umount(c, NULL);
		if (c->storage == CTM_STORAGE_LAYERED)
			ctm_layer_remove(c, NULL);
		unlink(img);
		rmdir(rootfs);
		rmdir(c->dir);
		return r;
	}
	return 0;
}

int ctm_destroy(const struct ctm_config *c, struct err **err)
{
	_cleanup_free_ char *img = ctm_path(c, false, "disk.img");
	_cleanup_free_ char *rootfs = ctm_path(c, false, "rootfs");
	_cleanup_free_ char *bundle = ctm_path(c, false, "bundle/config.json");
	_cleanup_free_ char *bdir = ctm_path(c, false, "bundle");
	_cleanup_free_ char *tun = ctm_path(c, false, "dev-net-tun");
	_cleanup_free_ char *fuse = ctm_path(c, false, "dev-fuse");

	if (!img || !rootfs || !bundle || !bdir || !tun || !fuse)
		return err_make(err, ENOMEM, "destroy");
	if (ctm_umount(c, err) < 0 ||
	    (c->storage == CTM_STORAGE_LAYERED && ctm_layer_remove(c, err) < 0))
		return err_wrap(err, "destroy `%s`", c->name);
	ctm_procfs_detach(c); /* a monitor killed with its meminfo mounted */
	if ((unlink(img) < 0 && errno != ENOENT) || (rmdir(rootfs) < 0 && errno != ENOENT) ||
	    (unlink(tun) < 0 && errno != ENOENT) || (unlink(fuse) < 0 && errno != ENOENT) ||
	    (unlink(bundle) < 0 && errno != ENOENT) || (rmdir(bdir) < 0 && errno != ENOENT) ||
	    (rmdir(c->dir) < 0 && errno != ENOENT))
		return err_make(err, errno, "destroy `%s`: remove `%s`", c->name, c->dir);
	return 0;
}
