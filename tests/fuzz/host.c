// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the daemon's targets (api_body, auth_body) link in place of vpsd's
 * main.c: the kinds in libvpshost refer to these paths, and no target
 * reaches a call that needs them.
 */
#include <stddef.h>

#include "host/host.h"

char *host_vps_dir(const struct host *h, const char *name, const char *leaf)
{
	(void)h, (void)name, (void)leaf;
	return NULL;
}

char *host_vps_run(const struct host *h, const char *name, const char *leaf)
{
	(void)h, (void)name, (void)leaf;
	return NULL;
}

char *host_bin(const struct host *h, const char *prog)
{
	(void)h, (void)prog;
	return NULL;
}
