/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A system container's own disk, after OpenVZ's ploop: an ext4 filesystem
 * in a regular file, thin (sparse) or reserved (fully allocated), attached
 * to a loop device and mounted as the container's root. The file's size is
 * the container's quota: a full disk inside fails with ENOSPC there and
 * cannot fill the host. Disks grow online (file, loop capacity, resize2fs)
 * and never shrink. The host's policy layer chooses thin or reserve; this
 * file only carries the choice out. See docs/ct-disk.md.
 */
#ifndef VPS_SYS_DISK_H
#define VPS_SYS_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

#define SYS_DISK_MIN_SIZE (16ULL << 20) /* below this ext4 + journal leave ~nothing */
#define SYS_DISK_ALIGN (1ULL << 20) /* sizes are whole MiB: no partial ext4 groups */

enum sys_disk_alloc {
	SYS_DISK_THIN, /* sparse file: charged by what is written */
	SYS_DISK_RESERVE, /* every block allocated up front: cannot be oversold */
};

/* Pure checks, shared by create and grow (and unit tested): -EINVAL + message. */
int sys_disk_check_size(uint64_t size, struct err **err);
int sys_disk_check_grow(uint64_t old_size, uint64_t new_size, struct err **err);

/*
 * Create `path` (which must not exist) of `size` bytes and make ext4 in it.
 * On any failure the file is removed again.
 */
int sys_disk_create(const char *path, uint64_t size, enum sys_disk_alloc alloc, struct err **err);

/*
 * Attach `path` to a free loop device; *loopdev gets "/dev/loopN" (caller
 * frees). The device stays attached after this process exits; sys_disk_mount
 * arms autoclear so that the last umount releases it.
 */
int sys_disk_attach(const char *path, bool readonly, char **loopdev, struct err **err);

/* Detach; a device that is already free (autoclear did it) is not an error. */
int sys_disk_detach(const char *loopdev, struct err **err);

/*
 * The loop device backing `path`, or *loopdev = NULL when none does. Compares
 * device and inode, so another name for the same file is found too.
 */
int sys_disk_find_loop(const char *path, char **loopdev, struct err **err);

/* Mount ext4 with only noatime (a rootfs needs its dev nodes and suid). */
int sys_disk_mount(const char *loopdev, const char *target, bool readonly, struct err **err);
/* The same with more MS_* flags (a host's own look inside: MS_NODEV | MS_NOSUID | MS_NOEXEC). */
int sys_disk_mount_flags(const char *loopdev, const char *target, unsigned long flags,
			 struct err **err);
int sys_disk_umount(const char *target, struct err **err);

/*
 * Grow `path` to `new_size`. With `loopdev` (the device attached to path,
 * mounted or not) the loop device learns the new capacity and resize2fs
 * grows the filesystem, online when it is mounted. With NULL the image must
 * not be attached anywhere, and is checked and resized offline.
 */
int sys_disk_grow(const char *path, const char *loopdev, uint64_t new_size, struct err **err);

/* Apparent size (st_size) and bytes really allocated (st_blocks * 512). */
int sys_disk_usage(const char *path, uint64_t *apparent, uint64_t *allocated, struct err **err);

#endif
