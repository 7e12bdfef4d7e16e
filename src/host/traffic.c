// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Traffic accounting (traffic.h, docs/networks.md "Traffic"). The counters
 * are read with `nft -j reset counter`, one command line per VPS that
 * reads and zeroes both of its counters atomically; their bytes go to the
 * store's `traffic` row of the month in one upsert. The plan's allowance is
 * checked on the total that upsert returns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "host/net.h"
#include "host/traffic.h"
#include "sys/netcmd.h"

void traffic_month(long long t, char buf[8])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, 8, "%Y-%m", &tm);
}

static int get_amount(json_t *x, const char *key, uint64_t *out, struct err **err)
{
	if (json_is_integer(x) && json_integer_value(x) > 0)
		*out = (uint64_t)json_integer_value(x);
	else if (!json_is_string(x) || parse_size(json_string_value(x), out) < 0 || !*out)
		return err_make(err, EINVAL, "`traffic.%s`: expected a positive size such as 500G",
				key);
	if (*out > (uint64_t)INT64_MAX)
		return err_make(err, EINVAL, "`traffic.%s`: too large", key);
	return 0;
}

int traffic_plan_parse(json_t *in, json_t **out, struct err **err)
{
	uint64_t allowance = 0, bw = 0;
	const char *k, *action = NULL;
	json_t *x;

	if (!json_is_object(in))
		return err_make(err, EINVAL, "`traffic`: expected an object");
	json_object_foreach(in, k, x)
	{
		if (!strcmp(k, "allowance")) {
			if (get_amount(x, k, &allowance, err) < 0)
				return -EINVAL;
		} else if (!strcmp(k, "bw")) {
			if (get_amount(x, k, &bw, err) < 0)
				return -EINVAL;
		} else if (!strcmp(k, "action")) {
			action = json_string_value(x);
			if (!action || (strcmp(action, "throttle") && strcmp(action, "suspend")))
				return err_make(err, EINVAL,
						"`traffic.action`: expected throttle or suspend");
		} else {
			return err_make(err, EINVAL, "`traffic.%.40s`: unknown field", k);
		}
	}
	if (!json_object_size(in)) {
		*out = json_object();
		return 0;
	}
	if (!allowance)
		return err_make(err, EINVAL, "`traffic.allowance`: required");
	if (!action)
		action = "throttle";
	if (!strcmp(action, "throttle") && !bw)
		return err_make(err, EINVAL, "`traffic.bw`: required to throttle");
	if (!strcmp(action, "suspend") && bw)
		return err_make(err, EINVAL, "`traffic.bw`: only with the throttle action");
	*out = json_pack("{s:I, s:s}", "allowance", (json_int_t)allowance, "action", action);
	if (bw)
		json_object_set_new(*out, "bw", json_integer((json_int_t)bw));
	return 0;
}

/*
 * The bytes of the counters named in the output of `nft -j reset counter`
 * (one JSON document per counter): rx_DEV into *rx, tx_DEV into *tx.
 */
static int parse_reset(const char *out, const char *ifname, uint64_t *rx, uint64_t *tx)
{
	char rxn[24], txn[24];
	int found = 0;

	snprintf(rxn, sizeof(rxn), "rx_%s", ifname);
	snprintf(txn, sizeof(txn), "tx_%s", ifname);
	for (const char *p = out; p && *p;) {
		json_error_t je;
		json_t *doc = json_loads(p, JSON_DISABLE_EOF_CHECK, &je), *items, *it;
		size_t i;

		if (!doc)
			break;
		p += je.position;
		items = json_object_get(doc, "nftables");
		json_array_foreach(items, i, it)
		{
			json_t *c = json_object_get(it, "counter");
			const char *name = json_string_value(json_object_get(c, "name"));
			json_int_t bytes = json_integer_value(json_object_get(c, "bytes"));

			if (!name || bytes < 0)
				continue;
			if (!strcmp(name, rxn))
				*rx = (uint64_t)bytes, found |= 1;
			else if (!strcmp(name, txn))
				*tx = (uint64_t)bytes, found |= 2;
		}
		json_decref(doc);
		while (*p == '\n' || *p == ' ')
			p++;
	}
	return found == 3 ? 0 : -ENOENT;
}

/*
 * The plan's action, recorded once for the month: "suspend" or "throttle"
 * when it is due now (the caller, above net and the store, takes it), NULL.
 */
static const char *due(struct host *h, const struct vps *v, json_t *row)
{
	json_t *plan = json_object_get(row, "plan");
	json_int_t allowance = json_integer_value(json_object_get(plan, "allowance"));
	json_int_t total = json_integer_value(json_object_get(row, "rx")) +
			   json_integer_value(json_object_get(row, "tx"));
	const char *action = json_string_value(json_object_get(plan, "action"));
	const char *month = json_string_value(json_object_get(row, "month"));
	char msg[160];

	if (!allowance || total < allowance || !action)
		return NULL;
	if (store_traffic_action(h->store, v->name, month, action) != 1)
		return NULL; /* taken already this month */
	snprintf(msg, sizeof(msg), "%lld bytes of %lld in %s: %s", (long long)total,
		 (long long)allowance, month, action);
	store_event(h->store, v->name, "traffic-exceeded", msg);
	pr_info("vps `%s`: traffic allowance used (%s)", v->name, msg);
	return !strcmp(action, "suspend") ? "suspend" : "throttle";
}

void traffic_reset(const struct vps *v)
{
	_cleanup_free_ char *out = NULL;
	char ifname[16];

	if (!*v->network)
		return;
	net_ifname(v, ifname);
	sys_netcmd_output(
		&out, "nft",
		"reset counter bridge vps_filter rx_%s ; reset counter bridge vps_filter tx_%s",
		ifname, ifname);
}

const char *traffic_collect(struct host *h, const struct vps *v, bool act)
{
	_cleanup_free_ char *out = NULL;
	uint64_t rx = 0, tx = 0;
	const char *what = NULL;
	json_t *row = NULL;
	char ifname[16], month[8];

	if (!*v->network)
		return NULL;
	net_ifname(v, ifname);
	/* both in one command: each reset reads and zeroes its counter at once */
	if (sys_netcmd_output(&out, "nft",
			      "-j reset counter bridge vps_filter rx_%s ; "
			      "reset counter bridge vps_filter tx_%s",
			      ifname, ifname) != 0)
		return NULL; /* no counters (not started, or gone): nothing counted */
	if (parse_reset(out, ifname, &rx, &tx) < 0) {
		pr_warn("vps `%s`: traffic counters: %.200s", v->name, out);
		return NULL;
	}
	traffic_month(time(NULL), month);
	if (store_traffic_add(h->store, v->name, month, (long long)rx, (long long)tx, &row) < 0) {
		if (rx || tx)
			pr_warn("vps `%s`: %llu and %llu bytes not counted", v->name,
				(unsigned long long)rx, (unsigned long long)tx);
		return NULL;
	}
	if (act)
		what = due(h, v, row);
	json_decref(row);
	return what;
}

uint64_t traffic_bw(struct host *h, const struct vps *v)
{
	json_t *row = NULL, *plan;
	uint64_t bw = v->bw;
	char month[8];

	traffic_month(time(NULL), month);
	if (store_traffic_add(h->store, v->name, month, 0, 0, &row) < 0)
		return bw;
	plan = json_object_get(row, "plan");
	if (!strcmp(json_string_value(json_object_get(row, "action")) ?: "", "throttle")) {
		uint64_t t = (uint64_t)json_integer_value(json_object_get(plan, "bw"));

		if (t && (!bw || t < bw))
			bw = t;
	}
	json_decref(row);
	return bw;
}

json_t *traffic_json(struct host *h, const char *name)
{
	json_t *row = NULL, *months, *plan, *out;
	json_int_t rx, tx;
	char month[8];

	traffic_month(time(NULL), month);
	if (store_traffic_add(h->store, name, month, 0, 0, &row) < 0)
		return NULL;
	plan = json_object_get(row, "plan");
	rx = json_integer_value(json_object_get(row, "rx"));
	tx = json_integer_value(json_object_get(row, "tx"));
	months = store_traffic(h->store, name, NULL);
	for (size_t i = 0; i < json_array_size(months); i++)
		json_object_del(json_array_get(months, i), "vps");
	out = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s, s:o}", "month", month, "rx", rx, "tx", tx,
			"total", rx + tx, "allowance",
			json_integer_value(json_object_get(plan, "allowance")), "action",
			json_string_value(json_object_get(row, "action")) ?: "", "months", months);
	if (json_object_get(plan, "action"))
		json_object_set(out, "allowance_action", json_object_get(plan, "action"));
	json_decref(row);
	return out;
}
