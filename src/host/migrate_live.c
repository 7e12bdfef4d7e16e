// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Live migration of containers: whether it can happen on this node
 * (migrate.h, docs/cluster.md "Live migration of containers"). A live move
 * of a container is a CRIU checkpoint here, its images sent with the disk,
 * and a restore there; this file asks CRIU (`criu check`) whether it can
 * checkpoint at all on this kernel and says why not in words an operator
 * can act on. The checkpoint itself is not built: Debian 12's criu (3.17.1)
 * fails `criu check` on kernels from 6.13 on (this host's), and on Debian
 * 12's own 6.1 (the nested test host) its dump of a vps-ctm container stops
 * at the console's pty; a node where `criu check` passes is still refused,
 * and says so.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "host/host.h"
#include "host/migrate.h"
#include "sys/spawn.h"

#define CRIU_CHECK_TIMEOUT 30 /* s: it takes a tenth of a second; a hang is a failure */
#define CRIU_REASONS 2 /* the first errors CRIU gives; the rest follow from them */

/*
 * CRIU's errors from its stderr, joined by "; ": the text after
 * `Error (file:line): `, leaving out the exit statuses of the helpers it
 * probes with (`exited, status=1`), which say nothing by themselves.
 */
static void criu_errors(const char *text, char *out, size_t len)
{
	size_t n = 0, used = 0;

	*out = 0;
	for (const char *l = text; l && *l && n < CRIU_REASONS;) {
		const char *end = strchr(l, '\n'), *e = strstr(l, "Error (");
		size_t ll = end ? (size_t)(end - l) : strlen(l);

		if (e && e < l + ll && (e = strstr(e, "): ")) && e < l + ll) {
			size_t ml = (size_t)(l + ll - (e + 3));

			while (ml && (e[3 + ml - 1] == '.' || e[3 + ml - 1] == ' '))
				ml--; /* "...kerndat." */

			if (strncmp(e + 3, "exited, status=", 15) && used + ml + 3 < len) {
				used += (size_t)snprintf(out + used, len - used, "%s%.*s",
							 n ? "; " : "", (int)ml, e + 3);
				n++;
			}
		}
		l = end ? end + 1 : NULL;
	}
	if (!n)
		snprintf(out, len, "no error message");
}

bool migrate_live_ready(struct host *h, char *why, size_t len)
{
	const char *argv[] = { "criu", "check", NULL };
	const struct sys_spawn s = { .argv = (char *const *)argv,
				     .in = SYS_SPAWN_NULL,
				     .out = SYS_SPAWN_CAPTURE,
				     .err = SYS_SPAWN_TO_OUT,
				     .timeout_s = CRIU_CHECK_TIMEOUT,
				     .flags = SYS_SPAWN_PATH | SYS_SPAWN_SBIN |
					      SYS_SPAWN_DIE_WITH_PARENT | SYS_SPAWN_CLOSE_FDS };
	struct sys_spawn_result res = { 0 };
	struct err *e = NULL;
	struct utsname u;
	const char *node = h->node ? h->node : "this host";
	char errs[600];
	int st;

	uname(&u);
	st = sys_spawn(&s, &res, &e);
	if (st < 0) {
		snprintf(why, len, "`criu check` could not run on node `%s`: %s", node, err_msg(e));
	} else if (st == 127) {
		snprintf(why, len,
			 "CRIU is not installed on node `%s` (Debian's `criu` package): it is "
			 "what checkpoints a running container",
			 node);
	} else if (res.timed_out) {
		snprintf(why, len, "`criu check` on node `%s` did not answer within %d s", node,
			 CRIU_CHECK_TIMEOUT);
	} else if (st != 0) {
		criu_errors(res.out, errs, sizeof(errs));
		snprintf(why, len, "`criu check` fails on node `%s` (kernel %s): %s%s", node,
			 u.release, errs,
			 strstr(errs, "vDSO") ? " (this CRIU predates the kernel's [vvar_vclock] "
						"mapping, Linux 6.13: CRIU checkpoints nothing "
						"on this kernel)" :
						"");
	} else {
		snprintf(why, len,
			 "`criu check` passes on node `%s` (kernel %s), but the live move of a "
			 "container (checkpoint, images sent, restore) is not built: where "
			 "tried, CRIU could not dump a container's console (docs/cluster.md)",
			 node, u.release);
	}
	err_free(&e);
	sys_spawn_result_free(&res);
	return false;
}
