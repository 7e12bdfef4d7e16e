// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The `ct` kind: system containers through vps-ctm (docs/ctm.md). The
 * VPS's directory holds `ct.json`, vps-ctm's settings, and `ct/`, the
 * container's own directory (disk image, rootfs mount point); the monitor's
 * sockets are in the VPS's run directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "host/kind.h"
#include "sys/image.h"
#include "sys/passwd.h"
#include "host/net.h"
#include "host/run.h"
#include "host/tmpl.h"
#include "monitor/client.h"
#include "monitor/protocol.h"

static int ct_validate(struct host *h, const struct vps *v, struct err **err)
{
	if (v->iso)
		return err_make(err, EINVAL, "`iso`: only for kind vm");
	if (!v->template)
		return err_make(err, EINVAL,
				"`template`: required for kind ct (`vps template list`)");
	if (tmpl_serves(h, TMPL_ROOTFS, v->template))
		return 0;
	return err_make(err, EINVAL, "`template`: no ct template `%s` (`vps template list`)",
			v->template);
}

static char *first_line(char *s)
{
	char *nl = s ? strchr(s, '\n') : NULL;

	if (nl)
		*nl = 0;
	return s;
}

/*
 * Which limits this host enforces for containers: `vps-ct features` makes a
 * throw-away cgroup where containers live and looks for each limit's files
 * (src/ct/cgroup_probe.c). Read once at vpsd's start; the kernel does not
 * change under a running vpsd.
 */
static json_t *ct_limits; /* {NAME: {"enforced": bool, "why": text}}, set once at start */
static char ct_cgroup[16] = "unknown";

static const char *const ct_limit_names[] = { "memory", "swap",	     "cpu_weight", "cpu_quota",
					      "pids",	"io_weight", "io_bps",	   "io_iops" };

static json_t *limit(bool enforced, const char *why)
{
	return enforced ? json_pack("{s:b}", "enforced", 1) :
			  json_pack("{s:b, s:s}", "enforced", 0, "why", why);
}

static void ct_probe(struct host *h)
{
	_cleanup_free_ char *bin = host_bin(h, "vps-ct"), *out = NULL, *errs = NULL;
	char *argv[] = { bin, "features", NULL };
	json_t *doc = NULL, *ann;
	char why[512] = "`vps-ct features` does not say";
	int st = bin ? host_run_capture(argv, &out, &errs, 30) : -ENOMEM;

	ct_limits = json_object();
	if (st == 0)
		doc = json_loads(out, 0, NULL);
	ann = json_object_get(doc, "annotations");
	if (!json_is_object(ann)) {
		snprintf(why, sizeof(why), "`vps-ct features` failed (%d): %s", st,
			 errs && *errs ? first_line(errs) : "no answer");
		pr_warn("%s: container limits are taken as not enforced", why);
	} else {
		const char *layout =
			json_string_value(json_object_get(ann, "run.vps.cgroup.layout"));

		snprintf(ct_cgroup, sizeof(ct_cgroup), "%s", layout ? layout : "unknown");
	}
	for (size_t i = 0; i < sizeof(ct_limit_names) / sizeof(ct_limit_names[0]); i++) {
		const char *name = ct_limit_names[i], *val;
		char key[64];

		snprintf(key, sizeof(key), "run.vps.resource.%s", name);
		val = json_string_value(json_object_get(ann, key));
		if (val && !strcmp(val, "enforced")) {
			json_object_set_new(ct_limits, name, limit(true, NULL));
			continue;
		}
		if (val && !strncmp(val, "not enforced: ", 14))
			val += 14;
		json_object_set_new(ct_limits, name, limit(false, val ? val : why));
		pr_info("this host does not enforce %s for containers: %s", name, val ? val : why);
	}
	/* the switches are vps-ctm's spec (devices, mounts): every host has them */
	json_object_set_new(ct_limits, "features", limit(true, NULL));
	json_decref(doc);
}

static json_t *ct_report(void)
{
	return json_pack("{s:s, s:o}", "cgroup", ct_cgroup, "limits",
			 ct_limits ? json_incref(ct_limits) : json_object());
}

/* Only the limits this host enforces go to vps-ctm: vpsd refused or warned at create. */
static bool ct_enforced(const char *name)
{
	return json_is_true(json_object_get(json_object_get(ct_limits, name), "enforced"));
}

/* A container's cpus are a CFS quota; its processes are its own, bounded by its pids. */
static const struct kind_ask ct_asks[] = {
	{ "ram", "memory" },
	{ "swap", "swap" },
	{ "cpus", "cpu_quota" },
	{ "io_weight", "io_weight" },
	{ "pids", "pids" },
	{ "io_read_bps", "io_bps" },
	{ "io_write_bps", "io_bps" },
	{ "io_read_iops", "io_iops" },
	{ "io_write_iops", "io_iops" },
	{ NULL, NULL },
};

/*
 * The disk's IO limits, where this host enforces them (0: none; a live `set`
 * with 0 lifts a limit set before), into vps-ctm's settings or a `set`.
 */
static void put_io_limits(json_t *j, const struct vps *v)
{
	bool bps = ct_enforced("io_bps"), iops = ct_enforced("io_iops");

	json_object_set_new(j, "io_read_bps", json_integer(bps ? (json_int_t)v->io_read_bps : 0));
	json_object_set_new(j, "io_write_bps", json_integer(bps ? (json_int_t)v->io_write_bps : 0));
	json_object_set_new(j, "io_read_iops",
			    json_integer(iops ? (json_int_t)v->io_read_iops : 0));
	json_object_set_new(j, "io_write_iops",
			    json_integer(iops ? (json_int_t)v->io_write_iops : 0));
}

/* vps-ctm's settings for this VPS; password only in the file create reads. */
/* The container's pids limit: its plan's, else the host's default; 0 where not enforced. */
static long ct_pids(const struct host *h, const struct vps *v)
{
	if (!ct_enforced("pids"))
		return 0;
	return v->pids ? (long)v->pids : h->pids_limit;
}

/* Rescue mode is on while VPSDIR/ct-rescue.json, the rescue system's settings, is there. */
static bool ct_rescuing(struct host *h, const struct vps *v)
{
	_cleanup_free_ char *p = host_vps_dir(h, v->name, "ct-rescue.json");

	return p && access(p, F_OK) == 0;
}

static json_t *ctm_settings(struct host *h, const struct vps *v, const char *tarball,
			    const char *password)
{
	_cleanup_free_ char *dir = host_vps_disks(h, v->name, "ct"); /* its pool's */
	_cleanup_free_ char *run = host_vps_run(h, v->name, NULL);
	json_t *keys = json_array();
	json_t *j;

	for (unsigned int i = 0; i < v->nr_ssh_keys; i++)
		json_array_append_new(keys, json_string(v->ssh_keys[i]));
	/* only the limits this host enforces (caps.h): vpsd refused or warned at create */
	j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:f, s:I, s:s, s:o}", "name", v->name, "dir",
		      dir, "run_dir", run, "memory", (json_int_t)v->ram, "swap",
		      (json_int_t)(ct_enforced("swap") ? v->swap : 0), "disk", (json_int_t)v->disk,
		      "cpus", ct_enforced("cpu_quota") ? v->cpus : 0.0, "uid_base",
		      (json_int_t)v->uid_base, "hostname", v->hostname, "ssh_keys", keys);
	if (j && tarball)
		json_object_set_new(j, "template", json_string(tarball));
	if (j && password)
		json_object_set_new(j, "root_password", json_string(password));
	/*
	 * A fork bomb inside stops here, not at the host's pid_max: the plan's
	 * limit, or the host's default (0: no pids controller).
	 */
	if (j)
		json_object_set_new(j, "pids", json_integer(ct_pids(h, v)));
	if (j && v->io_weight && ct_enforced("io_weight"))
		json_object_set_new(j, "io_weight", json_integer(v->io_weight));
	if (j) {
		put_io_limits(j, v);
		/* the switches (docs/containers.md, "Features"): off unless set */
		json_object_set_new(j, "tun", json_boolean(v->features & VPS_FEATURE_TUN));
		json_object_set_new(j, "fuse", json_boolean(v->features & VPS_FEATURE_FUSE));
		json_object_set_new(j, "nesting", json_boolean(v->features & VPS_FEATURE_NESTING));
	}
	if (j && *v->network) /* the veth into the network's bridge (net.h) */
		json_object_set_new(j, "net", net_ct_settings(h, v));
	/* rescue mode (docs/rescue.md): the rescue system's root, this one's at /mnt */
	if (j && ct_rescuing(h, v)) {
		_cleanup_free_ char *rdir = host_vps_disks(h, v->name, "ct-rescue");

		json_object_set_new(j, "rescue_dir", json_string(rdir));
	}
	/* the disk policy at create (docs/policies.md); kept as it was made afterwards */
	if (j)
		json_object_set_new(j, "disk_alloc",
				    json_string(v->reserve_disk ? "reserve" : "thin"));
	return j;
}

static int write_json(const char *path, json_t *j, struct err **err)
{
	_cleanup_free_ char *tmp = NULL;

	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return err_make(err, ENOMEM, "write `%s`", path);
	if (json_dump_file(j, tmp, JSON_INDENT(1) | JSON_SORT_KEYS) < 0 || chmod(tmp, 0600) < 0 ||
	    rename(tmp, path) < 0) {
		unlink(tmp);
		return err_make(err, errno ? errno : EIO, "write `%s`", path);
	}
	return 0;
}

/* Run vps-ctm ARGS (create, destroy...) and wait; its stderr becomes the error. */
static int ctm_call(struct host *h, char *const *args, struct err **err)
{
	_cleanup_free_ char *out = NULL, *errs = NULL;
	int r = host_run_capture(args, &out, &errs, 600);

	if (r < 0)
		return err_make(err, -r, "run `%s`", args[0]);
	if (r == 127)
		return err_make(err, ENOENT, "cannot run `%s`", args[0]);
	if (r != 0)
		return err_make(err, EIO, "%s",
				*errs ? first_line(strstr(errs, "error: ") ?
							   strstr(errs, "error: ") + 7 :
							   errs) :
					"vps-ctm failed");
	return 0;
}

/* vps-ctm create with settings j (a password only in this file), then ct.json. */
static int run_create(struct host *h, const struct vps *v, json_t *j, struct err **err)
{
	_cleanup_free_ char *cfg = host_vps_dir(h, v->name, "ct.json");
	_cleanup_free_ char *tmp = host_vps_dir(h, v->name, "ct-create.json");
	_cleanup_free_ char *ctm = host_bin(h, "vps-ctm");
	int r = write_json(tmp, j, err);

	if (r < 0)
		return r;
	{
		char *args[] = { ctm, "create", tmp, NULL };

		r = ctm_call(h, args, err);
	}
	unlink(tmp); /* it held the password */
	if (r < 0)
		return r;
	j = ctm_settings(h, v, NULL, NULL);
	r = write_json(cfg, j, err);
	json_decref(j);
	return r;
}

static int ct_create(struct host *h, const struct vps *v, const char *password, struct err **err)
{
	_cleanup_free_ char *tarball = NULL;
	json_t *j;
	int r, version;

	/* the newest version's tarball (tmpl.c), built on first use (debian-12: ~45 s) */
	r = tmpl_resolve(h, TMPL_ROOTFS, v->template, &tarball, &version, err);
	if (r < 0)
		return err_wrap(err, "template `%s`", v->template);
	pr_info("ct `%s`: from template `%s` version %d", v->name, v->template, version);
	j = ctm_settings(h, v, tarball, password);
	r = run_create(h, v, j, err);
	json_decref(j);
	return r;
}

/*
 * A clone's (clone.c): vps-ctm create copies `from`'s disk from dir instead
 * of unpacking the template, shifts its files from `from`'s uid range to
 * this one's and resets its identity (docs/storage.md, "Clones").
 */
static int ct_create_from(struct host *h, const struct vps *v, const char *dir,
			  const struct vps *from, struct err **err)
{
	_cleanup_free_ char *disk = NULL;
	json_t *j = ctm_settings(h, v, NULL, NULL);
	int r;

	if (!j || asprintf(&disk, "%s/disk.img", dir) < 0) {
		json_decref(j);
		return err_make(err, ENOMEM, "create `%s`", v->name);
	}
	json_object_set_new(j, "clone_disk", json_string(disk));
	json_object_set_new(j, "clone_uid_base", json_integer(from->uid_base));
	r = run_create(h, v, j, err);
	json_decref(j);
	return r;
}

/* ct.json again from the record (at each start and set), the host's limits as they are now. */
static int rewrite_settings(struct host *h, const struct vps *v, struct err **err)
{
	_cleanup_free_ char *cfg = host_vps_dir(h, v->name, "ct.json");
	json_t *j = ctm_settings(h, v, NULL, NULL), *was = json_load_file(cfg, 0, NULL);
	int rc;

	/* an image is thin or reserved for life (vps-ctm grows it the same way) */
	if (json_is_string(json_object_get(was, "disk_alloc")))
		json_object_set(j, "disk_alloc", json_object_get(was, "disk_alloc"));
	json_decref(was);
	rc = write_json(cfg, j, err);
	json_decref(j);
	return rc;
}

static char **ct_monitor_argv(struct host *h, const struct vps *v, struct err **err)
{
	char **a;

	if (rewrite_settings(h, v, err) < 0)
		return NULL;
	a = calloc(4, sizeof(char *));

	if (!a || !(a[0] = host_bin(h, "vps-ctm")) || !(a[1] = strdup("run")) ||
	    !(a[2] = host_vps_dir(h, v->name, "ct.json"))) {
		if (a)
			for (int i = 0; i < 3; i++)
				free(a[i]);
		free(a);
		return err_make(err, ENOMEM, "monitor"), NULL;
	}
	return a;
}

static bool ct_restart_on(int status)
{
	return false; /* vps-ctm restarts a rebooting container itself */
}

static json_t *ctl(struct host *h, const struct vps *v, json_t *req, struct err **err)
{
	_cleanup_free_ char *sock = host_vps_run(h, v->name, "control.sock");
	json_t *r = sock ? monitor_call(sock, req, 10000, err) : NULL;

	json_decref(req);
	return r;
}

static int ct_shutdown(struct host *h, const struct vps *v, int timeout, struct err **err)
{
	json_t *r = ctl(h, v,
			json_pack("{s:s, s:i}", "cmd", MONITOR_CMD_SHUTDOWN, "timeout", timeout),
			err);

	json_decref(r);
	return r ? 0 : -EIO;
}

static int ct_kill(struct host *h, const struct vps *v, struct err **err)
{
	json_t *r = ctl(h, v, json_pack("{s:s}", "cmd", MONITOR_CMD_STOP), err);

	json_decref(r);
	return r ? 0 : -EIO;
}

static int ct_set_live(struct host *h, const struct vps *old, const struct vps *v, struct err **err)
{
	json_t *req, *r;
	int rc = rewrite_settings(h, v, err);
	bool live;

	if (rc < 0)
		return rc;
	if (v->state != VPS_RUNNING)
		return 0;
	req = json_pack("{s:s, s:I, s:I, s:f}", "cmd", MONITOR_CMD_SET, "memory",
			(json_int_t)v->ram, "swap", (json_int_t)(ct_enforced("swap") ? v->swap : 0),
			"cpus", ct_enforced("cpu_quota") ? v->cpus : 0.0);
	if (v->io_weight && ct_enforced("io_weight"))
		json_object_set_new(req, "io_weight", json_integer(v->io_weight));
	json_object_set_new(req, "pids", json_integer(ct_pids(h, v)));
	put_io_limits(req, v);
	r = ctl(h, v, req, err);
	if (!r)
		return -EIO;
	/* the switches are the container's devices and mounts: from its next start on */
	live = json_is_true(json_object_get(r, "live")) && v->features == old->features;
	json_decref(r);
	if (v->disk != old->disk) {
		char size[32];

		snprintf(size, sizeof(size), "%lluM", (unsigned long long)(v->disk >> 20));
		r = ctl(h, v, json_pack("{s:s, s:s}", "cmd", MONITOR_CMD_GROW, "disk", size), err);
		if (!r)
			return -EIO;
		json_decref(r);
	}
	return live ? 1 : 0;
}

static void ct_status(struct host *h, const struct vps *v, json_t *out)
{
	json_t *st = ctl(h, v, json_pack("{s:s}", "cmd", MONITOR_CMD_STATE), NULL);
	json_t *stats = ctl(h, v, json_pack("{s:s}", "cmd", MONITOR_CMD_STATS), NULL);

	if (st) {
		json_object_set(out, "monitor", st);
		json_decref(st);
	}
	if (stats) {
		json_object_del(stats, "ok");
		json_object_set(out, "stats", stats);
		json_decref(stats);
	}
}

static char *ct_console(struct host *h, const struct vps *v)
{
	return host_vps_run(h, v->name, "console.sock");
}

static int ct_exec(struct host *h, const struct vps *v, char *const *args, json_t **out,
		   struct err **err)
{
	_cleanup_free_ char *cfg = host_vps_dir(h, v->name, "ct.json");
	_cleanup_free_ char *ctm = host_bin(h, "vps-ctm");
	_cleanup_free_ char *o = NULL, *e = NULL;
	char *argv[72] = { ctm, "exec", cfg, "--" };
	size_t n = 4;
	int st;

	for (; *args && n < 71; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	st = host_run_capture(argv, &o, &e, 120);
	if (st < 0)
		return err_make(err, -st, "exec in `%s`", v->name);
	*out = json_pack("{s:i, s:s, s:s}", "status", st, "stdout", o, "stderr", e);
	return 0;
}

/* --- rescue mode ------------------------------------------------------- */

/*
 * Rescue mode (docs/rescue.md): a container of its own kind boots from
 * the rescue system, a fresh `vps-ctm create` of the busybox template in
 * DISKS/ct-rescue (its own small disk, the VPS's uid range, hostname,
 * network and SSH keys), with the VPS's own root bound at /mnt. The
 * settings of that create, VPSDIR/ct-rescue.json, are the mark: while it
 * is there ct.json names the rescue system's directory (`rescue_dir`) and
 * every start boots it. Nothing of the customer's disk is read by the host.
 */
#define CT_RESCUE_TEMPLATE "busybox"
#define CT_RESCUE_DISK (256ULL << 20) /* thin: what the rescue session writes */

/*
 * The rescue system gone (vps-ctm destroy: its disk, mount point and
 * directory), with settings made afresh from the record rather than read
 * from the file: no path another node or an older vpsd wrote is trusted.
 */
static int rescue_destroy(struct host *h, const struct vps *v, struct err **err)
{
	_cleanup_free_ char *rdir = host_vps_disks(h, v->name, "ct-rescue");
	_cleanup_free_ char *tmp = host_vps_dir(h, v->name, "ct-rescue-create.json");
	_cleanup_free_ char *cfg = host_vps_dir(h, v->name, "ct-rescue.json");
	_cleanup_free_ char *ctm = host_bin(h, "vps-ctm");
	char *args[] = { ctm, "destroy", tmp, NULL };
	json_t *j;
	int r;

	if (!rdir || !tmp || !cfg || !ctm)
		return err_make(err, ENOMEM, "rescue");
	if (access(cfg, F_OK) < 0 && access(tmp, F_OK) < 0 && access(rdir, F_OK) < 0)
		return 0;
	if (!(j = ctm_settings(h, v, NULL, NULL)))
		return err_make(err, ENOMEM, "rescue");
	json_object_del(j, "rescue_dir"); /* the rescue system's own settings have none */
	json_object_set_new(j, "dir", json_string(rdir));
	r = write_json(tmp, j, err);
	json_decref(j);
	if (r == 0 && ctm_call(h, args, err) < 0)
		r = err_wrap(err, "remove the rescue system of `%s`", v->name);
	if (r == 0 && ((unlink(cfg) < 0 && errno != ENOENT) || unlink(tmp) < 0))
		r = err_make(err, errno, "remove `%s`", cfg);
	return r;
}

static int ct_rescue(struct host *h, const struct vps *v, bool on, struct err **err)
{
	_cleanup_free_ char *tarball = NULL, *rdir = host_vps_disks(h, v->name, "ct-rescue");
	_cleanup_free_ char *tmp = host_vps_dir(h, v->name, "ct-rescue-create.json");
	_cleanup_free_ char *cfg = host_vps_dir(h, v->name, "ct-rescue.json");
	_cleanup_free_ char *ctm = host_bin(h, "vps-ctm");
	json_t *j;
	int version, r;

	if (!rdir || !tmp || !cfg || !ctm)
		return err_make(err, ENOMEM, "rescue");
	/* off, and before on: nothing of an earlier rescue system is kept */
	if (rescue_destroy(h, v, err) < 0)
		return -EIO;
	if (!on)
		return rewrite_settings(h, v, err);
	if (tmpl_resolve(h, TMPL_ROOTFS, CT_RESCUE_TEMPLATE, &tarball, &version, err) < 0)
		return err_wrap(err, "rescue system (template `%s`)", CT_RESCUE_TEMPLATE);
	j = ctm_settings(h, v, tarball, NULL);
	if (!j)
		return err_make(err, ENOMEM, "rescue");
	json_object_del(j, "rescue_dir");
	json_object_set_new(j, "dir", json_string(rdir));
	json_object_set_new(j, "disk", json_integer((json_int_t)CT_RESCUE_DISK));
	json_object_set_new(j, "disk_alloc", json_string("thin"));
	r = write_json(tmp, j, err);
	json_decref(j);
	if (r == 0) {
		char *args[] = { ctm, "create", tmp, NULL };

		r = ctm_call(h, args, err);
		if (r < 0)
			unlink(tmp); /* a failed create removed what it made */
	}
	/* ct-rescue.json last: its presence is what turns rescue on */
	if (r == 0 && rename(tmp, cfg) < 0)
		r = err_make(err, errno, "rename `%s`", tmp);
	if (r == 0)
		r = rewrite_settings(h, v, err);
	if (r < 0) {
		rescue_destroy(h, v, NULL);
		rewrite_settings(h, v, NULL);
		return err_wrap(err, "rescue `%s`", v->name);
	}
	pr_info("ct `%s`: rescue system from template `%s` version %d", v->name, CT_RESCUE_TEMPLATE,
		version);
	return 0;
}

static int ct_destroy(struct host *h, const struct vps *v, struct err **err)
{
	_cleanup_free_ char *cfg = host_vps_dir(h, v->name, "ct.json");
	_cleanup_free_ char *ctm = host_bin(h, "vps-ctm");
	char *args[] = { ctm, "destroy", cfg, NULL };
	int r;

	if (rescue_destroy(h, v, err) < 0)
		return -EIO;
	if (access(cfg, F_OK) < 0) {
		/* a create cut short: its settings are still in the create file */
		_cleanup_free_ char *tmp = host_vps_dir(h, v->name, "ct-create.json");

		if (access(tmp, F_OK) < 0)
			return 0;
		args[2] = tmp;
		r = ctm_call(h, args, err);
		if (r == 0)
			unlink(tmp);
		return r;
	}
	r = ctm_call(h, args, err);
	if (r == 0)
		unlink(cfg);
	return r;
}

/* In the running container's root as the host sees it (DIR/ct/rootfs, a mount). */
static int ct_password(struct host *h, const struct vps *v, const char *password, struct err **err)
{
	/* in rescue mode the password of the system the console logs in to: the rescue one's */
	_cleanup_free_ char *root =
		host_vps_disks(h, v->name, ct_rescuing(h, v) ? "ct-rescue/rootfs" : "ct/rootfs");
	_cleanup_close_ int fd = -1;

	if (v->state != VPS_RUNNING)
		return err_make(err, EBUSY,
				"`%s` is %s: a container's password is reset while it runs",
				v->name, vps_state_name(v->state));
	if (!root || (fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return err_make(err, errno ? errno : ENOMEM, "open the root of `%s`", v->name);
	return sys_set_root_password(fd, password, err);
}

/*
 * The container's one disk (a container's swap is its cgroup's, no file):
 * a running one's through vps-ctm, which freezes it for the copy
 * (disk-copy); a stopped one's as it lies.
 */
static int ct_snapshot(struct host *h, const struct vps *v, const char *dir, struct err **err)
{
	_cleanup_free_ char *img = host_vps_disks(h, v->name, "ct/disk.img"), *to = NULL;
	json_t *r;

	if (!img || asprintf(&to, "%s/disk.img", dir) < 0)
		return err_make(err, ENOMEM, "snapshot `%s`", v->name);
	if (v->state != VPS_RUNNING) {
		if (sys_image_copy(img, to, err) < 0 || sys_image_sync(to, err) < 0)
			return -EIO;
		return 0;
	}
	{
		_cleanup_free_ char *sock = host_vps_run(h, v->name, "control.sock");
		json_t *req = json_pack("{s:s, s:s}", "cmd", MONITOR_CMD_DISK_COPY, "to", to);

		/* a full copy of a large disk takes its time; a reflink, milliseconds */
		r = sock ? monitor_call(sock, req, 3600 * 1000, err) : NULL;
		json_decref(req);
	}
	if (!r)
		return err_wrap(err, "snapshot `%s`", v->name);
	json_decref(r);
	return 0;
}

/* The disk again from a snapshot: a copy beside it, renamed over it (never half a disk). */
static int ct_revert(struct host *h, const struct vps *v, const char *dir, struct err **err)
{
	_cleanup_free_ char *img = host_vps_disks(h, v->name, "ct/disk.img"), *from = NULL;

	if (!img || asprintf(&from, "%s/disk.img", dir) < 0)
		return err_make(err, ENOMEM, "revert `%s`", v->name);
	return sys_image_replace(from, img, err);
}

/* vps-ctm export: the root read in the container's own user namespace (src/ctm/export.c). */
static char **ct_template_export(struct host *h, const struct vps *v)
{
	char **a = calloc(4, sizeof(char *));

	if (!a || !(a[0] = host_bin(h, "vps-ctm")) || !(a[1] = strdup("export")) ||
	    !(a[2] = host_vps_dir(h, v->name, "ct.json"))) {
		for (int i = 0; a && i < 3; i++)
			free(a[i]);
		free(a);
		return NULL;
	}
	return a;
}

static int settle(struct vps *v, struct err **err)
{
	if (v->engine != VPS_ENGINE_NONE || *v->boot || v->iso)
		return err_make(err, EINVAL, "`%s`: only for kind vm",
				v->engine != VPS_ENGINE_NONE ? "engine" :
				*v->boot		     ? "boot" :
							       "iso");
	v->engine = VPS_CTM;
	return 0;
}

const struct kind_family kind_ct_family = {
	.kind = VPS_CT,
	.template_form = TMPL_ROOTFS,
	.settle = settle,
	.probe = ct_probe,
	.report = ct_report,
	.asks = ct_asks,
};

const struct kind_ops kind_ct = {
	.kind = VPS_CT,
	.engine = VPS_CTM,
	.net = true,
	.cgroup_parent = "vps-ct", /* vps-ctm's spec: cgroupsPath /vps-ct/NAME */
	.validate = ct_validate,
	.create = ct_create,
	.monitor_argv = ct_monitor_argv,
	.restart_on = ct_restart_on,
	.shutdown = ct_shutdown,
	.kill = ct_kill,
	.set_live = ct_set_live,
	.status = ct_status,
	.console = ct_console,
	.exec = ct_exec,
	.password = ct_password,
	.pools = true,
	.ids_shifted = true,
	.files_backup = true,
	.restart_migrate = true,
	.snapshot = ct_snapshot,
	.revert = ct_revert,
	.template_export = ct_template_export,
	.create_from = ct_create_from,
	.destroy = ct_destroy,
	.rescue = ct_rescue,
	.rescuing = ct_rescuing,
	.rescue_system = "busybox, with the container's own root at /mnt; in through the console "
			 "(its own password, set while rescue is on) or exec",
};
