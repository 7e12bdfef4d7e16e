// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the devices firmware boot adds (docs/vmm.md, "Firmware
 * boot"), driven as a hostile guest drives them: fw_cfg
 * (src/vmm/devices/fwcfg.c: selectors, data reads, DMA descriptors
 * anywhere in or out of guest RAM), the VGA registers
 * (src/vmm/devices/vga.c, then vga_text() and vga_render() over what the guest left),
 * the Bochs VBE ports beside them over 1 MiB of video memory held in an
 * exactly-sized heap buffer (a render reading past it is a sanitizer report), the
 * adapter's PCI function (its config space, BAR moves, BAR 2's registers and BAR 0
 * by the slow path, wherever the guest put them), and
 * the i8042 with its keyboard (src/vmm/devices/i8042.c, and i8042_type()
 * of fuzzed text and key names, as the control socket would pass them).
 *
 * Input: a program of steps, each an opcode byte and its operands (see
 * step()); the devices are built fresh for every input.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vmm/devices/fwcfg.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/vga.h"

#define MAX_STEPS 512

static struct vm vm;
static struct fwcfg fw;
static struct vga vga;
static struct i8042 kbd;
static struct framebuffer fb;
static uint8_t *vram;
static struct iobus pci_pio, pci_mmio;
static struct pci_host host;

#define WINDOW_BASE 0xc0000000ULL
#define WINDOW_SIZE 0x10000000ULL

#define FUZZ_VRAM_SIZE (1u << 20)

FUZZ_NOCOV
static void build(void)
{
	static const uint8_t file[300] = { 1, 2, 3 };

	memset(&vm, 0, sizeof(vm));
	pthread_mutex_init(&vm.lock, NULL);
	pthread_cond_init(&vm.cond, NULL);
	vm.vm_fd = vm.kvm_fd = vm.stop_efd = -1;
	vm.mem = *fuzz_ram();
	if (fwcfg_init(&fw, &vm) < 0 || fwcfg_add_file(&fw, "etc/e820", file, 40) < 0 ||
	    fwcfg_add_file(&fw, "bootorder", file, sizeof(file)) < 0 || vga_init(&vga, &vm) < 0 ||
	    i8042_init(&kbd, &vm, true) < 0)
		abort();
	vram = malloc(FUZZ_VRAM_SIZE);
	if (!vram || vga_attach_vram(&vga, vram, FUZZ_VRAM_SIZE) < 0)
		abort();
	memset(vram, 0x5a, FUZZ_VRAM_SIZE);
	memset(&pci_pio, 0, sizeof(pci_pio));
	memset(&pci_mmio, 0, sizeof(pci_mmio));
	if (pci_host_init(&host, &pci_pio, &pci_mmio, WINDOW_BASE, WINDOW_SIZE) < 0 ||
	    vga_pci_plug(&vga, &host, 11) < 0)
		abort();
}

FUZZ_NOCOV
static void teardown(void)
{
	fwcfg_destroy(&fw);
	vga_destroy(&vga);
	pci_host_destroy(&host);
	free(vram);
	i8042_destroy(&kbd);
	pthread_cond_destroy(&vm.cond);
	pthread_mutex_destroy(&vm.lock);
}

FUZZ_NOCOV
static void step(struct fuzz_in *in, uint8_t *ram)
{
	uint8_t op = fuzz_u8(in), len = 1u << (fuzz_u8(in) & 3), buf[8];
	uint16_t off = fuzz_u16(in);
	char text[32];

	fuzz_take(in, buf, sizeof(buf));
	switch (op % 11) {
	case 0: /* fw_cfg, offsets 0..11 of its range */
		fwcfg_pio_write(&fw, off % 12, buf, len);
		break;
	case 1:
		fwcfg_pio_read(&fw, off % 12, buf, len);
		break;
	case 2: /* a DMA start: descriptor address from the input, often inside RAM */
		fwcfg_pio_write(&fw, 4, (uint32_t[]){ 0 }, 4);
		fwcfg_pio_write(&fw, 8, buf, 4);
		break;
	case 3: /* write guest RAM (DMA descriptors, buffers) */
		memcpy(ram + off % (FUZZ_RAM_SIZE - sizeof(buf)), buf, sizeof(buf));
		break;
	case 4: /* with bit 8 of the offset: VBE's index (even) or data (odd) port */
		if (off & 0x100)
			vbe_pio_write(&vga, off & 1, buf, len);
		else
			vga_pio_write(&vga, off % VGA_PORT_COUNT, buf, len);
		break;
	case 5:
		if (off & 0x100)
			vbe_pio_read(&vga, off & 1, buf, len);
		else
			vga_pio_read(&vga, off % VGA_PORT_COUNT, buf, len);
		break;
	case 6: { /* the screen as `screen` reads it, and as a screen server would */
		struct vga_screen s;

		vga_text(&vga, &s);
		vga_render(&vga, &fb);
		break;
	}
	case 7: /* the i8042: 0x60 or 0x64 */
		if (off & 1)
			i8042_pio_write(&kbd, off & 2 ? 0x64 : 0x60, buf, 1);
		else
			i8042_pio_read(&kbd, off & 2 ? 0x64 : 0x60, buf, 1);
		break;
	case 8: { /* typing, as the control socket's `key` */
		struct err *e = NULL;

		fuzz_take(in, text, sizeof(text) - 1);
		text[sizeof(text) - 1] = 0;
		i8042_type(&kbd, text, off & 1, &e);
		err_free(&e);
		break;
	}
	case 9: /* the display's config space: the command register and the BARs above all */
		pci_host_cfg_write(&host, vga.pdev.slot, 0, off & 0xff, len > 4 ? 4 : len,
				   buf[0] | buf[1] << 8 | buf[2] << 16 | (uint32_t)buf[3] << 24);
		break;
	case 10: /* BAR 0 or 2 wherever the guest put it, or anywhere in the window */
		if (off & 0x8000)
			iobus_access(&pci_mmio, WINDOW_BASE + (fuzz_u32(in) % WINDOW_SIZE), buf,
				     len, off & 1);
		else
			iobus_access(&pci_mmio,
				     pci_dev_bar_addr(&vga.pdev, off & 0x4000 ? 2 : 0) +
					     (off & 0x3fff),
				     buf, len, off & 1);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t *ram = fuzz_ram_reset();

	build();
	for (unsigned int i = 0; i < MAX_STEPS && in.n; i++)
		step(&in, ram);
	teardown();
	return 0;
}
