/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The 8250/16550 UART at COM1 (0x3f8): the guest's console.
 */
#ifndef VPS_VMM_SERIAL_H
#define VPS_VMM_SERIAL_H

#include <stdint.h>

#include "vmm/vm.h"

#define SERIAL_COM1_BASE 0x3f8

struct serial {
	int out_fd; /* where transmitted bytes go */
	uint8_t ier, lcr, mcr, scr, dll, dlm;
};

int serial_init(struct serial *s, struct vm *vm, uint16_t base, int out_fd);

#endif
