// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Source networks as text (cidr.h): ADDR or ADDR/BITS, IPv4 or IPv6, and
 * whether an address or another network lies inside. Pure: the tokens'
 * checks (auth.c, auth_body.c) and the fuzzers call it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "host/cidr.h"

/* ADDR or ADDR/BITS: its family, address and prefix length; -1 bad text. */
static int cidr_parse(const char *cidr, int *family, unsigned char net[16], int *bits)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(cidr, '/');
	size_t alen = slash ? (size_t)(slash - cidr) : strlen(cidr);
	int max;
	char *end;

	if (alen == 0 || alen >= sizeof(addr))
		return -1;
	memcpy(addr, cidr, alen);
	addr[alen] = 0;
	if (inet_pton(AF_INET, addr, net) == 1)
		*family = AF_INET, max = 32;
	else if (inet_pton(AF_INET6, addr, net) == 1)
		*family = AF_INET6, max = 128;
	else
		return -1;
	*bits = max;
	if (slash) {
		errno = 0;
		*bits = (int)strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || errno || *bits < 0 || *bits > max)
			return -1;
	}
	return 0;
}

static bool same_prefix(const unsigned char *a, const unsigned char *b, int bits)
{
	for (int i = 0; i < bits; i++) {
		unsigned char m = 0x80 >> (i % 8);

		if ((a[i / 8] & m) != (b[i / 8] & m))
			return false;
	}
	return true;
}

/* Whether network `inner` lies inside one of `outer` (a JSON list; empty: anywhere). */
bool cidr_within(const char *inner, json_t *outer)
{
	unsigned char in[16], out[16];
	int fi, bi, fo, bo;
	json_t *s;
	size_t i;

	if (!json_array_size(outer))
		return true;
	if (cidr_parse(inner, &fi, in, &bi) < 0)
		return false;
	json_array_foreach(outer, i, s)
	{
		if (json_is_string(s) && cidr_parse(json_string_value(s), &fo, out, &bo) == 0 &&
		    fo == fi && bi >= bo && same_prefix(in, out, bo))
			return true;
	}
	return false;
}

int auth_cidr_match(const char *cidr, const struct sockaddr *sa)
{
	unsigned char net[16], mine[16];
	int family, bits;

	if (cidr_parse(cidr, &family, net, &bits) < 0)
		return -1;
	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET) {
		memcpy(mine, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		if (family != AF_INET)
			return 0;
	} else if (sa->sa_family == AF_INET6) {
		const unsigned char *a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		if (family == AF_INET && !memcmp(a6, mapped, 12))
			memcpy(mine, a6 + 12, 4);
		else if (family == AF_INET6)
			memcpy(mine, a6, 16);
		else
			return 0;
	} else {
		return 0;
	}
	return same_prefix(net, mine, bits) ? 1 : 0;
}
