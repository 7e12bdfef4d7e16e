// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the text of the container's /proc/meminfo and /proc/swaps
 * (src/ctm/procfs.c): the vswap as sold on a host without swap, its use
 * taken off SwapFree (never below 0), the memory limit against the host's
 * total, the host's other lines kept, and a text that does not fit refused.
 * The FUSE file system that serves them in a real container is
 * tests/integration/test_ct_meminfo.py.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctm/procfs.h"

#define MIB (1024ULL * 1024)

/* A host without swap, as this test machine is. */
static const char host[] = "MemTotal:       24684544 kB\n"
			   "MemFree:        22634496 kB\n"
			   "MemAvailable:   24063488 kB\n"
			   "Buffers:           12345 kB\n"
			   "Cached:          1700000 kB\n"
			   "SwapCached:            0 kB\n"
			   "Active(anon):     100000 kB\n"
			   "SwapTotal:             0 kB\n"
			   "SwapFree:              0 kB\n"
			   "Shmem:             10000 kB\n"
			   "HugePages_Total:       0\n"
			   "Hugepagesize:       2048 kB\n";

/* The number of the line KEY in text, in kB (or the bare number). */
static long long field(const char *text, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "\n%s", key);
	if (!strncmp(text, key, strlen(key)))
		p = text;
	else if ((p = strstr(text, k)))
		p++;
	else
		fail_msg("no `%s` in:\n%s", key, text);
	return strtoll(p + strlen(key), NULL, 10);
}

static void test_swap_as_sold(void **state)
{
	struct ctm_meminfo m = { .limit = 64 * MIB,
				 .usage = 20 * MIB,
				 .swap = 64 * MIB,
				 .cache = 4 * MIB,
				 .active_anon = 10 * MIB,
				 .shmem = 1 * MIB };
	char out[4096];
	int n;

	(void)state;
	n = ctm_meminfo_render(host, &m, out, sizeof(out));
	assert_true(n > 0 && (size_t)n == strlen(out));
	assert_int_equal(field(out, "MemTotal:"), 65536);
	assert_int_equal(field(out, "MemFree:"), 65536 - 20480);
	assert_int_equal(field(out, "MemAvailable:"), 65536 - 20480 + 4096);
	assert_int_equal(field(out, "SwapTotal:"), 65536); /* the host has 0 */
	assert_int_equal(field(out, "SwapFree:"), 65536);
	assert_int_equal(field(out, "Buffers:"), 0);
	assert_int_equal(field(out, "Cached:"), 4096);
	assert_int_equal(field(out, "Active(anon):"), 10240);
	assert_int_equal(field(out, "Shmem:"), 1024);
	/* lines the cgroup has no figure for stay the host's, in their order */
	assert_int_equal(field(out, "HugePages_Total:"), 0);
	assert_int_equal(field(out, "Hugepagesize:"), 2048);
	assert_non_null(strstr(out, "Hugepagesize:       2048 kB\n"));
	assert_true(strstr(out, "SwapTotal:") < strstr(out, "SwapFree:"));
	/* the columns procps reads: key, spaces, number, " kB" */
	assert_non_null(strstr(out, "SwapTotal:         65536 kB\n"));

	/* pushed into swap: SwapFree goes down by what is used */
	m.swap_usage = 24 * MIB;
	ctm_meminfo_render(host, &m, out, sizeof(out));
	assert_int_equal(field(out, "SwapTotal:"), 65536);
	assert_int_equal(field(out, "SwapFree:"), 65536 - 24576);
	/* more used than sold (the kernel may, briefly): 0, never a wrap */
	m.swap_usage = 80 * MIB;
	ctm_meminfo_render(host, &m, out, sizeof(out));
	assert_int_equal(field(out, "SwapFree:"), 0);
}

static void test_no_swap_and_no_limit(void **state)
{
	struct ctm_meminfo m = { .usage = 30 * MIB };
	char out[4096];

	(void)state;
	ctm_meminfo_render(host, &m, out, sizeof(out));
	assert_int_equal(field(out, "SwapTotal:"), 0);
	assert_int_equal(field(out, "SwapFree:"), 0);
	/* no limit, or one above the host's RAM: the host's total */
	assert_int_equal(field(out, "MemTotal:"), 24684544);
	m.limit = 1ULL << 50;
	ctm_meminfo_render(host, &m, out, sizeof(out));
	assert_int_equal(field(out, "MemTotal:"), 24684544);
	/* usage over the limit (kernel memory, briefly): free is 0 */
	m.limit = 16 * MIB;
	ctm_meminfo_render(host, &m, out, sizeof(out));
	assert_int_equal(field(out, "MemFree:"), 0);
}

static void test_too_small(void **state)
{
	struct ctm_meminfo m = { .limit = 64 * MIB, .swap = 64 * MIB };
	char out[64];

	(void)state;
	assert_int_equal(ctm_meminfo_render(host, &m, out, sizeof(out)), -ENOSPC);
	assert_int_equal(ctm_swaps_render(&m, out, 16), -ENOSPC);
}

static void test_swaps(void **state)
{
	struct ctm_meminfo m = { .swap = 64 * MIB, .swap_usage = 8 * MIB };
	char out[512];
	char name[64], type[64];
	long long size, used;
	int prio;

	(void)state;
	assert_true(ctm_swaps_render(&m, out, sizeof(out)) > 0);
	assert_int_equal(strncmp(out, "Filename", 8), 0);
	assert_int_equal(sscanf(strchr(out, '\n') + 1, "%63s %63s %lld %lld %d", name, type, &size,
				&used, &prio),
			 5);
	assert_string_equal(name, "none");
	assert_string_equal(type, "virtual");
	assert_int_equal(size, 65536);
	assert_int_equal(used, 8192);
	/* none sold: the header alone, as the kernel's with no swap */
	m.swap = 0;
	assert_true(ctm_swaps_render(&m, out, sizeof(out)) > 0);
	assert_string_equal(strchr(out, '\n'), "\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_swap_as_sold),
		cmocka_unit_test(test_no_swap_and_no_limit),
		cmocka_unit_test(test_too_small),
		cmocka_unit_test(test_swaps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
