// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Pause points for tests (testpoint.h). The kill -9 tests must show where
 * a kill landed, not guess it from a sleep: a lifecycle step names its
 * point with testpoint("create-row", name), and a vpsd started with
 * VPS_TEST_PAUSE=create-row stops that thread right there, says so, and
 * waits to be killed. The programs vpsd runs inherit the variable, so
 * vps-ctm's steps can pause too (its stderr goes to vpsd, not to a log:
 * VPS_TEST_PAUSE_LOG names a file for the lines). Without the variable a
 * call costs one getenv().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/testpoint.h"

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
	const char *list = getenv("VPS_TEST_PAUSE"), *log = getenv("VPS_TEST_PAUSE_LOG");
	int fd = STDERR_FILENO;

	if (!list || !listed(list, point))
		return;
	if (log && *log)
		fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	/* one write: the test looks for the whole line */
	dprintf(fd, "%s: test pause at `%s` of `%s`\n", program_invocation_short_name, point, vps);
	for (;;)
		pause();
}
