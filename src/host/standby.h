/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The read copy of this node's VPSes and of the credentials that may read them, kept for
 * the cluster database's absence (standby.c, docs/cluster.md "The database away").
 */
#ifndef VPS_HOST_STANDBY_H
#define VPS_HOST_STANDBY_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/socket.h>

struct host;

/* How the request says who it is: the unix socket, a bearer token or a session cookie. */
struct standby_creds {
	bool local;
	const char *token; /* after "Bearer " */
	const char *cookie;
	const struct sockaddr *sa;
	const char *source;
};

/* Copy the records and credentials anew; the old copy stays when the store fails. */
void standby_refresh(struct host *h);
/* Forget the copy (a clean stop; the tests). */
void standby_drop(void);
/*
 * From the copy: copies of the VPS `name` (with name NULL, of this node's VPSes) the caller
 * may see, freed with store_vps_list_free; *age the copy's age in seconds. -EAGAIN when there
 * is no copy fresh enough or the caller is not one the copy knows, -ENOENT when the VPS is
 * not in the copy or not the caller's: either way the caller gets the database's 503.
 */
struct vps;
int standby_read(struct host *h, const struct standby_creds *c, const char *name, struct vps **out,
		 size_t *n, long long *age);

#endif
