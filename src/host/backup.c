// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Backups into restic repositories (backup.h, docs/backups.md).
 *
 * Repositories are vpsd's files, one directory each in DATA/repos/NAME/:
 * repo.json (name, url, created), password (0600, made here, never shown)
 * and restic's cache. restic runs as a child with its arguments as they
 * are (no shell), a clean environment and --json; it dies with vpsd.
 *
 * A backup holds the VPS (life_with) for its whole run: the disks are
 * copied into POOL/NAME/snapshots/.backup as a snapshot copies them (a
 * running VPS frozen or paused only for that copy), its settings written
 * beside them as vps.json, and restic sends that directory. The path is
 * the same at every backup of the VPS, so restic takes the previous one
 * as its parent; deduplication makes the second cost only changed
 * chunks. restic writes a snapshot last, so a vpsd killed mid-backup
 * lists nothing: the list is restic's, filtered by the tags vps=NAME and
 * vps-id=ID.CREATED (a VPS of the same name made later is another VPS).
 *
 * A restore lists the backup's files, takes only plain files directly in
 * the backed-up directory with plain names, and streams each (restic
 * dump) into a file vpsd opened itself under snapshots/.restore (holes
 * kept), so nothing in a repository chooses where a byte lands. Then the
 * disks are put back as a snapshot's revert does (snapshot_put_back), or
 * made a new VPS as a clone is made (clone_make), the source there or gone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/testpoint.h"
#include "common/util.h"
#include "host/backup.h"
#include "host/clone.h"
#include "host/kind.h"
#include "host/life.h"
#include "host/ops.h"
#include "host/policy.h"
#include "host/snapshot.h"
#include "sys/spawn.h"

#define URL_MAX 255
#define BACKUP_TIMEOUT_S (24 * 3600)

/* --- repositories ------------------------------------------------------------------------ */

static char *repo_dir(struct host *h, const char *name, const char *leaf)
{
	char *p;

	if (asprintf(&p, "%s/repos%s%s%s%s", h->data_dir, name ? "/" : "", name ? name : "",
		     leaf ? "/" : "", leaf ? leaf : "") < 0)
		return NULL;
	return p;
}

/* The repository's record, or NULL (no such repository). */
static json_t *repo_get(struct host *h, const char *name)
{
	_cleanup_free_ char *p = NULL;

	if (!slug_ok(name, BACKUP_REPO_NAME_MAX) || !(p = repo_dir(h, name, "repo.json")))
		return NULL;
	return json_load_file(p, 0, NULL);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
		      json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

json_t *backup_repos(struct host *h)
{
	_cleanup_free_ char *top = repo_dir(h, NULL, NULL);
	DIR *d = top ? opendir(top) : NULL;
	json_t *rows[256], *all = json_array();
	struct dirent *e;
	size_t n = 0;

	while (d && (e = readdir(d)) && n < sizeof(rows) / sizeof(rows[0])) {
		json_t *r = repo_get(h, e->d_name);

		if (r)
			rows[n++] = r;
	}
	if (d)
		closedir(d);
	qsort(rows, n, sizeof(rows[0]), by_name);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(all, rows[i]);
	return all;
}

static bool url_chars_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("/._-~:@%+=", *s)))
			return false;
	return true;
}

/* Whether path is dir or below it. */
static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return dir && !strncmp(path, dir, n) && (path[n] == '/' || path[n] == 0 || n == 1);
}

/*
 * A local repository: an absolute path without links or `..` (what is
 * stored is what is used), whose directory above exists, outside vpsd's
 * files and every pool, and not a repository already.
 */
static int local_ok(struct host *h, const char *path, struct err **err)
{
	_cleanup_free_ char *copy = strdup(path), *real = NULL, *def = host_pool_path(h, NULL);
	char *slash = copy ? strrchr(copy, '/') : NULL;
	const char *leaf;
	json_t *pools, *x;
	struct stat st;
	size_t i;
	bool bad = false;

	if (!copy)
		return err_make(err, ENOMEM, "`url`");
	leaf = slash + 1;
	*slash = 0;
	if (!*leaf || !strcmp(leaf, ".") || !strcmp(leaf, ".."))
		return err_make(err, EINVAL, "`url`: `%s` ends in no directory name", path);
	if (!(real = realpath(*copy ? copy : "/", NULL)))
		return err_make(err, EINVAL, "`url`: `%s`: %s", *copy ? copy : "/",
				strerror(errno));
	if (strcmp(real, *copy ? copy : "/"))
		return err_make(err, EINVAL, "`url`: `%s` is `%s`; give that", copy, real);
	if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode))
		return err_make(err, EINVAL, "`url`: `%s` is not a directory", path);
	if (under(path, h->data_dir) || under(path, h->run_dir) || (def && under(path, def)) ||
	    under(h->data_dir, path))
		return err_make(err, EINVAL, "`url`: `%s` is in vpsd's own files", path);
	pools = store_pools(h->store);
	json_array_foreach(pools, i, x)
		bad |= under(path, json_string_value(json_object_get(x, "path"))) ||
		       under(json_string_value(json_object_get(x, "path")), path);
	json_decref(pools);
	if (bad)
		return err_make(err, EINVAL, "`url`: `%s` is in or above a storage pool", path);
	return 0;
}

/* sftp:[USER@]HOST:/PATH and rest:http(s)://...: nothing ssh or restic reads as an option. */
static int remote_ok(const char *url, struct err **err)
{
	if (!strncmp(url, "sftp:", 5)) {
		const char *host = url + 5, *colon = strchr(host, ':'), *at = strchr(host, '@');

		if (at && colon && at < colon)
			host = at + 1;
		if (!colon || colon == host || host[0] == '-' || url[5] == '-' || colon[1] != '/' ||
		    strstr(url, "/../") || strchr(colon + 1, ':'))
			return err_make(
				err, EINVAL,
				"`url`: expected sftp:[USER@]HOST:/PATH (no option, no `..`)");
		return 0;
	}
	if (!strncmp(url, "rest:http://", 12) || !strncmp(url, "rest:https://", 13)) {
		const char *host = strstr(url, "//") + 2;

		if (!*host || *host == '-' || *host == '/')
			return err_make(err, EINVAL,
					"`url`: expected rest:http(s)://HOST[:PORT]/...");
		return 0;
	}
	return err_make(err, EINVAL,
			"`url`: expected an absolute path, sftp:[USER@]HOST:/PATH or "
			"rest:http(s)://HOST[:PORT]/PATH");
}

/* What restic's stdout said, collected line by line (its --json objects). */
struct lines {
	char buf[65536];
	size_t len;
	void (*line)(json_t *j, void *arg);
	void *arg;
	int fd; /* dump: the file written, -1 for lines */
	off_t at, total;
	int werr;
};

static int on_lines(const char *data, size_t n, void *arg)
{
	struct lines *l = arg;

	while (n) {
		size_t take = n < sizeof(l->buf) - l->len ? n : sizeof(l->buf) - l->len;
		char *nl;

		memcpy(l->buf + l->len, data, take);
		l->len += take;
		data += take;
		n -= take;
		while ((nl = memchr(l->buf, '\n', l->len))) {
			json_t *j;

			*nl = 0;
			if ((j = json_loads(l->buf, 0, NULL))) {
				l->line(j, l->arg);
				json_decref(j);
			}
			l->len -= (size_t)(nl + 1 - l->buf);
			memmove(l->buf, nl + 1, l->len);
		}
		if (l->len == sizeof(l->buf))
			l->len = 0; /* a line this long is no status line of restic's */
	}
	return 0;
}

/* restic dump into a file: zeros become holes, as the disk's were. */
static int on_dump(const char *data, size_t n, void *arg)
{
	struct lines *l = arg;
	size_t i = 0;

	while (i < n && !data[i])
		i++;
	if (i == n) {
		l->at += (off_t)n;
	} else {
		if (pwrite(l->fd, data, n, l->at) != (ssize_t)n) {
			l->werr = errno ? errno : EIO;
			return -1;
		}
		l->at += (off_t)n;
	}
	if (l->total > 0 && l->line)
		l->line(NULL, l);
	return 0;
}

/*
 * Run restic on the repository `repo` with args; its stdout to on_out (or
 * captured into *out when out is not NULL). 0, or -errno with restic's
 * last words.
 */
static int restic(struct host *h, const char *repo, json_t *rec, const char *const *args,
		  int (*on_out)(const char *, size_t, void *), void *arg, char **out,
		  struct err **err)
{
	_cleanup_free_ char *pw = repo_dir(h, repo, "password"),
			    *cache = repo_dir(h, repo, "cache"), *home = repo_dir(h, repo, NULL);
	_cleanup_free_ char *a_repo = NULL, *a_pw = NULL, *a_cache = NULL, *e_home = NULL;
	const char *argv[24];
	char *envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL, "LC_ALL=C.UTF-8",
			 "RESTIC_PROGRESS_FPS=2", NULL };
	struct sys_spawn_result res;
	size_t n = 0;
	int r;

	if (!pw || !cache || !home ||
	    asprintf(&a_repo, "--repo=%s", json_string_value(json_object_get(rec, "url"))) < 0 ||
	    asprintf(&a_pw, "--password-file=%s", pw) < 0 ||
	    asprintf(&a_cache, "--cache-dir=%s", cache) < 0 ||
	    asprintf(&e_home, "HOME=%s", home) < 0)
		return err_make(err, ENOMEM, "restic");
	envp[1] = e_home;
	argv[n++] = "restic";
	argv[n++] = a_repo;
	argv[n++] = a_pw;
	argv[n++] = a_cache;
	argv[n++] = "--json";
	for (size_t i = 0; args[i] && n < sizeof(argv) / sizeof(argv[0]) - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	{
		const struct sys_spawn s = { .argv = (char *const *)argv,
					     .envp = envp,
					     .in = SYS_SPAWN_NULL,
					     .out = SYS_SPAWN_CAPTURE,
					     .err = SYS_SPAWN_CAPTURE,
					     .timeout_s = BACKUP_TIMEOUT_S,
					     .flags = SYS_SPAWN_PATH | SYS_SPAWN_DIE_WITH_PARENT |
						      SYS_SPAWN_CLOSE_FDS | SYS_SPAWN_UMASK_077,
					     .on_out = on_out,
					     .on_out_arg = arg };

		r = sys_run(&s, &res, err);
	}
	if (r < 0) {
		sys_spawn_result_free(&res); /* what a failed restic said is in err */
		return err_wrap(err, "restic %s on repository `%s`", args[0], repo);
	}
	if (out)
		*out = res.out, res.out = NULL;
	sys_spawn_result_free(&res);
	return 0;
}

int backup_repo_add(struct host *h, json_t *body, json_t **out, struct err **err)
{
	const char *name = json_string_value(json_object_get(body, "name"));
	const char *url = json_string_value(json_object_get(body, "url"));
	_cleanup_free_ char *dir = NULL, *pwp = NULL, *recp = NULL;
	static const char *const init[] = { "init", NULL };
	unsigned char key[32];
	char hex[65];
	const char *k;
	json_t *x, *rec;
	int fd, r;

	json_object_foreach(body, k, x) if (strcmp(k, "name") && strcmp(k, "url")) return err_make(
		err, EINVAL, "`%s`: unknown field (name, url)", k);
	if (!slug_ok(name, BACKUP_REPO_NAME_MAX))
		return err_make(err, EINVAL, "`name`: expected 1 to 32 of a-z, 0-9 and `-`");
	if (!url || !*url || strlen(url) > URL_MAX || !url_chars_ok(url))
		return err_make(err, EINVAL,
				"`url`: expected 1 to 255 of A-Z a-z 0-9 / . _ - ~ : @ %% + =");
	if ((r = url[0] == '/' ? local_ok(h, url, err) : remote_ok(url, err)) < 0)
		return r;
	if (!(dir = repo_dir(h, name, NULL)) || !(pwp = repo_dir(h, name, "password")) ||
	    !(recp = repo_dir(h, name, "repo.json")))
		return err_make(err, ENOMEM, "repository");
	{
		json_t *all = backup_repos(h);
		size_t i;
		bool same = false;

		json_array_foreach(all, i, x)
			same |= !strcmp(json_string_value(json_object_get(x, "url")), url);
		json_decref(all);
		if (same)
			return err_make(err, EEXIST, "`url`: another repository is `%s`", url);
	}
	{
		_cleanup_free_ char *top = repo_dir(h, NULL, NULL);

		if (!top || mkdir_p(top, 0700, 0755) < 0)
			return err_make(err, errno ? errno : ENOMEM, "make `%s`", top);
	}
	if (mkdir(dir, 0700) < 0)
		return errno == EEXIST ? err_make(err, EEXIST, "there is a repository `%s`", name) :
					 err_make(err, errno, "make `%s`", dir);
	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	fd = open(pwp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, hex, 64) < 0 || write_all(fd, "\n", 1) < 0 || fsync(fd) < 0) {
		r = err_make(err, errno, "write `%s`", pwp);
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	close(fd);
	sodium_memzero(hex, sizeof(hex));
	rec = json_pack("{s:s, s:s, s:I}", "name", name, "url", url, "created",
			(json_int_t)time(NULL));
	if ((r = restic(h, name, rec, init, NULL, NULL, NULL, err)) < 0) {
		json_decref(rec);
		goto fail;
	}
	/* the record last: a repository is listed once restic made it */
	if (json_dump_file(rec, recp, JSON_COMPACT) < 0) {
		json_decref(rec);
		r = err_make(err, EIO, "write `%s`", recp);
		goto fail;
	}
	*out = rec;
	return 0;
fail:
	life_rm_rf(dir);
	return r;
}

/* --- a VPS's backups --------------------------------------------------------------------- */

/* restic's tags for v: its name, and which VPS of that name. */
static void tags_of(const struct vps *v, char *name, size_t nlen, char *id, size_t ilen)
{
	snprintf(name, nlen, "vps=%s", v->name);
	snprintf(id, ilen, "vps-id=%lld.%lld", (long long)v->id, (long long)v->created);
}

/*
 * The backups in repository rec that restic finds by the tag `filter` and
 * that also have the tag `must`: [{id, full_id, repo, time, size, path,
 * owner?}].
 */
static int list_repo_by(struct host *h, const char *filter, const char *must, json_t *rec,
			json_t *into, struct err **err)
{
	char *text = NULL;
	const char *args[] = { "snapshots", "--tag", filter, NULL };
	const char *repo = json_string_value(json_object_get(rec, "name"));
	json_t *all, *x;
	size_t i;
	int r;

	if ((r = restic(h, repo, rec, args, NULL, NULL, &text, err)) < 0)
		return r;
	all = json_loads(text, 0, NULL);
	free(text);
	json_array_foreach(all, i, x)
	{
		json_t *tags = json_object_get(x, "tags"), *t, *paths = json_object_get(x, "paths");
		const char *id = json_string_value(json_object_get(x, "id")), *owner = NULL;
		long long size = 0;
		bool mine = false;
		size_t j;

		json_array_foreach(tags, j, t)
		{
			const char *s = json_string_value(t);

			mine |= s && !strcmp(s, must);
			if (s && !strncmp(s, "size=", 5))
				size = atoll(s + 5);
			if (s && !strncmp(s, "owner=", 6))
				owner = s + 6;
		}
		if (!mine || !id || strlen(id) != 64 || json_array_size(paths) != 1)
			continue;
		json_array_append_new(into, json_pack("{s:s%, s:s, s:s, s:O, s:I, s:O}", "id", id,
						      (size_t)8, "full_id", id, "repo", repo,
						      "time", json_object_get(x, "time"), "size",
						      (json_int_t)size, "path",
						      json_array_get(paths, 0)));
		if (owner)
			json_object_set_new(json_array_get(into, json_array_size(into) - 1),
					    "owner", json_string(owner));
	}
	json_decref(all);
	return 0;
}

/* The backups of v in repository rec: restic finds them by its id, and its name must match. */
static int list_repo(struct host *h, const struct vps *v, json_t *rec, json_t *into,
		     struct err **err)
{
	char tn[96], ti[96];

	tags_of(v, tn, sizeof(tn), ti, sizeof(ti));
	return list_repo_by(h, ti, tn, rec, into, err);
}

/* list_repo_by in every repository. */
static int list_all_by(struct host *h, const char *filter, const char *must, json_t **out,
		       struct err **err)
{
	json_t *repos = backup_repos(h), *rec, *all = json_array();
	size_t i;
	int r = 0;

	json_array_foreach(repos, i,
			   rec) if ((r = list_repo_by(h, filter, must, rec, all, err)) < 0) break;
	json_decref(repos);
	if (r < 0) {
		json_decref(all);
		return r;
	}
	*out = all;
	return 0;
}

static int list_all(struct host *h, const struct vps *v, json_t **out, struct err **err)
{
	char tn[96], ti[96];

	tags_of(v, tn, sizeof(tn), ti, sizeof(ti));
	return list_all_by(h, ti, tn, out, err);
}

int backup_list(struct host *h, const char *vps, json_t **out, struct err **err)
{
	struct vps v;
	int r = store_vps_get(h->store, vps, &v, err);

	if (r < 0)
		return r;
	r = list_all(h, &v, out, err);
	vps_free(&v);
	return r;
}

/* An id as restic shows it: 8 to 64 lower-case hex digits (a prefix of the full id). */
static bool id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	return n >= 8 && n <= 64 && strspn(id, "0123456789abcdef") == n;
}

/* The backup of that id (a prefix of one) among list_all_by's, or NULL with ENOENT. */
static json_t *find_by(struct host *h, const char *vps, const char *filter, const char *must,
		       const char *id, struct err **err)
{
	json_t *all = NULL, *x, *found = NULL;
	size_t i;

	if (!id_ok(id)) {
		err_make(err, ENOENT, "`%s` has no backup `%.64s`", vps, id);
		return NULL;
	}
	if (list_all_by(h, filter, must, &all, err) < 0)
		return NULL;
	json_array_foreach(all, i, x)
	{
		if (strncmp(json_string_value(json_object_get(x, "full_id")), id, strlen(id)))
			continue;
		if (found) {
			err_make(err, EINVAL, "`%s` is the start of more than one backup's id", id);
			json_decref(all);
			return NULL;
		}
		found = x;
	}
	if (found)
		json_incref(found);
	else
		err_make(err, ENOENT, "`%s` has no backup `%.64s`", vps, id);
	json_decref(all);
	return found;
}

/* v's backup of that id (a prefix of one), or NULL with ENOENT. */
static json_t *find(struct host *h, const struct vps *v, const char *id, struct err **err)
{
	char tn[96], ti[96];

	tags_of(v, tn, sizeof(tn), ti, sizeof(ti));
	return find_by(h, v->name, ti, tn, id, err);
}

struct take {
	json_t *rec;
	json_t *out;
	double done;
	long long added, processed;
	char snap[65];
	char msg[256];
};

static void backup_line(json_t *j, void *arg)
{
	struct take *t = arg;
	const char *type = json_string_value(json_object_get(j, "message_type"));

	if (!type)
		return;
	if (!strcmp(type, "status")) {
		/* the copy was the first 10%; restic's reading and sending the rest */
		double pct = json_number_value(json_object_get(j, "percent_done"));

		op_progress(10 + 89 * pct);
	} else if (!strcmp(type, "summary")) {
		snprintf(t->snap, sizeof(t->snap), "%s",
			 json_string_value(json_object_get(j, "snapshot_id")) ?: "");
		t->added = json_integer_value(json_object_get(j, "data_added"));
		t->processed = json_integer_value(json_object_get(j, "total_bytes_processed"));
	}
}

static int take(struct host *h, struct vps *v, void *arg, struct err **err)
{
	struct take *t = arg;
	_cleanup_free_ char *dir = host_vps_disks(h, v->name, "snapshots/.backup");
	_cleanup_free_ char *settings = NULL, *sp = NULL;
	_cleanup_free_ char *plan = store_vps_plan_of(h->store, v->name);
	char tn[96], ti[96], ts[48], to[80], host[80];
	const char *args[] = { "backup", "--tag", tn,	    "--tag", ti,  "--tag", ts,
			       "--tag",	 to,	  "--host", host,    dir, NULL };
	struct lines l = { .line = backup_line, .arg = t, .fd = -1 };
	json_t *vj, *all = NULL, *x, *made = NULL;
	size_t i;
	int r;

	if (!dir || asprintf(&sp, "%s/vps.json", dir) < 0)
		return err_make(err, ENOMEM, "backup");
	life_rm_rf(dir); /* a backup cut short before (vpsd killed) */
	op_progress(0);
	if ((r = snapshot_copy(h, v, dir, err)) < 0)
		goto out;
	vj = vps_to_json(v);
	/* what a restore --as needs once the VPS is gone: its plan, its files' uid range */
	if (plan)
		json_object_set_new(vj, "plan", json_string(plan));
	if (kind_find(v->kind, v->engine)->ids_shifted)
		json_object_set_new(vj, "uid_base", json_integer(v->uid_base));
	r = json_dump_file(vj, sp, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(vj);
	if (r < 0) {
		r = err_make(err, EIO, "write `%s`", sp);
		goto out;
	}
	op_progress(10);
	testpoint("backup-copied", v->name);
	tags_of(v, tn, sizeof(tn), ti, sizeof(ti));
	snprintf(ts, sizeof(ts), "size=%lld", snapshot_dir_size(dir));
	/* whose: a customer finds their backups by it once the VPS is gone */
	snprintf(to, sizeof(to), "owner=%s", v->owner);
	snprintf(host, sizeof(host), "vps-%s", v->name);
	if ((r = restic(h, json_string_value(json_object_get(t->rec, "name")), t->rec, args,
			on_lines, &l, NULL, err)) < 0)
		goto out;
	/* restic 0.14's summary has the short id; the list has the whole one */
	if (strlen(t->snap) < 8 || (r = list_repo(h, v, t->rec, all = json_array(), err)) < 0) {
		r = r < 0 ? r : err_make(err, EIO, "restic backup told no snapshot id");
		goto out;
	}
	json_array_foreach(all, i, x) if (!strncmp(json_string_value(json_object_get(x, "full_id")),
						   t->snap, strlen(t->snap))) made = x;
	if (!made) {
		r = err_make(err, EIO, "restic backup's snapshot `%s` is not in the list", t->snap);
		goto out;
	}
	store_event(h->store, v->name, "backup", json_string_value(json_object_get(made, "id")));
	t->out = json_pack("{s:O, s:O, s:O, s:I, s:I}", "id", json_object_get(made, "id"),
			   "full_id", json_object_get(made, "full_id"), "repo",
			   json_object_get(made, "repo"), "size", (json_int_t)t->processed, "added",
			   (json_int_t)t->added);
	op_progress(100);
out:
	json_decref(all);
	life_rm_rf(dir);
	return r < 0 ? err_wrap(err, "back up `%s`", v->name) : 0;
}

/*
 * The owner's quota of backups (docs/auth.md "Quotas per customer"): every
 * backup of every VPS of theirs, in every repository, counts; one more is
 * refused past it with the numbers, as admission refuses the other figures.
 */
int backup_quota(struct host *h, const char *vps, struct err **err)
{
	struct vps v, *all = NULL;
	json_t *users = NULL, *lim;
	long long used = 0;
	size_t n = 0;
	int r;

	if ((r = store_vps_get(h->store, vps, &v, err)) < 0)
		return r;
	users = store_users(h->store, v.owner);
	lim = json_object_get(json_object_get(json_array_get(users, 0), "quota"), "backups");
	if (!json_is_integer(lim))
		goto out;
	if ((r = store_vps_list(h->store, &all, &n, err)) < 0)
		goto out;
	for (size_t i = 0; i < n && r == 0; i++) {
		json_t *list = NULL;

		if (strcmp(all[i].owner, v.owner))
			continue;
		if ((r = list_all(h, &all[i], &list, err)) == 0)
			used += (long long)json_array_size(list);
		json_decref(list);
	}
	if (r == 0 && used + 1 > json_integer_value(lim))
		r = err_make(
			err, POLICY_EQUOTA,
			"quota of user `%s`: backups: %lld of %lld used, 1 asked (the provider "
			"raises it: PATCH /api/v1/users/%s {\"quota\"}; or remove one: vps backup "
			"rm)",
			v.owner, used, (long long)json_integer_value(lim), v.owner);
	store_vps_list_free(all, n);
out:
	json_decref(users);
	vps_free(&v);
	return r;
}

int backup_create(struct host *h, const char *vps, json_t *body, json_t **out, struct err **err)
{
	json_t *repo = json_object_get(body, "repo");
	struct take t = { 0 };
	const char *k;
	json_t *x;
	int r;

	json_object_foreach(body, k, x) if (strcmp(k, "repo")) return err_make(
		err, EINVAL, "`%s`: unknown field (repo)", k);
	if (repo) {
		if (!json_is_string(repo) || !(t.rec = repo_get(h, json_string_value(repo))))
			return err_make(err, EINVAL,
					"`repo`: no repository `%.40s` (vps repo list)",
					json_is_string(repo) ? json_string_value(repo) : "");
	} else {
		json_t *all = backup_repos(h);

		if (json_array_size(all) == 1)
			t.rec = json_incref(json_array_get(all, 0));
		json_decref(all);
		if (!t.rec)
			return err_make(err, EINVAL,
					"`repo`: name one (the host has no single repository)");
	}
	r = backup_quota(h, vps, err);
	if (r == 0)
		r = life_with(h, vps, take, &t, err);
	json_decref(t.rec);
	if (r == 0)
		*out = t.out;
	return r;
}

/* --- restore ----------------------------------------------------------------------------- */

/* A file name a backup's disk may have: a plain name, never a path. */
static bool file_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 1 && n <= 64 && s[0] != '.' && s[0] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

struct restore {
	const char *id;
	json_t *out;
	long long total, done;
};

static void restore_progress(json_t *j, void *arg)
{
	struct lines *l = arg;
	struct restore *rs = l->arg;

	(void)j;
	if (rs->total > 0)
		op_progress(90.0 * (double)(rs->done + l->at) / (double)rs->total);
}

struct node_scan {
	const char *top;
	json_t *files;
	bool bad;
};

/* restic ls --json: keep the plain files right in the backed-up directory. */
static void ls_line(json_t *j, void *arg)
{
	struct node_scan *s = arg;
	const char *path = json_string_value(json_object_get(j, "path"));
	const char *type = json_string_value(json_object_get(j, "type"));
	size_t n = strlen(s->top);

	if (!path || !type ||
	    strcmp(json_string_value(json_object_get(j, "struct_type")) ?: "", "node"))
		return;
	if (strncmp(path, s->top, n) || path[n] != '/')
		return; /* the directories above it */
	if (strcmp(type, "file") || !file_name_ok(path + n + 1)) {
		s->bad = true; /* a link, a device, a subdirectory: never in our backups */
		return;
	}
	json_array_append_new(s->files, json_pack("{s:s, s:I}", "name", path + n + 1, "size",
						  json_integer_value(json_object_get(j, "size"))));
}

/* Every file of backup b into dir (made here, 0700), holes kept. */
static int fetch_files(struct host *h, json_t *b, const char *dir, struct restore *rs,
		       struct err **err)
{
	const char *repo = json_string_value(json_object_get(b, "repo"));
	const char *id = json_string_value(json_object_get(b, "full_id"));
	const char *top = json_string_value(json_object_get(b, "path"));
	json_t *rec = repo_get(h, repo), *x;
	struct node_scan s = { .top = top, .files = json_array() };
	struct lines l = { .line = ls_line, .arg = &s, .fd = -1 };
	const char *ls[] = { "ls", id, NULL };
	_cleanup_close_ int dfd = -1;
	size_t i;
	int r;

	if (!rec) {
		r = err_make(err, ENOENT, "no repository `%s`", repo);
		goto out;
	}
	if ((r = restic(h, repo, rec, ls, on_lines, &l, NULL, err)) < 0)
		goto out;
	if (s.bad || !json_array_size(s.files)) {
		r = err_make(err, EINVAL, "backup `%.8s` holds something other than disk files",
			     id);
		goto out;
	}
	json_array_foreach(s.files, i, x)
		rs->total += json_integer_value(json_object_get(x, "size"));
	if (mkdir_p(dir, 0700, 0700) < 0 ||
	    (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		r = err_make(err, errno, "make `%s`", dir);
		goto out;
	}
	json_array_foreach(s.files, i, x)
	{
		const char *name = json_string_value(json_object_get(x, "name"));
		_cleanup_free_ char *src = NULL;
		struct lines d = { .line = restore_progress, .arg = rs, .total = 1 };
		const char *dump[] = { "dump", id, NULL, NULL };

		if (asprintf(&src, "%s/%s", top, name) < 0) {
			r = err_make(err, ENOMEM, "restore");
			goto out;
		}
		dump[2] = src;
		d.fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			      0600);
		if (d.fd < 0) {
			r = err_make(err, errno, "create `%s/%s`", dir, name);
			goto out;
		}
		r = restic(h, repo, rec, dump, on_dump, &d, NULL, err);
		if (r == 0 && d.werr)
			r = err_make(err, d.werr, "write `%s/%s`", dir, name);
		if (r == 0 && (ftruncate(d.fd, d.at) < 0 || fsync(d.fd) < 0))
			r = err_make(err, errno, "write `%s/%s`", dir, name);
		close(d.fd);
		if (r < 0)
			goto out;
		rs->done += d.at;
	}
out:
	json_decref(rec);
	json_decref(s.files);
	return r;
}

static int restore_held(struct host *h, struct vps *v, void *arg, struct err **err)
{
	struct restore *rs = arg;
	_cleanup_free_ char *dir = host_vps_disks(h, v->name, "snapshots/.restore"), *sp = NULL;
	json_t *b = find(h, v, rs->id, err), *settings = NULL;
	json_int_t disk = 0;
	int r;

	if (!b)
		return err && *err ? -(*err)->errnum : -ENOENT;
	if (!dir || asprintf(&sp, "%s/vps.json", dir) < 0) {
		json_decref(b);
		return err_make(err, ENOMEM, "restore");
	}
	life_rm_rf(dir);
	op_progress(0);
	/* fetched while the VPS runs on: it stops only for the disks' rename */
	if ((r = fetch_files(h, b, dir, rs, err)) < 0)
		goto out;
	testpoint("restore-fetched", v->name);
	if ((settings = json_load_file(sp, 0, NULL))) {
		if (strcmp(json_string_value(json_object_get(settings, "kind")) ?: "",
			   vps_kind_name(v->kind))) {
			r = err_make(err, EINVAL, "backup `%s` is of another kind of VPS", rs->id);
			goto out;
		}
		disk = json_integer_value(json_object_get(settings, "disk"));
	}
	op_progress(90);
	r = snapshot_put_back(h, v, dir, disk > 0 ? (uint64_t)disk : 0,
			      json_string_value(json_object_get(b, "id")), err);
	if (r == 0) {
		store_event(h->store, v->name, "restore",
			    json_string_value(json_object_get(b, "id")));
		rs->out = json_pack("{s:O, s:O}", "id", json_object_get(b, "id"), "repo",
				    json_object_get(b, "repo"));
		op_progress(100);
	}
out:
	life_rm_rf(dir);
	json_decref(settings);
	json_decref(b);
	return r < 0 ? err_wrap(err, "restore `%s` from backup `%.64s`", v->name, rs->id) : 0;
}

/*
 * --as NEW: the backup's disks into a new VPS made as a clone is made
 * (clone_make: the backup's settings, the owner's quota and the host's
 * admission, an identity of its own, a container's files shifted to its
 * own uid range), left stopped. Two ways in: the source still there, held
 * throughout and never touched, the disks staged in its own pool; or gone
 * (POST /backups/ID/restore), the backup found by its name and owner tags
 * and the disks staged in DATA/restore/NEW.
 */
struct restore_as {
	struct restore rs;
	const char *as;
	const char *vps; /* the backed-up VPS's name */
	const char *owner; /* gone: only a backup of this owner's (NULL: any, an administrator) */
};

/*
 * Fetch backup b into dir and make ra->as of it. src: the source as it is
 * (held), or NULL: gone, made of the backup's own settings.
 */
static int restore_as_into(struct host *h, const struct vps *src, json_t *b, const char *dir,
			   struct restore_as *ra, struct err **err)
{
	_cleanup_free_ char *sp = NULL, *pool = NULL, *plan = NULL;
	json_t *settings = NULL;
	struct vps gone;
	int r;

	/* a name taken: said before the disks are fetched (the create would say it after) */
	if (store_vps_get(h->store, ra->as, &gone, NULL) == 0) {
		vps_free(&gone);
		return err_make(err, EEXIST, "`as`: a VPS named `%s` exists", ra->as);
	}
	vps_init(&gone);
	if (asprintf(&sp, "%s/vps.json", dir) < 0)
		return err_make(err, ENOMEM, "restore");
	life_rm_rf(dir);
	op_progress(0);
	if ((r = fetch_files(h, b, dir, &ra->rs, err)) < 0)
		goto out;
	testpoint("restore-fetched", ra->as);
	if (!(settings = json_load_file(sp, 0, NULL)) || !json_is_object(settings)) {
		r = err_make(err, EINVAL, "backup `%s` holds no settings", ra->rs.id);
		goto out;
	}
	if (src) {
		if (strcmp(json_string_value(json_object_get(settings, "kind")) ?: "",
			   vps_kind_name(src->kind))) {
			r = err_make(err, EINVAL, "backup `%s` is of another kind of VPS",
				     ra->rs.id);
			goto out;
		}
		pool = store_vps_pool(h->store, src->name);
		plan = store_vps_plan_of(h->store, src->name);
	} else {
		/*
		 * The source as it was: its kind, owner, network and files' range
		 * from then. A backup taken before the owner tag was recorded is
		 * found by an administrator only (a customer's search needs the
		 * tag), who gets its settings' owner.
		 */
		const char *owner = json_string_value(json_object_get(b, "owner"));
		json_t *x;

		if (!owner && !ra->owner)
			owner = json_string_value(json_object_get(settings, "owner"));

		snprintf(gone.name, sizeof(gone.name), "%s", ra->vps);
		snprintf(gone.owner, sizeof(gone.owner), "%s", owner ? owner : "");
		if (!owner ||
		    vps_kind_parse(json_string_value(json_object_get(settings, "kind")) ?: "",
				   &gone.kind) < 0 ||
		    vps_engine_parse(json_string_value(json_object_get(settings, "engine")) ?: "",
				     &gone.engine) < 0) {
			r = err_make(err, EINVAL, "backup `%s` does not say whose or what it is",
				     ra->rs.id);
			goto out;
		}
		x = json_object_get(settings, "uid_base");
		if (kind_find(gone.kind, gone.engine) &&
		    kind_find(gone.kind, gone.engine)->ids_shifted &&
		    (!json_is_integer(x) || json_integer_value(x) <= 0 ||
		     json_integer_value(x) > UINT32_MAX - 65536)) {
			r = err_make(err, EINVAL,
				     "backup `%s` was taken before its container's uid range was "
				     "recorded: restore it while `%s` is there",
				     ra->rs.id, ra->vps);
			goto out;
		}
		gone.uid_base = (uint32_t)json_integer_value(x);
		snprintf(gone.network, sizeof(gone.network), "%s",
			 json_string_value(json_object_get(settings, "network")) ?: "");
		if (json_is_string(json_object_get(settings, "plan")))
			plan = strdup(json_string_value(json_object_get(settings, "plan")));
	}
	op_progress(90);
	r = clone_make(h, src ? src : &gone, settings, ra->as, dir, pool, plan, NULL, err);
	if (r < 0)
		goto out;
	store_event(h->store, ra->as, "restore", json_string_value(json_object_get(b, "id")));
	ra->rs.out = json_pack("{s:O, s:O, s:s}", "id", json_object_get(b, "id"), "repo",
			       json_object_get(b, "repo"), "as", ra->as);
	op_progress(100);
out:
	life_rm_rf(dir);
	json_decref(settings);
	vps_free(&gone);
	return r < 0 ? err_wrap(err, "restore backup `%.64s` of `%s` as `%s`", ra->rs.id, ra->vps,
				ra->as) :
		       0;
}

static int restore_as_held(struct host *h, struct vps *v, void *arg, struct err **err)
{
	struct restore_as *ra = arg;
	_cleanup_free_ char *dir = host_vps_disks(h, v->name, "snapshots/.restore");
	json_t *b;
	int r;

	if (!dir)
		return err_make(err, ENOMEM, "restore");
	if (!(b = find(h, v, ra->rs.id, err)))
		return err && *err ? -(*err)->errnum : -ENOENT;
	r = restore_as_into(h, v, b, dir, ra, err);
	json_decref(b);
	return r;
}

/* The source gone: its backup by its name (and its owner's, for a customer). */
static int restore_as_gone(struct host *h, struct restore_as *ra, struct err **err)
{
	_cleanup_free_ char *dir = NULL;
	char filter[96], must[96];
	json_t *b;
	int r;

	snprintf(filter, sizeof(filter), "vps=%s", ra->vps);
	if (ra->owner)
		snprintf(must, sizeof(must), "owner=%s", ra->owner);
	else
		snprintf(must, sizeof(must), "%s", filter);
	if (!(b = find_by(h, ra->vps, filter, must, ra->rs.id, err)))
		return err && *err ? -(*err)->errnum : -ENOENT;
	if (asprintf(&dir, "%s/restore/%s", h->data_dir, ra->as) < 0) {
		json_decref(b);
		return err_make(err, ENOMEM, "restore");
	}
	r = restore_as_into(h, NULL, b, dir, ra, err);
	json_decref(b);
	return r;
}

void backup_sweep(struct host *h)
{
	_cleanup_free_ char *dir = NULL;

	if (asprintf(&dir, "%s/restore", h->data_dir) >= 0)
		life_rm_rf(dir);
}

int backup_restore(struct host *h, const char *vps, const char *id, json_t *body, json_t **out,
		   struct err **err)
{
	json_t *as = json_object_get(body, "as");
	struct restore rs = { .id = id };
	const char *k;
	json_t *x;
	int r;

	json_object_foreach(body, k, x) if (strcmp(k, "as")) return err_make(
		err, EINVAL, "`%s`: unknown field (as)", k);
	if (as && (!json_is_string(as) || !strcmp(json_string_value(as), vps)))
		return err_make(err, EINVAL, "`as`: expected the name of a new VPS");
	/* before it is any part of a path (snapshots/.restore is the source's, though) */
	if (as && (r = vps_check_name(json_string_value(as), err)) < 0)
		return r;
	if (!id_ok(id))
		return err_make(err, ENOENT, "`%s` has no backup `%.64s`", vps, id);
	if (as) {
		struct restore_as ra = { .rs = { .id = id },
					 .as = json_string_value(as),
					 .vps = vps };

		r = life_with(h, vps, restore_as_held, &ra, err);
		if (r == 0)
			*out = ra.rs.out;
		return r;
	}
	r = life_with(h, vps, restore_held, &rs, err);
	if (r == 0)
		*out = rs.out;
	return r;
}

int backup_restore_as(struct host *h, const char *id, json_t *body, const char *owner, json_t **out,
		      struct err **err)
{
	json_t *vps = json_object_get(body, "vps"), *as = json_object_get(body, "as");
	struct restore_as ra = { .rs = { .id = id }, .owner = owner };
	const char *k;
	json_t *x;
	struct vps v;
	int r;

	json_object_foreach(body, k, x) if (strcmp(k, "as") && strcmp(k, "vps")) return err_make(
		err, EINVAL, "`%s`: unknown field (vps, as)", k);
	if (!json_is_string(vps) || vps_check_name(json_string_value(vps), NULL) < 0)
		return err_make(err, EINVAL, "`vps`: expected the name of the VPS backed up");
	if (!json_is_string(as) || !strcmp(json_string_value(as), json_string_value(vps)))
		return err_make(err, EINVAL, "`as`: expected the name of a new VPS");
	if ((r = vps_check_name(json_string_value(as), err)) < 0)
		return r;
	ra.vps = json_string_value(vps);
	ra.as = json_string_value(as);
	if (!id_ok(id))
		return err_make(err, ENOENT, "`%s` has no backup `%.64s`", ra.vps, id);
	/* still there and the caller's: as the VPS's own route does it, the source held */
	if (store_vps_get(h->store, ra.vps, &v, NULL) == 0) {
		bool theirs = !owner || !strcmp(v.owner, owner);

		vps_free(&v);
		if (theirs) {
			r = life_with(h, ra.vps, restore_as_held, &ra, err);
			if (r == 0)
				*out = ra.rs.out;
			return r;
		}
	}
	r = restore_as_gone(h, &ra, err);
	if (r == 0)
		*out = ra.rs.out;
	return r;
}

/* --- removal ----------------------------------------------------------------------------- */

static int rm_held(struct host *h, struct vps *v, void *arg, struct err **err)
{
	json_t *b = find(h, v, arg, err), *rec;
	const char *args[] = { "forget", "--prune", NULL, NULL };
	int r;

	if (!b)
		return err && *err ? -(*err)->errnum : -ENOENT;
	rec = repo_get(h, json_string_value(json_object_get(b, "repo")));
	args[2] = json_string_value(json_object_get(b, "full_id"));
	r = rec ? restic(h, json_string_value(json_object_get(b, "repo")), rec, args, NULL, NULL,
			 NULL, err) :
		  err_make(err, ENOENT, "no repository");
	if (r == 0)
		store_event(h->store, v->name, "backup-removed",
			    json_string_value(json_object_get(b, "id")));
	json_decref(rec);
	json_decref(b);
	return r;
}

int backup_rm(struct host *h, const char *vps, const char *id, struct err **err)
{
	if (!id_ok(id))
		return err_make(err, ENOENT, "`%s` has no backup `%.64s`", vps, id);
	return life_with(h, vps, rm_held, (void *)id, err);
}

struct prune {
	const char *repo;
	const int *keep;
};

static int prune_held(struct host *h, struct vps *v, void *arg, struct err **err)
{
	struct prune *p = arg;
	static const char *const flag[4] = { "--keep-last", "--keep-daily", "--keep-weekly",
					     "--keep-monthly" };
	char tn[96], ti[96], host[80], n[4][16];
	const char *args[16] = { "forget", "--tag", ti, "--host", host, "--group-by", "host" };
	size_t k = 7;
	json_t *rec = repo_get(h, p->repo);
	int r;

	if (!rec)
		return err_make(err, ENOENT, "no repository `%.40s`", p->repo);
	tags_of(v, tn, sizeof(tn), ti, sizeof(ti));
	snprintf(host, sizeof(host), "vps-%s", v->name);
	for (int i = 0; i < 4; i++) {
		if (p->keep[i] <= 0)
			continue;
		snprintf(n[i], sizeof(n[i]), "%d", p->keep[i]);
		args[k++] = flag[i];
		args[k++] = n[i];
	}
	args[k++] = "--prune";
	args[k] = NULL;
	r = k > 8 ? restic(h, p->repo, rec, args, NULL, NULL, NULL, err) : 0;
	json_decref(rec);
	if (r == 0 && k > 8)
		store_event(h->store, v->name, "backup-pruned", p->repo);
	return r;
}

int backup_prune(struct host *h, const char *vps, const char *repo, const int keep[4],
		 struct err **err)
{
	struct prune p = { .repo = repo, .keep = keep };

	return life_with(h, vps, prune_held, &p, err);
}

int backup_repo_rm(struct host *h, const char *name, struct err **err)
{
	json_t *rec = repo_get(h, name), *all;
	_cleanup_free_ char *dir = NULL, *text = NULL;
	static const char *const args[] = { "snapshots", NULL };
	int r;

	if (!rec)
		return err_make(err, ENOENT, "no repository `%.40s`", name);
	r = restic(h, name, rec, args, NULL, NULL, &text, err);
	json_decref(rec);
	if (r < 0)
		return r;
	all = json_loads(text, 0, NULL);
	r = json_array_size(all) ? err_make(err, EBUSY,
					    "repository `%s` holds %zu backups; remove them first "
					    "(its password goes with it)",
					    name, json_array_size(all)) :
				   0;
	json_decref(all);
	if (r < 0)
		return r;
	if (!(dir = repo_dir(h, name, NULL)))
		return err_make(err, ENOMEM, "repository");
	/* the record first: a crash then leaves no repository listed */
	{
		_cleanup_free_ char *recp = repo_dir(h, name, "repo.json");

		if (!recp || unlink(recp) < 0)
			return err_make(err, errno ? errno : ENOMEM, "remove `%s`", recp);
	}
	life_rm_rf(dir);
	return 0;
}
