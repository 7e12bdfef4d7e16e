/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The x86 virtual machine a Linux guest boots on: memory layout, in-kernel
 * irqchip and PIT, vCPUs with their CPUID and MSRs, ACPI tables, the PCI
 * bus with one virtio-pci function per disk and network card plus rng and
 * balloon, and the kernel loaded per the boot protocol. main.c builds it
 * from the configuration; everything it opens is opened here, before any
 * vCPU runs.
 */
#ifndef VPS_VMM_MACHINE_H
#define VPS_VMM_MACHINE_H

#include <jansson.h>

#include "common/err.h"
#include "vmm/arch/x86/layout.h"
#include "vmm/config.h"
#include "vmm/devices/fwcfg.h"
#include "vmm/devices/pci.h"
#include "vmm/devices/vga.h"
#include "vmm/devices/virtio/pci.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

struct machine {
	struct vm *vm;
	struct x86_layout layout;
	struct pci_host pci;
	bool pci_up;
	bool notify_up; /* notify_init done */
	unsigned int next_slot; /* PCI slot the next device gets */
	struct virtio_pci *disk[CONFIG_MAX_DISKS];
	int disk_fd[CONFIG_MAX_DISKS];
	char disk_id[CONFIG_MAX_DISKS][24]; /* config's `id` (its serial), "" for none */
	unsigned int nr_disk;
	struct virtio_pci *net[CONFIG_MAX_NETS];
	int tap_fd[CONFIG_MAX_NETS][CONFIG_NET_QUEUES_MAX]; /* one per queue pair */
	unsigned int nr_tap[CONFIG_MAX_NETS];
	unsigned int nr_net;
	struct virtio_pci *rng, *balloon;
	struct virtio_pci *cdrom; /* virtio-scsi with the `cdrom` ISO, or NULL */
	int cdrom_fd;
	/* firmware boot only (machine_build_firmware) */
	struct fwcfg fwcfg;
	bool fwcfg_up;
	struct vga vga;
	bool vga_up;
};

/*
 * The PCI bus and its virtio functions alone (micro-guests drive them by
 * polling: without an irqchip, interrupts go nowhere).
 */
int machine_build_devices(struct machine *mc, struct vm *vm, const struct vmm_config *cfg,
			  struct err **err);

/* Build everything for a Linux boot; the vCPUs are created, not started. */
int machine_build(struct machine *mc, struct vm *vm, const struct vmm_config *cfg,
		  struct err **err);
/*
 * Build everything for PC firmware boot (boot/firmware.h): irqchip, PCI
 * with the window and MMCONFIG where SeaBIOS places them, fw_cfg, VGA
 * when `vgabios` is set, the vCPUs at the reset vector.
 */
int machine_build_firmware(struct machine *mc, struct vm *vm, const struct vmm_config *cfg,
			   struct err **err);
/* The control socket's `screen`: the VGA text screen, or an error without a display. */
int machine_screen(void *mc, json_t *reply, struct err **err);
/*
 * Whether a NIC's data queues are (or will be) served by vhost-net, whose
 * writes to guest RAM KVM's dirty log does not see: live migration refuses.
 */
bool machine_net_vhost(struct machine *mc);
/* Start the devices' I/O threads: after the jail, which they narrow. */
int machine_start(struct machine *mc);
void machine_destroy(struct machine *mc);

/*
 * Snapshots (snapshot.h). lock_devices takes every device's lock, which
 * waits out any request an I/O thread is serving and holds the threads off
 * until unlock: with the vCPUs parked, nothing then writes guest RAM or
 * device state. save and load run between the two (load: before any
 * thread runs) and cover the PCI host and every virtio function by slot.
 */
void machine_lock_devices(struct machine *mc);
void machine_unlock_devices(struct machine *mc);
/* Before a snapshot, the devices held: no disk request left in flight (io_uring). */
int machine_quiesce_locked(struct machine *mc, struct err **err);
/*
 * For a copy of the disk images made outside (vpsd's snapshot of a running
 * VM), the vCPUs parked: what is in flight completes, the images are synced
 * to storage, and no new request is served until machine_disks_release(),
 * which kicks every queue. -EBUSY (nothing held) as machine_quiesce_locked.
 */
int machine_disks_hold(struct machine *mc, struct err **err);
/*
 * Put fd (an ISO opened read-only, at least one 2 KiB block; taken on
 * success) in the CD drive, or empty it (fd -1); the old medium is closed.
 */
int machine_cdrom_change(struct machine *mc, int fd, struct err **err);
void machine_disks_release(struct machine *mc);
/*
 * machine_disks_hold without the sync, for a thread that may not (the
 * migration's, its disks' barrier): what is in flight completes into its
 * file and ring, and no new request is served until machine_disks_release.
 */
int machine_disks_barrier(struct machine *mc, struct err **err);
/*
 * The disks' dirty-block logs (virtio_blk_dirty_*, for a live move that copies
 * the disks while the guest runs): `on` starts every disk's at one instant,
 * every block clean, and returns how many disks; off stops them.
 */
int machine_disks_dirty_log(struct machine *mc, bool on, struct err **err);
/* Disk `i`'s marked ranges, taken as virtio_blk_dirty_take() does; *id its config `id`. */
int machine_disk_dirty_take(struct machine *mc, unsigned int i, uint64_t (*ranges)[2],
			    unsigned int max, bool *more, const char **id, unsigned int *nr,
			    struct err **err);
/*
 * Look at every queue once: after a restore or a snapshot, for a doorbell
 * rung while the devices were held (its eventfd is not in the file) and
 * for a disk queue left waiting for a slot.
 */
void machine_kick_all(struct machine *mc);
/*
 * The VM has just arrived (restore, incoming migration): each network card
 * sends a RARP from its MAC at the machine_kick_all() that follows.
 */
void machine_announce(struct machine *mc);
/*
 * Mark every ready queue's used ring in the migration's page bitmap
 * (mem.h): the devices write it through a pointer taken when the queue was
 * enabled, which gpa_ptr() did not see then. Devices locked.
 */
void machine_mark_used_rings(struct machine *mc);
void machine_save_locked(struct machine *mc, struct snap_w *w);
int machine_load(struct machine *mc, const struct snap_r *r, struct err **err);
/* The virtio functions as the state file's VM section lists them: model id per slot. */
unsigned int machine_virtio_ids(struct machine *mc, uint16_t *ids, unsigned int max);

/* Control socket hooks. */
int machine_balloon_set(void *mc, uint64_t target, struct err **err);
void machine_stats(void *mc, json_t *reply);

#endif
