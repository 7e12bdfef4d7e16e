/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vhost-net (Linux's drivers/vhost/net.c): the host kernel serves one
 * virtio-net queue pair's rings itself, moving frames between guest memory
 * and a tap with no monitor thread in the path. The guest's notify write
 * reaches it through the queue's ioeventfd (KVM signals the eventfd vhost
 * polls); it signals "call" eventfds that the device's I/O thread turns into
 * the queue's interrupt (docs/vmm.md, "vhost-net").
 *
 * One `struct vhost_net` per queue pair: /dev/vhost-net is opened, owned and
 * given the guest's memory table before the jail (vhost_net_open); the
 * rings are handed over once the driver has set them up (vhost_net_start,
 * on the device's I/O thread), and taken back (vhost_net_stop: reset,
 * snapshot). The ioctls after the jail are the ones jail.c lets the device
 * and vCPU classes make.
 */
#ifndef VPS_VMM_VHOST_NET_H
#define VPS_VMM_VHOST_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

struct guest_mem;
struct virtq;

struct vhost_net {
	int fd; /* /dev/vhost-net, -1: none */
	uint64_t features; /* what the kernel's vhost-net offers (VHOST_GET_FEATURES) */
	bool running; /* the rings are the kernel's */
};

/*
 * Open /dev/vhost-net, become its owner and give it guest memory. -ENOENT
 * (no module, no node: the caller falls back to the user-space path) or
 * -errno with err filled.
 */
int vhost_net_open(struct vhost_net *v, const struct guest_mem *mem, struct err **err);
void vhost_net_close(struct vhost_net *v);

/*
 * Hand the pair's rings to the kernel: rx and tx are the pair's queues
 * (vhost's queue 0 and 1), kick[] the eventfds KVM signals on their notify
 * writes, call[] the eventfds vhost signals for an interrupt, tap_fd the
 * pair's tap queue, `features` the driver's. Each ring starts at its
 * queue's last_avail. 0 or -errno (nothing is left running).
 */
int vhost_net_start(struct vhost_net *v, struct virtq *rx, struct virtq *tx, const int kick[2],
		    const int call[2], int tap_fd, uint64_t features);

/*
 * Take the rings back: detach the tap, read where the kernel got to
 * (VHOST_GET_VRING_BASE) and put it, and the used index it wrote, in each
 * queue, so the user-space path or a snapshot goes on from there.
 */
void vhost_net_stop(struct vhost_net *v, struct virtq *rx, struct virtq *tx);

/* The bits of `features` the kernel's vhost-net takes (VHOST_SET_FEATURES). */
uint64_t vhost_net_features(const struct vhost_net *v, uint64_t features);

#endif
