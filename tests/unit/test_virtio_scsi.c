// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for virtio-scsi's CD drive and its tray: commands through a
 * real request queue against memfd ISOs, the drive emptied and refilled
 * while the "guest" keeps sending, as the `media` control command does.
 * An empty drive answers NOT READY, MEDIUM NOT PRESENT; a new medium is
 * announced by exactly one UNIT ATTENTION; reads then come from the new
 * image, and nothing is read from the old one after it left.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/devices/virtio/scsi.h"
#include "vmm/devices/virtio/virtio.h"
#include "virtq_driver.h"

#define RAM_SIZE 0x100000
#define RING_GPA 0x1000
#define REQ_GPA 0x10000
#define RESP_GPA 0x11000
#define DATA_GPA 0x20000
#define REQ_LEN (8 + 8 + 3 + 32) /* lun, id, attr/prio/crn, cdb */
#define RESP_LEN (4 + 4 + 2 + 1 + 1 + 96)

struct fx {
	struct guest_mem mem;
	uint8_t *ram;
	struct virtio_dev vdev;
	struct vqd d;
};

static void fake_signal(struct virtio_dev *vdev, enum virtio_signal what, unsigned int q)
{
}

static const struct virtio_transport_ops fake_transport = { .signal = fake_signal };

/* An ISO of `blocks` 2 KiB blocks, every byte of block b = (b & 0x7f) | tag. */
static int iso(unsigned int blocks, uint8_t tag)
{
	uint8_t blk[SCSI_CD_BLOCK];
	int fd = memfd_create("test-iso", MFD_CLOEXEC);

	assert_true(fd >= 0);
	for (unsigned int b = 0; b < blocks; b++) {
		memset(blk, (b & 0x7f) | tag, sizeof(blk));
		assert_int_equal(pwrite(fd, blk, sizeof(blk), (off_t)b * SCSI_CD_BLOCK),
				 SCSI_CD_BLOCK);
	}
	return fd;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct virtio_scsi_params p = { .fd = iso(8, 0x80), .size = 8 * SCSI_CD_BLOCK };

	f->ram = calloc(1, RAM_SIZE);
	assert_int_equal(guest_mem_add(&f->mem, 0, RAM_SIZE, f->ram), 0);
	assert_int_equal(virtio_dev_init(&f->vdev, &virtio_scsi_ops, &f->mem, &p), 0);
	f->vdev.transport = &fake_transport;
	f->vdev.transport_priv = f;
	virtio_dev_set_status(&f->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_dev_set_guest_features(&f->vdev, 0, f->vdev.host_features);
	virtio_dev_set_guest_features(&f->vdev, 1, f->vdev.host_features >> 32);
	virtio_dev_set_status(&f->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
						VIRTIO_STATUS_FEATURES_OK);
	vqd_init(&f->d, &f->mem, RING_GPA, 16);
	f->vdev.vqs[2].size = 16;
	f->vdev.vqs[2].desc_gpa = f->d.desc_gpa;
	f->vdev.vqs[2].avail_gpa = f->d.avail_gpa;
	f->vdev.vqs[2].used_gpa = f->d.used_gpa;
	assert_int_equal(virtio_dev_queue_enable(&f->vdev, 2), 0);
	virtio_dev_set_status(&f->vdev, f->vdev.status | VIRTIO_STATUS_DRIVER_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int fd = virtio_scsi_change(&f->vdev, -1, 0);

	if (fd >= 0)
		close(fd);
	virtio_dev_uninit(&f->vdev);
	free(f->ram);
	free(f);
	return 0;
}

struct answer {
	uint8_t status, key, asc;
	uint32_t len; /* used length */
};

/* One command (cdb of 10 or 12 bytes) to LUN 0 with `data` bytes to read back. */
static struct answer cmd(struct fx *f, const uint8_t *cdb, size_t cdb_len, uint32_t data)
{
	uint8_t *req = f->ram + REQ_GPA, *resp = f->ram + RESP_GPA;
	struct vqd_buf b[3] = { { REQ_GPA, REQ_LEN, false },
				{ RESP_GPA, RESP_LEN, true },
				{ DATA_GPA, data, true } };
	struct answer a;
	uint32_t id;

	memset(req, 0, REQ_LEN);
	memset(resp, 0xee, RESP_LEN);
	req[0] = 1; /* lun[0] = 1, target 0, LUN 0 (0x4000) */
	req[2] = 0x40;
	memcpy(req + 19, cdb, cdb_len);
	vqd_publish(&f->d, vqd_add_chain(&f->d, b, data ? 3 : 2));
	virtio_dev_queue_notify(&f->vdev, 2);
	assert_true(vqd_get_used(&f->d, &id, &a.len));
	a.status = resp[10];
	a.key = resp[12 + 2];
	a.asc = resp[12 + 12];
	return a;
}

static const uint8_t TUR[10] = { 0x00 };
static const uint8_t INQUIRY[10] = { 0x12, 0, 0, 0, 36 };

static struct answer read10(struct fx *f, uint32_t lba, uint16_t n)
{
	uint8_t c[10] = { 0x28, 0, lba >> 24, lba >> 16, lba >> 8, lba, 0, n >> 8, n };

	return cmd(f, c, sizeof(c), n * SCSI_CD_BLOCK);
}

static uint32_t capacity(struct fx *f)
{
	uint8_t c[10] = { 0x25 };
	uint8_t *d = f->ram + DATA_GPA;

	assert_int_equal(cmd(f, c, sizeof(c), 8).status, 0);
	return (uint32_t)d[0] << 24 | d[1] << 16 | d[2] << 8 | d[3];
}

static void ejected_drive_is_not_ready(void **state)
{
	struct fx *f = *state;
	struct answer a;
	struct virtio_scsi_stats s;
	uint64_t blocks;
	int old;

	assert_int_equal(cmd(f, TUR, 10, 0).status, 0);
	assert_int_equal(capacity(f), 7);
	old = virtio_scsi_change(&f->vdev, -1, 0);
	assert_true(old >= 0);
	close(old);
	assert_false(virtio_scsi_medium(&f->vdev, &blocks));
	/* TEST UNIT READY, READ CAPACITY, READ: CHECK CONDITION, NOT READY, MEDIUM NOT PRESENT */
	a = cmd(f, TUR, 10, 0);
	assert_int_equal(a.status, 2);
	assert_int_equal(a.key, 0x02);
	assert_int_equal(a.asc, 0x3a);
	memset(f->ram + DATA_GPA, 0x11, SCSI_CD_BLOCK);
	a = read10(f, 0, 1);
	assert_int_equal(a.status, 2);
	assert_int_equal(a.asc, 0x3a);
	assert_int_equal(f->ram[DATA_GPA], 0x11); /* nothing read into the guest */
	/* INQUIRY still answers: the drive is there, only its tray is empty */
	assert_int_equal(cmd(f, INQUIRY, 10, 36).status, 0);
	assert_int_equal(f->ram[DATA_GPA], 0x05); /* peripheral type: CD/DVD */
	virtio_scsi_get_stats(&f->vdev, &s);
	assert_int_equal(s.media_changes, 1);
}

static void new_medium_is_announced_once_then_read(void **state)
{
	struct fx *f = *state;
	struct answer a;
	uint64_t blocks;
	int old = virtio_scsi_change(&f->vdev, iso(20, 0x00), 20 * SCSI_CD_BLOCK);

	assert_true(old >= 0);
	close(old);
	assert_true(virtio_scsi_medium(&f->vdev, &blocks));
	assert_int_equal(blocks, 20);
	/* INQUIRY does not consume the attention; the first other command does */
	assert_int_equal(cmd(f, INQUIRY, 10, 36).status, 0);
	a = cmd(f, TUR, 10, 0);
	assert_int_equal(a.status, 2);
	assert_int_equal(a.key, 0x06);
	assert_int_equal(a.asc, 0x28);
	assert_int_equal(cmd(f, TUR, 10, 0).status, 0);
	assert_int_equal(capacity(f), 19);
	/* block 12 of the new image (tag 0x00), where the old one had 8 blocks */
	a = read10(f, 12, 1);
	assert_int_equal(a.status, 0);
	assert_int_equal(f->ram[DATA_GPA], 12);
	assert_int_equal(f->ram[DATA_GPA + SCSI_CD_BLOCK - 1], 12);
	a = read10(f, 20, 1); /* past the new end */
	assert_int_equal(a.status, 2);
	assert_int_equal(a.key, 0x05);
}

static void too_small_a_medium_is_refused(void **state)
{
	struct fx *f = *state;
	int small = memfd_create("tiny", MFD_CLOEXEC);

	assert_int_equal(virtio_scsi_change(&f->vdev, small, 100), -EINVAL);
	close(small);
	/* the drive keeps what it had */
	assert_int_equal(cmd(f, TUR, 10, 0).status, 0);
	assert_int_equal(capacity(f), 7);
}

/* REQUEST SENSE answers the whole 18-byte fixed-format sense, no more and no
 * byte from beyond its buffer (the fuzzer found the host's stack read there). */
static void request_sense_is_eighteen_bytes(void **state)
{
	struct fx *f = *state;
	uint8_t c[10] = { 0x03, 0, 0, 0, 252 };
	uint8_t *d = f->ram + DATA_GPA;
	struct answer a;

	memset(d, 0xee, 64);
	a = cmd(f, c, sizeof(c), 64);
	assert_int_equal(a.status, 0);
	assert_int_equal(a.len, RESP_LEN + 18);
	assert_int_equal(d[0], 0x70); /* current, fixed format */
	assert_int_equal(d[7], 10); /* additional length */
	for (int i = 1; i < 18; i++)
		if (i != 7)
			assert_int_equal(d[i], 0);
	assert_int_equal(d[18], 0xee); /* nothing past it */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(ejected_drive_is_not_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(new_medium_is_announced_once_then_read, setup,
						teardown),
		cmocka_unit_test_setup_teardown(too_small_a_medium_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(request_sense_is_eighteen_bytes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
