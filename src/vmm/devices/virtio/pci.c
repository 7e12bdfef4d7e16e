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

#include "common/log.h"
#include "vmm/devices/virtio/pci.h"

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

/* Send (or hold pending) MSI-X vector v; under vdev.lock. */
static void msix_fire(struct virtio_pci *vp, unsigned int v)
{
	const struct msix_entry *e;

	if (v >= vp->nr_vectors)
		return;
	e = &vp->msix[v];
	if (vp->msix_masked || (e->ctrl & MSIX_ENTRY_MASKED)) {
		vp->pba |= 1ULL << v; /* §6.8.2.9: delivered when unmasked */
		return;
	}
	vp->pba &= ~(1ULL << v);
	vp->irq->msi(vp->irq_opaque, (uint64_t)e->addr_hi << 32 | e->addr_lo, e->data);
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

static const struct virtio_transport_ops vp_transport = { .signal = vp_signal };

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
}

static struct virtq *selected_vq(struct virtio_pci *vp)
{
	return vp->queue_sel < vp->vdev.ops->num_queues ? &vp->vdev.vqs[vp->queue_sel] : NULL;
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
	put_le(c + CC_NUM_QUEUES, 2, vdev->ops->num_queues);
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
		if (len == 2 && vq && v == 1 && !vq->ready)
			virtio_dev_queue_enable(vdev, vp->queue_sel);
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

		if (o % VIRTIO_PCI_NOTIFY_MULT == 0)
			virtio_dev_queue_notify(vdev, o / VIRTIO_PCI_NOTIFY_MULT);
	} else if (off >= VIRTIO_PCI_MSIX_TABLE_OFF && off < VIRTIO_PCI_MSIX_PBA_OFF) {
		msix_table_write(vp, off - VIRTIO_PCI_MSIX_TABLE_OFF, data, len);
	}
	pthread_mutex_unlock(&vp->vdev.lock);
}

/* MSI-X Message Control changed: cache enable and function mask. */
static void vp_cfg_written(struct pci_dev *pdev, unsigned int off, unsigned int len)
{
	struct virtio_pci *vp = pdev->priv;
	unsigned int ctl = vp->msix_cap + 2;
	uint16_t v;

	if (off + len <= ctl || off >= ctl + 2)
		return;
	v = pci_cfg_get16(pdev->cfg, ctl);
	pthread_mutex_lock(&vp->vdev.lock);
	vp->msix_enabled = v & MSIX_CTRL_ENABLE;
	vp->msix_masked = v & MSIX_CTRL_MASKALL;
	if (vp->msix_enabled) {
		intx_set(vp, false); /* MSI-X on: INTx is not used, §6.8.2 */
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
			   VIRTIO_PCI_NOTIFY_MULT * ops->num_queues, 20);
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
	vp->nr_vectors = ops->num_queues + 1;
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
	vp->gsi = gsi;
	return pci_host_add(host, &vp->pdev, gsi);
}

void virtio_pci_uninit(struct virtio_pci *vp)
{
	virtio_dev_uninit(&vp->vdev);
}
