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

struct host;
struct vps;
struct keeper_jail;

/*
 * What the keeper does to a VM's monitor (docs/security.md "The monitor's
 * jail"): its cgroup (`cgroup`, of `len` bytes, gets "vps-vm/NAME", with
 * "@HASH" of the run directory for a vpsd not run from /run/vps), the pids
 * and memory limits, a PID namespace of its own.
 */
bool kind_vm_jail(const struct host *h, const struct vps *v, struct keeper_jail *j, char *cgroup,
		  size_t len);

/*
 * Remove a VM's cgroup its keeper left (a keeper killed), ending what runs
 * in it; nothing when there is none.
 */
void kind_vm_jail_cleanup(const struct host *h, const char *name);

#endif
