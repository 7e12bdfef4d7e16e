/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The keeper of one VPS's monitor (keeper.c). */
#ifndef VPS_HOST_KEEPER_H
#define VPS_HOST_KEEPER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

/* `vpsd keep ...`: the keeper itself; returns its exit status. */
int keeper_main(int argc, char **argv);
/*
 * What the keeper does to the monitor that the monitor cannot do to itself
 * (docs/security.md "The monitor's jail"): a cgroup of its own with these
 * limits (0: none), and pid 1 of a PID namespace of its own.
 */
struct keeper_jail {
	const char *cgroup; /* "vps-vm/NAME"; NULL: the keeper's own */
	int64_t pids_max, memory_max;
	bool new_pid_ns;
	/* the last `once` words of the monitor's argv are for its first start only (--restore) */
	int once;
};

/* Start a keeper (detached: not our child) for the monitor argv; jail may be NULL. */
int keeper_spawn(const char *self, const char *name, const char *run_dir, bool (*restart_on)(int),
		 const struct keeper_jail *jail, char *const *monitor_argv, struct err **err);
/* The live keeper's pid for this VPS, or -1. */
pid_t keeper_pid(const char *run_dir, const char *name);
/* The same, and when the pid file is missing, the keeper found in /proc. */
pid_t keeper_find(const char *run_dir, const char *name);
/* The monitor's last exit status, or -1. */
int keeper_last_exit(const char *run_dir);
/* How many times the keeper started the monitor again (guest reboots), 0 if none. */
int keeper_restarts(const char *run_dir);

#endif
