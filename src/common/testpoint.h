/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pause points for the kill -9 tests (testpoint.c; docs/vpsd.md, "Test
 * pause points"). Test-only: they do nothing unless VPS_TEST_PAUSE is set.
 */
#ifndef VPS_COMMON_TESTPOINT_H
#define VPS_COMMON_TESTPOINT_H

/*
 * With VPS_TEST_PAUSE=POINT[,POINT...] in the environment and `point` among
 * them: say "PROG: test pause at `POINT` of `VPS`" (in the file
 * $VPS_TEST_PAUSE_LOG, else on stderr) and block the calling thread for
 * good: the test kills the program there. Otherwise return.
 */
void testpoint(const char *point, const char *vps);

#endif
