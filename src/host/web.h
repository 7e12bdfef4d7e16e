/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control panel's static files (web.c, docs/panel.md): `/` is
 * index.html, `/static/FILE` a file of the web directory, `/vendor/PATH` a
 * file of its vendor/ (what scripts/web-vendor copies from npm). No data, so
 * no authentication; every answer carries the panel's security headers.
 */
#ifndef VPS_HOST_WEB_H
#define VPS_HOST_WEB_H

#include <microhttpd.h>

/*
 * Answer a GET or HEAD of URL (decoded, as libmicrohttpd gives it) from
 * WEB_DIR: the file, 304 when the client's ETag matches, or a 404 JSON error
 * for anything else (a name beginning with a dot, `..`, a symlink leading out
 * of WEB_DIR, a type the panel does not use). The caller routes only GET and
 * HEAD of paths outside /api here.
 */
enum MHD_Result web_serve(struct MHD_Connection *c, const char *web_dir, const char *url);

#endif
