/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Source networks as text (cidr.c): a token's `sources`, each ADDR or
 * ADDR/BITS.
 */
#ifndef VPS_HOST_CIDR_H
#define VPS_HOST_CIDR_H

#include <stdbool.h>
#include <sys/socket.h>

#include <jansson.h>

/* CIDR matching, for tests and tokens: 1 inside, 0 not, -1 bad text. */
int auth_cidr_match(const char *cidr, const struct sockaddr *sa);
/* INNER lies inside one of OUTER's networks (an empty or absent OUTER: anywhere). */
bool cidr_within(const char *inner, json_t *outer);

#endif
