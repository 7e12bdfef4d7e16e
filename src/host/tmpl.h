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
#include "host/vps.h"

/* A template's name: 1-64 of a-z 0-9 . -, a letter or digit first. */
bool tmpl_name_ok(const char *name);

/* GET /templates: one row per template and kind it serves, its newest version. */
json_t *tmpl_list(struct host *h);
/* GET /templates/NAME: the newest version and every version; NULL: no such template. */
json_t *tmpl_show(struct host *h, const char *name);
/* Build a template the host knows how to build (busybox, debian-N): a new version when it changed. */
int tmpl_build(struct host *h, const char *name, json_t **out, struct err **err);
/*
 * Import `upload` (a file vpsd made, removed here) as a new version of
 * NAME for `kind` ("ct": a rootfs tarball, "vm": a raw or qcow2 disk,
 * `format` "raw" or "qcow2").
 */
int tmpl_import(struct host *h, const char *name, const char *kind, const char *format,
		const char *upload, json_t **out, struct err **err);
/* Remove every version (the VPSes made from them have their own copies). */
int tmpl_remove(struct host *h, const char *name, struct err **err);
/* Whether NAME serves `kind`: in the store, or one the host can build. */
bool tmpl_serves(struct host *h, enum vps_kind kind, const char *name);
/*
 * The newest version's file for `kind` (ct: the tarball; vm: the directory
 * with vmlinuz, initrd.img, rootfs.img), built first when the host can
 * build it and has no version yet. The version's number in *version.
 */
int tmpl_resolve(struct host *h, enum vps_kind kind, const char *name, char **path, int *version,
		 struct err **err);

#endif
