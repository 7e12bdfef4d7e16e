/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-net parameters, header checks and counters (the model is net.c).
 */
#ifndef VPS_VMM_VIRTIO_NET_H
#define VPS_VMM_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

/* Feature bits, virtio 1.2 §5.1.3 */
#define VIRTIO_NET_F_CSUM 0 /* the device checksums partial frames (transmit) */
#define VIRTIO_NET_F_GUEST_CSUM 1 /* the driver takes partial checksums (receive) */
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_GUEST_UFO 10
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_HOST_UFO 14
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_CTRL_VQ 17 /* a control queue after the data queues */
#define VIRTIO_NET_F_MQ 22 /* several queue pairs, chosen by VIRTIO_NET_CTRL_MQ */

/* §5.1.6: struct virtio_net_hdr_v1 (12 bytes, little-endian fields). */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_UDP 3
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN 0x80

#define VIRTIO_NET_ETH_MIN 14 /* an Ethernet header */
#define VIRTIO_NET_FRAME_MAX 1518 /* one Ethernet frame with a VLAN tag, no GSO */
#define VIRTIO_NET_GSO_FRAME_MAX 65550 /* 64 KiB of IP plus Ethernet and VLAN headers */

/*
 * Queue pairs: VIRTIO_MAX_QUEUES (8) holds 3 pairs and the control queue.
 * Raising it changes the saved PCI transport layout (a snapshot format
 * change), so it stays until that is done on purpose.
 */
#define VIRTIO_NET_MAX_PAIRS 3

/* §5.1.6.5: control commands. The readable part is class, command, data; the ack is written. */
#define VIRTIO_NET_OK 0
#define VIRTIO_NET_ERR 1
#define VIRTIO_NET_CTRL_MQ 4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0 /* data: le16 virtqueue_pairs */

struct virtio_net_params {
	int tap_fd[VIRTIO_NET_MAX_PAIRS]; /* tap_open(): non-blocking, vnet header; one per pair */
	unsigned int pairs; /* queue pairs, 1..VIRTIO_NET_MAX_PAIRS (0 means 1); >1 offers MQ */
	uint8_t mac[6];
	bool offloads; /* offer checksum/TSO offloads and MRG_RXBUF (config `net_offloads`) */
	bool vhost; /* use /dev/vhost-net where the host has it (config `net[].vhost`) */
};

/* Counters for the control socket's stats. */
struct virtio_net_stats {
	uint64_t rx_packets, rx_bytes, rx_errors;
	uint64_t tx_packets, tx_bytes, tx_errors;
	uint64_t tx_bad_hdr; /* of tx_errors: a header the checks refused */
	uint64_t tx_gso; /* segmentation-offloaded transmits (one frame up to 64 KiB) */
	uint64_t rx_merged; /* received frames that took more than one buffer */
	uint64_t announces; /* RARPs sent for the guest after it moved here */
	uint64_t ctrl_ok, ctrl_errors; /* control commands acked OK, and refused */
	uint64_t pair_rx[VIRTIO_NET_MAX_PAIRS], pair_tx[VIRTIO_NET_MAX_PAIRS]; /* frames per pair */
	unsigned int max_pairs; /* offered */
	unsigned int pairs; /* in use: what the driver set (1 until it does) */
	unsigned int peak_pairs; /* the most the driver set in use (stays after a reset) */
	bool vhost; /* vhost-net is open and has not failed: the kernel serves the data queues */
	bool vhost_missing; /* asked for, but the host has no /dev/vhost-net */
	uint64_t vhost_starts; /* times the rings went to the kernel (after DRIVER_OK, a snapshot) */
	/*
	 * The driver accepted offloads or MRG_RXBUF, in the last negotiation
	 * the device received under (it stays after the reset at poweroff).
	 */
	bool offloads;
};

/*
 * Check a transmit header the driver wrote (host byte order) against the
 * negotiated features and the frame's length after the header. Returns
 * NULL when the tap may take it, else why not. Every field a tap or the
 * host's network stack would act on is checked here, before it gets there.
 */
const char *virtio_net_tx_hdr_check(const struct virtio_net_hdr *h, uint64_t frame_len,
				    uint64_t features);

/*
 * Check one control command (§5.1.6.5): `cmd` holds the first bytes of its
 * readable part, `len` is that part's whole length. Returns VIRTIO_NET_OK
 * with *pairs set to the queue pairs the driver asked for, or
 * VIRTIO_NET_ERR with *why saying what was wrong. Only
 * VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET exists here (§5.1.6.5.5): two bytes of
 * data, 1..max_pairs, with VIRTIO_NET_F_MQ negotiated.
 */
uint8_t virtio_net_ctrl_check(const uint8_t *cmd, uint64_t len, uint64_t features,
			      unsigned int max_pairs, unsigned int *pairs, const char **why);

/* The TUN_F_* offload flags for TUNSETOFFLOAD that match negotiated features. */
unsigned int virtio_net_tap_offloads(uint64_t features);

struct virtio_dev;
void virtio_net_get_stats(struct virtio_dev *vdev, struct virtio_net_stats *s);

/*
 * What the I/O thread does when the tap is readable, here and now, with vdev->lock
 * held: frames from the tap into posted buffers. For the fuzz target, which
 * drives receive without the thread. True when the guest ran out of buffers.
 */
bool virtio_net_rx_locked(struct virtio_dev *vdev, unsigned int pair);

/*
 * Under lock, before a snapshot: take the rings back from vhost-net, so the
 * queues' positions are ours to save. The next notification (the
 * machine_kick_all() after the devices are let go) hands them back.
 */
void virtio_net_quiesce_locked(struct virtio_dev *vdev);
/* Whether vhost-net serves (or will serve, after DRIVER_OK) this NIC's data queues. */
bool virtio_net_vhost(struct virtio_dev *vdev);

/*
 * The VM has just moved here (an incoming live migration, a restore): have
 * the device send one RARP from the guest's MAC through its tap at its next
 * notification, as QEMU's self-announce does, so that bridges and switches
 * send the guest's frames to this tap from then on, not to the one it left.
 * machine_kick_all() makes that notification on the device's I/O thread
 * (the thread whose seccomp class writes to the tap).
 */
void virtio_net_announce(struct virtio_dev *vdev);

#endif
