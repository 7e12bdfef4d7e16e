/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A VM's NoCloud seed (vmdisk.c), for the `vm` kind. */
#ifndef VPS_HOST_VMDISK_H
#define VPS_HOST_VMDISK_H

#include <stdint.h>

#include "common/err.h"
#include "host/vps.h"

#include <jansson.h>

/*
 * Write DIR/seed.iso (0600), the VPS's cloud-init NoCloud seed: user-data
 * (#cloud-config: hostname, root's password as a SHA-512 crypt hash, SSH
 * keys, and `resolv` as /etc/resolv.conf when not NULL; `old_cloud_init`
 * (tmpl_old_cloud_init): the password in the form cloud-init before 22.3
 * reads, `chpasswd.list`, instead of `chpasswd.users`) and meta-data (an
 * instance-id digested from user-data, so a new seed is applied again);
 * with `net` (net_ct_settings: mac, ipv4, gw4, ipv6, gw6, nameservers),
 * network-config version 2 for the interface with that MAC.
 * Built in user space, replaced atomically.
 */
int vmdisk_seed(const char *dir, const struct vps *v, const char *password, const char *resolv,
		const json_t *net, bool old_cloud_init, struct err **err);
/* Remove DIR's seed.iso and whatever a build of it left. */
void vmdisk_seed_remove(const char *dir);

/*
 * The customer's own user-data (docs/vpsd.md, "Your own user-data"), kept
 * as DIR/user-data and put in the seed beside ours (MIME multipart, ours
 * first): at most VMDISK_USER_DATA_MAX bytes of UTF-8 text, no NUL, whose
 * first line says what it is as cloud-init reads it (#cloud-config, #!,
 * #include, #cloud-boothook, ...). The host reads no more of it than that
 * first line: the guest's cloud-init parses it.
 */
#define VMDISK_USER_DATA_MAX (64 << 10)
int vmdisk_user_data_check(const char *text, size_t len, struct err **err);
/* Write (replace) DIR/user-data, 0600, atomically; NULL text removes it. */
int vmdisk_user_data_put(const char *dir, const char *text, struct err **err);
/* DIR/user-data (caller frees), or NULL when there is none. */
char *vmdisk_user_data_get(const char *dir);

#endif
