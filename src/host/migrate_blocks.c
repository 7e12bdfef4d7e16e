// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A live move's disk blocks (migrate_blocks.h, docs/cluster.md "A running VM on
 * vps-vmm"): the ranges a disk's dirty-block log took, written by the source
 * into a file it sends, read by the destination into the images that came
 * before. The format is ours, little-endian:
 *
 *   "VPSBLKS1"
 *   per range: 0x01, leaf length (1 byte, 1..MIGRATE_BLOCKS_LEAF), the leaf
 *              (an image's name in the VPS's directory), offset (8), length
 *              (8, 1..MIGRATE_BLOCKS_RANGE), then that many bytes
 *   0x00, and the file ends there.
 *
 * The reader believes nothing: it checks the whole file (every leaf one the
 * caller allows, every range inside the image as it is, never growing it,
 * the end where it must be) before it writes a byte, so a bad file changes
 * nothing.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "host/migrate_blocks.h"

#define MAGIC "VPSBLKS1"
#define MAGIC_LEN 8
#define BUF (1u << 20)

struct range_hdr {
	uint8_t leaf_len;
	char leaf[MIGRATE_BLOCKS_LEAF + 1];
	uint64_t off, len;
};

int migrate_blocks_begin(int out, struct err **err)
{
	return write_all(out, MAGIC, MAGIC_LEN) < 0 ? err_make(err, errno, "write the blocks") : 0;
}

int migrate_blocks_range(int out, const char *leaf, int img, uint64_t off, uint64_t len,
			 struct err **err)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t l = strlen(leaf);
	uint8_t hdr[2 + MIGRATE_BLOCKS_LEAF + 16];
	uint64_t v;

	if (!l || l > MIGRATE_BLOCKS_LEAF)
		return err_make(err, EINVAL, "blocks: the image name `%s`", leaf);
	while (len) { /* a long range goes as several */
		uint64_t n = len < MIGRATE_BLOCKS_RANGE ? len : MIGRATE_BLOCKS_RANGE;

		hdr[0] = 1;
		hdr[1] = (uint8_t)l;
		memcpy(hdr + 2, leaf, l);
		v = htole64(off);
		memcpy(hdr + 2 + l, &v, 8);
		v = htole64(n);
		memcpy(hdr + 10 + l, &v, 8);
		if (write_all(out, hdr, 18 + l) < 0)
			return err_make(err, errno, "write the blocks");
		if (!buf && !(buf = malloc(BUF)))
			return err_make(err, ENOMEM, "blocks");
		for (uint64_t done = 0; done < n;) {
			size_t want = n - done < BUF ? (size_t)(n - done) : BUF;
			ssize_t got = pread(img, buf, want, (off_t)(off + done));

			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) /* the image is as long as the VM's disk: no end within it */
				return err_make(err, got < 0 ? errno : EIO, "read `%s` at %llu",
						leaf, (unsigned long long)(off + done));
			if (write_all(out, buf, (size_t)got) < 0)
				return err_make(err, errno, "write the blocks");
			done += (uint64_t)got;
		}
		off += n;
		len -= n;
	}
	return 0;
}

int migrate_blocks_end(int out, struct err **err)
{
	return write_all(out, "", 1) < 0 ? err_make(err, errno, "write the blocks") : 0;
}

static int read_exact(int fd, void *buf, size_t len, uint64_t *pos)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(*pos + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	*pos += len;
	return 0;
}

static bool leaf_allowed(const char *leaf, const char *const *allow)
{
	for (; *allow; allow++)
		if (!strcmp(leaf, *allow))
			return true;
	return false;
}

/* The next range's header at *pos (0: the end record, 1: a range, < 0: bad). */
static int next_range(int in, uint64_t *pos, struct range_hdr *r, struct err **err)
{
	uint8_t kind;
	uint64_t v;

	if (read_exact(in, &kind, 1, pos) < 0)
		return err_make(err, EBADMSG, "blocks: the file ends before its end record");
	if (kind == 0)
		return 0;
	if (kind != 1 || read_exact(in, &r->leaf_len, 1, pos) < 0 || !r->leaf_len ||
	    r->leaf_len > MIGRATE_BLOCKS_LEAF || read_exact(in, r->leaf, r->leaf_len, pos) < 0)
		return err_make(err, EBADMSG, "blocks: a bad range record at byte %llu",
				(unsigned long long)*pos);
	r->leaf[r->leaf_len] = 0;
	if (read_exact(in, &v, 8, pos) < 0)
		return err_make(err, EBADMSG, "blocks: a range cut short");
	r->off = le64toh(v);
	if (read_exact(in, &v, 8, pos) < 0)
		return err_make(err, EBADMSG, "blocks: a range cut short");
	r->len = le64toh(v);
	if (strlen(r->leaf) != r->leaf_len)
		return err_make(err, EBADMSG, "blocks: an image name with a NUL in it");
	return 1;
}

/* The image `leaf` in dirfd, opened to write: a plain file, no link followed. */
static int open_image(int dirfd, const char *leaf, struct stat *st, struct err **err)
{
	int fd = openat(dirfd, leaf, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0 && (errno == ELOOP || errno == ENOENT))
		return err_make(err, EBADMSG, "blocks: `%s` %s", leaf,
				errno == ELOOP ? "is a link, not an image file" : "is not here");
	if (fd < 0)
		return err_make(err, errno, "blocks: image `%s`: %s", leaf, strerror(errno));
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return err_make(err, EBADMSG, "blocks: `%s` is not an image file", leaf);
	}
	return fd;
}

int migrate_blocks_apply(int dirfd, int in, const char *const *allow, unsigned long long *bytes,
			 unsigned int *ranges, struct err **err)
{
	_cleanup_free_ uint8_t *buf = NULL;
	char magic[MAGIC_LEN];
	struct range_hdr r;
	struct stat st;
	uint64_t pos = 0, end;
	char open_leaf[MIGRATE_BLOCKS_FILES][MIGRATE_BLOCKS_LEAF + 1];
	int open_fd[MIGRATE_BLOCKS_FILES];
	unsigned int n_open = 0;
	int k, fd;

	*bytes = 0;
	*ranges = 0;
	if (fstat(in, &st) < 0)
		return err_make(err, errno, "blocks");
	end = (uint64_t)st.st_size;
	if (read_exact(in, magic, MAGIC_LEN, &pos) < 0 || memcmp(magic, MAGIC, MAGIC_LEN))
		return err_make(err, EBADMSG, "blocks: not a blocks file");
	/* the whole file first: nothing is written unless all of it holds */
	while ((k = next_range(in, &pos, &r, err)) == 1) {
		if (!leaf_allowed(r.leaf, allow))
			return err_make(err, EBADMSG,
					"blocks: `%s` is not a disk image of this VPS", r.leaf);
		if (!r.len || r.len > MIGRATE_BLOCKS_RANGE || r.len > end - pos)
			return err_make(err, EBADMSG, "blocks: a range of %llu bytes at %llu",
					(unsigned long long)r.len, (unsigned long long)pos);
		if ((fd = open_image(dirfd, r.leaf, &st, err)) < 0)
			return fd;
		close(fd);
		if (r.off > (uint64_t)st.st_size || r.len > (uint64_t)st.st_size - r.off)
			return err_make(
				err, EBADMSG,
				"blocks: %llu bytes at %llu are past the end of `%s` (%llu)",
				(unsigned long long)r.len, (unsigned long long)r.off, r.leaf,
				(unsigned long long)st.st_size);
		pos += r.len;
	}
	if (k < 0)
		return k;
	if (pos != end)
		return err_make(err, EBADMSG, "blocks: %llu bytes after the end record",
				(unsigned long long)(end - pos));
	if (!(buf = malloc(BUF)))
		return err_make(err, ENOMEM, "blocks");
	pos = MAGIC_LEN;
	while ((k = next_range(in, &pos, &r, err)) == 1) {
		unsigned int i;

		for (i = 0; i < n_open && strcmp(open_leaf[i], r.leaf); i++)
			;
		if (i == n_open) { /* checked above: one of the few names allowed */
			if (n_open == MIGRATE_BLOCKS_FILES) {
				k = err_make(err, EBADMSG, "blocks: more than %d images",
					     MIGRATE_BLOCKS_FILES);
				break;
			}
			if ((open_fd[i] = open_image(dirfd, r.leaf, &st, err)) < 0) {
				k = open_fd[i];
				break;
			}
			snprintf(open_leaf[i], sizeof(open_leaf[i]), "%s", r.leaf);
			n_open++;
		}
		for (uint64_t done = 0; k == 1 && done < r.len;) {
			size_t n = r.len - done < BUF ? (size_t)(r.len - done) : BUF;

			if (read_exact(in, buf, n, &pos) < 0 ||
			    pwrite(open_fd[i], buf, n, (off_t)(r.off + done)) != (ssize_t)n)
				k = err_make(err, errno ? errno : EIO, "blocks: write `%s`",
					     r.leaf);
			done += n;
		}
		if (k < 0)
			break;
		*bytes += r.len;
		(*ranges)++;
	}
	for (unsigned int i = 0; i < n_open; i++) {
		if (k == 0 && fdatasync(open_fd[i]) < 0)
			k = err_make(err, errno, "blocks: sync `%s`", open_leaf[i]);
		close(open_fd[i]);
	}
	return k;
}
