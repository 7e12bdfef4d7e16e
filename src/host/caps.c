// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Which limits this host enforces (caps.h). The container limits come from
 * `vps-ct features`, which makes a throw-away cgroup where containers live
 * and looks for each limit's files (src/ct/cgroup_probe.c); the VM limits
 * are what the monitors do themselves (RAM, a swap disk, vCPUs) and what
 * they do not (no IO weight: a VM's disk IO runs in its monitor, which is
 * in no IO cgroup). Read once at start; the kernel does not change under a
 * running vpsd.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "host/caps.h"
#include "host/run.h"

static json_t *ct_limits; /* {NAME: {"enforced": bool, "why": text}}, set once at start */
static char ct_cgroup[16] = "unknown";

static const char *const ct_names[] = { "memory", "swap",      "cpu_weight", "cpu_quota",
					"pids",	  "io_weight", "io_bps",     "io_iops" };

static json_t *limit(bool enforced, const char *why)
{
	return enforced ? json_pack("{s:b}", "enforced", 1) :
			  json_pack("{s:b, s:s}", "enforced", 0, "why", why);
}

void caps_probe(struct host *h)
{
	_cleanup_free_ char *bin = host_bin(h, "vps-ct"), *out = NULL, *errs = NULL;
	char *argv[] = { bin, "features", NULL };
	json_t *doc = NULL, *ann;
	char why[512];
	int st = bin ? host_run_capture(argv, &out, &errs, 30) : -ENOMEM;

	ct_limits = json_object();
	if (st == 0)
		doc = json_loads(out, 0, NULL);
	ann = json_object_get(doc, "annotations");
	if (!json_is_object(ann)) {
		char *nl = errs ? strchr(errs, '\n') : NULL;

		if (nl)
			*nl = 0;
		snprintf(why, sizeof(why), "`vps-ct features` failed (%d): %s", st,
			 errs && *errs ? errs : "no answer");
		pr_warn("%s: container limits are taken as not enforced", why);
	} else {
		const char *layout =
			json_string_value(json_object_get(ann, "run.vps.cgroup.layout"));

		snprintf(ct_cgroup, sizeof(ct_cgroup), "%s", layout ? layout : "unknown");
	}
	for (size_t i = 0; i < sizeof(ct_names) / sizeof(ct_names[0]); i++) {
		char key[64];
		const char *val;

		snprintf(key, sizeof(key), "run.vps.resource.%s", ct_names[i]);
		val = json_string_value(json_object_get(ann, key));
		if (val && !strcmp(val, "enforced")) {
			json_object_set_new(ct_limits, ct_names[i], limit(true, NULL));
			continue;
		}
		if (val && !strncmp(val, "not enforced: ", 14))
			val += 14;
		json_object_set_new(ct_limits, ct_names[i], limit(false, val ? val : why));
		pr_info("this host does not enforce %s for containers: %s", ct_names[i],
			val ? val : why);
	}
	json_decref(doc);
}

static json_t *vm_limits(void)
{
	return json_pack("{s:o, s:o, s:o, s:o}", "memory", limit(true, NULL), "swap",
			 limit(true, NULL), "cpus", limit(true, NULL), "io_weight",
			 limit(false, "a VM's disk IO runs in its monitor, which is in no IO "
				      "cgroup"));
}

json_t *caps_report(void)
{
	return json_pack("{s:{s:s, s:O}, s:{s:o}}", "ct", "cgroup", ct_cgroup, "limits",
			 ct_limits ? ct_limits : json_object(), "vm", "limits", vm_limits());
}

bool caps_enforced(const char *kind, const char *name)
{
	json_t *l = NULL, *vm = NULL;
	bool on;

	if (!strcmp(kind, "ct"))
		l = json_object_get(ct_limits, name);
	else
		l = json_object_get(vm = vm_limits(), name);
	on = json_is_true(json_object_get(l, "enforced"));
	json_decref(vm);
	return on;
}

static const char *why_not(const char *kind, const char *name, char *buf, size_t len)
{
	json_t *vm = strcmp(kind, "ct") ? vm_limits() : NULL;
	json_t *l = json_object_get(vm ? vm : ct_limits, name);

	snprintf(buf, len, "%s", json_string_value(json_object_get(l, "why")) ?: "not probed");
	json_decref(vm);
	return buf;
}

/*
 * The limits a VPS asks for, each with the field that asks and whether it
 * is asked: a container's cpus are a CFS quota, a VM's are vCPUs.
 */
struct asked {
	const char *field, *limit;
	bool on;
	long long value;
};

#define NR_ASKED 5

static size_t asked(const struct vps *v, struct asked a[NR_ASKED])
{
	bool ct = !strcmp(v->kind, "ct");

	a[0] = (struct asked){ "ram", "memory", v->ram > 0, (long long)v->ram };
	a[1] = (struct asked){ "swap", "swap", v->swap > 0, (long long)v->swap };
	a[2] = (struct asked){ "cpus", ct ? "cpu_quota" : "cpus", v->cpus > 0,
			       (long long)(v->cpus * 1000) };
	a[3] = (struct asked){ "io_weight", "io_weight", v->io_weight > 0, v->io_weight };
	/* a VM's processes are its guest's: its plan's pids is not asked of it */
	a[4] = (struct asked){ "pids", "pids", ct && v->pids > 0, v->pids };
	return NR_ASKED;
}

const char *caps_mode(struct host *h)
{
	json_t *all = store_policies(h->store);
	const char *m = json_string_value(json_object_get(json_object_get(all, "limits"), "mode"));
	const char *mode = m && !strcmp(m, "warn") ? "warn" : "refuse";

	json_decref(all);
	return mode;
}

int caps_admit(struct host *h, const struct vps *old, const struct vps *v, json_t *warnings,
	       struct err **err)
{
	struct asked a[NR_ASKED], b[NR_ASKED];
	size_t n = asked(v, a);
	bool warn = !strcmp(caps_mode(h), "warn");
	char why[256], msg[512];

	if (old)
		asked(old, b);
	for (size_t i = 0; i < n; i++) {
		if (!a[i].on || caps_enforced(v->kind, a[i].limit))
			continue;
		if (old && b[i].on && b[i].value == a[i].value)
			continue; /* kept as it was: refused or warned about when it was set */
		why_not(v->kind, a[i].limit, why, sizeof(why));
		if (!warn)
			return err_make(
				err, EOPNOTSUPP,
				"`%s`: this host cannot enforce %s for a %s: %s (`vps host` "
				"lists what it enforces; the `limits warn` policy accepts "
				"such a VPS with a warning)",
				a[i].field, a[i].limit, v->kind, why);
		snprintf(msg, sizeof(msg), "`%s` accepted but not enforced on this host: %s",
			 a[i].field, why);
		json_array_append_new(warnings, json_string(msg));
	}
	return 0;
}

void caps_start_warnings(struct host *h, const struct vps *v)
{
	struct asked a[NR_ASKED];
	size_t n = asked(v, a);
	char why[256], msg[512];

	for (size_t i = 0; i < n; i++) {
		if (!a[i].on || caps_enforced(v->kind, a[i].limit))
			continue;
		snprintf(msg, sizeof(msg), "started without `%s`: this host cannot enforce it: %s",
			 a[i].field, why_not(v->kind, a[i].limit, why, sizeof(why)));
		store_event(h->store, v->name, "warning", msg);
	}
}
