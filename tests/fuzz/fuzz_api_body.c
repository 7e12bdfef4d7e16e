// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: vpsd's API body parsers that run without a daemon: a VPS's
 * create and PATCH bodies (vps_from_json, then vps_to_json of what it made),
 * PUT /policies (policy_parse), a token's source networks
 * (auth_cidr_match) and the sizes the daemon's flags take.
 *
 * Input: a selector byte (0 create, 1 PATCH, 2 policies, 3 source network,
 * 4 sizes), then the body as it would arrive (JSON parsed as the API
 * parses it, with duplicate keys refused) or the text.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "common/util.h"
#include "fuzz.h"
#include "host/auth.h"
#include "host/host.h"
#include "host/policy.h"
#include "host/reclaim.h"
#include "host/vps.h"

#define MAX_TEXT 4096

static void vps_body(json_t *body, bool create)
{
	struct err *e = NULL;
	char *password = NULL, *out;
	struct vps v;
	json_t *j;

	vps_init(&v);
	if (!create) {
		strcpy(v.name, "web1");
		v.kind = VPS_VM;
	}
	if (vps_from_json(&v, body, create, &password, &e) == 0) {
		j = vps_to_json(&v);
		out = json_dumps(j, JSON_COMPACT);
		free(out);
		json_decref(j);
	} else {
		if (!err_msg(e) || !*err_msg(e))
			__builtin_trap(); /* a refusal always says why */
		err_free(&e);
	}
	free(password);
	vps_free(&v);
}

static void policy_body(json_t *body)
{
	struct policy p[NR_RES] = {
		{ "reserve", 1.0 },
		{ "thin", 1.0 },
		{ "oversell", 4.0 },
	};
	json_t *changed = json_object();
	struct err *e = NULL;

	if (json_is_object(body) && policy_parse(body, p, changed, &e) < 0)
		err_free(&e);
	json_decref(changed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[MAX_TEXT + 1];
	struct err *e = NULL;
	json_error_t je;
	uint64_t sz;
	json_t *body;
	size_t n;

	if (!size)
		return 0;
	n = size - 1 < MAX_TEXT ? size - 1 : MAX_TEXT;
	switch (data[0] % 5) {
	case 0:
	case 1:
	case 2:
		body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &je);
		if (!body)
			return 0;
		if (data[0] % 5 == 2)
			policy_body(body);
		else
			vps_body(body, data[0] % 5 == 0);
		json_decref(body);
		break;
	case 3:
		memcpy(text, data + 1, n);
		text[n] = '\0';
		if (auth_cidr_match(text, NULL) == 0) {
			struct sockaddr_in v4 = { .sin_family = AF_INET,
						  .sin_addr.s_addr = htonl(0x0a000001) };
			struct sockaddr_in6 v6 = { .sin6_family = AF_INET6,
						   .sin6_addr.s6_addr = { 0xfd, 0x77, [15] = 1 } };

			auth_cidr_match(text, (struct sockaddr *)&v4);
			auth_cidr_match(text, (struct sockaddr *)&v6);
		}
		break;
	case 4:
		memcpy(text, data + 1, n);
		text[n] = '\0';
		parse_size(text, &sz);
		if (reclaim_parse_below(text, 8ULL << 30, &sz, &e) < 0)
			err_free(&e);
		break;
	}
	return 0;
}
