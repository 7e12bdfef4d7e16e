// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `vps webhook` (docs/webhooks.md): URLs vpsd posts events to, signed.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cmd_webhook_list(struct args *a)
{
	static const char *const cols[] = { "id",	 "owner",  "url",	  "events",
					    "delivered", "failed", "last_status", NULL };

	return api_show("/webhooks", a->json, cols, NULL);
}

int cmd_webhook_add(struct args *a)
{
	const char *events = args_get(a, "events"), *secret = args_get(a, "secret");
	json_t *body = json_pack("{s:s}", "url", a->pos[0]), *reply = NULL;
	struct err *err = NULL;
	int r = 0;

	if (events)
		json_object_set_new(body, "events", json_string(events));
	if (secret)
		json_object_set_new(body, "secret", json_string(secret));
	if (api("POST", "/webhooks", body, &reply, &err) < 0)
		r = fail_err(&err);
	else if (a->json)
		print_json(reply);
	else
		/* the secret is shown this once: the receiver checks signatures with it */
		printf("added webhook %lld for %s\nsecret: %s\n",
		       (long long)json_integer_value(json_object_get(reply, "id")),
		       json_string_value(json_object_get(reply, "events")),
		       json_string_value(json_object_get(reply, "secret")));
	json_decref(body);
	json_decref(reply);
	return r;
}

int cmd_webhook_rm(struct args *a)
{
	return api_delete("webhooks", a->pos[0], "removed webhook");
}
