// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-net backend: see vhost_net.h. The kernel reads the rings through
 * the monitor's own mapping of guest RAM (the memory table maps each
 * guest-physical region to its host address), so the ring addresses it
 * gets are the host pointers virtqueue.c checked and mapped when the
 * driver enabled the queue.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/backends/vhost_net.h"
#include "vmm/devices/virtio/virtqueue.h"
#include "vmm/mem.h"

/*
 * What we may hand the kernel of the driver's features: the ring layout
 * and notification bits and MRG_RXBUF (which sets the header size). Bit 27
 * is VHOST_NET_F_VIRTIO_NET_HDR to vhost (it would add the header itself);
 * the tap carries it here, so it is never set.
 */
#define VHOST_RING_BITS                                                    \
	((1ULL << 15) /* MRG_RXBUF */ | (1ULL << 28) /* INDIRECT_DESC */ | \
	 (1ULL << 29) /* EVENT_IDX */ | (1ULL << 32) /* VERSION_1 */)

int vhost_net_open(struct vhost_net *v, const struct guest_mem *mem, struct err **err)
{
	struct vhost_memory *table;
	unsigned int i;
	int ret;

	v->fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	v->running = false;
	if (v->fd < 0)
		return errno == ENOENT ? -ENOENT : err_make(err, errno, "open /dev/vhost-net");
	if (ioctl(v->fd, VHOST_SET_OWNER, NULL) < 0) {
		ret = err_make(err, errno, "/dev/vhost-net: VHOST_SET_OWNER");
		goto fail;
	}
	if (ioctl(v->fd, VHOST_GET_FEATURES, &v->features) < 0) {
		ret = err_make(err, errno, "/dev/vhost-net: VHOST_GET_FEATURES");
		goto fail;
	}
	table = calloc(1, sizeof(*table) + mem->nr * sizeof(table->regions[0]));
	if (!table) {
		ret = err_make(err, ENOMEM, "/dev/vhost-net: memory table");
		goto fail;
	}
	table->nregions = mem->nr;
	for (i = 0; i < mem->nr; i++)
		table->regions[i] = (struct vhost_memory_region){
			.guest_phys_addr = mem->r[i].gpa,
			.memory_size = mem->r[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)mem->r[i].hva,
		};
	ret = ioctl(v->fd, VHOST_SET_MEM_TABLE, table);
	free(table);
	if (ret < 0) {
		ret = err_make(err, errno, "/dev/vhost-net: VHOST_SET_MEM_TABLE");
		goto fail;
	}
	return 0;
fail:
	close(v->fd);
	v->fd = -1;
	return ret;
}

void vhost_net_close(struct vhost_net *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
	v->running = false;
}

uint64_t vhost_net_features(const struct vhost_net *v, uint64_t features)
{
	return features & VHOST_RING_BITS & v->features;
}

static int start_ring(struct vhost_net *v, unsigned int i, struct virtq *vq, int kick, int call)
{
	struct vhost_vring_state num = { i, vq->size }, base = { i, vq->last_avail };
	struct vhost_vring_addr addr = {
		.index = i,
		.desc_user_addr = (uint64_t)(uintptr_t)vq->desc,
		.avail_user_addr = (uint64_t)(uintptr_t)vq->avail,
		.used_user_addr = (uint64_t)(uintptr_t)vq->used,
	};
	struct vhost_vring_file k = { i, kick }, c = { i, call };

	if (ioctl(v->fd, VHOST_SET_VRING_NUM, &num) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_BASE, &base) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_ADDR, &addr) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_KICK, &k) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_CALL, &c) < 0)
		return -errno;
	return 0;
}

/* Detach ring i from the tap and bring its position back into vq. */
static void stop_ring(struct vhost_net *v, unsigned int i, struct virtq *vq)
{
	struct vhost_vring_file none = { i, -1 };
	struct vhost_vring_state base = { i, 0 };
	uint16_t used;

	if (ioctl(v->fd, VHOST_NET_SET_BACKEND, &none) < 0)
		pr_warn("vhost-net: detach ring %u: %s", i, strerror(errno));
	if (ioctl(v->fd, VHOST_GET_VRING_BASE, &base) < 0) {
		pr_warn("vhost-net: ring %u: VHOST_GET_VRING_BASE: %s", i, strerror(errno));
		return;
	}
	/* vhost-net completes what it takes before it lets go: nothing in flight */
	memcpy(&used, vq->used + 2, sizeof(used));
	vq->last_avail = (uint16_t)base.num;
	vq->used_idx = le16toh(used);
	vq->signalled_valid = false; /* signal at the next push whatever used_event says */
}

int vhost_net_start(struct vhost_net *v, struct virtq *rx, struct virtq *tx, const int kick[2],
		    const int call[2], int tap_fd, uint64_t features)
{
	uint64_t f = vhost_net_features(v, features);
	struct vhost_vring_file b0 = { 0, tap_fd }, b1 = { 1, tap_fd };
	int ret;

	if (ioctl(v->fd, VHOST_SET_FEATURES, &f) < 0)
		return -errno;
	ret = start_ring(v, 0, rx, kick[0], call[0]);
	if (ret == 0)
		ret = start_ring(v, 1, tx, kick[1], call[1]);
	if (ret == 0 && ioctl(v->fd, VHOST_NET_SET_BACKEND, &b0) < 0)
		ret = -errno;
	if (ret == 0 && ioctl(v->fd, VHOST_NET_SET_BACKEND, &b1) < 0) {
		ret = -errno;
		stop_ring(v, 0, rx);
	}
	v->running = ret == 0;
	return ret;
}

void vhost_net_stop(struct vhost_net *v, struct virtq *rx, struct virtq *tx)
{
	if (!v->running)
		return;
	stop_ring(v, 0, rx);
	stop_ring(v, 1, tx);
	v->running = false;
}
