// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Micro-guest balloon64: a virtio-balloon driver (virtio 1.2 §5.5) for one
 * inflate/deflate round trip against src/vmm/devices/virtio/balloon.c, with
 * the host test on the other end of the control socket:
 *
 *   guest: touches TOUCH pages, prints "ready", polls num_pages
 *   host:  reads the monitor's RSS, sets a balloon target
 *   guest: sees num_pages, gives that many of its touched pages on the
 *          inflate queue, writes `actual`, prints "inflated"
 *   host:  checks the RSS dropped and the stats, sets the target back to all RAM
 *   guest: sees num_pages 0, gives the pages back on the deflate queue,
 *          checks they read as zero (the monitor dropped their contents),
 *          writes `actual` 0 and exits 0
 *
 * Every wait is bounded (WAIT_MS), so a host that never answers fails the
 * test instead of hanging it.
 */
#include "virtio.h"

#define NAME "balloon64"
#define TOUCH 4096 /* pages touched and offered: 16 MiB */
#define WAIT_MS 20000
#define BALLOON_PAGE 4096 /* §5.5.6: balloon pages are 4 KiB */
#define PFNS_PER_REQ 1024 /* one 4 KiB page of 32-bit frame numbers per request */
#define INFLATEQ 0
#define DEFLATEQ 1
#define CFG_NUM_PAGES 0 /* §5.5.4 struct virtio_balloon_config */
#define CFG_ACTUAL 4

static struct vdev d;
static uint32_t *pfns;

/* Poll num_pages until want(num_pages) holds; -1 on timeout. */
static int64_t wait_num_pages(bool nonzero)
{
	uint64_t until = deadline_ms(WAIT_MS);

	for (;;) {
		uint32_t n = mmio_read32(d.device + CFG_NUM_PAGES);

		if ((n != 0) == nonzero)
			return n;
		if (expired(until))
			return -1;
		cpu_relax();
	}
}

/* Hand `n` pages from `base` over on queue q, PFNS_PER_REQ at a time (§5.5.6.1). */
static int give_pages(unsigned int q, uint8_t *base, uint32_t n)
{
	uint32_t done = 0, len;

	while (done < n) {
		uint32_t k = n - done < PFNS_PER_REQ ? n - done : PFNS_PER_REQ, i;

		for (i = 0; i < k; i++)
			pfns[i] = ((uint64_t)base + (uint64_t)(done + i) * BALLOON_PAGE) /
				  BALLOON_PAGE;
		if (vq_transfer(&d.vqs[q], &(struct vbuf){ pfns, 4 * k, false }, 1, &len) < 0)
			return -1;
		done += k;
	}
	return 0;
}

int main(uint64_t ram_size)
{
	uint8_t *pages;
	int64_t n;
	uint32_t i, zeroed = 0;

	(void)ram_size;
	if (virtio_find(&d, VIRTIO_ID_BALLOON) < 0 || !d.device)
		return fail(NAME, 1, "no virtio-balloon function with a device config");
	/* No STATS_VQ: then the third queue need not be set up (§5.5.2). */
	if (virtio_negotiate(&d, 0) < 0)
		return fail(NAME, 2, "feature negotiation");
	if (vq_setup(&d, INFLATEQ, 0) < 0 || vq_setup(&d, DEFLATEQ, 0) < 0)
		return fail(NAME, 3, "inflate/deflate queue setup");
	if (!(virtio_driver_ok(&d) & VIRTIO_S_DRIVER_OK))
		return fail(NAME, 4, "DRIVER_OK did not stick");
	pfns = alloc_pages(1);
	pages = alloc_pages(TOUCH); /* zeroing them touches them: the host backs them now */
	if (!pfns || !pages)
		return fail(NAME, 5, "out of guest RAM");
	for (i = 0; i < TOUCH; i++)
		pages[(uint64_t)i * PAGE_SIZE] = 0xa5;
	if (mmio_read32(d.device + CFG_NUM_PAGES))
		return fail(NAME, 6, "num_pages is not 0 before any target was set");
	puts("VPS-MICRO balloon64 ready pages=");
	put_dec(TOUCH);
	putc('\n');

	n = wait_num_pages(true);
	if (n < 0)
		return fail(NAME, 7, "no balloon target within the wait");
	if (n > TOUCH)
		return fail(NAME, 8, "target larger than the pages we touched");
	if (give_pages(INFLATEQ, pages, n) < 0)
		return fail(NAME, 9, "inflate request not completed");
	/* §5.5.6.1: tell the device how many pages we now hold in the balloon. */
	mmio_write32(d.device + CFG_ACTUAL, n);
	if (mmio_read32(d.device + CFG_ACTUAL) != n)
		return fail(NAME, 10, "actual did not read back");
	puts("balloon inflated pages=");
	put_dec(n);
	putc('\n');

	if (wait_num_pages(false) < 0)
		return fail(NAME, 11, "target not lifted within the wait");
	if (give_pages(DEFLATEQ, pages, n) < 0)
		return fail(NAME, 12, "deflate request not completed");
	mmio_write32(d.device + CFG_ACTUAL, 0);
	/* The monitor discarded what the inflated pages held: they come back as zero. */
	for (i = 0; i < n; i++)
		zeroed += pages[(uint64_t)i * PAGE_SIZE] == 0;
	for (; i < TOUCH; i++)
		if (pages[(uint64_t)i * PAGE_SIZE] != 0xa5)
			return fail(NAME, 13, "a page outside the balloon lost its contents");
	puts("balloon deflated zeroed=");
	put_dec(zeroed);
	putc('\n');
	if (zeroed != n)
		return fail(NAME, 14, "ballooned pages kept their contents");
	if (virtio_status(&d) & VIRTIO_S_NEEDS_RESET)
		return fail(NAME, 15, "device needs reset");
	puts("VPS-MICRO balloon64 ok\n");
	return 0;
}
