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
 * The drive may be empty (fd -1) and its medium changed while the guest
 * runs (virtio_scsi_change): an empty drive answers NOT READY, MEDIUM NOT
 * PRESENT; a new medium is announced by one UNIT ATTENTION, MEDIUM MAY
 * HAVE CHANGED, as a real drive does after its tray closes.
 */
#ifndef VPS_VMM_VIRTIO_SCSI_H
#define VPS_VMM_VIRTIO_SCSI_H

#include <stdbool.h>
#include <stdint.h>

#define VIRTIO_ID_SCSI 8
#define SCSI_CD_BLOCK 2048

struct virtio_scsi_params {
	int fd; /* the ISO, opened O_RDONLY; -1: an empty drive */
	uint64_t size; /* its size in bytes (at least one block) */
};

struct virtio_scsi_stats {
	uint64_t commands, read_bytes, errors, bad_target, media_changes;
};

struct virtio_dev;
void virtio_scsi_get_stats(struct virtio_dev *vdev, struct virtio_scsi_stats *s);
/*
 * Put the image fd (O_RDONLY, size bytes, at least one block) in the drive,
 * or empty it (fd -1). Returns the fd that was in it (-1: none) for the
 * caller to close, or -EINVAL for an image under one block.
 */
int virtio_scsi_change(struct virtio_dev *vdev, int fd, uint64_t size);
/* Whether the drive holds a medium, and its size in blocks. */
bool virtio_scsi_medium(struct virtio_dev *vdev, uint64_t *blocks);

#endif
