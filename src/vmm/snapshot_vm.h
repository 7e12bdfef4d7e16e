/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Snapshot and restore of a whole VM: the parts main.c holds, saved to and
 * loaded from a snapshot directory (snapshot.h for the format).
 */
#ifndef VPS_VMM_SNAPSHOT_VM_H
#define VPS_VMM_SNAPSHOT_VM_H

#include <stdbool.h>

#include "common/err.h"
#include "vmm/devices/pm.h"
#include "vmm/devices/rtc.h"
#include "vmm/devices/serial.h"
#include "vmm/machine.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

struct snap_parts {
	struct vm *vm;
	struct machine *mc;
	struct serial *com1;
	struct rtc *rtc;
	struct pm *pm;
	bool micro;
};

/*
 * Write `memory` and then `state` into the directory `dirfd` (each through
 * a temporary name, synced and renamed). The caller has parked the vCPUs
 * and locked the devices (machine_lock_devices).
 */
int snapshot_save(const struct snap_parts *p, int dirfd, struct err **err);

/*
 * Load the snapshot in `dir` into a VM built from the same configuration,
 * before any of its threads runs. Refuses, with the reason in *err, a
 * state file that is not ours, of another version, truncated or corrupt,
 * or of a VM of another shape (memory, vCPUs, devices, FPU state size).
 */
int snapshot_restore(const struct snap_parts *p, const char *dir, struct err **err);

/*
 * The parts of the above that live migration (migrate.c) shares: the
 * state image of a paused VM with locked devices (everything but RAM), the
 * shape section alone (what must match, sent first), and loading a state
 * image already parsed (the shape checked first, then every section as
 * restore does).
 */
int snapshot_build_state(const struct snap_parts *p, struct snap_w *w, struct err **err);
void snapshot_build_shape(const struct snap_parts *p, struct snap_w *w);
int snapshot_check_shape(const struct snap_parts *p, const struct snap_r *r, struct err **err);
int snapshot_load_state(const struct snap_parts *p, const struct snap_r *r, struct err **err);

#endif
