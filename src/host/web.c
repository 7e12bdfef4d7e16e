// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control panel's static files (docs/panel.md). The panel is plain
 * HTML, CSS and ES modules with no build step, so serving it is mapping a
 * URL to a file of the web directory, and the care is all in what is not
 * served: a path is a few names of [A-Za-z0-9._@-] none beginning with a
 * dot (no `..`, no hidden file, no absolute path), opened with openat2
 * RESOLVE_BENEATH from the directory (a symlink leading out of it fails),
 * a regular file, of one of the types the panel uses. Everything else is
 * the API's 404. The answers carry the panel's Content-Security-Policy
 * (no inline script, nothing from elsewhere), and an ETag, so that a page
 * load is a few 304s.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "host/web.h"

#define WEB_PATH_MAX 256

/*
 * xterm.js writes its theme into <style> elements, hence 'unsafe-inline'
 * for styles only; scripts are 'self' alone. ws: and wss: for the console
 * (Chromium counts a same-host WebSocket as 'self', older browsers do not).
 */
#define WEB_CSP                                                                       \
	"default-src 'self'; script-src 'self'; connect-src 'self' ws: wss:; "        \
	"img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; " \
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static const struct {
	const char *ext, *type;
} web_types[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "ico", "image/x-icon" },
	{ "map", "application/json" },
	{ "json", "application/json" },
	{ "woff2", "font/woff2" },
};

static const char *web_type(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (!dot || strchr(dot, '/'))
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(web_types); i++)
		if (!strcmp(dot + 1, web_types[i].ext))
			return web_types[i].type;
	return NULL;
}

/* NAME(/NAME)*, each name of [A-Za-z0-9._@-] and not beginning with a dot. */
static bool web_path_ok(const char *p)
{
	bool start = true;

	if (!*p || strlen(p) >= WEB_PATH_MAX)
		return false;
	for (; *p; p++) {
		char ch = *p;

		if (ch == '/') {
			if (start)
				return false; /* empty name: `//` or a leading `/` */
			start = true;
			continue;
		}
		if (start && ch == '.')
			return false; /* `.`, `..`, `.hidden` */
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-' || ch == '@'))
			return false;
		start = false;
	}
	return !start;
}

/* REL under DIR, never outside it: openat2 where the kernel has it (5.6), else realpath. */
static int web_open(const char *dir, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	_cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *real_dir = NULL, *real = NULL;
	char path[PATH_MAX];
	size_t n;
	int fd;

	if (dfd < 0)
		return -errno;
	fd = syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
	if (fd >= 0 || errno != ENOSYS)
		return fd >= 0 ? fd : -errno;
	if (snprintf(path, sizeof(path), "%s/%s", dir, rel) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (!(real_dir = realpath(dir, NULL)) || !(real = realpath(path, NULL)))
		return -errno;
	n = strlen(real_dir);
	if (strncmp(real, real_dir, n) || real[n] != '/')
		return -EXDEV;
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
	return fd >= 0 ? fd : -errno;
}

static void web_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Content-Security-Policy", WEB_CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	/* no hashed file names (no build step): revalidate every time, the ETag makes it cheap */
	MHD_add_response_header(r, "Cache-Control", "no-cache");
}

static enum MHD_Result web_queue(struct MHD_Connection *c, unsigned int status,
				 struct MHD_Response *r)
{
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	web_headers(r);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result web_not_found(struct MHD_Connection *c)
{
	static const char body[] =
		"{\"error\":{\"code\":\"not_found\",\"message\":\"no such file\"}}";
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	if (r)
		MHD_add_response_header(r, "Content-Type", "application/json");
	return web_queue(c, MHD_HTTP_NOT_FOUND, r);
}

enum MHD_Result web_serve(struct MHD_Connection *c, const char *web_dir, const char *url)
{
	char rel[WEB_PATH_MAX + 8], etag[64];
	const char *type, *inm;
	struct MHD_Response *r;
	struct stat st;
	int fd;

	if (!strcmp(url, "/"))
		snprintf(rel, sizeof(rel), "index.html");
	else if (!strncmp(url, "/static/", 8) && web_path_ok(url + 8))
		snprintf(rel, sizeof(rel), "%s", url + 8);
	else if (!strncmp(url, "/vendor/", 8) && web_path_ok(url + 8))
		snprintf(rel, sizeof(rel), "vendor/%s", url + 8);
	else
		return web_not_found(c);
	if (!(type = web_type(rel)) || (fd = web_open(web_dir, rel)) < 0)
		return web_not_found(c);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return web_not_found(c);
	}
	snprintf(etag, sizeof(etag), "\"%llx-%llx-%llx\"", (unsigned long long)st.st_size,
		 (unsigned long long)st.st_mtim.tv_sec, (unsigned long long)st.st_mtim.tv_nsec);
	inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (inm && strstr(inm, etag)) {
		close(fd);
		r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		if (r)
			MHD_add_response_header(r, "ETag", etag);
		return web_queue(c, MHD_HTTP_NOT_MODIFIED, r);
	}
	/* the response owns fd from here and closes it */
	if (!(r = MHD_create_response_from_fd((uint64_t)st.st_size, fd))) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "ETag", etag);
	return web_queue(c, MHD_HTTP_OK, r);
}
