/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Node credentials and forwarding (peer.c, docs/cluster.md "Forwarding").
 * In a cluster each node holds a key of its own (DATA/node.key) and a
 * certificate the cluster's authority issued it when it joined; it serves
 * the other nodes on its node-to-node listener (--peer HOST:PORT, TLS with
 * that certificate, members' certificates required), and sends them the
 * requests for VPSes they hold over it, with the caller's identity in one
 * header that only that listener reads.
 */
#ifndef VPS_HOST_PEER_H
#define VPS_HOST_PEER_H

#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <sys/types.h>

#include "common/err.h"

struct host;
struct principal;

/* The caller's identity, node to node: read on the node-to-node listener only. */
#define PEER_CALLER_HEADER "X-Vps-Caller"
#define PEER_LOCATION_MAX 256

struct peer {
	char *ca; /* the cluster authority's certificate (PEM) */
	char *cert, *key; /* this node's certificate and key (PEM) */
	char *listen; /* --peer HOST:PORT */
};

/*
 * This node's credentials: its key (made once, DATA/node.key, 0600), the
 * cluster authority (made by the first node that needs one, kept in the
 * store), a certificate issued to this node by it, and the node's row
 * given its --peer address and the certificate. Only after the node joined.
 */
int peer_start(struct host *h, const char *listen, struct err **err);
void peer_stop(struct host *h);

/*
 * Whether the TLS session's client certificate is a member's: issued by
 * the cluster authority and the one a node's row holds. The node's name
 * into node. 0, or -EACCES with why.
 */
int peer_check_client(struct host *h, gnutls_session_t tls, char node[64], struct err **err);
/* All of buf as TLS records (peer.c and the stream's listener): 0, or -EIO. */
int peer_tls_send(gnutls_session_t s, const char *buf, size_t len);

/*
 * The caller a member sent (PEER_CALLER_HEADER's JSON) into p; -EACCES on
 * a header that does not parse.
 */
int peer_caller(const char *header, struct principal *p, struct err **err);

/*
 * Send the request to node `node` (its --peer address, its certificate
 * pinned) as caller p: method, path (under /api/v1, with its query) and
 * body. The answer's status, JSON body and Location header (or "") into
 * *status, *out and location. -ENOTSUP:
 * that node has no node-to-node listener (the caller answers 421);
 * -EHOSTUNREACH: it does not answer.
 */
int peer_forward(struct host *h, const char *node, const struct principal *p, const char *method,
		 const char *path, json_t *body, unsigned int *status, json_t **out,
		 char location[PEER_LOCATION_MAX], struct err **err);

/*
 * Told, before each chunk of a file goes, the bytes sent so far and the
 * chunk's; < 0 stops it there (ECANCELED, the connection cut).
 */
typedef int (*peer_sent_fn)(unsigned long long sent, size_t next, void *arg);
/*
 * PUT len bytes of the file fd (at its offset) to node's path, with one more
 * header line ("Name: value\r\n"), each() (may be NULL) told as it goes; as
 * peer_forward otherwise.
 */
int peer_send_file(struct host *h, const char *node, const struct principal *p, const char *path,
		   int fd, unsigned long long len, const char *header, peer_sent_fn each,
		   void *each_arg, unsigned int *status, json_t **out, struct err **err);

/*
 * A WebSocket to node's path (its console): a GET with the upgrade's
 * headers (the client's key, the subprotocol when one was agreed) as
 * caller p. 101: *ps is the TLS stream to relay, byte for byte, from
 * then on. Otherwise its status and JSON body in *status and *out (a
 * refusal, answered to the client as it is).
 */
struct peer_stream;
int peer_upgrade(struct host *h, const char *node, const struct principal *p, const char *path,
		 const char *key, const char *protocol, struct peer_stream **ps,
		 unsigned int *status, json_t **out, struct err **err);
/*
 * A live move's stream to node (docs/cluster.md "A running VM on
 * vps-vmm"): TLS to port on its listener's host, its certificate pinned
 * as peer_forward's, the ticket its listener gave (PEER_TICKET_LEN hex)
 * sent first. Then as peer_upgrade's stream.
 */
#define PEER_TICKET_LEN 64
int peer_stream_dial(struct host *h, const char *node, unsigned int port, const char *ticket,
		     struct peer_stream **ps, struct err **err);
/*
 * The other end, here: a TLS listener of its own on this node's --peer
 * host, a port the kernel picks (into *port), for one connection from
 * node `from` (its member certificate, checked as the node listener's)
 * that sends the ticket (made here, into ticket) first; it is relayed to
 * the unix socket sock, in records of up to 16 KiB (libmicrohttpd's
 * upgrade moved it a few bytes at a time). Connections that fail the
 * handshake, the certificate or the ticket are closed and the next one
 * waited for; none right within PEER_STREAM_WAIT_S, and it closes.
 */
#define PEER_STREAM_WAIT_S 30
int peer_stream_serve(struct host *h, const char *from, const char *sock, unsigned int *port,
		      char ticket[PEER_TICKET_LEN + 1], struct err **err);
int peer_stream_fd(const struct peer_stream *ps);
/* Bytes read already (TLS records, what came with the 101) that a poll on the fd would miss. */
bool peer_stream_pending(const struct peer_stream *ps);
/* > 0 bytes, 0 at the end, -EAGAIN, or < 0 broken. */
ssize_t peer_stream_recv(struct peer_stream *ps, void *buf, size_t len);
int peer_stream_send(struct peer_stream *ps, const void *buf, size_t len);
void peer_stream_close(struct peer_stream *ps);

#endif
