// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `vps pool` and `vps snapshot` (docs/storage.md): the directories VPS
 * disks live in, and a VPS's snapshots (every disk at one moment).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cmd_pool_list(struct args *a)
{
	static const char *const cols[] = { "name", "path", "copies", "vps", NULL };
	struct err *err = NULL;
	json_t *reply, *x;
	size_t i;

	if (api("GET", "/pools", NULL, &reply, &err) < 0)
		return fail_err(&err);
	/* how a snapshot is made there: shared blocks, or every byte again */
	json_array_foreach(reply, i, x) json_object_set_new(
		x, "copies",
		json_string(json_is_true(json_object_get(x, "reflink")) ? "reflink" : "full"));
	if (a->json)
		print_json(reply);
	else
		print_table(reply, cols);
	json_decref(reply);
	return 0;
}

int cmd_pool_add(struct args *a)
{
	json_t *body = json_pack("{s:s, s:s}", "name", a->pos[0], "path", a->pos[1]);
	json_t *reply = NULL;
	struct err *err = NULL;
	int r = 0;

	if (a->pos[1][0] != '/')
		r = usage_err(a->cmd, "PATH: `%s` is not an absolute path", a->pos[1]);
	else if (api("POST", "/pools", body, &reply, &err) < 0)
		r = fail_err(&err);
	else
		printf("added pool %s (%s copies)\n", a->pos[0],
		       json_is_true(json_object_get(reply, "reflink")) ? "reflink" : "full");
	json_decref(body);
	json_decref(reply);
	return r;
}

int cmd_pool_rm(struct args *a)
{
	return api_delete("pools", a->pos[0], "removed pool");
}

/* A snapshot's name as the daemon takes it; anything else never reaches a URL. */
static int snap_ok(struct args *a)
{
	const char *s = a->pos[1];
	size_t n = strlen(s);

	if (n < 1 || n > 64 ||
	    !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", s[0]) ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
		return usage_err(a->cmd,
				 "SNAP: `%.64s` is not a snapshot name (1-64 of A-Z, a-z, 0-9, "
				 "., _ and -, starting with a letter or digit)",
				 s);
	return 0;
}

int cmd_snapshot_list(struct args *a)
{
	static const char *const cols[] = { "name", "created", "size", "memory", NULL };
	char path[400];

	snprintf(path, sizeof(path), "/vps/%s/snapshots", a->pos[0]);
	return api_show(path, a->json, cols, NULL);
}

int cmd_traffic(struct args *a)
{
	static const char *const cols[] = { "month", "rx", "tx", "action", NULL };
	json_t *reply = NULL;
	struct err *err = NULL;
	char path[400], a1[32], a2[32];

	snprintf(path, sizeof(path), "/vps/%s/traffic", a->pos[0]);
	if (api("GET", path, NULL, &reply, &err) < 0)
		return fail_err(&err);
	if (a->json) {
		print_json(reply);
	} else {
		cell_text("total", json_object_get(reply, "total"), a1, sizeof(a1));
		cell_text("allowance", json_object_get(reply, "allowance"), a2, sizeof(a2));
		printf("%s: %s of %s this month (%s)%s%s\n\n", a->pos[0], a1,
		       json_integer_value(json_object_get(reply, "allowance")) ? a2 :
										 "no allowance",
		       json_string_value(json_object_get(reply, "month")),
		       *json_string_value(json_object_get(reply, "action")) ? ", " : "",
		       json_string_value(json_object_get(reply, "action")));
		print_table(json_object_get(reply, "months"), cols);
	}
	json_decref(reply);
	return 0;
}

int cmd_snapshot_create(struct args *a)
{
	json_t *body = json_pack("{s:s}", "name", a->pos[1]), *reply = NULL;
	struct err *err = NULL;
	char path[400];
	int r = 0;

	snprintf(path, sizeof(path), "/vps/%s/snapshots", a->pos[0]);
	if (body && args_has(a, "memory"))
		json_object_set_new(body, "memory", json_true());
	if ((r = snap_ok(a)))
		;
	else if (api("POST", path, body, &reply, &err) < 0)
		r = fail_err(&err);
	else
		printf("snapshot %s of %s made%s\n", a->pos[1], a->pos[0],
		       json_integer_value(json_object_get(reply, "memory")) ? " with its memory" :
									      "");
	json_decref(body);
	json_decref(reply);
	return r;
}

int cmd_snapshot_revert(struct args *a)
{
	json_t *reply = NULL;
	struct err *err = NULL;
	char path[600];

	if (snap_ok(a))
		return 2;
	snprintf(path, sizeof(path), "/vps/%s/snapshots/%s/revert", a->pos[0], a->pos[1]);
	if (api("POST", path, NULL, &reply, &err) < 0)
		return fail_err(&err);
	json_decref(reply);
	printf("%s reverted to snapshot %s\n", a->pos[0], a->pos[1]);
	return 0;
}

int cmd_snapshot_rm(struct args *a)
{
	char coll[400];

	if (snap_ok(a))
		return 2;
	snprintf(coll, sizeof(coll), "vps/%s/snapshots", a->pos[0]);
	return api_delete(coll, a->pos[1], "removed snapshot");
}

/* ---- a VPS's firewall ---- */

static void fw_print(const char *name, json_t *fw, bool json)
{
	static const char *const cols[] = { "n",      "direction",   "action",	"proto", "dport",
					    "source", "destination", "comment", NULL };

	if (json) {
		print_json(fw);
		return;
	}
	printf("%s: policy in %s, out %s\n\n", name,
	       json_string_value(json_object_get(fw, "policy_in")),
	       json_string_value(json_object_get(fw, "policy_out")));
	print_table(json_object_get(fw, "rules"), cols);
}

int cmd_fw_list(struct args *a)
{
	json_t *reply = NULL;
	struct err *err = NULL;
	char path[400];

	snprintf(path, sizeof(path), "/vps/%s/firewall", a->pos[0]);
	if (api("GET", path, NULL, &reply, &err) < 0)
		return fail_err(&err);
	fw_print(a->pos[0], reply, a->json);
	json_decref(reply);
	return 0;
}

int cmd_fw_add(struct args *a)
{
	static const char *const keys[][2] = {
		{ "direction", "direction" }, { "action", "action" },
		{ "proto", "proto" },	      { "port", "dport" },
		{ "source", "source" },	      { "destination", "destination" },
		{ "comment", "comment" }
	};
	json_t *body = json_object(), *reply = NULL;
	struct err *err = NULL;
	char path[400];
	int r = 0;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (args_get(a, keys[i][0]))
			json_object_set_new(body, keys[i][1], json_string(args_get(a, keys[i][0])));
	if (args_get(a, "position"))
		json_object_set_new(body, "position",
				    json_integer(strtoll(args_get(a, "position"), NULL, 10)));
	snprintf(path, sizeof(path), "/vps/%s/firewall/rules", a->pos[0]);
	if (api("POST", path, body, &reply, &err) < 0)
		r = fail_err(&err);
	else
		printf("rule added to %s's firewall (%zu rules)\n", a->pos[0],
		       json_array_size(json_object_get(reply, "rules")));
	json_decref(body);
	json_decref(reply);
	return r;
}

int cmd_fw_rm(struct args *a)
{
	json_t *reply = NULL;
	struct err *err = NULL;
	char path[600];

	snprintf(path, sizeof(path), "/vps/%s/firewall/rules/%s", a->pos[0], a->pos[1]);
	if (api("DELETE", path, NULL, &reply, &err) < 0)
		return fail_err(&err);
	printf("rule %s removed from %s's firewall\n", a->pos[1], a->pos[0]);
	json_decref(reply);
	return 0;
}

int cmd_fw_policy(struct args *a)
{
	json_t *fw = NULL, *reply = NULL;
	struct err *err = NULL;
	char path[400];
	int r = 0;

	snprintf(path, sizeof(path), "/vps/%s/firewall", a->pos[0]);
	if (api("GET", path, NULL, &fw, &err) < 0)
		return fail_err(&err);
	/* the rules as they are, the policies changed: `n` is ignored in a body */
	if (args_get(a, "in"))
		json_object_set_new(fw, "policy_in", json_string(args_get(a, "in")));
	if (args_get(a, "out"))
		json_object_set_new(fw, "policy_out", json_string(args_get(a, "out")));
	if (api("PUT", path, fw, &reply, &err) < 0)
		r = fail_err(&err);
	else
		fw_print(a->pos[0], reply, false);
	json_decref(fw);
	json_decref(reply);
	return r;
}
