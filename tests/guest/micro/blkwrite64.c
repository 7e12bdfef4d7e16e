// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Micro-guest blkwrite64: a disk writer that never stops, for the test of
 * vps-vmm's `freeze` (test_vmm_freeze.py). The disk is cut in regions of
 * REGION sectors; SLOTS requests are always in flight, slot i writing only
 * the regions i, i + SLOTS, i + 2 SLOTS, ... in turn, so no two requests in
 * flight touch the same region. Every sector of a request carries the
 * request's generation (a counter over all requests, from 1) and its own
 * sector number: a copy of the image taken at one moment has each region
 * all of one generation (or all zero, never written); a copy that mixes two
 * generations in a region caught a request half written.
 */
#include "virtio.h"

#define NAME "blkwrite64"

#define VIRTIO_BLK_T_OUT 1 /* §5.2.6 */
#define VIRTIO_BLK_S_OK 0
#define SECTOR 512
#define REGION 256 /* sectors: 128 KiB per request */
#define SLOTS 8

struct blk_hdr { /* §5.2.6: struct virtio_blk_req, the device-readable part */
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct slot {
	struct blk_hdr *hdr;
	uint8_t *status;
	uint8_t *data;
	uint64_t turn; /* how many regions this slot has written */
};

static struct slot slots[SLOTS];
static uint64_t generation;

/* Stamp and send slot i's next region; its descriptors are 3i to 3i+2, its own. */
static void send(struct vq *q, unsigned int i, uint64_t regions)
{
	struct slot *s = &slots[i];
	uint64_t region = (s->turn++ * SLOTS + i) % regions, gen = ++generation;
	unsigned int n;

	/* only the stamps change: guest stores are slow where RAM is uncached (no MTRRs) */
	for (n = 0; n < REGION; n++) {
		uint64_t *w = (uint64_t *)(s->data + n * SECTOR);

		w[0] = gen;
		w[1] = region * REGION + n;
	}
	s->hdr->type = VIRTIO_BLK_T_OUT;
	s->hdr->reserved = 0;
	s->hdr->sector = region * REGION;
	*s->status = 0xff;
	q->next_desc = (uint16_t)(3 * i);
	vq_submit(q,
		  (struct vbuf[]){ { s->hdr, sizeof(*s->hdr), false },
				   { s->data, REGION * SECTOR, false },
				   { s->status, 1, true } },
		  3);
}

int main(uint64_t ram_size)
{
	static struct vdev d;
	uint64_t capacity, regions, done = 0;
	struct vq *q;
	uint32_t head, len;
	unsigned int i;

	(void)ram_size;
	if (virtio_find(&d, VIRTIO_ID_BLOCK) < 0 || !d.device)
		return fail(NAME, 1, "no virtio-blk function with a device config");
	if (virtio_negotiate(&d, 0) < 0)
		return fail(NAME, 2, "feature negotiation");
	if (vq_setup(&d, 0, 0) < 0)
		return fail(NAME, 3, "request queue setup");
	if ((virtio_driver_ok(&d) & (VIRTIO_S_DRIVER_OK | VIRTIO_S_NEEDS_RESET)) !=
	    VIRTIO_S_DRIVER_OK)
		return fail(NAME, 4, "DRIVER_OK did not stick");
	q = &d.vqs[0];
	if (q->size < 3 * SLOTS)
		return fail(NAME, 5, "queue too small");
	capacity = mmio_read32(d.device) | (uint64_t)mmio_read32(d.device + 4) << 32;
	regions = capacity / REGION;
	if (regions < 2 * SLOTS)
		return fail(NAME, 6, "image too small for the test");
	for (i = 0; i < SLOTS; i++) {
		slots[i].hdr = alloc_pages(1);
		slots[i].status = alloc_pages(1);
		slots[i].data = alloc_pages(REGION * SECTOR / PAGE_SIZE);
		send(q, i, regions);
	}
	for (;;) {
		/* a freeze parks this vCPU: its clock jumps, the wait times out, it waits again */
		while (vq_wait(q, 1000, &head, &len) < 0)
			;
		i = head / 3;
		if (head % 3 || i >= SLOTS || *slots[i].status != VIRTIO_BLK_S_OK)
			return fail(NAME, 7, "a write failed");
		if (++done == SLOTS)
			puts("VPS-MICRO blkwrite64 running\n");
		send(q, i, regions);
	}
}
