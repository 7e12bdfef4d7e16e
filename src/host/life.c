// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The lifecycle (life.h). Every change of state goes to the store with an
 * event before and after the work, so a vpsd killed at any point finds, at
 * its next start, a row in a transient state and finishes or undoes it
 * (life_init). Operations on one VPS are serialised by a busy set; the
 * watcher thread sees keepers exit through their pidfds.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/testpoint.h"
#include "common/util.h"
#include "host/auth.h"
#include "host/caps.h"
#include "host/firewall.h"
#include "host/keeper.h"
#include "host/kind.h"
#include "host/life.h"
#include "host/pool.h"
#include "host/net.h"
#include "host/policy.h"
#include "host/tmpl.h"
#include "host/traffic.h"
#include "host/vmdisk.h"
#include "monitor/protocol.h"

#define MAX_WATCH 1024
#define MAX_BUSY 256

static struct {
	pthread_mutex_t lock;
	char busy[MAX_BUSY][VPS_NAME_MAX + 1];
	struct {
		char name[VPS_NAME_MAX + 1];
		int pidfd;
		int wd; /* inotify watch on its run dir: RUN/restarted appearing */
	} watch[MAX_WATCH];
	int wake; /* eventfd: the watch list changed, or stop */
	int ino; /* inotify: keepers that restarted their monitor (a guest reboot) */
	bool stopping;
	pthread_t thread;
	bool thread_started;
} L = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = -1, .ino = -1 };

/* --- the busy set ------------------------------------------------------- */

static int claim(const char *name, struct err **err)
{
	int free_slot = -1;

	pthread_mutex_lock(&L.lock);
	for (int i = 0; i < MAX_BUSY; i++) {
		if (!strcmp(L.busy[i], name)) {
			pthread_mutex_unlock(&L.lock);
			return err_make(err, EBUSY, "`%s` is busy with another operation", name);
		}
		if (!L.busy[i][0] && free_slot < 0)
			free_slot = i;
	}
	if (free_slot >= 0)
		snprintf(L.busy[free_slot], sizeof(L.busy[0]), "%s", name);
	pthread_mutex_unlock(&L.lock);
	return free_slot < 0 ? err_make(err, EBUSY, "too many operations at once") : 0;
}

static void release(const char *name)
{
	pthread_mutex_lock(&L.lock);
	for (int i = 0; i < MAX_BUSY; i++)
		if (!strcmp(L.busy[i], name))
			L.busy[i][0] = 0;
	pthread_mutex_unlock(&L.lock);
}

/* --- helpers ---------------------------------------------------------------- */

static const struct kind_ops *ops_of(const struct vps *v, struct err **err)
{
	const struct kind_ops *o = kind_find(v->kind, v->engine);

	if (!o)
		err_make(err, EINVAL, "no kind `%s` with engine `%s` on this host",
			 vps_kind_name(v->kind), vps_engine_name(v->engine));
	return o;
}

/*
 * rm -r that never crosses into another filesystem: a VPS directory may
 * still hold a mount (a container's disk) when something failed, and the
 * files inside it are not ours to delete here. Returns -EBUSY then.
 */
static int rm_rf_dev(const char *path, dev_t dev)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[4200];
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (lstat(sub, &st) < 0)
			continue;
		/*
		 * Only a directory is compared: overlayfs gives files their
		 * lower layer's st_dev. A file bind-mounted here fails unlink
		 * with EBUSY on its own.
		 */
		if (S_ISDIR(st.st_mode) && st.st_dev != dev)
			r = -EBUSY; /* a mount point: left alone */
		else if (S_ISDIR(st.st_mode))
			r = rm_rf_dev(sub, dev) < 0 ? -EBUSY : r;
		else if (unlink(sub) < 0 && errno != ENOENT)
			r = -errno;
	}
	closedir(d);
	if (r == 0 && rmdir(path) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

static int rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	return rm_rf_dev(path, st.st_dev);
}

int life_rm_rf(const char *path)
{
	return rm_rf(path);
}

/* A VPS's directory in a pool other than the default (POOL/NAME), or NULL: none or the same. */
static char *pool_dir(struct host *h, const char *name)
{
	char *dir = host_vps_dir(h, name, NULL), *disks = host_vps_disks(h, name, NULL);

	if (dir && disks && !strcmp(dir, disks)) {
		free(disks);
		disks = NULL;
	}
	free(dir);
	return disks;
}

/* --- the watcher ----------------------------------------------------------- */

static void keeper_gone(struct host *h, const char *name);

/*
 * Watch keeper `pid` of `name` from now on. A keeper already gone (killed
 * between its start and here) is handled as the watcher would have: never
 * a VPS recorded running with no keeper seen to end.
 */
static void watch_add(struct host *h, const char *name, pid_t pid)
{
	_cleanup_free_ char *run = host_vps_run(h, name, NULL);
	int fd = syscall(SYS_pidfd_open, pid, 0);
	uint64_t one = 1;

	if ((fd < 0 && errno != ESRCH) || !run) {
		pr_err("`%s`: watch its keeper (pid %d): %s", name, (int)pid,
		       fd < 0 ? strerror(errno) : "out of memory");
		if (fd >= 0)
			close(fd);
		return;
	}
	/* opened, the pidfd holds the process: still our keeper is then for good */
	if (fd < 0 || keeper_pid(run, name) != pid) {
		if (fd >= 0)
			close(fd);
		keeper_gone(h, name);
		return;
	}
	pthread_mutex_lock(&L.lock);
	for (int i = 0; i < MAX_WATCH; i++)
		if (!L.watch[i].name[0]) {
			snprintf(L.watch[i].name, sizeof(L.watch[i].name), "%s", name);
			L.watch[i].pidfd = fd;
			/* the keeper renames RUN/restarted into place after a reboot */
			L.watch[i].wd = run ? inotify_add_watch(L.ino, run, IN_MOVED_TO) : -1;
			fd = -1;
			break;
		}
	pthread_mutex_unlock(&L.lock);
	if (fd >= 0)
		close(fd);
	(void)!write(L.wake, &one, sizeof(one));
}

/*
 * A VPS's network off (stop, destroy, a failed start): what it moved since
 * the usage thread's last pass counted before its counters go (traffic.h),
 * its customer's firewall (firewall.h), then its device and rules (net.h).
 */
static void vps_net_down(struct host *h, const struct vps *v)
{
	traffic_collect(h, v, false);
	fw_remove(h, v);
	net_vps_down(h, v);
}

/* Its anti-spoofing rules, then its customer's firewall: before the monitor starts. */
static int vps_net_filter(struct host *h, const struct vps *v, struct err **err)
{
	int r = net_vps_filter(h, v, err);

	return r < 0 ? r : fw_apply(h, v, err);
}

/*
 * No keeper of `v` runs any more (or it is about to be started): end what a
 * keeper that was killed left, its monitor first. A jailed monitor is pid 1
 * of its own PID namespace and drops to the VM's uid, which clears a
 * parent-death signal (prctl(2)), so nothing ends it with its keeper: its
 * cgroup, which holds it whatever its uid or namespace, is the handle.
 */
static void monitor_leftovers(struct host *h, const struct vps *v)
{
	const struct kind_ops *o = kind_find(v->kind, v->engine);

	if (o && o->keeper_gone)
		o->keeper_gone(h, v->name);
}

/*
 * The directory of a live move's arrival (LIFE_ARRIVING in it) whose
 * monitor is gone before the move finished (the source's stream broke, or
 * it never came): the VPS runs on at its source, nothing of it stays here.
 */
static void arrival_gone(struct host *h, const char *name)
{
	_cleanup_free_ char *mark = host_vps_dir(h, name, LIFE_ARRIVING);
	_cleanup_free_ char *dir = host_vps_dir(h, name, NULL);
	_cleanup_free_ char *run = host_vps_run(h, name, NULL);

	if (mark && dir && run && access(mark, F_OK) == 0) {
		pr_info("VPS `%s`: its live arrival ended before the move: its copy here goes",
			name);
		life_rm_rf(dir);
		life_rm_rf(run);
	}
}

/* The keeper of `name` is gone: the VPS is stopped; say how. */
static void keeper_gone(struct host *h, const char *name)
{
	_cleanup_free_ char *run = host_vps_run(h, name, NULL);
	struct vps v;
	char msg[128];
	int st = keeper_last_exit(run);

	if (store_vps_get(h->store, name, &v, NULL) < 0)
		return;
	/* a keeper removes its monitor's cgroup; one killed could not */
	monitor_leftovers(h, &v);
	/*
	 * A VPS another node holds (it migrated away, or a migration's arrival
	 * here failed): its network here goes, its row is that node's to write.
	 */
	if (h->node && *v.node && strcmp(v.node, h->node)) {
		vps_net_down(h, &v);
		arrival_gone(h, name); /* a live arrival that never ran: nothing of it stays */
		vps_free(&v);
		return;
	}
	/*
	 * Its monitor handed the VM over to another node's (a live move): it
	 * runs there; the move (migrate.c) writes the row, not this.
	 */
	if (st == MONITOR_EXIT_MIGRATED) {
		vps_net_down(h, &v);
		vps_free(&v);
		return;
	}
	v.last_exit = st;
	if (v.state == VPS_RUNNING || v.state == VPS_STARTING || v.state == VPS_STOPPING) {
		vps_net_down(h, &v); /* before `stopped`: a start right after adds them anew */
		v.state = VPS_STOPPED;
		store_vps_update(h->store, &v, NULL);
		snprintf(msg, sizeof(msg), "monitor exit status %d%s", st,
			 st == MONITOR_EXIT_CRASH  ? " (guest crash)" :
			 st == MONITOR_EXIT_KILLED ? " (killed)" :
						     "");
		store_event(h->store, name, st == MONITOR_EXIT_CRASH ? "crashed" : "stopped", msg);
	}
	vps_free(&v);
}

/* The bandwidth limit on a running VPS's host device; a failure is logged, not fatal. */
static void net_bw_or_event(struct host *h, const struct vps *v)
{
	struct err *e = NULL;

	/* its `bw`, or the throttle's once its month's traffic allowance is spent */
	if (net_vps_bw(h, v, traffic_bw(h, v), &e) < 0) {
		pr_err("`%s`: %s", v->name, err_msg(e));
		store_event(h->store, v->name, "net-failed", err_msg(e));
		err_free(&e);
	}
}

/*
 * A VPS rebooted from inside: its keeper started the monitor again after an
 * exit its kind restarts on (vps-vmm's MONITOR_EXIT_REBOOT), or vps-ctm
 * booted its container again in place; either renames RUN/restarted into
 * place once the new boot's network device is up. The VPS stays running;
 * say so, and put the bandwidth limit back: it lived on the device the
 * reboot replaced (a container's veth is made anew at each boot).
 */
static void guest_rebooted(struct host *h)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t len;

	while ((len = read(L.ino, buf, sizeof(buf))) > 0)
		for (char *q = buf; q < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)q;
			char name[VPS_NAME_MAX + 1] = "";

			q += sizeof(*ev) + ev->len;
			if (!ev->len || strcmp(ev->name, "restarted"))
				continue;
			pthread_mutex_lock(&L.lock);
			for (int i = 0; i < MAX_WATCH; i++)
				if (L.watch[i].name[0] && L.watch[i].wd == ev->wd)
					memcpy(name, L.watch[i].name, sizeof(name));
			pthread_mutex_unlock(&L.lock);
			if (*name) {
				_cleanup_free_ char *run = host_vps_run(h, name, NULL);
				char msg[128];
				struct vps v;

				snprintf(msg, sizeof(msg),
					 "guest reboot: booted again (%d since the start)",
					 keeper_restarts(run));
				store_event(h->store, name, "rebooted", msg);
				if (store_vps_get(h->store, name, &v, NULL) == 0) {
					if (v.state == VPS_RUNNING)
						net_bw_or_event(h, &v);
					vps_free(&v);
				}
			}
		}
}

static void *watcher(void *arg)
{
	struct host *h = arg;
	struct pollfd p[MAX_WATCH + 2];
	char names[MAX_WATCH][VPS_NAME_MAX + 1];
	int n;

	while (!L.stopping) {
		n = 0;
		p[n++] = (struct pollfd){ L.wake, POLLIN, 0 };
		p[n++] = (struct pollfd){ L.ino, POLLIN, 0 };
		pthread_mutex_lock(&L.lock);
		for (int i = 0; i < MAX_WATCH; i++)
			if (L.watch[i].name[0]) {
				memcpy(names[n - 2], L.watch[i].name, sizeof(names[0]));
				p[n++] = (struct pollfd){ L.watch[i].pidfd, POLLIN, 0 };
			}
		pthread_mutex_unlock(&L.lock);
		if (poll(p, n, -1) < 0)
			continue;
		if (p[0].revents) {
			uint64_t x;

			(void)!read(L.wake, &x, sizeof(x));
		}
		if (p[1].revents)
			guest_rebooted(h);
		for (int i = 2; i < n; i++) {
			if (!p[i].revents)
				continue;
			pthread_mutex_lock(&L.lock);
			for (int j = 0; j < MAX_WATCH; j++)
				if (L.watch[j].pidfd == p[i].fd) {
					L.watch[j].name[0] = 0;
					close(L.watch[j].pidfd);
					L.watch[j].pidfd = -1;
					if (L.watch[j].wd >= 0)
						inotify_rm_watch(L.ino, L.watch[j].wd);
					L.watch[j].wd = -1;
				}
			pthread_mutex_unlock(&L.lock);
			keeper_gone(h, names[i - 2]);
		}
	}
	return NULL;
}

/* --- start / stop ------------------------------------------------------------ */

static bool wait_state(struct host *h, const char *name, enum vps_state state, int ms)
{
	for (int t = 0; t < ms; t += 50) {
		struct vps v;
		bool done;

		if (store_vps_get(h->store, name, &v, NULL) < 0)
			return true;
		done = v.state == state;
		vps_free(&v);
		if (done)
			return true;
		usleep(50000);
	}
	return false;
}

/* The socket is up before the guest: wait for the monitor to say running. */
static int monitor_up(struct host *h, const struct kind_ops *o, const struct vps *v,
		      const char *run, struct err **err)
{
	for (int t = 0; t < 60000; t += 20) {
		json_t *st = json_object();
		const char *s;
		bool up;

		o->status(h, (struct vps *)v, st);
		s = json_string_value(json_object_get(json_object_get(st, "monitor"), "state"));
		up = s && !strcmp(s, "running");
		json_decref(st);
		if (up)
			return 0;
		if (keeper_pid(run, v->name) < 0)
			return err_make(err, EIO, "`%s` stopped while starting (exit status %d)",
					v->name, keeper_last_exit(run));
		usleep(20000);
	}
	return 0; /* a monitor that never says: take it as up */
}

/* SIGKILL to keeper `kp` (checked by keeper_pid() just before), waited for. */
static void end_keeper(pid_t kp)
{
	int fd = (int)syscall(SYS_pidfd_open, kp, 0);
	struct pollfd p = { fd, POLLIN, 0 };

	if (fd < 0)
		return;
	if (syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == 0)
		poll(&p, 1, 10000);
	close(fd);
}

static int start_locked(struct host *h, struct vps *v, struct err **err)
{
	const struct kind_ops *o = ops_of(v, err);
	_cleanup_free_ char *run = host_vps_run(h, v->name, NULL);
	_cleanup_free_ char *ready = NULL;
	char **argv = NULL, cgroup[300];
	struct keeper_jail jail;
	bool jailed;
	pid_t kp = -1;
	int r;

	if (!o)
		return -EINVAL;
	if (v->state == VPS_REINSTALLING)
		return err_make(err, EBUSY,
				"`%s` is reinstalling: a reinstall was cut short, ask for it again",
				v->name);
	if (v->state != VPS_STOPPED && !v->incoming)
		return err_make(err, EBUSY, "`%s` is %s", v->name, vps_state_name(v->state));
	if (v->suspended)
		return err_make(err, LIFE_ESUSPENDED, "`%s` is suspended by the provider", v->name);
	policy_apply(h, v);
	caps_start_warnings(h, v);
	ready = host_vps_run(h, v->name, o->ready_leaf ? o->ready_leaf : "control.sock");
	if (rm_rf(run) < 0 || mkdir_p(run, 0700, 0711) < 0)
		return err_make(err, errno, "make `%s`", run);
	/* stopped: a monitor still in its cgroup is one a killed keeper left */
	monitor_leftovers(h, v);
	/* a migration's arrival: the row is the source's until the move is done */
	if (!v->incoming && store_vps_state(h->store, v->name, VPS_STARTING, "start", err) < 0)
		return -EIO;
	/* keyed on the host device's name: in force before the device exists */
	if (vps_net_filter(h, v, err) < 0)
		goto fail;
	traffic_reset(
		v); /* from zero: bytes a crashed run left under its device's name are not its */
	argv = o->monitor_argv(h, v, err);
	if (!argv)
		goto fail;
	/* a VM's monitor: its own cgroup and PID namespace (docs/security.md) */
	jailed = o->monitor_jail && o->monitor_jail(h, v, &jail, cgroup, sizeof(cgroup));
	r = keeper_spawn(h->self, v->name, run, o->restart_on, jailed ? &jail : NULL, argv, err);
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
	if (r < 0)
		goto fail;
	testpoint("start-spawned", v->name);
	/* up when its socket appears; gone if the keeper exits first */
	for (int t = 0; t < h->start_timeout * 1000; t += 20) {
		pid_t now = keeper_pid(run, v->name);

		if (kp < 0)
			kp = now;
		if (access(ready, F_OK) == 0)
			break;
		/*
		 * 10 s: a keeper on a loaded host (TCG in L1) takes seconds to
		 * exec; one seen and gone again, its monitor's exit recorded:
		 * the monitor refused to start (a memory snapshot vps-vmm
		 * refuses to restore)
		 */
		if ((t > 10000 && kp < 0) || (kp > 0 && now < 0 && keeper_last_exit(run) >= 0)) {
			_cleanup_free_ char *log = NULL,
					    *logp = host_vps_run(h, v->name, "monitor.log");
			char *last = NULL, *why = NULL;

			if (read_file(logp, &log, NULL) == 0 && (last = strrchr(log, '\n')) &&
			    last > log) {
				*last = 0;
				last = strrchr(log, '\n');
			}
			/* the monitor's reason, not what it said about its devices after it */
			for (char *l = log ? strstr(log, ": error: ") : NULL; l;
			     l = strstr(l + 1, ": error: "))
				why = l;
			while (why && why > log && why[-1] != '\n')
				why--;
			if (why && strchr(why, '\n'))
				*strchr(why, '\n') = 0;
			err_make(err, EIO, "`%s` did not start: %s", v->name,
				 why ? why :
				 log ? (last ? last + 1 : log) :
				       "no monitor log");
			goto fail;
		}
		usleep(20000);
	}
	if (access(ready, F_OK) < 0 || kp < 0) {
		err_make(err, ETIMEDOUT, "`%s` did not start within %d s", v->name,
			 h->start_timeout);
		goto fail;
	}
	/* a live arrival: up once it waits for the source's stream (the move relays it) */
	for (int t = 0; v->stream_in && access(v->stream_in, F_OK) < 0; t += 20) {
		if (t > h->start_timeout * 1000 || keeper_pid(run, v->name) < 0) {
			err_make(err, EIO, "`%s`: its monitor never waited for the stream at `%s`",
				 v->name, v->stream_in);
			goto fail;
		}
		usleep(20000);
	}
	/* the state a migration brought, taken in and run on (kind.h) */
	if (v->incoming && !v->stream_in && (!o->migrate_load || o->migrate_load(h, v, err) < 0)) {
		if (!o->migrate_load)
			err_make(err, ENOTSUP, "`%s`: its kind takes no migration's state",
				 v->name);
		goto fail;
	}
	if (!v->stream_in && monitor_up(h, o, v, run, err) < 0)
		goto fail;
	testpoint("start-up", v->name);
	v->state = VPS_RUNNING;
	if (!v->incoming && store_vps_state(h->store, v->name, VPS_RUNNING, "started", err) < 0)
		return -EIO;
	watch_add(h, v->name, kp);
	net_bw_or_event(h, v);
	return 0;
fail:
	/*
	 * Where the kind can end what a keeper leaves (a jailed monitor's
	 * cgroup), nothing is left running: a keeper still there (its monitor
	 * never came up) is ended first, so it cannot start the monitor again,
	 * then what is in the cgroup, which a keeper killed during the start
	 * would otherwise leave behind.
	 */
	if (o->keeper_gone) {
		if ((kp = keeper_pid(run, v->name)) > 0)
			end_keeper(kp);
		o->keeper_gone(h, v->name);
	}
	vps_net_down(h, v);
	if (!v->incoming)
		store_vps_state(h->store, v->name, VPS_STOPPED, "start failed", NULL);
	return -EIO;
}

/* ": monitor PID is in state X (WCHAN)" for an error, or "" when it is gone. */
static void proc_state(int pid, char *buf, size_t len)
{
	_cleanup_free_ char *stat = NULL, *wchan = NULL;
	char path[64], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, &stat, NULL) < 0 || !(p = strrchr(stat, ')')) || !p[1] || !p[2])
		return;
	snprintf(path, sizeof(path), "/proc/%d/wchan", pid);
	if (read_file(path, &wchan, NULL) < 0)
		wchan = NULL;
	if (!wchan || !*wchan || !strcmp(wchan, "0"))
		snprintf(buf, len, ": its monitor (pid %d) is still there, state %c", pid, p[2]);
	else
		snprintf(buf, len, ": its monitor (pid %d) is still there, state %c in %s", pid,
			 p[2], wchan);
}

static int stop_locked(struct host *h, struct vps *v, bool force, int timeout, struct err **err)
{
	const struct kind_ops *o = ops_of(v, err);
	_cleanup_free_ char *run = host_vps_run(h, v->name, NULL);
	struct err *e = NULL;

	if (!o)
		return -EINVAL;
	/* nothing runs: stopped, or a reinstall cut short (its disk half made) */
	if (v->state == VPS_STOPPED || v->state == VPS_REINSTALLING)
		return 0;
	store_vps_state(h->store, v->name, VPS_STOPPING, force ? "stop --force" : "stop", NULL);
	testpoint("stop-stopping", v->name);
	if (!force && o->shutdown(h, v, timeout, &e) == 0) {
		testpoint("stop-asked", v->name);
		if (wait_state(h, v->name, VPS_STOPPED, (timeout + 5) * 1000))
			return 0;
	}
	err_free(&e);
	if (o->kill(h, v, &e) == 0) {
		testpoint("stop-killed", v->name);
		if (wait_state(h, v->name, VPS_STOPPED, 10000))
			return 0;
	}
	err_free(&e);
	/* the monitor does not answer: end it and its keeper. The kernel may
	 * take a while to tear a VM down (its memory, under nesting), so the
	 * wait is long; a monitor still there after it is named with its state. */
	{
		_cleanup_free_ char *s = NULL, *mp = host_vps_run(h, v->name, "monitor.pid");
		pid_t kp = keeper_pid(run, v->name);
		int pid = read_file(mp, &s, NULL) == 0 ? atoi(s) : 0;
		char why[96] = "";

		if (pid > 0 && kp > 0)
			kill(pid, SIGKILL);
		if (wait_state(h, v->name, VPS_STOPPED, 30000))
			return 0;
		if (pid > 0)
			proc_state(pid, why, sizeof(why));
		return err_make(err, ETIMEDOUT, "`%s` did not stop%s", v->name, why);
	}
}

/* --- the operations ------------------------------------------------------------ */

/* What admission accepted but this host does not enforce (caps.h), as warning events. */
static void record_warnings(struct host *h, const char *name, json_t *warnings)
{
	size_t i;
	json_t *w;

	json_array_foreach(warnings, i, w)
	{
		pr_warn("%s: %s", name, json_string_value(w));
		store_event(h->store, name, "warning", json_string_value(w));
	}
}

#define WITH_VPS(h, name, v, err)                                        \
	do {                                                             \
		int r_ = claim(name, err);                               \
		if (r_ < 0)                                              \
			return r_;                                       \
		if ((r_ = store_vps_get(h->store, name, &v, err)) < 0) { \
			release(name);                                   \
			return r_;                                       \
		}                                                        \
	} while (0)

int life_with(struct host *h, const char *name, life_with_fn *fn, void *arg, struct err **err)
{
	struct vps v;
	int r;

	WITH_VPS(h, name, v, err);
	r = fn(h, &v, arg, err);
	vps_free(&v);
	release(name);
	return r;
}

int life_stop_held(struct host *h, struct vps *v, int timeout, struct err **err)
{
	return stop_locked(h, v, false, timeout, err);
}

int life_kill_held(struct host *h, struct vps *v, struct err **err)
{
	return stop_locked(h, v, true, 0, err);
}

int life_start_held(struct host *h, struct vps *v, struct err **err)
{
	return start_locked(h, v, err);
}

int life_start(struct host *h, const char *name, struct err **err)
{
	struct vps v;
	int r;

	WITH_VPS(h, name, v, err);
	r = start_locked(h, &v, err);
	vps_free(&v);
	release(name);
	return r;
}

int life_stop(struct host *h, const char *name, bool force, int timeout, struct err **err)
{
	struct vps v;
	int r;

	WITH_VPS(h, name, v, err);
	r = stop_locked(h, &v, force, timeout, err);
	vps_free(&v);
	release(name);
	return r;
}

int life_restart(struct host *h, const char *name, struct err **err)
{
	struct vps v;
	int r;

	WITH_VPS(h, name, v, err);
	r = stop_locked(h, &v, false, 30, err);
	if (r == 0) {
		vps_free(&v);
		r = store_vps_get(h->store, name, &v, err);
		if (r == 0)
			r = start_locked(h, &v, err);
	}
	vps_free(&v);
	release(name);
	return r;
}

static int destroy_locked(struct host *h, struct vps *v, struct err **err)
{
	const struct kind_ops *o = kind_find(v->kind, v->engine);
	_cleanup_free_ char *dir = host_vps_dir(h, v->name, NULL);
	_cleanup_free_ char *run = host_vps_run(h, v->name, NULL);
	_cleanup_free_ char *disks = pool_dir(h, v->name); /* read before the row goes */

	if (v->state != VPS_DESTROYING &&
	    store_vps_state(h->store, v->name, VPS_DESTROYING, "destroy", err) < 0)
		return -EIO;
	vps_net_down(h, v);
	testpoint("destroy-destroying", v->name);
	if (o && o->destroy(h, v, err) < 0)
		return -EIO; /* stays `destroying`: retried at the next start or request */
	testpoint("destroy-files", v->name);
	if ((disks && rm_rf(disks) < 0) || rm_rf(dir) < 0)
		return err_make(err, EBUSY, "`%s` still holds a mount; retried at the next start",
				dir);
	rm_rf(run);
	return store_vps_delete(h->store, v->name, err);
}

int life_destroy(struct host *h, const char *name, struct err **err)
{
	struct vps v;
	int r = 0;

	WITH_VPS(h, name, v, err);
	if (v.state != VPS_STOPPED && v.state != VPS_DESTROYING)
		r = stop_locked(h, &v, false, 30, err);
	if (r == 0)
		r = destroy_locked(h, &v, err);
	vps_free(&v);
	release(name);
	return r;
}

/*
 * v->iso = the path of the uploaded ISO `name` (PUT /api/v1/isos/NAME), for
 * everyone: a path would hand any host file (or, through a link, a disk) to
 * QEMU.
 */
/*
 * `user_data`: the customer's own cloud-init user-data (vmdisk.h), taken out
 * of the body (it is not part of the VPS's record: it lives beside its seed)
 * and checked. *ud stays NULL without one.
 */
static int user_data_take(json_t *body, char **ud, struct err **err)
{
	json_t *j = json_object_get(body, "user_data");
	int r;

	*ud = NULL;
	if (!j)
		return 0;
	if (!json_is_string(j))
		return err_make(err, EINVAL,
				"`user_data`: expected the text of a cloud-init "
				"user-data");
	r = vmdisk_user_data_check(json_string_value(j), json_string_length(j), err);
	if (r == 0 && !(*ud = strdup(json_string_value(j))))
		r = err_make(err, ENOMEM, "user_data");
	json_object_del(body, "user_data");
	return r;
}

static int iso_path(struct host *h, struct vps *v, const char *name, struct err **err)
{
	struct stat st;
	char *p = NULL;

	if (!life_iso_name_ok(name) || asprintf(&p, "%s/isos/%s.iso", h->data_dir, name) < 0 ||
	    lstat(p, &st) < 0 || !S_ISREG(st.st_mode)) {
		free(p);
		return err_make(err, EINVAL,
				"`iso`: no uploaded ISO named `%.64s` (GET /api/v1/isos)", name);
	}
	free(v->iso); /* after p is made: name may be v->iso */
	v->iso = p;
	return 0;
}

int life_create(struct host *h, json_t *body, json_t **out, struct err **err)
{
	return life_create_from(h, body, NULL, NULL, out, err);
}

int life_create_from(struct host *h, json_t *body, const char *from_dir, const struct vps *from,
		     json_t **out, struct err **err)
{
	const struct kind_ops *o;
	_cleanup_free_ char *password = NULL, *dir = NULL, *pool = NULL, *disks = NULL, *ud = NULL;
	json_t *plan = NULL, *pj = json_object_get(body, "plan"), *warnings = NULL;
	const char *plan_name = NULL;
	struct vps v;
	int r;

	vps_init(&v);
	if (pj) {
		if (!json_is_string(pj))
			return err_make(err, EINVAL, "`plan`: expected a plan name");
		plan_name = json_string_value(pj);
		plan = store_plan_get(h->store, plan_name);
		if (!plan)
			return err_make(err, EINVAL, "`plan`: no plan `%s`", plan_name);
		v.ram = json_integer_value(json_object_get(plan, "ram"));
		v.swap = json_integer_value(json_object_get(plan, "swap"));
		v.disk = json_integer_value(json_object_get(plan, "disk"));
		v.cpus = json_number_value(json_object_get(plan, "cpus"));
		v.io_weight = json_integer_value(json_object_get(plan, "io_weight"));
		v.bw = json_integer_value(json_object_get(plan, "bw"));
		v.pids = json_integer_value(json_object_get(plan, "pids"));
		v.features = vps_features_bits(json_object_get(plan, "features"));
		v.io_read_bps = json_integer_value(json_object_get(plan, "io_read_bps"));
		v.io_write_bps = json_integer_value(json_object_get(plan, "io_write_bps"));
		v.io_read_iops = json_integer_value(json_object_get(plan, "io_read_iops"));
		v.io_write_iops = json_integer_value(json_object_get(plan, "io_write_iops"));
		/* the plan's pool, unless an administrator's body names one */
		if (json_object_get(plan, "pool") && !json_object_get(body, "pool"))
			json_object_set(body, "pool", json_object_get(plan, "pool"));
		json_decref(plan);
	}
	/* `pool`: where its disks go (docs/storage.md); not part of the VPS's record */
	if ((r = pool_take(h, body, &pool, err)) < 0 || (r = user_data_take(body, &ud, err)) < 0)
		goto out;
	if ((r = vps_from_json(&v, body, true, &password, err)) < 0 ||
	    (r = kind_settle(&v, err)) < 0)
		goto out;
	/* the plan's templates, for whoever asks (docs/templates.md "Per plan") */
	if (v.template && (r = tmpl_offered(h, plan_name, v.template, err)) < 0)
		goto out;
	/* the owner is a user (or the host's administrator), whoever asks */
	if (strcmp(v.owner, AUTH_LOCAL_USER) && !auth_user_exists(h, v.owner)) {
		r = err_make(err, EINVAL, "`owner`: no user named `%.40s`", v.owner);
		goto out;
	}
	if (v.iso && (r = iso_path(h, &v, v.iso, err)) < 0)
		goto out;
	if (!(o = ops_of(&v, err))) {
		r = -EINVAL;
		goto out;
	}
	if (from_dir && !o->create_from) {
		r = err_make(err, EINVAL, "kind %s (%s) is not made from another's disks",
			     vps_kind_name(v.kind), vps_engine_name(v.engine));
		goto out;
	}
	if (pool && !o->pools) {
		r = err_make(err, EINVAL,
			     "`pool`: kind %s (%s) keeps its disks in the default pool",
			     vps_kind_name(v.kind), vps_engine_name(v.engine));
		goto out;
	}
	if (ud && !o->seed) {
		r = err_make(err, EINVAL, "`user_data`: kind %s has no cloud-init seed",
			     vps_kind_name(v.kind));
		goto out;
	}
	/* the limits first: a limit this host cannot enforce is refused whatever else is asked */
	warnings = json_array();
	if ((r = caps_admit(h, NULL, &v, warnings, err)) < 0 || (r = o->validate(h, &v, err)) < 0)
		goto out;
	if (*v.network) {
		json_t *n = net_show(h, v.network);

		if (!o->net)
			r = err_make(err, EINVAL,
				     "`network`: kind %s (%s) cannot join a network yet",
				     vps_kind_name(v.kind), vps_engine_name(v.engine));
		else if (!n)
			r = err_make(err, EINVAL, "`network`: no network `%s`", v.network);
		else
			r = auth_network_allowed(h, v.owner, v.network, err);
		json_decref(n);
		if (r < 0)
			goto out;
	}
	/* a cluster: the node with the most room, or the one named; elsewhere: -EXDEV (421) */
	if (*v.node && !h->node)
		r = err_make(err, EINVAL, "`node`: this host is on its own, not in a cluster");
	else
		r = policy_place(h, &v, err);
	if (r < 0 || (r = claim(v.name, err)) < 0)
		goto out;
	v.state = VPS_CREATING;
	r = policy_admit(h, NULL, &v, plan_name, err);
	if (r < 0) {
		release(v.name);
		goto out;
	}
	record_warnings(h, v.name, warnings);
	policy_apply(h, &v);
	dir = host_vps_dir(h, v.name, NULL);
	if (pool && (r = store_vps_pool_set(h->store, v.name, pool, err)) < 0) {
		/* undone below with the row */
	} else if (pool && (!(disks = host_vps_disks(h, v.name, NULL)) || rm_rf(disks) < 0 ||
			    mkdir_p(disks, 0711, 0711) < 0)) {
		r = err_make(err, errno ? errno : ENOMEM, "make `%s`", disks ? disks : v.name);
	} else if ((r = net_assign(h, &v, err)) < 0) {
		/* undone below with the row: its addresses go by cascade */
	} else if (rm_rf(dir) < 0 || mkdir_p(dir, 0711, 0711) < 0) {
		r = err_make(err, errno, "make `%s`", dir);
	} else if (ud && (r = vmdisk_user_data_put(dir, ud, err)) < 0) {
		/* undone below with the directory */
	} else {
		testpoint("create-row", v.name);
		r = from_dir ? o->create_from(h, &v, from_dir, from, err) :
			       o->create(h, &v, password, err);
	}
	if (r < 0) {
		struct err *e = NULL;

		err_wrap(err, "create `%s`", v.name);
		o->destroy(h, &v, &e);
		err_free(&e);
		if (disks)
			rm_rf(disks);
		rm_rf(dir);
		store_vps_delete(h->store, v.name, NULL);
		store_event(h->store, v.name, "create-failed", err_msg(*err));
		release(v.name);
		goto out;
	}
	testpoint("create-made", v.name);
	v.state = VPS_STOPPED;
	store_vps_state(h->store, v.name, VPS_STOPPED, "created", NULL);
	if (json_is_true(json_object_get(body, "start")))
		r = start_locked(h, &v, err);
	release(v.name);
	if (r == 0 && out) {
		struct vps cur;

		if (store_vps_get(h->store, v.name, &cur, NULL) == 0) {
			*out = vps_to_json(&cur);
			vps_free(&cur);
		}
	}
out:
	json_decref(warnings);
	vps_free(&v);
	return r;
}

/*
 * Reinstall: the same VPS (name, plan, owner, addresses) on a fresh disk
 * from its template, or a new one; hostname, password and keys set anew.
 */
int life_reinstall(struct host *h, const char *name, json_t *body, struct err **err)
{
	static const char *const allowed[] = { "template", "root_password", "ssh_keys",
					       "hostname", "user_data",	    NULL };
	_cleanup_free_ char *password = NULL, *dir = NULL, *ud = NULL;
	const struct kind_ops *o;
	struct vps v, nv;
	const char *k;
	json_t *x;
	bool was_running;
	int r;

	json_object_foreach(body, k, x)
	{
		size_t i;

		for (i = 0; allowed[i] && strcmp(allowed[i], k); i++)
			;
		if (!allowed[i])
			return err_make(
				err, EINVAL,
				"`%s`: reinstall takes template, root_password, ssh_keys, hostname, "
				"user_data",
				k);
	}
	WITH_VPS(h, name, v, err);
	{
		/* a reinstall starts the disks afresh, and the snapshots' directory with them */
		json_t *snaps = store_snapshots(h->store, name);
		size_t n = json_array_size(snaps);

		json_decref(snaps);
		if (n) {
			vps_free(&v);
			release(name);
			return err_make(err, EBUSY,
					"`%s` has %zu snapshots: revert to one, or remove them "
					"before a reinstall",
					name, n);
		}
	}
	if ((r = vps_copy(&nv, &v)) < 0) {
		err_make(err, -r, "reinstall");
		goto out_v;
	}
	/* template and password here; hostname and keys as a PATCH would */
	{
		json_t *b = json_deep_copy(body), *t = json_object_get(b, "template"),
		       *p = json_object_get(b, "root_password");

		r = 0;
		if (t &&
		    (!json_is_string(t) || !json_string_length(t) || json_string_length(t) > 64))
			r = err_make(err, EINVAL, "`template`: expected a template name");
		else if (p &&
			 (!json_is_string(p) || !json_string_length(p) ||
			  json_string_length(p) > 256 || strpbrk(json_string_value(p), "\r\n")))
			r = err_make(err, EINVAL,
				     "`root_password`: must be one line of 1 to 256 characters");
		if (r == 0 && t && strcmp(json_string_value(t), v.template ?: "")) {
			/* a template other than its own: one its plan offers */
			_cleanup_free_ char *plan = store_vps_plan_of(h->store, name);

			r = tmpl_offered(h, plan, json_string_value(t), err);
		}
		if (r == 0 && t) {
			free(nv.template);
			nv.template = strdup(json_string_value(t));
		}
		if (r == 0 && p)
			password = strdup(json_string_value(p));
		json_object_del(b, "template");
		json_object_del(b, "root_password");
		if (r == 0)
			r = user_data_take(b, &ud, err);
		if (r == 0)
			r = vps_from_json(&nv, b, false, NULL, err);
		json_decref(b);
		if (r < 0)
			goto out;
	}
	if (!(o = ops_of(&nv, err)) || (r = o->validate(h, &nv, err)) < 0) {
		r = r < 0 ? r : -EINVAL;
		goto out;
	}
	if (ud && !o->seed) {
		r = err_make(err, EINVAL, "`user_data`: kind %s has no cloud-init seed",
			     vps_kind_name(nv.kind));
		goto out;
	}
	dir = host_vps_dir(h, name, NULL);
	if (!dir) {
		r = err_make(err, ENOMEM, "reinstall");
		goto out;
	}
	/* without a new one, the user-data it has is kept */
	if (!ud)
		ud = vmdisk_user_data_get(dir);
	was_running = v.state == VPS_RUNNING;
	if ((r = stop_locked(h, &v, false, 30, err)) < 0)
		goto out;
	/*
	 * From here until the new disk is in, the VPS has no whole disk: it is
	 * `reinstalling`, which does not start, and stays so if this is cut
	 * short (an error, a kill -9) until a reinstall is asked for again.
	 */
	if ((r = store_vps_state(h->store, name, VPS_REINSTALLING, "reinstall", err)) < 0)
		goto out;
	if ((r = o->destroy(h, &v, err)) < 0)
		goto out;
	rm_rf(dir);
	if (mkdir_p(dir, 0711, 0711) < 0) {
		r = err_make(err, errno, "make `%s`", dir);
		goto out;
	}
	if (ud && (r = vmdisk_user_data_put(dir, ud, err)) < 0)
		goto out;
	nv.state = VPS_STOPPED;
	policy_apply(h, &nv);
	testpoint("reinstall-destroyed", name);
	if ((r = o->create(h, &nv, password, err)) < 0)
		goto out;
	testpoint("reinstall-made", name);
	if ((r = store_vps_update(h->store, &nv, err)) < 0)
		goto out;
	store_event(h->store, name, "reinstalled", nv.template ? nv.template : "");
	if (was_running)
		r = start_locked(h, &nv, err);
out:
	vps_free(&nv);
out_v:
	vps_free(&v);
	release(name);
	return r;
}

int life_set(struct host *h, const char *name, json_t *body, json_t **out, struct err **err)
{
	const struct kind_ops *o;
	struct vps v, nv;
	json_t *warnings = NULL, *iso = json_object_get(body, "iso"), *rest = NULL;
	int r, live = 0;

	WITH_VPS(h, name, v, err);
	if ((r = vps_copy(&nv, &v)) < 0) {
		err_make(err, -r, "set");
		goto out_v;
	}
	/* `iso`: an uploaded ISO's name into the CD drive, or null to eject it */
	if (iso && (!(rest = json_deep_copy(body)) || json_object_del(rest, "iso") < 0)) {
		r = err_make(err, ENOMEM, "set");
		goto out;
	}
	if ((r = vps_from_json(&nv, rest ? rest : body, false, NULL, err)) < 0)
		goto out;
	if (iso && !json_is_null(iso) && !json_is_string(iso)) {
		r = err_make(err, EINVAL, "`iso`: an uploaded ISO's name, or null to eject it");
		goto out;
	}
	if (iso) {
		free(nv.iso);
		nv.iso = NULL;
	}
	/* the kind says whether this VPS takes one (a VM that boots firmware) */
	if (json_is_string(iso) && (r = iso_path(h, &nv, json_string_value(iso), err)) == 0)
		r = (o = ops_of(&nv, err)) ? o->validate(h, &nv, err) : -EINVAL;
	if (r < 0)
		goto out;
	if (nv.disk < v.disk) {
		r = err_make(err, EINVAL, "`disk`: cannot shrink from %llu MiB to %llu MiB",
			     (unsigned long long)(v.disk >> 20),
			     (unsigned long long)(nv.disk >> 20));
		goto out;
	}
	if (!(o = ops_of(&nv, err))) {
		r = -EINVAL;
		goto out;
	}
	/* stored first: a failed live change still applies at the next start */
	warnings = json_array();
	policy_lock();
	r = caps_admit(h, &v, &nv, warnings, err);
	if (r == 0)
		r = policy_admit(h, &v, &nv, NULL, err);
	policy_unlock();
	if (r < 0)
		goto out;
	record_warnings(h, name, warnings);
	policy_apply(h, &nv);
	store_event(h->store, name, "set", "settings changed");
	live = o->set_live(h, &v, &nv, err);
	if (live >= 0 && nv.bw != v.bw && nv.state == VPS_RUNNING)
		live = net_vps_bw(h, &nv, traffic_bw(h, &nv), err) < 0 ? -1 : 1;
	if (live < 0) {
		r = err_wrap(err, "stored, but not applied to the running `%s`", name);
		goto out;
	}
	if (out) {
		*out = json_pack("{s:o, s:b}", "vps", vps_to_json(&nv), "live", live > 0);
	}
out:
	json_decref(warnings);
	json_decref(rest);
	vps_free(&nv);
out_v:
	vps_free(&v);
	release(name);
	return r;
}

int life_suspend(struct host *h, const char *name, bool on, struct err **err)
{
	struct vps v;
	int r = 0;

	WITH_VPS(h, name, v, err);
	if (v.suspended != on) {
		v.suspended = on;
		if ((r = store_vps_update(h->store, &v, err)) == 0)
			store_event(h->store, name, on ? "suspended" : "unsuspended", "");
	}
	/* suspended: it stops (its guest is asked first) and stays stopped */
	if (r == 0 && on && v.state != VPS_STOPPED)
		r = stop_locked(h, &v, false, 30, err);
	vps_free(&v);
	release(name);
	return r;
}

int life_plan(struct host *h, const char *name, json_t *body, json_t **out, struct err **err)
{
	static const char *const fields[] = { "plan", NULL };
	json_t *pj = json_object_get(body, "plan"), *plan, *figures;
	int r;

	if (vps_only_fields(body, fields, "a plan change takes `plan` alone", err) < 0)
		return -EINVAL;
	if (!json_is_string(pj))
		return err_make(err, EINVAL, "`plan`: expected a plan name");
	if (!(plan = store_plan_get(h->store, json_string_value(pj))))
		return err_make(err, EINVAL, "`plan`: no plan `%s`", json_string_value(pj));
	figures = json_deep_copy(plan);
	json_object_del(figures, "name");
	json_object_del(figures, "traffic"); /* the plan's, read from it by traffic.c */
	json_object_del(figures, "backup"); /* the plan's, read from it by backup_sched.c */
	json_object_del(figures, "templates"); /* the plan's, asked at create and reinstall */
	json_object_del(figures,
			"pool"); /* where a VPS's disks are is chosen at create: they stay */
	/* a plan without an IO weight leaves the VPS's as it is (PATCH has no "default") */
	if (json_integer_value(json_object_get(figures, "io_weight")) == 0)
		json_object_del(figures, "io_weight");
	json_decref(plan);
	/* the figures go through PATCH's checks: admission, no disk shrink, live apply */
	r = life_set(h, name, figures, out, err);
	json_decref(figures);
	if (r == 0 && (r = store_vps_plan(h->store, name, json_string_value(pj), err)) == 0)
		store_event(h->store, name, "plan", json_string_value(pj));
	return r;
}

/*
 * Rescue mode on or off ({"on": bool}): the kind changes what the next boot
 * is (a VM: the rescue system with the VPS's disk as the second drive; a
 * container: a rescue container with the VPS's root at /mnt); a running
 * VPS is restarted into it, a stopped one boots it at its next start.
 */
int life_rescue(struct host *h, const char *name, json_t *body, struct err **err)
{
	static const char *const fields[] = { "on", NULL };
	json_t *on = json_object_get(body, "on");
	const struct kind_ops *o;
	bool was;
	struct vps v;
	int r;

	if (vps_only_fields(body, fields, "rescue takes `on` alone", err) < 0)
		return -EINVAL;
	if (!json_is_boolean(on))
		return err_make(err, EINVAL, "`on`: expected true or false");
	WITH_VPS(h, name, v, err);
	was = v.state == VPS_RUNNING;
	if (!(o = ops_of(&v, err)))
		r = -EINVAL;
	else if (!o->rescue)
		r = err_make(err, EINVAL, "`%s`: a %s has no rescue mode", name,
			     vps_kind_name(v.kind));
	else if (v.state != VPS_RUNNING && v.state != VPS_STOPPED)
		r = err_make(err, EBUSY, "`%s` is %s", name, vps_state_name(v.state));
	else if ((r = stop_locked(h, &v, false, 30, err)) == 0 &&
		 (r = o->rescue(h, &v, json_is_true(on), err)) == 0) {
		store_event(h->store, name, "rescue", json_is_true(on) ? "on" : "off");
		/* the record as the stop left it (`stopped`), as life_restart reads it */
		if (was) {
			vps_free(&v);
			if ((r = store_vps_get(h->store, name, &v, err)) == 0)
				r = start_locked(h, &v, err);
		}
	}
	vps_free(&v);
	release(name);
	return r;
}

int life_password(struct host *h, const char *name, json_t *body, struct err **err)
{
	static const char *const fields[] = { "password", NULL };
	json_t *p = json_object_get(body, "password");
	const struct kind_ops *o;
	struct vps v;
	int r;

	if (vps_only_fields(body, fields, "a password reset takes `password` alone", err) < 0)
		return -EINVAL;
	if (!json_is_string(p) || json_string_length(p) < 1 || json_string_length(p) > 256 ||
	    strlen(json_string_value(p)) != json_string_length(p) ||
	    strpbrk(json_string_value(p), "\n\r"))
		return err_make(err, EINVAL, "`password`: must be one line of 1 to 256 characters");
	WITH_VPS(h, name, v, err);
	if (!(o = ops_of(&v, err)))
		r = -EINVAL;
	else if (!o->password)
		r = err_make(err, EINVAL, "`%s`: its kind cannot set a password", name);
	else if ((r = o->password(h, &v, json_string_value(p), err)) == 0)
		store_event(h->store, name, "password", "root password reset");
	vps_free(&v);
	release(name);
	return r;
}

json_t *life_show_vps(struct host *h, struct vps *v)
{
	const struct kind_ops *o = kind_find(v->kind, v->engine);
	json_t *out = vps_to_json(v);

	if (o && o->rescuing) { /* a kind with a rescue mode says whether it is on, and what */
		json_object_set_new(out, "rescue", json_boolean(o->rescuing(h, v)));
		if (o->rescue_system)
			json_object_set_new(out, "rescue_system", json_string(o->rescue_system));
	}
	if (o && v->state == VPS_RUNNING) {
		_cleanup_free_ char *run = host_vps_run(h, v->name, NULL);
		int reboots = run ? keeper_restarts(run) : 0;

		o->status(h, v, out);
		/* since this start, the guest reboots its keeper restarted the monitor for */
		if (reboots > 0)
			json_object_set_new(out, "reboots", json_integer(reboots));
	}
	return out;
}

int life_show(struct host *h, const char *name, json_t **out, struct err **err)
{
	struct vps v;
	int r = store_vps_get(h->store, name, &v, err);

	if (r < 0)
		return r;
	*out = life_show_vps(h, &v);
	vps_free(&v);
	return 0;
}

int life_exec(struct host *h, const char *name, json_t *body, json_t **out, struct err **err)
{
	json_t *args = json_object_get(body, "args"), *a;
	const struct kind_ops *o;
	char *argv[65];
	struct vps v;
	size_t i;
	int r;

	if (!json_is_array(args) || !json_array_size(args) || json_array_size(args) > 64)
		return err_make(err, EINVAL, "`args`: expected a list of 1 to 64 strings");
	json_array_foreach(args, i, a)
	{
		if (!json_is_string(a))
			return err_make(err, EINVAL, "`args[%zu]`: expected a string", i);
		argv[i] = (char *)json_string_value(a);
	}
	argv[i] = NULL;
	if ((r = store_vps_get(h->store, name, &v, err)) < 0)
		return r;
	o = kind_find(v.kind, v.engine);
	if (!o || !o->exec)
		r = err_make(err, EINVAL, "`%s`: exec is for containers (kind ct)", name);
	else if (v.state != VPS_RUNNING)
		r = err_make(err, EBUSY, "`%s` is %s", name, vps_state_name(v.state));
	else
		r = o->exec(h, &v, argv, out, err);
	vps_free(&v);
	return r;
}

int life_console(struct host *h, const char *name, json_t **out, struct err **err)
{
	const struct kind_ops *o;
	struct vps v;
	char *path;
	int r;

	if ((r = store_vps_get(h->store, name, &v, err)) < 0)
		return r;
	o = kind_find(v.kind, v.engine);
	path = o && o->console ? o->console(h, &v) : NULL;
	if (v.state != VPS_RUNNING)
		r = err_make(err, EBUSY, "`%s` is %s", name, vps_state_name(v.state));
	else if (!path)
		r = err_make(err, ENOENT, "`%s` has no console", name);
	else
		*out = json_pack("{s:s, s:s}", "path", path, "escape", "Ctrl-]");
	free(path);
	vps_free(&v);
	return r;
}

int life_screen(struct host *h, const char *name, char **path, struct err **err)
{
	const struct kind_ops *o;
	struct vps v;
	int r;

	if ((r = store_vps_get(h->store, name, &v, err)) < 0)
		return r;
	o = kind_find(v.kind, v.engine);
	if (v.state != VPS_RUNNING)
		r = err_make(err, EBUSY, "`%s` is %s", name, vps_state_name(v.state));
	else if (!o || !o->screen)
		r = err_make(err, EBUSY, "`%s` has no screen: its console is text (console/ws)",
			     name);
	else if (!(*path = o->screen(h, &v, err)))
		r = -EBUSY;
	vps_free(&v);
	return r;
}

bool life_iso_name_ok(const char *n)
{
	size_t l = strlen(n);

	return l > 0 && l <= 64 && n[0] != '.' &&
	       strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == l;
}

bool life_iso_in_use(struct host *h, const char *path)
{
	struct vps *all = NULL;
	size_t n = 0;
	bool used = false;

	if (store_vps_list(h->store, &all, &n, NULL) < 0)
		return true;
	for (size_t i = 0; i < n; i++)
		used |= all[i].iso && !strcmp(all[i].iso, path);
	store_vps_list_free(all, n);
	return used;
}

/* --- at start ---------------------------------------------------------------------- */

int life_init(struct host *h, struct err **err)
{
	_cleanup_free_ char *marker = NULL;
	struct vps *all = NULL;
	size_t n = 0;
	bool host_boot;
	int r;

	L.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	L.ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (L.wake < 0 || L.ino < 0)
		return err_make(err, errno, L.wake < 0 ? "eventfd" : "inotify");
	for (int i = 0; i < MAX_WATCH; i++)
		L.watch[i].pidfd = L.watch[i].wd = -1;
	/* RUN is a tmpfs: no marker means the host booted since the last vpsd */
	if (asprintf(&marker, "%s/booted", h->run_dir) < 0)
		return err_make(err, ENOMEM, "init");
	host_boot = access(marker, F_OK) < 0;
	/* bridges and rules do not outlive a host reboot: made again from the store */
	net_restore(h, NULL);
	/* this node's VPSes only: in a cluster, another node's are not ours to undo or stop */
	if ((r = store_vps_list_local(h->store, &all, &n, err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct vps *v = &all[i];
		_cleanup_free_ char *run = host_vps_run(h, v->name, NULL);
		pid_t kp;
		struct err *e = NULL;

		if (v->state == VPS_CREATING) {
			/* a create cut short: undo it, as if it never happened */
			const struct kind_ops *o = kind_find(v->kind, v->engine);
			_cleanup_free_ char *dir = host_vps_dir(h, v->name, NULL);
			_cleanup_free_ char *disks = pool_dir(h, v->name);

			testpoint("init-undo-create", v->name);
			if ((o && o->destroy(h, v, &e) < 0) || (disks && rm_rf(disks) < 0) ||
			    rm_rf(dir) < 0) {
				/* kept, as `destroying`: the next start tries again */
				pr_err("undo the create of `%s`: %s", v->name,
				       e ? err_msg(e) : "its directory still holds a mount");
				store_vps_state(
					h->store, v->name, VPS_DESTROYING,
					"create interrupted; removing it failed, retried at "
					"the next start",
					NULL);
				err_free(&e);
				continue;
			}
			rm_rf(run);
			store_vps_delete(h->store, v->name, NULL);
			store_event(h->store, v->name, "create-undone",
				    "vpsd stopped during create; the half-made VPS was removed");
		} else if (v->state == VPS_REINSTALLING) {
			/* its disk may be half made, its password was not kept: the user asks again */
			store_event(h->store, v->name, "reinstall-interrupted",
				    "vpsd stopped during reinstall; reinstall it again to use it");
		} else if (v->state == VPS_DESTROYING) {
			if (destroy_locked(h, v, &e) < 0)
				pr_err("finish destroying `%s`: %s", v->name, err_msg(e));
			err_free(&e);
		} else if (v->state != VPS_STOPPED) {
			kp = keeper_find(run, v->name);
			if (kp > 0) {
				/* running on without us: adopt it (once it is up) */
				const struct kind_ops *o = kind_find(v->kind, v->engine);

				const char *ms;
				json_t *st = json_object();

				if (o && v->state == VPS_STARTING)
					monitor_up(h, o, v, run, NULL);
				if (o && o->adopt)
					o->adopt(h, v);
				/* a stop that was under way goes on: keep saying so */
				if (o)
					o->status(h, v, st);
				ms = json_string_value(
					json_object_get(json_object_get(st, "monitor"), "state"));
				if (ms && !strcmp(ms, "stopping"))
					store_vps_state(h->store, v->name, VPS_STOPPING, "adopted",
							NULL);
				else if (v->state != VPS_RUNNING)
					store_vps_state(h->store, v->name, VPS_RUNNING, "adopted",
							NULL);
				else
					store_event(h->store, v->name, "adopted", "vpsd restarted");
				json_decref(st);
				if (vps_net_filter(h, v, &e) < 0) {
					pr_err("adopt `%s`: %s", v->name, err_msg(e));
					err_free(&e);
				}
				net_bw_or_event(h, v);
				watch_add(h, v->name, kp);
			} else {
				keeper_gone(h, v->name);
			}
		} else {
			/* stopped: a monitor a killed keeper left cannot run on unseen */
			monitor_leftovers(h, v);
		}
	}
	if (pthread_create(&L.thread, NULL, watcher, h) == 0)
		L.thread_started = true;
	if (host_boot) {
		FILE *f = fopen(marker, "we");

		if (f)
			fclose(f);
		for (size_t i = 0; i < n; i++) {
			struct vps cur;
			struct err *e = NULL;

			if (!all[i].onboot || store_vps_get(h->store, all[i].name, &cur, NULL) < 0)
				continue;
			if (cur.state == VPS_STOPPED && life_start(h, cur.name, &e) < 0) {
				pr_err("onboot start of `%s`: %s", cur.name, err_msg(e));
				err_free(&e);
			}
			vps_free(&cur);
		}
	}
	store_vps_list_free(all, n);
	return 0;
}

void life_fini(struct host *h)
{
	uint64_t one = 1;

	L.stopping = true;
	if (L.wake >= 0)
		(void)!write(L.wake, &one, sizeof(one));
	if (L.thread_started)
		pthread_join(L.thread, NULL);
}
