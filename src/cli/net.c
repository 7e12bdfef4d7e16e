// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `vps net`: networks (docs/networks.md). A network is a bridge with
 * gateway addresses, NAT for outbound, and IPv4/IPv6 pools that VPSes
 * joining it (`vps create --network`) take their addresses from.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char usage_net[] =
	"usage: vps net list [--format table|json]\n"
	"       vps net create NAME [--ipv4 GW/LEN] [--ipv6 GW/LEN] [--bridge IF] [--no-nat]\n"
	"       vps net delete NAME\n"
	"A network is a host bridge holding the gateway addresses (10.77.0.1/24,\n"
	"fd77::1/64) with NAT for outbound unless --no-nat; VPSes created with\n"
	"--network NAME take the next free addresses. A network in use cannot be\n"
	"deleted.\n";

static const struct flag net_flags[] = {
	{ "format", true }, { "ipv4", true },	 { "ipv6", true },
	{ "bridge", true }, { "no-nat", false }, { NULL, false },
};

int cmd_net(int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : NULL, *name = NULL, *f, *v;
	static const char *const cols[] = { "name",  "bridge", "ipv4", "ipv6", "nat",
					    "used4", "used6",  "vps",  NULL };
	json_t *body = json_object(), *reply = NULL;
	struct err *err = NULL;
	bool json = false;
	char cmd[32], path[80];
	struct argp p;
	int r = 0, t;

	if (!sub || sub[0] == '-') {
		if (sub && (!strcmp(sub, "--help") || !strcmp(sub, "-h"))) {
			fputs(usage_net, stdout);
			goto out;
		}
		r = usage_err("net", "missing list, create or delete");
		goto out;
	}
	if (!strcmp(sub, "ls"))
		sub = "list";
	if (strcmp(sub, "list") && strcmp(sub, "create") && strcmp(sub, "delete")) {
		r = usage_err("net", "unknown net command `%s`", sub);
		goto out;
	}
	snprintf(cmd, sizeof(cmd), "net %s", sub);
	argp_init(&p, cmd, argc - 1, argv + 1);
	while (!r && (t = argp_next(&p, net_flags, &f, &v)) != ARGP_END) {
		if (t == ARGP_ERR) {
			r = EXIT_USAGE;
		} else if (t == ARGP_HELP) {
			fputs(usage_net, stdout);
			goto out;
		} else if (t == ARGP_POS) {
			if (name || !strcmp(sub, "list"))
				r = usage_err(cmd, "unexpected argument `%s`", v);
			name = v;
		} else if (!strcmp(f, "format")) {
			r = parse_format(cmd, v, &json);
		} else if (strcmp(sub, "create")) {
			r = usage_err(cmd, "--%s: only for `net create`", f);
		} else if (!strcmp(f, "no-nat")) {
			json_object_set_new(body, "nat", json_false());
		} else if (!*v || strpbrk(v, " \n\r")) {
			r = usage_err(cmd, "--%s: `%s` is not valid", f, v);
		} else {
			json_object_set_new(body, f, json_string(v));
		}
	}
	if (r)
		goto out;
	if (!strcmp(sub, "list")) {
		if (api("GET", "/networks", NULL, &reply, &err) < 0) {
			r = fail_err(&err);
			goto out;
		}
		if (json)
			print_json(reply);
		else
			print_table(reply, cols);
		goto out;
	}
	if ((r = check_name(cmd, "NAME", name)))
		goto out;
	if (!strcmp(sub, "create")) {
		json_object_set_new(body, "name", json_string(name));
		if (api("POST", "/networks", body, &reply, &err) < 0) {
			r = fail_err(&err);
			goto out;
		}
		if (json)
			print_json(reply);
		else
			printf("created network %s (bridge %s)\n", name,
			       json_string_value(json_object_get(reply, "bridge")));
		goto out;
	}
	snprintf(path, sizeof(path), "/networks/%s", name);
	if (api("DELETE", path, NULL, &reply, &err) < 0) {
		r = fail_err(&err);
		goto out;
	}
	printf("deleted network %s\n", name);
out:
	json_decref(body);
	json_decref(reply);
	return r;
}
