// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The `vm` kind, on two engines: `vmm` (vps-vmm, our KVM monitor,
 * docs/vmm.md) and `qemu` (Debian's qemu-system-x86_64, which falls back to
 * its software CPU where the host has no VMX/SVM). Both boot the same files.
 *
 * The VPS's directory holds, from create on (disk.img and swap.img in its
 * pool's directory instead, host_vps_disks(), when it is not the default):
 *   disk.img        the root disk: a sparse copy of the template's
 *                   rootfs.img grown to the plan's disk; the host never
 *                   mounts it nor writes into its filesystem
 *   seed.iso        the cloud-init NoCloud seed (vmdisk.c, 0600): hostname,
 *                   root password hash, SSH keys, nameservers; written at
 *                   create and at a password reset, attached read-only
 *   swap.img        a sparse swap disk (mkswap -L vps-swap) when the plan
 *                   has swap; the template's vps-swap.service turns it on
 *   vmlinuz, initrd.img   the template's kernel, copied so the VM does not
 *                   depend on the template cache (linux boot; a firmware
 *                   boot from a template's disk boots the disk's own
 *                   boot loader and kernel: the host reads neither)
 *   vm.json         vps-vmm's configuration (its keys are its flags)
 *   efivars.fd      boot uefi: the VM's own UEFI variables (a copy of
 *                   OVMF's template at create), where installers write
 *                   their boot entries
 * and the run directory the monitor's sockets: console.sock, control.sock
 * (vps-vmm, JSON lines through monitor_call) or qmp.sock (QEMU, qmp.c),
 * and a firmware-booted VM's screen, vnc.sock (RFB; docs/screen.md).
 *
 * On a network (net.h) the VM's host device is a persistent tap named
 * net_ifname(), made on the network's bridge before each start (so the
 * anti-spoofing rules and the bandwidth limit find it as they find a
 * container's veth) and removed by net_vps_down() at stop and destroy. The
 * monitor opens it by name, with the VPS's MAC on its virtio-net; the
 * guest's IPv4 address and gateway come on the kernel command line
 * (`vps.ip=ADDR/LEN,GW`, the template's vps-net.service), its nameservers
 * in the seed (cloud-init writes /etc/resolv.conf).
 *
 * Templates come from the template store (tmpl.c): the newest version's
 * directory holding vmlinuz, initrd.img and rootfs.img, built by
 * src/host/templates/mkvmtemplate or imported.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/testpoint.h"
#include "common/util.h"
#include "ct/cgroup.h"
#include "sys/disk.h"
#include "sys/image.h"
#include "host/kind.h"
#include "host/keeper.h"
#include "host/kind_vm.h"
#include "host/migrate_blocks.h"
#include "host/net.h"
#include "host/qmp.h"
#include "host/snapshot.h"
#include "host/tmpl.h"
#include "host/vmdisk.h"
#include "monitor/client.h"
#include "monitor/protocol.h"
#include "sys/spawn.h"

#define VM_MIN_RAM (64ULL << 20) /* a Debian guest needs this much to boot */
#define VM_MAX_CPUS 64 /* vps-vmm's limit */
#define VM_CMDLINE "console=ttyS0 root=/dev/vda rw quiet"
#define VM_CTL_TIMEOUT_MS 10000
#define VM_CDROM "cd0" /* QEMU's CD drive (QMP eject) */
/* boot uefi (QEMU): Debian's OVMF, the 4 MiB flash layout (package ovmf) */
#define VM_OVMF_CODE "/usr/share/OVMF/OVMF_CODE_4M.fd"
#define VM_OVMF_VARS "/usr/share/OVMF/OVMF_VARS_4M.fd"

/* --- small helpers ------------------------------------------------------ */

/* The disks are in the VPS's pool; the rest (kernel, seed, vm.json) in its own directory. */
static char *vm_file(struct host *h, const struct vps *v, const char *leaf)
{
	if (!strcmp(leaf, "disk.img") || !strcmp(leaf, "swap.img"))
		return host_vps_disks(h, v->name, leaf);
	return host_vps_dir(h, v->name, leaf);
}

/*
 * vps-vmm's snapshot_dir, beside the disks (so what it writes renames into
 * a snapshot): the VM's uid's own, made afresh at each start; the monitor
 * writes a memory snapshot into SNAP_TAKE under it, and vpsd moves the
 * files into the snapshot (vmm_snapshot_memory).
 */
#define VMM_SNAP_DIR "vmm-snap"
#define VMM_SNAP_TAKE "take"

/*
 * Remove what is below the directory fd `dir` (closed here), by
 * descriptors: the monitor, the VM's uid, may be changing the tree while
 * vpsd removes it, and no name it swaps for a link is followed.
 */
static void rm_below(int dir)
{
	DIR *d = fdopendir(dir);
	struct dirent *e;

	if (!d) {
		close(dir);
		return;
	}
	while ((e = readdir(d))) {
		int sub;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0 || errno != EISDIR)
			continue;
		sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			rm_below(sub);
		unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

/* Remove `path` (a directory of the monitor's, or not there) and what is in it. */
static void rm_tree(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0)
		rm_below(fd);
	if (rmdir(path) < 0 && errno != ENOENT)
		unlink(path); /* not a directory */
}

/* boot firmware (SeaBIOS) or uefi (OVMF): the VM's own firmware boots a disk or an ISO */
static bool vm_firmware(const struct vps *v)
{
	return !strcmp(v->boot, "firmware") || !strcmp(v->boot, "uefi");
}

static int vm_cpus(const struct vps *v)
{
	int n = (int)ceil(v->cpus);

	return n < 1 ? 1 : n;
}

static int write_json(const char *path, json_t *j, struct err **err)
{
	_cleanup_free_ char *tmp = NULL;

	if (!j)
		return err_make(err, ENOMEM, "write `%s`", path);
	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return err_make(err, ENOMEM, "write `%s`", path);
	errno = 0;
	if (json_dump_file(j, tmp, JSON_INDENT(1) | JSON_SORT_KEYS) < 0 || chmod(tmp, 0600) < 0 ||
	    rename(tmp, path) < 0) {
		int e = errno ? errno : EIO;

		unlink(tmp);
		return err_make(err, e, "write `%s`", path);
	}
	return 0;
}

/* --- the template ------------------------------------------------------- */

static int template_dir(struct host *h, const struct vps *v, char **dir, struct err **err)
{
	int version;

	/* the newest version's directory (tmpl.c): vmlinuz, initrd.img, rootfs.img */
	if (tmpl_resolve(h, TMPL_DISK, v->template, dir, &version, err) < 0)
		return err_wrap(err, "template `%s`", v->template);
	pr_info("vm `%s`: from template `%s` version %d", v->name, v->template, version);
	return 0;
}

/* --- rescue mode -------------------------------------------------------- */

/*
 * Rescue mode (docs/rescue.md): the VPS's directory holds rescue.img, a
 * fresh copy of the debian-12 VM template's root disk, and that template's
 * kernel and initramfs. While they are there the VM boots them, whatever
 * its own boot (linux, firmware, uefi), with rescue.img as its first disk
 * (/dev/vda, the root) and its own disk second (/dev/vdb), its swap and
 * seed as always: the seed's password, keys and addresses are the rescue
 * system's, the customer's disk is not mounted by anything.
 */
#define VM_RESCUE_TEMPLATE "debian-12"

static const char *const rescue_files[][2] = {
	{ "rootfs.img", "rescue.img" },
	{ "vmlinuz", "rescue-vmlinuz" },
	{ "initrd.img", "rescue-initrd.img" },
};

static bool vm_rescuing(struct host *h, const struct vps *v)
{
	_cleanup_free_ char *p = vm_file(h, v, "rescue.img");

	return p && access(p, F_OK) == 0;
}

static int vm_rescue(struct host *h, const struct vps *v, bool on, struct err **err)
{
	_cleanup_free_ char *dir = NULL;
	int version, r = 0;

	/* off, and before on: nothing of an earlier rescue system is kept */
	for (size_t i = 0; i < ARRAY_SIZE(rescue_files); i++) {
		_cleanup_free_ char *p = vm_file(h, v, rescue_files[i][1]);

		if (!p)
			return err_make(err, ENOMEM, "rescue");
		if (unlink(p) < 0 && errno != ENOENT)
			return err_make(err, errno, "remove `%s`", p);
	}
	if (!on)
		return 0;
	if (tmpl_resolve(h, TMPL_DISK, VM_RESCUE_TEMPLATE, &dir, &version, err) < 0)
		return err_wrap(err, "rescue system (template `%s`)", VM_RESCUE_TEMPLATE);
	/* rescue.img last: its presence is what turns rescue on */
	for (size_t i = ARRAY_SIZE(rescue_files); r == 0 && i-- > 0;) {
		_cleanup_free_ char *from = NULL, *to = vm_file(h, v, rescue_files[i][1]);

		if (!to || asprintf(&from, "%s/%s", dir, rescue_files[i][0]) < 0)
			return err_make(err, ENOMEM, "rescue");
		r = sys_image_copy(from, to, err);
	}
	if (r < 0) {
		vm_rescue(h, v, false, NULL);
		return err_wrap(err, "rescue `%s`", v->name);
	}
	pr_info("vm `%s`: rescue system from template `%s` version %d", v->name, VM_RESCUE_TEMPLATE,
		version);
	return 0;
}

/* --- the monitor's settings --------------------------------------------- */

/*
 * The kernel command line (caller frees): the network's addresses when on
 * one, `vps.ip=ADDR/LEN,GW` and `vps.ip6=ADDR/LEN,GW` (the template's
 * vps-net puts them on the first Ethernet interface).
 */
static char *vm_cmdline(struct host *h, const struct vps *v)
{
	json_t *net = net_ct_settings(h, v);
	const char *a4 = json_string_value(json_object_get(net, "ipv4"));
	const char *gw4 = json_string_value(json_object_get(net, "gw4"));
	const char *a6 = json_string_value(json_object_get(net, "ipv6"));
	const char *gw6 = json_string_value(json_object_get(net, "gw6"));
	char *s = NULL;

	if (asprintf(&s, "%s%s%s%s%s%s%s%s%s", VM_CMDLINE, a4 ? " vps.ip=" : "", a4 ? a4 : "",
		     a4 && gw4 ? "," : "", a4 && gw4 ? gw4 : "", a6 ? " vps.ip6=" : "",
		     a6 ? a6 : "", a6 && gw6 ? "," : "", a6 && gw6 ? gw6 : "") < 0)
		s = NULL;
	json_decref(net);
	return s;
}

/* /etc/resolv.conf for the guest (caller frees), NULL when there is nothing to say. */
static char *vm_resolv(struct host *h, const struct vps *v)
{
	json_t *net = net_ct_settings(h, v), *ns = json_object_get(net, "nameservers"), *x;
	char *text = NULL;
	size_t len = 0, i;
	FILE *f;

	if (!json_array_size(ns) || !(f = open_memstream(&text, &len))) {
		json_decref(net);
		return NULL;
	}
	fputs("# from the vps seed (the host's nameservers at create or password reset)\n", f);
	json_array_foreach(ns, i, x)
	{
		fprintf(f, "nameserver %s\n", json_string_value(x));
	}
	json_decref(net);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/*
 * The uid (and gid) the VM's monitor runs as in its jail: the first of the
 * VPS's own range; a VM made before VMs had ranges gets 2^31 + its id.
 */
static uint32_t vm_jail_uid(const struct vps *v)
{
	return v->uid_base ? v->uid_base : 0x80000000u + (uint32_t)v->id;
}

/*
 * The monitor's cgroup limits (docs/security.md "The monitor's jail").
 * Memory: the guest's RAM, which the monitor maps and the kernel charges
 * to it as the guest touches it, and the monitor's own: vps-vmm's is a few
 * MiB (the sanitizer build's quarantine is the bulk of the margin); QEMU's
 * is larger, and its software CPU adds a translation cache of up to 1 GiB.
 * Guest RAM has no swap of its own here, so a limit too tight is an OOM
 * kill of the VM: the margins are wide, the point is a bound, not a
 * squeeze. Pids: one per vCPU, a virtio I/O thread per device, QEMU's
 * pool of up to 64 I/O workers, and room: a monitor that forks or spawns
 * threads beyond that is not one of ours.
 */
#define VM_JAIL_OVERHEAD_VMM (256ull << 20)
#define VM_JAIL_OVERHEAD_QEMU (512ull << 20)
#define VM_JAIL_OVERHEAD_TCG (1024ull << 20)
#define VM_JAIL_PIDS 128

/*
 * The monitor's cgroup: vps-vm/NAME for the host's vpsd (its run directory
 * the default /run/vps); a vpsd with a run directory of its own (tests, a
 * second vpsd) adds a hash of it, so two vpsds' VMs of one name never share
 * a cgroup, and one's cleanup never kills the other's monitor.
 */
static void vm_cgroup_path(const struct host *h, const char *name, char *buf, size_t len)
{
	uint32_t hash = 2166136261u; /* FNV-1a */

	if (!strcmp(h->run_dir, "/run/vps")) {
		snprintf(buf, len, "vps-vm/%s", name);
		return;
	}
	for (const char *p = h->run_dir; *p; p++)
		hash = (hash ^ (unsigned char)*p) * 16777619u;
	snprintf(buf, len, "vps-vm/%s@%08x", name, hash);
}

bool kind_vm_jail(const struct host *h, const struct vps *v, struct keeper_jail *j, char *cgroup,
		  size_t len)
{
	uint64_t over = VM_JAIL_OVERHEAD_VMM;

	if (v->engine == VPS_QEMU)
		over = VM_JAIL_OVERHEAD_QEMU + (kind_vm_hw_virt() ? 0 : VM_JAIL_OVERHEAD_TCG);
	vm_cgroup_path(h, v->name, cgroup, len);
	*j = (struct keeper_jail){ .cgroup = cgroup,
				   .pids_max = VM_JAIL_PIDS + 2 * (int64_t)vm_cpus(v),
				   .memory_max = (int64_t)(v->ram + over),
				   .new_pid_ns = true,
				   .once = (v->restore || v->stream_in) && v->engine == VPS_VMM ?
						   2 :
						   0 };
	return true;
}

void kind_vm_jail_cleanup(const struct host *h, const char *name)
{
	struct ct_cgroup *cg = NULL;
	struct err *e = NULL;
	char path[300];

	vm_cgroup_path(h, name, path, sizeof(path));
	if (cg_open(path, &cg, &e) < 0) {
		err_free(&e);
		return;
	}
	cg_set_created_depth(cg, 1);
	if (cg_kill_all(cg, SIGKILL, &e) < 0 || cg_destroy(cg, &e) < 0)
		pr_err("`%s`: remove its monitor's cgroup: %s", name, err_msg(e));
	err_free(&e);
}

/* Debian's SeaBIOS (the `seabios` package): what vps-vmm boots for `boot: firmware` */
#define VMM_SEABIOS "/usr/share/seabios/bios.bin"
#define VMM_VGABIOS "/usr/share/seabios/vgabios-stdvga.bin"

/*
 * Firmware boot on vps-vmm: SeaBIOS with a VGA screen served over RFB on
 * vnc.sock (docs/screen.md), the ISO on the CD (booted first) and the disks;
 * the qemu engine gets the same order (`-boot order=dc`).
 */
static json_t *vmm_firmware_config(const struct vps *v, json_t *disks, const char *serial,
				   const char *control, const char *vnc)
{
	json_t *j = json_pack("{s:s, s:s, s:I, s:i, s:o, s:s, s:s, s:s}", "firmware", VMM_SEABIOS,
			      "vgabios", VMM_VGABIOS, "memory", (json_int_t)v->ram, "cpus",
			      vm_cpus(v), "disk", disks, "serial", serial, "control", control,
			      "vnc", vnc);

	if (j && v->iso)
		json_object_set_new(j, "cdrom", json_string(v->iso));
	return j;
}

static json_t *vmm_config(struct host *h, const struct vps *v)
{
	_cleanup_free_ char *kernel = vm_file(h, v, "vmlinuz");
	_cleanup_free_ char *initrd = vm_file(h, v, "initrd.img");
	_cleanup_free_ char *disk = vm_file(h, v, "disk.img");
	_cleanup_free_ char *swap = vm_file(h, v, "swap.img");
	_cleanup_free_ char *console = host_vps_run(h, v->name, "console.sock");
	_cleanup_free_ char *control = host_vps_run(h, v->name, "control.sock");
	_cleanup_free_ char *vnc = host_vps_run(h, v->name, "vnc.sock");
	_cleanup_free_ char *serial = NULL, *cmdline = vm_cmdline(h, v);
	_cleanup_free_ char *seed = vm_file(h, v, "seed.iso");
	_cleanup_free_ char *snaps = host_vps_disks(h, v->name, VMM_SNAP_DIR);
	json_t *disks, *j, *net;

	bool rescue = vm_rescuing(h, v);

	if (!kernel || !initrd || !disk || !swap || !seed || !console || !control || !vnc ||
	    !cmdline || !snaps || asprintf(&serial, "socket:%s", console) < 0)
		return NULL;
	if (rescue) { /* the rescue system's root first, the VPS's disk second */
		_cleanup_free_ char *img = vm_file(h, v, "rescue.img");

		free(kernel), free(initrd);
		kernel = vm_file(h, v, "rescue-vmlinuz");
		initrd = vm_file(h, v, "rescue-initrd.img");
		if (!img || !kernel || !initrd)
			return NULL;
		disks = json_pack("[{s:s, s:s}, {s:s, s:s}]", "path", img, "id", "rescue", "path",
				  disk, "id", "root");
	} else {
		disks = json_pack("[{s:s, s:s}]", "path", disk, "id", "root");
	}
	if (disks && v->swap)
		json_array_append_new(disks, json_pack("{s:s, s:s}", "path", swap, "id", "swap"));
	if (disks && access(seed, F_OK) == 0) /* a VM made before seeds has none */
		json_array_append_new(disks, json_pack("{s:s, s:s, s:b}", "path", seed, "id",
						       "cidata", "readonly", 1));
	if (!strcmp(v->boot, "firmware") && !rescue)
		j = vmm_firmware_config(v, disks, serial, control, vnc);
	else
		j = json_pack("{s:s, s:s, s:s, s:I, s:i, s:o, s:s, s:s}", "kernel", kernel,
			      "initrd", initrd, "cmdline", cmdline, "memory", (json_int_t)v->ram,
			      "cpus", vm_cpus(v), "disk", disks, "serial", serial, "control",
			      control);
	if (j && getenv("VPS_VMM_MICRO") && *getenv("VPS_VMM_MICRO") && !vm_firmware(v)) {
		/*
		 * Test-only: a micro-guest (tests/guest/micro) boots instead of the
		 * template's kernel, where vps-vmm runs no stock Linux (PVM's
		 * /dev/kvm): test_cluster_migrate_vmm.py moves one that counts
		 */
		json_object_del(j, "kernel");
		json_object_del(j, "initrd");
		json_object_del(j, "cmdline");
		json_object_set_new(j, "micro", json_string(getenv("VPS_VMM_MICRO")));
		json_object_set_new(j, "mode", json_string("long"));
		json_object_set_new(j, "cpus", json_integer(1));
	}
	if (j && !vm_firmware(v)) { /* a live move's source socket is made there (migrate.c) */
		_cleanup_free_ char *mig = host_vps_run(h, v->name, KIND_LIVE_DIR);

		json_object_set_new(j, "migrate_dir", mig ? json_string(mig) : json_null());
	}
	if (j) /* policy reserve: prefaulted and locked (docs/policies.md) */
		json_object_set_new(j, "reserve", json_boolean(v->reserve_memory));
	if (j && !strcmp(v->boot, "linux")) /* memory snapshots (not yet of firmware boot) */
		json_object_set_new(j, "snapshot_dir", json_string(snaps));
	/* the monitor's jail (docs/security.md): the first uid of the VPS's range, its own */
	if (j)
		json_object_set_new(j, "jail",
				    json_pack("{s:I}", "uid", (json_int_t)vm_jail_uid(v)));
	net = net_ct_settings(h, v);
	if (j && net) /* the tap net_vps_tap() makes, with the VPS's MAC */
		json_object_set_new(j, "net",
				    json_pack("[{s:O, s:O}]", "tap",
					      json_object_get(net, "host_ifname"), "mac",
					      json_object_get(net, "mac")));
	json_decref(net);
	return j;
}

static int write_vm_json(struct host *h, const struct vps *v, struct err **err)
{
	_cleanup_free_ char *cfg = vm_file(h, v, "vm.json");
	json_t *j = vmm_config(h, v);
	int r;

	if (!cfg || !j) {
		json_decref(j);
		return err_make(err, ENOMEM, "vm.json");
	}
	r = write_json(cfg, j, err);
	json_decref(j);
	return r;
}

/*
 * Bring the disks to the plan before a start: the root disk grows offline
 * (never shrinks), the swap disk is made again at its new size.
 */
static int sync_disks(struct host *h, const struct vps *v, struct err **err)
{
	_cleanup_free_ char *disk = vm_file(h, v, "disk.img");
	_cleanup_free_ char *swap = vm_file(h, v, "swap.img");
	struct stat st;

	if (!disk || !swap)
		return err_make(err, ENOMEM, "disks");
	if (stat(disk, &st) < 0)
		return err_make(err, errno, "stat `%s`", disk);
	if ((uint64_t)st.st_size < v->disk && !strcmp(v->boot, "linux") &&
	    sys_disk_grow(disk, NULL, v->disk, err) < 0)
		return err_wrap(err, "grow the disk");
	if ((uint64_t)st.st_size < v->disk && strcmp(v->boot, "linux") &&
	    truncate(disk, (off_t)v->disk) < 0)
		return err_make(err, errno, "grow `%s`", disk);
	/* disk policy reserve: every block of the image allocated now */
	if (v->reserve_disk) {
		int fd = open(disk, O_WRONLY | O_CLOEXEC);

		if (fd < 0 || fallocate(fd, 0, 0, (off_t)v->disk) < 0) {
			int e = errno;

			if (fd >= 0)
				close(fd);
			return err_make(err, e, "reserve %llu MiB for `%s`",
					(unsigned long long)(v->disk >> 20), disk);
		}
		close(fd);
	}
	if (!v->swap) {
		unlink(swap);
		return 0;
	}
	if (stat(swap, &st) == 0 && (uint64_t)st.st_size == v->swap)
		return 0;
	unlink(swap);
	/* the label the template's vps-swap.service looks for */
	return sys_image_swap(swap, v->swap, "vps-swap", err);
}

/* --- validate, create, destroy ------------------------------------------ */

static int vm_validate_common(struct host *h, const struct vps *v, struct err **err)
{
	if (v->ram < VM_MIN_RAM)
		return err_make(err, EINVAL, "`ram`: a VM needs at least %llu MiB",
				VM_MIN_RAM >> 20);
	if (v->ram % 4096)
		return err_make(err, EINVAL, "`ram`: whole pages (4 KiB) for a VM");
	if (v->cpus <= 0 || vm_cpus(v) > VM_MAX_CPUS)
		return err_make(err, EINVAL, "`cpus`: 1 to %d for a VM", VM_MAX_CPUS);
	if (v->disk % SYS_DISK_ALIGN)
		return err_make(err, EINVAL, "`disk`: whole MiB for a VM");
	if (vm_firmware(v)) {
		struct stat st;

		if (!strcmp(v->boot, "uefi") &&
		    (access(VM_OVMF_CODE, R_OK) < 0 || access(VM_OVMF_VARS, R_OK) < 0))
			return err_make(err, ENOENT,
					"`boot`: uefi needs OVMF on the host (`%s`; Debian: ovmf)",
					VM_OVMF_CODE);
		/* a template's disk boots its own boot loader and kernel (vm_create) */
		if (v->template && !tmpl_serves(h, TMPL_DISK, v->template))
			return err_make(err, EINVAL,
					"`template`: no VM template `%s` (`vps template list`)",
					v->template);
		if (!v->iso && !v->template)
			return err_make(err, EINVAL,
					"`iso` or `template`: firmware boot needs an ISO or a disk "
					"to boot");
		if (v->iso && (v->iso[0] != '/' || stat(v->iso, &st) < 0 || !S_ISREG(st.st_mode)))
			return err_make(err, ENOENT, "`iso`: no file `%s` on the host", v->iso);
		return 0;
	}
	if (v->iso)
		return err_make(err, EINVAL, "`iso`: needs boot firmware or uefi");
	if (!v->template)
		return err_make(err, EINVAL,
				"`template`: required for boot linux (`vps template list`)");
	if (tmpl_serves(h, TMPL_DISK, v->template))
		return 0;
	return err_make(err, EINVAL, "`template`: no VM template `%s` (`vps template list`)",
			v->template);
}

static int vmm_validate(struct host *h, const struct vps *v, struct err **err)
{
	(void)h;
	if (!strcmp(v->boot, "uefi"))
		return err_make(
			err, EINVAL,
			"`boot`: uefi is the qemu engine's (OVMF); vps-vmm boots `firmware`");
	if (!strcmp(v->boot, "firmware") && access(VMM_SEABIOS, R_OK) < 0)
		return err_make(err, ENOENT, "`boot`: no SeaBIOS at `%s` (Debian: seabios)",
				VMM_SEABIOS);
	return vm_validate_common(h, v, err);
}

static int qemu_validate(struct host *h, const struct vps *v, struct err **err)
{
	(void)h;
	return vm_validate_common(h, v, err);
}

static const char *const vm_files[] = { "disk.img",	     "swap.img",   "vmlinuz",
					"initrd.img",	     "vm.json",	   "vm.json.tmp",
					"efivars.fd",	     "rescue.img", "rescue-vmlinuz",
					"rescue-initrd.img", NULL };

static int vm_destroy(struct host *h, const struct vps *v, struct err **err)
{
	_cleanup_free_ char *dir = host_vps_dir(h, v->name, NULL);

	_cleanup_free_ char *snaps = host_vps_disks(h, v->name, VMM_SNAP_DIR);

	if (!dir || !snaps)
		return err_make(err, ENOMEM, "destroy");
	vmdisk_seed_remove(dir);
	rm_tree(snaps);
	for (size_t i = 0; vm_files[i]; i++) {
		_cleanup_free_ char *p = vm_file(h, v, vm_files[i]);

		if (!p)
			return err_make(err, ENOMEM, "destroy");
		if (unlink(p) < 0 && errno != ENOENT)
			return err_make(err, errno, "remove `%s`", p);
	}
	return 0;
}

/*
 * A disk that firmware is to boot starts with a boot sector (0x55 0xAA at
 * its end, an MBR or a protective MBR before a GPT). A template made for
 * boot linux (a bare ext4 root: mkvmtemplate's, an imported filesystem)
 * has none, and the firmware would stop at "no bootable device": refused at
 * create instead. Two bytes of a file the host made (the import's raw
 * conversion), nothing more of the image is read.
 */
static int vm_boot_sector(const char *img, const char *template, struct err **err)
{
	_cleanup_close_ int fd = open(img, O_RDONLY | O_CLOEXEC);
	unsigned char sig[2];

	if (fd < 0 || pread(fd, sig, 2, 510) != 2)
		return err_make(err, fd < 0 ? errno : EIO, "read `%s`", img);
	if (sig[0] != 0x55 || sig[1] != 0xaa)
		return err_make(err, EINVAL,
				"`template`: `%s` has no boot sector (a root filesystem for boot "
				"linux); firmware boots disk images with a boot loader",
				template);
	return 0;
}

/* boot uefi: the VM's own UEFI variables, OVMF's empty store copied */
static int vm_uefi_vars(struct host *h, const struct vps *v, struct err **err)
{
	_cleanup_free_ char *vars = NULL;

	if (strcmp(v->boot, "uefi"))
		return 0;
	if (!(vars = vm_file(h, v, "efivars.fd")))
		return err_make(err, ENOMEM, "create");
	return sys_image_copy(VM_OVMF_VARS, vars, err);
}

static int vm_create(struct host *h, const struct vps *v, const char *password, struct err **err)
{
	_cleanup_free_ char *tdir = NULL, *src = NULL, *disk = vm_file(h, v, "disk.img");
	_cleanup_free_ char *dir = host_vps_dir(h, v->name, NULL), *resolv = vm_resolv(h, v);
	struct stat st;
	int r;

	if (!disk || !dir)
		return err_make(err, ENOMEM, "create");
	if (vm_firmware(v) && !v->template) {
		/* an empty disk for the installer on the ISO */
		_cleanup_close_ int fd = open(disk, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		_cleanup_free_ char *ud = vmdisk_user_data_get(dir);

		if (ud) {
			r = err_make(
				err, EINVAL,
				"`user_data`: a VM that boots firmware installs its own system "
				"and gets no seed");
			goto fail;
		}

		if (fd < 0 || ftruncate(fd, (off_t)v->disk) < 0) {
			r = err_make(err, errno, "create `%s`", disk);
			goto fail;
		}
		if ((r = vm_uefi_vars(h, v, err)) < 0)
			goto fail;
		goto disks;
	}
	r = template_dir(h, v, &tdir, err);
	if (r < 0)
		return r;
	if (vm_firmware(v)) {
		_cleanup_free_ char *img = NULL;

		if (asprintf(&img, "%s/rootfs.img", tdir) < 0)
			return err_make(err, ENOMEM, "create");
		if ((r = vm_boot_sector(img, v->template, err)) < 0)
			return r;
	}
	static const char *const copies[][2] = { { "vmlinuz", "vmlinuz" },
						 { "initrd.img", "initrd.img" },
						 { "rootfs.img", "disk.img" } };
	/* firmware boots the disk's own boot loader: only the disk is copied */
	for (size_t i = vm_firmware(v) ? 2 : 0; i < 3; i++) {
		_cleanup_free_ char *dst = vm_file(h, v, copies[i][1]);

		free(src);
		src = NULL;
		if (!dst || asprintf(&src, "%s/%s", tdir, copies[i][0]) < 0) {
			r = err_make(err, ENOMEM, "create");
			goto fail;
		}
		r = sys_image_copy(src, dst, err);
		if (r < 0)
			goto fail;
	}
	if (stat(src, &st) < 0) {
		r = err_make(err, errno, "stat `%s`", src);
		goto fail;
	}
	if (v->disk < (uint64_t)st.st_size) {
		r = err_make(err, EINVAL, "`disk`: template `%s` needs at least %llu MiB",
			     v->template, (unsigned long long)st.st_size >> 20);
		goto fail;
	}
	if ((r = vm_uefi_vars(h, v, err)) < 0)
		goto fail;
	testpoint("vm-disk-copied", v->name);
	{
		json_t *net = net_ct_settings(h, v);

		r = vmdisk_seed(dir, v, password, resolv, net, tmpl_old_cloud_init(v->template),
				err);
		json_decref(net);
	}
	if (r < 0)
		goto fail;
disks:
	r = sync_disks(h, v, err);
	if (r == 0)
		r = write_vm_json(h, v, err);
	if (r == 0)
		return 0;
fail:
	vm_destroy(h, v, NULL);
	return r;
}

/* --- monitor argv --------------------------------------------------------- */

struct argv {
	char **a;
	size_t n, cap;
	bool oom;
};

static void push(struct argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void push(struct argv *a, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (a->oom)
		return;
	if (a->n + 2 > a->cap) {
		char **na = realloc(a->a, (a->cap = a->cap ? a->cap * 2 : 32) * sizeof(char *));

		if (!na) {
			a->oom = true;
			return;
		}
		a->a = na;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		a->oom = true;
		s = NULL;
	}
	va_end(ap);
	a->a[a->n++] = s;
	a->a[a->n] = NULL;
}

static char **argv_done(struct argv *a, struct err **err)
{
	if (!a->oom && a->a)
		return a->a;
	for (size_t i = 0; i < a->n; i++)
		free(a->a[i]);
	free(a->a);
	return err_make(err, ENOMEM, "monitor argv"), NULL;
}

/*
 * A directory of the monitor's, empty and the VM's uid's only (0700), made
 * afresh at each start (d, freed here; leaf names it in errors): its
 * snapshot_dir (VMM_SNAP_DIR among the disks), and its migrate_dir
 * (KIND_LIVE_DIR in the run directory), where a live move's source socket
 * is made, reached by the jailed monitor through the directory it opened
 * before its jail.
 */
static int vmm_own_dir(char *d, const char *leaf, const struct vps *v, struct err **err)
{
	int r = 0;

	if (!d)
		return err_make(err, ENOMEM, "`%s`", leaf);
	rm_tree(d);
	if (mkdir(d, 0700) < 0 || chown(d, vm_jail_uid(v), vm_jail_uid(v)) < 0)
		r = err_make(err, errno, "make `%s`", d);
	free(d);
	return r;
}

static char **vmm_monitor_argv(struct host *h, const struct vps *v, struct err **err)
{
	_cleanup_free_ char *cfg = vm_file(h, v, "vm.json");
	_cleanup_free_ char *bin = host_bin(h, "vps-vmm");
	struct argv a = { 0 };

	if (sync_disks(h, v, err) < 0 ||
	    vmm_own_dir(host_vps_disks(h, v->name, VMM_SNAP_DIR), VMM_SNAP_DIR, v, err) < 0 ||
	    vmm_own_dir(host_vps_run(h, v->name, KIND_LIVE_DIR), KIND_LIVE_DIR, v, err) < 0 ||
	    write_vm_json(h, v, err) < 0 || net_vps_tap(h, v, err) < 0)
		return NULL;
	push(&a, "%s", bin);
	push(&a, "--config");
	push(&a, "%s", cfg);
	/* the last words, for this start only (kind_vm_jail's `once`): a reboot boots afresh */
	if (v->restore) {
		push(&a, "--restore");
		push(&a, "%s", v->restore);
	} else if (v->stream_in) {
		push(&a, "--migrate-listen");
		push(&a, "%s", v->stream_in);
	}
	return argv_done(&a, err);
}

bool kind_vm_hw_virt(void)
{
	_cleanup_fclose_ FILE *f = NULL;
	char line[4096];

	if (access("/dev/kvm", R_OK | W_OK) < 0 || !(f = fopen("/proc/cpuinfo", "re")))
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		return strstr(line, " vmx") || strstr(line, " svm");
	}
	return false;
}

/* PROG's absolute path from $PATH (the keeper execs without a search), or NULL. */
static char *find_in_path(const char *prog)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *dirs = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	char *save = NULL, *p = NULL;

	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0 ? strdup(prog) : NULL;
	for (char *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d;
	     d = strtok_r(NULL, ":", &save)) {
		if (asprintf(&p, "%s/%s", d, prog) >= 0 && access(p, X_OK) == 0)
			return p;
		free(p);
		p = NULL;
	}
	return NULL;
}

/* The descriptors the keeper opens for QEMU (keeper.c, pass_fds). */
enum {
	QEMU_FD_DISK = 10,
	QEMU_FD_SWAP,
	QEMU_FD_ISO,
	QEMU_FD_SEED,
	QEMU_FD_CODE,
	QEMU_FD_VARS,
	QEMU_FD_RESCUE,
};

/*
 * A firmware-booted VM (docs/screen.md): SeaBIOS (QEMU's default) or OVMF
 * on flash (its code read-only, the VM's variables read-write), a CD drive
 * that is always there (empty after an eject, PATCH iso), boot from CD then
 * disk, a standard VGA and its screen served over RFB on vnc.sock in the
 * run directory. QEMU binds that socket before it drops to the VM's uid,
 * under vpsd's umask 077: only root (vpsd) connects.
 */
static void qemu_firmware_argv(struct argv *a, const struct vps *v, const char *dir,
			       const char *run)
{
	if (!strcmp(v->boot, "uefi")) {
		push(a, "-add-fd");
		push(a, "fd=%d,set=5,opaque=ro:%s", QEMU_FD_CODE, VM_OVMF_CODE);
		push(a, "-drive");
		push(a, "if=pflash,unit=0,format=raw,readonly=on,file=/dev/fdset/5");
		push(a, "-add-fd");
		push(a, "fd=%d,set=6,opaque=rw:%s/efivars.fd", QEMU_FD_VARS, dir);
		push(a, "-drive");
		push(a, "if=pflash,unit=1,format=raw,auto-read-only=off,file=/dev/fdset/6");
	}
	push(a, "-boot");
	push(a, "order=dc"); /* d: the CD first, then c: the disk, as on vps-vmm */
	if (v->iso) {
		push(a, "-add-fd");
		push(a, "fd=%d,set=3,opaque=ro:%s", QEMU_FD_ISO, v->iso);
	}
	push(a, "-drive");
	push(a, "id=" VM_CDROM ",if=ide,media=cdrom%s",
	     v->iso ? ",file=/dev/fdset/3,readonly=on,format=raw" : "");
	push(a, "-vga");
	push(a, "std");
	push(a, "-vnc");
	push(a, "unix:%s/vnc.sock", run);
}

static char **qemu_monitor_argv(struct host *h, const struct vps *v, struct err **err)
{
	_cleanup_free_ char *dir = host_vps_dir(h, v->name, NULL);
	_cleanup_free_ char *run = host_vps_run(h, v->name, NULL);
	const char *env = getenv("VPS_QEMU");
	const char *name = env && *env ? env : "qemu-system-x86_64";
	_cleanup_free_ char *bin = find_in_path(name), *cmdline = vm_cmdline(h, v), *jail = NULL;
	_cleanup_free_ char *seed = vm_file(h, v, "seed.iso");
	_cleanup_free_ char *disk = vm_file(h, v, "disk.img"), *swap = vm_file(h, v, "swap.img");
	_cleanup_free_ char *rimg = vm_file(h, v, "rescue.img");
	bool rescue = vm_rescuing(h, v);
	json_t *net;
	struct argv a = { 0 };
	int r = 0;

	if (!dir || !run || !cmdline || !seed || !disk || !swap || !rimg)
		return err_make(err, ENOMEM, "monitor argv"), NULL;
	if (!bin) {
		err_make(err, ENOENT, "no `%s` on this host (Debian: qemu-system-x86)", name);
		return NULL;
	}
	if (sync_disks(h, v, err) < 0 || net_vps_tap(h, v, err) < 0)
		return NULL;
	/*
	 * The jail (docs/security.md): a mount namespace of its own (unshare),
	 * an empty root (-chroot) and the VM's own uid (-runas) once QEMU has
	 * opened what it needs, seccomp with every option that denies but one
	 * (-sandbox), and the disks and ISO as descriptors the keeper opens
	 * without following links (-add-fd), raw, never probed.
	 */
	/* 0755 whatever vpsd's umask (077): QEMU, as the VM's uid, must reach its root */
	if (asprintf(&jail, "%s/jail", run) < 0 || (r = mkdir_p(jail, 0755, 0711)) < 0)
		return err_make(err, jail ? -r : ENOMEM, "make `%s/jail`", run), NULL;
	push(&a, "/usr/bin/unshare");
	push(&a, "--mount");
	push(&a, "--propagation");
	push(&a, "private");
	push(&a, "--");
	push(&a, "%s", bin);
	push(&a, "-chroot");
	push(&a, "%s", jail);
	push(&a, "-runas");
	push(&a, "%u:%u", vm_jail_uid(v), vm_jail_uid(v));
	push(&a, "-sandbox");
	/* elevateprivileges=deny would kill QEMU at its own -runas (7.2): with no
	 * capability left, set*id calls cannot raise it anyway */
	push(&a, "on,obsolete=deny,elevateprivileges=allow,spawn=deny,resourcecontrol=deny");
	push(&a, "-name");
	push(&a, "%s", v->name);
	push(&a, "-machine");
	push(&a, "pc");
	push(&a, "-accel");
	/* no VMX/SVM (this machine's PVM): QEMU's software CPU */
	push(&a, "%s", kind_vm_hw_virt() ? "kvm" : "tcg");
	push(&a, "-cpu");
	push(&a, "%s", kind_vm_hw_virt() ? "host" : "max");
	push(&a, "-m");
	push(&a, "%llu", (unsigned long long)(v->ram >> 20));
	push(&a, "-smp");
	push(&a, "%d", vm_cpus(v));
	if (v->reserve_memory) {
		struct rlimit rl;

		/*
		 * mem-lock locks what QEMU maps from then on too, held to
		 * RLIMIT_MEMLOCK once it is the VM's uid: vpsd lifts the limit at
		 * start where it may (main.c); where it may not (no
		 * CAP_SYS_RESOURCE), the memory is prefaulted but not locked.
		 */
		if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur == RLIM_INFINITY) {
			push(&a, "-overcommit");
			push(&a, "mem-lock=on");
		}
		push(&a, "-mem-prealloc");
	}
	push(&a, "-nodefaults");
	push(&a, "-display");
	push(&a, "none");
	/*
	 * A set holds one descriptor, opened read-write: without
	 * auto-read-only=off QEMU (7.2) first asks the set for a read-only one
	 * and gives up ("Could not dup FD for /dev/fdset/1 flags 0").
	 */
	if (rescue) { /* the rescue system's root is /dev/vda, the VPS's disk /dev/vdb */
		push(&a, "-add-fd");
		push(&a, "fd=%d,set=7,opaque=rw:%s", QEMU_FD_RESCUE, rimg);
		push(&a, "-drive");
		push(&a, "file=/dev/fdset/7,if=virtio,format=raw,discard=unmap,auto-read-only=off");
	}
	push(&a, "-add-fd");
	push(&a, "fd=%d,set=1,opaque=rw:%s", QEMU_FD_DISK, disk);
	push(&a, "-drive");
	push(&a, "file=/dev/fdset/1,if=virtio,format=raw,discard=unmap,auto-read-only=off");
	if (v->swap) {
		push(&a, "-add-fd");
		push(&a, "fd=%d,set=2,opaque=rw:%s", QEMU_FD_SWAP, swap);
		push(&a, "-drive");
		push(&a, "file=/dev/fdset/2,if=virtio,format=raw,discard=unmap,auto-read-only=off");
	}
	if (access(seed, F_OK) == 0) { /* a VM made before seeds has none */
		push(&a, "-add-fd");
		push(&a, "fd=%d,set=4,opaque=ro:%s", QEMU_FD_SEED, seed);
		push(&a, "-drive");
		push(&a, "file=/dev/fdset/4,if=virtio,format=raw,readonly=on");
	}
	if (!strcmp(v->boot, "linux") || rescue) {
		push(&a, "-kernel");
		push(&a, "%s/%svmlinuz", dir, rescue ? "rescue-" : "");
		push(&a, "-initrd");
		push(&a, "%s/%sinitrd.img", dir, rescue ? "rescue-" : "");
		push(&a, "-append");
		push(&a, "%s", cmdline);
	} else {
		qemu_firmware_argv(&a, v, dir, run);
	}
	net = net_ct_settings(h, v);
	if (net) { /* the tap net_vps_tap() made, with the VPS's MAC */
		push(&a, "-netdev");
		push(&a, "tap,id=n0,ifname=%s,script=no,downscript=no,vhost=off",
		     json_string_value(json_object_get(net, "host_ifname")));
		push(&a, "-device");
		push(&a, "virtio-net-pci,netdev=n0,mac=%s",
		     json_string_value(json_object_get(net, "mac")));
		json_decref(net);
	}
	push(&a, "-device");
	push(&a, "virtio-rng-pci");
	push(&a, "-device");
	push(&a, "virtio-balloon-pci,id=balloon0");
	push(&a, "-serial");
	push(&a, "unix:%s/console.sock,server=on,wait=off", run);
	push(&a, "-qmp");
	push(&a, "unix:%s/qmp.sock,server=on,wait=off", run);
	if (v->incoming) { /* a migration's arrival: its state comes over QMP (migrate_load) */
		push(&a, "-incoming");
		push(&a, "defer");
	}
	return argv_done(&a, err);
}

static bool vmm_restart_on(int status)
{
	return status == MONITOR_EXIT_REBOOT; /* the guest asked for a reboot */
}

static bool qemu_restart_on(int status)
{
	(void)status;
	return false; /* QEMU resets the guest in place */
}

/* --- vps-vmm's control socket ---------------------------------------------- */

static json_t *vmm_ctl(struct host *h, const struct vps *v, json_t *req, struct err **err)
{
	_cleanup_free_ char *sock = host_vps_run(h, v->name, "control.sock");
	json_t *r = sock && req ? monitor_call(sock, req, VM_CTL_TIMEOUT_MS, err) : NULL;

	if ((!sock || !req) && err)
		err_make(err, ENOMEM, "control request");
	json_decref(req);
	return r;
}

static int vmm_simple(struct host *h, const struct vps *v, const char *cmd, struct err **err)
{
	json_t *r = vmm_ctl(h, v, json_pack("{s:s}", "cmd", cmd), err);

	json_decref(r);
	return r ? 0 : -EIO;
}

static int vmm_shutdown(struct host *h, const struct vps *v, int timeout, struct err **err)
{
	(void)timeout; /* the daemon waits; the guest decides */
	return vmm_simple(h, v, MONITOR_CMD_SHUTDOWN, err);
}

static int vmm_kill(struct host *h, const struct vps *v, struct err **err)
{
	return vmm_simple(h, v, MONITOR_CMD_STOP, err);
}

/* An uploaded ISO opened as the keeper opens disks: no link followed, a regular file, read-only. */
static int open_iso(const char *path, struct err **err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;

	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		return fd;
	err_make(err, fd < 0 ? errno : EINVAL, "open `%s`", path);
	if (fd >= 0)
		close(fd);
	return -1;
}

/*
 * vps-vmm's CD drive while it runs (PATCH iso; docs/screen.md): `media`,
 * with the ISO opened here and passed beside the request, since the jailed
 * monitor opens nothing. A monitor started without a drive (no ISO then)
 * takes the new one at its next start. 1: changed now.
 */
static int vmm_set_iso(struct host *h, const struct vps *old, const struct vps *v, struct err **err)
{
	_cleanup_free_ char *sock = NULL;
	_cleanup_close_ int fd = -1;
	json_t *st, *req, *r;
	bool drive;

	if (v->state != VPS_RUNNING || !vm_firmware(v) ||
	    (old->iso && v->iso ? !strcmp(old->iso, v->iso) : old->iso == v->iso))
		return 0;
	st = vmm_ctl(h, v, json_pack("{s:s}", "cmd", MONITOR_CMD_STATS), err);
	if (!st)
		return -EIO;
	drive = json_object_get(st, "cdrom") != NULL;
	json_decref(st);
	if (!drive)
		return 0;
	if (v->iso && (fd = open_iso(v->iso, err)) < 0)
		return -EIO;
	sock = host_vps_run(h, v->name, "control.sock");
	req = v->iso ? json_pack("{s:s}", "cmd", MONITOR_CMD_MEDIA) :
		       json_pack("{s:s, s:b}", "cmd", MONITOR_CMD_MEDIA, "eject", 1);
	r = sock && req ? monitor_call_fd(sock, req, fd, VM_CTL_TIMEOUT_MS, err) : NULL;
	json_decref(req);
	if (!r && v->iso)
		return err_wrap(err, "put `%s` in the CD drive of `%s`", v->iso, v->name);
	if (!r)
		return err_wrap(err, "eject the ISO of `%s`", v->name);
	json_decref(r);
	return 1;
}

/*
 * Memory changes live, downwards from what the VM booted with (balloon);
 * so does the ISO in the CD drive.
 */
static int vmm_set_live(struct host *h, const struct vps *old, const struct vps *v,
			struct err **err)
{
	json_t *st, *r;
	uint64_t boot_mem;
	bool locked;
	int iso;

	if (write_vm_json(h, v, err) < 0)
		return -EIO;
	if ((iso = vmm_set_iso(h, old, v, err)) < 0)
		return iso;
	if (v->state != VPS_RUNNING || v->ram == old->ram)
		return iso && v->cpus == old->cpus && v->disk == old->disk && v->swap == old->swap;
	st = vmm_ctl(h, v, json_pack("{s:s}", "cmd", MONITOR_CMD_STATE), err);
	if (!st)
		return -EIO;
	boot_mem = json_integer_value(json_object_get(st, "memory"));
	locked = json_is_true(json_object_get(st, "reserve"));
	json_decref(st);
	if (v->ram > boot_mem || locked)
		return 0; /* more than it booted with, or reserved (not ballooned): next start */
	r = vmm_ctl(h, v,
		    json_pack("{s:s, s:I}", "cmd", MONITOR_CMD_BALLOON, "target",
			      (json_int_t)v->ram),
		    err);
	if (!r)
		return -EIO;
	json_decref(r);
	return v->cpus == old->cpus && v->disk == old->disk && v->swap == old->swap ? 1 : 0;
}

static void vmm_status(struct host *h, const struct vps *v, json_t *out)
{
	json_t *st = vmm_ctl(h, v, json_pack("{s:s}", "cmd", MONITOR_CMD_STATE), NULL);
	json_t *stats = vmm_ctl(h, v, json_pack("{s:s}", "cmd", MONITOR_CMD_STATS), NULL);

	if (st) {
		json_object_del(st, "ok");
		json_object_set_new(out, "monitor", st);
	}
	if (stats) {
		json_object_del(stats, "ok");
		json_object_set_new(out, "stats", stats);
	}
}

static char *vm_console(struct host *h, const struct vps *v)
{
	return host_vps_run(h, v->name, "console.sock");
}

/* QEMU: a firmware-booted VM's VGA on vnc.sock; a kernel booted directly has its serial line */
static char *qemu_screen(struct host *h, const struct vps *v, struct err **err)
{
	char *p;

	if (!vm_firmware(v))
		return err_make(err, EBUSY,
				"`%s` boots its kernel directly (boot linux): it has a serial "
				"console and no screen; a screen comes with boot firmware or uefi",
				v->name),
		       NULL;
	if (!(p = host_vps_run(h, v->name, "vnc.sock")))
		err_make(err, ENOMEM, "screen");
	return p;
}

/* vps-vmm: vnc.sock when its monitor serves a screen (its RFB server, firmware boot) */
static char *vmm_screen(struct host *h, const struct vps *v, struct err **err)
{
	char *p = host_vps_run(h, v->name, "vnc.sock");
	struct stat st;

	if (!p)
		return err_make(err, ENOMEM, "screen"), NULL;
	if (lstat(p, &st) == 0 && S_ISSOCK(st.st_mode))
		return p;
	free(p);
	return err_make(err, EBUSY,
			"`%s` runs on vps-vmm, which serves it no screen (no `vnc.sock`): "
			"its console is the serial line (console/ws)",
			v->name),
	       NULL;
}

static json_t *qemu_qmp(struct host *h, const struct vps *v, const char *cmd, json_t *args,
			struct err **err)
{
	_cleanup_free_ char *sock = host_vps_run(h, v->name, "qmp.sock");
	json_t *r = sock ? qmp_run(sock, cmd, args, err) : NULL;

	json_decref(args);
	return r;
}

static int qemu_shutdown(struct host *h, const struct vps *v, int timeout, struct err **err)
{
	json_t *r = qemu_qmp(h, v, "system_powerdown", NULL, err);

	(void)timeout;
	json_decref(r);
	return r ? 0 : -EIO;
}

static int qemu_kill(struct host *h, const struct vps *v, struct err **err)
{
	json_t *r = qemu_qmp(h, v, "quit", NULL, err);

	json_decref(r);
	return r ? 0 : -EIO;
}

/*
 * The CD drive of a running VM (PATCH iso), both at once (docs/screen.md):
 * an eject is QMP `eject`, forced (a guest's lock on the tray does not keep
 * a customer's ISO in); a new ISO is opened here as the keeper opens disks
 * (no link followed, a regular file, read-only), passed to QEMU with
 * `add-fd` into a set of its own and put in the drive with
 * `blockdev-change-medium` on the same connection. 1: changed now.
 */
static int qemu_set_iso(struct host *h, const struct vps *old, const struct vps *v,
			struct err **err)
{
	_cleanup_free_ char *sock = host_vps_run(h, v->name, "qmp.sock");
	_cleanup_close_ int fd = -1;
	json_t *r, *add, *change;
	struct qmp *q;
	char fdset[32];

	if (v->state != VPS_RUNNING || !vm_firmware(v) ||
	    (old->iso && v->iso ? !strcmp(old->iso, v->iso) : old->iso == v->iso))
		return 0;
	if (!sock)
		return err_make(err, ENOMEM, "iso");
	if (!v->iso) {
		r = qemu_qmp(h, v, "eject", json_pack("{s:s, s:b}", "device", VM_CDROM, "force", 1),
			     err);
		if (!r)
			return err_wrap(err, "eject the ISO of `%s`", v->name);
		json_decref(r);
		return 1;
	}
	if ((fd = open_iso(v->iso, err)) < 0)
		return -EIO;
	/* QEMU picks a free set; the drive opens it on the same connection */
	add = json_pack("{s:s+}", "opaque", "ro:", v->iso);
	q = add ? qmp_open(sock, err) : NULL;
	r = q ? qmp_call(q, "add-fd", add, fd, err) : NULL;
	json_decref(add);
	if (r) {
		snprintf(fdset, sizeof(fdset), "/dev/fdset/%lld",
			 (long long)json_integer_value(json_object_get(r, "fdset-id")));
		json_decref(r);
		change = json_pack("{s:s, s:s, s:s, s:s}", "device", VM_CDROM, "filename", fdset,
				   "format", "raw", "read-only-mode", "read-only");
		r = change ? qmp_call(q, "blockdev-change-medium", change, -1, err) : NULL;
		json_decref(change);
	}
	qmp_close(q);
	if (!r)
		return err_wrap(err, "put `%s` in the CD drive of `%s`", v->iso, v->name);
	json_decref(r);
	return 1;
}

static int qemu_set_live(struct host *h, const struct vps *old, const struct vps *v,
			 struct err **err)
{
	json_t *r;
	int ejected = qemu_set_iso(h, old, v, err);

	if (ejected < 0)
		return ejected;
	if (v->state != VPS_RUNNING || v->ram >= old->ram || v->reserve_memory)
		return ejected && v->ram == old->ram && v->cpus == old->cpus &&
		       v->disk == old->disk && v->swap == old->swap; /* else: next start */
	/* the balloon gives memory back below what the VM booted with */
	r = qemu_qmp(h, v, "balloon", json_pack("{s:I}", "value", (json_int_t)v->ram), err);
	if (!r)
		return -EIO;
	json_decref(r);
	return v->cpus == old->cpus && v->disk == old->disk && v->swap == old->swap ? 1 : 0;
}

static void qemu_status(struct host *h, const struct vps *v, json_t *out)
{
	json_t *st = qemu_qmp(h, v, "query-status", NULL, NULL);
	json_t *bal = qemu_qmp(h, v, "query-balloon", NULL, NULL);

	if (st) {
		json_object_set_new(out, "monitor",
				    json_pack("{s:O, s:s}", "state", json_object_get(st, "status"),
					      "accel", kind_vm_hw_virt() ? "kvm" : "tcg"));
		json_decref(st);
	}
	if (bal) {
		json_object_set_new(out, "stats",
				    json_pack("{s:O}", "balloon_actual",
					      json_object_get(bal, "actual")));
		json_decref(bal);
	}
}

/* Balloon reclaim (reclaim.c): never more than the VM booted with; a reserved VM's monitor refuses. */
static int vmm_reclaim(struct host *h, const struct vps *v, uint64_t target, struct err **err)
{
	json_t *st = vmm_ctl(h, v, json_pack("{s:s}", "cmd", MONITOR_CMD_STATE), err), *r;
	uint64_t boot_mem;

	if (!st)
		return -EIO;
	boot_mem = json_integer_value(json_object_get(st, "memory"));
	json_decref(st);
	if (target > boot_mem)
		target = boot_mem;
	r = vmm_ctl(h, v,
		    json_pack("{s:s, s:I}", "cmd", MONITOR_CMD_BALLOON, "target",
			      (json_int_t)target),
		    err);
	if (!r)
		return -EIO;
	json_decref(r);
	return 0;
}

static int qemu_reclaim(struct host *h, const struct vps *v, uint64_t target, struct err **err)
{
	json_t *r = qemu_qmp(h, v, "balloon", json_pack("{s:I}", "value", (json_int_t)target), err);

	if (!r)
		return -EIO;
	json_decref(r);
	return 0;
}

/*
 * A new seed for the stopped VM (as at create, with the settings of now): its
 * instance-id changes, so cloud-init applies it at the next boot. The disk
 * is not touched.
 */
static int vm_password(struct host *h, const struct vps *v, const char *password, struct err **err)
{
	_cleanup_free_ char *dir = host_vps_dir(h, v->name, NULL), *resolv = vm_resolv(h, v);
	json_t *net;
	int r;

	if (v->state != VPS_STOPPED)
		return err_make(err, EBUSY,
				"`%s` is %s: a VM's password is reset while it is stopped", v->name,
				vps_state_name(v->state));
	if (vm_firmware(v) && !v->template) /* an installed ISO: no seed */
		return err_make(
			err, EINVAL,
			"`%s` boots its own system from firmware; reset the password inside",
			v->name);
	if (!dir)
		return err_make(err, ENOMEM, "password");
	net = net_ct_settings(h, v);
	r = vmdisk_seed(dir, v, password, resolv, net, tmpl_old_cloud_init(v->template), err);
	json_decref(net);
	return r;
}

static int settle(struct vps *v, struct err **err)
{
	/* ours where KVM can run a stock kernel; else QEMU's software CPU */
	if (v->engine == VPS_ENGINE_NONE)
		v->engine = kind_vm_hw_virt() ? VPS_VMM : VPS_QEMU;
	if (!*v->boot)
		strcpy(v->boot, v->iso ? "firmware" : "linux");
	if (!strcmp(v->boot, "linux") && v->iso)
		return err_make(err, EINVAL, "`iso`: needs boot firmware");
	return 0;
}

/*
 * The VM limits are what the monitors do themselves (RAM, a swap disk,
 * vCPUs) and what they do not: no IO weight, a VM's disk IO runs in its
 * monitor, which is in no IO cgroup. Nothing to probe.
 */
static json_t *vm_report(void)
{
	static const char io[] = "a VM's disk IO runs in its monitor, which is in no IO cgroup";

	return json_pack(
		"{s:{s:{s:b}, s:{s:b}, s:{s:b}, s:{s:b, s:s}, s:{s:b, s:s}, "
		"s:{s:b, s:s}, s:{s:b, s:s}}}",
		"limits", "memory", "enforced", 1, "swap", "enforced", 1, "cpus", "enforced", 1,
		"io_weight", "enforced", 0, "why", io, "io_bps", "enforced", 0, "why", io,
		"io_iops", "enforced", 0, "why", io, "features", "enforced", 0, "why",
		"tun, fuse and nesting are container switches: a VM's own kernel has them");
}

/* A VM's cpus are vCPUs; its processes are its guest's, so its plan's pids is not asked. */
static const struct kind_ask vm_asks[] = {
	{ "ram", "memory" },
	{ "swap", "swap" },
	{ "cpus", "cpus" },
	{ "io_weight", "io_weight" },
	{ "io_read_bps", "io_bps" },
	{ "io_write_bps", "io_bps" },
	{ "io_read_iops", "io_iops" },
	{ "io_write_iops", "io_iops" },
	{ "features", "features" },
	{ NULL, NULL },
};

const struct kind_family kind_vm_family = {
	.kind = VPS_VM,
	.template_form = TMPL_DISK,
	.settle = settle,
	.report = vm_report,
	.asks = vm_asks,
};

/* --- snapshots (snapshot.c, docs/storage.md) ------------------------------- */

/* Every disk of a VM: its root and, with a swap, its swap. */
static const char *const vm_disks[] = { "disk.img", "swap.img", NULL };

/* Copy the VM's disks into dir (snapshot), or back from it over the live ones (revert). */
static int vm_copy_disks(struct host *h, const struct vps *v, const char *dir, bool back,
			 struct err **err)
{
	for (size_t i = 0; vm_disks[i]; i++) {
		_cleanup_free_ char *live = vm_file(h, v, vm_disks[i]), *snap = NULL;

		if (!live || asprintf(&snap, "%s/%s", dir, vm_disks[i]) < 0)
			return err_make(err, ENOMEM, "copy the disks of `%s`", v->name);
		if (access(back ? snap : live, F_OK) < 0) {
			if (errno == ENOENT && i > 0)
				continue; /* no swap */
			return err_make(err, errno, "`%s`", back ? snap : live);
		}
		if (back ? sys_image_replace(snap, live, err) < 0 :
			   sys_image_copy(live, snap, err) < 0 || sys_image_sync(snap, err) < 0)
			return -EIO;
	}
	return 0;
}

/*
 * A running VM is held still for the copy: QEMU stopped through QMP
 * (`stop` drains and flushes its block devices), continued afterwards
 * whatever the copy did. The guest's filesystems are not frozen from
 * inside: the copy is what a power cut at that moment would leave
 * (crash-consistent).
 *
 * vps-vmm: its `freeze` parks the vCPUs, completes every disk request in
 * flight, syncs the images and holds new requests on the avail ring, so
 * the copy is the disk at one moment; `thaw` afterwards, whatever the copy
 * did. (Its `pause` alone parks only the vCPUs: the I/O thread would go on
 * with requests already queued while a full copy reads the image.)
 */
static int vmm_snapshot(struct host *h, const struct vps *v, const char *dir, struct err **err)
{
	struct err *e = NULL;
	json_t *x;
	int r;

	if (v->state != VPS_RUNNING)
		return vm_copy_disks(h, v, dir, false, err);
	if (!(x = vmm_ctl(h, v, json_pack("{s:s}", "cmd", MONITOR_CMD_FREEZE), err)))
		return err_wrap(err, "freeze `%s` for its snapshot", v->name);
	json_decref(x);
	testpoint("snapshot-frozen", v->name);
	r = vm_copy_disks(h, v, dir, false, err);
	if (!(x = vmm_ctl(h, v, json_pack("{s:s}", "cmd", MONITOR_CMD_THAW), &e))) {
		pr_err("thaw `%s` after its snapshot: %s", v->name, err_msg(e));
		if (r == 0)
			r = err_make(err, EIO, "thaw `%s`: %s", v->name, err_msg(e));
	}
	json_decref(x);
	err_free(&e);
	return r;
}

/*
 * Move one file the monitor wrote into the snapshot (root's, 0700), then
 * make it root's own. The monitor is the VM's uid and may be the guest's
 * by then: what it left must be a plain file (not a link to a host file
 * that a later restore, run as root, would read), and no other name of it.
 */
static int claim(const char *from, const char *to, const char *leaf, struct err **err)
{
	_cleanup_free_ char *src = NULL, *dst = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (asprintf(&src, "%s/%s", from, leaf) < 0 || asprintf(&dst, "%s/%s", to, leaf) < 0)
		return err_make(err, ENOMEM, "snapshot");
	if (rename(src, dst) < 0)
		return err_make(err, errno, "move `%s`", src);
	fd = open(dst, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		unlink(dst);
		return err_make(err, EPERM, "the monitor's `%s` is not a plain file", leaf);
	}
	if (fchown(fd, 0, 0) < 0 || fchmod(fd, 0600) < 0 || fsync(fd) < 0)
		return err_make(err, errno, "`%s`", dst);
	return 0;
}

/*
 * A memory snapshot of a running VM on vps-vmm: `freeze` (vCPUs parked,
 * every disk request in flight completed, the images synced, new requests
 * held), then the monitor's `snapshot` of the frozen VM (RAM, CPUs,
 * devices: it stays frozen), the disks copied, `thaw` whatever happened.
 * RAM and disks are of the same instant: no request runs between the
 * state's save and the copy. The monitor, jailed, writes only under its
 * snapshot_dir; its files are moved into `dir` and made root's.
 */
static int vmm_snapshot_memory(struct host *h, const struct vps *v, const char *dir,
			       struct err **err)
{
	_cleanup_free_ char *snaps = host_vps_disks(h, v->name, VMM_SNAP_DIR), *take = NULL;
	struct err *e = NULL;
	struct statvfs fs;
	struct stat st;
	json_t *x;
	int r;

	if (strcmp(v->boot, "linux"))
		return err_make(err, EINVAL, "`memory`: not yet for firmware boot (`%s`)", v->boot);
	if (!snaps || asprintf(&take, "%s/" VMM_SNAP_TAKE, snaps) < 0)
		return err_make(err, ENOMEM, "snapshot");
	if (stat(snaps, &st) < 0)
		return err_make(
			err, EBUSY,
			"`memory`: `%s` was started before memory snapshots; restart it once",
			v->name);
	/* the RAM file may hold all of the RAM: refused before the guest is paused for it */
	if (statvfs(dir, &fs) == 0 && (uint64_t)fs.f_bavail * fs.f_frsize < v->ram)
		return err_make(
			err, ENOSPC,
			"`memory`: %llu MiB free in the pool, the RAM file may take %llu MiB",
			(unsigned long long)((uint64_t)fs.f_bavail * fs.f_frsize >> 20),
			(unsigned long long)(v->ram >> 20));
	rm_tree(take); /* what a vpsd killed mid-way left */
	if (!(x = vmm_ctl(h, v, json_pack("{s:s}", "cmd", MONITOR_CMD_FREEZE), err)))
		return err_wrap(err, "freeze `%s` for its snapshot", v->name);
	json_decref(x);
	testpoint("snapshot-frozen", v->name);
	x = vmm_ctl(h, v,
		    json_pack("{s:s, s:s}", "cmd", MONITOR_CMD_SNAPSHOT, "path", VMM_SNAP_TAKE),
		    err);
	if (x) {
		pr_info("`%s`: state saved in %lld us", v->name,
			(long long)json_integer_value(json_object_get(x, "paused_us")));
		r = vm_copy_disks(h, v, dir, false, err);
	} else {
		r = err_wrap(err, "save the state of `%s`", v->name);
	}
	json_decref(x);
	if (!(x = vmm_ctl(h, v, json_pack("{s:s}", "cmd", MONITOR_CMD_THAW), &e))) {
		pr_err("thaw `%s` after its snapshot: %s", v->name, err_msg(e));
		if (r == 0)
			r = err_make(err, EIO, "thaw `%s`: %s", v->name, err_msg(e));
	}
	json_decref(x);
	err_free(&e);
	if (r == 0)
		r = claim(take, dir, SNAPSHOT_MEMORY, err);
	if (r == 0)
		r = claim(take, dir, SNAPSHOT_STATE, err);
	rm_tree(take);
	return r;
}

/* `freeze` with `run` (the disk requests wait, the CPUs run on), or `thaw`. */
static int vmm_live_hold(struct host *h, const struct vps *v, bool on, struct err **err)
{
	json_t *r = vmm_ctl(h, v,
			    on ? json_pack("{s:s, s:b}", "cmd", MONITOR_CMD_FREEZE, "run", 1) :
				 json_pack("{s:s}", "cmd", MONITOR_CMD_THAW),
			    err);

	json_decref(r);
	return r ? 0 : err_wrap(err, "%s `%s`'s disks", on ? "hold" : "release", v->name);
}

/* A disk's config `id` (vmm_config) and its image; a disk not here (the seed) is read-only. */
static const char *const vmm_image_ids[][2] = { { "root", "disk.img" },
						{ "swap", "swap.img" },
						{ "rescue", "rescue.img" } };
static const char *const vmm_live_images[] = { "disk.img", "swap.img", "rescue.img", NULL };

/* What the dirty-block logs took since the last take, into a blocks file on out. */
static int vmm_blocks_take(struct host *h, const struct vps *v, int out, unsigned long long *bytes,
			   struct err **err)
{
	unsigned int disks = 1;

	if (migrate_blocks_begin(out, err) < 0)
		return -EIO;
	for (unsigned int d = 0; d < disks; d++) {
		const char *leaf = NULL;
		_cleanup_free_ char *path = NULL;
		_cleanup_close_ int img = -1;
		bool more = true;

		while (more) {
			json_t *x =
				vmm_ctl(h, v,
					json_pack("{s:s, s:s, s:i}", "cmd", MONITOR_CMD_DIRTY_LOG,
						  "op", "take", "disk", (int)d),
					err);
			const char *id = json_string_value(json_object_get(x, "id"));
			json_t *ranges = json_object_get(x, "ranges"), *rg;
			size_t i;
			int r = 0;

			if (!x)
				return err_wrap(err, "take `%s`'s dirty blocks", v->name);
			disks = (unsigned int)json_integer_value(json_object_get(x, "disks"));
			more = json_is_true(json_object_get(x, "more"));
			for (size_t k = 0; !leaf && id && k < ARRAY_SIZE(vmm_image_ids); k++)
				if (!strcmp(id, vmm_image_ids[k][0]))
					leaf = vmm_image_ids[k][1];
			if (leaf && img < 0 &&
			    (!(path = vm_file(h, v, leaf)) ||
			     (img = open(path, O_RDONLY | O_CLOEXEC)) < 0))
				r = err_make(err, path ? errno : ENOMEM, "open `%s`",
					     path ? path : leaf);
			json_array_foreach(ranges, i, rg)
			{
				json_int_t off = json_integer_value(json_array_get(rg, 0));
				json_int_t len = json_integer_value(json_array_get(rg, 1));

				if (r < 0)
					break;
				if (!leaf) { /* a disk with no image of ours marks nothing */
					r = err_make(err, EPROTO,
						     "`%s`'s disk `%s` has dirty blocks", v->name,
						     id ? id : "?");
					break;
				}
				if (off < 0 || len <= 0) {
					r = err_make(err, EPROTO, "`%s`'s dirty-block log",
						     v->name);
					break;
				}
				r = migrate_blocks_range(out, leaf, img, (uint64_t)off,
							 (uint64_t)len, err);
				*bytes += (unsigned long long)len;
			}
			json_decref(x);
			if (r < 0)
				return r;
		}
	}
	return migrate_blocks_end(out, err);
}

static int vmm_live_blocks(struct host *h, const struct vps *v, int op, int out,
			   unsigned long long *bytes, struct err **err)
{
	json_t *x;

	*bytes = 0;
	if (op == KIND_BLOCKS_TAKE)
		return vmm_blocks_take(h, v, out, bytes, err);
	x = vmm_ctl(h, v,
		    json_pack("{s:s, s:s}", "cmd", MONITOR_CMD_DIRTY_LOG, "op",
			      op == KIND_BLOCKS_START ? "start" : "stop"),
		    err);
	json_decref(x);
	return x ? 0 : err_wrap(err, "`%s`'s dirty-block log", v->name);
}

#define LIVE_POLL_US 50000

/*
 * vps-vmm's `migrate` to `to` (in its migrate_dir), then its `stats` until
 * the migration is done (the monitor leaves: MONITOR_EXIT_MIGRATED) or not;
 * progress: page bytes sent against the monitor's resident memory (what
 * the first pass sends, zero pages left out, is at most that), at most
 * 0.95 until done. A cancel (progress < 0) is vps-vmm's
 * `migrate-cancel`: the VM runs on here.
 */
static int vmm_live_send(struct host *h, const struct vps *v, const char *to,
			 int (*progress)(double done, void *arg), void *arg,
			 int (*barrier)(void *arg, struct err **err), struct err **err)
{
	_cleanup_free_ char *run = host_vps_run(h, v->name, NULL);
	json_t *r = vmm_ctl(h, v,
			    barrier ? json_pack("{s:s, s:s, s:b}", "cmd", MONITOR_CMD_MIGRATE, "to",
						to, "disk_barrier", 1) :
				      json_pack("{s:s, s:s}", "cmd", MONITOR_CMD_MIGRATE, "to", to),
			    err);
	struct err *why = NULL; /* the barrier's own failure, which cancelled it */
	bool cancel = false, crossed = false, at_barrier;

	if (!r)
		return err_wrap(err, "migrate `%s`", v->name);
	json_decref(r);
	for (;;) {
		struct err *e = NULL;
		json_t *st = vmm_ctl(h, v, json_pack("{s:s}", "cmd", MONITOR_CMD_STATS), &e);
		json_t *m = json_object_get(st, "migration");
		const char *s = json_string_value(json_object_get(m, "state"));
		double sent = (double)json_integer_value(json_object_get(m, "bytes"));
		double rss = (double)json_integer_value(json_object_get(st, "rss_bytes"));
		char msg[512];

		if (!st) { /* gone: handed over, or died */
			int x = -1;

			for (int t = 0; t < 100 && (x = keeper_last_exit(run)) < 0; t++)
				usleep(LIVE_POLL_US);
			if (x == MONITOR_EXIT_MIGRATED) {
				err_free(&e);
				err_free(&why);
				return 0;
			}
			err_free(&why);
			err_free(err);
			*err = e;
			return err_wrap(err, "`%s`'s monitor ended (exit status %d)", v->name, x);
		}
		err_free(&e);
		if (s && !strcmp(s, "done")) {
			json_decref(st);
			err_free(&why);
			return 0; /* it leaves at once: the keeper sees MONITOR_EXIT_MIGRATED */
		}
		if (s && (!strcmp(s, "failed") || !strcmp(s, "cancelled"))) {
			snprintf(msg, sizeof(msg), "%s",
				 json_string_value(json_object_get(m, "error")) ?: s);
			json_decref(st);
			if (why) {
				err_free(err);
				*err = why;
				return err_wrap(err, "`%s`'s last disk blocks", v->name);
			}
			return err_make(err, cancel ? ECANCELED : EIO, "`%s`'s migration %s: %s",
					v->name, s, msg);
		}
		at_barrier = s && !strcmp(s, "barrier");
		json_decref(st);
		if (at_barrier && barrier && !crossed) {
			/* paused, its disks held: the last blocks, then on (no answer: it went) */
			crossed = true;
			if (barrier(arg, &why) < 0) {
				cancel = true;
				json_decref(vmm_ctl(
					h, v, json_pack("{s:s}", "cmd", MONITOR_CMD_MIGRATE_CANCEL),
					NULL));
			} else {
				json_decref(vmm_ctl(h, v,
						    json_pack("{s:s}", "cmd",
							      MONITOR_CMD_MIGRATE_CONTINUE),
						    NULL));
			}
			continue;
		}
		if (!cancel && progress &&
		    progress(0.95 * fmin(1.0, sent / fmax(rss, 1.0)), arg) < 0) {
			cancel = true;
			json_decref(vmm_ctl(
				h, v, json_pack("{s:s}", "cmd", MONITOR_CMD_MIGRATE_CANCEL), NULL));
		}
		usleep(barrier ? LIVE_POLL_US / 5 :
				 LIVE_POLL_US); /* the barrier's wait is a pause */
	}
}

/* A vpsd killed between `freeze` and `thaw` left the VM frozen: it runs on. */
static void vmm_adopt(struct host *h, const struct vps *v)
{
	json_t *st = vmm_ctl(h, v, json_pack("{s:s}", "cmd", MONITOR_CMD_STATE), NULL);
	const char *s = json_string_value(json_object_get(st, "state"));
	struct err *e = NULL;

	if (s && !strcmp(s, "frozen")) {
		json_t *x = vmm_ctl(h, v, json_pack("{s:s}", "cmd", MONITOR_CMD_THAW), &e);

		if (x)
			store_event(h->store, v->name, "thawed",
				    "vpsd stopped during a snapshot; the VM runs on");
		else
			pr_err("thaw `%s`: %s", v->name, err_msg(e));
		json_decref(x);
		err_free(&e);
	}
	json_decref(st);
}

static int qemu_snapshot(struct host *h, const struct vps *v, const char *dir, struct err **err)
{
	struct err *e = NULL;
	json_t *x;
	int r;

	if (v->state != VPS_RUNNING)
		return vm_copy_disks(h, v, dir, false, err);
	if (!(x = qemu_qmp(h, v, "stop", NULL, err)))
		return err_wrap(err, "stop `%s` for its snapshot", v->name);
	json_decref(x);
	r = vm_copy_disks(h, v, dir, false, err);
	if (!(x = qemu_qmp(h, v, "cont", NULL, &e))) {
		pr_err("cont `%s` after its snapshot: %s", v->name, err_msg(e));
		if (r == 0)
			r = err_make(err, EIO, "cont `%s`: %s", v->name, err_msg(e));
	}
	json_decref(x);
	err_free(&e);
	return r;
}

/*
 * A migration's state (docs/cluster.md "A running VM on QEMU"): QEMU's own
 * migration stream, over a descriptor vpsd opens and passes beside the
 * command (`getfd`): the jailed QEMU opens no path and spawns nothing
 * (-chroot, -sandbox spawn=deny), so neither `exec:` nor a file name.
 */
#define QEMU_MIGRATE_FD "vps-migrate"
#define QEMU_MIGRATE_WAIT_MS (30 * 60 * 1000) /* a stream to a local file: RAM at disk speed */
#define QEMU_MIGRATE_BANDWIDTH (64ll << 30) /* bytes/s: no throttle (QEMU's default is 128 MiB/s) */

/* query-migrate until `completed`; `failed` or `cancelled` with QEMU's reason. */
static int qemu_migration_wait(struct qmp *q, const char *name, struct err **err)
{
	for (int t = 0; t < QEMU_MIGRATE_WAIT_MS; t += 20) {
		json_t *x = qmp_call(q, "query-migrate", NULL, -1, err);
		const char *st = json_string_value(json_object_get(x, "status"));
		int r = 1;

		if (!x)
			return -EIO;
		if (st && !strcmp(st, "completed"))
			r = 0;
		else if (st && (!strcmp(st, "failed") || !strcmp(st, "cancelled")))
			r = err_make(err, EIO, "`%s`: QEMU's migration %s: %s", name, st,
				     json_string_value(json_object_get(x, "error-desc")) ?:
					     "no reason given");
		json_decref(x);
		if (r <= 0)
			return r;
		usleep(20000);
	}
	return err_make(err, ETIMEDOUT, "`%s`: QEMU's migration did not end in %d s", name,
			QEMU_MIGRATE_WAIT_MS / 1000);
}

/* One QMP command on q; its answer dropped. */
static int qmp_do(struct qmp *q, const char *cmd, json_t *args, int fd, struct err **err)
{
	json_t *x = q ? qmp_call(q, cmd, args, fd, err) : NULL;

	json_decref(args);
	json_decref(x);
	return x ? 0 : -EIO;
}

static int qemu_migrate_save(struct host *h, const struct vps *v, int fd, struct err **err)
{
	_cleanup_free_ char *sock = host_vps_run(h, v->name, "qmp.sock");
	struct qmp *q = sock ? qmp_open(sock, err) : NULL;
	int r;

	if (!q)
		return -EIO;
	/* paused first: the disks are quiet from here, and the stream is taken in one pass */
	if ((r = qmp_do(q, "stop", NULL, -1, err)) < 0 ||
	    (r = qmp_do(q, "migrate-set-parameters",
			json_pack("{s:I}", "max-bandwidth", (json_int_t)QEMU_MIGRATE_BANDWIDTH), -1,
			err)) < 0 ||
	    (r = qmp_do(q, "getfd", json_pack("{s:s}", "fdname", QEMU_MIGRATE_FD), fd, err)) < 0 ||
	    (r = qmp_do(q, "migrate", json_pack("{s:s}", "uri", "fd:" QEMU_MIGRATE_FD), -1, err)) <
		    0)
		goto out;
	r = qemu_migration_wait(q, v->name, err);
out:
	qmp_close(q);
	if (r < 0)
		err_wrap(err, "save `%s`'s state", v->name);
	return r;
}

static int qemu_migrate_cont(struct host *h, const struct vps *v, struct err **err)
{
	json_t *x = qemu_qmp(h, v, "cont", NULL, err);

	json_decref(x);
	return x ? 0 : -EIO;
}

static int qemu_migrate_load(struct host *h, const struct vps *v, struct err **err)
{
	_cleanup_free_ char *sock = host_vps_run(h, v->name, "qmp.sock"), *path = NULL;
	struct qmp *q = NULL;
	struct stat st;
	int r = -EIO, fd = -1;

	if (!v->restore || asprintf(&path, "%s/state", v->restore) < 0)
		return err_make(err, ENOMEM, "`%s`: no state to take in", v->name);
	/* the arrival's own file: no link followed, a regular file */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = err_make(err, fd < 0 ? errno : EINVAL, "`%s`: open `%s` as a file", v->name,
			     path);
		goto out;
	}
	q = sock ? qmp_open(sock, err) : NULL;
	if (!q ||
	    (r = qmp_do(q, "getfd", json_pack("{s:s}", "fdname", QEMU_MIGRATE_FD), fd, err)) < 0 ||
	    (r = qmp_do(q, "migrate-incoming", json_pack("{s:s}", "uri", "fd:" QEMU_MIGRATE_FD), -1,
			err)) < 0 ||
	    (r = qemu_migration_wait(q, v->name, err)) < 0)
		goto out;
	/* the source was paused for its save: the state says paused, and it runs on here */
	r = qmp_do(q, "cont", NULL, -1, err);
out:
	if (fd >= 0)
		close(fd);
	qmp_close(q);
	if (r < 0)
		err_wrap(err, "take `%s`'s state in", v->name);
	return r < 0 ? r : 0;
}

static int vm_revert(struct host *h, const struct vps *v, const char *dir, struct err **err)
{
	return vm_copy_disks(h, v, dir, true, err);
}

/* A template of the VM (tmpl.h): its root disk as it lies, raw. */
static char *vm_template_disk(struct host *h, const struct vps *v)
{
	return vm_file(h, v, "disk.img");
}

const struct kind_ops kind_vm_vmm = {
	.kind = VPS_VM,
	.engine = VPS_VMM,
	.net = true,
	.validate = vmm_validate,
	.create = vm_create,
	.monitor_argv = vmm_monitor_argv,
	.restart_on = vmm_restart_on,
	.shutdown = vmm_shutdown,
	.kill = vmm_kill,
	.set_live = vmm_set_live,
	.seed = true,
	.reclaim = vmm_reclaim,
	.status = vmm_status,
	.console = vm_console,
	.screen = vmm_screen,
	.exec = NULL,
	.password = vm_password,
	.pools = true,
	.snapshot = vmm_snapshot,
	.rescue = vm_rescue,
	.rescuing = vm_rescuing,
	.rescue_system = "Debian 12, with the VM's own disk as /dev/vdb, not mounted; in through "
			 "the console",
	.snapshot_memory = vmm_snapshot_memory,
	.template_disk = vm_template_disk,
	.revert = vm_revert,
	.adopt = vmm_adopt,
	.live_hold = vmm_live_hold,
	.live_blocks = vmm_live_blocks,
	.live_images = vmm_live_images,
	.live_send = vmm_live_send,
	.destroy = vm_destroy,
	.monitor_jail = kind_vm_jail,
	.keeper_gone = kind_vm_jail_cleanup,
};

const struct kind_ops kind_vm_qemu = {
	.kind = VPS_VM,
	.engine = VPS_QEMU,
	.ready_leaf = "qmp.sock",
	.net = true,
	.validate = qemu_validate,
	.create = vm_create,
	.monitor_argv = qemu_monitor_argv,
	.restart_on = qemu_restart_on,
	.shutdown = qemu_shutdown,
	.kill = qemu_kill,
	.set_live = qemu_set_live,
	.seed = true,
	.reclaim = qemu_reclaim,
	.status = qemu_status,
	.console = vm_console,
	.screen = qemu_screen,
	.exec = NULL,
	.password = vm_password,
	.pools = true,
	.snapshot = qemu_snapshot,
	.migrate_save = qemu_migrate_save,
	.migrate_cont = qemu_migrate_cont,
	.migrate_load = qemu_migrate_load,
	.rescue = vm_rescue,
	.rescuing = vm_rescuing,
	.rescue_system = "Debian 12, with the VM's own disk as /dev/vdb, not mounted; in through "
			 "the console",
	.template_disk = vm_template_disk,
	.revert = vm_revert,
	.destroy = vm_destroy,
	.monitor_jail = kind_vm_jail,
	.keeper_gone = kind_vm_jail_cleanup,
};
