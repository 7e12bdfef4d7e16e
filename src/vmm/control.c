// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Control socket: see control.h. The commands act on the VM; the server
 * (framing, limits, clients) is monitor/server.c, shared with vps-ctm.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/control.h"
#include "vmm/devices/virtio/blk.h"
#include "vmm/jail.h"

static const struct monitor_cmd commands[CONTROL_COMMANDS];

int control_open(struct control *c, const char *path, struct vm *vm,
		 const struct control_hooks *hooks, struct err **err)
{
	memset(c, 0, sizeof(*c));
	c->vm = vm;
	c->hooks = hooks;
	monitor_server_init(&c->srv, commands, CONTROL_COMMANDS, c);
	c->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (!path)
		return 0;
	/* a jailed monitor before us (a guest reboot) could not remove its socket: replaced */
	return monitor_server_listen(&c->srv, path, err);
}

void control_close(struct control *c, const char *path)
{
	/* jailed, the path is out of reach: the keeper removes it */
	monitor_server_close(&c->srv, jail_active() ? NULL : path);
	if (c->statm_fd >= 0)
		close(c->statm_fd);
	c->statm_fd = -1;
}

void control_loop(struct control *c)
{
	monitor_server_run(&c->srv, c->vm->stop_efd);
}

static const char *state_name(struct control *c)
{
	if (__atomic_load_n(&c->vm->exit_reason, __ATOMIC_SEQ_CST) != VM_RUNNING)
		return "stopping";
	if (c->frozen)
		return "frozen";
	return vm_is_paused(c->vm) ? "paused" : "running";
}

static uint64_t rss_bytes(int statm_fd)
{
	unsigned long long size, rss;
	char s[128];
	ssize_t n = statm_fd >= 0 ? pread(statm_fd, s, sizeof(s) - 1, 0) : -1;

	if (n <= 0)
		return 0;
	s[n] = 0;
	if (sscanf(s, "%llu %llu", &size, &rss) != 2)
		return 0;
	return rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static json_t *cmd_state(void *ctx, json_t *req)
{
	struct control *c = ctx;
	json_t *r = json_pack("{s:b, s:s, s:i, s:I, s:b}", "ok", 1, "state", state_name(c), "vcpus",
			      c->vm->nr_vcpus, "memory", (json_int_t)c->vm->ram_size, "reserve",
			      c->vm->ram_reserved);

	if (c->console_path)
		json_object_set_new(r, "console", json_string(c->console_path));
	return r;
}

/* While a migration runs it decides when the VM stands still. */
static bool migrating(struct control *c)
{
	return c->hooks && c->hooks->migration && migration_holds_vm(c->hooks->migration);
}

#define FROZEN_ERROR "the VM is frozen for a copy of its disks: `thaw` first"

static json_t *cmd_pause(void *ctx, json_t *req)
{
	struct control *c = ctx;

	if (migrating(c))
		return monitor_error("a migration is running: `migrate-cancel` first");
	if (c->frozen)
		return monitor_error(FROZEN_ERROR);
	return vm_pause(c->vm) < 0 ? monitor_error("the VM is stopping") :
				     json_pack("{s:b, s:s}", "ok", 1, "state", "paused");
}

static json_t *cmd_resume(void *ctx, json_t *req)
{
	struct control *c = ctx;

	if (migrating(c))
		return monitor_error("a migration is running: `migrate-cancel` first");
	if (c->frozen)
		return monitor_error(FROZEN_ERROR);
	vm_resume(c->vm);
	return json_pack("{s:b, s:s}", "ok", 1, "state", state_name(c));
}

static json_t *cmd_stop(void *ctx, json_t *req)
{
	struct control *c = ctx;

	vm_request_exit(c->vm, VM_STOPPED, 0);
	return monitor_ok();
}

static json_t *cmd_shutdown(void *ctx, json_t *req)
{
	struct control *c = ctx;

	if (!c->hooks || !c->hooks->power_button)
		return monitor_error("this VM has no ACPI power button");
	if (c->hooks->power_button(c->hooks->opaque) < 0)
		return monitor_error("pressing the power button failed");
	return monitor_ok();
}

static json_t *cmd_stats(void *ctx, json_t *req)
{
	struct control *c = ctx;
	json_t *r = json_pack("{s:b, s:s, s:I}", "ok", 1, "state", state_name(c), "rss_bytes",
			      (json_int_t)rss_bytes(c->statm_fd));
	json_t *t = json_array();
	unsigned int i;

	for (i = 0; i < c->vm->nr_vcpus; i++)
		json_array_append_new(t, json_integer(vcpu_cpu_time_ns(c->vm->vcpus[i])));
	json_object_set_new(r, "vcpu_time_ns", t);
	if (c->hooks && c->hooks->stats)
		c->hooks->stats(c->hooks->machine, r);
	if (c->hooks && c->hooks->migration)
		migration_report(c->hooks->migration, r);
	return r;
}

static json_t *cmd_balloon(void *ctx, json_t *req)
{
	struct control *c = ctx;
	json_t *t = json_object_get(req, "target");
	struct err *e = NULL;
	json_t *r;

	if (!c->hooks || !c->hooks->balloon_set)
		return monitor_error("this VM has no balloon");
	if (!json_is_integer(t) || json_integer_value(t) < 0)
		return monitor_error("`target`: expected a byte count");
	if (c->hooks->balloon_set(c->hooks->machine, json_integer_value(t), &e) < 0) {
		r = monitor_error("%s", err_msg(e));
		err_free(&e);
		return r;
	}
	return monitor_ok();
}

/* {"cmd":"screen"}: the VGA text screen, 25 rows of 80 characters, and the cursor. */
static json_t *cmd_screen(void *ctx, json_t *req)
{
	struct control *c = ctx;
	struct err *e = NULL;
	json_t *r = monitor_ok();

	if (!c->hooks || !c->hooks->screen || c->hooks->screen(c->hooks->machine, r, &e) < 0) {
		json_decref(r);
		r = monitor_error("%s", e ? err_msg(e) : "this VM has no display");
		err_free(&e);
	}
	return r;
}

/* {"cmd":"key","key":NAME} or {"cmd":"key","text":TEXT}: typed on the PS/2 keyboard. */
static json_t *cmd_key(void *ctx, json_t *req)
{
	struct control *c = ctx;
	json_t *key = json_object_get(req, "key"), *text = json_object_get(req, "text"), *r;
	struct err *e = NULL;

	if (!c->hooks || !c->hooks->keys)
		return monitor_error("this VM has no keyboard");
	if (!!json_is_string(key) == !!json_is_string(text))
		return monitor_error("`key` or `text`: one string");
	if (c->hooks->keys(c->hooks->kbd, json_string_value(key ? key : text), key != NULL, &e) <
	    0) {
		r = monitor_error("%s", err_msg(e));
		err_free(&e);
		return r;
	}
	return monitor_ok();
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * {"cmd":"snapshot","path":DIR[,"resume":BOOL]}: park the vCPUs, save, and
 * run on if the VM ran before (or as `resume` says). The reply says how
 * long the guest stood still. While frozen the VM is saved as it stands
 * (the disks held, nothing in flight: vpsd's memory snapshot copies the
 * images at the same instant) and stays frozen until `thaw`.
 */
static json_t *cmd_snapshot(void *ctx, json_t *req)
{
	struct control *c = ctx;
	json_t *path = json_object_get(req, "path"), *res = json_object_get(req, "resume"), *r;
	bool was_paused = vm_is_paused(c->vm), resume;
	struct err *e = NULL;
	uint64_t t0, t1;
	int ret;

	if (!c->hooks || !c->hooks->snapshot)
		return monitor_error("this VM cannot be snapshotted");
	if (migrating(c))
		return monitor_error("a migration is running: `migrate-cancel` first");
	if (!json_is_string(path) || !json_string_length(path))
		return monitor_error("`path`: expected a directory");
	if (res && !json_is_boolean(res))
		return monitor_error("`resume`: expected true or false");
	if (c->frozen && (json_is_true(res) || c->frozen_running))
		return monitor_error(FROZEN_ERROR);
	resume = c->frozen ? false : res ? json_is_true(res) : !was_paused;
	t0 = now_us();
	if (!c->frozen && vm_pause(c->vm) < 0)
		return monitor_error("the VM is stopping");
	ret = c->hooks->snapshot(c->hooks->vmm, json_string_value(path), &e);
	t1 = now_us();
	if (resume)
		vm_resume(c->vm);
	if (ret < 0) {
		r = monitor_error("%s", err_msg(e));
		err_free(&e);
		return r;
	}
	return json_pack("{s:b, s:s, s:I}", "ok", 1, "state", state_name(c), "paused_us",
			 (json_int_t)(t1 - t0));
}

/*
 * {"cmd":"freeze"[,"run":true]}: park the vCPUs, complete every disk request
 * in flight, sync the images and serve no new request, so that a copy of
 * the image files made outside (vpsd's snapshot of a running VM,
 * docs/storage.md) is the disk at one moment. The guest stands still until
 * `thaw`; with `run` its vCPUs go on at once and only its disk requests
 * wait (a live move between nodes copies the disks meanwhile, then
 * `migrate`s: the destination serves what waited, docs/cluster.md).
 */
static json_t *cmd_freeze(void *ctx, json_t *req)
{
	struct control *c = ctx;
	bool was_paused = vm_is_paused(c->vm);
	json_t *run = json_object_get(req, "run");
	struct err *e = NULL;
	uint64_t t0 = now_us();
	json_t *r;

	if (!c->hooks || !c->hooks->disks_hold)
		return monitor_error("this VM cannot freeze its disks");
	if (run && !json_is_boolean(run))
		return monitor_error("`run`: expected true or false");
	if (migrating(c))
		return monitor_error("a migration is running: `migrate-cancel` first");
	if (c->frozen)
		return monitor_error("the VM is frozen already");
	if (vm_pause(c->vm) < 0)
		return monitor_error("the VM is stopping");
	if (c->hooks->disks_hold(c->hooks->machine, &e) < 0) {
		if (!was_paused)
			vm_resume(c->vm);
		r = monitor_error("%s", err_msg(e));
		err_free(&e);
		return r;
	}
	c->frozen = true;
	c->frozen_paused = was_paused;
	c->frozen_running = json_is_true(run) && !was_paused;
	if (c->frozen_running)
		vm_resume(c->vm);
	return json_pack("{s:b, s:s, s:I}", "ok", 1, "state", state_name(c), "took_us",
			 (json_int_t)(now_us() - t0));
}

/* {"cmd":"thaw"}: the disks serve again and the VM runs as it did before `freeze`. */
static json_t *cmd_thaw(void *ctx, json_t *req)
{
	struct control *c = ctx;

	if (migrating(c))
		return monitor_error("a migration is running: `migrate-cancel` first");
	if (c->frozen) {
		c->hooks->disks_release(c->hooks->machine);
		c->frozen = false;
		c->frozen_running = false;
		if (!c->frozen_paused)
			vm_resume(c->vm);
	}
	return json_pack("{s:b, s:s}", "ok", 1, "state", state_name(c));
}

static int opt_uint(json_t *req, const char *key, unsigned int def, unsigned int max,
		    unsigned int *out)
{
	json_t *v = json_object_get(req, key);

	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

/*
 * {"cmd":"migrate","to":ADDR[,"downtime_ms":N][,"max_rounds":N][,"max_bandwidth":B]}: start a
 * live migration in the background; `stats` shows its progress. On success
 * the monitor exits (MONITOR_EXIT_MIGRATED); otherwise the VM runs on here.
 */
static json_t *cmd_migrate(void *ctx, json_t *req)
{
	struct control *c = ctx;
	json_t *to = json_object_get(req, "to"), *r;
	json_t *bwj = json_object_get(req, "max_bandwidth");
	json_t *barrier = json_object_get(req, "disk_barrier");
	unsigned int downtime, rounds;
	struct err *e = NULL;
	uint64_t bw = 0;

	if (!c->hooks || !c->hooks->migration)
		return monitor_error("this VM cannot migrate");
	if (c->frozen && !c->frozen_running) /* `run`: its disks held, it moves live */
		return monitor_error(FROZEN_ERROR);
	if (!json_is_string(to) || !json_string_length(to))
		return monitor_error("`to`: expected tcp:HOST:PORT or a unix socket");
	if (opt_uint(req, "downtime_ms", MIG_DEFAULT_DOWNTIME_MS, 60000, &downtime) < 0)
		return monitor_error("`downtime_ms`: expected 0 to 60000");
	if (opt_uint(req, "max_rounds", MIG_DEFAULT_ROUNDS, MIG_MAX_ROUNDS, &rounds) < 0)
		return monitor_error("`max_rounds`: expected 0 to %d", MIG_MAX_ROUNDS);
	if (bwj && (!json_is_integer(bwj) || json_integer_value(bwj) < MIG_PAGE))
		return monitor_error("`max_bandwidth`: expected bytes per second, at least %u",
				     MIG_PAGE);
	if (barrier && !json_is_boolean(barrier))
		return monitor_error("`disk_barrier`: expected true or false");
	if (json_is_true(barrier) && c->frozen)
		return monitor_error("`disk_barrier`: the disks are held already (`thaw` first)");
	if (bwj)
		bw = json_integer_value(bwj);
	if (migration_start(c->hooks->migration, json_string_value(to), downtime, rounds, bw,
			    json_is_true(barrier), &e) < 0) {
		r = monitor_error("%s", err_msg(e));
		err_free(&e);
		return r;
	}
	return json_pack("{s:b, s:s}", "ok", 1, "migration", "active");
}

/* {"cmd":"migrate-continue"}: a migration at its disks' barrier goes on to its last pass. */
static json_t *cmd_migrate_continue(void *ctx, json_t *req)
{
	struct control *c = ctx;
	struct err *e = NULL;
	json_t *r;

	if (!c->hooks || !c->hooks->migration)
		return monitor_error("this VM cannot migrate");
	if (migration_continue(c->hooks->migration, &e) < 0) {
		r = monitor_error("%s", err_msg(e));
		err_free(&e);
		return r;
	}
	return monitor_ok();
}

static json_t *cmd_migrate_cancel(void *ctx, json_t *req)
{
	struct control *c = ctx;
	struct err *e = NULL;
	json_t *r;

	if (!c->hooks || !c->hooks->migration)
		return monitor_error("this VM cannot migrate");
	if (migration_cancel(c->hooks->migration, &e) < 0) {
		r = monitor_error("%s", err_msg(e));
		err_free(&e);
		return r;
	}
	return monitor_ok();
}

/*
 * {"cmd":"media","eject":true}: empty the CD drive. {"cmd":"media"} with an
 * ISO's descriptor passed beside the request (SCM_RIGHTS; opened read-only
 * by the caller, as the jailed monitor opens nothing): put it in. The guest
 * sees the tray as a drive's: NOT READY while empty, one UNIT ATTENTION for
 * the new medium.
 */
static json_t *cmd_media(void *ctx, json_t *req)
{
	struct control *c = ctx;
	json_t *ej = json_object_get(req, "eject"), *r;
	int fd = monitor_take_fd(&c->srv);
	struct err *e = NULL;

	if (!c->hooks || !c->hooks->cdrom) {
		r = monitor_error("this VM has no CD drive");
	} else if (ej && !json_is_boolean(ej)) {
		r = monitor_error("`eject`: expected true or false");
	} else if (json_is_true(ej) ? fd >= 0 : fd < 0) {
		r = monitor_error(fd >= 0 ?
					  "`eject` takes no medium" :
					  "no medium: pass the ISO's descriptor with the request");
	} else if (c->hooks->cdrom(c->hooks->machine, fd, &e) < 0) {
		r = monitor_error("%s", err_msg(e));
		err_free(&e);
	} else {
		return monitor_ok(); /* the drive owns fd now */
	}
	if (fd >= 0)
		close(fd);
	return r;
}

#define DIRTY_TAKE_MAX 1024 /* ranges in one answer (a reply line stays under 64 KiB) */

/*
 * {"cmd":"dirty-log","op":"start"}: every disk's dirty-block log from now on
 * (restarted clean if it ran); {"op":"stop"}; {"op":"take","disk":N}: disk
 * N's marked byte ranges [[offset, length], ...], cleared as they are taken,
 * at most DIRTY_TAKE_MAX, `more` when others remain. vpsd copies a running
 * VM's disks, then only what the log took (docs/cluster.md).
 */
static json_t *cmd_dirty_log(void *ctx, json_t *req)
{
	struct control *c = ctx;
	const char *op = json_string_value(json_object_get(req, "op"));
	json_t *disk = json_object_get(req, "disk"), *r, *list;
	uint64_t(*ranges)[2];
	const char *id = "";
	unsigned int nr = 0;
	struct err *e = NULL;
	bool more = false;
	int n;

	if (!c->hooks || !c->hooks->dirty_log)
		return monitor_error("this VM has no dirty-block log");
	if (!op || (strcmp(op, "start") && strcmp(op, "stop") && strcmp(op, "take")))
		return monitor_error("`op`: expected start, take or stop");
	if (!strcmp(op, "take") != (disk != NULL))
		return monitor_error("`disk`: expected with `take` only");
	if (disk && (!json_is_integer(disk) || json_integer_value(disk) < 0 ||
		     json_integer_value(disk) > UINT16_MAX))
		return monitor_error("`disk`: expected a disk's number");
	if (strcmp(op, "take")) {
		n = c->hooks->dirty_log(c->hooks->machine, !strcmp(op, "start"), &e);
		if (n < 0) {
			r = monitor_error("%s", err_msg(e));
			err_free(&e);
			return r;
		}
		return json_pack("{s:b, s:i, s:I}", "ok", 1, "disks", n, "block",
				 (json_int_t)VIRTIO_BLK_DIRTY_BLOCK);
	}
	ranges = calloc(DIRTY_TAKE_MAX, sizeof(*ranges));
	if (!ranges)
		return monitor_error("out of memory");
	n = c->hooks->dirty_take(c->hooks->machine, json_integer_value(disk), ranges,
				 DIRTY_TAKE_MAX, &more, &id, &nr, &e);
	if (n < 0) {
		free(ranges);
		r = monitor_error("%s", err_msg(e));
		err_free(&e);
		return r;
	}
	list = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(list, json_pack("[I, I]", (json_int_t)ranges[i][0],
						      (json_int_t)ranges[i][1]));
	free(ranges);
	return json_pack("{s:b, s:I, s:i, s:s, s:o, s:b}", "ok", 1, "disk",
			 json_integer_value(disk), "disks", nr, "id", id, "ranges", list, "more",
			 more);
}

/* In the order the `unknown command` error lists them. */
static const struct monitor_cmd commands[CONTROL_COMMANDS] = {
	{ MONITOR_CMD_STATE, cmd_state },
	{ MONITOR_CMD_PAUSE, cmd_pause },
	{ MONITOR_CMD_RESUME, cmd_resume },
	{ MONITOR_CMD_STOP, cmd_stop },
	{ MONITOR_CMD_SHUTDOWN, cmd_shutdown },
	{ MONITOR_CMD_STATS, cmd_stats },
	{ MONITOR_CMD_BALLOON, cmd_balloon },
	{ MONITOR_CMD_SNAPSHOT, cmd_snapshot },
	{ MONITOR_CMD_FREEZE, cmd_freeze },
	{ MONITOR_CMD_THAW, cmd_thaw },
	{ MONITOR_CMD_MIGRATE, cmd_migrate },
	{ MONITOR_CMD_MIGRATE_CANCEL, cmd_migrate_cancel },
	{ MONITOR_CMD_SCREEN, cmd_screen },
	{ MONITOR_CMD_KEY, cmd_key },
	{ MONITOR_CMD_MEDIA, cmd_media },
	{ MONITOR_CMD_DIRTY_LOG, cmd_dirty_log },
	{ MONITOR_CMD_MIGRATE_CONTINUE, cmd_migrate_continue },
};
