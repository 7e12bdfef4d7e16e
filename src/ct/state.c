// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Container state on disk: see state.h. state.json is written to a
 * temporary name and renamed over the old one, so a reader never sees half
 * a file, even when `pause` rewrites it while `state` reads it.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "ct/state.h"

int ct_id_check(const char *id, struct err **err)
{
	size_t n = strlen(id);

	if (n == 0 || n > 200 || id[0] == '.' ||
	    strspn(id, "abcdefghijklmnopqrstuvwxyz"
		       "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		       "0123456789_.-") != n)
		return err_make(err, 0, "invalid container id `%s`", id);
	return 0;
}

char *ct_state_dir(const char *root, const char *id)
{
	char *p;

	if (asprintf(&p, "%s/%s", root, id) < 0)
		return NULL;
	return p;
}

/* A new reference to the annotations object (empty when there are none). */
static json_t *annotations_of(const struct ct_state *st)
{
	json_t *a = st->annotations ? json_loads(st->annotations, 0, NULL) : NULL;

	if (a && !json_is_object(a)) {
		json_decref(a);
		a = NULL;
	}
	return a ? a : json_object();
}

int ct_state_save(const char *root, const struct ct_state *st, struct err **err)
{
	_cleanup_free_ char *dir = ct_state_dir(root, st->id), *tmp = NULL, *path = NULL,
			    *text = NULL;
	_cleanup_close_ int fd = -1;
	json_t *o;

	o = json_pack("{s:s, s:i, s:I, s:s, s:s, s:i, s:s, s:b, s:i, s:o}", "id", st->id, "pid",
		      st->pid, "start_time", (json_int_t)st->start_time, "bundle", st->bundle,
		      "cgroup_path", st->cgroup_path, "cgroup_depth", (int)st->cgroup_depth,
		      "created", st->created, "paused", st->paused, "owner", (int)st->owner,
		      "annotations", annotations_of(st));
	if (!o)
		return err_make(err, ENOMEM, "encode state");
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text || !dir || asprintf(&tmp, "%s/.state.json.tmp", dir) < 0 ||
	    asprintf(&path, "%s/state.json", dir) < 0)
		return err_make(err, ENOMEM, "encode state");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_make(err, errno, "open `%s`", tmp);
	if (write_all(fd, text, strlen(text)) < 0)
		return err_make(err, errno, "write `%s`", tmp);
	if (rename(tmp, path) < 0)
		return err_make(err, errno, "rename `%s` to `%s`", tmp, path);
	return 0;
}

static char *dup_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return strdup(s ? s : "");
}

int ct_state_load(const char *root, const char *id, struct ct_state *st, struct err **err)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	json_error_t je;
	size_t len;
	json_t *o, *a;
	int r;

	memset(st, 0, sizeof(*st));
	if ((r = ct_id_check(id, err)) < 0)
		return r;
	if (asprintf(&path, "%s/%s/state.json", root, id) < 0)
		return err_make(err, ENOMEM, "load state");
	r = read_file(path, &text, &len);
	if (r == -ENOENT)
		return err_make(err, ENOENT, "container `%s` does not exist", id);
	if (r < 0)
		return err_make(err, -r, "read `%s`", path);
	o = json_loads(text, 0, &je);
	if (!o)
		return err_make(err, 0, "`%s`: %s", path, je.text);
	st->id = dup_str(o, "id");
	st->pid = json_integer_value(json_object_get(o, "pid"));
	st->start_time = json_integer_value(json_object_get(o, "start_time"));
	st->bundle = dup_str(o, "bundle");
	st->cgroup_path = dup_str(o, "cgroup_path");
	st->cgroup_depth = json_integer_value(json_object_get(o, "cgroup_depth"));
	st->created = dup_str(o, "created");
	st->paused = json_is_true(json_object_get(o, "paused"));
	st->owner = json_integer_value(json_object_get(o, "owner"));
	a = json_object_get(o, "annotations");
	if (json_is_object(a) && json_object_size(a))
		st->annotations = json_dumps(a, JSON_COMPACT);
	json_decref(o);
	return 0;
}

void ct_state_clear(struct ct_state *st)
{
	free(st->id);
	free(st->bundle);
	free(st->cgroup_path);
	free(st->created);
	free(st->annotations);
	memset(st, 0, sizeof(*st));
}

int ct_state_remove(const char *root, const char *id, struct err **err)
{
	static const char *const files[] = { "state.json", ".state.json.tmp", "exec.fifo" };
	_cleanup_free_ char *dir = ct_state_dir(root, id);
	_cleanup_close_ int dfd = -1;
	size_t i;

	if (!dir)
		return err_make(err, ENOMEM, "remove state");
	dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : err_make(err, errno, "open `%s`", dir);
	for (i = 0; i < ARRAY_SIZE(files); i++)
		if (unlinkat(dfd, files[i], 0) < 0 && errno != ENOENT)
			return err_make(err, errno, "remove `%s/%s`", dir, files[i]);
	if (rmdir(dir) < 0 && errno != ENOENT)
		return err_make(err, errno, "remove `%s`", dir);
	return 0;
}

uint64_t ct_proc_start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	char state;
	ssize_t n;
	int fd, i;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* comm may hold spaces and parentheses: fields restart after the last ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%c", &state) != 1 || state == 'Z' || state == 'X')
		return 0;
	for (i = 0; i < 20 && p; i++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &start) != 1)
		return 0;
	return start;
}

const char *ct_state_status(const char *root, const struct ct_state *st)
{
	char path[4096];
	uint64_t t;

	if (st->pid <= 0)
		return "creating";
	t = ct_proc_start_time(st->pid);
	if (!t || t != st->start_time)
		return "stopped";
	snprintf(path, sizeof(path), "%s/%s/exec.fifo", root, st->id);
	if (access(path, F_OK) == 0)
		return "created";
	return st->paused ? "paused" : "running";
}

char *ct_state_json(const struct ct_state *st, const char *status)
{
	json_t *o;
	char *s;

	o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:o, s:s, s:i}", "ociVersion", CT_OCI_VERSION,
		      "id", st->id, "status", status, "pid",
		      strcmp(status, "stopped") ? st->pid : 0, "bundle", st->bundle, "annotations",
		      annotations_of(st), "created", st->created ? st->created : "", "owner",
		      (int)st->owner);
	if (!o)
		return NULL;
	s = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	return s;
}
