/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A VM's NoCloud seed (vmdisk.c), for the `vm` kind. */
#ifndef VPS_HOST_VMDISK_H
#define VPS_HOST_VMDISK_H

#include <stdint.h>

#include "common/err.h"
#include "host/vps.h"

/*
 * Write DIR/seed.iso (0600), the VPS's cloud-init NoCloud seed: user-data
 * (#cloud-config: hostname, root's password as a SHA-512 crypt hash, SSH
 * keys, and `resolv` as /etc/resolv.conf when not NULL) and meta-data (an
 * instance-id digested from user-data, so a new seed is applied again).
 * Built in user space, replaced atomically.
 */
int vmdisk_seed(const char *dir, const struct vps *v, const char *password, const char *resolv,
		struct err **err);
/* Remove DIR's seed.iso and whatever a build of it left. */
void vmdisk_seed_remove(const char *dir);

#endif
