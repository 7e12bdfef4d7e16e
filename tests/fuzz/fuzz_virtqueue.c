// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the split virtqueue walker (src/vmm/devices/virtio/
 * virtqueue.c) on rings and descriptor chains a hostile driver wrote: enable
 * with any size and ring addresses, pop chains (direct, indirect, looping,
 * out of RAM), gather and scatter through them, push, unpop and ask whether
 * to signal, as a device model would.
 *
 * Input: u8 flags (bit 0 EVENT_IDX, bit 1 INDIRECT_DESC), u16 queue size
 * (offered maximum 256), u16 descriptor, driver and device area addresses,
 * u32 a script (two bits per pop: consume, unpop, skip the write, stop),
 * then the guest RAM image.
 */
#include "fuzz.h"
#include "vmm/devices/virtio/virtqueue.h"

#define MAX_POPS 16

static uint8_t buf[4096];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	static struct virtq_chain c;
	struct virtq vq;
	uint8_t flags;
	uint32_t script;
	unsigned int i;
	uint8_t *ram;

	virtq_reset(&vq, 256);
	flags = fuzz_u8(&in);
	vq.size = fuzz_u16(&in);
	vq.desc_gpa = fuzz_u16(&in);
	vq.avail_gpa = fuzz_u16(&in);
	vq.used_gpa = fuzz_u16(&in);
	script = fuzz_u32(&in);
	ram = fuzz_ram_reset();
	fuzz_take(&in, ram, in.n < FUZZ_RAM_SIZE ? in.n : FUZZ_RAM_SIZE);
	if (virtq_enable(&vq, fuzz_ram(), flags & 1, flags & 2) < 0)
		return 0;
	for (i = 0; i < MAX_POPS; i++, script >>= 2) {
		size_t got, put;

		if (virtq_pop(&vq, &c) != 1)
			break;
		got = virtq_chain_read(&c, 0, buf, sizeof(buf));
		if (got > c.out_bytes || got > sizeof(buf))
			__builtin_trap();
		if ((script & 3) == 1) {
			virtq_unpop(&vq);
			continue;
		}
		put = (script & 3) == 2 ? 0 : virtq_chain_write(&c, got % 7, buf, sizeof(buf));
		if (put > c.in_bytes)
			__builtin_trap();
		virtq_push(&vq, c.head, put);
		virtq_should_signal(&vq);
		if ((script & 3) == 3)
			break;
	}
	virtq_should_signal(&vq);
	return 0;
}
