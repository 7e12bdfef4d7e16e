/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Membership (docs/cluster.md): each vpsd is a node, a row in the store's
 * nodes table with its API address, its capacity (CPUs, RAM, the data
 * directory's disk), its state and its last heartbeat. At start a vpsd
 * registers (a name new to a cluster only with a join token), then beats
 * every --heartbeat seconds; a node whose beat is older than
 * --offline-after beats shows offline. On one host (SQLite) the table is
 * the host's own row.
 *
 * Work on a VPS held by another node is not done here: the request is
 * answered 421 (Misdirected Request) naming the node and its address
 * (routes.c), and the caller sends it there.
 */
#ifndef VPS_HOST_NODE_H
#define VPS_HOST_NODE_H

#include <jansson.h>

#include "common/err.h"
#include "host/host.h"

/* Join tokens live this long unless told (vps node token --ttl). */
#define NODE_TOKEN_TTL 3600
#define NODE_TOKEN_TTL_MAX (7 * 86400)

/* Register this node (join: a token, or NULL) and start the heartbeat. */
int node_start(struct host *h, const char *join, struct err **err);
/* Stop the heartbeat and mark this node offline (a clean stop). */
void node_stop(struct host *h);

/*
 * Every node with its state as seen now (a stale heartbeat: offline),
 * what is allocated on it and how many VPSes it holds; NULL (-EIO with a
 * message): the store did not answer.
 */
json_t *node_list(struct host *h, struct err **err);
/* One node of that list (a new reference), or NULL. */
json_t *node_find(json_t *list, const char *name);
/*
 * One node of the list (-ENOENT: no such node), with `evacuating` and
 * `used`: the sum of its VPSes' usage samples of the last minutes
 * {cpus, ram, disk, sampled (the newest one's time, 0: none)}.
 */
int node_show(struct host *h, const char *name, json_t **out, struct err **err);
/*
 * A node out of the cluster (its row and certificate gone: it can neither
 * forward nor join again without a new token). -EBUSY: it is this node,
 * any VPS record names it, or (not force) its heartbeat is fresh.
 */
int node_remove(struct host *h, const char *name, bool force, struct err **err);
/* A one-time join token: {token, expires}; the store keeps its hash only. */
int node_token(struct host *h, json_t *body, json_t **out, struct err **err);

/*
 * The node that holds VPS `name`, when it is not this one: 1 with its
 * name and address; 0 for this node's (or no such VPS: the caller says
 * so); on one host always 0.
 */
int node_elsewhere(struct host *h, const char *name, char node[64], char addr[256]);
/*
 * For a create that placement sent elsewhere (policy_place: -EXDEV): the
 * node and address, kept for the answer (err_json) in this thread.
 */
void node_note_elsewhere(const char *node, const char *addr);
void node_noted_elsewhere(json_t *error);

#endif
