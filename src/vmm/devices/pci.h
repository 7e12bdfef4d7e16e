/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A PCI host bridge with one bus (bus 0) of up to 32 single-function
 * devices. The guest reaches configuration space through configuration
 * mechanism #1 (ports 0xCF8/0xCFC, PCI Local Bus 3.0 §3.2.2.3.2), which is
 * what a Linux guest without ACPI uses, and optionally through an ECAM window
 * (PCI Express Base 4.0 §7.2.2). Devices plug in as a `struct pci_dev` with an
 * ops table; the host keeps each device's 256-byte configuration image and a
 * write mask, so BAR sizing, the command register and capability lists
 * behave like hardware without device code.
 *
 * Memory BARs are placed by the host in one MMIO window at registration
 * (as firmware would) and may be moved by the guest inside that window;
 * an access inside the window reaches the device whose enabled BAR covers
 * it. I/O-space BARs are not supported: virtio 1.x does not need them.
 */
#ifndef VPS_VMM_PCI_H
#define VPS_VMM_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/iobus.h"

#define PCI_CONF1_ADDR 0xcf8
#define PCI_CONF1_DATA 0xcfc
#define PCI_ECAM_BUS0_SIZE (1u << 20) /* 32 devices * 8 functions * 4 KiB */
#define PCI_MAX_DEVICES 32

/* Type-0 configuration header offsets, PCI Local Bus 3.0 §6.1 */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09 /* class code: prog-if, subclass, class */
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_COMMAND_IO 0x0001
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_COMMAND_SERR 0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS_CAP_LIST 0x0010

#define PCI_BAR_MEM_64 0x04 /* type field of a memory BAR: 64-bit */
#define PCI_BAR_PREFETCH 0x08

#define PCI_CAP_ID_MSIX 0x11
#define PCI_CAP_ID_VNDR 0x09

struct pci_dev;

/*
 * Where a device's interrupts go, and where its doorbells can be caught in
 * the kernel. The device models never make ioctls: the VM wires these to
 * KVM_SIGNAL_MSI, KVM_IRQ_LINE, and KVM's eventfds (notify.h).
 */
struct pci_irq_ops {
	/* Deliver one MSI/MSI-X message. */
	void (*msi)(void *opaque, uint64_t addr, uint32_t data);
	/* Drive a level-triggered INTx line, already routed to `gsi`. */
	void (*intx)(void *opaque, unsigned int gsi, bool level);

	/* Optional (NULL, or -errno: not available; the caller uses the above). */
	/* Signal `fd` on 2-byte writes at guest-physical `addr` (ioeventfd); or stop. */
	int (*ioeventfd)(void *opaque, uint64_t addr, int fd, bool assign);
	/* A GSI of its own for one MSI-X vector. */
	int (*msi_gsi)(void *opaque);
	/* Route `gsi` to the message (addr, data); a write to `fd` then injects it. */
	int (*msi_route)(void *opaque, unsigned int gsi, int fd, uint64_t addr, uint32_t data);
	/* `fd` no longer injects on `gsi`. */
	void (*msi_detach)(void *opaque, unsigned int gsi, int fd);
};

/* What the device model provides. */
struct pci_dev_ops {
	/* An access to memory BAR `bar` at offset `off`; len is 1, 2, 4 or 8. */
	void (*bar_read)(struct pci_dev *pdev, unsigned int bar, uint64_t off, void *data,
			 unsigned int len);
	void (*bar_write)(struct pci_dev *pdev, unsigned int bar, uint64_t off, const void *data,
			  unsigned int len);
	/*
	 * Optional: called after the guest wrote config bytes [off, off+len)
	 * (the image is already updated), for registers with side effects such
	 * as the MSI-X enable bit. Called with the host's config lock held.
	 */
	void (*cfg_written)(struct pci_dev *pdev, unsigned int off, unsigned int len);
};

struct pci_dev {
	const struct pci_dev_ops *ops;
	void *priv;
	uint8_t cfg[256]; /* configuration image, little-endian */
	uint8_t wmask[256]; /* bits the guest may change */
	uint64_t bar_size[6]; /* 0: no BAR; a 64-bit BAR uses the next slot too */
	uint8_t cap_end; /* where the next capability goes */
	uint8_t cap_link; /* offset of the `next` byte the next capability hangs off */
	unsigned int slot; /* device number on bus 0 */
};

struct pci_host {
	pthread_mutex_t lock; /* config address register and all config images */
	struct pci_dev *devs[PCI_MAX_DEVICES];
	struct pci_dev bridge; /* device 0 */
	uint32_t conf1_addr; /* last value written to 0xCF8 */
	/* 0xCF9, the chipset's reset control register (PIIX3, ICH9): a write with
	 * RST_CPU (bit 2) calls reset, the guest's reboot (machine.c) */
	void (*reset)(void *opaque);
	void *reset_opaque;
	uint64_t mmio_base, mmio_size; /* the window BARs live in */
	uint64_t mmio_next; /* allocation cursor in the window */
};

/* Start a device's config image: IDs, class, header type 0, no BARs. */
void pci_dev_init(struct pci_dev *pdev, uint16_t vendor, uint16_t device, uint32_t class_code,
		  uint8_t revision, uint16_t subsys_vendor, uint16_t subsys_id);

/* Declare memory BAR `bar` of `size` bytes (a power of two ≥ 16). */
int pci_dev_add_bar(struct pci_dev *pdev, unsigned int bar, uint64_t size, bool is64,
		    bool prefetch);

/*
 * Append a capability of `len` bytes (including the 2-byte header) with ID
 * `id`, linking it into the list. Returns its offset in config space, or
 * -ENOSPC. The caller fills the body and sets wmask for writable fields.
 */
int pci_dev_add_cap(struct pci_dev *pdev, uint8_t id, unsigned int len);

/* Little-endian helpers on the config image. */
void pci_cfg_put16(uint8_t *p, unsigned int off, uint16_t v);
void pci_cfg_put32(uint8_t *p, unsigned int off, uint32_t v);
uint16_t pci_cfg_get16(const uint8_t *p, unsigned int off);
uint32_t pci_cfg_get32(const uint8_t *p, unsigned int off);

/* Current guest-programmed address of a memory BAR. */
uint64_t pci_dev_bar_addr(const struct pci_dev *pdev, unsigned int bar);

/*
 * Bring up the host bridge: device 0, conf1 ports on `pio`, and the BAR
 * window [mmio_base, mmio_base + mmio_size) on `mmio`.
 */
int pci_host_init(struct pci_host *h, struct iobus *pio, struct iobus *mmio, uint64_t mmio_base,
		  uint64_t mmio_size);

/* Also expose bus 0 through an ECAM window at `base` on `mmio`. */
int pci_host_add_ecam(struct pci_host *h, struct iobus *mmio, uint64_t base);

/*
 * Plug a device into the next free slot: place its BARs in the window and
 * route INTA# to `irq` (written to Interrupt Line for the guest to find).
 */
int pci_host_add(struct pci_host *h, struct pci_dev *pdev, uint8_t irq);

void pci_host_destroy(struct pci_host *h);

/* Snapshots: the config address register and the bridge's writable config bits. */
struct snap_w;
struct snap_r;
struct err;
void pci_host_save(struct pci_host *h, struct snap_w *w);
int pci_host_load(struct pci_host *h, const struct snap_r *r, struct err **err);

/* Config access for bus 0 (tests and other transports); len 1, 2 or 4. */
uint32_t pci_host_cfg_read(struct pci_host *h, unsigned int slot, unsigned int fn, unsigned int off,
			   unsigned int len);
void pci_host_cfg_write(struct pci_host *h, unsigned int slot, unsigned int fn, unsigned int off,
			unsigned int len, uint32_t val);

#endif
