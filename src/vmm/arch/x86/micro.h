/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Booting a raw micro-guest: a flat binary copied into guest RAM and entered
 * either in real mode or directly in 64-bit long mode. Micro-guests are the
 * test payloads in tests/guest/micro; each exercises one monitor feature.
 *
 * real: loaded at 0x10000, entered at CS:IP = 0x1000:0000, SS:SP = 0x1000:0xfffe.
 * long: loaded at 0x100000, entered at its first byte in 64-bit mode with the
 *       low 4 GiB identity-mapped by 2 MiB pages (page directories at
 *       0x3000..0x6fff), RSP at the top of RAM below 4 GiB (2 MiB aligned)
 *       and RDI = RAM size in bytes.
 */
#ifndef VPS_VMM_X86_MICRO_H
#define VPS_VMM_X86_MICRO_H

#include <stddef.h>

#include "vmm/vm.h"

enum micro_mode { MICRO_REAL, MICRO_LONG };

#define MICRO_REAL_LOAD 0x10000
#define MICRO_LONG_LOAD 0x100000

/* Copy the payload into RAM; -E2BIG if it does not fit. */
int micro_load(struct vm *vm, enum micro_mode mode, const void *img, size_t len);

/* Set vCPU registers for entry in the given mode. */
int micro_setup_vcpu(struct vcpu *v, enum micro_mode mode);

#endif
