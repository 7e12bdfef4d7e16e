// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A VM's disk images, for the `vm` kind (kind_vm.c): the sparse copy of a
 * template's rootfs.img, the VPS's identity (hostname, root password, SSH
 * keys) written into the copy through a loop mount, and the swap disk.
 * Files inside the guest's filesystem are opened with open_untrusted()
 * (common/util.h): no symlink followed, regular files only, so neither a
 * hostile link nor a device node in a disk can point the writes at the host.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/testpoint.h"
#include "common/util.h"
#include "ct/disk.h"
#include "ct/passwd.h"
#include "host/vmdisk.h"

/* Run argv (execvp) with stdin/stdout on /dev/null and stderr captured. */
static int run_quiet(const char *const *argv, struct err **err)
{
	int p[2], st;
	char buf[512];
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return err_make(err, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return err_make(err, errno, "fork");
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		dup2(nul, 0);
		dup2(nul, 1);
		dup2(p[1], 2);
		execvp(argv[0], (char *const *)argv);
		dprintf(2, "exec: %s", strerror(errno));
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0 && len < sizeof(buf) - 1)
		len += n;
	close(p[0]);
	buf[len] = 0;
	if (strchr(buf, '\n'))
		*strchr(buf, '\n') = 0;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return err_make(err, errno, "wait for `%s`", argv[0]);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return err_make(err, EIO, "`%s` failed (status %d)%s%s", argv[0],
				WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
				*buf ? ": " : "", buf);
	return 0;
}

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
int vmdisk_copy(const char *src, const char *dst, struct err **err)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = -1;
	struct stat st;
	off_t pos = 0;

	if (in < 0 || fstat(in, &st) < 0)
		return err_make(err, errno, "open `%s`", src);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return err_make(err, errno, "create `%s`", dst);
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
	err_make(err, errno, "copy `%s` to `%s`", src, dst);
	unlink(dst);
	return -EIO;
}

/* --- files inside the guest's disk -------------------------------------- */

/* The guest's own files: no link followed, regular files only (a device node is never opened). */
static int open_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
	return open_untrusted(rootfd, path, flags, mode, 0);
}

static int put_file(int rootfd, const char *path, const char *text, mode_t mode, struct err **err)
{
	_cleanup_close_ int fd = open_in_root(rootfd, path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0)
		return err_make(err, errno, "open `%s` in the disk", path);
	if (write_all(fd, text, strlen(text)) < 0 || fchmod(fd, mode) < 0 || fchown(fd, 0, 0) < 0 ||
	    fsync(fd) < 0)
		return err_make(err, errno, "write `%s` in the disk", path);
	return 0;
}

/* Replace root's password field in /etc/shadow with a SHA-512 crypt hash. */
static int set_ssh_keys(int rootfd, const struct vps *v, struct err **err)
{
	_cleanup_close_ int root = open_in_root(rootfd, "/root", O_PATH | O_DIRECTORY, 0);
	_cleanup_close_ int fd = -1;

	if (root < 0)
		return err_make(err, errno, "open `/root` in the disk");
	if (mkdirat(root, ".ssh", 0700) < 0 && errno != EEXIST)
		return err_make(err, errno, "mkdir `/root/.ssh`");
	fd = open_in_root(rootfd, "/root/.ssh/authorized_keys", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return err_make(err, errno, "open `/root/.ssh/authorized_keys`");
	for (unsigned int i = 0; i < v->nr_ssh_keys; i++)
		if (write_all(fd, v->ssh_keys[i], strlen(v->ssh_keys[i])) < 0 ||
		    write_all(fd, "\n", 1) < 0)
			return err_make(err, errno, "write `/root/.ssh/authorized_keys`");
	if (fchmod(fd, 0600) < 0 || fsync(fd) < 0)
		return err_make(err, errno, "write `/root/.ssh/authorized_keys`");
	return 0;
}

/* /etc/resolv.conf, replacing a symlink there (to a resolver the template may not run). */
static int set_resolv(int rootfd, const char *text, struct err **err)
{
	_cleanup_close_ int etc = open_in_root(rootfd, "/etc", O_PATH | O_DIRECTORY, 0);
	struct stat st;

	if (etc < 0)
		return err_make(err, errno, "open `/etc` in the disk");
	if (fstatat(etc, "resolv.conf", &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode) &&
	    unlinkat(etc, "resolv.conf", 0) < 0)
		return err_make(err, errno, "remove `/etc/resolv.conf` in the disk");
	return put_file(rootfd, "/etc/resolv.conf", text, 0644, err);
}

/* The VPS's identity, written into its mounted root. */
static int inject(const char *root, const struct vps *v, const char *password, const char *resolv,
		  struct err **err)
{
	_cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *hosts = NULL, *hn = NULL;
	const char *name = v->hostname && *v->hostname ? v->hostname : v->name;

	if (rootfd < 0)
		return err_make(err, errno, "open `%s`", root);
	if (asprintf(&hn, "%s\n", name) < 0 ||
	    asprintf(&hosts,
		     "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n"
		     "::1\t\tlocalhost ip6-localhost ip6-loopback\n",
		     name) < 0)
		return err_make(err, ENOMEM, "hostname");
	if (put_file(rootfd, "/etc/hostname", hn, 0644, err) < 0 ||
	    put_file(rootfd, "/etc/hosts", hosts, 0644, err) < 0)
		return -EIO;
	if (password && ct_set_root_password(rootfd, password, err) < 0)
		return -EIO;
	if (v->nr_ssh_keys && set_ssh_keys(rootfd, v, err) < 0)
		return -EIO;
	if (resolv && set_resolv(rootfd, resolv, err) < 0)
		return -EIO;
	return 0;
}

int vmdisk_inject(const char *img, const char *mnt, const struct vps *v, const char *password,
		  const char *resolv, struct err **err)
{
	_cleanup_free_ char *loop = NULL;
	int r;

	if (mkdir(mnt, 0700) < 0)
		return err_make(err, errno, "mkdir `%s`", mnt);
	r = ct_disk_attach(img, false, &loop, err);
	if (r == 0) {
		r = ct_disk_mount(loop, mnt, false, err);
		if (r < 0)
			ct_disk_detach(loop, NULL);
	}
	if (r == 0) {
		r = inject(mnt, v, password, resolv, err);
		testpoint("vm-disk-mounted", v->name);
		/* autoclear (armed by ct_disk_mount) frees the loop device */
		if (ct_disk_umount(mnt, r < 0 ? NULL : err) < 0 && r == 0)
			r = -EIO;
	}
	rmdir(mnt);
	return r;
}

/* A sparse swap disk of `size` bytes, labelled for vps-swap.service. */
int vmdisk_swap(const char *path, uint64_t size, struct err **err)
{
	const char *argv[] = { "mkswap", "-q", "-L", "vps-swap", path, NULL };
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return err_make(err, errno, "create `%s`", path);
	if (run_quiet(argv, err) < 0)
		return err_wrap(err, "swap disk");
	return 0;
}
