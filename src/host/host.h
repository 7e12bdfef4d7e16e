/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's context: where its files are, where the programs it runs
 * are, and its store. One per vpsd; passed to every kind operation.
 */
#ifndef VPS_HOST_HOST_H
#define VPS_HOST_HOST_H

#include "host/store.h"

struct host {
	char *data_dir; /* /var/lib/vps */
	char *run_dir; /* /run/vps */
	char *bin_dir; /* where vps-ctm, vps-ct, vps-vmm are (beside vpsd by default) */
	char *self; /* vpsd's own path: the keeper is vpsd run as `vps-keeper` */
	char *mktemplate; /* the ct template builder */
	char *mkvmtemplate; /* the vm template builder ($VPS_MKVMTEMPLATE overrides) */
	struct store *store;
	char *web_dir; /* the control panel's files (--web; web.c) */
	char *api_doc; /* the OpenAPI description served at /api/v1/openapi.json */
	int sample_every; /* usage samples every N s (--sample-every; usage.c), 0: none */
	int usage_keep; /* at most N samples per VPS (--usage-keep) */
	long pids_limit; /* each container's pids limit (--pids-limit, default 4096) */
	int start_timeout; /* seconds a start waits for the monitor (--start-timeout, 60) */
	/* membership (node.c, docs/cluster.md) */
	const char *node; /* --node NAME in a cluster; NULL on one host */
	char *advertise; /* this node's API as the others reach it: http(s)://HOST:PORT, or "" */
	int heartbeat_every; /* seconds between heartbeats (--heartbeat, default 5) */
	int offline_after; /* missed heartbeats before a node shows offline (default 3) */
	struct peer *peer; /* node credentials (peer.c); NULL on one host */
	char *metrics_token; /* --metrics-token-file's secret: opens GET /metrics only; NULL: none */
	/* enum auth_require: who must log in with 2FA, the store's as last read (settings.h) */
	int require_2fa;
	long long require_2fa_read; /* when it was read (Unix time), 0: never */
	int stale_reads; /* seconds the read copy answers with the database away (standby.c) */
};

/* DATA/vps/NAME[/leaf] and RUN/vps/NAME[/leaf]; caller frees. */
char *host_vps_dir(const struct host *h, const char *name, const char *leaf);
char *host_vps_run(const struct host *h, const char *name, const char *leaf);
/*
 * Storage pools (pool.c, docs/storage.md): a pool is a directory; a VPS's
 * disks (and their snapshots) are in POOL/NAME/. The default pool is
 * DATA/vps, where the VPS's own directory (host_vps_dir) is, so there the
 * two are one. host_pool_path: a pool's directory (NULL: the default
 * pool's), NULL when there is no such pool; host_vps_disks:
 * POOL/NAME[/leaf] of the VPS's pool. Caller frees.
 */
#define HOST_POOL_DEFAULT "default"
char *host_pool_path(const struct host *h, const char *pool);
char *host_vps_disks(const struct host *h, const char *name, const char *leaf);
/* BIN/prog; caller frees. */
char *host_bin(const struct host *h, const char *prog);
struct err;
/*
 * Fill bin_dir, mktemplate, mkvmtemplate, web_dir (web: --web, or NULL) and
 * api_doc from vpsd's own path `self`: the installed places, or the build
 * and source trees (paths.c). The caller frees them.
 */
int host_find_files(struct host *h, const char *self, const char *web, struct err **err);

#endif
