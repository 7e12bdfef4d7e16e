// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `vps node`: the cluster's nodes and join tokens (docs/cluster.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cmd_node_list(struct args *a)
{
	static const char *const cols[] = { "name", "state", "address", "peer",	     "cpus",
					    "ram",  "disk",  "vps",	"heartbeat", NULL };

	return api_show("/nodes", a->json, cols, NULL);
}

int cmd_node_token(struct args *a)
{
	json_t *body = json_object(), *reply = NULL;
	struct err *err = NULL;
	int r = 0;

	for (int i = 0; !r && i < a->ngiven; i++) {
		const char *f = a->given[i].opt->name, *v = a->given[i].val;
		char *end;
		long n;

		if (!strcmp(f, "for")) {
			if (!*v || strlen(v) > 63 || strpbrk(v, " \n\r"))
				r = usage_err(a->cmd, "--for: `%s` is not a node name", v);
			else
				json_object_set_new(body, "node", json_string(v));
			continue;
		}
		if (strcmp(f, "ttl"))
			continue;
		errno = 0;
		n = strtol(v, &end, 10);
		if (!*v || *end || errno || n < 1 || n > 7 * 86400)
			r = usage_err(a->cmd, "--ttl: expected 1 to 604800 seconds");
		else
			json_object_set_new(body, "ttl", json_integer(n));
	}
	if (r)
		goto out;
	if (api("POST", "/nodes/tokens", body, &reply, &err) < 0) {
		r = fail_err(&err);
		goto out;
	}
	if (a->json)
		print_json(reply);
	else /* the token alone on standard output: it is shown once */
		printf("%s\n", json_string_value(json_object_get(reply, "token")));
out:
	json_decref(body);
	json_decref(reply);
	return r;
}
