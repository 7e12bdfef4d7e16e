// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vps-vmm: the per-VM monitor process. Reads its configuration (flags or a
 * JSON file, see config.h), opens every file it needs, builds the VM, starts
 * one thread per vCPU and serves the control socket on the main thread until
 * the guest stops.
 *
 * Its exit status says how the guest ended (monitor/protocol.h, docs/vmm.md);
 * micro-guests with exit_port exit with the byte the guest wrote to 0xf4.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "monitor/protocol.h"
#include "vmm/jail.h"
#include "vmm/arch/x86/micro.h"
#include "vmm/boot/firmware.h"
#include "vmm/backends/console.h"
#include "vmm/backends/rfb.h"
#include "vmm/config.h"
#include "vmm/control.h"
#include "vmm/devices/exitport.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/pm.h"
#include "vmm/devices/rtc.h"
#include "vmm/machine.h"
#include "vmm/migrate.h"
#include "vmm/devices/serial.h"
#include "vmm/snapshot_vm.h"
#include "vmm/vm.h"

#define X86_SCI_GSI 9 /* the FADT's SCI_INT */

static const char usage[] =
	"usage: vps-vmm [--config FILE] (--kernel FILE [--initrd FILE] [--cmdline TEXT] [--display]\n"
	"               | --firmware FILE [--vgabios FILE]\n"
	"               | --micro FILE [--mode real|long] [--exit-port])\n"
	"               [--memory SIZE] [--cpus N] [--disk path=IMG[,readonly=on][,id=NAME][,queues=N]]...\n"
	"               [--net tap=NAME[,mac=MAC][,queues=N][,vhost=on]]... [--serial stdio|pty|none|socket:PATH|file:PATH]\n"
	"               [--control PATH] [--vnc PATH] [--reserve] [--jail uid=N[,gid=N]]\n"
	"               [--no-ioeventfd] [--no-irqfd] [--no-net-offloads] [--io-uring|--no-io-uring]\n"
	"               [--snapshot-dir DIR] [--restore DIR] [--migrate-listen ADDR] [--migrate-dir DIR]\n";

/* Everything opened before the first vCPU runs. */
struct vmm {
	struct vmm_config cfg;
	struct vm vm;
	struct console con;
	struct rfb rfb; /* --vnc: the screen's RFB server; listen_fd -1 otherwise */
	struct serial com1;
	struct rtc rtc;
	struct pm pm;
	struct i8042 kbd;
	struct control_hooks hooks;
	struct control ctl;
	struct machine mc; /* Linux guests */
	int snap_dirfd; /* snapshot_dir, opened before the jail; -1: none */
	int mig_dirfd; /* migrate_dir, likewise */
	int mig_fd; /* --migrate-listen: the source, accepted before the jail; -1 */
	struct migration mig;
};

static struct snap_parts parts_of(struct vmm *m)
{
	return (struct snap_parts){ .vm = &m->vm,
				    .mc = &m->mc,
				    .com1 = &m->com1,
				    .rtc = &m->rtc,
				    .pm = &m->pm,
				    .micro = m->cfg.micro != NULL };
}

/*
 * Under snapshot_dir, `path` is one name (created there); without it, a
 * host path, which a jailed monitor cannot reach.
 */
static int snapshot_dir_open(struct vmm *m, const char *path, struct err **err)
{
	int base = m->snap_dirfd >= 0 ? m->snap_dirfd : AT_FDCWD, fd;

	if (m->snap_dirfd >= 0 && (strchr(path, '/') || !strcmp(path, ".") || !strcmp(path, "..")))
		return err_make(err, EINVAL, "`path`: one name under the snapshot directory");
	if (m->snap_dirfd < 0 && jail_active())
		return err_make(err, EPERM,
				"a jailed monitor writes snapshots only under its `snapshot_dir`");
	if (mkdirat(base, path, 0700) < 0 && errno != EEXIST)
		return err_make(err, errno, "snapshot: create `%s`", path);
	fd = openat(base, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return err_make(err, errno, "snapshot: open `%s`", path);
	return fd;
}

/* The control socket's `snapshot`: the vCPUs are parked; the devices are held still here. */
static int snapshot_hook(void *opaque, const char *path, struct err **err)
{
	struct vmm *m = opaque;
	struct snap_parts p = parts_of(m);
	int fd, ret;

	/* fw_cfg, VGA, the keyboard and CMOS memory are not in the state file yet */
	if (m->cfg.firmware)
		return err_make(err, 0, "snapshot: not yet for firmware boot");
	if (m->cfg.display)
		return err_make(err, 0, "snapshot: not yet with a display");
	fd = snapshot_dir_open(m, path, err);
	if (fd < 0)
		return fd;
	machine_lock_devices(&m->mc);
	ret = machine_quiesce_locked(&m->mc, err);
	if (ret == 0)
		ret = snapshot_save(&p, fd, err);
	machine_unlock_devices(&m->mc);
	machine_kick_all(&m->mc);
	close(fd);
	return ret;
}

static int machine_disks_hold_hook(void *mc, struct err **err)
{
	return machine_disks_hold(mc, err);
}

static int machine_cdrom_hook(void *mc, int fd, struct err **err)
{
	return machine_cdrom_change(mc, fd, err);
}

static void machine_disks_release_hook(void *mc)
{
	machine_disks_release(mc);
}

static int machine_dirty_log_hook(void *mc, bool on, struct err **err)
{
	return machine_disks_dirty_log(mc, on, err);
}

static int machine_dirty_take_hook(void *mc, unsigned int disk, uint64_t (*ranges)[2],
				   unsigned int max, bool *more, const char **id, unsigned int *nr,
				   struct err **err)
{
	return machine_disk_dirty_take(mc, disk, ranges, max, more, id, nr, err);
}

static int power_button(void *opaque)
{
	return pm_power_button(opaque);
}

/*
 * The legacy platform every VM has: COM1, the i8042 (the reset line; with
 * firmware boot, a keyboard too), CMOS clock, ACPI PM.
 */
static int platform_init(struct vmm *m, struct err **err)
{
	struct vm *vm = &m->vm;

	if (serial_init(&m->com1, vm, SERIAL_COM1_BASE, SERIAL_COM1_IRQ, console_tx, &m->con) < 0 ||
	    i8042_init(&m->kbd, vm, m->cfg.firmware != NULL) < 0 || rtc_init(&m->rtc, vm) < 0 ||
	    pm_init(&m->pm, vm, PM_X86_BASE, X86_SCI_GSI, PM_S5_SLP_TYP) < 0)
		return err_make(err, EBUSY, "platform devices: port ranges overlap");
	return 0;
}

static int keys_hook(void *kbd, const char *what, bool is_name, struct err **err)
{
	return i8042_type(kbd, what, is_name, err);
}

/* The screen server's hooks: the VGA's text mode, the PS/2 keyboard. */
static int screen_render(void *opaque, struct framebuffer *fb)
{
	struct machine *mc = opaque;

	return mc->vga_up ? vga_render(&mc->vga, fb) : 0;
}

static int screen_key(void *kbd, uint32_t keysym, bool down)
{
	return i8042_keysym(kbd, keysym, down);
}

static int status_of(const struct vm *vm)
{
	switch (vm->exit_reason) {
	case VM_EXIT_PORT:
		return vm->exit_status;
	case VM_HALTED:
	case VM_POWEROFF:
		return MONITOR_EXIT_POWEROFF;
	case VM_REBOOT:
		return MONITOR_EXIT_REBOOT;
	case VM_SHUTDOWN:
		pr_warn("guest crashed");
		return MONITOR_EXIT_CRASH;
	case VM_STOPPED:
		return MONITOR_EXIT_KILLED;
	default:
		return MONITOR_EXIT_FAILURE;
	}
}

static int setup_micro_vcpu(struct vcpu *v, void *opaque)
{
	const struct vmm_config *c = opaque;

	return micro_setup_vcpu(v, c->micro_long ? MICRO_LONG : MICRO_REAL);
}

/* Build a micro-guest VM: RAM with the payload, COM1, the exit port, one vCPU. */
static int build_micro(struct vmm *m, struct err **err)
{
	enum micro_mode mode = m->cfg.micro_long ? MICRO_LONG : MICRO_REAL;
	_cleanup_free_ char *img = NULL;
	struct vcpu *v;
	size_t len;
	int ret;

	ret = read_file(m->cfg.micro, &img, &len);
	if (ret < 0)
		return err_make(err, -ret, "`micro`: read `%s`", m->cfg.micro);
	if (micro_load(&m->vm, mode, img, len) < 0)
		return err_make(err, E2BIG, "`micro`: `%s` (%zu bytes) does not fit in %s mode",
				m->cfg.micro, len, m->cfg.micro_long ? "long" : "real");
	if (m->cfg.exit_port && exitport_init(&m->vm) < 0)
		return err_make(err, EBUSY, "exit port");
	ret = vcpu_create(&m->vm, 0, &v);
	if (ret < 0)
		return err_make(err, -ret, "create vcpu 0");
	v->setup = setup_micro_vcpu;
	v->setup_opaque = &m->cfg;
	return 0;
}

static int parse_config(int argc, char **argv, struct vmm_config *cfg)
{
	_cleanup_free_ char *json = NULL;
	struct err *e = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			exit(0);
		}
	}
	config_init(cfg);
	if (config_from_argv(argc, argv, &json, &e) < 0 || config_parse(cfg, json, &e) < 0 ||
	    config_validate(cfg, &e) < 0) {
		pr_err("%s", err_msg(e));
		fputs(usage, stderr);
		err_free(&e);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct vmm m; /* large (control buffers): keep it off the stack */
	struct err *e = NULL;
	int status = MONITOR_EXIT_CONFIG, ret;

	log_init("vps-vmm", LOG_INFO);
	m.snap_dirfd = -1;
	m.mig_dirfd = -1;
	m.mig_fd = -1;
	/* what we create is the VM owner's alone, from birth: the sockets are bound, then chmod'ed */
	umask(0077);
	/*
	 * A console or control client that goes away mid-write must cost us an
	 * EPIPE on that client, not the VM (the keeper starts us with SIGPIPE's
	 * default action).
	 */
	signal(SIGPIPE, SIG_IGN);
	if (parse_config(argc, argv, &m.cfg) < 0)
		return MONITOR_EXIT_CONFIG;
	if (console_open(&m.con, &m.cfg, &e) < 0)
		goto out_console_err;

	status = MONITOR_EXIT_FAILURE;
	if (vm_create(&m.vm, m.cfg.memory,
		      m.cfg.kernel   ? X86_PCI_HOLE :
		      m.cfg.firmware ? FIRMWARE_PCI_HOLE :
				       UINT64_MAX) < 0)
		goto out_console;
	if (m.cfg.reserve && vm_reserve_ram(&m.vm) < 0) {
		vm_destroy(&m.vm);
		goto out_console;
	}
	if (platform_init(&m, &e) < 0)
		goto out_vm_err;
	m.hooks = (struct control_hooks){ .power_button = power_button, .opaque = &m.pm };
	if (m.cfg.kernel) {
		ret = machine_build(&m.mc, &m.vm, &m.cfg, &e);
	} else if (m.cfg.firmware) {
		ret = machine_build_firmware(&m.mc, &m.vm, &m.cfg, &e);
		if (ret == 0)
			rtc_set_pc_memory(&m.rtc, m.vm.mem.r[0].size,
					  m.vm.mem.nr > 1 ? m.vm.mem.r[1].size : 0, m.cfg.cpus);
		m.hooks.screen = machine_screen;
		m.hooks.keys = keys_hook;
		m.hooks.kbd = &m.kbd;
	} else {
		ret = machine_build_devices(&m.mc, &m.vm, &m.cfg, &e);
		if (ret == 0)
			ret = build_micro(&m, &e);
	}
	m.hooks.balloon_set = machine_balloon_set;
	m.hooks.stats = machine_stats;
	m.hooks.machine = &m.mc;
	m.hooks.snapshot = snapshot_hook;
	m.hooks.disks_hold = machine_disks_hold_hook;
	m.hooks.disks_release = machine_disks_release_hook;
	m.hooks.dirty_log = machine_dirty_log_hook;
	m.hooks.dirty_take = machine_dirty_take_hook;
	m.hooks.cdrom = machine_cdrom_hook;
	m.hooks.vmm = &m;
	/* the micro-guest's entry registers are not wanted: the source's are */
	if (ret == 0 && m.cfg.migrate_listen && m.cfg.micro)
		m.vm.vcpus[0]->setup = NULL;
	if (ret == 0 && m.cfg.restore) {
		struct snap_parts p = parts_of(&m);

		/* the micro-guest's entry registers are not wanted: the snapshot's are */
		if (m.cfg.micro)
			m.vm.vcpus[0]->setup = NULL;
		ret = snapshot_restore(&p, m.cfg.restore, &e);
		if (ret < 0) {
			status = MONITOR_EXIT_CONFIG;
			goto out_vm_err;
		}
		pr_info("restored from `%s`", m.cfg.restore);
		machine_announce(&m.mc);
		machine_kick_all(&m.mc); /* served once the I/O threads start */
	}
	if (ret < 0) {
		/* What the configuration names but is not there is the caller's to fix. */
		status = ret == -E2BIG || ret == -ENOENT || ret == -EACCES || ret == -EINVAL ?
				 MONITOR_EXIT_CONFIG :
				 MONITOR_EXIT_FAILURE;
		goto out_vm_err;
	}
	if (m.cfg.vnc &&
	    rfb_open(&m.rfb, m.cfg.vnc, screen_render, &m.mc, screen_key, &m.kbd, &e) < 0) {
		status = MONITOR_EXIT_CONFIG;
		goto out_vm_err;
	}
	if (control_open(&m.ctl, m.cfg.control, &m.vm, &m.hooks, &e) < 0) {
		status = MONITOR_EXIT_CONFIG;
		goto out_vm_err;
	}
	m.ctl.console_path = m.cfg.serial == SERIAL_PTY ? m.con.path : NULL;
	if (m.cfg.snapshot_dir) {
		m.snap_dirfd = open(m.cfg.snapshot_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (m.snap_dirfd < 0) {
			err_make(&e, errno, "`snapshot_dir`: `%s`", m.cfg.snapshot_dir);
			control_close(&m.ctl, m.cfg.control);
			status = MONITOR_EXIT_CONFIG;
			goto out_vm_err;
		}
	}
	if (m.cfg.migrate_dir) {
		m.mig_dirfd = open(m.cfg.migrate_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (m.mig_dirfd < 0) {
			err_make(&e, errno, "`migrate_dir`: `%s`", m.cfg.migrate_dir);
			control_close(&m.ctl, m.cfg.control);
			status = MONITOR_EXIT_CONFIG;
			goto out_vm_err;
		}
	}
	if (m.cfg.migrate_listen) {
		/* only the connection is made before the jail; the stream is read inside it */
		/* a jailed source is the VM's uid: the socket (bound 0600) is made its own */
		int lfd = migration_listen(m.cfg.migrate_listen,
					   m.cfg.jail ? (int)m.cfg.jail_uid : -1,
					   m.cfg.jail ? (int)m.cfg.jail_gid : -1, &e);

		pr_info("waiting for a migrating VM at `%s`", m.cfg.migrate_listen);
		m.mig_fd = lfd < 0 ? lfd : migration_accept(lfd, m.cfg.migrate_listen, &e);
		if (m.mig_fd < 0) {
			if (lfd >= 0)
				close(lfd);
			control_close(&m.ctl, m.cfg.control);
			status = MONITOR_EXIT_CONFIG;
			goto out_vm_err;
		}
	}
	/* everything from the host is open: the jail, then the threads, each narrowing itself */
	if (m.cfg.jail && jail_enter(m.cfg.jail_uid, m.cfg.jail_gid, &e) < 0) {
		control_close(&m.ctl, m.cfg.control);
		goto out_vm_err;
	}
	if (m.mig_fd >= 0) {
		struct snap_parts p = parts_of(&m);
		struct mig_figures f;

		ret = migration_receive(&p, m.mig_fd, &f, &e);
		close(m.mig_fd);
		m.mig_fd = -1;
		if (ret < 0) {
			control_close(&m.ctl, m.cfg.control);
			status = MONITOR_EXIT_CONFIG;
			goto out_vm_err;
		}
		pr_info("migrated in: %llu rounds, %llu bytes, %llu pages while paused, downtime "
			"%llu us, total %llu us",
			(unsigned long long)f.rounds, (unsigned long long)f.bytes,
			(unsigned long long)f.last_pages, (unsigned long long)f.downtime_us,
			(unsigned long long)f.total_us);
		m.mig.incoming = f;
		m.mig.has_incoming = true;
		machine_announce(&m.mc); /* the guest's MAC is behind this tap now */
		machine_kick_all(&m.mc); /* a doorbell the source's devices had not read */
	}
	{
		struct snap_parts p = parts_of(&m);

		if (migration_init(&m.mig, &p, m.mig_dirfd, &e) < 0) {
			control_close(&m.ctl, m.cfg.control);
			goto out_vm_err;
		}
		m.hooks.migration = &m.mig;
		m.mig.control_path = jail_active() ? NULL : m.cfg.control;
		if (m.cfg.firmware)
			m.mig.refused = "not yet for firmware boot";
		else if (m.cfg.display)
			m.mig.refused = "not yet with a display";
	}
	if (machine_start(&m.mc) < 0) {
		pr_err("start the device threads");
	} else if (console_start(&m.con, &m.com1) < 0) {
		pr_err("start the console input thread");
	} else if (m.cfg.vnc && rfb_start(&m.rfb) < 0) {
		pr_err("start the screen thread");
	} else if (vm_start(&m.vm) == 0) {
		if (jail_thread(JAIL_CONTROL) < 0)
			vm_request_exit(&m.vm, VM_ERROR, 0);
		control_loop(&m.ctl);
		vm_join(&m.vm);
		status = status_of(&m.vm);
	}
	migration_fini(&m.mig);
	control_close(&m.ctl, m.cfg.control);
	goto out_vm;

out_vm_err:
	pr_err("%s", err_msg(e));
	err_free(&e);
out_vm:
	/* the screen thread reads guest memory: stopped before it goes */
	if (m.rfb.fb)
		rfb_close(&m.rfb);
	/* vCPU threads are joined: nothing runs device code any more. */
	machine_destroy(&m.mc);
	vm_destroy(&m.vm);
out_console:
	if (m.snap_dirfd >= 0)
		close(m.snap_dirfd);
	if (m.mig_dirfd >= 0)
		close(m.mig_dirfd);
	console_close(&m.con);
	config_free(&m.cfg);
	return status;
out_console_err:
	pr_err("%s", err_msg(e));
	err_free(&e);
	goto out_console;
}
