// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cpuloop: the CPU-bound workload of bench/overhead. A fixed integer loop
 * (splitmix64 steps folded into a running hash: multiplies, shifts, xors,
 * no memory traffic beyond registers, no system calls) run for N million
 * rounds; prints the seconds it took (CLOCK_MONOTONIC) and nothing else on
 * stdout. The hash goes to stderr, so the compiler cannot drop the loop and
 * a broken build shows as a changed hash. Built static (`cc -O2 -static`), so the same binary runs
 * on the host, in a container and in a VM.
 *
 * On stderr, one line says where the wall time went, as the kernel counts
 * it for this process (all measured around the loop only):
 *
 *   cpuloop: ROUNDS rounds, hash H, wall W s, cpu C s, user U s, sys S s,
 *   runq Q s, slices N, nivcsw I, nvcsw V
 *
 *   cpu    CLOCK_PROCESS_CPUTIME_ID: time on a CPU (the kernel's task clock;
 *          with steal-time accounting, the hypervisor's steal is not in it)
 *   runq   /proc/self/schedstat's second field: time runnable but waiting
 *          for a CPU (another task had it); -1 when the file is missing
 *   slices /proc/self/schedstat's third field: times put on a CPU
 *   nivcsw getrusage: involuntary context switches (preempted)
 *
 * A loop without system calls has wall ≈ cpu + runq: what it loses to
 * other work on the machine shows in runq and nivcsw, not in cpu.
 *
 *   cpuloop [MILLIONS]     default 2000
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv)
{
	return tv.tv_sec + tv.tv_usec / 1e6;
}

/* run ns, runqueue wait ns, slices; all -1 without /proc */
static void schedstat(long long v[3])
{
	FILE *f = fopen("/proc/self/schedstat", "r");

	v[0] = v[1] = v[2] = -1;
	if (!f)
		return;
	if (fscanf(f, "%lld %lld %lld", &v[0], &v[1], &v[2]) != 3)
		v[0] = v[1] = v[2] = -1;
	fclose(f);
}

int main(int argc, char **argv)
{
	uint64_t rounds = (argc > 1 ? strtoull(argv[1], NULL, 10) : 2000) * 1000000ULL;
	uint64_t x = 0x9e3779b97f4a7c15ULL, h = 0;
	double t0, t1, c0, c1;
	struct rusage r0, r1;
	long long s0[3], s1[3];

	if (rounds == 0) {
		fprintf(stderr, "usage: cpuloop [MILLIONS]\n");
		return 2;
	}
	schedstat(s0);
	getrusage(RUSAGE_SELF, &r0);
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	t0 = clock_s(CLOCK_MONOTONIC);
	for (uint64_t i = 0; i < rounds; i++) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		h = (h ^ z ^ (z >> 31)) * 0x100000001b3ULL;
	}
	t1 = clock_s(CLOCK_MONOTONIC);
	c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	getrusage(RUSAGE_SELF, &r1);
	schedstat(s1);
	printf("%.4f\n", t1 - t0);
	fprintf(stderr,
		"cpuloop: %llu rounds, hash %016llx, wall %.4f s, cpu %.4f s, user %.4f s, "
		"sys %.4f s, runq %.4f s, slices %lld, nivcsw %ld, nvcsw %ld\n",
		(unsigned long long)rounds, (unsigned long long)h, t1 - t0, c1 - c0,
		tv_s(r1.ru_utime) - tv_s(r0.ru_utime), tv_s(r1.ru_stime) - tv_s(r0.ru_stime),
		s0[1] < 0 || s1[1] < 0 ? -1.0 : (s1[1] - s0[1]) / 1e9,
		s0[2] < 0 || s1[2] < 0 ? -1LL : s1[2] - s0[2], r1.ru_nivcsw - r0.ru_nivcsw,
		r1.ru_nvcsw - r0.ru_nvcsw);
	return 0;
}
