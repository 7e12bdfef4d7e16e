/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * i8042 keyboard controller: the reset line only (see i8042.c).
 */
#ifndef VPS_VMM_I8042_H
#define VPS_VMM_I8042_H

#include "vmm/vm.h"

int i8042_init(struct vm *vm);

#endif
