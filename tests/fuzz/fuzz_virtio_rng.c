// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: virtio-rng (src/vmm/devices/virtio/rng.c) filling whatever
 * chains a hostile driver posts. Input: tests/fuzz/vdev.h.
 */
#include <stdlib.h>

#include "vdev.h"

static struct virtio_dev vdev;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fuzz_vdev_run run;

	if (!vdev.ops) {
		if (virtio_dev_init(&vdev, &virtio_rng_ops, fuzz_ram(), NULL) < 0)
			abort();
	}
	pthread_mutex_lock(&vdev.lock);
	fuzz_vdev_start(&vdev, &in, &run);
	fuzz_vdev_notify_all(&vdev, &run);
	fuzz_vdev_stop(&vdev);
	pthread_mutex_unlock(&vdev.lock);
	return 0;
}
