// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Address-range dispatch for port I/O and MMIO: see iobus.h.
 */
#include <errno.h>
#include <string.h>

#include "vmm/iobus.h"

int iobus_register(struct iobus *bus, uint64_t base, uint64_t len, const struct io_ops *ops,
		   void *opaque)
{
	unsigned int i;

	if (!len || base + len < base || !ops)
		return -EINVAL;
	if (bus->nr >= IOBUS_MAX_RANGES)
		return -ENOSPC;
	for (i = 0; i < bus->nr; i++) {
		const struct io_range *r = &bus->r[i];

		if (base < r->base + r->len && r->base < base + len)
			return -EBUSY;
	}
	bus->r[bus->nr++] = (struct io_range){ base, len, ops, opaque };
	return 0;
}

int iobus_access(struct iobus *bus, uint64_t addr, void *data, unsigned int len, int is_write)
{
	unsigned int i;

	for (i = 0; i < bus->nr; i++) {
		const struct io_range *r = &bus->r[i];

		if (addr < r->base || addr - r->base >= r->len)
			continue;
		if (is_write) {
			if (r->ops->write)
				r->ops->write(r->opaque, addr - r->base, data, len);
		} else if (r->ops->read) {
			r->ops->read(r->opaque, addr - r->base, data, len);
		} else {
			memset(data, 0xff, len);
		}
		return 1;
	}
	if (!is_write)
		memset(data, 0xff, len);
	return 0;
}
