// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The micro-guests' virtio-pci modern driver: see virtio.h. It follows the
 * driver-side MUSTs of virtio 1.2 (section numbers inline) so that any
 * failure it reports is the device's, and it never waits unboundedly: a
 * device that does not answer is a test failure, not a hung test.
 */
#include "virtio.h"

#define RESET_MS 1000
#define MAX_CAPS 48 /* 192 bytes of capability space hold at most 48 */

static uint64_t cap_addr(int slot, unsigned int cap, uint32_t *len)
{
	unsigned int bar = pci_read8(slot, cap + 4);
	uint32_t off = pci_read32(slot, cap + 8);

	*len = pci_read32(slot, cap + 12);
	/* §4.1.4.1: BAR values 0x6-0xff are reserved; such caps are to be ignored. */
	if (bar > 5)
		return 0;
	return pci_bar_addr(slot, bar) + off;
}

int virtio_read_caps(struct vdev *d, int slot)
{
	unsigned int cap, n;
	uint32_t len;

	d->slot = slot;
	d->device_id = pci_read16(slot, PCI_DEVICE_ID);
	d->bar = pci_bar_addr(slot, 0);
	if (!(pci_read16(slot, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return -2;
	cap = pci_read8(slot, PCI_CAPABILITY_LIST) & 0xfc;
	for (n = 0; cap && n < MAX_CAPS; n++, cap = pci_read8(slot, cap + 1) & 0xfc) {
		uint8_t id = pci_read8(slot, cap), type;
		uint64_t addr;

		if (id == PCI_CAP_ID_MSIX)
			d->caps_seen |= 1u << PCI_CAP_ID_MSIX;
		if (id != PCI_CAP_ID_VNDR)
			continue;
		type = pci_read8(slot, cap + 3);
		if (type < 1 || type > 4)
			continue;
		/* §4.1.4: use the first capability of each type we understand. */
		if (d->caps_seen & (1u << type))
			continue;
		addr = cap_addr(slot, cap, &len);
		if (!addr)
			continue;
		d->caps_seen |= 1u << type;
		switch (type) {
		case VIRTIO_PCI_CAP_COMMON:
			/* §4.1.4.3: virtio_pci_common_cfg up to queue_device is 0x38 bytes. */
			if (len < 0x38)
				return -2;
			d->common = addr;
			break;
		case VIRTIO_PCI_CAP_NOTIFY:
			d->notify_base = addr;
			d->notify_mult = pci_read32(slot, cap + 16);
			break;
		case VIRTIO_PCI_CAP_ISR:
			d->isr = addr;
			break;
		case VIRTIO_PCI_CAP_DEVICE:
			d->device = addr;
			d->device_len = len;
			break;
		}
	}
	if (cap)
		return -2; /* the list did not end: a loop */
	/* §4.1.4: common, notify and ISR are mandatory; device cfg only if the type has one. */
	if (!d->common || !d->notify_base || !d->isr)
		return -2;
	return 0;
}

int virtio_find(struct vdev *d, unsigned int virtio_id)
{
	int slot = pci_find(VIRTIO_VENDOR, VIRTIO_DEV(virtio_id));

	memset(d, 0, sizeof(*d));
	if (slot < 0)
		return -1;
	/* The monitor placed the BARs; decoding and DMA are ours to turn on. */
	pci_write16(slot, PCI_COMMAND,
		    pci_read16(slot, PCI_COMMAND) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	return virtio_read_caps(d, slot);
}

int virtio_reset(struct vdev *d)
{
	uint64_t until = deadline_ms(RESET_MS);

	mmio_write8(d->common + VC_STATUS, 0);
	/* §4.1.4.3.2: the reset is done when status reads back 0. */
	while (virtio_status(d)) {
		if (expired(until))
			return -1;
		cpu_relax();
	}
	memset(d->vqs, 0, sizeof(d->vqs));
	d->features = 0;
	return 0;
}

static void set_status(struct vdev *d, uint8_t bits)
{
	mmio_write8(d->common + VC_STATUS, virtio_status(d) | bits);
}

int virtio_negotiate(struct vdev *d, uint64_t want)
{
	uint64_t offered, accept;

	if (virtio_reset(d) < 0)
		return -1;
	set_status(d, VIRTIO_S_ACKNOWLEDGE);
	set_status(d, VIRTIO_S_DRIVER);
	mmio_write32(d->common + VC_DFSELECT, 0);
	offered = mmio_read32(d->common + VC_DF);
	mmio_write32(d->common + VC_DFSELECT, 1);
	offered |= (uint64_t)mmio_read32(d->common + VC_DF) << 32;
	/* §6.1: without VERSION_1 this is a legacy device, which we do not drive. */
	if (!(offered & (1ULL << VIRTIO_F_VERSION_1)))
		return -4;
	accept = offered & (want | 1ULL << VIRTIO_F_VERSION_1);
	mmio_write32(d->common + VC_GFSELECT, 0);
	mmio_write32(d->common + VC_GF, (uint32_t)accept);
	mmio_write32(d->common + VC_GFSELECT, 1);
	mmio_write32(d->common + VC_GF, accept >> 32);
	set_status(d, VIRTIO_S_FEATURES_OK);
	/* §3.1.1 step 6: the device says no by leaving FEATURES_OK clear. */
	if (!(virtio_status(d) & VIRTIO_S_FEATURES_OK)) {
		set_status(d, VIRTIO_S_FAILED);
		return -6;
	}
	d->features = accept;
	return 0;
}

/* Pages for `bytes` of ring, from the heap. */
static void *ring_alloc(uint64_t bytes)
{
	return alloc_pages((bytes + PAGE_SIZE - 1) / PAGE_SIZE);
}

static void write_addr(struct vdev *d, unsigned int reg, uint64_t a)
{
	/* §4.1.3.1: 64-bit fields may be written as two 32-bit halves, low first. */
	mmio_write32(d->common + reg, (uint32_t)a);
	mmio_write32(d->common + reg + 4, a >> 32);
}

int vq_setup(struct vdev *d, unsigned int index, uint16_t size)
{
	struct vq *q = &d->vqs[index];
	uint16_t max;

	if (index >= VQ_MAX)
		return -1;
	mmio_write16(d->common + VC_Q_SELECT, index);
	max = mmio_read16(d->common + VC_Q_SIZE);
	if (!max)
		return -1; /* §4.1.4.3.2: no such queue */
	if (mmio_read16(d->common + VC_Q_ENABLE))
		return -2;
	if (!size)
		size = max;
	if (size > max || (size & (size - 1)))
		return -3;
	memset(q, 0, sizeof(*q));
	q->dev = d;
	q->index = index;
	q->size = size;
	/* §2.7.2: alignment 16/2/4; whole pages are more than enough. */
	q->desc = ring_alloc(16ULL * size);
	q->avail = ring_alloc(6 + 2ULL * size);
	q->used = ring_alloc(6 + 8ULL * size);
	if (!q->desc || !q->avail || !q->used)
		return -5;
	q->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	mmio_write16(d->common + VC_Q_SIZE, size);
	write_addr(d, VC_Q_DESC, (uint64_t)q->desc);
	write_addr(d, VC_Q_DRIVER, (uint64_t)q->avail);
	write_addr(d, VC_Q_DEVICE, (uint64_t)q->used);
	/* §4.1.4.4: cap.offset + queue_notify_off * notify_off_multiplier */
	q->notify = d->notify_base +
		    (uint64_t)mmio_read16(d->common + VC_Q_NOTIFY_OFF) * d->notify_mult;
	mmio_write16(d->common + VC_Q_ENABLE, 1);
	if (mmio_read16(d->common + VC_Q_ENABLE) != 1)
		return -4;
	return 0;
}

uint8_t virtio_driver_ok(struct vdev *d)
{
	set_status(d, VIRTIO_S_DRIVER_OK);
	return virtio_status(d);
}

void vq_notify(struct vq *q)
{
	/* §2.7.13.4: the index update is visible before the device hears of it. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* §4.1.5.2: without VIRTIO_F_NOTIFICATION_DATA the value is the queue index. */
	mmio_write16(q->notify, q->index);
}

void vq_publish(struct vq *q, uint16_t head)
{
	uint16_t idx = q->avail->idx;

	q->avail->ring[idx & (q->size - 1)] = head;
	/* §2.7.13.2: the ring entry before the index that publishes it. */
	__atomic_store_n(&q->avail->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
	vq_notify(q);
}

int vq_submit(struct vq *q, const struct vbuf *b, unsigned int n)
{
	uint16_t head = q->next_desc, at = head;
	unsigned int i;

	if (!n || n > q->size)
		return -1;
	for (i = 0; i < n; i++) {
		struct vring_desc *dsc = &q->desc[at];

		at = (at + 1) & (q->size - 1);
		dsc->addr = (uint64_t)b[i].addr;
		dsc->len = b[i].len;
		dsc->flags = (b[i].write ? VRING_DESC_F_WRITE : 0) |
			     (i + 1 < n ? VRING_DESC_F_NEXT : 0);
		dsc->next = at;
	}
	q->next_desc = at;
	vq_publish(q, head);
	return head;
}

int vq_wait(struct vq *q, unsigned int ms, uint32_t *head, uint32_t *len)
{
	uint64_t until = deadline_ms(ms);

	/* Acquire: the element is read only after the index that published it (§2.7.8). */
	while (__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE) == q->last_used) {
		if (expired(until))
			return -1;
		cpu_relax();
	}
	*head = q->used->ring[q->last_used & (q->size - 1)].id;
	*len = q->used->ring[q->last_used & (q->size - 1)].len;
	q->last_used++;
	return 0;
}

int vq_transfer(struct vq *q, const struct vbuf *b, unsigned int n, uint32_t *len)
{
	int head = vq_submit(q, b, n);
	uint32_t got;

	if (head < 0)
		return -3;
	if (vq_wait(q, 1000, &got, len) < 0)
		return -1;
	return got == (uint32_t)head ? 0 : -2;
}
