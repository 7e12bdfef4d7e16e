// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The command channel between the test runner and a test guest (the nested
 * test host L1): the frame layout both ends speak, and the agent's entry
 * points. The guest end is agent.c, built into the test init; the host end is
 * tests/integration/framework/agent.py, which mirrors these numbers.
 *
 * The channel is a virtio-serial port named VPS_AGENT_PORT (virtio 1.2 §5.3),
 * a byte stream with no message boundaries, so every message is a frame: a
 * fixed header, then len bytes of payload. The runner sends one RUN at a time
 * and reads OUT/ERR frames until the EXIT frame with the same id.
 */
#ifndef VPS_TESTS_GUEST_AGENT_H
#define VPS_TESTS_GUEST_AGENT_H

#include <stdint.h>

#define VPS_AGENT_PORT "vps.agent" /* virtio-serial port name */
#define VPS_AGENT_MAGIC 0x41535056u /* "VPSA" little endian */
#define VPS_AGENT_MAX_PAYLOAD (1u << 20) /* largest frame either end accepts */

enum vps_agent_type {
	/* runner -> guest */
	VPS_AGENT_RUN = 'R', /* u32 timeout_ms, then the command for /bin/sh -c */
	VPS_AGENT_PING = 'P', /* answered by a PONG with the same id */
	/* guest -> runner */
	VPS_AGENT_READY = 'Y', /* sent once at start; payload: version text */
	VPS_AGENT_PONG = 'p', /* payload: empty */
	VPS_AGENT_OUT = 'O', /* a chunk of the command's stdout */
	VPS_AGENT_ERR = 'E', /* a chunk of the command's stderr */
	VPS_AGENT_EXIT = 'X', /* struct vps_agent_exit */
	VPS_AGENT_FAIL = 'F', /* the request was refused; payload: reason */
};

/* All fields little endian (x86 only, so no byte swapping in the guest). */
struct vps_agent_hdr {
	uint32_t magic; /* VPS_AGENT_MAGIC: a mismatch means the stream is lost */
	uint8_t type; /* enum vps_agent_type */
	uint8_t pad[3]; /* zero */
	uint32_t id; /* chosen by the runner, echoed in every answer */
	uint32_t len; /* payload bytes that follow */
};

struct vps_agent_exit {
	int32_t status; /* exit code, 128 + signal number, or -1 if unkillable */
	uint32_t timed_out; /* 1 when the agent killed it at its timeout */
};

/* Serve the channel until it fails; the multi-call name `vps-agent`. */
int agent_main(int argc, char **argv);

#endif
