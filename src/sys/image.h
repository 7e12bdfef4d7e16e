/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Image files that are not a container's ext4 (disk.h): what the `vm` kind
 * makes of a template's images, and its swap disk. Neither is ever mounted
 * on the host.
 */
#ifndef VPS_SYS_IMAGE_H
#define VPS_SYS_IMAGE_H

#include <stdint.h>

#include "common/err.h"

/* Copy src to a new file dst (0600), holes kept (a reflink where it can). */
int sys_image_copy(const char *src, const char *dst, struct err **err);

/*
 * The same into `out`, a new empty file opened for writing, from `in`; the
 * names only for messages, and dst removed on failure as above. For a
 * caller that opens both before a pause and copies inside it.
 */
int sys_image_copy_fd(int in, int out, const char *src, const char *dst, struct err **err);

/*
 * Replace the image dst by a copy of src (a snapshot's), never leaving half
 * of one: copied to DST.new, synced, given dst's owner, mode and user.*
 * extended attributes, renamed over dst. A DST.new left by a crash is
 * replaced.
 */
int sys_image_replace(const char *src, const char *dst, struct err **err);

/* fsync the file at path: a copy on disk before anyone is told it is made. */
int sys_image_sync(const char *path, struct err **err);

/* A sparse swap image of `size` bytes at `path` (0600), made by mkswap with `label`. */
int sys_image_swap(const char *path, uint64_t size, const char *label, struct err **err);

#endif
