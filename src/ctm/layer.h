/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Layered storage ("storage": "layered"): the template is unpacked once per
 * host into a shared read-only directory, and each container's root is an
 * overlayfs whose lower layer is an idmapped mount of it and whose upper
 * layer lives on the container's own disk. docs/ctm.md, "Layered storage".
 *
 *   DIR/disk.img   the container's ext4 image (its quota), mounted at DIR/disk
 *   DIR/disk/upper, DIR/disk/work   the overlay's upper and work directories
 *   DIR/template   a symlink to TEMPLATE_DIR/KEY/rootfs, made at create
 *   DIR/lower      the idmapped, read-only clone of that directory
 *   DIR/rootfs     the overlay: what the container sees as /
 */
#ifndef VPS_CTM_LAYER_H
#define VPS_CTM_LAYER_H

#include "ctm/config.h"

/*
 * Unpack the template into TEMPLATE_DIR once (under a lock, renamed into
 * place whole) and point DIR/template at it. Refuses a template whose ids
 * do not fit uid_size, or one that changed since it was unpacked.
 */
int ctm_layer_prepare(const struct ctm_config *c, struct err **err);
/* Mount disk, lower and overlay, each unless it is mounted already. */
int ctm_layer_mount(const struct ctm_config *c, struct err **err);
/* Unmount overlay, lower, disk (the reverse order), each if mounted. */
int ctm_layer_umount(const struct ctm_config *c, struct err **err);
/* Remove DIR/template, DIR/lower and DIR/disk (after ctm_layer_umount). */
int ctm_layer_remove(const struct ctm_config *c, struct err **err);

#endif
