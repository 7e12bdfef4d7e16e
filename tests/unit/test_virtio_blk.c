// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for virtio-blk against a memfd image and fake guest memory:
 * each request type through a real virtqueue, and the requests a hostile
 * guest can make (past capacity, short header, no status byte, writes to a
 * read-only disk), checking the status byte and that neither the image nor
 * guest memory changes where it must not. Every request test runs twice:
 * synchronously and through io_uring (completions reaped as the I/O thread
 * would); a flood of requests on several queues shows what is in flight
 * stays bounded.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <liburing.h>
#include <sys/socket.h>

#include "vmm/devices/virtio/blk.h"
#include "vmm/devices/virtio/virtio.h"
#include "virtq_driver.h"

#define RAM_SIZE 0x100000
#define DISK_SECTORS 2048
#define DISK_SIZE (DISK_SECTORS * 512)
#define RING_GPA 0x1000
#define HDR_GPA 0x10000
#define DATA_GPA 0x20000
#define ST_GPA 0x40000

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11
#define T_WRITE_ZEROES 13
#define T_BOGUS 99
#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2
#define F_RO 5
#define F_FLUSH 9
#define F_DISCARD 13
#define F_WRITE_ZEROES 14
#define F_MQ 12

struct fx {
	struct guest_mem mem;
	uint8_t *ram;
	int fd;
	struct virtio_dev vdev;
	struct vqd d;
	unsigned int queue_signals, config_signals;
	bool uring; /* io_uring, served as on the I/O thread */
	unsigned int nq; /* request queues asked for */
};

static void fake_signal(struct virtio_dev *vdev, enum virtio_signal what, unsigned int q)
{
	struct fx *f = vdev->transport_priv;

	if (what == VIRTIO_SIGNAL_QUEUE)
		f->queue_signals++;
	else
		f->config_signals++;
}

static const struct virtio_transport_ops fake_transport = { .signal = fake_signal };

/* Image sector s is filled with byte (s & 0x7f) | 0x80: never zero, easy to check. */
static uint8_t pattern(uint64_t sector)
{
	return (sector & 0x7f) | 0x80;
}

static void start(struct fx *f, bool readonly)
{
	struct virtio_blk_params p = { .fd = f->fd,
				       .readonly = readonly,
				       .serial = "vps-disk-0001",
				       .num_queues = f->nq,
				       .io_uring = f->uring };

	assert_int_equal(virtio_dev_init(&f->vdev, &virtio_blk_ops, &f->mem, &p), 0);
	/* this kernel has io_uring (kernel.io_uring_disabled is 0): the ring must come up */
	assert_int_equal(virtio_blk_uses_io_uring(&f->vdev), f->uring);
	f->vdev.kick_async = f->uring; /* notifications "on the I/O thread": the ring is used */
	f->vdev.transport = &fake_transport;
	f->vdev.transport_priv = f;
	virtio_dev_set_status(&f->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_dev_set_guest_features(&f->vdev, 0, f->vdev.host_features);
	virtio_dev_set_guest_features(&f->vdev, 1, f->vdev.host_features >> 32);
	virtio_dev_set_status(&f->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
						VIRTIO_STATUS_FEATURES_OK);
	assert_true(f->vdev.status & VIRTIO_STATUS_FEATURES_OK);
	vqd_init(&f->d, &f->mem, RING_GPA, 16);
	f->vdev.vqs[0].size = 16;
	f->vdev.vqs[0].desc_gpa = f->d.desc_gpa;
	f->vdev.vqs[0].avail_gpa = f->d.avail_gpa;
	f->vdev.vqs[0].used_gpa = f->d.used_gpa;
	assert_int_equal(virtio_dev_queue_enable(&f->vdev, 0), 0);
	virtio_dev_set_status(&f->vdev, f->vdev.status | VIRTIO_STATUS_DRIVER_OK);
	assert_true(f->vdev.status & VIRTIO_STATUS_DRIVER_OK);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t sec[512];
	unsigned int s;

	f->ram = calloc(1, RAM_SIZE);
	assert_int_equal(guest_mem_add(&f->mem, 0, RAM_SIZE, f->ram), 0);
	f->fd = memfd_create("test-disk", MFD_CLOEXEC);
	assert_true(f->fd >= 0);
	for (s = 0; s < DISK_SECTORS; s++) {
		memset(sec, pattern(s), sizeof(sec));
		assert_int_equal(pwrite(f->fd, sec, sizeof(sec), s * 512ULL), 512);
	}
	*state = f;
	return 0;
}

static int setup_rw(void **state)
{
	setup(state);
	start(*state, false);
	return 0;
}

static int setup_rw_uring(void **state)
{
	setup(state);
	((struct fx *)*state)->uring = true;
	start(*state, false);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_dev_uninit(&f->vdev);
	close(f->fd);
	free(f->ram);
	free(f);
	return 0;
}

static void put_hdr(struct fx *f, uint32_t type, uint64_t sector)
{
	uint32_t t = htole32(type), r = 0;
	uint64_t s = htole64(sector);

	memcpy(f->ram + HDR_GPA, &t, 4);
	memcpy(f->ram + HDR_GPA + 4, &r, 4);
	memcpy(f->ram + HDR_GPA + 8, &s, 8);
}

/* Submit a chain, run the device, return the used length (or -1: none). */
static int64_t submit(struct fx *f, const struct vqd_buf *b, unsigned int n)
{
	uint32_t id, len;

	f->ram[ST_GPA] = 0xee; /* no status written yet */
	vqd_publish(&f->d, vqd_add_chain(&f->d, b, n));
	virtio_dev_queue_notify(&f->vdev, 0);
	if (f->uring)
		virtio_blk_reap(&f->vdev, true);
	if (!vqd_get_used(&f->d, &id, &len))
		return -1;
	return len;
}

/* The common shape: header, data (readable for OUT, else writable), status. */
static int64_t request(struct fx *f, uint32_t type, uint64_t sector, uint32_t data_len)
{
	bool out = type == T_OUT || type == T_DISCARD || type == T_WRITE_ZEROES;
	struct vqd_buf b[3] = { { HDR_GPA, 16, false },
				{ DATA_GPA, data_len, !out },
				{ ST_GPA, 1, true } };

	put_hdr(f, type, sector);
	if (!data_len) {
		b[1] = b[2];
		return submit(f, b, 2);
	}
	return submit(f, b, 3);
}

static bool image_is(struct fx *f, uint64_t sector, unsigned int n, int byte)
{
	uint8_t sec[512];
	unsigned int i, j;

	for (i = 0; i < n; i++) {
		assert_int_equal(pread(f->fd, sec, sizeof(sec), (sector + i) * 512), 512);
		for (j = 0; j < sizeof(sec); j++)
			if (sec[j] != (byte < 0 ? pattern(sector + i) : byte))
				return false;
	}
	return true;
}

static void config_space(void **state)
{
	struct fx *f = *state;
	uint64_t cap;
	uint32_t seg_max;

	memcpy(&cap, f->vdev.config, 8);
	memcpy(&seg_max, f->vdev.config + 12, 4);
	assert_int_equal(le64toh(cap), DISK_SECTORS);
	assert_true(le32toh(seg_max) >= 1 && le32toh(seg_max) <= 126);
	assert_false(f->vdev.host_features & BIT_ULL(F_RO));
	assert_true(f->vdev.host_features & BIT_ULL(F_FLUSH));
	assert_true(f->vdev.host_features & BIT_ULL(F_DISCARD));
}

static void read_sectors(void **state)
{
	struct fx *f = *state;
	unsigned int i;

	assert_int_equal(request(f, T_IN, 2, 1024), 1025);
	assert_int_equal(f->ram[ST_GPA], S_OK);
	for (i = 0; i < 1024; i++)
		assert_int_equal(f->ram[DATA_GPA + i], pattern(2 + i / 512));
	assert_int_equal(f->queue_signals, 1);
}

static void write_sectors(void **state)
{
	struct fx *f = *state;

	memset(f->ram + DATA_GPA, 0x11, 512);
	assert_int_equal(request(f, T_OUT, 4, 512), 1);
	assert_int_equal(f->ram[ST_GPA], S_OK);
	assert_true(image_is(f, 4, 1, 0x11));
	assert_true(image_is(f, 3, 1, -1));
	assert_true(image_is(f, 5, 1, -1));
}

static void framing_is_not_assumed(void **state)
{
	struct fx *f = *state;
	/* Header split 8+8; the status byte shares the last descriptor with data. */
	struct vqd_buf b[] = { { HDR_GPA, 8, false },
			       { HDR_GPA + 8, 8, false },
			       { DATA_GPA, 513, true } };
	unsigned int i;

	put_hdr(f, T_IN, 7);
	assert_int_equal(submit(f, b, 3), 513);
	for (i = 0; i < 512; i++)
		assert_int_equal(f->ram[DATA_GPA + i], pattern(7));
	assert_int_equal(f->ram[DATA_GPA + 512], S_OK);
}

static void read_past_capacity(void **state)
{
	struct fx *f = *state;
	static const uint64_t bad[] = { DISK_SECTORS - 1, DISK_SECTORS, UINT64_MAX / 512 + 1,
					UINT64_MAX };
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(f->ram + DATA_GPA, 0xcc, 1024);
		assert_int_equal(request(f, T_IN, bad[i], 1024), 1);
		assert_int_equal(f->ram[ST_GPA], S_IOERR);
		assert_int_equal(f->ram[DATA_GPA], 0xcc); /* guest buffer untouched */
		assert_int_equal(f->ram[DATA_GPA + 1023], 0xcc);
	}
	assert_false(f->vdev.status & VIRTIO_STATUS_NEEDS_RESET);
}

static void write_past_capacity(void **state)
{
	struct fx *f = *state;
	struct stat st;

	memset(f->ram + DATA_GPA, 0x22, 1024);
	assert_int_equal(request(f, T_OUT, DISK_SECTORS - 1, 1024), 1);
	assert_int_equal(f->ram[ST_GPA], S_IOERR);
	assert_true(image_is(f, DISK_SECTORS - 1, 1, -1)); /* not even the part inside */
	assert_int_equal(request(f, T_OUT, UINT64_MAX / 512 + 1, 512), 1);
	assert_int_equal(f->ram[ST_GPA], S_IOERR);
	assert_int_equal(fstat(f->fd, &st), 0);
	assert_int_equal(st.st_size, DISK_SIZE); /* the image did not grow */
}

static void data_not_sector_multiple(void **state)
{
	struct fx *f = *state;

	assert_int_equal(request(f, T_IN, 0, 100), 1);
	assert_int_equal(f->ram[ST_GPA], S_IOERR);
	assert_int_equal(request(f, T_OUT, 0, 100), 1);
	assert_int_equal(f->ram[ST_GPA], S_IOERR);
	assert_true(image_is(f, 0, 1, -1));
}

static void header_too_short(void **state)
{
	struct fx *f = *state;
	struct vqd_buf b[] = { { HDR_GPA, 8, false }, { ST_GPA, 1, true } };

	put_hdr(f, T_OUT, 0);
	assert_int_equal(submit(f, b, 2), 1);
	assert_int_equal(f->ram[ST_GPA], S_IOERR);
	assert_false(f->vdev.status & VIRTIO_STATUS_NEEDS_RESET);
}

static void missing_status_byte(void **state)
{
	struct fx *f = *state;
	struct vqd_buf b[] = { { HDR_GPA, 16, false }, { DATA_GPA, 512, false } };

	memset(f->ram + DATA_GPA, 0x33, 512);
	put_hdr(f, T_OUT, 0);
	assert_int_equal(submit(f, b, 2), -1); /* nothing completes it */
	assert_true(f->vdev.status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(f->config_signals, 1);
	assert_true(image_is(f, 0, 1, -1)); /* and nothing was written */
	assert_int_equal(request(f, T_IN, 0, 512), -1); /* the device stays stopped */
}

static void zero_length_chain(void **state)
{
	struct fx *f = *state;
	struct vqd_buf b[] = { { HDR_GPA, 0, false }, { ST_GPA, 0, true } };

	assert_int_equal(submit(f, b, 2), -1);
	assert_true(f->vdev.status & VIRTIO_STATUS_NEEDS_RESET);
}

static void flush_and_unknown(void **state)
{
	struct fx *f = *state;

	assert_int_equal(request(f, T_FLUSH, 0, 0), 1);
	assert_int_equal(f->ram[ST_GPA], S_OK);
	assert_int_equal(request(f, T_BOGUS, 0, 0), 1);
	assert_int_equal(f->ram[ST_GPA], S_UNSUPP);
}

static void get_id(void **state)
{
	struct fx *f = *state;
	static const char want[20] = "vps-disk-0001";

	memset(f->ram + DATA_GPA, 0xcc, 64);
	assert_int_equal(request(f, T_GET_ID, 0, 20), 21);
	assert_int_equal(f->ram[ST_GPA], S_OK);
	assert_memory_equal(f->ram + DATA_GPA, want, 20);
	memset(f->ram + DATA_GPA, 0xcc, 64);
	assert_int_equal(request(f, T_GET_ID, 0, 8), 9); /* a short buffer gets a prefix */
	assert_memory_equal(f->ram + DATA_GPA, want, 8);
	assert_int_equal(f->ram[DATA_GPA + 8], 0xcc);
}

static void put_range(struct fx *f, unsigned int i, uint64_t sector, uint32_t n, uint32_t flags)
{
	uint64_t s = htole64(sector);
	uint32_t nn = htole32(n), fl = htole32(flags);

	memcpy(f->ram + DATA_GPA + 16 * i, &s, 8);
	memcpy(f->ram + DATA_GPA + 16 * i + 8, &nn, 4);
	memcpy(f->ram + DATA_GPA + 16 * i + 12, &fl, 4);
}

static void discard_and_write_zeroes_stay_thin(void **state)
{
	struct fx *f = *state;
	struct stat before, after;

	assert_int_equal(fstat(f->fd, &before), 0);
	put_range(f, 0, 8, 8, 0);
	put_range(f, 1, 32, 8, 0);
	assert_int_equal(request(f, T_DISCARD, 0, 32), 1);
	assert_int_equal(f->ram[ST_GPA], S_OK);
	put_range(f, 0, 16, 8, 0);
	assert_int_equal(request(f, T_WRITE_ZEROES, 0, 16), 1);
	assert_int_equal(f->ram[ST_GPA], S_OK);
	put_range(f, 0, 24, 8, 1); /* with VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP */
	assert_int_equal(request(f, T_WRITE_ZEROES, 0, 16), 1);
	assert_int_equal(f->ram[ST_GPA], S_OK);
	assert_true(image_is(f, 16, 16, 0));
	assert_true(image_is(f, 7, 1, -1));
	assert_true(image_is(f, 40, 1, -1));
	assert_int_equal(fstat(f->fd, &after), 0);
	assert_int_equal(after.st_size, DISK_SIZE);
	assert_true(after.st_blocks < before.st_blocks); /* holes, not written zeroes */
}

static void ranges_hostile(void **state)
{
	struct fx *f = *state;

	put_range(f, 0, DISK_SECTORS - 8, 16, 0); /* straddles the end */
	assert_int_equal(request(f, T_WRITE_ZEROES, 0, 16), 1);
	assert_int_equal(f->ram[ST_GPA], S_IOERR);
	assert_true(image_is(f, DISK_SECTORS - 8, 8, -1));
	put_range(f, 0, UINT64_MAX - 1, 4, 0); /* wraps */
	assert_int_equal(request(f, T_DISCARD, 0, 16), 1);
	assert_int_equal(f->ram[ST_GPA], S_IOERR);
	put_range(f, 0, 0, 8, 0);
	assert_int_equal(request(f, T_DISCARD, 0, 12), 1); /* not a whole segment */
	assert_int_equal(f->ram[ST_GPA], S_UNSUPP);
	assert_true(image_is(f, 0, 8, -1));
	assert_int_equal(request(f, T_DISCARD, 0, 0), 1); /* no segment at all */
	assert_int_equal(f->ram[ST_GPA], S_UNSUPP);
}

static void readonly_disk(void **state)
{
	struct fx *f = *state;

	start(f, true);
	assert_true(f->vdev.host_features & BIT_ULL(F_RO));
	assert_false(f->vdev.host_features & BIT_ULL(F_DISCARD));
	memset(f->ram + DATA_GPA, 0x44, 512);
	assert_int_equal(request(f, T_OUT, 0, 512), 1);
	assert_int_equal(f->ram[ST_GPA], S_IOERR);
	assert_true(image_is(f, 0, 1, -1));
	put_range(f, 0, 0, 8, 0);
	assert_int_equal(request(f, T_WRITE_ZEROES, 0, 16), 1);
	assert_int_equal(f->ram[ST_GPA], S_IOERR);
	assert_true(image_is(f, 0, 8, -1));
	assert_int_equal(request(f, T_IN, 0, 512), 513); /* reads still work */
	assert_int_equal(f->ram[ST_GPA], S_OK);
}

static int setup_uring(void **state)
{
	setup(state);
	((struct fx *)*state)->uring = true;
	return 0;
}

static void queue_count(void **state)
{
	struct fx *f = *state;
	struct virtio_blk_params p = { .fd = f->fd, .num_queues = 4 };
	uint16_t n;

	assert_int_equal(virtio_dev_init(&f->vdev, &virtio_blk_ops, &f->mem, &p), 0);
	assert_int_equal(f->vdev.num_queues, 4);
	assert_true(f->vdev.host_features & BIT_ULL(F_MQ));
	memcpy(&n, f->vdev.config + 34, 2);
	assert_int_equal(le16toh(n), 4);
	assert_int_equal(f->vdev.vqs[3].max_size, 128);
	assert_int_equal(f->vdev.vqs[4].max_size, 0); /* not offered */
	assert_int_equal(virtio_dev_queue_enable(&f->vdev, 4), -EINVAL);
	virtio_dev_uninit(&f->vdev);
	p.num_queues = 1;
	assert_int_equal(virtio_dev_init(&f->vdev, &virtio_blk_ops, &f->mem, &p), 0);
	assert_int_equal(f->vdev.num_queues, 1);
	assert_false(f->vdev.host_features & BIT_ULL(F_MQ));
	virtio_dev_uninit(&f->vdev);
	p.num_queues = VIRTIO_MAX_QUEUES + 1;
	assert_int_equal(virtio_dev_init(&f->vdev, &virtio_blk_ops, &f->mem, &p), -EINVAL);
	p.num_queues = 1; /* teardown uninits */
	assert_int_equal(virtio_dev_init(&f->vdev, &virtio_blk_ops, &f->mem, &p), 0);
}

#define FLOOD_Q 4
#define FLOOD_PER_Q 64 /* two descriptors each: a full queue of 128 */
#define FLOOD_N (FLOOD_Q * FLOOD_PER_Q)
#define FLOOD_RING 0x50000
#define FLOOD_HDR 0x60000
#define FLOOD_DATA 0x70000
#define FLOOD_STRIDE 520 /* 512 bytes of data and the status byte, rounded */

/* Negotiate and enable `nq` queues of 128 with their drivers in d[]. */
static void start_queues(struct fx *f, struct vqd *d, unsigned int nq)
{
	struct virtio_blk_params p = { .fd = f->fd, .num_queues = nq, .io_uring = f->uring };
	unsigned int q;

	assert_int_equal(virtio_dev_init(&f->vdev, &virtio_blk_ops, &f->mem, &p), 0);
	assert_int_equal(virtio_blk_uses_io_uring(&f->vdev), f->uring);
	f->vdev.kick_async = f->uring;
	f->vdev.transport = &fake_transport;
	f->vdev.transport_priv = f;
	virtio_dev_set_status(&f->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_dev_set_guest_features(&f->vdev, 0, f->vdev.host_features);
	virtio_dev_set_guest_features(&f->vdev, 1, f->vdev.host_features >> 32);
	virtio_dev_set_status(&f->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
						VIRTIO_STATUS_FEATURES_OK);
	for (q = 0; q < nq; q++) {
		vqd_init(&d[q], &f->mem, FLOOD_RING + q * 0x4000, 128);
		f->vdev.vqs[q].size = 128;
		f->vdev.vqs[q].desc_gpa = d[q].desc_gpa;
		f->vdev.vqs[q].avail_gpa = d[q].avail_gpa;
		f->vdev.vqs[q].used_gpa = d[q].used_gpa;
		assert_int_equal(virtio_dev_queue_enable(&f->vdev, q), 0);
	}
	virtio_dev_set_status(&f->vdev, f->vdev.status | VIRTIO_STATUS_DRIVER_OK);
	assert_true(f->vdev.status & VIRTIO_STATUS_DRIVER_OK);
}

/* Queue `per_q` reads of one sector on each queue: request n reads sector n. */
static void flood_publish(struct fx *f, struct vqd *d, unsigned int nq, unsigned int per_q)
{
	unsigned int q, i;

	for (q = 0; q < nq; q++) {
		for (i = 0; i < per_q; i++) {
			unsigned int n = q * per_q + i;
			uint64_t hdr = FLOOD_HDR + n * 16, data = FLOOD_DATA + n * FLOOD_STRIDE;
			struct vqd_buf b[2] = { { hdr, 16, false }, { data, 513, true } };
			uint32_t t = htole32(T_IN);
			uint64_t sec = htole64(n);

			memcpy(f->ram + hdr, &t, 4);
			memcpy(f->ram + hdr + 8, &sec, 8);
			memset(f->ram + data, 0, 512);
			f->ram[data + 512] = 0xee;
			vqd_publish(&d[q], vqd_add_chain(&d[q], b, 2));
		}
	}
}

static unsigned int used_count(struct vqd *d, unsigned int nq)
{
	unsigned int q, n = 0;
	uint32_t id, len;

	for (q = 0; q < nq; q++)
		while (vqd_get_used(&d[q], &id, &len)) {
			assert_int_equal(len, 513);
			n++;
		}
	return n;
}

/*
 * 256 requests on four queues against 128 slots: the device takes 128, the
 * rest wait on their avail rings, and each completes once slots free up.
 */
static void flood(struct fx *f)
{
	struct vqd d[FLOOD_Q];
	struct virtio_blk_stats st;
	unsigned int q, n, done, rounds = 0;

	start_queues(f, d, FLOOD_Q);
	flood_publish(f, d, FLOOD_Q, FLOOD_PER_Q);
	for (q = 0; q < FLOOD_Q; q++)
		virtio_dev_queue_notify(&f->vdev, q);
	virtio_blk_get_stats(&f->vdev, &st);
	if (f->uring) {
		assert_int_equal(st.uring_ops, 128); /* BLK_INFLIGHT, not 256 */
		assert_int_equal(used_count(d, FLOOD_Q), 0); /* nothing reaped yet */
		done = 0;
		while (done < FLOOD_N && rounds++ < 8) {
			virtio_blk_reap(&f->vdev, true);
			done += used_count(d, FLOOD_Q);
		}
		assert_int_equal(done, FLOOD_N);
		virtio_blk_get_stats(&f->vdev, &st);
		assert_int_equal(st.uring_ops, FLOOD_N);
	} else {
		assert_int_equal(st.uring_ops, 0);
		assert_int_equal(used_count(d, FLOOD_Q), FLOOD_N);
	}
	assert_int_equal(st.read_ops, FLOOD_N);
	for (n = 0; n < FLOOD_N; n++) {
		const uint8_t *data = f->ram + FLOOD_DATA + n * FLOOD_STRIDE;

		assert_int_equal(data[512], S_OK);
		assert_int_equal(data[0], pattern(n));
		assert_int_equal(data[511], pattern(n));
	}
}

static void flood_is_bounded(void **state)
{
	struct fx *f = *state;

	f->uring = true;
	flood(f);
}

static void flood_is_bounded_sync(void **state)
{
	flood(*state);
}

/* §2.4: a reset waits for what is in flight and completes none of it. */
static void reset_with_requests_in_flight(void **state)
{
	struct fx *f = *state;
	struct vqd d[1];
	struct virtio_blk_stats st;

	f->uring = true;
	start_queues(f, d, 1);
	flood_publish(f, d, 1, FLOOD_PER_Q);
	virtio_dev_queue_notify(&f->vdev, 0);
	virtio_blk_get_stats(&f->vdev, &st);
	assert_int_equal(st.uring_ops, FLOOD_PER_Q);
	virtio_dev_set_status(&f->vdev, 0);
	virtio_blk_reap(&f->vdev, true);
	assert_int_equal(used_count(d, 1), 0);
	assert_int_equal(f->ram[FLOOD_DATA + 512], 0xee); /* no status written */
	virtio_blk_get_stats(&f->vdev, &st);
	assert_int_equal(st.read_ops, 0);
	/* and the device works again after the driver sets it up anew, with every slot */
	virtio_dev_uninit(&f->vdev);
	flood(f);
}

/* Submit one entry on the disk's ring and wait for its result. */
static int ring_try(struct io_uring *r, struct io_uring_sqe *sqe)
{
	struct io_uring_cqe *cqe;
	int res;

	(void)sqe;
	assert_int_equal(io_uring_submit(r), 1);
	assert_int_equal(io_uring_wait_cqe(r, &cqe), 0);
	res = cqe->res;
	io_uring_cqe_seen(r, cqe);
	return res;
}

/*
 * The ring's restrictions, attacked as a monitor taken over by its guest
 * would: io_uring's work runs where seccomp does not look, so the ring
 * itself must refuse anything but READV, WRITEV and FSYNC on file 0.
 */
static void ring_refuses_other_operations(void **state)
{
	struct fx *f = *state;
	struct io_uring *r = virtio_blk_ring(&f->vdev);
	struct io_uring_sqe *sqe;
	uint8_t buf[512];
	struct iovec iov = { buf, sizeof(buf) };
	int fd = f->fd;

	assert_non_null(r);
	/* open a host file: not an allowed operation */
	sqe = io_uring_get_sqe(r);
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
	assert_int_equal(ring_try(r, sqe), -EACCES);
	sqe = io_uring_get_sqe(r);
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	assert_int_equal(ring_try(r, sqe), -EACCES);
	/* a read of a descriptor of the process's own, not the registered disk */
	sqe = io_uring_get_sqe(r);
	io_uring_prep_readv(sqe, fd, &iov, 1, 0);
	assert_int_equal(ring_try(r, sqe), -EACCES);
	/* a socket */
	sqe = io_uring_get_sqe(r);
	io_uring_prep_rw(IORING_OP_SOCKET, sqe, AF_INET, NULL, SOCK_STREAM, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	assert_int_equal(ring_try(r, sqe), -EACCES);
	/* and no changing the ring: no other file, no other eventfd, no unregister */
	assert_int_equal(io_uring_register_files_update(r, 0, &fd, 1), -EACCES);
	assert_int_equal(io_uring_register_eventfd(r, fd), -EACCES);
	assert_int_equal(io_uring_unregister_files(r), -EACCES);
	/* what the device itself does still works: the disk's sector 5 */
	sqe = io_uring_get_sqe(r);
	io_uring_prep_readv(sqe, 0, &iov, 1, 5 * 512);
	sqe->flags |= IOSQE_FIXED_FILE;
	assert_int_equal(ring_try(r, sqe), 512);
	assert_int_equal(buf[0], pattern(5));
	/* and the device on top of it */
	assert_int_equal(request(f, T_IN, 2, 512), 513);
	assert_int_equal(f->ram[ST_GPA], S_OK);
}

/* Take every range the log holds (max at a time), as {offset, length} pairs into out. */
static unsigned int take_all(struct fx *f, unsigned int max, uint64_t (*out)[2], unsigned int cap)
{
	unsigned int n = 0;
	bool more = true;

	while (more) {
		int r = virtio_blk_dirty_take(&f->vdev, out + n, max, &more);

		assert_true(r >= 0);
		n += r;
		assert_true(n <= cap);
	}
	return n;
}

/* The dirty-block log marks what writes, discards and write-zeroes changed, never reads. */
static void dirty_log_marks_what_changed(void **state)
{
	struct fx *f = *state;
	uint64_t r[16][2];
	bool more;

	assert_int_equal(virtio_blk_dirty_take(&f->vdev, r, 16, &more), -ENOENT);
	memset(f->ram + DATA_GPA, 0x22, 1024);
	assert_int_equal(request(f, T_OUT, 4, 512), 1); /* before the log: not in it */
	assert_int_equal(virtio_blk_dirty_start(&f->vdev), 0);
	assert_int_equal(take_all(f, 16, r, 16), 0);
	assert_int_equal(request(f, T_OUT, 4, 512), 1); /* block 0 */
	assert_int_equal(request(f, T_OUT, 254, 1024), 1); /* the end of 0, the start of 1 */
	assert_int_equal(request(f, T_IN, 600, 1024), 1025); /* block 4: read, not marked */
	assert_int_equal(request(f, T_OUT, DISK_SECTORS - 1, 512), 1); /* the last block */
	put_range(f, 0, 1024, 8, 0);
	assert_int_equal(request(f, T_DISCARD, 0, 16), 1); /* block 8 */
	put_range(f, 0, 1536, 8, 0);
	assert_int_equal(request(f, T_WRITE_ZEROES, 0, 16), 1); /* block 12 */
	assert_int_equal(request(f, T_OUT, DISK_SECTORS, 512), 1); /* past the end: refused */
	assert_int_equal(f->ram[ST_GPA], S_IOERR);
	assert_int_equal(take_all(f, 16, r, 16), 4);
	assert_int_equal(r[0][0], 0); /* 0 and 1 merged */
	assert_int_equal(r[0][1], 2 * VIRTIO_BLK_DIRTY_BLOCK);
	assert_int_equal(r[1][0], 8 * VIRTIO_BLK_DIRTY_BLOCK);
	assert_int_equal(r[1][1], VIRTIO_BLK_DIRTY_BLOCK);
	assert_int_equal(r[2][0], 12 * VIRTIO_BLK_DIRTY_BLOCK);
	assert_int_equal(r[3][0], 15 * VIRTIO_BLK_DIRTY_BLOCK);
	assert_int_equal(r[3][0] + r[3][1], DISK_SIZE); /* cut at the capacity */
	/* taken means cleared: only what is written after comes back */
	assert_int_equal(take_all(f, 16, r, 16), 0);
	assert_int_equal(request(f, T_OUT, 130, 512), 1);
	assert_int_equal(take_all(f, 16, r, 16), 1);
	assert_int_equal(r[0][0], 1 * VIRTIO_BLK_DIRTY_BLOCK);
	/* a small `max`: the rest waits for the next call, which goes on from there */
	assert_int_equal(request(f, T_OUT, 0, 512), 1);
	assert_int_equal(request(f, T_OUT, 256, 512), 1);
	assert_int_equal(request(f, T_OUT, 512, 512), 1);
	assert_int_equal(virtio_blk_dirty_take(&f->vdev, r, 2, &more), 2);
	assert_true(more);
	assert_int_equal(r[1][0], 2 * VIRTIO_BLK_DIRTY_BLOCK);
	assert_int_equal(request(f, T_OUT, 0, 512), 1); /* behind the cursor: next pass */
	assert_int_equal(virtio_blk_dirty_take(&f->vdev, r, 2, &more), 1);
	assert_false(more);
	assert_int_equal(r[0][0], 4 * VIRTIO_BLK_DIRTY_BLOCK);
	assert_int_equal(take_all(f, 2, r, 16), 1);
	assert_int_equal(r[0][0], 0);
	/* a restart starts clean; a stop ends it */
	assert_int_equal(request(f, T_OUT, 0, 512), 1);
	assert_int_equal(virtio_blk_dirty_start(&f->vdev), 0);
	assert_int_equal(take_all(f, 16, r, 16), 0);
	virtio_blk_dirty_stop(&f->vdev);
	assert_int_equal(virtio_blk_dirty_take(&f->vdev, r, 16, &more), -ENOENT);
	assert_int_equal(request(f, T_OUT, 0, 512), 1); /* and writes go on without it */
	assert_int_equal(f->ram[ST_GPA], S_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn)                                                    \
	cmocka_unit_test_setup_teardown(fn, setup_rw, teardown), \
		cmocka_unit_test_setup_teardown(fn, setup_rw_uring, teardown)
		T(config_space),
		T(read_sectors),
		T(write_sectors),
		T(framing_is_not_assumed),
		T(read_past_capacity),
		T(write_past_capacity),
		T(data_not_sector_multiple),
		T(header_too_short),
		T(missing_status_byte),
		T(zero_length_chain),
		T(flush_and_unknown),
		T(get_id),
		T(discard_and_write_zeroes_stay_thin),
		T(ranges_hostile),
		T(dirty_log_marks_what_changed),
#undef T
		cmocka_unit_test_setup_teardown(readonly_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(readonly_disk, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(queue_count, setup, teardown),
		cmocka_unit_test_setup_teardown(flood_is_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(flood_is_bounded_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(reset_with_requests_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(ring_refuses_other_operations, setup_rw_uring,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
