// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Driver-side split virtqueue for unit tests: see virtq_driver.h. It writes
 * guest memory the way Linux's virtio_ring.c does (little-endian, index
 * published last) so device code sees what a real driver would produce.
 */
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "virtq_driver.h"

void *vqd_ptr(const struct vqd *d, uint64_t gpa, uint64_t len)
{
	void *p = gpa_ptr(d->mem, gpa, len);

	assert_non_null(p);
	return p;
}

static void put16(const struct vqd *d, uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(vqd_ptr(d, gpa, 2), &v, 2);
}

static uint16_t get16(const struct vqd *d, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, vqd_ptr(d, gpa, 2), 2);
	return le16toh(v);
}

static uint32_t get32(const struct vqd *d, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, vqd_ptr(d, gpa, 4), 4);
	return le32toh(v);
}

uint64_t vqd_init(struct vqd *d, const struct guest_mem *mem, uint64_t base, uint16_t size)
{
	uint64_t end;

	memset(d, 0, sizeof(*d));
	d->mem = mem;
	d->size = size;
	d->desc_gpa = base;
	d->avail_gpa = base + 16 * (uint64_t)size;
	d->used_gpa = (d->avail_gpa + 6 + 2 * (uint64_t)size + 3) & ~3ULL;
	end = d->used_gpa + 6 + 8 * (uint64_t)size;
	memset(vqd_ptr(d, base, end - base), 0, end - base);
	return (end + 15) & ~15ULL;
}

void vqd_set_desc(struct vqd *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		  uint16_t next)
{
	uint8_t *p = vqd_ptr(d, d->desc_gpa + 16 * (uint64_t)i, 16);
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), n = htole16(next);

	memcpy(p, &a, 8);
	memcpy(p + 8, &l, 4);
	memcpy(p + 12, &f, 2);
	memcpy(p + 14, &n, 2);
}

uint16_t vqd_add_chain(struct vqd *d, const struct vqd_buf *b, unsigned int n)
{
	uint16_t head = d->next_desc;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint16_t cur = (head + i) % d->size, next = (head + i + 1) % d->size;

		vqd_set_desc(d, cur, b[i].gpa, b[i].len, (b[i].write ? 2 : 0) | (i + 1 < n ? 1 : 0),
			     i + 1 < n ? next : 0);
	}
	d->next_desc = (head + n) % d->size;
	return head;
}

uint16_t vqd_add_indirect(struct vqd *d, uint64_t table_gpa, const struct vqd_buf *b,
			  unsigned int n)
{
	uint8_t *t = vqd_ptr(d, table_gpa, 16 * (uint64_t)n);
	uint16_t head = d->next_desc;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t a = htole64(b[i].gpa);
		uint32_t l = htole32(b[i].len);
		uint16_t f = htole16((b[i].write ? 2 : 0) | (i + 1 < n ? 1 : 0));
		uint16_t nx = htole16(i + 1 < n ? i + 1 : 0);

		memcpy(t + 16 * i, &a, 8);
		memcpy(t + 16 * i + 8, &l, 4);
		memcpy(t + 16 * i + 12, &f, 2);
		memcpy(t + 16 * i + 14, &nx, 2);
	}
	vqd_set_desc(d, head, table_gpa, 16 * n, 4, 0);
	d->next_desc = (head + 1) % d->size;
	return head;
}

void vqd_publish(struct vqd *d, uint16_t head)
{
	put16(d, d->avail_gpa + 4 + 2 * (uint64_t)(d->avail_idx % d->size), head);
	d->avail_idx++;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	put16(d, d->avail_gpa + 2, d->avail_idx);
}

void vqd_set_avail_idx(struct vqd *d, uint16_t idx)
{
	put16(d, d->avail_gpa + 2, idx);
}

void vqd_set_avail_flags(struct vqd *d, uint16_t flags)
{
	put16(d, d->avail_gpa, flags);
}

void vqd_set_used_event(struct vqd *d, uint16_t v)
{
	put16(d, d->avail_gpa + 4 + 2 * (uint64_t)d->size, v);
}

uint16_t vqd_avail_event(const struct vqd *d)
{
	return get16(d, d->used_gpa + 4 + 8 * (uint64_t)d->size);
}

bool vqd_get_used(struct vqd *d, uint32_t *id, uint32_t *len)
{
	uint64_t e;

	if (get16(d, d->used_gpa + 2) == d->last_used)
		return false;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	e = d->used_gpa + 4 + 8 * (uint64_t)(d->last_used % d->size);
	*id = get32(d, e);
	*len = get32(d, e + 4);
	d->last_used++;
	return true;
}
