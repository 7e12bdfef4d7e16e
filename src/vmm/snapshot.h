/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Snapshots of a running VM (docs/vmm.md, "Snapshots"): a directory holding
 * `state` (every vCPU, the in-kernel irqchip, PIT and clock, each device) and
 * `memory` (guest RAM, a sparse file of exactly the RAM's size).
 *
 * The state file is a 32-byte header (magic, version, body length, CRC-32 of
 * the body) and then sections: a 16-byte header (tag, id, length) and the
 * bytes, padded to 8. The reader takes nothing from the file on trust: the
 * header, every section bound and the checksum are checked before any byte
 * is used, each consumer asks for the exact length it expects, and every
 * value that indexes or sizes something is range-checked where it is loaded.
 */
#ifndef VPS_VMM_SNAPSHOT_H
#define VPS_VMM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SNAP_MAGIC "VPSVMST\n"
#define SNAP_VERSION 1
#define SNAP_MAX_STATE (16u << 20) /* bytes; a 64-vCPU VM writes well under 1 MiB */
#define SNAP_STATE_FILE "state"
#define SNAP_MEMORY_FILE "memory"

#define SNAP_TAG(a, b, c, d) \
	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

enum snap_tag {
	SNAP_VM = SNAP_TAG('V', 'M', ' ', ' '),
	SNAP_REGS = SNAP_TAG('R', 'E', 'G', 'S'),
	SNAP_SREGS = SNAP_TAG('S', 'R', 'E', 'G'),
	SNAP_FPU = SNAP_TAG('F', 'P', 'U', ' '),
	SNAP_XSAVE = SNAP_TAG('X', 'S', 'A', 'V'),
	SNAP_XCRS = SNAP_TAG('X', 'C', 'R', 'S'),
	SNAP_LAPIC = SNAP_TAG('L', 'A', 'P', 'I'),
	SNAP_MSRS = SNAP_TAG('M', 'S', 'R', 'S'),
	SNAP_MPSTATE = SNAP_TAG('M', 'P', 'S', 'T'),
	SNAP_EVENTS = SNAP_TAG('E', 'V', 'N', 'T'),
	SNAP_DEBUGREGS = SNAP_TAG('D', 'B', 'G', 'R'),
	SNAP_IRQCHIP = SNAP_TAG('I', 'R', 'Q', 'C'),
	SNAP_PIT = SNAP_TAG('P', 'I', 'T', ' '),
	SNAP_CLOCK = SNAP_TAG('C', 'L', 'O', 'K'),
	SNAP_SERIAL = SNAP_TAG('U', 'A', 'R', 'T'),
	SNAP_RTC = SNAP_TAG('R', 'T', 'C', ' '),
	SNAP_PM = SNAP_TAG('P', 'M', ' ', ' '),
	SNAP_PCIHOST = SNAP_TAG('P', 'C', 'I', 'H'),
	SNAP_VIRTIO = SNAP_TAG('V', 'I', 'O', ' '), /* id: PCI slot */
	SNAP_VIRTIO_MODEL = SNAP_TAG('V', 'I', 'O', 'M'), /* id: PCI slot */
};

/* A state file being written: sections appended to a growing buffer. */
struct snap_w {
	uint8_t *buf;
	size_t len, cap;
	unsigned int nr;
	int err; /* first failure (-ENOMEM), reported by snap_w_finish */
};

void snap_w_init(struct snap_w *w);
void snap_put(struct snap_w *w, uint32_t tag, uint32_t id, const void *data, size_t len);
/* Fill in the header: w->buf[0, w->len) is then a whole state image. Returns 0 or -errno. */
int snap_w_finish(struct snap_w *w);
/* Write the header and the sections to `fd`. Returns 0 or -errno. */
int snap_w_write(struct snap_w *w, int fd);
void snap_w_free(struct snap_w *w);

struct snap_sec {
	uint32_t tag, id, len;
	const uint8_t *data;
};

/* A state file read and checked whole. */
struct snap_r {
	uint8_t *buf;
	size_t len;
	struct snap_sec *sec;
	unsigned int nr;
};

/* Read and check `fd` (header, checksum, section bounds); the error says what is wrong. */
int snap_r_open(struct snap_r *r, int fd, struct err **err);
/* Parse a state file image already in memory (unit tests, fuzzing); takes `buf`. */
int snap_r_parse(struct snap_r *r, uint8_t *buf, size_t len, struct err **err);
void snap_r_free(struct snap_r *r);
/*
 * Section (tag, id) of exactly `len` bytes, or NULL with *err saying which
 * is missing or has the wrong size.
 */
const void *snap_get(const struct snap_r *r, uint32_t tag, uint32_t id, size_t len,
		     struct err **err);
/* Section (tag, id) of any length (*len set), or NULL when absent. */
const void *snap_find(const struct snap_r *r, uint32_t tag, uint32_t id, size_t *len);

uint32_t snap_crc32(const void *data, size_t len);

#endif
