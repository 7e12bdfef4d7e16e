// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The template store (tmpl.h, docs/templates.md). A template is a name with
 * numbered versions; a version is a directory the store owns:
 *
 *   DATA/templates/NAME/N/template.json   what it is, how and when it was made
 *   DATA/templates/NAME/N/NAME-vN-SHA.tar.zst   ct: the rootfs tarball
 *   DATA/templates/NAME/N/vm/             vm: vmlinuz, initrd.img, rootfs.img
 *
 * A version appears by rename of a finished directory and is never changed
 * afterwards: a rebuild or an import makes N+1, VPSes made from N keep
 * their own copies (a ct unpacks the tarball into its disk, a vm copies
 * rootfs.img and the kernel), and create and reinstall take the newest.
 * The tarball's name carries the version and hash because layered storage
 * (src/ctm/layer.c) keys its shared unpacked copy by that name.
 *
 * The templates the host builds itself (busybox, debian-11/12/13 through
 * src/ct/templates/mktemplate and src/host/templates/mkvmtemplate) enter
 * the store at their first use or `vps template build`. Imports never
 * reach a root process's parser: a tarball is read by vps-tmpl-import
 * (src/tmpl/import.c, confined) and written anew; a disk image is read by
 * qemu-img as uid 65534 with its format named, never probed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "host/store.h"
#include "host/tmpl.h"
#include "sys/disk.h"
#include "sys/spawn.h"

/* What the host builds itself, and in which forms (a rootfs tarball, a VM disk). */
/*
 * old_cloud_init: the release's cloud-init predates 22.3, which reads root's
 * password hash only from `chpasswd.list` (bullseye's 20.4), where newer ones
 * read `chpasswd.users` and log `list` as deprecated (vmdisk.c).
 */
static const struct builtin {
	const char *name, *os, *release, *init;
	bool rootfs, disk, old_cloud_init;
} builtins[] = {
	{ "busybox", "busybox", "", "busybox", true, false, false },
	{ "debian-11", "debian", "11", "systemd", true, true, true },
	{ "debian-12", "debian", "12", "systemd", true, true, false },
	{ "debian-13", "debian", "13", "systemd", true, true, false },
};

#define NR_BUILTINS (sizeof(builtins) / sizeof(builtins[0]))
#define MAX_UNPACKED (32ULL << 30) /* an imported rootfs, unpacked */
#define MAX_DISK (256ULL << 30) /* an imported disk's virtual size */
#define IMPORT_BASE 934464U /* vps-tmpl-oci's ids: the 65536 below the first container's */

/* One store change at a time (vpsd answers on several threads). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static const struct builtin *builtin(const char *name)
{
	for (size_t i = 0; i < NR_BUILTINS; i++)
		if (!strcmp(builtins[i].name, name))
			return &builtins[i];
	return NULL;
}

bool tmpl_old_cloud_init(const char *name)
{
	const struct builtin *b = name ? builtin(name) : NULL;

	return b && b->old_cloud_init;
}

bool tmpl_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > 64 ||
	    !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n;
}

bool tmpl_plan_offers(json_t *plan, const char *name)
{
	json_t *list = json_object_get(plan, "templates"), *t;
	size_t i;

	if (!json_array_size(list))
		return true;
	json_array_foreach(list, i, t) if (!strcmp(json_string_value(t) ?: "", name)) return true;
	return false;
}

int tmpl_offered(struct host *h, const char *plan, const char *name, struct err **err)
{
	json_t *p, *t;
	_cleanup_free_ char *list = NULL;
	size_t i;
	int r = 0;

	if (!plan)
		return 0;
	if (!(p = store_plan_get(h->store, plan)))
		return err_make(err, EINVAL, "`plan`: no plan `%s`", plan);
	if (!tmpl_plan_offers(p, name)) {
		json_array_foreach(json_object_get(p, "templates"), i, t)
		{
			char *more = NULL;

			if (asprintf(&more, "%s%s%s", list ?: "", list ? ", " : "",
				     json_string_value(t)) < 0) {
				more = NULL;
				break;
			}
			free(list);
			list = more;
		}
		r = err_make(err, EPERM, "`template`: plan `%s` offers %s, not `%.64s`", plan,
			     list ?: "other templates", name);
	}
	json_decref(p);
	return r;
}

static char *tdir(struct host *h, const char *name, int version)
{
	char *p = NULL;
	int r = version > 0 ? asprintf(&p, "%s/templates/%s/%d", h->data_dir, name, version) :
		name	    ? asprintf(&p, "%s/templates/%s", h->data_dir, name) :
			      asprintf(&p, "%s/templates", h->data_dir);

	return r < 0 ? NULL : p;
}

/* The versions of NAME, newest last; 0 when none. */
static int newest(struct host *h, const char *name)
{
	_cleanup_free_ char *d = tdir(h, name, 0);
	DIR *dir = d ? opendir(d) : NULL;
	struct dirent *e;
	int best = 0;

	while (dir && (e = readdir(dir))) {
		char *end;
		long v = strtol(e->d_name, &end, 10);

		if (*end == 0 && v > best && v < 1000000)
			best = (int)v;
	}
	if (dir)
		closedir(dir);
	return best;
}

static json_t *meta(struct host *h, const char *name, int version)
{
	_cleanup_free_ char *d = tdir(h, name, version);
	_cleanup_free_ char *p = NULL;

	if (!d || asprintf(&p, "%s/template.json", d) < 0)
		return NULL;
	return json_load_file(p, 0, NULL);
}

static const char *arch(void)
{
	static struct utsname u;

	if (!*u.machine && uname(&u) < 0)
		return "unknown";
	return u.machine;
}

static json_t *forms_of(bool rootfs, bool disk)
{
	json_t *a = json_array();

	if (rootfs)
		json_array_append_new(a, json_string(tmpl_form_name(TMPL_ROOTFS)));
	if (disk)
		json_array_append_new(a, json_string(tmpl_form_name(TMPL_DISK)));
	return a;
}

/* A builtin not built yet: what the list says of it. */
static json_t *builtin_row(const struct builtin *b)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:i, s:s}", "name", b->name, "os", b->os,
			 "release", b->release, "arch", arch(), "forms",
			 forms_of(b->rootfs, b->disk), "init", b->init, "version", 0, "source",
			 "built on this host at first use");
}

json_t *tmpl_list(struct host *h)
{
	_cleanup_free_ char *d = tdir(h, NULL, 0);
	json_t *a = json_array();
	DIR *dir;
	struct dirent *e;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < NR_BUILTINS; i++)
		if (!newest(h, builtins[i].name)) {
			json_array_append_new(a, builtin_row(&builtins[i]));
		}
	dir = d ? opendir(d) : NULL;
	while (dir && (e = readdir(dir))) {
		int v = tmpl_name_ok(e->d_name) ? newest(h, e->d_name) : 0;
		json_t *m = v ? meta(h, e->d_name, v) : NULL;

		if (m) {
			json_object_set_new(m, "versions", json_integer(v));
			json_array_append_new(a, m);
		}
	}
	if (dir)
		closedir(dir);
	pthread_mutex_unlock(&lock);
	return a;
}

json_t *tmpl_show(struct host *h, const char *name)
{
	json_t *out = NULL, *all;
	int v;

	if (!tmpl_name_ok(name))
		return NULL;
	pthread_mutex_lock(&lock);
	v = newest(h, name);
	if (v) {
		all = json_array();
		for (int i = 1; i <= v; i++) {
			json_t *m = meta(h, name, i);

			if (m)
				json_array_append_new(all, m);
		}
		out = meta(h, name, v);
		if (out)
			json_object_set_new(out, "history", all);
		else
			json_decref(all);
	} else if (builtin(name)) {
		out = builtin_row(builtin(name));
		json_object_set_new(out, "history", json_array());
	}
	pthread_mutex_unlock(&lock);
	return out;
}

/*
 * Run argv (no shell, no PATH); the first line it prints on stdout in *line
 * (when line is not NULL). Its stderr is progress, of which the last line
 * is the error when it fails.
 */
static int run_out(char *const *argv, char **line, bool whole, int timeout, int fail,
		   struct err **err)
{
	const struct sys_spawn s = { .argv = argv,
				     .in = SYS_SPAWN_NULL,
				     .out = SYS_SPAWN_CAPTURE,
				     .err = SYS_SPAWN_CAPTURE,
				     .out_max = 65536,
				     .err_max = 4096,
				     .timeout_s = timeout,
				     .flags = SYS_SPAWN_DIE_WITH_PARENT };
	struct sys_spawn_result r;
	char msg[1024];
	int st = sys_spawn(&s, &r, err);

	if (st < 0)
		return st;
	if (st) {
		sys_spawn_last_line(r.err, msg, sizeof(msg));
		sys_spawn_result_free(&r);
		return err_make(err, st == 127 ? ENOENT : fail, "%s",
				*msg	    ? msg :
				r.timed_out ? "timed out" :
					      "failed");
	}
	if (!whole && strchr(r.out, '\n'))
		*strchr(r.out, '\n') = 0;
	if (line) {
		*line = r.out;
		r.out = NULL;
	}
	sys_spawn_result_free(&r);
	return 0;
}

static int run_errno(char *const *argv, char **line, int timeout, int fail, struct err **err)
{
	return run_out(argv, line, false, timeout, fail, err);
}

static int run(char *const *argv, char **line, int timeout, struct err **err)
{
	return run_errno(argv, line, timeout, EIO, err);
}

static int sha256(const char *path, char out[65], struct err **err)
{
	char *argv[] = { "/usr/bin/sha256sum", (char *)path, NULL };
	_cleanup_free_ char *line = NULL;
	int r = run(argv, &line, 600, err);

	if (r < 0)
		return r;
	if (strlen(line) < 64)
		return err_make(err, EIO, "sha256sum `%s`: no digest", path);
	memcpy(out, line, 64);
	out[64] = 0;
	return 0;
}

static int copy(const char *from, const char *to, struct err **err)
{
	char *argv[] = { "/bin/cp",    "--sparse=always", "--reflink=auto",
			 (char *)from, (char *)to,	  NULL };

	return run(argv, NULL, 900, err) < 0 ? err_wrap(err, "copy `%s`", from) : 0;
}

static void rm_rf(const char *dir)
{
	char *argv[] = { "/bin/rm", "-rf", "--one-file-system", (char *)dir, NULL };

	run(argv, NULL, 600, NULL);
}

static long long file_size(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? (long long)st.st_size : 0;
}

/*
 * A new version: a scratch directory DATA/templates/NAME/.new.PID made, the
 * caller fills it, then commit() writes template.json and renames it to N.
 */
static char *scratch(struct host *h, const char *name, struct err **err)
{
	_cleanup_free_ char *d = tdir(h, name, 0);
	char *s = NULL;

	if (!d || mkdir_p(d, 0700, 0711) < 0 || asprintf(&s, "%s/.new.%d", d, (int)getpid()) < 0)
		return err_make(err, errno ? errno : ENOMEM, "template `%s`: its directory", name),
		       NULL;
	rm_rf(s);
	if (mkdir(s, 0700) < 0) {
		err_make(err, errno, "template `%s`: mkdir `%s`", name, s);
		free(s);
		return NULL;
	}
	return s;
}

static int commit(struct host *h, const char *name, const char *s, json_t *m, int version,
		  struct err **err)
{
	_cleanup_free_ char *p = NULL, *to = tdir(h, name, version);
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	json_object_set_new(m, "name", json_string(name));
	json_object_set_new(m, "version", json_integer(version));
	json_object_set_new(m, "created", json_string(when));
	json_object_set_new(m, "arch", json_string(arch()));
	if (!to || asprintf(&p, "%s/template.json", s) < 0 ||
	    json_dump_file(m, p, JSON_INDENT(1) | JSON_SORT_KEYS) < 0 || rename(s, to) < 0)
		return err_make(err, errno ? errno : EIO, "template `%s`: save version %d", name,
				version);
	return 0;
}

/* The ct tarball `src` into the scratch dir as NAME-vN-SHA16.tar.zst; its sha256 and size in m. */
static int put_tarball(const char *name, int version, const char *src, bool move, const char *s,
		       json_t *m, struct err **err)
{
	_cleanup_free_ char *to = NULL;
	char sum[65];
	int r = sha256(src, sum, err);

	if (r < 0)
		return r;
	if (asprintf(&to, "%s/%s-v%d-%.16s.tar.zst", s, name, version, sum) < 0)
		return err_make(err, ENOMEM, "template `%s`", name);
	if (move ? rename(src, to) < 0 : copy(src, to, err) < 0)
		return move ? err_make(err, errno, "template `%s`: move the tarball", name) : -EIO;
	json_object_set_new(m, "sha256", json_string(sum));
	json_object_set_new(m, "size", json_integer(file_size(to)));
	json_object_set_new(m, "file", json_string(strrchr(to, '/') + 1));
	return 0;
}

/* The VM files from a template directory (mkvmtemplate's) into s/vm/. */
static int put_vm(const char *vdir, const char *rootfs, const char *s, json_t *m, struct err **err)
{
	static const char *const files[] = { "vmlinuz", "initrd.img", "version" };
	_cleanup_free_ char *vm = NULL, *img = NULL;
	char sum[65];
	int r = 0;

	if (asprintf(&vm, "%s/vm", s) < 0 || mkdir(vm, 0700) < 0 ||
	    asprintf(&img, "%s/rootfs.img", vm) < 0)
		return err_make(err, errno ? errno : ENOMEM, "mkdir `%s/vm`", s);
	for (size_t i = 0; r == 0 && i < sizeof(files) / sizeof(files[0]); i++) {
		_cleanup_free_ char *from = NULL, *to = NULL;

		if (asprintf(&from, "%s/%s", vdir, files[i]) < 0 ||
		    asprintf(&to, "%s/%s", vm, files[i]) < 0)
			return err_make(err, ENOMEM, "copy");
		r = copy(from, to, err);
	}
	if (r == 0 && rootfs)
		r = rename(rootfs, img) < 0 ? err_make(err, errno, "move the disk") : 0;
	else if (r == 0) {
		_cleanup_free_ char *from = NULL;

		if (asprintf(&from, "%s/rootfs.img", vdir) < 0)
			return err_make(err, ENOMEM, "copy");
		r = copy(from, img, err);
	}
	if (r == 0 && !json_object_get(m, "sha256") && (r = sha256(img, sum, err)) == 0) {
		json_object_set_new(m, "sha256", json_string(sum));
		json_object_set_new(m, "size", json_integer(file_size(img)));
	}
	if (r == 0)
		json_object_set_new(m, "vm_disk_size", json_integer(file_size(img)));
	return r;
}

/* Run a builder script; the path it prints. */
static int builder(const char *prog, const char *name, char **path, struct err **err)
{
	char *argv[] = { (char *)prog, (char *)name, NULL };

	if (run(argv, path, 1800, err) < 0)
		return err_wrap(err, "build template `%s`", name);
	if (!**path)
		return err_make(err, EIO, "build template `%s`: `%s` printed no path", name, prog);
	return 0;
}

static int build_locked(struct host *h, const char *name, json_t **out, struct err **err)
{
	const struct builtin *b = builtin(name);
	_cleanup_free_ char *tar = NULL, *vdir = NULL, *s = NULL;
	int v = newest(h, name), r = 0;
	json_t *m, *old = v ? meta(h, name, v) : NULL;
	char sum[65] = "";

	if (!b) {
		json_decref(old);
		return err_make(err, ENOENT,
				"template `%s`: this host builds busybox, debian-11, debian-12 and "
				"debian-13; others are imported",
				name);
	}
	r = builder(h->mktemplate, name, &tar, err);
	if (r == 0 && b->disk)
		r = builder(h->mkvmtemplate, name, &vdir, err);
	if (r == 0)
		r = sha256(tar, sum, err);
	/* the same tarball as the newest version: nothing new */
	if (r == 0 && old &&
	    !strcmp(json_string_value(json_object_get(old, "sha256")) ?: "", sum)) {
		json_object_set_new(old, "unchanged", json_true());
		*out = old;
		return 0;
	}
	json_decref(old);
	if (r == 0 && !(s = scratch(h, name, err)))
		r = -EIO;
	m = json_pack("{s:s, s:s, s:s, s:s}", "os", b->os, "release", b->release, "init", b->init,
		      "source",
		      b->disk ? "built on this host (mktemplate, mkvmtemplate)" :
				"built on this host (mktemplate)");
	json_object_set_new(m, "forms", forms_of(b->rootfs, b->disk));
	if (r == 0)
		r = put_tarball(name, v + 1, tar, false, s, m, err);
	if (r == 0 && b->disk)
		r = put_vm(vdir, NULL, s, m, err);
	if (r == 0)
		r = commit(h, name, s, m, v + 1, err);
	if (r < 0 && s)
		rm_rf(s);
	if (r == 0)
		*out = m;
	else
		json_decref(m);
	return r;
}

int tmpl_build(struct host *h, const char *name, json_t **out, struct err **err)
{
	int r;

	if (!tmpl_name_ok(name))
		return err_make(err, EINVAL, "`%s`: not a template name", name);
	pthread_mutex_lock(&lock);
	r = build_locked(h, name, out, err);
	pthread_mutex_unlock(&lock);
	return r;
}

/* --- imports ------------------------------------------------------------------------- */

/*
 * vps-tmpl-import's summary line `line` into m (os, release, init, the
 * counts) and its tarball `tar` into the version.
 */
static int summary(const char *name, int version, const char *tar, const char *line,
		   const char *source, const char *s, json_t *m, struct err **err)
{
	json_t *sum;

	if (!(sum = json_loads(line, 0, NULL)))
		return err_make(err, EIO, "import `%s`: vps-tmpl-import said `%s`", name, line);
	json_object_set_new(m, "os", json_incref(json_object_get(sum, "os")) ?: json_string(""));
	json_object_set_new(m, "release",
			    json_incref(json_object_get(sum, "release")) ?: json_string(""));
	json_object_set_new(m, "init", json_incref(json_object_get(sum, "init")));
	json_object_set_new(m, "forms", forms_of(true, false));
	if (source)
		json_object_set_new(m, "source", json_string(source));
	json_object_del(sum, "os"), json_object_del(sum, "release"), json_object_del(sum, "init");
	json_object_set_new(m, "import", sum); /* entries, bytes, what was tamed */
	return put_tarball(name, version, tar, true, s, m, err);
}

/*
 * A rootfs tarball through vps-tmpl-import: the upload, or (`reader` not
 * NULL) the stream a reader program pipes into it (`READER... -- IMPORT -
 * OUT`: a stopped container's root, tmpl_from_stream).
 */
static int import_ct(struct host *h, const char *name, const char *upload, char *const *reader,
		     const char *s, int version, json_t *m, struct err **err)
{
	_cleanup_free_ char *prog = host_bin(h, "vps-tmpl-import"), *tar = NULL, *line = NULL;
	char cap[32];
	int r;

	snprintf(cap, sizeof(cap), "%llu", MAX_UNPACKED);
	if (getenv("VPS_TEMPLATE_MAX_BYTES")) /* the tests' small cap */
		snprintf(cap, sizeof(cap), "%s", getenv("VPS_TEMPLATE_MAX_BYTES"));
	if (!prog || asprintf(&tar, "%s/import.tar.zst", s) < 0)
		return err_make(err, ENOMEM, "import");
	{
		char *argv[24] = { NULL };
		size_t n = 0;

		for (; reader && reader[n] && n < 16; n++)
			argv[n] = reader[n];
		if (reader)
			argv[n++] = "--";
		argv[n++] = prog;
		argv[n++] = reader ? "-" : (char *)upload;
		argv[n++] = tar;
		argv[n++] = "--max-bytes";
		argv[n++] = cap;
		/* its refusal is the upload's fault: 400 */
		r = run_errno(argv, &line, 1800, EINVAL, err);
	}
	if (r < 0)
		return err_wrap(err, "import `%s`", name);
	return summary(name, version, tar, line,
		       reader ? "made from a container (its root, stopped)" :
				"imported rootfs tarball",
		       s, m, err);
}

/*
 * vps-tmpl-oci's scratch space: an ext4 filesystem in a sparse file of the
 * upload's size plus the unpacked cap (and room for ext4's own), mounted
 * nosuid, nodev, noexec at WORK/fs and given to the importer's ids. What
 * the unpack writes in all is then bounded by the file: a layer of many
 * files each under the cap ends in ENOSPC there, never on the host's disk.
 * The image file is root's, outside WORK: the importer cannot reach it.
 */
static int scratch_fs(const char *img, const char *mnt, unsigned long long bytes, struct err **err)
{
	unsigned long long size = (bytes + (bytes >> 4) + (64ULL << 20) + SYS_DISK_ALIGN - 1) &
				  ~(SYS_DISK_ALIGN - 1);
	_cleanup_free_ char *loop = NULL;

	if (mkdir(mnt, 0700) < 0)
		return err_make(err, errno, "mkdir `%s`", mnt);
	if (sys_disk_create(img, size, SYS_DISK_THIN, err) < 0)
		return -EIO;
	if (sys_disk_attach(img, false, &loop, err) < 0)
		return -EIO;
	if (sys_disk_mount(loop, mnt, false, err) < 0) {
		sys_disk_detach(loop, NULL);
		return -EIO;
	}
	if (mount(NULL, mnt, NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME,
		  NULL) < 0 ||
	    chown(mnt, IMPORT_BASE, IMPORT_BASE) < 0 || chmod(mnt, 0700) < 0)
		return err_make(err, errno, "the scratch filesystem `%s`", mnt);
	return 0;
}

/*
 * An OCI image layout (a tar of one): vps-tmpl-oci unpacks it with umoci in
 * the importer's user namespace and a pivoted root (ids IMPORT_BASE..+65535,
 * below every container's range) and streams the root filesystem into
 * vps-tmpl-import, so every rule of a tarball applies; the image's digest
 * and config go into the version's `oci`.
 */
static int import_oci(struct host *h, const char *name, const char *ref, const char *upload,
		      const char *s, int version, json_t *m, struct err **err)
{
	_cleanup_free_ char *prog = host_bin(h, "vps-tmpl-oci"),
			    *imp = host_bin(h, "vps-tmpl-import"), *up = NULL, *work = NULL,
			    *in = NULL, *tar = NULL, *out = NULL, *img = NULL, *mnt = NULL;
	char cap[32], *second;
	json_t *image;
	int r;

	if (ref &&
	    (!*ref || strlen(ref) > 128 ||
	     strspn(ref, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
		     strlen(ref)))
		return err_make(err, EINVAL, "`ref`: 1-128 of A-Z a-z 0-9 . _ -, not `%s`", ref);
	snprintf(cap, sizeof(cap), "%llu", MAX_UNPACKED);
	if (getenv("VPS_TEMPLATE_MAX_BYTES")) /* the tests' small cap */
		snprintf(cap, sizeof(cap), "%s", getenv("VPS_TEMPLATE_MAX_BYTES"));
	if (!prog || !imp || asprintf(&up, "%s/uploads", h->data_dir) < 0 ||
	    asprintf(&work, "%s/.oci.XXXXXX", up) < 0 || asprintf(&tar, "%s/import.tar.zst", s) < 0)
		return err_make(err, ENOMEM, "import");
	/* reached, not listed: the importer's ids own their directory and nothing else here */
	if (chmod(up, 0711) < 0)
		return err_make(err, errno, "import `%s`: chmod `%s`", name, up);
	if (!mkdtemp(work) || chown(work, IMPORT_BASE, IMPORT_BASE) < 0 || chmod(work, 0700) < 0 ||
	    asprintf(&in, "%s/in", work) < 0)
		return err_make(err, errno ? errno : ENOMEM, "import `%s`: its work directory",
				name);
	if (rename(upload, in) < 0 || chown(in, IMPORT_BASE, IMPORT_BASE) < 0 ||
	    chmod(in, 0400) < 0) {
		r = err_make(err, errno, "import `%s`: hand the upload over", name);
		rm_rf(work);
		return r;
	}
	if (asprintf(&img, "%s.img", work) < 0 || asprintf(&mnt, "%s/fs", work) < 0) {
		rm_rf(work);
		return err_make(err, ENOMEM, "import");
	}
	r = scratch_fs(img, mnt, (unsigned long long)file_size(in) + strtoull(cap, NULL, 10), err);
	if (r < 0) {
		umount2(mnt, MNT_DETACH);
		unlink(img);
		rm_rf(work);
		return err_wrap(err, "import `%s`", name);
	}
	{
		char *argv[] = { prog, work, (char *)(ref ? ref : "-"),
				 cap,  "--", imp,
				 "-",  tar,  "--max-bytes",
				 cap,  NULL };

		/* its refusal is the upload's fault: 400 */
		r = run_out(argv, &out, true, 1800, EINVAL, err);
	}
	umount2(mnt, MNT_DETACH); /* the loop device goes with it (autoclear) */
	unlink(img);
	rm_rf(work);
	if (r < 0)
		return err_wrap(err, "import `%s`", name);
	second = strchr(out, '\n');
	if (!second || !(image = json_loads(second + 1, JSON_DISABLE_EOF_CHECK, NULL)))
		return err_make(err, EIO, "import `%s`: vps-tmpl-oci said `%s`", name, out);
	*second = 0;
	json_object_set_new(m, "oci", image);
	r = summary(name, version, tar, out, NULL, s, m, err);
	if (r == 0 && !strcmp(json_string_value(json_object_get(m, "init")) ?: "", "none"))
		return err_make(err, EINVAL,
				"import `%s`: the image has no /sbin/init: an application image "
				"(its Entrypoint and Cmd are in `oci`); a container here boots its "
				"own init, so it is refused",
				name);
	if (r == 0)
		json_object_set_new(
			m, "source",
			json_sprintf("imported OCI image (ref `%s`, %s)",
				     json_string_value(json_object_get(image, "ref")) ?: "",
				     json_string_value(json_object_get(image, "digest")) ?: ""));
	return r;
}

/* qemu-img info, the checks, and convert to raw; as uid 65534, the format named. */
static int convert_vm(const char *name, const char *format, const char *upload, const char *raw,
		      struct err **err)
{
	_cleanup_free_ char *info = NULL;
	json_t *j, *fs;
	int r;

	{
		char *argv[] = { "/usr/bin/setpriv",
				 "--reuid=65534",
				 "--regid=65534",
				 "--clear-groups",
				 "--no-new-privs",
				 "--inh-caps=-all",
				 "/usr/bin/qemu-img",
				 "info",
				 "-f",
				 (char *)format,
				 "--output=json",
				 (char *)upload,
				 NULL };
		const struct sys_spawn sp = { .argv = argv,
					      .in = SYS_SPAWN_NULL,
					      .out = SYS_SPAWN_CAPTURE,
					      .err = SYS_SPAWN_CAPTURE,
					      .timeout_s = 120,
					      .flags = SYS_SPAWN_DIE_WITH_PARENT };
		struct sys_spawn_result res;
		char msg[1024];

		r = sys_spawn(&sp, &res, err);
		if (r < 0)
			return r;
		sys_spawn_last_line(res.err, msg, sizeof(msg));
		info = res.out, res.out = NULL;
		sys_spawn_result_free(&res);
		if (r != 0)
			return err_make(err, EINVAL, "import `%s`: not a %s image: %s", name,
					format, *msg ? msg : "qemu-img info failed");
	}
	j = json_loads(info, 0, NULL);
	fs = json_object_get(json_object_get(j, "format-specific"), "data");
	if (!j || strcmp(json_string_value(json_object_get(j, "format")) ?: "", format))
		r = err_make(err, EINVAL, "import `%s`: qemu-img does not read it as %s", name,
			     format);
	else if (json_object_get(j, "backing-filename") ||
		 json_object_get(j, "full-backing-filename"))
		r = err_make(err, EINVAL,
			     "import `%s`: the image names a backing file (`%s`): refused, a "
			     "template is one self-contained disk",
			     name, json_string_value(json_object_get(j, "backing-filename")) ?: "");
	else if (json_object_get(fs, "data-file"))
		r = err_make(err, EINVAL,
			     "import `%s`: the image names an external data file: refused", name);
	else if (json_integer_value(json_object_get(j, "virtual-size")) <= 0 ||
		 (unsigned long long)json_integer_value(json_object_get(j, "virtual-size")) >
			 MAX_DISK)
		r = err_make(err, EINVAL,
			     "import `%s`: virtual size %lld: more than %llu GiB or none", name,
			     (long long)json_integer_value(json_object_get(j, "virtual-size")),
			     MAX_DISK >> 30);
	json_decref(j);
	if (r < 0)
		return r;
	{
		char *argv[] = { "/usr/bin/setpriv",
				 "--reuid=65534",
				 "--regid=65534",
				 "--clear-groups",
				 "--no-new-privs",
				 "--inh-caps=-all",
				 "/usr/bin/qemu-img",
				 "convert",
				 "-f",
				 (char *)format,
				 "-O",
				 "raw",
				 "-S",
				 "4k",
				 (char *)upload,
				 (char *)raw,
				 NULL };

		if ((r = run_errno(argv, NULL, 1800, EINVAL, err)) < 0)
			return err_wrap(err, "import `%s`: convert", name);
	}
	return 0;
}

/*
 * A VM disk: qemu-img, as uid 65534 with no new privileges, reads the
 * upload with its format named; a qcow2 that names a backing or data file
 * is refused before any conversion opens it.
 */
static int import_vm(struct host *h, const char *name, const char *format, const char *upload,
		     const char *s, json_t *m, struct err **err)
{
	_cleanup_free_ char *up = NULL, *work = NULL, *raw = NULL, *vdir = NULL, *in = NULL;
	int r;

	if (strcmp(format, "raw") && strcmp(format, "qcow2"))
		return err_make(err, EINVAL, "`format`: raw or qcow2, not `%s`", format);
	/*
	 * A directory of uid 65534's under DATA/uploads (0711: reached, not
	 * listed) holds the upload and the conversion; nothing else of the
	 * host's is open to that uid.
	 */
	if (asprintf(&up, "%s/uploads", h->data_dir) < 0 ||
	    asprintf(&work, "%s/.vm.XXXXXX", up) < 0)
		return err_make(err, ENOMEM, "import");
	if (chmod(up, 0711) < 0)
		return err_make(err, errno, "import `%s`: chmod `%s`", name, up);
	if (!mkdtemp(work) || chown(work, 65534, 65534) < 0 || chmod(work, 0700) < 0 ||
	    asprintf(&in, "%s/in.%s", work, format) < 0 || asprintf(&raw, "%s/disk.raw", work) < 0)
		return err_make(err, errno ? errno : ENOMEM, "import `%s`: its work directory",
				name);
	if (rename(upload, in) < 0 || chown(in, 65534, 65534) < 0 || chmod(in, 0400) < 0) {
		r = err_make(err, errno, "import `%s`: hand the upload over", name);
		rm_rf(work);
		return r;
	}
	r = convert_vm(name, format, in, raw, err);
	if (r == 0 && (chown(raw, 0, 0) < 0 || chmod(raw, 0600) < 0))
		r = err_make(err, errno, "import `%s`: own the disk", name);
	/* the kernel and initramfs the host's debian-12 VM template boots with */
	if (r == 0)
		r = builder(h->mkvmtemplate, "debian-12", &vdir, err);
	if (r == 0) {
		json_object_set_new(m, "forms", forms_of(false, true));
		json_object_set_new(m, "os", json_string(""));
		json_object_set_new(m, "release", json_string(""));
		json_object_set_new(m, "init", json_string("unknown"));
		json_object_set_new(m, "source", json_sprintf("imported %s disk image", format));
		r = put_vm(vdir, raw, s, m, err);
	}
	rm_rf(work);
	return r;
}

static int import_any(struct host *h, const char *name, enum tmpl_form form, const char *format,
		      const char *ref, const char *upload, char *const *reader, json_t **out,
		      struct err **err)
{
	_cleanup_free_ char *s = NULL;
	json_t *m = json_object();
	int v, r;

	if (!tmpl_name_ok(name))
		r = err_make(err, EINVAL, "`%s`: a template's name is 1-64 of a-z 0-9 . -", name);
	else if (builtin(name))
		r = err_make(err, EEXIST, "`%s`: a name this host builds itself; import another",
			     name);
	else
		r = 0;
	if (r < 0) {
		if (upload)
			unlink(upload);
		json_decref(m);
		return r;
	}
	pthread_mutex_lock(&lock);
	v = newest(h, name) + 1;
	if (!(s = scratch(h, name, err)))
		r = -EIO;
	if (r == 0)
		r = form == TMPL_DISK ? import_vm(h, name, format, upload, s, m, err) :
		    format && !strcmp(format, "oci") ?
					import_oci(h, name, ref, upload, s, v, m, err) :
					import_ct(h, name, upload, reader, s, v, m, err);
	if (r == 0)
		r = commit(h, name, s, m, v, err);
	if (r < 0 && s)
		rm_rf(s);
	if (r < 0 && !newest(h, name)) {
		_cleanup_free_ char *d = tdir(h, name, 0);

		if (d)
			rmdir(d);
	}
	pthread_mutex_unlock(&lock);
	if (upload)
		unlink(upload);
	if (r == 0)
		*out = m;
	else
		json_decref(m);
	return r;
}

int tmpl_import(struct host *h, const char *name, enum tmpl_form form, const char *format,
		const char *ref, const char *upload, json_t **out, struct err **err)
{
	return import_any(h, name, form, format, ref, upload, NULL, out, err);
}

/* A new version's record names where it came from (a VPS), in its template.json too. */
static void record_source(struct host *h, const char *name, json_t *out, const char *source)
{
	_cleanup_free_ char *p = NULL,
			    *d = tdir(h, name,
				      (int)json_integer_value(json_object_get(out, "version")));

	json_object_set_new(out, "source", json_string(source));
	if (d && asprintf(&p, "%s/template.json", d) >= 0)
		json_dump_file(out, p, JSON_INDENT(1) | JSON_SORT_KEYS);
}

int tmpl_from_disk(struct host *h, const char *name, const char *disk, const char *source,
		   json_t **out, struct err **err)
{
	_cleanup_free_ char *up = NULL, *copy_path = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (asprintf(&up, "%s/uploads", h->data_dir) < 0 ||
	    asprintf(&copy_path, "%s/.from.%s.XXXXXX", up, name) < 0)
		return err_make(err, ENOMEM, "template `%s`", name);
	mkdir(up, 0700);
	if ((fd = mkstemp(copy_path)) < 0)
		return err_make(err, errno, "template `%s`: `%s`", name, copy_path);
	unlink(copy_path); /* cp makes it anew: sparse, reflinked where it can */
	if ((r = copy(disk, copy_path, err)) < 0) {
		unlink(copy_path);
		return r;
	}
	r = tmpl_import(h, name, TMPL_DISK, "raw", NULL, copy_path, out, err);
	if (r == 0)
		record_source(h, name, *out, source);
	return r;
}

int tmpl_from_stream(struct host *h, const char *name, char *const *reader, const char *source,
		     json_t **out, struct err **err)
{
	int r = import_any(h, name, TMPL_ROOTFS, NULL, NULL, NULL, reader, out, err);

	if (r == 0)
		record_source(h, name, *out, source);
	return r;
}

int tmpl_remove(struct host *h, const char *name, struct err **err)
{
	_cleanup_free_ char *d = tmpl_name_ok(name) ? tdir(h, name, 0) : NULL;
	int r = 0;

	pthread_mutex_lock(&lock);
	if (!d || !newest(h, name))
		r = err_make(err, ENOENT, "no template `%s` in the store", name);
	else
		rm_rf(d);
	pthread_mutex_unlock(&lock);
	return r;
}

const char *tmpl_form_name(enum tmpl_form form)
{
	return form == TMPL_DISK ? "disk" : "rootfs";
}

static bool has_form(json_t *m, enum tmpl_form form)
{
	size_t i;
	json_t *f;

	json_array_foreach(json_object_get(m, "forms"), i,
			   f) if (!strcmp(json_string_value(f) ?: "",
					  tmpl_form_name(form))) return true;
	return false;
}

bool tmpl_serves(struct host *h, enum tmpl_form form, const char *name)
{
	const struct builtin *b;
	json_t *m;
	bool ok;
	int v;

	if (!name || !tmpl_name_ok(name))
		return false;
	if ((b = builtin(name)))
		return form == TMPL_DISK ? b->disk : b->rootfs;
	pthread_mutex_lock(&lock);
	v = newest(h, name);
	m = v ? meta(h, name, v) : NULL;
	ok = m && has_form(m, form);
	json_decref(m);
	pthread_mutex_unlock(&lock);
	return ok;
}

int tmpl_resolve(struct host *h, enum tmpl_form form, const char *name, char **path, int *version,
		 struct err **err)
{
	json_t *m = NULL, *built = NULL;
	int v, r = 0;

	if (!tmpl_serves(h, form, name))
		return err_make(err, ENOENT, "no template `%s` with a %s", name,
				form == TMPL_DISK ? "VM disk" : "root filesystem");
	pthread_mutex_lock(&lock);
	v = newest(h, name);
	m = v ? meta(h, name, v) : NULL;
	if (!m || !has_form(m, form)) {
		json_decref(m);
		m = NULL;
		if ((r = build_locked(h, name, &built, err)) == 0) {
			v = newest(h, name);
			m = meta(h, name, v);
		}
		json_decref(built);
	}
	if (r == 0 && !m)
		r = err_make(err, EIO, "template `%s`: version %d has no template.json", name, v);
	if (r == 0) {
		_cleanup_free_ char *d = tdir(h, name, v);
		int n = form == TMPL_ROOTFS ?
				asprintf(path, "%s/%s", d,
					 json_string_value(json_object_get(m, "file")) ?: "") :
				asprintf(path, "%s/vm", d);

		if (n < 0)
			r = err_make(err, ENOMEM, "template `%s`", name);
		else if (version)
			*version = v;
	}
	json_decref(m);
	pthread_mutex_unlock(&lock);
	return r;
}
