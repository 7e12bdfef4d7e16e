/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a kind of VPS must offer the daemon. The daemon never branches on
 * kind or engine (enum vps_kind, enum vps_engine; their names are the
 * store's and the API's, vps.h): it finds the table by the pair and calls
 * it, and asks the kind's family what it settles at create and which
 * limits the host enforces for it. tests/integration/test_house.py fails on
 * a kind told apart outside kind_*.c. Every operation gets a copy of the
 * VPS record; none touches the store.
 *
 * The monitor (vps-ctm, vps-vmm, qemu) runs under a keeper process
 * (keeper.c) that outlives the daemon; its control socket is how the
 * kind talks to a running VPS.
 */
#ifndef VPS_HOST_KIND_H
#define VPS_HOST_KIND_H

#include <stdbool.h>

#include <jansson.h>

#include "common/err.h"
#include "host/host.h"
#include "host/tmpl.h"
#include "host/vps.h"

struct keeper_jail;

struct kind_ops {
	enum vps_kind kind;
	enum vps_engine engine;
	/* the file in the run dir whose appearance means the monitor is up (NULL: control.sock) */
	const char *ready_leaf;
	/*
	 * Joins networks (net.h): its monitor puts a host device named
	 * net_ifname() on the network's bridge, with the VPS's MAC and addresses.
	 */
	bool net;
	/*
	 * Usage history (usage.c): the monitor puts the VPS in the cgroup
	 * CGROUP_PARENT/NAME under each hierarchy's root ("vps-ct"), whose
	 * CPU time and memory are the VPS's; NULL: the VPS is its monitor
	 * process (monitor.pid), its CPU time and RSS.
	 */
	const char *cgroup_parent;
	/* kind-specific checks at create: template exists, boot mode, ... */
	int (*validate)(struct host *h, const struct vps *v, struct err **err);
	/*
	 * Make the persistent files in host_vps_dir(NAME) (which exists and is
	 * empty). `password` may be NULL. On failure leave the directory empty.
	 */
	int (*create)(struct host *h, const struct vps *v, const char *password, struct err **err);
	/* The monitor's argv (NULL-terminated; strings and array malloc'd). */
	char **(*monitor_argv)(struct host *h, const struct vps *v, struct err **err);
	/* Whether the monitor's exit status asks for a restart (a guest reboot). */
	bool (*restart_on)(int status);
	/* Ask the guest to power off (its own way); the keeper sees the end. */
	int (*shutdown)(struct host *h, const struct vps *v, int timeout, struct err **err);
	/* Stop it now. */
	int (*kill)(struct host *h, const struct vps *v, struct err **err);
	/* Apply changed limits to the running VPS: 1 live, 0 next start, <0 error. */
	int (*set_live)(struct host *h, const struct vps *old, const struct vps *v,
			struct err **err);
	/* Add the monitor's live view (state, stats) to out. */
	void (*status)(struct host *h, const struct vps *v, json_t *out);
	/* Path of the console socket (caller frees), NULL if none. */
	char *(*console)(struct host *h, const struct vps *v);
	/*
	 * Path of the running VPS's screen: an RFB (VNC) socket in its run
	 * directory (caller frees); NULL with -EBUSY in err when it has none
	 * (docs/screen.md). A NULL op: the kind has no screen.
	 */
	char *(*screen)(struct host *h, const struct vps *v, struct err **err);
	/* Run a command inside (ct): status, output. NULL if the kind cannot. */
	int (*exec)(struct host *h, const struct vps *v, char *const *args, json_t **out,
		    struct err **err);
	/*
	 * Memory reclaim (reclaim.c): leave the running VPS `target` bytes of
	 * its RAM through its balloon; target == v->ram gives it all back.
	 * Never called for a VPS under memory `reserve`. NULL: the kind is not
	 * reclaimed this way (ct: its cgroup limit and the host's own reclaim).
	 */
	int (*reclaim)(struct host *h, const struct vps *v, uint64_t target, struct err **err);
	/*
	 * Set root's password inside (docs/auth.md): a running container in its
	 * mounted root, a stopped VM on its disk; -EBUSY in the other state.
	 */
	int (*password)(struct host *h, const struct vps *v, const char *password,
			struct err **err);
	/*
	 * Its disks may live in any storage pool (host_vps_disks, POOL/NAME/);
	 * false: in the default pool only, where the VPS's directory is.
	 */
	bool pools;
	/*
	 * Its files on disk belong to the VPS's own uid range (a container's
	 * shifted ids): a new VPS made of them needs them shifted first, which
	 * is not built (backup restore --as refuses it).
	 */
	bool ids_shifted;
	/*
	 * Its root disk (disk.img) is an ext4 filesystem the host mounts to run
	 * it: backups are of its files (backup.c), so a second one reads only
	 * what changed. false: of its disk images, whole.
	 */
	bool files_backup;
	/*
	 * A running one moves to another node by a stop, the move and a start
	 * (migrate.c, the downtime reported); false: only a stopped one moves.
	 */
	bool restart_migrate;
	/*
	 * A running one moves with its state (migrate.c, docs/cluster.md "A
	 * running VM on QEMU"): migrate_save pauses it and writes its whole
	 * state (RAM, CPUs, devices) to fd, the disks then quiet; migrate_cont
	 * runs it on here again (a move that failed). A start with v->restore
	 * (a dir holding that state as `state`) and v->incoming takes it in
	 * (monitor_argv) and migrate_load runs it on from there. NULL: none.
	 */
	int (*migrate_save)(struct host *h, const struct vps *v, int fd, struct err **err);
	int (*migrate_cont)(struct host *h, const struct vps *v, struct err **err);
	int (*migrate_load)(struct host *h, const struct vps *v, struct err **err);
	/*
	 * A running one moves live (migrate.c, docs/cluster.md "A running VM
	 * on vps-vmm"): live_hold(on) holds its disk requests while its CPUs
	 * run on (its disks are copied meanwhile), or serves them again;
	 * live_send hands RAM, CPUs and devices over with the monitor's own
	 * pre-copy to `to`, a unix socket's name in the run directory's
	 * KIND_LIVE_DIR, telling progress (0 to 1) as it goes, and returns 0
	 * once the monitor has left (the VM runs there), < 0 with the VM
	 * running on here. With `barrier`, its disks serve through the memory's
	 * passes and are held only from the last one (paused), when barrier(arg)
	 * is called (the last disk blocks go); < 0 from it cancels the move.
	 * A start with v->stream_in (a socket path) takes such a stream in.
	 * NULL: none.
	 */
	int (*live_hold)(struct host *h, const struct vps *v, bool on, struct err **err);
	/*
	 * Its disks copied while it runs (docs/cluster.md "A running VM on
	 * vps-vmm"): KIND_BLOCKS_START starts its monitor's dirty-block logs,
	 * KIND_BLOCKS_TAKE writes what they took since into a blocks file on
	 * `out` (migrate_blocks.h; *bytes: its data), KIND_BLOCKS_STOP ends them.
	 * live_images: the images (names in its directory) a blocks file may
	 * write, NULL-ended. NULL: the disks go whole under live_hold.
	 */
	int (*live_blocks)(struct host *h, const struct vps *v, int op, int out,
			   unsigned long long *bytes, struct err **err);
	const char *const *live_images;
	int (*live_send)(struct host *h, const struct vps *v, const char *to,
			 int (*progress)(double done, void *arg), void *arg,
			 int (*barrier)(void *arg, struct err **err), struct err **err);
	/*
	 * It configures itself at boot from a cloud-init seed the host builds
	 * (vmdisk.c), which may carry the customer's own user-data (create and
	 * reinstall's `user_data`); false: `user_data` is refused.
	 */
	bool seed;
	/*
	 * Snapshots (snapshot.c, docs/storage.md): copy every disk of the VPS
	 * into `dir` (made and empty, on the disks' filesystem, so a reflink
	 * pool shares the blocks), and sync them. A running VPS is frozen or
	 * paused for the copy and runs on afterwards. NULL: no snapshots.
	 */
	int (*snapshot)(struct host *h, const struct vps *v, const char *dir, struct err **err);
	/*
	 * A memory snapshot: as snapshot, and the running VPS's whole state
	 * (RAM, CPUs, devices) saved into `dir` at the instant its disks are
	 * copied; it runs on afterwards. A start with v->restore set to such a
	 * dir runs it on from there (monitor_argv). NULL: the kind has none.
	 */
	int (*snapshot_memory)(struct host *h, const struct vps *v, const char *dir,
			       struct err **err);
	/* The VPS stopped: its disks made again from what snapshot put in `dir`. */
	int (*revert)(struct host *h, const struct vps *v, const char *dir, struct err **err);
	/*
	 * A clone's create in one step (life_create_from): the persistent files
	 * made from `from`'s disks copied into `dir`, made its own, instead of
	 * from a template. NULL: a create, then revert.
	 */
	int (*create_from)(struct host *h, const struct vps *v, const char *dir,
			   const struct vps *from, struct err **err);
	/*
	 * The stopped VPS's root disk, a raw image a template can be made of
	 * (`vps template create --from`, tmpl.h; caller frees). NULL: the kind
	 * cannot yet (ct: its files carry the container's shifted ids).
	 */
	char *(*template_disk)(struct host *h, const struct vps *v);
	/*
	 * The stopped VPS's root filesystem as a tar stream: the argv of a
	 * program that reads it confined and runs the rest of its arguments
	 * after a `--` with the stream on their stdin (ct: `vps-ctm export`;
	 * caller frees each string and the array). NULL: the kind has no root filesystem.
	 */
	char **(*template_export)(struct host *h, const struct vps *v);
	/*
	 * Rescue mode on or off for the stopped VPS: what its next boot is
	 * (life_rescue restarts a running one around it). NULL: none.
	 */
	int (*rescue)(struct host *h, const struct vps *v, bool on, struct err **err);
	/* Whether rescue mode is on (GET /vps/NAME's `rescue`). */
	bool (*rescuing)(struct host *h, const struct vps *v);
	/* What the rescue system is and where the VPS's disk is in it (`rescue_system`). */
	const char *rescue_system;
	/*
	 * vpsd adopts the running VPS at its start: undo what a vpsd killed in
	 * the middle of work left held (a VM frozen for a snapshot). NULL: none.
	 */
	void (*adopt)(struct host *h, const struct vps *v);
	/* Remove the persistent files (the VPS is stopped). */
	int (*destroy)(struct host *h, const struct vps *v, struct err **err);
	/*
	 * What the keeper does to the monitor (keeper.h): fill `j` (its cgroup
	 * path in `cgroup`, of `len` bytes) and return true; NULL: the monitor
	 * runs as the keeper starts it (ct: vps-ctm makes its own cgroups).
	 */
	bool (*monitor_jail)(const struct host *h, const struct vps *v, struct keeper_jail *j,
			     char *cgroup, size_t len);
	/* After the keeper is gone, however it ended: undo what it could not. NULL: nothing. */
	void (*keeper_gone)(const struct host *h, const char *name);
};

enum { KIND_BLOCKS_START, KIND_BLOCKS_TAKE, KIND_BLOCKS_STOP };

/* Where a live move's source socket is made, in the VPS's run directory (live_send's `to`). */
#define KIND_LIVE_DIR "migrate"

const struct kind_ops *kind_find(enum vps_kind kind, enum vps_engine engine);

/* A limit a VPS's field asks of its kind: the body's field, the host report's limit. */
struct kind_ask {
	const char *field; /* "ram", "swap", "cpus", "io_weight", "pids" */
	const char *limit; /* the name in the kind's `limits` */
};

/*
 * What a kind settles at create, before its engine is known: the engine
 * (the kind's default on this host when none was asked for) and the
 * fields only some kinds take; and which limits the host enforces for
 * the kind (caps.c asks, docs/policies.md "Limits the host enforces").
 */
struct kind_family {
	enum vps_kind kind;
	enum tmpl_form template_form; /* what of a template (tmpl.h) a VPS of the kind is made from */
	int (*settle)(struct vps *v, struct err **err);
	/*
	 * Find out what this host enforces for the kind (once, at vpsd's
	 * start, before any VPS starts). Never fails vpsd: what it cannot
	 * tell reads "not enforced". NULL: nothing to find out.
	 */
	void (*probe)(struct host *h);
	/*
	 * The kind's part of the host report (a new object):
	 * {"limits": {LIMIT: {"enforced": bool, "why"?: text}}, ...} and what
	 * else the kind says of the host (ct: "cgroup", the layout).
	 */
	json_t *(*report)(void);
	/* The fields a VPS asks a limit with, and the limit each asks (NULL-ended). */
	const struct kind_ask *asks;
};

/* The family of a kind, NULL for none. */
const struct kind_family *kind_family_of(enum vps_kind kind);
/* The families in the table's order, for i from 0 until NULL. */
const struct kind_family *kind_family_at(size_t i);

extern const struct kind_family kind_ct_family;
extern const struct kind_family kind_vm_family;

/* Settle a new VPS (v->kind set, the body parsed): 0, or -errno with the reason. */
int kind_settle(struct vps *v, struct err **err);

extern const struct kind_ops kind_ct;
extern const struct kind_ops kind_vm_vmm;
extern const struct kind_ops kind_vm_qemu;

#endif
