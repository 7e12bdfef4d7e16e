// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the monitor's guest-memory bounds check and I/O bus: the
 * two places every guest-supplied address passes through; and the flush of
 * the port writes KVM queued (vm_coalesced_flush), over a ring made here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/iobus.h"
#include "vmm/mem.h"
#include "vmm/vm.h"

static uint8_t ram_lo[0x10000], ram_hi[0x1000];

static void setup_mem(struct guest_mem *m)
{
	memset(m, 0, sizeof(*m));
	assert_int_equal(guest_mem_add(m, 0, sizeof(ram_lo), ram_lo), 0);
	assert_int_equal(guest_mem_add(m, 0x100000, sizeof(ram_hi), ram_hi), 0);
}

static void gpa_inside(void **state)
{
	struct guest_mem m;

	setup_mem(&m);
	assert_ptr_equal(gpa_ptr(&m, 0, 1), ram_lo);
	assert_ptr_equal(gpa_ptr(&m, 0xfff0, 0x10), ram_lo + 0xfff0);
	assert_ptr_equal(gpa_ptr(&m, 0x100000, 0x1000), ram_hi);
	assert_ptr_equal(gpa_ptr(&m, 0x100fff, 0), ram_hi + 0xfff);
}

static void gpa_outside(void **state)
{
	struct guest_mem m;

	setup_mem(&m);
	assert_null(gpa_ptr(&m, 0xfff0, 0x11)); /* runs one byte past the end */
	assert_null(gpa_ptr(&m, 0x10000, 1)); /* in the hole */
	assert_null(gpa_ptr(&m, 0xffff, 0x100000)); /* straddles the hole */
	assert_null(gpa_ptr(&m, 0x101000, 0)); /* just past the top */
	assert_null(gpa_ptr(&m, UINT64_MAX, 2)); /* wraps */
	assert_null(gpa_ptr(&m, 0x100000, UINT64_MAX)); /* huge length */
	assert_null(gpa_ptr(&m, 8, UINT64_MAX - 4)); /* wraps back into RAM */
}

/*
 * Live migration's marking (mem.h): while a bitmap is set, every page a
 * pointer is handed out for is marked, by its offset in the one RAM
 * mapping; a refused range marks nothing; nothing is marked otherwise.
 */
static void gpa_marks_pages(void **state)
{
	static uint8_t ram[0x6000] __attribute__((aligned(4096)));
	unsigned long bits[1] = { 0 };
	struct guest_mem m;

	memset(&m, 0, sizeof(m));
	assert_int_equal(guest_mem_add(&m, 0, 0x4000, ram), 0);
	assert_int_equal(guest_mem_add(&m, 0x100000, 0x2000, ram + 0x4000), 0);
	assert_non_null(gpa_ptr(&m, 0x2000, 1));
	assert_int_equal(bits[0], 0); /* not tracking */
	guest_mem_track(&m, bits, ram);
	assert_non_null(gpa_ptr(&m, 0xff0, 0x20)); /* straddles pages 0 and 1 */
	assert_non_null(gpa_ptr(&m, 0x101000, 0)); /* page 5 of the mapping */
	assert_null(gpa_ptr(&m, 0x3ff0, 0x20)); /* refused: runs out of the region */
	assert_int_equal(bits[0], 0x23);
	guest_mem_track(&m, NULL, NULL);
	assert_non_null(gpa_ptr(&m, 0x3000, 1));
	assert_int_equal(bits[0], 0x23);
}

static void mem_add_rejects(void **state)
{
	struct guest_mem m;
	uint8_t b[16];

	setup_mem(&m);
	assert_int_equal(guest_mem_add(&m, 0x8000, 0x100, b), -EINVAL); /* overlap */
	assert_int_equal(guest_mem_add(&m, UINT64_MAX - 4, 16, b), -EINVAL); /* wraps */
	assert_int_equal(guest_mem_add(&m, 0x200000, 0, b), -EINVAL); /* empty */
	assert_int_equal(guest_mem_add(&m, 0x200000, 16, b), 0);
	assert_int_equal(guest_mem_add(&m, 0x300000, 16, b), 0);
	assert_int_equal(guest_mem_add(&m, 0x400000, 16, b), -ENOSPC);
}

struct fake_dev {
	uint64_t last_off;
	uint8_t last_val;
	int writes;
};

static void fake_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	memset(data, (int)off, len);
}

static void fake_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct fake_dev *d = opaque;

	d->last_off = off;
	d->last_val = *(const uint8_t *)data;
	d->writes++;
}

static const struct io_ops fake_ops = { .read = fake_read, .write = fake_write };

static void iobus_dispatch(void **state)
{
	struct iobus bus = { 0 };
	struct fake_dev d = { 0 };
	uint8_t v = 0x5a;
	uint32_t w = 0;

	assert_int_equal(iobus_register(&bus, 0x3f8, 8, &fake_ops, &d), 0);
	assert_int_equal(iobus_register(&bus, 0x3fc, 8, &fake_ops, &d), -EBUSY);
	assert_int_equal(iobus_register(&bus, 0x3f0, 8, &fake_ops, &d), 0);
	assert_int_equal(iobus_access(&bus, 0x3fd, &v, 1, 1), 1);
	assert_int_equal(d.last_off, 5);
	assert_int_equal(d.last_val, 0x5a);
	assert_int_equal(iobus_access(&bus, 0x3fb, &w, 4, 0), 1);
	assert_int_equal(w, 0x03030303);
	/* Unclaimed: reads float high, writes vanish. */
	assert_int_equal(iobus_access(&bus, 0x80, &w, 4, 0), 0);
	assert_int_equal(w, 0xffffffff);
	assert_int_equal(iobus_access(&bus, 0x80, &v, 1, 1), 0);
	assert_int_equal(d.writes, 1);
}

/*
 * Guest RAM is 2 MiB-aligned and advised for transparent huge pages: what
 * lets KVM map the guest with 2 MiB pages (one exit per 2 MiB on first touch,
 * not one per 4 KiB page). The mapping is exactly SIZE bytes (the alignment
 * slack is given back) and reads as zeroes.
 */
static void ram_map_aligned_huge(void **state)
{
	const size_t size = 6UL << 20;
	char line[512], flags[512] = "";
	bool in_vma = false, found = false;
	unsigned long lo, hi;
	uint8_t *p;
	FILE *f;

	p = guest_ram_map(size);
	assert_non_null(p);
	assert_int_equal((uintptr_t)p % GUEST_RAM_ALIGN, 0);
	assert_int_equal(p[0] | p[size - 1], 0);
	p[size - 1] = 1;
	f = fopen("/proc/self/smaps", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in_vma = lo == (uintptr_t)p;
			if (in_vma) {
				found = true;
				assert_int_equal(hi - lo, size);
			}
		} else if (in_vma && !strncmp(line, "VmFlags:", 8)) {
			snprintf(flags, sizeof(flags), "%s", line);
		}
	}
	fclose(f);
	assert_true(found);
	/* "hg": MADV_HUGEPAGE took; only a kernel built without THP may refuse it. */
	if (access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0)
		assert_non_null(strstr(flags, " hg"));
	else
		printf("no THP in this kernel: the hg flag is not checked\n");
	assert_int_equal(munmap(p, size), 0);

	errno = 0;
	assert_null(guest_ram_map(0));
	assert_int_equal(errno, EINVAL);
	assert_null(guest_ram_map(SIZE_MAX - 4096));
}

/* Writes, in the order they reach the device: (port offset, first byte, length). */
struct seen {
	unsigned int n;
	uint64_t off[16];
	uint8_t val[16];
	unsigned int len[16];
};

static void seen_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct seen *s = opaque;

	if (s->n < 16) {
		s->off[s->n] = off;
		s->val[s->n] = *(const uint8_t *)data;
		s->len[s->n++] = len;
	}
}

static const struct io_ops seen_ops = { .write = seen_write };

static void put(struct kvm_coalesced_mmio_ring *r, uint32_t i, uint64_t port, uint32_t len,
		uint8_t val)
{
	r->coalesced_mmio[i] =
		(struct kvm_coalesced_mmio){ .phys_addr = port, .len = len, .pio = 1 };
	r->coalesced_mmio[i].data[0] = val;
}

static void coalesced_flush(void **state)
{
	static _Alignas(8) uint8_t page[4096];
	struct kvm_coalesced_mmio_ring *r = (void *)page;
	struct vm vm = { 0 };
	struct seen s = { 0 };

	pthread_mutex_init(&vm.coalesced_lock, NULL);
	assert_int_equal(iobus_register(&vm.pio, 0x3c0, 0x20, &seen_ops, &s), 0);
	vm_coalesced_flush(&vm); /* no ring: nothing to do */
	vm.coalesced = r;
	vm.coalesced_max = 4; /* a small ring, so the index wraps */
	vm_coalesced_flush(&vm); /* an empty one */
	assert_int_equal(s.n, 0);

	/* three writes queued from slot 2, wrapping past the end: taken in order */
	r->first = 2;
	put(r, 2, 0x3c8, 1, 7);
	put(r, 3, 0x3c9, 1, 63);
	put(r, 0, 0x3d4, 2, 0x0e);
	r->last = 1;
	vm_coalesced_flush(&vm);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.off[0], 8);
	assert_int_equal(s.val[0], 7);
	assert_int_equal(s.off[1], 9);
	assert_int_equal(s.val[1], 63);
	assert_int_equal(s.off[2], 0x14);
	assert_int_equal(s.len[2], 2);
	assert_int_equal(r->first, 1);
	assert_int_equal(vm.coalesced_writes, 3);

	/* a length past the entry's 8 data bytes is skipped, not read; a port nobody has vanishes */
	put(r, 1, 0x3c0, 200, 1);
	put(r, 2, 0x402, 1, 'S');
	r->last = 3;
	vm_coalesced_flush(&vm);
	assert_int_equal(s.n, 3);
	assert_int_equal(r->first, 3);

	/* an index outside the ring is left alone */
	r->first = 9;
	r->last = 10;
	vm_coalesced_flush(&vm);
	assert_int_equal(r->first, 9);
	assert_int_equal(s.n, 3);
	pthread_mutex_destroy(&vm.coalesced_lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gpa_inside),	   cmocka_unit_test(gpa_outside),
		cmocka_unit_test(gpa_marks_pages), cmocka_unit_test(mem_add_rejects),
		cmocka_unit_test(iobus_dispatch),  cmocka_unit_test(ram_map_aligned_huge),
		cmocka_unit_test(coalesced_flush),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
