// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Guest memory map and the bounds check behind every guest access: see mem.h.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

#include "vmm/mem.h"

int guest_mem_add(struct guest_mem *m, uint64_t gpa, uint64_t size, void *hva)
{
	unsigned int i;

	if (!size || gpa + size < gpa || !hva)
		return -EINVAL;
	if (m->nr >= GUEST_MEM_MAX_REGIONS)
		return -ENOSPC;
	for (i = 0; i < m->nr; i++) {
		const struct mem_region *r = &m->r[i];

		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return -EINVAL;
	}
	m->r[m->nr++] = (struct mem_region){ .gpa = gpa, .size = size, .hva = hva };
	return 0;
}

void guest_mem_track(struct guest_mem *m, unsigned long *bitmap, const void *base)
{
	__atomic_store_n(&m->dirty_base, base, __ATOMIC_SEQ_CST);
	__atomic_store_n(&m->dirty, bitmap, __ATOMIC_SEQ_CST);
}

static void mark(const struct guest_mem *m, const uint8_t *hva, uint64_t len)
{
	unsigned long *bits = __atomic_load_n(&m->dirty, __ATOMIC_ACQUIRE);
	uint64_t first, last, pg;
	const unsigned int w = 8 * sizeof(unsigned long);

	if (!bits)
		return;
	first = (uint64_t)(hva - m->dirty_base) >> GUEST_PAGE_SHIFT;
	last = (uint64_t)(hva + len - 1 - m->dirty_base) >> GUEST_PAGE_SHIFT;
	for (pg = first; pg <= last; pg++)
		__atomic_fetch_or(&bits[pg / w], 1UL << (pg % w), __ATOMIC_RELAXED);
}

void *gpa_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	if (len == 0)
		len = 1;
	if (gpa + len < gpa)
		return NULL;
	for (i = 0; i < m->nr; i++) {
		const struct mem_region *r = &m->r[i];

		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa)) {
			mark(m, r->hva + (gpa - r->gpa), len);
			return r->hva + (gpa - r->gpa);
		}
	}
	return NULL;
}

void *guest_ram_map(size_t size)
{
	size_t span = size + GUEST_RAM_ALIGN, head;
	uint8_t *p;

	if (!size || span < size) {
		errno = EINVAL;
		return NULL;
	}
	/* Over-map by the alignment, then give back what lies outside it. */
	p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	head = (GUEST_RAM_ALIGN - (uintptr_t)p % GUEST_RAM_ALIGN) % GUEST_RAM_ALIGN;
	if (head)
		munmap(p, head);
	if (span - head - size)
		munmap(p + head + size, span - head - size);
	p += head;
	/* Advice only: EINVAL without CONFIG_TRANSPARENT_HUGEPAGE, and "never" ignores it. */
	madvise(p, size, MADV_HUGEPAGE);
	return p;
}
