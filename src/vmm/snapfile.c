// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The snapshot state file: see snapshot.h. Little-endian throughout (the
 * monitor is x86-only); the header and section headers are built byte by
 * byte rather than as C structs so the layout is the documented one.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/snapshot.h"

#define SNAP_HDR_LEN 32
#define SNAP_SEC_HDR_LEN 16
#define SNAP_MAX_SECTIONS 4096

uint32_t snap_crc32(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t c = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < len; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

void snap_w_init(struct snap_w *w)
{
	memset(w, 0, sizeof(*w));
	w->len = SNAP_HDR_LEN; /* the header is filled in at the end */
}

static int reserve(struct snap_w *w, size_t more)
{
	size_t cap = w->cap ? w->cap : 65536;
	uint8_t *n;

	if (w->err)
		return w->err;
	if (more > SNAP_MAX_STATE || w->len + more > SNAP_MAX_STATE)
		return w->err = -EFBIG;
	while (cap < w->len + more)
		cap *= 2;
	if (cap == w->cap)
		return 0;
	n = realloc(w->buf, cap);
	if (!n)
		return w->err = -ENOMEM;
	memset(n + w->cap, 0, cap - w->cap);
	w->buf = n;
	w->cap = cap;
	return 0;
}

void snap_put(struct snap_w *w, uint32_t tag, uint32_t id, const void *data, size_t len)
{
	size_t padded = (len + 7) & ~(size_t)7;
	uint8_t *p;

	if (reserve(w, SNAP_SEC_HDR_LEN + padded) < 0)
		return;
	p = w->buf + w->len;
	put32(p, tag);
	put32(p + 4, id);
	put32(p + 8, (uint32_t)len);
	put32(p + 12, 0);
	memcpy(p + SNAP_SEC_HDR_LEN, data, len);
	memset(p + SNAP_SEC_HDR_LEN + len, 0, padded - len);
	w->len += SNAP_SEC_HDR_LEN + padded;
	w->nr++;
}

int snap_w_finish(struct snap_w *w)
{
	if (reserve(w, 0) < 0)
		return w->err;
	if (!w->buf && reserve(w, 1) < 0)
		return w->err;
	memcpy(w->buf, SNAP_MAGIC, 8);
	put32(w->buf + 8, SNAP_VERSION);
	put32(w->buf + 12, w->nr);
	put64(w->buf + 16, w->len - SNAP_HDR_LEN);
	put32(w->buf + 24, snap_crc32(w->buf + SNAP_HDR_LEN, w->len - SNAP_HDR_LEN));
	put32(w->buf + 28, 0);
	return 0;
}

int snap_w_write(struct snap_w *w, int fd)
{
	size_t off = 0;

	if (snap_w_finish(w) < 0)
		return w->err;
	while (off < w->len) {
		ssize_t n = write(fd, w->buf + off, w->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += n;
	}
	return 0;
}

void snap_w_free(struct snap_w *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

int snap_r_parse(struct snap_r *r, uint8_t *buf, size_t len, struct err **err)
{
	uint32_t version, nr, i;
	uint64_t body;
	size_t off;

	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->len = len;
	if (len < SNAP_HDR_LEN || memcmp(buf, SNAP_MAGIC, 8))
		return err_make(err, EINVAL, "not a vps-vmm snapshot (no `VPSVMST` header)");
	version = get32(buf + 8);
	if (version != SNAP_VERSION)
		return err_make(err, EINVAL,
				"snapshot format version %u; this vps-vmm reads version %u only",
				version, SNAP_VERSION);
	nr = get32(buf + 12);
	body = get64(buf + 16);
	if (body != len - SNAP_HDR_LEN)
		return err_make(err, EINVAL,
				"snapshot state is %zu bytes, its header says %llu: truncated or "
				"padded",
				len, (unsigned long long)body + SNAP_HDR_LEN);
	if (get32(buf + 24) != snap_crc32(buf + SNAP_HDR_LEN, body) || get32(buf + 28))
		return err_make(err, EINVAL, "snapshot state fails its checksum: corrupt");
	if (nr > SNAP_MAX_SECTIONS)
		return err_make(err, EINVAL, "snapshot state has %u sections, at most %u", nr,
				SNAP_MAX_SECTIONS);
	r->sec = calloc(nr ? nr : 1, sizeof(*r->sec));
	if (!r->sec)
		return err_make(err, ENOMEM, "snapshot state");
	off = SNAP_HDR_LEN;
	for (i = 0; i < nr; i++) {
		struct snap_sec *s = &r->sec[i];
		uint64_t padded;
		uint32_t j;

		if (len - off < SNAP_SEC_HDR_LEN)
			return err_make(err, EINVAL, "snapshot state: section %u runs past the end",
					i);
		s->tag = get32(buf + off);
		s->id = get32(buf + off + 4);
		s->len = get32(buf + off + 8);
		padded = ((uint64_t)s->len + 7) & ~7ULL;
		if (get32(buf + off + 12) || padded > len - off - SNAP_SEC_HDR_LEN)
			return err_make(err, EINVAL, "snapshot state: section %u runs past the end",
					i);
		s->data = buf + off + SNAP_SEC_HDR_LEN;
		off += SNAP_SEC_HDR_LEN + padded;
		for (j = 0; j < i; j++)
			if (r->sec[j].tag == s->tag && r->sec[j].id == s->id)
				return err_make(err, EINVAL,
						"snapshot state: section %.4s/%u appears twice",
						(const char *)&s->tag, s->id);
		r->nr++;
	}
	if (off != len)
		return err_make(err, EINVAL, "snapshot state: %zu bytes after the last section",
				len - off);
	return 0;
}

int snap_r_open(struct snap_r *r, int fd, struct err **err)
{
	struct stat st;
	uint8_t *buf;
	size_t off = 0;

	memset(r, 0, sizeof(*r));
	if (fstat(fd, &st) < 0)
		return err_make(err, errno, "snapshot state");
	if (!S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t)st.st_size > SNAP_MAX_STATE)
		return err_make(err, EINVAL,
				"snapshot state: not a regular file of at most %u bytes",
				SNAP_MAX_STATE);
	buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf)
		return err_make(err, ENOMEM, "snapshot state");
	while (off < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + off, st.st_size - off, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return err_make(err, n < 0 ? errno : EIO, "read snapshot state");
		}
		off += n;
	}
	return snap_r_parse(r, buf, off, err);
}

void snap_r_free(struct snap_r *r)
{
	free(r->buf);
	free(r->sec);
	memset(r, 0, sizeof(*r));
}

const void *snap_find(const struct snap_r *r, uint32_t tag, uint32_t id, size_t *len)
{
	unsigned int i;

	for (i = 0; i < r->nr; i++) {
		if (r->sec[i].tag == tag && r->sec[i].id == id) {
			*len = r->sec[i].len;
			return r->sec[i].data;
		}
	}
	return NULL;
}

const void *snap_get(const struct snap_r *r, uint32_t tag, uint32_t id, size_t len,
		     struct err **err)
{
	size_t have;
	const void *p = snap_find(r, tag, id, &have);

	if (!p) {
		err_make(err, EINVAL, "snapshot state: no section %.4s/%u", (const char *)&tag, id);
		return NULL;
	}
	if (have != len) {
		err_make(err, EINVAL, "snapshot state: section %.4s/%u is %zu bytes, expected %zu",
			 (const char *)&tag, id, have, len);
		return NULL;
	}
	return p;
}
