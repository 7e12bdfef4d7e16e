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
 * Beside it, the longest time the loop was stopped: over the gaps in which
 * it was taken off the CPU while not runnable (a voluntary context switch,
 * getrusage's ru_nvcsw, within the gap or at its edge: the freezer puts a
 * task to sleep that way, a busy host's scheduler preempts it instead, and
 * the loop itself never sleeps), the gap less the time it waited for a CPU
 * (/proc/self/schedstat's run delay, read after every clock read). Each
 * read is a system call, and a frozen task stops at a call's return, so a
 * wait shows in the read after the call it followed: the wait subtracted is
 * that of the gap and the one before it, which never misses the gap's own
 * and errs short only if the loop was also preempted just before. On a
 * loaded machine the first figure is mostly the other work's; the second
 * is the pause. One line: `GAP_US STOPPED_US`.
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

/* voluntary context switches of this thread so far (getrusage) */
static long nvcsw(void)
{
	long ru[18]; /* struct rusage: 2 timevals, then 14 longs; ru_nvcsw is the 14th */

	sys(98, 1, (long)ru, 0); /* getrusage(RUSAGE_THREAD) */
	return ru[4 + 13 - 1];
}

/* run-queue wait so far in ns (schedstat's second field), or 0 */
static u64 waited_ns(long fd)
{
	char buf[96];
	long n = fd < 0 ? -1 : sys(17, fd, (long)buf, sizeof(buf) - 1); /* pread64 at 0 */
	int i = 0;
	u64 v = 0;

	if (n <= 0)
		return 0;
	buf[n] = 0;
	while (buf[i] && buf[i] != ' ')
		i++;
	while (buf[i] == ' ')
		i++;
	while (buf[i] >= '0' && buf[i] <= '9')
		v = v * 10 + (u64)(buf[i++] - '0');
	return v;
}

static int put(char *out, int i, u64 v)
{
	do
		out[--i] = '0' + v % 10;
	while ((v /= 10));
	return i;
}

static int run(const char *stop)
{
	long fd = sys(2, (long)"/proc/self/schedstat", 0, 0); /* open, O_RDONLY */
	u64 prev = now_ns(), next_check = prev + 10000000ul, worst = 0, worst_stopped = 0;
	u64 w1 = waited_ns(fd), w2 = w1;
	long v1 = nvcsw(), v2 = v1;
	char out[48];
	int i = sizeof(out);

	for (;;) {
		u64 t = now_ns(), w = waited_ns(fd), stopped = t - prev - (w - w2);
		long v = nvcsw();

		if (t - prev > worst)
			worst = t - prev;
		/* a sleep in this gap shows in v, or in v1 if it came just after prev's read */
		if ((v != v1 || v1 != v2) && w - w2 < t - prev && stopped > worst_stopped)
			worst_stopped = stopped;
		prev = t;
		w2 = w1;
		w1 = w;
		v2 = v1;
		v1 = v;
		if (t >= next_check) {
			if (sys(21, (long)stop, 0, 0) == 0) /* access(stop, F_OK) */
				break;
			next_check =
				t + 10000000ul; /* the check's microseconds count in the next gap */
		}
	}
	out[--i] = '\n';
	i = put(out, i, worst_stopped / 1000);
	out[--i] = ' ';
	i = put(out, i, worst / 1000);
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
