// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * san-probe: a deliberate sanitizer report, so the tests can show that a
 * report fails them. Built like every other program (ASan + UBSan in the
 * test build). `san-probe ubsan` overflows a signed int (UBSan), `asan`
 * reads past a heap block (ASan), `lsan` leaks a block (LeakSanitizer, at
 * exit), `none` does nothing wrong. Each then prints `survived` and exits 0:
 * that line means the sanitizer let the program carry on.
 *
 * Run by meson as a test that must fail (tests/unit/meson.build) and by
 * tests/integration/test_sanitizer.py, on this host and in L1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* volatile: the compiler sees neither the overflow nor the bad index */
static volatile int big = 0x7fffffff;
static volatile int past = 8;
static void *volatile kept; /* the leaked block, lost at exit */

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";

	if (!strcmp(what, "ubsan")) {
		int v = big + 1;

		printf("%d\n", v);
	} else if (!strcmp(what, "asan")) {
		char *volatile p = calloc(1, 8); /* volatile: not UBSan's object size */

		printf("%d\n", p[past]);
		free(p);
	} else if (!strcmp(what, "lsan")) {
		kept = malloc(64);
		kept = NULL;
	} else if (strcmp(what, "none")) {
		fprintf(stderr, "usage: san-probe ubsan|asan|lsan|none\n");
		return 2;
	}
	printf("survived\n");
	return 0;
}
