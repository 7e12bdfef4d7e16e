// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the PCI host bridge and the virtio-pci transport, driven the
 * way a guest drives them: configuration mechanism #1 ports and the ECAM
 * window for enumeration, BAR sizing and the capability walk, then MMIO on
 * the BAR for feature negotiation, queue setup and notification, with
 * virtio-rng as the device behind it and a fake interrupt sink.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/devices/pci.h"
#include "vmm/devices/virtio/pci.h"
#include "virtq_driver.h"

#define RAM_SIZE 0x100000
#define WINDOW_BASE 0xc0000000ULL
#define WINDOW_SIZE 0x10000000ULL
#define ECAM_BASE 0xb0000000ULL
#define GSI 10
#define SLOT 1
#define RING_GPA 0x1000
#define BUF_GPA 0x20000
#define MSI_ADDR 0xfee00000u

struct fx {
	struct guest_mem mem;
	uint8_t *ram;
	struct iobus pio, mmio;
	struct pci_host host;
	struct virtio_pci vp;
	struct vqd d;
	uint64_t bar;
	unsigned int msi_count;
	uint64_t msi_addr;
	uint32_t msi_data;
	bool intx;
};

static void fake_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct fx *f = opaque;

	f->msi_count++;
	f->msi_addr = addr;
	f->msi_data = data;
}

static void fake_intx(void *opaque, unsigned int gsi, bool level)
{
	struct fx *f = opaque;

	assert_int_equal(gsi, GSI);
	f->intx = level;
}

static const struct pci_irq_ops fake_irq = { .msi = fake_msi, .intx = fake_intx };

static uint32_t cfg_rd(struct fx *f, unsigned int bus, unsigned int slot, unsigned int fn,
		       unsigned int off, unsigned int len)
{
	uint32_t a = 0x80000000u | bus << 16 | slot << 11 | fn << 8 | (off & 0xfc), v = 0;

	iobus_access(&f->pio, PCI_CONF1_ADDR, &a, 4, 1);
	iobus_access(&f->pio, PCI_CONF1_DATA + (off & 3), &v, len, 0);
	return v;
}

static void cfg_wr(struct fx *f, unsigned int slot, unsigned int off, unsigned int len, uint32_t v)
{
	uint32_t a = 0x80000000u | slot << 11 | (off & 0xfc);

	iobus_access(&f->pio, PCI_CONF1_ADDR, &a, 4, 1);
	iobus_access(&f->pio, PCI_CONF1_DATA + (off & 3), &v, len, 1);
}

static uint64_t mmio_rd(struct fx *f, uint64_t addr, unsigned int len)
{
	uint64_t v = 0;

	iobus_access(&f->mmio, addr, &v, len, 0);
	return v;
}

static void mmio_wr(struct fx *f, uint64_t addr, unsigned int len, uint64_t v)
{
	iobus_access(&f->mmio, addr, &v, len, 1);
}

/* Common configuration fields, virtio 1.2 §4.1.4.3 */
#define CC(off) (f->bar + VIRTIO_PCI_COMMON_OFF + (off))

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->ram = calloc(1, RAM_SIZE);
	assert_int_equal(guest_mem_add(&f->mem, 0, RAM_SIZE, f->ram), 0);
	assert_int_equal(pci_host_init(&f->host, &f->pio, &f->mmio, WINDOW_BASE, WINDOW_SIZE), 0);
	assert_int_equal(pci_host_add_ecam(&f->host, &f->mmio, ECAM_BASE), 0);
	assert_int_equal(virtio_pci_init(&f->vp, &virtio_rng_ops, NULL, &f->mem, &fake_irq, f), 0);
	assert_int_equal(virtio_pci_plug(&f->vp, &f->host, GSI), 0);
	f->bar = (cfg_rd(f, 0, SLOT, 0, PCI_BAR0, 4) & ~0xfULL) |
		 (uint64_t)cfg_rd(f, 0, SLOT, 0, PCI_BAR0 + 4, 4) << 32;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_pci_uninit(&f->vp);
	pci_host_destroy(&f->host);
	free(f->ram);
	free(f);
	return 0;
}

static void enumerate(void **state)
{
	struct fx *f = *state;
	uint32_t a = 0x80001234u & ~3u, back = 0;
	unsigned int s, found = 0;

	assert_int_equal(cfg_rd(f, 0, 0, 0, PCI_VENDOR_ID, 4), 0x29c08086);
	assert_int_equal(cfg_rd(f, 0, 0, 0, PCI_REVISION_ID, 4) >> 8, 0x060000);
	assert_int_equal(cfg_rd(f, 0, SLOT, 0, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg_rd(f, 0, SLOT, 0, PCI_DEVICE_ID, 2), 0x1040 + 4);
	assert_int_equal(cfg_rd(f, 0, SLOT, 0, PCI_REVISION_ID, 1), 1);
	assert_int_equal(cfg_rd(f, 0, SLOT, 0, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	assert_true(cfg_rd(f, 0, SLOT, 0, PCI_SUBSYSTEM_ID, 2) >= 0x40);
	assert_int_equal(cfg_rd(f, 0, SLOT, 0, PCI_INTERRUPT_LINE, 1), GSI);
	assert_int_equal(cfg_rd(f, 0, SLOT, 0, PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(cfg_rd(f, 0, SLOT, 0, PCI_HEADER_TYPE, 1), 0);
	for (s = 0; s < 32; s++)
		if (cfg_rd(f, 0, s, 0, PCI_VENDOR_ID, 2) != 0xffff)
			found++;
	assert_int_equal(found, 2);
	assert_int_equal(cfg_rd(f, 0, SLOT, 1, PCI_VENDOR_ID, 4), 0xffffffff); /* no fn 1 */
	assert_int_equal(cfg_rd(f, 1, 0, 0, PCI_VENDOR_ID, 4), 0xffffffff); /* no bus 1 */
	iobus_access(&f->pio, PCI_CONF1_ADDR, &a, 4, 1);
	iobus_access(&f->pio, PCI_CONF1_ADDR, &back, 4, 0);
	assert_int_equal(back, a);
	a = 0; /* enable bit clear: the data port reads nothing */
	iobus_access(&f->pio, PCI_CONF1_ADDR, &a, 4, 1);
	iobus_access(&f->pio, PCI_CONF1_DATA, &back, 4, 0);
	assert_int_equal(back, 0xffffffff);
	/* Read-only header fields stay put. */
	cfg_wr(f, SLOT, PCI_VENDOR_ID, 4, 0x12345678);
	assert_int_equal(cfg_rd(f, 0, SLOT, 0, PCI_DEVICE_ID, 2), 0x1044);
}

static void reset_count(void *opaque)
{
	(*(int *)opaque)++;
}

/* 0xCF9: RST_CPU resets (SeaBIOS writes 2, then 6); nothing else there does, nor touches 0xCF8. */
static void cf9_reset(void **state)
{
	struct fx *f = *state;
	uint32_t a = 0x80000000u | (SLOT << 11), back = 0;
	uint8_t b;
	int resets = 0;

	iobus_access(&f->pio, PCI_CONF1_ADDR, &a, 4, 1);
	b = 0x06; /* no callback yet: ignored */
	iobus_access(&f->pio, PCI_CONF1_ADDR + 1, &b, 1, 1);
	f->host.reset = reset_count;
	f->host.reset_opaque = &resets;
	b = 0x02;
	iobus_access(&f->pio, PCI_CONF1_ADDR + 1, &b, 1, 1);
	assert_int_equal(resets, 0);
	b = 0x06;
	iobus_access(&f->pio, PCI_CONF1_ADDR + 1, &b, 1, 1);
	assert_int_equal(resets, 1);
	b = 0x04; /* other byte offsets and widths are not the register */
	iobus_access(&f->pio, PCI_CONF1_ADDR + 2, &b, 1, 1);
	iobus_access(&f->pio, PCI_CONF1_ADDR, &b, 1, 1);
	assert_int_equal(resets, 1);
	iobus_access(&f->pio, PCI_CONF1_ADDR, &back, 4, 0);
	assert_int_equal(back, a);
}

static void ecam_matches_conf1(void **state)
{
	struct fx *f = *state;
	uint64_t dev = ECAM_BASE + (SLOT << 15);

	assert_int_equal(mmio_rd(f, dev + PCI_VENDOR_ID, 4), cfg_rd(f, 0, SLOT, 0, 0, 4));
	assert_int_equal(mmio_rd(f, ECAM_BASE + (5 << 15), 4), 0xffffffff);
	mmio_wr(f, dev + PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(cfg_rd(f, 0, SLOT, 0, PCI_COMMAND, 2), PCI_COMMAND_MEMORY);
	assert_int_equal(mmio_rd(f, dev + 0x100, 4), 0); /* no extended capabilities */
}

static void bar_sizing(void **state)
{
	struct fx *f = *state;
	unsigned int b;

	assert_int_equal(f->bar, WINDOW_BASE);
	assert_int_equal(cfg_rd(f, 0, SLOT, 0, PCI_BAR0, 4) & 0xf, PCI_BAR_MEM_64);
	cfg_wr(f, SLOT, PCI_BAR0, 4, 0xffffffff);
	cfg_wr(f, SLOT, PCI_BAR0 + 4, 4, 0xffffffff);
	assert_int_equal(cfg_rd(f, 0, SLOT, 0, PCI_BAR0, 4),
			 (uint32_t) ~(VIRTIO_PCI_BAR_SIZE - 1) | 0x4);
	assert_int_equal(cfg_rd(f, 0, SLOT, 0, PCI_BAR0 + 4, 4), 0xffffffff);
	for (b = 2; b < 6; b++) {
		cfg_wr(f, SLOT, PCI_BAR0 + 4 * b, 4, 0xffffffff);
		assert_int_equal(cfg_rd(f, 0, SLOT, 0, PCI_BAR0 + 4 * b, 4), 0); /* absent */
	}
	cfg_wr(f, SLOT, 0x30, 4, 0xfffff800);
	assert_int_equal(cfg_rd(f, 0, SLOT, 0, 0x30, 4), 0); /* no expansion ROM */
	cfg_wr(f, SLOT, PCI_BAR0, 4, (uint32_t)f->bar);
	cfg_wr(f, SLOT, PCI_BAR0 + 4, 4, f->bar >> 32);
	assert_int_equal(cfg_rd(f, 0, SLOT, 0, PCI_BAR0, 4), (uint32_t)f->bar | 0x4);
}

static void bar_decoding_follows_command_and_moves(void **state)
{
	struct fx *f = *state;
	uint64_t moved = WINDOW_BASE + 0x100000;

	assert_int_equal(mmio_rd(f, CC(0x12), 2), 0xffff); /* memory decoding off */
	cfg_wr(f, SLOT, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(mmio_rd(f, CC(0x12), 2), 1); /* num_queues */
	cfg_wr(f, SLOT, PCI_BAR0, 4, (uint32_t)moved);
	assert_int_equal(mmio_rd(f, moved + 0x12, 2), 1);
	assert_int_equal(mmio_rd(f, CC(0x12), 2), 0xffff);
}

static void capability_walk(void **state)
{
	struct fx *f = *state;
	unsigned int ptr, hops = 0, seen = 0, msix = 0;

	cfg_wr(f, SLOT, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_true(cfg_rd(f, 0, SLOT, 0, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	for (ptr = cfg_rd(f, 0, SLOT, 0, PCI_CAPABILITY_LIST, 1); ptr;
	     ptr = cfg_rd(f, 0, SLOT, 0, ptr + 1, 1)) {
		unsigned int type = cfg_rd(f, 0, SLOT, 0, ptr + 3, 1);
		uint64_t at = f->bar + cfg_rd(f, 0, SLOT, 0, ptr + 8, 4);

		assert_true(ptr >= 0x40 && ptr % 4 == 0);
		assert_true(++hops < 48); /* the list ends */
		if (cfg_rd(f, 0, SLOT, 0, ptr, 1) == PCI_CAP_ID_MSIX) {
			msix = ptr;
			continue;
		}
		assert_int_equal(cfg_rd(f, 0, SLOT, 0, ptr, 1), PCI_CAP_ID_VNDR);

		assert_int_equal(cfg_rd(f, 0, SLOT, 0, ptr + 4, 1), 0); /* BAR 0 */
		seen |= 1u << type;
		switch (type) {
		case VIRTIO_PCI_CAP_COMMON_CFG:
			assert_true(cfg_rd(f, 0, SLOT, 0, ptr + 12, 4) >= 0x38);
			assert_int_equal(mmio_rd(f, at + 0x12, 2), 1); /* num_queues */
			break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG:
			assert_int_equal(cfg_rd(f, 0, SLOT, 0, ptr + 2, 1), 20);
			assert_int_equal(cfg_rd(f, 0, SLOT, 0, ptr + 16, 4),
					 VIRTIO_PCI_NOTIFY_MULT);
			break;
		case VIRTIO_PCI_CAP_ISR_CFG:
			assert_int_equal(mmio_rd(f, at, 1), 0);
			break;
		default:
			fail_msg("unexpected virtio cap type %u", type);
		}
	}
	/* virtio-rng has no device config, so no DEVICE_CFG capability. */
	assert_int_equal(seen, 1u << VIRTIO_PCI_CAP_COMMON_CFG | 1u << VIRTIO_PCI_CAP_NOTIFY_CFG |
				       1u << VIRTIO_PCI_CAP_ISR_CFG);
	assert_true(msix);
	assert_int_equal(cfg_rd(f, 0, SLOT, 0, msix + 2, 2) & 0x7ff, 1); /* 2 vectors */
	assert_int_equal(cfg_rd(f, 0, SLOT, 0, msix + 4, 4), VIRTIO_PCI_MSIX_TABLE_OFF);
}

static uint8_t status(struct fx *f)
{
	return mmio_rd(f, CC(0x14), 1);
}

static void negotiate(struct fx *f, uint32_t lo, uint32_t hi)
{
	mmio_wr(f, CC(0x14), 1, VIRTIO_STATUS_ACKNOWLEDGE);
	mmio_wr(f, CC(0x14), 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_wr(f, CC(0x08), 4, 0);
	mmio_wr(f, CC(0x0c), 4, lo);
	mmio_wr(f, CC(0x08), 4, 1);
	mmio_wr(f, CC(0x0c), 4, hi);
	mmio_wr(f, CC(0x14), 1, status(f) | VIRTIO_STATUS_FEATURES_OK);
}

static void features(void **state)
{
	struct fx *f = *state;

	cfg_wr(f, SLOT, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	mmio_wr(f, CC(0x00), 4, 1);
	assert_true(mmio_rd(f, CC(0x04), 4) & 1); /* VIRTIO_F_VERSION_1 offered */

	negotiate(f, 0, 0); /* a legacy-only driver */
	assert_false(status(f) & VIRTIO_STATUS_FEATURES_OK);
	mmio_wr(f, CC(0x14), 1, status(f) | VIRTIO_STATUS_DRIVER_OK);
	assert_false(status(f) & VIRTIO_STATUS_DRIVER_OK);

	mmio_wr(f, CC(0x14), 1, 0);
	assert_int_equal(status(f), 0);
	negotiate(f, 0, 1u << 31 | 1); /* bit 63 was never offered */
	assert_false(status(f) & VIRTIO_STATUS_FEATURES_OK);

	mmio_wr(f, CC(0x14), 1, 0);
	negotiate(f, 1u << VIRTIO_F_EVENT_IDX, 1);
	assert_true(status(f) & VIRTIO_STATUS_FEATURES_OK);
	mmio_wr(f, CC(0x08), 4, 1);
	mmio_wr(f, CC(0x0c), 4, 0); /* too late: ignored */
	assert_int_equal(mmio_rd(f, CC(0x0c), 4), 1);
}

/* Set up queue 0 and DRIVER_OK; with MSI-X, vector 0 for the queue, 1 for config. */
/* Set the function up for the driver; DRIVER_OK last, unless driver_ok is false. */
static void bring_up_to(struct fx *f, bool msix, bool driver_ok)
{
	cfg_wr(f, SLOT, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	if (msix) {
		uint64_t t = f->bar + VIRTIO_PCI_MSIX_TABLE_OFF;
		unsigned int cap = f->vp.msix_cap, v;

		cfg_wr(f, SLOT, cap + 2, 2, 0x8000);
		for (v = 0; v < 2; v++) {
			mmio_wr(f, t + 16 * v, 4, MSI_ADDR);
			mmio_wr(f, t + 16 * v + 4, 4, 0);
			mmio_wr(f, t + 16 * v + 8, 4, 0x40 + v);
			mmio_wr(f, t + 16 * v + 12, 4, 0);
		}
	}
	negotiate(f, 1u << VIRTIO_F_INDIRECT_DESC, 1);
	assert_true(status(f) & VIRTIO_STATUS_FEATURES_OK);
	if (msix)
		mmio_wr(f, CC(0x10), 2, 1);
	vqd_init(&f->d, &f->mem, RING_GPA, 16);
	mmio_wr(f, CC(0x16), 2, 0);
	assert_int_equal(mmio_rd(f, CC(0x18), 2), 64); /* max size offered */
	mmio_wr(f, CC(0x18), 2, 16);
	if (msix)
		mmio_wr(f, CC(0x1a), 2, 0);
	mmio_wr(f, CC(0x20), 8, f->d.desc_gpa);
	mmio_wr(f, CC(0x28), 4, (uint32_t)f->d.avail_gpa); /* as two dword halves */
	mmio_wr(f, CC(0x2c), 4, f->d.avail_gpa >> 32);
	mmio_wr(f, CC(0x30), 8, f->d.used_gpa);
	mmio_wr(f, CC(0x1c), 2, 1);
	assert_int_equal(mmio_rd(f, CC(0x1c), 2), 1);
	if (!driver_ok)
		return;
	mmio_wr(f, CC(0x14), 1, status(f) | VIRTIO_STATUS_DRIVER_OK);
	assert_true(status(f) & VIRTIO_STATUS_DRIVER_OK);
}

static void bring_up(struct fx *f, bool msix)
{
	bring_up_to(f, msix, true);
}

static void notify(struct fx *f)
{
	mmio_wr(f,
		f->bar + VIRTIO_PCI_NOTIFY_OFF + mmio_rd(f, CC(0x1e), 2) * VIRTIO_PCI_NOTIFY_MULT,
		2, 0);
}

static void rng_over_msix(void **state)
{
	struct fx *f = *state;
	struct vqd_buf b = { BUF_GPA, 64, true };
	uint32_t id, len;
	static const uint8_t zero[64];

	bring_up(f, true);
	memset(f->ram + BUF_GPA + 64, 0xa5, 64);
	vqd_publish(&f->d, vqd_add_chain(&f->d, &b, 1));
	notify(f);
	assert_true(vqd_get_used(&f->d, &id, &len));
	assert_int_equal(len, 64);
	assert_memory_not_equal(f->ram + BUF_GPA, zero, 64);
	assert_int_equal(f->ram[BUF_GPA + 64], 0xa5); /* not a byte past the buffer */
	assert_int_equal(f->msi_count, 1);
	assert_int_equal(f->msi_addr, MSI_ADDR);
	assert_int_equal(f->msi_data, 0x40);
	assert_false(f->intx);
}

/*
 * Linux's balloon queues a buffer and notifies before DRIVER_OK; the
 * notification is not served then, but the buffer is at DRIVER_OK, with
 * one interrupt for it.
 */
static void notify_before_driver_ok(void **state)
{
	struct fx *f = *state;
	struct vqd_buf b = { BUF_GPA, 64, true };
	uint32_t id, len;

	bring_up_to(f, true, false);
	vqd_publish(&f->d, vqd_add_chain(&f->d, &b, 1));
	notify(f);
	assert_false(vqd_get_used(&f->d, &id, &len));
	assert_int_equal(f->msi_count, 0);
	mmio_wr(f, CC(0x14), 1, status(f) | VIRTIO_STATUS_DRIVER_OK);
	assert_true(vqd_get_used(&f->d, &id, &len));
	assert_int_equal(len, 64);
	assert_int_equal(f->msi_count, 1);
}

static void msix_mask_holds_pending(void **state)
{
	struct fx *f = *state;
	struct vqd_buf b = { BUF_GPA, 8, true };
	uint64_t t;

	bring_up(f, true);
	t = f->bar + VIRTIO_PCI_MSIX_TABLE_OFF;
	mmio_wr(f, t + 12, 4, 1); /* mask vector 0 */
	vqd_publish(&f->d, vqd_add_chain(&f->d, &b, 1));
	notify(f);
	assert_int_equal(f->msi_count, 0);
	assert_int_equal(mmio_rd(f, f->bar + VIRTIO_PCI_MSIX_PBA_OFF, 8), 1);
	mmio_wr(f, t + 12, 4, 0);
	assert_int_equal(f->msi_count, 1);
	assert_int_equal(mmio_rd(f, f->bar + VIRTIO_PCI_MSIX_PBA_OFF, 8), 0);
}

static void rng_over_intx(void **state)
{
	struct fx *f = *state;
	struct vqd_buf b = { BUF_GPA, 16, true };
	uint32_t id, len;

	bring_up(f, false);
	vqd_publish(&f->d, vqd_add_chain(&f->d, &b, 1));
	notify(f);
	assert_true(vqd_get_used(&f->d, &id, &len));
	assert_true(f->intx);
	assert_int_equal(f->msi_count, 0);
	assert_int_equal(mmio_rd(f, f->bar + VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_QUEUE);
	assert_false(f->intx); /* read-to-clear lowered the line */
	assert_int_equal(mmio_rd(f, f->bar + VIRTIO_PCI_ISR_OFF, 1), 0);
}

static void hostile_chain_needs_reset(void **state)
{
	struct fx *f = *state;

	bring_up(f, true);
	vqd_set_desc(&f->d, 0, BUF_GPA, 8, 1 | 2, 0); /* descriptor 0 chains to itself */
	vqd_publish(&f->d, 0);
	notify(f);
	assert_true(status(f) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(f->msi_count, 1);
	assert_int_equal(f->msi_data, 0x41); /* the config vector */
	assert_int_equal(mmio_rd(f, f->bar + VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
	notify(f); /* ignored until reset */
	assert_int_equal(f->msi_count, 1);

	mmio_wr(f, CC(0x14), 1, 0);
	assert_int_equal(status(f), 0);
	assert_int_equal(mmio_rd(f, CC(0x1c), 2), 0); /* queue disabled */
	assert_int_equal(mmio_rd(f, CC(0x20), 8), 0);
	assert_int_equal(mmio_rd(f, CC(0x10), 2), VIRTIO_MSI_NO_VECTOR);
	mmio_wr(f, CC(0x08), 4, 1);
	assert_int_equal(mmio_rd(f, CC(0x0c), 4), 0); /* driver features cleared */
}

static void bad_queue_size_needs_reset(void **state)
{
	struct fx *f = *state;

	cfg_wr(f, SLOT, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	negotiate(f, 0, 1);
	mmio_wr(f, CC(0x10), 2, 7); /* past the MSI-X table: reads back NO_VECTOR */
	assert_int_equal(mmio_rd(f, CC(0x10), 2), VIRTIO_MSI_NO_VECTOR);
	mmio_wr(f, CC(0x16), 2, 5); /* no queue 5 */
	assert_int_equal(mmio_rd(f, CC(0x18), 2), 0);
	mmio_wr(f, CC(0x1c), 2, 1); /* enabling it does nothing */
	assert_false(status(f) & VIRTIO_STATUS_NEEDS_RESET);
	mmio_wr(f, CC(0x16), 2, 0);
	mmio_wr(f, CC(0x18), 2, 3);
	mmio_wr(f, CC(0x20), 8, RING_GPA);
	mmio_wr(f, CC(0x28), 8, RING_GPA + 0x100);
	mmio_wr(f, CC(0x30), 8, RING_GPA + 0x200);
	mmio_wr(f, CC(0x1c), 2, 1);
	assert_true(status(f) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(mmio_rd(f, CC(0x1c), 2), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(enumerate),
		T(cf9_reset),
		T(ecam_matches_conf1),
		T(bar_sizing),
		T(bar_decoding_follows_command_and_moves),
		T(capability_walk),
		T(features),
		T(rng_over_msix),
		T(notify_before_driver_ok),
		T(msix_mask_holds_pending),
		T(rng_over_intx),
		T(hostile_chain_needs_reset),
		T(bad_queue_size_needs_reset),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
