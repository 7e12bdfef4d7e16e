// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio-blk (virtio 1.2 §5.2) with a raw image backend. Requests are served
 * synchronously in the notify handler; blk_request() takes one popped chain
 * and returns what to push, so an I/O thread can call it later unchanged.
 *
 * A request is a 16-byte header the device reads, data, and one status byte
 * that is the last device-writable byte of the chain (§5.2.6). The guest
 * controls all of it: every sector range is checked against the capacity
 * before the file is touched, and framing is not assumed (§2.6.4), so a
 * header may span descriptors and the status byte may share one with data.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/devices/virtio/blk.h"
#include "vmm/devices/virtio/virtio.h"

/* Feature bits, §5.2.3 */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status values, §5.2.6 */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_WZ_F_UNMAP 1 /* discard/write-zeroes segment flag */

/* Config space offsets, struct virtio_blk_config in §5.2.4 */
#define BLK_CFG_CAPACITY 0
#define BLK_CFG_SIZE_MAX 8
#define BLK_CFG_SEG_MAX 12
#define BLK_CFG_MAX_DISCARD_SECTORS 36
#define BLK_CFG_MAX_DISCARD_SEG 40
#define BLK_CFG_DISCARD_ALIGN 44
#define BLK_CFG_MAX_WZ_SECTORS 48
#define BLK_CFG_MAX_WZ_SEG 52
#define BLK_CFG_WZ_MAY_UNMAP 56
#define BLK_CFG_SIZE 60

#define SECTOR_SHIFT 9
#define BLK_HDR_LEN 16
#define BLK_QUEUE_SIZE 128
#define BLK_SEG_MAX (BLK_QUEUE_SIZE - 2) /* room for header and status */
#define BLK_SIZE_MAX (1u << 20)
#define BLK_MAX_RANGE_SECTORS (1u << 22) /* 2 GiB per discard/write-zeroes segment */
#define BLK_MAX_RANGE_SEG 32

struct blk {
	int fd;
	bool readonly;
	uint64_t capacity; /* in 512-byte sectors */
	char serial[VIRTIO_BLK_SERIAL_LEN];
	struct virtio_blk_stats stats;
};

struct blk_range { /* §5.2.6: struct virtio_blk_discard_write_zeroes */
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

static bool in_capacity(const struct blk *b, uint64_t sector, uint64_t nsect)
{
	return sector <= b->capacity && nsect <= b->capacity - sector;
}

/*
 * Read or write `len` bytes of the file at `pos` from/to the chain's
 * segments [first, first + n), starting `skip` bytes in. Loops over short
 * transfers; end of file inside the capacity is an I/O error.
 */
static int blk_rw(const struct blk *b, const struct virtq_iov *iov, unsigned int n, uint64_t skip,
		  uint64_t len, uint64_t pos, bool write)
{
	unsigned int i;

	for (i = 0; i < n && len; i++) {
		uint8_t *p = iov[i].base;
		uint64_t seg = iov[i].len;

		if (skip >= seg) {
			skip -= seg;
			continue;
		}
		p += skip;
		seg -= skip;
		skip = 0;
		if (seg > len)
			seg = len;
		len -= seg;
		while (seg) {
			ssize_t r = write ? pwrite(b->fd, p, seg, pos) : pread(b->fd, p, seg, pos);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				pr_ratelimited(LOG_WARN, "virtio-blk: %s at %llu: %s",
					       write ? "write" : "read", (unsigned long long)pos,
					       r < 0 ? strerror(errno) : "end of file");
				return -EIO;
			}
			p += r;
			seg -= r;
			pos += r;
		}
	}
	return 0;
}

/* Zero a range the slow way, for files whose filesystem cannot fallocate. */
static int blk_write_zeroes_slow(const struct blk *b, uint64_t pos, uint64_t len)
{
	static const uint8_t zero[4096];

	while (len) {
		size_t n = len < sizeof(zero) ? len : sizeof(zero);
		ssize_t r = pwrite(b->fd, zero, n, pos);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EIO;
		pos += r;
		len -= r;
	}
	return 0;
}

/*
 * DISCARD and WRITE_ZEROES punch holes where they can, so a thin image stays
 * thin: a punched range reads back as zeroes, which is what both need.
 */
static uint8_t blk_ranges(const struct blk *b, const struct virtq_chain *c, uint32_t type)
{
	uint64_t bytes = c->out_bytes - BLK_HDR_LEN, i;

	if (b->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (bytes == 0 || bytes % sizeof(struct blk_range) ||
	    bytes / sizeof(struct blk_range) > BLK_MAX_RANGE_SEG)
		return VIRTIO_BLK_S_UNSUPP;
	for (i = 0; i < bytes / sizeof(struct blk_range); i++) {
		struct blk_range r;
		uint64_t pos, len;
		int mode;

		virtq_chain_read(c, BLK_HDR_LEN + i * sizeof(r), &r, sizeof(r));
		r.sector = le64toh(r.sector);
		r.num_sectors = le32toh(r.num_sectors);
		r.flags = le32toh(r.flags);
		if (r.num_sectors > BLK_MAX_RANGE_SECTORS || (r.flags & ~VIRTIO_BLK_WZ_F_UNMAP))
			return VIRTIO_BLK_S_UNSUPP;
		if (!in_capacity(b, r.sector, r.num_sectors))
			return VIRTIO_BLK_S_IOERR;
		pos = r.sector << SECTOR_SHIFT;
		len = (uint64_t)r.num_sectors << SECTOR_SHIFT;
		if (!len)
			continue;
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		if (type == VIRTIO_BLK_T_WRITE_ZEROES && !(r.flags & VIRTIO_BLK_WZ_F_UNMAP))
			mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
		if (fallocate(b->fd, mode, pos, len) == 0)
			continue;
		if (type == VIRTIO_BLK_T_DISCARD)
			continue; /* a discard is a hint; not honouring it is allowed */
		if ((mode & FALLOC_FL_ZERO_RANGE) &&
		    fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, pos, len) == 0)
			continue;
		if (blk_write_zeroes_slow(b, pos, len) < 0)
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/*
 * Serve one request whose chain has at least one writable byte; write the
 * status and return the number of bytes written into the chain.
 */
static uint32_t blk_request(struct blk *b, const struct virtq_chain *c)
{
	const struct virtq_iov *wr = c->iov + c->nr_out;
	uint64_t data_in = c->in_bytes - 1; /* writable bytes before the status */
	uint64_t data_out, pos;
	uint8_t status = VIRTIO_BLK_S_IOERR;
	uint32_t written = 0;
	struct {
		uint32_t type;
		uint32_t reserved;
		uint64_t sector;
	} hdr;

	if (c->out_bytes < BLK_HDR_LEN) {
		pr_ratelimited(LOG_WARN, "virtio-blk: request header too short");
		goto out;
	}
	virtq_chain_read(c, 0, &hdr, sizeof(hdr));
	hdr.type = le32toh(hdr.type);
	hdr.sector = le64toh(hdr.sector);
	data_out = c->out_bytes - BLK_HDR_LEN;
	pos = hdr.sector << SECTOR_SHIFT; /* used only once in_capacity() says it fits */

	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
		/* §5.2.6.1: data length is a multiple of 512 */
		if (data_in % 512 || !in_capacity(b, hdr.sector, data_in >> SECTOR_SHIFT))
			break;
		if (blk_rw(b, wr, c->nr_in, 0, data_in, pos, false) == 0) {
			status = VIRTIO_BLK_S_OK;
			written = data_in;
			b->stats.read_ops++;
			b->stats.read_bytes += data_in;
		}
		break;
	case VIRTIO_BLK_T_OUT:
		/* §5.2.6.2: a write to a read-only device fails and writes nothing */
		if (b->readonly || data_out % 512 ||
		    !in_capacity(b, hdr.sector, data_out >> SECTOR_SHIFT))
			break;
		if (blk_rw(b, c->iov, c->nr_out, BLK_HDR_LEN, data_out, pos, true) == 0) {
			status = VIRTIO_BLK_S_OK;
			b->stats.write_ops++;
			b->stats.write_bytes += data_out;
		}
		break;
	case VIRTIO_BLK_T_FLUSH:
		status = fdatasync(b->fd) == 0 || b->readonly ? VIRTIO_BLK_S_OK :
								VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_GET_ID:
		written = data_in < VIRTIO_BLK_SERIAL_LEN ? data_in : VIRTIO_BLK_SERIAL_LEN;
		virtq_chain_write(c, 0, b->serial, written);
		status = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		status = blk_ranges(b, c, hdr.type);
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	if (hdr.type == VIRTIO_BLK_T_FLUSH)
		b->stats.flush_ops++;
	if (status != VIRTIO_BLK_S_OK)
		b->stats.errors++;
	if (status == VIRTIO_BLK_S_IOERR)
		pr_ratelimited(LOG_DEBUG, "virtio-blk: request type %u sector %llu failed",
			       hdr.type, (unsigned long long)hdr.sector);
out:
	if (c->out_bytes < BLK_HDR_LEN)
		b->stats.errors++;
	virtq_chain_write(c, data_in, &status, 1);
	return written + 1;
}

static void blk_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct virtq *vq = &vdev->vqs[q];
	struct virtq_chain c;

	while (virtq_pop(vq, &c) == 1) {
		/* No writable byte, no status byte: nothing we can complete it with. */
		if (c.in_bytes == 0) {
			virtq_mark_broken(vq, "virtio-blk: request without a status byte");
			return;
		}
		virtq_push(vq, c.head, blk_request(vdev->priv, &c));
	}
}

static int blk_capacity(int fd, uint64_t *sectors)
{
	struct stat st;
	uint64_t bytes;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &bytes) < 0)
			return -errno;
	} else if (S_ISREG(st.st_mode)) {
		bytes = st.st_size;
	} else {
		return -EINVAL;
	}
	/* A trailing partial sector is not addressable. */
	*sectors = bytes >> SECTOR_SHIFT;
	return 0;
}

static int blk_init(struct virtio_dev *vdev, const void *params)
{
	const struct virtio_blk_params *p = params;
	struct blk *b;
	int r;

	if (!p || p->fd < 0)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	r = blk_capacity(p->fd, &b->capacity);
	if (r < 0) {
		pr_err("virtio-blk: cannot size the image: %s", strerror(-r));
		free(b);
		return r;
	}
	b->fd = p->fd;
	b->readonly = p->readonly;
	/* §5.2.6: 20 bytes, NUL-padded when shorter, not NUL-terminated when not. */
	if (p->serial)
		memcpy(b->serial, p->serial, strnlen(p->serial, sizeof(b->serial)));
	if (b->readonly) {
		vdev->host_features |= BIT_ULL(VIRTIO_BLK_F_RO);
		vdev->host_features &=
			~(BIT_ULL(VIRTIO_BLK_F_DISCARD) | BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES));
	}
	virtio_config_put64(vdev, BLK_CFG_CAPACITY, b->capacity);
	virtio_config_put32(vdev, BLK_CFG_SIZE_MAX, BLK_SIZE_MAX);
	virtio_config_put32(vdev, BLK_CFG_SEG_MAX, BLK_SEG_MAX);
	virtio_config_put32(vdev, BLK_CFG_MAX_DISCARD_SECTORS, BLK_MAX_RANGE_SECTORS);
	virtio_config_put32(vdev, BLK_CFG_MAX_DISCARD_SEG, BLK_MAX_RANGE_SEG);
	virtio_config_put32(vdev, BLK_CFG_DISCARD_ALIGN, 8); /* 4 KiB, the page of most images */
	virtio_config_put32(vdev, BLK_CFG_MAX_WZ_SECTORS, BLK_MAX_RANGE_SECTORS);
	virtio_config_put32(vdev, BLK_CFG_MAX_WZ_SEG, BLK_MAX_RANGE_SEG);
	vdev->config[BLK_CFG_WZ_MAY_UNMAP] = 1;
	vdev->priv = b;
	return 0;
}

static void blk_uninit(struct virtio_dev *vdev)
{
	free(vdev->priv);
}

const struct virtio_dev_ops virtio_blk_ops = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.pci_class = 0x018000, /* mass storage, other */
	.features = BIT_ULL(VIRTIO_BLK_F_SIZE_MAX) | BIT_ULL(VIRTIO_BLK_F_SEG_MAX) |
		    BIT_ULL(VIRTIO_BLK_F_FLUSH) | BIT_ULL(VIRTIO_BLK_F_DISCARD) |
		    BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES),
	.config_size = BLK_CFG_SIZE,
	.num_queues = 1,
	.queue_max_size = BLK_QUEUE_SIZE,
	.init = blk_init,
	.uninit = blk_uninit,
	.notify = blk_notify,
};

void virtio_blk_get_stats(struct virtio_dev *vdev, struct virtio_blk_stats *s)
{
	struct blk *b = vdev->priv;

	pthread_mutex_lock(&vdev->lock);
	*s = b->stats;
	pthread_mutex_unlock(&vdev->lock);
}
