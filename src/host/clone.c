// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Clones (clone.h, docs/storage.md "Clones"): a new VPS made from another's
 * disks, now or as one of its snapshots held them, with an identity of its
 * own. The source is held (life_with) for the copy and never changed; a
 * running one is frozen or paused for the copy as a snapshot's is
 * (snapshot_copy), so --snapshot needs nothing of it at all.
 *
 * The new VPS is made as a create from the same settings (the source's
 * owner, plan, kind, template and figures, its network), so the owner's
 * quota and the host's admission decide it, and it gets its own MAC and
 * addresses. A kind with create_from (a container) makes it from the copy
 * in that one step (vps-ctm create with `clone_disk`: the copy in place of
 * the template, its files shifted to the new uid range, no machine-id or
 * SSH host keys, which its first boot makes); for the others (a VM) it is
 * created from its template and its fresh disks are then replaced by the
 * copy as a revert replaces them; its new cloud-init seed, a new instance,
 * makes the machine-id and SSH host keys anew inside the guest at its first
 * boot. The host never reads the guest's filesystem for any of it beyond
 * what a container's own monitor does to run it.
 *
 * Crash safety: until the disks are its own the new VPS is `creating`
 * (the create's own state; for a VM set again after the create), which
 * vpsd's next start undoes (life_init), so a vpsd killed mid-clone leaves
 * no half VPS; the copy of a source taken for it lies in the source's
 * snapshots/.clone-NEW, which the next snapshot sweep removes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/testpoint.h"
#include "host/clone.h"
#include "host/kind.h"
#include "host/life.h"
#include "host/ops.h"
#include "host/snapshot.h"
#include "host/store.h"

struct clone {
	const char *name; /* the new VPS */
	const char *snap; /* NULL: the source as it is now */
	json_t *out;
};

/* The create body of the new VPS: the source's settings (now, or the snapshot's). */
static json_t *body_of(const struct vps *src, json_t *settings, const char *name, const char *pool,
		       const char *plan)
{
	static const char *const copied[] = {
		"kind",		"engine",	"boot",		 "template",  "ram",
		"swap",		"disk",		"cpus",		 "io_weight", "bw",
		"ssh_keys",	"pids",		"features",	 "iso",	      "io_read_bps",
		"io_write_bps", "io_read_iops", "io_write_iops", NULL
	};
	json_t *body = json_pack("{s:s, s:s, s:s}", "name", name, "owner", src->owner, "hostname",
				 name),
	       *x;

	for (size_t i = 0; body && copied[i]; i++)
		if ((x = json_object_get(settings, copied[i])) && !json_is_null(x) &&
		    !(json_is_integer(x) && json_integer_value(x) == 0)) /* 0: the default */
			json_object_set(body, copied[i], x);
	/* the engine only where it is not the kind's own default (a container's is not asked) */
	if (body && json_object_get(body, "engine")) {
		struct vps probe;

		vps_init(&probe);
		probe.kind = src->kind;
		if (kind_settle(&probe, NULL) == 0 && probe.engine == src->engine)
			json_object_del(body, "engine");
		vps_free(&probe);
	}
	/* the ISO is a path in the record and a name in a create: the name is its file's */
	if (body && (x = json_object_get(body, "iso"))) {
		const char *p = strrchr(json_string_value(x), '/');
		char *n = strdup(p ? p + 1 : json_string_value(x));

		if (n && strlen(n) > 4 && !strcmp(n + strlen(n) - 4, ".iso"))
			n[strlen(n) - 4] = 0;
		json_object_set_new(body, "iso", json_string(n ? n : ""));
		free(n);
	}
	/* addresses of its own from the source's network (net_assign), not its addresses */
	if (body && *src->network)
		json_object_set_new(body, "network", json_string(src->network));
	if (body && pool)
		json_object_set_new(body, "pool", json_string(pool)); /* a reflink copy there */
	/* on the source's plan (its traffic allowance, admission's plan), with the figures above */
	if (body && plan)
		json_object_set_new(body, "plan", json_string(plan));
	if (body && *src->node) /* its disks are on this node */
		json_object_set_new(body, "node", json_string(src->node));
	return body;
}

/* A VM's clone, held and `creating`: its disks from dir (its new seed makes it its own). */
struct fill {
	const char *dir;
};

static int fill(struct host *h, struct vps *v, void *arg, struct err **err)
{
	struct fill *f = arg;
	const struct kind_ops *o = kind_find(v->kind, v->engine);
	int r;

	/* started by someone between the create and this: not ours to overwrite */
	if (v->state != VPS_STOPPED)
		return err_make(err, EBUSY, "`%s` is %s, not the stopped clone just made", v->name,
				vps_state_name(v->state));
	if ((r = store_vps_state(h->store, v->name, VPS_CREATING, "clone", err)) < 0)
		return r;
	v->state = VPS_CREATING;
	testpoint("clone-created", v->name);
	if ((r = o->revert(h, v, f->dir, err)) < 0)
		return r;
	testpoint("clone-filled", v->name);
	return store_vps_state(h->store, v->name, VPS_STOPPED, "cloned", err);
}

int clone_make(struct host *h, const struct vps *src, json_t *settings, const char *name,
	       const char *dir, const char *pool, const char *plan, json_t **out, struct err **err)
{
	const struct kind_ops *o = kind_find(src->kind, src->engine);
	json_t *body = body_of(src, settings, name, pool, plan), *made = NULL;
	struct fill f = { .dir = dir };
	struct err *e = NULL;
	bool created = false;
	int r;

	if (!o || !o->snapshot || !o->revert) {
		r = err_make(err, EINVAL, "kind %s (%s) cannot be cloned yet",
			     vps_kind_name(src->kind), vps_engine_name(src->engine));
		goto out;
	}
	if (!body) {
		r = err_make(err, ENOMEM, "make `%s`", name);
		goto out;
	}
	/*
	 * The owner's quota and the host's admission, as for any create: in one
	 * step where the kind makes a VPS from the copy (a container), else a
	 * create from the template whose disks are then replaced (a VM).
	 */
	if (o->create_from) {
		r = life_create_from(h, body, dir, src, &made, err);
	} else if ((r = life_create(h, body, &made, err)) == 0) {
		created = true;
		r = life_with(h, name, fill, &f, err);
	}
	if (r < 0 && created) {
		/* nothing half made: the new VPS goes again */
		if (life_destroy(h, name, &e) < 0)
			pr_err("remove `%s` after a failed clone: %s", name, err_msg(e));
		err_free(&e);
	}
	if (r == 0 && out) {
		struct vps now;

		/* as GET shows it now (after a VM's fill) */
		if (store_vps_get(h->store, name, &now, NULL) == 0) {
			*out = vps_to_json(&now);
			vps_free(&now);
		}
	}
out:
	json_decref(made);
	json_decref(body);
	return r;
}

static int clone_held(struct host *h, struct vps *v, void *arg, struct err **err)
{
	struct clone *c = arg;
	const struct kind_ops *o = kind_find(v->kind, v->engine);
	_cleanup_free_ char *top = host_vps_disks(h, v->name, "snapshots"), *dir = NULL;
	_cleanup_free_ char *pool = store_vps_pool(h->store, v->name);
	_cleanup_free_ char *plan = store_vps_plan_of(h->store, v->name);
	json_t *settings = NULL, *rows = NULL, *x;
	size_t i;
	int r;

	if (!o || !o->snapshot || !o->revert)
		return err_make(err, EINVAL, "kind %s (%s) cannot be cloned yet",
				vps_kind_name(v->kind), vps_engine_name(v->engine));
	if (!top)
		return err_make(err, ENOMEM, "clone");
	if (c->snap) {
		rows = store_snapshots(h->store, v->name);
		json_array_foreach(rows, i,
				   x) if (!strcmp(json_string_value(json_object_get(x, "name")),
						  c->snap))
			settings = json_incref(json_object_get(x, "settings"));
		json_decref(rows);
		if (!settings)
			return err_make(err, ENOENT, "`%s` has no snapshot named `%s`", v->name,
					c->snap);
		if (asprintf(&dir, "%s/%s", top, c->snap) < 0)
			dir = NULL;
	} else {
		settings = vps_to_json(v);
		if (asprintf(&dir, "%s/.clone-%s", top, c->name) < 0)
			dir = NULL;
	}
	if (!dir || !settings) {
		r = err_make(err, ENOMEM, "clone");
		goto out;
	}
	op_progress(0);
	if (!c->snap) {
		life_rm_rf(dir);
		if ((r = snapshot_copy(h, v, dir, err)) < 0)
			goto out;
	}
	op_progress(40);
	if ((r = clone_make(h, v, settings, c->name, dir, pool, plan, &c->out, err)) < 0)
		goto out;
	{
		char from[2 * 65 + 2];

		snprintf(from, sizeof(from), "%s%s%s", v->name, c->snap ? "@" : "",
			 c->snap ? c->snap : "");
		store_event(h->store, c->name, "clone", from); /* SRC or SRC@SNAP */
		store_event(h->store, v->name, "cloned", c->name);
	}
	op_progress(100);
out:
	if (!c->snap && dir)
		life_rm_rf(dir);
	json_decref(settings);
	return r < 0 ? err_wrap(err, "clone `%s`%s%s as `%s`", v->name, c->snap ? " at " : "",
				c->snap ? c->snap : "", c->name) :
		       0;
}

int clone_vps(struct host *h, const char *src, json_t *body, json_t **out, struct err **err)
{
	json_t *name = json_object_get(body, "name"), *snap = json_object_get(body, "snapshot");
	struct clone c = { 0 };
	const char *k;
	json_t *x;
	int r;

	if (!json_is_object(body))
		return err_make(err, EINVAL, "the body must be a JSON object");
	json_object_foreach(
		body, k,
		x) if (strcmp(k, "name") &&
		       strcmp(k,
			      "snapshot")) return err_make(err, EINVAL,
							   "`%s`: unknown field (name, snapshot)",
							   k);
	if (!json_is_string(name))
		return err_make(err, EINVAL, "`name`: required, the new VPS's name");
	/* before it is any part of a path (snapshots/.clone-NAME) */
	if ((r = vps_check_name(json_string_value(name), err)) < 0)
		return r;
	if (!strcmp(json_string_value(name), src))
		return err_make(err, EEXIST, "`name`: `%s` is the VPS cloned", src);
	if (snap && !json_is_null(snap) &&
	    (!json_is_string(snap) || !snapshot_name_ok(json_string_value(snap))))
		return err_make(err, EINVAL, "`snapshot`: expected the name of a snapshot of `%s`",
				src);
	c.name = json_string_value(name);
	c.snap = json_is_string(snap) ? json_string_value(snap) : NULL;
	r = life_with(h, src, clone_held, &c, err);
	if (r == 0)
		*out = c.out;
	return r;
}
