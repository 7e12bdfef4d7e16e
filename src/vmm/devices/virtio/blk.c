// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio-blk (virtio 1.2 §5.2) with a raw image backend, on the device's I/O
 * thread (docs/vmm.md, "The block path"). With io_uring, reads, writes and
 * flushes go to the ring in batches: a notification pops what the driver queued, checks
 * each request, prepares one entry per request and submits them with one
 * system call; the ring's eventfd is in the I/O thread's epoll loop, which
 * reaps the completions and pushes them. GET_ID, DISCARD, WRITE_ZEROES and
 * every failed check complete at once. Without io_uring (the default: it
 * measured slower in L1; or a kernel that refuses it) each request is a
 * preadv/pwritev in the loop.
 *
 * Several request queues (VIRTIO_BLK_F_MQ) share the one thread and ring:
 * the guest's block layer gets a queue per vCPU and no lock between them.
 * What is in flight is bounded by BLK_INFLIGHT request slots, not by what
 * the guest queues: when they are all taken the queue waits (the chains
 * stay on its avail ring) until a completion frees one.
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
#include <liburing.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/devices/virtio/blk.h"
#include "vmm/devices/virtio/virtio.h"

/* Feature bits, §5.2.3 */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_MQ 12
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
#define BLK_CFG_NUM_QUEUES 34
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
#define BLK_INFLIGHT 128 /* requests on the ring at once, for all queues; its SQ size */
#define BLK_SLOT_IOV BLK_SEG_MAX /* data segments a ring request holds; more go synchronously */
#define BLK_QUEUED UINT32_MAX /* blk_request: on the ring, completed later */

/* One request on the ring: what its completion needs. */
struct blk_slot {
	uint16_t head; /* the chain, for the used ring */
	uint8_t q; /* its queue */
	uint8_t type; /* VIRTIO_BLK_T_IN, _OUT or _FLUSH */
	bool stale; /* the device was reset after it went out: complete nothing */
	uint8_t *status; /* the chain's status byte, in guest RAM */
	uint64_t pos, len; /* file range (len 0 for FLUSH) */
	unsigned int nr_iov;
	struct iovec iov[BLK_SLOT_IOV]; /* stable until the kernel took the entry */
};

struct blk {
	int fd;
	bool readonly;
	uint64_t capacity; /* in 512-byte sectors */
	char serial[VIRTIO_BLK_SERIAL_LEN];
	struct virtio_blk_stats stats;

	/* io_uring; uring false when not used */
	bool uring;
	bool ring_now; /* this notification is served on the I/O thread: the ring may be used */
	struct io_uring ring;
	int ring_efd; /* the ring's completion eventfd, in the I/O thread's loop */
	struct blk_slot *slot; /* BLK_INFLIGHT of them */
	uint16_t free[BLK_INFLIGHT]; /* a stack of free slot numbers */
	unsigned int nr_free;
	unsigned int unsubmitted; /* entries prepared since the last submit */
	uint32_t waiting; /* queues that found no free slot: served again after a reap */
	bool held; /* virtio_blk_hold(): notifications leave requests on the avail ring */

	/* the dirty-block log (virtio_blk_dirty_start), NULL when off: a bit per block */
	uint64_t *dirty;
	uint64_t dirty_blocks;
	uint64_t dirty_next; /* virtio_blk_dirty_take() goes on from this block */
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
 * [pos, pos + len) may have changed on the file: its blocks go into the log.
 * Called once a write has reached the file (or failed, which may have written
 * part), so a block taken from the log before that is marked again after.
 */
static void blk_dirty_mark(struct blk *b, uint64_t pos, uint64_t len)
{
	uint64_t first, last;

	if (!b->dirty || !len)
		return;
	first = pos >> VIRTIO_BLK_DIRTY_SHIFT;
	last = (pos + len - 1) >> VIRTIO_BLK_DIRTY_SHIFT;
	if (last >= b->dirty_blocks) /* not reached: requests are checked in_capacity() */
		last = b->dirty_blocks - 1;
	for (uint64_t i = first; i <= last; i++)
		b->dirty[i / 64] |= 1ULL << (i % 64);
}

/*
 * The bytes [skip, skip + len) of segments v[0 .. n) as at most `max`
 * iovecs. Returns how many, or -E2BIG when more would be needed.
 */
static int blk_iov(const struct virtq_iov *v, unsigned int n, uint64_t skip, uint64_t len,
		   struct iovec *out, unsigned int max)
{
	unsigned int i, k = 0;

	for (i = 0; i < n && len; i++) {
		uint64_t seg = v[i].len;

		if (skip >= seg) {
			skip -= seg;
			continue;
		}
		seg -= skip;
		if (seg > len)
			seg = len;
		if (k == max)
			return -E2BIG;
		out[k].iov_base = (uint8_t *)v[i].base + skip;
		out[k].iov_len = seg;
		k++;
		len -= seg;
		skip = 0;
	}
	return k;
}

/* Drop the first `n` bytes of an iovec list in place; returns the new count. */
static unsigned int iov_advance(struct iovec *iov, unsigned int cnt, uint64_t n)
{
	unsigned int i = 0;

	while (i < cnt && n >= iov[i].iov_len)
		n -= iov[i++].iov_len;
	if (i < cnt) {
		iov[i].iov_base = (uint8_t *)iov[i].iov_base + n;
		iov[i].iov_len -= n;
	}
	memmove(iov, iov + i, (cnt - i) * sizeof(*iov));
	return cnt - i;
}

/*
 * Read or write `len` bytes at `pos` from/to iov[0 .. cnt), which covers
 * exactly that much. Loops over short transfers (and finishes what the
 * ring did in part); end of file inside the capacity is an I/O error.
 */
static int blk_rw(const struct blk *b, struct iovec *iov, unsigned int cnt, uint64_t len,
		  uint64_t pos, bool write)
{
	while (len) {
		ssize_t r = write ? pwritev(b->fd, iov, cnt, pos) : preadv(b->fd, iov, cnt, pos);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			pr_ratelimited(LOG_WARN, "virtio-blk: %s at %llu: %s",
				       write ? "write" : "read", (unsigned long long)pos,
				       r < 0 ? strerror(errno) : "end of file");
			return -EIO;
		}
		cnt = iov_advance(iov, cnt, r);
		pos += r;
		len -= r;
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
static uint8_t blk_ranges(struct blk *b, const struct virtq_chain *c, uint32_t type)
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
		blk_dirty_mark(b, pos, len);
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

/* The last writable byte of a chain (in_bytes ≥ 1): the status, §5.2.6. */
static uint8_t *status_byte(const struct virtq_chain *c)
{
	unsigned int i = c->nr_out + c->nr_in;

	while (i-- > c->nr_out)
		if (c->iov[i].len)
			return (uint8_t *)c->iov[i].base + c->iov[i].len - 1;
	return NULL; /* not reached: in_bytes counts the lengths */
}

/*
 * Put a checked read, write or flush on the ring. Returns false when it
 * cannot go there (no ring, too many segments): the caller serves it.
 */
static bool blk_submit(struct blk *b, unsigned int q, const struct virtq_chain *c, uint8_t type,
		       uint64_t pos, uint64_t len)
{
	struct io_uring_sqe *sqe;
	struct blk_slot *s;
	unsigned int n;
	int k = 0;

	if (!b->ring_now || !b->nr_free)
		return false;
	n = b->free[b->nr_free - 1];
	s = &b->slot[n];
	if (type == VIRTIO_BLK_T_IN)
		k = blk_iov(c->iov + c->nr_out, c->nr_in, 0, len, s->iov, BLK_SLOT_IOV);
	else if (type == VIRTIO_BLK_T_OUT)
		k = blk_iov(c->iov, c->nr_out, BLK_HDR_LEN, len, s->iov, BLK_SLOT_IOV);
	if (k < 0)
		return false;
	sqe = io_uring_get_sqe(&b->ring);
	if (!sqe) /* not reached: the SQ has a place for every slot */
		return false;
	b->nr_free--;
	s->head = c->head; /* field by field: s->iov is filled already */
	s->q = q;
	s->type = type;
	s->stale = false;
	s->status = status_byte(c);
	s->pos = pos;
	s->len = len;
	s->nr_iov = k;
	if (type == VIRTIO_BLK_T_IN)
		io_uring_prep_readv(sqe, 0, s->iov, k, pos);
	else if (type == VIRTIO_BLK_T_OUT)
		io_uring_prep_writev(sqe, 0, s->iov, k, pos);
	else
		io_uring_prep_fsync(sqe, 0, IORING_FSYNC_DATASYNC);
	sqe->flags |= IOSQE_FIXED_FILE; /* file 0, the disk: the only one the ring may use */
	io_uring_sqe_set_data64(sqe, n);
	b->unsubmitted++;
	b->stats.uring_ops++;
	return true;
}

/*
 * Check the header of one request whose chain has at least one writable
 * byte. A read, write or flush that passes goes on the ring when it can
 * (BLK_QUEUED); everything else is served here: write the status and
 * return the number of bytes written into the chain.
 */
static uint32_t blk_request(struct blk *b, unsigned int q, const struct virtq_chain *c)
{
	uint64_t data_in = c->in_bytes - 1; /* writable bytes before the status */
	uint64_t data_out, pos;
	uint8_t status = VIRTIO_BLK_S_IOERR;
	uint32_t written = 0;
	struct iovec iov[VIRTQ_MAX_IOV];
	int k;
	struct {
		uint32_t type;
		uint32_t reserved;
		uint64_t sector;
	} hdr;

	if (c->out_bytes < BLK_HDR_LEN) {
		pr_ratelimited(LOG_WARN, "virtio-blk: request header too short");
		b->stats.errors++;
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
		if (blk_submit(b, q, c, VIRTIO_BLK_T_IN, pos, data_in))
			return BLK_QUEUED;
		k = blk_iov(c->iov + c->nr_out, c->nr_in, 0, data_in, iov, VIRTQ_MAX_IOV);
		if (k >= 0 && blk_rw(b, iov, k, data_in, pos, false) == 0) {
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
		if (blk_submit(b, q, c, VIRTIO_BLK_T_OUT, pos, data_out))
			return BLK_QUEUED;
		k = blk_iov(c->iov, c->nr_out, BLK_HDR_LEN, data_out, iov, VIRTQ_MAX_IOV);
		if (k >= 0)
			blk_dirty_mark(b, pos, data_out);
		if (k >= 0 && blk_rw(b, iov, k, data_out, pos, true) == 0) {
			status = VIRTIO_BLK_S_OK;
			b->stats.write_ops++;
			b->stats.write_bytes += data_out;
		}
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (!b->readonly && blk_submit(b, q, c, VIRTIO_BLK_T_FLUSH, 0, 0))
			return BLK_QUEUED;
		b->stats.flush_ops++;
		status = b->readonly || fdatasync(b->fd) == 0 ? VIRTIO_BLK_S_OK :
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
	if (status != VIRTIO_BLK_S_OK)
		b->stats.errors++;
	if (status == VIRTIO_BLK_S_IOERR)
		pr_ratelimited(LOG_DEBUG, "virtio-blk: request type %u sector %llu failed",
			       hdr.type, (unsigned long long)hdr.sector);
out:
	virtq_chain_write(c, data_in, &status, 1);
	return written + 1;
}

/* Hand the prepared entries to the kernel: one system call per batch. */
static void blk_flush_sq(struct blk *b)
{
	int r;

	if (!b->unsubmitted)
		return;
	r = io_uring_submit(&b->ring);
	if (r < 0) /* they stay in the SQ and go with the next batch */
		pr_ratelimited(LOG_WARN, "virtio-blk: io_uring submit: %s", strerror(-r));
	else
		b->unsubmitted -= (unsigned int)r < b->unsubmitted ? (unsigned int)r :
								     b->unsubmitted;
}

static void blk_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct blk *b = vdev->priv;
	struct virtq *vq = &vdev->vqs[q];
	struct virtq_chain c;
	uint32_t len;

	/* Held for a copy made outside: the requests wait on the avail ring. */
	if (b->held) {
		b->waiting |= 1u << q;
		return;
	}
	/*
	 * Only the I/O thread submits (its filter has io_uring_enter); a vCPU
	 * serving its own notification (no ioeventfd) does it synchronously.
	 */
	b->ring_now = b->uring && vdev->kick_async;
	for (;;) {
		/*
		 * No free slot: leave the rest on the avail ring until a
		 * completion frees one, so a flood costs nothing but waiting.
		 */
		if (b->ring_now && !b->nr_free) {
			b->waiting |= 1u << q;
			break;
		}
		if (virtq_pop(vq, &c) != 1)
			break;
		/* No writable byte, no status byte: nothing we can complete it with. */
		if (c.in_bytes == 0) {
			virtq_mark_broken(vq, "virtio-blk: request without a status byte");
			break;
		}
		len = blk_request(b, q, &c);
		if (len != BLK_QUEUED)
			virtq_push(vq, c.head, len);
	}
	if (b->ring_now)
		blk_flush_sq(b);
}

/* One ring completion: finish what the ring did in part, status, used ring. */
static void blk_complete(struct virtio_dev *vdev, struct blk *b, uint64_t n, int res,
			 uint32_t *done)
{
	struct blk_slot *s;
	uint8_t status = VIRTIO_BLK_S_OK;
	uint32_t written = 0;

	if (n >= BLK_INFLIGHT) /* not reached: user_data is ours */
		return;
	s = &b->slot[n];
	b->free[b->nr_free++] = n;
	if (s->stale)
		return;
	if (res < 0) {
		pr_ratelimited(LOG_WARN, "virtio-blk: %s at %llu: %s",
			       s->type == VIRTIO_BLK_T_IN  ? "read" :
			       s->type == VIRTIO_BLK_T_OUT ? "write" :
							     "flush",
			       (unsigned long long)s->pos, strerror(-res));
		status = VIRTIO_BLK_S_IOERR;
	} else if ((uint64_t)res < s->len) {
		unsigned int k = iov_advance(s->iov, s->nr_iov, res);

		if (blk_rw(b, s->iov, k, s->len - res, s->pos + res, s->type == VIRTIO_BLK_T_OUT))
			status = VIRTIO_BLK_S_IOERR;
	}
	if (s->type == VIRTIO_BLK_T_OUT) /* reached the file, or failed part way */
		blk_dirty_mark(b, s->pos, s->len);
	if (status == VIRTIO_BLK_S_OK && s->type == VIRTIO_BLK_T_IN) {
		written = s->len;
		b->stats.read_ops++;
		b->stats.read_bytes += s->len;
	} else if (status == VIRTIO_BLK_S_OK && s->type == VIRTIO_BLK_T_OUT) {
		b->stats.write_ops++;
		b->stats.write_bytes += s->len;
	} else if (s->type == VIRTIO_BLK_T_FLUSH) {
		b->stats.flush_ops++;
	}
	if (status != VIRTIO_BLK_S_OK)
		b->stats.errors++;
	*s->status = status;
	virtq_push(&vdev->vqs[s->q], s->head, written + 1);
	*done |= 1u << s->q;
}

/* Reap the CQ without a system call; returns how many completions. */
static unsigned int blk_reap_cq(struct virtio_dev *vdev, struct blk *b, uint32_t *done)
{
	struct io_uring_cqe *cqe;
	unsigned int head, seen = 0;

	io_uring_for_each_cqe(&b->ring, head, cqe)
	{
		blk_complete(vdev, b, io_uring_cqe_get_data64(cqe), cqe->res, done);
		seen++;
	}
	io_uring_cq_advance(&b->ring, seen);
	return seen;
}

/* Until nothing is in flight: a reset or the end must not leave the kernel writing. */
static void blk_drain(struct virtio_dev *vdev, struct blk *b, uint32_t *done)
{
	const struct timespec tick = { .tv_nsec = 100 * 1000 };

	/*
	 * No submit here: this may run on a vCPU (a reset), whose filter has
	 * no io_uring_enter. Entries a failed submit left go with the next one.
	 */
	while (b->nr_free + b->unsubmitted < BLK_INFLIGHT)
		if (!blk_reap_cq(vdev, b, done))
			nanosleep(&tick, NULL);
}

/* Interrupt each queue in `done` (a bit per queue) for what it completed. */
static void blk_queues_done(struct virtio_dev *vdev, uint32_t done)
{
	for (unsigned int q = 0; q < vdev->num_queues; q++)
		if (done & (1u << q))
			virtio_dev_queue_done(vdev, q);
}

void virtio_blk_reap(struct virtio_dev *vdev, bool wait)
{
	struct blk *b = vdev->priv;
	uint32_t done = 0, waiting;
	unsigned int q;

	if (!b->uring)
		return;
	if (wait)
		blk_drain(vdev, b, &done);
	else
		blk_reap_cq(vdev, b, &done);
	blk_queues_done(vdev, done);
	/* The queues that stopped for want of a slot go on where they stopped. */
	waiting = b->waiting;
	b->waiting = 0;
	for (q = 0; q < vdev->num_queues; q++)
		if (waiting & (1u << q))
			virtio_dev_queue_notify(vdev, q);
}

/*
 * For a snapshot (under vdev->lock, the vCPUs parked): wait out what is in
 * flight and complete it into the used ring, so the file holds no request
 * half done. Queues left waiting for a slot stay on the avail ring; the
 * caller kicks every queue after. Entries a failed submit left cannot go
 * from here (the control thread's filter has no io_uring_enter): -EBUSY.
 */
int virtio_blk_quiesce(struct virtio_dev *vdev)
{
	struct blk *b = vdev->priv;
	uint32_t done = 0;

	if (!b->uring)
		return 0;
	if (b->unsubmitted)
		return -EBUSY;
	blk_drain(vdev, b, &done);
	blk_queues_done(vdev, done);
	return 0;
}

void virtio_blk_hold(struct virtio_dev *vdev, bool on)
{
	struct blk *b = vdev->priv;

	b->held = on;
}

int virtio_blk_dirty_start(struct virtio_dev *vdev)
{
	struct blk *b = vdev->priv;
	uint64_t bytes = b->capacity << SECTOR_SHIFT;
	uint64_t blocks = (bytes + VIRTIO_BLK_DIRTY_BLOCK - 1) >> VIRTIO_BLK_DIRTY_SHIFT;
	uint64_t *map = calloc(blocks / 64 + 1, sizeof(*map));

	if (!map)
		return -ENOMEM;
	free(b->dirty);
	b->dirty = map;
	b->dirty_blocks = blocks;
	b->dirty_next = 0;
	return 0;
}

void virtio_blk_dirty_stop(struct virtio_dev *vdev)
{
	struct blk *b = vdev->priv;

	free(b->dirty);
	b->dirty = NULL;
	b->dirty_blocks = b->dirty_next = 0;
}

int virtio_blk_dirty_take(struct virtio_dev *vdev, uint64_t (*ranges)[2], unsigned int max,
			  bool *more)
{
	struct blk *b = vdev->priv;
	uint64_t bytes = b->capacity << SECTOR_SHIFT, i = b->dirty_next;
	unsigned int n = 0;

	*more = false;
	if (!b->dirty)
		return -ENOENT;
	while (i < b->dirty_blocks) {
		uint64_t w = b->dirty[i / 64] >> (i % 64), start, end;

		if (!w) { /* the rest of this word is clean */
			i = (i / 64 + 1) * 64;
			continue;
		}
		i += __builtin_ctzll(w);
		if (n == max) {
			*more = true;
			break;
		}
		start = i;
		while (i < b->dirty_blocks && (b->dirty[i / 64] & (1ULL << (i % 64)))) {
			b->dirty[i / 64] &= ~(1ULL << (i % 64));
			i++;
		}
		end = i << VIRTIO_BLK_DIRTY_SHIFT;
		ranges[n][0] = start << VIRTIO_BLK_DIRTY_SHIFT;
		ranges[n][1] = (end < bytes ? end : bytes) - ranges[n][0];
		n++;
	}
	/* where a call that filled `ranges` stopped; a complete pass starts over next time */
	b->dirty_next = *more ? i : 0;
	return n;
}

/* The I/O thread: the ring's eventfd says completions are waiting. */
static void blk_ring_ready(void *opaque, int fd, uint32_t events)
{
	struct virtio_dev *vdev = opaque;
	uint64_t n;

	(void)events;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&vdev->lock);
	virtio_blk_reap(vdev, false);
	pthread_mutex_unlock(&vdev->lock);
}

/* §2.4: what went out before the reset completes into nothing. */
static void blk_reset(struct virtio_dev *vdev)
{
	struct blk *b = vdev->priv;
	uint32_t done = 0;
	unsigned int i;

	if (!b->uring)
		return;
	for (i = 0; i < BLK_INFLIGHT; i++)
		b->slot[i].stale = true;
	blk_drain(vdev, b, &done);
	b->waiting = 0;
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

/*
 * IORING_REGISTER_RESTRICTIONS and _ENABLE_RINGS by hand: Debian 12's
 * liburing.so (2.3) declares the wrappers but does not export them.
 */
static int ring_register(struct io_uring *ring, unsigned int op, const void *arg, unsigned int nr)
{
	return syscall(__NR_io_uring_register, ring->ring_fd, op, arg, nr) < 0 ? -errno : 0;
}

/*
 * The ring, restricted before it is enabled to what blk_submit() puts on
 * it: READV, WRITEV and FSYNC on registered file 0 (the disk), and no
 * io_uring_register afterwards. io_uring's work runs in kernel threads
 * that seccomp does not see, so this, not the filter, is what keeps a
 * monitor taken over by its guest from opening files or sockets through
 * it. Returns 0 or -errno; the caller falls back.
 */
static int blk_ring_init(struct virtio_dev *vdev, struct blk *b)
{
	struct io_uring_params ip = { .flags = IORING_SETUP_R_DISABLED };
	struct io_uring_restriction res[] = {
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READV },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITEV },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FSYNC },
		{ .opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED, .sqe_flags = IOSQE_FIXED_FILE },
	};
	unsigned int i;
	int r;

	b->slot = calloc(BLK_INFLIGHT, sizeof(*b->slot));
	if (!b->slot)
		return -ENOMEM;
	r = io_uring_queue_init_params(BLK_INFLIGHT, &b->ring, &ip);
	if (r < 0)
		goto out_slot;
	if (!(ip.features & IORING_FEAT_SUBMIT_STABLE)) {
		r = -EOPNOTSUPP; /* the slot's iovecs must only last until submit returns */
		goto out_ring;
	}
	b->ring_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->ring_efd < 0) {
		r = -errno;
		goto out_ring;
	}
	r = io_uring_register_files(&b->ring, &b->fd, 1);
	if (r == 0)
		r = io_uring_register_eventfd(&b->ring, b->ring_efd);
	if (r == 0)
		r = ring_register(&b->ring, IORING_REGISTER_RESTRICTIONS, res,
				  sizeof(res) / sizeof(res[0]));
	if (r == 0)
		r = ring_register(&b->ring, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (r == 0)
		r = iothread_add(&vdev->io, b->ring_efd, EPOLLIN, blk_ring_ready, vdev);
	if (r < 0)
		goto out_efd;
	for (i = 0; i < BLK_INFLIGHT; i++)
		b->free[i] = BLK_INFLIGHT - 1 - i;
	b->nr_free = BLK_INFLIGHT;
	b->uring = true;
	return 0;
out_efd:
	close(b->ring_efd);
out_ring:
	io_uring_queue_exit(&b->ring);
out_slot:
	free(b->slot);
	b->slot = NULL;
	b->ring_efd = -1;
	return r;
}

static int blk_init(struct virtio_dev *vdev, const void *params)
{
	const struct virtio_blk_params *p = params;
	struct blk *b;
	int r;

	if (!p || p->fd < 0 || p->num_queues > vdev->ops->num_queues)
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
	b->ring_efd = -1;
	b->readonly = p->readonly;
	/* §5.2.6: 20 bytes, NUL-padded when shorter, not NUL-terminated when not. */
	if (p->serial)
		memcpy(b->serial, p->serial, strnlen(p->serial, sizeof(b->serial)));
	if (b->readonly) {
		vdev->host_features |= BIT_ULL(VIRTIO_BLK_F_RO);
		vdev->host_features &=
			~(BIT_ULL(VIRTIO_BLK_F_DISCARD) | BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES));
	}
	/* §5.2.5: num_queues is read only with MQ; one queue needs neither. */
	vdev->num_queues = p->num_queues ? p->num_queues : 1;
	if (vdev->num_queues > 1) {
		vdev->host_features |= BIT_ULL(VIRTIO_BLK_F_MQ);
		virtio_config_put16(vdev, BLK_CFG_NUM_QUEUES, vdev->num_queues);
	}
	if (p->io_uring) {
		r = blk_ring_init(vdev, b);
		if (r < 0)
			pr_warn("virtio-blk: io_uring: %s; requests go by pread/pwrite",
				strerror(-r));
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
	struct blk *b = vdev->priv;

	if (b->uring) {
		blk_reset(vdev); /* the I/O thread is stopped: nobody else reaps */
		io_uring_queue_exit(&b->ring);
		close(b->ring_efd);
		free(b->slot);
	}
	free(b->dirty);
	free(b);
}

const struct virtio_dev_ops virtio_blk_ops = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.pci_class = 0x018000, /* mass storage, other */
	.features = BIT_ULL(VIRTIO_BLK_F_SIZE_MAX) | BIT_ULL(VIRTIO_BLK_F_SEG_MAX) |
		    BIT_ULL(VIRTIO_BLK_F_FLUSH) | BIT_ULL(VIRTIO_BLK_F_DISCARD) |
		    BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES),
	.config_size = BLK_CFG_SIZE,
	.num_queues = VIRTIO_MAX_QUEUES, /* the most; init offers params.num_queues */
	.queue_max_size = BLK_QUEUE_SIZE,
	.init = blk_init,
	.uninit = blk_uninit,
	.notify = blk_notify,
	.reset = blk_reset,
};

void virtio_blk_get_stats(struct virtio_dev *vdev, struct virtio_blk_stats *s)
{
	struct blk *b = vdev->priv;

	pthread_mutex_lock(&vdev->lock);
	*s = b->stats;
	pthread_mutex_unlock(&vdev->lock);
}

bool virtio_blk_uses_io_uring(struct virtio_dev *vdev)
{
	return ((struct blk *)vdev->priv)->uring;
}

struct io_uring *virtio_blk_ring(struct virtio_dev *vdev)
{
	struct blk *b = vdev->priv;

	return b->uring ? &b->ring : NULL;
}
