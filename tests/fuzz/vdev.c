// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The virtio device targets' driver: see vdev.h. It negotiates through the
 * same calls the PCI transport makes (virtio.c), so the device model sees
 * exactly what a guest driver would make it see.
 */
#include "vdev.h"

FUZZ_NOCOV
static void count_signal(struct virtio_dev *vdev, enum virtio_signal what, unsigned int q)
{
	(void)vdev;
	(void)what;
	(void)q;
}

const struct virtio_transport_ops fuzz_transport = { .signal = count_signal };

FUZZ_NOCOV
void fuzz_vdev_start(struct virtio_dev *vdev, struct fuzz_in *in, struct fuzz_vdev_run *run)
{
	uint8_t flags = fuzz_u8(in);
	uint64_t want = fuzz_u32(in) | BIT_ULL(VIRTIO_F_VERSION_1);
	uint16_t size = 2 << ((flags >> 2) & 3);
	unsigned int q, nq = vdev->num_queues; /* what the model offers */
	uint8_t *ram;

	if (flags & 1)
		want |= BIT_ULL(VIRTIO_F_EVENT_IDX);
	if (flags & 2)
		want |= BIT_ULL(VIRTIO_F_INDIRECT_DESC);
	run->nr_notify = fuzz_u8(in) % FUZZ_MAX_NOTIFY + 1;
	for (q = 0; q < run->nr_notify; q++)
		run->notify[q] = fuzz_u8(in) % nq;

	vdev->transport = &fuzz_transport;
	virtio_dev_set_status(vdev, 0);
	ram = fuzz_ram_reset();
	fuzz_take(in, ram, in->n < FUZZ_RAM_SIZE ? in->n : FUZZ_RAM_SIZE);
	virtio_dev_set_status(vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	want &= vdev->host_features;
	virtio_dev_set_guest_features(vdev, 0, want);
	virtio_dev_set_guest_features(vdev, 1, want >> 32);
	virtio_dev_set_status(vdev, vdev->status | VIRTIO_STATUS_FEATURES_OK);
	for (q = 0; q < nq; q++) {
		struct virtq *vq = &vdev->vqs[q];

		vq->size = size < vq->max_size ? size : vq->max_size;
		vq->desc_gpa = q * FUZZ_QUEUE_STRIDE;
		vq->avail_gpa = vq->desc_gpa + 0x100;
		vq->used_gpa = vq->desc_gpa + 0x200;
		virtio_dev_queue_enable(vdev, q);
	}
	virtio_dev_set_status(vdev, vdev->status | VIRTIO_STATUS_DRIVER_OK);
}

FUZZ_NOCOV
void fuzz_vdev_notify_all(struct virtio_dev *vdev, const struct fuzz_vdev_run *run)
{
	unsigned int i;

	for (i = 0; i < run->nr_notify; i++)
		virtio_dev_queue_notify(vdev, run->notify[i]);
}

FUZZ_NOCOV
void fuzz_vdev_stop(struct virtio_dev *vdev)
{
	virtio_dev_set_status(vdev, 0);
}
