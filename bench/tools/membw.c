// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * membw: the memory-bandwidth workload of bench/overhead. memcpy() between
 * two buffers much larger than any cache (default 64 MiB each), REPS times
 * after one untimed copy that faults every page in; prints the copy rate in
 * GB/s (10^9 bytes copied per second, counted once per byte as mbw does)
 * and nothing else on stdout. Built static, like cpuloop, so every place
 * runs the same memcpy from the same libc.
 *
 *   membw [MIB [REPS]]     default 64 MiB, 20 copies
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	unsigned reps = argc > 2 ? strtoul(argv[2], NULL, 10) : 20;
	size_t len = mib << 20;
	char *a, *b;
	double t0, t1;

	if (mib == 0 || reps == 0) {
		fprintf(stderr, "usage: membw [MIB [REPS]]\n");
		return 2;
	}
	a = malloc(len);
	b = malloc(len);
	if (!a || !b) {
		perror("membw: malloc");
		return 1;
	}
	memset(a, 0x5a, len);
	memcpy(b, a, len); /* faults in every page of b */
	t0 = now();
	for (unsigned i = 0; i < reps; i++) {
		a[i] = (char)i; /* each copy moves different bytes */
		memcpy(i & 1 ? a : b, i & 1 ? b : a, len);
	}
	t1 = now();
	printf("%.3f\n", (double)len * reps / (t1 - t0) / 1e9);
	fprintf(stderr, "membw: %zu MiB x %u, check %d\n", mib, reps, a[len / 2] + b[len / 3]);
	return 0;
}
