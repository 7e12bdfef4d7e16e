// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Which limits this host enforces (caps.h), asked of the kinds: each
 * kind's family (kind.h) probes the host for its own limits at start,
 * reports them, and says which limit each field of a VPS asks. This file
 * holds the policy over them: refuse what a kind cannot enforce, or accept
 * it with a warning, and warn again at each start. It never names a kind.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/caps.h"
#include "host/kind.h"

void caps_probe(struct host *h)
{
	const struct kind_family *f;

	for (size_t i = 0; (f = kind_family_at(i)); i++)
		if (f->probe)
			f->probe(h);
}

json_t *caps_report(void)
{
	json_t *all = json_object();
	const struct kind_family *f;

	for (size_t i = 0; (f = kind_family_at(i)); i++)
		json_object_set_new(all, vps_kind_name(f->kind), f->report());
	return all;
}

/* {"enforced", "why"?} of a kind's limit (a new reference), NULL if the kind has no such limit. */
static json_t *limit_of(enum vps_kind kind, const char *name)
{
	const struct kind_family *f = kind_family_of(kind);
	json_t *rep = f ? f->report() : NULL;
	json_t *l = json_incref(json_object_get(json_object_get(rep, "limits"), name));

	json_decref(rep);
	return l;
}

bool caps_enforced(enum vps_kind kind, const char *name)
{
	json_t *l = limit_of(kind, name);
	bool on = json_is_true(json_object_get(l, "enforced"));

	json_decref(l);
	return on;
}

static const char *why_not(enum vps_kind kind, const char *name, char *buf, size_t len)
{
	json_t *l = limit_of(kind, name);

	snprintf(buf, len, "%s", json_string_value(json_object_get(l, "why")) ?: "not probed");
	json_decref(l);
	return buf;
}

/* The limits a VPS asks for, each with the field that asks and whether it is asked. */
struct asked {
	const char *field, *limit;
	bool on;
	long long value;
};

#define NR_ASKED 12

/* A field's value, 0 where not asked (the fields a kind_ask names). */
static long long field_value(const struct vps *v, const char *field)
{
	if (!strcmp(field, "ram"))
		return (long long)v->ram;
	if (!strcmp(field, "swap"))
		return (long long)v->swap;
	if (!strcmp(field, "cpus"))
		return (long long)(v->cpus * 1000);
	if (!strcmp(field, "io_weight"))
		return v->io_weight;
	if (!strcmp(field, "pids"))
		return v->pids;
	if (!strcmp(field, "io_read_bps"))
		return (long long)v->io_read_bps;
	if (!strcmp(field, "io_write_bps"))
		return (long long)v->io_write_bps;
	if (!strcmp(field, "io_read_iops"))
		return (long long)v->io_read_iops;
	if (!strcmp(field, "io_write_iops"))
		return (long long)v->io_write_iops;
	if (!strcmp(field, "features"))
		return v->features;
	return 0;
}

static size_t asked(const struct vps *v, struct asked a[NR_ASKED])
{
	const struct kind_family *f = kind_family_of(v->kind);
	size_t n = 0;

	for (const struct kind_ask *k = f ? f->asks : NULL; k && k->field && n < NR_ASKED;
	     k++, n++) {
		long long x = field_value(v, k->field);

		a[n] = (struct asked){ k->field, k->limit, x > 0, x };
	}
	return n;
}

/* The entry of `field` in a, NULL if the VPS does not ask with it. */
static const struct asked *find_asked(const struct asked *a, size_t n, const char *field)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(a[i].field, field))
			return &a[i];
	return NULL;
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
	size_t n = asked(v, a), m = old ? asked(old, b) : 0;
	bool warn = !strcmp(caps_mode(h), "warn");
	char why[256], msg[512];

	for (size_t i = 0; i < n; i++) {
		const struct asked *was = find_asked(b, m, a[i].field);

		if (!a[i].on || caps_enforced(v->kind, a[i].limit))
			continue;
		if (was && was->on && was->value == a[i].value)
			continue; /* kept as it was: refused or warned about when it was set */
		why_not(v->kind, a[i].limit, why, sizeof(why));
		if (!warn)
			return err_make(
				err, EOPNOTSUPP,
				"`%s`: this host cannot enforce %s for a %s: %s (`vps host` "
				"lists what it enforces; the `limits warn` policy accepts "
				"such a VPS with a warning)",
				a[i].field, a[i].limit, vps_kind_name(v->kind), why);
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
