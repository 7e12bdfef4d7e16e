// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Logging and rate limiting: see log.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

enum log_level log_max_level = LOG_INFO;
static const char *log_prog = "vps";

void log_init(const char *progname, enum log_level max)
{
	log_prog = progname;
	log_max_level = max;
}

void log_print(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	va_list ap;

	if (lvl > log_max_level)
		return;
	fprintf(stderr, "%s: %s: ", log_prog, names[lvl]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

uint64_t log_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ratelimit_ok(struct ratelimit *rl, unsigned int burst, uint64_t interval_ms, uint64_t now_ms)
{
	if (rl->start_ms == 0 || now_ms - rl->start_ms >= interval_ms) {
		if (rl->missed)
			log_print(LOG_WARN, "%u messages suppressed", rl->missed);
		rl->start_ms = now_ms ? now_ms : 1;
		rl->printed = 0;
		rl->missed = 0;
	}
	if (rl->printed < burst) {
		rl->printed++;
		return 1;
	}
	rl->missed++;
	return 0;
}
