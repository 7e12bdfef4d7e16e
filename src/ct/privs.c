// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ct_privs_keep(): a host-side helper of the container engine drops the
 * capabilities it no longer needs (privs.h). The bounding set shrinks
 * first, while CAP_SETPCAP is still held; then the process sets through
 * libcap; then the ambient set; then no_new_privs.
 */
#include <errno.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "ct/privs.h"

int ct_privs_keep(uint64_t keep, bool nnp, struct err **err)
{
	int last = cap_max_bits() - 1, c;
	cap_t caps = cap_get_proc();

	if (!caps)
		return err_make(err, errno, "read capabilities");
	/* what this process has: a host (or a container) may hold fewer */
	for (c = 0; c <= last; c++) {
		cap_flag_value_t v = CAP_CLEAR;

		if (cap_get_flag(caps, c, CAP_PERMITTED, &v) < 0 || v != CAP_SET)
			keep &= ~CT_CAP(c);
	}
	cap_free(caps);
	for (c = 0; c <= last; c++)
		if (!(keep & CT_CAP(c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 &&
		    errno != EINVAL)
			return err_make(err, errno, "drop capability %d from the bounding set", c);
	caps = cap_init(); /* all clear */
	if (!caps)
		return err_make(err, errno, "cap_init");
	for (c = 0; c <= last; c++) {
		cap_value_t v = c;

		if (keep & CT_CAP(c)) {
			cap_set_flag(caps, CAP_PERMITTED, 1, &v, CAP_SET);
			cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_SET);
		}
	}
	if (cap_set_proc(caps) < 0) {
		int e = errno;

		cap_free(caps);
		return err_make(err, e, "set capabilities");
	}
	cap_free(caps);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return err_make(err, errno, "clear ambient capabilities");
	if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_make(err, errno, "set no_new_privs");
	return 0;
}
