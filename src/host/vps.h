/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One VPS as the daemon keeps it: what the customer bought (plan figures),
 * what it runs (kind, engine, template), who owns it and where it stands.
 * vps_from_json() is the one parser of API bodies; every field is checked
 * and errors name it.
 */
#ifndef VPS_HOST_VPS_H
#define VPS_HOST_VPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"

#define VPS_NAME_MAX 32
#define VPS_MAX_KEYS 16

/*
 * Where a VPS stands. The names (vps_state_name) are what the store's
 * `state` column, the events and the API say; inside, states are these.
 */
enum vps_state {
	VPS_STOPPED, /* the default: a row read back with no other state */
	VPS_CREATING,
	VPS_STARTING,
	VPS_RUNNING,
	VPS_STOPPING,
	VPS_DESTROYING,
	VPS_REINSTALLING,
	NR_VPS_STATES
};

/*
 * What a VPS is, and what runs it. Inside the daemon only the kind files
 * (kind_*.c, behind kind.h) tell one from another; the names
 * (vps_kind_name, vps_engine_name) are what the store's columns, the
 * events and the API say. NONE: not given (an engine until the kind settles it).
 */
enum vps_kind { VPS_KIND_NONE, VPS_CT, VPS_VM, NR_VPS_KINDS };

/*
 * The OpenVZ switches of a container (docs/containers.md, "Features"):
 * each opens a door that is shut by default. The names (vps_features_*)
 * are what the store, the API and the CLI say.
 */
enum vps_feature {
	VPS_FEATURE_TUN = 1 << 0, /* /dev/net/tun: VPNs inside */
	VPS_FEATURE_FUSE = 1 << 1, /* /dev/fuse: sshfs and other FUSE mounts inside */
	VPS_FEATURE_NESTING = 1 << 2, /* proc and sysfs mountable by containers inside */
};
#define VPS_FEATURES_ALL (VPS_FEATURE_TUN | VPS_FEATURE_FUSE | VPS_FEATURE_NESTING)
enum vps_engine { VPS_ENGINE_NONE, VPS_CTM, VPS_VMM, VPS_QEMU, NR_VPS_ENGINES };

struct vps {
	int64_t id;
	char name[VPS_NAME_MAX + 1];
	enum vps_kind kind;
	enum vps_engine engine; /* the kind's (kind.h) */
	char boot[12]; /* vm: "linux" | "firmware" (SeaBIOS) | "uefi" (OVMF, qemu); ct: "" */
	char *template; /* template name, or NULL (vm firmware boot from an ISO) */
	char *iso; /* firmware boot: path of an uploaded ISO */
	char owner[64];
	enum vps_state state;
	uint64_t ram, swap, disk; /* bytes */
	double cpus;
	unsigned int io_weight; /* 0: default */
	uint64_t bw; /* bits/s, 0: none (applied by the network layer) */
	unsigned int pids; /* ct: processes at most; 0: the host's default (--pids-limit) */
	/* ct: limits on its own disk; 0: none (docs/containers.md, "IO limits") */
	uint64_t io_read_bps, io_write_bps, io_read_iops, io_write_iops;
	unsigned int features; /* ct: VPS_FEATURE_* bits, all off by default */
	char *hostname;
	char *ssh_keys[VPS_MAX_KEYS];
	unsigned int nr_ssh_keys;
	bool onboot;
	int64_t created; /* Unix time */
	uint32_t uid_base; /* ct: the container's uid range */
	int last_exit; /* the monitor's last exit status, -1 none */
	char network[VPS_NAME_MAX + 1]; /* "": none (net.h) */
	char mac[18]; /* on its network: aa:bb:cc:dd:ee:ff, stored at create */
	char ipv4[16], ipv6[46]; /* its addresses (the addresses table); at create: asked for */
	bool suspended; /* by the provider: stopped, and its owner cannot start it */
	char node[64]; /* cluster: the node that holds it (docs/cluster.md); "": this host */
	/*
	 * Not stored: set by the daemon from the host's policies before the
	 * kind's create, start and set (policy_apply(), docs/policies.md).
	 */
	bool reserve_memory; /* memory `reserve`: a VM's RAM prefaulted and locked */
	bool reserve_disk; /* disk `reserve`: images fully allocated (fallocate) */
	/*
	 * Not stored: a start that runs the VM on from the memory snapshot in
	 * this directory instead of booting it (snapshot.c; borrowed, not freed).
	 */
	const char *restore;
	/*
	 * Not stored: that start is a migration's arrival (migrate.c): the row
	 * is still the source node's (running there), so the start neither
	 * looks at nor writes its state.
	 */
	bool incoming;
	/*
	 * Not stored: with incoming, a live move's arrival: the monitor waits
	 * at this unix socket for the source's stream (borrowed, not freed).
	 */
	const char *stream_in;
};

/* "stopped", "running", ... */
const char *vps_state_name(enum vps_state s);
/* The state of that name: 0, or -EINVAL for none. */
int vps_state_parse(const char *name, enum vps_state *out);

/* "ct", "vm" ("" for none) */
const char *vps_kind_name(enum vps_kind k);
/* The kind of that name: 0, or -EINVAL for none. */
int vps_kind_parse(const char *name, enum vps_kind *out);
/* "ctm", "vmm", "qemu" ("" for none) */
const char *vps_engine_name(enum vps_engine e);
/* The engine of that name: 0, or -EINVAL for none. */
int vps_engine_parse(const char *name, enum vps_engine *out);

/* "tun,fuse" from the bits (buf of at least 32 bytes); "" for none. */
const char *vps_features_str(unsigned int features, char *buf, size_t len);
/* The bits of "tun,fuse" (the store's column): 0, or -EINVAL naming none. */
int vps_features_parse(const char *s, unsigned int *out);
/* The bits of a JSON list of names (as the store keeps a plan's); unknown names are skipped. */
unsigned int vps_features_bits(json_t *list);
/* The bits as a JSON list of names. */
json_t *vps_features_json(unsigned int features);

void vps_init(struct vps *v);
void vps_free(struct vps *v);
/* Deep copy (for the ops that run outside the store's lock). */
int vps_copy(struct vps *dst, const struct vps *src);

int vps_check_name(const char *name, struct err **err);

/*
 * A body that must be an object with no field outside `keys` (NULL-ended);
 * the error names the first stranger and says `what` the body takes.
 */
int vps_only_fields(json_t *body, const char *const *keys, const char *what, struct err **err);

/* Whether k is a field of a VPS body (one vps_from_json() knows). */
bool vps_known_field(const char *k);

/*
 * Fill v from an API body. `create` true: a new VPS (name and kind
 * required, defaults applied); false: a PATCH, only the fields present
 * change and the ones that cannot change after create are refused.
 * `password` receives root_password when given (never stored).
 */
int vps_from_json(struct vps *v, json_t *body, bool create, char **password, struct err **err);

/* The public view (no secrets). */
json_t *vps_to_json(const struct vps *v);

#endif
