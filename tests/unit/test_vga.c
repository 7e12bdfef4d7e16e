// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the VGA text screen (src/vmm/devices/vga.c): the register
 * file as a guest programs it through the ports, vga_text() and the
 * framebuffer export vga_render() with its change tracking; the Bochs VBE
 * (DISPI) registers, graphics modes rendered from the video memory, and
 * what a hostile guest writes there.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/devices/vga.h"

#define RAM_SIZE (1u << 20)

struct rig {
	struct vm vm;
	struct vga vga;
	uint8_t *ram;
	struct framebuffer *fb;
};

static void out8(struct vga *v, uint16_t port, uint8_t val)
{
	vga_pio_write(v, port - VGA_PORT_BASE, &val, 1);
}

static uint8_t in8(struct vga *v, uint16_t port)
{
	uint8_t val;

	vga_pio_read(v, port - VGA_PORT_BASE, &val, 1);
	return val;
}

static int setup(void **state)
{
	struct rig *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	g->ram = calloc(1, RAM_SIZE);
	g->fb = calloc(1, sizeof(*g->fb));
	assert_non_null(g->ram);
	assert_non_null(g->fb);
	assert_int_equal(guest_mem_add(&g->vm.mem, 0, RAM_SIZE, g->ram), 0);
	assert_int_equal(vga_init(&g->vga, &g->vm), 0);
	/* what a vgabios does for mode 3, in part: palette 1 -> DAC 1 (blue), 15 -> DAC 63 (white) */
	in8(&g->vga, 0x3da); /* the attribute flip-flop to "index" */
	out8(&g->vga, 0x3c0, 1);
	out8(&g->vga, 0x3c0, 1);
	out8(&g->vga, 0x3c0, 15);
	out8(&g->vga, 0x3c0, 63);
	out8(&g->vga, 0x3c8, 1);
	out8(&g->vga, 0x3c9, 0);
	out8(&g->vga, 0x3c9, 0);
	out8(&g->vga, 0x3c9, 42);
	out8(&g->vga, 0x3c8, 63);
	for (int i = 0; i < 3; i++)
		out8(&g->vga, 0x3c9, 63);
	memset(g->ram + VGA_FONT_ADDR + 32 * 'A', 0xff, 16); /* a solid 'A' */
	*state = g;
	return 0;
}

static int teardown(void **state)
{
	struct rig *g = *state;

	vga_destroy(&g->vga);
	free(g->fb);
	free(g->ram);
	free(g);
	return 0;
}

static void put_cell(struct rig *g, unsigned int r, unsigned int c, char ch, uint8_t attr)
{
	g->ram[VGA_TEXT_ADDR + 2 * (r * VGA_TEXT_COLS + c)] = ch;
	g->ram[VGA_TEXT_ADDR + 2 * (r * VGA_TEXT_COLS + c) + 1] = attr;
}

static void text_reads_back(void **state)
{
	struct rig *g = *state;
	struct vga_screen s;

	memcpy(g->ram + VGA_TEXT_ADDR + 2 * 80,
	       "S\x07"
	       "e\x07"
	       "a\x07",
	       6);
	put_cell(g, 2, 0, 0x01, 0x07); /* not printable: shown as '.' */
	out8(&g->vga, 0x3d4, 0x0f); /* cursor at row 1, column 3 */
	out8(&g->vga, 0x3d5, 83);
	vga_text(&g->vga, &s);
	assert_true(s.text);
	assert_int_equal(strncmp(s.rows[1], "Sea ", 4), 0);
	assert_int_equal(s.rows[2][0], '.');
	assert_int_equal(strlen(s.rows[0]), VGA_TEXT_COLS);
	assert_int_equal(s.cursor_row, 1);
	assert_int_equal(s.cursor_col, 3);
}

static void render_colours_and_changes(void **state)
{
	struct rig *g = *state;
	struct framebuffer *fb = g->fb;

	out8(&g->vga, 0x3d4, 0x0a); /* cursor off: only the cells count */
	out8(&g->vga, 0x3d5, 0x20);
	put_cell(g, 0, 0, 'A', 0x1f); /* white on blue */
	assert_int_equal(vga_render(&g->vga, fb), 1);
	assert_int_equal(fb->width, 640);
	assert_int_equal(fb->height, 400);
	assert_int_equal(fb->pixels[0], 0xffffff); /* the solid 'A': foreground */
	assert_int_equal(fb->pixels[8], 0); /* the next cell: NUL on black */
	assert_int_equal(fb->dirty_w * fb->dirty_h != 0, 1);
	/* nothing changed: nothing to send */
	uint64_t gen = fb->generation;
	assert_int_equal(vga_render(&g->vga, fb), 0);
	assert_int_equal(fb->generation, gen);
	assert_int_equal(fb->dirty_w, 0);
	/* one cell: exactly its 8x16 rectangle */
	put_cell(g, 1, 2, 'A', 0x1f);
	assert_int_equal(vga_render(&g->vga, fb), 1);
	assert_int_equal(fb->generation, gen + 1);
	assert_int_equal(fb->dirty_x, 16);
	assert_int_equal(fb->dirty_y, 16);
	assert_int_equal(fb->dirty_w, 8);
	assert_int_equal(fb->dirty_h, 16);
	/* an attribute with only the background set: the blue from the DAC (42 -> 0xaa) */
	put_cell(g, 0, 1, 0, 0x10);
	assert_int_equal(vga_render(&g->vga, fb), 1);
	assert_int_equal(fb->pixels[8], 0x0000aa);
}

static void hostile_registers(void **state)
{
	struct rig *g = *state;
	struct vga_screen s;
	uint8_t all[VGA_PORT_COUNT];

	/* every port, every width, all ones; then the start address at its maximum */
	memset(all, 0xff, sizeof(all));
	for (unsigned int p = 0; p < VGA_PORT_COUNT; p++) {
		vga_pio_write(&g->vga, p, all, 1);
		vga_pio_write(&g->vga, p, all, 4);
		vga_pio_read(&g->vga, p, all, 4);
	}
	vga_pio_write(&g->vga, VGA_PORT_COUNT - 1, all, 4); /* past the end: dropped */
	out8(&g->vga, 0x3ce, 6); /* text mode back */
	out8(&g->vga, 0x3cf, 0);
	out8(&g->vga, 0x3d4, 0x0c);
	out8(&g->vga, 0x3d5, 0xff);
	out8(&g->vga, 0x3d4, 0x0d);
	out8(&g->vga, 0x3d5, 0xff);
	vga_text(&g->vga, &s);
	assert_true(s.text);
	assert_int_equal(strlen(s.rows[24]), VGA_TEXT_COLS);
	vga_render(&g->vga, g->fb);
	assert_int_equal(g->fb->width, 640);
	/* graphics mode: no text, nothing rendered */
	out8(&g->vga, 0x3ce, 6);
	out8(&g->vga, 0x3cf, 1);
	vga_text(&g->vga, &s);
	assert_false(s.text);
	assert_int_equal(vga_render(&g->vga, g->fb), 0);
}

static void vbe_out(struct vga *v, uint16_t reg, uint16_t val)
{
	vbe_pio_write(v, 0, &reg, 2);
	vbe_pio_write(v, 1, &val, 2);
}

static uint16_t vbe_in(struct vga *v, uint16_t reg)
{
	uint16_t val;

	vbe_pio_write(v, 0, &reg, 2);
	vbe_pio_read(v, 1, &val, 2);
	return val;
}

static void vbe_mode(struct vga *v, uint16_t x, uint16_t y, uint16_t bpp, uint16_t flags)
{
	vbe_out(v, VBE_ENABLE, 0);
	vbe_out(v, VBE_BPP, bpp);
	vbe_out(v, VBE_XRES, x);
	vbe_out(v, VBE_YRES, y);
	vbe_out(v, VBE_ENABLE, VBE_ENABLED | flags);
}

/* What SeaBIOS's vgabios probes (vgasrc/bochsvga.c, bochsvga_setup) */
static void vbe_detect(void **state)
{
	struct rig *g = *state;
	uint8_t *vram = calloc(1, VBE_VRAM_SIZE);

	assert_non_null(vram);
	/* no video memory: the ports float, the vgabios falls back to plain VGA */
	vbe_out(&g->vga, VBE_ID, VBE_ID0);
	assert_int_equal(vbe_in(&g->vga, VBE_ID), 0xffff);
	assert_int_equal(vga_attach_vram(&g->vga, vram, VBE_VRAM_SIZE), 0);
	vbe_out(&g->vga, VBE_ID, VBE_ID0);
	assert_int_equal(vbe_in(&g->vga, VBE_ID), VBE_ID0);
	vbe_out(&g->vga, VBE_ID, VBE_ID5);
	assert_int_equal(vbe_in(&g->vga, VBE_ID), VBE_ID5);
	vbe_out(&g->vga, VBE_ID, 0x1234); /* not an ID: kept as it was */
	assert_int_equal(vbe_in(&g->vga, VBE_ID), VBE_ID5);
	assert_int_equal(vbe_in(&g->vga, VBE_VIDEO_MEMORY_64K), VBE_VRAM_SIZE >> 16);
	/* GETCAPS: the maxima, so the vgabios drops the modes we cannot show */
	vbe_out(&g->vga, VBE_XRES, 640);
	vbe_out(&g->vga, VBE_ENABLE, VBE_GETCAPS);
	assert_int_equal(vbe_in(&g->vga, VBE_XRES), FB_MAX_WIDTH);
	assert_int_equal(vbe_in(&g->vga, VBE_YRES), FB_MAX_HEIGHT);
	assert_int_equal(vbe_in(&g->vga, VBE_BPP), 32);
	vbe_out(&g->vga, VBE_ENABLE, 0);
	assert_int_equal(vbe_in(&g->vga, VBE_XRES), 640);
	/* byte-wide access: the index's low byte, the data's low byte */
	uint8_t idx = VBE_VIDEO_MEMORY_64K, lo;

	vbe_pio_write(&g->vga, 0, &idx, 1);
	vbe_pio_read(&g->vga, 1, &lo, 1);
	assert_int_equal(lo, (VBE_VRAM_SIZE >> 16) & 0xff);
	free(vram); /* teardown's vga_destroy unmaps only its own mapping */
}

static void vbe_mode_32bpp(void **state)
{
	struct rig *g = *state;
	uint8_t *vram = calloc(1, VBE_VRAM_SIZE);
	struct framebuffer *fb = g->fb;
	struct vga_screen s;
	uint32_t px;

	assert_non_null(vram);
	assert_int_equal(vga_attach_vram(&g->vga, vram, VBE_VRAM_SIZE), 0);
	memset(vram, 0x55, 4096);
	vbe_mode(&g->vga, 800, 600, 32, VBE_LFB_ENABLED);
	assert_int_equal(vbe_in(&g->vga, VBE_ENABLE), VBE_ENABLED | VBE_LFB_ENABLED);
	assert_int_equal(vbe_in(&g->vga, VBE_VIRT_WIDTH), 800);
	assert_int_equal(vbe_in(&g->vga, VBE_VIRT_HEIGHT), VBE_VRAM_SIZE / (800 * 4));
	assert_int_equal(vram[0], 0); /* cleared: no NOCLEARMEM */
	vga_text(&g->vga, &s);
	assert_false(s.text);
	/* the whole frame the first time (a new size), black */
	assert_int_equal(vga_render(&g->vga, fb), 1);
	assert_int_equal(fb->width, 800);
	assert_int_equal(fb->height, 600);
	assert_int_equal(fb->dirty_w, 800);
	assert_int_equal(fb->dirty_h, 600);
	assert_int_equal(fb->pixels[0], 0);
	/* one orange pixel at (10, 20): exactly that pixel changes */
	px = 0x00ff8000;
	memcpy(vram + (20 * 800 + 10) * 4, &px, 4);
	assert_int_equal(vga_render(&g->vga, fb), 1);
	assert_int_equal(fb->pixels[20 * fb->stride + 10], 0xff8000);
	assert_int_equal(fb->dirty_x, 10);
	assert_int_equal(fb->dirty_y, 20);
	assert_int_equal(fb->dirty_w, 1);
	assert_int_equal(fb->dirty_h, 1);
	assert_int_equal(vga_render(&g->vga, fb), 0);
	/* panning: Y_OFFSET 20 brings the pixel to row 0 */
	vbe_out(&g->vga, VBE_Y_OFFSET, 20);
	assert_int_equal(vbe_in(&g->vga, VBE_Y_OFFSET), 20);
	assert_int_equal(vga_render(&g->vga, fb), 1);
	assert_int_equal(fb->pixels[10], 0xff8000);
	/* NOCLEARMEM keeps the pixels; off: the text screen again */
	vbe_mode(&g->vga, 800, 600, 32, VBE_NOCLEARMEM);
	assert_int_equal(vram[(20 * 800 + 10) * 4 + 1], 0x80);
	vbe_out(&g->vga, VBE_ENABLE, 0);
	vga_text(&g->vga, &s);
	assert_true(s.text);
	assert_int_equal(vga_render(&g->vga, fb), 1);
	assert_int_equal(fb->width, 640);
	assert_int_equal(fb->height, 400);
	free(vram); /* teardown's vga_destroy unmaps only its own mapping */
}

static void vbe_depths(void **state)
{
	struct rig *g = *state;
	uint8_t *vram = calloc(1, VBE_VRAM_SIZE);
	struct framebuffer *fb = g->fb;

	assert_non_null(vram);
	assert_int_equal(vga_attach_vram(&g->vga, vram, VBE_VRAM_SIZE), 0);
	/* 24: B, G, R */
	vbe_mode(&g->vga, 640, 480, 24, 0);
	memcpy(vram + 3, "\x11\x22\x33", 3);
	vga_render(&g->vga, fb);
	assert_int_equal(fb->height, 480);
	assert_int_equal(fb->pixels[1], 0x332211);
	/* 16: RGB565, full red and full blue */
	vbe_mode(&g->vga, 640, 480, 16, 0);
	memcpy(vram, "\x00\xf8\x1f\x00", 4);
	vga_render(&g->vga, fb);
	assert_int_equal(fb->pixels[0], 0xff0000);
	assert_int_equal(fb->pixels[1], 0x0000ff);
	/* 15: RGB555, full green */
	vbe_mode(&g->vga, 640, 480, 15, 0);
	memcpy(vram, "\xe0\x03", 2);
	vga_render(&g->vga, fb);
	assert_int_equal(fb->pixels[0], 0x00ff00);
	/* 8: through the DAC (entry 1 is the setup's 6-bit blue 42), then with an 8-bit DAC */
	vbe_mode(&g->vga, 640, 480, 8, 0);
	vram[0] = 1;
	vga_render(&g->vga, fb);
	assert_int_equal(fb->pixels[0], 0x0000aa);
	vbe_out(&g->vga, VBE_ENABLE, VBE_ENABLED | VBE_8BIT_DAC | VBE_NOCLEARMEM);
	out8(&g->vga, 0x3c8, 1);
	out8(&g->vga, 0x3c9, 0xff);
	out8(&g->vga, 0x3c9, 0x80);
	out8(&g->vga, 0x3c9, 0x01);
	vga_render(&g->vga, fb);
	assert_int_equal(fb->pixels[0], 0xff8001);
	free(vram); /* teardown's vga_destroy unmaps only its own mapping */
}

/*
 * A hostile guest: modes too large for the memory or the export, depths we
 * do not render, windows panned past the end. The video memory here is a
 * heap buffer of exactly 1 MiB, so a render reading one byte past it fails
 * under AddressSanitizer.
 */
static void vbe_hostile(void **state)
{
	static const uint16_t bad[][3] = {
		{ 0xffff, 0xffff, 32 }, { 1025, 1, 8 },	  { 1, 769, 8 },     { 1024, 768, 32 },
		{ 640, 480, 0xffff },	{ 640, 480, 33 }, { 640, 480, 0 },   { 0, 480, 8 },
		{ 640, 0, 8 },		{ 640, 480, 4 },  { 1024, 768, 24 },
	};
	const uint32_t size = 1u << 20;
	struct rig *g = *state;
	uint8_t *vram = malloc(size);
	struct framebuffer *fb = g->fb;
	uint8_t all[4] = { 0xff, 0xff, 0xff, 0xff };

	assert_non_null(vram);
	memset(vram, 0x7f, size);
	assert_int_equal(vga_attach_vram(&g->vga, vram, size), 0);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t before = g->vga.bad_writes;

		vbe_mode(&g->vga, bad[i][0], bad[i][1], bad[i][2], 0);
		assert_int_equal(vbe_in(&g->vga, VBE_ENABLE) & VBE_ENABLED, 0);
		assert_int_equal(g->vga.bad_writes, before + 1);
		assert_int_equal(g->vga.mode.bpp, 0);
	}
	assert_int_equal(vram[size - 1], 0x7f); /* a refused mode clears nothing */
	/* a mode that just fits (1 MiB = 512x512x32), then windows past the end */
	vbe_mode(&g->vga, 512, 512, 32, VBE_NOCLEARMEM);
	assert_int_equal(vbe_in(&g->vga, VBE_ENABLE) & VBE_ENABLED, VBE_ENABLED);
	vbe_out(&g->vga, VBE_Y_OFFSET, 1);
	vbe_out(&g->vga, VBE_X_OFFSET, 1);
	vbe_out(&g->vga, VBE_VIRT_WIDTH, 0xffff);
	vbe_out(&g->vga, VBE_VIRT_WIDTH, 100); /* narrower than the mode */
	vbe_out(&g->vga, VBE_Y_OFFSET, 0xffff);
	assert_int_equal(vbe_in(&g->vga, VBE_Y_OFFSET), 0);
	assert_int_equal(vbe_in(&g->vga, VBE_X_OFFSET), 0);
	assert_int_equal(vbe_in(&g->vga, VBE_VIRT_WIDTH), 512);
	assert_int_equal(g->vga.mode.start, 0);
	assert_int_equal(g->vga.mode.line, 512 * 4);
	/* the last pixel is the memory's last word: rendered, nothing past it read */
	assert_int_equal(vga_render(&g->vga, fb), 1);
	assert_int_equal(fb->pixels[511 * fb->stride + 511], 0x7f7f7f);
	/* XRES/YRES/BPP written while on do not change the mode in force */
	vbe_out(&g->vga, VBE_XRES, 0xffff);
	vbe_out(&g->vga, VBE_YRES, 0xffff);
	vbe_out(&g->vga, VBE_BPP, 32);
	vbe_out(&g->vga, VBE_ENABLE, VBE_ENABLED | VBE_NOCLEARMEM);
	assert_int_equal(g->vga.mode.xres, 512);
	assert_int_equal(g->vga.mode.yres, 512);
	vga_render(&g->vga, fb);
	assert_int_equal(fb->width, 512);
	/* read-only and unknown registers, a bank past memory, every width on both ports */
	vbe_out(&g->vga, VBE_VIDEO_MEMORY_64K, 1);
	vbe_out(&g->vga, VBE_VIRT_HEIGHT, 0xffff);
	vbe_out(&g->vga, VBE_BANK, 0xffff);
	vbe_out(&g->vga, 0xffff, 0xffff);
	assert_int_equal(vbe_in(&g->vga, 0xffff), 0);
	assert_int_equal(vbe_in(&g->vga, VBE_VIDEO_MEMORY_64K), size >> 16);
	assert_int_equal(vbe_in(&g->vga, VBE_BANK), 0);
	for (unsigned int len = 1; len <= 4; len *= 2) {
		vbe_pio_write(&g->vga, 0, all, len);
		vbe_pio_write(&g->vga, 1, all, len);
		vbe_pio_read(&g->vga, 1, all, len);
	}
	vga_render(&g->vga, fb);
	assert_int_equal(g->vga.mode.xres, 512);
	free(vram); /* teardown's vga_destroy unmaps only its own mapping */
}

/* The PCI function (QEMU's standard VGA), on a host bridge of its own with the guest's view. */
#define WIN_BASE 0xc0000000ULL
#define WIN_SIZE 0x10000000ULL

static uint32_t cfg_in(struct pci_host *h, unsigned int slot, unsigned int off, unsigned int len)
{
	return pci_host_cfg_read(h, slot, 0, off, len);
}

static uint64_t mmio_in(struct iobus *b, uint64_t addr, unsigned int len)
{
	uint64_t v = 0;

	iobus_access(b, addr, &v, len, 0);
	return v;
}

static void mmio_out(struct iobus *b, uint64_t addr, unsigned int len, uint64_t v)
{
	iobus_access(b, addr, &v, len, 1);
}

static void pci_function(void **state)
{
	const uint32_t size = 1u << 20;
	const uint64_t lfb = 0xc8000000, regs = 0xc9000000;
	struct rig *g = *state;
	struct iobus pio = { 0 }, mmio = { 0 };
	struct pci_host *h = calloc(1, sizeof(*h));
	uint8_t *vram = malloc(size);
	struct framebuffer *fb = g->fb;
	unsigned int slot;
	uint64_t before;

	assert_non_null(h);
	assert_non_null(vram);
	memset(vram, 0, size);
	assert_int_equal(pci_host_init(h, &pio, &mmio, WIN_BASE, WIN_SIZE), 0);
	assert_int_equal(vga_pci_plug(&g->vga, h, 11), -EINVAL); /* no video memory yet */
	assert_int_equal(vga_attach_vram(&g->vga, vram, size), 0);
	assert_int_equal(vga_pci_plug(&g->vga, h, 11), 0);
	slot = g->vga.pdev.slot;
	/* what bochs-drm and SeaBIOS match on */
	assert_int_equal(cfg_in(h, slot, PCI_VENDOR_ID, 4), 0x11111234);
	assert_int_equal(cfg_in(h, slot, PCI_REVISION_ID, 4), 0x03000002);
	assert_int_equal(cfg_in(h, slot, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x11001af4);
	assert_int_equal(cfg_in(h, slot, PCI_INTERRUPT_PIN, 1), 0);
	/* BAR sizing: 0 prefetchable memory of the video memory's size, 2 the 4 KiB registers */
	pci_host_cfg_write(h, slot, 0, PCI_BAR0, 4, 0xffffffff);
	pci_host_cfg_write(h, slot, 0, PCI_BAR0 + 8, 4, 0xffffffff);
	assert_int_equal(cfg_in(h, slot, PCI_BAR0, 4), (uint32_t) ~(size - 1) | PCI_BAR_PREFETCH);
	assert_int_equal(cfg_in(h, slot, PCI_BAR0 + 4, 4), 0);
	assert_int_equal(cfg_in(h, slot, PCI_BAR0 + 8, 4), (uint32_t) ~(VGA_MMIO_SIZE - 1));
	/* sizing with decoding off is no placement: nothing refused */
	assert_int_equal(g->vga.lfb_refused, 0);
	pci_host_cfg_write(h, slot, 0, PCI_BAR0, 4, lfb);
	pci_host_cfg_write(h, slot, 0, PCI_BAR0 + 8, 4, regs);
	assert_int_equal(mmio_in(&mmio, regs + VGA_MMIO_DISPI, 2), 0xffff); /* not decoding */
	pci_host_cfg_write(h, slot, 0, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	/* the DISPI registers flat at 0x500: ID, the memory in 64 KiB, a mode */
	assert_int_equal(mmio_in(&mmio, regs + VGA_MMIO_DISPI, 2), VBE_ID5);
	assert_int_equal(mmio_in(&mmio, regs + VGA_MMIO_DISPI + 2 * VBE_VIDEO_MEMORY_64K, 2),
			 size >> 16);
	mmio_out(&mmio, regs + VGA_MMIO_DISPI + 2 * VBE_XRES, 2, 320);
	mmio_out(&mmio, regs + VGA_MMIO_DISPI + 2 * VBE_YRES, 2, 200);
	mmio_out(&mmio, regs + VGA_MMIO_DISPI + 2 * VBE_BPP, 2, 32);
	mmio_out(&mmio, regs + VGA_MMIO_DISPI + 2 * VBE_VIRT_HEIGHT, 2, 99); /* bochs-drm's */
	mmio_out(&mmio, regs + VGA_MMIO_DISPI + 2 * VBE_ENABLE, 2, VBE_ENABLED | VBE_LFB_ENABLED);
	assert_int_equal(g->vga.mode.xres, 320);
	assert_int_equal(g->vga.bad_writes, 0);
	/* pixels written at BAR 0 (without a KVM slot here: the slow path) are the video memory */
	mmio_out(&mmio, lfb + 4 * 321, 4, 0x00123456);
	assert_int_equal(vram[4 * 321], 0x56);
	assert_int_equal(mmio_in(&mmio, lfb + 4 * 321, 4), 0x00123456);
	assert_int_equal(vga_render(&g->vga, fb), 1);
	assert_int_equal(fb->pixels[fb->stride + 1], 0x123456);
	/* the VGA ports at 0x400: one word sets the DAC's write index and a component */
	mmio_out(&mmio, regs + VGA_MMIO_PORTS + 0x08, 2, 0x2a05);
	assert_int_equal(g->vga.dac_write, 5);
	assert_int_equal(g->vga.dac[5][0], 0x2a);
	assert_int_equal(mmio_in(&mmio, regs + VGA_MMIO_PORTS + 0x0c, 1), g->vga.misc);
	/* the EDID, as bochs-drm reads it (bytewise): header, checksum, the preferred mode */
	{
		uint8_t e[128], sum = 0;

		for (unsigned int i = 0; i < sizeof(e); i++)
			sum += e[i] = mmio_in(&mmio, regs + i, 1);
		assert_memory_equal(e, "\0\xff\xff\xff\xff\xff\xff\0", 8);
		assert_int_equal(sum, 0);
		assert_int_equal(e[18], 1); /* version 1.4 */
		assert_int_equal(e[19], 4);
		/* the first descriptor: 1024 (0x400) x 768 (0x300) active */
		assert_int_equal(e[56] | (e[58] >> 4) << 8, 1024);
		assert_int_equal(e[59] | (e[61] >> 4) << 8, 768);
		assert_int_equal(mmio_in(&mmio, regs + 128, 8), 0);
	}
	/* QEMU's extension: its size, then big-endian pixels */
	assert_int_equal(mmio_in(&mmio, regs + VGA_MMIO_QEXT, 4), VGA_QEXT_SIZE);
	assert_int_equal(mmio_in(&mmio, regs + VGA_MMIO_QEXT + 4, 4), VGA_QEXT_LITTLE);
	mmio_out(&mmio, regs + VGA_MMIO_QEXT + 4, 4, VGA_QEXT_BIG);
	memcpy(vram + 4 * 322, "\x00\x11\x22\x33", 4);
	vga_render(&g->vga, fb);
	assert_int_equal(fb->pixels[fb->stride + 2], 0x112233);
	mmio_out(&mmio, regs + VGA_MMIO_QEXT + 4, 4, VGA_QEXT_LITTLE);
	/* hostile: a bad byte order, the EDID and the extension's size, odd and wide DISPI
	 * accesses, past the registers: each refused and counted, nothing changed */
	before = g->vga.bad_writes;
	mmio_out(&mmio, regs + VGA_MMIO_QEXT + 4, 4, 0x12345678);
	mmio_out(&mmio, regs + 0x10, 4, 0xffffffff);
	mmio_out(&mmio, regs + VGA_MMIO_QEXT, 4, 0xffff);
	mmio_out(&mmio, regs + VGA_MMIO_DISPI + 2 * VBE_XRES + 1, 2, 1);
	mmio_out(&mmio, regs + VGA_MMIO_DISPI + 2 * VBE_XRES, 4, 1);
	mmio_out(&mmio, regs + VGA_MMIO_DISPI + 2 * VBE_NR_REGS, 2, 1);
	mmio_out(&mmio, regs + 0xff8, 8, ~0ULL);
	assert_int_equal(g->vga.bad_writes, before + 7);
	assert_false(g->vga.big_endian);
	assert_int_equal(mmio_in(&mmio, regs + VGA_MMIO_DISPI + 2 * VBE_XRES, 2), 320);
	assert_int_equal(mmio_in(&mmio, regs + VGA_MMIO_DISPI + 2 * VBE_XRES + 1, 2), 0xffff);
	/* BAR 0 moved: the pixels follow; outside the window (RAM, the firmware) refused */
	pci_host_cfg_write(h, slot, 0, PCI_BAR0, 4, 0xc4000000);
	assert_int_equal(mmio_in(&mmio, 0xc4000000 + 4 * 321, 4), 0x00123456);
	assert_int_equal(mmio_in(&mmio, lfb + 4 * 321, 4), 0xffffffff);
	pci_host_cfg_write(h, slot, 0, PCI_BAR0, 4, 0x100000); /* guest RAM */
	pci_host_cfg_write(h, slot, 0, PCI_BAR0, 4, 0xfff00000); /* the firmware's top */
	pci_host_cfg_write(h, slot, 0, PCI_BAR0, 4, WIN_BASE + WIN_SIZE); /* just past it */
	assert_int_equal(g->vga.lfb_refused, 3);
	pci_host_cfg_write(h, slot, 0, PCI_BAR0, 4, WIN_BASE + WIN_SIZE - size); /* just inside */
	assert_int_equal(g->vga.lfb_refused, 3);
	assert_int_equal(mmio_in(&mmio, WIN_BASE + WIN_SIZE - size + 4 * 321, 4), 0x00123456);
	assert_int_equal(mmio_in(&mmio, WIN_BASE + WIN_SIZE - 4, 4), 0);
	assert_int_equal(g->vga.lfb_gpa, 0); /* no KVM here: never a slot */
	pci_host_destroy(h);
	free(h);
	free(vram); /* teardown's vga_destroy unmaps only its own mapping */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(text_reads_back, setup, teardown),
		cmocka_unit_test_setup_teardown(render_colours_and_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(hostile_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(vbe_detect, setup, teardown),
		cmocka_unit_test_setup_teardown(vbe_mode_32bpp, setup, teardown),
		cmocka_unit_test_setup_teardown(vbe_depths, setup, teardown),
		cmocka_unit_test_setup_teardown(vbe_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(pci_function, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
