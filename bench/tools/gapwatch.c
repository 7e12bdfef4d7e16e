// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * gapwatch: the pause a guest sees, seen from inside it (bench/snapshot).
 * Reads CLOCK_MONOTONIC in a tight loop and keeps the longest gap between
 * two reads; stops once the file named by its argument exists (looked for
 * every 10 ms of its own time) and writes that gap in microseconds to
 * stdout. A frozen cgroup (a snapshot's freeze) stops the loop: the gap is
 * the pause, plus the scheduler's own noise, which a run without a
 * snapshot measures.
 *
 * No libc: raw x86-64 system calls, so the static binary is a few KiB and
 * goes into a busybox container through `vps exec` as base64.
 *
 *   gcc -Os -static -nostdlib -fno-stack-protector -o gapwatch gapwatch.c
 *   gapwatch STOPFILE > out
 */
typedef unsigned long u64;

struct ts {
	long sec, nsec;
};

static long sys(long n, long a, long b, long c)
{
	long r;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return r;
}

static u64 now_ns(void)
{
	struct ts t;

	sys(228, 1, (long)&t, 0); /* clock_gettime(CLOCK_MONOTONIC) */
	return (u64)t.sec * 1000000000ul + (u64)t.nsec;
}

static int run(const char *stop)
{
	u64 prev = now_ns(), next_check = prev + 10000000ul, worst = 0, us;
	char out[24];
	int i = sizeof(out);

	for (;;) {
		u64 t = now_ns();

		if (t - prev > worst)
			worst = t - prev;
		prev = t;
		if (t >= next_check) {
			if (sys(21, (long)stop, 0, 0) == 0) /* access(stop, F_OK) */
				break;
			next_check =
				t + 10000000ul; /* the check's microseconds count in the next gap */
		}
	}
	us = worst / 1000;
	out[--i] = '\n';
	do
		out[--i] = '0' + us % 10;
	while ((us /= 10));
	sys(1, 1, (long)(out + i), sizeof(out) - i); /* write */
	return 0;
}

void __attribute__((naked, noreturn)) _start(void)
{
	/* argc at (%rsp), argv[0] at 8(%rsp), argv[1] at 16(%rsp) */
	__asm__ volatile("mov 16(%rsp), %rdi\n"
			 "and $-16, %rsp\n"
			 "call start_c\n");
}

void __attribute__((noreturn, used)) start_c(const char *stop)
{
	sys(60, stop ? run(stop) : 2, 0, 0); /* exit */
	__builtin_unreachable();
}
