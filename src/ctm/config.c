// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The container's settings: JSON -> struct ctm_config, every key checked.
 * The table below is the list of keys; docs/ctm.md has the same list for
 * people.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "sys/net.h"
#include "ctm/config.h"

void ctm_config_init(struct ctm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->init = CTM_INIT_AUTO;
	c->disk_size = 1ULL << 30;
	c->disk_alloc = SYS_DISK_THIN;
	c->memory = 256ULL << 20;
	c->cpu_weight = 100;
	c->uid_base = 100000;
	c->uid_size = 65536;
	c->sysinfo = true;
	c->stop_timeout = 30;
	c->pids = CTM_DEFAULT_PIDS;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
}

void ctm_config_free(struct ctm_config *c)
{
	free(c->name);
	free(c->dir);
	free(c->run_dir);
	free(c->template);
	free(c->clone_disk);
	free(c->template_dir);
	free(c->rescue_dir);
	free(c->hostname);
	free(c->root_password);
	free_list(c->ssh_keys, c->nr_ssh_keys);
	free(c->net.bridge);
	free(c->net.host_ifname);
	free(c->net.ipv4);
	free(c->net.gw4);
	free(c->net.ipv6);
	free(c->net.gw6);
	free_list(c->net.nameservers, c->net.nr_nameservers);
	free(c->lxcfs);
	ctm_config_init(c);
}

/* --- typed getters; `key` is the full JSON path for messages ---------- */

static int get_str(json_t *v, const char *key, bool empty_ok, char **out, struct err **err)
{
	const char *s;

	if (!json_is_string(v))
		return err_make(err, 0, "`%s`: expected a string", key);
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return err_make(err, 0, "`%s`: contains a NUL byte", key);
	if (!empty_ok && !*s)
		return err_make(err, 0, "`%s`: must not be empty", key);
	free(*out);
	if (!(*out = strdup(s)))
		return err_make(err, ENOMEM, "`%s`", key);
	return 0;
}

static int get_size(json_t *v, const char *key, uint64_t *out, struct err **err)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && parse_size(json_string_value(v), out) == 0)
		return 0;
	return err_make(err, 0, "`%s`: expected a size such as 512M or 2G", key);
}

static int get_uint(json_t *v, const char *key, int64_t lo, int64_t hi, int64_t *out,
		    struct err **err)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return err_make(err, 0, "`%s`: expected an integer from %lld to %lld", key,
				(long long)lo, (long long)hi);
	*out = json_integer_value(v);
	return 0;
}

static int get_bool(json_t *v, const char *key, bool *out, struct err **err)
{
	if (!json_is_boolean(v))
		return err_make(err, 0, "`%s`: expected true or false", key);
	*out = json_is_true(v);
	return 0;
}

static int get_list(json_t *v, const char *key, char **out, size_t *n, struct err **err)
{
	size_t i;
	json_t *e;
	char k[64];

	if (!json_is_array(v))
		return err_make(err, 0, "`%s`: expected a list of strings", key);
	if (json_array_size(v) > CTM_MAX_LIST)
		return err_make(err, 0, "`%s`: at most %d entries", key, CTM_MAX_LIST);
	free_list(out, *n);
	*n = 0;
	json_array_foreach(v, i, e)
	{
		snprintf(k, sizeof(k), "%s[%zu]", key, i);
		out[i] = NULL;
		if (get_str(e, k, false, &out[i], err) < 0)
			return -EINVAL;
		*n = i + 1;
		if (strpbrk(out[i], "\n\r"))
			return err_make(err, 0, "`%s`: must be one line", k);
	}
	return 0;
}

static int check_name(const char *s, struct err **err)
{
	size_t n = strlen(s);

	if (n > 32 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')) ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
		return err_make(
			err, 0,
			"`name`: `%s` must be 1-32 of a-z, 0-9 and -, starting with a letter or digit",
			s);
	return 0;
}

static int check_abs(const char *key, const char *s, struct err **err)
{
	if (s[0] != '/' || strstr(s, "/../") || strstr(s, "//") ||
	    (strlen(s) >= 3 && !strcmp(s + strlen(s) - 3, "/..")))
		return err_make(err, 0, "`%s`: `%s` must be an absolute, normal path", key, s);
	return 0;
}

static int check_cidr(const char *key, const char *s, int want, bool cidr, struct err **err)
{
	uint8_t a[16];
	unsigned int len;
	int fam;

	if (sys_net_parse_addr(s, &fam, a, cidr ? &len : NULL, err) < 0)
		return err_wrap(err, "`%s`", key);
	if (fam != want)
		return err_make(err, 0, "`%s`: `%s` is not an IPv%d address", key, s,
				want == AF_INET ? 4 : 6);
	return 0;
}

static int parse_net(struct ctm_net *n, json_t *o, struct err **err)
{
	const char *k;
	json_t *v;
	char key[64];
	int r = 0;

	if (!json_is_object(o))
		return err_make(err, 0, "`net`: expected an object");
	json_object_foreach(o, k, v)
	{
		snprintf(key, sizeof(key), "net.%s", k);
		if (!strcmp(k, "bridge"))
			r = get_str(v, key, false, &n->bridge, err);
		else if (!strcmp(k, "host_ifname"))
			r = get_str(v, key, false, &n->host_ifname, err);
		else if (!strcmp(k, "mac")) {
			unsigned int b[6];
			char end;

			if (!json_is_string(v) ||
			    sscanf(json_string_value(v), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1],
				   &b[2], &b[3], &b[4], &b[5], &end) != 6 ||
			    (b[0] & 1))
				return err_make(
					err, 0,
					"`%s`: expected a unicast MAC such as 02:00:00:00:00:01",
					key);
			for (int i = 0; i < 6; i++)
				n->mac[i] = b[i];
			n->has_mac = true;
		} else if (!strcmp(k, "ipv4"))
			r = get_str(v, key, false, &n->ipv4, err);
		else if (!strcmp(k, "gw4"))
			r = get_str(v, key, false, &n->gw4, err);
		else if (!strcmp(k, "ipv6"))
			r = get_str(v, key, false, &n->ipv6, err);
		else if (!strcmp(k, "gw6"))
			r = get_str(v, key, false, &n->gw6, err);
		else if (!strcmp(k, "nameservers"))
			r = get_list(v, key, n->nameservers, &n->nr_nameservers, err);
		else if (!strcmp(k, "mtu")) {
			int64_t x = 0;

			r = get_uint(v, key, 68, 65535, &x, err);
			n->mtu = (unsigned int)x;
		} else
			return err_make(err, 0, "`%s`: unknown key", key);
		if (r < 0)
			return r;
	}
	if (!n->bridge && (n->ipv4 || n->ipv6 || n->host_ifname || n->has_mac))
		return err_make(err, 0, "`net.bridge`: required with addresses or interface names");
	if ((n->ipv4 && check_cidr("net.ipv4", n->ipv4, AF_INET, true, err) < 0) ||
	    (n->gw4 && check_cidr("net.gw4", n->gw4, AF_INET, false, err) < 0) ||
	    (n->ipv6 && check_cidr("net.ipv6", n->ipv6, AF_INET6, true, err) < 0) ||
	    (n->gw6 && check_cidr("net.gw6", n->gw6, AF_INET6, false, err) < 0))
		return -EINVAL;
	if (n->gw4 && !n->ipv4)
		return err_make(err, 0, "`net.gw4`: needs `net.ipv4`");
	if (n->gw6 && !n->ipv6)
		return err_make(err, 0, "`net.gw6`: needs `net.ipv6`");
	for (size_t i = 0; i < n->nr_nameservers; i++) {
		uint8_t a[16];
		int fam;

		if (sys_net_parse_addr(n->nameservers[i], &fam, a, NULL, err) < 0)
			return err_wrap(err, "`net.nameservers[%zu]`", i);
	}
	if ((n->bridge && sys_net_check_ifname(n->bridge, err) < 0) ||
	    (n->host_ifname && sys_net_check_ifname(n->host_ifname, err) < 0))
		return err_wrap(err, "`net`");
	return 0;
}

static int parse_key(struct ctm_config *c, const char *k, json_t *v, struct err **err)
{
	int64_t x = 0;
	int r;

	if (!strcmp(k, "name"))
		return get_str(v, k, false, &c->name, err);
	if (!strcmp(k, "dir"))
		return get_str(v, k, false, &c->dir, err);
	if (!strcmp(k, "run_dir"))
		return get_str(v, k, false, &c->run_dir, err);
	if (!strcmp(k, "template"))
		return get_str(v, k, false, &c->template, err);
	if (!strcmp(k, "clone_disk"))
		return get_str(v, k, false, &c->clone_disk, err);
	if (!strcmp(k, "clone_uid_base")) {
		r = get_uint(v, k, 1, 0xfffeffff, &x, err);
		c->clone_uid_base = (uint32_t)x;
		return r;
	}
	if (!strcmp(k, "template_dir"))
		return get_str(v, k, false, &c->template_dir, err);
	if (!strcmp(k, "rescue_dir"))
		return get_str(v, k, false, &c->rescue_dir, err);
	if (!strcmp(k, "hostname"))
		return get_str(v, k, false, &c->hostname, err);
	if (!strcmp(k, "root_password"))
		return get_str(v, k, false, &c->root_password, err);
	if (!strcmp(k, "lxcfs"))
		return get_str(v, k, true, &c->lxcfs, err);
	if (!strcmp(k, "ssh_keys"))
		return get_list(v, k, c->ssh_keys, &c->nr_ssh_keys, err);
	if (!strcmp(k, "net"))
		return parse_net(&c->net, v, err);
	if (!strcmp(k, "tun"))
		return get_bool(v, k, &c->tun, err);
	if (!strcmp(k, "fuse"))
		return get_bool(v, k, &c->fuse, err);
	if (!strcmp(k, "nesting"))
		return get_bool(v, k, &c->nesting, err);
	if (!strcmp(k, "sysinfo"))
		return get_bool(v, k, &c->sysinfo, err);
	if (!strcmp(k, "memory"))
		return get_size(v, k, &c->memory, err);
	if (!strcmp(k, "swap"))
		return get_size(v, k, &c->swap, err);
	if (!strcmp(k, "disk"))
		return get_size(v, k, &c->disk_size, err);
	if (!strcmp(k, "init")) {
		if (json_is_string(v) && !strcmp(json_string_value(v), "auto"))
			c->init = CTM_INIT_AUTO;
		else if (json_is_string(v) && !strcmp(json_string_value(v), "systemd"))
			c->init = CTM_INIT_SYSTEMD;
		else if (json_is_string(v) && !strcmp(json_string_value(v), "busybox"))
			c->init = CTM_INIT_BUSYBOX;
		else
			return err_make(err, 0,
					"`init`: expected \"auto\", \"systemd\" or \"busybox\"");
		return 0;
	}
	if (!strcmp(k, "storage")) {
		if (json_is_string(v) && !strcmp(json_string_value(v), "image"))
			c->storage = CTM_STORAGE_IMAGE;
		else if (json_is_string(v) && !strcmp(json_string_value(v), "layered"))
			c->storage = CTM_STORAGE_LAYERED;
		else
			return err_make(err, 0, "`storage`: expected \"image\" or \"layered\"");
		return 0;
	}
	if (!strcmp(k, "disk_alloc")) {
		if (json_is_string(v) && !strcmp(json_string_value(v), "thin"))
			c->disk_alloc = SYS_DISK_THIN;
		else if (json_is_string(v) && !strcmp(json_string_value(v), "reserve"))
			c->disk_alloc = SYS_DISK_RESERVE;
		else
			return err_make(err, 0, "`disk_alloc`: expected \"thin\" or \"reserve\"");
		return 0;
	}
	if (!strcmp(k, "cpus")) {
		if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1024 ||
		    isnan(json_number_value(v)))
			return err_make(err, 0,
					"`cpus`: expected a number of cores from 0 to 1024");
		c->cpus = json_number_value(v);
		return 0;
	}
	if (!strcmp(k, "cpu_weight")) {
		r = get_uint(v, k, 1, 10000, &x, err);
		c->cpu_weight = (unsigned int)x;
		return r;
	}
	if (!strcmp(k, "io_read_bps"))
		return get_size(v, k, &c->io_read_bps, err);
	if (!strcmp(k, "io_write_bps"))
		return get_size(v, k, &c->io_write_bps, err);
	if (!strcmp(k, "io_read_iops") || !strcmp(k, "io_write_iops")) {
		r = get_uint(v, k, 0, 1000000000, &x, err);
		*(!strcmp(k, "io_read_iops") ? &c->io_read_iops : &c->io_write_iops) = x;
		return r;
	}
	if (!strcmp(k, "io_weight")) {
		r = get_uint(v, k, 10, 1000, &x, err);
		c->io_weight = (unsigned int)x;
		return r;
	}
	if (!strcmp(k, "pids"))
		return get_uint(v, k, 0, 4194304, &c->pids, err);
	if (!strcmp(k, "uid_base")) {
		r = get_uint(v, k, 1, 0xfffeffff, &x, err);
		c->uid_base = (uint32_t)x;
		return r;
	}
	if (!strcmp(k, "uid_size")) {
		r = get_uint(v, k, 1000, 65536 * 16, &x, err);
		c->uid_size = (uint32_t)x;
		return r;
	}
	if (!strcmp(k, "stop_timeout")) {
		r = get_uint(v, k, 1, 3600, &x, err);
		c->stop_timeout = (unsigned int)x;
		return r;
	}
	return err_make(err, 0, "`%s`: unknown key", k);
}

int ctm_config_from_json(struct ctm_config *c, json_t *j, struct err **err)
{
	const char *k;
	json_t *v;
	int r;

	if (!json_is_object(j))
		return err_make(err, 0, "expected a JSON object");
	json_object_foreach(j, k, v) if ((r = parse_key(c, k, v, err)) < 0) return r;
	if (!c->name)
		return err_make(err, 0, "`name`: required");
	if (!c->dir)
		return err_make(err, 0, "`dir`: required");
	if ((r = check_name(c->name, err)) < 0 || (r = check_abs("dir", c->dir, err)) < 0 ||
	    (c->run_dir && (r = check_abs("run_dir", c->run_dir, err)) < 0) ||
	    (c->template && (r = check_abs("template", c->template, err)) < 0) ||
	    (c->clone_disk && (r = check_abs("clone_disk", c->clone_disk, err)) < 0) ||
	    (c->template_dir && (r = check_abs("template_dir", c->template_dir, err)) < 0) ||
	    (c->rescue_dir && (r = check_abs("rescue_dir", c->rescue_dir, err)) < 0) ||
	    (c->lxcfs && *c->lxcfs && (r = check_abs("lxcfs", c->lxcfs, err)) < 0))
		return r;
	if (c->rescue_dir && !strcmp(c->rescue_dir, c->dir))
		return err_make(err, 0, "`rescue_dir`: must not be `dir`");
	if (c->hostname && sys_net_check_hostname(c->hostname, err) < 0)
		return err_wrap(err, "`hostname`");
	if (c->memory < (16ULL << 20))
		return err_make(err, 0, "`memory`: at least 16M");
	if ((r = sys_disk_check_size(c->disk_size, err)) < 0)
		return err_wrap(err, "`disk`");
	if ((uint64_t)c->uid_base + c->uid_size > 0xffffffffULL)
		return err_make(err, 0, "`uid_size`: uid_base + uid_size passes 2^32 - 1");
	for (size_t i = 0; i < c->nr_ssh_keys; i++)
		if (strncmp(c->ssh_keys[i], "ssh-", 4) && strncmp(c->ssh_keys[i], "ecdsa-", 6) &&
		    strncmp(c->ssh_keys[i], "sk-", 3))
			return err_make(err, 0, "`ssh_keys[%zu]`: not an OpenSSH public key", i);
	if (!c->run_dir && asprintf(&c->run_dir, "/run/vps/ct/%s", c->name) < 0)
		return err_make(err, ENOMEM, "run_dir");
	if (!c->hostname && !(c->hostname = strdup(c->name)))
		return err_make(err, ENOMEM, "hostname");
	if (!c->template_dir && !(c->template_dir = strdup("/var/lib/vps/templates")))
		return err_make(err, ENOMEM, "template_dir");
	if (!c->lxcfs && !(c->lxcfs = strdup("/var/lib/lxcfs")))
		return err_make(err, ENOMEM, "lxcfs");
	if (c->net.bridge && !c->net.host_ifname &&
	    asprintf(&c->net.host_ifname, "vps-%.11s", c->name) < 0)
		return err_make(err, ENOMEM, "net.host_ifname");
	return 0;
}

int ctm_config_load(struct ctm_config *c, const char *path, struct err **err)
{
	json_error_t je;
	json_t *j;
	int r;

	j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return err_make(err, 0, "`%s`: line %d: %s", path, je.line, je.text);
	r = ctm_config_from_json(c, j, err);
	json_decref(j);
	return r < 0 ? err_wrap(err, "`%s`", path) : 0;
}

char *ctm_path(const struct ctm_config *c, bool run, const char *leaf)
{
	char *p;

	if (asprintf(&p, "%s/%s", run ? c->run_dir : c->dir, leaf) < 0)
		return NULL;
	return p;
}

char *ctm_boot_root(const struct ctm_config *c)
{
	char *p;

	if (!c->rescue_dir)
		return ctm_path(c, false, "rootfs");
	if (asprintf(&p, "%s/rootfs", c->rescue_dir) < 0)
		return NULL;
	return p;
}
