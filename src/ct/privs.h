/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Dropping the privileges a host-side helper of the container engine no
 * longer needs once it is set up: vps-ctm (the monitor of a running
 * container) and the sysinfo monitor (sysinfo.c). Both stay uid 0, so the
 * bounding set is what bounds them: an exec of a root binary takes its
 * permitted set from it. docs/security.md, "The container monitors".
 */
#ifndef VPS_CT_PRIVS_H
#define VPS_CT_PRIVS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

#define CT_CAP(c) (1ULL << (c))

/*
 * Keep only the capabilities in the mask `keep` (bit N: capability N) that
 * the process has: bounding, permitted and effective sets become those, the
 * inheritable and
 * ambient sets empty. nnp: also set no_new_privs (inherited by every child
 * and never lifted: not for a process whose children must run setuid
 * programs).
 */
int ct_privs_keep(uint64_t keep, bool nnp, struct err **err);

#endif
