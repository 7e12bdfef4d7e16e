/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The freestanding runtime of the C micro-guests (the *64.c files here):
 * what a 64-bit payload needs to talk to vps-vmm's devices without an OS.
 * Port I/O, COM1 output, MMIO accessors, PCI configuration mechanism #1, a
 * page allocator over the guest's own RAM and a bounded wait. crt64.S calls
 * rt_init() and then main(ram_size); main's return value becomes the VM's
 * exit status through the test exit port (0xf4).
 *
 * Memory map the runtime assumes (src/vmm/arch/x86/micro.c):
 *   0x0000_0000  monitor's GDT and page tables (PD for 3-4 GiB at 0x6000)
 *   0x0010_0000  this payload, .bss included, below 2 MiB
 *   0x0020_0000  heap: pages handed out by alloc_pages(), upwards
 *   top - 256K   stack, down from the top of the identity map
 *   0xc000_0000  PCI MMIO window, 0xe000_0000 ECAM: mapped by rt_init()
 */
#ifndef MICRO_RT_H
#define MICRO_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SIZE 4096

#define COM1 0x3f8
#define EXIT_PORT 0xf4

#define PCI_MMIO_BASE 0xc0000000ULL /* src/vmm/arch/x86/layout.h */
#define PCI_MMIO_SIZE 0x20000000ULL
#define PCI_ECAM_BASE 0xe0000000ULL

/* Keep the compiler from moving memory accesses across this point. */
#define barrier() __asm__ volatile("" ::: "memory")

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/*
 * MMIO: one access of exactly the given width (a device register may have
 * side effects per access, and the monitor dispatches on the length), never
 * merged, split or reordered with other memory accesses by the compiler.
 * x86 keeps uncached accesses in program order, so no fence is needed.
 */
static inline uint8_t mmio_read8(uint64_t addr)
{
	uint8_t v;

	barrier();
	v = *(volatile uint8_t *)addr;
	barrier();
	return v;
}

static inline uint16_t mmio_read16(uint64_t addr)
{
	uint16_t v;

	barrier();
	v = *(volatile uint16_t *)addr;
	barrier();
	return v;
}

static inline uint32_t mmio_read32(uint64_t addr)
{
	uint32_t v;

	barrier();
	v = *(volatile uint32_t *)addr;
	barrier();
	return v;
}

static inline uint64_t mmio_read64(uint64_t addr)
{
	uint64_t v;

	barrier();
	v = *(volatile uint64_t *)addr;
	barrier();
	return v;
}

static inline void mmio_write8(uint64_t addr, uint8_t v)
{
	barrier();
	*(volatile uint8_t *)addr = v;
	barrier();
}

static inline void mmio_write16(uint64_t addr, uint16_t v)
{
	barrier();
	*(volatile uint16_t *)addr = v;
	barrier();
}

static inline void mmio_write32(uint64_t addr, uint32_t v)
{
	barrier();
	*(volatile uint32_t *)addr = v;
	barrier();
}

static inline void mmio_write64(uint64_t addr, uint64_t v)
{
	barrier();
	*(volatile uint64_t *)addr = v;
	barrier();
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* Set up the heap and map the PCI windows; called by crt64.S before main. */
void rt_init(uint64_t ram_size);

/* End the VM now with `status` (the test exit port); never returns. */
__attribute__((noreturn)) void rt_exit(uint8_t status);

/* COM1 output. The monitor's UART never makes a transmitter wait. */
void putc(char c);
void puts(const char *s);
void put_hex(uint64_t v, unsigned int digits);
void put_dec(uint64_t v);

/* Print "VPS-MICRO <name> FAIL <code>: <why>" and return `code`, for `return fail(...)`. */
int fail(const char *name, int code, const char *why);

void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* `n` zeroed, page-aligned pages of guest RAM, or NULL when the heap is spent. */
void *alloc_pages(size_t n);

/*
 * A deadline `ms` milliseconds away, in TSC cycles. Micro-guests have no
 * CPUID leaves set up to learn the TSC rate, so this assumes a fast 4 GHz:
 * on a slower TSC a timeout runs longer than asked (twice at 2 GHz), never
 * shorter, so a slow host does not turn into a spurious failure.
 */
uint64_t deadline_ms(uint64_t ms);

static inline bool expired(uint64_t deadline)
{
	return (int64_t)(rdtsc() - deadline) >= 0;
}

/* PCI configuration mechanism #1 (PCI Local Bus 3.0 §3.2.2.3.2), bus 0. */
uint32_t pci_read32(unsigned int slot, unsigned int off);
uint16_t pci_read16(unsigned int slot, unsigned int off);
uint8_t pci_read8(unsigned int slot, unsigned int off);
void pci_write32(unsigned int slot, unsigned int off, uint32_t v);
void pci_write16(unsigned int slot, unsigned int off, uint16_t v);

/* Type-0 header offsets, PCI Local Bus 3.0 §6.1 */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_CAPABILITY_LIST 0x34
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_STATUS_CAP_LIST 0x0010
#define PCI_BAR_MEM_64 0x04
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11

/* Slot of the first function with this vendor:device on bus 0, or -1. */
int pci_find(uint16_t vendor, uint16_t device);

/* Address a memory BAR decodes at (64-bit BARs read whole). */
uint64_t pci_bar_addr(unsigned int slot, unsigned int bar);

#endif
