/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vps-ctm's control commands (docs/ctm.md), the table monitor/server.c
 * serves: each checks its request's fields, then calls what monitor.c does
 * for it, so a refused request touches nothing. Kept apart from monitor.c so
 * tests/fuzz can run the table against actions that do nothing.
 */
#ifndef VPS_CTM_CTL_H
#define VPS_CTM_CTL_H

#include <stdint.h>

#include <jansson.h>

#include "ctm/config.h"
#include "monitor/server.h"

/* What the container's monitor does once a request is checked; each returns the reply. */
struct ctm_ctl_ops {
	json_t *(*state)(void *m);
	json_t *(*stats)(void *m);
	json_t *(*shutdown)(void *m,
			    unsigned int timeout); /* seconds to SIGKILL; 0: the settings' */
	json_t *(*reboot)(void *m);
	json_t *(*stop)(void *m);
	json_t *(*set)(void *m,
		       const struct ctm_config *nc); /* the settings, new limits over them */
	json_t *(*grow)(void *m, uint64_t size); /* the disk's new size */
	json_t *(*disk_copy)(void *m, const char *to); /* a new file's absolute path */
};

/* The server's ctx for ctm_ctl_cmds. */
struct ctm_ctl {
	const struct ctm_ctl_ops *ops;
	void *m; /* passed to ops */
	const struct ctm_config *c; /* the settings a `set` starts from */
};

#define CTM_CTL_COMMANDS 8 /* state, stats, shutdown, reboot, stop, set, grow, disk-copy */
extern const struct monitor_cmd ctm_ctl_cmds[CTM_CTL_COMMANDS];

#endif
