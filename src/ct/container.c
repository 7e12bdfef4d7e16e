// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The container lifecycle as the runtime process sees it (runtime-spec
 * runtime.md "Lifecycle" and "Operations"): create clones the child into
 * its namespaces (child.c), writes its id maps and puts it in its cgroup,
 * runs the runtime-side hooks and records state.json; start releases the
 * child through exec.fifo; delete runs poststop hooks and removes the
 * cgroup and the state. A create that fails part-way undoes every step, so
 * no process, cgroup, mount or state directory outlives the error.
 *
 * Where crun re-executes itself or keeps a helper process, vps-ct uses one
 * fork-style clone() and a socketpair: `run` never touches exec.fifo.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "ct/cgroup.h"
#include "ct/container.h"
#include "sys/unix.h"

int ct_sync_send(int fd, int type, int errnum, const char *msg)
{
	struct ct_sync_msg m = { .type = type, .errnum = errnum };
	size_t len = offsetof(struct ct_sync_msg, msg);

	if (msg) {
		snprintf(m.msg, sizeof(m.msg), "%s", msg);
		len += strlen(m.msg) + 1;
	}
	while (send(fd, &m, len, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int ct_sync_recv(int fd, struct ct_sync_msg *m)
{
	ssize_t n;

	memset(m, 0, sizeof(*m));
	while ((n = recv(fd, m, sizeof(*m), 0)) < 0)
		if (errno != EINTR)
			return -errno;
	if (n < (ssize_t)offsetof(struct ct_sync_msg, msg))
		return -EPIPE;
	m->msg[sizeof(m->msg) - 1] = 0;
	return 0;
}

static void now_rfc3339(char *buf, size_t sz)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	/* not strftime: glibc's calls tzset(), 7 syscalls to read /etc/localtime */
	snprintf(buf, sz, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
}

static int write_idmap(pid_t pid, const char *file, const struct ct_idmap *m, size_t n,
		       struct err **err)
{
	char path[64], buf[4096];
	_cleanup_close_ int fd = -1;
	size_t i, len = 0;

	for (i = 0; i < n && len < sizeof(buf) - 40; i++)
		len += snprintf(buf + len, sizeof(buf) - len, "%u %u %u\n", m[i].container_id,
				m[i].host_id, m[i].size);
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		return err_make(err, errno, "write `%s`", path);
	return 0;
}

static int write_pid_file(const char *path, pid_t pid, struct err **err)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	char buf[16];
	int n;

	if (!path)
		return 0;
	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return err_make(err, ENOMEM, "pid file");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	n = snprintf(buf, sizeof(buf), "%d", pid);
	if (fd < 0 || write_all(fd, buf, n) < 0 || rename(tmp, path) < 0)
		return err_make(err, errno, "write pid file `%s`", path);
	return 0;
}

/* Wait until the cgroup holds no task (the kernel reaps a pid ns lazily). */
static void cg_wait_empty(struct ct_cgroup *cg)
{
	int i;

	for (i = 0; i < 500; i++) {
		pid_t *pids = NULL;
		size_t n = 0;

		if (cg_pids(cg, &pids, &n, NULL) < 0 || n == 0) {
			free(pids);
			return;
		}
		free(pids);
		if (i == 10)
			cg_kill_all(cg, SIGKILL, NULL);
		usleep(i < 20 ? 200 : 2000);
	}
}

/* Remove a cgroup, killing what is left in it. Errors are reported. */
static int cg_remove(struct ct_cgroup *cg, struct err **err)
{
	if (!cg)
		return 0;
	cg_wait_empty(cg);
	return cg_destroy(cg, err);
}

static volatile pid_t fwd_pid;

static void forward_signal(int sig)
{
	if (fwd_pid > 0)
		kill(fwd_pid, sig);
}

static int wait_foreground(pid_t pid)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
	struct sigaction sa = { .sa_handler = forward_signal };
	int status = 0;
	size_t i;

	fwd_pid = pid;
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 255;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static int clone_flags(const struct ct_config *cfg)
{
	int flags = 0;
	size_t i;

	/* cgroup: unshared by the child once it is in its cgroup */
	for (i = 0; i < cfg->nr_namespaces; i++)
		if (!cfg->namespaces[i].path && cfg->namespaces[i].ns != CT_NS_CGROUP)
			flags |= ct_ns_flag(cfg->namespaces[i].ns);
	return flags;
}

static int join_pid_ns(const struct ct_config *cfg, struct err **err)
{
	const struct ct_namespace *n = ct_config_ns(cfg, CT_NS_PID);
	_cleanup_close_ int fd = -1;

	if (!n || !n->path)
		return 0;
	fd = open(n->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWPID) < 0)
		return err_make(err, errno, "join pid namespace `%s`", n->path);
	return 0;
}

/*
 * The device cgroup rules to apply: resources.devices, then allows for the
 * devices every container gets (rootfs.c makes them, and mknod counts as an
 * access) and for those linux.devices makes, as crun and runc append them.
 * Without these, the usual "deny all" rule made the child's mknod of
 * /dev/zero fail with EPERM on v1 and v2 alike. Only when rules are given:
 * no rules leaves the kernel's allow-all as before. cfg may be NULL
 * (update: no linux.devices at hand).
 */
int ct_device_rules(struct cg_resources *r, const struct ct_config *cfg, struct err **err)
{
	static const struct cg_device_rule defaults[] = {
		{ true, 'c', -1, -1, "m" },    { true, 'b', -1, -1, "m" },
		{ true, 'c', 1, 3, "rwm" }, /* null */
		{ true, 'c', 1, 5, "rwm" }, /* zero */
		{ true, 'c', 1, 7, "rwm" }, /* full */
		{ true, 'c', 1, 8, "rwm" }, /* random */
		{ true, 'c', 1, 9, "rwm" }, /* urandom */
		{ true, 'c', 5, 0, "rwm" }, /* tty */
		{ true, 'c', 5, 1, "rwm" }, /* console */
		{ true, 'c', 5, 2, "rwm" }, /* ptmx */
		{ true, 'c', 136, -1, "rwm" }, /* pts/N */
	};
	size_t i;

	if (!r->nr_devices)
		return 0;
	for (i = 0; i < ARRAY_SIZE(defaults); i++) {
		if (r->nr_devices >= CG_MAX_DEVICE_RULES)
			goto full;
		r->devices[r->nr_devices++] = defaults[i];
	}
	for (i = 0; cfg && i < cfg->nr_devices; i++) {
		const struct ct_device *d = &cfg->devices[i];

		if (d->type == 'p') /* a fifo is no device */
			continue;
		if (r->nr_devices >= CG_MAX_DEVICE_RULES)
			goto full;
		r->devices[r->nr_devices++] = (struct cg_device_rule){ true,
								       d->type == 'b' ? 'b' : 'c',
								       d->major, d->minor, "rwm" };
	}
	return 0;
full:
	return err_make(err, E2BIG,
			"linux.resources.devices: more than %d rules with the default devices",
			CG_MAX_DEVICE_RULES);
}

struct create_ctx {
	const struct ct_opts *o;
	struct ct_config *cfg;
	char *dir;
	struct ct_cgroup *cg;
	pid_t pid;
	int sync_fd, fifo_fd, console_fd;
	int notify_sv[2]; /* to the sysinfo monitor: [0] its end, [1] the child's */
	struct ct_state st;
	char created[64];
};

/* config.json's annotations as compact JSON text, NULL when there are none. */
static char *config_annotations(const struct ct_config *cfg)
{
	json_t *a = cfg->json ? json_object_get(cfg->json, "annotations") : NULL;

	return json_is_object(a) && json_object_size(a) ? json_dumps(a, JSON_COMPACT) : NULL;
}

/* The host id of id 0 in maps, or false when there is none. */
static bool host_root(const struct ct_idmap *m, size_t n, uint32_t *out)
{
	for (size_t i = 0; i < n; i++)
		if (m[i].container_id == 0 && m[i].size) {
			*out = m[i].host_id;
			return true;
		}
	return false;
}

bool ct_cgroup_owner(const struct ct_config *cfg, uid_t *uid, gid_t *gid)
{
	const struct ct_namespace *user = ct_config_ns(cfg, CT_NS_USER);
	uint32_t u, g;
	bool rw = false;

	for (size_t i = 0; i < cfg->nr_mounts; i++) {
		const struct ct_mount *m = &cfg->mounts[i];

		if (!m->bind && m->type &&
		    (!strcmp(m->type, "cgroup") || !strcmp(m->type, "cgroup2")))
			rw = !(m->flags & MS_RDONLY);
	}
	if (!rw || !user || user->path || !host_root(cfg->uid_mappings, cfg->nr_uid_mappings, &u) ||
	    !host_root(cfg->gid_mappings, cfg->nr_gid_mappings, &g))
		return false;
	*uid = u;
	*gid = g;
	return true;
}

/* Everything up to READY. On failure the caller undoes it all (create_undo). */
static int create_steps(struct create_ctx *c, struct err **err)
{
	const struct ct_config *cfg = c->cfg;
	const struct ct_namespace *user = ct_config_ns(cfg, CT_NS_USER);
	_cleanup_free_ char *fifo = NULL, *state = NULL;
	struct cg_resources res;
	struct ct_child_args args;
	struct ct_sync_msg m;
	uid_t owner_uid;
	gid_t owner_gid;
	int sv[2], r;

	if (cfg->cgroups_path)
		c->st.cgroup_path = strdup(cfg->cgroups_path);
	else if (asprintf(&c->st.cgroup_path, "/vps-ct/%s", c->o->id) < 0)
		c->st.cgroup_path = NULL;
	if (!c->st.cgroup_path)
		return err_make(err, ENOMEM, "cgroup path");
	res = cfg->resources;
	if ((r = ct_device_rules(&res, cfg, err)) < 0)
		return r;
	r = cg_create(c->st.cgroup_path, &res, &c->cg, err);
	if (r < 0)
		return err_wrap(err, "cgroup `%s`", c->st.cgroup_path);
	c->st.cgroup_depth = cg_created_depth(c->cg);
	if (ct_cgroup_owner(cfg, &owner_uid, &owner_gid) &&
	    (r = cg_delegate(c->cg, owner_uid, owner_gid, err)) < 0)
		return r;
	if (!c->o->run) {
		if (asprintf(&fifo, "%s/exec.fifo", c->dir) < 0)
			return err_make(err, ENOMEM, "exec.fifo");
		if (mkfifo(fifo, 0600) < 0)
			return err_make(err, errno, "mkfifo `%s`", fifo);
		/* O_RDWR: the open does not block, and the read waits for `start` */
		c->fifo_fd = open(fifo, O_RDWR | O_CLOEXEC);
		if (c->fifo_fd < 0)
			return err_make(err, errno, "open `%s`", fifo);
	}
	if (cfg->process->terminal) {
		c->console_fd = unix_connect(c->o->console_socket);
		if (c->console_fd < 0)
			return err_make(err, -c->console_fd, "connect console socket `%s`",
					c->o->console_socket);
	}
	if ((r = ct_sysinfo_pair(cfg, c->notify_sv, err)) < 0)
		return r;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return err_make(err, errno, "socketpair");
	if ((r = join_pid_ns(cfg, err)) < 0)
		return r;
	if (chdir(c->o->bundle) < 0)
		return err_make(err, errno, "chdir `%s`", c->o->bundle);
	fflush(NULL);
	c->pid = syscall(SYS_clone, clone_flags(cfg) | SIGCHLD, NULL, NULL, NULL, 0);
	if (c->pid != 0 && ct_config_ns(cfg, CT_NS_PID) && ct_config_ns(cfg, CT_NS_PID)->path) {
		int self = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);

		/* see exec.c: only the child belongs in that pid namespace */
		if (self >= 0) {
			setns(self, CLONE_NEWPID);
			close(self);
		}
	}
	if (c->pid < 0) {
		r = errno;
		close(sv[0]);
		close(sv[1]);
		return err_make(err, r, "clone");
	}
	if (c->pid == 0) {
		close(sv[0]);
		if (c->notify_sv[0] >= 0)
			close(c->notify_sv[0]);
		args = (struct ct_child_args){ .cfg = cfg,
					       .opts = c->o,
					       .sync_fd = sv[1],
					       .fifo_fd = c->fifo_fd,
					       .console_fd = c->console_fd,
					       .cg = c->cg,
					       .notify_fd = c->notify_sv[1] };
		ct_child_main(&args);
	}
	close(sv[1]);
	c->sync_fd = sv[0];
	if (c->notify_sv[1] >= 0) {
		close(c->notify_sv[1]);
		c->notify_sv[1] = -1;
	}
	if (user && !user->path &&
	    ((r = write_idmap(c->pid, "uid_map", cfg->uid_mappings, cfg->nr_uid_mappings, err)) <
		     0 ||
	     (r = write_idmap(c->pid, "gid_map", cfg->gid_mappings, cfg->nr_gid_mappings, err)) <
		     0))
		return r;
	if ((r = cg_enter(c->cg, c->pid, err)) < 0)
		return err_wrap(err, "cgroup `%s`", c->st.cgroup_path);
	c->st.pid = c->pid;
	c->st.start_time = ct_proc_start_time(c->pid);
	if ((r = ct_sysinfo_monitor_start(c->st.id, c->st.cgroup_path, c->st.start_time,
					  cfg->sysinfo_socket, &c->notify_sv[0], err)) < 0)
		return r;
	/* "created", as crun gives prestart and createRuntime hooks (runc: "creating") */
	state = ct_state_json(&c->st, "created");
	if (!state || ct_sync_send(c->sync_fd, CT_SYNC_GO, 0, state) < 0)
		return err_make(err, EPIPE, "start container init");
	for (;;) {
		if (ct_sync_recv(c->sync_fd, &m) < 0)
			return err_make(err, EPIPE, "container init exited during setup");
		if (m.type == CT_SYNC_ERROR) {
			err_make(err, 0, "%s", m.msg);
			(*err)->errnum = m.errnum ? m.errnum : EINVAL;
			return -(*err)->errnum;
		}
		if (m.type == CT_SYNC_READY)
			break;
		if (m.type != CT_SYNC_HOOKS)
			return err_make(err, EPROTO, "unexpected message %d from init", m.type);
		if ((r = ct_hooks_run(cfg, CT_HOOK_PRESTART, state, err)) < 0 ||
		    (r = ct_hooks_run(cfg, CT_HOOK_CREATE_RUNTIME, state, err)) < 0)
			return r;
		if (ct_sync_send(c->sync_fd, CT_SYNC_HOOKS_DONE, 0, NULL) < 0)
			return err_make(err, EPIPE, "container init exited during setup");
	}
	if ((r = ct_state_save(c->o->root, &c->st, err)) < 0)
		return r;
	return write_pid_file(c->o->pid_file, c->pid, err);
}

static void create_undo(struct create_ctx *c)
{
	struct err *e2 = NULL;

	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
	}
	if (c->cg && cg_remove(c->cg, &e2) < 0)
		pr_warn("remove cgroup: %s", err_msg(e2));
	c->cg = NULL;
	err_free(&e2);
	if (ct_state_remove(c->o->root, c->o->id, &e2) < 0)
		pr_warn("%s", err_msg(e2));
	err_free(&e2);
	if (c->o->pid_file)
		unlink(c->o->pid_file);
}

/* Tear down a stopped container: poststop hooks, cgroup, state. */
static int teardown(const char *root, struct ct_state *st, struct ct_cgroup *cg,
		    const struct ct_config *cfg, struct err **err)
{
	_cleanup_free_ char *state = ct_state_json(st, "stopped");
	int r;

	if (cfg && state)
		ct_hooks_run(cfg, CT_HOOK_POSTSTOP, state, err);
	if (cg && (r = cg_remove(cg, err)) < 0)
		return err_wrap(err, "remove cgroup `%s`", st->cgroup_path);
	return ct_state_remove(root, st->id, err);
}

int ct_create(const struct ct_opts *o, struct ct_config *cfg, int *status, struct err **err)
{
	struct create_ctx c = { .o = o,
				.cfg = cfg,
				.sync_fd = -1,
				.fifo_fd = -1,
				.console_fd = -1,
				.notify_sv = { -1, -1 } };
	_cleanup_free_ char *state = NULL;
	struct ct_sync_msg m;
	int r;

	*status = 0;
	if ((r = ct_id_check(o->id, err)) < 0)
		return r;
	if (!cfg->process)
		return err_make(err, 0, "process: is required");
	if (cfg->process->terminal && !o->console_socket)
		return err_make(err, 0, "process.terminal: needs --console-socket");
	if (mkdir(o->root, 0711) < 0 && errno != EEXIST)
		return err_make(err, errno, "create state root `%s`", o->root);
	c.dir = ct_state_dir(o->root, o->id);
	if (!c.dir)
		return err_make(err, ENOMEM, "state dir");
	if (mkdir(c.dir, 0700) < 0) {
		r = errno == EEXIST ?
			    err_make(err, EEXIST, "container `%s` already exists", o->id) :
			    err_make(err, errno, "create `%s`", c.dir);
		free(c.dir);
		return r;
	}
	now_rfc3339(c.created, sizeof(c.created));
	c.st = (struct ct_state){ .id = (char *)o->id,
				  .bundle = (char *)o->bundle,
				  .created = c.created,
				  .annotations = config_annotations(cfg),
				  .owner = getuid() };
	r = create_steps(&c, err);
	if (r < 0)
		goto fail;
	if (!o->run)
		goto out;
	/* run: release the child at once; EOF on the socket means execve worked */
	if (ct_sync_send(c.sync_fd, CT_SYNC_START, 0, NULL) < 0) {
		r = err_make(err, EPIPE, "container init exited before start");
		goto fail;
	}
	if (ct_sync_recv(c.sync_fd, &m) == 0 && m.type == CT_SYNC_ERROR) {
		err_make(err, 0, "%s", m.msg);
		(*err)->errnum = m.errnum ? m.errnum : EINVAL;
		r = -(*err)->errnum;
		goto fail;
	}
	state = ct_state_json(&c.st, "running");
	if (state)
		ct_hooks_run(cfg, CT_HOOK_POSTSTART, state, err);
	if (o->detach)
		goto out;
	*status = wait_foreground(c.pid);
	r = teardown(o->root, &c.st, c.cg, cfg, err);
	c.cg = NULL;
	goto out;
fail:
	create_undo(&c);
out:
	if (c.cg)
		cg_free(c.cg);
	if (c.sync_fd >= 0)
		close(c.sync_fd);
	if (c.fifo_fd >= 0)
		close(c.fifo_fd);
	if (c.console_fd >= 0)
		close(c.console_fd);
	for (int i = 0; i < 2; i++)
		if (c.notify_sv[i] >= 0)
			close(c.notify_sv[i]);
	free(c.st.cgroup_path);
	free(c.st.annotations);
	free(c.dir);
	return r;
}

static int load(const char *root, const char *id, struct ct_state *st, const char **status,
		struct err **err)
{
	int r = ct_state_load(root, id, st, err);

	if (r < 0)
		return r;
	*status = ct_state_status(root, st);
	return 0;
}

int ct_start(const char *root, const char *id, struct err **err)
{
	_cleanup_free_ char *fifo = NULL, *state = NULL;
	_cleanup_close_ int fd = -1;
	struct ct_config *cfg = NULL;
	struct ct_state st;
	const char *status;
	int r;

	if ((r = load(root, id, &st, &status, err)) < 0)
		return r;
	if (strcmp(status, "created")) {
		r = err_make(err, EBUSY, "container `%s` is %s, not created", id, status);
		goto out;
	}
	if (asprintf(&fifo, "%s/%s/exec.fifo", root, id) < 0) {
		r = err_make(err, ENOMEM, "start");
		goto out;
	}
	/* ENXIO: nobody holds the fifo, the init is gone */
	fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || write(fd, "1", 1) != 1) {
		r = err_make(err, errno, "open `%s`", fifo);
		goto out;
	}
	unlink(fifo);
	if (ct_config_load(st.bundle, &cfg, NULL) == 0 && ct_config_validate(cfg, NULL) == 0) {
		state = ct_state_json(&st, "running");
		if (state)
			ct_hooks_run(cfg, CT_HOOK_POSTSTART, state, err);
	}
	ct_config_free(cfg);
	r = 0;
out:
	ct_state_clear(&st);
	return r;
}

/* Wait up to ~5 s for pid to exit (it is not our child). */
static void wait_gone(pid_t pid, uint64_t start)
{
	int pfd = syscall(SYS_pidfd_open, pid, 0), i;

	if (pfd >= 0) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };

		poll(&p, 1, 5000);
		close(pfd);
	}
	for (i = 0; i < 500 && ct_proc_start_time(pid) == start && start; i++)
		usleep(10000);
}

int ct_delete(const char *root, const char *id, bool force, struct err **err)
{
	struct ct_cgroup *cg = NULL;
	struct ct_config *cfg = NULL;
	struct ct_state st;
	const char *status;
	int r;

	if ((r = load(root, id, &st, &status, err)) < 0)
		return r;
	if (!force && (!strcmp(status, "running") || !strcmp(status, "paused"))) {
		r = err_make(err, EBUSY, "container `%s` is %s: use --force", id, status);
		goto out;
	}
	if (cg_open(st.cgroup_path, &cg, NULL) < 0)
		cg = NULL;
	else /* so `vps-ct/` goes too when this create made it */
		cg_set_created_depth(cg, st.cgroup_depth);
	if (strcmp(status, "stopped")) {
		if (cg && st.paused)
			cg_freeze(cg, false, NULL);
		kill(st.pid, SIGKILL);
		if (cg)
			cg_kill_all(cg, SIGKILL, NULL);
		wait_gone(st.pid, st.start_time);
	}
	if (ct_config_load(st.bundle, &cfg, NULL) < 0 || ct_config_validate(cfg, NULL) < 0) {
		ct_config_free(cfg);
		cfg = NULL;
	}
	r = teardown(root, &st, cg, cfg, err);
	ct_config_free(cfg);
out:
	ct_state_clear(&st);
	return r < 0 ? err_wrap(err, "delete container `%s`", id) : 0;
}

int ct_kill(const char *root, const char *id, int sig, bool all, struct err **err)
{
	struct ct_cgroup *cg = NULL;
	struct ct_state st;
	const char *status;
	int r;

	if ((r = load(root, id, &st, &status, err)) < 0)
		return r;
	if (!strcmp(status, "stopped")) {
		r = err_make(err, ESRCH, "container `%s` is not running", id);
	} else if (all) {
		r = cg_open(st.cgroup_path, &cg, err);
		if (r == 0) {
			r = cg_kill_all(cg, sig, err);
			cg_free(cg);
		}
	} else if (kill(st.pid, sig) < 0) {
		r = err_make(err, errno, "kill %d", st.pid);
	}
	ct_state_clear(&st);
	return r;
}

int ct_pause(const char *root, const char *id, bool pause, struct err **err)
{
	struct ct_cgroup *cg = NULL;
	struct ct_state st;
	const char *status;
	int r;

	if ((r = load(root, id, &st, &status, err)) < 0)
		return r;
	if (strcmp(status, pause ? "running" : "paused")) {
		r = err_make(err, EBUSY, "container `%s` is %s", id, status);
		goto out;
	}
	if ((r = cg_open(st.cgroup_path, &cg, err)) < 0)
		goto out;
	r = cg_freeze(cg, pause, err);
	cg_free(cg);
	if (r < 0)
		goto out;
	st.paused = pause;
	r = ct_state_save(root, &st, err);
out:
	ct_state_clear(&st);
	return r;
}
