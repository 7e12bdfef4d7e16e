// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ISO routes: the list and the delete. An upload streams to a file
 * in the connection (api.c), before any handler runs.
 */
#include <dirent.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/life.h"
#include "host/reply.h"
#include "host/route.h"

static json_t *isos(struct host *h)
{
	char dir[4200];
	json_t *a = json_array();
	DIR *d;
	struct dirent *e;

	snprintf(dir, sizeof(dir), "%s/isos", h->data_dir);
	if (!(d = opendir(dir)))
		return a;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		struct stat st;
		char p[4500];

		if (e->d_name[0] == '.' || l < 5 || strcmp(e->d_name + l - 4, ".iso"))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (stat(p, &st) == 0)
			json_array_append_new(a, json_pack("{s:s%, s:I}", "name", e->d_name, l - 4,
							   "size", (json_int_t)st.st_size));
	}
	closedir(d);
	return a;
}

enum MHD_Result api_isos_get(struct call *x)
{
	return reply(x->c, 200, isos(x->h));
}

enum MHD_Result api_iso_delete(struct call *x)
{
	char path[4200];

	if (!life_iso_name_ok(x->arg))
		return reply_error(x->c, ENOENT, "no such ISO");
	snprintf(path, sizeof(path), "%s/isos/%s.iso", x->h->data_dir, x->arg);
	if (life_iso_in_use(x->h, path))
		return reply_error(x->c, EBUSY, "the ISO is in use by a VPS");
	if (unlink(path) < 0)
		return reply_error(x->c, ENOENT, "no such ISO");
	return reply(x->c, 200, json_pack("{s:b}", "ok", 1));
}
