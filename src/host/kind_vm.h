/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The `vm` kind's helper that others may use: whether QEMU can use KVM
 * here. The kinds themselves are kind_vm_vmm and
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

#endif
