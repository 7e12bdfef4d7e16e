// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Monitor configuration: flags -> JSON document -> struct vmm_config, then
 * validation. See config.h for the contract; docs/vmm.md lists the keys.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "vmm/config.h"

void config_init(struct vmm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->memory = 512ULL << 20;
	c->cpus = 1;
	c->serial = SERIAL_STDIO;
	c->ioeventfd = c->irqfd = c->net_offloads =
		true; /* io_uring stays off: docs/vmm.md, "The block path" */
}

void config_free(struct vmm_config *c)
{
	unsigned int i;

	free(c->kernel);
	free(c->initrd);
	free(c->cmdline);
	free(c->micro);
	free(c->firmware);
	free(c->vgabios);
	free(c->vnc);
	free(c->cdrom);
	free(c->serial_path);
	free(c->control);
	free(c->restore);
	free(c->snapshot_dir);
	free(c->migrate_listen);
	free(c->migrate_dir);
	for (i = 0; i < c->nr_disk; i++) {
		free(c->disk[i].path);
		free(c->disk[i].id);
	}
	for (i = 0; i < c->nr_net; i++)
		free(c->net[i].tap);
	config_init(c);
}

/* --- JSON -> struct --------------------------------------------------- */

static int get_string(json_t *v, const char *key, char **out, struct err **err)
{
	char *s;

	if (!json_is_string(v))
		return err_make(err, 0, "`%s`: expected a string", key);
	if (!json_string_length(v) || strlen(json_string_value(v)) != json_string_length(v))
		return err_make(err, 0, "`%s`: must be a non-empty string without NUL bytes", key);
	s = strdup(json_string_value(v));
	if (!s)
		return err_make(err, ENOMEM, "`%s`", key);
	free(*out);
	*out = s;
	return 0;
}

static int get_bool(json_t *v, const char *key, bool *out, struct err **err)
{
	if (!json_is_boolean(v))
		return err_make(err, 0, "`%s`: expected true or false", key);
	*out = json_is_true(v);
	return 0;
}

static int get_size(json_t *v, const char *key, uint64_t *out, struct err **err)
{
	if (json_is_integer(v) && json_integer_value(v) > 0) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && parse_size(json_string_value(v), out) == 0)
		return 0;
	return err_make(err, 0, "`%s`: expected a size such as 512M or a byte count", key);
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;
	int i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6 ||
	    strlen(s) != 17)
		return -EINVAL;
	for (i = 0; i < 6; i++)
		mac[i] = b[i];
	if (mac[0] & 1) /* multicast bit: not a station address */
		return -EINVAL;
	return 0;
}

/* A whole number 1..max, as JSON or as --disk's "queues=4". */
static int get_queues(json_t *v, const char *key, unsigned int max, unsigned int *out,
		      struct err **err)
{
	long long n = -1;
	char *end;

	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_string(v) && *json_string_value(v)) {
		errno = 0;
		n = strtoll(json_string_value(v), &end, 10);
		if (errno || *end)
			n = -1;
	}
	if (n < 1 || n > max)
		return err_make(err, 0, "`%s`: expected a whole number from 1 to %u", key, max);
	*out = n;
	return 0;
}

static int parse_disk(json_t *o, unsigned int idx, struct config_disk *d, struct err **err)
{
	const char *k;
	char key[64];
	json_t *v;
	int ret;

	if (!json_is_object(o))
		return err_make(err, 0, "`disk[%u]`: expected an object", idx);
	json_object_foreach(o, k, v)
	{
		snprintf(key, sizeof(key), "disk[%u].%s", idx, k);
		if (!strcmp(k, "path"))
			ret = get_string(v, key, &d->path, err);
		else if (!strcmp(k, "readonly"))
			ret = get_bool(v, key, &d->readonly, err);
		else if (!strcmp(k, "id"))
			ret = get_string(v, key, &d->id, err);
		else if (!strcmp(k, "queues"))
			ret = get_queues(v, key, CONFIG_DISK_QUEUES_MAX, &d->queues, err);
		else
			ret = err_make(err, 0,
				       "`%s`: unknown key (known: path, readonly, id, queues)",
				       key);
		if (ret < 0)
			return ret;
	}
	if (!d->path)
		return err_make(err, 0, "`disk[%u].path`: missing", idx);
	return 0;
}

static int parse_net(json_t *o, unsigned int idx, struct config_net *n, struct err **err)
{
	_cleanup_free_ char *mac = NULL;
	const char *k;
	char key[64];
	json_t *v;
	int ret;

	if (!json_is_object(o))
		return err_make(err, 0, "`net[%u]`: expected an object", idx);
	json_object_foreach(o, k, v)
	{
		snprintf(key, sizeof(key), "net[%u].%s", idx, k);
		if (!strcmp(k, "tap"))
			ret = get_string(v, key, &n->tap, err);
		else if (!strcmp(k, "mac"))
			ret = get_string(v, key, &mac, err);
		else if (!strcmp(k, "queues"))
			ret = get_queues(v, key, CONFIG_NET_QUEUES_MAX, &n->queues, err);
		else if (!strcmp(k, "vhost"))
			ret = get_bool(v, key, &n->vhost, err);
		else
			ret = err_make(err, 0, "`%s`: unknown key (known: tap, mac, queues, vhost)",
				       key);
		if (ret < 0)
			return ret;
	}
	if (!n->tap)
		return err_make(err, 0, "`net[%u].tap`: missing", idx);
	if (mac) {
		if (parse_mac(mac, n->mac) < 0)
			return err_make(err, 0, "`net[%u].mac`: `%s` is not a unicast MAC address",
					idx, mac);
		n->has_mac = true;
	}
	return 0;
}

static int parse_serial(json_t *v, struct vmm_config *c, struct err **err)
{
	_cleanup_free_ char *s = NULL;
	int ret = get_string(v, "serial", &s, err);

	if (ret < 0)
		return ret;
	free(c->serial_path);
	c->serial_path = NULL;
	if (!strcmp(s, "stdio")) {
		c->serial = SERIAL_STDIO;
	} else if (!strcmp(s, "pty")) {
		c->serial = SERIAL_PTY;
	} else if (!strcmp(s, "none")) {
		c->serial = SERIAL_NONE;
	} else if (!strncmp(s, "socket:", 7) && s[7]) {
		c->serial = SERIAL_SOCKET;
		c->serial_path = strdup(s + 7);
	} else if (!strncmp(s, "file:", 5) && s[5]) {
		c->serial = SERIAL_FILE;
		c->serial_path = strdup(s + 5);
	} else {
		return err_make(err, 0,
				"`serial`: `%s` is not stdio, pty, none, socket:PATH or file:PATH",
				s);
	}
	if ((c->serial == SERIAL_SOCKET || c->serial == SERIAL_FILE) && !c->serial_path)
		return err_make(err, ENOMEM, "`serial`");
	return 0;
}

static int parse_list(json_t *v, const char *key, unsigned int max, unsigned int *nr,
		      struct err **err)
{
	if (!json_is_array(v))
		return err_make(err, 0, "`%s`: expected an array", key);
	if (*nr + json_array_size(v) > max)
		return err_make(err, 0, "`%s`: at most %u entries", key, max);
	return 0;
}

/* A jail id: a JSON number, or the text of one from --jail; 1 to 2^32 - 2 (never root). */
static int get_id(json_t *v, const char *key, unsigned int *out, struct err **err)
{
	long long n = -1;
	char *end;

	if (json_is_integer(v))
		n = json_integer_value(v);
	else if (json_is_string(v) && *json_string_value(v)) {
		errno = 0;
		n = strtoll(json_string_value(v), &end, 10);
		if (errno || *end)
			n = -1;
	}
	if (n < 1 || n > 4294967294LL)
		return err_make(err, 0, "`%s`: expected a uid or gid from 1 to 4294967294", key);
	*out = (unsigned int)n;
	return 0;
}

/* "jail": {"uid": N, "gid": N}; gid defaults to uid. */
static int parse_jail(json_t *v, struct vmm_config *c, struct err **err)
{
	const char *k;
	json_t *x;
	int ret = 0;

	if (!json_is_object(v) || !json_object_get(v, "uid"))
		return err_make(err, 0, "`jail`: expected {\"uid\": N[, \"gid\": N]}");
	json_object_foreach(v, k, x)
	{
		if (!strcmp(k, "uid"))
			ret = get_id(x, "jail.uid", &c->jail_uid, err);
		else if (!strcmp(k, "gid"))
			ret = get_id(x, "jail.gid", &c->jail_gid, err);
		else
			ret = err_make(err, 0, "`jail.%s`: unknown key (uid, gid)", k);
		if (ret < 0)
			return ret;
	}
	if (!json_object_get(v, "gid"))
		c->jail_gid = c->jail_uid;
	c->jail = true;
	return 0;
}

int config_parse(struct vmm_config *c, const char *text, struct err **err)
{
	json_error_t jerr;
	const char *k;
	json_t *root, *v, *e;
	size_t i;
	int ret = 0;

	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return err_make(err, 0, "configuration: line %d column %d: %s", jerr.line,
				jerr.column, jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return err_make(err, 0, "configuration: expected a JSON object");
	}
	json_object_foreach(root, k, v)
	{
		if (!strcmp(k, "kernel")) {
			ret = get_string(v, k, &c->kernel, err);
		} else if (!strcmp(k, "initrd")) {
			ret = get_string(v, k, &c->initrd, err);
		} else if (!strcmp(k, "cmdline")) {
			ret = get_string(v, k, &c->cmdline, err);
		} else if (!strcmp(k, "firmware")) {
			ret = get_string(v, k, &c->firmware, err);
		} else if (!strcmp(k, "vgabios")) {
			ret = get_string(v, k, &c->vgabios, err);
		} else if (!strcmp(k, "vnc")) {
			ret = get_string(v, k, &c->vnc, err);
		} else if (!strcmp(k, "cdrom")) {
			ret = get_string(v, k, &c->cdrom, err);
		} else if (!strcmp(k, "micro")) {
			ret = get_string(v, k, &c->micro, err);
		} else if (!strcmp(k, "mode")) {
			if (json_is_string(v) && !strcmp(json_string_value(v), "real"))
				c->micro_long = false;
			else if (json_is_string(v) && !strcmp(json_string_value(v), "long"))
				c->micro_long = true;
			else
				ret = err_make(err, 0, "`mode`: expected \"real\" or \"long\"");
		} else if (!strcmp(k, "exit_port")) {
			ret = get_bool(v, k, &c->exit_port, err);
		} else if (!strcmp(k, "memory")) {
			ret = get_size(v, k, &c->memory, err);
		} else if (!strcmp(k, "display")) {
			ret = get_bool(v, k, &c->display, err);
		} else if (!strcmp(k, "reserve")) {
			ret = get_bool(v, k, &c->reserve, err);
		} else if (!strcmp(k, "ioeventfd")) {
			ret = get_bool(v, k, &c->ioeventfd, err);
		} else if (!strcmp(k, "irqfd")) {
			ret = get_bool(v, k, &c->irqfd, err);
		} else if (!strcmp(k, "net_offloads")) {
			ret = get_bool(v, k, &c->net_offloads, err);
		} else if (!strcmp(k, "io_uring")) {
			ret = get_bool(v, k, &c->io_uring, err);
		} else if (!strcmp(k, "cpus")) {
			if (json_is_integer(v) && json_integer_value(v) >= 1 &&
			    json_integer_value(v) <= CONFIG_MAX_CPUS)
				c->cpus = json_integer_value(v);
			else
				ret = err_make(err, 0,
					       "`cpus`: expected a whole number from 1 to %d",
					       CONFIG_MAX_CPUS);
		} else if (!strcmp(k, "disk")) {
			ret = parse_list(v, k, CONFIG_MAX_DISKS, &c->nr_disk, err);
			json_array_foreach(v, i, e)
			{
				if (ret < 0)
					break;
				ret = parse_disk(e, c->nr_disk, &c->disk[c->nr_disk], err);
				c->nr_disk++; /* counted even on error so config_free frees it */
			}
		} else if (!strcmp(k, "net")) {
			ret = parse_list(v, k, CONFIG_MAX_NETS, &c->nr_net, err);
			json_array_foreach(v, i, e)
			{
				if (ret < 0)
					break;
				ret = parse_net(e, c->nr_net, &c->net[c->nr_net], err);
				c->nr_net++;
			}
		} else if (!strcmp(k, "serial")) {
			ret = parse_serial(v, c, err);
		} else if (!strcmp(k, "control")) {
			ret = get_string(v, k, &c->control, err);
		} else if (!strcmp(k, "snapshot_dir")) {
			ret = get_string(v, k, &c->snapshot_dir, err);
		} else if (!strcmp(k, "restore")) {
			ret = get_string(v, k, &c->restore, err);
		} else if (!strcmp(k, "migrate_listen")) {
			ret = get_string(v, k, &c->migrate_listen, err);
		} else if (!strcmp(k, "migrate_dir")) {
			ret = get_string(v, k, &c->migrate_dir, err);
		} else if (!strcmp(k, "jail")) {
			ret = parse_jail(v, c, err);
		} else {
			ret = err_make(err, 0, "`%s`: unknown key", k);
		}
		if (ret < 0)
			break;
	}
	json_decref(root);
	return ret;
}

/* --- flags -> JSON ---------------------------------------------------- */

/* "k=v,k=v" (as in --disk path=x,readonly=on) into a JSON object. */
static int kv_to_object(const char *flag, const char *spec, const char *const *bools, json_t **out,
			struct err **err)
{
	_cleanup_free_ char *dup = strdup(spec);
	char *save = NULL, *tok;
	json_t *o;

	if (!dup)
		return err_make(err, ENOMEM, "%s", flag);
	o = json_object();
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const char *const *b;
		json_t *val;

		if (!eq || eq == tok) {
			json_decref(o);
			return err_make(err, 0, "%s: `%s` is not key=value", flag, tok);
		}
		*eq++ = '\0';
		val = NULL;
		for (b = bools; *b; b++) {
			if (strcmp(tok, *b))
				continue;
			if (!strcmp(eq, "on") || !strcmp(eq, "true"))
				val = json_true();
			else if (!strcmp(eq, "off") || !strcmp(eq, "false"))
				val = json_false();
			else {
				json_decref(o);
				return err_make(err, 0, "%s: `%s=%s`: expected on or off", flag,
						tok, eq);
			}
		}
		if (!val)
			val = json_string(eq);
		if (json_object_get(o, tok)) {
			json_decref(val);
			json_decref(o);
			return err_make(err, 0, "%s: `%s` given twice", flag, tok);
		}
		json_object_set_new(o, tok, val);
	}
	*out = o;
	return 0;
}

static int append(json_t *doc, const char *key, json_t *item)
{
	json_t *a = json_object_get(doc, key);

	if (!a) {
		a = json_array();
		json_object_set_new(doc, key, a);
	} else if (!json_is_array(a)) {
		json_decref(item);
		return -EINVAL;
	}
	return json_array_append_new(a, item) ? -ENOMEM : 0;
}

static const struct option vmm_longopts[] = {
	{ "kernel", required_argument, NULL, 'k' },
	{ "initrd", required_argument, NULL, 'i' },
	{ "cmdline", required_argument, NULL, 'c' },
	{ "memory", required_argument, NULL, 'm' },
	{ "cpus", required_argument, NULL, 'p' },
	{ "disk", required_argument, NULL, 'd' },
	{ "net", required_argument, NULL, 'n' },
	{ "serial", required_argument, NULL, 's' },
	{ "control", required_argument, NULL, 'C' },
	{ "restore", required_argument, NULL, 'S' },
	{ "snapshot-dir", required_argument, NULL, 'D' },
	{ "migrate-listen", required_argument, NULL, 'L' },
	{ "migrate-dir", required_argument, NULL, 'G' },
	{ "config", required_argument, NULL, 'f' },
	{ "micro", required_argument, NULL, 'u' },
	{ "firmware", required_argument, NULL, 'F' },
	{ "vgabios", required_argument, NULL, 'V' },
	{ "vnc", required_argument, NULL, 'W' },
	{ "cdrom", required_argument, NULL, 'K' },
	{ "mode", required_argument, NULL, 'M' },
	{ "exit-port", no_argument, NULL, 'x' },
	{ "reserve", no_argument, NULL, 'R' },
	{ "display", no_argument, NULL, 'Y' },
	{ "no-ioeventfd", no_argument, NULL, 'E' },
	{ "no-irqfd", no_argument, NULL, 'Q' },
	{ "no-net-offloads", no_argument, NULL, 'O' },
	{ "no-io-uring", no_argument, NULL, 'U' },
	{ "io-uring", no_argument, NULL, 'I' },
	{ "jail", required_argument, NULL, 'J' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* The JSON key of a string flag: the long option's own name. */
static const char *flag_key(int c)
{
	const struct option *o;

	for (o = vmm_longopts; o->name; o++)
		if (o->val == c)
			return o->name;
	return NULL;
}

static int load_config_file(const char *path, json_t **doc, struct err **err)
{
	json_error_t jerr;
	json_t *f = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);

	if (!f)
		return err_make(err, 0, "--config: `%s`: line %d column %d: %s", path, jerr.line,
				jerr.column, jerr.text);
	if (!json_is_object(f)) {
		json_decref(f);
		return err_make(err, 0, "--config: `%s`: expected a JSON object", path);
	}
	*doc = f;
	return 0;
}

int config_from_argv(int argc, char **argv, char **json_out, struct err **err)
{
	static const char *const disk_bools[] = { "readonly", NULL };
	static const char *const no_bools[] = { NULL };
	static const char *const net_bools[] = { "vhost", NULL };
	json_t *doc = NULL, *item;
	int c, i, ret = 0;
	char *end;
	long n;

	/* The file first, so flags apply over it wherever --config stands. */
	for (i = 1; i < argc; i++) {
		const char *path = NULL;

		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			path = argv[i + 1];
		else if (!strncmp(argv[i], "--config=", 9))
			path = argv[i] + 9;
		if (!path)
			continue;
		if (doc) {
			json_decref(doc);
			return err_make(err, 0, "--config: given more than once");
		}
		ret = load_config_file(path, &doc, err);
		if (ret < 0)
			return ret;
	}
	if (!doc)
		doc = json_object();

	optind = 1;
	opterr = 0;
	while (ret == 0 && (c = getopt_long(argc, argv, ":h", vmm_longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
		case 'i':
		case 'c':
		case 'm':
		case 's':
		case 'C':
		case 'S':
		case 'u':
		case 'F':
		case 'V':
		case 'W':
		case 'K':
			json_object_set_new(doc, flag_key(c), json_string(optarg));
			break;
		case 'D':
			json_object_set_new(doc, "snapshot_dir", json_string(optarg));
			break;
		case 'L':
			json_object_set_new(doc, "migrate_listen", json_string(optarg));
			break;
		case 'G':
			json_object_set_new(doc, "migrate_dir", json_string(optarg));
			break;
		case 'M':
			json_object_set_new(doc, flag_key(c), json_string(optarg));
			break;
		case 'p':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end)
				ret = err_make(err, 0, "--cpus: `%s` is not a whole number",
					       optarg);
			else
				json_object_set_new(doc, "cpus", json_integer(n));
			break;
		case 'x':
			json_object_set_new(doc, "exit_port", json_true());
			break;
		case 'R':
			json_object_set_new(doc, "reserve", json_true());
			break;
		case 'Y':
			json_object_set_new(doc, "display", json_true());
			break;
		case 'E':
			json_object_set_new(doc, "ioeventfd", json_false());
			break;
		case 'Q':
			json_object_set_new(doc, "irqfd", json_false());
			break;
		case 'O':
			json_object_set_new(doc, "net_offloads", json_false());
			break;
		case 'U':
		case 'I':
			json_object_set_new(doc, "io_uring", c == 'I' ? json_true() : json_false());
			break;
		case 'd':
		case 'n':
			ret = kv_to_object(c == 'd' ? "--disk" : "--net", optarg,
					   c == 'd' ? disk_bools : net_bools, &item, err);
			if (ret == 0 && append(doc, c == 'd' ? "disk" : "net", item) < 0)
				ret = err_make(err, 0, "`%s` in --config is not an array",
					       c == 'd' ? "disk" : "net");
			break;
		case 'J':
			ret = kv_to_object("--jail", optarg, no_bools, &item, err);
			if (ret == 0)
				json_object_set_new(doc, "jail", item);
			break;
		case 'f':
			break;
		case 'h':
			ret = err_make(err, 0, "help");
			break;
		case ':':
			ret = err_make(err, 0, "`%s` needs a value", argv[optind - 1]);
			break;
		default:
			ret = err_make(err, 0, "unknown option `%s`", argv[optind - 1]);
			break;
		}
	}
	if (ret == 0 && optind < argc)
		ret = err_make(err, 0, "unexpected argument `%s`", argv[optind]);
	if (ret == 0) {
		*json_out = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
		if (!*json_out)
			ret = err_make(err, ENOMEM, "configuration");
	}
	json_decref(doc);
	return ret;
}

/* --- whole-document checks -------------------------------------------- */

int config_validate(const struct vmm_config *c, struct err **err)
{
	unsigned int i, j;

	if (!!c->kernel + !!c->micro + !!c->firmware != 1)
		return err_make(err, 0,
				"exactly one of `kernel`, `firmware` and `micro` is required");
	if (c->firmware && (c->initrd || c->cmdline || c->exit_port))
		return err_make(err, 0, "`firmware`: takes no initrd, cmdline or exit_port");
	if (c->vgabios && !c->firmware)
		return err_make(err, 0, "`vgabios`: only with `firmware`");
	if (c->display && !c->kernel)
		return err_make(err, 0,
				"`display`: only with `kernel` (firmware boot has "
				"one with `vgabios`)");
	if (c->vnc && !c->vgabios && !c->display)
		return err_make(err, 0,
				"`vnc`: only with a display (`firmware` and `vgabios`, or "
				"`kernel` and `display`)");
	if (c->display && (c->restore || c->migrate_listen))
		return err_make(err, 0, "`display`: no snapshots or migration yet");
	if (c->cdrom && !c->firmware)
		return err_make(err, 0, "`cdrom`: only with `firmware`");
	if (c->firmware && c->memory < (16ULL << 20))
		return err_make(err, 0, "`memory`: firmware boot needs at least 16M");
	if (c->micro && (c->initrd || c->cmdline))
		return err_make(err, 0, "`micro`: takes no initrd or cmdline");
	if (c->kernel && (c->exit_port))
		return err_make(err, 0, "`exit_port`: only for micro-guests");
	if (c->memory < (2ULL << 20) || c->memory > (1ULL << 40) || c->memory % 4096)
		return err_make(err, 0, "`memory`: must be whole pages from 2M to 1T");
	if (c->kernel && c->memory < (16ULL << 20))
		return err_make(err, 0, "`memory`: Linux needs at least 16M");
	/* Micro-guests have no RAM hole: above 3G the PCI window would sit in RAM. */
	if (c->micro && c->memory > (3ULL << 30))
		return err_make(err, 0, "`memory`: micro-guests get at most 3G");
	if (c->micro && c->cpus != 1)
		return err_make(err, 0, "`cpus`: micro-guests run on one vCPU");
	if (c->firmware && (c->restore || c->migrate_listen))
		return err_make(err, 0, "`firmware`: no snapshots or migration yet");
	if (c->migrate_listen && c->restore)
		return err_make(err, 0, "`migrate_listen` and `restore`: one source of state only");
	for (i = 0; i < c->nr_disk; i++) {
		if (c->disk[i].id && strlen(c->disk[i].id) > CONFIG_ID_MAX)
			return err_make(err, 0, "`disk[%u].id`: at most %d characters", i,
					CONFIG_ID_MAX);
		for (j = 0; j < i; j++)
			if (c->disk[i].id && c->disk[j].id && !strcmp(c->disk[i].id, c->disk[j].id))
				return err_make(err, 0, "`disk[%u].id`: `%s` is used by disk[%u]",
						i, c->disk[i].id, j);
	}
	for (i = 0; i < c->nr_net; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(c->net[i].tap, c->net[j].tap))
				return err_make(err, 0, "`net[%u].tap`: `%s` is used by net[%u]", i,
						c->net[i].tap, j);
	return 0;
}
