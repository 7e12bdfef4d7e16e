// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Micro-guest hostile64: a driver that breaks the rules of virtio 1.2 §2.7
 * on purpose, against virtio-rng (src/vmm/devices/virtio/virtqueue.c). Each
 * case makes one bad chain or ring available and notifies; the device must
 * complete nothing, set DEVICE_NEEDS_RESET (§2.1.2) within a bounded poll
 * and keep the monitor alive, which our reaching the next case proves. After
 * each case the device is reset (status 0, §2.4) and set up again, and an
 * ordinary 64-byte read must work. The host test checks the exit status and
 * vps-vmm's rate-limited log lines. The cases:
 *   loop      desc 0 -> 1 -> 0 (§2.7.5.3.1: a chain must not loop)
 *   far       a buffer at 0xfff00000000, outside guest RAM
 *   wrap      a buffer whose end wraps past 2^64
 *   head      the avail ring names descriptor `size + 5`
 *   idx       avail idx jumps by more than the queue size
 *   order     a device-readable descriptor after a device-writable one (§2.7.4.2)
 *   indirect  an indirect descriptor, VIRTIO_F_INDIRECT_DESC not negotiated (§2.7.5.3)
 *   ring      queue enabled with its descriptor table outside guest RAM
 *   junk      notifies for absent queues and odd offsets, writes to read-only
 *             registers: these must be ignored, not break the device
 *   moved     the BAR moves: the device answers at the new address only, its
 *             doorbell too (the monitor moves the queue's ioeventfd with the
 *             BAR), and a notify at the old address reaches nothing
 *   flood     the loop case FLOOD more times in a row: the monitor's log line
 *             for it is rate limited (10 per call site per 5 s), which the
 *             host test counts
 */
#include "virtio.h"

#define NAME "hostile64"
#define LEN 64
#define FAR_ADDR 0xfff00000000ULL
#define POLL_MS 1000
#define FLOOD 40
#define VRING_DESC_F_INDIRECT 4
#define MOVE_BY 0x100000 /* free window space past the BARs machine.c placed */

static struct vdev d;
static uint8_t *buf;

/* Negotiate, set up queue 0 and go DRIVER_OK; 0 or non-zero. */
static int bring_up(void)
{
	if (virtio_negotiate(&d, 0) < 0 || vq_setup(&d, 0, 0) < 0)
		return 1;
	return (virtio_driver_ok(&d) & (VIRTIO_S_DRIVER_OK | VIRTIO_S_NEEDS_RESET)) !=
	       VIRTIO_S_DRIVER_OK;
}

/* One honest request must work: the device is usable again. */
static int good_read(void)
{
	uint32_t len;

	memset(buf, 0, LEN);
	if (vq_transfer(&d.vqs[0], &(struct vbuf){ buf, LEN, true }, 1, &len) < 0 || len != LEN)
		return 1;
	for (len = 0; len < LEN; len++)
		if (buf[len])
			return 0;
	return 1;
}

/* Poll status (bounded) for NEEDS_RESET; nothing more may have been completed. */
static bool needs_reset(void)
{
	uint64_t until = deadline_ms(POLL_MS);

	while (!(virtio_status(&d) & VIRTIO_S_NEEDS_RESET)) {
		if (expired(until))
			return false;
		cpu_relax();
	}
	return !d.vqs[0].used ||
	       __atomic_load_n(&d.vqs[0].used->idx, __ATOMIC_ACQUIRE) == d.vqs[0].last_used;
}

static void put_desc(struct vq *q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	q->desc[i] = (struct vring_desc){ addr, len, flags, next };
}

/* Make the bad chain or ring of case `c` available, and notify. */
static void make_bad(const char *c, struct vq *q)
{
	if (!memcmp(c, "loop", 5)) {
		put_desc(q, 0, (uint64_t)buf, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
		put_desc(q, 1, (uint64_t)buf + 16, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
		vq_publish(q, 0);
	} else if (!memcmp(c, "far", 4)) {
		put_desc(q, 0, FAR_ADDR, LEN, VRING_DESC_F_WRITE, 0);
		vq_publish(q, 0);
	} else if (!memcmp(c, "wrap", 5)) {
		put_desc(q, 0, 0xfffffffffffff000ULL, 0x2000, VRING_DESC_F_WRITE, 0);
		vq_publish(q, 0);
	} else if (!memcmp(c, "head", 5)) {
		put_desc(q, 0, (uint64_t)buf, LEN, VRING_DESC_F_WRITE, 0);
		vq_publish(q, q->size + 5);
	} else if (!memcmp(c, "idx", 4)) {
		put_desc(q, 0, (uint64_t)buf, LEN, VRING_DESC_F_WRITE, 0);
		/* Relative to where the device is: it has consumed up to our idx. */
		__atomic_store_n(&q->avail->idx, (uint16_t)(q->avail->idx + q->size + 1),
				 __ATOMIC_RELEASE);
		vq_notify(q);
	} else if (!memcmp(c, "order", 6)) {
		put_desc(q, 0, (uint64_t)buf, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
		put_desc(q, 1, (uint64_t)buf + 16, 16, 0, 0);
		vq_publish(q, 0);
	} else if (!memcmp(c, "indirect", 9)) {
		/* A well-formed one-entry table: only the feature is missing. */
		put_desc(q, 1, (uint64_t)buf + 64, LEN, VRING_DESC_F_WRITE, 0);
		put_desc(q, 0, (uint64_t)&q->desc[1], 16, VRING_DESC_F_INDIRECT, 0);
		vq_publish(q, 0);
	}
}

/* The queue-enable case: the rings are checked when the queue is enabled (§2.7.2). */
static int bad_ring(void)
{
	if (virtio_negotiate(&d, 0) < 0)
		return 1;
	mmio_write16(d.common + VC_Q_SELECT, 0);
	mmio_write16(d.common + VC_Q_SIZE, 16);
	mmio_write32(d.common + VC_Q_DESC, (uint32_t)FAR_ADDR);
	mmio_write32(d.common + VC_Q_DESC + 4, FAR_ADDR >> 32);
	mmio_write32(d.common + VC_Q_DRIVER, (uint32_t)(uint64_t)buf);
	mmio_write32(d.common + VC_Q_DEVICE, (uint32_t)(uint64_t)buf + 2048);
	mmio_write16(d.common + VC_Q_ENABLE, 1);
	if (mmio_read16(d.common + VC_Q_ENABLE))
		return 2; /* a ring outside RAM must not be enabled */
	return needs_reset() ? 0 : 3;
}

/* Odd but harmless accesses: the device must ignore them and keep working. */
static void junk(void)
{
	unsigned int off;

	for (off = 0; off < 64; off += 2) /* absent queues, unaligned offsets */
		mmio_write16(d.notify_base + off + 4, 0xffff);
	mmio_write16(d.common + VC_NUM_QUEUES, 99); /* read-only */
	mmio_write8(d.common + VC_CFG_GEN, 99); /* read-only */
	mmio_write16(d.common + VC_Q_SELECT, 7); /* no such queue: writes go nowhere */
	mmio_write16(d.common + VC_Q_SIZE, 3);
	mmio_write16(d.common + VC_Q_ENABLE, 1);
	mmio_write16(d.common + VC_Q_SELECT, 0);
	(void)mmio_read8(d.isr);
	(void)mmio_read32(d.bar + 0x7ffc); /* unused tail of the BAR */
	mmio_write32(d.bar + 0x7ffc, 0xdeadbeef);
}

/* The moved case: 0, or which step failed. */
static int moved_bar(void)
{
	uint16_t cmd = pci_read16(d.slot, PCI_COMMAND), idx;
	uint64_t to = d.bar + MOVE_BY, old_notify;
	struct vq *q = &d.vqs[0];
	uint64_t until;

	/* Decoding off while the BAR changes, as an OS does. */
	pci_write16(d.slot, PCI_COMMAND, cmd & ~PCI_COMMAND_MEMORY);
	pci_write32(d.slot, PCI_BAR0, (uint32_t)to);
	pci_write32(d.slot, PCI_BAR0 + 4, to >> 32);
	pci_write16(d.slot, PCI_COMMAND, cmd);
	/* The queue stays enabled: only the addresses change. */
	old_notify = q->notify;
	d.caps_seen = 0;
	d.common = d.isr = d.device = d.notify_base = 0;
	if (virtio_read_caps(&d, d.slot) < 0 || d.bar != to)
		return 1;
	q->notify = old_notify + MOVE_BY;
	if (!(virtio_status(&d) & VIRTIO_S_DRIVER_OK) || good_read())
		return 2;
	/* A chain made available, announced at the old address: nobody hears it. */
	put_desc(q, 0, (uint64_t)buf, LEN, VRING_DESC_F_WRITE, 0);
	idx = q->avail->idx;
	q->avail->ring[idx & (q->size - 1)] = 0;
	__atomic_store_n(&q->avail->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	mmio_write16(old_notify, 0);
	until = deadline_ms(200);
	while (!expired(until))
		if (__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE) != q->last_used)
			return 3;
	/* Announced at the new one, it completes. */
	vq_notify(q);
	until = deadline_ms(POLL_MS);
	while (__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE) == q->last_used)
		if (expired(until))
			return 4;
	q->last_used++;
	return good_read() ? 5 : 0;
}

/* Say which case failed and what the device showed, then fail. */
static int case_fail(const char *c, int code, const char *why)
{
	puts("hostile ");
	puts(c);
	puts(": status ");
	put_hex(virtio_status(&d), 2);
	puts(" used idx ");
	put_dec(d.vqs[0].used ? d.vqs[0].used->idx : 0);
	putc('\n');
	return fail(NAME, code, why);
}

int main(uint64_t ram_size)
{
	static const char *const cases[] = { "loop", "far",   "wrap",	 "head",
					     "idx",  "order", "indirect" };
	unsigned int i;

	(void)ram_size;
	if (virtio_find(&d, VIRTIO_ID_RNG) < 0)
		return fail(NAME, 1, "no virtio-rng function");
	buf = alloc_pages(1);
	if (bring_up() || good_read())
		return fail(NAME, 2, "an honest read before any hostile case");
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		make_bad(cases[i], &d.vqs[0]);
		if (!needs_reset())
			return case_fail(cases[i], 10 + i,
					 "no DEVICE_NEEDS_RESET, or a used element");
		/* A broken queue stays quiet until reset: a second notify does nothing. */
		vq_notify(&d.vqs[0]);
		if (d.vqs[0].used->idx != d.vqs[0].last_used)
			return case_fail(cases[i], 20 + i, "a broken queue completed a chain");
		if (bring_up() || good_read())
			return case_fail(cases[i], 30 + i, "no honest read after reset");
		puts("hostile ");
		puts(cases[i]);
		puts(": needs reset, recovered\n");
	}
	i = bad_ring();
	if (i)
		return fail(NAME, 40 + i, "ring outside RAM at queue enable");
	if (bring_up() || good_read())
		return fail(NAME, 44, "no honest read after the ring case");
	puts("hostile ring: needs reset, recovered\n");
	junk();
	if (virtio_status(&d) & VIRTIO_S_NEEDS_RESET || good_read())
		return fail(NAME, 45, "ignorable accesses broke the device");
	puts("hostile junk: ignored\n");
	i = moved_bar();
	if (i)
		return fail(NAME, 50 + i, "the moved BAR");
	puts("hostile moved: answers at the new address only\n");
	for (i = 0; i < FLOOD; i++) {
		make_bad("loop", &d.vqs[0]);
		if (!needs_reset() || bring_up())
			return fail(NAME, 46, "flood of loops");
	}
	if (good_read())
		return fail(NAME, 47, "no honest read after the flood");
	puts("hostile flood: ");
	put_dec(FLOOD);
	puts(" loops, recovered\n");
	puts("VPS-MICRO hostile64 ok\n");
	return 0;
}
