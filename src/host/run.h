/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Running a helper program from the daemon (run.c). */
#ifndef VPS_HOST_RUN_H
#define VPS_HOST_RUN_H

/*
 * Run argv (execv: a full path) with stdin on /dev/null, its stdout in *out
 * (and stderr in *err_out when that is not NULL; each at most 1 MiB, always
 * set on return >= 0, caller frees), killed after timeout_s seconds.
 * The exit status (128 + signal for a signal), or -errno.
 */
int host_run_capture(char *const *argv, char **out, char **err_out, int timeout_s);

#endif
