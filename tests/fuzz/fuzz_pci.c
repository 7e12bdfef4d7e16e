// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: PCI configuration space (src/vmm/devices/pci.c) and the
 * virtio-pci transport (src/vmm/devices/virtio/pci.c) with virtio-rng,
 * -blk and -balloon behind it, driven as a guest drives them: the input is
 * a program of port I/O on 0xCF8/0xCFC, ECAM accesses, MMIO anywhere in the
 * BAR window or at a device's current BAR, and writes into guest RAM (for
 * the rings the transport then enables and notifies).
 *
 * Each step is one opcode byte and its operands (see step()); the machine
 * is built fresh for every input, so a run depends on its input alone.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "vmm/devices/virtio/blk.h"
#include "vmm/devices/virtio/balloon.h"
#include "vmm/devices/virtio/pci.h"

#define WINDOW_BASE 0xc0000000ULL
#define WINDOW_SIZE 0x10000000ULL
#define ECAM_BASE 0xb0000000ULL
#define NR_DEVS 3
#define MAX_STEPS 256

struct machine {
	struct iobus pio, mmio;
	struct pci_host host;
	struct virtio_pci vp[NR_DEVS];
};

static struct machine m;
static int disk_fd = -1;

FUZZ_NOCOV
static void fake_msi(void *opaque, uint64_t addr, uint32_t data)
{
	(void)opaque;
	(void)addr;
	(void)data;
}

FUZZ_NOCOV
static void fake_intx(void *opaque, unsigned int gsi, bool level)
{
	(void)opaque;
	(void)gsi;
	(void)level;
}

static const struct pci_irq_ops fake_irq = { .msi = fake_msi, .intx = fake_intx };

FUZZ_NOCOV
static void build(void)
{
	struct virtio_blk_params blk = { .fd = disk_fd, .serial = "fuzz-pci-disk" };
	struct virtio_balloon_params bal = { .ram_size = FUZZ_RAM_SIZE };
	const struct virtio_dev_ops *ops[NR_DEVS] = { &virtio_rng_ops, &virtio_blk_ops,
						      &virtio_balloon_ops };
	const void *params[NR_DEVS] = { NULL, &blk, &bal };
	unsigned int i;

	memset(&m, 0, sizeof(m));
	if (pci_host_init(&m.host, &m.pio, &m.mmio, WINDOW_BASE, WINDOW_SIZE) < 0 ||
	    pci_host_add_ecam(&m.host, &m.mmio, ECAM_BASE) < 0)
		abort();
	for (i = 0; i < NR_DEVS; i++)
		if (virtio_pci_init(&m.vp[i], ops[i], params[i], fuzz_ram(), &fake_irq, NULL) < 0 ||
		    virtio_pci_plug(&m.vp[i], &m.host, 10 + i) < 0)
			abort();
}

FUZZ_NOCOV
static void teardown(void)
{
	unsigned int i;

	for (i = 0; i < NR_DEVS; i++)
		virtio_pci_uninit(&m.vp[i]);
	pci_host_destroy(&m.host);
}

FUZZ_NOCOV
static unsigned int len_of(uint8_t sel, bool wide)
{
	static const unsigned int lens[] = { 1, 2, 4, 8 };

	return lens[sel % (wide ? 4 : 3)];
}

FUZZ_NOCOV
static void step(struct fuzz_in *in, uint8_t *ram)
{
	uint8_t op = fuzz_u8(in) % 9;
	uint64_t v = 0, addr;
	unsigned int len, off;
	struct virtio_pci *vp;

	switch (op) {
	case 0: /* CONFIG_ADDRESS */
		v = fuzz_u32(in);
		iobus_access(&m.pio, PCI_CONF1_ADDR, &v, 4, 1);
		break;
	case 1: /* CONFIG_DATA read / write */
	case 2:
		off = fuzz_u8(in) & 3;
		len = len_of(fuzz_u8(in), false);
		v = fuzz_u32(in);
		iobus_access(&m.pio, PCI_CONF1_DATA + off, &v, len, op == 2);
		break;
	case 3: /* ECAM read / write */
	case 4:
		off = fuzz_u32(in) % PCI_ECAM_BUS0_SIZE;
		len = len_of(fuzz_u8(in), true);
		v = fuzz_u64(in);
		iobus_access(&m.mmio, ECAM_BASE + off, &v, len, op == 4);
		break;
	case 5: /* a device's BAR 0, wherever the guest put it */
	case 6:
		vp = &m.vp[fuzz_u8(in) % NR_DEVS];
		off = fuzz_u16(in) % VIRTIO_PCI_BAR_SIZE;
		len = len_of(fuzz_u8(in), true);
		v = fuzz_u64(in);
		addr = pci_dev_bar_addr(&vp->pdev, 0) + off;
		iobus_access(&m.mmio, addr, &v, len, op == 6);
		break;
	case 7: /* anywhere in the window */
		off = fuzz_u32(in) % WINDOW_SIZE;
		len = len_of(fuzz_u8(in), true);
		v = fuzz_u64(in);
		iobus_access(&m.mmio, WINDOW_BASE + off, &v, len, fuzz_u8(in) & 1);
		break;
	case 8: /* the driver writes guest RAM */
		off = fuzz_u16(in) % FUZZ_RAM_SIZE;
		len = fuzz_u8(in);
		if (len > FUZZ_RAM_SIZE - off)
			len = FUZZ_RAM_SIZE - off;
		fuzz_take(in, ram + off, len);
		break;
	}
}

FUZZ_NOCOV
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t *ram = fuzz_ram_reset();
	unsigned int i;

	if (disk_fd < 0) {
		disk_fd = memfd_create("fuzz-pci-disk", MFD_CLOEXEC);
		if (disk_fd < 0 || ftruncate(disk_fd, 0x10000) < 0)
			abort();
	}
	build();
	for (i = 0; i < MAX_STEPS && in.n; i++)
		step(&in, ram);
	teardown();
	return 0;
}
