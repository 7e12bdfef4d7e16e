// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vps-ctm's control commands: see ctl.h. Every field is checked here,
 * before monitor.c acts, so a refused request changes nothing.
 */
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "ctm/ctl.h"

/* A size field: "512M" or a byte count. */
static bool get_size(json_t *v, uint64_t *size)
{
	if (json_is_string(v))
		return parse_size(json_string_value(v), size) == 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*size = json_integer_value(v);
		return true;
	}
	return false;
}

/* `set`: the live limits, over a copy of the settings. */
static json_t *parse_set(json_t *req, struct ctm_config *nc)
{
	const char *k;
	json_t *v;

	json_object_foreach(req, k, v)
	{
		uint64_t size;

		if (!strcmp(k, "cmd"))
			continue;
		if (!strcmp(k, "memory") || !strcmp(k, "swap")) {
			if (!get_size(v, &size))
				return monitor_error("`%s`: expected a size such as 512M", k);
			if (!strcmp(k, "memory") && size < (16ULL << 20))
				return monitor_error("`memory`: at least 16M");
			*(!strcmp(k, "memory") ? &nc->memory : &nc->swap) = size;
		} else if (!strcmp(k, "cpus")) {
			if (!json_is_number(v) || json_number_value(v) < 0 ||
			    json_number_value(v) > 1024)
				return monitor_error(
					"`cpus`: expected a number of cores from 0 to 1024");
			nc->cpus = json_number_value(v);
		} else if (!strcmp(k, "cpu_weight")) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 10000)
				return monitor_error("`cpu_weight`: expected 1 to 10000");
			nc->cpu_weight = json_integer_value(v);
		} else if (!strcmp(k, "io_read_bps") || !strcmp(k, "io_write_bps")) {
			if (!get_size(v, &size))
				return monitor_error("`%s`: expected a rate such as 10M (bytes/s)",
						     k);
			*(!strcmp(k, "io_read_bps") ? &nc->io_read_bps : &nc->io_write_bps) = size;
		} else if (!strcmp(k, "io_read_iops") || !strcmp(k, "io_write_iops")) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 1000000000)
				return monitor_error("`%s`: expected 0 to 1000000000", k);
			*(!strcmp(k, "io_read_iops") ? &nc->io_read_iops : &nc->io_write_iops) =
				json_integer_value(v);
		} else if (!strcmp(k, "io_weight")) {
			if (!json_is_integer(v) || json_integer_value(v) < 10 ||
			    json_integer_value(v) > 1000)
				return monitor_error("`io_weight`: expected 10 to 1000");
			nc->io_weight = json_integer_value(v);
		} else if (!strcmp(k, "pids")) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 4194304)
				return monitor_error("`pids`: expected 0 to 4194304");
			nc->pids = json_integer_value(v);
		} else {
			return monitor_error(
				"`%s`: not a live setting (memory, swap, cpus, cpu_weight, "
				"pids, io_weight, io_read_bps, io_write_bps, io_read_iops, io_write_iops)",
				k);
		}
	}
	return NULL;
}

static json_t *cmd_state(void *ctx, json_t *req)
{
	struct ctm_ctl *x = ctx;

	return x->ops->state(x->m);
}

static json_t *cmd_stats(void *ctx, json_t *req)
{
	struct ctm_ctl *x = ctx;

	return x->ops->stats(x->m);
}

static json_t *cmd_shutdown(void *ctx, json_t *req)
{
	struct ctm_ctl *x = ctx;
	json_t *t = json_object_get(req, "timeout");

	if (t && (!json_is_integer(t) || json_integer_value(t) < 1 || json_integer_value(t) > 3600))
		return monitor_error("`timeout`: expected 1 to 3600 seconds");
	return x->ops->shutdown(x->m, t ? json_integer_value(t) : 0);
}

static json_t *cmd_reboot(void *ctx, json_t *req)
{
	struct ctm_ctl *x = ctx;

	return x->ops->reboot(x->m);
}

static json_t *cmd_stop(void *ctx, json_t *req)
{
	struct ctm_ctl *x = ctx;

	return x->ops->stop(x->m);
}

static json_t *cmd_set(void *ctx, json_t *req)
{
	struct ctm_ctl *x = ctx;
	struct ctm_config nc = *x->c; /* shallow: the strings stay the settings' */
	json_t *r = parse_set(req, &nc);

	return r ? r : x->ops->set(x->m, &nc);
}

static json_t *cmd_grow(void *ctx, json_t *req)
{
	struct ctm_ctl *x = ctx;
	json_t *t = json_object_get(req, "disk");
	uint64_t size;

	if (!(json_is_string(t) && parse_size(json_string_value(t), &size) == 0))
		return monitor_error("`disk`: expected a size such as 20G");
	return x->ops->grow(x->m, size);
}

/*
 * `disk-copy`: the disk into a new file `to` (vpsd's snapshots), an
 * absolute path without `..` (vpsd makes it; the check keeps a slip from
 * writing elsewhere).
 */
static json_t *cmd_disk_copy(void *ctx, json_t *req)
{
	struct ctm_ctl *x = ctx;
	const char *to = json_string_value(json_object_get(req, "to"));

	if (!to || to[0] != '/' || strstr(to, "/../") || strlen(to) >= 4096 ||
	    (strlen(to) >= 3 && !strcmp(to + strlen(to) - 3, "/..")))
		return monitor_error("`to`: expected an absolute path without `..`");
	return x->ops->disk_copy(x->m, to);
}

/* In the order the `unknown command` error lists them. */
const struct monitor_cmd ctm_ctl_cmds[CTM_CTL_COMMANDS] = {
	{ MONITOR_CMD_STATE, cmd_state },	{ MONITOR_CMD_STATS, cmd_stats },
	{ MONITOR_CMD_SHUTDOWN, cmd_shutdown }, { MONITOR_CMD_REBOOT, cmd_reboot },
	{ MONITOR_CMD_STOP, cmd_stop },		{ MONITOR_CMD_SET, cmd_set },
	{ MONITOR_CMD_GROW, cmd_grow },		{ MONITOR_CMD_DISK_COPY, cmd_disk_copy },
};
