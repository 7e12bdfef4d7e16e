// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The VPS record and its one parser. Sizes come as "512M"/"2G" strings or
 * byte counts; every error names the field as the API body spells it.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "host/vps.h"

static const char *const state_names[NR_VPS_STATES] = {
	[VPS_STOPPED] = "stopped",	     [VPS_CREATING] = "creating",
	[VPS_STARTING] = "starting",	     [VPS_RUNNING] = "running",
	[VPS_STOPPING] = "stopping",	     [VPS_DESTROYING] = "destroying",
	[VPS_REINSTALLING] = "reinstalling",
};

const char *vps_state_name(enum vps_state s)
{
	return (unsigned int)s < NR_VPS_STATES ? state_names[s] : "unknown";
}

int vps_state_parse(const char *name, enum vps_state *out)
{
	for (int i = 0; name && i < NR_VPS_STATES; i++)
		if (!strcmp(name, state_names[i])) {
			*out = (enum vps_state)i;
			return 0;
		}
	return -EINVAL;
}

/* The one table of kind and engine names: the store's columns and the API's JSON. */
static const char *const kind_names[NR_VPS_KINDS] = {
	[VPS_KIND_NONE] = "",
	[VPS_CT] = "ct",
	[VPS_VM] = "vm",
};

static const char *const engine_names[NR_VPS_ENGINES] = {
	[VPS_ENGINE_NONE] = "",
	[VPS_CTM] = "ctm",
	[VPS_VMM] = "vmm",
	[VPS_QEMU] = "qemu",
};

/* The one table of feature names, in bit order. */
static const char *const feature_names[] = { "tun", "fuse", "nesting" };
#define NR_FEATURES (sizeof(feature_names) / sizeof(feature_names[0]))

const char *vps_features_str(unsigned int features, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = 0;
	for (size_t i = 0; i < NR_FEATURES && at < len; i++)
		if (features & (1u << i))
			at += snprintf(buf + at, len - at, "%s%s", at ? "," : "", feature_names[i]);
	return buf;
}

static int feature_bit(const char *name, size_t n, unsigned int *out)
{
	for (size_t i = 0; i < NR_FEATURES; i++)
		if (strlen(feature_names[i]) == n && !strncmp(name, feature_names[i], n)) {
			*out |= 1u << i;
			return 0;
		}
	return -EINVAL;
}

int vps_features_parse(const char *s, unsigned int *out)
{
	*out = 0;
	while (s && *s) {
		size_t n = strcspn(s, ",");

		if (feature_bit(s, n, out) < 0)
			return -EINVAL;
		s += n + (s[n] == ',');
	}
	return 0;
}

unsigned int vps_features_bits(json_t *list)
{
	unsigned int bits = 0;
	json_t *e;
	size_t i;

	json_array_foreach(list, i, e) if (json_is_string(e))
		feature_bit(json_string_value(e), json_string_length(e), &bits);
	return bits;
}

json_t *vps_features_json(unsigned int features)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < NR_FEATURES; i++)
		if (features & (1u << i))
			json_array_append_new(a, json_string(feature_names[i]));
	return a;
}

/* `features`: a list of names, each once; [] turns them all off. */
static int get_features(json_t *x, unsigned int *out, struct err **err)
{
	unsigned int bits = 0, was;
	json_t *e;
	size_t i;

	if (!json_is_array(x))
		return err_make(err, EINVAL, "`features`: expected a list of tun, fuse, nesting");
	json_array_foreach(x, i, e)
	{
		const char *s = json_string_value(e);

		was = bits;
		if (!s || feature_bit(s, strlen(s), &bits) < 0)
			return err_make(err, EINVAL,
					"`features[%zu]`: expected one of tun, fuse, nesting", i);
		if (bits == was)
			return err_make(err, EINVAL, "`features[%zu]`: `%s` given twice", i, s);
	}
	*out = bits;
	return 0;
}

const char *vps_kind_name(enum vps_kind k)
{
	return (unsigned int)k < NR_VPS_KINDS ? kind_names[k] : "unknown";
}

int vps_kind_parse(const char *name, enum vps_kind *out)
{
	for (int i = 1; name && i < NR_VPS_KINDS; i++)
		if (!strcmp(name, kind_names[i])) {
			*out = (enum vps_kind)i;
			return 0;
		}
	return -EINVAL;
}

const char *vps_engine_name(enum vps_engine e)
{
	return (unsigned int)e < NR_VPS_ENGINES ? engine_names[e] : "unknown";
}

int vps_engine_parse(const char *name, enum vps_engine *out)
{
	for (int i = 1; name && i < NR_VPS_ENGINES; i++)
		if (!strcmp(name, engine_names[i])) {
			*out = (enum vps_engine)i;
			return 0;
		}
	return -EINVAL;
}

void vps_init(struct vps *v)
{
	memset(v, 0, sizeof(*v));
	v->last_exit = -1;
	v->state = VPS_STOPPED;
	strcpy(v->owner, "admin");
}

void vps_free(struct vps *v)
{
	free(v->template);
	free(v->iso);
	free(v->hostname);
	for (unsigned int i = 0; i < v->nr_ssh_keys; i++)
		free(v->ssh_keys[i]);
	vps_init(v);
}

static char *dup_or_null(const char *s, bool *fail)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		*fail = true;
	return d;
}

int vps_copy(struct vps *dst, const struct vps *src)
{
	bool fail = false;

	*dst = *src;
	dst->template = dup_or_null(src->template, &fail);
	dst->iso = dup_or_null(src->iso, &fail);
	dst->hostname = dup_or_null(src->hostname, &fail);
	for (unsigned int i = 0; i < src->nr_ssh_keys; i++)
		dst->ssh_keys[i] = dup_or_null(src->ssh_keys[i], &fail);
	if (fail) {
		vps_free(dst);
		return -ENOMEM;
	}
	return 0;
}

int vps_check_name(const char *s, struct err **err)
{
	size_t n = strlen(s);

	if (n < 1 || n > VPS_NAME_MAX ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')) ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
		return err_make(
			err, EINVAL,
			"`name`: `%.40s` must be 1-32 of a-z, 0-9 and -, starting with a letter or digit",
			s);
	return 0;
}

static int get_size(json_t *v, const char *key, uint64_t min, uint64_t *out, struct err **err)
{
	uint64_t x;

	if (json_is_integer(v) && json_integer_value(v) >= 0)
		x = (uint64_t)json_integer_value(v);
	else if (!json_is_string(v) || parse_size(json_string_value(v), &x) < 0)
		return err_make(err, EINVAL, "`%s`: expected a size such as 512M or 20G", key);
	if (x < min)
		return err_make(err, EINVAL, "`%s`: at least %llu MiB", key,
				(unsigned long long)(min >> 20));
	*out = x;
	return 0;
}

static int get_str(json_t *v, const char *key, size_t max, char **out, struct err **err)
{
	const char *s;

	if (!json_is_string(v))
		return err_make(err, EINVAL, "`%s`: expected a string", key);
	s = json_string_value(v);
	if (!*s || strlen(s) != json_string_length(v) || strlen(s) > max || strpbrk(s, "\n\r"))
		return err_make(err, EINVAL, "`%s`: must be one line of 1 to %zu characters", key,
				max);
	free(*out);
	if (!(*out = strdup(s)))
		return err_make(err, ENOMEM, "`%s`", key);
	return 0;
}

static int get_enum(json_t *v, const char *key, const char *const *allowed, char *out,
		    size_t outlen, struct err **err)
{
	for (size_t i = 0; json_is_string(v) && allowed[i]; i++)
		if (!strcmp(json_string_value(v), allowed[i])) {
			snprintf(out, outlen, "%s", allowed[i]);
			return 0;
		}
	return err_make(err, EINVAL, "`%s`: expected one of %s%s%s%s%s", key, allowed[0],
			allowed[1] ? ", " : "", allowed[1] ? allowed[1] : "",
			allowed[1] && allowed[2] ? ", " : "",
			allowed[1] && allowed[2] ? allowed[2] : "");
}

/* "a, b, c": the names of a table but its first (none), for an error. */
static const char *names_of(const char *const *names, int n, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = 0;
	for (int i = 1; i < n && at < len; i++)
		at += snprintf(buf + at, len - at, "%s%s", i > 1 ? ", " : "", names[i]);
	return buf;
}

/* Fields a PATCH may change. */
static bool patchable(const char *k)
{
	static const char *const ok[] = {
		"ram",	       "swap",	       "cpus",	       "disk",		"io_weight",
		"io_read_bps", "io_write_bps", "io_read_iops", "io_write_iops", "bw",
		"pids",	       "features",     "onboot",       "hostname",	"ssh_keys",
		"owner",       NULL,
	};

	for (size_t i = 0; ok[i]; i++)
		if (!strcmp(k, ok[i]))
			return true;
	return false;
}

bool vps_known_field(const char *k)
{
	/* every key vps_from_json() takes */
	static const char *const known[] = {
		"name",		 "kind",	"engine",	"boot",
		"template",	 "iso",		"owner",	"hostname",
		"root_password", "ssh_keys",	"ram",		"swap",
		"disk",		 "bw",		"cpus",		"io_weight",
		"onboot",	 "network",	"ipv4",		"ipv6",
		"plan",		 "start",	"pids",		"node",
		"features",	 "io_read_bps", "io_write_bps", "io_read_iops",
		"io_write_iops", NULL
	};

	for (size_t i = 0; known[i]; i++)
		if (!strcmp(k, known[i]))
			return true;
	return false;
}

int vps_only_fields(json_t *body, const char *const *keys, const char *what, struct err **err)
{
	const char *k;
	json_t *x;

	if (!json_is_object(body))
		return err_make(err, EINVAL, "the body must be a JSON object");
	json_object_foreach(body, k, x)
	{
		size_t i;

		for (i = 0; keys[i] && strcmp(keys[i], k); i++)
			;
		if (!keys[i])
			return err_make(err, EINVAL, "`%s`: unknown field (%s)", k, what);
	}
	return 0;
}

int vps_from_json(struct vps *v, json_t *body, bool create, char **password, struct err **err)
{
	static const char *const boots[] = { "linux", "firmware", "uefi", NULL };
	const char *k;
	char list[64];
	json_t *x;
	int r = 0;

	if (!json_is_object(body))
		return err_make(err, EINVAL, "the body must be a JSON object");
	json_object_foreach(body, k, x)
	{
		if (!create && !patchable(k))
			return err_make(err, EINVAL, "`%s`: cannot be changed after create", k);
		if (!strcmp(k, "name")) {
			if (!json_is_string(x))
				return err_make(err, EINVAL, "`name`: expected a string");
			if ((r = vps_check_name(json_string_value(x), err)) < 0)
				return r;
			snprintf(v->name, sizeof(v->name), "%s", json_string_value(x));
		} else if (!strcmp(k, "kind")) {
			if (vps_kind_parse(json_string_value(x), &v->kind) < 0)
				return err_make(err, EINVAL, "`kind`: expected one of %s",
						names_of(kind_names, NR_VPS_KINDS, list,
							 sizeof(list)));
		} else if (!strcmp(k, "engine")) {
			/* which engines a kind has is the kind's to say (kind_settle) */
			if (vps_engine_parse(json_string_value(x), &v->engine) < 0)
				return err_make(err, EINVAL, "`engine`: expected one of %s",
						names_of(engine_names, NR_VPS_ENGINES, list,
							 sizeof(list)));
		} else if (!strcmp(k, "boot")) {
			r = get_enum(x, k, boots, v->boot, sizeof(v->boot), err);
		} else if (!strcmp(k, "template")) {
			r = get_str(x, k, 64, &v->template, err);
		} else if (!strcmp(k, "iso")) {
			r = get_str(x, k, 4096, &v->iso, err);
		} else if (!strcmp(k, "owner")) {
			char *o = NULL;

			if ((r = get_str(x, k, sizeof(v->owner) - 1, &o, err)) == 0)
				snprintf(v->owner, sizeof(v->owner), "%s", o);
			free(o);
		} else if (!strcmp(k, "hostname")) {
			r = get_str(x, k, 63, &v->hostname, err);
		} else if (!strcmp(k, "root_password")) {
			if (!password)
				return err_make(err, EINVAL, "`root_password`: not accepted here");
			r = get_str(x, k, 256, password, err);
		} else if (!strcmp(k, "ssh_keys")) {
			size_t i;
			json_t *e;

			if (!json_is_array(x) || json_array_size(x) > VPS_MAX_KEYS)
				return err_make(err, EINVAL,
						"`ssh_keys`: expected a list of at most %d keys",
						VPS_MAX_KEYS);
			for (i = 0; i < v->nr_ssh_keys; i++)
				free(v->ssh_keys[i]);
			v->nr_ssh_keys = 0;
			json_array_foreach(x, i, e)
			{
				char key[32];

				snprintf(key, sizeof(key), "ssh_keys[%zu]", i);
				v->ssh_keys[i] = NULL;
				if ((r = get_str(e, key, 16384, &v->ssh_keys[i], err)) < 0)
					return r;
				v->nr_ssh_keys = i + 1;
				if (strncmp(v->ssh_keys[i], "ssh-", 4) &&
				    strncmp(v->ssh_keys[i], "ecdsa-", 6) &&
				    strncmp(v->ssh_keys[i], "sk-", 3))
					return err_make(err, EINVAL,
							"`%s`: not an OpenSSH public key", key);
			}
		} else if (!strcmp(k, "ram")) {
			r = get_size(x, k, 16ULL << 20, &v->ram, err);
		} else if (!strcmp(k, "swap")) {
			r = get_size(x, k, 0, &v->swap, err);
		} else if (!strcmp(k, "disk")) {
			r = get_size(x, k, 16ULL << 20, &v->disk, err);
			if (r == 0 && v->disk % (1ULL << 20))
				r = err_make(err, EINVAL, "`disk`: must be whole MiB");
		} else if (!strcmp(k, "bw")) {
			r = get_size(x, k, 0, &v->bw, err);
		} else if (!strcmp(k, "cpus")) {
			if (!json_is_number(x) || json_number_value(x) <= 0 ||
			    json_number_value(x) > 256 || isnan(json_number_value(x)))
				return err_make(err, EINVAL,
						"`cpus`: expected a number from 0.01 to 256");
			v->cpus = json_number_value(x);
		} else if (!strcmp(k, "io_weight")) {
			if (!json_is_integer(x) || json_integer_value(x) < 10 ||
			    json_integer_value(x) > 1000)
				return err_make(err, EINVAL, "`io_weight`: expected 10 to 1000");
			v->io_weight = json_integer_value(x);
		} else if (!strcmp(k, "io_read_bps")) {
			r = get_size(x, k, 0, &v->io_read_bps, err);
		} else if (!strcmp(k, "io_write_bps")) {
			r = get_size(x, k, 0, &v->io_write_bps, err);
		} else if (!strcmp(k, "io_read_iops") || !strcmp(k, "io_write_iops")) {
			/* 0: none; vps-ctm's bound */
			if (!json_is_integer(x) || json_integer_value(x) < 0 ||
			    json_integer_value(x) > 1000000000)
				return err_make(
					err, EINVAL,
					"`%s`: expected 0 (none) to 1000000000 operations/s", k);
			*(k[3] == 'r' ? &v->io_read_iops : &v->io_write_iops) =
				json_integer_value(x);
		} else if (!strcmp(k, "features")) {
			r = get_features(x, &v->features, err);
		} else if (!strcmp(k, "pids")) {
			/* 0: the host's default (vpsd --pids-limit), its bounds */
			if (!json_is_integer(x) ||
			    (json_integer_value(x) != 0 &&
			     (json_integer_value(x) < 16 || json_integer_value(x) > 4194304)))
				return err_make(
					err, EINVAL,
					"`pids`: expected 16 to 4194304 processes, or 0 for "
					"the host's default");
			v->pids = json_integer_value(x);
		} else if (!strcmp(k, "onboot")) {
			if (!json_is_boolean(x))
				return err_make(err, EINVAL, "`onboot`: expected true or false");
			v->onboot = json_is_true(x);
		} else if (!strcmp(k, "network")) {
			if (!json_is_string(x) || !json_string_length(x) ||
			    json_string_length(x) > VPS_NAME_MAX)
				return err_make(err, EINVAL, "`network`: expected a network name");
			snprintf(v->network, sizeof(v->network), "%s", json_string_value(x));
		} else if (!strcmp(k, "ipv4") || !strcmp(k, "ipv6")) {
			/* the address asked for; net_assign() checks it against the network */
			char *a = k[3] == '4' ? v->ipv4 : v->ipv6;
			size_t max = k[3] == '4' ? sizeof(v->ipv4) : sizeof(v->ipv6);

			if (!json_is_string(x) || !json_string_length(x) ||
			    json_string_length(x) >= max)
				return err_make(err, EINVAL, "`%s`: expected an address", k);
			snprintf(a, max, "%s", json_string_value(x));
		} else if (!strcmp(k, "plan") || !strcmp(k, "start")) {
			continue; /* read by the API layer */
		} else if (!strcmp(k, "node") && create) {
			/* the node to place it on (policy_place) */
			if (!json_is_string(x) || !json_string_length(x) ||
			    json_string_length(x) >= sizeof(v->node))
				return err_make(err, EINVAL, "`node`: expected a node name");
			snprintf(v->node, sizeof(v->node), "%s", json_string_value(x));
		} else {
			return err_make(err, EINVAL, "`%s`: unknown field", k);
		}
		if (r < 0)
			return r;
	}
	if (!create)
		return 0;
	if (!*v->name)
		return err_make(err, EINVAL, "`name`: required");
	if (v->kind == VPS_KIND_NONE)
		return err_make(err, EINVAL, "`kind`: required (%s)",
				names_of(kind_names, NR_VPS_KINDS, list, sizeof(list)));
	if ((*v->ipv4 || *v->ipv6) && !*v->network)
		return err_make(err, EINVAL, "`%s`: needs `network`", *v->ipv4 ? "ipv4" : "ipv6");
	if (!v->ram)
		v->ram = 512ULL << 20;
	if (!v->disk)
		v->disk = 4ULL << 30;
	if (!v->cpus)
		v->cpus = 1;
	if (!v->hostname && !(v->hostname = strdup(v->name)))
		return err_make(err, ENOMEM, "hostname");
	v->created = time(NULL);
	return 0;
}

json_t *vps_to_json(const struct vps *v)
{
	json_t *keys = json_array();
	json_t *j;

	for (unsigned int i = 0; i < v->nr_ssh_keys; i++)
		json_array_append_new(keys, json_string(v->ssh_keys[i]));
	j = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s, s:I, s:I, s:I, s:f, s:i, s:I, s:s?, "
		      "s:o, s:b, s:I}",
		      "name", v->name, "kind", vps_kind_name(v->kind), "engine",
		      vps_engine_name(v->engine), "state", vps_state_name(v->state), "boot",
		      *v->boot ? v->boot : NULL, "template", v->template, "owner", v->owner, "ram",
		      (json_int_t)v->ram, "swap", (json_int_t)v->swap, "disk", (json_int_t)v->disk,
		      "cpus", v->cpus, "io_weight", v->io_weight, "bw", (json_int_t)v->bw,
		      "hostname", v->hostname, "ssh_keys", keys, "onboot", v->onboot, "created",
		      (json_int_t)v->created);
	if (j) {
		json_object_set_new(j, "pids", json_integer(v->pids));
		json_object_set_new(j, "features", vps_features_json(v->features));
		json_object_set_new(j, "io_read_bps", json_integer((json_int_t)v->io_read_bps));
		json_object_set_new(j, "io_write_bps", json_integer((json_int_t)v->io_write_bps));
		json_object_set_new(j, "io_read_iops", json_integer((json_int_t)v->io_read_iops));
		json_object_set_new(j, "io_write_iops", json_integer((json_int_t)v->io_write_iops));
	}
	if (j && v->iso)
		json_object_set_new(j, "iso", json_string(v->iso));
	if (j && *v->network) {
		json_object_set_new(j, "network", json_string(v->network));
		if (*v->mac)
			json_object_set_new(j, "mac", json_string(v->mac));
		if (*v->ipv4)
			json_object_set_new(j, "ipv4", json_string(v->ipv4));
		if (*v->ipv6)
			json_object_set_new(j, "ipv6", json_string(v->ipv6));
	}
	if (j)
		json_object_set_new(j, "suspended", json_boolean(v->suspended));
	if (j && v->last_exit >= 0)
		json_object_set_new(j, "last_exit", json_integer(v->last_exit));
	if (j && *v->node)
		json_object_set_new(j, "node", json_string(v->node));
	return j;
}
