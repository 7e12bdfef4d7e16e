/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Live migration between two vps-vmm processes (docs/vmm.md, "Live
 * migration"), built on the snapshot code: the same state image and the same
 * checks on load.
 *
 * The stream is frames: a 16-byte header (type, 4 zero bytes, payload
 * length, little-endian) and the payload. The source sends HELLO (a state
 * image holding only the VM's shape), then MEM frames (a RAM offset and
 * whole pages), then STATE (the whole state image of the paused VM), then
 * GO (the figures); the destination answers HELLO and STATE with OK or ERR
 * (a message), and runs the guest only once GO has come. Everything the
 * destination reads is untrusted: every length is bounded before anything is
 * allocated or read, every page range is checked to lie inside RAM, frames out
 * of order are refused, and the state image goes through snap_r_parse and
 * the snapshot loaders.
 */
#ifndef VPS_VMM_MIGRATE_H
#define VPS_VMM_MIGRATE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "vmm/snapshot_vm.h"

#define MIG_HDR_LEN 16
#define MIG_PAGE 4096u
#define MIG_MAX_CHUNK (1u << 20) /* page bytes in one MEM frame */
#define MIG_MAX_HELLO (64u << 10)
#define MIG_MAX_MSG 512u
#define MIG_TIMEOUT_S 30 /* a peer silent this long is gone */
#define MIG_DEFAULT_DOWNTIME_MS 100
#define MIG_DEFAULT_ROUNDS 30
#define MIG_MAX_ROUNDS 1000

enum mig_frame {
	MIG_HELLO = 1,
	MIG_MEM = 2,
	MIG_STATE = 3,
	MIG_GO = 4,
	MIG_CANCEL = 5,
	MIG_OK = 16,
	MIG_ERR = 17,
};

/* What GO carries, and what the destination reports in `stats`. */
struct mig_figures {
	uint64_t rounds; /* passes over RAM while the guest ran (the first sends all of it) */
	uint64_t bytes; /* page bytes sent, all passes and the last */
	uint64_t downtime_us; /* from the pause to GO, as the source measured it */
	uint64_t total_us; /* from `migrate` to GO */
	uint64_t last_pages; /* pages sent while paused */
};

enum mig_state { MIG_IDLE, MIG_ACTIVE, MIG_DONE, MIG_FAILED, MIG_CANCELLED };

/* The source side: a thread of its own, started with the VM, idle until `migrate`. */
struct migration {
	struct snap_parts parts;
	int dirfd; /* migrate_dir, opened before the jail; -1: none */
	const char *control_path; /* removed when the VM has left (unjailed only); or NULL */
	const char *refused; /* why this VM cannot migrate (firmware boot), or NULL */
	pthread_t thread;
	bool started;
	int ready; /* the thread is under its filter: 1, or could not be: -1 */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* under lock */
	enum mig_state state;
	bool job, quit, cancel;
	bool final; /* the VM is paused for the last pass */
	bool barrier; /* `disk_barrier`: the last pass waits, disks held, for migration_continue */
	bool at_barrier, barrier_go;
	bool committed; /* GO is being sent: too late to cancel */
	unsigned long *device; /* the page bitmap the monitor's threads mark (mem.h) */
	int fd; /* the connection while active; -1 */
	char to[256];
	unsigned int downtime_ms, max_rounds;
	uint64_t max_bandwidth; /* bytes per second; 0: as fast as the socket takes */
	uint64_t pace_start, paced; /* the migration thread's own: when pacing began, bytes since */
	uint64_t round, dirty_pages, device_pages;
	struct mig_figures fig;
	char error[MIG_MAX_MSG];
	/* at a destination: the figures of the migration that brought the VM here */
	struct mig_figures incoming;
	bool has_incoming;
};

/* Set up and start the source thread (before the main thread narrows its filter). */
int migration_init(struct migration *m, const struct snap_parts *p, int dirfd, struct err **err);
/* Begin a migration to `to` (`tcp:HOST:PORT`, or a unix socket path). */
int migration_start(struct migration *m, const char *to, unsigned int downtime_ms,
		    unsigned int max_rounds, uint64_t max_bandwidth, bool barrier,
		    struct err **err);
/*
 * At the disks' barrier (a migration started with `barrier`: paused for its
 * last pass, its disk requests completed and held), go on: whoever copies
 * the disks has the last of them. -ENOENT when not there.
 */
int migration_continue(struct migration *m, struct err **err);
/* Ask the running migration to stop; the VM runs on at the source. */
int migration_cancel(struct migration *m, struct err **err);
/* Whether pause, resume and snapshot must wait (the last pass holds the VM). */
bool migration_holds_vm(struct migration *m);
/* Add {"migration":{...}} to a control reply. */
void migration_report(struct migration *m, json_t *reply);
/* Stop and join the thread. */
void migration_fini(struct migration *m);

/*
 * The destination: bind and listen at `addr`, before the jail (returns the
 * fd or -errno with *err; a unix socket owned by uid/gid unless uid < 0), then accept one source (still before the jail:
 * the socket path is removed then).
 */
int migration_listen(const char *addr, int uid, int gid, struct err **err);
int migration_accept(int lfd, const char *addr, struct err **err);
/*
 * Receive a VM into `p` (built from the same configuration, no thread
 * running) from the connected `fd`. Returns 0 once GO came (figures in
 * *fig), or -errno with *err saying what in the stream was refused.
 */
int migration_receive(const struct snap_parts *p, int fd, struct mig_figures *fig,
		      struct err **err);

#endif
