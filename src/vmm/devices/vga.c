// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Standard VGA registers and the text screen: see vga.h. Port offsets are
 * from 0x3c0; register meanings from IBM's VGA technical reference (the
 * layout every clone and QEMU's vga.c follow).
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/kvm.h>

#include "vmm/devices/vga.h"

#define VGA_ATTR 0x00 /* index and data, by the flip-flop */
#define VGA_ATTR_READ 0x01
#define VGA_MISC_WRITE 0x02 /* read: input status 0 */
#define VGA_SEQ_INDEX 0x04
#define VGA_SEQ_DATA 0x05
#define VGA_PEL_MASK 0x06
#define VGA_DAC_READ_INDEX 0x07 /* read: DAC state */
#define VGA_DAC_WRITE_INDEX 0x08
#define VGA_DAC_DATA 0x09
#define VGA_FEATURE_READ 0x0a
#define VGA_MISC_READ 0x0c
#define VGA_GR_INDEX 0x0e
#define VGA_GR_DATA 0x0f
#define VGA_CRTC_INDEX 0x14 /* 0x3d4 */
#define VGA_CRTC_DATA 0x15
#define VGA_STATUS1 0x1a /* 0x3da; write: feature control */

#define VGA_GR_MISC 6 /* bit 0: graphics mode */
#define VGA_CRTC_START_HI 0x0c
#define VGA_CRTC_START_LO 0x0d
#define VGA_CRTC_CURSOR_HI 0x0e
#define VGA_CRTC_CURSOR_LO 0x0f

static uint8_t read_reg(struct vga *v, unsigned int off)
{
	uint8_t r;

	switch (off) {
	case VGA_ATTR:
		return v->attr_idx;
	case VGA_ATTR_READ:
		return v->attr[v->attr_idx & 0x1f];
	case VGA_SEQ_INDEX:
		return v->seq_idx;
	case VGA_SEQ_DATA:
		return v->seq[v->seq_idx & 7];
	case VGA_PEL_MASK:
		return v->pel_mask;
	case VGA_DAC_WRITE_INDEX:
		return v->dac_write;
	case VGA_DAC_DATA:
		r = v->dac[v->dac_read][v->dac_sub];
		if (++v->dac_sub == 3) {
			v->dac_sub = 0;
			v->dac_read++;
		}
		return r;
	case VGA_FEATURE_READ:
		return v->feature;
	case VGA_MISC_READ:
		return v->misc;
	case VGA_GR_INDEX:
		return v->gr_idx;
	case VGA_GR_DATA:
		return v->gr[v->gr_idx & 15];
	case VGA_CRTC_INDEX:
		return v->crtc_idx;
	case VGA_CRTC_DATA:
		return v->crtc[v->crtc_idx & 31];
	case VGA_STATUS1:
		/* reading resets the flip-flop; retrace and display-enable toggle */
		v->attr_data = false;
		v->status1 ^= 0x09;
		return v->status1;
	default:
		return 0xff; /* input status 0 and the unused ports */
	}
}

static void write_reg(struct vga *v, unsigned int off, uint8_t val)
{
	switch (off) {
	case VGA_ATTR:
		if (v->attr_data)
			v->attr[v->attr_idx & 0x1f] = val;
		else
			v->attr_idx = val & 0x3f; /* bit 5: palette address source */
		v->attr_data = !v->attr_data;
		break;
	case VGA_MISC_WRITE:
		v->misc = val;
		break;
	case VGA_SEQ_INDEX:
		v->seq_idx = val & 7;
		break;
	case VGA_SEQ_DATA:
		v->seq[v->seq_idx & 7] = val;
		break;
	case VGA_PEL_MASK:
		v->pel_mask = val;
		break;
	case VGA_DAC_READ_INDEX:
		v->dac_read = val;
		v->dac_sub = 0;
		break;
	case VGA_DAC_WRITE_INDEX:
		v->dac_write = val;
		v->dac_sub = 0;
		break;
	case VGA_DAC_DATA:
		/* 6-bit components, unless VBE switched the DAC to 8 bits */
		v->dac[v->dac_write][v->dac_sub] = v->vbe[VBE_ENABLE] & VBE_8BIT_DAC ? val :
										       val & 0x3f;
		if (++v->dac_sub == 3) {
			v->dac_sub = 0;
			v->dac_write++;
		}
		break;
	case VGA_GR_INDEX:
		v->gr_idx = val & 15;
		break;
	case VGA_GR_DATA:
		v->gr[v->gr_idx & 15] = val;
		break;
	case VGA_CRTC_INDEX:
		v->crtc_idx = val & 31;
		break;
	case VGA_CRTC_DATA:
		v->crtc[v->crtc_idx & 31] = val;
		break;
	case VGA_STATUS1:
		v->feature = val;
		break;
	default:
		v->bad_writes++;
		break;
	}
}

void vga_pio_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	struct vga *v = opaque;
	uint8_t *out = data;

	pthread_mutex_lock(&v->lock);
	for (unsigned int i = 0; i < len; i++)
		out[i] = off + i < VGA_PORT_COUNT ? read_reg(v, off + i) : 0xff;
	pthread_mutex_unlock(&v->lock);
}

void vga_pio_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct vga *v = opaque;
	const uint8_t *in = data;

	/* `outw 0x3c4` is index then data: wide writes go byte by byte */
	pthread_mutex_lock(&v->lock);
	for (unsigned int i = 0; i < len; i++)
		if (off + i < VGA_PORT_COUNT)
			write_reg(v, off + i, in[i]);
	pthread_mutex_unlock(&v->lock);
}

/* Bochs VBE (DISPI): register meanings from Bochs's vbe.h and vgabios's use of them. */

static unsigned int bytes_pp(uint32_t bpp)
{
	return (bpp + 7) / 8;
}

static bool bpp_ok(uint32_t bpp)
{
	return bpp == 8 || bpp == 15 || bpp == 16 || bpp == 24 || bpp == 32;
}

/* Whether a window of mode m's size, at start with line bytes per line, fits the video memory. */
static bool window_fits(const struct vga *v, uint32_t xres, uint32_t yres, uint32_t bpp,
			uint64_t line, uint64_t start)
{
	return line >= (uint64_t)xres * bytes_pp(bpp) &&
	       start + line * (yres - 1) + (uint64_t)xres * bytes_pp(bpp) <= v->vram_size;
}

/* Set the visible window from VIRT_WIDTH and the offsets; false (nothing changed) when it does not fit. */
static bool vbe_window(struct vga *v, uint32_t virt_width, uint32_t x_off, uint32_t y_off)
{
	struct vbe_mode *m = &v->mode;
	uint64_t line = (uint64_t)virt_width * bytes_pp(m->bpp);
	uint64_t start = line * y_off + (uint64_t)x_off * bytes_pp(m->bpp);

	if (!window_fits(v, m->xres, m->yres, m->bpp, line, start))
		return false;
	m->line = line;
	m->start = start;
	v->vbe[VBE_VIRT_WIDTH] = virt_width;
	v->vbe[VBE_VIRT_HEIGHT] = v->vram_size / line > 0xffff ? 0xffff : v->vram_size / line;
	v->vbe[VBE_X_OFFSET] = x_off;
	v->vbe[VBE_Y_OFFSET] = y_off;
	return true;
}

static void vbe_enable(struct vga *v, uint16_t val)
{
	uint32_t x = v->vbe[VBE_XRES], y = v->vbe[VBE_YRES], bpp = v->vbe[VBE_BPP];

	if (!(val & VBE_ENABLED)) {
		memset(&v->mode, 0, sizeof(v->mode));
		v->vbe[VBE_ENABLE] = val;
		return;
	}
	if (v->mode.bpp) { /* already on: only the flags change */
		v->vbe[VBE_ENABLE] = val;
		return;
	}
	/* a mode we render, whose pixels fit the video memory (64-bit sums: no wrap) */
	if (!bpp_ok(bpp) || x == 0 || y == 0 || x > FB_MAX_WIDTH || y > FB_MAX_HEIGHT ||
	    !window_fits(v, x, y, bpp, (uint64_t)x * bytes_pp(bpp), 0)) {
		v->bad_writes++;
		return;
	}
	v->mode = (struct vbe_mode){ .xres = x, .yres = y, .bpp = bpp };
	vbe_window(v, x, 0, 0);
	v->vbe[VBE_ENABLE] = val;
	v->vbe[VBE_BANK] = 0;
	if (!(val & VBE_NOCLEARMEM)) {
		/* our own mapping: dropping the pages zeroes them and gives them back */
		if (!v->vram_mapped || madvise(v->vram, v->vram_size, MADV_DONTNEED) < 0)
			memset(v->vram, 0, v->vram_size);
	}
}

static uint16_t vbe_read(struct vga *v, unsigned int i)
{
	if (i >= VBE_NR_REGS)
		return 0;
	if (v->vbe[VBE_ENABLE] & VBE_GETCAPS) {
		if (i == VBE_XRES)
			return FB_MAX_WIDTH;
		if (i == VBE_YRES)
			return FB_MAX_HEIGHT;
		if (i == VBE_BPP)
			return 32;
	}
	if (i == VBE_VIDEO_MEMORY_64K)
		return v->vram_size >> 16;
	return v->vbe[i];
}

static void vbe_write(struct vga *v, unsigned int i, uint16_t val)
{
	switch (i) {
	case VBE_ID:
		if (val >= VBE_ID0 && val <= VBE_ID5)
			v->vbe[VBE_ID] = val;
		else
			v->bad_writes++;
		break;
	case VBE_XRES:
	case VBE_YRES:
	case VBE_BPP:
		/* taken at the next ENABLE; the mode in force does not change under the render */
		v->vbe[i] = val;
		break;
	case VBE_ENABLE:
		vbe_enable(v, val);
		break;
	case VBE_BANK:
		/* kept for the guest to read back; the 0xa0000 window stays RAM (no banking) */
		if (val < v->vram_size >> 16)
			v->vbe[VBE_BANK] = val;
		else
			v->bad_writes++;
		break;
	case VBE_VIRT_WIDTH:
	case VBE_X_OFFSET:
	case VBE_Y_OFFSET: {
		uint32_t w = v->vbe[VBE_VIRT_WIDTH], x = v->vbe[VBE_X_OFFSET],
			 y = v->vbe[VBE_Y_OFFSET];

		if (i == VBE_VIRT_WIDTH)
			w = val;
		else if (i == VBE_X_OFFSET)
			x = val;
		else
			y = val;
		if (!v->mode.bpp)
			v->vbe[i] = val; /* no mode yet: ENABLE resets them */
		else if (!vbe_window(v, w, x, y))
			v->bad_writes++;
		break;
	}
	case VBE_VIRT_HEIGHT:
		/* follows from the video memory and VIRT_WIDTH; bochs-drm writes it: ignored */
		break;
	default: /* VIDEO_MEMORY_64K is read-only */
		v->bad_writes++;
		break;
	}
}

void vbe_pio_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	struct vga *v = opaque;
	uint8_t *out = data;
	uint16_t val = 0xffff;

	pthread_mutex_lock(&v->lock);
	if (v->vram) /* without video memory, no VBE: reads float */
		val = off == 0 ? v->vbe_index : vbe_read(v, v->vbe_index);
	pthread_mutex_unlock(&v->lock);
	for (unsigned int i = 0; i < len; i++)
		out[i] = i < 2 ? val >> (8 * i) : 0;
}

void vbe_pio_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct vga *v = opaque;
	const uint8_t *in = data;
	uint16_t val = len >= 2 ? (uint16_t)(in[0] | in[1] << 8) : in[0];

	pthread_mutex_lock(&v->lock);
	if (!v->vram)
		v->bad_writes++;
	else if (off == 0)
		v->vbe_index = val;
	else
		vbe_write(v, v->vbe_index, val);
	pthread_mutex_unlock(&v->lock);
}

static const struct io_ops vbe_ops = { .read = vbe_pio_read, .write = vbe_pio_write };

int vga_attach_vram(struct vga *v, uint8_t *vram, uint32_t size)
{
	if (!vram || size < (1u << 16))
		return -EINVAL;
	pthread_mutex_lock(&v->lock);
	v->vram = vram;
	v->vram_size = size;
	v->vbe[VBE_ID] = VBE_ID5;
	pthread_mutex_unlock(&v->lock);
	return 0;
}

int vga_map_vram(struct vga *v, struct vm *vm)
{
	void *p;

	p = mmap(NULL, VBE_VRAM_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	v->vram_mapped = true;
	v->vm_fd = vm->vm_fd;
	return vga_attach_vram(v, p, VBE_VRAM_SIZE);
}

/* The PCI function: see vga.h. */

/*
 * The display's EDID (VESA E-EDID 1.4), so the guest's driver offers only
 * modes we render: 1024x768 at 60 Hz preferred (VESA DMT timing, 65 MHz),
 * 640x480 and 800x600 besides (established timings), no continuous
 * frequency (so no GTF/CVT modes beyond those). Checksum in the last byte.
 */
const uint8_t vga_edid[128] = {
	0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, /* header */
	0x5a, 0x13, /* manufacturer "VPS" (5-bit letters, big-endian) */
	0x11, 0x11, 0x00, 0x00, 0x00, 0x00, /* product 0x1111, no serial */
	0x01, 0x22, /* week 1 of 2024 */
	0x01, 0x04, /* EDID 1.4 */
	0x80, 32, 24, 120, /* digital input; 32x24 cm; gamma 2.2 */
	0x06, /* sRGB, preferred timing in the first descriptor, not continuous */
	0xee, 0x91, 0xa3, 0x54, 0x4c, 0x99, 0x26, 0x0f, 0x50, 0x54, /* sRGB chromaticity */
	0x21, 0x08, 0x00, /* established: 640x480@60, 800x600@60, 1024x768@60 */
	0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, /* no standard timings */
	0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
	/* 1024x768@60: 65 MHz; h 1024 + 320 blank (24 front, 136 sync); v 768 + 38 (3, 6) */
	0x64, 0x19, 0x00, 0x40, 0x41, 0x00, 0x26, 0x30, 0x18, 0x88, 0x36, 0x00, 0x40, 0xf0, 0x10,
	0x00, 0x00, 0x18,
	/* range limits: 50-75 Hz, 30-70 kHz, 70 MHz, no timing formula */
	0x00, 0x00, 0x00, 0xfd, 0x00, 50, 75, 30, 70, 7, 0x00, 0x0a, 0x20, 0x20, 0x20, 0x20, 0x20,
	0x20,
	/* the monitor's name */
	0x00, 0x00, 0x00, 0xfc, 0x00, 'v', 'p', 's', '-', 'v', 'm', 'm', '\n', 0x20, 0x20, 0x20,
	0x20, 0x20,
	/* dummy descriptor */
	0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, /* no extensions */
	0xef, /* checksum: the 128 bytes sum to 0 (mod 256) */
};

/* Set the video memory's KVM slot at gpa, or delete it (size 0); -errno. */
static int lfb_slot(struct vga *v, uint64_t gpa, uint64_t size)
{
	struct kvm_userspace_memory_region region = {
		.slot = VBE_LFB_SLOT,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)v->vram,
	};

	if (v->vm_fd < 0)
		return -ENODEV;
	return ioctl(v->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0 ? -errno : 0;
}

/*
 * Put the slot where BAR 0 decodes now, or take it away: on while memory
 * decoding is on and the BAR lies wholly inside the window. Under the host's
 * config lock (cfg_written); `written`: a guest write led here (a placement
 * outside the window is then counted).
 */
static void lfb_place(struct vga *v, bool written)
{
	const struct pci_dev *p = &v->pdev;
	uint64_t size = p->bar_size[0], addr = pci_dev_bar_addr(p, 0), want = 0;

	if (pci_cfg_get16(p->cfg, PCI_COMMAND) & PCI_COMMAND_MEMORY) {
		if (addr >= v->win_base && addr - v->win_base <= v->win_size &&
		    size <= v->win_size - (addr - v->win_base))
			want = addr;
		else if (written)
			v->lfb_refused++;
	}
	if (want == v->lfb_gpa)
		return;
	if (v->lfb_gpa && lfb_slot(v, 0, 0) == 0)
		v->lfb_gpa = 0;
	if (v->lfb_gpa) /* KVM kept the old slot: leave it rather than lose track */
		return;
	/* KVM may refuse (no vm_fd in tests): BAR 0 then works by exits, bar_read/bar_write */
	if (want && lfb_slot(v, want, size) == 0) {
		v->lfb_gpa = want;
		v->lfb_moves++;
	}
}

static void vga_cfg_written(struct pci_dev *pdev, unsigned int off, unsigned int len)
{
	/* the command register, or BAR 0 */
	if ((off < PCI_COMMAND + 2 && off + len > PCI_COMMAND) ||
	    (off < PCI_BAR0 + 4 && off + len > PCI_BAR0))
		lfb_place(pdev->priv, true);
}

void vga_bar_read(struct pci_dev *pdev, unsigned int bar, uint64_t off, void *data,
		  unsigned int len)
{
	struct vga *v = pdev->priv;
	uint64_t val = ~0ULL;

	if (bar == 0) { /* the slow path: the slot is not mapped (pci.c checked the bounds) */
		if (off + len <= v->vram_size)
			memcpy(data, v->vram + off, len);
		else
			memset(data, 0xff, len);
		return;
	}
	if (bar != VGA_MMIO_BAR || off >= VGA_MMIO_SIZE || len > VGA_MMIO_SIZE - off) {
		memset(data, 0xff, len);
		return;
	}
	if (off + len <= VGA_MMIO_PORTS) { /* the EDID, zeros after it */
		memset(data, 0, len);
		if (off < sizeof(vga_edid))
			memcpy(data, vga_edid + off,
			       len < sizeof(vga_edid) - off ? len : sizeof(vga_edid) - off);
		return;
	}
	if (off >= VGA_MMIO_PORTS && off + len <= VGA_MMIO_PORTS + VGA_PORT_COUNT) {
		vga_pio_read(v, off - VGA_MMIO_PORTS, data, len);
		return;
	}
	pthread_mutex_lock(&v->lock);
	if (off >= VGA_MMIO_DISPI && off < VGA_MMIO_DISPI + 2 * VBE_NR_REGS && len == 2 &&
	    !(off & 1) && v->vram)
		val = vbe_read(v, (off - VGA_MMIO_DISPI) / 2);
	else if (off == VGA_MMIO_QEXT && len == 4)
		val = VGA_QEXT_SIZE;
	else if (off == VGA_MMIO_QEXT + 4 && len == 4)
		val = v->big_endian ? VGA_QEXT_BIG : VGA_QEXT_LITTLE;
	pthread_mutex_unlock(&v->lock);
	iobus_store_le(data, len, val);
}

void vga_bar_write(struct pci_dev *pdev, unsigned int bar, uint64_t off, const void *data,
		   unsigned int len)
{
	struct vga *v = pdev->priv;
	uint64_t val = iobus_load_le(data, len);

	if (bar == 0) {
		if (off + len <= v->vram_size)
			memcpy(v->vram + off, data, len);
		return;
	}
	if (bar == VGA_MMIO_BAR && off >= VGA_MMIO_PORTS && off < VGA_MMIO_PORTS + VGA_PORT_COUNT &&
	    len <= VGA_MMIO_PORTS + VGA_PORT_COUNT - off) {
		/* index first, then data: one write sets an indexed register */
		vga_pio_write(v, off - VGA_MMIO_PORTS, data, len);
		return;
	}
	pthread_mutex_lock(&v->lock);
	if (bar == VGA_MMIO_BAR && off >= VGA_MMIO_DISPI &&
	    off < VGA_MMIO_DISPI + 2 * VBE_NR_REGS && len == 2 && !(off & 1) && v->vram)
		vbe_write(v, (off - VGA_MMIO_DISPI) / 2, val);
	else if (bar == VGA_MMIO_BAR && off == VGA_MMIO_QEXT + 4 && len == 4 &&
		 (val == VGA_QEXT_LITTLE || val == VGA_QEXT_BIG))
		v->big_endian = val == VGA_QEXT_BIG;
	else /* EDID, the extension's size, an unknown offset or width: read-only or nothing */
		v->bad_writes++;
	pthread_mutex_unlock(&v->lock);
}

static const struct pci_dev_ops vga_pci_ops = {
	.bar_read = vga_bar_read,
	.bar_write = vga_bar_write,
	.cfg_written = vga_cfg_written,
};

int vga_pci_plug(struct vga *v, struct pci_host *h, uint8_t irq)
{
	int ret;

	if (!v->vram || (v->vram_size & (v->vram_size - 1)))
		return -EINVAL;
	v->pdev.ops = &vga_pci_ops;
	v->pdev.priv = v;
	/* QEMU's subsystem IDs: bochs-drm's table names them first */
	pci_dev_init(&v->pdev, VGA_PCI_VENDOR, VGA_PCI_DEVICE, VGA_PCI_CLASS, VGA_PCI_REVISION,
		     0x1af4, 0x1100);
	ret = pci_dev_add_bar(&v->pdev, 0, v->vram_size, false, true);
	if (ret == 0)
		ret = pci_dev_add_bar(&v->pdev, VGA_MMIO_BAR, VGA_MMIO_SIZE, false, false);
	if (ret == 0)
		ret = pci_host_add(h, &v->pdev, irq);
	if (ret < 0)
		return ret;
	/* no interrupt: a display raises none */
	v->pdev.cfg[PCI_INTERRUPT_PIN] = 0;
	v->win_base = h->mmio_base;
	v->win_size = h->mmio_size;
	v->pci = true;
	return 0;
}

static const struct io_ops vga_ops = { .read = vga_pio_read, .write = vga_pio_write };

int vga_init(struct vga *v, struct vm *vm)
{
	memset(v, 0, sizeof(*v));
	pthread_mutex_init(&v->lock, NULL);
	v->mem = &vm->mem;
	v->vm = vm;
	v->vm_fd = -1;
	v->misc = 0x01; /* colour: CRTC at 0x3d4 */
	v->pel_mask = 0xff;
	if (iobus_register(&vm->pio, VBE_PORT_INDEX, VBE_PORT_COUNT, &vbe_ops, v) < 0)
		return -EBUSY;
	return iobus_register(&vm->pio, VGA_PORT_BASE, VGA_PORT_COUNT, &vga_ops, v);
}

void vga_destroy(struct vga *v)
{
	if (v->lfb_gpa)
		lfb_slot(v, 0, 0);
	v->lfb_gpa = 0;
	if (v->vram_mapped)
		munmap(v->vram, v->vram_size);
	v->vram = NULL;
	v->vram_mapped = false;
	pthread_mutex_destroy(&v->lock);
}

void vga_text(struct vga *v, struct vga_screen *out)
{
	unsigned int start, cursor, r, c;
	const uint8_t *cells;

	memset(out, 0, sizeof(*out));
	vm_coalesced_flush(v->vm); /* the register writes KVM queued (vm_coalesce_pio) */
	pthread_mutex_lock(&v->lock);
	out->text = !(v->gr[VGA_GR_MISC] & 1) && !v->mode.bpp;
	start = v->crtc[VGA_CRTC_START_HI] << 8 | v->crtc[VGA_CRTC_START_LO];
	cursor = v->crtc[VGA_CRTC_CURSOR_HI] << 8 | v->crtc[VGA_CRTC_CURSOR_LO];
	pthread_mutex_unlock(&v->lock);
	if (!out->text)
		return;
	/* 32 KiB of text window from 0xb8000; the start address is in cells */
	start %= 0x4000 - VGA_TEXT_COLS * VGA_TEXT_ROWS;
	cells = gpa_ptr(v->mem, VGA_TEXT_ADDR + 2 * start, 2 * VGA_TEXT_COLS * VGA_TEXT_ROWS);
	if (cursor >= start && cursor - start < VGA_TEXT_COLS * VGA_TEXT_ROWS) {
		out->cursor_row = (cursor - start) / VGA_TEXT_COLS;
		out->cursor_col = (cursor - start) % VGA_TEXT_COLS;
	}
	for (r = 0; r < VGA_TEXT_ROWS; r++)
		for (c = 0; c < VGA_TEXT_COLS; c++) {
			uint8_t ch = cells ? cells[2 * (r * VGA_TEXT_COLS + c)] : ' ';

			out->rows[r][c] = ch >= 0x20 && ch < 0x7f ? ch : ch ? '.' : ' ';
		}
}

/* A palette entry's colour: the DAC's 6-bit components widened to 8 bits. */
static uint32_t dac_rgb(const struct vga *v, uint8_t idx)
{
	const uint8_t *c = v->dac[idx];

	if (v->vbe[VBE_ENABLE] & VBE_8BIT_DAC)
		return (uint32_t)c[0] << 16 | (uint32_t)c[1] << 8 | c[2];

	return (uint32_t)(c[0] << 2 | c[0] >> 4) << 16 | (uint32_t)(c[1] << 2 | c[1] >> 4) << 8 |
	       (uint32_t)(c[2] << 2 | c[2] >> 4);
}

/* One pixel of the video memory at p, in the mode's depth, as XRGB8888. */
static uint32_t vbe_pixel(const uint8_t *p, uint32_t bpp, bool big, const uint32_t *palette)
{
	uint32_t w;

	if (big && bpp != 8 && bpp != 24) { /* QEXT big-endian: the bytes of a pixel reversed */
		uint8_t r[4];
		unsigned int n = bpp == 32 ? 4 : 2;

		for (unsigned int i = 0; i < n; i++)
			r[i] = p[n - 1 - i];
		return vbe_pixel(r, bpp, false, palette);
	}
	switch (bpp) {
	case 8:
		return palette[p[0]];
	case 15:
		w = p[0] | p[1] << 8;
		return (w >> 10 & 31) * 255 / 31 << 16 | (w >> 5 & 31) * 255 / 31 << 8 |
		       (w & 31) * 255 / 31;
	case 16:
		w = p[0] | p[1] << 8;
		return (w >> 11 & 31) * 255 / 31 << 16 | (w >> 5 & 63) * 255 / 63 << 8 |
		       (w & 31) * 255 / 31;
	case 24:
		return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
	default:
		return ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]) &
		       0xffffff;
	}
}

/*
 * The rectangle [x0, x1) x [y0, y1) a render changed, as the export's dirty
 * rectangle (x1 0: nothing changed); 1 when something did, with a new generation.
 */
static int mark_dirty(struct framebuffer *fb, uint32_t x0, uint32_t y0, uint32_t x1, uint32_t y1)
{
	if (x1 == 0) {
		fb->dirty_w = fb->dirty_h = 0;
		return 0;
	}
	fb->dirty_x = x0;
	fb->dirty_y = y0;
	fb->dirty_w = x1 - x0;
	fb->dirty_h = y1 - y0;
	fb->generation++;
	return 1;
}

/*
 * The VBE mode m's visible window into fb, with the dirty rectangle from a
 * compare against what fb holds. m is a copy of a mode in bounds (vbe_enable,
 * vbe_window) and the video memory is never smaller than when it was taken,
 * so this runs without the lock: the guest may change the mode or write the
 * pixels meanwhile, and gets a torn frame, never an out-of-bounds read.
 */
static int vbe_render(const uint8_t *vram, const struct vbe_mode *m, bool big,
		      const uint32_t *palette, struct framebuffer *fb)
{
	uint32_t x0 = m->xres, y0 = m->yres, x1 = 0, y1 = 0;
	unsigned int bpp = bytes_pp(m->bpp);
	bool resized = fb->width != m->xres || fb->height != m->yres;

	fb->width = m->xres;
	fb->height = m->yres;
	fb->stride = FB_MAX_WIDTH;
	for (uint32_t y = 0; y < m->yres; y++) {
		const uint8_t *src = vram + m->start + (size_t)y * m->line;
		uint32_t *row = fb->pixels + (size_t)y * fb->stride;

		for (uint32_t x = 0; x < m->xres; x++) {
			uint32_t px = vbe_pixel(src + (size_t)x * bpp, m->bpp, big, palette);

			if (row[x] == px && !resized)
				continue;
			row[x] = px;
			x0 = x < x0 ? x : x0;
			x1 = x + 1 > x1 ? x + 1 : x1;
			y0 = y < y0 ? y : y0;
			y1 = y + 1;
		}
	}
	return mark_dirty(fb, x0, y0, x1, y1);
}

int vga_render(struct vga *v, struct framebuffer *fb)
{
	const uint32_t w = VGA_TEXT_COLS * VGA_CELL_W, h = VGA_TEXT_ROWS * VGA_CELL_H;
	uint32_t x0 = w, y0 = h, x1 = 0, y1 = 0, colour[16];
	unsigned int start, cursor, r, c, y, x;
	const uint8_t *cells, *font;
	bool resized, cursor_on;

	vm_coalesced_flush(v->vm);
	pthread_mutex_lock(&v->lock);
	if (v->mode.bpp) {
		const struct vbe_mode m = v->mode;
		const bool big = v->big_endian;
		uint32_t palette[256];

		for (c = 0; c < 256; c++)
			palette[c] = dac_rgb(v, c & v->pel_mask);
		pthread_mutex_unlock(&v->lock);
		return vbe_render(v->vram, &m, big, palette, fb);
	}
	if (v->gr[VGA_GR_MISC] & 1) {
		pthread_mutex_unlock(&v->lock);
		return 0;
	}
	start = (v->crtc[VGA_CRTC_START_HI] << 8 | v->crtc[VGA_CRTC_START_LO]) %
		(0x4000 - VGA_TEXT_COLS * VGA_TEXT_ROWS);
	cursor = v->crtc[VGA_CRTC_CURSOR_HI] << 8 | v->crtc[VGA_CRTC_CURSOR_LO];
	cursor_on = !(v->crtc[0x0a] & 0x20);
	for (c = 0; c < 16; c++) /* attribute palette register -> DAC entry */
		colour[c] = dac_rgb(v, v->attr[c] & 0x3f);
	pthread_mutex_unlock(&v->lock);

	cells = gpa_ptr(v->mem, VGA_TEXT_ADDR + 2 * start, 2 * VGA_TEXT_COLS * VGA_TEXT_ROWS);
	font = gpa_ptr(v->mem, VGA_FONT_ADDR, 256 * 32);
	if (!cells || !font)
		return 0;
	resized = fb->width != w || fb->height != h;
	fb->width = w;
	fb->height = h;
	fb->stride = FB_MAX_WIDTH;
	for (r = 0; r < VGA_TEXT_ROWS; r++) {
		for (c = 0; c < VGA_TEXT_COLS; c++) {
			uint8_t ch = cells[2 * (r * VGA_TEXT_COLS + c)];
			uint8_t at = cells[2 * (r * VGA_TEXT_COLS + c) + 1];
			bool here = cursor_on && cursor == start + r * VGA_TEXT_COLS + c;

			for (y = 0; y < VGA_CELL_H; y++) {
				uint8_t bits = font[32 * ch + y];
				uint32_t *row = fb->pixels + (r * VGA_CELL_H + y) * fb->stride +
						c * VGA_CELL_W;

				if (here && y >= VGA_CELL_H - 2)
					bits = 0xff; /* an underline cursor */
				for (x = 0; x < VGA_CELL_W; x++) {
					uint32_t px = bits & (0x80 >> x) ? colour[at & 15] :
									   colour[(at >> 4) & 7];

					if (row[x] == px && !resized)
						continue;
					row[x] = px;
					x0 = c * VGA_CELL_W + x < x0 ? c * VGA_CELL_W + x : x0;
					x1 = c * VGA_CELL_W + x + 1 > x1 ? c * VGA_CELL_W + x + 1 :
									   x1;
					y0 = r * VGA_CELL_H + y < y0 ? r * VGA_CELL_H + y : y0;
					y1 = r * VGA_CELL_H + y + 1 > y1 ? r * VGA_CELL_H + y + 1 :
									   y1;
				}
			}
		}
	}
	return mark_dirty(fb, x0, y0, x1, y1);
}
