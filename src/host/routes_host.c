// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The host's routes (route.h): the API's description, the host report
 * (the policies' figures and balloon reclaim), the metrics for Prometheus
 * (metrics.c), the resource policies, the host's settings (settings.c),
 * templates, plans, and ISOs: the list and the delete (an upload streams
 * to a file in the connection, api.c, before any handler runs).
 */
#include <dirent.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "host/backup.h"
#include "host/kind.h"
#include "host/life.h"
#include "host/metrics.h"
#include "host/policy.h"
#include "host/pool.h"
#include "host/reclaim.h"
#include "host/reply.h"
#include "host/route.h"
#include "host/settings.h"
#include "host/traffic.h"
#include "host/tmpl.h"

static json_t *isos(struct host *h)
{
	char dir[4200];
	json_t *a = json_array();
	DIR *d;
	struct dirent *e;

	snprintf(dir, sizeof(dir), "%s/isos", h->data_dir);
	if (!(d = opendir(dir)))
		return a;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		struct stat st;
		char p[4500];

		if (e->d_name[0] == '.' || l < 5 || strcmp(e->d_name + l - 4, ".iso"))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (stat(p, &st) == 0)
			json_array_append_new(a, json_pack("{s:s%, s:I}", "name", e->d_name, l - 4,
							   "size", (json_int_t)st.st_size));
	}
	closedir(d);
	return a;
}

enum MHD_Result api_isos_get(struct call *x)
{
	return reply(x->c, 200, isos(x->h));
}

enum MHD_Result api_iso_delete(struct call *x)
{
	char path[4200];

	if (!life_iso_name_ok(x->arg))
		return reply_error(x->c, ENOENT, "no such ISO");
	snprintf(path, sizeof(path), "%s/isos/%s.iso", x->h->data_dir, x->arg);
	if (life_iso_in_use(x->h, path))
		return reply_error(x->c, EBUSY, "the ISO is in use by a VPS");
	if (unlink(path) < 0)
		return reply_error(x->c, ENOENT, "no such ISO");
	return reply(x->c, 200, json_pack("{s:b}", "ok", 1));
}

enum MHD_Result api_openapi_get(struct call *x)
{
	json_t *doc = x->h->api_doc ? json_load_file(x->h->api_doc, 0, NULL) : NULL;

	return doc ? reply(x->c, 200, doc) : reply_error(x->c, ENOENT, "no API description here");
}

enum MHD_Result api_host_get(struct call *x)
{
	json_t *j = policy_report(x->h);

	/* the policies' figures, and what balloon reclaim (reclaim.c) holds now */
	json_object_set_new(json_object_get(j, "memory"), "reclaim", reclaim_report());
	return reply(x->c, 200, j);
}

/* Prometheus's text format (metrics.c), for an administrator or the metrics token. */
enum MHD_Result api_metrics_get(struct call *x)
{
	struct err *e = NULL;
	char *text;
	size_t len;
	int r = metrics_render(x->h, &text, &len, &e);

	if (r < 0)
		return reply_err(x->c, r, &e);
	return reply_text(x->c, 200, text, len, "text/plain; version=0.0.4; charset=utf-8");
}

enum MHD_Result api_policies_get(struct call *x)
{
	struct policy pol[NR_RES];
	struct err *e = NULL;
	int r;

	if ((r = policy_get(x->h, pol, &e)) < 0)
		return reply_err(x->c, r, &e);
	return reply(x->c, 200, policy_to_json(x->h, pol));
}

enum MHD_Result api_policies_put(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = policy_put(x->h, x->body, &out, &e);

	return reply_result(x->c, r, &e, 200, out);
}

enum MHD_Result api_settings_get(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = settings_get(x->h, &out, &e);

	return reply_result(x->c, r, &e, 200, out);
}

enum MHD_Result api_settings_patch(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = settings_patch(x->h, x->body, &out, &e);

	return reply_result(x->c, r, &e, 200, out);
}

/* `kinds`: the kinds whose template form (kind.h) the version has; the store knows forms only. */
static json_t *with_kinds(json_t *m)
{
	json_t *kinds = json_array(), *f;
	const struct kind_family *fam;
	size_t j;

	for (size_t i = 0; (fam = kind_family_at(i)); i++)
		json_array_foreach(json_object_get(m, "forms"), j,
				   f) if (!strcmp(json_string_value(f) ?: "",
						  tmpl_form_name(fam->template_form)))
			json_array_append_new(kinds, json_string(vps_kind_name(fam->kind)));
	json_object_set_new(m, "kinds", kinds);
	return m;
}

/* One row per template and kind it serves (the panel's create form filters by kind). */
/*
 * Whether the caller sees template NAME in the list: with ?plan=P, when P
 * offers it; a customer without ?plan, when some plan offers it (they
 * create from plans only) or there is no plan; anyone else, always.
 */
static bool listed(json_t *plans, const char *name)
{
	json_t *p;
	size_t i;

	if (!plans)
		return true;
	json_array_foreach(plans, i, p) if (tmpl_plan_offers(p, name)) return true;
	return false;
}

enum MHD_Result api_templates_get(struct call *x)
{
	const char *plan = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "plan");
	json_t *all, *rows, *m, *k, *plans = NULL;
	size_t i, j;

	if (plan) {
		json_t *p = store_plan_get(x->h->store, plan);

		if (!p)
			return reply_error(x->c, ENOENT, "no such plan");
		plans = json_pack("[o]", p);
	} else if (!x->p->admin && !json_array_size(plans = store_plans(x->h->store))) {
		json_decref(plans);
		plans = NULL;
	}
	all = tmpl_list(x->h);
	rows = json_array();
	json_array_foreach(all, i, m)
	{
		if (!listed(plans, json_string_value(json_object_get(m, "name")) ?: ""))
			continue;
		with_kinds(m);
		json_array_foreach(json_object_get(m, "kinds"), j, k)
		{
			json_t *row = json_deep_copy(m);

			json_object_set(row, "kind", k);
			json_array_append_new(rows, row);
		}
	}
	json_decref(all);
	json_decref(plans);
	return reply(x->c, 200, rows);
}

enum MHD_Result api_template_get(struct call *x)
{
	json_t *t = tmpl_show(x->h, x->arg), *v;
	size_t i;

	if (!t)
		return reply_error(x->c, ENOENT, "no such template");
	json_array_foreach(json_object_get(t, "history"), i, v) with_kinds(v);
	return reply(x->c, 200, with_kinds(t));
}

/* Build (busybox, debian-N) now: a new version when the result changed. */
enum MHD_Result api_template_build(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = tmpl_build(x->h, x->arg, &out, &e);

	if (r == 0)
		with_kinds(out);
	if (r == 0)
		store_event(x->h->store, NULL, "template",
			    json_is_true(json_object_get(out, "unchanged")) ? "built, unchanged" :
									      "built");
	return reply_result(x->c, r, &e, 200, out);
}

/*
 * PUT /templates/NAME?kind=ct|vm&format=tar|oci|raw|qcow2&ref=TAG: the upload (streamed to
 * x->upload by api.c) checked and stored as the next version.
 */
enum MHD_Result api_template_import(struct call *x)
{
	const char *kind = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "kind");
	const char *fmt = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "format");
	const char *ref = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "ref");
	const struct kind_family *fam;
	enum vps_kind k;
	struct err *e = NULL;
	json_t *out = NULL;
	int r;

	if (!kind || vps_kind_parse(kind, &k) < 0 || !(fam = kind_family_of(k))) {
		unlink(x->upload);
		return reply_error(x->c, EINVAL, "`kind`: a kind of VPS (ct, vm)");
	}
	/* a container's: a tarball (`raw`: what older clients send) or an OCI layout */
	if (fam->template_form == TMPL_ROOTFS && fmt && strcmp(fmt, "tar") && strcmp(fmt, "oci") &&
	    strcmp(fmt, "raw")) {
		unlink(x->upload);
		return reply_error(x->c, EINVAL, "`format`: a container's is tar or oci");
	}
	if (ref && !(fmt && !strcmp(fmt, "oci"))) {
		unlink(x->upload);
		return reply_error(x->c, EINVAL, "`ref`: only with format=oci");
	}
	r = tmpl_import(x->h, x->arg, fam->template_form,
			fmt				? fmt :
			fam->template_form == TMPL_DISK ? "raw" :
							  "tar",
			ref, x->upload, &out, &e);
	if (r == 0)
		with_kinds(out);
	if (r == 0)
		store_event(x->h->store, NULL, "template", "imported");
	return reply_result(x->c, r, &e, 201, out);
}

struct from_args {
	const char *name; /* the template's */
	json_t *out;
};

/*
 * The VPS held (no start, stop or other operation meanwhile) and stopped:
 * a VM's disk copied, a container's root streamed through the import.
 */
static int template_from_held(struct host *h, struct vps *v, void *arg, struct err **err)
{
	const struct kind_ops *ops = kind_find(v->kind, v->engine);
	struct from_args *a = arg;
	char source[400];
	char **reader;
	char *disk;
	int r;

	if (v->state != VPS_STOPPED)
		return err_make(err, EBUSY, "VPS `%s` is %s: stop it first", v->name,
				vps_state_name(v->state));
	if (ops && ops->template_disk) {
		if (!(disk = ops->template_disk(h, v)))
			return err_make(err, ENOMEM, "template");
		snprintf(source, sizeof(source), "made from VPS %s (its disk, stopped)", v->name);
		r = tmpl_from_disk(h, a->name, disk, source, &a->out, err);
		free(disk);
		return r;
	}
	if (!ops || !ops->template_export)
		return err_make(err, EINVAL, "VPS `%s`: a %s cannot be made a template", v->name,
				vps_kind_name(v->kind));
	if (!(reader = ops->template_export(h, v)))
		return err_make(err, ENOMEM, "template");
	snprintf(source, sizeof(source), "made from VPS %s (its root filesystem, stopped)",
		 v->name);
	r = tmpl_from_stream(h, a->name, reader, source, &a->out, err);
	for (size_t i = 0; reader[i]; i++)
		free(reader[i]);
	free(reader);
	return r;
}

/* POST /templates/NAME/from/VPS: a new version made of a stopped VPS's disk or root. */
enum MHD_Result api_template_from(struct call *x)
{
	struct from_args a = { .name = x->arg };
	struct err *e = NULL;
	int r = life_with(x->h, x->arg2, template_from_held, &a, &e);

	if (r == 0)
		with_kinds(a.out);
	if (r == 0)
		store_event(x->h->store, x->arg2, "template", "made from the VPS");
	return reply_result(x->c, r, &e, 201, a.out);
}

enum MHD_Result api_template_delete(struct call *x)
{
	struct err *e = NULL;
	int r = tmpl_remove(x->h, x->arg, &e);

	return reply_ok(x->c, r, &e);
}

/*
 * A plan body: name plus the plan figures, sizes as in a VPS body, the
 * pool its VPSes are made in (none or `default`: the default pool), and
 * the backup schedule of its VPSes that have none of their own (a VPS's
 * PUT backup-schedule body, an administrator's; {} or none: no schedule),
 * and the templates it offers (names of templates there are; [] or none:
 * every template, docs/templates.md "Per plan").
 */
/* A plan's `templates`: up to 64 distinct names of templates there are; *out a copy. */
static int plan_templates(struct host *h, json_t *list, json_t **out, struct err **err)
{
	json_t *t;
	size_t i, j;

	if (!list) {
		*out = json_array();
		return 0;
	}
	if (!json_is_array(list) || json_array_size(list) > 64)
		return err_make(err, EINVAL,
				"`templates`: expected a list of up to 64 template names");
	json_array_foreach(list, i, t)
	{
		const char *n = json_string_value(t);
		json_t *shown;

		if (!n || !tmpl_name_ok(n))
			return err_make(err, EINVAL, "`templates`: item %zu is not a template name",
					i);
		for (j = 0; j < i; j++)
			if (!strcmp(json_string_value(json_array_get(list, j)), n))
				return err_make(err, EINVAL, "`templates`: `%s` twice", n);
		if (!(shown = tmpl_show(h, n)))
			return err_make(err, EINVAL, "`templates`: no template `%s`", n);
		json_decref(shown);
	}
	*out = json_deep_copy(list);
	return 0;
}

static int plan_from_json(struct host *h, json_t *body, json_t **out, struct err **err)
{
	struct vps v;
	json_t *name = json_object_get(body, "name"), *copy, *traffic = NULL, *backup = NULL, *x,
	       *templates = NULL;
	_cleanup_free_ char *pool = NULL;
	int r;

	if (!json_is_string(name) || vps_check_name(json_string_value(name), NULL) < 0)
		return err_make(err, EINVAL, "`name`: expected a plan name (a-z, 0-9, -)");
	copy = json_deep_copy(body);
	json_object_del(copy, "name");
	/* the monthly traffic allowance is the plan's own, not a VPS figure (traffic.h) */
	if (json_object_get(copy, "traffic") &&
	    traffic_plan_parse(json_object_get(copy, "traffic"), &traffic, err) < 0) {
		json_decref(copy);
		return -EINVAL;
	}
	json_object_del(copy, "traffic");
	/* as traffic: the plan's own; {} is none */
	x = json_object_get(copy, "backup");
	if (x && !(json_is_object(x) && !json_object_size(x)) &&
	    backup_rule_parse(h, x, true, "backup.", &backup, err) < 0) {
		json_decref(copy);
		return -EINVAL;
	}
	json_object_del(copy, "backup");
	if ((r = plan_templates(h, json_object_get(copy, "templates"), &templates, err)) < 0) {
		json_decref(copy);
		json_decref(backup);
		json_decref(traffic);
		return r;
	}
	json_object_del(copy, "templates");
	vps_init(&v);
	r = pool_take(h, copy, &pool, err);
	if (r == 0)
		r = vps_from_json(&v, copy, false, NULL, err);
	json_decref(copy);
	if (r == 0 && (!v.ram || !v.disk || !v.cpus))
		r = err_make(err, EINVAL, "`%s`: required",
			     !v.ram  ? "ram" :
			     !v.disk ? "disk" :
				       "cpus");
	if (r == 0)
		*out = json_pack("{s:O, s:I, s:I, s:f, s:I, s:i, s:I, s:I}", "name", name, "ram",
				 (json_int_t)v.ram, "swap", (json_int_t)v.swap, "cpus", v.cpus,
				 "disk", (json_int_t)v.disk, "io_weight", v.io_weight, "bw",
				 (json_int_t)v.bw, "pids", (json_int_t)v.pids);
	if (r == 0) {
		json_object_set_new(*out, "features", vps_features_json(v.features));
		json_object_set_new(*out, "io_read_bps", json_integer((json_int_t)v.io_read_bps));
		json_object_set_new(*out, "io_write_bps", json_integer((json_int_t)v.io_write_bps));
		json_object_set_new(*out, "io_read_iops", json_integer((json_int_t)v.io_read_iops));
		json_object_set_new(*out, "io_write_iops",
				    json_integer((json_int_t)v.io_write_iops));
		json_object_set_new(*out, "traffic", traffic ?: json_object());
		traffic = NULL;
		json_object_set_new(*out, "backup", backup ?: json_object());
		backup = NULL;
		json_object_set_new(*out, "templates", templates);
		templates = NULL;
		if (pool)
			json_object_set_new(*out, "pool", json_string(pool));
	}
	json_decref(templates);
	json_decref(traffic);
	json_decref(backup);
	vps_free(&v);
	return r;
}

enum MHD_Result api_plans_get(struct call *x)
{
	return reply_page(x->c, store_plans(x->h->store), "name");
}

enum MHD_Result api_plans_post(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = plan_from_json(x->h, x->body, &out, &e);

	if (r >= 0)
		r = store_plan_put(x->h->store, out, &e);
	return reply_result(x->c, r, &e, 201, out);
}

enum MHD_Result api_plan_get(struct call *x)
{
	json_t *out = store_plan_get(x->h->store, x->arg);

	return out ? reply(x->c, 200, out) : reply_error(x->c, ENOENT, "no such plan");
}

enum MHD_Result api_plan_delete(struct call *x)
{
	struct err *e = NULL;
	int r = store_plan_delete(x->h->store, x->arg, &e);

	return reply_ok(x->c, r, &e);
}
