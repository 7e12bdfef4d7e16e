/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One system container's settings, as the daemon writes them: a JSON file
 * read by every vps-ctm command. Unknown keys and bad values are refused
 * with the key named; docs/ctm.md lists the keys.
 */
#ifndef VPS_CTM_CONFIG_H
#define VPS_CTM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "sys/disk.h"

enum ctm_init {
	CTM_INIT_AUTO, /* found at start from what /sbin/init is */
	CTM_INIT_SYSTEMD,
	CTM_INIT_BUSYBOX,
};

/* Where the root filesystem lives (docs/ctm.md, "Layered storage"). */
enum ctm_storage {
	CTM_STORAGE_IMAGE, /* the template unpacked onto the container's own disk */
	CTM_STORAGE_LAYERED, /* overlayfs: shared read-only template under the disk */
};

#define CTM_MAX_LIST 16
/* a container whose settings name no pids limit gets this one: no fork bomb reaches the host's pid_max */
#define CTM_DEFAULT_PIDS 4096

struct ctm_net {
	char *bridge; /* NULL: no network card, only lo */
	char *host_ifname; /* default "vps-" + name, cut to 15 bytes */
	uint8_t mac[6];
	bool has_mac; /* else the kernel picks one */
	char *ipv4, *gw4, *ipv6, *gw6; /* CIDR addresses and gateways, each optional */
	char *nameservers[CTM_MAX_LIST];
	size_t nr_nameservers;
	unsigned int mtu; /* 0: the bridge's */
};

struct ctm_config {
	char *name; /* [a-z0-9][a-z0-9-]*, at most 32 bytes */
	char *dir; /* persistent: disk.img, rootfs/ (the mount point), bundle/ */
	char *run_dir; /* volatile: sockets, vps-ct state; default /run/vps/ct/NAME */
	char *template; /* a template tarball (mktemplate's output), for create */
	char *clone_disk; /* create: this disk image copied in place of the template (a clone) */
	uint32_t clone_uid_base; /* ...whose files are in the range at this base */
	enum ctm_storage storage;
	char *template_dir; /* layered: unpacked templates; /var/lib/vps/templates */
	/*
	 * rescue mode (docs/rescue.md): the root is this directory's disk (a
	 * vps-ctm create of its own, the rescue template), the container's own
	 * root bound at /mnt; NULL: the container's own root
	 */
	char *rescue_dir;
	enum ctm_init init;
	uint64_t disk_size;
	enum sys_disk_alloc disk_alloc;
	uint64_t memory, swap; /* bytes; swap 0 = none */
	double cpus; /* CPU limit in cores; 0 = none */
	unsigned int cpu_weight; /* 1..10000, v2's scale; 100 by default */
	int64_t pids; /* default CTM_DEFAULT_PIDS; 0 = none */
	unsigned int io_weight; /* 10..1000; 0 = leave the default */
	/* limits on the container's own disk (its loop device); 0 = none */
	uint64_t io_read_bps, io_write_bps, io_read_iops, io_write_iops;
	uint32_t uid_base, uid_size; /* root inside is uid_base outside */
	char *hostname;
	char *root_password; /* plain text at create; hashed with SHA-512 crypt */
	char *ssh_keys[CTM_MAX_LIST];
	size_t nr_ssh_keys;
	struct ctm_net net;
	bool tun; /* /dev/net/tun usable inside (VPNs) */
	bool fuse; /* /dev/fuse usable inside: FUSE mounts (sshfs) */
	bool nesting; /* clean proc and sysfs for containers inside (docs/containers.md) */
	bool sysinfo; /* answer sysinfo() with the container's figures */
	char *lxcfs; /* lxcfs mount point; "" or absent host files: host /proc */
	unsigned int stop_timeout; /* seconds from the stop signal to SIGKILL */
};

void ctm_config_init(struct ctm_config *c);
void ctm_config_free(struct ctm_config *c);

/* Parse and validate a document; on failure the message names the key. */
int ctm_config_from_json(struct ctm_config *c, json_t *j, struct err **err);
int ctm_config_load(struct ctm_config *c, const char *path, struct err **err);

/* Paths derived from dir and run_dir (caller frees). */
char *ctm_path(const struct ctm_config *c, bool run, const char *leaf);

/* The root the container boots: DIR/rootfs, or RESCUE_DIR/rootfs in rescue mode. */
char *ctm_boot_root(const struct ctm_config *c);

#endif
