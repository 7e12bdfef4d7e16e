// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cpuloop: the CPU-bound workload of bench/overhead. A fixed integer loop
 * (splitmix64 steps folded into a running hash: multiplies, shifts, xors,
 * no memory traffic beyond registers, no system calls) run for N million
 * rounds; prints the seconds it took (CLOCK_MONOTONIC) and nothing else on
 * stdout, and the hash on stderr, so the compiler cannot drop the loop and
 * a broken build shows as a changed hash. Built static (`cc -O2 -static`),
 * so the same binary runs on the host, in a container and in a VM.
 *
 *   cpuloop [MILLIONS]     default 2000
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint64_t rounds = (argc > 1 ? strtoull(argv[1], NULL, 10) : 2000) * 1000000ULL;
	uint64_t x = 0x9e3779b97f4a7c15ULL, h = 0;
	double t0, t1;

	if (rounds == 0) {
		fprintf(stderr, "usage: cpuloop [MILLIONS]\n");
		return 2;
	}
	t0 = now();
	for (uint64_t i = 0; i < rounds; i++) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		h = (h ^ z ^ (z >> 31)) * 0x100000001b3ULL;
	}
	t1 = now();
	printf("%.4f\n", t1 - t0);
	fprintf(stderr, "cpuloop: %llu rounds, hash %016llx\n", (unsigned long long)rounds,
		(unsigned long long)h);
	return 0;
}
