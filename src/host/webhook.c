// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Webhooks (docs/webhooks.md): an HTTP POST of each event to a URL its
 * owner gave, signed with HMAC-SHA256 over "TIMESTAMP.BODY" with the hook's
 * secret, retried with backoff, at least once. A customer's hook gets the
 * events of their own VPSes only (store_events' owner filter, the same the
 * API's event list uses) and may not reach the host or private networks
 * (checked on the address curl is about to connect to, so DNS cannot steer
 * it there); --webhook-allow CIDR opens a network to them. An
 * administrator's hook gets every event and may go anywhere.
 *
 * One thread delivers: each second it reads each hook's next events after
 * its cursor, posts the first that matches the hook's kinds, and moves the
 * cursor past it with a compare-and-set (store_webhook_done), so two nodes
 * of a cluster never both count one delivery.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "host/cidr.h"
#include "host/policy.h"
#include "host/webhook.h"

#define URL_MAX 2000
#define SECRET_MIN 16
#define SECRET_MAX 128
#define KINDS_MAX 512
#define HOOKS_PER_USER 10
#define ATTEMPTS 5 /* then the event is given up: 1 + 2 + 4 + 8 s of waiting */
#define BATCH 50

/* ---- what a hook may be ---- */

static int url_check(const char *url, struct err **err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int r = 0;

	if (!u)
		return err_make(err, ENOMEM, "url");
	if (strlen(url) > URL_MAX || strcspn(url, " \t\r\n") != strlen(url))
		r = err_make(err, EINVAL, "`url`: at most %d characters, no blanks", URL_MAX);
	else if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
		 curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		r = err_make(err, EINVAL, "`url`: not an absolute URL");
	else if (strcmp(scheme, "http") && strcmp(scheme, "https"))
		r = err_make(err, EINVAL, "`url`: http or https only, not `%.16s`", scheme);
	else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
		r = err_make(err, EINVAL, "`url`: not an absolute URL");
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}

/* "*" or kinds (a-z, 0-9, -) joined by commas. */
static int kinds_check(const char *k, struct err **err)
{
	size_t n = strlen(k);

	if (!strcmp(k, "*"))
		return 0;
	if (n == 0 || n > KINDS_MAX || k[0] == ',' || k[n - 1] == ',' || strstr(k, ",,") ||
	    strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789-,") != n)
		return err_make(err, EINVAL,
				"`events`: \"*\" or event kinds (a-z, 0-9, -) joined by commas, "
				"at most %d characters",
				KINDS_MAX);
	return 0;
}

static bool kind_wanted(const char *kinds, const char *kind)
{
	size_t n = strlen(kind);
	const char *p = kinds;

	if (!strcmp(kinds, "*"))
		return true;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (len == n && !strncmp(p, kind, n))
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

int webhook_add(struct host *h, const struct principal *p, json_t *body, json_t **out,
		struct err **err)
{
	const char *url = json_string_value(json_object_get(body, "url"));
	json_t *ev = json_object_get(body, "events"), *sec = json_object_get(body, "secret");
	char secret[SECRET_MAX + 1], kinds[KINDS_MAX + 1] = "*";
	struct store_webhook w = { 0 };
	long long id = 0;
	const char *key;
	json_t *v, *mine;
	int r;

	json_object_foreach(body, key,
			    v) if (strcmp(key, "url") && strcmp(key, "events") &&
				   strcmp(key, "secret")) return err_make(err, EINVAL,
									  "`%s`: unknown field",
									  key);
	if (!url)
		return err_make(err, EINVAL, "`url`: required, a string");
	if ((r = url_check(url, err)) < 0)
		return r;
	if (json_is_array(ev)) {
		size_t i, len = 0;

		kinds[0] = '\0';
		json_array_foreach(ev, i, v)
		{
			const char *k = json_string_value(v);

			if (!k || len + strlen(k) + 2 > sizeof(kinds))
				return err_make(err, EINVAL, "`events`: a list of event kinds");
			len += (size_t)snprintf(kinds + len, sizeof(kinds) - len, "%s%s",
						len ? "," : "", k);
		}
	} else if (json_is_string(ev)) {
		if (strlen(json_string_value(ev)) >= sizeof(kinds))
			return kinds_check(json_string_value(ev), err);
		strcpy(kinds, json_string_value(ev));
	} else if (ev && !json_is_null(ev)) {
		return err_make(err, EINVAL, "`events`: \"*\" or a list of event kinds");
	}
	if ((r = kinds_check(kinds, err)) < 0)
		return r;
	if (sec && !json_is_null(sec)) {
		const char *s = json_string_value(sec);
		size_t n = s ? strlen(s) : 0;

		if (n < SECRET_MIN || n > SECRET_MAX ||
		    strspn(s, "!\"#$%&'()*+,-./0123456789:;<=>?@"
			      "ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
			      "abcdefghijklmnopqrstuvwxyz{|}~") != n)
			return err_make(err, EINVAL, "`secret`: %d to %d printable characters",
					SECRET_MIN, SECRET_MAX);
		strcpy(secret, s);
	} else {
		unsigned char b[32];

		randombytes_buf(b, sizeof(b));
		sodium_bin2hex(secret, sizeof(secret), b, sizeof(b));
	}
	w.owner = p->admin ? NULL : p->user;
	if (w.owner) {
		mine = store_webhooks(h->store, w.owner, false);
		if (json_array_size(mine) >= HOOKS_PER_USER) {
			json_decref(mine);
			return err_make(err, POLICY_EQUOTA, "at most %d webhooks per customer",
					HOOKS_PER_USER);
		}
		json_decref(mine);
	}
	w.url = url;
	w.secret = secret;
	w.events = kinds;
	w.created = time(NULL);
	if ((r = store_webhook_add(h->store, &w, &id, err)) < 0)
		return r;
	/* the secret is shown here once; lists never carry it */
	*out = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "url", url, "events", kinds,
			 "secret", secret);
	sodium_memzero(secret, sizeof(secret));
	return 0;
}

json_t *webhook_list(struct host *h, const struct principal *p)
{
	return store_webhooks(h->store, p->admin ? NULL : p->user, false);
}

int webhook_rm(struct host *h, const struct principal *p, const char *id, struct err **err)
{
	char *end;
	long long n = strtoll(id, &end, 10);

	if (!*id || *end || n <= 0)
		return err_make(err, ENOENT, "no webhook `%s`", id);
	return store_webhook_delete(h->store, n, p->admin ? NULL : p->user, err);
}

/* ---- where a customer's hook may connect ---- */

static struct {
	char **allow; /* --webhook-allow CIDRs */
	size_t nr_allow;
} P;

int webhook_allow(const char *list, struct err **err)
{
	const char *p = list;

	do { /* CIDR[,CIDR...] */
		size_t n = strcspn(p, ",");
		char cidr[64], **a;

		if (n == 0 || n >= sizeof(cidr))
			return err_make(err, EINVAL, "--webhook-allow: expected CIDR[,CIDR...]");
		memcpy(cidr, p, n);
		cidr[n] = '\0';
		if (auth_cidr_match(cidr, NULL) < 0) /* -1: text that is no network */
			return err_make(err, EINVAL, "--webhook-allow: `%s` is not ADDR[/BITS]",
					cidr);
		a = realloc(P.allow, (P.nr_allow + 1) * sizeof(*a));
		if (!a)
			return err_make(err, ENOMEM, "--webhook-allow");
		P.allow = a;
		if (!(a[P.nr_allow] = strdup(cidr)))
			return err_make(err, ENOMEM, "--webhook-allow");
		P.nr_allow++;
		p += n;
	} while (*p++ == ',');
	return 0;
}

static bool in(const char *cidr, const struct sockaddr *sa)
{
	return auth_cidr_match(cidr, sa) == 1;
}

/* Private, loopback, link-local, multicast and the like; and the host's own addresses. */
static bool internal(const struct sockaddr *sa)
{
	static const char *const nets[] = {
		"0.0.0.0/8",	  "10.0.0.0/8",	   "100.64.0.0/10", "127.0.0.0/8",
		"169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",  "192.168.0.0/16",
		"198.18.0.0/15",  "224.0.0.0/3",   "::/127",	    "64:ff9b::/96",
		"fc00::/7",	  "fe80::/10",	   "ff00::/8",
	};
	struct ifaddrs *ifs, *i;
	bool own = false;

	for (size_t k = 0; k < sizeof(nets) / sizeof(nets[0]); k++)
		if (in(nets[k], sa))
			return true;
	if (getifaddrs(&ifs) < 0)
		return true; /* cannot tell: refuse */
	for (i = ifs; i && !own; i = i->ifa_next) {
		char text[INET6_ADDRSTRLEN];

		if (!i->ifa_addr || i->ifa_addr->sa_family != sa->sa_family)
			continue;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, text,
				  sizeof(text));
		else
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, text,
				  sizeof(text));
		own = in(text, sa);
	}
	freeifaddrs(ifs);
	return own;
}

bool webhook_may_reach(const struct sockaddr *sa)
{
	for (size_t k = 0; k < P.nr_allow; k++)
		if (in(P.allow[k], sa))
			return true;
	return !internal(sa);
}

/* ---- delivery ---- */

struct attempt {
	bool customer;
	bool refused;
	char where[INET6_ADDRSTRLEN];
};

static curl_socket_t open_checked(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct attempt *at = arg;

	if (a->family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&a->addr)->sin_addr, at->where,
			  sizeof(at->where));
	else if (a->family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a->addr)->sin6_addr, at->where,
			  sizeof(at->where));
	if (purpose != CURLSOCKTYPE_IPCXN || (a->family != AF_INET && a->family != AF_INET6) ||
	    (at->customer && !webhook_may_reach((struct sockaddr *)&a->addr))) {
		at->refused = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

/* HMAC-SHA256 of "ts.body" under the secret, as "sha256=HEX". */
static void sign(const char *secret, const char *ts, const char *body, char *out, size_t sz)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, strlen(body));
	crypto_auth_hmacsha256_final(&st, mac);
	memcpy(out, "sha256=", 8);
	sodium_bin2hex(out + 7, sz - 7, mac, sizeof(mac));
}

/* One POST: 0 with a 2xx answer, else -1 and why in `why`. */
static int post(json_t *hook, json_t *event, char *why, size_t sz)
{
	const char *url = json_string_value(json_object_get(hook, "url"));
	const char *secret = json_string_value(json_object_get(hook, "secret"));
	json_int_t hid = json_integer_value(json_object_get(hook, "id"));
	json_int_t eid = json_integer_value(json_object_get(event, "id"));
	struct attempt at = { .customer = !json_is_null(json_object_get(hook, "owner")) };
	char hdr[4][160], ts[24], sig[8 + 2 * crypto_auth_hmacsha256_BYTES];
	struct curl_slist *headers = NULL;
	_cleanup_free_ char *body = NULL;
	json_t *doc;
	long code = 0;
	CURL *c;
	CURLcode rc;

	doc = json_pack("{s:I, s:O}", "webhook", hid, "event", event);
	body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	c = curl_easy_init();
	if (!body || !c) {
		snprintf(why, sz, "out of memory");
		curl_easy_cleanup(c);
		return -1;
	}
	snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
	sign(secret, ts, body, sig, sizeof(sig));
	snprintf(hdr[0], sizeof(hdr[0]), "X-Vps-Event: %s",
		 json_string_value(json_object_get(event, "kind")));
	snprintf(hdr[1], sizeof(hdr[1]), "X-Vps-Delivery: %lld-%lld", (long long)hid,
		 (long long)eid);
	snprintf(hdr[2], sizeof(hdr[2]), "X-Vps-Timestamp: %s", ts);
	snprintf(hdr[3], sizeof(hdr[3]), "X-Vps-Signature: %s", sig);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	for (int i = 0; i < 4; i++)
		headers = curl_slist_append(headers, hdr[i]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "vpsd-webhook/1");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_checked);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &at);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(headers);
	curl_easy_cleanup(c);
	if (at.refused)
		snprintf(why, sz, "refused: %s is not an address webhooks may reach", at.where);
	else if (rc != CURLE_OK)
		snprintf(why, sz, "%s", curl_easy_strerror(rc));
	else if (code < 200 || code > 299)
		snprintf(why, sz, "HTTP %ld", code);
	else {
		snprintf(why, sz, "HTTP %ld", code);
		return 0;
	}
	return -1;
}

/* A hook's retry state, in memory: lost on restart, when the event is tried afresh. */
struct pending {
	long long hook, event;
	int attempts;
	time_t next;
};

static struct {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, started;
	struct pending *p;
	size_t nr;
} D = { .lock = PTHREAD_MUTEX_INITIALIZER };

static struct pending *pending_of(long long hook)
{
	for (size_t i = 0; i < D.nr; i++)
		if (D.p[i].hook == hook)
			return &D.p[i];
	return NULL;
}

static void pending_drop(long long hook)
{
	struct pending *x = pending_of(hook);

	if (x)
		*x = D.p[--D.nr];
}

/* Deliver the next event of one hook, if it has one due. */
static void hook_step(struct host *h, json_t *hook, time_t now)
{
	long long id = json_integer_value(json_object_get(hook, "id"));
	long long from = json_integer_value(json_object_get(hook, "last_event")), to = from;
	const char *owner = json_string_value(json_object_get(hook, "owner"));
	const char *kinds = json_string_value(json_object_get(hook, "events"));
	struct pending *x = pending_of(id);
	json_t *evs, *ev = NULL, *e;
	char why[256];
	size_t i;

	if (x && x->next > now)
		return;
	evs = store_events(h->store, NULL, owner, from, BATCH);
	json_array_foreach(evs, i, e)
	{
		to = json_integer_value(json_object_get(e, "id"));
		if (kind_wanted(kinds, json_string_value(json_object_get(e, "kind")))) {
			ev = e;
			break;
		}
	}
	if (!ev) { /* nothing wanted in this batch: past it, uncounted */
		if (to != from)
			store_webhook_done(h->store, id, from, to, -1, NULL);
		json_decref(evs);
		return;
	}
	if (x && x->event != to) { /* another node moved on */
		pending_drop(id);
		x = NULL;
	}
	if (post(hook, ev, why, sizeof(why)) == 0) {
		store_webhook_done(h->store, id, from, to, 1, why);
		pending_drop(id);
	} else if ((x ? x->attempts : 0) + 1 >= ATTEMPTS) {
		char msg[320];

		snprintf(msg, sizeof(msg), "gave up on event %lld after %d attempts: %s", to,
			 ATTEMPTS, why);
		pr_warn("webhook %lld: %s", id, msg);
		store_webhook_done(h->store, id, from, to, 0, msg);
		pending_drop(id);
	} else {
		if (!x) {
			struct pending *np = realloc(D.p, (D.nr + 1) * sizeof(*np));

			if (np) {
				D.p = np;
				x = &D.p[D.nr++];
				*x = (struct pending){ .hook = id, .event = to };
			}
		}
		if (x) {
			x->attempts++;
			x->next = now + (1 << (x->attempts - 1)); /* 1, 2, 4, 8 s */
		}
		store_webhook_done(h->store, id, from, from, -1, why);
	}
	json_decref(evs);
}

static void *deliver(void *arg)
{
	struct host *h = arg;
	struct timespec until;

	pthread_mutex_lock(&D.lock);
	while (!D.stop) {
		json_t *hooks, *hk;
		size_t i;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += 1;
		while (!D.stop && pthread_cond_timedwait(&D.cond, &D.lock, &until) != ETIMEDOUT)
			;
		if (D.stop)
			break;
		pthread_mutex_unlock(&D.lock);
		hooks = store_webhooks(h->store, NULL, true);
		json_array_foreach(hooks, i, hk) hook_step(h, hk, time(NULL));
		json_decref(hooks);
		pthread_mutex_lock(&D.lock);
	}
	pthread_mutex_unlock(&D.lock);
	return NULL;
}

int webhook_start(struct host *h, struct err **err)
{
	pthread_condattr_t ca;
	int r;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_make(err, EIO, "webhooks: curl_global_init");
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&D.cond, &ca);
	pthread_condattr_destroy(&ca);
	D.stop = false;
	if ((r = pthread_create(&D.thread, NULL, deliver, h))) {
		pthread_cond_destroy(&D.cond);
		return err_make(err, r, "webhooks: start the delivery thread");
	}
	D.started = true;
	return 0;
}

void webhook_stop(void)
{
	if (!D.started)
		return;
	pthread_mutex_lock(&D.lock);
	D.stop = true;
	pthread_cond_broadcast(&D.cond);
	pthread_mutex_unlock(&D.lock);
	pthread_join(D.thread, NULL);
	pthread_cond_destroy(&D.cond);
	free(D.p);
	D.p = NULL;
	D.nr = 0;
	D.started = false;
	for (size_t k = 0; k < P.nr_allow; k++)
		free(P.allow[k]);
	free(P.allow);
	P.allow = NULL;
	P.nr_allow = 0;
	curl_global_cleanup();
}
