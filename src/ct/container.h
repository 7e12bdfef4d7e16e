/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The container engine's internal interfaces, between the CLI (main.c), the
 * lifecycle in the runtime process (container.c, exec.c), the setup done
 * inside the new namespaces (child.c, rootfs.c, process.c) and hooks
 * (hooks.c). Everything returns 0 or -errno and fills a struct err.
 */
#ifndef VPS_CT_CONTAINER_H
#define VPS_CT_CONTAINER_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/err.h"
#include "ct/cgroup.h"
#include "ct/config.h"
#include "ct/state.h"

/* What the command line adds to config.json for create and run. */
struct ct_opts {
	const char *root; /* state root */
	const char *id;
	const char *bundle; /* absolute */
	const char *pid_file;
	const char *console_socket;
	bool detach;
	bool run; /* start right away (run); else wait on exec.fifo (create) */
	unsigned int preserve_fds; /* --preserve-fds N: fds 3..3+N-1 reach the process */
};

/* create, or run: in the foreground run returns the exit status. */
int ct_create(const struct ct_opts *o, struct ct_config *cfg, int *status, struct err **err);
int ct_start(const char *root, const char *id, struct err **err);
int ct_delete(const char *root, const char *id, bool force, struct err **err);
int ct_kill(const char *root, const char *id, int sig, bool all, struct err **err);
int ct_pause(const char *root, const char *id, bool pause, struct err **err);

/* Append the default device allows to r->devices when it has rules (cfg may be NULL). */
int ct_device_rules(struct cg_resources *r, const struct ct_config *cfg, struct err **err);

/*
 * Whether the container's cgroup is delegated to it (cg_delegate), and to
 * whom: true when it makes its own user namespace with a mapping for its
 * root and mounts a `cgroup` or `cgroup2` file system read-write, with
 * uid and gid the host ids of its root (runc and crun decide the same way).
 */
bool ct_cgroup_owner(const struct ct_config *cfg, uid_t *uid, gid_t *gid);

struct ct_exec_opts {
	const char *root, *id;
	struct ct_process *process; /* NULL: build from args/env/cwd/user */
	const char **args; /* NULL-terminated */
	const char **env; /* extra NAME=VALUE, NULL-terminated */
	const char *cwd, *user; /* user: "uid[:gid]" */
	const char *pid_file, *console_socket;
	bool tty, detach;
	unsigned int preserve_fds; /* as ct_opts */
};

int ct_exec(const struct ct_exec_opts *o, int *status, struct err **err);

/* Message the child sends its parent over the sync socket. */
enum ct_sync {
	CT_SYNC_GO,
	CT_SYNC_HOOKS,
	CT_SYNC_HOOKS_DONE,
	CT_SYNC_READY,
	CT_SYNC_START,
	CT_SYNC_ERROR
};

struct ct_sync_msg {
	int type; /* enum ct_sync */
	int errnum;
	char msg[2048];
};

int ct_sync_send(int fd, int type, int errnum, const char *msg);
int ct_sync_recv(int fd, struct ct_sync_msg *m);

/* The child's side: everything between clone and execve. Never returns. */
struct ct_child_args {
	const struct ct_config *cfg;
	const struct ct_opts *opts;
	int sync_fd; /* socketpair end */
	int fifo_fd; /* exec.fifo opened O_RDWR (create), or -1 (run) */
	int console_fd; /* connected --console-socket, or -1 */
	const struct ct_cgroup *cg; /* the container's cgroup, for its cgroup mount */
	int notify_fd; /* socket to the sysinfo monitor (sysinfo.c), or -1 */
};

__attribute__((noreturn)) void ct_child_main(struct ct_child_args *a);

/*
 * rootfs.c: mounts, devices, pivot_root, masked and readonly paths. A
 * container in a mount namespace it did not create (none in config.json, or
 * one joined by path) leaves that namespace's "/" alone and chroots into its
 * rootfs instead of pivot_root, as crun does.
 */
bool ct_rootfs_new_mntns(const struct ct_config *cfg);
int ct_rootfs_prepare(const struct ct_config *cfg, const char *rootfs, const struct ct_cgroup *cg,
		      struct err **err);
int ct_rootfs_enter(const struct ct_config *cfg, const char *rootfs, struct err **err);
int ct_rootfs_finish(const struct ct_config *cfg, struct err **err);
/*
 * After pivot_root, with the init's pty on stdin: bind that pty on
 * /dev/console (a file made for it), as runtime-spec's default devices ask
 * when process.terminal is set; an init such as systemd writes there.
 */
int ct_rootfs_console(struct err **err);

/* process.c: the process properties, in the order they must be applied. */
int ct_process_rlimits(const struct ct_process *p, struct err **err);
int ct_process_oom(const struct ct_process *p, struct err **err);
/* notify_fd >= 0: sysinfo also goes to a listener, sent over notify_fd */
int ct_seccomp_load(const struct ct_seccomp *s, bool nnp, int notify_fd, struct err **err);
int ct_process_identity(const struct ct_process *p, struct err **err); /* user + caps */
/* ctty false: stdio only, not the controlling terminal (org.vps.console=noctty) */
int ct_process_terminal(int console_fd, bool ctty, struct err **err);
__attribute__((noreturn)) void ct_process_exec(const struct ct_process *p, int report_fd);
/*
 * Descriptors past stdio and the preserve_fds after it close at execve;
 * then seccomp and identity in the right order, and exec. Returns only on
 * failure.
 */
int ct_process_finish(const struct ct_seccomp *seccomp, int notify_fd, const struct ct_process *p,
		      unsigned int preserve_fds, int report_fd, struct err **err);

/*
 * sysinfo.c: the container's own sysinfo() (annotation org.vps.sysinfo=cgroup),
 * for the init (create) and for exec'd processes alike. Before the fork,
 * ct_sysinfo_pair makes the socketpair when cfg asks for it: sv[0] is the
 * monitor's end, sv[1] the child's (its notify_fd); both -1 otherwise.
 * Once the child is in its cgroup, ct_sysinfo_monitor_start starts the
 * monitor on *sock and closes *sock, so the monitor holds the only copy and
 * sees EOF if the child dies before sending its listener; *sock < 0: nothing
 * to do. init_start: the init's start time (/proc/<pid>/stat field 22).
 */
int ct_sysinfo_pair(const struct ct_config *cfg, int sv[2], struct err **err);
int ct_sysinfo_monitor_start(const char *id, const char *cgroup_path, uint64_t init_start,
			     const char *server, int *sock, struct err **err);
/*
 * For a server of org.vps.sysinfo.socket (server non-NULL above: *sock goes
 * to it, and no monitor is started unless it cannot be reached): one
 * notification from the listener lfd, readable, answered with the figures of
 * cg (or let through to the kernel). 0, or -errno when lfd is done with.
 */
int ct_sysinfo_answer(int lfd, const struct ct_cgroup *cg, uint64_t init_start);
/*
 * The monitor runs as `vps-ct CT_SYSINFO_MONITOR_CMD CGROUP INIT_START ID` (the id only for ps)
 * with its socket on fd 3 and, on fd 4, a pipe it writes a byte to once in the container's
 * cgroup (ct_sysinfo_monitor_start returns only then); a fresh image (main dispatches it first).
 */
#define CT_SYSINFO_MONITOR_CMD "__sysinfo-monitor"
int ct_sysinfo_monitor_main(int argc, char **argv);

/* hooks.c: run the hooks of one kind with the state on stdin. */
int ct_hooks_run(const struct ct_config *cfg, enum ct_hook_kind kind, const char *state_json,
		 struct err **err);

#endif
