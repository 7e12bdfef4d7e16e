// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cgroups for the container engine: the life cycle of one cgroup across
 * every hierarchy of the host's layout (see cgroup.h and docs/cgroups.md).
 * v1 and the hybrid use one directory per mounted controller hierarchy; v2
 * one directory in the unified tree, with controllers enabled in each
 * ancestor's cgroup.subtree_control; the hybrid also makes and joins the
 * cgroup2 directory when it can, as a courtesy to tools that look there,
 * and v1 and the hybrid do the same in systemd's controller-less
 * name=systemd hierarchy (a systemd inside needs both: docs/ct-systemd.md).
 * Resource values are written by cgroup_res.c, device programs by
 * cgroup_bpf.c, and what to write is decided in cgroup_parse.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_priv.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"

#define CG_WAIT_MS 5000 /* longest we wait for a freeze, a thaw or an rmdir */

void cg_resources_init(struct cg_resources *r)
{
	memset(r, 0, sizeof(*r));
	r->memory_limit = CG_UNSET;
	r->memory_reservation = CG_UNSET;
	r->memory_swap = CG_UNSET;
	r->cpu_shares = CG_UNSET;
	r->cpu_quota = CG_UNSET;
	r->cpu_period = CG_UNSET;
	r->memory_swappiness = CG_UNSET;
	r->memory_kernel_tcp = CG_UNSET;
	r->disable_oom_killer = CG_UNSET;
	r->pids_limit = CG_UNSET;
	r->blkio_weight = CG_UNSET;
	r->net_class_id = CG_UNSET;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int cg_write(const char *dir, const char *file, const char *val, struct err **err)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	size_t len = strlen(val);
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return err_make(err, errno, "open `%s`", path);
	/* One write per value: cgroup files parse each write on its own. */
	n = write(fd, val, len);
	if (n < 0)
		return err_make(err, errno, "write `%s` to `%s`", val, path);
	if ((size_t)n != len)
		return err_make(err, EIO, "write `%s` to `%s`: short write", val, path);
	return 0;
}

int cg_read(const char *dir, const char *file, char *buf, size_t bufsz, struct err **err)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_make(err, errno, "open `%s`", path);
	n = read_all(fd, buf, bufsz - 1);
	if (n < 0)
		return err_make(err, errno, "read `%s`", path);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

bool cg_has(const char *dir, const char *file)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return access(path, F_OK) == 0;
}

static int load_layout(struct cg_layout_info *li, struct err **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int ret = read_file("/proc/self/mountinfo", &text, &len);

	if (ret < 0)
		return err_make(err, -ret, "read `/proc/self/mountinfo`");
	return cg_parse_mountinfo(text, li, err);
}

int cg_detect(enum cg_layout *out, struct err **err)
{
	struct cg_layout_info li;
	int ret = load_layout(&li, err);

	if (ret < 0)
		return ret;
	*out = li.layout;
	cg_layout_free(&li);
	return 0;
}

const char *cg_ctrl_dir(const struct ct_cgroup *cg, enum cg_ctrl c)
{
	if (cg->li.layout == CG_V2)
		return cg->udir;
	if (cg->li.ctrl_hier[c] < 0)
		return NULL;
	return cg->hdir[cg->li.ctrl_hier[c]];
}

void cg_free(struct ct_cgroup *cg)
{
	if (!cg)
		return;
	for (unsigned int i = 0; i < CG_MAX_HIER; i++)
		free(cg->hdir[i]);
	free(cg->udir);
	free(cg->ndir);
	cg_layout_free(&cg->li);
	free(cg);
}

static char *join(const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, "%s/%s", a, b) < 0)
		return NULL;
	return s;
}

/* A handle with the layout and every leaf path filled in; nothing made yet. */
static int handle_new(const char *path, struct ct_cgroup **out, struct err **err)
{
	struct ct_cgroup *cg = calloc(1, sizeof(*cg));
	int ret;

	if (!cg)
		return err_make(err, ENOMEM, "cgroup `%s`", path);
	ret = cg_path_normalize(path, cg->path, sizeof(cg->path), err);
	if (ret == 0)
		ret = load_layout(&cg->li, err);
	if (ret < 0) {
		free(cg);
		return ret;
	}
	for (unsigned int i = 0; i < cg->li.nr_hier; i++) {
		cg->hdir[i] = join(cg->li.hier[i].mnt, cg->path);
		if (!cg->hdir[i])
			goto nomem;
	}
	if (cg->li.unified) {
		cg->udir = join(cg->li.unified, cg->path);
		if (!cg->udir)
			goto nomem;
	}
	if (cg->li.named && cg->li.layout != CG_V2) {
		cg->ndir = join(cg->li.named, cg->path);
		if (!cg->ndir)
			goto nomem;
	}
	*out = cg;
	return 0;
nomem:
	cg_free(cg);
	return err_make(err, ENOMEM, "cgroup `%s`", path);
}

/*
 * v1 cpuset: a new cgroup starts with no cpus and no mems; take the parent's.
 * vals holds the parent's cpus and mems when *known (the walk filled the
 * level above), and this level's on return, so no file is read twice. A
 * cgroup this walk just made (fresh) is empty, or has the parent's values
 * already (cgroup.clone_children): it is written without being read.
 */
static int cpuset_fill(const char *dir, const char *parent, bool fresh, char vals[2][4096],
		       bool *known, struct err **err)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char cur[4096];

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		int ret = fresh ? 0 : cg_read(dir, files[i], cur, sizeof(cur), err);

		if (ret < 0)
			return ret;
		if (!fresh && cur[0]) {
			memcpy(vals[i], cur, strlen(cur) + 1);
			continue;
		}
		if (!*known)
			ret = cg_read(parent, files[i], vals[i], sizeof(vals[i]), err);
		if (ret == 0)
			ret = cg_write(dir, files[i], vals[i], err);
		if (ret < 0)
			return ret;
	}
	*known = true;
	return 0;
}

/* Is word in the space-separated list? */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

/* v2: let `dir`'s children have the controllers we use (those it has). */
static void enable_controllers(const char *dir)
{
	static const char *const want[] = { "cpu", "memory", "pids", "io", "cpuset" };
	char avail[512], on[512], line[128] = "";
	size_t len = 0;

	if (cg_read(dir, "cgroup.controllers", avail, sizeof(avail), NULL) < 0 ||
	    cg_read(dir, "cgroup.subtree_control", on, sizeof(on), NULL) < 0)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		if (has_word(avail, want[i]) && !has_word(on, want[i]))
			len += (size_t)snprintf(line + len, sizeof(line) - len, "%s+%s",
						len ? " " : "", want[i]);
	if (!len || cg_write(dir, "cgroup.subtree_control", line, NULL) == 0)
		return;
	/* One refused (a process in dir, a threaded subtree): the others one by one. */
	for (char *save = NULL, *t = strtok_r(line, " ", &save); t;
	     t = strtok_r(NULL, " ", &save)) {
		struct err *e = NULL;

		if (cg_write(dir, "cgroup.subtree_control", t, &e) < 0)
			pr_debug("cgroup: %s", err_msg(e));
		err_free(&e);
	}
}

enum mk_kind { MK_V1, MK_V1_CPUSET, MK_V2 };

/*
 * mkdir -p of cg->path under root, doing per-level work on the way down.
 * Returns how many trailing components it created in *made (also on error,
 * so the caller can undo them).
 */
static int make_tree(const char *root, const char *rel, enum mk_kind kind, unsigned int *made,
		     struct err **err)
{
	char dir[PATH_MAX], parent[PATH_MAX], cpuset[2][4096];
	size_t rootlen = strlen(root);
	const char *p = rel;
	bool known = false, fresh;

	*made = 0;
	if (rootlen + strlen(rel) + 2 > sizeof(dir))
		return err_make(err, ENAMETOOLONG, "cgroup `%s/%s`", root, rel);
	snprintf(dir, sizeof(dir), "%s", root);
	while (*p) {
		size_t n = strcspn(p, "/");
		size_t dl = strlen(dir);

		memcpy(parent, dir, dl + 1);
		if (kind == MK_V2)
			enable_controllers(parent);
		dir[dl] = '/';
		memcpy(dir + dl + 1, p, n);
		dir[dl + 1 + n] = '\0';
		p += n;
		if (*p == '/')
			p++;
		fresh = mkdir(dir, 0755) == 0;
		if (fresh) {
			(*made)++;
		} else if (errno != EEXIST) {
			return err_make(err, errno, "mkdir `%s`", dir);
		} else if (*made) {
			/* Someone else made it between our steps: not ours to remove. */
			*made = 0;
		}
		if (kind == MK_V1_CPUSET) {
			int ret = cpuset_fill(dir, parent, fresh, cpuset, &known, err);

			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

/* rmdir with a bounded wait for tasks still on their way out. */
static int rmdir_wait(const char *dir)
{
	unsigned int waited = 0, step = 1;

	for (;;) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY || waited >= CG_WAIT_MS)
			return -errno;
		sleep_ms(step);
		waited += step;
		step = step < 50 ? step * 2 : 50;
	}
}

/* Remove dir with any cgroups a container made below it, deepest first. */
static int remove_tree(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (depth < 32 && (de = readdir(d))) {
		char sub[PATH_MAX];

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) >= sizeof(sub))
			continue; /* no cgroup path is this long; rmdir of dir says so */
		remove_tree(sub, depth + 1);
	}
	closedir(d);
	return rmdir_wait(dir);
}

/* Remove leaf and the `made - 1` ancestors above it that we made, if empty. */
static int remove_made(const char *leaf, unsigned int made)
{
	char dir[PATH_MAX];
	int ret = remove_tree(leaf, 0);

	snprintf(dir, sizeof(dir), "%s", leaf);
	for (unsigned int i = 1; ret == 0 && i < made; i++) {
		char *slash = strrchr(dir, '/');

		if (!slash)
			break;
		*slash = '\0';
		if (rmdir(dir) < 0)
			break; /* in use by a sibling: keep it */
	}
	return ret;
}

static unsigned int hier_kind(const struct cg_hier *h)
{
	return (h->ctrls & (1u << CG_CPUSET)) ? MK_V1_CPUSET : MK_V1;
}

/* Undo a create: remove what this handle made, in every hierarchy. */
static void undo(struct ct_cgroup *cg, const unsigned int *made, unsigned int umade,
		 unsigned int nmade)
{
	for (unsigned int i = 0; i < cg->li.nr_hier; i++)
		if (made[i])
			remove_made(cg->hdir[i], made[i]);
	if (umade)
		remove_made(cg->udir, umade);
	if (nmade)
		remove_made(cg->ndir, nmade);
}

int cg_create(const char *path, const struct cg_resources *res, struct ct_cgroup **out,
	      struct err **err)
{
	unsigned int made[CG_MAX_HIER] = { 0 }, umade = 0, nmade = 0;
	struct ct_cgroup *cg;
	int ret;

	ret = handle_new(path, &cg, err);
	if (ret < 0)
		return err_wrap(err, "create cgroup `%s`", path);
	for (unsigned int i = 0; i < cg->li.nr_hier && cg->li.layout != CG_V2; i++) {
		ret = make_tree(cg->li.hier[i].mnt, cg->path, hier_kind(&cg->li.hier[i]), &made[i],
				err);
		if (ret < 0)
			goto fail;
	}
	if (cg->li.layout == CG_V2) {
		ret = make_tree(cg->li.unified, cg->path, MK_V2, &umade, err);
		if (ret < 0)
			goto fail;
		cg->ujoined = true;
	} else if (cg->li.layout == CG_HYBRID) {
		struct err *e = NULL;

		/* Best effort: the controllers are on v1, this is for the tools. */
		if (make_tree(cg->li.unified, cg->path, MK_V1, &umade, &e) == 0)
			cg->ujoined = true;
		else
			pr_debug("cgroup: hybrid, skipping cgroup2: %s", err_msg(e));
		err_free(&e);
	}
	if (cg->ndir) {
		struct err *e = NULL;

		/* Best effort too: only a systemd inside the container uses it. */
		if (make_tree(cg->li.named, cg->path, MK_V1, &nmade, &e) == 0)
			cg->njoined = true;
		else
			pr_debug("cgroup: skipping name=systemd: %s", err_msg(e));
		err_free(&e);
	}
	if (res) {
		ret = cg->li.layout == CG_V2 ? cg_apply_v2(cg, res, err) :
					       cg_apply_v1(cg, res, err);
		if (ret < 0)
			goto fail;
	}
	for (unsigned int i = 0; i < CG_MAX_HIER; i++)
		cg->created_depth = made[i] > cg->created_depth ? made[i] : cg->created_depth;
	cg->created_depth = umade > cg->created_depth ? umade : cg->created_depth;
	cg->created_depth = nmade > cg->created_depth ? nmade : cg->created_depth;
	*out = cg;
	return 0;
fail:
	undo(cg, made, umade, nmade);
	cg_free(cg);
	return err_wrap(err, "create cgroup `%s`", path);
}

int cg_open(const char *path, struct ct_cgroup **out, struct err **err)
{
	struct ct_cgroup *cg;
	bool found = false;
	int ret = handle_new(path, &cg, err);

	if (ret < 0)
		return err_wrap(err, "open cgroup `%s`", path);
	for (unsigned int i = 0; i < cg->li.nr_hier; i++) {
		if (access(cg->hdir[i], F_OK) == 0) {
			found = true;
		} else {
			free(cg->hdir[i]); /* not there: skipped from now on */
			cg->hdir[i] = NULL;
		}
	}
	if (cg->udir && access(cg->udir, F_OK) == 0) {
		cg->ujoined = true;
		found = true;
	}
	if (cg->ndir && access(cg->ndir, F_OK) == 0)
		cg->njoined = true;
	if (!found || (cg->li.layout == CG_V2 && !cg->ujoined)) {
		cg_free(cg);
		return err_make(err, ENOENT, "open cgroup `%s`: not found", path);
	}
	*out = cg;
	return 0;
}

unsigned int cg_created_depth(const struct ct_cgroup *cg)
{
	return cg->created_depth;
}

void cg_set_created_depth(struct ct_cgroup *cg, unsigned int depth)
{
	cg->created_depth = depth;
}

/*
 * One hierarchy's helper leaf: made if missing (a v1 cpuset one with the
 * container's cpus and mems), refused if the container's root made it (in
 * a delegated leaf it could: then its files would be the container's), and
 * pid written into it.
 */
static int enter_helper_leaf(const char *dir, enum mk_kind kind, const char *pid, struct err **err)
{
	char leaf[PATH_MAX], vals[2][4096];
	bool known = false, fresh;
	struct stat st;

	if ((size_t)snprintf(leaf, sizeof(leaf), "%s/%s", dir, CG_HELPERS) >= sizeof(leaf))
		return err_make(err, ENAMETOOLONG, "cgroup `%s/%s`", dir, CG_HELPERS);
	fresh = mkdir(leaf, 0755) == 0;
	if (!fresh && errno != EEXIST)
		return err_make(err, errno, "mkdir `%s`", leaf);
	if (lstat(leaf, &st) < 0)
		return err_make(err, errno, "stat `%s`", leaf);
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0)
		return err_make(err, EPERM, "`%s` is not the host's", leaf);
	if (kind == MK_V1_CPUSET && cpuset_fill(leaf, dir, fresh, vals, &known, err) < 0)
		return -EIO;
	return cg_write(leaf, "cgroup.procs", pid, err);
}

/* pid (as text) into one hierarchy's cgroup dir, or into its helper leaf. */
static int enter_dir(const char *dir, enum mk_kind kind, bool helper, const char *pid,
		     struct err **err)
{
	return helper ? enter_helper_leaf(dir, kind, pid, err) :
			cg_write(dir, "cgroup.procs", pid, err);
}

/*
 * pid into the cgroup in every hierarchy: its own cgroup.procs, or (helper)
 * its helper leaf's. A hybrid's cgroup2 and the name=systemd hierarchy are
 * joined where they can be; that they cannot is only logged.
 */
static int enter(struct ct_cgroup *cg, pid_t pid, bool helper, struct err **err)
{
	const char *leaf = helper ? "/" CG_HELPERS : "", *who = helper ? "helper" : "process";
	char val[24];
	int ret;

	snprintf(val, sizeof(val), "%d", (int)pid);
	for (unsigned int i = 0; i < cg->li.nr_hier && cg->li.layout != CG_V2; i++) {
		if (!cg->hdir[i])
			continue;
		ret = enter_dir(cg->hdir[i], hier_kind(&cg->li.hier[i]), helper, val, err);
		if (ret < 0)
			return err_wrap(err, "enter cgroup `%s%s`", cg->path, leaf);
	}
	if (cg->li.layout == CG_V2) {
		ret = enter_dir(cg->udir, MK_V2, helper, val, err);
		if (ret < 0)
			return err_wrap(err, "enter cgroup `%s%s`", cg->path, leaf);
	} else if (cg->ujoined) {
		struct err *e = NULL;

		if (enter_dir(cg->udir, MK_V1, helper, val, &e) < 0)
			pr_debug("cgroup: hybrid, %s not in cgroup2: %s", who, err_msg(e));
		err_free(&e);
	}
	if (cg->njoined) {
		struct err *e = NULL;

		if (enter_dir(cg->ndir, MK_V1, helper, val, &e) < 0)
			pr_debug("cgroup: %s not in name=systemd: %s", who, err_msg(e));
		err_free(&e);
	}
	return 0;
}

int cg_enter(struct ct_cgroup *cg, pid_t pid, struct err **err)
{
	return enter(cg, pid, false, err);
}

int cg_enter_helper(struct ct_cgroup *cg, pid_t pid, struct err **err)
{
	return enter(cg, pid, true, err);
}

/*
 * v2's "no internal processes" rule: once a systemd inside has enabled
 * controllers for its children, the container's cgroup takes no process
 * (EBUSY). Then a process exec'd into the container joins the init's own
 * cgroup below it (systemd's init.scope), as crun does.
 */
int cg_enter_exec(struct ct_cgroup *cg, pid_t pid, pid_t init, struct err **err)
{
	char file[64], val[24], dir[PATH_MAX];
	_cleanup_free_ char *text = NULL;
	const char *p;
	size_t len, n;
	int ret = cg_enter(cg, pid, err);

	if (ret != -EBUSY || cg->li.layout != CG_V2)
		return ret;
	snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)init);
	if (read_file(file, &text, &len) < 0 || !(p = strstr(text, "0::/")))
		return ret;
	p += 3;
	n = strcspn(p, "\n");
	/* only a cgroup of the container's own: below its path */
	if (strncmp(p + 1, cg->path, strlen(cg->path)) || p[1 + strlen(cg->path)] != '/' ||
	    strlen(cg->li.unified) + n >= sizeof(dir))
		return ret;
	snprintf(dir, sizeof(dir), "%s%.*s", cg->li.unified, (int)n, p);
	snprintf(val, sizeof(val), "%d", (int)pid);
	err_free(err);
	ret = cg_write(dir, "cgroup.procs", val, err);
	return ret < 0 ? err_wrap(err, "enter the init's cgroup `%.*s`", (int)n, p) : 0;
}

int cg_update(struct ct_cgroup *cg, const struct cg_resources *res, struct err **err)
{
	int ret = cg->li.layout == CG_V2 ? cg_apply_v2(cg, res, err) : cg_apply_v1(cg, res, err);

	return ret < 0 ? err_wrap(err, "update cgroup `%s`", cg->path) : 0;
}

static int freeze_v1(const char *dir, bool frozen, struct err **err)
{
	const char *want = frozen ? "FROZEN" : "THAWED";
	unsigned int waited = 0, step = 1;
	char state[64];
	int ret;

	for (;;) {
		/* Write every round: a FREEZING that stalls is nudged again. */
		ret = cg_write(dir, "freezer.state", want, err);
		if (ret == 0)
			ret = cg_read(dir, "freezer.state", state, sizeof(state), err);
		if (ret < 0)
			return ret;
		if (!strcmp(state, want))
			return 0;
		if (waited >= CG_WAIT_MS)
			break;
		sleep_ms(step);
		waited += step;
		/* every ms for the first 20 (a snapshot's pause waits on this), then less often */
		step = waited < 20 ? 1 : step < 20 ? step * 2 : 20;
	}
	if (frozen)
		cg_write(dir, "freezer.state", "THAWED", NULL);
	return err_make(err, ETIMEDOUT, "`%s/freezer.state` still `%s` after %u ms", dir, state,
			waited);
}

static int freeze_v2(const char *dir, bool frozen, struct err **err)
{
	const char *want = frozen ? "frozen 1" : "frozen 0";
	char path[PATH_MAX], buf[512];
	_cleanup_close_ int fd = -1;
	unsigned int waited = 0;
	int ret;

	ret = cg_write(dir, "cgroup.freeze", frozen ? "1" : "0", err);
	if (ret < 0)
		return ret;
	snprintf(path, sizeof(path), "%s/cgroup.events", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_make(err, errno, "open `%s`", path);
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		struct pollfd pfd = { .fd = fd, .events = POLLPRI };

		if (n < 0)
			return err_make(err, errno, "read `%s`", path);
		buf[n] = '\0';
		for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save))
			if (!strcmp(l, want))
				return 0;
		if (waited >= CG_WAIT_MS)
			break;
		/* The kernel wakes POLLPRI waiters when cgroup.events changes. */
		poll(&pfd, 1, 50);
		waited += 50;
	}
	if (frozen)
		cg_write(dir, "cgroup.freeze", "0", NULL);
	return err_make(err, ETIMEDOUT, "`%s` no `%s` after %u ms", path, want, waited);
}

int cg_freeze(struct ct_cgroup *cg, bool frozen, struct err **err)
{
	const char *dir = cg_ctrl_dir(cg, CG_FREEZER);
	int ret;

	if (!dir)
		return err_make(err, EOPNOTSUPP, "%s cgroup `%s`: no freezer hierarchy",
				frozen ? "freeze" : "thaw", cg->path);
	if (cg->li.layout == CG_V2)
		ret = freeze_v2(dir, frozen, err);
	else
		ret = freeze_v1(dir, frozen, err);
	return ret < 0 ? err_wrap(err, "%s cgroup `%s`", frozen ? "freeze" : "thaw", cg->path) : 0;
}

static int pids_add(pid_t **pids, size_t *n, size_t *cap, pid_t pid)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		pid_t *p = realloc(*pids, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*pids = p;
		*cap = ncap;
	}
	(*pids)[(*n)++] = pid;
	return 0;
}

/* cgroup.procs of dir and of every cgroup below it. */
static int pids_walk(const char *dir, int depth, bool helpers, pid_t **pids, size_t *n, size_t *cap,
		     struct err **err)
{
	char path[PATH_MAX];
	_cleanup_fclose_ FILE *f = NULL;
	DIR *d;
	struct dirent *de;
	long pid;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (!f)
		return err_make(err, errno, "open `%s`", path);
	while (fscanf(f, "%ld", &pid) == 1)
		if (pids_add(pids, n, cap, (pid_t)pid) < 0)
			return err_make(err, ENOMEM, "read `%s`", path);
	d = opendir(dir);
	if (!d)
		return err_make(err, errno, "open `%s`", dir);
	while (ret == 0 && depth < 32 && (de = readdir(d))) {
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!helpers && depth == 0 && !strcmp(de->d_name, CG_HELPERS))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		ret = pids_walk(path, depth + 1, helpers, pids, n, cap, err);
	}
	closedir(d);
	return ret;
}

/* The directory whose membership we report: pids, then freezer, then any. */
static const char *member_dir(const struct ct_cgroup *cg)
{
	const enum cg_ctrl pref[] = { CG_PIDS, CG_FREEZER, CG_MEMORY, CG_CPU };

	if (cg->li.layout == CG_V2)
		return cg->udir;
	for (size_t i = 0; i < ARRAY_SIZE(pref); i++)
		if (cg_ctrl_dir(cg, pref[i]))
			return cg_ctrl_dir(cg, pref[i]);
	for (unsigned int i = 0; i < cg->li.nr_hier; i++)
		if (cg->hdir[i])
			return cg->hdir[i];
	return NULL;
}

static int pids_of(const struct ct_cgroup *cg, bool helpers, pid_t **pids, size_t *n,
		   struct err **err)
{
	const char *dir = member_dir(cg);
	size_t cap = 0;
	int ret;

	*pids = NULL;
	*n = 0;
	if (!dir)
		return err_make(err, ENOENT, "pids of cgroup `%s`: no hierarchy", cg->path);
	ret = pids_walk(dir, 0, helpers, pids, n, &cap, err);
	if (ret < 0) {
		free(*pids);
		*pids = NULL;
		*n = 0;
		return err_wrap(err, "pids of cgroup `%s`", cg->path);
	}
	return 0;
}

int cg_pids(struct ct_cgroup *cg, pid_t **pids, size_t *n, struct err **err)
{
	return pids_of(cg, true, pids, n, err);
}

int cg_pids_own(const struct ct_cgroup *cg, pid_t **pids, size_t *n, struct err **err)
{
	return pids_of(cg, false, pids, n, err);
}

int cg_kill_all(struct ct_cgroup *cg, int sig, struct err **err)
{
	_cleanup_free_ pid_t *pids = NULL;
	struct err *e = NULL;
	bool frozen;
	size_t n;
	int ret;

	if (cg->li.layout == CG_V2 && sig == SIGKILL && cg_has(cg->udir, "cgroup.kill")) {
		ret = cg_write(cg->udir, "cgroup.kill", "1", err);
		return ret < 0 ? err_wrap(err, "kill cgroup `%s`", cg->path) : 0;
	}
	/* Frozen, no task can fork a child we would miss. */
	frozen = cg_freeze(cg, true, &e) == 0;
	if (!frozen)
		pr_debug("cgroup: kill without freezing: %s", err_msg(e));
	err_free(&e);
	ret = cg_pids(cg, &pids, &n, err);
	for (size_t i = 0; ret == 0 && i < n; i++)
		if (kill(pids[i], sig) < 0 && errno != ESRCH)
			ret = err_make(err, errno, "kill %d with signal %d", (int)pids[i], sig);
	if (frozen) {
		int r2 = cg_freeze(cg, false, ret < 0 ? NULL : err);

		if (ret == 0)
			ret = r2;
	}
	return ret < 0 ? err_wrap(err, "kill cgroup `%s`", cg->path) : 0;
}

int cg_destroy(struct ct_cgroup *cg, struct err **err)
{
	const char *failed = NULL;
	int ret = 0;

	for (unsigned int i = 0; i < cg->li.nr_hier; i++) {
		int r;

		if (!cg->hdir[i])
			continue;
		r = remove_made(cg->hdir[i], cg->created_depth ? cg->created_depth : 1);
		if (r < 0 && !ret) {
			ret = r;
			failed = cg->hdir[i];
		}
	}
	if (cg->ujoined) {
		int r = remove_made(cg->udir, cg->created_depth ? cg->created_depth : 1);

		if (r < 0 && !ret && cg->li.layout == CG_V2) {
			ret = r;
			failed = cg->udir;
		}
	}
	if (cg->njoined)
		remove_made(cg->ndir, cg->created_depth ? cg->created_depth : 1);
	if (ret < 0)
		err_make(err, -ret, "destroy cgroup `%s`: rmdir `%s`", cg->path, failed);
	cg_free(cg);
	return ret;
}
