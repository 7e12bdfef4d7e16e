/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The REST API at /api/v1 (api.c, docs/vpsd.md). */
#ifndef VPS_HOST_API_H
#define VPS_HOST_API_H

#include <microhttpd.h>

#include "common/err.h"
#include "host/host.h"

struct api;

/* The unix socket: its caller is the host's administrator (docs/auth.md). */
struct api *api_start_unix(struct host *h, const char *path, struct err **err);
/* TCP (IPv4 or IPv6 address), HTTPS when cert and key (PEM files) are given. */
struct api *api_start_tcp(struct host *h, const char *addr, unsigned short port, const char *cert,
			  const char *key, struct err **err);
/*
 * The node-to-node listener (peer.h, docs/cluster.md): HTTPS with this
 * node's certificate, a member's client certificate required; the caller
 * is the one the member names. Only the API, no panel.
 */
struct api *api_start_peer(struct host *h, const char *addr, unsigned short port, struct err **err);
void api_stop(struct api *a);

#endif
