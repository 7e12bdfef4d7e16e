// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Pause points for tests (testpoint.h). The kill -9 tests must show where
 * a kill landed, not guess it from a sleep: a lifecycle step names its
 * point with testpoint("create-row", name), and a daemon started with
 * VPS_TEST_PAUSE=create-row stops that thread right there, says so on
 * stderr (its log), and waits to be killed. Without the variable a call
 * costs one getenv().
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/testpoint.h"

static bool listed(const char *list, const char *point)
{
	size_t n = strlen(point);

	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");

		if (len == n && !strncmp(p, point, n))
			return true;
		p += len;
		p += *p == ',';
	}
	return false;
}

void testpoint(const char *point, const char *vps)
{
	const char *list = getenv("VPS_TEST_PAUSE");

	if (!list || !listed(list, point))
		return;
	/* one write: the test greps the log for the whole line */
	dprintf(STDERR_FILENO, "vpsd: test pause at `%s` of `%s`\n", point, vps);
	for (;;)
		pause();
}
