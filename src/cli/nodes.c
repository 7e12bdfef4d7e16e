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

int cmd_node_show(struct args *a)
{
	static const char *const order[] = { "name", "state", "evacuating", "self",   "address",
					     "peer", "cpus",  "ram",	    "disk",   "allocated",
					     "used", "vps",   "heartbeat",  "joined", NULL };
	char path[128];

	snprintf(path, sizeof(path), "/nodes/%s", a->pos[0]);
	return api_show(path, a->json, NULL, order);
}

int cmd_node_rm(struct args *a)
{
	json_t *reply = NULL;
	struct err *err = NULL;
	char path[160];

	snprintf(path, sizeof(path), "/nodes/%s%s", a->pos[0],
		 args_has(a, "force") ? "?force=1" : "");
	if (api("DELETE", path, NULL, &reply, &err) < 0)
		return fail_err(&err);
	json_decref(reply);
	return 0;
}

/* A join token, for the node `name` (vps node add NAME) or as --for says (NULL). */
static int token(struct args *a, const char *name)
{
	json_t *body = json_object(), *reply = NULL;
	struct err *err = NULL;
	int r = 0;

	if (name)
		json_object_set_new(body, "node", json_string(name));

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

int cmd_node_token(struct args *a)
{
	return token(a, NULL);
}

int cmd_node_add(struct args *a)
{
	return token(a, a->pos[0]);
}

int cmd_migrate(struct args *a)
{
	const char *name = a->pos[0], *to = args_get(a, "to"), *fallback = args_get(a, "fallback");
	json_t *body, *reply = NULL, *why;
	char path[320], what[400];
	int r;

	if (!to || !*to || strlen(to) > 63)
		return usage_err(a->cmd, "--to NODE: the node to move it to");
	if (fallback && !args_has(a, "live"))
		return usage_err(a->cmd, "--fallback: only with --live");
	body = json_pack("{s:s}", "to", to);
	if (args_has(a, "live"))
		json_object_set_new(body, "live", json_true());
	if (fallback)
		json_object_set_new(body, "fallback", json_string(fallback));
	snprintf(path, sizeof(path), "/vps/%s/migrate", name);
	snprintf(what, sizeof(what), "moving `%s` to node `%s`", name, to);
	r = run_op(path, body, what, &reply);
	if (!r && (why = json_object_get(reply, "live_refused")))
		fprintf(stderr, "not live: %s: moved %s\n", json_string_value(why),
			json_object_get(reply, "downtime_ms") ? "by a restart instead" :
								"as it was");
	if (r) {
		/* said */
	} else if (a->json) {
		print_json(reply);
	} else {
		json_t *down = json_object_get(reply, "downtime_ms");

		printf("moved `%s` from node `%s` to node `%s`: %.1f MiB sent (sha256 %.16s...), "
		       "%.1f s",
		       name, json_string_value(json_object_get(reply, "from")), to,
		       (double)json_integer_value(json_object_get(reply, "bytes")) / (1 << 20),
		       json_string_value(json_object_get(reply, "sha256")),
		       json_number_value(json_object_get(reply, "seconds")));
		if (down)
			printf(", down %lld ms", (long long)json_integer_value(down));
		printf("\n");
	}
	json_decref(body);
	json_decref(reply);
	return r;
}

int cmd_node_evacuate(struct args *a)
{
	json_t *reply = NULL, *x, *body = json_object();
	char path[128], what[128];
	size_t i;
	int r;

	snprintf(path, sizeof(path), "/nodes/%s/evacuate", a->pos[0]);
	snprintf(what, sizeof(what), "evacuating node `%s`", a->pos[0]);
	r = run_op(path, body, what, &reply);
	json_decref(body);
	if (r)
		return r;
	if (a->json) {
		print_json(reply);
	} else {
		json_array_foreach(json_object_get(reply, "moved"), i, x)
			printf("moved `%s` to node `%s`\n",
			       json_string_value(json_object_get(x, "vps")),
			       json_string_value(json_object_get(x, "to")));
		json_array_foreach(json_object_get(reply, "failed"), i, x)
			printf("left `%s`: %s\n", json_string_value(json_object_get(x, "vps")),
			       json_string_value(json_object_get(x, "error")));
	}
	i = json_array_size(json_object_get(reply, "failed"));
	json_decref(reply);
	return i ? 1 : 0;
}

int cmd_node_restore(struct args *a)
{
	json_t *reply = NULL;
	struct err *err = NULL;
	char path[128];

	snprintf(path, sizeof(path), "/nodes/%s/restore", a->pos[0]);
	if (api("POST", path, NULL, &reply, &err) < 0)
		return fail_err(&err);
	json_decref(reply);
	return 0;
}
