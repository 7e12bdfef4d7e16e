/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The REST API at /api/v1 (api.c, docs/vpsd.md). */
#ifndef VPS_HOST_API_H
#define VPS_HOST_API_H

#include <microhttpd.h>

#include "common/err.h"
#include "host/host.h"

struct MHD_Daemon *api_start_unix(struct host *h, const char *path, struct err **err);
struct MHD_Daemon *api_start_tcp(struct host *h, const char *addr, unsigned short port,
				 struct err **err);

#endif
