// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio-rng (virtio 1.2 §5.4): one request queue; each chain's writable
 * buffers are filled from the host's getrandom(). No features, no config.
 * A guest gets entropy at boot without waiting on its own interrupts.
 */
#include <errno.h>
#include <sys/random.h>

#include "common/log.h"
#include "vmm/devices/virtio/virtio.h"

#define RNG_QUEUE_SIZE 64
#define RNG_MAX_PER_CHAIN 65536 /* bytes per request; the driver asks again for more */

/* Fill up to `len` bytes; returns what was filled (getrandom may return less). */
static uint32_t rng_fill(void *buf, uint32_t len)
{
	uint32_t done = 0;

	while (done < len) {
		ssize_t n = getrandom((uint8_t *)buf + done, len - done, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_ratelimited(LOG_WARN, "virtio-rng: getrandom: %m");
			break;
		}
		done += n;
	}
	return done;
}

static void rng_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct virtq *vq = &vdev->vqs[q];
	struct virtq_chain c;

	while (virtq_pop(vq, &c) == 1) {
		uint32_t budget = RNG_MAX_PER_CHAIN, total = 0;
		unsigned int i;

		/* §5.4.6.1: readable buffers are a driver bug; they are simply ignored. */
		for (i = c.nr_out; i < c.nr_out + c.nr_in && budget; i++) {
			uint32_t want = c.iov[i].len < budget ? c.iov[i].len : budget;
			uint32_t got = rng_fill(c.iov[i].base, want);

			total += got;
			budget -= got;
			if (got < want)
				break;
		}
		virtq_push(vq, c.head, total);
	}
}

const struct virtio_dev_ops virtio_rng_ops = {
	.name = "rng",
	.device_id = VIRTIO_ID_RNG,
	.pci_class = 0xff0000, /* "device does not fit any defined class" */
	.num_queues = 1,
	.queue_max_size = RNG_QUEUE_SIZE,
	.notify = rng_notify,
};
