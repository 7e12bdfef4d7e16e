/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The test exit port: a guest writes one byte to port 0xf4 and the VM ends
 * with that byte as the monitor's exit status. Micro-guests report with it;
 * it is only present when asked for (--exit-port), never in a customer VM.
 */
#ifndef VPS_VMM_EXITPORT_H
#define VPS_VMM_EXITPORT_H

#include "vmm/vm.h"

#define EXITPORT_BASE 0xf4

int exitport_init(struct vm *vm);

#endif
