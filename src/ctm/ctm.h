/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vps-ctm, the system-container monitor: one process per running container,
 * as vps-vmm is one per VM. It makes the container's disk and root
 * filesystem from a template (create), runs the template's own init under
 * vps-ct with the container's limits, network and console, restarts it when
 * the init reboots, and answers a control socket (run). docs/ctm.md. Its
 * exit status says how the container ended: monitor/protocol.h.
 */
#ifndef VPS_CTM_CTM_H
#define VPS_CTM_CTM_H

#include <sys/types.h>

#include "ctm/config.h"

/* create.c */
int ctm_create(const struct ctm_config *c, struct err **err);
int ctm_destroy(const struct ctm_config *c, struct err **err);
/* Mount the disk at DIR/rootfs unless it is mounted there already. */
int ctm_mount(const struct ctm_config *c, struct err **err);
int ctm_umount(const struct ctm_config *c, struct err **err);
/* Rescue mode: the rescue system's disk at RESCUE_DIR/rootfs (no-ops without rescue_dir). */
int ctm_rescue_mount(const struct ctm_config *c, struct err **err);
int ctm_rescue_umount(const struct ctm_config *c, struct err **err);
/* Run ARGV (PATH searched) and wait; 0, or an error naming it when it fails. */
int ctm_run_cmd(const char *const *argv, struct err **err);
/* Which init the root filesystem has (for CTM_INIT_AUTO). */
enum ctm_init ctm_detect_init(const char *rootfs);
/* Path of vps-ct: $VPS_CT, else beside this binary, else ../ct/, else PATH. */
const char *ctm_vps_ct(void);
/* Run vps-ct --root RUN/ct ARGS... and wait; returns its exit status or -errno. */
int ctm_vps_ct_run(const struct ctm_config *c, const char *const *args, struct err **err);

/* spec.c */
/*
 * procfs: the directory whose meminfo and swaps are bound over the
 * container's /proc files (procfs.h), or NULL for lxcfs's.
 */
json_t *ctm_spec(const struct ctm_config *c, enum ctm_init init, const char *rootfs,
		 const char *procfs, struct err **err);
/*
 * What `vps-ct update --resources` takes for c: the spec's resources, unset
 * limits lifted (the disk's throttles too when `was`, the settings before,
 * had one; NULL: not known).
 */
json_t *ctm_spec_update(const struct ctm_config *c, const struct ctm_config *was);

/* monitor.c */
int ctm_run(struct ctm_config *c);
/*
 * `export CONFIG -- PROG ARG...` (export.c): the stopped container's root
 * as a tar stream on PROG's stdin, read inside the container's own user
 * namespace. PROG's exit status, or 1 with *err set.
 */
int ctm_export(const struct ctm_config *c, char *const *to, struct err **err);
/* A unix socket listening at path (0600, non-blocking); fd or -errno. */
int ctm_listen_at(const char *path, struct err **err);

#endif
