// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * PCI host bridge, bus 0, configuration mechanism #1 and ECAM: see pci.h.
 *
 * Device 0 is the host bridge itself. It presents as Intel 8086:29c0, the
 * 82G33/P35 memory controller hub that QEMU's q35 machine also shows: a
 * host bridge every guest OS knows and binds no driver with side effects
 * to, and one that satisfies Linux's conf1 sanity check (arch/x86/pci/
 * direct.c wants an Intel device or a host bridge on bus 0 before it trusts
 * port 0xCF8).
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "vmm/devices/pci.h"
#include "vmm/snapshot.h"

#define CONF1_ENABLE 0x80000000u
#define CONF1_MASK 0x80fffffcu /* enable, bus, device, function, dword register */

void pci_cfg_put16(uint8_t *p, unsigned int off, uint16_t v)
{
	v = htole16(v);
	memcpy(p + off, &v, sizeof(v));
}

void pci_cfg_put32(uint8_t *p, unsigned int off, uint32_t v)
{
	v = htole32(v);
	memcpy(p + off, &v, sizeof(v));
}

uint16_t pci_cfg_get16(const uint8_t *p, unsigned int off)
{
	uint16_t v;

	memcpy(&v, p + off, sizeof(v));
	return le16toh(v);
}

uint32_t pci_cfg_get32(const uint8_t *p, unsigned int off)
{
	uint32_t v;

	memcpy(&v, p + off, sizeof(v));
	return le32toh(v);
}

void pci_dev_init(struct pci_dev *pdev, uint16_t vendor, uint16_t device, uint32_t class_code,
		  uint8_t revision, uint16_t subsys_vendor, uint16_t subsys_id)
{
	const struct pci_dev_ops *ops = pdev->ops;
	void *priv = pdev->priv;

	memset(pdev, 0, sizeof(*pdev));
	pdev->ops = ops;
	pdev->priv = priv;
	pci_cfg_put16(pdev->cfg, PCI_VENDOR_ID, vendor);
	pci_cfg_put16(pdev->cfg, PCI_DEVICE_ID, device);
	pdev->cfg[PCI_REVISION_ID] = revision;
	pdev->cfg[PCI_CLASS_PROG] = class_code & 0xff;
	pdev->cfg[PCI_CLASS_PROG + 1] = (class_code >> 8) & 0xff;
	pdev->cfg[PCI_CLASS_PROG + 2] = (class_code >> 16) & 0xff;
	pdev->cfg[PCI_HEADER_TYPE] = 0; /* type 0, single function */
	pci_cfg_put16(pdev->cfg, PCI_SUBSYSTEM_VENDOR_ID, subsys_vendor);
	pci_cfg_put16(pdev->cfg, PCI_SUBSYSTEM_ID, subsys_id);
	pci_cfg_put16(pdev->wmask, PCI_COMMAND,
		      PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | 0x0040 |
			      PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
	pdev->wmask[0x0c] = 0xff; /* cache line size: scratch for the OS */
	pdev->wmask[PCI_INTERRUPT_LINE] = 0xff;
	pdev->cap_end = 0x40; /* first byte after the standard header */
	pdev->cap_link = PCI_CAPABILITY_LIST;
}

int pci_dev_add_bar(struct pci_dev *pdev, unsigned int bar, uint64_t size, bool is64, bool prefetch)
{
	unsigned int off = PCI_BAR0 + 4 * bar;
	uint64_t mask = ~(size - 1);

	if (bar >= 6 || (is64 && bar >= 5) || size < 16 || (size & (size - 1)) ||
	    (!is64 && size > (1ULL << 31)) || pdev->bar_size[bar])
		return -EINVAL;
	pdev->bar_size[bar] = size;
	pdev->cfg[off] = (is64 ? PCI_BAR_MEM_64 : 0) | (prefetch ? PCI_BAR_PREFETCH : 0);
	/* Only the address bits above the size stick: that is the sizing protocol. */
	pci_cfg_put32(pdev->wmask, off, (uint32_t)mask & ~0xfu);
	if (is64)
		pci_cfg_put32(pdev->wmask, off + 4, (uint32_t)(mask >> 32));
	return 0;
}

int pci_dev_add_cap(struct pci_dev *pdev, uint8_t id, unsigned int len)
{
	unsigned int off = (pdev->cap_end + 3) & ~3u;

	if (len < 2 || off + len > sizeof(pdev->cfg))
		return -ENOSPC;
	pdev->cfg[off] = id;
	pdev->cfg[off + 1] = 0; /* end of list, until another is added */
	pdev->cfg[pdev->cap_link] = off;
	pdev->cap_link = off + 1;
	pdev->cap_end = off + len;
	pci_cfg_put16(pdev->cfg, PCI_STATUS,
		      pci_cfg_get16(pdev->cfg, PCI_STATUS) | PCI_STATUS_CAP_LIST);
	return off;
}

uint64_t pci_dev_bar_addr(const struct pci_dev *pdev, unsigned int bar)
{
	unsigned int off = PCI_BAR0 + 4 * bar;
	uint64_t addr = pci_cfg_get32(pdev->cfg, off) & ~0xfu;

	if (pdev->cfg[off] & PCI_BAR_MEM_64)
		addr |= (uint64_t)pci_cfg_get32(pdev->cfg, off + 4) << 32;
	return addr;
}

static struct pci_dev *host_dev(struct pci_host *h, unsigned int slot, unsigned int fn)
{
	/* Only function 0 exists; the header type says we are not multi-function. */
	if (slot >= PCI_MAX_DEVICES || fn != 0)
		return NULL;
	return h->devs[slot];
}

static uint32_t cfg_read_locked(struct pci_host *h, unsigned int slot, unsigned int fn,
				unsigned int off, unsigned int len)
{
	struct pci_dev *pdev = host_dev(h, slot, fn);
	uint32_t v = 0;
	unsigned int i;

	for (i = 0; i < len; i++) {
		uint32_t b = 0xff; /* no device, or past the 256-byte space */

		if (pdev && off + i < sizeof(pdev->cfg))
			b = pdev->cfg[off + i];
		v |= b << (8 * i);
	}
	return v;
}

static void cfg_write_locked(struct pci_host *h, unsigned int slot, unsigned int fn,
			     unsigned int off, unsigned int len, uint32_t val)
{
	struct pci_dev *pdev = host_dev(h, slot, fn);
	unsigned int i;

	if (!pdev || off >= sizeof(pdev->cfg))
		return;
	if (off + len > sizeof(pdev->cfg))
		len = sizeof(pdev->cfg) - off;
	for (i = 0; i < len; i++) {
		uint8_t m = pdev->wmask[off + i], b = val >> (8 * i);

		pdev->cfg[off + i] = (pdev->cfg[off + i] & ~m) | (b & m);
	}
	if (pdev->ops && pdev->ops->cfg_written)
		pdev->ops->cfg_written(pdev, off, len);
}

uint32_t pci_host_cfg_read(struct pci_host *h, unsigned int slot, unsigned int fn, unsigned int off,
			   unsigned int len)
{
	uint32_t v;

	pthread_mutex_lock(&h->lock);
	v = cfg_read_locked(h, slot, fn, off, len);
	pthread_mutex_unlock(&h->lock);
	return v;
}

void pci_host_cfg_write(struct pci_host *h, unsigned int slot, unsigned int fn, unsigned int off,
			unsigned int len, uint32_t val)
{
	pthread_mutex_lock(&h->lock);
	cfg_write_locked(h, slot, fn, off, len, val);
	pthread_mutex_unlock(&h->lock);
}

/* Port 0xCF8: the address register, meaningful as a whole dword only. */
static void conf1_addr_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	struct pci_host *h = opaque;
	uint32_t v;

	pthread_mutex_lock(&h->lock);
	v = h->conf1_addr;
	pthread_mutex_unlock(&h->lock);
	iobus_store_le(data, len, off + len <= 4 ? v >> (8 * off) : ~0u);
}

#define CF9_RST_CPU 0x04 /* with SYS_RST (bit 1): a hard reset; either way one for us */

static void conf1_addr_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct pci_host *h = opaque;

	/* 0xCF9 is the reset control register; other narrow writes are probes. */
	if (off == 1 && len == 1) {
		if ((iobus_load_le(data, len) & CF9_RST_CPU) && h->reset)
			h->reset(h->reset_opaque);
		return;
	}
	if (off != 0 || len != 4)
		return;
	pthread_mutex_lock(&h->lock);
	h->conf1_addr = iobus_load_le(data, len) & CONF1_MASK;
	pthread_mutex_unlock(&h->lock);
}

/* Port 0xCFC-0xCFF: the dword the address register selects, PCI 3.0 §3.2.2.3.2. */
static void conf1_data_access(struct pci_host *h, uint64_t off, void *data, unsigned int len,
			      bool write)
{
	uint32_t a;

	pthread_mutex_lock(&h->lock);
	a = h->conf1_addr;
	if (!(a & CONF1_ENABLE) || ((a >> 16) & 0xff) != 0) {
		if (!write)
			memset(data, 0xff, len);
	} else if (write) {
		cfg_write_locked(h, (a >> 11) & 31, (a >> 8) & 7, (a & 0xfc) + off, len,
				 iobus_load_le(data, len));
	} else {
		iobus_store_le(data, len,
			       cfg_read_locked(h, (a >> 11) & 31, (a >> 8) & 7, (a & 0xfc) + off,
					       len));
	}
	pthread_mutex_unlock(&h->lock);
}

static void conf1_data_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	conf1_data_access(opaque, off, data, len, false);
}

static void conf1_data_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	conf1_data_access(opaque, off, (void *)data, len, true);
}

static const struct io_ops conf1_addr_ops = { .read = conf1_addr_read, .write = conf1_addr_write };
static const struct io_ops conf1_data_ops = { .read = conf1_data_read, .write = conf1_data_write };

/* ECAM: bus 0 only; offset = device << 15 | function << 12 | register. */
static void ecam_access(struct pci_host *h, uint64_t off, void *data, unsigned int len, bool write)
{
	unsigned int slot = (off >> 15) & 31, fn = (off >> 12) & 7, reg = off & 0xfff;

	if (len > 4 || reg + len > 0x1000) {
		/* Config space is dword-sized; a qword access is not a config access. */
		if (!write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (write)
		cfg_write_locked(h, slot, fn, reg, len, iobus_load_le(data, len));
	else if (reg >= 0x100 && host_dev(h, slot, fn))
		iobus_store_le(data, len, 0); /* no extended capabilities: conventional PCI */
	else
		iobus_store_le(data, len, cfg_read_locked(h, slot, fn, reg, len));
	pthread_mutex_unlock(&h->lock);
}

static void ecam_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	ecam_access(opaque, off, data, len, false);
}

static void ecam_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	ecam_access(opaque, off, (void *)data, len, true);
}

static const struct io_ops ecam_ops = { .read = ecam_read, .write = ecam_write };

/* Find the enabled memory BAR that decodes `addr`; under the lock. */
static struct pci_dev *bar_lookup(struct pci_host *h, uint64_t addr, unsigned int *bar,
				  uint64_t *off)
{
	unsigned int s, b;

	for (s = 0; s < PCI_MAX_DEVICES; s++) {
		struct pci_dev *pdev = h->devs[s];

		if (!pdev || !(pci_cfg_get16(pdev->cfg, PCI_COMMAND) & PCI_COMMAND_MEMORY))
			continue;
		for (b = 0; b < 6; b++) {
			uint64_t base;

			if (!pdev->bar_size[b])
				continue;
			base = pci_dev_bar_addr(pdev, b);
			if (addr >= base && addr - base < pdev->bar_size[b]) {
				*bar = b;
				*off = addr - base;
				return pdev;
			}
		}
	}
	return NULL;
}

static void window_access(struct pci_host *h, uint64_t off, void *data, unsigned int len,
			  bool write)
{
	struct pci_dev *pdev;
	unsigned int bar = 0;
	uint64_t boff = 0;

	pthread_mutex_lock(&h->lock);
	pdev = bar_lookup(h, h->mmio_base + off, &bar, &boff);
	pthread_mutex_unlock(&h->lock);
	/*
	 * The device is called without the host lock: BAR handlers take their
	 * own lock and may raise interrupts; the device itself is never removed.
	 */
	if (pdev && boff + len <= pdev->bar_size[bar]) {
		if (write && pdev->ops->bar_write)
			pdev->ops->bar_write(pdev, bar, boff, data, len);
		else if (!write && pdev->ops->bar_read)
			pdev->ops->bar_read(pdev, bar, boff, data, len);
		else if (!write)
			memset(data, 0xff, len);
		return;
	}
	if (!write)
		memset(data, 0xff, len);
	pr_ratelimited(LOG_DEBUG, "pci: unclaimed access at %#llx",
		       (unsigned long long)(h->mmio_base + off));
}

static void window_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	window_access(opaque, off, data, len, false);
}

static void window_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	window_access(opaque, off, (void *)data, len, true);
}

static const struct io_ops window_ops = { .read = window_read, .write = window_write };

int pci_host_init(struct pci_host *h, struct iobus *pio, struct iobus *mmio, uint64_t mmio_base,
		  uint64_t mmio_size)
{
	int r;

	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	h->mmio_base = h->mmio_next = mmio_base;
	h->mmio_size = mmio_size;
	pci_dev_init(&h->bridge, 0x8086, 0x29c0, 0x060000, 0, 0, 0);
	h->devs[0] = &h->bridge;
	r = iobus_register(pio, PCI_CONF1_ADDR, 4, &conf1_addr_ops, h);
	if (r < 0)
		goto err;
	r = iobus_register(pio, PCI_CONF1_DATA, 4, &conf1_data_ops, h);
	if (r < 0)
		goto err;
	r = iobus_register(mmio, mmio_base, mmio_size, &window_ops, h);
	if (r < 0)
		goto err;
	return 0;
err:
	/* iobus has no unregister: the caller tears the whole VM down on failure. */
	pr_err("pci: cannot register host bridge ranges: %s", strerror(-r));
	pthread_mutex_destroy(&h->lock);
	return r;
}

int pci_host_add_ecam(struct pci_host *h, struct iobus *mmio, uint64_t base)
{
	return iobus_register(mmio, base, PCI_ECAM_BUS0_SIZE, &ecam_ops, h);
}

int pci_host_add(struct pci_host *h, struct pci_dev *pdev, uint8_t irq)
{
	unsigned int slot, b;
	uint64_t next;

	pthread_mutex_lock(&h->lock);
	for (slot = 1; slot < PCI_MAX_DEVICES && h->devs[slot]; slot++)
		;
	if (slot == PCI_MAX_DEVICES) {
		pthread_mutex_unlock(&h->lock);
		return -ENOSPC;
	}
	/* Place every BAR naturally aligned, as firmware would, before committing. */
	next = h->mmio_next;
	for (b = 0; b < 6; b++) {
		uint64_t size = pdev->bar_size[b], addr;

		if (!size)
			continue;
		addr = (next + size - 1) & ~(size - 1);
		if (addr < next || addr - h->mmio_base > h->mmio_size ||
		    size > h->mmio_size - (addr - h->mmio_base)) {
			pthread_mutex_unlock(&h->lock);
			return -ENOSPC;
		}
		pci_cfg_put32(pdev->cfg, PCI_BAR0 + 4 * b,
			      (uint32_t)addr | (pdev->cfg[PCI_BAR0 + 4 * b] & 0xf));
		if (pdev->cfg[PCI_BAR0 + 4 * b] & PCI_BAR_MEM_64)
			pci_cfg_put32(pdev->cfg, PCI_BAR0 + 4 * b + 4, addr >> 32);
		next = addr + size;
	}
	h->mmio_next = next;
	pdev->cfg[PCI_INTERRUPT_LINE] = irq;
	pdev->cfg[PCI_INTERRUPT_PIN] = 1; /* INTA# */
	pdev->slot = slot;
	h->devs[slot] = pdev;
	pthread_mutex_unlock(&h->lock);
	return 0;
}

void pci_host_destroy(struct pci_host *h)
{
	pthread_mutex_destroy(&h->lock);
}

void pci_host_save(struct pci_host *h, struct snap_w *w)
{
	uint8_t st[8 + sizeof(h->bridge.cfg)];

	pthread_mutex_lock(&h->lock);
	memcpy(st, &h->conf1_addr, 4);
	memset(st + 4, 0, 4);
	memcpy(st + 8, h->bridge.cfg, sizeof(h->bridge.cfg));
	pthread_mutex_unlock(&h->lock);
	snap_put(w, SNAP_PCIHOST, 0, st, sizeof(st));
}

int pci_host_load(struct pci_host *h, const struct snap_r *r, struct err **err)
{
	const uint8_t *st = snap_get(r, SNAP_PCIHOST, 0, 8 + sizeof(h->bridge.cfg), err);
	unsigned int i;

	if (!st)
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	memcpy(&h->conf1_addr, st, 4);
	for (i = 0; i < sizeof(h->bridge.cfg); i++)
		h->bridge.cfg[i] = (h->bridge.cfg[i] & ~h->bridge.wmask[i]) |
				   (st[8 + i] & h->bridge.wmask[i]);
	pthread_mutex_unlock(&h->lock);
	return 0;
}
