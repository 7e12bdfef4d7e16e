/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A standard VGA adapter as far as firmware text consoles need it: the
 * register file at ports 0x3c0..0x3df (attribute, sequencer, graphics,
 * CRT controller, DAC, misc) kept as plain state the guest reads back,
 * and the legacy window 0xa0000..0xbffff left as ordinary guest RAM, so
 * text written at 0xb8000 costs no exit. SeaBIOS's vgabios-stdvga.bin,
 * given to it through fw_cfg ("vgaroms/"), programs these registers and
 * prints there; vga_text() reads the 80x25 screen back for the control
 * socket's `screen`. There is no planar (16-colour) rendering.
 *
 * The Bochs VBE ("DISPI") interface at ports 0x1ce (index) / 0x1cf (data)
 * sets linear graphics modes: 8 (through the DAC), 15, 16, 24 and 32 bits
 * per pixel, up to the framebuffer export's FB_MAX_WIDTH x FB_MAX_HEIGHT,
 * in VBE_VRAM_SIZE bytes of video memory the guest sees at VBE_LFB_ADDR (a
 * KVM memory slot of its own: pixel writes cost no exit). That address is
 * where SeaBIOS's vgabios puts the linear framebuffer when the display is
 * not a PCI device (ours is not: the vgabios comes through fw_cfg).
 * vga_render() then shows the framebuffer's visible window.
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
#include "vmm/mem.h"
#include "vmm/vm.h"

#define VGA_PORT_BASE 0x3c0
#define VGA_PORT_COUNT 0x20
#define VGA_TEXT_ADDR 0xb8000ULL
#define VGA_TEXT_COLS 80
#define VGA_TEXT_ROWS 25

#define VBE_PORT_INDEX 0x1ce
#define VBE_PORT_COUNT 2 /* 0x1ce index, 0x1cf data; 16-bit accesses */
#define VBE_LFB_ADDR 0xe0000000ULL /* vgabios's VBE_DISPI_LFB_PHYSICAL_ADDRESS */
#define VBE_VRAM_SIZE (16u << 20)
#define VBE_LFB_SLOT 3 /* KVM memory slot (vm.c: 0, 1 RAM, 2 firmware) */

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
	uint8_t *vram; /* VBE_VRAM_SIZE bytes at VBE_LFB_ADDR, or NULL: no VBE */
	uint32_t vram_size;
	bool vram_mapped; /* our own mmap (vga_map_vram), unmapped by vga_destroy */
	const struct guest_mem *mem;
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
 * and hands them to the guest at VBE_LFB_ADDR (KVM slot VBE_LFB_SLOT);
 * vga_attach_vram takes a caller's buffer (tests). Without either the VBE
 * ports answer as absent (the vgabios falls back to plain VGA).
 */
int vga_map_vram(struct vga *v, struct vm *vm);
int vga_attach_vram(struct vga *v, uint8_t *vram, uint32_t size);
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

#endif
