// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A VM's disk images, for the `vm` kind (kind_vm.c): the sparse copy of a
 * template's rootfs.img, the swap disk, and the cloud-init NoCloud seed
 * that carries the VPS's identity (hostname, root password hash, SSH keys,
 * nameservers) to the guest: an ISO 9660 image labelled cidata, built here
 * in user space with xorriso and attached read-only. The host never mounts,
 * parses or writes the guest's own filesystem: the customer is root in it
 * (docs/security.md, "VM first-boot configuration").
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "common/cleanup.h"
#include "common/testpoint.h"
#include "common/util.h"
#include "host/vmdisk.h"
#include "sys/passwd.h"
#include "sys/spawn.h"

/* Run argv (from PATH) with stdin/stdout on /dev/null, umask 077; stderr's last line for the error. */
static int run_quiet(const char *const *argv, struct err **err)
{
	const struct sys_spawn s = { .argv = (char *const *)argv,
				     .in = SYS_SPAWN_NULL,
				     .out = SYS_SPAWN_NULL,
				     .err = SYS_SPAWN_CAPTURE,
				     .flags = SYS_SPAWN_PATH | SYS_SPAWN_UMASK_077 };

	return sys_run(&s, NULL, err);
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

/* --- the NoCloud seed ------------------------------------------------------ */

/*
 * The seed's user-data: #cloud-config, then one JSON document (YAML 1.1
 * reads JSON, and jansson's escaping leaves no quoting to get wrong with a
 * hostname or a key the customer chose). Caller frees.
 */
static char *user_data(const struct vps *v, const char *hash, const char *resolv)
{
	const char *name = v->hostname && *v->hostname ? v->hostname : v->name;
	json_t *keys = json_array(), *j;
	char *body, *text = NULL;

	for (unsigned int i = 0; keys && i < v->nr_ssh_keys; i++)
		json_array_append_new(keys, json_string(v->ssh_keys[i]));
	/* ssh_pwauth is not set: sshd keeps Debian's default (root by key only) */
	j = json_pack("{s:s, s:s, s:b, s:o}", "hostname", name, "fqdn", name, "manage_etc_hosts", 1,
		      "ssh_authorized_keys", keys);
	if (j && hash) /* NULL: root's password stays as the template has it (none) */
		json_object_set_new(j, "chpasswd",
				    json_pack("{s:b, s:[{s:s, s:s, s:s}]}", "expire", 0, "users",
					      "name", "root", "password", hash, "type", "hash"));
	if (j && resolv)
		json_object_set_new(j, "write_files",
				    json_pack("[{s:s, s:s, s:s, s:s}]", "path", "/etc/resolv.conf",
					      "content", resolv, "owner", "root:root",
					      "permissions", "0644"));
	body = j ? json_dumps(j, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	if (body && asprintf(&text, "#cloud-config\n%s\n", body) < 0)
		text = NULL;
	free(body);
	return text;
}

/* meta-data: the instance-id is a digest of user-data, so a new one is a new instance. */
static char *meta_data(const struct vps *v, const char *ud)
{
	const char *name = v->hostname && *v->hostname ? v->hostname : v->name;
	unsigned char d[crypto_hash_sha256_BYTES];
	char id[4 + 16 + 1] = "vps-", *text;
	json_t *j;

	crypto_hash_sha256(d, (const unsigned char *)ud, strlen(ud));
	for (int i = 0; i < 8; i++)
		snprintf(id + 4 + 2 * i, 3, "%02x", d[i]);
	j = json_pack("{s:s, s:s}", "instance-id", id, "local-hostname", name);
	text = j ? json_dumps(j, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	return text;
}

static int put(int dirfd, const char *leaf, const char *text, struct err **err)
{
	_cleanup_close_ int fd =
		openat(dirfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0 || write_all(fd, text, strlen(text)) < 0)
		return err_make(err, errno, "write the seed's `%s`", leaf);
	return 0;
}

/* Remove DIR/.seed, where a seed is staged (left by a crash, or after a build). */
static void unstage(const char *dir)
{
	_cleanup_free_ char *stage = NULL;
	_cleanup_close_ int fd = -1;

	if (asprintf(&stage, "%s/.seed", dir) < 0)
		return;
	fd = open(stage, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		for (const char *const *f = (const char *const[]){ "user-data", "meta-data", NULL };
		     *f; f++)
			unlinkat(fd, *f, 0);
	rmdir(stage);
}

int vmdisk_seed(const char *dir, const struct vps *v, const char *password, const char *resolv,
		struct err **err)
{
	_cleanup_free_ char *hash = NULL, *ud = NULL, *md = NULL;
	_cleanup_free_ char *stage = NULL, *tmp = NULL, *iso = NULL;
	_cleanup_close_ int sfd = -1, ifd = -1;
	int r;

	if (password && (r = sys_hash_password(password, &hash, err)) < 0)
		return r;
	if (!(ud = user_data(v, hash, resolv)) || !(md = meta_data(v, ud)) ||
	    asprintf(&stage, "%s/.seed", dir) < 0 || asprintf(&tmp, "%s/seed.iso.tmp", dir) < 0 ||
	    asprintf(&iso, "%s/seed.iso", dir) < 0)
		return err_make(err, ENOMEM, "seed");
	unstage(dir);
	unlink(tmp);
	if (mkdir(stage, 0700) < 0 ||
	    (sfd = open(stage, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return err_make(err, errno, "mkdir `%s`", stage);
	r = put(sfd, "user-data", ud, err);
	if (r == 0)
		r = put(sfd, "meta-data", md, err);
	if (r == 0)
		testpoint("vm-seed-staged", v->name);
	if (r == 0) {
		/* ISO 9660 + Joliet + Rock Ridge, volume id cidata: what NoCloud looks for */
		const char *argv[] = { "xorriso", "-as", "mkisofs", "-quiet", "-V",  "cidata",
				       "-J",	  "-r",	 "-o",	    tmp,      stage, NULL };

		r = run_quiet(argv, err);
		if (r < 0)
			err_wrap(err, "seed `%s`", iso);
	}
	explicit_bzero(ud, strlen(ud));
	unstage(dir);
	if (r == 0 && ((ifd = open(tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
		       fchmod(ifd, 0600) < 0 || fsync(ifd) < 0 || rename(tmp, iso) < 0))
		r = err_make(err, errno, "write `%s`", iso);
	if (r < 0)
		unlink(tmp);
	return r;
}

void vmdisk_seed_remove(const char *dir)
{
	static const char *const leaves[] = { "seed.iso", "seed.iso.tmp", NULL };

	unstage(dir);
	for (size_t i = 0; leaves[i]; i++) {
		_cleanup_free_ char *p = NULL;

		if (asprintf(&p, "%s/%s", dir, leaves[i]) >= 0)
			unlink(p);
	}
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
