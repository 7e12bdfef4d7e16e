// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Storage pools (pool.h, docs/storage.md): the list with the default pool
 * (DATA/vps, no store row) first, adding one after checking its directory
 * and probing it for reflinks, removing one no VPS is in, and the `pool`
 * of a create's body. Where a VPS's files are is host_vps_disks (paths.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "host/pool.h"

#define POOL_NAME_MAX 32 /* a-z, 0-9 and -, as a network's name (slug_ok) */

int pool_probe_reflink(const char *dir, struct err **err)
{
	char a[PATH_MAX], b[PATH_MAX];
	static const char data[4096] = "vps reflink probe";
	_cleanup_close_ int fa = -1, fb = -1;
	int r;

	if (snprintf(a, sizeof(a), "%s/.vps-probe-XXXXXX", dir) >= (int)sizeof(a) ||
	    snprintf(b, sizeof(b), "%s/.vps-probe-XXXXXX", dir) >= (int)sizeof(b))
		return err_make(err, ENAMETOOLONG, "`%s`", dir);
	if ((fa = mkostemp(a, O_CLOEXEC)) < 0)
		return err_make(err, errno, "write in `%s`", dir);
	if ((fb = mkostemp(b, O_CLOEXEC)) < 0) {
		r = err_make(err, errno, "write in `%s`", dir);
		unlink(a);
		return r;
	}
	if (write(fa, data, sizeof(data)) != (ssize_t)sizeof(data) || fsync(fa) < 0)
		r = err_make(err, errno ? errno : EIO, "write `%s`", a);
	else if (ioctl(fb, FICLONE, fa) == 0)
		r = 1;
	else if (errno == EOPNOTSUPP || errno == ENOTTY || errno == EXDEV || errno == EINVAL ||
		 errno == ENOSYS)
		r = 0;
	else
		r = err_make(err, errno, "FICLONE in `%s`", dir);
	unlink(a);
	unlink(b);
	return r;
}

json_t *pool_list(struct host *h)
{
	json_t *all = json_array(), *rows = store_pools(h->store), *x;
	_cleanup_free_ char *def = host_pool_path(h, NULL);
	struct vps *vs = NULL;
	size_t n = 0, in_default = 0, i;
	int rl = def ? pool_probe_reflink(def, NULL) : -ENOMEM;

	if (store_vps_list(h->store, &vs, &n, NULL) == 0) {
		for (i = 0; i < n; i++) {
			char *p = store_vps_pool(h->store, vs[i].name);

			in_default += !p;
			free(p);
		}
		store_vps_list_free(vs, n);
	}
	json_array_append_new(all, json_pack("{s:s, s:s?, s:b, s:b, s:I}", "name",
					     HOST_POOL_DEFAULT, "path", def, "reflink", rl == 1,
					     "default", 1, "vps", (json_int_t)in_default));
	json_array_foreach(rows, i, x)
	{
		json_object_set_new(x, "default", json_false());
		json_array_append(all, x);
	}
	json_decref(rows);
	return all;
}

int pool_add(struct host *h, json_t *body, json_t **out, struct err **err)
{
	const char *name = json_string_value(json_object_get(body, "name"));
	const char *path = json_string_value(json_object_get(body, "path"));
	_cleanup_free_ char *real = NULL, *def = host_pool_path(h, NULL);
	const char *k;
	json_t *x;
	struct stat st;
	struct err *e = NULL;
	int rl, r;

	json_object_foreach(body, k, x) if (strcmp(k, "name") && strcmp(k, "path")) return err_make(
		err, EINVAL, "`%s`: unknown field (name, path)", k);
	if (!slug_ok(name, POOL_NAME_MAX) || !strcmp(name, HOST_POOL_DEFAULT))
		return err_make(err, EINVAL,
				"`name`: expected 1 to 32 of a-z, 0-9 and `-`, not `default`");
	if (!path || path[0] != '/')
		return err_make(err, EINVAL, "`path`: expected an absolute path");
	if (!(real = realpath(path, NULL)))
		return err_make(err, EINVAL, "`path`: `%s`: %s", path, strerror(errno));
	/* what is stored is what is used: no link or `..` that could be turned elsewhere */
	if (strcmp(real, path))
		return err_make(err, EINVAL, "`path`: `%s` is `%s`; give that", path, real);
	if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_make(err, EINVAL, "`path`: `%s` is not a directory", path);
	if (!strcmp(real, "/") || (def && !strcmp(real, def)) || !strcmp(real, h->data_dir) ||
	    !strcmp(real, h->run_dir))
		return err_make(err, EINVAL, "`path`: `%s` is the host's or vpsd's own", path);
	if ((rl = pool_probe_reflink(real, &e)) < 0) {
		r = err_make(err, EINVAL, "`path`: %s",
			     err_msg(e)); /* read-only, no room: bad input */
		err_free(&e);
		return r;
	}
	if ((r = store_pool_add(h->store, name, real, rl == 1, (long long)time(NULL), err)) < 0)
		return r;
	if (out)
		*out = json_pack("{s:s, s:s, s:b, s:b, s:I}", "name", name, "path", real, "reflink",
				 rl == 1, "default", 0, "vps", (json_int_t)0);
	return 0;
}

int pool_rm(struct host *h, const char *name, struct err **err)
{
	if (!strcmp(name, HOST_POOL_DEFAULT))
		return err_make(err, EINVAL, "the default pool stays");
	return store_pool_delete(h->store, name, err);
}

int pool_take(struct host *h, json_t *body, char **pool, struct err **err)
{
	json_t *p = json_object_get(body, "pool");
	char *path;

	*pool = NULL;
	if (!p)
		return 0;
	if (!json_is_string(p))
		return err_make(err, EINVAL, "`pool`: expected a pool name");
	if (strcmp(json_string_value(p), HOST_POOL_DEFAULT)) {
		if (!slug_ok(json_string_value(p), POOL_NAME_MAX) ||
		    !(path = host_pool_path(h, json_string_value(p))))
			return err_make(err, EINVAL, "`pool`: no pool `%.40s` (GET /api/v1/pools)",
					json_string_value(p));
		free(path);
		if (!(*pool = strdup(json_string_value(p))))
			return err_make(err, ENOMEM, "`pool`");
	}
	json_object_del(body, "pool");
	return 0;
}
