// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: virtio-scsi with its CD-ROM (src/vmm/devices/virtio/scsi.c)
 * serving whatever a hostile driver posts on the control, event and
 * request queues: any LUN address, CDB, allocation length and LBA range,
 * against a 64 KiB image (32 blocks) in a memfd. Input: tests/fuzz/vdev.h.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vdev.h"
#include "vmm/devices/virtio/scsi.h"

#define IMAGE_SIZE (64u << 10)

static struct virtio_dev vdev;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fuzz_vdev_run run;

	if (!vdev.ops) {
		struct virtio_scsi_params p = { .fd = memfd_create("fuzz-iso", MFD_CLOEXEC),
						.size = IMAGE_SIZE };

		if (p.fd < 0 || ftruncate(p.fd, IMAGE_SIZE) < 0 ||
		    virtio_dev_init(&vdev, &virtio_scsi_ops, fuzz_ram(), &p) < 0)
			abort();
	}
	pthread_mutex_lock(&vdev.lock);
	fuzz_vdev_start(&vdev, &in, &run);
	fuzz_vdev_notify_all(&vdev, &run);
	fuzz_vdev_stop(&vdev);
	pthread_mutex_unlock(&vdev.lock);
	return 0;
}
