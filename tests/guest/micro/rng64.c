// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Micro-guest rng64: read entropy from virtio-rng (virtio 1.2 §5.4,
 * src/vmm/devices/virtio/rng.c). Two 64-byte requests must each come back
 * with used.len 64 and differ from each other and from zero; a third
 * request split over two 32-byte writable descriptors must be filled
 * across both (used.len 64, neither half left zero).
 */
#include "virtio.h"

#define NAME "rng64"
#define LEN 64

static bool all_zero(const uint8_t *p, unsigned int n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

int main(uint64_t ram_size)
{
	static struct vdev d;
	uint8_t *a, *b, *c;
	uint32_t len;

	(void)ram_size;
	if (virtio_find(&d, VIRTIO_ID_RNG) < 0)
		return fail(NAME, 1, "no virtio-rng function");
	if (virtio_negotiate(&d, 0) < 0)
		return fail(NAME, 2, "feature negotiation");
	if (vq_setup(&d, 0, 0) < 0)
		return fail(NAME, 3, "request queue setup");
	if (!(virtio_driver_ok(&d) & VIRTIO_S_DRIVER_OK))
		return fail(NAME, 4, "DRIVER_OK did not stick");
	a = alloc_pages(1);
	b = alloc_pages(1);
	c = alloc_pages(1);
	if (vq_transfer(&d.vqs[0], &(struct vbuf){ a, LEN, true }, 1, &len) < 0)
		return fail(NAME, 5, "first request not completed");
	if (len != LEN)
		return fail(NAME, 6, "first request: used.len is not 64");
	if (vq_transfer(&d.vqs[0], &(struct vbuf){ b, LEN, true }, 1, &len) < 0)
		return fail(NAME, 7, "second request not completed");
	if (len != LEN)
		return fail(NAME, 8, "second request: used.len is not 64");
	if (all_zero(a, LEN) || all_zero(b, LEN))
		return fail(NAME, 9, "a buffer came back all zero");
	if (!memcmp(a, b, LEN))
		return fail(NAME, 10, "two requests returned the same bytes");
	if (vq_transfer(&d.vqs[0],
			(struct vbuf[]){ { c, LEN / 2, true }, { c + 2048, LEN / 2, true } }, 2,
			&len) < 0 ||
	    len != LEN || all_zero(c, LEN / 2) || all_zero(c + 2048, LEN / 2))
		return fail(NAME, 11, "a two-descriptor request was not filled");
	puts("VPS-MICRO rng64 ok\n");
	return 0;
}
