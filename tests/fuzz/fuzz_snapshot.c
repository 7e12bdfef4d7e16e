// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: a snapshot's state file (src/vmm/snapfile.c) loaded into the
 * PCI host and three virtio-pci functions (virtio-blk, -rng, -balloon), as
 * `vps-vmm --restore` loads it (virtio_pci_load_locked), then every queue
 * the file enabled is notified, so the positions and addresses it set are
 * used. The harness makes the header's length and checksum right, so the
 * fuzzer spends its time on the sections: it is an attacker who knows the
 * format.
 */
#include <endian.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "vmm/devices/virtio/balloon.h"
#include "vmm/devices/virtio/blk.h"
#include "vmm/devices/virtio/pci.h"
#include "vmm/snapshot.h"

#define WINDOW_BASE 0xc0000000ULL
#define WINDOW_SIZE 0x10000000ULL
#define NR_DEVS 3

static struct iobus pio, mmio;
static struct pci_host host;
static struct virtio_pci vp[NR_DEVS];
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
	struct virtio_blk_params blk = { .fd = disk_fd, .serial = "fuzz-snap-disk" };
	struct virtio_balloon_params bal = { .ram_size = FUZZ_RAM_SIZE };
	/* the order vps-vmm plugs them (a disk, rng, balloon): real state files are seeds */
	const struct virtio_dev_ops *ops[NR_DEVS] = { &virtio_blk_ops, &virtio_rng_ops,
						      &virtio_balloon_ops };
	const void *params[NR_DEVS] = { &blk, NULL, &bal };
	unsigned int i;

	memset(&pio, 0, sizeof(pio));
	memset(&mmio, 0, sizeof(mmio));
	if (pci_host_init(&host, &pio, &mmio, WINDOW_BASE, WINDOW_SIZE) < 0)
		abort();
	for (i = 0; i < NR_DEVS; i++)
		if (virtio_pci_init(&vp[i], ops[i], params[i], fuzz_ram(), &fake_irq, NULL) < 0 ||
		    virtio_pci_plug(&vp[i], &host, 10 + i) < 0)
			abort();
}

FUZZ_NOCOV
static void teardown(void)
{
	unsigned int i;

	for (i = 0; i < NR_DEVS; i++)
		virtio_pci_uninit(&vp[i]);
	pci_host_destroy(&host);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snap_r r;
	struct err *e = NULL;
	uint8_t *buf;
	unsigned int i, q;

	if (size < 32 || size > (1u << 20))
		return 0;
	if (disk_fd < 0) {
		disk_fd = memfd_create("fuzz-snap-disk", MFD_CLOEXEC);
		if (disk_fd < 0 || ftruncate(disk_fd, 0x10000) < 0)
			abort();
	}
	fuzz_ram_reset();
	buf = malloc(size);
	memcpy(buf, data, size);
	{
		uint64_t body = htole64(size - 32);
		uint32_t crc = htole32(snap_crc32(buf + 32, size - 32));

		memcpy(buf + 16, &body, 8);
		memcpy(buf + 24, &crc, 4);
	}
	if (snap_r_parse(&r, buf, size, &e) == 0) {
		build();
		if (pci_host_load(&host, &r, &e) == 0) {
			for (i = 0; i < NR_DEVS; i++) {
				pthread_mutex_lock(&vp[i].vdev.lock);
				if (virtio_pci_load_locked(&vp[i], &r, &e) == 0)
					for (q = 0; q < vp[i].vdev.ops->num_queues; q++)
						if (vp[i].vdev.vqs[q].ready)
							virtio_dev_queue_notify(&vp[i].vdev, q);
				pthread_mutex_unlock(&vp[i].vdev.lock);
				err_free(&e);
			}
		}
		teardown();
	}
	err_free(&e);
	snap_r_free(&r);
	return 0;
}
