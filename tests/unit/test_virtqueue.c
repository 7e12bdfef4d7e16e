// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the device side of the split virtqueue: well-formed chains
 * come out as the right host buffers, and every hostile chain a guest can
 * build (virtio 1.2 §2.7 rules broken one at a time) breaks the queue
 * without touching memory outside the chain's own buffers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/devices/virtio/virtqueue.h"
#include "virtq_driver.h"

#define RAM0_SIZE 0x100000 /* region 0: [0, 1 MiB) */
#define RAM1_GPA 0x100000 /* region 1 is adjacent but a separate mapping */
#define RAM1_SIZE 0x10000
#define QSIZE 16
#define RING_GPA 0x1000
#define DATA_GPA 0x10000
#define TABLE_GPA 0x8000

struct fx {
	struct guest_mem mem;
	uint8_t *ram0, *ram1;
	struct vqd d;
	struct virtq vq;
	struct virtq_chain c;
};

static int enable(struct fx *f, bool event_idx, bool indirect)
{
	virtq_reset(&f->vq, QSIZE);
	f->vq.desc_gpa = f->d.desc_gpa;
	f->vq.avail_gpa = f->d.avail_gpa;
	f->vq.used_gpa = f->d.used_gpa;
	return virtq_enable(&f->vq, &f->mem, event_idx, indirect);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->ram0 = calloc(1, RAM0_SIZE);
	f->ram1 = calloc(1, RAM1_SIZE);
	assert_int_equal(guest_mem_add(&f->mem, 0, RAM0_SIZE, f->ram0), 0);
	assert_int_equal(guest_mem_add(&f->mem, RAM1_GPA, RAM1_SIZE, f->ram1), 0);
	vqd_init(&f->d, &f->mem, RING_GPA, QSIZE);
	assert_int_equal(enable(f, false, true), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	free(f->ram0);
	free(f->ram1);
	free(f);
	return 0;
}

/* Publish a raw one-descriptor-or-more chain headed at 0 and pop it. */
static int pop_raw(struct fx *f)
{
	vqd_publish(&f->d, 0);
	return virtq_pop(&f->vq, &f->c);
}

/* A broken queue: -EIO from now on, nothing on the used ring, no writes. */
static void assert_broken(struct fx *f)
{
	uint32_t id, len;

	assert_true(f->vq.broken);
	assert_int_equal(virtq_pop(&f->vq, &f->c), -EIO);
	virtq_push(&f->vq, 0, 1);
	assert_false(vqd_get_used(&f->d, &id, &len));
	assert_false(virtq_should_signal(&f->vq));
}

static void direct_chain(void **state)
{
	struct fx *f = *state;
	struct vqd_buf b[] = { { DATA_GPA, 16, false },
			       { DATA_GPA + 0x100, 8, false },
			       { DATA_GPA + 0x200, 32, true } };
	uint16_t head = vqd_add_chain(&f->d, b, 3);
	uint32_t id, len;

	vqd_publish(&f->d, head);
	assert_int_equal(virtq_pop(&f->vq, &f->c), 1);
	assert_int_equal(f->c.head, head);
	assert_int_equal(f->c.nr_out, 2);
	assert_int_equal(f->c.nr_in, 1);
	assert_int_equal(f->c.out_bytes, 24);
	assert_int_equal(f->c.in_bytes, 32);
	assert_ptr_equal(f->c.iov[0].base, f->ram0 + DATA_GPA);
	assert_ptr_equal(f->c.iov[1].base, f->ram0 + DATA_GPA + 0x100);
	assert_ptr_equal(f->c.iov[2].base, f->ram0 + DATA_GPA + 0x200);
	assert_int_equal(virtq_pop(&f->vq, &f->c), 0); /* empty now */

	virtq_push(&f->vq, head, 7);
	assert_true(vqd_get_used(&f->d, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 7);
	assert_true(virtq_should_signal(&f->vq));
	assert_false(virtq_should_signal(&f->vq)); /* nothing new since */
}

static void indirect_chain(void **state)
{
	struct fx *f = *state;
	struct vqd_buf b[] = { { DATA_GPA, 16, false },
			       { DATA_GPA + 0x100, 100, true },
			       { RAM1_GPA, 50, true } };

	vqd_publish(&f->d, vqd_add_indirect(&f->d, TABLE_GPA, b, 3));
	assert_int_equal(virtq_pop(&f->vq, &f->c), 1);
	assert_int_equal(f->c.nr_out, 1);
	assert_int_equal(f->c.nr_in, 2);
	assert_int_equal(f->c.in_bytes, 150);
	assert_ptr_equal(f->c.iov[2].base, f->ram1);
}

static void indirect_next_flag_ends_chain(void **state)
{
	struct fx *f = *state;
	struct vqd_buf b[] = { { DATA_GPA, 16, false },
			       { DATA_GPA + 16, 16, false },
			       { DATA_GPA + 32, 16, true } };
	uint8_t *t = f->ram0 + TABLE_GPA;

	vqd_publish(&f->d, vqd_add_indirect(&f->d, TABLE_GPA, b, 3));
	t[16 + 12] = 0; /* entry 1 loses F_NEXT: the chain is entries 0 and 1 only */
	assert_int_equal(virtq_pop(&f->vq, &f->c), 1);
	assert_int_equal(f->c.nr_out, 2);
	assert_int_equal(f->c.nr_in, 0);
}

static void chain_read_write_span_segments(void **state)
{
	struct fx *f = *state;
	struct vqd_buf b[] = { { DATA_GPA, 3, false },
			       { DATA_GPA + 0x100, 5, false },
			       { DATA_GPA + 0x200, 2, true },
			       { DATA_GPA + 0x300, 4, true } };
	uint8_t got[8], in[6] = { 1, 2, 3, 4, 5, 6 };

	memcpy(f->ram0 + DATA_GPA, "abc", 3);
	memcpy(f->ram0 + DATA_GPA + 0x100, "defgh", 5);
	vqd_publish(&f->d, vqd_add_chain(&f->d, b, 4));
	assert_int_equal(virtq_pop(&f->vq, &f->c), 1);
	assert_int_equal(virtq_chain_read(&f->c, 1, got, 8), 7); /* only 7 bytes past offset 1 */
	assert_memory_equal(got, "bcdefgh", 7);
	assert_int_equal(virtq_chain_write(&f->c, 0, in, 6), 6);
	assert_memory_equal(f->ram0 + DATA_GPA + 0x200, in, 2);
	assert_memory_equal(f->ram0 + DATA_GPA + 0x300, in + 2, 4);
	assert_int_equal(f->ram0[DATA_GPA + 0x304], 0); /* nothing past the buffer */
}

static void zero_length_chain(void **state)
{
	struct fx *f = *state;

	vqd_set_desc(&f->d, 0, 0xdead0000, 0, 0, 0); /* no bytes: address never used */
	assert_int_equal(pop_raw(f), 1);
	assert_int_equal(f->c.nr_out + f->c.nr_in, 0);
	assert_false(f->vq.broken);
}

static void hostile_loop(void **state)
{
	struct fx *f = *state;

	vqd_set_desc(&f->d, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	vqd_set_desc(&f->d, 1, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	assert_int_equal(pop_raw(f), -EIO);
	assert_broken(f);
}

static void hostile_self_loop_indirect(void **state)
{
	struct fx *f = *state;
	uint8_t *t = f->ram0 + TABLE_GPA;
	struct vqd_buf b[] = { { DATA_GPA, 8, false }, { DATA_GPA, 8, false } };

	vqd_publish(&f->d, vqd_add_indirect(&f->d, TABLE_GPA, b, 2));
	t[16 + 12] = VIRTQ_DESC_F_NEXT; /* entry 1 points back at entry 0 */
	t[16 + 14] = 0;
	assert_int_equal(virtq_pop(&f->vq, &f->c), -EIO);
	assert_broken(f);
}

static void hostile_next_out_of_range(void **state)
{
	struct fx *f = *state;

	vqd_set_desc(&f->d, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, QSIZE);
	assert_int_equal(pop_raw(f), -EIO);
	assert_broken(f);
}

static void hostile_head_out_of_range(void **state)
{
	struct fx *f = *state;

	vqd_publish(&f->d, 0xffff);
	assert_int_equal(virtq_pop(&f->vq, &f->c), -EIO);
	assert_broken(f);
}

static void hostile_addr_outside_ram(void **state)
{
	struct fx *f = *state;

	vqd_set_desc(&f->d, 0, 0x200000, 16, 0, 0);
	assert_int_equal(pop_raw(f), -EIO);
	assert_broken(f);
}

static void hostile_addr_len_wraps(void **state)
{
	struct fx *f = *state;

	vqd_set_desc(&f->d, 0, UINT64_MAX - 8, 32, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(pop_raw(f), -EIO);
	assert_broken(f);
}

static void hostile_straddles_regions(void **state)
{
	struct fx *f = *state;

	/* Both halves are RAM, but in two mappings: never partly used. */
	vqd_set_desc(&f->d, 0, RAM1_GPA - 8, 16, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(pop_raw(f), -EIO);
	assert_broken(f);
}

static void hostile_huge_len(void **state)
{
	struct fx *f = *state;

	vqd_set_desc(&f->d, 0, 0, UINT32_MAX, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(pop_raw(f), -EIO);
	assert_broken(f);
}

static void hostile_nested_indirect(void **state)
{
	struct fx *f = *state;
	struct vqd_buf b[] = { { DATA_GPA, 8, false } };
	uint8_t *t = f->ram0 + TABLE_GPA;

	vqd_publish(&f->d, vqd_add_indirect(&f->d, TABLE_GPA, b, 1));
	t[12] = VIRTQ_DESC_F_INDIRECT; /* the table's entry is itself indirect */
	t[8] = 16;
	assert_int_equal(virtq_pop(&f->vq, &f->c), -EIO);
	assert_broken(f);
}

static void hostile_indirect_bad_len(void **state)
{
	static const uint32_t bad[] = { 0, 24, 16 * (QSIZE + 1) };
	struct fx *f = *state;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vqd_init(&f->d, &f->mem, RING_GPA, QSIZE);
		assert_int_equal(enable(f, false, true), 0);
		vqd_set_desc(&f->d, 0, TABLE_GPA, bad[i], VIRTQ_DESC_F_INDIRECT, 0);
		assert_int_equal(pop_raw(f), -EIO);
		assert_broken(f);
	}
}

static void hostile_indirect_with_next(void **state)
{
	struct fx *f = *state;

	vqd_set_desc(&f->d, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	assert_int_equal(pop_raw(f), -EIO);
	assert_broken(f);
}

static void hostile_indirect_not_negotiated(void **state)
{
	struct fx *f = *state;
	struct vqd_buf b[] = { { DATA_GPA, 8, false } };

	assert_int_equal(enable(f, false, false), 0);
	vqd_publish(&f->d, vqd_add_indirect(&f->d, TABLE_GPA, b, 1));
	assert_int_equal(virtq_pop(&f->vq, &f->c), -EIO);
	assert_broken(f);
}

static void hostile_indirect_table_outside_ram(void **state)
{
	struct fx *f = *state;

	vqd_set_desc(&f->d, 0, RAM1_GPA + RAM1_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	assert_int_equal(pop_raw(f), -EIO);
	assert_broken(f);
}

static void hostile_write_before_read(void **state)
{
	struct fx *f = *state;
	struct vqd_buf b[] = { { DATA_GPA, 8, true }, { DATA_GPA + 8, 8, false } };

	vqd_publish(&f->d, vqd_add_chain(&f->d, b, 2));
	assert_int_equal(virtq_pop(&f->vq, &f->c), -EIO);
	assert_broken(f);
}

static void hostile_avail_idx_jump(void **state)
{
	struct fx *f = *state;

	vqd_set_desc(&f->d, 0, DATA_GPA, 8, 0, 0);
	vqd_set_avail_idx(&f->d, QSIZE); /* a full ring is fine ... */
	assert_int_equal(virtq_pop(&f->vq, &f->c), 1);
	vqd_set_avail_idx(&f->d, 1 + QSIZE + 1); /* ... but 17 outstanding cannot be */
	assert_int_equal(virtq_pop(&f->vq, &f->c), -EIO);
	assert_broken(f);
}

static void enable_rejects_bad_rings(void **state)
{
	struct fx *f = *state;

	virtq_reset(&f->vq, QSIZE);
	f->vq.size = 12; /* not a power of two */
	assert_int_equal(virtq_enable(&f->vq, &f->mem, false, false), -EINVAL);
	virtq_reset(&f->vq, QSIZE);
	f->vq.size = 32; /* above the maximum */
	assert_int_equal(virtq_enable(&f->vq, &f->mem, false, false), -EINVAL);
	virtq_reset(&f->vq, QSIZE);
	f->vq.desc_gpa = 0x1008; /* descriptor table must be 16-byte aligned */
	f->vq.avail_gpa = 0x2000;
	f->vq.used_gpa = 0x3000;
	assert_int_equal(virtq_enable(&f->vq, &f->mem, false, false), -EINVAL);
	virtq_reset(&f->vq, QSIZE);
	f->vq.desc_gpa = 0x1000;
	f->vq.avail_gpa = 0x2000;
	f->vq.used_gpa = RAM1_GPA + RAM1_SIZE - 8; /* used ring runs off RAM */
	assert_int_equal(virtq_enable(&f->vq, &f->mem, false, false), -EINVAL);
	assert_true(f->vq.broken);
	assert_false(f->vq.ready);
}

static void no_interrupt_flag(void **state)
{
	struct fx *f = *state;

	vqd_set_desc(&f->d, 0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(pop_raw(f), 1);
	vqd_set_avail_flags(&f->d, VIRTQ_AVAIL_F_NO_INTERRUPT);
	virtq_push(&f->vq, 0, 8);
	assert_false(virtq_should_signal(&f->vq));
	assert_int_equal(pop_raw(f), 1);
	vqd_set_avail_flags(&f->d, 0);
	virtq_push(&f->vq, 0, 8);
	assert_true(virtq_should_signal(&f->vq));
}

static void event_idx_suppression(void **state)
{
	struct fx *f = *state;
	int i;

	assert_int_equal(enable(f, true, true), 0);
	vqd_set_desc(&f->d, 0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	for (i = 0; i < 3; i++)
		vqd_publish(&f->d, 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(virtq_pop(&f->vq, &f->c), 1);
	assert_int_equal(vqd_avail_event(&f->d), 3); /* "notify me at the 4th" */
	assert_int_equal(virtq_pop(&f->vq, &f->c), 0);

	virtq_push(&f->vq, 0, 8); /* used idx 1 */
	assert_true(virtq_should_signal(&f->vq)); /* first signal is unconditional */
	vqd_set_used_event(&f->d, 0); /* driver already saw 0 */
	virtq_push(&f->vq, 0, 8); /* used idx 2 */
	assert_false(virtq_should_signal(&f->vq));
	vqd_set_used_event(&f->d, 2); /* interrupt me when entry 2 is used */
	virtq_push(&f->vq, 0, 8); /* used idx 3 */
	assert_true(virtq_should_signal(&f->vq));
}

/*
 * virtq_push_batch(): n elements, one store of used->idx, wrapping around
 * the ring; the popped-and-unpopped chains come back in order.
 */
static void push_batch_and_unpop(void **state)
{
	struct fx *f = *state;
	struct virtq_used_elem e[QSIZE];
	uint16_t heads[QSIZE];
	uint32_t id, len;
	unsigned int i, round;

	for (round = 0; round < 2; round++) {
		/* 12 chains each round: the second wraps the 16-entry used ring. */
		for (i = 0; i < 12; i++) {
			struct vqd_buf b = { DATA_GPA + 0x100 * i, 64, true };

			heads[i] = vqd_add_chain(&f->d, &b, 1);
			vqd_publish(&f->d, heads[i]);
		}
		for (i = 0; i < 12; i++)
			assert_int_equal(virtq_pop(&f->vq, &f->c), 1);
		/* Give the last 4 back: they are popped again, in order. */
		for (i = 0; i < 4; i++)
			virtq_unpop(&f->vq);
		for (i = 8; i < 12; i++) {
			assert_int_equal(virtq_pop(&f->vq, &f->c), 1);
			assert_int_equal(f->c.head, heads[i]);
		}
		assert_int_equal(virtq_pop(&f->vq, &f->c), 0);
		for (i = 0; i < 12; i++)
			e[i] = (struct virtq_used_elem){ heads[i], 10 + i };
		virtq_push_batch(&f->vq, e, 12);
		assert_int_equal(le16toh(*(uint16_t *)vqd_ptr(&f->d, f->d.used_gpa + 2, 2)),
				 12 * (round + 1));
		for (i = 0; i < 12; i++) {
			assert_true(vqd_get_used(&f->d, &id, &len));
			assert_int_equal(id, heads[i]);
			assert_int_equal(len, 10 + i);
		}
		assert_false(vqd_get_used(&f->d, &id, &len));
	}
	virtq_push_batch(&f->vq, e, 0); /* nothing: the index does not move */
	assert_int_equal(le16toh(*(uint16_t *)vqd_ptr(&f->d, f->d.used_gpa + 2, 2)), 24);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(direct_chain),
		T(indirect_chain),
		T(indirect_next_flag_ends_chain),
		T(chain_read_write_span_segments),
		T(zero_length_chain),
		T(hostile_loop),
		T(hostile_self_loop_indirect),
		T(hostile_next_out_of_range),
		T(hostile_head_out_of_range),
		T(hostile_addr_outside_ram),
		T(hostile_addr_len_wraps),
		T(hostile_straddles_regions),
		T(hostile_huge_len),
		T(hostile_nested_indirect),
		T(hostile_indirect_bad_len),
		T(hostile_indirect_with_next),
		T(hostile_indirect_not_negotiated),
		T(hostile_indirect_table_outside_ram),
		T(hostile_write_before_read),
		T(hostile_avail_idx_jump),
		T(enable_rejects_bad_rings),
		T(no_interrupt_flag),
		T(event_idx_suppression),
		T(push_batch_and_unpop),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
