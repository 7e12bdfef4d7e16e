// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Membership: registering, the heartbeat, the node list, join tokens and
 * the answer for work that belongs to another node (node.h,
 * docs/cluster.md).
 */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "host/node.h"
#include "host/standby.h"
#include "host/store.h"
#include "host/vps.h"

#define TOKEN_PREFIX "vpsjoin-"
#define HEX 64 /* a secret's and a hash's hex digits */

static struct {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started, stop;
} B = { .lock = PTHREAD_MUTEX_INITIALIZER };

static __thread char noted_node[64], noted_addr[256];

/* The hash the store keeps of a join token: BLAKE2b-256, hex. */
static void token_hash(const char *token, char out[HEX + 1])
{
	unsigned char d[HEX / 2];

	crypto_generichash(d, sizeof(d), (const unsigned char *)token, strlen(token), NULL, 0);
	sodium_bin2hex(out, HEX + 1, d, sizeof(d));
}

static uint64_t mem_total(void)
{
	char line[256];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return (uint64_t)kb << 10;
}

static void *beat(void *arg)
{
	struct host *h = arg;
	struct timespec until;

	pthread_mutex_lock(&B.lock);
	while (!B.stop) {
		struct err *e = NULL;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += h->heartbeat_every;
		while (!B.stop && pthread_cond_timedwait(&B.cond, &B.lock, &until) != ETIMEDOUT)
			;
		if (B.stop)
			break;
		pthread_mutex_unlock(&B.lock);
		/* the database away: the next beat tries again (pg_run reconnects) */
		if (store_node_heartbeat(h->store, h->node, "online", time(NULL), &e) < 0)
			pr_warn("node `%s`: heartbeat: %s", h->node, err_msg(e));
		else
			standby_refresh(h); /* the read copy for the database's absence */
		err_free(&e);
		pthread_mutex_lock(&B.lock);
	}
	pthread_mutex_unlock(&B.lock);
	return NULL;
}

int node_start(struct host *h, const char *join, struct err **err)
{
	char name[64] = "", hash[HEX + 1];
	struct statvfs sv;
	struct store_node n = { 0 };
	pthread_condattr_t ca;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int r;

	if (!h->node)
		gethostname(name, sizeof(name) - 1);
	n.name = h->node ? h->node : (*name ? name : "localhost");
	n.address = h->advertise ? h->advertise : "";
	n.cpus = cores > 0 ? (double)cores : 1;
	n.ram = mem_total();
	if (statvfs(h->data_dir, &sv) == 0)
		n.disk = (uint64_t)sv.f_blocks * sv.f_frsize;
	if (join)
		token_hash(join, hash);
	if ((r = store_node_join(h->store, &n, join ? hash : NULL, time(NULL), err)) < 0)
		return r;
	if (!h->node) /* one host: its row is written at start, nothing beats */
		return 0;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&B.cond, &ca);
	pthread_condattr_destroy(&ca);
	B.stop = false;
	if ((r = pthread_create(&B.thread, NULL, beat, h))) {
		pthread_cond_destroy(&B.cond);
		return err_make(err, r, "node: start the heartbeat");
	}
	B.started = true;
	standby_refresh(h);
	return 0;
}

void node_stop(struct host *h)
{
	if (!B.started)
		return;
	pthread_mutex_lock(&B.lock);
	B.stop = true;
	pthread_cond_broadcast(&B.cond);
	pthread_mutex_unlock(&B.lock);
	pthread_join(B.thread, NULL);
	pthread_cond_destroy(&B.cond);
	B.started = false;
	/* the others see it gone at once, not after the timeout */
	store_node_heartbeat(h->store, h->node, "offline", time(NULL), NULL);
}

json_t *node_list(struct host *h, struct err **err)
{
	json_t *list = store_nodes(h->store), *sums, *n;
	long long now = time(NULL), stale = (long long)h->heartbeat_every * h->offline_after;
	size_t i;

	if (!list) {
		err_make(err, EIO, "store: the nodes could not be read");
		return NULL;
	}
	/* summed by the store: a list costs the nodes, not the VPS rows */
	if (!(sums = store_vps_sums(h->store))) {
		json_decref(list);
		err_make(err, EIO, "store: the VPS rows could not be summed");
		return NULL;
	}
	json_array_foreach(list, i, n)
	{
		const char *name = json_string_value(json_object_get(n, "name"));
		const char *state = json_string_value(json_object_get(n, "state"));
		long long hb = json_integer_value(json_object_get(n, "heartbeat"));
		bool self = h->node ? !strcmp(name, h->node) : true;
		/* one host: every VPS is its own (the rows name no node) */
		json_t *sum = json_object_get(sums, h->node ? name : "");

		/* a beat older than offline_after beats: gone, whatever the row says */
		if (h->node && !strcmp(state, "online") && now - hb > stale)
			json_object_set_new(n, "state", json_string("offline"));
		json_object_del(n, "cert"); /* node to node only (peer.c) */
		json_object_set_new(n, "self", json_boolean(self));
		json_object_set_new(n, "vps",
				    json_integer(json_integer_value(json_object_get(sum, "vps"))));
		json_object_set_new(
			n, "allocated",
			json_pack("{s:I, s:I, s:f}", "ram",
				  (json_int_t)json_number_value(json_object_get(sum, "ram")),
				  "disk",
				  (json_int_t)json_number_value(json_object_get(sum, "disk")),
				  "cpus", json_number_value(json_object_get(sum, "cpus"))));
	}
	json_decref(sums);
	return list;
}

json_t *node_find(json_t *list, const char *name)
{
	json_t *n;
	size_t i;

	json_array_foreach(list, i, n) if (!strcmp(json_string_value(json_object_get(n, "name")),
						   name)) return json_incref(n);
	return NULL;
}

int node_token(struct host *h, json_t *body, json_t **out, struct err **err)
{
	unsigned char b[HEX / 2];
	char secret[HEX + 1], token[sizeof(TOKEN_PREFIX) + HEX], hash[HEX + 1];
	json_t *ttl = json_object_get(body, "ttl"), *name = json_object_get(body, "node");
	long long now = time(NULL), life = NODE_TOKEN_TTL;
	const char *k;
	json_t *x;
	int r;

	json_object_foreach(body, k, x)
	{
		if (strcmp(k, "ttl") && strcmp(k, "node"))
			return err_make(err, EINVAL,
					"`%s`: unknown field (a join token takes ttl, node)", k);
	}
	if (name &&
	    (!json_is_string(name) || !json_string_length(name) || json_string_length(name) > 63))
		return err_make(err, EINVAL, "`node`: expected a node name of 1 to 63 characters");
	if (ttl) {
		if (!json_is_integer(ttl) || json_integer_value(ttl) < 1 ||
		    json_integer_value(ttl) > NODE_TOKEN_TTL_MAX)
			return err_make(err, EINVAL, "`ttl`: expected 1 to %d seconds",
					NODE_TOKEN_TTL_MAX);
		life = json_integer_value(ttl);
	}
	if (!h->node)
		return err_make(
			err, EBUSY,
			"join tokens are for a cluster (vpsd --cluster): this host is on its own");
	randombytes_buf(b, sizeof(b));
	sodium_bin2hex(secret, sizeof(secret), b, sizeof(b));
	snprintf(token, sizeof(token), TOKEN_PREFIX "%s", secret);
	sodium_memzero(b, sizeof(b));
	token_hash(token, hash);
	if ((r = store_join_token_insert(h->store, hash, name ? json_string_value(name) : NULL, now,
					 now + life, err)) < 0)
		return r;
	*out = json_pack("{s:s, s:I}", "token", token, "expires", (json_int_t)(now + life));
	if (*out && name)
		json_object_set(*out, "node", name);
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(token, sizeof(token));
	return *out ? 0 : err_make(err, ENOMEM, "node token");
}

int node_elsewhere(struct host *h, const char *name, char node[64], char addr[256])
{
	struct vps v;
	json_t *list, *n;

	if (!h->node)
		return 0;
	vps_init(&v);
	if (store_vps_get(h->store, name, &v, NULL) < 0 || !*v.node || !strcmp(v.node, h->node)) {
		vps_free(&v);
		return 0;
	}
	snprintf(node, 64, "%s", v.node);
	vps_free(&v);
	list = store_nodes(h->store);
	n = list ? node_find(list, node) : NULL;
	snprintf(addr, 256, "%s", n ? json_string_value(json_object_get(n, "address")) : "");
	json_decref(n);
	json_decref(list);
	return 1;
}

void node_note_elsewhere(const char *node, const char *addr)
{
	snprintf(noted_node, sizeof(noted_node), "%s", node);
	snprintf(noted_addr, sizeof(noted_addr), "%s", addr);
}

void node_noted_elsewhere(json_t *error)
{
	json_object_set_new(error, "node", json_string(noted_node));
	json_object_set_new(error, "address", json_string(noted_addr));
}

/* Samples older than this say nothing of now: a stopped VPS uses nothing. */
#define USED_WITHIN 300

int node_show(struct host *h, const char *name, json_t **out, struct err **err)
{
	json_t *list = node_list(h, err), *last;
	double cpu = 0, mem = 0, disk = 0;
	long long since = (long long)time(NULL) - USED_WITHIN, newest = 0;
	struct vps *all = NULL;
	size_t nr = 0;

	if (!list)
		return -ENOTCONN; /* the store did not answer: 503, as the list's */
	*out = node_find(list, name);
	json_decref(list);
	if (!*out)
		return err_make(err, ENOENT, "no node named `%s`", name);
	/* used: the last usage sample (usage.c) of each of its VPSes, if recent */
	last = store_samples_last(h->store);
	if (store_vps_list(h->store, &all, &nr, NULL) < 0)
		nr = 0;
	for (size_t k = 0; k < nr; k++) {
		json_t *smp = json_object_get(last, all[k].name);
		long long t = json_integer_value(json_object_get(smp, "time"));

		/* one host: every VPS is its own (the rows name no node) */
		if (!smp || t < since || (h->node && strcmp(all[k].node, name)))
			continue;
		cpu += json_number_value(json_object_get(smp, "cpu"));
		mem += json_number_value(json_object_get(smp, "mem"));
		disk += json_number_value(json_object_get(smp, "disk"));
		newest = t > newest ? t : newest;
	}
	store_vps_list_free(all, nr);
	json_decref(last);
	json_object_set_new(*out, "evacuating",
			    json_boolean(!strcmp(json_string_value(json_object_get(*out, "state")),
						 "evacuating")));
	json_object_set_new(*out, "used",
			    json_pack("{s:f, s:I, s:I, s:I}", "cpus", cpu, "ram", (json_int_t)mem,
				      "disk", (json_int_t)disk, "sampled", (json_int_t)newest));
	return 0;
}

int node_remove(struct host *h, const char *name, bool force, struct err **err)
{
	long long stale = (long long)h->heartbeat_every * h->offline_after;

	if (!h->node)
		return err_make(err, EBUSY,
				"this host is on its own (no --cluster): it has no "
				"other node to remove");
	if (!strcmp(name, h->node))
		return err_make(err, EBUSY,
				"node `%s` is the one answering this request: it cannot remove "
				"itself (stop it, then ask another node)",
				name);
	return store_node_remove(h->store, name, force ? -1 : (long long)time(NULL) - stale, err);
}
