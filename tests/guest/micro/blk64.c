// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Micro-guest blk64: drive the first virtio-blk function (virtio 1.2 §5.2)
 * through src/vmm/devices/virtio/blk.c against an image the host test wrote
 * with a known pattern (byte i of sector n is pattern(n, i, PAT_IMAGE)).
 * Reads sector 0, sector 5 and sectors 5-6 split over two descriptors;
 * asks GET_ID for the serial (printed, for the host to compare with `id=`);
 * writes sector 3 with PAT_WRITTEN, reads it back and flushes, unless the
 * device offers VIRTIO_BLK_F_RO, in which case the write must fail with
 * IOERR and change nothing; requests past the capacity, and one whose
 * sector overflows a byte offset, must fail with IOERR; an unknown type
 * with UNSUPP; and none of it may cost the device its DRIVER_OK.
 */
#include "virtio.h"

#define NAME "blk64"

/* §5.2.3 feature bits */
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_FLUSH 9

/* §5.2.6 request types and status */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_ID_BYTES 20

#define SECTOR 512
#define PAT_IMAGE 0x5a /* what the host test fills the image with */
#define PAT_WRITTEN 0xc3 /* what we write to sector 3; the host checks it */

struct blk_hdr { /* §5.2.6: struct virtio_blk_req, the device-readable part */
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static struct vq *q;
static struct blk_hdr *hdr;
static uint8_t *status, *buf;

static uint8_t pattern(uint64_t n, unsigned int i, uint8_t salt)
{
	return (uint8_t)((n * 37 + i) ^ salt);
}

static bool sector_is(const uint8_t *p, uint64_t n, uint8_t salt)
{
	unsigned int i;

	for (i = 0; i < SECTOR; i++)
		if (p[i] != pattern(n, i, salt))
			return false;
	return true;
}

/*
 * One request: header, then `n` data buffers, then the status byte. Returns
 * the status the device wrote, or 0x100 + the driver's error; *len gets the
 * used length.
 */
static int request(uint32_t type, uint64_t sector, struct vbuf *data, unsigned int n, uint32_t *len)
{
	struct vbuf b[4] = { { hdr, sizeof(*hdr), false } };
	unsigned int i;
	uint32_t dummy;
	int r;

	hdr->type = type;
	hdr->reserved = 0;
	hdr->sector = sector;
	for (i = 0; i < n; i++)
		b[1 + i] = data[i];
	b[1 + n] = (struct vbuf){ status, 1, true };
	*status = 0xff; /* no status value: proves the device wrote it */
	r = vq_transfer(q, b, n + 2, len ? len : &dummy);
	return r < 0 ? 0x100 - r : *status;
}

/* Read `count` sectors at `sector` into buf, one descriptor per sector. */
static int read_sectors(uint64_t sector, unsigned int count, uint32_t *len)
{
	struct vbuf d[2];
	unsigned int i;

	for (i = 0; i < count; i++)
		d[i] = (struct vbuf){ buf + i * PAGE_SIZE, SECTOR, true };
	return request(VIRTIO_BLK_T_IN, sector, d, count, len);
}

/* §2.5.1 and §4.1.3.1: a 64-bit field as two 32-bit reads, retried if config changed. */
static uint64_t read_capacity(struct vdev *d)
{
	uint8_t gen;
	uint64_t v;

	do {
		gen = mmio_read8(d->common + VC_CFG_GEN);
		v = mmio_read32(d->device) | (uint64_t)mmio_read32(d->device + 4) << 32;
	} while (gen != mmio_read8(d->common + VC_CFG_GEN));
	return v;
}

int main(uint64_t ram_size)
{
	static struct vdev d;
	uint64_t capacity;
	uint32_t len;
	bool ro;
	int i;

	(void)ram_size;
	if (virtio_find(&d, VIRTIO_ID_BLOCK) < 0 || !d.device)
		return fail(NAME, 1, "no virtio-blk function with a device config");
	if (virtio_negotiate(&d, 1ULL << VIRTIO_BLK_F_RO | 1ULL << VIRTIO_BLK_F_FLUSH) < 0)
		return fail(NAME, 2, "feature negotiation");
	if (vq_setup(&d, 0, 0) < 0)
		return fail(NAME, 3, "request queue setup");
	if ((virtio_driver_ok(&d) & (VIRTIO_S_DRIVER_OK | VIRTIO_S_NEEDS_RESET)) !=
	    VIRTIO_S_DRIVER_OK)
		return fail(NAME, 4, "DRIVER_OK did not stick");
	q = &d.vqs[0];
	hdr = alloc_pages(1);
	status = alloc_pages(1);
	buf = alloc_pages(2);
	ro = d.features & 1ULL << VIRTIO_BLK_F_RO;
	capacity = read_capacity(&d);
	puts("capacity ");
	put_dec(capacity);
	puts(ro ? " ro\n" : " rw\n");
	if (capacity < 8)
		return fail(NAME, 5, "image too small for the test");

	if (read_sectors(0, 1, &len) != VIRTIO_BLK_S_OK || !sector_is(buf, 0, PAT_IMAGE))
		return fail(NAME, 6, "sector 0");
	/* §2.7.8.1: used len is what the device wrote: the data and the status byte. */
	if (len != SECTOR + 1)
		return fail(NAME, 7, "used length of a one-sector read");
	if (read_sectors(5, 1, NULL) != VIRTIO_BLK_S_OK || !sector_is(buf, 5, PAT_IMAGE))
		return fail(NAME, 8, "sector 5");
	memset(buf, 0, 2 * PAGE_SIZE);
	if (read_sectors(5, 2, &len) != VIRTIO_BLK_S_OK || !sector_is(buf, 5, PAT_IMAGE) ||
	    !sector_is(buf + PAGE_SIZE, 6, PAT_IMAGE) || len != 2 * SECTOR + 1)
		return fail(NAME, 9, "sectors 5-6 over two descriptors");

	memset(buf, 0, VIRTIO_BLK_ID_BYTES + 1);
	if (request(VIRTIO_BLK_T_GET_ID, 0, &(struct vbuf){ buf, VIRTIO_BLK_ID_BYTES, true }, 1,
		    NULL) != VIRTIO_BLK_S_OK)
		return fail(NAME, 10, "GET_ID");
	/* §5.2.6: NUL-padded, and not terminated when all 20 bytes are used. */
	puts("serial ");
	puts((char *)buf);
	putc('\n');

	for (i = 0; i < SECTOR; i++)
		buf[i] = pattern(3, i, PAT_WRITTEN);
	i = request(VIRTIO_BLK_T_OUT, 3, &(struct vbuf){ buf, SECTOR, false }, 1, &len);
	if (!ro) {
		if (i != VIRTIO_BLK_S_OK || len != 1)
			return fail(NAME, 11, "write sector 3");
		memset(buf, 0, SECTOR);
		if (read_sectors(3, 1, NULL) != VIRTIO_BLK_S_OK || !sector_is(buf, 3, PAT_WRITTEN))
			return fail(NAME, 12, "sector 3 does not read back what was written");
		if (!(d.features & 1ULL << VIRTIO_BLK_F_FLUSH) ||
		    request(VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL) != VIRTIO_BLK_S_OK)
			return fail(NAME, 13, "flush");
	} else {
		/* §5.2.6.2: a write to a read-only device fails and writes nothing. */
		if (i != VIRTIO_BLK_S_IOERR)
			return fail(NAME, 14, "write to a read-only disk did not fail with IOERR");
		if (read_sectors(3, 1, NULL) != VIRTIO_BLK_S_OK || !sector_is(buf, 3, PAT_IMAGE))
			return fail(NAME, 15, "read-only sector 3 changed");
	}

	if (read_sectors(capacity, 1, NULL) != VIRTIO_BLK_S_IOERR)
		return fail(NAME, 16, "read at the capacity did not fail with IOERR");
	if (read_sectors(capacity - 1, 2, NULL) != VIRTIO_BLK_S_IOERR)
		return fail(NAME, 17, "read across the capacity did not fail with IOERR");
	/* sector << 9 wraps to 0: only a capacity check before the shift catches it. */
	if (read_sectors(1ULL << 55, 1, NULL) != VIRTIO_BLK_S_IOERR)
		return fail(NAME, 18, "read at sector 2^55 did not fail with IOERR");
	if (request(0x7777, 0, &(struct vbuf){ buf, SECTOR, true }, 1, NULL) != VIRTIO_BLK_S_UNSUPP)
		return fail(NAME, 19, "unknown request type did not get UNSUPP");
	if (virtio_status(&d) !=
	    (VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK))
		return fail(NAME, 20, "device status changed by failed requests");
	puts(ro ? "VPS-MICRO blk64 ok ro\n" : "VPS-MICRO blk64 ok rw\n");
	return 0;
}
