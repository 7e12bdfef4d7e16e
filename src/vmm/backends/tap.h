/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A tap interface as the backend of virtio-net: the host side of the VM's
 * network card. The tap carries the 12-byte virtio-net header itself
 * (IFF_VNET_HDR), so frames move between tap and guest buffers with one
 * readv/writev and no copy.
 */
#ifndef VPS_VMM_TAP_H
#define VPS_VMM_TAP_H

#include <stdbool.h>

#include "common/err.h"

#define TAP_VNET_HDR_LEN 12 /* struct virtio_net_hdr_v1, virtio 1.2 §5.1.6 */

/*
 * Open (creating it if need be) the tap `name`. Returns the non-blocking fd
 * or -errno with err filled.
 */
int tap_open(const char *name, struct err **err);

/*
 * Open `want` queues of the multi-queue tap `name` into fds[0..want).
 * Returns how many were opened: `want`, or 1 when the tap is single-queue
 * and `required` is false; else -errno with err filled. want ≤ 1 is
 * tap_open().
 */
int tap_open_queues(const char *name, unsigned int want, bool required, int *fds, struct err **err);

#endif
