/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the libFuzzer targets in tests/fuzz share (docs/fuzzing.md): a reader
 * that takes fixed-size fields off the front of the fuzzer's input (zeros
 * once it runs out, so every input is a valid program), and fake guest RAM
 * for the device targets. Each target is one LLVMFuzzerTestOneInput() that
 * drives the project's own code, linked from the same static libraries the
 * programs use.
 */
#ifndef VPS_TESTS_FUZZ_H
#define VPS_TESTS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vmm/mem.h"

/*
 * On the harness's own functions: their branches follow the input's bytes,
 * not the code under test, so coverage feedback from them is noise, and its
 * callbacks (one per comparison) cost time: replaying the pci corpus took
 * about a tenth less CPU without them.
 */
#define FUZZ_NOCOV __attribute__((no_sanitize("coverage")))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* In fuzz.c for every target: logs errors only (the input is hostile on purpose). */
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

FUZZ_NOCOV
static inline void fuzz_take(struct fuzz_in *in, void *out, size_t len)
{
	size_t k = len < in->n ? len : in->n;

	memcpy(out, in->p, k);
	memset((uint8_t *)out + k, 0, len - k);
	in->p += k;
	in->n -= k;
}

FUZZ_NOCOV
static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	uint8_t v;

	fuzz_take(in, &v, 1);
	return v;
}

FUZZ_NOCOV
static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t v;

	fuzz_take(in, &v, 2);
	return v;
}

FUZZ_NOCOV
static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint32_t v;

	fuzz_take(in, &v, 4);
	return v;
}

FUZZ_NOCOV
static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	uint64_t v;

	fuzz_take(in, &v, 8);
	return v;
}

/*
 * Fake guest RAM: FUZZ_RAM_SIZE bytes at guest-physical 0, mapped once
 * (page-aligned, as the monitor's RAM is: the balloon advises its pages
 * away) and zeroed by fuzz_ram_reset() before each input.
 */
#define FUZZ_RAM_SIZE 0x10000

const struct guest_mem *fuzz_ram(void);
uint8_t *fuzz_ram_reset(void);

#endif
