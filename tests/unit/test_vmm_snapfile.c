// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the snapshot state file (src/vmm/snapfile.c): what is
 * written reads back; every truncation, every flipped bit and sections that
 * lie about their length (with the checksum made right) are refused, and
 * under AddressSanitizer nothing is read outside the file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/snapshot.h"

/* A state file of three sections, as bytes. */
static uint8_t *sample(size_t *len)
{
	uint8_t regs[40], big[300];
	struct snap_w w;
	uint8_t *out;
	int fd;
	off_t n;

	memset(regs, 0x11, sizeof(regs));
	memset(big, 0x22, sizeof(big));
	snap_w_init(&w);
	snap_put(&w, SNAP_REGS, 0, regs, sizeof(regs));
	snap_put(&w, SNAP_REGS, 1, regs, 3); /* padded to 8 */
	snap_put(&w, SNAP_VIRTIO, 7, big, sizeof(big));
	fd = memfd_create("state", 0);
	assert_true(fd >= 0);
	assert_int_equal(snap_w_write(&w, fd), 0);
	snap_w_free(&w);
	n = lseek(fd, 0, SEEK_END);
	out = malloc(n);
	assert_int_equal(pread(fd, out, n, 0), n);
	close(fd);
	*len = n;
	return out;
}

/* Parse a private copy sized exactly (ASan sees any read past it); 0 or -1. */
static int parse(const uint8_t *data, size_t len, struct err **e)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct snap_r r;
	int ret;

	memcpy(copy, data, len);
	ret = snap_r_parse(&r, copy, len, e);
	snap_r_free(&r);
	return ret < 0 ? -1 : 0;
}

static void round_trip(void **state)
{
	size_t len, have;
	uint8_t *f = sample(&len);
	struct err *e = NULL;
	const uint8_t *p;
	struct snap_r r;

	assert_int_equal(len % 8, 0);
	assert_int_equal(snap_r_parse(&r, f, len, &e), 0);
	assert_int_equal(r.nr, 3);
	p = snap_get(&r, SNAP_REGS, 1, 3, &e);
	assert_non_null(p);
	assert_int_equal(p[0], 0x11);
	assert_non_null(snap_find(&r, SNAP_VIRTIO, 7, &have));
	assert_int_equal(have, 300);
	/* the wrong length, or a section that is not there, is an error naming it */
	assert_null(snap_get(&r, SNAP_REGS, 0, 41, &e));
	assert_non_null(strstr(err_msg(e), "is 40 bytes, expected 41"));
	err_free(&e);
	assert_null(snap_get(&r, SNAP_SREGS, 0, 8, &e));
	assert_non_null(strstr(err_msg(e), "no section"));
	err_free(&e);
	snap_r_free(&r);
}

static void every_truncation_refused(void **state)
{
	size_t len, n;
	uint8_t *f = sample(&len);

	for (n = 0; n < len; n++) {
		struct err *e = NULL;

		assert_int_equal(parse(f, n, &e), -1);
		err_free(&e);
	}
	free(f);
}

static void every_bit_flip_refused(void **state)
{
	size_t len, i;
	uint8_t *f = sample(&len);

	for (i = 0; i < len * 8; i++) {
		struct err *e = NULL;

		f[i / 8] ^= 1u << (i % 8);
		assert_int_equal(parse(f, len, &e), -1);
		err_free(&e);
		f[i / 8] ^= 1u << (i % 8);
	}
	free(f);
}

static void reseal(uint8_t *f, size_t len)
{
	uint32_t c = snap_crc32(f + 32, len - 32);

	memcpy(f + 24, &c, 4);
}

/* Section lengths an attacker chose, with a correct checksum: refused, never read past. */
static void lying_lengths_refused(void **state)
{
	static const uint32_t lies[] = { 41, 48, 400, 0x7fffffff, 0xfffffff8, 0xffffffff };
	size_t len, i;
	uint8_t *f = sample(&len);

	for (i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		uint8_t *g = malloc(len);
		struct err *e = NULL;

		memcpy(g, f, len);
		memcpy(g + 32 + 8, &lies[i], 4); /* the first section's length */
		reseal(g, len);
		assert_int_equal(parse(g, len, &e), -1);
		err_free(&e);
		free(g);
	}
	free(f);
}

static void version_and_duplicates_refused(void **state)
{
	size_t len;
	uint8_t *f = sample(&len);
	uint32_t v = 2, id0 = 0;
	struct err *e = NULL;

	memcpy(f + 8, &v, 4);
	assert_int_equal(parse(f, len, &e), -1);
	assert_non_null(strstr(err_msg(e), "version 2"));
	err_free(&e);
	v = SNAP_VERSION;
	memcpy(f + 8, &v, 4);
	/* section 2 (REGS/1) renamed REGS/0: the same section twice */
	memcpy(f + 32 + 16 + 40 + 4, &id0, 4);
	reseal(f, len);
	assert_int_equal(parse(f, len, &e), -1);
	assert_non_null(strstr(err_msg(e), "appears twice"));
	err_free(&e);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(every_truncation_refused),
		cmocka_unit_test(every_bit_flip_refused),
		cmocka_unit_test(lying_lengths_refused),
		cmocka_unit_test(version_and_duplicates_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
