/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket's requests (docs/ctm.md): one JSON object per line,
 * {"cmd": ...} and the command's fields. ctm_ctl_parse() checks a line and
 * says what is asked, without touching the container; monitor.c does it.
 * Kept apart so tests/fuzz can feed it any bytes a client may send.
 */
#ifndef VPS_CTM_CTL_H
#define VPS_CTM_CTL_H

#include <stdint.h>

#include <jansson.h>

#include "ctm/config.h"

enum ctm_ctl_cmd {
	CTM_CTL_STATE,
	CTM_CTL_STATS,
	CTM_CTL_SHUTDOWN,
	CTM_CTL_REBOOT,
	CTM_CTL_STOP,
	CTM_CTL_SET,
	CTM_CTL_GROW,
};

struct ctm_ctl_req {
	enum ctm_ctl_cmd cmd;
	unsigned int timeout; /* shutdown: seconds to SIGKILL; 0 = the settings' */
	struct ctm_config set; /* set: the settings with the new limits (shallow copy of c) */
	uint64_t disk; /* grow: the disk's new size */
};

/*
 * Parse one request line against the container's settings c. NULL when it
 * is a request (*req says which), else the error reply to send.
 */
json_t *ctm_ctl_parse(const char *line, const struct ctm_config *c, struct ctm_ctl_req *req);

/* {"ok": false, "error": MESSAGE} */
json_t *ctm_reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
