// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Running a helper program from the daemon (run.h): vps-ctm, vps-ct, the
 * template builders. A bounded capture of what it prints, a deadline, and
 * death with vpsd so a restarted vpsd finds nothing half done by a child:
 * the daemon's settings for sys_spawn().
 */
#include <stdlib.h>

#include "host/run.h"
#include "sys/spawn.h"

int host_run_capture(char *const *argv, char **out, char **err_out, int timeout_s)
{
	/* work for vpsd dies with it: a restarted vpsd undoes what was half done */
	const struct sys_spawn s = { .argv = argv,
				     .in = SYS_SPAWN_NULL,
				     .out = SYS_SPAWN_CAPTURE,
				     .err = SYS_SPAWN_CAPTURE,
				     .timeout_s = timeout_s,
				     .flags = SYS_SPAWN_DIE_WITH_PARENT };
	struct sys_spawn_result r;
	int st = sys_spawn(&s, &r, NULL);

	if (st < 0)
		return st;
	*out = r.out;
	if (err_out)
		*err_out = r.err;
	else
		free(r.err);
	return st;
}
