// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A live move's stream, node to node (peer.h peer_stream_serve,
 * docs/cluster.md "A running VM on vps-vmm"): the destination's side. The
 * stream went through the node listener's upgraded connection at first,
 * and libmicrohttpd 0.9.75 forwards an upgraded TLS connection a few bytes
 * at a time (its buffers took the connection's whole memory pool), which
 * made a move's pause seconds. Here vpsd serves it with GnuTLS itself, on
 * the node listener's terms: this node's certificate, a member's required
 * of the client (the same check, peer_check_client), the node that asked
 * for it and no other, and a one-time ticket handed out in the answer that
 * named the port. The bytes then go in records of up to 16 KiB.
 */
#include <errno.h>
#include <gnutls/crypto.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "host/host.h"
#include "host/peer.h"
#include "sys/unix.h"

#define HANDSHAKE_S 5 /* a connection that does not finish its handshake and ticket by then */
#define IO_TIMEOUT_S 60 /* a send or a receive that stalls this long ends the stream */
#define CHUNK (1 << 16)

struct serve {
	struct host *h;
	int lfd;
	char from[64], ticket[PEER_TICKET_LEN + 1], sock[4096];
	gnutls_certificate_credentials_t cred;
};

static long long now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void timeouts(int fd, int s)
{
	struct timeval tv = { s, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* The ticket line (PEER_TICKET_LEN hex and \n), compared in constant time. */
static bool ticket_ok(gnutls_session_t s, const char *want)
{
	char got[PEER_TICKET_LEN + 1];
	size_t n = 0;
	unsigned char diff = 0;

	while (n < sizeof(got)) {
		ssize_t r = gnutls_record_recv(s, got + n, sizeof(got) - n);

		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			continue;
		if (r <= 0)
			return false;
		n += (size_t)r;
	}
	for (size_t i = 0; i < PEER_TICKET_LEN; i++)
		diff |= (unsigned char)(got[i] ^ want[i]);
	return !diff && got[PEER_TICKET_LEN] == '\n';
}

/* One connection's TLS and checks: its session, or NULL (closed, with why in the log). */
static gnutls_session_t admit(struct serve *sv, int fd)
{
	gnutls_session_t s = NULL;
	char node[64] = "";
	struct err *e = NULL;
	int r;

	timeouts(fd, HANDSHAKE_S);
	if ((r = gnutls_init(&s, GNUTLS_SERVER)) < 0 || (r = gnutls_set_default_priority(s)) < 0 ||
	    (r = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, sv->cred)) < 0) {
		pr_err("node to node: a stream's TLS: %s", gnutls_strerror(r));
		goto fail;
	}
	gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, HANDSHAKE_S * 1000);
	do
		r = gnutls_handshake(s);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0) {
		pr_warn("node to node: a stream's TLS handshake: %s", gnutls_strerror(r));
		goto fail;
	}
	if (peer_check_client(sv->h, s, node, &e) < 0) {
		pr_warn("%s", err_msg(e));
		err_free(&e);
		goto fail;
	}
	if (strcmp(node, sv->from)) {
		pr_warn("node to node: a stream for node `%s` came from node `%s`", sv->from, node);
		goto fail;
	}
	if (!ticket_ok(s, sv->ticket)) {
		pr_warn("node to node: node `%s` sent a stream without its ticket", node);
		goto fail;
	}
	timeouts(fd, IO_TIMEOUT_S);
	return s;
fail:
	if (s)
		gnutls_deinit(s);
	return NULL;
}

/* The monitor's socket (a socket, not what a link leads to), waited for a little. */
static int monitor(const char *path)
{
	struct stat st;
	int fd = -ENOENT;

	for (int i = 0; i < 100; i++) {
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
			return -ENOTSOCK;
		if ((fd = unix_connect(path)) >= 0)
			return fd;
		usleep(50000);
	}
	return fd;
}

/* Both ways until either side ends: how it ended. */
static const char *pump(gnutls_session_t s, int tfd, int mfd)
{
	char *buf = malloc(CHUNK);
	const char *why = NULL;

	if (!buf)
		return "out of memory";
	while (!why) {
		struct pollfd p[2] = { { tfd, POLLIN, 0 }, { mfd, POLLIN, 0 } };
		ssize_t n;

		if (gnutls_record_check_pending(s) > 0)
			p[0].revents = POLLIN;
		else if (poll(p, 2, -1) < 0) {
			if (errno != EINTR)
				why = "poll failed";
			continue;
		}
		if (p[0].revents) {
			n = gnutls_record_recv(s, buf, CHUNK);
			if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION)
				why = "the source closed";
			else if (n < 0 && n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
				why = gnutls_strerror((int)n);
			else if (n > 0 && write_all(mfd, buf, (size_t)n) < 0)
				why = "the monitor is gone";
		}
		if (!why && p[1].revents) {
			n = recv(mfd, buf, CHUNK, MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				why = "the monitor closed";
			else if (n > 0 && peer_tls_send(s, buf, (size_t)n) < 0)
				why = "the source is gone";
		}
	}
	free(buf);
	return why;
}

static void *serve_run(void *arg)
{
	struct serve *sv = arg;
	long long end = now_s() + PEER_STREAM_WAIT_S;
	gnutls_session_t s = NULL;
	int fd = -1, mfd;

	while (!s) {
		long long left = end - now_s();
		struct pollfd p = { sv->lfd, POLLIN, 0 };

		if (left <= 0 || poll(&p, 1, (int)left * 1000) <= 0)
			break;
		if ((fd = accept4(sv->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		if (!(s = admit(sv, fd))) {
			close(fd);
			fd = -1;
		}
	}
	close(sv->lfd);
	if (!s) {
		pr_warn("node to node: no stream came from node `%s` within %d s", sv->from,
			PEER_STREAM_WAIT_S);
		/* the monitor waiting for it: an empty stream, and it gives the move up */
		if ((mfd = unix_connect(sv->sock)) >= 0)
			close(mfd);
	} else if ((mfd = monitor(sv->sock)) < 0) {
		pr_err("node to node: the stream from node `%s`: connect to `%s`: %s", sv->from,
		       sv->sock, strerror(-mfd));
	} else {
		const char *why = pump(s, fd, mfd);

		pr_info("node to node: the stream from node `%s` ended: %s", sv->from, why);
		close(mfd);
	}
	if (s) {
		gnutls_bye(s, GNUTLS_SHUT_WR);
		gnutls_deinit(s);
	}
	if (fd >= 0)
		close(fd);
	gnutls_certificate_free_credentials(sv->cred);
	explicit_bzero(sv->ticket, sizeof(sv->ticket));
	free(sv);
	return NULL;
}

/* A listening socket on the --peer address's host, on a port the kernel picks. */
static int listen_near(const char *addr, unsigned int *port, struct err **err)
{
	char host[256];
	const char *colon = addr ? strrchr(addr, ':') : NULL;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai;
	struct sockaddr_storage sa;
	socklen_t sl = sizeof(sa);
	int fd = -1, r, one = 1;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return err_make(err, ENOTSUP, "this node has no node-to-node listener");
	if (addr[0] == '[' && colon[-1] == ']')
		snprintf(host, sizeof(host), "%.*s", (int)(colon - addr - 2), addr + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	if ((r = getaddrinfo(*host ? host : NULL, "0", &hints, &ai)))
		return err_make(err, EADDRNOTAVAIL, "`%s`: %s", host, gai_strerror(r));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		r = err_make(err, errno, "listen on `%s` for a stream", host);
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return r;
	}
	freeaddrinfo(ai);
	*port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port :
						 ((struct sockaddr_in *)&sa)->sin_port);
	return fd;
}

int peer_stream_serve(struct host *h, const char *from, const char *sock, unsigned int *port,
		      char ticket[PEER_TICKET_LEN + 1], struct err **err)
{
	struct serve *sv = calloc(1, sizeof(*sv));
	struct peer *p = h->peer;
	unsigned char rnd[PEER_TICKET_LEN / 2];
	gnutls_datum_t ca, cert, key;
	pthread_attr_t attr;
	pthread_t t;
	int r, fd;

	if (!sv)
		return err_make(err, ENOMEM, "a stream");
	sv->lfd = -1;
	if (!p) {
		r = err_make(err, ENOTSUP, "this node has no node credentials");
		goto fail;
	}
	sv->h = h;
	snprintf(sv->from, sizeof(sv->from), "%s", from);
	snprintf(sv->sock, sizeof(sv->sock), "%s", sock);
	if ((r = gnutls_rnd(GNUTLS_RND_KEY, rnd, sizeof(rnd))) < 0) {
		r = err_make(err, EIO, "a stream's ticket: %s", gnutls_strerror(r));
		goto fail;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(sv->ticket + 2 * i, 3, "%02x", rnd[i]);
	ca = (gnutls_datum_t){ (unsigned char *)p->ca, (unsigned int)strlen(p->ca) };
	cert = (gnutls_datum_t){ (unsigned char *)p->cert, (unsigned int)strlen(p->cert) };
	key = (gnutls_datum_t){ (unsigned char *)p->key, (unsigned int)strlen(p->key) };
	if ((r = gnutls_certificate_allocate_credentials(&sv->cred)) < 0 ||
	    (r = gnutls_certificate_set_x509_trust_mem(sv->cred, &ca, GNUTLS_X509_FMT_PEM)) < 0 ||
	    (r = gnutls_certificate_set_x509_key_mem(sv->cred, &cert, &key, GNUTLS_X509_FMT_PEM)) <
		    0) {
		r = err_make(err, EPROTO, "a stream's TLS: %s", gnutls_strerror(r));
		goto fail;
	}
	if ((sv->lfd = listen_near(p->listen, port, err)) < 0) {
		r = sv->lfd;
		pr_warn("node to node: no port for a stream from node `%s`: %s", from,
			err_msg(*err));
		goto fail;
	}
	memcpy(ticket, sv->ticket, sizeof(sv->ticket));
	pr_info("node to node: a stream from node `%s` to `%s` waited for at port %u", from, sock,
		*port);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &attr, serve_run, sv);
	pthread_attr_destroy(&attr);
	if (r) {
		r = err_make(err, r, "a stream's thread");
		goto fail;
	}
	return 0;
fail:
	/* the monitor waiting for the stream: an empty one, and it gives the move up */
	if ((fd = unix_connect(sock)) >= 0)
		close(fd);
	if (sv->lfd >= 0)
		close(sv->lfd);
	if (sv->cred)
		gnutls_certificate_free_credentials(sv->cred);
	free(sv);
	return r < 0 ? r : -r;
}
