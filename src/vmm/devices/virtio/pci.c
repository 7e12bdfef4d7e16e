// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio-pci modern transport: see pci.h. Register layouts are those of
 * virtio 1.2 §4.1.4 (capabilities and common configuration) and PCI Local
 * Bus 3.0 §6.8.2 (MSI-X). Every register access comes from the guest, so
 * every selector and offset is range-checked before it indexes anything.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/devices/virtio/pci.h"
#include "vmm/snapshot.h"

/* struct virtio_pci_common_cfg, §4.1.4.3 */
#define CC_DFSELECT 0x00
#define CC_DF 0x04
#define CC_GFSELECT 0x08
#define CC_GF 0x0c
#define CC_MSIX_CONFIG 0x10
#define CC_NUM_QUEUES 0x12
#define CC_STATUS 0x14
#define CC_CFG_GEN 0x15
#define CC_Q_SELECT 0x16
#define CC_Q_SIZE 0x18
#define CC_Q_MSIX 0x1a
#define CC_Q_ENABLE 0x1c
#define CC_Q_NOTIFY_OFF 0x1e
#define CC_Q_DESC 0x20
#define CC_Q_DRIVER 0x28
#define CC_Q_DEVICE 0x30

#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_MASKALL 0x4000
#define MSIX_ENTRY_MASKED 0x1

static void put_le(uint8_t *p, unsigned int len, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, len);
}

static uint64_t get_le(const void *data, unsigned int len)
{
	uint64_t v = 0;

	memcpy(&v, data, len > 8 ? 8 : len);
	return le64toh(v);
}

static uint64_t entry_addr(const struct msix_entry *e)
{
	return (uint64_t)e->addr_hi << 32 | e->addr_lo;
}

/*
 * Route vector v's GSI to what its table entry says now, if it has one and
 * the entry is live (unmasked, MSI-X on): a driver changes an entry while
 * it is masked (PCI 3.0 §6.8.2.8), so a route follows the unmask, and only
 * a changed message costs a KVM_SET_GSI_ROUTING. Under vdev.lock.
 */
static void msix_route(struct virtio_pci *vp, unsigned int v)
{
	const struct msix_entry *e = &vp->msix[v];
	int r;

	if (!vp->irqfd || vp->vec[v].gsi < 0 || !vp->msix_enabled || (e->ctrl & MSIX_ENTRY_MASKED))
		return;
	if (vp->vec[v].routed && vp->vec[v].addr == entry_addr(e) && vp->vec[v].data == e->data)
		return;
	r = vp->irq->msi_route(vp->irq_opaque, vp->vec[v].gsi, vp->vec[v].fd, entry_addr(e),
			       e->data);
	vp->vec[v].routed = r == 0;
	vp->vec[v].addr = entry_addr(e);
	vp->vec[v].data = e->data;
}

/* Send (or hold pending) MSI-X vector v; under vdev.lock. */
static void msix_fire(struct virtio_pci *vp, unsigned int v)
{
	const struct msix_entry *e;
	uint64_t one = 1;

	if (v >= vp->nr_vectors)
		return;
	e = &vp->msix[v];
	if (vp->msix_masked || (e->ctrl & MSIX_ENTRY_MASKED)) {
		vp->pba |= 1ULL << v; /* §6.8.2.9: delivered when unmasked */
		return;
	}
	vp->pba &= ~(1ULL << v);
	/* The irqfd only while its route is this very message; else the ioctl. */
	if (vp->vec[v].routed && vp->vec[v].addr == entry_addr(e) && vp->vec[v].data == e->data &&
	    write(vp->vec[v].fd, &one, sizeof(one)) == sizeof(one)) {
		vp->vdev.counters.irq_irqfd++;
		return;
	}
	vp->vdev.counters.irq_msi++;
	vp->irq->msi(vp->irq_opaque, entry_addr(e), e->data);
}

/*
 * Put each enabled queue's ioeventfd where its notify register is now, and
 * take away those of disabled queues (reset) or of a BAR that moved or
 * stopped decoding. A registration KVM refuses (a guest that put two
 * BARs on one address) leaves that queue on the MMIO-exit path. Under
 * vdev.lock.
 */
static void evfd_sync(struct virtio_pci *vp)
{
	struct virtio_dev *vdev = &vp->vdev;
	unsigned int q;

	if (!vp->irq->ioeventfd)
		return;
	for (q = 0; q < vdev->num_queues; q++) {
		uint64_t want = 0;
		int r;

		if (vdev->kick_async && !vp->unplugged && vp->bar_decodes && vdev->vqs[q].ready)
			want = vp->bar_addr + VIRTIO_PCI_NOTIFY_OFF + q * VIRTIO_PCI_NOTIFY_MULT;
		if (want == vp->notify_evfd[q])
			continue;
		if (vp->notify_evfd[q]) {
			r = vp->irq->ioeventfd(vp->irq_opaque, vp->notify_evfd[q], vdev->kick_fd[q],
					       false);
			if (r < 0)
				pr_ratelimited(LOG_WARN,
					       "virtio-%s: drop the ioeventfd of queue %u: %s",
					       vdev->ops->name, q, strerror(-r));
			vp->notify_evfd[q] = 0;
		}
		if (!want)
			continue;
		r = vp->irq->ioeventfd(vp->irq_opaque, want, vdev->kick_fd[q], true);
		if (r < 0)
			pr_ratelimited(LOG_WARN,
				       "virtio-%s: no ioeventfd for queue %u at %#llx (%s): its "
				       "notifications exit",
				       vdev->ops->name, q, (unsigned long long)want, strerror(-r));
		else
			vp->notify_evfd[q] = want;
	}
}

/* Where BAR 0 decodes, from the config image; under the host's lock (or before the guest runs). */
static void bar_cache(struct virtio_pci *vp)
{
	uint64_t a = pci_dev_bar_addr(&vp->pdev, 0);
	bool on = pci_cfg_get16(vp->pdev.cfg, PCI_COMMAND) & PCI_COMMAND_MEMORY;

	vp->bar_addr = a;
	vp->bar_decodes = on && vp->host && a >= vp->host->mmio_base &&
			  a - vp->host->mmio_base < vp->host->mmio_size &&
			  VIRTIO_PCI_BAR_SIZE <= vp->host->mmio_size - (a - vp->host->mmio_base);
}

static void msix_flush_pending(struct virtio_pci *vp)
{
	unsigned int v;

	for (v = 0; v < vp->nr_vectors; v++)
		if (vp->pba & (1ULL << v))
			msix_fire(vp, v);
}

static void intx_set(struct virtio_pci *vp, bool level)
{
	if (vp->intx_level == level)
		return;
	vp->intx_level = level;
	if (level)
		vp->vdev.counters.irq_intx++;
	vp->irq->intx(vp->irq_opaque, vp->gsi, level);
}

/* virtio_transport_ops.signal; under vdev.lock. */
static void vp_signal(struct virtio_dev *vdev, enum virtio_signal what, unsigned int q)
{
	struct virtio_pci *vp = vdev->transport_priv;
	uint16_t vector = what == VIRTIO_SIGNAL_QUEUE ? vp->queue_vector[q] : vp->config_vector;

	/* §4.1.4.5.1: ISR is set before the notification; the queue bit only for INTx. */
	if (what == VIRTIO_SIGNAL_CONFIG)
		vp->isr |= VIRTIO_PCI_ISR_CONFIG;
	if (vp->msix_enabled) {
		if (vector != VIRTIO_MSI_NO_VECTOR)
			msix_fire(vp, vector);
		return;
	}
	if (what == VIRTIO_SIGNAL_QUEUE)
		vp->isr |= VIRTIO_PCI_ISR_QUEUE;
	intx_set(vp, true);
}

static int vp_queue_irqfd(struct virtio_dev *vdev, unsigned int q)
{
	struct virtio_pci *vp = vdev->transport_priv;
	uint16_t v = vp->queue_vector[q];
	const struct msix_entry *e;

	if (!vp->msix_enabled || vp->msix_masked || v >= vp->nr_vectors)
		return -1;
	e = &vp->msix[v];
	/* the same test as msix_fire(): KVM's route is this very message */
	if ((e->ctrl & MSIX_ENTRY_MASKED) || !vp->vec[v].routed ||
	    vp->vec[v].addr != entry_addr(e) || vp->vec[v].data != e->data)
		return -1;
	return vp->vec[v].fd;
}

static const struct virtio_transport_ops vp_transport = { .signal = vp_signal,
							  .queue_irqfd = vp_queue_irqfd };

static void vp_reset(struct virtio_pci *vp)
{
	unsigned int i;

	virtio_dev_reset(&vp->vdev);
	vp->dev_feature_sel = vp->drv_feature_sel = 0;
	vp->queue_sel = 0;
	vp->config_vector = VIRTIO_MSI_NO_VECTOR;
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vp->queue_vector[i] = VIRTIO_MSI_NO_VECTOR;
	vp->isr = 0;
	intx_set(vp, false);
	evfd_sync(vp); /* queues are disabled: their ioeventfds go */
}

static struct virtq *selected_vq(struct virtio_pci *vp)
{
	return vp->queue_sel < vp->vdev.num_queues ? &vp->vdev.vqs[vp->queue_sel] : NULL;
}

static void common_read(struct virtio_pci *vp, uint64_t off, void *data, unsigned int len)
{
	struct virtio_dev *vdev = &vp->vdev;
	struct virtq *vq = selected_vq(vp);
	uint8_t c[0x40] = { 0 };

	/* Assemble the whole structure, then copy out whatever slice was read. */
	if (vp->dev_feature_sel < 2)
		put_le(c + CC_DF, 4, vdev->host_features >> (32 * vp->dev_feature_sel));
	if (vp->drv_feature_sel < 2)
		put_le(c + CC_GF, 4, vdev->guest_features >> (32 * vp->drv_feature_sel));
	put_le(c + CC_DFSELECT, 4, vp->dev_feature_sel);
	put_le(c + CC_GFSELECT, 4, vp->drv_feature_sel);
	put_le(c + CC_MSIX_CONFIG, 2, vp->config_vector);
	put_le(c + CC_NUM_QUEUES, 2, vdev->num_queues);
	c[CC_STATUS] = vdev->status;
	c[CC_CFG_GEN] = vdev->config_generation;
	put_le(c + CC_Q_SELECT, 2, vp->queue_sel);
	if (vq) {
		/* §4.1.4.3.2: an absent queue reads as size 0; the rest stays 0 too. */
		put_le(c + CC_Q_SIZE, 2, vq->size);
		put_le(c + CC_Q_MSIX, 2, vp->queue_vector[vp->queue_sel]);
		put_le(c + CC_Q_ENABLE, 2, vq->ready);
		put_le(c + CC_Q_NOTIFY_OFF, 2, vp->queue_sel);
		put_le(c + CC_Q_DESC, 8, vq->desc_gpa);
		put_le(c + CC_Q_DRIVER, 8, vq->avail_gpa);
		put_le(c + CC_Q_DEVICE, 8, vq->used_gpa);
	}
	memset(data, 0, len);
	if (off < sizeof(c))
		memcpy(data, c + off, len < sizeof(c) - off ? len : sizeof(c) - off);
}

/* A 64-bit queue address written whole or as two dword halves (§4.1.3.1). */
static void set_addr_half(uint64_t *addr, uint64_t off, unsigned int len, uint64_t v)
{
	if (len == 8 && off == 0)
		*addr = v;
	else if (len == 4 && off == 0)
		*addr = (*addr & ~0xffffffffULL) | v;
	else if (len == 4 && off == 4)
		*addr = (*addr & 0xffffffffULL) | v << 32;
}

static uint16_t vector_or_none(struct virtio_pci *vp, uint64_t v)
{
	/* §4.1.4.3.3: a vector we cannot map reads back as NO_VECTOR. */
	return v < vp->nr_vectors ? v : VIRTIO_MSI_NO_VECTOR;
}

static void common_write(struct virtio_pci *vp, uint64_t off, const void *data, unsigned int len)
{
	struct virtio_dev *vdev = &vp->vdev;
	struct virtq *vq = selected_vq(vp);
	uint64_t v = get_le(data, len);

	if (off >= CC_Q_DESC && off < CC_Q_DEVICE + 8) {
		uint64_t *addr[] = { vq ? &vq->desc_gpa : NULL, vq ? &vq->avail_gpa : NULL,
				     vq ? &vq->used_gpa : NULL };

		/* §4.1.4.3.2: addresses are fixed once the queue is enabled. */
		if (vq && !vq->ready)
			set_addr_half(addr[(off - CC_Q_DESC) / 8], (off - CC_Q_DESC) % 8, len, v);
		return;
	}
	switch (off) {
	case CC_DFSELECT:
		if (len == 4)
			vp->dev_feature_sel = v;
		return;
	case CC_GFSELECT:
		if (len == 4)
			vp->drv_feature_sel = v;
		return;
	case CC_GF:
		if (len == 4)
			virtio_dev_set_guest_features(vdev, vp->drv_feature_sel, v);
		return;
	case CC_MSIX_CONFIG:
		if (len == 2)
			vp->config_vector = vector_or_none(vp, v);
		return;
	case CC_STATUS:
		if (len != 1)
			return;
		if (v == 0)
			vp_reset(vp);
		else
			virtio_dev_set_status(vdev, v);
		return;
	case CC_Q_SELECT:
		if (len == 2)
			vp->queue_sel = v;
		return;
	case CC_Q_SIZE:
		/* Checked against max_size and for a power of two at enable. */
		if (len == 2 && vq && !vq->ready)
			vq->size = v;
		return;
	case CC_Q_MSIX:
		if (len == 2 && vq)
			vp->queue_vector[vp->queue_sel] = vector_or_none(vp, v);
		return;
	case CC_Q_ENABLE:
		/* §4.1.4.3.2: the driver never writes 0 here; queue reset is not offered. */
		if (len == 2 && vq && v == 1 && !vq->ready) {
			virtio_dev_queue_enable(vdev, vp->queue_sel);
			evfd_sync(vp);
		}
		return;
	}
	pr_ratelimited(LOG_DEBUG, "virtio-pci: ignored write of %u bytes at common cfg %#llx", len,
		       (unsigned long long)off);
}

static void msix_table_read(struct virtio_pci *vp, uint64_t off, void *data, unsigned int len)
{
	memset(data, 0, len);
	if (off + len <= vp->nr_vectors * sizeof(struct msix_entry) && (len == 4 || len == 8) &&
	    off % len == 0) {
		uint32_t *w = (uint32_t *)vp->msix + off / 4;

		put_le(data, 4, w[0]);
		if (len == 8)
			put_le((uint8_t *)data + 4, 4, w[1]);
	}
}

static void msix_table_write(struct virtio_pci *vp, uint64_t off, const void *data,
			     unsigned int len)
{
	uint64_t v = get_le(data, len);
	unsigned int i;

	/* §6.8.2: table entries are written as aligned dwords or qwords. */
	if (off + len > vp->nr_vectors * sizeof(struct msix_entry) || (len != 4 && len != 8) ||
	    off % len)
		return;
	for (i = 0; i < len / 4; i++) {
		uint32_t *w = (uint32_t *)vp->msix + off / 4 + i;

		*w = v >> (32 * i);
	}
	msix_route(vp, off / sizeof(struct msix_entry));
	/* An unmasked vector with a pending message delivers it now. */
	msix_flush_pending(vp);
}

static void vp_bar_read(struct pci_dev *pdev, unsigned int bar, uint64_t off, void *data,
			unsigned int len)
{
	struct virtio_pci *vp = pdev->priv;
	struct virtio_dev *vdev = &vp->vdev;

	memset(data, 0, len);
	pthread_mutex_lock(&vp->vdev.lock);
	if (off < VIRTIO_PCI_ISR_OFF) {
		common_read(vp, off - VIRTIO_PCI_COMMON_OFF, data, len);
	} else if (off == VIRTIO_PCI_ISR_OFF) {
		/* §4.1.4.5: reading ISR clears it and de-asserts INTx. */
		*(uint8_t *)data = vp->isr;
		vp->isr = 0;
		intx_set(vp, false);
	} else if (off >= VIRTIO_PCI_DEVICE_OFF && off < VIRTIO_PCI_NOTIFY_OFF) {
		uint64_t o = off - VIRTIO_PCI_DEVICE_OFF;

		if (o + len <= vdev->ops->config_size)
			memcpy(data, vdev->config + o, len);
	} else if (off >= VIRTIO_PCI_MSIX_TABLE_OFF && off < VIRTIO_PCI_MSIX_PBA_OFF) {
		msix_table_read(vp, off - VIRTIO_PCI_MSIX_TABLE_OFF, data, len);
	} else if (off >= VIRTIO_PCI_MSIX_PBA_OFF && off + len <= VIRTIO_PCI_MSIX_PBA_OFF + 8) {
		put_le(data, len, vp->pba >> (8 * (off - VIRTIO_PCI_MSIX_PBA_OFF)));
	}
	pthread_mutex_unlock(&vp->vdev.lock);
}

static void vp_bar_write(struct pci_dev *pdev, unsigned int bar, uint64_t off, const void *data,
			 unsigned int len)
{
	struct virtio_pci *vp = pdev->priv;
	struct virtio_dev *vdev = &vp->vdev;

	pthread_mutex_lock(&vp->vdev.lock);
	if (off < VIRTIO_PCI_ISR_OFF) {
		common_write(vp, off - VIRTIO_PCI_COMMON_OFF, data, len);
	} else if (off >= VIRTIO_PCI_DEVICE_OFF && off < VIRTIO_PCI_NOTIFY_OFF) {
		uint64_t o = off - VIRTIO_PCI_DEVICE_OFF;

		/* Only a model with writable config fields takes the bytes. */
		if (vdev->ops->config_write && o + len <= vdev->ops->config_size)
			vdev->ops->config_write(vdev, o, data, len);
	} else if (off >= VIRTIO_PCI_NOTIFY_OFF && off < VIRTIO_PCI_MSIX_TABLE_OFF) {
		/* §4.1.4.4: the address names the queue; the value is not trusted. */
		uint64_t o = off - VIRTIO_PCI_NOTIFY_OFF;

		if (o % VIRTIO_PCI_NOTIFY_MULT == 0 &&
		    o / VIRTIO_PCI_NOTIFY_MULT < vdev->num_queues) {
			vdev->counters.kick_exits++;
			virtio_dev_kick(vdev, o / VIRTIO_PCI_NOTIFY_MULT);
		}
	} else if (off >= VIRTIO_PCI_MSIX_TABLE_OFF && off < VIRTIO_PCI_MSIX_PBA_OFF) {
		msix_table_write(vp, off - VIRTIO_PCI_MSIX_TABLE_OFF, data, len);
	}
	pthread_mutex_unlock(&vp->vdev.lock);
}

static bool overlaps(unsigned int off, unsigned int len, unsigned int reg, unsigned int reg_len)
{
	return off < reg + reg_len && reg < off + len;
}

/*
 * Config space changed (under the host's lock). The command register or
 * BAR 0: the ioeventfds follow where the BAR decodes. MSI-X Message
 * Control: cache enable and function mask.
 */
static void vp_cfg_written(struct pci_dev *pdev, unsigned int off, unsigned int len)
{
	struct virtio_pci *vp = pdev->priv;
	unsigned int ctl = vp->msix_cap + 2, i;
	uint16_t v;

	if (overlaps(off, len, PCI_COMMAND, 2) || overlaps(off, len, PCI_BAR0, 8)) {
		pthread_mutex_lock(&vp->vdev.lock);
		bar_cache(vp);
		evfd_sync(vp);
		pthread_mutex_unlock(&vp->vdev.lock);
	}
	if (!overlaps(off, len, ctl, 2))
		return;
	v = pci_cfg_get16(pdev->cfg, ctl);
	pthread_mutex_lock(&vp->vdev.lock);
	vp->msix_enabled = v & MSIX_CTRL_ENABLE;
	vp->msix_masked = v & MSIX_CTRL_MASKALL;
	if (vp->msix_enabled) {
		intx_set(vp, false); /* MSI-X on: INTx is not used, §6.8.2 */
		for (i = 0; i < vp->nr_vectors; i++)
			msix_route(vp, i);
		msix_flush_pending(vp);
	}
	pthread_mutex_unlock(&vp->vdev.lock);
}

static const struct pci_dev_ops vp_pci_ops = {
	.bar_read = vp_bar_read,
	.bar_write = vp_bar_write,
	.cfg_written = vp_cfg_written,
};

/* Add a struct virtio_pci_cap (§4.1.4) pointing at [off, off+len) of BAR 0. */
static int add_virtio_cap(struct pci_dev *pdev, uint8_t type, uint32_t off, uint32_t len,
			  unsigned int cap_len)
{
	int c = pci_dev_add_cap(pdev, PCI_CAP_ID_VNDR, cap_len);

	if (c < 0)
		return c;
	pdev->cfg[c + 2] = cap_len;
	pdev->cfg[c + 3] = type;
	pdev->cfg[c + 4] = 0; /* bar */
	pci_cfg_put32(pdev->cfg, c + 8, off);
	pci_cfg_put32(pdev->cfg, c + 12, len);
	return c;
}

static int vp_build_config(struct virtio_pci *vp)
{
	struct pci_dev *pdev = &vp->pdev;
	const struct virtio_dev_ops *ops = vp->vdev.ops;
	int c;

	pdev->ops = &vp_pci_ops;
	pdev->priv = vp;
	/* §4.1.2: non-transitional IDs; subsystem id ≥ 0x40 as §4.1.2.1 asks. */
	pci_dev_init(pdev, VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE_BASE + ops->device_id,
		     ops->pci_class, 1, VIRTIO_PCI_VENDOR, 0x40 + ops->device_id);
	if (pci_dev_add_bar(pdev, 0, VIRTIO_PCI_BAR_SIZE, true, false) < 0)
		return -EINVAL;
	if (add_virtio_cap(pdev, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF,
			   VIRTIO_PCI_COMMON_LEN, 16) < 0 ||
	    add_virtio_cap(pdev, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, 1, 16) < 0)
		return -ENOSPC;
	c = add_virtio_cap(pdev, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF,
			   VIRTIO_PCI_NOTIFY_MULT * vp->vdev.num_queues, 20);
	if (c < 0)
		return c;
	pci_cfg_put32(pdev->cfg, c + 16, VIRTIO_PCI_NOTIFY_MULT);
	if (ops->config_size && add_virtio_cap(pdev, VIRTIO_PCI_CAP_DEVICE_CFG,
					       VIRTIO_PCI_DEVICE_OFF, ops->config_size, 16) < 0)
		return -ENOSPC;
	/* MSI-X, PCI 3.0 §6.8.2: table and PBA in BAR 0 (BIR 0). */
	c = pci_dev_add_cap(pdev, PCI_CAP_ID_MSIX, 12);
	if (c < 0)
		return c;
	vp->msix_cap = c;
	pci_cfg_put16(pdev->cfg, c + 2, vp->nr_vectors - 1);
	pci_cfg_put16(pdev->wmask, c + 2, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	pci_cfg_put32(pdev->cfg, c + 4, VIRTIO_PCI_MSIX_TABLE_OFF);
	pci_cfg_put32(pdev->cfg, c + 8, VIRTIO_PCI_MSIX_PBA_OFF);
	return 0;
}

int virtio_pci_init(struct virtio_pci *vp, const struct virtio_dev_ops *ops, const void *params,
		    const struct guest_mem *mem, const struct pci_irq_ops *irq, void *irq_opaque)
{
	unsigned int i;
	int r;

	memset(vp, 0, sizeof(*vp));
	r = virtio_dev_init(&vp->vdev, ops, mem, params);
	if (r < 0)
		return r;
	vp->vdev.transport = &vp_transport;
	vp->vdev.transport_priv = vp;
	vp->irq = irq;
	vp->irq_opaque = irq_opaque;
	vp->nr_vectors = vp->vdev.num_queues + 1;
	for (i = 0; i < VIRTIO_PCI_MSIX_VECTORS; i++)
		vp->vec[i].fd = vp->vec[i].gsi = -1;
	vp->config_vector = VIRTIO_MSI_NO_VECTOR;
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vp->queue_vector[i] = VIRTIO_MSI_NO_VECTOR;
	/* §6.8.2.8: every entry starts masked. */
	for (i = 0; i < VIRTIO_PCI_MSIX_VECTORS; i++)
		vp->msix[i].ctrl = MSIX_ENTRY_MASKED;
	r = vp_build_config(vp);
	if (r < 0) {
		virtio_dev_uninit(&vp->vdev);
		return r;
	}
	return 0;
}

int virtio_pci_plug(struct virtio_pci *vp, struct pci_host *host, unsigned int gsi)
{
	int r;

	vp->gsi = gsi;
	r = pci_host_add(host, &vp->pdev, gsi);
	if (r == 0) {
		vp->host = host;
		bar_cache(vp); /* the guest does not run yet */
	}
	return r;
}

void virtio_pci_fast_paths(struct virtio_pci *vp, bool ioeventfd, bool irqfd)
{
	unsigned int v;

	pthread_mutex_lock(&vp->vdev.lock);
	vp->vdev.kick_async = ioeventfd && vp->irq->ioeventfd;
	vp->irqfd = irqfd && vp->irq->msi_gsi && vp->irq->msi_route;
	for (v = 0; vp->irqfd && v < vp->nr_vectors; v++) {
		vp->vec[v].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		vp->vec[v].gsi = vp->vec[v].fd < 0 ? -1 : vp->irq->msi_gsi(vp->irq_opaque);
		if (vp->vec[v].gsi < 0)
			pr_warn("virtio-%s: vector %u without an irqfd: %s", vp->vdev.ops->name, v,
				vp->vec[v].fd < 0 ? strerror(errno) : "no GSI left");
	}
	evfd_sync(vp);
	pthread_mutex_unlock(&vp->vdev.lock);
}

void virtio_pci_uninit(struct virtio_pci *vp)
{
	unsigned int v;

	if (vp->vdev.ops) {
		pthread_mutex_lock(&vp->vdev.lock);
		vp->unplugged = true;
		evfd_sync(vp);
		pthread_mutex_unlock(&vp->vdev.lock);
	}
	virtio_dev_uninit(&vp->vdev);
	for (v = 0; v < VIRTIO_PCI_MSIX_VECTORS; v++) {
		if (vp->vec[v].gsi >= 0 && vp->irq->msi_detach)
			vp->irq->msi_detach(vp->irq_opaque, vp->vec[v].gsi, vp->vec[v].fd);
		if (vp->vec[v].fd >= 0)
			close(vp->vec[v].fd);
		vp->vec[v].fd = vp->vec[v].gsi = -1;
	}
}

/* The saved transport state (snapshot.h); fixed layout. */
struct vp_state {
	uint8_t cfg[256]; /* the function's config image */
	uint32_t dev_feature_sel, drv_feature_sel;
	uint16_t queue_sel, config_vector;
	uint16_t queue_vector[VIRTIO_MAX_QUEUES];
	uint8_t isr, intx_level, pad[2];
	uint32_t nr_vectors;
	struct msix_entry msix[VIRTIO_PCI_MSIX_VECTORS];
	uint64_t pba;
};

void virtio_pci_save_locked(struct virtio_pci *vp, struct snap_w *w)
{
	struct vp_state st;

	memset(&st, 0, sizeof(st));
	memcpy(st.cfg, vp->pdev.cfg, sizeof(st.cfg));
	st.dev_feature_sel = vp->dev_feature_sel;
	st.drv_feature_sel = vp->drv_feature_sel;
	st.queue_sel = vp->queue_sel;
	st.config_vector = vp->config_vector;
	memcpy(st.queue_vector, vp->queue_vector, sizeof(st.queue_vector));
	st.isr = vp->isr;
	st.intx_level = vp->intx_level;
	st.nr_vectors = vp->nr_vectors;
	memcpy(st.msix, vp->msix, sizeof(st.msix));
	st.pba = vp->pba;
	snap_put(w, SNAP_VIRTIO, 0x10000 | vp->pdev.slot, &st, sizeof(st));
	virtio_dev_save_locked(&vp->vdev, w, vp->pdev.slot);
}

static bool vector_ok(const struct virtio_pci *vp, uint16_t v)
{
	return v == VIRTIO_MSI_NO_VECTOR || v < vp->nr_vectors;
}

int virtio_pci_load_locked(struct virtio_pci *vp, const struct snap_r *r, struct err **err)
{
	const struct vp_state *st =
		snap_get(r, SNAP_VIRTIO, 0x10000 | vp->pdev.slot, sizeof(*st), err);
	unsigned int i, ctl = vp->msix_cap + 2;
	uint16_t v;
	int ret;

	if (!st)
		return -EINVAL;
	if (st->nr_vectors != vp->nr_vectors || !vector_ok(vp, st->config_vector))
		return err_make(err, EINVAL,
				"snapshot state: virtio-%s in slot %u: bad MSI-X state",
				vp->vdev.ops->name, vp->pdev.slot);
	for (i = 0; i < vp->vdev.ops->num_queues; i++)
		if (!vector_ok(vp, st->queue_vector[i]))
			return err_make(err, EINVAL,
					"snapshot state: virtio-%s in slot %u: queue %u has vector "
					"%u of %u",
					vp->vdev.ops->name, vp->pdev.slot, i, st->queue_vector[i],
					vp->nr_vectors);
	ret = virtio_dev_load_locked(&vp->vdev, r, vp->pdev.slot, err);
	if (ret < 0)
		return ret;
	/* Config space: only the bits a guest could have written come from the file. */
	for (i = 0; i < sizeof(vp->pdev.cfg); i++)
		vp->pdev.cfg[i] = (vp->pdev.cfg[i] & ~vp->pdev.wmask[i]) |
				  (st->cfg[i] & vp->pdev.wmask[i]);
	vp->dev_feature_sel = st->dev_feature_sel;
	vp->drv_feature_sel = st->drv_feature_sel;
	vp->queue_sel = st->queue_sel;
	vp->config_vector = st->config_vector;
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vp->queue_vector[i] = i < vp->vdev.ops->num_queues ? st->queue_vector[i] :
								     VIRTIO_MSI_NO_VECTOR;
	vp->isr = st->isr & (VIRTIO_PCI_ISR_QUEUE | VIRTIO_PCI_ISR_CONFIG);
	for (i = 0; i < vp->nr_vectors; i++) {
		vp->msix[i] = st->msix[i];
		vp->msix[i].ctrl &= MSIX_ENTRY_MASKED;
	}
	vp->pba = st->pba & ((1ULL << vp->nr_vectors) - 1);
	v = pci_cfg_get16(vp->pdev.cfg, ctl);
	vp->msix_enabled = v & MSIX_CTRL_ENABLE;
	vp->msix_masked = v & MSIX_CTRL_MASKALL;
	/* KVM's side follows: ioeventfds where BAR 0 decodes, routes for live vectors */
	bar_cache(vp);
	evfd_sync(vp);
	for (i = 0; i < vp->nr_vectors; i++)
		msix_route(vp, i);
	vp->intx_level = false;
	if (!vp->msix_enabled && st->intx_level)
		intx_set(vp, true);
	return 0;
}
