// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: virtio-blk request parsing (src/vmm/devices/virtio/blk.c):
 * headers, sector ranges, discard and write-zeroes segments and the status
 * byte, all from a hostile driver, against a 64 KiB memfd image. The
 * header's flags bits 4-5 pick the device: read-write or read-only with
 * synchronous requests and one queue, or read-write with four queues and
 * io_uring, whose completions are then reaped (and the queues that waited
 * for a slot served again) as its I/O thread would. Input: tests/fuzz/vdev.h.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vdev.h"
#include "vmm/devices/virtio/blk.h"

#define IMAGE_SIZE 0x10000

#define NR_DISKS 3
static struct virtio_dev vdev[NR_DISKS]; /* read-write, read-only, read-write on io_uring */

static void open_disks(void)
{
	int fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
	unsigned int i;

	if (fd < 0 || ftruncate(fd, IMAGE_SIZE) < 0)
		abort();
	for (i = 0; i < NR_DISKS; i++) {
		struct virtio_blk_params p = { .fd = fd,
					       .readonly = i == 1,
					       .serial = "fuzz-disk-0001",
					       .num_queues = i == 2 ? 4 : 1,
					       .io_uring = i == 2 };

		if (virtio_dev_init(&vdev[i], &virtio_blk_ops, fuzz_ram(), &p) < 0)
			abort();
		/* the ring is used only for what the I/O thread serves */
		vdev[i].kick_async = i == 2;
	}
	if (!virtio_blk_uses_io_uring(&vdev[2]))
		abort(); /* the target would not test what it says */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fuzz_vdev_run run;
	struct virtio_dev *d;

	if (!vdev[0].ops)
		open_disks();
	d = &vdev[size ? (data[0] >> 4 & 3) % NR_DISKS : 0];
	pthread_mutex_lock(&d->lock);
	fuzz_vdev_start(d, &in, &run);
	fuzz_vdev_notify_all(d, &run);
	if (d == &vdev[2])
		virtio_blk_reap(d, true);
	fuzz_vdev_stop(d);
	pthread_mutex_unlock(&d->lock);
	return 0;
}
