/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The contract between vpsd and its monitors (vps-vmm for a VM, vps-ctm for
 * a container), in one place: how a monitor's exit status says the guest
 * ended, and the commands of its control socket. The socket speaks one JSON
 * object per line each way: {"cmd": NAME, ...} in, {"ok": true, ...} or
 * {"ok": false, "error": MESSAGE} out (server.h serves it, client.h asks).
 * docs/vmm.md and docs/ctm.md list each command's fields.
 */
#ifndef VPS_MONITOR_PROTOCOL_H
#define VPS_MONITOR_PROTOCOL_H

/* A monitor's exit status, which its keeper records and vpsd reads. */
enum monitor_exit {
	MONITOR_EXIT_POWEROFF = 0, /* the guest powered off or halted; a graceful stop finished */
	MONITOR_EXIT_FAILURE = 1, /* the monitor itself failed (KVM refused, out of memory) */
	MONITOR_EXIT_CONFIG = 2, /* bad command line or configuration */
	MONITOR_EXIT_REBOOT = 3, /* the guest asked for a reboot: start it again (vps-vmm) */
	MONITOR_EXIT_CRASH = 4, /* the guest crashed (triple fault; a container's init died) */
	MONITOR_EXIT_KILLED = 5, /* stopped hard, or a graceful stop ran out of time */
	MONITOR_EXIT_MIGRATED = 6, /* (vmm) the VM now runs in the destination monitor */
	/* vps-vmm micro-guests with exit_port exit with the byte the guest wrote instead */
};

/* Control commands; (vmm) and (ctm) mark those one monitor only knows. */
#define MONITOR_CMD_STATE "state" /* what runs, and where its console is */
#define MONITOR_CMD_STATS "stats" /* usage figures */
#define MONITOR_CMD_STOP "stop" /* hard stop: MONITOR_EXIT_KILLED */
#define MONITOR_CMD_SHUTDOWN "shutdown" /* ask the guest to power off */
#define MONITOR_CMD_PAUSE "pause" /* (vmm) */
#define MONITOR_CMD_RESUME "resume" /* (vmm) */
#define MONITOR_CMD_BALLOON "balloon" /* (vmm) the balloon's target in bytes */
#define MONITOR_CMD_SNAPSHOT "snapshot" /* (vmm) save the VM into a directory */
#define MONITOR_CMD_FREEZE "freeze" /* (vmm) pause with the disks drained, synced and held */
#define MONITOR_CMD_THAW "thaw" /* (vmm) undo a freeze */
#define MONITOR_CMD_MIGRATE "migrate" /* (vmm) live-migrate to another vps-vmm */
#define MONITOR_CMD_MIGRATE_CANCEL "migrate-cancel" /* (vmm) stop a running migration */
#define MONITOR_CMD_MIGRATE_CONTINUE "migrate-continue" /* (vmm) past the disks' barrier */
#define MONITOR_CMD_SCREEN "screen" /* (vmm) the VGA text screen, firmware boot */
#define MONITOR_CMD_KEY "key" /* (vmm) type on the PS/2 keyboard, firmware boot */
#define MONITOR_CMD_MEDIA "media" /* (vmm) eject the CD, or insert the ISO passed with it */
#define MONITOR_CMD_DIRTY_LOG "dirty-log" /* (vmm) the disks' dirty-block logs: start, take, stop */
#define MONITOR_CMD_REBOOT "reboot" /* (ctm) restart the init in place */
#define MONITOR_CMD_SET "set" /* (ctm) live limits */
#define MONITOR_CMD_GROW "grow" /* (ctm) grow the disk while mounted */
#define MONITOR_CMD_DISK_COPY "disk-copy" /* (ctm) copy the disk, the container frozen */

#define MONITOR_MAX_LINE 4096 /* a request line, newline included */
#define MONITOR_MAX_CLIENTS 8 /* control or console clients at once */

#endif
