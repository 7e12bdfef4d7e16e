// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Where the daemon's files and programs are (host.h): a VPS's directories
 * under the data and run roots; the monitors, the template builders and the
 * panel where the package installs them (common/config.h, from meson), or in
 * the build and source trees when vpsd runs from a checkout. The bottom of
 * the daemon's layers: it calls nothing of theirs.
 */
#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/config.h"
#include "common/err.h"
#include "host/host.h"

char *host_vps_dir(const struct host *h, const char *name, const char *leaf)
{
	char *p;

	if (asprintf(&p, "%s/vps/%s%s%s", h->data_dir, name, leaf ? "/" : "", leaf ? leaf : "") < 0)
		return NULL;
	return p;
}

char *host_vps_run(const struct host *h, const char *name, const char *leaf)
{
	char *p;

	if (asprintf(&p, "%s/vps/%s%s%s", h->run_dir, name, leaf ? "/" : "", leaf ? leaf : "") < 0)
		return NULL;
	return p;
}

char *host_pool_path(const struct host *h, const char *pool)
{
	json_t *all, *x;
	size_t i;
	char *p = NULL;

	if (!pool || !strcmp(pool, HOST_POOL_DEFAULT)) {
		if (asprintf(&p, "%s/vps", h->data_dir) < 0)
			return NULL;
		return p;
	}
	all = store_pools(h->store);
	json_array_foreach(all, i, x)
	{
		if (!strcmp(json_string_value(json_object_get(x, "name")), pool)) {
			p = strdup(json_string_value(json_object_get(x, "path")));
			break;
		}
	}
	json_decref(all);
	return p;
}

char *host_vps_disks(const struct host *h, const char *name, const char *leaf)
{
	_cleanup_free_ char *pool = store_vps_pool(h->store, name);
	_cleanup_free_ char *root = NULL;
	char *p;

	if (!pool)
		return host_vps_dir(h, name, leaf);
	if (!(root = host_pool_path(h, pool)))
		return NULL;
	if (asprintf(&p, "%s/%s%s%s", root, name, leaf ? "/" : "", leaf ? leaf : "") < 0)
		return NULL;
	return p;
}

char *host_bin(const struct host *h, const char *prog)
{
	static const char *const sub[] = { "", "/ctm", "/ct", "/vmm", "/cli", "/tmpl" };
	char *p;

	/* installed: all beside vpsd; build tree: build/src/{ctm,ct,vmm}/ */
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		if (asprintf(&p, "%s%s/%s", h->bin_dir, sub[i], prog) < 0)
			return NULL;
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	if (asprintf(&p, "%s/%s", h->bin_dir, prog) < 0)
		return NULL;
	return p;
}

/* dir/rel, resolved, when it exists (mode: access(2)'s), else NULL; caller frees */
static char *found(const char *dir, const char *rel, int mode)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, rel) < 0)
		return NULL;
	if (access(p, mode) == 0) {
		char *r = realpath(p, NULL); /* BUILD/src/../../web: the tree's own name */

		free(p);
		return r;
	}
	free(p);
	return NULL;
}

/*
 * Installed, vpsd is VPS_SBINDIR/vpsd with the monitors beside it, and the
 * template builders and the panel are in VPS_LIBEXECDIR and VPS_DATADIR. Any
 * other vpsd runs from a build tree (BUILD/src/host/vpsd): the monitors are
 * in BUILD/src/{ct,ctm,vmm}/ and the builders and the panel in the source
 * tree above BUILD; what is not there is taken from the installed places.
 */
int host_find_files(struct host *h, const char *self, const char *web, struct err **err)
{
	_cleanup_free_ char *dup = strdup(self), *up = NULL;
	const char *dir = dup ? dirname(dup) : NULL;
	const char *vmt = getenv("VPS_MKVMTEMPLATE");
	bool installed;

	if (!dir)
		return err_make(err, ENOMEM, "vpsd's own path");
	installed = !strcmp(dir, VPS_SBINDIR);
	if (installed || !(up = found(dir, "..", F_OK)) ||
	    (h->bin_dir = found(dir, "vps-ctm", X_OK)))
		h->bin_dir = h->bin_dir ? h->bin_dir : strdup(dir);
	else
		h->bin_dir = realpath(up, NULL); /* BUILD/src */
	if (!h->bin_dir)
		return err_make(err, errno, "the programs beside `%s`", self);
	if (!installed)
		h->mktemplate = found(h->bin_dir, "../../src/ct/templates/mktemplate", X_OK);
	if (!h->mktemplate && asprintf(&h->mktemplate, "%s/mktemplate", VPS_LIBEXECDIR) < 0)
		h->mktemplate = NULL;
	if (vmt && *vmt)
		h->mkvmtemplate = strdup(vmt);
	else if (!installed)
		h->mkvmtemplate = found(h->bin_dir, "../../src/host/templates/mkvmtemplate", X_OK);
	if (!h->mkvmtemplate && asprintf(&h->mkvmtemplate, "%s/mkvmtemplate", VPS_LIBEXECDIR) < 0)
		h->mkvmtemplate = NULL;
	if (!h->mktemplate || !h->mkvmtemplate)
		return err_make(err, ENOMEM, "the template builders' paths");
	/* the panel and the API description: --web, the source tree's, else the installed ones */
	if (web && !(h->web_dir = realpath(web, NULL)))
		return err_make(err, errno, "--web `%s`", web);
	if (!h->web_dir && !installed)
		h->web_dir = found(h->bin_dir, "../../web", R_OK);
	if (!h->web_dir && asprintf(&h->web_dir, "%s/web", VPS_DATADIR) < 0)
		h->web_dir = NULL;
	if (!h->web_dir)
		return err_make(err, ENOMEM, "the panel's path");
	h->api_doc = found(h->web_dir, "../docs/openapi.json", R_OK);
	if (!h->api_doc && asprintf(&h->api_doc, "%s/openapi.json", h->web_dir) < 0)
		h->api_doc = NULL;
	return 0;
}
