// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Error objects: see err.h. The message is built once at the point of
 * failure, with strerror appended when there is an errno, and grows a
 * prefix each time a caller wraps it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static char *vfmt(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

int err_make(struct err **err, int errnum, const char *fmt, ...)
{
	int ret = errnum ? -errnum : -EINVAL;
	char *what, *msg = NULL;
	va_list ap;

	if (!err)
		return ret;
	va_start(ap, fmt);
	what = vfmt(fmt, ap);
	va_end(ap);
	if (what && errnum) {
		if (asprintf(&msg, "%s: %s", what, strerror(errnum)) < 0)
			msg = NULL;
		free(what);
	} else {
		msg = what;
	}
	err_free(err);
	*err = calloc(1, sizeof(**err));
	if (!*err) {
		free(msg);
		return ret;
	}
	(*err)->errnum = errnum ? errnum : EINVAL;
	(*err)->msg = msg;
	return ret;
}

int err_wrap(struct err **err, const char *fmt, ...)
{
	char *ctx, *msg;
	va_list ap;

	if (!err || !*err)
		return -EINVAL;
	va_start(ap, fmt);
	ctx = vfmt(fmt, ap);
	va_end(ap);
	if (ctx && asprintf(&msg, "%s: %s", ctx, err_msg(*err)) >= 0) {
		free((*err)->msg);
		(*err)->msg = msg;
	}
	free(ctx);
	return -(*err)->errnum;
}

void err_free(struct err **err)
{
	if (!err || !*err)
		return;
	free((*err)->msg);
	free(*err);
	*err = NULL;
}

const char *err_msg(const struct err *err)
{
	if (!err)
		return "(no error)";
	return err->msg ? err->msg : "out of memory";
}
