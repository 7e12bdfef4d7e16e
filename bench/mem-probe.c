// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mem-probe: a latency-sensitive workload for bench/oversell. It stands for
 * a small service on the host: a 32 MiB working set kept in a file (its
 * pages are page cache, which the kernel takes back first when memory runs
 * short, as a database's cache would be) and a fresh 1 MiB buffer per
 * request. Every 10 ms one request reads 512 random 4 KiB pages of the
 * file through a shared mapping, then allocates, touches and frees the
 * buffer; the time of each request is kept. On a host with room, every
 * page is resident and a request takes a few hundred microseconds; as
 * real memory use climbs, the file's pages are evicted and come back from
 * disk, and page allocation goes through direct reclaim: p99 climbs first.
 *
 *   mem-probe FILE SECONDS      -> "p50_us p99_us max_us requests majflt"
 *
 * FILE must exist and be at least 32 MiB (bench/oversell makes it).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define SET_BYTES (32UL << 20) /* the working set, in the file */
#define BUF_BYTES (1UL << 20) /* allocated and touched per request */
#define PAGES_PER_REQ 512 /* random pages of the set read per request */
#define PERIOD_NS 10000000L /* one request every 10 ms */

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	unsigned long pages = SET_BYTES / 4096, seed = 88172645463325252UL;
	volatile unsigned long sink = 0;
	double *lat, t0, end;
	struct rusage ru;
	size_t n = 0, cap;
	uint8_t *set;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: mem-probe FILE SECONDS\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	set = mmap(NULL, SET_BYTES, PROT_READ, MAP_SHARED, fd, 0);
	if (set == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	cap = (size_t)(atof(argv[2]) * 1e9 / PERIOD_NS) + 2;
	lat = calloc(cap, sizeof(*lat));
	end = now_us() + atof(argv[2]) * 1e6;
	while (n < cap && (t0 = now_us()) < end) {
		struct timespec nap = { 0, PERIOD_NS };
		uint8_t *buf;

		for (int i = 0; i < PAGES_PER_REQ; i++) {
			seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17; /* xorshift64 */
			sink += set[(seed % pages) * 4096 + (seed >> 40) % 4096];
		}
		buf = mmap(NULL, BUF_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			   0);
		if (buf == MAP_FAILED) {
			perror("mmap buffer");
			return 1;
		}
		for (size_t o = 0; o < BUF_BYTES; o += 4096)
			buf[o] = (uint8_t)o;
		munmap(buf, BUF_BYTES);
		lat[n++] = now_us() - t0;
		nanosleep(&nap, NULL);
	}
	getrusage(RUSAGE_SELF, &ru);
	qsort(lat, n, sizeof(*lat), cmp);
	printf("%.0f %.0f %.0f %zu %ld\n", lat[n / 2], lat[n * 99 / 100], lat[n - 1], n,
	       ru.ru_majflt);
	return 0;
}
