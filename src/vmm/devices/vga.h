/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A standard VGA adapter as far as firmware text consoles need it: the
 * register file at ports 0x3c0..0x3df (attribute, sequencer, graphics,
 * CRT controller, DAC, misc) kept as plain state the guest reads back,
 * and the legacy window 0xa0000..0xbffff left as ordinary guest RAM, so
 * text written at 0xb8000 costs no exit. SeaBIOS's vgabios-stdvga.bin,
 * given to it through fw_cfg ("vgaroms/"), programs these registers and
 * prints there; vga_text() reads the 80x25 screen back for the control
 * socket's `screen`. There is no planar or graphics-mode rendering and no
 * Bochs VBE interface (the vgabios falls back to plain VGA without one).
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

struct vga {
	pthread_mutex_t lock;
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
/* The text screen as the guest left it (start address and cursor from the CRTC). */
void vga_text(struct vga *v, struct vga_screen *out);

/*
 * Render the text screen into fb (framebuffer.h): 640x400, 80x25 cells of
 * 8x16. Returns 1 when a pixel changed (fb->dirty_* say where), 0 when not;
 * a graphics mode renders nothing and returns 0.
 */
#define VGA_FONT_ADDR 0xa0000ULL /* plane 2, where the vgabios loads the font */
#define VGA_CELL_W 8
#define VGA_CELL_H 16
int vga_render(struct vga *v, struct framebuffer *fb);

/* The port handlers, exposed for the fuzz target. */
void vga_pio_read(void *opaque, uint64_t off, void *data, unsigned int len);
void vga_pio_write(void *opaque, uint64_t off, const void *data, unsigned int len);

#endif
