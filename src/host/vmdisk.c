// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A VM's cloud-init NoCloud seed, for the `vm` kind (kind_vm.c; its disk
 * copies and swap disk are src/sys/image.c). It carries the VPS's identity
 * (hostname, root password hash, SSH keys, nameservers) to the guest: an
 * ISO 9660 image labelled cidata, built here
 * in user space with xorriso and attached read-only. The host never mounts,
 * parses or writes the guest's own filesystem: the customer is root in it
 * (docs/security.md, "VM first-boot configuration").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "common/cleanup.h"
#include "common/testpoint.h"
#include "common/util.h"
#include "host/vmdisk.h"
#include "sys/passwd.h"
#include "sys/spawn.h"

/* --- the NoCloud seed ------------------------------------------------------ */

/*
 * The seed's user-data: #cloud-config, then one JSON document (YAML 1.1
 * reads JSON, and jansson's escaping leaves no quoting to get wrong with a
 * hostname or a key the customer chose). Caller frees.
 */
static char *user_data(const struct vps *v, const char *hash, const char *resolv, bool old)
{
	const char *name = v->hostname && *v->hostname ? v->hostname : v->name;
	json_t *keys = json_array(), *j;
	char *body, *text = NULL;

	for (unsigned int i = 0; keys && i < v->nr_ssh_keys; i++)
		json_array_append_new(keys, json_string(v->ssh_keys[i]));
	/* ssh_pwauth is not set: sshd keeps Debian's default (root by key only) */
	j = json_pack("{s:s, s:s, s:b, s:o}", "hostname", name, "fqdn", name, "manage_etc_hosts", 1,
		      "ssh_authorized_keys", keys);
	/*
	 * A new instance (a clone's first boot; a seed made again) is a new
	 * machine: cloud-init makes new SSH host keys per instance by itself,
	 * and this makes a new machine-id, once per instance-id. `rm` fails on
	 * the first boot of a fresh image, where systemd has bind-mounted a new
	 * id over an empty file: that one is new already.
	 */
	if (j)
		json_object_set_new(
			j, "bootcmd",
			json_pack("[[s, s, s, s, s, s]]", "cloud-init-per", "instance",
				  "vps-machine-id", "sh", "-c",
				  "rm /etc/machine-id && rm -f /var/lib/dbus/machine-id && "
				  "systemd-machine-id-setup"));
	/*
	 * NULL: root's password stays as the template has it (none). A hash in
	 * `list` is told from a clear password by its `$6$` form.
	 */
	if (j && hash && old)
		json_object_set_new(j, "chpasswd",
				    json_pack("{s:b, s:[s+]}", "expire", 0, "list", "root:", hash));
	else if (j && hash)
		json_object_set_new(j, "chpasswd",
				    json_pack("{s:b, s:[{s:s, s:s, s:s}]}", "expire", 0, "users",
					      "name", "root", "password", hash, "type", "hash"));
	if (j && resolv)
		json_object_set_new(j, "write_files",
				    json_pack("[{s:s, s:s, s:s, s:s}]", "path", "/etc/resolv.conf",
					      "content", resolv, "owner", "root:root",
					      "permissions", "0644"));
	body = j ? json_dumps(j, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	if (body && asprintf(&text, "#cloud-config\n%s\n", body) < 0)
		text = NULL;
	free(body);
	return text;
}

/* --- the customer's own user-data ------------------------------------------ */

/* What cloud-init recognises by a part's first line (its "starts with" table). */
static const char *const user_data_kinds[] = {
	"#cloud-config\n",
	"#cloud-config\r\n",
	"#!",
	"#include\n",
	"#include\r\n",
	"#include-once",
	"#cloud-boothook",
	"#part-handler",
	"#cloud-config-archive",
	"## template: jinja",
	"Content-Type: multipart/",
	NULL,
};

int vmdisk_user_data_check(const char *text, size_t len, struct err **err)
{
	if (!len)
		return err_make(err, EINVAL, "`user_data`: empty");
	if (len > VMDISK_USER_DATA_MAX)
		return err_make(err, EINVAL, "`user_data`: %zu bytes, more than the %d allowed",
				len, VMDISK_USER_DATA_MAX);
	if (memchr(text, '\0', len))
		return err_make(err, EINVAL, "`user_data`: a NUL byte; it must be text");
	for (const char *const *k = user_data_kinds; *k; k++)
		if (!strncmp(text, *k, strlen(*k)))
			return 0;
	return err_make(err, EINVAL,
			"`user_data`: its first line must say what it is, as cloud-init reads "
			"it: #cloud-config, #!interpreter, #include, #cloud-boothook, "
			"#part-handler, #cloud-config-archive, ## template: jinja or a MIME "
			"multipart (Content-Type: multipart/...)");
}

int vmdisk_user_data_put(const char *dir, const char *text, struct err **err)
{
	_cleanup_free_ char *tmp = NULL, *path = NULL;
	_cleanup_close_ int fd = -1;

	if (asprintf(&tmp, "%s/user-data.tmp", dir) < 0 || asprintf(&path, "%s/user-data", dir) < 0)
		return err_make(err, ENOMEM, "user-data");
	if (!text) {
		unlink(path);
		return 0;
	}
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0 ||
	    rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		return err_make(err, e, "write `%s`", path);
	}
	return 0;
}

char *vmdisk_user_data_get(const char *dir)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	char *text;
	struct stat st;
	ssize_t n;

	if (asprintf(&path, "%s/user-data", dir) < 0 ||
	    (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_size > VMDISK_USER_DATA_MAX ||
	    !(text = malloc(st.st_size + 1)))
		return NULL;
	n = pread(fd, text, st.st_size, 0);
	if (n != st.st_size) {
		free(text);
		return NULL;
	}
	text[n] = '\0';
	return text;
}

/*
 * Ours and theirs in one MIME multipart message, ours first, each part
 * typed by its first line (text/x-not-multipart: cloud-init looks). The
 * boundary is random and checked absent from their text. Caller frees.
 */
static char *multipart(const char *ours, const char *theirs)
{
	unsigned char rnd[16];
	char b[4 + 32 + 1] = "vps-", *text = NULL;

	do {
		randombytes_buf(rnd, sizeof(rnd));
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(b + 4 + 2 * i, 3, "%02x", rnd[i]);
	} while (strstr(theirs, b));
	if (asprintf(&text,
		     "Content-Type: multipart/mixed; boundary=\"%s\"\n"
		     "MIME-Version: 1.0\n\n"
		     "--%s\n"
		     "Content-Type: text/cloud-config; charset=\"us-ascii\"\n"
		     "Content-Disposition: attachment; filename=\"vps.cfg\"\n\n"
		     "%s\n"
		     "--%s\n"
		     "Content-Type: text/x-not-multipart; charset=\"utf-8\"\n"
		     "Content-Disposition: attachment; filename=\"user-data\"\n\n"
		     "%s\n"
		     "--%s--\n",
		     b, b, ours, b, theirs, b) < 0)
		return NULL;
	return text;
}

/* meta-data: the instance-id is a digest of user-data, so a new one is a new instance. */
static char *meta_data(const struct vps *v, const char *ud)
{
	const char *name = v->hostname && *v->hostname ? v->hostname : v->name;
	unsigned char d[crypto_hash_sha256_BYTES];
	char id[4 + 16 + 1] = "vps-", *text;
	json_t *j;

	crypto_hash_sha256(d, (const unsigned char *)ud, strlen(ud));
	for (int i = 0; i < 8; i++)
		snprintf(id + 4 + 2 * i, 3, "%02x", d[i]);
	j = json_pack("{s:s, s:s}", "instance-id", id, "local-hostname", name);
	text = j ? json_dumps(j, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	return text;
}

/*
 * network-config, version 2 (JSON, which YAML reads): the VPS's addresses,
 * default routes and nameservers on the interface with its MAC, for an
 * image without the template's vps-net (an imported one). Our templates
 * turn cloud-init's network rendering off and read the kernel command line
 * instead. NULL: not on a network. Caller frees.
 */
static char *network_config(const json_t *net)
{
	const char *mac = json_string_value(json_object_get(net, "mac"));
	const char *keys[][2] = { { "ipv4", "gw4" }, { "ipv6", "gw6" } };
	json_t *addrs, *routes, *eth, *j;
	char *text;

	if (!mac || (!json_object_get(net, "ipv4") && !json_object_get(net, "ipv6")))
		return NULL;
	addrs = json_array();
	routes = json_array();
	for (size_t i = 0; i < 2; i++) {
		json_t *a = json_object_get(net, keys[i][0]),
		       *gw = json_object_get(net, keys[i][1]);

		if (json_is_string(a))
			json_array_append(addrs, a);
		if (json_is_string(a) && json_is_string(gw))
			json_array_append_new(routes,
					      json_pack("{s:s, s:O}", "to",
							i ? "::/0" : "0.0.0.0/0", "via", gw));
	}
	eth = json_pack("{s:{s:s}, s:b, s:b, s:o, s:o}", "match", "macaddress", mac, "dhcp4", 0,
			"dhcp6", 0, "addresses", addrs, "routes", routes);
	if (eth && json_array_size(json_object_get(net, "nameservers")))
		json_object_set_new(eth, "nameservers",
				    json_pack("{s:O}", "addresses",
					      json_object_get(net, "nameservers")));
	j = eth ? json_pack("{s:i, s:{s:o}}", "version", 2, "ethernets", "vps0", eth) : NULL;
	text = j ? json_dumps(j, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	return text;
}

static int put(int dirfd, const char *leaf, const char *text, struct err **err)
{
	_cleanup_close_ int fd =
		openat(dirfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0 || write_all(fd, text, strlen(text)) < 0)
		return err_make(err, errno, "write the seed's `%s`", leaf);
	return 0;
}

/* Remove DIR/.seed, where a seed is staged (left by a crash, or after a build). */
static void unstage(const char *dir)
{
	_cleanup_free_ char *stage = NULL;
	_cleanup_close_ int fd = -1;

	if (asprintf(&stage, "%s/.seed", dir) < 0)
		return;
	fd = open(stage, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		for (const char *const *f = (const char *const[]){ "user-data", "meta-data",
								   "network-config", NULL };
		     *f; f++)
			unlinkat(fd, *f, 0);
	rmdir(stage);
}

int vmdisk_seed(const char *dir, const struct vps *v, const char *password, const char *resolv,
		const json_t *net, bool old_cloud_init, struct err **err)
{
	_cleanup_free_ char *hash = NULL, *ud = NULL, *md = NULL,
			    *theirs = vmdisk_user_data_get(dir);
	_cleanup_free_ char *nc = net ? network_config(net) : NULL;
	_cleanup_free_ char *stage = NULL, *tmp = NULL, *iso = NULL;
	_cleanup_close_ int sfd = -1, ifd = -1;
	int r;

	if (password && (r = sys_hash_password(password, &hash, err)) < 0)
		return r;
	if ((ud = user_data(v, hash, resolv, old_cloud_init)) && theirs) {
		char *both = multipart(ud, theirs);

		explicit_bzero(ud, strlen(ud));
		free(ud);
		ud = both;
	}
	if (!ud || !(md = meta_data(v, ud)) || asprintf(&stage, "%s/.seed", dir) < 0 ||
	    asprintf(&tmp, "%s/seed.iso.tmp", dir) < 0 || asprintf(&iso, "%s/seed.iso", dir) < 0)
		return err_make(err, ENOMEM, "seed");
	unstage(dir);
	unlink(tmp);
	if (mkdir(stage, 0700) < 0 ||
	    (sfd = open(stage, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return err_make(err, errno, "mkdir `%s`", stage);
	r = put(sfd, "user-data", ud, err);
	if (r == 0)
		r = put(sfd, "meta-data", md, err);
	if (r == 0 && nc)
		r = put(sfd, "network-config", nc, err);
	if (r == 0)
		testpoint("vm-seed-staged", v->name);
	if (r == 0) {
		/* ISO 9660 + Joliet + Rock Ridge, volume id cidata: what NoCloud looks for */
		const char *argv[] = { "xorriso", "-as", "mkisofs", "-quiet", "-V",  "cidata",
				       "-J",	  "-r",	 "-o",	    tmp,      stage, NULL };
		const struct sys_spawn s = { .argv = (char *const *)argv,
					     .in = SYS_SPAWN_NULL,
					     .out = SYS_SPAWN_NULL,
					     .err = SYS_SPAWN_CAPTURE,
					     .flags = SYS_SPAWN_PATH | SYS_SPAWN_UMASK_077 };

		r = sys_run(&s, NULL, err);
		if (r < 0)
			err_wrap(err, "seed `%s`", iso);
	}
	explicit_bzero(ud, strlen(ud));
	unstage(dir);
	if (r == 0 && ((ifd = open(tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
		       fchmod(ifd, 0600) < 0 || fsync(ifd) < 0 || rename(tmp, iso) < 0))
		r = err_make(err, errno, "write `%s`", iso);
	if (r < 0)
		unlink(tmp);
	return r;
}

void vmdisk_seed_remove(const char *dir)
{
	static const char *const leaves[] = { "seed.iso", "seed.iso.tmp", "user-data",
					      "user-data.tmp", NULL };

	unstage(dir);
	for (size_t i = 0; leaves[i]; i++) {
		_cleanup_free_ char *p = NULL;

		if (asprintf(&p, "%s/%s", dir, leaves[i]) >= 0)
			unlink(p);
	}
}
