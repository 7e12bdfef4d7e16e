/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A bus of address ranges, each owned by one device through an ops table, in
 * the manner of kvmtool's ioport and mmio trees. Used for x86 port I/O now
 * and for MMIO (PCI BARs) later. Lookup is a linear scan: a VM has a dozen
 * ranges, and the scan is cheaper than the exit that led here.
 */
#ifndef VPS_VMM_IOBUS_H
#define VPS_VMM_IOBUS_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

#define IOBUS_MAX_RANGES 64

struct io_ops {
	/* off is relative to the range base; len is 1, 2, 4 or 8 */
	void (*read)(void *opaque, uint64_t off, void *data, unsigned int len);
	void (*write)(void *opaque, uint64_t off, const void *data, unsigned int len);
};

struct io_range {
	uint64_t base;
	uint64_t len;
	const struct io_ops *ops;
	void *opaque;
};

struct iobus {
	struct io_range r[IOBUS_MAX_RANGES];
	unsigned int nr;
};

/* Register [base, base+len); overlapping ranges are refused with -EBUSY. */
int iobus_register(struct iobus *bus, uint64_t base, uint64_t len, const struct io_ops *ops,
		   void *opaque);

/*
 * Dispatch an access. Reads from nowhere return all ones, as on a PC; writes
 * to nowhere are dropped. Returns 1 when a device took it, 0 otherwise.
 */
int iobus_access(struct iobus *bus, uint64_t addr, void *data, unsigned int len, int is_write);

/* An access's bytes (at most 8 are used) as a little-endian value, and back. */
static inline uint64_t iobus_load_le(const void *data, unsigned int len)
{
	uint64_t v = 0;

	memcpy(&v, data, len > 8 ? 8 : len);
	return le64toh(v);
}

static inline void iobus_store_le(void *data, unsigned int len, uint64_t v)
{
	v = htole64(v);
	memcpy(data, &v, len > 8 ? 8 : len);
}

#endif
