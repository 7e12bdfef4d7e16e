/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The x86 guest-physical memory map of a Linux guest: where RAM, the boot
 * structures, the ACPI tables and the PCI windows live. Every part that
 * places something in guest memory (boot/linux.c, arch/x86/regs.c,
 * arch/x86/acpi.c, the PCI code) takes its addresses from here, and the
 * e820 table the kernel sees is built from the same numbers, so the map has
 * one source.
 *
 *   0x0000_0500  GDT (null, null, __BOOT_CS 0x10, __BOOT_DS 0x18)
 *   0x0000_1000  PML4, 0x2000 PDPT, 0x3000..0x6fff four page directories
 *   0x0000_7000  boot_params (the "zero page")
 *   0x0000_8ff0  initial stack pointer (grows down into 0x8000)
 *   0x0002_0000  kernel command line (at most 64 KiB)
 *   0x000e_0000  ACPI tables: RSDP first, then FACS, XSDT, FADT, MADT, MCFG, DSDT
 *   0x0010_0000  protected-mode kernel (bzImage minus its real-mode setup)
 *   ...          initrd, as high as the kernel allows below the end of low RAM
 *   low_ram      end of RAM below the PCI hole (at most 3 GiB)
 *   0xc000_0000  PCI 32-bit MMIO window (512 MiB)
 *   0xe000_0000  PCI ECAM (MMCONFIG) for bus 0 (1 MiB), reserved in e820
 *   0xfec0_0000  IO-APIC;  0xfee0_0000 local APICs
 *   0xfeff_c000  KVM's identity-map page and TSS (4 pages), reserved in e820
 *   4 GiB        RAM above the hole (ram_size - low_ram bytes)
 *   mmio64_base  PCI 64-bit MMIO window, 1 GiB aligned after the high RAM
 *
 * Guest RAM must be registered with KVM as two slots when ram_size exceeds
 * 3 GiB: [0, low_ram) and [4 GiB, 4 GiB + high_ram).
 */
#ifndef VPS_VMM_X86_LAYOUT_H
#define VPS_VMM_X86_LAYOUT_H

#include <stdint.h>
#include <asm/bootparam.h>

#define X86_GDT_ADDR 0x500ULL
#define X86_PML4_ADDR 0x1000ULL
#define X86_PDPT_ADDR 0x2000ULL
#define X86_PD_ADDR 0x3000ULL /* four pages: 4 GiB of 2 MiB pages */
#define X86_BOOT_PARAMS_ADDR 0x7000ULL
#define X86_BOOT_STACK 0x8ff0ULL
#define X86_CMDLINE_ADDR 0x20000ULL
#define X86_CMDLINE_MAX 0x10000ULL
#define X86_LOW_RAM_END 0xa0000ULL /* the 640 KiB of conventional memory */
#define X86_ACPI_ADDR 0xe0000ULL /* the BIOS area Linux also scans for "RSD PTR " */
#define X86_ACPI_SIZE 0x20000ULL
#define X86_HIMEM 0x100000ULL /* 1 MiB: where the protected-mode kernel goes */

#define X86_PCI_HOLE 0xc0000000ULL /* 3 GiB: RAM beyond this moves above 4 GiB */
#define X86_PCI_MMIO32_BASE 0xc0000000ULL
#define X86_PCI_MMIO32_SIZE 0x20000000ULL
#define X86_PCI_ECAM_BASE 0xe0000000ULL
#define X86_PCI_ECAM_BUSES 1 /* bus 0 only; 1 MiB of ECAM per bus (PCIe 6.0 §7.2.2) */
#define X86_PCI_ECAM_SIZE ((uint64_t)X86_PCI_ECAM_BUSES << 20)
#define X86_IOAPIC_ADDR 0xfec00000ULL
#define X86_IOAPIC_PINS 24 /* KVM's in-kernel IO-APIC */
#define X86_LAPIC_ADDR 0xfee00000ULL
#define X86_KVM_IDENT_ADDR 0xfeffc000ULL /* KVM_SET_IDENTITY_MAP_ADDR: 1 page */
#define X86_KVM_TSS_ADDR 0xfeffd000ULL /* KVM_SET_TSS_ADDR: 3 pages */
#define X86_KVM_RESERVED_END 0xff000000ULL
#define X86_HIGH_RAM 0x100000000ULL /* 4 GiB */
#define X86_PCI_MMIO64_SIZE (32ULL << 30)

/*
 * Legacy INTx routing, shared by the DSDT's _PRT and the PCI code: device
 * `slot` (1..31) pin INTA..INTD (pin 0..3) raises IO-APIC input
 * 16 + ((slot + pin) % 8), the swizzle a PCI-to-PCI bridge would apply
 * (PCI-to-PCI Bridge Architecture 1.2 §9.1), so neighbouring slots spread
 * over the eight pins above the ISA range. Level triggered, active low, as
 * ACPI assumes for a _PRT entry that names a GSI directly (ACPI 6.4 §6.2.13).
 */
#define X86_PCI_GSI_BASE 16
#define X86_PCI_GSI_COUNT 8

static inline unsigned int x86_pci_gsi(unsigned int slot, unsigned int pin)
{
	return X86_PCI_GSI_BASE + (slot + pin) % X86_PCI_GSI_COUNT;
}

/* Legacy ISA interrupts (GSI == IRQ except IRQ0, which is GSI 2). */
#define X86_COM1_PORT 0x3f8
#define X86_COM1_IRQ 4
#define X86_SCI_IRQ 9

struct x86_layout {
	uint64_t ram_size; /* all guest RAM, bytes */
	uint64_t low_ram; /* RAM at [0, low_ram) */
	uint64_t high_ram; /* RAM at [4 GiB, 4 GiB + high_ram) */
	uint64_t mmio64_base; /* PCI 64-bit window */
	uint64_t mmio64_size;
};

/* Split ram_size around the PCI hole. -EINVAL below 2 MiB or not whole pages. */
int x86_layout_init(struct x86_layout *l, uint64_t ram_size);

/*
 * Fill an e820 table (Linux boot protocol, boot_params.e820_table) for the
 * layout: RAM, the BIOS/ACPI area, ECAM and KVM's pages reserved, sorted by
 * address. Returns the number of entries or -ENOSPC when max is too small.
 */
int x86_e820_build(const struct x86_layout *l, struct boot_e820_entry *tab, unsigned int max);

#define X86_E820_RAM 1
#define X86_E820_RESERVED 2

#endif
