/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The template store (tmpl.c, docs/templates.md): every OS a VPS can be made
 * from, built here or imported, each name with numbered versions under
 * DATA/templates/NAME/VERSION/, described by its template.json.
 */
#ifndef VPS_HOST_TMPL_H
#define VPS_HOST_TMPL_H

#include <stdbool.h>

#include <jansson.h>

#include "common/err.h"
#include "host/host.h"

/*
 * What a version holds, and what a kind asks for (struct kind_family's
 * template_form): the store knows forms, never kinds.
 */
enum tmpl_form {
	TMPL_ROOTFS, /* a root filesystem tarball (NAME-vN-SHA.tar.zst) */
	TMPL_DISK, /* vm/: vmlinuz, initrd.img, rootfs.img */
};

/* "rootfs", "disk": the names in template.json's `forms`. */
const char *tmpl_form_name(enum tmpl_form form);

/* A template's name: 1-64 of a-z 0-9 . -, a letter or digit first. */
bool tmpl_name_ok(const char *name);
/*
 * Whether NAME is a template this host builds whose cloud-init predates
 * 22.3 (debian-11's 20.4): its seed names root's password the old way too.
 * An import's cloud-init is not known: false.
 */
bool tmpl_old_cloud_init(const char *name);

/*
 * The templates a plan offers (docs/templates.md "Per plan"): 0 when plan
 * PLAN offers template NAME (its `templates` list names it, or is empty:
 * every template) or PLAN is NULL; -EPERM (403) with the plan's list in err
 * otherwise, and -EINVAL when there is no such plan.
 */
int tmpl_offered(struct host *h, const char *plan, const char *name, struct err **err);
/* Whether the plan JSON `plan` offers NAME: as tmpl_offered, from a row in hand. */
bool tmpl_plan_offers(json_t *plan, const char *name);

/* Every template, its newest version (version 0: one the host builds, not built yet). */
json_t *tmpl_list(struct host *h);
/* GET /templates/NAME: the newest version and every version; NULL: no such template. */
json_t *tmpl_show(struct host *h, const char *name);
/* Build a template the host knows how to build (busybox, debian-N): a new version when it changed. */
int tmpl_build(struct host *h, const char *name, json_t **out, struct err **err);
/*
 * Import `upload` (a file vpsd made, removed here) as a new version of
 * NAME in `form` (a rootfs tarball, or with `format` "oci" a tar of an OCI
 * image layout whose manifest `ref` names, NULL: the only one or `latest`;
 * a raw or qcow2 disk, `format` "raw" or "qcow2").
 */
int tmpl_import(struct host *h, const char *name, enum tmpl_form form, const char *format,
		const char *ref, const char *upload, json_t **out, struct err **err);
/*
 * A new version of NAME in TMPL_DISK from a stopped VM's raw root disk:
 * copied aside, then through the same checks as an import; `source` says
 * where it came from.
 */
int tmpl_from_disk(struct host *h, const char *name, const char *disk, const char *source,
		   json_t **out, struct err **err);
/*
 * A new version of NAME in TMPL_ROOTFS from a stopped container's root:
 * `reader` (argv, the kind's template_export) streams it as a tar into
 * vps-tmpl-import's stdin, the same checks as an upload.
 */
int tmpl_from_stream(struct host *h, const char *name, char *const *reader, const char *source,
		     json_t **out, struct err **err);
/* Remove every version (the VPSes made from them have their own copies). */
int tmpl_remove(struct host *h, const char *name, struct err **err);
/* Whether NAME has `form`: in the store, or one the host can build. */
bool tmpl_serves(struct host *h, enum tmpl_form form, const char *name);
/*
 * The newest version's file of `form` (the tarball; the directory with
 * vmlinuz, initrd.img, rootfs.img), built first when the host can build
 * it and has no version yet. The version's number in *version.
 */
int tmpl_resolve(struct host *h, enum tmpl_form form, const char *name, char **path, int *version,
		 struct err **err);

#endif
