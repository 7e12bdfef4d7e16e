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
