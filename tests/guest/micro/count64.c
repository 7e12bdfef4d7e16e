// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Micro-guest count64: a guest that runs on and keeps state, for snapshot
 * and restore (tests/integration/test_vmm_snapshot.py). It sets up the
 * first virtio-blk function, then forever: every ~20 ms bumps a counter in
 * its RAM, prints "tick N" on COM1, writes "COUNT N" into sector 1 of the
 * disk and reads it back. A VM restored from a snapshot must go on from the
 * next N (its console output joins the source's without a gap or a repeat)
 * and its disk must still take writes and reads. A read-back that differs
 * ends the VM with status 9; a request that fails, with 10 + the step.
 *
 * While it waits for the next tick it keeps writing memory, for live
 * migration (test_vmm_migrate.py): a sequence number into the first qword
 * of one of DIRTY_PAGES pages after another, and the same number into a
 * table on a page of its own. Each tick checks every page against the
 * table: a page a migration lost or sent stale ends the VM with status 8.
 */
#include "virtio.h"

#define NAME "count64"

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define SECTOR 512
#define DISK_WAIT_MS 30000

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static struct vq *q;
static struct blk_hdr *hdr;
static uint8_t *status, *out, *in;
static volatile uint64_t counter;

#define DIRTY_PAGES 512 /* 2 MiB; the table is one page of 512 qwords */
static volatile uint64_t *dirty, *table;
static uint64_t seq;

/* Dirty the next page: the page and its table entry get the same new number. */
static void scribble(void)
{
	unsigned int i = seq % DIRTY_PAGES;

	seq++;
	dirty[i * (PAGE_SIZE / 8)] = seq;
	table[i] = seq;
}

static bool pages_intact(void)
{
	unsigned int i;

	for (i = 0; i < DIRTY_PAGES; i++)
		if (dirty[i * (PAGE_SIZE / 8)] != table[i])
			return false;
	return true;
}

static int request(uint32_t type, uint8_t *data, bool write_to_guest)
{
	struct vbuf b[3] = { { hdr, sizeof(*hdr), false },
			     { data, SECTOR, write_to_guest },
			     { status, 1, true } };
	uint32_t len, got;
	int head;

	hdr->type = type;
	hdr->reserved = 0;
	hdr->sector = 1;
	*status = 0xff;
	/*
	 * As long as Linux's block layer waits (30 s): a live move between
	 * nodes holds the disk requests while it copies the disk
	 * (test_cluster_migrate_vmm.py), seconds, not vq_transfer's 1 s
	 */
	if ((head = vq_submit(q, b, 3)) < 0 || vq_wait(q, DISK_WAIT_MS, &got, &len) < 0 ||
	    got != (uint32_t)head)
		return -1;
	return *status;
}

/* "COUNT <n>\n" at the start of p, the rest zero. */
static void format(uint8_t *p, uint64_t n)
{
	char digits[24];
	unsigned int i = 0, k = 0;

	memset(p, 0, SECTOR);
	memcpy(p, "COUNT ", 6);
	k = 6;
	do {
		digits[i++] = '0' + n % 10;
		n /= 10;
	} while (n);
	while (i)
		p[k++] = digits[--i];
	p[k] = '\n';
}

int main(uint64_t ram_size)
{
	static struct vdev d;

	(void)ram_size;
	if (virtio_find(&d, VIRTIO_ID_BLOCK) < 0)
		return fail(NAME, 1, "no virtio-blk function");
	if (virtio_negotiate(&d, 0) < 0 || vq_setup(&d, 0, 0) < 0 ||
	    !(virtio_driver_ok(&d) & VIRTIO_S_DRIVER_OK))
		return fail(NAME, 2, "virtio-blk setup");
	q = &d.vqs[0];
	hdr = alloc_pages(1);
	status = alloc_pages(1);
	out = alloc_pages(1);
	in = alloc_pages(1);
	dirty = alloc_pages(DIRTY_PAGES);
	table = alloc_pages(1);
	puts("VPS-MICRO count64 ready\n");
	for (;;) {
		uint64_t until = deadline_ms(20), n;

		while (!expired(until))
			scribble();
		if (!pages_intact())
			return fail(NAME, 8, "a page of memory lost its last write");
		n = ++counter;
		puts("tick ");
		put_dec(n);
		putc('\n');
		format(out, n);
		if (request(VIRTIO_BLK_T_OUT, out, false) != 0)
			return fail(NAME, 11, "write");
		if (request(VIRTIO_BLK_T_IN, in, true) != 0)
			return fail(NAME, 12, "read");
		if (memcmp(in, out, SECTOR))
			return fail(NAME, 9, "sector 1 read back differs");
	}
}
