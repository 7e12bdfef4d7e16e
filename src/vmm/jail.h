/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The monitor's jail (jail.c, docs/security.md): once the VM's files, fds
 * and sockets are open, the monitor leaves the host's mount tree for an
 * empty read-only root, becomes the VM's own unprivileged uid with no
 * capabilities and no_new_privs, and runs under a seccomp filter whose
 * default is to kill; each thread then narrows the filter to its class.
 */
#ifndef VPS_VMM_JAIL_H
#define VPS_VMM_JAIL_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/err.h"

enum jail_class {
	JAIL_VCPU, /* KVM_RUN and the device models it calls */
	JAIL_IO, /* console input, the screen's RFB server (backends/rfb.c) */
	JAIL_DEVICE, /* a virtio device's I/O thread (iothread.c) */
	JAIL_CONTROL, /* the main thread: control socket, stats, stop */
	JAIL_MIGRATE, /* the migration thread: dirty log, vCPU state, one outgoing socket */
};

/* Enter the jail (root only; uid and gid not 0). Only the calling thread may exist yet. */
int jail_enter(uid_t uid, gid_t gid, struct err **err);

/* Whether the process is jailed (paths on the host are out of reach then). */
bool jail_active(void);

/* Narrow the calling thread's filter to its class; nothing when not jailed. */
int jail_thread(enum jail_class c);

#endif
