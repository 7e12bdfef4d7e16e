/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A standard VGA adapter as far as firmware text consoles need it: the
 * register file at ports 0x3c0..0x3df (attribute, sequencer, graphics,
 * CRT controller, DAC, misc) kept as plain state the guest reads back,
 * and the legacy window 0xa0000..0xbffff left as ordinary guest RAM, so
 * text written at 0xb8000 costs no exit. SeaBIOS's vgabios-stdvga.bin,
 * given to it through fw_cfg as the PCI function's ROM, programs these registers and
 * prints there; vga_text() reads the 80x25 screen back for the control
 * socket's `screen`. There is no planar (16-colour) rendering.
 *
 * The Bochs VBE ("DISPI") interface at ports 0x1ce (index) / 0x1cf (data)
 * sets linear graphics modes: 8 (through the DAC), 15, 16, 24 and 32 bits
 * per pixel, up to the framebuffer export's FB_MAX_WIDTH x FB_MAX_HEIGHT,
 * in VBE_VRAM_SIZE bytes of video memory. vga_render() then shows the
 * framebuffer's visible window.
 *
 * The adapter is a PCI function, QEMU's standard VGA as its
 * docs/specs/standard-vga.rst describes it: 1234:1111, class 0x0300 (VGA),
 * revision 2, subsystem 1af4:1100. BAR 0 is the video memory (32-bit,
 * prefetchable), a KVM memory slot of its own wherever the guest (or the
 * firmware) puts the BAR, so pixel writes cost no exit; BAR 2 is 4 KiB of
 * registers: an EDID at 0 (vga_edid: 1024x768 preferred, so the driver offers
 * only modes we render), the VGA ports 0x3c0..0x3df at 0x400, the DISPI registers flat at
 * 0x500 (16-bit, register index * 2) and QEMU's extension at 0x600 (its
 * size, 8) and 0x604 (the framebuffer's byte order). Linux's bochs-drm binds
 * to it; SeaBIOS runs the vgabios as the function's option ROM (fw_cfg
 * "pci1234,1111.rom"), so the vgabios reads BAR 0 for its linear
 * framebuffer's address.
 *
 * Hostile BARs: the slot is placed only while memory decoding is on and BAR
 * 0 lies wholly inside the host bridge's window (where no RAM, firmware or
 * other slot is); anything else leaves the video memory unmapped (accesses
 * inside the window then reach it through the slow path) and a placement
 * while decoding is counted as refused.
 *
 * Hostile input: a mode is taken (ENABLE) only when its width, height and
 * depth are ones we render and its pixels fit the video memory; the virtual
 * width and the display offsets are taken only when the visible window still
 * fits. Anything else is ignored and counted, so the render never reads
 * outside the video memory whatever the guest wrote.
 *
 * Hostile input: every index is masked to its register file, every access
 * width is taken byte by byte; a guest can only confuse its own screen.
 */
#ifndef VPS_VMM_VGA_H
#define VPS_VMM_VGA_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/devices/framebuffer.h"
#include "vmm/devices/pci.h"
#include "vmm/mem.h"
#include "vmm/vm.h"

#define VGA_PORT_BASE 0x3c0
#define VGA_PORT_COUNT 0x20
#define VGA_TEXT_ADDR 0xb8000ULL
#define VGA_TEXT_COLS 80
#define VGA_TEXT_ROWS 25

#define VBE_PORT_INDEX 0x1ce
#define VBE_PORT_COUNT 2 /* 0x1ce index, 0x1cf data; 16-bit accesses */
#define VBE_VRAM_SIZE (16u << 20)
#define VBE_LFB_SLOT 3 /* KVM memory slot (vm.c: 0, 1 RAM, 2 firmware) */

/* The PCI function */
#define VGA_PCI_VENDOR 0x1234
#define VGA_PCI_DEVICE 0x1111
#define VGA_PCI_CLASS 0x030000
#define VGA_PCI_REVISION 2 /* QEMU's extension registers are there */
#define VGA_MMIO_BAR 2
#define VGA_MMIO_SIZE 0x1000
#define VGA_MMIO_PORTS 0x400 /* 0x3c0..0x3df */
#define VGA_MMIO_DISPI 0x500 /* register i at 0x500 + 2 * i */
#define VGA_MMIO_QEXT 0x600 /* u32 size of the extension; u32 at 0x604: byte order */
#define VGA_QEXT_SIZE 8
#define VGA_QEXT_LITTLE 0x1e1e1e1eu
#define VGA_QEXT_BIG 0xbebebebeu

enum {
	VBE_ID,
	VBE_XRES,
	VBE_YRES,
	VBE_BPP,
	VBE_ENABLE,
	VBE_BANK,
	VBE_VIRT_WIDTH,
	VBE_VIRT_HEIGHT,
	VBE_X_OFFSET,
	VBE_Y_OFFSET,
	VBE_VIDEO_MEMORY_64K,
	VBE_NR_REGS,
};

#define VBE_ID0 0xb0c0 /* what vgabios writes and reads back to detect us */
#define VBE_ID5 0xb0c5 /* the newest we answer to */
#define VBE_ENABLED 0x01
#define VBE_GETCAPS 0x02 /* while set, XRES/YRES/BPP read as the maxima */
#define VBE_8BIT_DAC 0x20
#define VBE_LFB_ENABLED 0x40
#define VBE_NOCLEARMEM 0x80

struct vbe_mode {
	uint32_t xres, yres, bpp; /* bpp 0: VBE is off */
	uint32_t line; /* bytes per line: virtual width * bytes per pixel */
	uint32_t start; /* byte offset of the visible window's top-left pixel */
};

struct vga {
	pthread_mutex_t lock;
	/* Bochs VBE: the registers as written, the mode in force (always in bounds) */
	uint16_t vbe_index, vbe[VBE_NR_REGS];
	struct vbe_mode mode;
	uint8_t *vram; /* VBE_VRAM_SIZE bytes (BAR 0), or NULL: no VBE */
	uint32_t vram_size;
	bool vram_mapped; /* our own mmap (vga_map_vram), unmapped by vga_destroy */
	bool big_endian; /* QEXT byte order: 15/16/32-bit pixels stored big-endian */
	/* the PCI function (vga_pci_plug); the slot fields under the host's config lock */
	struct pci_dev pdev;
	bool pci;
	int vm_fd; /* for the slot; -1: none (tests: BAR 0 by the slow path only) */
	uint64_t win_base, win_size; /* the host bridge's window: BAR 0 maps only inside it */
	uint64_t lfb_gpa; /* where the slot is now; 0: not mapped */
	uint64_t lfb_moves, lfb_refused; /* placements taken; refused (outside the window) */
	const struct guest_mem *mem;
	struct vm *vm; /* its queued port writes are flushed before the screen is read */
	uint8_t misc, feature, pel_mask;
	uint8_t seq_idx, seq[8];
	uint8_t gr_idx, gr[16];
	uint8_t crtc_idx, crtc[32];
	uint8_t attr_idx, attr[32];
	bool attr_data; /* the attribute flip-flop: next 0x3c0 write is data */
	uint8_t dac_read, dac_write, dac_sub; /* palette index and component (0..2) */
	uint8_t dac[256][3];
	uint8_t status1; /* input status 1: retrace bits toggle on each read */
	uint64_t bad_writes; /* writes to read-only or unknown ports */
};

struct vga_screen {
	bool text; /* false: a graphics mode is set (rows empty) */
	char rows[VGA_TEXT_ROWS][VGA_TEXT_COLS + 1]; /* printable ASCII, '.' for others */
	unsigned int cursor_row, cursor_col;
};

int vga_init(struct vga *v, struct vm *vm);
void vga_destroy(struct vga *v);
/*
 * Give the adapter its video memory: vga_map_vram maps VBE_VRAM_SIZE bytes
 * of our own (the guest sees them once BAR 0 decodes, KVM slot
 * VBE_LFB_SLOT); vga_attach_vram takes a caller's buffer (tests). Without
 * either the VBE ports answer as absent (the vgabios falls back to plain VGA).
 */
int vga_map_vram(struct vga *v, struct vm *vm);
int vga_attach_vram(struct vga *v, uint8_t *vram, uint32_t size);
/*
 * Plug the adapter into `h` as a PCI function (after the video memory is
 * given; its size, a power of two, is BAR 0's), INTA# to `irq`.
 */
int vga_pci_plug(struct vga *v, struct pci_host *h, uint8_t irq);
/* The text screen as the guest left it (start address and cursor from the CRTC). */
void vga_text(struct vga *v, struct vga_screen *out);

/*
 * Render the text screen into fb (framebuffer.h): 640x400, 80x25 cells of
 * 8x16; or, while a VBE mode is on, that mode's visible pixels converted to
 * XRGB8888. Returns 1 when a pixel changed (fb->dirty_* say where), 0 when
 * not; a plain VGA graphics mode renders nothing and returns 0.
 */
#define VGA_FONT_ADDR 0xa0000ULL /* plane 2, where the vgabios loads the font */
#define VGA_CELL_W 8
#define VGA_CELL_H 16
int vga_render(struct vga *v, struct framebuffer *fb);

/* The port handlers, exposed for the fuzz target. */
void vga_pio_read(void *opaque, uint64_t off, void *data, unsigned int len);
void vga_pio_write(void *opaque, uint64_t off, const void *data, unsigned int len);
void vbe_pio_read(void *opaque, uint64_t off, void *data, unsigned int len);
void vbe_pio_write(void *opaque, uint64_t off, const void *data, unsigned int len);
/* The EDID at BAR 2's offset 0. */
extern const uint8_t vga_edid[128];
/* BAR 2's registers, and BAR 0 by the slow path (the pci_dev_ops). */
void vga_bar_read(struct pci_dev *pdev, unsigned int bar, uint64_t off, void *data,
		  unsigned int len);
void vga_bar_write(struct pci_dev *pdev, unsigned int bar, uint64_t off, const void *data,
		   unsigned int len);

#endif
