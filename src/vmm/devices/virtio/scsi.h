/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-scsi (virtio 1.2 §5.6) with one read-only CD-ROM drive on target
 * 0, LUN 0: the `cdrom` an ISO is booted from (docs/vmm.md, "Firmware
 * boot"). The caller opens the image read-only and keeps the descriptor;
 * the model only preads it, in 2048-byte blocks, never past the last whole
 * block. The commands are the MMC/SPC subset SeaBIOS and Linux's sr driver
 * use (INQUIRY, TEST UNIT READY, REQUEST SENSE, READ CAPACITY, READ(10/12),
 * READ TOC, MODE SENSE, REPORT LUNS, PREVENT/START STOP as no-ops); any
 * other command gets CHECK CONDITION, ILLEGAL REQUEST, as a drive would.
 */
#ifndef VPS_VMM_VIRTIO_SCSI_H
#define VPS_VMM_VIRTIO_SCSI_H

#include <stdint.h>

#define VIRTIO_ID_SCSI 8
#define SCSI_CD_BLOCK 2048

struct virtio_scsi_params {
	int fd; /* the ISO, opened O_RDONLY */
	uint64_t size; /* its size in bytes (at least one block) */
};

struct virtio_scsi_stats {
	uint64_t commands, read_bytes, errors, bad_target;
};

struct virtio_dev;
void virtio_scsi_get_stats(struct virtio_dev *vdev, struct virtio_scsi_stats *s);

#endif
