// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The network routes (route.h; the administrators'): the list, create,
 * show and delete of the networks VPS addresses come from. net.c does the
 * work. And a VPS's firewall (its owner's; firewall.c does the work).
 */
#include <errno.h>

#include "host/firewall.h"
#include "host/net.h"
#include "host/route.h"

enum MHD_Result api_networks_get(struct call *x)
{
	return reply_page(x->c, net_list(x->h), "name");
}

enum MHD_Result api_networks_post(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = net_create(x->h, x->body, &out, &e);

	return reply_result(x->c, r, &e, 201, out);
}

enum MHD_Result api_network_get(struct call *x)
{
	json_t *out = net_show(x->h, x->arg);

	return out ? reply(x->c, 200, out) : reply_error(x->c, ENOENT, "no such network");
}

enum MHD_Result api_network_delete(struct call *x)
{
	struct err *e = NULL;
	int r = net_delete(x->h, x->arg, &e);

	return reply_ok(x->c, r, &e);
}

enum MHD_Result api_fw_get(struct call *x)
{
	json_t *out = fw_get(x->h, x->arg);

	return out ? reply(x->c, 200, out) : reply_no_such_vps(x->c, x->arg);
}

enum MHD_Result api_fw_put(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = fw_put(x->h, x->arg, x->body, &out, &e);

	return reply_result(x->c, r, &e, 200, out);
}

enum MHD_Result api_fw_rules_post(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = fw_rule_add(x->h, x->arg, x->body, &out, &e);

	return reply_result(x->c, r, &e, 201, out);
}

enum MHD_Result api_fw_rule_delete(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = fw_rule_rm(x->h, x->arg, x->arg2, &out, &e);

	return reply_result(x->c, r, &e, 200, out);
}
