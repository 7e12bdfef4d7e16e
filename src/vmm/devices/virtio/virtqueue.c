// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Split virtqueue, device side: see virtqueue.h. The rules enforced here are
 * those of virtio 1.2 §2.7 that a driver MUST follow; a driver that breaks
 * one is treated as hostile, because a device cannot tell a buggy driver from
 * a malicious one and must survive both.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "vmm/devices/virtio/virtqueue.h"

/* Byte offsets inside the rings, §2.7.6 and §2.7.8. */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 1 /* in uint16_t units */
#define AVAIL_RING 2
#define USED_IDX_OFF 2 /* in bytes */
#define USED_RING_OFF 4

void virtq_reset(struct virtq *vq, uint16_t max_size)
{
	memset(vq, 0, sizeof(*vq));
	vq->max_size = max_size;
	vq->size = max_size;
}

void virtq_mark_broken(struct virtq *vq, const char *why)
{
	if (!vq->broken)
		pr_ratelimited(LOG_WARN, "virtqueue: %s; device needs reset", why);
	vq->broken = true;
}

int virtq_enable(struct virtq *vq, const struct guest_mem *mem, bool event_idx, bool indirect)
{
	uint64_t n = vq->size;

	/* §2.7: "Queue Size value is always a power of 2", at most what we offered. */
	if (!n || n > vq->max_size || (n & (n - 1))) {
		virtq_mark_broken(vq, "queue size is not a power of two within the maximum");
		return -EINVAL;
	}
	/* §2.7.2: descriptor table 16-byte, driver area 2-byte, device area 4-byte aligned. */
	if (vq->desc_gpa % 16 || vq->avail_gpa % 2 || vq->used_gpa % 4) {
		virtq_mark_broken(vq, "misaligned ring");
		return -EINVAL;
	}
	vq->desc = gpa_ptr(mem, vq->desc_gpa, 16 * n);
	vq->avail = gpa_ptr(mem, vq->avail_gpa, 6 + 2 * n);
	vq->used = gpa_ptr(mem, vq->used_gpa, 6 + 8 * n);
	if (!vq->desc || !vq->avail || !vq->used) {
		virtq_mark_broken(vq, "ring outside guest RAM");
		return -EINVAL;
	}
	/* Host alignment follows guest alignment only if regions are mapped aligned. */
	if ((uintptr_t)vq->avail % 2 || (uintptr_t)vq->used % 4) {
		virtq_mark_broken(vq, "ring misaligned in the host mapping");
		return -EINVAL;
	}
	vq->mem = mem;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->signalled_valid = false;
	vq->ready = true;
	return 0;
}

static uint16_t *used_idx_ptr(const struct virtq *vq)
{
	return (uint16_t *)(vq->used + USED_IDX_OFF);
}

/* §2.7.10: with EVENT_IDX the device says which avail index should notify it. */
static void set_avail_event(struct virtq *vq, uint16_t v)
{
	uint16_t *p = (uint16_t *)(vq->used + USED_RING_OFF + 8 * (size_t)vq->size);

	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

static uint16_t read_avail_idx(const struct virtq *vq)
{
	/* Acquire: ring entries below idx are read after idx (§2.7.13.3 write order). */
	return le16toh(__atomic_load_n(&vq->avail[AVAIL_IDX], __ATOMIC_ACQUIRE));
}

/*
 * Copy one descriptor out of guest memory. The compiler barrier keeps the
 * compiler from going back to guest memory for a field it already checked
 * (the guest may rewrite it between check and use); memcpy keeps a table at
 * an unaligned guest address from being an unaligned access.
 */
static void desc_read(const uint8_t *table, unsigned int i, struct virtq_desc *d)
{
	memcpy(d, table + 16 * (size_t)i, sizeof(*d));
	__asm__ volatile("" ::: "memory");
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

/* Append one buffer to the chain; NULL on success, else why it is refused. */
static const char *chain_add(const struct virtq *vq, struct virtq_chain *c,
			     const struct virtq_desc *d)
{
	bool wr = d->flags & VIRTQ_DESC_F_WRITE;
	void *p = NULL;

	if (d->len == 0)
		return NULL; /* nothing to access, nothing to check */
	if (c->nr_out + c->nr_in >= VIRTQ_MAX_IOV)
		return "too many segments in a chain";
	if (c->out_bytes + c->in_bytes + d->len > VIRTQ_MAX_CHAIN_BYTES)
		return "chain too long in bytes";
	p = gpa_ptr(vq->mem, d->addr, d->len);
	if (!p)
		return "buffer outside guest RAM";
	c->iov[c->nr_out + c->nr_in] = (struct virtq_iov){ p, d->len };
	if (wr) {
		c->nr_in++;
		c->in_bytes += d->len;
	} else {
		c->nr_out++;
		c->out_bytes += d->len;
	}
	return NULL;
}

/* Walk the chain at `head`; NULL on success, else why it is refused. */
static const char *chain_walk(const struct virtq *vq, uint16_t head, struct virtq_chain *c)
{
	const uint8_t *table = (const uint8_t *)vq->desc;
	unsigned int table_len = vq->size, idx = head, count = 0;
	bool in_indirect = false, seen_write = false;
	struct virtq_desc d;
	const char *why;

	c->head = head;
	c->nr_out = c->nr_in = 0;
	c->out_bytes = c->in_bytes = 0;
	for (;;) {
		/* A chain visits each descriptor of its table at most once: no loops. */
		if (++count > table_len)
			return "descriptor chain loops or is longer than its table";
		desc_read(table, idx, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* §2.7.5.3.1 */
			if (!vq->indirect)
				return "indirect descriptor without VIRTIO_F_INDIRECT_DESC";
			if (in_indirect)
				return "indirect descriptor inside an indirect table";
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return "indirect descriptor with F_NEXT";
			if (d.len == 0 || d.len % 16 || d.len / 16 > vq->size)
				return "indirect table length not a multiple of 16 within queue size";
			table = gpa_ptr(vq->mem, d.addr, d.len);
			if (!table)
				return "indirect table outside guest RAM";
			table_len = d.len / 16;
			in_indirect = true;
			idx = 0;
			count = 0;
			continue;
		}
		/* §2.7.4.2: device-writable descriptors come after all device-readable ones. */
		if (d.flags & VIRTQ_DESC_F_WRITE)
			seen_write = true;
		else if (seen_write)
			return "device-readable descriptor after a device-writable one";
		why = chain_add(vq, c, &d);
		if (why)
			return why;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return NULL;
		idx = d.next;
		if (idx >= table_len)
			return "descriptor index out of range";
	}
}

int virtq_pop(struct virtq *vq, struct virtq_chain *c)
{
	uint16_t avail, head;
	const char *why;

	if (vq->broken)
		return -EIO;
	if (!vq->ready)
		return 0;
	avail = read_avail_idx(vq);
	if (avail == vq->last_avail) {
		if (!vq->event_idx)
			return 0;
		/*
		 * Ask to be notified at the next entry, then look again: the
		 * driver may have added one before it saw our avail_event
		 * (§2.7.10; the full barrier orders our store before the load).
		 */
		set_avail_event(vq, vq->last_avail);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail = read_avail_idx(vq);
		if (avail == vq->last_avail)
			return 0;
	}
	/* The driver cannot have more than `size` chains outstanding. */
	if ((uint16_t)(avail - vq->last_avail) > vq->size) {
		virtq_mark_broken(vq, "avail idx moved by more than the queue size");
		return -EIO;
	}
	head = le16toh(__atomic_load_n(&vq->avail[AVAIL_RING + (vq->last_avail & (vq->size - 1))],
				       __ATOMIC_RELAXED));
	if (head >= vq->size) {
		virtq_mark_broken(vq, "avail ring names a descriptor out of range");
		return -EIO;
	}
	why = chain_walk(vq, head, c);
	if (why) {
		virtq_mark_broken(vq, why);
		return -EIO;
	}
	vq->last_avail++;
	if (vq->event_idx)
		set_avail_event(vq, vq->last_avail);
	return 1;
}

void virtq_push_batch(struct virtq *vq, const struct virtq_used_elem *elems, unsigned int n)
{
	unsigned int i;

	if (!vq->ready || vq->broken || !n)
		return;
	for (i = 0; i < n; i++) {
		struct virtq_used_elem *e =
			(struct virtq_used_elem *)(vq->used + USED_RING_OFF +
						   8 * (size_t)((uint16_t)(vq->used_idx + i) &
								(vq->size - 1)));

		__atomic_store_n(&e->id, htole32(elems[i].id), __ATOMIC_RELAXED);
		__atomic_store_n(&e->len, htole32(elems[i].len), __ATOMIC_RELAXED);
	}
	vq->used_idx += n;
	/* Release: the elements are visible before the index that publishes them (§2.7.8). */
	__atomic_store_n(used_idx_ptr(vq), htole16(vq->used_idx), __ATOMIC_RELEASE);
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	const struct virtq_used_elem e = { head, len };

	virtq_push_batch(vq, &e, 1);
}

bool virtq_should_signal(struct virtq *vq)
{
	uint16_t old, new, event;
	bool valid;

	if (!vq->ready || vq->broken)
		return false;
	/*
	 * The used idx store must be visible before we read what the driver
	 * asked for, or we race with a driver re-enabling interrupts.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	valid = vq->signalled_valid;
	old = vq->signalled_used;
	new = vq->used_idx;
	vq->signalled_valid = true;
	vq->signalled_used = new;
	if (valid ? old == new : new == 0)
		return false; /* nothing pushed since the last interrupt, or ever */
	if (!vq->event_idx)
		return !(le16toh(__atomic_load_n(&vq->avail[AVAIL_FLAGS], __ATOMIC_RELAXED)) &
			 VIRTQ_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	/* §2.7.10: signal when used_event lies in [old, new). */
	event = le16toh(__atomic_load_n(&vq->avail[AVAIL_RING + vq->size], __ATOMIC_RELAXED));
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

/*
 * Copy between buf and the chain's segments [first, first + n), starting at
 * byte `off` of those segments; to_chain picks the direction.
 */
static size_t chain_copy(const struct virtq_chain *c, unsigned int first, unsigned int n,
			 uint64_t off, uint8_t *buf, size_t len, bool to_chain)
{
	size_t done = 0;
	unsigned int i;

	for (i = first; i < first + n && done < len; i++) {
		const struct virtq_iov *v = &c->iov[i];
		uint8_t *seg = v->base;
		size_t k;

		if (off >= v->len) {
			off -= v->len;
			continue;
		}
		k = v->len - off;
		if (k > len - done)
			k = len - done;
		if (to_chain)
			memcpy(seg + off, buf + done, k);
		else
			memcpy(buf + done, seg + off, k);
		done += k;
		off = 0;
	}
	return done;
}

size_t virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *dst, size_t len)
{
	return chain_copy(c, 0, c->nr_out, off, dst, len, false);
}

size_t virtq_chain_write(const struct virtq_chain *c, uint64_t off, const void *src, size_t len)
{
	/* The chain's bytes are written, never src's: dropping const is safe here. */
	return chain_copy(c, c->nr_out, c->nr_in, off, (uint8_t *)src, len, true);
}

void virtq_unpop(struct virtq *vq)
{
	vq->last_avail--;
}
