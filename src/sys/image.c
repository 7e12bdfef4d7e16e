// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Image files (image.h): a sparse copy of an image and a swap image. The
 * copy keeps holes: a reflink where the filesystem shares blocks, else only
 * the data extents, else (across filesystems) by hand, zero blocks skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sys/image.h"
#include "sys/spawn.h"

/* Up to `len` bytes at `off` from in to out with read and write; zero blocks stay holes. */
static ssize_t copy_chunk(int in, int out, off_t off, off_t len)
{
	static const char zero[4096];
	_cleanup_free_ char *buf = malloc(1 << 20);
	ssize_t n;

	if (!buf)
		return errno = ENOMEM, -1;
	n = pread(in, buf, len < (1 << 20) ? (size_t)len : (1 << 20), off);
	if (n <= 0)
		return n;
	for (ssize_t b = 0; b < n; b += sizeof(zero)) {
		size_t k = (size_t)(n - b) < sizeof(zero) ? (size_t)(n - b) : sizeof(zero);

		if (memcmp(buf + b, zero, k) && pwrite(out, buf + b, k, off + b) != (ssize_t)k)
			return -1;
	}
	return n;
}

/*
 * Copy src to a new file dst (0600): a reflink where the filesystem shares
 * blocks, else data extents only (SEEK_DATA/SEEK_HOLE), so holes stay holes.
 */
int sys_image_copy(const char *src, const char *dst, struct err **err)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = -1;

	if (in < 0)
		return err_make(err, errno, "open `%s`", src);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return err_make(err, errno, "create `%s`", dst);
	return sys_image_copy_fd(in, out, src, dst, err);
}

int sys_image_copy_fd(int in, int out, const char *src, const char *dst, struct err **err)
{
	struct stat st;
	off_t pos = 0;
	int e;

	if (fstat(in, &st) < 0)
		return err_make(err, errno, "stat `%s`", src);
	if (ioctl(out, FICLONE, in) == 0)
		return 0;
	while (pos < st.st_size) {
		off_t data = lseek(in, pos, SEEK_DATA), hole;

		if (data < 0 && errno == ENXIO)
			break; /* only a hole left */
		if (data < 0)
			goto fail;
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			goto fail;
		for (off_t o = data; o < hole;) {
			loff_t ri = o, wo = o;
			ssize_t n = copy_file_range(in, &ri, out, &wo, hole - o, 0);

			/* across filesystems (a template on 9p under an overlay): by hand */
			if (n < 0 && (errno == EXDEV || errno == EOPNOTSUPP || errno == ENOSYS ||
				      errno == EINVAL))
				n = copy_chunk(in, out, o, hole - o);
			if (n <= 0) {
				if (n == 0)
					errno = EIO;
				goto fail;
			}
			o += n;
		}
		pos = hole;
	}
	if (ftruncate(out, st.st_size) < 0)
		goto fail;
	return 0;
fail:
	e = errno;
	/* the reason in the message: `no room` is what a full pool says */
	err_make(err, e, "copy `%s` to `%s`: %s", src, dst, strerror(e));
	unlink(dst);
	return -EIO;
}

/* dst's user.* extended attributes onto tmp (a thin or reserve mark: docs/ct-disk.md). */
static int copy_user_xattrs(const char *dst, const char *tmp)
{
	char names[1024], val[256];
	ssize_t n = listxattr(dst, names, sizeof(names));

	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1) {
		ssize_t k;

		if (strncmp(names + i, "user.", 5))
			continue;
		k = getxattr(dst, names + i, val, sizeof(val));
		if (k >= 0 && setxattr(tmp, names + i, val, (size_t)k, 0) < 0)
			return -errno;
	}
	return 0;
}

int sys_image_replace(const char *src, const char *dst, struct err **err)
{
	_cleanup_free_ char *tmp = NULL;
	struct stat st;
	int r;

	if (asprintf(&tmp, "%s.new", dst) < 0)
		return err_make(err, ENOMEM, "replace `%s`", dst);
	unlink(tmp);
	if (sys_image_copy(src, tmp, err) < 0 || sys_image_sync(tmp, err) < 0)
		return -EIO;
	if (stat(dst, &st) == 0 &&
	    (chown(tmp, st.st_uid, st.st_gid) < 0 || chmod(tmp, st.st_mode & 07777) < 0 ||
	     copy_user_xattrs(dst, tmp) < 0)) {
		r = err_make(err, errno, "give `%s` the owner, mode and marks of `%s`", tmp, dst);
		unlink(tmp);
		return r;
	}
	if (rename(tmp, dst) < 0) {
		r = err_make(err, errno, "rename `%s` to `%s`", tmp, dst);
		unlink(tmp);
		return r;
	}
	return 0;
}

int sys_image_sync(const char *path, struct err **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return err_make(err, errno, "sync `%s`", path);
	return 0;
}

int sys_image_swap(const char *path, uint64_t size, const char *label, struct err **err)
{
	const char *argv[] = { "mkswap", "-q", "-L", label, path, NULL };
	const struct sys_spawn s = { .argv = (char *const *)argv,
				     .in = SYS_SPAWN_NULL,
				     .out = SYS_SPAWN_NULL,
				     .err = SYS_SPAWN_CAPTURE,
				     .flags = SYS_SPAWN_PATH | SYS_SPAWN_UMASK_077 };
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return err_make(err, errno, "create `%s`", path);
	if (sys_run(&s, NULL, err) < 0)
		return err_wrap(err, "swap disk");
	return 0;
}
