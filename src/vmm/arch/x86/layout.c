// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The x86 guest memory map and the e820 table derived from it: see layout.h.
 */
#include <errno.h>

#include "vmm/arch/x86/layout.h"

int x86_layout_init(struct x86_layout *l, uint64_t ram_size)
{
	if (ram_size < (2ULL << 20) || ram_size % 4096)
		return -EINVAL;
	l->ram_size = ram_size;
	l->low_ram = ram_size < X86_PCI_HOLE ? ram_size : X86_PCI_HOLE;
	l->high_ram = ram_size - l->low_ram;
	/* 1 GiB alignment lets the guest map the window with large pages. */
	l->mmio64_base = (X86_HIGH_RAM + l->high_ram + (1ULL << 30) - 1) & ~((1ULL << 30) - 1);
	l->mmio64_size = X86_PCI_MMIO64_SIZE;
	return 0;
}

static int e820_add(struct boot_e820_entry *tab, unsigned int max, unsigned int *n, uint64_t addr,
		    uint64_t size, uint32_t type)
{
	if (!size)
		return 0;
	if (*n >= max)
		return -ENOSPC;
	tab[*n].addr = addr;
	tab[*n].size = size;
	tab[*n].type = type;
	(*n)++;
	return 0;
}

int x86_e820_build(const struct x86_layout *l, struct boot_e820_entry *tab, unsigned int max)
{
	unsigned int n = 0;
	int ret = 0;

	/*
	 * 0xa0000..0xdffff is the VGA and option ROM hole: left out, so Linux
	 * treats it as not RAM. The BIOS area holding our ACPI tables is
	 * reserved so nothing allocates over them.
	 */
	ret |= e820_add(tab, max, &n, 0, X86_LOW_RAM_END, X86_E820_RAM);
	ret |= e820_add(tab, max, &n, X86_ACPI_ADDR, X86_ACPI_SIZE, X86_E820_RESERVED);
	ret |= e820_add(tab, max, &n, X86_HIMEM, l->low_ram - X86_HIMEM, X86_E820_RAM);
	/* Linux uses MMCONFIG early only when e820 reserves it (arch/x86/pci/mmconfig-shared.c). */
	ret |= e820_add(tab, max, &n, X86_PCI_ECAM_BASE, X86_PCI_ECAM_SIZE, X86_E820_RESERVED);
	ret |= e820_add(tab, max, &n, X86_KVM_IDENT_ADDR, X86_KVM_RESERVED_END - X86_KVM_IDENT_ADDR,
			X86_E820_RESERVED);
	ret |= e820_add(tab, max, &n, X86_HIGH_RAM, l->high_ram, X86_E820_RAM);
	return ret < 0 ? -ENOSPC : (int)n;
}
