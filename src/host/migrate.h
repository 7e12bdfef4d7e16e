/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Migration between nodes (migrate.c, docs/cluster.md "Migration"): a
 * stopped VPS's directory streamed to another node compressed and
 * checksummed, then its row moved in one statement; a running container
 * stops, moves and starts there.
 */
#ifndef VPS_HOST_MIGRATE_H
#define VPS_HOST_MIGRATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

struct host;

/* The checksum of a migration's archive, node to node: SHA-256, hex. */
#define MIGRATE_SHA_HEADER "X-Vps-Sha256"

/*
 * On a live move's archive (migrate.c, docs/cluster.md "A running VM on
 * vps-vmm"): the VPS runs on at the source; its state follows as a stream.
 */
#define MIGRATE_LIVE_HEADER "X-Vps-Live"

/* On a live move's blocks file (migrate_blocks.h), sent after its archive. */
#define MIGRATE_BLOCKS_HEADER "X-Vps-Blocks"

/* In a running VM's archive: its saved state (`state`), taken in and run on there. */
#define MIGRATE_STATE_DIR "migrate-state"

/* A live move asked for and not possible here (409 `live_unavailable`). */
#define MIGRATE_ENOLIVE ENOPROTOOPT

/*
 * Move VPS name (held here) to node body.to, as user: {"vps", "from", "to",
 * "bytes", "sha256", "seconds"} and, for a running container,
 * "downtime_ms". body.live (a running container kept running through the
 * move) is refused with MIGRATE_ENOLIVE and nothing done where it cannot
 * be, unless body.fallback is "restart": then it moves by a restart and
 * says why in "live_refused" ("live": false).
 */
int migrate_vps(struct host *h, const char *name, json_t *body, const char *user, json_t **out,
		struct err **err);

/*
 * Evacuate node `node` (any node may be asked): its state becomes
 * evacuating (no new VPS is placed there), and each VPS it holds is
 * migrated to the node placement picks. {"node", "moved": [{"vps", "to"}],
 * "failed": [{"vps", "error"}]}. restore: the node back to online.
 */
int migrate_evacuate(struct host *h, const char *node, const char *user, json_t **out,
		     struct err **err);
int migrate_restore(struct host *h, const char *node, struct err **err);

/*
 * A live move's blocks file (MIGRATE_BLOCKS_HEADER) arriving from node
 * `from` into tmp (migrate_blocks_incoming opens it), its SHA-256 `got`
 * against the sender's `want`: applied over the images of VPS name's live
 * arrival (its copy came, its monitor not started), or nothing written.
 * {"bytes", "ranges"}.
 */
int migrate_blocks_incoming(struct host *h, const char *name, char **tmp, struct err **err);
int migrate_blocks_in(struct host *h, const char *name, const char *tmp, const char *got,
		      const char *want, const char *from, json_t **out, struct err **err);

/*
 * Whether a running container can move live from this node (migrate_live.c):
 * false, and why in why (an operator's words: what fails and what to do).
 */
bool migrate_live_ready(struct host *h, char *why, size_t len);

/* The receiving side: the file its archive is written to (caller frees *tmp), open for writing. */
int migrate_incoming(struct host *h, const char *name, char **tmp, struct err **err);
/*
 * The archive in tmp arrived, with checksum got (hex, what was written)
 * against want (the sender's header): on a match it is unpacked as VPS
 * name's directory; on a mismatch dropped (-EBADMSG). tmp is gone after.
 * live_from: a live move's archive (MIGRATE_LIVE_HEADER) from that node.
 */
int migrate_receive(struct host *h, const char *name, const char *tmp, const char *got,
		    const char *want, unsigned long long bytes, const char *live_from, json_t **out,
		    struct err **err);
/*
 * The receiving side of a live move, node `from` sending (its certificate
 * checked): the archive (migrate_receive's live_from) of a VPS `from`
 * holds running, marked as an arrival (it runs nowhere here yet); then its stream: the monitor started
 * here waiting at *sock (caller frees) for the bytes the caller relays;
 * then arrived: whether it runs here ({"running", "migration"}), the mark
 * taken off. Each refuses a VPS with no live move of it under way from
 * `from` (-EPERM, -EBUSY).
 */
int migrate_stream_in(struct host *h, const char *name, const char *from, char **sock,
		      struct err **err);
int migrate_arrived(struct host *h, const char *name, const char *from, json_t **out,
		    struct err **err);

#endif
