// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: virtio-balloon (src/vmm/devices/virtio/balloon.c): frame
 * numbers on the inflate and deflate queues and the statistics a hostile
 * driver reports, then the monitor's side (a new target, reading the
 * statistics, which hands the held buffer back) and the queues once more.
 * Input: tests/fuzz/vdev.h; header flags bit 4 picks a reserved VM (RAM
 * locked); the target is the RAM image's last 8 bytes.
 */
#include <stdlib.h>

#include "vdev.h"
#include "vmm/devices/virtio/balloon.h"

static struct virtio_dev vdev[2]; /* normal, reserved */

FUZZ_NOCOV
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct virtio_balloon_stats st;
	struct fuzz_vdev_run run;
	struct virtio_dev *d;
	struct err *e = NULL;
	uint64_t target;
	unsigned int i;

	if (!vdev[0].ops) {
		for (i = 0; i < 2; i++) {
			struct virtio_balloon_params p = { .ram_size = FUZZ_RAM_SIZE,
							   .reserved = i };

			if (virtio_dev_init(&vdev[i], &virtio_balloon_ops, fuzz_ram(), &p) < 0)
				abort();
		}
	}
	d = &vdev[size && (data[0] & 0x10)];
	pthread_mutex_lock(&d->lock);
	fuzz_vdev_start(d, &in, &run);
	memcpy(&target, fuzz_ram()->r[0].hva + FUZZ_RAM_SIZE - 8, 8);
	fuzz_vdev_notify_all(d, &run);
	pthread_mutex_unlock(&d->lock);
	/* the monitor's calls take the lock themselves */
	if (virtio_balloon_set_target(d, target % (2 * FUZZ_RAM_SIZE), &e) < 0)
		err_free(&e);
	virtio_balloon_get_stats(d, &st);
	pthread_mutex_lock(&d->lock);
	fuzz_vdev_notify_all(d, &run);
	fuzz_vdev_stop(d);
	pthread_mutex_unlock(&d->lock);
	return 0;
}
