// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Where the daemon's files and programs are (host.h): a VPS's directories
 * under the data and run roots, and the monitors beside vpsd or in the
 * build tree. The bottom of the daemon's layers: it calls nothing of theirs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

char *host_bin(const struct host *h, const char *prog)
{
	static const char *const sub[] = { "", "/ctm", "/ct", "/vmm", "/cli" };
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
