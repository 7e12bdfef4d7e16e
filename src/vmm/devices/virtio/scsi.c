// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio-scsi with one CD-ROM: see scsi.h. Queue 0 is the control queue
 * (task management and async notification: answered "done, nothing to
 * report"), 1 the event queue (buffers kept, no event is ever sent), 2 the
 * one request queue. Every request's layout comes from the guest: the
 * header, the response and the data are found through the chain's readable
 * and writable byte streams (virtq_chain_read/write), never by assuming
 * which descriptor holds what (§2.6.4, "message framing").
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/devices/virtio/scsi.h"
#include "vmm/devices/virtio/virtio.h"

#define SCSI_QUEUE_SIZE 128
#define SCSI_CDB_SIZE 32
#define SCSI_SENSE_SIZE 96
#define SCSI_BOUNCE (64u << 10)

/* §5.6.6.1: the request header the driver sends, with our cdb_size. */
struct scsi_req {
	uint8_t lun[8];
	uint64_t id;
	uint8_t task_attr, prio, crn;
	uint8_t cdb[SCSI_CDB_SIZE];
} __attribute__((packed));

/* and the response the device writes, with our sense_size */
struct scsi_resp {
	uint32_t sense_len;
	uint32_t residual;
	uint16_t status_qualifier;
	uint8_t status;
	uint8_t response;
	uint8_t sense[SCSI_SENSE_SIZE];
} __attribute__((packed));

#define VIRTIO_SCSI_S_OK 0
#define VIRTIO_SCSI_S_BAD_TARGET 3
#define SAM_GOOD 0x00
#define SAM_CHECK_CONDITION 0x02

#define SENSE_ILLEGAL_REQUEST 0x05
#define ASC_INVALID_OPCODE 0x20
#define ASC_LBA_OUT_OF_RANGE 0x21
#define ASC_INVALID_FIELD 0x24
#define SENSE_MEDIUM_ERROR 0x03
#define ASC_READ_ERROR 0x11
#define SENSE_NOT_READY 0x02
#define ASC_NO_MEDIUM 0x3a
#define SENSE_UNIT_ATTENTION 0x06
#define ASC_MEDIUM_CHANGED 0x28

struct scsi_cd {
	int fd; /* -1: the drive is empty */
	uint64_t blocks;
	bool changed; /* a medium came in: the next command but a few gets UNIT ATTENTION */
	uint8_t *bounce;
	struct virtio_scsi_stats stats; /* under vdev->lock */
};

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static void check_condition(struct scsi_resp *r, uint8_t key, uint8_t asc)
{
	r->status = SAM_CHECK_CONDITION;
	r->sense_len = 18;
	r->sense[0] = 0x70; /* fixed format, current error */
	r->sense[2] = key;
	r->sense[7] = 10; /* additional length */
	r->sense[12] = asc;
}

/* Copy a reply of `len` bytes, cut at the allocation length the CDB gave. */
static uint32_t reply(const struct virtq_chain *c, const void *data, uint32_t len, uint32_t alloc)
{
	uint32_t n = len < alloc ? len : alloc;

	return virtq_chain_write(c, sizeof(struct scsi_resp), data, n);
}

static uint32_t inquiry(const struct virtq_chain *c, const uint8_t *cdb, struct scsi_resp *r)
{
	uint32_t alloc = cdb[3] << 8 | cdb[4];
	uint8_t d[36] = { 0x05, 0x80, 0x05, 0x02, 31 }; /* CD/DVD, removable, SPC-3 */

	if (cdb[1] & 1) { /* vital product data: only the list of pages */
		uint8_t vpd[5] = { 0x05, 0x00, 0x00, 1, 0x00 };

		if (cdb[2] != 0) {
			check_condition(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
			return 0;
		}
		return reply(c, vpd, sizeof(vpd), alloc);
	}
	memcpy(d + 8, "VPS     ", 8);
	memcpy(d + 16, "CD-ROM          ", 16);
	memcpy(d + 32, "1.0 ", 4);
	return reply(c, d, sizeof(d), alloc);
}

static uint32_t read_toc(struct scsi_cd *cd, const struct virtq_chain *c, const uint8_t *cdb)
{
	uint32_t alloc = cdb[7] << 8 | cdb[8];
	uint8_t d[20] = { 0, 18, 1, 1 }; /* length, first and last track */

	/* track 1 (data, at LBA 0) and the lead-out at the end */
	d[5] = 0x14;
	d[6] = 1;
	d[13] = 0x14;
	d[14] = 0xaa;
	put_be32(d + 16, cd->blocks);
	return reply(c, d, sizeof(d), alloc);
}

static uint32_t read_blocks(struct scsi_cd *cd, const struct virtq_chain *c, uint64_t lba,
			    uint32_t count, struct scsi_resp *r)
{
	uint64_t off = lba * SCSI_CD_BLOCK, left;
	uint32_t done = 0;

	if (lba > cd->blocks || count > cd->blocks - lba) {
		check_condition(r, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return 0;
	}
	left = (uint64_t)count * SCSI_CD_BLOCK;
	if (left > c->in_bytes - sizeof(*r))
		left = c->in_bytes - sizeof(*r); /* the rest is the residual */
	while (left) {
		size_t n = left < SCSI_BOUNCE ? left : SCSI_BOUNCE;
		ssize_t got = pread(cd->fd, cd->bounce, n, off);

		if (got <= 0) {
			pr_ratelimited(LOG_WARN, "virtio-scsi: read at %llu: %s",
				       (unsigned long long)off, got < 0 ? strerror(errno) : "EOF");
			check_condition(r, SENSE_MEDIUM_ERROR, ASC_READ_ERROR);
			return done;
		}
		virtq_chain_write(c, sizeof(*r) + done, cd->bounce, got);
		done += got;
		off += got;
		left -= got;
	}
	cd->stats.read_bytes += done;
	return done;
}

/* One command; returns the data bytes written after the response. */
static uint32_t command(struct scsi_cd *cd, const struct virtq_chain *c, const uint8_t *cdb,
			struct scsi_resp *r)
{
	uint32_t alloc;
	uint8_t d[18] = { 0 }; /* the largest reply built here: fixed-format sense */

	/*
	 * SPC: a new medium is announced once, on the next command that is not
	 * INQUIRY, REQUEST SENSE or REPORT LUNS (Linux's sr then rereads the
	 * capacity); an empty drive answers NOT READY, MEDIUM NOT PRESENT to
	 * everything that needs the medium.
	 */
	if (cd->changed && cdb[0] != 0x12 && cdb[0] != 0x03 && cdb[0] != 0xa0) {
		cd->changed = false;
		check_condition(r, SENSE_UNIT_ATTENTION, ASC_MEDIUM_CHANGED);
		return 0;
	}
	if (cd->fd < 0 && (cdb[0] == 0x00 || cdb[0] == 0x25 || cdb[0] == 0x28 || cdb[0] == 0xa8 ||
			   cdb[0] == 0x43)) {
		check_condition(r, SENSE_NOT_READY, ASC_NO_MEDIUM);
		return 0;
	}
	switch (cdb[0]) {
	case 0x00: /* TEST UNIT READY */
	case 0x1b: /* START STOP UNIT */
	case 0x1e: /* PREVENT ALLOW MEDIUM REMOVAL */
		return 0;
	case 0x03: /* REQUEST SENSE: nothing pending */
		d[0] = 0x70;
		d[7] = 10;
		return reply(c, d, 18, cdb[4]);
	case 0x12:
		return inquiry(c, cdb, r);
	case 0x25: /* READ CAPACITY(10) */
		put_be32(d, cd->blocks - 1);
		put_be32(d + 4, SCSI_CD_BLOCK);
		return reply(c, d, 8, 8);
	case 0x28: /* READ(10) */
		return read_blocks(cd, c, get_be32(cdb + 2), cdb[7] << 8 | cdb[8], r);
	case 0xa8: /* READ(12) */
		return read_blocks(cd, c, get_be32(cdb + 2), get_be32(cdb + 6), r);
	case 0x43: /* READ TOC, format 0 */
		if (cdb[2] & 0x0f) {
			check_condition(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
			return 0;
		}
		return read_toc(cd, c, cdb);
	case 0x1a: /* MODE SENSE(6): a header, no pages; write-protected */
		d[0] = 3;
		d[2] = 0x80;
		return reply(c, d, 4, cdb[4]);
	case 0x5a: /* MODE SENSE(10) */
		alloc = cdb[7] << 8 | cdb[8];
		d[1] = 6;
		d[3] = 0x80;
		return reply(c, d, 8, alloc);
	case 0xa0: /* REPORT LUNS: LUN 0 only */
		put_be32(d, 8);
		return reply(c, d, 16, get_be32(cdb + 6));
	default:
		check_condition(r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		return 0;
	}
}

static void scsi_request(struct scsi_cd *cd, struct virtq *vq, const struct virtq_chain *c)
{
	struct scsi_req req;
	struct scsi_resp r = { 0 };
	uint32_t data = 0;

	if (virtq_chain_read(c, 0, &req, sizeof(req)) < sizeof(req) || c->in_bytes < sizeof(r)) {
		cd->stats.errors++;
		pr_ratelimited(LOG_WARN, "virtio-scsi: request too short");
		virtq_push(vq, c->head, 0);
		return;
	}
	cd->stats.commands++;
	/* §5.6.6.1: lun[0] = 1, lun[1] = target, lun[2..3] = 0x4000 | LUN */
	if (req.lun[0] != 1 || req.lun[1] != 0 || (req.lun[2] & 0x3f) || req.lun[3]) {
		cd->stats.bad_target++;
		r.response = VIRTIO_SCSI_S_BAD_TARGET;
	} else {
		data = command(cd, c, req.cdb, &r);
		if (r.status != SAM_GOOD)
			cd->stats.errors++;
		r.residual = c->in_bytes - sizeof(r) - data;
	}
	virtq_chain_write(c, 0, &r, sizeof(r));
	virtq_push(vq, c->head, sizeof(r) + data);
}

static void scsi_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct scsi_cd *cd = vdev->priv;
	struct virtq *vq = &vdev->vqs[q];
	struct virtq_chain c;

	if (q == 1)
		return; /* event buffers wait for events that never come */
	while (virtq_pop(vq, &c) == 1) {
		if (q == 0) {
			/* TMF: response 0 (function complete); AN: no events, response 0 */
			static const uint8_t zeros[8];

			virtq_push(vq, c.head,
				   virtq_chain_write(&c, 0, zeros,
						     c.in_bytes < 8 ? c.in_bytes : 8));
			continue;
		}
		scsi_request(cd, vq, &c);
	}
}

static void put_le32(uint8_t *p, uint32_t v)
{
	memcpy(p, &(uint32_t){ htole32(v) }, 4);
}

static uint64_t cd_blocks(uint64_t size)
{
	uint64_t b = size / SCSI_CD_BLOCK;

	return b > UINT32_MAX ? UINT32_MAX : b; /* what READ CAPACITY(10) can say */
}

int virtio_scsi_change(struct virtio_dev *vdev, int fd, uint64_t size)
{
	struct scsi_cd *cd = vdev->priv;
	int old;

	if (fd >= 0 && size < SCSI_CD_BLOCK)
		return -EINVAL;
	pthread_mutex_lock(&vdev->lock);
	old = cd->fd;
	cd->fd = fd;
	cd->blocks = fd >= 0 ? cd_blocks(size) : 0;
	cd->changed = fd >= 0;
	cd->stats.media_changes++;
	pthread_mutex_unlock(&vdev->lock);
	return old;
}

static int scsi_init(struct virtio_dev *vdev, const void *params)
{
	const struct virtio_scsi_params *p = params;
	struct scsi_cd *cd;

	if (p->fd >= 0 && p->size < SCSI_CD_BLOCK)
		return -EINVAL;
	cd = calloc(1, sizeof(*cd));
	if (!cd)
		return -ENOMEM;
	cd->bounce = malloc(SCSI_BOUNCE);
	if (!cd->bounce) {
		free(cd);
		return -ENOMEM;
	}
	cd->fd = p->fd;
	cd->blocks = cd_blocks(p->size);
	vdev->priv = cd;
	/* §5.6.4 struct virtio_scsi_config */
	put_le32(vdev->config + 0, 1); /* num_queues (request queues) */
	put_le32(vdev->config + 4, SCSI_QUEUE_SIZE - 2); /* seg_max */
	put_le32(vdev->config + 8, 0xffff); /* max_sectors */
	put_le32(vdev->config + 12, SCSI_QUEUE_SIZE); /* cmd_per_lun */
	put_le32(vdev->config + 16, 16); /* event_info_size */
	put_le32(vdev->config + 20, SCSI_SENSE_SIZE);
	put_le32(vdev->config + 24, SCSI_CDB_SIZE);
	/* max_channel 0, max_target 0 (u16 each), max_lun 0 */
	return 0;
}

static void scsi_uninit(struct virtio_dev *vdev)
{
	struct scsi_cd *cd = vdev->priv;

	if (cd)
		free(cd->bounce);
	free(cd);
	vdev->priv = NULL;
}

/* sense_size and cdb_size are the only fields a driver may write (§5.6.4): ours stay. */
static void scsi_config_write(struct virtio_dev *vdev, unsigned int off, const void *data,
			      unsigned int len)
{
}

void virtio_scsi_get_stats(struct virtio_dev *vdev, struct virtio_scsi_stats *s)
{
	pthread_mutex_lock(&vdev->lock);
	*s = ((struct scsi_cd *)vdev->priv)->stats;
	pthread_mutex_unlock(&vdev->lock);
}

bool virtio_scsi_medium(struct virtio_dev *vdev, uint64_t *blocks)
{
	struct scsi_cd *cd = vdev->priv;
	bool in;

	pthread_mutex_lock(&vdev->lock);
	in = cd->fd >= 0;
	*blocks = cd->blocks;
	pthread_mutex_unlock(&vdev->lock);
	return in;
}

const struct virtio_dev_ops virtio_scsi_ops = {
	.name = "scsi",
	.device_id = VIRTIO_ID_SCSI,
	.pci_class = 0x010000, /* mass storage, SCSI */
	.config_size = 36,
	.num_queues = 3,
	.queue_max_size = SCSI_QUEUE_SIZE,
	.init = scsi_init,
	.uninit = scsi_uninit,
	.config_write = scsi_config_write,
	.notify = scsi_notify,
};
