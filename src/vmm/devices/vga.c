// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Standard VGA registers and the text screen: see vga.h. Port offsets are
 * from 0x3c0; register meanings from IBM's VGA technical reference (the
 * layout every clone and QEMU's vga.c follow).
 */
#include <string.h>

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
		v->dac[v->dac_write][v->dac_sub] = val & 0x3f;
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

static const struct io_ops vga_ops = { .read = vga_pio_read, .write = vga_pio_write };

int vga_init(struct vga *v, struct vm *vm)
{
	memset(v, 0, sizeof(*v));
	pthread_mutex_init(&v->lock, NULL);
	v->mem = &vm->mem;
	v->misc = 0x01; /* colour: CRTC at 0x3d4 */
	v->pel_mask = 0xff;
	return iobus_register(&vm->pio, VGA_PORT_BASE, VGA_PORT_COUNT, &vga_ops, v);
}

void vga_destroy(struct vga *v)
{
	pthread_mutex_destroy(&v->lock);
}

void vga_text(struct vga *v, struct vga_screen *out)
{
	unsigned int start, cursor, r, c;
	const uint8_t *cells;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&v->lock);
	out->text = !(v->gr[VGA_GR_MISC] & 1);
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

	return (uint32_t)(c[0] << 2 | c[0] >> 4) << 16 | (uint32_t)(c[1] << 2 | c[1] >> 4) << 8 |
	       (uint32_t)(c[2] << 2 | c[2] >> 4);
}

int vga_render(struct vga *v, struct framebuffer *fb)
{
	const uint32_t w = VGA_TEXT_COLS * VGA_CELL_W, h = VGA_TEXT_ROWS * VGA_CELL_H;
	uint32_t x0 = w, y0 = h, x1 = 0, y1 = 0, colour[16];
	unsigned int start, cursor, r, c, y, x;
	const uint8_t *cells, *font;
	bool resized, cursor_on;

	pthread_mutex_lock(&v->lock);
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
