/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What vps-ct remembers about a container between invocations: one
 * directory per container under the state root (default /run/vps-ct),
 * holding state.json (replaced atomically: write then rename) and, while
 * the container waits for `start`, exec.fifo. The status is not stored but
 * derived (runtime-spec runtime.md "State"): a dead init is `stopped`, a
 * live one with exec.fifo is `created`, a frozen one `paused`.
 */
#ifndef VPS_CT_STATE_H
#define VPS_CT_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

#define CT_DEFAULT_ROOT "/run/vps-ct"
#define CT_OCI_VERSION "1.0.2"

struct ct_state {
	char *id;
	pid_t pid;
	uint64_t start_time; /* /proc/<pid>/stat field 22: guards against pid reuse */
	char *bundle;
	char *cgroup_path;
	unsigned int cgroup_depth; /* cg_created_depth(): delete removes what create made */
	char *created; /* RFC 3339 */
	char *annotations; /* the config's annotations as compact JSON text, or NULL */
	bool paused;
	uid_t owner;
};

/* 0 when `id` is a usable container id ([A-Za-z0-9_.-], no leading dot). */
int ct_id_check(const char *id, struct err **err);

/* `<root>/<id>`, malloc'ed. */
char *ct_state_dir(const char *root, const char *id);

int ct_state_save(const char *root, const struct ct_state *st, struct err **err);
int ct_state_load(const char *root, const char *id, struct ct_state *st, struct err **err);
void ct_state_clear(struct ct_state *st);

/* Remove `<root>/<id>` and what it holds. */
int ct_state_remove(const char *root, const char *id, struct err **err);

/* "creating", "created", "running", "paused" or "stopped". */
const char *ct_state_status(const char *root, const struct ct_state *st);

/* The OCI state object as JSON text (malloc'ed), for `state` and hooks. */
char *ct_state_json(const struct ct_state *st, const char *status);

/* Start time of a live (non-zombie) process, or 0 when it is gone. */
uint64_t ct_proc_start_time(pid_t pid);

#endif
