// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * config.json parsing: the shape of the document into struct ct_config.
 * Every accessor is given the JSON path of the value it reads, so an error
 * reads `mounts[3].destination: must be a string`. Meaning (absolute paths,
 * known names) is left to config_validate.c. Unknown keys are ignored.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "ct/config.h"

/* JSON paths only feed error messages: a very deep one may be cut short */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#define PATHMAX 256

static int bad(struct err **err, const char *path, const char *key, const char *what)
{
	if (key)
		return err_make(err, 0, "%s%s%s: %s", path, *path ? "." : "", key, what);
	return err_make(err, 0, "%s: %s", path, what);
}

static void subpath(char *buf, const char *path, const char *key)
{
	snprintf(buf, PATHMAX, "%s%s%s", path, *path ? "." : "", key);
}

/* An optional string member; *out stays as it was when absent. */
static int get_str(json_t *obj, const char *key, const char *path, bool required, const char **out,
		   struct err **err)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return required ? bad(err, path, key, "is required") : 0;
	if (!json_is_string(v))
		return bad(err, path, key, "must be a string");
	*out = json_string_value(v);
	return 0;
}

static int get_bool(json_t *obj, const char *key, const char *path, bool *out, struct err **err)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return bad(err, path, key, "must be a boolean");
	*out = json_is_true(v);
	return 0;
}

/* An integer member within [min, max]; returns 1 when present. */
static int get_int(json_t *obj, const char *key, const char *path, int64_t min, int64_t max,
		   int64_t *out, struct err **err)
{
	json_t *v = json_object_get(obj, key);
	json_int_t n;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return bad(err, path, key, "must be an integer");
	n = json_integer_value(v);
	if (n < min || n > max)
		return bad(err, path, key, "out of range");
	*out = n;
	return 1;
}

static int get_u32(json_t *obj, const char *key, const char *path, bool required, uint32_t *out,
		   struct err **err)
{
	int64_t n = 0;
	int r = get_int(obj, key, path, 0, UINT32_MAX, &n, err);

	if (r < 0)
		return r;
	if (r == 0)
		return required ? bad(err, path, key, "is required") : 0;
	*out = n;
	return 1;
}

/* A uint64 (rlimits, seccomp values): jansson integers are signed 64-bit. */
static int get_u64(json_t *obj, const char *key, const char *path, bool required, uint64_t *out,
		   struct err **err)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return required ? bad(err, path, key, "is required") : 0;
	if (!json_is_integer(v))
		return bad(err, path, key, "must be an integer");
	*out = (uint64_t)json_integer_value(v);
	return 1;
}

/* An array of strings into a NULL-terminated vector. */
static int get_strv(json_t *obj, const char *key, const char *path, bool nonempty,
		    const char ***out, size_t *nr, struct err **err)
{
	json_t *v = json_object_get(obj, key), *e;
	const char **vec;
	size_t i;

	*out = NULL;
	*nr = 0;
	if (!v || json_is_null(v))
		return nonempty ? bad(err, path, key, "must be a non-empty array of strings") : 0;
	if (!json_is_array(v) || (nonempty && json_array_size(v) == 0))
		return bad(err, path, key,
			   nonempty ? "must be a non-empty array of strings" :
				      "must be an array of strings");
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e)) {
			char p[PATHMAX], q[PATHMAX];

			subpath(p, path, key);
			snprintf(q, sizeof(q), "%s[%zu]", p, i);
			return bad(err, q, NULL, "must be a string");
		}
	}
	vec = calloc(json_array_size(v) + 1, sizeof(*vec));
	if (!vec)
		return err_make(err, ENOMEM, "%s", key);
	json_array_foreach(v, i, e) vec[i] = json_string_value(e);
	*out = vec;
	*nr = json_array_size(v);
	return 0;
}

/*
 * The array member `key` of obj: *arr is NULL when absent. Each element must
 * be an object; `sz` bytes per element are allocated into *out.
 */
static int get_objarray(json_t *obj, const char *key, const char *path, json_t **arr, void **out,
			size_t sz, size_t *nr, struct err **err)
{
	json_t *v = json_object_get(obj, key), *e;
	size_t i;

	*arr = NULL;
	*nr = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return bad(err, path, key, "must be an array");
	json_array_foreach(v, i, e)
	{
		if (!json_is_object(e)) {
			char p[PATHMAX], q[PATHMAX];

			subpath(p, path, key);
			snprintf(q, sizeof(q), "%s[%zu]", p, i);
			return bad(err, q, NULL, "must be an object");
		}
	}
	*out = calloc(json_array_size(v) + 1, sz);
	if (!*out)
		return err_make(err, ENOMEM, "%s", key);
	*arr = v;
	*nr = json_array_size(v);
	return 0;
}

static int get_obj(json_t *obj, const char *key, const char *path, json_t **out, struct err **err)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return bad(err, path, key, "must be an object");
	*out = v;
	return 0;
}

#define ELEM(buf, path, key, i) \
	snprintf(buf, sizeof(buf), "%s%s%s[%zu]", path, *path ? "." : "", key, i)

static int parse_user(json_t *o, const char *path, struct ct_process *p, struct err **err)
{
	json_t *v;
	uint32_t um;
	size_t i;
	int r;

	if ((r = get_u32(o, "uid", path, false, &p->uid, err)) < 0 ||
	    (r = get_u32(o, "gid", path, false, &p->gid, err)) < 0)
		return r;
	r = get_u32(o, "umask", path, false, &um, err);
	if (r < 0)
		return r;
	if (r > 0)
		p->umask = um & 0777;
	v = json_object_get(o, "additionalGids");
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return bad(err, path, "additionalGids", "must be an array of integers");
	p->additional_gids = calloc(json_array_size(v) + 1, sizeof(gid_t));
	if (!p->additional_gids)
		return -ENOMEM;
	for (i = 0; i < json_array_size(v); i++) {
		json_t *e = json_array_get(v, i);
		char q[PATHMAX];

		if (!json_is_integer(e) || json_integer_value(e) < 0 ||
		    json_integer_value(e) > UINT32_MAX) {
			ELEM(q, path, "additionalGids", i);
			return bad(err, q, NULL, "must be a gid (integer)");
		}
		p->additional_gids[i] = json_integer_value(e);
	}
	p->nr_additional_gids = i;
	return 0;
}

static const char *const capset_keys[CT_CAP_NSETS] = {
	[CT_CAP_BOUNDING] = "bounding",	  [CT_CAP_EFFECTIVE] = "effective",
	[CT_CAP_PERMITTED] = "permitted", [CT_CAP_INHERITABLE] = "inheritable",
	[CT_CAP_AMBIENT] = "ambient",
};

int ct_process_parse(json_t *o, const char *path, struct ct_process **out, struct err **err)
{
	struct ct_process *p = calloc(1, sizeof(*p));
	char sp[PATHMAX];
	json_t *user, *caps, *arr;
	int64_t n;
	size_t i;
	int r;

	if (!p)
		return err_make(err, ENOMEM, "%s", path);
	p->umask = -1;
	*out = p;
	if (!json_is_object(o))
		return bad(err, path, NULL, "must be an object");
	if ((r = get_bool(o, "terminal", path, &p->terminal, err)) < 0 ||
	    (r = get_strv(o, "args", path, true, &p->args, &p->nr_args, err)) < 0 ||
	    (r = get_strv(o, "env", path, false, &p->env, &p->nr_env, err)) < 0 ||
	    (r = get_str(o, "cwd", path, true, &p->cwd, err)) < 0 ||
	    (r = get_bool(o, "noNewPrivileges", path, &p->no_new_privileges, err)) < 0 ||
	    (r = get_obj(o, "user", path, &user, err)) < 0 ||
	    (r = get_obj(o, "capabilities", path, &caps, err)) < 0)
		return r;
	r = get_int(o, "oomScoreAdj", path, -1000, 1000, &n, err);
	if (r < 0)
		return r;
	p->has_oom_score_adj = r;
	p->oom_score_adj = r ? n : 0;
	if (user) {
		subpath(sp, path, "user");
		if ((r = parse_user(user, sp, p, err)) < 0)
			return r;
	}
	if (caps) {
		p->has_caps = true;
		subpath(sp, path, "capabilities");
		for (i = 0; i < CT_CAP_NSETS; i++) {
			r = get_strv(caps, capset_keys[i], sp, false, &p->caps[i], &p->nr_caps[i],
				     err);
			if (r < 0)
				return r;
		}
	}
	r = get_objarray(o, "rlimits", path, &arr, (void **)&p->rlimits, sizeof(*p->rlimits),
			 &p->nr_rlimits, err);
	if (r < 0)
		return r;
	for (i = 0; i < p->nr_rlimits; i++) {
		json_t *e = json_array_get(arr, i);
		struct ct_rlimit *rl = &p->rlimits[i];

		ELEM(sp, path, "rlimits", i);
		if ((r = get_str(e, "type", sp, true, &rl->type, err)) < 0 ||
		    (r = get_u64(e, "soft", sp, true, &rl->soft, err)) < 0 ||
		    (r = get_u64(e, "hard", sp, true, &rl->hard, err)) < 0)
			return r;
	}
	return 0;
}

void ct_process_free(struct ct_process *p)
{
	size_t i;

	if (!p)
		return;
	free(p->args);
	free(p->env);
	free(p->additional_gids);
	free(p->rlimits);
	for (i = 0; i < CT_CAP_NSETS; i++)
		free(p->caps[i]);
	free(p);
}

static int parse_mounts(json_t *root, struct ct_config *c, struct err **err)
{
	char sp[PATHMAX];
	json_t *arr;
	size_t i;
	int r;

	r = get_objarray(root, "mounts", "", &arr, (void **)&c->mounts, sizeof(*c->mounts),
			 &c->nr_mounts, err);
	for (i = 0; r == 0 && i < c->nr_mounts; i++) {
		json_t *e = json_array_get(arr, i);
		struct ct_mount *m = &c->mounts[i];

		snprintf(sp, sizeof(sp), "mounts[%zu]", i);
		if ((r = get_str(e, "destination", sp, true, &m->destination, err)) < 0 ||
		    (r = get_str(e, "source", sp, false, &m->source, err)) < 0 ||
		    (r = get_str(e, "type", sp, false, &m->type, err)) < 0)
			return r;
		r = get_strv(e, "options", sp, false, &m->options, &m->nr_options, err);
	}
	return r;
}

static const char *const hook_keys[CT_HOOK_NKINDS] = {
	[CT_HOOK_PRESTART] = "prestart",
	[CT_HOOK_CREATE_RUNTIME] = "createRuntime",
	[CT_HOOK_CREATE_CONTAINER] = "createContainer",
	[CT_HOOK_START_CONTAINER] = "startContainer",
	[CT_HOOK_POSTSTART] = "poststart",
	[CT_HOOK_POSTSTOP] = "poststop",
};

static int parse_hooks(json_t *root, struct ct_config *c, struct err **err)
{
	char sp[PATHMAX];
	json_t *hooks, *arr;
	size_t k, i, dummy;
	int r;

	if ((r = get_obj(root, "hooks", "", &hooks, err)) < 0 || !hooks)
		return r;
	for (k = 0; k < CT_HOOK_NKINDS; k++) {
		struct ct_hook **list = &c->hooks.list[k];

		r = get_objarray(hooks, hook_keys[k], "hooks", &arr, (void **)list, sizeof(**list),
				 &c->hooks.nr[k], err);
		if (r < 0)
			return r;
		for (i = 0; i < c->hooks.nr[k]; i++) {
			json_t *e = json_array_get(arr, i);
			struct ct_hook *h = &(*list)[i];
			int64_t t = 0;

			snprintf(sp, sizeof(sp), "hooks.%s[%zu]", hook_keys[k], i);
			if ((r = get_str(e, "path", sp, true, &h->path, err)) < 0 ||
			    (r = get_strv(e, "args", sp, false, &h->args, &dummy, err)) < 0 ||
			    (r = get_strv(e, "env", sp, false, &h->env, &dummy, err)) < 0 ||
			    (r = get_int(e, "timeout", sp, 1, INT32_MAX, &t, err)) < 0)
				return r;
			h->timeout = t;
		}
	}
	return 0;
}

static int parse_idmaps(json_t *lx, const char *key, struct ct_idmap **out, size_t *nr,
			struct err **err)
{
	char sp[PATHMAX];
	json_t *arr;
	size_t i;
	int r;

	r = get_objarray(lx, key, "linux", &arr, (void **)out, sizeof(**out), nr, err);
	for (i = 0; r == 0 && i < *nr; i++) {
		json_t *e = json_array_get(arr, i);

		snprintf(sp, sizeof(sp), "linux.%s[%zu]", key, i);
		if ((r = get_u32(e, "containerID", sp, true, &(*out)[i].container_id, err)) < 0 ||
		    (r = get_u32(e, "hostID", sp, true, &(*out)[i].host_id, err)) < 0 ||
		    (r = get_u32(e, "size", sp, true, &(*out)[i].size, err)) < 0)
			return r;
		r = 0;
	}
	return r;
}

static int parse_devices(json_t *lx, struct ct_config *c, struct err **err)
{
	char sp[PATHMAX];
	const char *type;
	json_t *arr;
	size_t i;
	int r;

	r = get_objarray(lx, "devices", "linux", &arr, (void **)&c->devices, sizeof(*c->devices),
			 &c->nr_devices, err);
	for (i = 0; r == 0 && i < c->nr_devices; i++) {
		json_t *e = json_array_get(arr, i);
		struct ct_device *d = &c->devices[i];

		snprintf(sp, sizeof(sp), "linux.devices[%zu]", i);
		type = NULL;
		if ((r = get_str(e, "path", sp, true, &d->path, err)) < 0 ||
		    (r = get_str(e, "type", sp, true, &type, err)) < 0)
			return r;
		if (strlen(type) != 1)
			return bad(err, sp, "type", "must be one of \"c\", \"b\", \"u\", \"p\"");
		d->type = type[0];
		d->major = d->minor = -1;
		if ((r = get_int(e, "major", sp, 0, UINT32_MAX, &d->major, err)) < 0 ||
		    (r = get_int(e, "minor", sp, 0, UINT32_MAX, &d->minor, err)) < 0)
			return r;
		if ((r = get_u32(e, "fileMode", sp, false, &d->file_mode, err)) < 0)
			return r;
		d->has_mode = r;
		if ((r = get_u32(e, "uid", sp, false, &d->uid, err)) < 0)
			return r;
		d->has_uid = r;
		if ((r = get_u32(e, "gid", sp, false, &d->gid, err)) < 0)
			return r;
		d->has_gid = r;
		r = 0;
	}
	return r;
}

static int parse_seccomp(json_t *o, struct ct_config *c, struct err **err)
{
	struct ct_seccomp *s = calloc(1, sizeof(*s));
	char sp[PATHMAX], ap[PATHMAX];
	json_t *arr, *aa;
	size_t i, j;
	int r;

	if (!s)
		return -ENOMEM;
	c->seccomp = s;
	if ((r = get_str(o, "defaultAction", "linux.seccomp", true, &s->default_action, err)) < 0 ||
	    (r = get_strv(o, "architectures", "linux.seccomp", false, &s->architectures,
			  &s->nr_architectures, err)) < 0 ||
	    (r = get_strv(o, "flags", "linux.seccomp", false, &s->flags, &s->nr_flags, err)) < 0)
		return r;
	if ((r = get_u32(o, "defaultErrnoRet", "linux.seccomp", false, &s->default_errno, err)) < 0)
		return r;
	s->has_default_errno = r;
	r = get_objarray(o, "syscalls", "linux.seccomp", &arr, (void **)&s->rules,
			 sizeof(*s->rules), &s->nr_rules, err);
	for (i = 0; r == 0 && i < s->nr_rules; i++) {
		struct ct_seccomp_rule *rule = &s->rules[i];
		json_t *e = json_array_get(arr, i);

		snprintf(sp, sizeof(sp), "linux.seccomp.syscalls[%zu]", i);
		if ((r = get_strv(e, "names", sp, true, &rule->names, &rule->nr_names, err)) < 0 ||
		    (r = get_str(e, "action", sp, true, &rule->action, err)) < 0)
			return r;
		if ((r = get_u32(e, "errnoRet", sp, false, &rule->errno_ret, err)) < 0)
			return r;
		rule->has_errno_ret = r;
		r = get_objarray(e, "args", sp, &aa, (void **)&rule->args, sizeof(*rule->args),
				 &rule->nr_args, err);
		for (j = 0; r == 0 && j < rule->nr_args; j++) {
			json_t *a = json_array_get(aa, j);
			struct ct_seccomp_arg *sa = &rule->args[j];
			uint32_t idx = 0;

			snprintf(ap, sizeof(ap), "%s.args[%zu]", sp, j);
			if ((r = get_u32(a, "index", ap, true, &idx, err)) < 0 ||
			    (r = get_u64(a, "value", ap, true, &sa->value, err)) < 0 ||
			    (r = get_u64(a, "valueTwo", ap, false, &sa->value_two, err)) < 0 ||
			    (r = get_str(a, "op", ap, true, &sa->op, err)) < 0)
				return r;
			sa->index = idx;
			r = 0;
		}
	}
	return r;
}

static int parse_sysctl(json_t *lx, struct ct_config *c, struct err **err)
{
	json_t *o, *v;
	const char *k;
	size_t i = 0;
	int r;

	if ((r = get_obj(lx, "sysctl", "linux", &o, err)) < 0 || !o)
		return r;
	c->sysctl = calloc(json_object_size(o) + 1, sizeof(*c->sysctl));
	if (!c->sysctl)
		return -ENOMEM;
	json_object_foreach(o, k, v)
	{
		if (!json_is_string(v))
			return err_make(err, 0, "linux.sysctl.%s: must be a string", k);
		c->sysctl[i].key = k;
		c->sysctl[i++].value = json_string_value(v);
	}
	c->nr_sysctl = i;
	return 0;
}

/* Resources go straight into the cgroup engine's struct; see cgroup.h. */
static int parse_throttles(json_t *bio, const char *key, struct cg_throttle *t, unsigned int *nr,
			   struct err **err)
{
	char sp[PATHMAX];
	json_t *arr;
	void *dummy = NULL;
	size_t i, n;
	int r;

	r = get_objarray(bio, key, "linux.resources.blockIO", &arr, &dummy, 1, &n, err);
	free(dummy);
	if (r < 0)
		return r;
	if (n > CG_MAX_THROTTLES)
		return err_make(err, 0, "linux.resources.blockIO.%s: at most %d entries", key,
				CG_MAX_THROTTLES);
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);

		snprintf(sp, sizeof(sp), "linux.resources.blockIO.%s[%zu]", key, i);
		if ((r = get_int(e, "major", sp, 0, UINT32_MAX, &t[i].major, err)) < 0 ||
		    (r = get_int(e, "minor", sp, 0, UINT32_MAX, &t[i].minor, err)) < 0 ||
		    (r = get_u64(e, "rate", sp, true, &t[i].rate, err)) < 0)
			return r;
	}
	*nr = n;
	return 0;
}

/*
 * linux.resources.unified: cgroup v2 file name -> value. A name is
 * "controller.file" (letters, digits, '_', '-', '.'; so no '/' and, with
 * ".." refused, nothing but a file of the cgroup itself); cgroup.* files are
 * the runtime's (procs, subtree_control, freeze, kill), never a resource.
 */
static int parse_unified(json_t *res, struct cg_resources *cr, struct err **err)
{
	const char *P = "linux.resources.unified", *k;
	json_t *o, *v;
	int r;

	if ((r = get_obj(res, "unified", "linux.resources", &o, err)) < 0 || !o)
		return r;
	if (json_object_size(o) > CG_MAX_UNIFIED)
		return err_make(err, 0, "%s: at most %d entries", P, CG_MAX_UNIFIED);
	json_object_foreach(o, k, v)
	{
		struct cg_unified *u = &cr->unified[cr->nr_unified];
		size_t ctrl = strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_");

		if (ctrl == 0 || k[ctrl] != '.' || !k[ctrl + 1] || strstr(k, "..") ||
		    strspn(k,
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.") !=
			    strlen(k) ||
		    strlen(k) >= sizeof(u->name))
			return err_make(err, 0,
					"%s: `%.80s`: not a cgroup v2 file name "
					"(controller.file)",
					P, k);
		if (!strncmp(k, "cgroup.", 7))
			return err_make(err, 0, "%s: `%s`: cgroup.* files are the runtime's", P, k);
		if (!json_is_string(v))
			return err_make(err, 0, "%s: `%s`: must be a string", P, k);
		if (json_string_length(v) >= sizeof(u->value) ||
		    strlen(json_string_value(v)) != json_string_length(v) ||
		    strchr(json_string_value(v), '\n'))
			return err_make(err, 0,
					"%s: `%s`: the value must be one line under %zu bytes", P,
					k, sizeof(u->value));
		strcpy(u->name, k);
		strcpy(u->value, json_string_value(v));
		cr->nr_unified++;
	}
	return 0;
}

/* linux.resources.network: classID (net_cls) and priorities (net_prio). */
static int parse_network(json_t *res, struct cg_resources *cr, struct err **err)
{
	const char *P = "linux.resources.network";
	char sp[PATHMAX];
	json_t *net, *prios;
	size_t i, n;
	int r;

	if ((r = get_obj(res, "network", "linux.resources", &net, err)) < 0 || !net)
		return r;
	if ((r = get_int(net, "classID", P, 0, UINT32_MAX, &cr->net_class_id, err)) < 0)
		return r;
	prios = json_object_get(net, "priorities");
	if (!prios || json_is_null(prios))
		return 0;
	if (!json_is_array(prios))
		return err_make(err, 0, "%s.priorities: must be an array", P);
	n = json_array_size(prios);
	if (n > CG_MAX_PRIOS)
		return err_make(err, 0, "%s.priorities: at most %d entries", P, CG_MAX_PRIOS);
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(prios, i);
		struct cg_prio *p = &cr->net_prio[i];
		const char *name = NULL;
		int64_t prio = 0;

		snprintf(sp, sizeof(sp), "%s.priorities[%zu]", P, i);
		if (!json_is_object(e))
			return err_make(err, 0, "%s: must be an object", sp);
		if ((r = get_str(e, "name", sp, true, &name, err)) < 0 ||
		    (r = get_int(e, "priority", sp, 0, UINT32_MAX, &prio, err)) < 0)
			return r;
		/* an interface name: no space or newline to smuggle a second entry in */
		if (!*name || strlen(name) >= sizeof(p->name) ||
		    strcspn(name, " \t\n/") != strlen(name))
			return err_make(err, 0, "%s.name: not an interface name", sp);
		strcpy(p->name, name);
		p->priority = (uint32_t)prio;
	}
	cr->nr_net_prio = n;
	return 0;
}

int ct_resources_parse(json_t *res, struct cg_resources *cr, struct err **err)
{
	const char *P = "linux.resources";
	char sp[PATHMAX];
	json_t *mem, *cpu, *pids, *bio, *devs;
	const char *s;
	size_t i, n;
	int64_t w;
	int r;

	cg_resources_init(cr);
	if ((r = get_obj(res, "memory", P, &mem, err)) < 0 ||
	    (r = get_obj(res, "cpu", P, &cpu, err)) < 0 ||
	    (r = get_obj(res, "pids", P, &pids, err)) < 0 ||
	    (r = get_obj(res, "blockIO", P, &bio, err)) < 0)
		return r;
	if (mem && ((r = get_int(mem, "limit", "linux.resources.memory", -1, INT64_MAX,
				 &cr->memory_limit, err)) < 0 ||
		    (r = get_int(mem, "reservation", "linux.resources.memory", -1, INT64_MAX,
				 &cr->memory_reservation, err)) < 0 ||
		    (r = get_int(mem, "swap", "linux.resources.memory", -1, INT64_MAX,
				 &cr->memory_swap, err)) < 0 ||
		    (r = get_int(mem, "swappiness", "linux.resources.memory", 0, 100,
				 &cr->memory_swappiness, err)) < 0 ||
		    (r = get_int(mem, "kernelTCP", "linux.resources.memory", -1, INT64_MAX,
				 &cr->memory_kernel_tcp, err)) < 0))
		return r;
	if (mem && json_object_get(mem, "disableOOMKiller") &&
	    !json_is_null(json_object_get(mem, "disableOOMKiller"))) {
		bool off = false;

		if ((r = get_bool(mem, "disableOOMKiller", "linux.resources.memory", &off, err)) <
		    0)
			return r;
		cr->disable_oom_killer = off;
	}
	if ((r = parse_network(res, cr, err)) < 0)
		return r;
	if (cpu) {
		P = "linux.resources.cpu";
		if ((r = get_int(cpu, "shares", P, 0, INT64_MAX, &cr->cpu_shares, err)) < 0 ||
		    (r = get_int(cpu, "quota", P, -1, INT64_MAX, &cr->cpu_quota, err)) < 0 ||
		    (r = get_int(cpu, "period", P, 0, INT64_MAX, &cr->cpu_period, err)) < 0)
			return r;
		s = NULL;
		if ((r = get_str(cpu, "cpus", P, false, &s, err)) < 0)
			return r;
		if (s && strlen(s) >= sizeof(cr->cpus))
			return err_make(err, 0, "%s.cpus: too long", P);
		if (s)
			strcpy(cr->cpus, s);
		s = NULL;
		if ((r = get_str(cpu, "mems", P, false, &s, err)) < 0)
			return r;
		if (s && strlen(s) >= sizeof(cr->mems))
			return err_make(err, 0, "%s.mems: too long", P);
		if (s)
			strcpy(cr->mems, s);
	}
	if (pids && (r = get_int(pids, "limit", "linux.resources.pids", -1, INT64_MAX,
				 &cr->pids_limit, err)) < 0)
		return r;
	if (bio) {
		r = get_int(bio, "weight", "linux.resources.blockIO", 10, 1000, &w, err);
		if (r < 0)
			return r;
		if (r)
			cr->blkio_weight = w;
		if ((r = parse_throttles(bio, "throttleReadBpsDevice", cr->read_bps,
					 &cr->nr_read_bps, err)) < 0 ||
		    (r = parse_throttles(bio, "throttleWriteBpsDevice", cr->write_bps,
					 &cr->nr_write_bps, err)) < 0 ||
		    (r = parse_throttles(bio, "throttleReadIOPSDevice", cr->read_iops,
					 &cr->nr_read_iops, err)) < 0 ||
		    (r = parse_throttles(bio, "throttleWriteIOPSDevice", cr->write_iops,
					 &cr->nr_write_iops, err)) < 0)
			return r;
	}
	devs = json_object_get(res, "devices");
	if (devs && !json_is_array(devs))
		return err_make(err, 0, "linux.resources.devices: must be an array");
	n = devs ? json_array_size(devs) : 0;
	if (n > CG_MAX_DEVICE_RULES)
		return err_make(err, 0, "linux.resources.devices: at most %d entries",
				CG_MAX_DEVICE_RULES);
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(devs, i);
		struct cg_device_rule *d = &cr->devices[i];
		const char *type = "a", *access = "rwm";
		bool allow = false;

		snprintf(sp, sizeof(sp), "linux.resources.devices[%zu]", i);
		if (!json_is_object(e))
			return err_make(err, 0, "%s: must be an object", sp);
		d->major = d->minor = -1;
		if ((r = get_bool(e, "allow", sp, &allow, err)) < 0 ||
		    (r = get_str(e, "type", sp, false, &type, err)) < 0 ||
		    (r = get_str(e, "access", sp, false, &access, err)) < 0 ||
		    (r = get_int(e, "major", sp, -1, UINT32_MAX, &d->major, err)) < 0 ||
		    (r = get_int(e, "minor", sp, -1, UINT32_MAX, &d->minor, err)) < 0)
			return r;
		if (strlen(type) != 1 || !strchr("abc", type[0]))
			return err_make(err, 0, "%s.type: must be \"a\", \"b\" or \"c\"", sp);
		if (strlen(access) > 3 || strspn(access, "rwm") != strlen(access))
			return err_make(err, 0, "%s.access: must be a subset of \"rwm\"", sp);
		d->allow = allow;
		d->type = type[0];
		strcpy(d->access, access);
	}
	cr->nr_devices = n;
	return parse_unified(res, cr, err);
}

static int parse_linux(json_t *lx, struct ct_config *c, struct err **err)
{
	char sp[PATHMAX];
	json_t *arr, *res, *sec;
	size_t i;
	int r;

	if ((r = get_objarray(lx, "namespaces", "linux", &arr, (void **)&c->namespaces,
			      sizeof(*c->namespaces), &c->nr_namespaces, err)) < 0)
		return r;
	for (i = 0; i < c->nr_namespaces; i++) {
		json_t *e = json_array_get(arr, i);

		snprintf(sp, sizeof(sp), "linux.namespaces[%zu]", i);
		if ((r = get_str(e, "type", sp, true, &c->namespaces[i].type, err)) < 0 ||
		    (r = get_str(e, "path", sp, false, &c->namespaces[i].path, err)) < 0)
			return r;
	}
	if ((r = parse_idmaps(lx, "uidMappings", &c->uid_mappings, &c->nr_uid_mappings, err)) < 0 ||
	    (r = parse_idmaps(lx, "gidMappings", &c->gid_mappings, &c->nr_gid_mappings, err)) < 0 ||
	    (r = parse_sysctl(lx, c, err)) < 0 || (r = parse_devices(lx, c, err)) < 0 ||
	    (r = get_str(lx, "cgroupsPath", "linux", false, &c->cgroups_path, err)) < 0 ||
	    (r = get_str(lx, "rootfsPropagation", "linux", false, &c->rootfs_propagation, err)) <
		    0 ||
	    (r = get_strv(lx, "maskedPaths", "linux", false, &c->masked_paths, &c->nr_masked_paths,
			  err)) < 0 ||
	    (r = get_strv(lx, "readonlyPaths", "linux", false, &c->readonly_paths,
			  &c->nr_readonly_paths, err)) < 0 ||
	    (r = get_obj(lx, "resources", "linux", &res, err)) < 0 ||
	    (r = get_obj(lx, "seccomp", "linux", &sec, err)) < 0)
		return r;
	cg_resources_init(&c->resources);
	if (res) {
		c->has_resources = true;
		if ((r = ct_resources_parse(res, &c->resources, err)) < 0)
			return r;
	}
	if (sec && (r = parse_seccomp(sec, c, err)) < 0)
		return r;
	return 0;
}

static int parse_doc(json_t *root, struct ct_config *c, struct err **err)
{
	json_t *o;
	int r;

	if (!json_is_object(root))
		return err_make(err, 0, "config.json: must be a JSON object");
	if ((r = get_str(root, "ociVersion", "", true, &c->oci_version, err)) < 0 ||
	    (r = get_str(root, "hostname", "", false, &c->hostname, err)) < 0 ||
	    (r = get_obj(root, "root", "", &o, err)) < 0)
		return r;
	if (!o)
		return err_make(err, 0, "root: is required");
	if ((r = get_str(o, "path", "root", true, &c->root_path, err)) < 0 ||
	    (r = get_bool(o, "readonly", "root", &c->root_readonly, err)) < 0)
		return r;
	o = json_object_get(root, "process");
	if (o && !json_is_null(o) && (r = ct_process_parse(o, "process", &c->process, err)) < 0)
		return r;
	if ((r = get_obj(root, "annotations", "", &o, err)) < 0 ||
	    (o && ((r = get_str(o, "org.vps.sysinfo", "annotations", false, &c->sysinfo_view,
				err)) < 0 ||
		   (r = get_str(o, "org.vps.sysinfo.socket", "annotations", false,
				&c->sysinfo_socket, err)) < 0 ||
		   (r = get_str(o, "org.vps.console", "annotations", false, &c->console_mode,
				err)) < 0)))
		return r;
	if ((r = parse_mounts(root, c, err)) < 0 || (r = parse_hooks(root, c, err)) < 0 ||
	    (r = get_obj(root, "linux", "", &o, err)) < 0)
		return r;
	cg_resources_init(&c->resources);
	if (o && (r = parse_linux(o, c, err)) < 0)
		return r;
	return 0;
}

int ct_config_parse(const char *text, struct ct_config **out, struct err **err)
{
	struct ct_config *c;
	json_error_t je;
	int r;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return err_make(err, ENOMEM, "parse config");
	c->json = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!c->json) {
		free(c);
		return err_make(err, 0, "config.json: line %d column %d: %s", je.line, je.column,
				je.text);
	}
	r = parse_doc(c->json, c, err);
	if (r < 0) {
		ct_config_free(c);
		return r;
	}
	*out = c;
	return 0;
}

int ct_config_load(const char *bundle, struct ct_config **out, struct err **err)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	size_t len;
	int r;

	if (asprintf(&path, "%s/config.json", bundle) < 0)
		return err_make(err, ENOMEM, "load config");
	r = read_file(path, &text, &len);
	if (r < 0)
		return err_make(err, -r, "read `%s`", path);
	r = ct_config_parse(text, out, err);
	if (r < 0)
		return err_wrap(err, "`%s`", path);
	return 0;
}

void ct_config_free(struct ct_config *c)
{
	size_t i;

	if (!c)
		return;
	ct_process_free(c->process);
	for (i = 0; i < c->nr_mounts; i++) {
		free(c->mounts[i].options);
		free(c->mounts[i].data);
	}
	free(c->mounts);
	for (i = 0; i < CT_HOOK_NKINDS; i++) {
		size_t j;

		for (j = 0; j < c->hooks.nr[i]; j++) {
			free(c->hooks.list[i][j].args);
			free(c->hooks.list[i][j].env);
		}
		free(c->hooks.list[i]);
	}
	free(c->namespaces);
	free(c->uid_mappings);
	free(c->gid_mappings);
	free(c->sysctl);
	free(c->devices);
	if (c->seccomp) {
		for (i = 0; i < c->seccomp->nr_rules; i++) {
			free(c->seccomp->rules[i].names);
			free(c->seccomp->rules[i].args);
		}
		free(c->seccomp->rules);
		free(c->seccomp->architectures);
		free(c->seccomp->flags);
		free(c->seccomp);
	}
	free(c->masked_paths);
	free(c->readonly_paths);
	json_decref(c->json);
	free(c);
}
