/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A VM's disk images (vmdisk.c), for the `vm` kind. */
#ifndef VPS_HOST_VMDISK_H
#define VPS_HOST_VMDISK_H

#include <stdint.h>

#include "common/err.h"
#include "host/vps.h"

/* Copy src to a new file dst (0600), holes kept (a reflink where it can). */
int vmdisk_copy(const char *src, const char *dst, struct err **err);
/*
 * Write the VPS's hostname (/etc/hostname, /etc/hosts), root password
 * (SHA-512 crypt into /etc/shadow; NULL: left as it is) and SSH keys into
 * the ext4 image img, loop-mounted at mnt (made and removed here), and
 * `resolv` as /etc/resolv.conf (NULL: left as it is).
 */
int vmdisk_inject(const char *img, const char *mnt, const struct vps *v, const char *password,
		  const char *resolv, struct err **err);
/* A sparse swap disk of `size` bytes, labelled vps-swap for the template's vps-swap.service. */
int vmdisk_swap(const char *path, uint64_t size, struct err **err);

#endif
