// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `vps-ctm run`: the monitor of one running system container, after
 * conmon and lxc-start's monitor. It is the child subreaper of everything
 * vps-ct starts, so the container's init becomes its child once
 * `vps-ct create` exits, and its wait status says how the container ended:
 * reboot(2) in a pid namespace kills the init with SIGHUP (restart) or
 * SIGINT (power off, halt). One thread, one poll loop over: a signalfd, the
 * init's pidfd, the stop timer, the control socket and its clients, the
 * console pty and the console socket's clients; and procfs.c's thread, which
 * answers the container's /proc/meminfo and /proc/swaps; and the container's
 * sysinfo() calls, whose seccomp listeners vps-ct sends to sysinfo.sock
 * (org.vps.sysinfo.socket) instead of starting a process of its own for
 * them (docs/ct-density.md). Once its sockets are up it
 * drops every capability it and the programs it runs do not need
 * (CTM_CAPS, docs/security.md "The container monitors").
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "ct/cgroup.h"
#include "ct/container.h"
#include "ct/state.h"
#include "ct/privs.h"
#include "ctm/ctl.h"
#include "ctm/ctm.h"
#include "ctm/procfs.h"
#include "monitor/console.h"
#include "monitor/protocol.h"
#include "monitor/server.h"
#include "sys/disk.h"
#include "sys/image.h"
#include "sys/net.h"
#include "sys/unix.h"

/*
 * What the monitor and the programs it runs as root (vps-ct create, start,
 * update, delete; mount and loop setup; mkfs, e2fsck, resize2fs) need, and
 * all it keeps, in every set and the bounding set: namespaces, mounts,
 * loop devices and setns (SYS_ADMIN), the uid map (SETUID, SETGID, SETFCAP
 * for a map of root), the veth (NET_ADMIN), files of the container's uids
 * (CHOWN, DAC_OVERRIDE, FOWNER, FSETID), signals to them (KILL), their
 * /proc/PID/ns and memory (SYS_PTRACE), the tun node (MKNOD), pivot_root
 * (SYS_CHROOT), dropping the container's bounding set (SETPCAP), rlimits,
 * oom_score_adj and an online resize (SYS_RESOURCE). Gone: modules, raw
 * I/O, time, boot, audit, MAC, syslog, raw sockets, ports, BPF, perf, and
 * the rest. The container's own capabilities are its user namespace's, not
 * bounded by these. No no_new_privs: the container inherits it, and its
 * root runs setuid programs (su, sudo, ping).
 */
#define CTM_CAPS                                                                                  \
	(CT_CAP(CAP_CHOWN) | CT_CAP(CAP_DAC_OVERRIDE) | CT_CAP(CAP_FOWNER) | CT_CAP(CAP_FSETID) | \
	 CT_CAP(CAP_KILL) | CT_CAP(CAP_SETGID) | CT_CAP(CAP_SETUID) | CT_CAP(CAP_SETPCAP) |       \
	 CT_CAP(CAP_NET_ADMIN) | CT_CAP(CAP_SYS_CHROOT) | CT_CAP(CAP_SYS_PTRACE) |                \
	 CT_CAP(CAP_SYS_ADMIN) | CT_CAP(CAP_SYS_RESOURCE) | CT_CAP(CAP_MKNOD) |                   \
	 CT_CAP(CAP_SETFCAP))

enum mstate { M_STARTING, M_RUNNING, M_STOPPING, M_REBOOTING, M_STOPPED };

static const char *const state_names[] = { "starting", "running", "stopping", "rebooting",
					   "stopped" };

struct mon {
	struct ctm_config *c;
	enum ctm_init init;
	enum mstate state;
	pid_t init_pid;
	int init_pidfd;
	int init_status; /* wait status once it exited */
	bool init_exited;
	bool stop_wanted; /* a stop was asked: do not restart, whatever init says */
	bool restart_wanted; /* a reboot was asked: restart even if it had to be killed */
	bool hard; /* the stop ended (or will end) with SIGKILL */
	unsigned int boots;
	time_t started;
	int sfd, timer_fd, pty;
	int pty_peer; /* our own open of the terminal, so the master never hangs up */
	struct monitor_server ctl; /* the control socket, serving ctl.c's commands */
	struct ctm_ctl ctl_ctx;
	struct monitor_console con; /* the console socket */
	struct ctm_procfs *procfs; /* the container's meminfo and swaps; NULL: lxcfs's */
	char *ctl_path, *con_path;
	/* the container's sysinfo() (docs/ct-sysinfo.md), answered here */
	int si_listen; /* sysinfo.sock, where vps-ct create and exec send theirs; -1: none */
	char *si_path;
	struct si_sock {
		int fd;
		bool listener; /* false: the pair vps-ct sent, over which the listener comes */
	} * si;
	size_t nr_si;
	struct ct_cgroup *si_cg; /* the container's, while it runs */
	uint64_t si_start; /* its init's start time: uptime is the container's */
	uint64_t si_window; /* ms (monotonic) the current window began */
	unsigned int si_answers; /* in it */
};

/*
 * Answers are the monitor's CPU, outside the container's cgroup: at most
 * SI_WINDOW_ANSWERS per SI_WINDOW_MS (1,000 a second), then the listeners
 * wait for the next window and the callers with them. A sysinfo() loop
 * inside costs the host a few percent of a CPU, not one (docs/ct-density.md).
 */
#define SI_WINDOW_MS 100
#define SI_WINDOW_ANSWERS 100

static int stop_signal(enum ctm_init init)
{
	return init == CTM_INIT_SYSTEMD ? SIGRTMIN + 3 : SIGUSR2;
}

static int reboot_signal(enum ctm_init init)
{
	return init == CTM_INIT_SYSTEMD ? SIGINT : SIGTERM;
}

static const char *init_name(enum ctm_init init)
{
	return init == CTM_INIT_SYSTEMD ? "systemd" : "busybox";
}

/* --- sockets ------------------------------------------------------------- */

int ctm_listen_at(const char *path, struct err **err)
{
	/* a stale one is ours to replace: the run lock is held, so no live monitor owns it */
	int fd = unix_listen(path, 0600, SOCK_NONBLOCK, 8);

	return fd < 0 ? err_make(err, -fd, "listen on `%s`", path) : fd;
}

/* --- the console ---------------------------------------------------------- */

static void con_output(struct mon *m)
{
	uint8_t buf[4096];
	ssize_t n = read(m->pty, buf, sizeof(buf));

	if (n <= 0) {
		/* EIO: no process has the terminal open right now; wait for one */
		if (n < 0 && errno != EAGAIN && errno != EINTR && errno != EIO) {
			close(m->pty);
			m->pty = -1;
		}
		return;
	}
	monitor_console_output(&m->con, buf, n);
}

static void con_input(struct mon *m, int i)
{
	uint8_t buf[4096];
	ssize_t n = read(m->con.client[i], buf, sizeof(buf));

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			monitor_console_drop(&m->con, i);
		return;
	}
	if (m->pty >= 0)
		write_all(m->pty, buf, n);
}

/* --- sysinfo --------------------------------------------------------------- */

/*
 * vps-ct's end of a pair from its create or exec (sysinfo.c,
 * send_to_server): the child's seccomp listener comes over it.
 */
static void si_accept(struct mon *m)
{
	int cfd = accept4(m->si_listen, NULL, NULL, SOCK_CLOEXEC), fd;
	struct si_sock *n;

	if (cfd < 0)
		return;
	fd = unix_recv_fd(cfd);
	close(cfd);
	if (fd < 0)
		return;
	n = realloc(m->si, (m->nr_si + 1) * sizeof(*n));
	if (!n) {
		close(fd); /* EOF for the child: its create or exec fails */
		return;
	}
	m->si = n;
	m->si[m->nr_si++] = (struct si_sock){ fd, false };
}

/* One entry's poll result; a done entry gets fd -1 (si_compact drops it). */
static void si_event(struct mon *m, struct si_sock *s, short revents)
{
	if (!revents)
		return;
	if (!s->listener) {
		/* the listener, or EOF: the child died before loading its filter */
		int lfd = unix_recv_fd(s->fd);

		close(s->fd);
		*s = (struct si_sock){ lfd < 0 ? -1 : lfd, true };
		return;
	}
	if (revents & POLLIN) {
		int r = ct_sysinfo_answer(s->fd, m->si_cg, m->si_start);

		m->si_answers++;
		if (r == 0 || r == -ENOMEM)
			return;
	} else if (!(revents & (POLLHUP | POLLERR | POLLNVAL))) {
		return;
	}
	/* POLLHUP: no task holds the filter anymore */
	close(s->fd);
	s->fd = -1;
}

static void si_compact(struct mon *m)
{
	size_t i, n = 0;

	for (i = 0; i < m->nr_si; i++)
		if (m->si[i].fd >= 0)
			m->si[n++] = m->si[i];
	m->nr_si = n;
}

/* Whether the window's answers are spent; if so *timeout is the ms to its end. */
static bool si_throttled(struct mon *m, int *timeout)
{
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (now - m->si_window >= SI_WINDOW_MS) {
		m->si_window = now;
		m->si_answers = 0;
	}
	if (m->si_answers < SI_WINDOW_ANSWERS)
		return false;
	*timeout = (int)(SI_WINDOW_MS - (now - m->si_window)) + 1;
	return true;
}

/* The container is gone (or going): every listener with it. */
static void si_close_all(struct mon *m)
{
	for (size_t i = 0; i < m->nr_si; i++)
		close(m->si[i].fd);
	m->nr_si = 0;
	cg_free(m->si_cg);
	m->si_cg = NULL;
}

/* --- the container's life -------------------------------------------------- */

static int write_spec(struct mon *m, struct err **err)
{
	_cleanup_free_ char *bundle = ctm_path(m->c, false, "bundle");
	_cleanup_free_ char *rootfs = ctm_boot_root(m->c); /* the rescue system's in rescue mode */
	_cleanup_free_ char *path = ctm_path(m->c, false, "bundle/config.json");
	_cleanup_free_ char *procfs = ctm_path(m->c, false, "proc");
	json_t *spec;
	int r;

	if (!bundle || !rootfs || !path)
		return err_make(err, ENOMEM, "spec");
	if (mkdir(bundle, 0700) < 0 && errno != EEXIST)
		return err_make(err, errno, "mkdir `%s`", bundle);
	spec = ctm_spec(m->c, m->init, rootfs, m->procfs ? procfs : NULL, err);
	if (!spec)
		return -ENOMEM;
	r = json_dump_file(spec, path, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(spec);
	if (r < 0)
		return err_make(err, EIO, "write `%s`", path);
	return 0;
}

static int read_pid(const char *path, pid_t *pid, struct err **err)
{
	_cleanup_free_ char *s = NULL;
	int r = read_file(path, &s, NULL);

	if (r < 0)
		return err_make(err, -r, "read `%s`", path);
	*pid = atoi(s);
	if (*pid <= 0)
		return err_make(err, EINVAL, "`%s`: no pid", path);
	return 0;
}

static int setup_net(struct mon *m, struct err **err)
{
	struct ctm_net *n = &m->c->net;

	if (!n->bridge)
		return 0;
	sys_net_detach(n->host_ifname, NULL); /* a veth left by a crashed monitor */
	if (sys_net_veth_attach(m->init_pid, n->bridge, n->host_ifname, "eth0",
				n->has_mac ? n->mac : NULL, n->mtu, err) < 0)
		return -EIO;
	if (sys_net_configure_inside(m->init_pid, "eth0", n->ipv4, n->gw4, n->ipv6, n->gw6, err) <
	    0)
		return -EIO;
	return 0;
}

/* The node spec.c binds to /dev/net/tun or /dev/fuse when the container has the feature. */
static int make_node(const struct ctm_config *c, const char *leaf, unsigned int maj,
		     unsigned int min, struct err **err)
{
	_cleanup_free_ char *p = ctm_path(c, false, leaf);

	if (!p)
		return err_make(err, ENOMEM, "%s", leaf);
	unlink(p);
	if (mknod(p, S_IFCHR | 0666, makedev(maj, min)) < 0 || chmod(p, 0666) < 0)
		return err_make(err, errno, "mknod `%s`", p);
	return 0;
}

/*
 * RUN/restarted, "COUNT STATUS\n" as vpsd's keeper writes it for a VM that
 * rebooted (renamed into place: vpsd watches for the rename, records a
 * `rebooted` event and puts the network's limits back on the new veth).
 * Written once the new boot's network is up.
 */
static void say_rebooted(const struct mon *m)
{
	_cleanup_free_ char *path = ctm_path(m->c, true, "restarted");
	_cleanup_free_ char *tmp = ctm_path(m->c, true, "restarted.tmp");
	char text[32];
	int fd;

	if (!path || !tmp)
		return;
	snprintf(text, sizeof(text), "%u %d\n", m->boots - 1, MONITOR_EXIT_REBOOT);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || rename(tmp, path) < 0)
		pr_warn("`%s`: %s", tmp, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static bool stale_record(const struct ctm_config *c)
{
	_cleanup_free_ char *p = NULL;

	if (asprintf(&p, "%s/ct/%s", c->run_dir, c->name) < 0)
		return true;
	return access(p, F_OK) == 0;
}

/* vps-ct create with a console socket, then the network, then vps-ct start. */
static int boot(struct mon *m, struct err **err)
{
	_cleanup_free_ char *recv_path = ctm_path(m->c, true, "console-recv.sock");
	_cleanup_free_ char *pidfile = ctm_path(m->c, true, "init.pid");
	_cleanup_free_ char *bundle = ctm_path(m->c, false, "bundle");
	_cleanup_free_ char *rootfs = ctm_boot_root(m->c);
	_cleanup_close_ int lfd = -1, cfd = -1;
	int r;

	m->state = M_STARTING;
	m->init_exited = false;
	/* the container's own root; in rescue mode the rescue system's too, the own at /mnt */
	if (ctm_mount(m->c, err) < 0 || ctm_rescue_mount(m->c, err) < 0)
		return -EIO;
	if (m->c->init == CTM_INIT_AUTO)
		m->init = ctm_detect_init(rootfs);
	else
		m->init = m->c->init;
	if ((m->c->tun && make_node(m->c, "dev-net-tun", 10, 200, err) < 0) ||
	    (m->c->fuse && make_node(m->c, "dev-fuse", 10, 229, err) < 0))
		return -EIO;
	if (write_spec(m, err) < 0)
		return -EIO;
	/* a container record left by a crashed monitor */
	if (stale_record(m->c))
		ctm_vps_ct_run(m->c, (const char *const[]){ "delete", "--force", m->c->name, NULL },
			       NULL);
	if ((lfd = ctm_listen_at(recv_path, err)) < 0)
		return lfd;
	r = ctm_vps_ct_run(m->c,
			   (const char *const[]){ "create", "--bundle", bundle, "--console-socket",
						  recv_path, "--pid-file", pidfile, m->c->name,
						  NULL },
			   err);
	unlink(recv_path);
	if (r != 0)
		return r < 0 ? r : err_make(err, 0, "vps-ct create failed (status %d)", r);
	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	m->pty = cfd < 0 ? -errno : unix_recv_fd(cfd);
	if (m->pty < 0) {
		err_make(err, -m->pty, "no console from vps-ct create");
		m->pty = -1;
		goto fail;
	}
	fcntl(m->pty, F_SETFL, O_NONBLOCK);
	/*
	 * systemd opens and closes /dev/console for each message; with no
	 * opener the master polls as hung up, so the monitor keeps one.
	 */
	m->pty_peer = ioctl(m->pty, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (read_pid(pidfile, &m->init_pid, err) < 0)
		goto fail;
	m->init_pidfd = syscall(SYS_pidfd_open, m->init_pid, 0);
	if (m->init_pidfd < 0) {
		err_make(err, errno, "pidfd_open %d", (int)m->init_pid);
		goto fail;
	}
	if (m->si_listen >= 0) {
		char cgpath[64];

		/* as vps-ct's own monitor had them (none: the real sysinfo answers) */
		snprintf(cgpath, sizeof(cgpath), "/vps-ct/%s", m->c->name);
		if (cg_open(cgpath, &m->si_cg, NULL) < 0)
			m->si_cg = NULL;
		m->si_start = ct_proc_start_time(m->init_pid);
	}
	if (setup_net(m, err) < 0)
		goto fail;
	r = ctm_vps_ct_run(m->c, (const char *const[]){ "start", m->c->name, NULL }, err);
	if (r != 0) {
		if (r > 0)
			err_make(err, 0, "vps-ct start failed (status %d)", r);
		goto fail;
	}
	m->boots++;
	m->started = time(NULL);
	m->state = M_RUNNING;
	if (m->boots > 1)
		say_rebooted(m);
	return 0;
fail:
	ctm_vps_ct_run(m->c, (const char *const[]){ "delete", "--force", m->c->name, NULL }, NULL);
	return -EIO;
}

/* After the init is gone: remove the container (its cgroup, state, netns). */
static void teardown(struct mon *m)
{
	struct err *e = NULL;

	if (ctm_vps_ct_run(m->c, (const char *const[]){ "delete", "--force", m->c->name, NULL },
			   &e) != 0) {
		pr_err("delete `%s`: %s", m->c->name, err_msg(e));
		err_free(&e);
	}
	si_close_all(m);
	if (m->init_pidfd >= 0)
		close(m->init_pidfd);
	m->init_pidfd = -1;
	if (m->pty >= 0) {
		con_output(m); /* the last words */
		close(m->pty);
	}
	if (m->pty_peer >= 0)
		close(m->pty_peer);
	m->pty = m->pty_peer = -1;
	m->init_pid = 0;
}

static void reap(struct mon *m)
{
	int st;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0)
		if (p == m->init_pid) {
			m->init_status = st;
			m->init_exited = true;
		}
}

static void arm_timer(struct mon *m, unsigned int seconds)
{
	struct itimerspec its = { .it_value = { .tv_sec = seconds } };

	timerfd_settime(m->timer_fd, 0, &its, NULL);
}

static int signal_init(struct mon *m, int sig)
{
	if (m->init_pidfd < 0 || m->state == M_STOPPED)
		return -ESRCH;
	if (syscall(SYS_pidfd_send_signal, m->init_pidfd, sig, NULL, 0) < 0)
		return -errno;
	return 0;
}

/* Graceful: the init's own poweroff signal, then SIGKILL after the timeout. */
static int request_stop(struct mon *m, unsigned int timeout)
{
	int r;

	m->stop_wanted = true;
	if (m->state != M_RUNNING && m->state != M_REBOOTING)
		return m->state == M_STOPPING ? 0 : -ESRCH;
	r = signal_init(m, stop_signal(m->init));
	m->state = M_STOPPING;
	arm_timer(m, timeout ? timeout : m->c->stop_timeout);
	return r;
}

static void kill_hard(struct mon *m)
{
	m->stop_wanted = true;
	m->hard = true;
	m->state = M_STOPPING;
	signal_init(m, SIGKILL);
}

/* --- control socket ------------------------------------------------------- */

static json_t *do_state(struct mon *m)
{
	return json_pack("{s:b, s:s, s:s, s:i, s:i, s:I, s:s, s:s}", "ok", 1, "state",
			 state_names[m->state], "init", init_name(m->init), "pid", (int)m->init_pid,
			 "boots", m->boots, "started", (json_int_t)m->started, "console",
			 m->con_path, "name", m->c->name);
}

static json_t *do_stats(struct mon *m)
{
	_cleanup_free_ char *img = ctm_path(m->c, false, "disk.img");
	struct ct_cgroup *cg = NULL;
	struct cg_memory_stat ms;
	uint64_t apparent = 0, allocated = 0;
	char cgpath[64], p[256];
	json_t *r = json_pack("{s:b, s:s}", "ok", 1, "state", state_names[m->state]);
	_cleanup_free_ char *s = NULL;

	snprintf(cgpath, sizeof(cgpath), "/vps-ct/%s", m->c->name);
	if (m->state != M_STOPPED && cg_open(cgpath, &cg, NULL) == 0) {
		if (cg_memory_stat(cg, &ms, NULL) == 0) {
			json_object_set_new(r, "memory_bytes", json_integer(ms.usage));
			json_object_set_new(r, "memory_limit", json_integer(ms.limit));
			json_object_set_new(r, "swap_bytes", json_integer(ms.swap_usage));
		}
		pid_t *pids = NULL;
		size_t n = 0;

		if (cg_pids_own(cg, &pids, &n, NULL) == 0)
			json_object_set_new(r, "processes", json_integer(n));
		free(pids);
		cg_free(cg);
	}
	if (sys_disk_usage(img, &apparent, &allocated, NULL) == 0) {
		json_object_set_new(r, "disk_size", json_integer(apparent));
		json_object_set_new(r, "disk_allocated", json_integer(allocated));
	}
	if (m->c->net.bridge) {
		static const char *const k[] = { "rx_bytes", "tx_bytes", "rx_packets",
						 "tx_packets" };

		for (int i = 0; i < 4; i++) {
			snprintf(p, sizeof(p), "/sys/class/net/%s/statistics/%s",
				 m->c->net.host_ifname, k[i]);
			free(s);
			s = NULL;
			/* the host end's rx is what the container sent */
			if (read_file(p, &s, NULL) == 0)
				json_object_set_new(r, i % 2 ? k[i - 1] : k[i + 1],
						    json_integer(strtoll(s, NULL, 10)));
		}
	}
	return r;
}

/* Live limits: memory, swap, cpus, cpu_weight, pids, io weight and disk limits. */
static json_t *do_set(struct mon *m, const struct ctm_config *new)
{
	struct ctm_config nc = *new;
	_cleanup_free_ char *res_path = ctm_path(m->c, true, "resources.json");
	struct err *e = NULL;
	json_t *res, *r;
	int rc;

	if (m->state != M_RUNNING) {
		*m->c = nc; /* applies at the next start */
		return json_pack("{s:b, s:b}", "ok", 1, "live", 0);
	}
	res = ctm_spec_update(&nc, m->c);
	rc = res ? json_dump_file(res, res_path, JSON_COMPACT) : -1;
	json_decref(res);
	if (rc < 0)
		return monitor_error("write `%s`", res_path);
	rc = ctm_vps_ct_run(
		m->c, (const char *const[]){ "update", "--resources", res_path, m->c->name, NULL },
		&e);
	unlink(res_path);
	if (rc != 0) {
		r = rc < 0 ? monitor_error("%s", err_msg(e)) :
			     monitor_error("vps-ct update failed (status %d)", rc);
		err_free(&e);
		return r;
	}
	*m->c = nc;
	return json_pack("{s:b, s:b}", "ok", 1, "live", 1);
}

/* Grow the disk while it is mounted: loop capacity, then resize2fs online. */
static json_t *do_grow(struct mon *m, uint64_t size)
{
	_cleanup_free_ char *img = ctm_path(m->c, false, "disk.img");
	_cleanup_free_ char *loop = NULL;
	struct err *e = NULL;
	json_t *r;

	if (m->state != M_RUNNING)
		return monitor_error("grow: the container is %s", state_names[m->state]);
	if (sys_disk_find_loop(img, &loop, &e) < 0 || !loop ||
	    sys_disk_grow(img, loop, size, &e) < 0) {
		r = monitor_error("grow `%s`: %s", m->c->name, e ? err_msg(e) : "no loop device");
		err_free(&e);
		return r;
	}
	m->c->disk_size = size;
	return json_pack("{s:b, s:I}", "ok", 1, "disk", (json_int_t)size);
}

/*
 * Copy the disk to `to` (a new file) with the container's filesystem
 * consistent: its processes frozen (the cgroup freezer, as `vps-ct pause`) and
 * then its filesystem (FIFREEZE: the journal committed, writes held), so
 * the copy is what a clean unmount would leave. Thawed whatever the copy
 * did, the processes first: the filesystem's FITHAW (a superblock write)
 * then holds up writers only; a reflink copy (FICLONE) keeps the pause to
 * milliseconds.
 * What the pause would otherwise wait for is done before it and after it:
 * the filesystem and the image under it flushed first (presync: FIFREEZE
 * and FICLONE then find little dirty), every file opened and the copy
 * created first (the pause holds FIFREEZE, the copy and the thaws only),
 * one FIFREEZE and FITHAW just before (prefreeze: the pause's FIFREEZE then
 * waits for no RCU grace period), the copy made durable after the thaw
 * (its content is fixed once the copy returns). The monitor runs at the
 * highest CFS priority from the prefreeze to the thaw, so that on a busy
 * host each of its wake-ups does not queue behind every runnable task, and
 * the pause follows the prefreeze closely. The reply and the log carry each
 * step's time (docs/storage.md, "Where a snapshot's pause goes").
 */
static void presync(int mnt_fd, int img_fd)
{
	/* best effort: the freeze below is what the copy's consistency rests on */
	if (mnt_fd >= 0)
		(void)syncfs(mnt_fd);
	if (img_fd >= 0)
		(void)fdatasync(img_fd);
}

/*
 * FIFREEZE and FITHAW once, just before the pause. Most of a FIFREEZE on an
 * idle filesystem is not I/O but three RCU grace periods (freeze_super takes
 * the superblock's three percpu rw-semaphores for writing, and each
 * rcu_sync_enter() waits for one: tens of ms on a busy host). A thaw leaves
 * them in a state where taking them again within about a grace period
 * waits for none (kernel/rcu/sync.c), and the flush and the superblock write
 * are done by then too: FIFREEZE inside the pause then takes a few ms. The
 * container runs meanwhile; only its writers wait, for this freeze's time.
 * 0, or -errno when the filesystem stays frozen (FITHAW failed).
 */
static int prefreeze(int mnt_fd)
{
	if (ioctl(mnt_fd, FIFREEZE, 0) < 0)
		return 0; /* frozen by someone else, or no freeze here: the pause's own says */
	return ioctl(mnt_fd, FITHAW, 0) < 0 ? -errno : 0;
}

/* ms since *a, to 10 µs */
static json_t *ms_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return json_real(
		(double)((b.tv_sec - a->tv_sec) * 100000 + (b.tv_nsec - a->tv_nsec) / 10000) /
		100.0);
}

/* The time since *t in ms into `steps` under `name`, and *t moved to now. */
static void lap(json_t *steps, const char *name, struct timespec *t)
{
	json_object_set_new(steps, name, ms_since(t));
	clock_gettime(CLOCK_MONOTONIC, t);
}

static json_t *do_disk_copy(struct mon *m, const char *to)
{
	_cleanup_free_ char *img = ctm_path(m->c, false, "disk.img");
	_cleanup_free_ char *mnt =
		ctm_path(m->c, false, m->c->storage == CTM_STORAGE_LAYERED ? "disk" : "rootfs");
	_cleanup_close_ int fd = -1, in = -1, out = -1;
	bool paused = false, frozen = false, made = false, raised = false;
	struct ct_cgroup *cg = NULL;
	struct err *e = NULL;
	struct timespec t, t_pause = { 0 };
	json_t *r = NULL, *steps = json_object();
	char cgpath[64];
	int nice0 = 0, rc;

	if (!img || !mnt || !steps)
		return json_decref(steps), monitor_error("disk-copy: out of memory");
	if (m->state != M_RUNNING && m->state != M_STOPPED)
		return json_decref(steps),
		       monitor_error("disk-copy: the container is %s", state_names[m->state]);
	clock_gettime(CLOCK_MONOTONIC, &t);
	in = open(img, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		r = monitor_error("disk-copy: open `%s`: %s", img, strerror(errno));
		goto out;
	}
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		r = monitor_error("disk-copy: create `%s`: %s", to, strerror(errno));
		goto out;
	}
	made = true;
	if (m->state == M_RUNNING) {
		fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			r = monitor_error("disk-copy: open `%s`: %s", mnt, strerror(errno));
			goto out;
		}
		presync(fd, in);
		/* the freezer written here, not through a `vps-ct pause` process: two fewer
		 * execs inside the pause (this loop issues no vps-ct command meanwhile) */
		snprintf(cgpath, sizeof(cgpath), "/vps-ct/%s", m->c->name);
		if (cg_open(cgpath, &cg, &e) < 0) {
			r = monitor_error("disk-copy: freeze `%s`: %s", m->c->name, err_msg(e));
			goto out;
		}
		lap(steps, "before", &t);
		/* this thread only (Linux's nice is per thread); best effort */
		errno = 0;
		nice0 = getpriority(PRIO_PROCESS, 0);
		raised = !errno && setpriority(PRIO_PROCESS, 0, -20) == 0;
		if ((rc = prefreeze(fd)) < 0) {
			r = monitor_error("disk-copy: FITHAW `%s`: %s", mnt, strerror(-rc));
			goto out;
		}
		lap(steps, "prefreeze", &t);
		t_pause = t;
		if (cg_freeze(cg, true, &e) < 0) {
			r = monitor_error("disk-copy: freeze `%s`: %s", m->c->name, err_msg(e));
			goto out;
		}
		paused = true;
		lap(steps, "freezer", &t);
		if (ioctl(fd, FIFREEZE, 0) < 0) {
			r = monitor_error("disk-copy: FIFREEZE `%s`: %s", mnt, strerror(errno));
			goto out;
		}
		frozen = true;
		lap(steps, "fifreeze", &t);
	}
	if (sys_image_copy_fd(in, out, img, to, &e) < 0)
		r = monitor_error("disk-copy: %s", err_msg(e));
	made = false; /* removed by sys_image_copy_fd() on failure, else kept */
	lap(steps, "copy", &t);
out:
	if (paused) {
		struct err *e2 = NULL;

		if (cg_freeze(cg, false, &e2) < 0)
			pr_err("disk-copy: thaw `%s`: %s", m->c->name, err_msg(e2));
		err_free(&e2);
		lap(steps, "thaw", &t);
		json_object_set_new(steps, "paused", ms_since(&t_pause));
	}
	/* after the freezer's thaw: the container runs, its writers wait for this only
	 * (ext4 writes its superblock in it) */
	if (frozen && ioctl(fd, FITHAW, 0) < 0)
		pr_err("disk-copy: FITHAW `%s`: %s", mnt, strerror(errno));
	if (frozen)
		lap(steps, "fithaw", &t);
	if (raised)
		(void)setpriority(PRIO_PROCESS, 0, nice0);
	if (cg)
		cg_free(cg);
	if (made)
		unlink(to);
	/* durable after the thaw: nothing writes the copy meanwhile */
	if (!r && fsync(out) < 0)
		r = monitor_error("disk-copy: sync `%s`: %s", to, strerror(errno));
	if (!r)
		lap(steps, "fsync", &t);
	err_free(&e);
	if (r) {
		json_decref(steps);
		return r;
	}
	{
		char *s = json_dumps(steps, JSON_COMPACT | JSON_REAL_PRECISION(6));

		pr_info("disk-copy `%s` (ms): %s", m->c->name, s ? s : "?");
		free(s);
	}
	r = monitor_ok();
	json_object_set_new(r, "ms", steps);
	return r;
}

static json_t *ctl_state(void *m)
{
	return do_state(m);
}

static json_t *ctl_stats(void *m)
{
	return do_stats(m);
}

static json_t *ctl_shutdown(void *opaque, unsigned int timeout)
{
	int rc = request_stop(opaque, timeout);

	return rc < 0 ? monitor_error("shutdown: %s", strerror(-rc)) : monitor_ok();
}

static json_t *ctl_reboot(void *opaque)
{
	struct mon *m = opaque;
	int rc;

	if (m->state != M_RUNNING)
		return monitor_error("reboot: the container is %s", state_names[m->state]);
	if ((rc = signal_init(m, reboot_signal(m->init))) < 0)
		return monitor_error("reboot: %s", strerror(-rc));
	m->state = M_REBOOTING;
	m->restart_wanted = true;
	arm_timer(m, m->c->stop_timeout);
	return monitor_ok();
}

static json_t *ctl_stop(void *m)
{
	kill_hard(m);
	return monitor_ok();
}

static json_t *ctl_set(void *m, const struct ctm_config *nc)
{
	return do_set(m, nc);
}

static json_t *ctl_grow(void *m, uint64_t size)
{
	return do_grow(m, size);
}

static json_t *ctl_disk_copy(void *m, const char *to)
{
	return do_disk_copy(m, to);
}

static const struct ctm_ctl_ops ctl_ops = {
	.state = ctl_state,
	.stats = ctl_stats,
	.shutdown = ctl_shutdown,
	.reboot = ctl_reboot,
	.stop = ctl_stop,
	.set = ctl_set,
	.grow = ctl_grow,
	.disk_copy = ctl_disk_copy,
};

/* --- the loop ------------------------------------------------------------- */

/* How the init ended: 1 restart, 0 stop with `*status`. */
static int judge(struct mon *m, int *status)
{
	int st = m->init_status;

	if (m->hard) {
		*status = MONITOR_EXIT_KILLED;
		return 0;
	}
	if (!m->stop_wanted && (m->restart_wanted || (WIFSIGNALED(st) && WTERMSIG(st) == SIGHUP))) {
		m->restart_wanted = false;
		return 1;
	}
	if ((WIFSIGNALED(st) && (WTERMSIG(st) == SIGINT || WTERMSIG(st) == SIGHUP)) ||
	    (WIFEXITED(st) && WEXITSTATUS(st) == 0) || m->stop_wanted) {
		*status = MONITOR_EXIT_POWEROFF;
		return 0;
	}
	pr_err("`%s`: init %s %d", m->c->name,
	       WIFSIGNALED(st) ? "killed by signal" : "exited with status",
	       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	*status = MONITOR_EXIT_CRASH;
	return 0;
}

static void on_signal(struct mon *m)
{
	struct signalfd_siginfo si;

	while (read(m->sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap(m);
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			request_stop(m, 0);
	}
}

static void on_timer(struct mon *m)
{
	uint64_t x;

	if (read(m->timer_fd, &x, sizeof(x)) != sizeof(x))
		return;
	if (m->state == M_STOPPING || m->state == M_REBOOTING) {
		pr_err("`%s`: init still running after %u s: killing it", m->c->name,
		       m->c->stop_timeout);
		if (m->state == M_STOPPING)
			m->hard = true; /* else a reboot: restart_wanted makes it a restart */
		signal_init(m, SIGKILL);
	}
}

/* Serve until the init exits; the caller judges. */
static void serve(struct mon *m)
{
	enum { CON = 5 + MONITOR_SERVER_FDS }; /* the console clients' first entry */
	enum { SI = CON + MONITOR_MAX_CLIENTS }; /* sysinfo.sock, then m->si */
	_cleanup_free_ struct pollfd *p = NULL;
	size_t cap = 0, nr_si, j;
	int n, i, timeout;
	bool wait;

	while (!m->init_exited) {
		if (cap < SI + 1 + m->nr_si) {
			struct pollfd *q = realloc(p, (SI + 1 + m->nr_si) * sizeof(*p));

			if (!q) {
				/* answers lost (the calls fail ENOSYS), the container kept */
				si_close_all(m);
				if (!p) {
					pr_err("poll: out of memory");
					kill_hard(m);
					return;
				}
				continue;
			}
			p = q;
			cap = SI + 1 + m->nr_si;
		}
		n = 0;
		p[n++] = (struct pollfd){ m->sfd, POLLIN, 0 };
		p[n++] = (struct pollfd){ m->init_pidfd, POLLIN, 0 };
		p[n++] = (struct pollfd){ m->timer_fd, POLLIN, 0 };
		p[n++] = (struct pollfd){ m->con.listen_fd, POLLIN, 0 };
		p[n++] = (struct pollfd){ m->pty, POLLIN, 0 };
		monitor_server_fds(&m->ctl, p + n);
		n += MONITOR_SERVER_FDS;
		for (i = 0; i < MONITOR_MAX_CLIENTS; i++)
			p[n++] = (struct pollfd){ m->con.client[i], POLLIN, 0 };
		p[n++] = (struct pollfd){ m->si_listen, POLLIN, 0 };
		nr_si = m->nr_si;
		timeout = -1;
		wait = nr_si && si_throttled(m, &timeout);
		/* a negative fd is skipped by poll: a throttled listener's callers wait */
		for (j = 0; j < nr_si; j++)
			p[n++] = (struct pollfd){ wait && m->si[j].listener ? -1 : m->si[j].fd,
						  POLLIN, 0 };
		if (poll(p, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("poll: %s", strerror(errno));
			kill_hard(m);
			continue;
		}
		if (p[0].revents)
			on_signal(m);
		if (p[1].revents)
			reap(m);
		if (p[2].revents)
			on_timer(m);
		if (p[3].revents)
			monitor_console_accept(&m->con);
		if (p[4].revents & POLLIN)
			con_output(m);
		monitor_server_events(&m->ctl, p + 5);
		for (i = 0; i < MONITOR_MAX_CLIENTS; i++)
			if (p[CON + i].revents && m->con.client[i] >= 0)
				con_input(m, i);
		for (j = 0; j < nr_si; j++)
			si_event(m, &m->si[j], p[SI + 1 + j].revents);
		si_compact(m);
		if (p[SI].revents)
			si_accept(m);
		/* the pidfd says "exited" before SIGCHLD's wait status may be read */
		if (p[1].revents && !m->init_exited) {
			int st;

			if (waitpid(m->init_pid, &st, WNOHANG) == m->init_pid) {
				m->init_status = st;
				m->init_exited = true;
			}
		}
	}
}

static int take_run_lock(struct ctm_config *c, struct err **err)
{
	_cleanup_free_ char *path = ctm_path(c, true, "lock");
	int fd;

	if (!path)
		return err_make(err, ENOMEM, "lock");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_make(err, errno, "open `%s`", path);
	if (lockf(fd, F_TLOCK, 0) < 0) {
		close(fd);
		return err_make(err, EBUSY, "`%s` is running (lock `%s` is held)", c->name, path);
	}
	return fd; /* held until exit */
}

int ctm_run(struct ctm_config *c)
{
	/*
	 * A mapping of its own, not the stack: the control server's line
	 * buffers (32 KiB) cost pages only once used, where a stack variable's
	 * initializer writes them all (docs/ct-density.md, step 5).
	 */
	struct mon *m =
		mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct err *e = NULL;
	sigset_t mask;
	int status = MONITOR_EXIT_FAILURE, lock, r;

	if (m == MAP_FAILED) {
		pr_err("monitor: %s", strerror(errno));
		return MONITOR_EXIT_FAILURE;
	}
	m->c = c;
	m->init_pidfd = m->pty = m->pty_peer = m->sfd = m->si_listen = -1;
	m->state = M_STOPPED;

	m->ctl_ctx = (struct ctm_ctl){ .ops = &ctl_ops, .m = m, .c = c };
	monitor_server_init(&m->ctl, ctm_ctl_cmds, CTM_CTL_COMMANDS, &m->ctl_ctx);
	m->con.listen_fd = -1;
	if ((r = mkdir_p(c->run_dir, 0700, 0755)) < 0) {
		pr_err("mkdir `%s`: %s", c->run_dir, strerror(-r));
		munmap(m, sizeof(*m));
		return MONITOR_EXIT_FAILURE;
	}
	if ((lock = take_run_lock(c, &e)) < 0)
		goto out;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		err_make(&e, errno, "PR_SET_CHILD_SUBREAPER");
		goto out;
	}
	if (ct_privs_keep(CTM_CAPS, false, &e) < 0)
		goto out;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	m->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	m->ctl_path = ctm_path(c, true, "control.sock");
	m->con_path = ctm_path(c, true, "console.sock");
	if (m->sfd < 0 || m->timer_fd < 0 || !m->ctl_path || !m->con_path) {
		err_make(&e, errno ? errno : ENOMEM, "monitor setup");
		goto out;
	}
	/* stale ones are ours to replace: the run lock is held, so no live monitor owns them */
	if (monitor_server_listen(&m->ctl, m->ctl_path, &e) < 0 ||
	    monitor_console_listen(&m->con, m->con_path, MONITOR_MAX_CLIENTS, false, &e) < 0)
		goto out;
	if (c->sysinfo) {
		m->si_path = ctm_path(c, true, "sysinfo.sock");
		if (!m->si_path) {
			err_make(&e, ENOMEM, "sysinfo.sock");
			goto out;
		}
		/* before the first create: vps-ct connects while the monitor waits for it */
		if ((m->si_listen = ctm_listen_at(m->si_path, &e)) < 0)
			goto out;
	}
	/*
	 * One malloc arena: the procfs thread's few allocations need no arena
	 * of their own (64 MiB reserved, its first pages charged for as long
	 * as the container runs).
	 */
	mallopt(M_ARENA_MAX, 1);
	/* after the capabilities are dropped: the thread gets the same, and the signal mask */
	if (ctm_procfs_start(c, &m->procfs, &e) < 0) {
		/* no FUSE here (no /dev/fuse): lxcfs's files, with the host's swap */
		pr_warn("`%s`: %s: /proc/meminfo from lxcfs", c->name, err_msg(e));
		err_free(&e);
	}
	for (;;) {
		if (boot(m, &e) < 0) {
			err_wrap(&e, "start `%s`", c->name);
			status = MONITOR_EXIT_FAILURE;
			break;
		}
		/* what the start left behind (docs/ct-density.md) */
		release_idle_memory();
		serve(m);
		arm_timer(m, 0);
		teardown(m);
		m->state = M_STOPPED;
		if (!judge(m, &status))
			break;
		m->state = M_REBOOTING;
	}
	m->state = M_STOPPED;
	ctm_procfs_stop(m->procfs);
	m->procfs = NULL;
	if (ctm_rescue_umount(c, &e) < 0) {
		pr_err("%s", err_msg(e));
		err_free(&e);
	}
	if (ctm_umount(c, &e) < 0) {
		pr_err("%s", err_msg(e));
		err_free(&e);
	}
out:
	if (e) {
		pr_err("%s", err_msg(e));
		err_free(&e);
	}
	ctm_procfs_stop(m->procfs);
	monitor_server_close(&m->ctl, m->ctl_path);
	if (m->con.listen_fd >= 0)
		monitor_console_close(&m->con, m->con_path);
	si_close_all(m);
	free(m->si);
	if (m->si_listen >= 0) {
		close(m->si_listen);
		unlink(m->si_path);
	}
	free(m->si_path);
	free(m->ctl_path);
	free(m->con_path);
	munmap(m, sizeof(*m));
	(void)lock;
	return status;
}
