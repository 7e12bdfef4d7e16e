// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Container disk images (disk.h): ext4 in a thin or reserved file on a loop
 * device, OpenVZ ploop-style. The filesystem work is left to e2fsprogs
 * (mkfs.ext4, e2fsck, resize2fs), run by sys_spawn() with no shell; the
 * loop device is driven by ioctl, as util-linux's losetup does, so the
 * daemon needs no losetup binary and gets errno-precise errors.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "sys/disk.h"
#include "sys/spawn.h"

/*
 * Another process may take the device LOOP_CTL_GET_FREE handed us before we
 * configure it; each retry asks for a fresh one, so this only bounds a storm.
 */
#define ATTACH_TRIES 16

/* Remembers thin or reserve on the image, so a grow extends it the same way. */
#define ALLOC_XATTR "user.vps.disk.alloc"

#define MiB ((uint64_t)1 << 20)

int sys_disk_check_size(uint64_t size, struct err **err)
{
	if (size < SYS_DISK_MIN_SIZE)
		return err_make(err, 0, "disk size %" PRIu64 " is below the minimum of %llu MiB",
				size, SYS_DISK_MIN_SIZE / MiB);
	if (size % SYS_DISK_ALIGN)
		return err_make(err, 0, "disk size %" PRIu64 " is not a whole number of MiB", size);
	/* off_t is signed: ftruncate and fallocate take no more than this. */
	if (size > (uint64_t)INT64_MAX)
		return err_make(err, 0, "disk size %" PRIu64 " is too large", size);
	return 0;
}

int sys_disk_check_grow(uint64_t old_size, uint64_t new_size, struct err **err)
{
	int ret = sys_disk_check_size(new_size, err);

	if (ret < 0)
		return ret;
	if (new_size < old_size)
		return err_make(
			err, 0,
			"cannot shrink a disk from %" PRIu64 " MiB to %" PRIu64
			" MiB: ext4 shrinks only offline and a container's data may not fit",
			old_size / MiB, new_size / MiB);
	return 0;
}

/*
 * Run an e2fsprogs tool without a shell; its output is captured so that a
 * failure carries the tool's own explanation. Returns the exit status (>= 0)
 * or -errno when it could not be run at all.
 */
static int run_tool(char *const argv[], char *out, size_t outlen, struct err **err)
{
	/* A daemon's PATH may lack the sbin directories e2fsprogs lives in. */
	const struct sys_spawn s = { .argv = argv,
				     .in = SYS_SPAWN_NULL,
				     .out = SYS_SPAWN_CAPTURE,
				     .err = SYS_SPAWN_TO_OUT,
				     .out_max = outlen - 1,
				     .flags = SYS_SPAWN_PATH | SYS_SPAWN_SBIN };
	struct sys_spawn_result r;
	int ret = sys_spawn(&s, &r, err);

	if (ret < 0)
		return ret;
	snprintf(out, outlen, "%s", r.out);
	sys_spawn_result_free(&r);
	/* One line reads better inside an error chain. */
	for (size_t i = 0, used = strlen(out); i < used; i++)
		if (out[i] == '\n')
			out[i] = (i + 1 == used) ? '\0' : ' ';
	if (r.signal)
		return err_make(err, EIO, "`%s` killed by signal %d", argv[0], r.signal);
	if (ret == 127)
		return err_make(err, ENOENT, "run `%s` (is e2fsprogs installed?)", argv[0]);
	return ret;
}

/* Run a tool that must exit 0. */
static int run_ok(char *const argv[], const char *what, struct err **err)
{
	char out[1024];
	int ret = run_tool(argv, out, sizeof(out), err);

	if (ret < 0)
		return ret;
	if (ret)
		return err_make(err, EIO, "%s: `%s` exited with status %d (%s)", what, argv[0], ret,
				out);
	return 0;
}

static int make_fs(const char *path, struct err **err)
{
	/*
	 * Lazy init and nodiscard keep mkfs from writing (or punching) every
	 * block, so it takes a moment and a thin file stays thin; the kernel's
	 * lazy init later zeroes inode tables with WRITE_ZEROES, which the loop
	 * driver turns into hole punches, so that stays thin too.
	 */
	char *argv[] = {
		"mkfs.ext4",  "-F", "-q", "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard",
		(char *)path, NULL
	};

	return run_ok(argv, "make ext4", err);
}

int sys_disk_create(const char *path, uint64_t size, enum sys_disk_alloc alloc, struct err **err)
{
	const char *mode = alloc == SYS_DISK_RESERVE ? "reserve" : "thin";
	_cleanup_close_ int fd = -1;
	int ret;

	ret = sys_disk_check_size(size, err);
	if (ret < 0)
		return err_wrap(err, "create disk `%s`", path);
	/* O_EXCL: an existing image is a container's data, never clobbered. */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_make(err, errno, "create disk `%s`", path);
	if (alloc == SYS_DISK_RESERVE) {
		if (fallocate(fd, 0, 0, (off_t)size) < 0) {
			int e = errno;

			if (e == ENOSPC) {
				struct stat st;
				uint64_t got = fstat(fd, &st) ? 0 : (uint64_t)st.st_blocks * 512;

				ret = err_make(err, e,
					       "create disk `%s`: reserve %" PRIu64
					       " MiB: the host filesystem ran out after %" PRIu64
					       " MiB",
					       path, size / MiB, got / MiB);
			} else {
				ret = err_make(err, e,
					       "create disk `%s`: fallocate %" PRIu64 " bytes",
					       path, size);
			}
			goto fail;
		}
	} else if (ftruncate(fd, (off_t)size) < 0) {
		ret = err_make(err, errno, "create disk `%s`: truncate to %" PRIu64, path, size);
		goto fail;
	}
	/* Best effort: without it (no user xattrs) grow infers the mode from usage. */
	if (fsetxattr(fd, ALLOC_XATTR, mode, strlen(mode), 0) < 0)
		pr_debug("disk `%s`: no %s xattr: %s", path, ALLOC_XATTR, strerror(errno));
	if (fsync(fd) < 0) {
		ret = err_make(err, errno, "create disk `%s`: fsync", path);
		goto fail;
	}
	ret = make_fs(path, err);
	if (ret < 0) {
		err_wrap(err, "create disk `%s`", path);
		goto fail;
	}
	return 0;
fail:
	unlink(path);
	return ret;
}

/*
 * Does O_DIRECT reading of the image work? The loop driver trusts a
 * filesystem that only claims it: an overlayfs over tmpfs takes the flag,
 * and then every read of the device fails with EIO. So it is tried.
 */
static bool direct_io_works(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	void *buf = NULL;
	bool ok;

	if (fd < 0 || posix_memalign(&buf, 4096, 4096) != 0)
		return false;
	ok = pread(fd, buf, 4096, 0) == 4096;
	free(buf);
	return ok;
}

/*
 * The block size of the ext4 filesystem in the image (1024 << s_log_block_size,
 * superblock at 1024), 0 when it is not one. The loop device is given it as its
 * logical block size: left to itself the kernel takes the image file's direct
 * I/O alignment, and XFS asks a file with shared extents (a reflink copy, a
 * snapshot's) for its block size, 4096, where a small ext4 has 1 KiB blocks
 * and then does not mount ("bad block size"). Given 1024 and a file that needs
 * 4096 for direct I/O, the kernel makes the device buffered instead.
 */
static unsigned int ext4_block_size(int fd)
{
	uint8_t sb[1024];
	uint32_t log;

	if (pread(fd, sb, sizeof(sb), 1024) != (ssize_t)sizeof(sb) ||
	    (sb[56] | sb[57] << 8) != 0xEF53)
		return 0;
	log = sb[24] | sb[25] << 8 | sb[26] << 16 | (uint32_t)sb[27] << 24;
	return log <= 2 ? 1024u << log : 0; /* 1, 2 or 4 KiB: what a loop device takes */
}

/* Configure one free loop device; -EBUSY means someone else took it first. */
static int configure_loop(int loopfd, int filefd, const char *path, const char *dev, bool readonly,
			  bool direct, struct err **err)
{
	struct loop_config cfg = { .fd = (__u32)filefd, .block_size = ext4_block_size(filefd) };
	struct loop_info64 *info = &cfg.info;

	/*
	 * Direct I/O on the image: the container's own filesystem caches its
	 * files (charged to its memory cgroup); a second copy of the same
	 * blocks in the host's cache of the image file would be memory no
	 * container is charged for. A backing filesystem without a working
	 * O_DIRECT gets a buffered device.
	 */
	info->lo_flags = (readonly ? LO_FLAGS_READ_ONLY : 0) | (direct ? LO_FLAGS_DIRECT_IO : 0);
	snprintf((char *)info->lo_file_name, sizeof(info->lo_file_name), "%s", path);
	if (ioctl(loopfd, LOOP_CONFIGURE, &cfg) == 0)
		return 0;
	if (errno == EINVAL && direct) { /* a kernel that refuses the flag itself */
		info->lo_flags &= ~LO_FLAGS_DIRECT_IO;
		if (ioctl(loopfd, LOOP_CONFIGURE, &cfg) == 0)
			return 0;
	}
	if (errno != EINVAL)
		return err_make(err, errno, "LOOP_CONFIGURE on `%s`", dev);
	/* Kernels before 5.8: the same in steps (LOOP_SET_STATUS64 cannot set direct I/O). */
	if (ioctl(loopfd, LOOP_SET_FD, filefd) < 0)
		return err_make(err, errno, "LOOP_SET_FD on `%s`", dev);
	if (ioctl(loopfd, LOOP_SET_STATUS64, info) < 0) {
		int e = errno;

		ioctl(loopfd, LOOP_CLR_FD, 0);
		return err_make(err, e, "LOOP_SET_STATUS64 on `%s`", dev);
	}
	if (direct && ioctl(loopfd, LOOP_SET_DIRECT_IO, 1UL) < 0)
		pr_debug("`%s`: direct I/O refused (%s), buffered", dev, strerror(errno));
	return 0;
}

int sys_disk_attach(const char *path, bool readonly, char **loopdev, struct err **err)
{
	_cleanup_close_ int ctl = -1, filefd = -1;
	char dev[32];
	int ret = 0;
	bool direct;

	*loopdev = NULL;
	filefd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (filefd < 0)
		return err_make(err, errno, "attach `%s`: open", path);
	direct = direct_io_works(path);
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return err_make(err, errno, "attach `%s`: open `/dev/loop-control`", path);
	/*
	 * Our attachers take turns (a lock on loop-control, dropped with the
	 * fd): a hundred containers starting at once otherwise all get the
	 * same free device and retry on each other. Other tools still race us;
	 * the retries are for them.
	 */
	while (flock(ctl, LOCK_EX) < 0 && errno == EINTR)
		;
	for (int i = 0; i < ATTACH_TRIES; i++) {
		_cleanup_close_ int loopfd = -1;
		int nr = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (nr < 0)
			return err_make(err, errno, "attach `%s`: LOOP_CTL_GET_FREE", path);
		snprintf(dev, sizeof(dev), "/dev/loop%d", nr);
		loopfd = open(dev, O_RDWR | O_CLOEXEC);
		if (loopfd < 0) {
			/* udev or devtmpfs may lag behind a freshly added device. */
			if (errno == ENOENT)
				continue;
			return err_make(err, errno, "attach `%s`: open `%s`", path, dev);
		}
		ret = configure_loop(loopfd, filefd, path, dev, readonly, direct, err);
		if (ret == -EBUSY) {
			pr_debug("attach `%s`: `%s` taken meanwhile, retrying", path, dev);
			continue;
		}
		if (ret < 0)
			return err_wrap(err, "attach `%s`", path);
		*loopdev = strdup(dev);
		if (!*loopdev) {
			ioctl(loopfd, LOOP_CLR_FD, 0);
			return err_make(err, ENOMEM, "attach `%s`", path);
		}
		return 0;
	}
	if (ret < 0)
		return err_wrap(err, "attach `%s`: gave up after %d tries", path, ATTACH_TRIES);
	return err_make(err, EBUSY, "attach `%s`: no free loop device after %d tries", path,
			ATTACH_TRIES);
}

int sys_disk_detach(const char *loopdev, struct err **err)
{
	_cleanup_close_ int fd = open(loopdev, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_make(err, errno, "detach `%s`: open", loopdev);
	/*
	 * ENXIO: nothing attached, typically because autoclear released it at
	 * umount. While mounted, the kernel arms autoclear and returns 0.
	 */
	if (ioctl(fd, LOOP_CLR_FD, 0) < 0 && errno != ENXIO)
		return err_make(err, errno, "detach `%s`: LOOP_CLR_FD", loopdev);
	return 0;
}

/* Does the loop device `dev` (open as fd) have the file `st` behind it? */
static bool loop_backs(int fd, const struct stat *st)
{
	struct loop_info64 info;

	if (ioctl(fd, LOOP_GET_STATUS64, &info) < 0)
		return false;
	return info.lo_inode == st->st_ino && info.lo_device == st->st_dev;
}

int sys_disk_find_loop(const char *path, char **loopdev, struct err **err)
{
	struct dirent *de;
	struct stat st;
	DIR *d;

	*loopdev = NULL;
	if (stat(path, &st) < 0)
		return err_make(err, errno, "find loop device of `%s`: stat", path);
	/* sysfs lists only devices that exist; /dev may hold stale nodes. */
	d = opendir("/sys/block");
	if (!d)
		return err_make(err, errno, "find loop device of `%s`: open `/sys/block`", path);
	while ((de = readdir(d))) {
		_cleanup_close_ int fd = -1;
		char dev[300];

		if (strncmp(de->d_name, "loop", 4))
			continue;
		snprintf(dev, sizeof(dev), "/dev/%s", de->d_name);
		fd = open(dev, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && loop_backs(fd, &st)) {
			*loopdev = strdup(dev);
			closedir(d);
			return *loopdev ? 0 :
					  err_make(err, ENOMEM, "find loop device of `%s`", path);
		}
	}
	closedir(d);
	return 0;
}

int sys_disk_mount(const char *loopdev, const char *target, bool readonly, struct err **err)
{
	return sys_disk_mount_flags(loopdev, target, readonly ? MS_RDONLY : 0, err);
}

int sys_disk_mount_flags(const char *loopdev, const char *target, unsigned long flags,
			 struct err **err)
{
	_cleanup_close_ int fd = -1;
	struct loop_info64 info;
	int e;

	flags |= MS_NOATIME;
	if (mount(loopdev, target, "ext4", flags, NULL) < 0)
		return err_make(err, errno, "mount `%s` on `%s`", loopdev, target);
	/*
	 * Now that the filesystem holds the device, autoclear frees it at the
	 * last umount, even if the daemon is gone by then. Arming it at attach
	 * would free the device as soon as attach closed it.
	 */
	fd = open(loopdev, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, LOOP_GET_STATUS64, &info) < 0)
		goto fail;
	info.lo_flags |= LO_FLAGS_AUTOCLEAR;
	if (ioctl(fd, LOOP_SET_STATUS64, &info) < 0)
		goto fail;
	return 0;
fail:
	e = errno;
	umount2(target, 0);
	return err_make(err, e, "mount `%s` on `%s`: set autoclear", loopdev, target);
}

int sys_disk_umount(const char *target, struct err **err)
{
	/*
	 * Busy for a moment after a crash (a killed writer's files are still
	 * being closed): wait up to a second, then detach it lazily; the loop
	 * device goes (autoclear) when the last user lets go.
	 */
	for (int i = 0; umount2(target, UMOUNT_NOFOLLOW) < 0; i++) {
		if (errno != EBUSY)
			return err_make(err, errno, "umount `%s`", target);
		if (i == 20) {
			if (umount2(target, UMOUNT_NOFOLLOW | MNT_DETACH) < 0)
				return err_make(err, errno, "umount `%s` (lazily)", target);
			break;
		}
		usleep(50000);
	}
	return 0;
}

static bool is_reserved(int fd, const struct stat *st)
{
	char mode[16];
	ssize_t n = fgetxattr(fd, ALLOC_XATTR, mode, sizeof(mode) - 1);

	if (n > 0) {
		mode[n] = '\0';
		return !strcmp(mode, "reserve");
	}
	/* No record: a file with every block allocated is treated as reserved. */
	return (uint64_t)st->st_blocks * 512 >= (uint64_t)st->st_size;
}

/* Extend the image file; on failure it is cut back to its old size. */
static int extend_file(int fd, const char *path, const struct stat *st, uint64_t new_size,
		       struct err **err)
{
	uint64_t old = (uint64_t)st->st_size;

	if (is_reserved(fd, st)) {
		if (fallocate(fd, 0, (off_t)old, (off_t)(new_size - old)) == 0)
			return 0;
		int e = errno;

		/* Give back whatever part of the tail was allocated. */
		if (ftruncate(fd, (off_t)old) < 0)
			pr_warn("grow `%s`: cut back to %" PRIu64 ": %s", path, old,
				strerror(errno));
		return err_make(err, e, "reserve %" PRIu64 " MiB more", (new_size - old) / MiB);
	}
	if (ftruncate(fd, (off_t)new_size) < 0)
		return err_make(err, errno, "truncate to %" PRIu64, new_size);
	return 0;
}

/*
 * Check that `loopdev` is the device behind the image (`st`) and whether a
 * filesystem is mounted from it: a mounted one holds it exclusively.
 */
static int loop_check(const char *loopdev, const struct stat *st, bool *mounted, struct err **err)
{
	_cleanup_close_ int fd = open(loopdev, O_RDONLY | O_CLOEXEC);
	int excl;

	if (fd < 0)
		return err_make(err, errno, "open `%s`", loopdev);
	if (!loop_backs(fd, st))
		return err_make(err, ENXIO, "`%s` is not attached to this image", loopdev);
	excl = open(loopdev, O_RDONLY | O_EXCL | O_CLOEXEC);
	*mounted = excl < 0 && errno == EBUSY;
	if (excl >= 0)
		close(excl);
	return 0;
}

static int loop_set_capacity(const char *loopdev, struct err **err)
{
	_cleanup_close_ int fd = open(loopdev, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_make(err, errno, "open `%s`", loopdev);
	if (ioctl(fd, LOOP_SET_CAPACITY, 0) < 0)
		return err_make(err, errno, "LOOP_SET_CAPACITY on `%s`", loopdev);
	return 0;
}

/*
 * ext4's online resize (EXT4_IOC_RESIZE_FS) is refused without it. Asked
 * of the kernel directly: one bit is not worth libcap in every program.
 */
static bool can_resize_online(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };

	if (syscall(SYS_capget, &hdr, data) < 0)
		return false;
	return data[CAP_TO_INDEX(CAP_SYS_RESOURCE)].effective & CAP_TO_MASK(CAP_SYS_RESOURCE);
}

/* Offline resize2fs insists on a freshly checked filesystem. */
static int fsck(const char *target, struct err **err)
{
	char *argv[] = { "e2fsck", "-f", "-p", (char *)target, NULL };
	char out[1024];
	int ret = run_tool(argv, out, sizeof(out), err);

	if (ret < 0)
		return ret;
	/* 1: errors corrected; anything above needs a human. */
	if (ret > 1)
		return err_make(err, EIO, "`e2fsck` on `%s` exited with %d (%s)", target, ret, out);
	return 0;
}

int sys_disk_grow(const char *path, const char *loopdev, uint64_t new_size, struct err **err)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
	_cleanup_free_ char *other = NULL;
	const char *target = loopdev ? loopdev : path;
	bool mounted = false;
	struct stat st;
	int ret;

	if (fd < 0)
		return err_make(err, errno, "grow `%s`: open", path);
	if (fstat(fd, &st) < 0)
		return err_make(err, errno, "grow `%s`: stat", path);
	ret = sys_disk_check_grow((uint64_t)st.st_size, new_size, err);
	if (ret < 0)
		return err_wrap(err, "grow `%s`", path);
	/* Everything that can refuse is checked before the file changes. */
	if (loopdev) {
		ret = loop_check(loopdev, &st, &mounted, err);
		if (ret < 0)
			return err_wrap(err, "grow `%s`", path);
		if (mounted && !can_resize_online())
			return err_make(err, EPERM,
					"grow `%s`: online resize of the ext4 on `%s` needs "
					"CAP_SYS_RESOURCE, which this process lacks",
					path, loopdev);
	} else {
		/* Resizing under an attached device would corrupt its filesystem. */
		ret = sys_disk_find_loop(path, &other, err);
		if (ret < 0)
			return err_wrap(err, "grow `%s`", path);
		if (other)
			return err_make(err, EBUSY, "grow `%s`: attached to `%s`, grow through it",
					path, other);
	}
	/*
	 * An equal size still runs resize2fs: a grow whose resize failed left
	 * the file long already, and repeating it finishes the job.
	 */
	if ((uint64_t)st.st_size < new_size) {
		ret = extend_file(fd, path, &st, new_size, err);
		if (ret < 0)
			return err_wrap(err, "grow `%s`", path);
	}
	if (loopdev) {
		ret = loop_set_capacity(loopdev, err);
		if (ret < 0)
			return err_wrap(err, "grow `%s`", path);
	}
	if (!mounted) {
		ret = fsck(target, err);
		if (ret < 0)
			return err_wrap(err, "grow `%s`", path);
	}
	char *resize[] = { "resize2fs", (char *)target, NULL };

	ret = run_ok(resize, "resize ext4", err);
	if (ret < 0)
		return err_wrap(err, "grow `%s` via `%s`", path, target);
	return 0;
}

int sys_disk_usage(const char *path, uint64_t *apparent, uint64_t *allocated, struct err **err)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return err_make(err, errno, "usage of `%s`: stat", path);
	*apparent = (uint64_t)st.st_size;
	*allocated = (uint64_t)st.st_blocks * 512;
	return 0;
}
