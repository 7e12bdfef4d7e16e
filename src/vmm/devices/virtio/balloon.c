// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio-balloon (virtio 1.2 §5.5): the memory reclaim overselling needs.
 * The host sets num_pages in config space; the guest driver allocates that
 * many pages and hands their frame numbers over on the inflate queue; we
 * return those pages to the host with MADV_DONTNEED, so the monitor's RSS
 * really drops. Deflated pages need nothing: the next guest touch faults
 * in a zero page. The statistics queue carries the guest's own view of its
 * memory; we hold the driver's buffer and give it back to ask for more.
 *
 * Frame numbers come from the guest: each is checked against guest RAM,
 * and one outside it is skipped and logged, never advised.
 *
 * A VM under memory `reserve` has its RAM locked (vm_reserve_ram): it was
 * sold whole, so the host never asks for it back. set_target refuses any
 * target below RAM, and pages a driver inflates on its own stay mapped and
 * locked (MADV_DONTNEED would fail on them anyway).
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/log.h"
#include "vmm/devices/virtio/balloon.h"
#include "vmm/devices/virtio/virtio.h"

#define BALLOON_INFLATEQ 0
#define BALLOON_DEFLATEQ 1
#define BALLOON_STATSQ 2
#define BALLOON_QUEUE_SIZE 128
#define BALLOON_PAGE 4096 /* §5.5.6: balloon pages are 4 KiB whatever the guest uses */
#define BALLOON_PFN_BATCH 256 /* frame numbers read off a chain at once (Linux sends 256) */

#define VIRTIO_BALLOON_F_STATS_VQ 1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2

/* §5.5.4 config layout */
#define BALLOON_CFG_NUM_PAGES 0
#define BALLOON_CFG_ACTUAL 4

/* §5.5.6.3 statistics tags */
enum {
	STAT_SWAP_IN = 0,
	STAT_SWAP_OUT = 1,
	STAT_MAJFLT = 2,
	STAT_MINFLT = 3,
	STAT_MEMFREE = 4,
	STAT_MEMTOT = 5,
	STAT_AVAIL = 6,
	STAT_CACHES = 7,
};

struct balloon {
	uint64_t ram_size;
	bool reserved;
	uint32_t target_pages;
	struct virtio_balloon_stats stats;
	bool stats_held; /* we hold the driver's stats buffer */
	uint16_t stats_head;
};

static void inflate(struct virtio_dev *vdev, struct balloon *b)
{
	struct virtq *vq = &vdev->vqs[BALLOON_INFLATEQ];
	struct virtq_chain c;

	while (virtq_pop(vq, &c) == 1) {
		uint32_t pfns[BALLOON_PFN_BATCH];
		uint64_t off;
		unsigned int i = 0, n = 0;

		for (off = 0; off + 4 <= c.out_bytes; off += 4, i++) {
			uint32_t pfn;
			void *hva;

			/*
			 * A batch at a time: each read walks the chain from its
			 * first segment, and a hostile chain has 256 of them.
			 */
			if (i == n) {
				n = (c.out_bytes - off) / 4 < BALLOON_PFN_BATCH ?
					    (c.out_bytes - off) / 4 :
					    BALLOON_PFN_BATCH;
				virtq_chain_read(&c, off, pfns, 4 * n);
				i = 0;
			}
			pfn = pfns[i];
			hva = gpa_ptr(vdev->mem, (uint64_t)pfn * BALLOON_PAGE, BALLOON_PAGE);
			if (!hva) {
				pr_ratelimited(LOG_WARN,
					       "virtio-balloon: frame %#x is not guest RAM", pfn);
				continue;
			}
			if (b->reserved)
				continue; /* locked: the page stays the guest's */
			if (madvise(hva, BALLOON_PAGE, MADV_DONTNEED) == 0)
				b->stats.inflated_bytes += BALLOON_PAGE;
		}
		virtq_push(vq, c.head, 0);
	}
}

static void deflate(struct virtio_dev *vdev, struct balloon *b)
{
	struct virtq *vq = &vdev->vqs[BALLOON_DEFLATEQ];
	struct virtq_chain c;

	while (virtq_pop(vq, &c) == 1) {
		uint64_t pages = c.out_bytes / 4;

		b->stats.inflated_bytes -= pages * BALLOON_PAGE < b->stats.inflated_bytes ?
						   pages * BALLOON_PAGE :
						   b->stats.inflated_bytes;
		virtq_push(vq, c.head, 0);
	}
}

static void read_stats(struct virtio_dev *vdev, struct balloon *b)
{
	struct virtq *vq = &vdev->vqs[BALLOON_STATSQ];
	struct virtq_chain c;
	int64_t *slot[] = {
		[STAT_SWAP_IN] = &b->stats.swap_in,	   [STAT_SWAP_OUT] = &b->stats.swap_out,
		[STAT_MAJFLT] = &b->stats.major_faults,	   [STAT_MINFLT] = &b->stats.minor_faults,
		[STAT_MEMFREE] = &b->stats.free_memory,	   [STAT_MEMTOT] = &b->stats.total_memory,
		[STAT_AVAIL] = &b->stats.available_memory, [STAT_CACHES] = &b->stats.disk_caches,
	};

	while (virtq_pop(vq, &c) == 1) {
		uint64_t off;

		/* §5.5.6.3: packed entries of a 16-bit tag and a 64-bit value. */
		for (off = 0; off + 10 <= c.out_bytes; off += 10) {
			uint16_t tag;
			uint64_t val;

			virtq_chain_read(&c, off, &tag, 2);
			virtq_chain_read(&c, off + 2, &val, 8);
			if (tag < sizeof(slot) / sizeof(slot[0]))
				*slot[tag] = (int64_t)val;
		}
		if (b->stats_held) /* a driver should not queue two; return the older */
			virtq_push(vq, b->stats_head, 0);
		b->stats_head = c.head;
		b->stats_held = true;
	}
}

static void balloon_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct balloon *b = vdev->priv;

	if (q == BALLOON_INFLATEQ)
		inflate(vdev, b);
	else if (q == BALLOON_DEFLATEQ)
		deflate(vdev, b);
	else if (q == BALLOON_STATSQ)
		read_stats(vdev, b);
}

/* §5.5.4: the driver may write `actual` only; num_pages is the device's. */
static void balloon_config_write(struct virtio_dev *vdev, unsigned int off, const void *data,
				 unsigned int len)
{
	unsigned int lo = off > BALLOON_CFG_ACTUAL ? off : BALLOON_CFG_ACTUAL;
	unsigned int hi = off + len < BALLOON_CFG_ACTUAL + 4 ? off + len : BALLOON_CFG_ACTUAL + 4;
	struct balloon *b = vdev->priv;
	uint32_t actual;

	if (lo >= hi)
		return;
	memcpy(vdev->config + lo, (const uint8_t *)data + (lo - off), hi - lo);
	memcpy(&actual, vdev->config + BALLOON_CFG_ACTUAL, 4);
	b->stats.actual_pages = le32toh(actual);
}

static void balloon_reset(struct virtio_dev *vdev)
{
	struct balloon *b = vdev->priv;

	/* The driver's held buffer died with the queues; pages it had given are back. */
	b->stats_held = false;
	b->stats.actual_pages = 0;
	b->stats.inflated_bytes = 0;
}

static void clear_stats(struct virtio_balloon_stats *s)
{
	s->swap_in = s->swap_out = s->major_faults = s->minor_faults = -1;
	s->free_memory = s->total_memory = s->available_memory = s->disk_caches = -1;
}

static int balloon_init(struct virtio_dev *vdev, const void *params)
{
	const struct virtio_balloon_params *p = params;
	struct balloon *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->ram_size = p->ram_size;
	b->reserved = p->reserved;
	clear_stats(&b->stats);
	vdev->priv = b;
	return 0;
}

static void balloon_uninit(struct virtio_dev *vdev)
{
	free(vdev->priv);
	vdev->priv = NULL;
}

int virtio_balloon_set_target(struct virtio_dev *vdev, uint64_t target, struct err **err)
{
	struct balloon *b = vdev->priv;

	if (target > b->ram_size)
		return err_make(err, EINVAL, "balloon target %llu is above the VM's %llu bytes",
				(unsigned long long)target, (unsigned long long)b->ram_size);
	if (b->reserved && target < b->ram_size)
		return err_make(err, EPERM, "balloon: reserved memory (locked) is not reclaimed");
	pthread_mutex_lock(&vdev->lock);
	b->target_pages = (b->ram_size - target) / BALLOON_PAGE;
	b->stats.target_pages = b->target_pages;
	virtio_config_put32(vdev, BALLOON_CFG_NUM_PAGES, b->target_pages);
	virtio_dev_config_changed(vdev);
	pthread_mutex_unlock(&vdev->lock);
	return 0;
}

void virtio_balloon_get_stats(struct virtio_dev *vdev, struct virtio_balloon_stats *s)
{
	struct balloon *b = vdev->priv;

	pthread_mutex_lock(&vdev->lock);
	*s = b->stats;
	if (b->stats_held && vdev->vqs[BALLOON_STATSQ].ready) {
		/* Giving the buffer back is how the device asks for fresh numbers. */
		b->stats_held = false;
		virtq_push(&vdev->vqs[BALLOON_STATSQ], b->stats_head, 0);
		virtio_dev_queue_done(vdev, BALLOON_STATSQ);
	}
	pthread_mutex_unlock(&vdev->lock);
}

/* Snapshots: the target, what the driver reported, and a stats buffer we hold. */
struct balloon_state {
	uint32_t target_pages, actual_pages;
	uint16_t stats_head;
	uint8_t stats_held, pad[5];
};

static size_t balloon_state_save(struct virtio_dev *vdev, void *buf, size_t max)
{
	struct balloon *b = vdev->priv;
	struct balloon_state st = {
		.target_pages = b->target_pages,
		.actual_pages = (uint32_t)b->stats.actual_pages,
		.stats_head = b->stats_head,
		.stats_held = b->stats_held,
	};

	if (max < sizeof(st))
		return 0;
	memcpy(buf, &st, sizeof(st));
	return sizeof(st);
}

static int balloon_state_load(struct virtio_dev *vdev, const void *buf, size_t len)
{
	struct balloon *b = vdev->priv;
	struct balloon_state st;

	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	if ((uint64_t)st.target_pages * BALLOON_PAGE > b->ram_size ||
	    (b->reserved && st.target_pages) ||
	    (st.stats_held && st.stats_head >= vdev->vqs[BALLOON_STATSQ].size))
		return -EINVAL;
	b->target_pages = st.target_pages;
	b->stats.target_pages = st.target_pages;
	b->stats.actual_pages = st.actual_pages;
	b->stats_held = st.stats_held;
	b->stats_head = st.stats_head;
	virtio_config_put32(vdev, BALLOON_CFG_NUM_PAGES, st.target_pages);
	virtio_config_put32(vdev, BALLOON_CFG_ACTUAL, st.actual_pages);
	return 0;
}

const struct virtio_dev_ops virtio_balloon_ops = {
	.name = "balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.pci_class = 0x058000, /* memory controller, other */
	.features = BIT_ULL(VIRTIO_BALLOON_F_STATS_VQ) | BIT_ULL(VIRTIO_BALLOON_F_DEFLATE_ON_OOM),
	.config_size = 8,
	.num_queues = 3,
	.queue_max_size = BALLOON_QUEUE_SIZE,
	.init = balloon_init,
	.uninit = balloon_uninit,
	.config_write = balloon_config_write,
	.notify = balloon_notify,
	.reset = balloon_reset,
	.state_save = balloon_state_save,
	.state_load = balloon_state_load,
};
