/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fw_cfg: the channel through which PC firmware (SeaBIOS) learns the
 * machine it runs on, as QEMU defines it (docs/specs/fw_cfg.rst in QEMU's
 * tree): a 16-bit selector at port 0x510, a byte-wide data port at 0x511
 * and a DMA register at 0x514 (big-endian 64-bit address of a descriptor).
 * Items are numbered; the file directory (key 0x19) names the items from
 * 0x20 on ("etc/e820", "bootorder", "pci1234,1111.rom"). Everything here is
 * read-only to the guest: writes through DMA fail with the error bit.
 *
 * Hostile input: any selector, offset, length or DMA address a guest
 * sends is checked here; an unknown key reads as zeros, a DMA descriptor
 * or buffer outside guest RAM sets the error bit, nothing aborts.
 */
#ifndef VPS_VMM_FWCFG_H
#define VPS_VMM_FWCFG_H

#include <pthread.h>
#include <stdint.h>

#include "vmm/mem.h"
#include "vmm/vm.h"

#define FWCFG_PORT_SEL 0x510
#define FWCFG_PORT_DATA 0x511
#define FWCFG_PORT_DMA 0x514 /* 8 bytes: high half at 0x514, low at 0x518 (starts it) */

#define FWCFG_SIGNATURE 0x00 /* "QEMU" */
#define FWCFG_ID 0x01 /* bit 0: traditional interface, bit 1: DMA */
#define FWCFG_RAM_SIZE 0x03
#define FWCFG_NOGRAPHIC 0x04
#define FWCFG_NB_CPUS 0x05
#define FWCFG_MAX_CPUS 0x0f
#define FWCFG_FILE_DIR 0x19
#define FWCFG_FILE_FIRST 0x20
#define FWCFG_MAX_FILES 32
#define FWCFG_NR_KEYS (FWCFG_FILE_FIRST + FWCFG_MAX_FILES)
#define FWCFG_NAME_MAX 56 /* with the NUL */

struct fwcfg_item {
	uint8_t *data;
	uint32_t len;
};

struct fwcfg {
	pthread_mutex_t lock; /* vCPUs may reach the ports at once */
	struct fwcfg_item item[FWCFG_NR_KEYS];
	char name[FWCFG_MAX_FILES][FWCFG_NAME_MAX];
	unsigned int nr_files;
	uint16_t sel; /* the selected key */
	uint32_t off; /* read position in it */
	uint32_t dma_hi; /* the high half of the DMA address, written first */
	const struct guest_mem *mem;
	uint64_t dma_ops, dma_errors, bad_keys; /* counters, for tests and stats */
};

/* The ports on vm's bus; the signature, ID and an empty directory. */
int fwcfg_init(struct fwcfg *f, struct vm *vm);
void fwcfg_destroy(struct fwcfg *f);
/* Set item `key` (< 0x20) to a copy of data. 0 or -EINVAL/-ENOMEM. */
int fwcfg_add(struct fwcfg *f, uint16_t key, const void *data, uint32_t len);
/* Add a named file (a copy); -EEXIST, -ENOSPC, -ENAMETOOLONG, -ENOMEM. */
int fwcfg_add_file(struct fwcfg *f, const char *name, const void *data, uint32_t len);

/* The port handlers, exposed for the fuzz target. */
void fwcfg_pio_read(void *opaque, uint64_t port, void *data, unsigned int len);
void fwcfg_pio_write(void *opaque, uint64_t port, const void *data, unsigned int len);

#endif
