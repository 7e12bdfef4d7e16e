// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the VGA text screen (src/vmm/devices/vga.c): the register
 * file as a guest programs it through the ports, vga_text() and the
 * framebuffer export vga_render() with its change tracking.
 */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(text_reads_back, setup, teardown),
		cmocka_unit_test_setup_teardown(render_colours_and_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(hostile_registers, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
