/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The monitor's configuration: one JSON document, whose keys the command-line
 * flags share (--memory is "memory", --disk path=x,readonly=on is one entry
 * of "disk"). Flags only build that document; config_parse() reads it,
 * refusing unknown keys and bad values with an error naming the key;
 * config_validate() then checks the whole (Cloud Hypervisor's split).
 */
#ifndef VPS_VMM_CONFIG_H
#define VPS_VMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

#define CONFIG_MAX_DISKS 16
#define CONFIG_MAX_NETS 8
#define CONFIG_MAX_CPUS 64
#define CONFIG_DISK_QUEUES_MAX 8 /* VIRTIO_MAX_QUEUES */
#define CONFIG_NET_QUEUES_MAX 3 /* VIRTIO_NET_MAX_PAIRS */
#define CONFIG_ID_MAX 20 /* virtio-blk serial length, virtio 1.2 §5.2.6 */

struct config_disk {
	char *path;
	bool readonly;
	char *id; /* serial the guest sees; NULL for none */
	unsigned int queues; /* request queues (VIRTIO_BLK_F_MQ); 0: one per vCPU, at most 8 */
};

struct config_net {
	char *tap;
	uint8_t mac[6];
	bool has_mac; /* else one is derived from the tap name */
	unsigned int queues; /* queue pairs; 0: one per vCPU up to 3, as the tap allows */
	/*
	 * vhost-net where /dev/vhost-net exists; off by default while live
	 * migration refuses a VM that uses it (no dirty log of its writes yet)
	 */
	bool vhost;
};

enum serial_kind { SERIAL_STDIO, SERIAL_PTY, SERIAL_SOCKET, SERIAL_FILE, SERIAL_NONE };

struct vmm_config {
	/* Linux boot */
	char *kernel;
	char *initrd;
	char *cmdline;
	/* PC firmware boot (boot/firmware.h) */
	char *firmware; /* the image, e.g. /usr/share/seabios/bios.bin */
	char *vgabios; /* a VGA option ROM, e.g. vgabios-stdvga.bin; NULL: no display */
	char *cdrom; /* an ISO on a virtio-scsi CD-ROM, booted before the disks */
	char *vnc; /* the screen's RFB socket (backends/rfb.h); needs `vgabios` or `display` */
	bool display; /* Linux boot: the PCI display adapter (devices/vga.h) without a vgabios */
	/* micro-guest boot (tests) */
	char *micro;
	bool micro_long; /* "mode": "long" */
	bool exit_port;

	uint64_t memory; /* bytes */
	bool reserve; /* prefault and mlock guest RAM; the balloon then refuses to inflate */
	bool ioeventfd; /* KVM ioeventfds and I/O threads where KVM has them (notify.h) */
	bool irqfd; /* MSI routes and irqfds where KVM has them */
	bool net_offloads; /* virtio-net checksum/TSO offloads and MRG_RXBUF */
	bool io_uring; /* disk requests through io_uring where the kernel has it; off by default */
	unsigned int cpus;
	struct config_disk disk[CONFIG_MAX_DISKS];
	unsigned int nr_disk;
	struct config_net net[CONFIG_MAX_NETS];
	unsigned int nr_net;
	enum serial_kind serial;
	char *serial_path; /* socket or file path */
	char *control; /* unix socket path, or NULL */
	char *snapshot_dir; /* opened before the jail: `snapshot` NAME goes under it */
	char *restore; /* a snapshot directory to run from instead of booting (snapshot.h) */
	char *migrate_listen; /* receive the VM from a migrating source here (migrate.h) */
	char *migrate_dir; /* opened before the jail: `migrate` to a unix socket NAME under it */
	/* the jail (jail.h): this uid and gid, no capabilities, an empty root, seccomp */
	bool jail;
	unsigned int jail_uid, jail_gid;
};

/* Defaults: 512 MiB, 1 vCPU, serial on stdio. */
void config_init(struct vmm_config *c);
void config_free(struct vmm_config *c);

/* Parse a JSON document (text) into c, on top of what c holds. */
int config_parse(struct vmm_config *c, const char *json_text, struct err **err);

/*
 * Build the JSON document from argv (flags as in `vps-vmm --help`); a
 * --config FILE is read first and the other flags apply over it: scalars
 * replace, --disk and --net add entries. Returns the document as text.
 */
int config_from_argv(int argc, char **argv, char **json_out, struct err **err);

/* Whole-configuration checks: exactly one of kernel/firmware/micro, sizes, ids unique. */
int config_validate(const struct vmm_config *c, struct err **err);

#endif
