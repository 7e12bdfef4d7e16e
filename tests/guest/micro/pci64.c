// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Micro-guest pci64: walk bus 0 as firmware or an OS would and check what
 * vps-vmm shows there (src/vmm/devices/pci.c, devices/virtio/pci.c). Through
 * ports 0xCF8/0xCFC: the host bridge in slot 0, then contiguous virtio
 * functions in machine.c's order (blk per --disk, net per --net, rng,
 * balloon), each modern (§4.1.2.1), with one 64-bit memory BAR whose sizing
 * (all-ones, read back, restore) gives its size, a capability list reaching
 * the common/notify/ISR(/device) structures inside that BAR and MSI-X, and
 * registers that answer through the BAR. The ECAM window must agree with
 * 0xCF8, and the last function's BAR must still decode after the guest
 * moves it. One line per function on COM1; the host test checks the lines.
 */
#include "virtio.h"

#define NAME "pci64"
#define VIRTIO_BAR_SIZE 0x8000 /* VIRTIO_PCI_BAR_SIZE in src/vmm/devices/virtio/pci.h */

/* machine.c's slot order, by PCI device ID; -1 for anything else. */
static int rank(uint16_t device)
{
	switch (device) {
	case VIRTIO_DEV(VIRTIO_ID_BLOCK):
		return 0;
	case VIRTIO_DEV(VIRTIO_ID_NET):
		return 1;
	case VIRTIO_DEV(VIRTIO_ID_RNG):
		return 2;
	case VIRTIO_DEV(VIRTIO_ID_BALLOON):
		return 3;
	}
	return -1;
}

/* Size BAR `bar` (and its upper half if 64-bit) by the PCI 3.0 §6.2.5.1 protocol. */
static uint64_t bar_size(unsigned int slot, unsigned int bar)
{
	uint16_t cmd = pci_read16(slot, PCI_COMMAND);
	uint32_t lo = pci_read32(slot, PCI_BAR0 + 4 * bar), hi = 0;
	uint64_t mask;
	bool is64 = lo & PCI_BAR_MEM_64;

	/* Decoding off while the BAR holds all-ones, so it claims nothing meanwhile. */
	pci_write16(slot, PCI_COMMAND, cmd & ~PCI_COMMAND_MEMORY);
	pci_write32(slot, PCI_BAR0 + 4 * bar, 0xffffffff);
	mask = pci_read32(slot, PCI_BAR0 + 4 * bar) & ~0xfu;
	if (is64) {
		hi = pci_read32(slot, PCI_BAR0 + 4 * bar + 4);
		pci_write32(slot, PCI_BAR0 + 4 * bar + 4, 0xffffffff);
		mask |= (uint64_t)pci_read32(slot, PCI_BAR0 + 4 * bar + 4) << 32;
		pci_write32(slot, PCI_BAR0 + 4 * bar + 4, hi);
	} else if (mask) {
		mask |= 0xffffffff00000000ULL;
	}
	pci_write32(slot, PCI_BAR0 + 4 * bar, lo);
	pci_write16(slot, PCI_COMMAND, cmd);
	return mask ? ~mask + 1 : 0;
}

/* Every vendor capability and the MSI-X table must lie inside BAR 0. */
static int check_cap_ranges(unsigned int slot, uint64_t size, unsigned int *vectors)
{
	unsigned int cap = pci_read8(slot, PCI_CAPABILITY_LIST) & 0xfc, n;

	for (n = 0; cap && n < 48; n++, cap = pci_read8(slot, cap + 1) & 0xfc) {
		uint8_t id = pci_read8(slot, cap);

		if (id == PCI_CAP_ID_VNDR) {
			uint64_t off = pci_read32(slot, cap + 8), len = pci_read32(slot, cap + 12);

			if (pci_read8(slot, cap + 4) != 0 || off + len > size)
				return 20;
			if (pci_read8(slot, cap + 3) == VIRTIO_PCI_CAP_NOTIFY) {
				uint32_t m = pci_read32(slot, cap + 16);

				/* §4.1.4.4: an even power of 2, or 0 */
				if (m & (m - 1) || m == 1)
					return 21;
			}
		} else if (id == PCI_CAP_ID_MSIX) {
			/* PCI 3.0 §6.8.2: table size N-1, then table and PBA offset/BIR */
			uint32_t tbl = pci_read32(slot, cap + 4), pba = pci_read32(slot, cap + 8);

			*vectors = (pci_read16(slot, cap + 2) & 0x7ff) + 1;
			if ((tbl & 7) || (pba & 7) || (tbl & ~7u) + 16ULL * *vectors > size ||
			    (pba & ~7u) + 8ULL * ((*vectors + 63) / 64) > size)
				return 22;
		}
	}
	return cap ? 23 : 0;
}

static int check_virtio(unsigned int slot, int *last_rank)
{
	uint16_t device = pci_read16(slot, PCI_DEVICE_ID);
	uint32_t need = 1u << VIRTIO_PCI_CAP_COMMON | 1u << VIRTIO_PCI_CAP_NOTIFY |
			1u << VIRTIO_PCI_CAP_ISR | 1u << PCI_CAP_ID_MSIX;
	unsigned int b, vectors = 0;
	struct vdev d;
	uint64_t size, addr;
	int r;

	if (pci_read16(slot, PCI_VENDOR_ID) != VIRTIO_VENDOR || rank(device) < 0)
		return 10;
	/* §4.1.2.1: machine.c's order is blk*, net*, rng, balloon. */
	if (rank(device) < *last_rank || (rank(device) == *last_rank && rank(device) >= 2))
		return 11;
	*last_rank = rank(device);
	/* §4.1.2.1: non-transitional devices: revision ≥ 1, subsystem ID ≥ 0x40. */
	if (pci_read8(slot, PCI_REVISION_ID) < 1 || pci_read16(slot, PCI_SUBSYSTEM_ID) < 0x40)
		return 12;
	if ((pci_read32(slot, PCI_BAR0) & 0x7) != PCI_BAR_MEM_64)
		return 13;
	size = bar_size(slot, 0);
	addr = pci_bar_addr(slot, 0);
	puts(" bar0 ");
	put_hex(addr, 8);
	puts(" size ");
	put_hex(size, 4);
	if (size != VIRTIO_BAR_SIZE)
		return 14;
	if (addr % size || addr < PCI_MMIO_BASE || addr + size > PCI_MMIO_BASE + PCI_MMIO_SIZE)
		return 15;
	/* Only BAR 0/1 exist: the others are hardwired to 0 and size to 0. */
	for (b = 2; b < 6; b++)
		if (pci_read32(slot, PCI_BAR0 + 4 * b) || bar_size(slot, b))
			return 16;
	/* Not virtio_find(): with two disks it would find the first one twice. */
	memset(&d, 0, sizeof(d));
	pci_write16(slot, PCI_COMMAND, pci_read16(slot, PCI_COMMAND) | PCI_COMMAND_MEMORY);
	if (virtio_read_caps(&d, slot) < 0)
		return 17;
	if (device != VIRTIO_DEV(VIRTIO_ID_RNG)) /* rng has no device config, §5.4.4 */
		need |= 1u << VIRTIO_PCI_CAP_DEVICE;
	if ((d.caps_seen & need) != need)
		return 18;
	r = check_cap_ranges(slot, size, &vectors);
	if (r)
		return r;
	puts(" caps common notify isr");
	if (d.device)
		puts(" device");
	puts(" msix ");
	put_dec(vectors);
	/* The registers answer through the BAR: a reset device reads status 0. */
	puts(" queues ");
	put_dec(mmio_read16(d.common + VC_NUM_QUEUES));
	if (virtio_reset(&d) < 0 || virtio_status(&d) != 0)
		return 19;
	return 0;
}

/* Move the BAR of `slot` to the top of the window and back; both must decode. */
static int check_bar_move(unsigned int slot)
{
	uint64_t old = pci_bar_addr(slot, 0);
	uint64_t moved = PCI_MMIO_BASE + PCI_MMIO_SIZE - VIRTIO_BAR_SIZE;
	uint16_t queues = mmio_read16(old + VC_NUM_QUEUES);
	uint16_t cmd = pci_read16(slot, PCI_COMMAND);
	int r = 0;

	pci_write16(slot, PCI_COMMAND, cmd & ~PCI_COMMAND_MEMORY);
	pci_write32(slot, PCI_BAR0, (uint32_t)moved | PCI_BAR_MEM_64);
	pci_write16(slot, PCI_COMMAND, cmd);
	if (pci_bar_addr(slot, 0) != moved || mmio_read16(moved + VC_NUM_QUEUES) != queues)
		r = 30;
	/* Nothing decodes the old place now: unclaimed reads float high (docs/vmm.md). */
	else if (mmio_read32(old + VC_NUM_QUEUES) != 0xffffffff)
		r = 31;
	pci_write16(slot, PCI_COMMAND, cmd & ~PCI_COMMAND_MEMORY);
	pci_write32(slot, PCI_BAR0, (uint32_t)old | PCI_BAR_MEM_64);
	pci_write16(slot, PCI_COMMAND, cmd);
	if (!r && mmio_read16(old + VC_NUM_QUEUES) != queues)
		r = 32;
	return r;
}

int main(uint64_t ram_size)
{
	unsigned int slot, present = 0, last = 0;
	int last_rank = -1, r;

	(void)ram_size;
	if (pci_read32(0, PCI_VENDOR_ID) != 0x29c08086)
		return fail(NAME, 1, "slot 0 is not the 8086:29c0 host bridge");
	if (pci_read32(0, PCI_REVISION_ID) >> 8 != 0x060000 || pci_read8(0, PCI_HEADER_TYPE))
		return fail(NAME, 2, "host bridge class or header type");
	for (slot = 0; slot < 32; slot++) {
		uint32_t id = pci_read32(slot, PCI_VENDOR_ID);

		/* ECAM (PCIe §7.2.2) and mechanism #1 show the same bus. */
		if (mmio_read32(PCI_ECAM_BASE + (slot << 15)) != id)
			return fail(NAME, 3, "ECAM and 0xCF8 disagree");
		if ((id & 0xffff) == 0xffff)
			continue;
		if (slot != present)
			return fail(NAME, 4, "slots are not contiguous from 0");
		present++;
		last = slot;
		puts("slot ");
		put_hex(slot, 2);
		putc(' ');
		put_hex(id & 0xffff, 4);
		putc(':');
		put_hex(id >> 16, 4);
		puts(" class ");
		put_hex(pci_read32(slot, PCI_REVISION_ID) >> 8, 6);
		if (slot) {
			r = check_virtio(slot, &last_rank);
			if (r) {
				putc('\n');
				return fail(NAME, r, "virtio function");
			}
		}
		putc('\n');
	}
	if (last_rank != 3)
		return fail(NAME, 5, "virtio-balloon is not the last function");
	r = check_bar_move(last);
	if (r)
		return fail(NAME, r, "BAR move");
	puts("VPS-MICRO pci64 ok functions=");
	put_dec(present);
	putc('\n');
	return 0;
}
