/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The 16550A UART at COM1 (0x3f8, IRQ 4): the guest's console. Transmit
 * goes straight to a file descriptor; received bytes are pushed in by the
 * console backend's thread through serial_rx(). Interrupts are raised on a
 * GSI through the VM's irqchip when there is one.
 */
#ifndef VPS_VMM_SERIAL_H
#define VPS_VMM_SERIAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/snapshot.h"
#include "vmm/vm.h"

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ 4
#define SERIAL_RX_FIFO 16 /* 16550A receive FIFO depth */

struct serial {
	pthread_mutex_t lock; /* vCPU threads and the input thread */
	struct vm *vm;
	unsigned int gsi;
	/* Where transmitted bytes go (the console backend); NULL drops them. */
	void (*tx)(void *opaque, const uint8_t *buf, size_t len);
	void *tx_opaque;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	uint8_t rx[SERIAL_RX_FIFO];
	unsigned int rx_head, rx_len;
	int thri_pending; /* THR-empty interrupt owed to the driver */
	int irq_level; /* last level set on the GSI */
	uint64_t tx_bytes, rx_bytes;
};

int serial_init(struct serial *s, struct vm *vm, uint16_t base, unsigned int gsi,
		void (*tx)(void *opaque, const uint8_t *buf, size_t len), void *tx_opaque);

/*
 * Offer received bytes to the guest; returns how many the FIFO took (the
 * rest must be offered again once the guest has read some).
 */
size_t serial_rx(struct serial *s, const uint8_t *buf, size_t len);

/* Room in the receive FIFO right now. */
size_t serial_rx_room(struct serial *s);

/* Snapshot state (snapshot.h): registers and the receive FIFO. */
void serial_save(struct serial *s, struct snap_w *w);
int serial_load(struct serial *s, const struct snap_r *r, struct err **err);

#endif
