/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VPS_HOST_MIGRATE_BLOCKS_H
#define VPS_HOST_MIGRATE_BLOCKS_H

#include <stdint.h>

#include "common/err.h"

/*
 * A live move's disk blocks (migrate_blocks.c, docs/cluster.md): the ranges
 * a disk's dirty-block log took since the copy, as a file the source writes
 * (begin, a range per call, end) and the destination applies over the images
 * that came before: every image one of `allow` (names in dirfd, plain files),
 * every range inside it, the file whole, all checked before a byte is
 * written. *bytes and *ranges: what was written.
 */
#define MIGRATE_BLOCKS_LEAF 64 /* an image's name, at most */
#define MIGRATE_BLOCKS_RANGE (64ULL << 20) /* a range's bytes, at most (longer: several) */
#define MIGRATE_BLOCKS_FILES 8 /* images in one file, at most */
int migrate_blocks_begin(int out, struct err **err);
int migrate_blocks_range(int out, const char *leaf, int img, uint64_t off, uint64_t len,
			 struct err **err);
int migrate_blocks_end(int out, struct err **err);
int migrate_blocks_apply(int dirfd, int in, const char *const *allow, unsigned long long *bytes,
			 unsigned int *ranges, struct err **err);

#endif
