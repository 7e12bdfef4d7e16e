// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The C micro-guests' runtime: see rt.h. Nothing here may assume more than
 * vps-vmm's long-mode entry gives (micro.c): an identity map of the RAM it
 * gave us in 2 MiB pages, a stack, and no interrupt controller or IDT, so
 * every wait is a bounded poll.
 */
#include "rt.h"

#define PD_3G 0x6000ULL /* the monitor's page directory for 3-4 GiB, micro.c */
#define PTE_P (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_PWT (1ULL << 3)
#define PTE_PCD (1ULL << 4) /* with PWT: uncacheable, as MMIO wants (SDM 3A §11.12.3) */
#define PTE_PS (1ULL << 7)
#define HUGE (2ULL << 20)

#define HEAP_START 0x200000ULL
#define STACK_RESERVE (256ULL << 10)

#define PCI_CONF1_ADDR 0xcf8
#define PCI_CONF1_DATA 0xcfc

static uint64_t heap_next, heap_end;

void rt_exit(uint8_t status)
{
	outb(EXIT_PORT, status);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/*
 * The monitor maps only the RAM it gave us, so the PCI MMIO window and the
 * ECAM page, which lie above RAM, fault until we map them ourselves: point
 * the (present, empty) 3-4 GiB page directory at them, uncached.
 */
static void map_pci_windows(void)
{
	volatile uint64_t *pd = (volatile uint64_t *)PD_3G;
	uint64_t a, cr3;

	for (a = PCI_MMIO_BASE; a < PCI_ECAM_BASE + HUGE; a += HUGE)
		pd[(a - (3ULL << 30)) / HUGE] = a | PTE_P | PTE_RW | PTE_PWT | PTE_PCD | PTE_PS;
	/* Reloading CR3 flushes any stale not-present entry from the TLB. */
	__asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
}

void rt_init(uint64_t ram_size)
{
	uint64_t mapped = ram_size < (4ULL << 30) ? ram_size : (4ULL << 30);

	/* micro.c puts RAM at 0 with no hole: above 3 GiB it would hide the window. */
	if (ram_size > PCI_MMIO_BASE) {
		puts("VPS-MICRO rt: RAM overlaps the PCI window\n");
		rt_exit(0xfe);
	}
	heap_next = HEAP_START;
	heap_end = (mapped & ~(HUGE - 1)) - STACK_RESERVE;
	map_pci_windows();
}

void putc(char c)
{
	outb(COM1, c);
}

void puts(const char *s)
{
	while (*s)
		putc(*s++);
}

void put_hex(uint64_t v, unsigned int digits)
{
	static const char hex[] = "0123456789abcdef";

	while (digits--)
		putc(hex[(v >> (4 * digits)) & 0xf]);
}

void put_dec(uint64_t v)
{
	char buf[21];
	int i = sizeof(buf) - 1;

	buf[i] = 0;
	do {
		buf[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	puts(buf + i);
}

int fail(const char *name, int code, const char *why)
{
	puts("VPS-MICRO ");
	puts(name);
	puts(" FAIL ");
	put_dec(code);
	puts(": ");
	puts(why);
	putc('\n');
	return code;
}

/*
 * GCC may emit calls to these even in freestanding code. String
 * instructions, not loops: where /dev/kvm emulates the guest instruction by
 * instruction (a PVM host running a guest that is not PVM-aware), one
 * `rep stos` costs what a few loop iterations do, and a byte loop over a
 * megabyte costs seconds.
 */
void *memset(void *s, int c, size_t n)
{
	void *d = s;

	if (!c && !((uintptr_t)s % 8) && !(n % 8)) {
		n /= 8;
		__asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(0ULL) : "memory");
	} else {
		__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	}
	return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
	void *dp = d;

	__asm__ volatile("rep movsb" : "+D"(dp), "+S"(s), "+c"(n) : : "memory");
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

void *alloc_pages(size_t n)
{
	uint64_t p = heap_next;

	if (n > (heap_end - heap_next) / PAGE_SIZE)
		return NULL;
	heap_next += n * PAGE_SIZE;
	return memset((void *)p, 0, n * PAGE_SIZE);
}

uint64_t deadline_ms(uint64_t ms)
{
	return rdtsc() + ms * 4000000ULL;
}

static void conf1_select(unsigned int slot, unsigned int off)
{
	outl(PCI_CONF1_ADDR, 0x80000000u | (slot & 31) << 11 | (off & 0xfc));
}

uint32_t pci_read32(unsigned int slot, unsigned int off)
{
	conf1_select(slot, off);
	return inl(PCI_CONF1_DATA);
}

uint16_t pci_read16(unsigned int slot, unsigned int off)
{
	conf1_select(slot, off);
	return inw(PCI_CONF1_DATA + (off & 2));
}

uint8_t pci_read8(unsigned int slot, unsigned int off)
{
	conf1_select(slot, off);
	return inb(PCI_CONF1_DATA + (off & 3));
}

void pci_write32(unsigned int slot, unsigned int off, uint32_t v)
{
	conf1_select(slot, off);
	outl(PCI_CONF1_DATA, v);
}

void pci_write16(unsigned int slot, unsigned int off, uint16_t v)
{
	conf1_select(slot, off);
	outw(PCI_CONF1_DATA + (off & 2), v);
}

int pci_find(uint16_t vendor, uint16_t device)
{
	unsigned int slot;

	for (slot = 0; slot < 32; slot++)
		if (pci_read32(slot, PCI_VENDOR_ID) == ((uint32_t)device << 16 | vendor))
			return slot;
	return -1;
}

uint64_t pci_bar_addr(unsigned int slot, unsigned int bar)
{
	uint32_t lo = pci_read32(slot, PCI_BAR0 + 4 * bar);
	uint64_t addr = lo & ~0xfu;

	if (lo & PCI_BAR_MEM_64)
		addr |= (uint64_t)pci_read32(slot, PCI_BAR0 + 4 * bar + 4) << 32;
	return addr;
}
