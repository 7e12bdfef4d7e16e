// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fake guest RAM for the monitor's targets: see fuzz.h.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "fuzz.h"

static struct guest_mem mem;
static uint8_t *ram;

FUZZ_NOCOV
const struct guest_mem *fuzz_ram(void)
{
	if (!ram) {
		ram = mmap(NULL, FUZZ_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
		if (ram == MAP_FAILED || guest_mem_add(&mem, 0, FUZZ_RAM_SIZE, ram) < 0)
			abort();
	}
	return &mem;
}

FUZZ_NOCOV
uint8_t *fuzz_ram_reset(void)
{
	fuzz_ram();
	memset(ram, 0, FUZZ_RAM_SIZE);
	return ram;
}
