/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Error objects for the user-facing layers (ct, host, cli), after crun's
 * `libcrun_error_t`: a function that can fail returns -errno and, when given
 * a `struct err **`, fills it with a message. Callers add context on the way
 * up with err_wrap(), so the user reads the whole chain:
 *   start vps `web1`: open `/var/lib/vps/web1.json`: No such file or directory
 * Messages are lower case, with no trailing period, names in backticks.
 */
#ifndef VPS_COMMON_ERR_H
#define VPS_COMMON_ERR_H

struct err {
	int errnum; /* positive errno, the cause */
	char *msg; /* full message, context first, strerror last */
};

/*
 * Record a failure. Returns -errnum so it can be the function's return value.
 * errnum may be 0 for errors that have no errno of their own (bad input is
 * then reported as EINVAL to the caller).
 */
int err_make(struct err **err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix an existing error with context. Returns -(*err)->errnum. */
int err_wrap(struct err **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void err_free(struct err **err);

/* The message, or "(no error)" when none is set. */
const char *err_msg(const struct err *err);

#endif
