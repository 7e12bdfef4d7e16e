/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The read copy a node keeps for the cluster database's absence (docs/cluster.md, "The
 * database away"). While PostgreSQL answers, each heartbeat (node.c) copies the records of
 * the VPSes this node holds and the live sessions and tokens of administrators and of their
 * owners; while it does not, api.c answers GET /vps and GET /vps/NAME from this copy, the
 * caller authorized by the same checks as ever (auth.c's *_row) on the copied rows, for
 * at most --stale-reads seconds after the last copy. Everything else stays 503.
 *
 * The copy lives in memory only: a vpsd started while the database is away has none.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/auth.h"
#include "host/host.h"
#include "host/standby.h"
#include "host/store.h"
#include "host/vps.h"

static struct {
	pthread_mutex_t lock;
	struct vps *vps; /* this node's records at the last copy */
	size_t n;
	json_t *cred; /* store_credentials' answer at the last copy */
	long long when; /* its time (monotonic seconds); 0: none */
} S = { .lock = PTHREAD_MUTEX_INITIALIZER };

static long long mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec;
}

void standby_refresh(struct host *h)
{
	struct vps *v = NULL;
	size_t n = 0;
	json_t *cred;

	if (!h->stale_reads)
		return;
	/* both read while the database answers, or the old copy stays whole */
	if (!(cred = store_credentials(h->store, time(NULL))))
		return;
	if (store_vps_list_local(h->store, &v, &n, NULL) < 0) {
		json_decref(cred);
		return;
	}
	pthread_mutex_lock(&S.lock);
	store_vps_list_free(S.vps, S.n);
	json_decref(S.cred);
	S.vps = v;
	S.n = n;
	S.cred = cred;
	S.when = mono();
	pthread_mutex_unlock(&S.lock);
}

void standby_drop(void)
{
	pthread_mutex_lock(&S.lock);
	store_vps_list_free(S.vps, S.n);
	json_decref(S.cred);
	S.vps = NULL;
	S.n = 0;
	S.cred = NULL;
	S.when = 0;
	pthread_mutex_unlock(&S.lock);
}

/* Under S.lock: the copy's age in seconds, or -1 when there is none or it is too old. */
static long long usable(const struct host *h)
{
	long long age = mono() - S.when;

	return S.cred && S.when && h->stale_reads > 0 && age <= h->stale_reads ? age : -1;
}

/* Under S.lock: the caller from a copied token or session, as auth.c checks them. */
static int caller(struct host *h, const struct standby_creds *c, struct principal *p)
{
	char id[AUTH_HEX + 1];
	json_t *row;
	int r;

	if (c->local) {
		memset(p, 0, sizeof(*p));
		snprintf(p->user, sizeof(p->user), AUTH_LOCAL_USER);
		snprintf(p->source, sizeof(p->source), "unix");
		p->admin = p->local = true;
		return 0;
	}
	if (c->token) {
		if (strncmp(c->token, "vps_", 4) || strlen(c->token) > 128)
			return -EACCES;
		auth_secret_hash(c->token, id);
		row = json_object_get(json_object_get(S.cred, "tokens"), id);
		r = auth_token_row(row, c->sa, c->source, p, NULL);
	} else if (c->cookie && strlen(c->cookie) == AUTH_HEX) {
		auth_secret_hash(c->cookie, id);
		row = json_object_get(json_object_get(S.cred, "sessions"), id);
		if (row && json_integer_value(json_object_get(row, "expires")) <= time(NULL))
			row = NULL;
		r = auth_session_row(h, row, c->source, p, NULL);
	} else {
		return -EACCES;
	}
	/* a user who must enrol in 2FA first reads nothing from here */
	return r < 0 ? r : p->enrol ? -EACCES : 0;
}

int standby_read(struct host *h, const struct standby_creds *c, const char *name, struct vps **out,
		 size_t *n, long long *age)
{
	struct principal p;
	int r = -EAGAIN;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&S.lock);
	if ((*age = usable(h)) < 0 || caller(h, c, &p) < 0)
		goto out;
	r = 0;
	if (!(*out = calloc(S.n ? S.n : 1, sizeof(**out)))) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < S.n && r == 0; i++) {
		if ((name && strcmp(S.vps[i].name, name)) ||
		    (!p.admin && strcmp(S.vps[i].owner, p.user)))
			continue;
		if ((r = vps_copy(&(*out)[*n], &S.vps[i])) == 0)
			(*n)++;
	}
	if (r < 0 || (name && !*n)) {
		store_vps_list_free(*out, *n);
		*out = NULL;
		*n = 0;
		r = r < 0 ? r : -ENOENT;
	}
out:
	pthread_mutex_unlock(&S.lock);
	return r;
}
