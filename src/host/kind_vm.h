/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The `vm` kind's helpers that others may use: whether QEMU can use KVM
 * here, and a one-shot QMP client. The kinds themselves are kind_vm_vmm and
 * kind_vm_qemu (host/kind.h).
 */
#ifndef VPS_HOST_KIND_VM_H
#define VPS_HOST_KIND_VM_H

#include <stdbool.h>

#include <jansson.h>

#include "common/err.h"

/*
 * /dev/kvm is there and the CPU says vmx or svm. A PVM host (kvm_pvm) has
 * /dev/kvm without either: a stock kernel does not run on it, so QEMU gets
 * its software CPU there.
 */
bool kind_vm_hw_virt(void);

/*
 * Connect to QEMU's QMP socket at `path`, negotiate capabilities, run `cmd`
 * with `args` (may be NULL; not consumed) and return its "return" value.
 */
json_t *kind_vm_qmp(const char *path, const char *cmd, json_t *args, struct err **err);

#endif
