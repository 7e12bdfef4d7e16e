// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: virtio-blk request parsing (src/vmm/devices/virtio/blk.c):
 * headers, sector ranges, discard and write-zeroes segments and the status
 * byte, all from a hostile driver, against a 64 KiB memfd image (read-write
 * or read-only, as the header's flags bit 4 says). Input: tests/fuzz/vdev.h.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vdev.h"
#include "vmm/devices/virtio/blk.h"

#define IMAGE_SIZE 0x10000

static struct virtio_dev vdev[2]; /* read-write, read-only */

static void open_disks(void)
{
	int fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
	unsigned int i;

	if (fd < 0 || ftruncate(fd, IMAGE_SIZE) < 0)
		abort();
	for (i = 0; i < 2; i++) {
		struct virtio_blk_params p = { .fd = fd,
					       .readonly = i,
					       .serial = "fuzz-disk-0001" };

		if (virtio_dev_init(&vdev[i], &virtio_blk_ops, fuzz_ram(), &p) < 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fuzz_vdev_run run;
	struct virtio_dev *d;

	if (!vdev[0].ops)
		open_disks();
	d = &vdev[size && (data[0] & 0x10)];
	pthread_mutex_lock(&d->lock);
	fuzz_vdev_start(d, &in, &run);
	fuzz_vdev_notify_all(d, &run);
	fuzz_vdev_stop(d);
	pthread_mutex_unlock(&d->lock);
	return 0;
}
