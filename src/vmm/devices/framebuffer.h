/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A display's pixels as a screen server (an RFB server on a unix socket,
 * later) takes them: the device renders into a framebuffer the server
 * owns, and says what changed since the last render, so the server sends
 * only that rectangle to its clients. One format, XRGB8888 (a 32-bit
 * little-endian word per pixel, 0x00RRGGBB): what libvncserver's default
 * 32-bit true-colour format and noVNC take without conversion.
 *
 * The VGA adapter (vga.h) renders its text mode through vga_render():
 * 8x16 cells from the font the guest loaded into plane 2 (our VGA window is
 * plain RAM, so the font sits at 0xa0000 + 32 * character), coloured through
 * the attribute controller's palette and the DAC, with the cursor drawn;
 * and a Bochs VBE mode from its linear framebuffer, at the mode's size (up to
 * FB_MAX_WIDTH x FB_MAX_HEIGHT: VBE refuses larger modes).
 */
#ifndef VPS_VMM_FRAMEBUFFER_H
#define VPS_VMM_FRAMEBUFFER_H

#include <stdint.h>

#define FB_MAX_WIDTH 1024
#define FB_MAX_HEIGHT 768

struct framebuffer {
	uint32_t width, height; /* pixels; 0 before the first render */
	uint32_t stride; /* pixels per row: FB_MAX_WIDTH */
	uint32_t pixels[FB_MAX_WIDTH * FB_MAX_HEIGHT]; /* XRGB8888, row-major */
	uint64_t generation; /* bumped by each render that changed a pixel or the size */
	/* the rectangle the last render changed (w == 0: nothing) */
	uint32_t dirty_x, dirty_y, dirty_w, dirty_h;
};

#endif
