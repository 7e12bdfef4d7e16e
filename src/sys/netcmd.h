/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The packet path's own tools, run: nftables batches through `nft -f -`
 * (all of a batch or none of it), and single `tc` and `ip` command lines.
 * Links and addresses are made over rtnetlink (net.h); what nftables and tc
 * hold has no stable netlink interface worth writing by hand, so their
 * commands are the interface. The tools are found in the sbin directories
 * whatever the caller's PATH; they die with the caller. The host's policy
 * (which tables, which rules, which rates: src/host/net.c) is not here.
 */
#ifndef VPS_SYS_NETCMD_H
#define VPS_SYS_NETCMD_H

#include "common/err.h"

/* `nft -f -` with `batch` on stdin; the error is nft's first line. */
int sys_nft(const char *batch, struct err **err);

/*
 * One command line of `prog` ("tc", "ip", "nft"): the words of fmt, split
 * on blanks (so no word may hold one). sys_netcmd makes a non-zero exit an
 * error naming prog with its first line of output; sys_netcmd_output gives
 * the exit status (or -errno) and stdout and stderr together in *out
 * (caller frees).
 */
int sys_netcmd(struct err **err, const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int sys_netcmd_output(char **out, const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
