// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The OCI config.json of a system container, made from its settings at
 * every start (so a reboot picks up changed limits). What is in it and why
 * is in docs/ctm.md, "The container vps-ctm asks vps-ct for".
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>

#include "common/cleanup.h"
#include "ct/cgroup.h"
#include "sys/disk.h"
#include "ct/lxcfs.h"
#include "ctm/ctm.h"

/* LXC's default drop list for unprivileged containers, plus sys_rawio. */
static const char *const caps[] = {
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_DAC_READ_SEARCH",
	"CAP_FOWNER",
	"CAP_FSETID",
	"CAP_KILL",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST",
	"CAP_NET_ADMIN",
	"CAP_NET_RAW",
	"CAP_IPC_LOCK",
	"CAP_IPC_OWNER",
	"CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE",
	"CAP_SYS_PACCT",
	"CAP_SYS_ADMIN",
	"CAP_SYS_BOOT",
	"CAP_SYS_NICE",
	"CAP_SYS_RESOURCE",
	"CAP_SYS_TTY_CONFIG",
	"CAP_MKNOD",
	"CAP_LEASE",
	"CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL",
	"CAP_SETFCAP",
	"CAP_SYSLOG",
	"CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND",
	"CAP_AUDIT_READ",
	"CAP_PERFMON",
	"CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};

/* Character devices every container gets (and nothing else: no disks, no /dev/mem). */
static const struct {
	int major, minor; /* -1: any minor */
} allowed_chr[] = {
	{ 1, 3 },    { 1, 5 }, { 1, 7 }, { 1, 8 }, { 1, 9 }, /* null zero full random urandom */
	{ 5, 0 },    { 5, 1 }, { 5, 2 }, /* tty console ptmx */
	{ 136, -1 }, /* pts */
};

/*
 * Calls refused with EPERM (docs/ctm-security.md, "Seccomp"): Docker's
 * default profile as it stands for a container holding the capabilities
 * ours holds in its user namespace, and stricter where a call reaches
 * kernel code no namespace fences (io_uring, keys, bpf, perf, userfaultfd).
 * The rest (mount, unshare, setns, name_to_handle_at, reboot of its pid
 * namespace) systemd needs, and the user namespace bounds.
 */
static const char *const denied_syscalls[] = {
	/* kernel images and modules, raw ports, swap, the kernel log (LXC's list) */
	"kexec_load",
	"kexec_file_load",
	"open_by_handle_at",
	"init_module",
	"finit_module",
	"delete_module",
	"iopl",
	"ioperm",
	"syslog",
	/* a second syscall interface that seccomp cannot see into */
	"io_uring_setup",
	"io_uring_enter",
	"io_uring_register",
	/* the kernel keyring is not namespaced */
	"keyctl",
	"add_key",
	"request_key",
	/* verifier, perf and fault-handling code: the usual kernel exploit paths */
	"bpf",
	"perf_event_open",
	"userfaultfd",
	/* host-wide clocks, accounting, quotas; obsolete calls no program needs */
	"clock_settime",
	"clock_adjtime",
	"settimeofday",
	"acct",
	"quotactl",
	"quotactl_fd",
	"lookup_dcookie",
	"uselib",
	"nfsservctl",
	"_sysctl",
	"create_module",
	"get_kernel_syms",
	"query_module",
	"ustat",
	"sysfs",
};

/*
 * personality() flags that undo address-space hardening (Docker allows
 * only 0, PER_LINUX32, UNAME26 and the query 0xffffffff). The mask takes
 * bit 31 too, set in the query only, so a query stays allowed.
 */
static const unsigned long denied_personality[] = {
	0x0040000, /* ADDR_NO_RANDOMIZE */
	0x0100000, /* MMAP_PAGE_ZERO */
	0x0200000, /* ADDR_COMPAT_LAYOUT */
	0x0400000, /* READ_IMPLIES_EXEC */
	0x0800000, /* ADDR_LIMIT_32BIT */
	0x8000000, /* ADDR_LIMIT_3GB */
};

#define AF_VSOCK_NR 40 /* the host's vsock: Docker refuses the socket family too */
#define CLONE_NEWUSER_NR 0x10000000UL /* <linux/sched.h>'s CLONE_NEWUSER */

/*
 * Calls that succeed and do nothing: vswap is the container's memory+swap
 * limit, not a swap area of its own, so `swapon` and `swapoff` inside (which
 * installers and provisioning scripts run) are told 0, as OpenVZ told them.
 * The kernel never sees them: seccomp returns 0 in their place.
 */
static const char *const noop_syscalls[] = { "swapon", "swapoff" };

static json_t *str_array(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *mnt(const char *dst, const char *type, const char *src, const char *opts)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:[]}", "destination", dst, "type", type, "source",
			      src, "options");
	char *dup, *tok, *save = NULL;

	if (!o || !opts)
		return o;
	dup = strdup(opts);
	for (tok = dup ? strtok_r(dup, ",", &save) : NULL; tok; tok = strtok_r(NULL, ",", &save))
		json_array_append_new(json_object_get(o, "options"), json_string(tok));
	free(dup);
	return o;
}

/*
 * The monitor's meminfo and swaps (procfs.c) over /proc's: in place of
 * lxcfs's binds where lxcfs gave them, else after the others.
 */
static void procfs_mounts(json_t *m, const char *procfs)
{
	static const char *const files[] = { "meminfo", "swaps" };
	char src[4200], dst[32];

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		json_t *b, *it;
		size_t j;

		snprintf(src, sizeof(src), "%s/%s", procfs, files[i]);
		snprintf(dst, sizeof(dst), "/proc/%s", files[i]);
		b = mnt(dst, "bind", src, "bind,ro,nosuid,nodev,noexec");
		json_array_foreach(m, j, it)
		{
			if (!strcmp(json_string_value(json_object_get(it, "destination")) ?: "",
				    dst))
				break;
		}
		if (j < json_array_size(m))
			json_array_set_new(m, j, b);
		else
			json_array_append_new(m, b);
	}
}

static json_t *mounts(const struct ctm_config *c, const char *procfs, struct err **err)
{
	json_t *m = json_array();

	json_array_append_new(m, mnt("/proc", "proc", "proc", "nosuid,noexec,nodev"));
	json_array_append_new(m, mnt("/dev", "tmpfs", "tmpfs",
				     "nosuid,strictatime,mode=755,size=65536k"));
	json_array_append_new(m, mnt("/dev/pts", "devpts", "devpts",
				     "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"));
	json_array_append_new(m, mnt("/dev/shm", "tmpfs", "shm", "nosuid,nodev,mode=1777"));
	json_array_append_new(m, mnt("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
	json_array_append_new(m, mnt("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
	/* its own cgroup subtree, writable: systemd manages its services there */
	json_array_append_new(m,
			      mnt("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid,noexec,nodev,rw"));
	json_array_append_new(m, mnt("/run", "tmpfs", "tmpfs",
				     "nosuid,nodev,strictatime,mode=755,size=65536k"));
	json_array_append_new(m, mnt("/run/lock", "tmpfs", "tmpfs",
				     "nosuid,nodev,strictatime,noexec,mode=1777,size=5120k"));
	if (c->lxcfs && *c->lxcfs && ct_lxcfs_mounts(m, c->lxcfs, err) < 0) {
		/* lxcfs missing is not fatal: /proc is then the host's figures */
		err_free(err);
	}
	if (procfs)
		procfs_mounts(m, procfs);
	return m;
}

static json_t *devices(const struct ctm_config *c)
{
	json_t *d = json_array();

	json_array_append_new(d, json_pack("{s:b, s:s}", "allow", 0, "access", "rwm"));
	json_array_append_new(d,
			      json_pack("{s:b, s:s, s:s}", "allow", 1, "type", "c", "access", "m"));
	json_array_append_new(d,
			      json_pack("{s:b, s:s, s:s}", "allow", 1, "type", "b", "access", "m"));
	for (size_t i = 0; i < sizeof(allowed_chr) / sizeof(allowed_chr[0]); i++) {
		json_t *r = json_pack("{s:b, s:s, s:I, s:s}", "allow", 1, "type", "c", "major",
				      (json_int_t)allowed_chr[i].major, "access", "rwm");

		if (allowed_chr[i].minor >= 0)
			json_object_set_new(r, "minor", json_integer(allowed_chr[i].minor));
		json_array_append_new(d, r);
	}
	if (c->tun)
		json_array_append_new(d,
				      json_pack("{s:b, s:s, s:i, s:i, s:s}", "allow", 1, "type",
						"c", "major", 10, "minor", 200, "access", "rwm"));
	if (c->fuse)
		json_array_append_new(d,
				      json_pack("{s:b, s:s, s:i, s:i, s:s}", "allow", 1, "type",
						"c", "major", 10, "minor", 229, "access", "rwm"));
	return d;
}

/* Whether this host's memory controller is on cgroup v2 (read each time, never configured). */
static bool memory_on_v2(void)
{
	enum cg_layout l;
	struct err *e = NULL;
	bool v2 = cg_detect(&l, &e) == 0 && l == CG_V2;

	err_free(&e);
	return v2;
}

/*
 * v2's soft edge, 1/16 under memory.max: above memory.high the kernel
 * throttles the container and reclaims from it (to swap, when it has vswap)
 * before the hard limit OOM-kills, as vswap's soft overcommit did on
 * OpenVZ. v1 has no such level (soft_limit_in_bytes only matters under
 * global pressure), so it is set on v2 only, through linux.resources.unified.
 */
static json_t *memory_high(uint64_t memory)
{
	char v[24];

	snprintf(v, sizeof(v), "%llu", (unsigned long long)(memory - memory / 16));
	return json_pack("{s:s}", "memory.high", v);
}

/* major:minor of the loop device the container's disk is attached to. */
static int disk_dev(const struct ctm_config *c, unsigned int *maj, unsigned int *min)
{
	char img[4200], *loop = NULL;
	struct stat st;
	int r = -ENOENT;

	snprintf(img, sizeof(img), "%s/disk.img", c->dir);
	if (sys_disk_find_loop(img, &loop, NULL) == 0 && loop && stat(loop, &st) == 0 &&
	    S_ISBLK(st.st_mode)) {
		*maj = major(st.st_rdev);
		*min = minor(st.st_rdev);
		r = 0;
	}
	free(loop);
	return r;
}

/* One throttle rule ({"major", "minor", "rate"}); rate 0 is no limit. */
static void throttle(json_t *bio, const char *key, unsigned int maj, unsigned int min,
		     uint64_t rate)
{
	json_t *rule = json_pack("{s:I, s:I, s:I}", "major", (json_int_t)maj, "minor",
				 (json_int_t)min, "rate", (json_int_t)rate);

	/* 0 in an update lifts a limit set before (v1 writes "MAJ:MIN 0") */
	json_object_set_new(bio, key, json_pack("[o]", rule));
}

static json_t *resources(const struct ctm_config *c)
{
	json_t *r = json_object();
	/* v1 cpu.shares 1024 is v2 weight 100; vps-ct converts back on v2 */
	json_int_t shares = (json_int_t)c->cpu_weight * 1024 / 100;

	json_object_set_new(r, "memory",
			    json_pack("{s:I, s:I}", "limit", (json_int_t)c->memory, "swap",
				      (json_int_t)(c->memory + c->swap)));
	json_object_set_new(r, "cpu", json_pack("{s:I}", "shares", shares < 2 ? 2 : shares));
	if (c->cpus > 0) {
		json_object_set_new(json_object_get(r, "cpu"), "period", json_integer(100000));
		json_object_set_new(json_object_get(r, "cpu"), "quota",
				    json_integer((json_int_t)llround(c->cpus * 100000)));
	}
	if (c->pids > 0)
		json_object_set_new(r, "pids", json_pack("{s:I}", "limit", (json_int_t)c->pids));
	if (c->io_weight || c->io_read_bps || c->io_write_bps || c->io_read_iops ||
	    c->io_write_iops) {
		json_t *bio = json_object();
		unsigned int maj, min;

		if (c->io_weight)
			json_object_set_new(bio, "weight", json_integer(c->io_weight));
		/* the limits apply to the container's own disk, its loop device */
		if (disk_dev(c, &maj, &min) == 0) {
			throttle(bio, "throttleReadBpsDevice", maj, min, c->io_read_bps);
			throttle(bio, "throttleWriteBpsDevice", maj, min, c->io_write_bps);
			throttle(bio, "throttleReadIOPSDevice", maj, min, c->io_read_iops);
			throttle(bio, "throttleWriteIOPSDevice", maj, min, c->io_write_iops);
		}
		json_object_set_new(r, "blockIO", bio);
	}
	if (memory_on_v2())
		json_object_set_new(r, "unified", memory_high(c->memory));
	json_object_set_new(r, "devices", devices(c));
	return r;
}

json_t *ctm_spec_update(const struct ctm_config *c, const struct ctm_config *was)
{
	json_t *r = resources(c);
	unsigned int maj, min;

	/*
	 * Every throttle lifted: resources() says nothing of IO, an update must
	 * (rate 0), but only where one was set: a host without the throttle
	 * files is never asked to write them.
	 */
	if (!json_object_get(r, "blockIO") && was &&
	    (was->io_read_bps || was->io_write_bps || was->io_read_iops || was->io_write_iops) &&
	    disk_dev(c, &maj, &min) == 0) {
		json_t *bio = json_object();

		throttle(bio, "throttleReadBpsDevice", maj, min, 0);
		throttle(bio, "throttleWriteBpsDevice", maj, min, 0);
		throttle(bio, "throttleReadIOPSDevice", maj, min, 0);
		throttle(bio, "throttleWriteIOPSDevice", maj, min, 0);
		json_object_set_new(r, "blockIO", bio);
	}

	json_object_del(r, "devices");
	if (!c->pids)
		json_object_set_new(r, "pids", json_pack("{s:i}", "limit", -1));
	if (!c->cpus)
		json_object_set_new(json_object_get(r, "cpu"), "quota", json_integer(-1));
	return r;
}

static json_t *deny_rule(const char *name, int arg, unsigned long mask, unsigned long value,
			 const char *op)
{
	return json_pack("{s:[s], s:s, s:i, s:[{s:i, s:I, s:I, s:s}]}", "names", name, "action",
			 "SCMP_ACT_ERRNO", "errnoRet", EPERM, "args", "index", arg, "value",
			 (json_int_t)mask, "valueTwo", (json_int_t)value, "op", op);
}

/* ptrace bypassed seccomp before Linux 4.8: Docker refuses it there. */
static bool ptrace_skips_seccomp(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return true;
	return major < 4 || (major == 4 && minor < 8);
}

static json_t *seccomp(const struct ctm_config *c)
{
	json_t *rules = json_array();

	json_array_append_new(
		rules, json_pack("{s:o, s:s, s:i}", "names",
				 str_array(denied_syscalls,
					   sizeof(denied_syscalls) / sizeof(denied_syscalls[0])),
				 "action", "SCMP_ACT_ERRNO", "errnoRet", EPERM));
	json_array_append_new(rules,
			      json_pack("{s:o, s:s, s:i}", "names",
					str_array(noop_syscalls,
						  sizeof(noop_syscalls) / sizeof(noop_syscalls[0])),
					"action", "SCMP_ACT_ERRNO", "errnoRet", 0));
	/*
	 * Without nesting, no user namespace inside (Docker's default, and
	 * Debian's old unprivileged_userns_clone=0): a user of the container
	 * gains no capabilities of a namespace of their own, and no container
	 * runs inside. clone3 hides its flags in memory a filter cannot read,
	 * so it answers ENOSYS and the C library falls back to clone, whose
	 * flags are checked. Namespaces without a user namespace stay (systemd
	 * makes them for PrivateTmp= and the like).
	 */
	if (!c->nesting) {
		json_array_append_new(rules, deny_rule("unshare", 0, CLONE_NEWUSER_NR,
						       CLONE_NEWUSER_NR, "SCMP_CMP_MASKED_EQ"));
		json_array_append_new(rules, deny_rule("clone", 0, CLONE_NEWUSER_NR,
						       CLONE_NEWUSER_NR, "SCMP_CMP_MASKED_EQ"));
		json_array_append_new(rules,
				      json_pack("{s:[s], s:s, s:i}", "names", "clone3", "action",
						"SCMP_ACT_ERRNO", "errnoRet", ENOSYS));
	}
	for (size_t i = 0; i < sizeof(denied_personality) / sizeof(denied_personality[0]); i++)
		json_array_append_new(
			rules, deny_rule("personality", 0, 0x80000000UL | denied_personality[i],
					 denied_personality[i], "SCMP_CMP_MASKED_EQ"));
	json_array_append_new(rules, deny_rule("socket", 0, AF_VSOCK_NR, 0, "SCMP_CMP_EQ"));
	if (ptrace_skips_seccomp())
		json_array_append_new(rules,
				      json_pack("{s:[s], s:s, s:i}", "names", "ptrace", "action",
						"SCMP_ACT_ERRNO", "errnoRet", EPERM));
	return json_pack("{s:s, s:[s], s:o}", "defaultAction", "SCMP_ACT_ALLOW", "architectures",
			 "SCMP_ARCH_X86_64", "syscalls", rules);
}

static json_t *idmap(const struct ctm_config *c)
{
	return json_pack("[{s:i, s:I, s:I}]", "containerID", 0, "hostID", (json_int_t)c->uid_base,
			 "size", (json_int_t)c->uid_size);
}

json_t *ctm_spec(const struct ctm_config *c, enum ctm_init init, const char *rootfs,
		 const char *procfs, struct err **err)
{
	static const char *const ns[] = {
		"pid", "network", "ipc", "uts", "mount", "cgroup", "user"
	};
	static const char *const masked[] = {
		"/proc/acpi",	       "/proc/asound",	   "/proc/kcore",	"/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/sys/firmware",       "/proc/scsi",
	};
	static const char *const ro[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
					  "/proc/sysrq-trigger" };
	char cgpath[64];
	json_t *s, *nsa = json_array();

	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		json_array_append_new(nsa, json_pack("{s:s}", "type", ns[i]));
	snprintf(cgpath, sizeof(cgpath), "/vps-ct/%s", c->name);
	s = json_pack(
		"{s:s, s:{s:b, s:{s:i, s:i}, s:[s], s:[s, s, s], s:s, s:{s:o, s:o, s:o}, s:b}, "
		"s:{s:s, s:b}, s:s, s:o, s:{s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}}",
		"ociVersion", "1.0.2", "process", "terminal", 1, "user", "uid", 0, "gid", 0, "args",
		"/sbin/init", "env", "container=vps",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=linux",
		"cwd", "/", "capabilities", "bounding",
		str_array(caps, sizeof(caps) / sizeof(caps[0])), "effective",
		str_array(caps, sizeof(caps) / sizeof(caps[0])), "permitted",
		str_array(caps, sizeof(caps) / sizeof(caps[0])), "noNewPrivileges", 0, "root",
		"path", rootfs, "readonly", 0, "hostname", c->hostname, "mounts",
		mounts(c, procfs, err), "linux", "namespaces", nsa, "cgroupsPath", cgpath,
		"uidMappings", idmap(c), "gidMappings", idmap(c), "resources", resources(c),
		"seccomp", seccomp(c), "maskedPaths",
		str_array(masked, sizeof(masked) / sizeof(masked[0])), "readonlyPaths",
		str_array(ro, sizeof(ro) / sizeof(ro[0])), "devices", json_array());
	if (!s)
		return err_make(err, ENOMEM, "spec"), NULL;
	/*
	 * /dev/net/tun: a node of our own (0666, in DIR, which is not nodev),
	 * bound in; binding the host's node would carry its mode, 0600 where no
	 * udev opened it up, which root inside (not root outside) cannot open.
	 */
	if (c->tun) {
		char src[4200];

		snprintf(src, sizeof(src), "%s/dev-net-tun", c->dir);
		json_array_append_new(json_object_get(s, "mounts"),
				      mnt("/dev/net/tun", "bind", src, "bind,nosuid,noexec"));
	}
	/* /dev/fuse likewise; FUSE mounts a user namespace's root may make (Linux 4.18) */
	if (c->fuse) {
		char src[4200];

		snprintf(src, sizeof(src), "%s/dev-fuse", c->dir);
		json_array_append_new(json_object_get(s, "mounts"),
				      mnt("/dev/fuse", "bind", src, "bind,nosuid,noexec"));
	}
	/*
	 * Rescue mode (docs/rescue.md): the root is the rescue system's; the
	 * container's own root is bound at /mnt, its files as they are (the
	 * same uid range, so their owners are right inside), nosuid and nodev
	 * like every disk the rescue system did not boot from.
	 */
	if (c->rescue_dir) {
		char src[4200];

		snprintf(src, sizeof(src), "%s/rootfs", c->dir);
		json_array_append_new(json_object_get(s, "mounts"),
				      mnt("/mnt", "bind", src, "rbind,nosuid,nodev"));
	}
	/*
	 * A container inside mounts its own proc and sysfs only where the
	 * kernel sees a whole one already (mount_too_revealing(): no locked
	 * mount over any of its files). Ours have masks and lxcfs files over
	 * them, locked in a nested namespace, so nesting adds a clean proc and
	 * a read-only sysfs under /dev/.vps (LXC's /dev/.lxc/{proc,sys}).
	 */
	if (c->nesting) {
		json_array_append_new(json_object_get(s, "mounts"),
				      mnt("/dev/.vps/proc", "proc", "proc", "nosuid,noexec,nodev"));
		json_array_append_new(json_object_get(s, "mounts"),
				      mnt("/dev/.vps/sys", "sysfs", "sysfs",
					  "nosuid,noexec,nodev,ro"));
	}
	/*
	 * the init gets the console as stdio, not as its controlling terminal
	 * (LXC's way): else no getty on /dev/console could make it its own
	 */
	json_object_set_new(s, "annotations", json_pack("{s:s}", "org.vps.console", "noctty"));
	if (c->sysinfo) {
		/* answered by the monitor itself (monitor.c), no process of vps-ct's */
		char *sock = ctm_path(c, true, "sysinfo.sock");

		json_object_set_new(json_object_get(s, "annotations"), "org.vps.sysinfo",
				    json_string("cgroup"));
		if (sock)
			json_object_set_new(json_object_get(s, "annotations"),
					    "org.vps.sysinfo.socket", json_string(sock));
		free(sock);
	}
	return s;
}
