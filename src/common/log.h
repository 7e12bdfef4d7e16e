/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging for the low-level parts (vmm, ct engine): lines go to stderr with a
 * level and the program name. pr_ratelimited() is for anything a guest can
 * trigger: a hostile guest must not be able to flood the host's log (the
 * Firecracker rule), so each call site gets a budget per interval and counts
 * what it dropped.
 */
#ifndef VPS_COMMON_LOG_H
#define VPS_COMMON_LOG_H

#include <stdint.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_max_level;

void log_init(const char *progname, enum log_level max);
void log_print(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_err(...) log_print(LOG_ERR, __VA_ARGS__)
#define pr_warn(...) log_print(LOG_WARN, __VA_ARGS__)
#define pr_info(...) log_print(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_print(LOG_DEBUG, __VA_ARGS__)

/* Per-call-site budget: at most `burst` lines per `interval_ms`. */
struct ratelimit {
	uint64_t start_ms; /* start of the current interval */
	unsigned int printed; /* lines printed in this interval */
	unsigned int missed; /* lines dropped in this interval */
};

/* Returns 1 when the caller may print; reports drops when a new interval opens. */
int ratelimit_ok(struct ratelimit *rl, unsigned int burst, uint64_t interval_ms, uint64_t now_ms);

uint64_t log_now_ms(void);

#define pr_ratelimited(lvl, ...)                                \
	do {                                                    \
		static struct ratelimit rl_;                    \
		if (ratelimit_ok(&rl_, 10, 5000, log_now_ms())) \
			log_print(lvl, __VA_ARGS__);            \
	} while (0)

#endif
