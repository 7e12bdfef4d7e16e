// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket's request parser: see ctl.h. Every field is checked
 * here, before monitor.c acts, so a refused request changes nothing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "ctm/ctl.h"

json_t *ctm_reply_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

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
				return ctm_reply_error("`%s`: expected a size such as 512M", k);
			if (!strcmp(k, "memory") && size < (16ULL << 20))
				return ctm_reply_error("`memory`: at least 16M");
			*(!strcmp(k, "memory") ? &nc->memory : &nc->swap) = size;
		} else if (!strcmp(k, "cpus")) {
			if (!json_is_number(v) || json_number_value(v) < 0 ||
			    json_number_value(v) > 1024)
				return ctm_reply_error(
					"`cpus`: expected a number of cores from 0 to 1024");
			nc->cpus = json_number_value(v);
		} else if (!strcmp(k, "cpu_weight")) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 10000)
				return ctm_reply_error("`cpu_weight`: expected 1 to 10000");
			nc->cpu_weight = json_integer_value(v);
		} else if (!strcmp(k, "io_read_bps") || !strcmp(k, "io_write_bps")) {
			if (!get_size(v, &size))
				return ctm_reply_error(
					"`%s`: expected a rate such as 10M (bytes/s)", k);
			*(!strcmp(k, "io_read_bps") ? &nc->io_read_bps : &nc->io_write_bps) = size;
		} else if (!strcmp(k, "io_read_iops") || !strcmp(k, "io_write_iops")) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 1000000000)
				return ctm_reply_error("`%s`: expected 0 to 1000000000", k);
			*(!strcmp(k, "io_read_iops") ? &nc->io_read_iops : &nc->io_write_iops) =
				json_integer_value(v);
		} else if (!strcmp(k, "io_weight")) {
			if (!json_is_integer(v) || json_integer_value(v) < 10 ||
			    json_integer_value(v) > 1000)
				return ctm_reply_error("`io_weight`: expected 10 to 1000");
			nc->io_weight = json_integer_value(v);
		} else if (!strcmp(k, "pids")) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 4194304)
				return ctm_reply_error("`pids`: expected 0 to 4194304");
			nc->pids = json_integer_value(v);
		} else {
			return ctm_reply_error(
				"`%s`: not a live setting (memory, swap, cpus, cpu_weight, "
				"pids, io_weight, io_read_bps, io_write_bps, io_read_iops, io_write_iops)",
				k);
		}
	}
	return NULL;
}

static json_t *parse(json_t *req, const char *cmd, const struct ctm_config *c,
		     struct ctm_ctl_req *out)
{
	json_t *t;

	if (!strcmp(cmd, "state")) {
		out->cmd = CTM_CTL_STATE;
	} else if (!strcmp(cmd, "stats")) {
		out->cmd = CTM_CTL_STATS;
	} else if (!strcmp(cmd, "shutdown")) {
		out->cmd = CTM_CTL_SHUTDOWN;
		t = json_object_get(req, "timeout");
		if (t && (!json_is_integer(t) || json_integer_value(t) < 1 ||
			  json_integer_value(t) > 3600))
			return ctm_reply_error("`timeout`: expected 1 to 3600 seconds");
		out->timeout = t ? json_integer_value(t) : 0;
	} else if (!strcmp(cmd, "reboot")) {
		out->cmd = CTM_CTL_REBOOT;
	} else if (!strcmp(cmd, "stop")) {
		out->cmd = CTM_CTL_STOP;
	} else if (!strcmp(cmd, "set")) {
		out->cmd = CTM_CTL_SET;
		out->set = *c;
		return parse_set(req, &out->set);
	} else if (!strcmp(cmd, "grow")) {
		out->cmd = CTM_CTL_GROW;
		t = json_object_get(req, "disk");
		if (!(json_is_string(t) && parse_size(json_string_value(t), &out->disk) == 0))
			return ctm_reply_error("`disk`: expected a size such as 20G");
	} else {
		return ctm_reply_error("unknown command `%.40s` (known: state, stats, shutdown, "
				       "reboot, stop, set, grow)",
				       cmd);
	}
	return NULL;
}

json_t *ctm_ctl_parse(const char *line, const struct ctm_config *c, struct ctm_ctl_req *out)
{
	json_error_t je;
	json_t *req = json_loads(line, 0, &je), *r;
	const char *cmd = NULL;

	memset(out, 0, sizeof(*out));
	if (!req || !json_is_object(req) || json_unpack(req, "{s:s}", "cmd", &cmd) < 0) {
		json_decref(req);
		return ctm_reply_error("expected {\"cmd\": ...}");
	}
	r = parse(req, cmd, c, out);
	json_decref(req);
	return r;
}
