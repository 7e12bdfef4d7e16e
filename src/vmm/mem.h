/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest physical memory as the monitor sees it: a short list of regions,
 * each a host mapping of guest RAM. Every access the monitor makes on behalf
 * of a guest goes through gpa_ptr(), which checks the whole range [gpa,
 * gpa+len) against one region, so a guest-supplied address or length can
 * never reach outside guest RAM (no wrap-around, no straddling a hole).
 */
#ifndef VPS_VMM_MEM_H
#define VPS_VMM_MEM_H

#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 4

struct mem_region {
	uint64_t gpa; /* guest-physical start */
	uint64_t size; /* bytes */
	uint8_t *hva; /* host mapping of the region */
};

struct guest_mem {
	struct mem_region r[GUEST_MEM_MAX_REGIONS];
	unsigned int nr;
	/*
	 * While a live migration runs (migrate.c): a bit per 4 KiB page of the
	 * RAM mapping at dirty_base, set for every page gpa_ptr() hands out. KVM's
	 * dirty log sees only what the vCPUs write; this is what the monitor's
	 * own threads may write (buffers filled by I/O threads, balloon pages).
	 * A superset (reads mark too), never cleared until the migration ends.
	 */
	unsigned long *dirty;
	const uint8_t *dirty_base;
};

#define GUEST_PAGE_SHIFT 12

/* Add a region; regions must not overlap. Returns 0 or -EINVAL / -ENOSPC. */
int guest_mem_add(struct guest_mem *m, uint64_t gpa, uint64_t size, void *hva);

/*
 * Host pointer for guest range [gpa, gpa + len), or NULL when any byte of it
 * is outside RAM. len == 0 is checked as a one-byte range at gpa.
 */
void *gpa_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/*
 * Map SIZE bytes of anonymous guest RAM (MAP_NORESERVE; pages come on first
 * touch) at a 2 MiB-aligned address and ask for transparent huge pages on it
 * (MADV_HUGEPAGE; a kernel without THP just says no). With the mapping and
 * the guest-physical addresses both 2 MiB-aligned, KVM backs the guest with
 * 2 MiB pages in its nested page tables: one exit fills 2 MiB where 4 KiB
 * pages cost one exit each (a booting kernel touches tens of thousands).
 * Returns the mapping, or NULL with errno set. Free with munmap(p, size).
 */
#define GUEST_RAM_ALIGN (2UL << 20)
void *guest_ram_map(size_t size);

/* Start (bitmap: one bit per page from base, zeroed) or stop (NULL) marking. */
void guest_mem_track(struct guest_mem *m, unsigned long *bitmap, const void *base);

#endif
