// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The backup routes (route.h): restic repositories (the administrators')
 * and a VPS's backups (its owner's, by the table's ROUTE_VPS check before
 * any of these runs), and a VPS's clone. A backup, a restore and a clone
 * are long: with `?async=1` they run as an operation with a `progress`.
 * backup.c and clone.c do the work.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host/backup.h"
#include "host/clone.h"
#include "host/ops.h"
#include "host/route.h"

enum MHD_Result api_repos_get(struct call *x)
{
	return reply(x->c, 200, backup_repos(x->h));
}

enum MHD_Result api_repos_post(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = backup_repo_add(x->h, x->body, &out, &e);

	return reply_result(x->c, r, &e, 201, out);
}

enum MHD_Result api_repo_delete(struct call *x)
{
	struct err *e = NULL;
	int r = backup_repo_rm(x->h, x->arg, &e);

	return reply_ok(x->c, r, &e);
}

enum MHD_Result api_backups_get(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = backup_list(x->h, x->arg, &out, &e);

	return reply_result(x->c, r, &e, 200, out);
}

enum MHD_Result api_backup_delete(struct call *x)
{
	struct err *e = NULL;
	int r = backup_rm(x->h, x->arg, x->arg2, &e);

	return reply_ok(x->c, r, &e);
}

/* The long ones, now or as an operation: body {"id"?} beside the request's own. */
static unsigned int work(struct host *h, const char *action, const char *vps, json_t *body,
			 const char *user, json_t **out)
{
	struct err *e = NULL;
	unsigned int status = 201;
	json_t *b = json_deep_copy(body);
	const char *id = json_string_value(json_object_get(body, "_id"));
	int r;

	(void)user;
	*out = NULL;
	json_object_del(b, "_id");
	if (!strcmp(action, "backup")) {
		r = backup_create(h, vps, b, out, &e);
	} else if (!strcmp(action, "clone")) {
		r = clone_vps(h, vps, b, out, &e);
	} else if (!strcmp(action, "restore-as")) {
		/* a customer's own backups only: their name, put here by the handler */
		json_t *owner = json_incref(json_object_get(b, "_owner"));

		json_object_del(b, "_owner");
		r = backup_restore_as(h, id ? id : "", b, json_string_value(owner), out, &e);
		json_decref(owner);
		status = 200;
	} else {
		r = backup_restore(h, vps, id ? id : "", b, out, &e);
		status = 200;
	}
	json_decref(b);
	if (r < 0)
		*out = err_json(r, &e, &status);
	return status;
}

/* vps: the operation's VPS; id: the backup's ("" none). */
static enum MHD_Result long_work_of(struct call *x, const char *action, const char *vps,
				    const char *id)
{
	const char *a = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "async");
	struct err *e = NULL;
	json_t *out = NULL, *op, *body = json_deep_copy(x->body);
	unsigned int status;
	int r;

	if (json_object_get(body, "_id") || json_object_get(body, "_owner")) {
		json_decref(body);
		return reply_error(x->c, EINVAL, "`_id`, `_owner`: unknown fields");
	}
	if (*id)
		json_object_set_new(body, "_id", json_string(id));
	if (!strcmp(action, "restore-as") && !x->p->admin)
		json_object_set_new(body, "_owner", json_string(x->p->user));
	if (!a || (strcmp(a, "1") && strcmp(a, "true"))) {
		status = work(x->h, action, vps, body, x->p->user, &out);
		json_decref(body);
		return reply(x->c, status, out);
	}
	/* a backup past the owner's quota: 403 now, not a failed operation later */
	r = strcmp(action, "backup") ? 0 : backup_quota(x->h, vps, &e);
	if (r == 0)
		r = op_submit(x->h, x->p->user, vps, action, body, work, &op, &e);
	json_decref(body);
	if (r < 0)
		return reply_err(x->c, r, &e);
	return reply_operation(x->c, op);
}

static enum MHD_Result long_work(struct call *x, const char *action)
{
	return long_work_of(x, action, x->arg, x->arg2);
}

enum MHD_Result api_backups_post(struct call *x)
{
	return long_work(x, "backup");
}

enum MHD_Result api_backup_restore(struct call *x)
{
	return long_work(x, "restore");
}

/*
 * A backup into a new VPS, its source still there or destroyed: the route
 * is outside /vps/NAME (a destroyed VPS has none); a customer's finds only
 * backups tagged with their name (backup_restore_as). The operation is the
 * new VPS's.
 */
enum MHD_Result api_backups_restore_as(struct call *x)
{
	json_t *as = json_object_get(x->body, "as");

	return long_work_of(x, "restore-as", json_is_string(as) ? json_string_value(as) : NULL,
			    x->arg);
}

/* A clone (clone.c): the copy of a large disk on a full-copy pool takes its time. */
enum MHD_Result api_vps_clone(struct call *x)
{
	return long_work(x, "clone");
}

enum MHD_Result api_backup_schedule_get(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = backup_schedule_get(x->h, x->arg, &out, &e);

	return reply_result(x->c, r, &e, 200, out);
}

enum MHD_Result api_backup_schedule_put(struct call *x)
{
	struct err *e = NULL;
	json_t *out = NULL;
	int r = backup_schedule_put(x->h, x->arg, x->body, x->p->admin, &out, &e);

	return reply_result(x->c, r, &e, 200, out);
}

enum MHD_Result api_backup_schedule_delete(struct call *x)
{
	struct err *e = NULL;
	int r = backup_schedule_rm(x->h, x->arg, &e);

	return reply_ok(x->c, r, &e);
}
