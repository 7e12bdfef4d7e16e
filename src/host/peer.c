// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Node credentials and forwarding (peer.h, docs/cluster.md "Forwarding"):
 * the cluster's certificate authority and the certificate it issues each
 * node (GnuTLS, the library libmicrohttpd serves TLS with), the check of a
 * member's client certificate on the node-to-node listener, and the client
 * side: a request for a VPS another node holds, sent there over HTTPS with
 * this node's certificate, the other's pinned to its row.
 */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "host/auth.h"
#include "host/host.h"
#include "host/node.h"
#include "host/peer.h"
#include "host/store.h"

#define YEARS(n) ((time_t)(n)*365 * 86400)
#define PEER_TIMEOUT_S 600 /* an exec or a stop on the other node may take minutes */
#define PEER_ANSWER_MAX (16 << 20)

static char *read_text(const char *path, struct err **err)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_make(err, errno, "open `%s`", path), NULL;
	for (;;) {
		if (cap - len < 4096) {
			char *b = realloc(buf, cap += 8192);

			if (!b) {
				free(buf);
				close(fd);
				return err_make(err, ENOMEM, "read `%s`", path), NULL;
			}
			buf = b;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (n < 0) {
		free(buf);
		return err_make(err, errno, "read `%s`", path), NULL;
	}
	buf[len] = 0;
	return buf;
}

static int gt_err(struct err **err, int r, const char *what)
{
	return err_make(err, EPROTO, "%s: %s", what, gnutls_strerror(r));
}

static char *datum_text(gnutls_datum_t *d)
{
	char *s = malloc(d->size + 1);

	if (s) {
		memcpy(s, d->data, d->size);
		s[d->size] = 0;
	}
	gnutls_free(d->data);
	return s;
}

static int new_key(gnutls_x509_privkey_t *k, struct err **err)
{
	int r;

	if ((r = gnutls_x509_privkey_init(k)) < 0)
		return gt_err(err, r, "key");
	r = gnutls_x509_privkey_generate(*k, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	if (r < 0) {
		gnutls_x509_privkey_deinit(*k);
		return gt_err(err, r, "make a key");
	}
	return 0;
}

/* A certificate for key k named cn, signed by (ca, ca_key), or by itself when ca is NULL. */
static char *issue(gnutls_x509_privkey_t k, const char *cn, gnutls_x509_crt_t ca,
		   gnutls_x509_privkey_t ca_key, struct err **err)
{
	gnutls_x509_crt_t c;
	gnutls_datum_t d;
	unsigned char serial[16];
	unsigned char id[64];
	size_t id_len = sizeof(id);
	time_t now = time(NULL);
	int r;

	if ((r = gnutls_x509_crt_init(&c)) < 0)
		return gt_err(err, r, "certificate"), NULL;
	gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
	serial[0] &= 0x7f; /* a positive serial */
	if ((r = gnutls_x509_crt_set_version(c, 3)) < 0 ||
	    (r = gnutls_x509_crt_set_serial(c, serial, sizeof(serial))) < 0 ||
	    (r = gnutls_x509_crt_set_activation_time(c, now - 3600)) < 0 ||
	    (r = gnutls_x509_crt_set_expiration_time(c, now + YEARS(ca ? 2 : 20))) < 0 ||
	    (r = gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn))) <
		    0 ||
	    (r = gnutls_x509_crt_set_key(c, k)) < 0 ||
	    (r = gnutls_x509_crt_set_basic_constraints(c, ca ? 0 : 1, -1)) < 0 ||
	    (r = gnutls_x509_crt_set_key_usage(c, ca ? GNUTLS_KEY_DIGITAL_SIGNATURE :
						       GNUTLS_KEY_KEY_CERT_SIGN)) < 0 ||
	    (r = gnutls_x509_crt_get_key_id(c, 0, id, &id_len)) < 0 ||
	    (r = gnutls_x509_crt_set_subject_key_id(c, id, id_len)) < 0)
		goto fail;
	if (ca && ((r = gnutls_x509_crt_set_key_purpose_oid(c, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
		   (r = gnutls_x509_crt_set_key_purpose_oid(c, GNUTLS_KP_TLS_WWW_CLIENT, 0)) < 0))
		goto fail;
	if ((r = gnutls_x509_crt_sign2(c, ca ? ca : c, ca ? ca_key : k, GNUTLS_DIG_SHA256, 0)) <
		    0 ||
	    (r = gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_PEM, &d)) < 0)
		goto fail;
	gnutls_x509_crt_deinit(c);
	return datum_text(&d);
fail:
	gnutls_x509_crt_deinit(c);
	return gt_err(err, r, "make a certificate"), NULL;
}

/* This node's key: DATA/node.key, made once (0600). */
static char *node_key(struct host *h, gnutls_x509_privkey_t *k, struct err **err)
{
	char path[4200], *pem;
	gnutls_datum_t d;
	int r, fd;

	snprintf(path, sizeof(path), "%s/node.key", h->data_dir);
	if (access(path, F_OK) == 0) {
		if (!(pem = read_text(path, err)))
			return NULL;
		d = (gnutls_datum_t){ (unsigned char *)pem, (unsigned int)strlen(pem) };
		if ((r = gnutls_x509_privkey_init(k)) < 0 ||
		    (r = gnutls_x509_privkey_import(*k, &d, GNUTLS_X509_FMT_PEM)) < 0) {
			free(pem);
			return gt_err(err, r, "the node key `node.key`"), NULL;
		}
		return pem;
	}
	if (new_key(k, err) < 0)
		return NULL;
	if ((r = gnutls_x509_privkey_export2(*k, GNUTLS_X509_FMT_PEM, &d)) < 0) {
		gnutls_x509_privkey_deinit(*k);
		return gt_err(err, r, "export the node key"), NULL;
	}
	pem = datum_text(&d);
	fd = pem ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
	if (fd < 0 || write_all(fd, pem, strlen(pem)) < 0 || fsync(fd) < 0) {
		err_make(err, pem ? errno : ENOMEM, "write the node key `%s`", path);
		if (fd >= 0)
			close(fd);
		unlink(path);
		free(pem);
		gnutls_x509_privkey_deinit(*k);
		return NULL;
	}
	close(fd);
	return pem;
}

/* The cluster authority (its certificate and key, PEM): the stored one, or one made now. */
static int authority(struct host *h, char **cert, char **key, struct err **err)
{
	gnutls_x509_privkey_t k;
	gnutls_datum_t d;
	char *mine = NULL, *mine_key = NULL;
	int r;

	if (new_key(&k, err) < 0)
		return -EPROTO;
	mine = issue(k, "vps cluster authority", NULL, NULL, err);
	if (mine && (r = gnutls_x509_privkey_export2(k, GNUTLS_X509_FMT_PEM, &d)) >= 0)
		mine_key = datum_text(&d);
	else if (mine)
		gt_err(err, r, "export the authority's key");
	gnutls_x509_privkey_deinit(k);
	r = mine && mine_key ? store_cluster_ca(h->store, mine, mine_key, cert, key, err) : -EPROTO;
	free(mine);
	if (mine_key) {
		explicit_bzero(mine_key, strlen(mine_key));
		free(mine_key);
	}
	return r;
}

static int import_crt(gnutls_x509_crt_t *c, const char *pem)
{
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned int)strlen(pem) };
	int r = gnutls_x509_crt_init(c);

	if (r >= 0 && (r = gnutls_x509_crt_import(*c, &d, GNUTLS_X509_FMT_PEM)) < 0)
		gnutls_x509_crt_deinit(*c);
	return r;
}

int peer_start(struct host *h, const char *listen, struct err **err)
{
	struct peer *p = calloc(1, sizeof(*p));
	gnutls_x509_privkey_t k = NULL, cak = NULL;
	gnutls_x509_crt_t ca = NULL;
	gnutls_datum_t d;
	char *ca_key = NULL;
	int r = -EPROTO;

	if (!p)
		return err_make(err, ENOMEM, "node credentials");
	if (!(p->key = node_key(h, &k, err)) || authority(h, &p->ca, &ca_key, err) < 0)
		goto out;
	d = (gnutls_datum_t){ (unsigned char *)ca_key, (unsigned int)strlen(ca_key) };
	if ((r = import_crt(&ca, p->ca)) < 0 || (r = gnutls_x509_privkey_init(&cak)) < 0 ||
	    (r = gnutls_x509_privkey_import(cak, &d, GNUTLS_X509_FMT_PEM)) < 0) {
		r = gt_err(err, r, "the cluster authority in the store");
		goto out;
	}
	r = -EPROTO;
	if (!(p->cert = issue(k, h->node, ca, cak, err)))
		goto out;
	p->listen = listen ? strdup(listen) : NULL;
	if ((r = store_node_credential(h->store, h->node, listen ? listen : "", p->cert, err)) < 0)
		goto out;
	h->peer = p;
	p = NULL;
out:
	if (r < 0)
		err_wrap(err, "node `%s`: its credentials", h->node);
	if (k)
		gnutls_x509_privkey_deinit(k);
	if (cak)
		gnutls_x509_privkey_deinit(cak);
	if (ca)
		gnutls_x509_crt_deinit(ca);
	if (ca_key) {
		explicit_bzero(ca_key, strlen(ca_key));
		free(ca_key);
	}
	if (p) {
		h->peer = p;
		peer_stop(h);
	}
	return r < 0 ? r : 0;
}

void peer_stop(struct host *h)
{
	struct peer *p = h->peer;

	if (!p)
		return;
	free(p->ca);
	free(p->cert);
	if (p->key) {
		explicit_bzero(p->key, strlen(p->key));
		free(p->key);
	}
	free(p->listen);
	free(p);
	h->peer = NULL;
}

/* Whether DER cert is the certificate in PEM pem. */
static bool same_cert(const gnutls_datum_t *der, const char *pem)
{
	gnutls_x509_crt_t c;
	gnutls_datum_t d;
	bool same = false;

	if (!*pem || import_crt(&c, pem) < 0)
		return false;
	if (gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_DER, &d) >= 0) {
		same = d.size == der->size && !memcmp(d.data, der->data, d.size);
		gnutls_free(d.data);
	}
	gnutls_x509_crt_deinit(c);
	return same;
}

/* The node whose row holds the certificate der (its name into node), or false. */
static bool member_of(struct host *h, const gnutls_datum_t *der, char node[64])
{
	json_t *list = store_nodes(h->store), *n;
	bool found = false;
	size_t i;

	json_array_foreach(list, i, n)
	{
		if (same_cert(der, json_string_value(json_object_get(n, "cert")))) {
			snprintf(node, 64, "%s", json_string_value(json_object_get(n, "name")));
			found = true;
			break;
		}
	}
	json_decref(list);
	return found;
}

int peer_check_client(struct host *h, gnutls_session_t tls, char node[64], struct err **err)
{
	const gnutls_datum_t *chain;
	unsigned int status = 0, n = 0;
	int r;

	if (!tls || !h->peer)
		return err_make(err, EACCES, "node to node: not a TLS connection");
	/* the chain against the cluster authority (libmicrohttpd's trust list) */
	r = gnutls_certificate_verify_peers2(tls, &status);
	if (r < 0 || status)
		return err_make(err, EACCES, "node to node: %s",
				r == GNUTLS_E_NO_CERTIFICATE_FOUND ? "no client certificate" :
				r < 0				   ? gnutls_strerror(r) :
					"the client certificate is not the cluster's");
	chain = gnutls_certificate_get_peers(tls, &n);
	if (!chain || !n)
		return err_make(err, EACCES, "node to node: no client certificate");
	/* and it is the one a member holds now (a node issued anew, or gone, is not) */
	if (!member_of(h, &chain[0], node))
		return err_make(err, EACCES, "node to node: the certificate is no member's");
	return 0;
}

int peer_caller(const char *header, struct principal *p, struct err **err)
{
	json_error_t je;
	json_t *j = header ? json_loads(header, JSON_REJECT_DUPLICATES, &je) : NULL;
	const char *user = json_string_value(json_object_get(j, "user"));
	const char *source = json_string_value(json_object_get(j, "source"));
	json_t *admin = json_object_get(j, "admin"), *local = json_object_get(j, "local");

	if (!user || !*user || strlen(user) > AUTH_NAME_MAX || !json_is_boolean(admin) ||
	    !json_is_boolean(local)) {
		json_decref(j);
		return err_make(err, EACCES, "node to node: `%s`: expected the caller",
				PEER_CALLER_HEADER);
	}
	memset(p, 0, sizeof(*p));
	snprintf(p->user, sizeof(p->user), "%s", user);
	snprintf(p->source, sizeof(p->source), "%s", source ? source : "");
	p->admin = json_is_true(admin);
	p->local = json_is_true(local);
	json_decref(j);
	return 0;
}

/* --- the client: one request, one connection ------------------------------------------ */

static int dial(const char *hostport, struct err **err)
{
	char host[256];
	const char *port, *colon = strrchr(hostport, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *x;
	struct timeval tv = { PEER_TIMEOUT_S, 0 }, ctv = { 5, 0 };
	int fd = -1, r, why = 0;

	if (!colon || colon == hostport || (size_t)(colon - hostport) >= sizeof(host))
		return err_make(err, EINVAL, "`%s`: expected HOST:PORT", hostport);
	if (hostport[0] == '[' && colon[-1] == ']')
		snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport - 2), hostport + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
	port = colon + 1;
	if ((r = getaddrinfo(host, port, &hints, &ai)))
		return err_make(err, EHOSTUNREACH, "`%s`: %s", hostport, gai_strerror(r));
	for (x = ai; x; x = x->ai_next) {
		fd = socket(x->ai_family, x->ai_socktype | SOCK_CLOEXEC, x->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &ctv, sizeof(ctv));
		if (connect(fd, x->ai_addr, x->ai_addrlen) == 0)
			break;
		why = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return err_make(err, EHOSTUNREACH, "connect to `%s`: %s", hostport,
				why ? strerror(why) : "no address");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

int peer_tls_send(gnutls_session_t s, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = gnutls_record_send(s, buf, len);

		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n < 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The whole answer (the server closes: Connection: close), NUL-ended. */
static char *tls_recv_all(gnutls_session_t s, size_t *len)
{
	size_t cap = 0;
	char *buf = NULL;

	*len = 0;
	for (;;) {
		ssize_t n;

		if (cap - *len < 4096) {
			char *b = cap + 8192 > PEER_ANSWER_MAX ? NULL : realloc(buf, cap += 8192);

			if (!b) {
				free(buf);
				return NULL;
			}
			buf = b;
		}
		n = gnutls_record_recv(s, buf + *len, cap - *len - 1);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION)
			break;
		if (n < 0) {
			free(buf);
			return NULL;
		}
		*len += (size_t)n;
	}
	buf[*len] = 0;
	return buf;
}

/* An answer's status and JSON body (Content-Length, or the rest up to the close). */
static int parse_answer(char *ans, size_t len, unsigned int *status, json_t **out,
			char location[PEER_LOCATION_MAX], struct err **err)
{
	const char *l;
	char *body = strstr(ans, "\r\n\r\n");
	json_error_t je;
	int code;

	if (sscanf(ans, "HTTP/1.%*d %d", &code) != 1 || code < 100 || code > 599 || !body)
		return err_make(err, EPROTO, "node to node: not an HTTP answer");
	*body = 0;
	body += 4;
	if (strcasestr(ans, "\r\ntransfer-encoding:"))
		return err_make(err, EPROTO, "node to node: a chunked answer");
	*status = (unsigned int)code;
	/* an asynchronous action's operation: the one header an answer carries on */
	if ((l = strcasestr(ans, "\r\nlocation:"))) {
		l += strlen("\r\nlocation:");
		l += strspn(l, " \t");
		snprintf(location, PEER_LOCATION_MAX, "%.*s", (int)strcspn(l, "\r\n"), l);
	}
	*out = json_loadb(body, len - (size_t)(body - ans), 0, &je);
	if (!*out)
		return err_make(err, EPROTO, "node to node: the answer is not JSON: %s", je.text);
	return 0;
}

/* A file's bytes after the head, in chunks; each() told as they go, < 0 stops. */
static int send_file(gnutls_session_t s, int fd, unsigned long long len, peer_sent_fn each,
		     void *arg)
{
	unsigned long long sent = 0;
	char buf[1 << 16];

	while (len) {
		ssize_t n = read(fd, buf, len < sizeof(buf) ? len : sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		if (each && each(sent, (size_t)n, arg) < 0)
			return -ECANCELED;
		if (peer_tls_send(s, buf, (size_t)n) < 0)
			return -EIO;
		len -= (unsigned long long)n;
		sent += (unsigned long long)n;
	}
	return 0;
}

/* A TLS connection to node's --peer listener, its certificate pinned to its row. */
struct link {
	int fd;
	gnutls_session_t s;
	gnutls_certificate_credentials_t cred;
	char peer[256];
};

static void link_close(struct link *l)
{
	if (l->s) {
		gnutls_bye(l->s, GNUTLS_SHUT_WR);
		gnutls_deinit(l->s);
	}
	if (l->cred)
		gnutls_certificate_free_credentials(l->cred);
	if (l->fd >= 0)
		close(l->fd);
	l->s = NULL;
	l->cred = NULL;
	l->fd = -1;
}

/*
 * -ENOTSUP: that node has no node-to-node listener (no error set). port:
 * that port on the listener's host (a live move's stream), 0 the listener's.
 */
static int link_open(struct host *h, const char *node, unsigned int port, struct link *l,
		     struct err **err)
{
	json_t *list = store_nodes(h->store), *row = list ? node_find(list, node) : NULL;
	const char *peer = json_string_value(json_object_get(row, "peer"));
	const char *pin = json_string_value(json_object_get(row, "cert"));
	gnutls_datum_t ca, cert, key;
	const gnutls_datum_t *chain;
	unsigned int n = 0;
	int r;

	*l = (struct link){ .fd = -1 };
	if (!h->peer || !peer || !*peer || !pin || !*pin) {
		r = -ENOTSUP;
		goto out;
	}
	if (port) { /* HOST:PORT with PORT replaced */
		const char *colon = strrchr(peer, ':');

		snprintf(l->peer, sizeof(l->peer), "%.*s:%u",
			 (int)(colon ? colon - peer : (ptrdiff_t)strlen(peer)), peer, port);
	} else {
		snprintf(l->peer, sizeof(l->peer), "%s", peer);
	}
	if ((l->fd = dial(l->peer, err)) < 0) {
		r = l->fd;
		goto out;
	}
	ca = (gnutls_datum_t){ (unsigned char *)h->peer->ca, (unsigned int)strlen(h->peer->ca) };
	cert = (gnutls_datum_t){ (unsigned char *)h->peer->cert,
				 (unsigned int)strlen(h->peer->cert) };
	key = (gnutls_datum_t){ (unsigned char *)h->peer->key, (unsigned int)strlen(h->peer->key) };
	if ((r = gnutls_certificate_allocate_credentials(&l->cred)) < 0 ||
	    (r = gnutls_certificate_set_x509_trust_mem(l->cred, &ca, GNUTLS_X509_FMT_PEM)) < 0 ||
	    (r = gnutls_certificate_set_x509_key_mem(l->cred, &cert, &key, GNUTLS_X509_FMT_PEM)) <
		    0 ||
	    (r = gnutls_init(&l->s, GNUTLS_CLIENT)) < 0 ||
	    (r = gnutls_set_default_priority(l->s)) < 0 ||
	    (r = gnutls_credentials_set(l->s, GNUTLS_CRD_CERTIFICATE, l->cred)) < 0) {
		r = gt_err(err, r, "node to node: TLS");
		goto out;
	}
	/* the chain to the cluster's authority; the name is the pin below */
	gnutls_session_set_verify_cert(l->s, NULL, 0);
	gnutls_transport_set_int(l->s, l->fd);
	gnutls_handshake_set_timeout(l->s, 10000);
	do
		r = gnutls_handshake(l->s);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0) {
		r = err_make(err, EHOSTUNREACH, "node to node: TLS with `%s`: %s", l->peer,
			     gnutls_strerror(r));
		goto out;
	}
	chain = gnutls_certificate_get_peers(l->s, &n);
	if (!chain || !n || !same_cert(&chain[0], pin)) {
		r = err_make(err, EACCES, "node to node: `%s` is not node `%s`'s certificate",
			     l->peer, node);
		goto out;
	}
	r = 0;
out:
	if (r < 0)
		link_close(l);
	json_decref(row);
	json_decref(list);
	return r;
}

/* The caller as PEER_CALLER_HEADER's value (JSON), or NULL. */
static char *caller_json(const struct principal *p)
{
	json_t *caller = json_pack("{s:s, s:b, s:b, s:s}", "user", p->user, "admin", p->admin,
				   "local", p->local, "source", p->source);
	char *text = caller ? json_dumps(caller, JSON_COMPACT) : NULL;

	json_decref(caller);
	return text;
}

/* One request: a JSON body, or file_fd's file_len bytes with one more header line. */
static int request(struct host *h, const char *node, const struct principal *p, const char *method,
		   const char *path, json_t *body, int file_fd, unsigned long long file_len,
		   const char *more, peer_sent_fn each, void *each_arg, unsigned int *status,
		   json_t **out, char location[PEER_LOCATION_MAX], struct err **err)
{
	struct link l = { .fd = -1 };
	char *text = NULL, *head = NULL, *ans = NULL, *caller_text = NULL;
	size_t len;
	int r;

	*out = NULL;
	*location = 0;
	if ((r = link_open(h, node, 0, &l, err)) < 0)
		goto out;
	caller_text = caller_json(p);
	text = file_fd < 0 && (json_object_size(body) || strcmp(method, "GET")) ?
		       json_dumps(body, JSON_COMPACT) :
		       strdup("");
	if (!caller_text || !text ||
	    asprintf(&head,
		     "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
		     "Content-Type: %s\r\nContent-Length: %llu\r\n%s" PEER_CALLER_HEADER
		     ": %s\r\n\r\n",
		     method, path, l.peer,
		     file_fd < 0 ? "application/json" : "application/octet-stream",
		     file_fd < 0 ? (unsigned long long)strlen(text) : file_len, more ? more : "",
		     caller_text) < 0) {
		head = NULL;
		r = err_make(err, ENOMEM, "node to node");
		goto out;
	}
	if (peer_tls_send(l.s, head, strlen(head)) < 0 ||
	    peer_tls_send(l.s, text, strlen(text)) < 0 ||
	    (file_fd >= 0 && (r = send_file(l.s, file_fd, file_len, each, each_arg)) < 0)) {
		if (r == -ECANCELED) {
			r = err_make(err, ECANCELED, "cancelled");
			goto out;
		}
		r = err_make(err, EHOSTUNREACH, "node to node: the request to `%s` broke off",
			     l.peer);
		goto out;
	}
	if (!(ans = tls_recv_all(l.s, &len))) {
		r = err_make(err, EHOSTUNREACH, "node to node: the request to `%s` broke off",
			     l.peer);
		goto out;
	}
	r = parse_answer(ans, len, status, out, location, err);
out:
	link_close(&l);
	free(ans);
	free(head);
	free(text);
	free(caller_text);
	return r;
}

int peer_forward(struct host *h, const char *node, const struct principal *p, const char *method,
		 const char *path, json_t *body, unsigned int *status, json_t **out,
		 char location[PEER_LOCATION_MAX], struct err **err)
{
	return request(h, node, p, method, path, body, -1, 0, NULL, NULL, NULL, status, out,
		       location, err);
}

int peer_send_file(struct host *h, const char *node, const struct principal *p, const char *path,
		   int fd, unsigned long long len, const char *header, peer_sent_fn each,
		   void *each_arg, unsigned int *status, json_t **out, struct err **err)
{
	char location[PEER_LOCATION_MAX];

	return request(h, node, p, "PUT", path, NULL, fd, len, header, each, each_arg, status, out,
		       location, err);
}

/* --- a WebSocket relayed to the node that holds the VPS (ws.c) --------------------------- */

struct peer_stream {
	struct link l;
	char *extra; /* bytes that came after the 101's head: the first frames */
	size_t extra_len;
};

/* Read up to the end of the answer's head (\r\n\r\n) into buf; its length, or -1. */
static ssize_t recv_head(gnutls_session_t s, char *buf, size_t cap, size_t *got)
{
	*got = 0;
	while (*got < cap - 1) {
		ssize_t n = gnutls_record_recv(s, buf + *got, cap - 1 - *got);
		char *end;

		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n <= 0)
			return -1;
		*got += (size_t)n;
		buf[*got] = 0;
		if ((end = strstr(buf, "\r\n\r\n")))
			return end + 4 - buf;
	}
	return -1;
}

int peer_upgrade(struct host *h, const char *node, const struct principal *p, const char *path,
		 const char *key, const char *protocol, struct peer_stream **ps,
		 unsigned int *status, json_t **out, struct err **err)
{
	struct peer_stream *st = calloc(1, sizeof(*st));
	char *head = NULL, *caller_text = NULL, buf[16384];
	const char *cl;
	size_t got = 0;
	ssize_t hl;
	int r, code;

	*ps = NULL;
	*out = NULL;
	if (!st)
		return err_make(err, ENOMEM, "node to node");
	st->l.fd = -1;
	if ((r = link_open(h, node, 0, &st->l, err)) < 0)
		goto out;
	caller_text = caller_json(p);
	if (!caller_text ||
	    asprintf(&head,
		     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n%s%s%s" PEER_CALLER_HEADER
		     ": %s\r\n\r\n",
		     path, st->l.peer, key, protocol ? "Sec-WebSocket-Protocol: " : "",
		     protocol ? protocol : "", protocol ? "\r\n" : "", caller_text) < 0) {
		head = NULL;
		r = err_make(err, ENOMEM, "node to node");
		goto out;
	}
	if (peer_tls_send(st->l.s, head, strlen(head)) < 0 ||
	    (hl = recv_head(st->l.s, buf, sizeof(buf), &got)) < 0 ||
	    sscanf(buf, "HTTP/1.%*d %d", &code) != 1 || code < 100 || code > 599) {
		r = err_make(err, EHOSTUNREACH, "node to node: the upgrade at `%s` broke off",
			     st->l.peer);
		goto out;
	}
	*status = (unsigned int)code;
	if (code == 101) {
		st->extra_len = got - (size_t)hl;
		if (st->extra_len && !(st->extra = malloc(st->extra_len))) {
			r = err_make(err, ENOMEM, "node to node");
			goto out;
		}
		if (st->extra_len)
			memcpy(st->extra, buf + hl, st->extra_len);
		*ps = st;
		st = NULL;
		r = 0;
		goto out;
	}
	/* a refusal: its JSON body, Content-Length long (the connection stays open) */
	buf[hl - 2] = 0;
	cl = strcasestr(buf, "\r\ncontent-length:");
	{
		size_t want = cl ? strtoul(cl + strlen("\r\ncontent-length:"), NULL, 10) : 0;
		size_t body = got - (size_t)hl;
		char *b = want < PEER_ANSWER_MAX ? malloc(want + 1) : NULL;
		json_error_t je;

		if (!b) {
			r = err_make(err, EPROTO, "node to node: an answer without its length");
			goto out;
		}
		memcpy(b, buf + hl, body < want ? body : want);
		while (body < want) {
			ssize_t n = gnutls_record_recv(st->l.s, b + body, want - body);

			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				continue;
			if (n <= 0)
				break;
			body += (size_t)n;
		}
		*out = body >= want ? json_loadb(b, want, 0, &je) : NULL;
		free(b);
		r = *out ? 0 : err_make(err, EPROTO, "node to node: the answer is not JSON");
	}
out:
	if (st) {
		link_close(&st->l);
		free(st->extra);
		free(st);
	}
	free(head);
	free(caller_text);
	return r;
}

int peer_stream_dial(struct host *h, const char *node, unsigned int port, const char *ticket,
		     struct peer_stream **ps, struct err **err)
{
	struct peer_stream *st = calloc(1, sizeof(*st));
	char line[PEER_TICKET_LEN + 2];
	int r;

	*ps = NULL;
	if (!st)
		return err_make(err, ENOMEM, "node to node");
	if (strlen(ticket) != PEER_TICKET_LEN) {
		free(st);
		return err_make(err, EPROTO, "node `%s`: a stream ticket of the wrong length",
				node);
	}
	if ((r = link_open(h, node, port, &st->l, err)) < 0) {
		free(st);
		return r == -ENOTSUP ? err_make(err, ENOTSUP, "node `%s`: no node listener", node) :
				       r;
	}
	snprintf(line, sizeof(line), "%s\n", ticket);
	if (peer_tls_send(st->l.s, line, strlen(line)) < 0) {
		r = err_make(err, EHOSTUNREACH, "node to node: the stream at `%s` broke off",
			     st->l.peer);
		peer_stream_close(st);
		return r;
	}
	*ps = st;
	return 0;
}

int peer_stream_fd(const struct peer_stream *ps)
{
	return ps->l.fd;
}

bool peer_stream_pending(const struct peer_stream *ps)
{
	return ps->extra_len || gnutls_record_check_pending(ps->l.s) > 0;
}

ssize_t peer_stream_recv(struct peer_stream *ps, void *buf, size_t len)
{
	ssize_t n;

	if (ps->extra_len) { /* what came with the 101 first */
		n = (ssize_t)(len < ps->extra_len ? len : ps->extra_len);
		memcpy(buf, ps->extra, (size_t)n);
		memmove(ps->extra, ps->extra + n, ps->extra_len - (size_t)n);
		ps->extra_len -= (size_t)n;
		return n;
	}
	do
		n = gnutls_record_recv(ps->l.s, buf, len);
	while (n == GNUTLS_E_INTERRUPTED);
	if (n == GNUTLS_E_AGAIN)
		return -EAGAIN;
	return n == GNUTLS_E_PREMATURE_TERMINATION ? 0 : n < 0 ? -EIO : n;
}

int peer_stream_send(struct peer_stream *ps, const void *buf, size_t len)
{
	return peer_tls_send(ps->l.s, buf, len);
}

void peer_stream_close(struct peer_stream *ps)
{
	if (!ps)
		return;
	link_close(&ps->l);
	free(ps->extra);
	free(ps);
}
