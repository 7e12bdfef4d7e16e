// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Snapshots (snapshot.h, docs/storage.md). A VPS's snapshots are in its
 * pool, POOL/NAME/snapshots/SNAP/, one file per disk as its kind copies
 * them (kind_ops.snapshot: FICLONE on a reflink pool, else a full sparse
 * copy; a running VPS frozen or paused for it), and a row in the store.
 *
 * A crash never leaves half a snapshot listed: the copy is made in
 * snapshots/.new-SNAP, synced, renamed to SNAP and only then recorded;
 * the list is the store's rows, and files without a row (a crash between
 * the rename and the row, or between a removal's row and its files) are
 * swept at the next create or removal. A revert copies beside the disk
 * and renames over it (the kind's revert), so a crash leaves the old disk
 * or the snapshot's, never a mix.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/testpoint.h"
#include "common/util.h"
#include "host/kind.h"
#include "host/life.h"
#include "host/policy.h"
#include "host/snapshot.h"

bool snapshot_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return true;
}

static bool listed(json_t *rows, const char *name)
{
	json_t *x;
	size_t i;

	json_array_foreach(rows, i, x) if (!strcmp(json_string_value(json_object_get(x, "name")),
						   name)) return true;
	return false;
}

/* Remove what is in snapshots/ without a row: crashes' leftovers. */
static void sweep(struct host *h, const char *vps)
{
	_cleanup_free_ char *dir = host_vps_disks(h, vps, "snapshots");
	json_t *rows = store_snapshots(h->store, vps);
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char *p;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    listed(rows, e->d_name) || asprintf(&p, "%s/%s", dir, e->d_name) < 0)
			continue;
		life_rm_rf(p);
		free(p);
	}
	if (d)
		closedir(d);
	json_decref(rows);
}

static int fsync_dir(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 || fsync(fd) < 0 ? -errno : 0;
}

long long snapshot_dir_size(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long long sum = 0;

	while (d && (e = readdir(d))) {
		struct stat st;

		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			sum += st.st_size;
	}
	if (d)
		closedir(d);
	return sum;
}

/* The bytes the RAM file of a memory snapshot holds on disk (its zero RAM is holes); 0: none. */
static long long memory_bytes(const char *snapdir)
{
	_cleanup_free_ char *p = NULL;
	struct stat st;

	if (asprintf(&p, "%s/" SNAPSHOT_MEMORY, snapdir) < 0 || lstat(p, &st) < 0 ||
	    !S_ISREG(st.st_mode))
		return 0;
	return (long long)st.st_blocks * 512;
}

/* A memory snapshot: vps-vmm's state or RAM file is there, whatever it holds. */
static bool has_memory(const char *snapdir)
{
	_cleanup_free_ char *m = NULL, *s = NULL;
	struct stat st;

	return asprintf(&m, "%s/" SNAPSHOT_MEMORY, snapdir) >= 0 &&
	       asprintf(&s, "%s/" SNAPSHOT_STATE, snapdir) >= 0 &&
	       (lstat(m, &st) == 0 || lstat(s, &st) == 0);
}

/* Each row's `memory`: its RAM file's bytes on disk, 0 for a snapshot of the disks only. */
static void add_memory(struct host *h, const char *vps, json_t *rows)
{
	_cleanup_free_ char *top = host_vps_disks(h, vps, "snapshots");
	json_t *x;
	size_t i;

	json_array_foreach(rows, i, x)
	{
		_cleanup_free_ char *dir = NULL;
		long long m = 0;

		if (top && asprintf(&dir, "%s/%s", top,
				    json_string_value(json_object_get(x, "name"))) >= 0)
			m = memory_bytes(dir);
		json_object_set_new(x, "memory", json_integer(m));
	}
}

int snapshot_list(struct host *h, const char *vps, json_t **out, struct err **err)
{
	struct vps v;
	int r = store_vps_get(h->store, vps, &v, err);

	if (r < 0)
		return r;
	vps_free(&v);
	*out = store_snapshots(h->store, vps);
	add_memory(h, vps, *out);
	return 0;
}

static const struct kind_ops *snapshots_of(const struct vps *v, struct err **err)
{
	const struct kind_ops *o = kind_find(v->kind, v->engine);

	if (!o || !o->snapshot || !o->revert) {
		err_make(err, EINVAL, "kind %s (%s) takes no snapshots yet", vps_kind_name(v->kind),
			 vps_engine_name(v->engine));
		return NULL;
	}
	return o;
}

int snapshot_copy(struct host *h, struct vps *v, const char *dir, struct err **err)
{
	const struct kind_ops *o = snapshots_of(v, err);
	int r;

	if (!o)
		return -EINVAL;
	if (v->state != VPS_RUNNING && v->state != VPS_STOPPED)
		return err_make(err, EBUSY, "`%s` is %s: a copy is taken running or stopped",
				v->name, vps_state_name(v->state));
	if (mkdir_p(dir, 0700, 0700) < 0)
		return err_make(err, errno, "make `%s`", dir);
	if ((r = o->snapshot(h, v, dir, err)) < 0)
		return r;
	return fsync_dir(dir) < 0 ? err_make(err, errno, "sync `%s`", dir) : 0;
}

struct take {
	const char *name;
	bool memory; /* the running VPS's whole state too (kind_ops.snapshot_memory) */
	json_t *out;
};

static int take(struct host *h, struct vps *v, void *arg, struct err **err)
{
	struct take *t = arg;
	const struct kind_ops *o = snapshots_of(v, err);
	_cleanup_free_ char *top = host_vps_disks(h, v->name, "snapshots");
	_cleanup_free_ char *tmp = NULL, *dst = NULL, *settings = NULL;
	json_t *rows, *vj;
	long long now = (long long)time(NULL), size;
	size_t n;
	int r;

	if (!o)
		return -EINVAL;
	if (v->state != VPS_RUNNING && v->state != VPS_STOPPED)
		return err_make(err, EBUSY, "`%s` is %s: a snapshot is taken running or stopped",
				v->name, vps_state_name(v->state));
	if (t->memory && !o->snapshot_memory)
		return err_make(
			err, EINVAL,
			"`memory`: kind %s (%s) takes no memory snapshots (a vm on vmm does); "
			"take one of its disks without `memory`",
			vps_kind_name(v->kind), vps_engine_name(v->engine));
	if (t->memory && v->state != VPS_RUNNING)
		return err_make(err, EINVAL,
				"`memory`: `%s` is stopped; a memory snapshot is of a running VPS",
				v->name);
	rows = store_snapshots(h->store, v->name);
	n = json_array_size(rows);
	r = listed(rows, t->name);
	json_decref(rows);
	if (r)
		return err_make(err, EEXIST, "`%s` has a snapshot named `%s`", v->name, t->name);
	if (n >= SNAPSHOT_MAX)
		return err_make(err, ENOSPC, "`%s` has %zu snapshots, the most it may have",
				v->name, n);
	if (!top || asprintf(&tmp, "%s/.new-%s", top, t->name) < 0 ||
	    asprintf(&dst, "%s/%s", top, t->name) < 0)
		return err_make(err, ENOMEM, "snapshot");
	sweep(h, v->name);
	if (mkdir_p(tmp, 0700, 0700) < 0)
		return err_make(err, errno, "make `%s`", tmp);
	vj = vps_to_json(v);
	settings = json_dumps(vj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(vj);
	if (!settings) {
		r = err_make(err, ENOMEM, "snapshot");
		goto fail;
	}
	if ((r = t->memory ? o->snapshot_memory(h, v, tmp, err) : o->snapshot(h, v, tmp, err)) < 0)
		goto fail;
	testpoint("snapshot-copied", v->name);
	size = snapshot_dir_size(tmp);
	if (fsync_dir(tmp) < 0 || rename(tmp, dst) < 0 || fsync_dir(top) < 0) {
		r = err_make(err, errno, "rename `%s` to `%s`", tmp, dst);
		goto fail;
	}
	testpoint("snapshot-renamed", v->name);
	if ((r = store_snapshot_add(h->store, v->name, t->name, now, settings, size, err)) < 0) {
		life_rm_rf(dst);
		return r;
	}
	store_event(h->store, v->name, "snapshot", t->name);
	t->out = json_pack("{s:s, s:I, s:I, s:I}", "name", t->name, "created", (json_int_t)now,
			   "size", (json_int_t)size, "memory", (json_int_t)memory_bytes(dst));
	return 0;
fail:
	life_rm_rf(tmp);
	return err_wrap(err, "snapshot `%s` of `%s`", t->name, v->name);
}

int snapshot_create(struct host *h, const char *vps, json_t *body, json_t **out, struct err **err)
{
	struct take t = { .name = json_string_value(json_object_get(body, "name")) };
	json_t *x, *mem = json_object_get(body, "memory");
	const char *k;
	int r;

	json_object_foreach(
		body, k,
		x) if (strcmp(k, "name") &&
		       strcmp(k, "memory")) return err_make(err, EINVAL,
							    "`%s`: unknown field (name, memory)",
							    k);
	if (mem && !json_is_boolean(mem))
		return err_make(err, EINVAL, "`memory`: expected true or false");
	t.memory = json_is_true(mem);
	if (!snapshot_name_ok(t.name))
		return err_make(err, EINVAL,
				"`name`: expected 1 to 64 of A-Z, a-z, 0-9, `.`, `_` and `-`, "
				"starting with a letter or digit");
	r = life_with(h, vps, take, &t, err);
	if (r == 0)
		*out = t.out;
	return r;
}

/*
 * memory: dir is a memory snapshot, run on from there: a running VPS is
 * killed (what it holds now is thrown away with its disks), and started
 * again from the snapshot whether it ran or not.
 */
/* Seconds a running VPS has to shut down before a revert or restore kills it. */
#define REVERT_GRACE 5

static int put_back(struct host *h, struct vps *v, const char *dir, uint64_t disk, const char *what,
		    bool memory, struct err **err)
{
	const struct kind_ops *o = snapshots_of(v, err);
	bool was_running = v->state == VPS_RUNNING;
	struct vps now;
	int r;

	if (!o)
		return -EINVAL;
	if (v->state != VPS_RUNNING && v->state != VPS_STOPPED)
		return err_make(err, EBUSY, "`%s` is %s: a revert needs it running or stopped",
				v->name, vps_state_name(v->state));
	/*
	 * A copy whose disk is larger than the VPS's is now (taken before a
	 * revert to an older, smaller one) grows it back: that grow is admitted
	 * as a resize is, against the owner's quota and the host's room, with
	 * the numbers, before anything is stopped or touched.
	 */
	if (disk > v->disk) {
		struct vps grown = *v; /* shares v's strings: not freed */

		grown.disk = disk;
		policy_lock();
		r = policy_admit(h, v, &grown, NULL, err);
		policy_unlock();
		if (r < 0)
			return err_wrap(err, "revert `%s` to `%s`, whose disk is %llu MiB", v->name,
					what, (unsigned long long)(disk >> 20));
	}
	/* what the disks hold now is discarded: a short grace, so a guest that
	 * ignores the shutdown costs seconds, not the half minute of a stop */
	if (was_running &&
	    (r = memory ? life_kill_held(h, v, err) : life_stop_held(h, v, REVERT_GRACE, err)) < 0)
		return r;
	if ((r = store_vps_get(h->store, v->name, &now, err)) < 0)
		return r;
	testpoint("revert-stopped", v->name);
	r = o->revert(h, &now, dir, err);
	/* the disk's size is the copy's again (a grow since is undone with the disk) */
	if (r == 0 && disk > 0 && disk != now.disk) {
		now.disk = disk;
		r = store_vps_update(h->store, &now, err);
	} else if (r < 0 && disk > v->disk && now.disk != v->disk) {
		now.disk = v->disk; /* not reverted: the disk and its admitted size as they were */
		store_vps_update(h->store, &now, NULL);
	}
	if (r == 0)
		store_event(h->store, v->name, "revert", what);
	if (memory && r == 0) {
		/* a state vps-vmm refuses leaves it stopped, on the snapshot's disks */
		now.restore = dir;
		r = life_start_held(h, &now, err);
		now.restore = NULL;
	} else if (was_running) {
		/* reverted, or on its own disk still whole (a failed copy is never renamed in) */
		struct err *e = NULL;
		int s = life_start_held(h, &now, r == 0 ? err : &e);

		if (s < 0 && r == 0)
			r = s;
		else if (s < 0)
			pr_err("start `%s` again after a failed revert: %s", v->name, err_msg(e));
		err_free(&e);
	}
	vps_free(&now);
	return r;
}

int snapshot_put_back(struct host *h, struct vps *v, const char *dir, uint64_t disk,
		      const char *what, struct err **err)
{
	return put_back(h, v, dir, disk, what, false, err);
}

/*
 * A memory snapshot runs on in a VM of the shape it was saved in: the RAM,
 * the CPUs and the disks the monitor is given (a swap disk or none) are the
 * snapshot's settings, or the revert is refused before anything is touched.
 */
static int same_shape(const struct vps *v, json_t *settings, struct err **err)
{
	static const char *const keys[] = { "ram", "cpus", "swap", "engine", "boot", NULL };
	json_t *now = vps_to_json(v);
	int r = 0;

	if (!now)
		return err_make(err, ENOMEM, "revert");
	for (size_t i = 0; keys[i] && r == 0; i++) {
		json_t *a = json_object_get(settings, keys[i]), *b = json_object_get(now, keys[i]);

		if (!a || !b || !json_equal(a, b)) {
			_cleanup_free_ char *sa = a ? json_dumps(a, JSON_ENCODE_ANY) : NULL;
			_cleanup_free_ char *sb = b ? json_dumps(b, JSON_ENCODE_ANY) : NULL;

			r = err_make(
				err, EBUSY,
				"a memory snapshot runs on only in the VM it was taken of: its "
				"`%s` was %s, it is %s now; set it back first",
				keys[i], sa ? sa : "none", sb ? sb : "none");
		}
	}
	json_decref(now);
	return r;
}

static int revert(struct host *h, struct vps *v, void *arg, struct err **err)
{
	const char *name = arg;
	_cleanup_free_ char *top = host_vps_disks(h, v->name, "snapshots"), *dir = NULL;
	json_t *rows, *snap = NULL, *x;
	json_int_t disk;
	bool memory;
	size_t i;
	int r;

	rows = store_snapshots(h->store, v->name);
	json_array_foreach(rows, i, x) if (!strcmp(json_string_value(json_object_get(x, "name")),
						   name)) snap = x;
	if (!snap) {
		json_decref(rows);
		return err_make(err, ENOENT, "`%s` has no snapshot named `%s`", v->name, name);
	}
	if (!top || asprintf(&dir, "%s/%s", top, name) < 0) {
		json_decref(rows);
		return err_make(err, ENOMEM, "revert");
	}
	disk = json_integer_value(json_object_get(json_object_get(snap, "settings"), "disk"));
	memory = has_memory(dir);
	if (memory && !kind_find(v->kind, v->engine)->snapshot_memory)
		r = err_make(err, EBUSY, "kind %s (%s) cannot run on from a memory snapshot",
			     vps_kind_name(v->kind), vps_engine_name(v->engine));
	else if (memory)
		r = same_shape(v, json_object_get(snap, "settings"), err);
	else
		r = 0;
	if (r == 0)
		r = put_back(h, v, dir, disk > 0 ? (uint64_t)disk : 0, name, memory, err);
	json_decref(rows);
	return r < 0 ? err_wrap(err, "revert `%s` to `%s`", v->name, name) : 0;
}

int snapshot_revert(struct host *h, const char *vps, const char *name, struct err **err)
{
	if (!snapshot_name_ok(name))
		return err_make(err, ENOENT, "`%s` has no snapshot named `%.64s`", vps, name);
	return life_with(h, vps, revert, (void *)name, err);
}

static int rm(struct host *h, struct vps *v, void *arg, struct err **err)
{
	const char *name = arg;
	int r;

	/* the row first: a crash after it leaves files the next sweep takes */
	if ((r = store_snapshot_delete(h->store, v->name, name, err)) < 0)
		return r;
	store_event(h->store, v->name, "snapshot-removed", name);
	sweep(h, v->name);
	return 0;
}

int snapshot_rm(struct host *h, const char *vps, const char *name, struct err **err)
{
	if (!snapshot_name_ok(name))
		return err_make(err, ENOENT, "`%s` has no snapshot named `%.64s`", vps, name);
	return life_with(h, vps, rm, (void *)name, err);
}
