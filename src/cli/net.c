// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `vps net`: networks (docs/networks.md). A network is a bridge with
 * gateway addresses, NAT for outbound, and IPv4/IPv6 pools that VPSes
 * joining it (`vps create --network`) take their addresses from; with
 * --vlan and --parent, its frames leave the host tagged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cmd_net_list(struct args *a)
{
	static const char *const cols[] = { "name",   "bridge", "ipv4",	 "ipv6", "nat", "vlan",
					    "parent", "used4",	"used6", "vps",	 NULL };

	return api_show("/networks", a->json, cols, NULL);
}

/* --vlan: a whole number; its range is vpsd's to check (one place says 1-4094). */
static int vlan_arg(struct args *a, const char *v, json_t *body)
{
	char *end;
	long long id;

	errno = 0;
	id = strtoll(v, &end, 10);
	if (!*v || *end || errno || id < 0 || id > 65535)
		return usage_err(a->cmd, "--vlan: `%s` is not an 802.1Q id (1-4094)", v);
	json_object_set_new(body, "vlan", json_integer(id));
	return 0;
}

int cmd_net_create(struct args *a)
{
	json_t *body = json_object(), *reply = NULL;
	const char *name = a->pos[0];
	struct err *err = NULL;
	int r = 0;

	for (int i = 0; !r && i < a->ngiven; i++) {
		const char *f = a->given[i].opt->name, *v = a->given[i].val;

		if (!strcmp(f, "format"))
			continue;
		if (!strcmp(f, "no-nat"))
			json_object_set_new(body, "nat", json_false());
		else if (!strcmp(f, "vlan"))
			r = vlan_arg(a, v, body);
		else if (!*v || strpbrk(v, " \n\r"))
			r = usage_err(a->cmd, "--%s: `%s` is not valid", f, v);
		else
			json_object_set_new(body, f, json_string(v));
	}
	if (r)
		goto out;
	json_object_set_new(body, "name", json_string(name));
	if (api("POST", "/networks", body, &reply, &err) < 0) {
		r = fail_err(&err);
		goto out;
	}
	if (a->json)
		print_json(reply);
	else
		printf("created network %s (bridge %s)\n", name,
		       json_string_value(json_object_get(reply, "bridge")));
out:
	json_decref(body);
	json_decref(reply);
	return r;
}

int cmd_net_delete(struct args *a)
{
	return api_delete("networks", a->pos[0], "deleted network");
}
