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
static char *user_data(const struct vps *v, const char *hash, const char *resolv)
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
	if (j && hash) /* NULL: root's password stays as the template has it (none) */
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
		for (const char *const *f = (const char *const[]){ "user-data", "meta-data", NULL };
		     *f; f++)
			unlinkat(fd, *f, 0);
	rmdir(stage);
}

int vmdisk_seed(const char *dir, const struct vps *v, const char *password, const char *resolv,
		struct err **err)
{
	_cleanup_free_ char *hash = NULL, *ud = NULL, *md = NULL;
	_cleanup_free_ char *stage = NULL, *tmp = NULL, *iso = NULL;
	_cleanup_close_ int sfd = -1, ifd = -1;
	int r;

	if (password && (r = sys_hash_password(password, &hash, err)) < 0)
		return r;
	if (!(ud = user_data(v, hash, resolv)) || !(md = meta_data(v, ud)) ||
	    asprintf(&stage, "%s/.seed", dir) < 0 || asprintf(&tmp, "%s/seed.iso.tmp", dir) < 0 ||
	    asprintf(&iso, "%s/seed.iso", dir) < 0)
		return err_make(err, ENOMEM, "seed");
	unstage(dir);
	unlink(tmp);
	if (mkdir(stage, 0700) < 0 ||
	    (sfd = open(stage, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return err_make(err, errno, "mkdir `%s`", stage);
	r = put(sfd, "user-data", ud, err);
	if (r == 0)
		r = put(sfd, "meta-data", md, err);
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
	static const char *const leaves[] = { "seed.iso", "seed.iso.tmp", NULL };

	unstage(dir);
	for (size_t i = 0; leaves[i]; i++) {
		_cleanup_free_ char *p = NULL;

		if (asprintf(&p, "%s/%s", dir, leaves[i]) >= 0)
			unlink(p);
	}
}
