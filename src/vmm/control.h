/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket: a unix stream socket speaking one JSON object per line
 * each way. A supervisor (vpsd, or a person with socat) asks for the state,
 * pauses, resumes, stops hard, presses the ACPI power button, reads stats and
 * sets the balloon target. docs/vmm.md lists the messages.
 *
 * The loop runs on the main thread and also watches the VM's stop eventfd,
 * so it returns as soon as the guest powers off or crashes.
 */
#ifndef VPS_VMM_CONTROL_H
#define VPS_VMM_CONTROL_H

#include <jansson.h>

#include "common/err.h"
#include "monitor/server.h"
#include "vmm/migrate.h"
#include "vmm/vm.h"

/*
 * state, pause, resume, stop, shutdown, stats, balloon, snapshot, freeze, thaw, migrate,
 * migrate-cancel, screen, key, media
 */
#define CONTROL_COMMANDS 17

/* What the devices offer the control socket; any hook may be NULL. */
struct control_hooks {
	int (*power_button)(void *opaque); /* called with `opaque` */
	void *opaque;
	/* These two are called with `machine`. */
	int (*balloon_set)(void *machine, uint64_t target_bytes, struct err **err);
	void (*stats)(void *machine, json_t *reply); /* add device counters */
	int (*screen)(void *machine, json_t *reply, struct err **err); /* the text screen */
	/* Type text, or one key or chord by name (i8042_type), into `kbd`. */
	int (*keys)(void *kbd, const char *what, bool is_name, struct err **err);
	void *kbd;
	/* `freeze` and `thaw`: machine_disks_hold() and machine_disks_release() */
	int (*disks_hold)(void *machine, struct err **err);
	void (*disks_release)(void *machine);
	/* `dirty-log`: machine_disks_dirty_log() and machine_disk_dirty_take() */
	int (*dirty_log)(void *machine, bool on, struct err **err);
	int (*dirty_take)(void *machine, unsigned int disk, uint64_t (*ranges)[2], unsigned int max,
			  bool *more, const char **id, unsigned int *nr, struct err **err);
	/* `media`: machine_cdrom_change(), fd -1 to eject */
	int (*cdrom)(void *machine, int fd, struct err **err);
	void *machine;
	/* Save the paused VM into directory `path` (created if missing); with `vmm`. */
	int (*snapshot)(void *vmm, const char *path, struct err **err);
	void *vmm;
	struct migration *migration; /* the source side of live migration (migrate.h) */
};

struct control {
	struct monitor_server srv; /* its ctx is this struct */
	struct vm *vm;
	const struct control_hooks *hooks;
	const char *console_path; /* the serial pty, reported in `state` */
	int statm_fd; /* /proc/self/statm, opened before the jail (jail.h) */
	bool frozen; /* between `freeze` and `thaw` */
	bool frozen_paused; /* the VM was paused before the freeze: `thaw` leaves it so */
	bool frozen_running; /* `freeze` with `run`: the disks held, the vCPUs running */
};

/* Bind and listen at path (refused if something is there already); NULL: no socket, for tests. */
int control_open(struct control *c, const char *path, struct vm *vm,
		 const struct control_hooks *hooks, struct err **err);

/* Serve requests until the VM stops. */
void control_loop(struct control *c);

void control_close(struct control *c, const char *path);

#endif
