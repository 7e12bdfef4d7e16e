// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * config.json validation, the step after parsing (config.c): what the values
 * mean. Names are resolved here -- namespace types to clone flags,
 * capability names through libcap, rlimit names, seccomp actions and
 * operators, mount options to MS_* flags -- so the container setup code
 * never meets a string it cannot act on. Errors name the JSON path.
 */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "ct/config.h"

static const struct {
	const char *name, *proc;
	int flag;
} ns_table[CT_NS_MAX] = {
	[CT_NS_PID] = { "pid", "pid", CLONE_NEWPID },
	[CT_NS_NET] = { "network", "net", CLONE_NEWNET },
	[CT_NS_MOUNT] = { "mount", "mnt", CLONE_NEWNS },
	[CT_NS_IPC] = { "ipc", "ipc", CLONE_NEWIPC },
	[CT_NS_UTS] = { "uts", "uts", CLONE_NEWUTS },
	[CT_NS_USER] = { "user", "user", CLONE_NEWUSER },
	[CT_NS_CGROUP] = { "cgroup", "cgroup", CLONE_NEWCGROUP },
};

int ct_ns_flag(enum ct_ns ns)
{
	return ns_table[ns].flag;
}

const char *ct_ns_procname(enum ct_ns ns)
{
	return ns_table[ns].proc;
}

const struct ct_namespace *ct_config_ns(const struct ct_config *cfg, enum ct_ns ns)
{
	size_t i;

	for (i = 0; i < cfg->nr_namespaces; i++)
		if (cfg->namespaces[i].ns == ns)
			return &cfg->namespaces[i];
	return NULL;
}

static const struct {
	const char *name;
	int res;
} rlimit_table[] = {
	{ "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_CORE", RLIMIT_CORE },
	{ "RLIMIT_CPU", RLIMIT_CPU },
	{ "RLIMIT_DATA", RLIMIT_DATA },
	{ "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },
	{ "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
	{ "RLIMIT_RTTIME", RLIMIT_RTTIME },
	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_STACK", RLIMIT_STACK },
};

static const char *const capset_keys[CT_CAP_NSETS] = { "bounding", "effective", "permitted",
						       "inheritable", "ambient" };

int ct_process_validate(struct ct_process *p, const char *path, struct err **err)
{
	size_t i, j, k;

	if (p->cwd[0] != '/')
		return err_make(err, 0, "%s.cwd: must be absolute", path);
	for (i = 0; i < p->nr_env; i++)
		if (!strchr(p->env[i], '='))
			return err_make(err, 0, "%s.env[%zu]: must be NAME=VALUE", path, i);
	for (i = 0; i < p->nr_rlimits; i++) {
		struct ct_rlimit *rl = &p->rlimits[i];

		for (j = 0; j < sizeof(rlimit_table) / sizeof(rlimit_table[0]); j++)
			if (!strcmp(rl->type, rlimit_table[j].name))
				break;
		if (j == sizeof(rlimit_table) / sizeof(rlimit_table[0]))
			return err_make(err, 0, "%s.rlimits[%zu].type: unknown rlimit \"%s\"", path,
					i, rl->type);
		if (rl->soft > rl->hard)
			return err_make(err, 0, "%s.rlimits[%zu]: soft limit above hard limit",
					path, i);
		for (k = 0; k < i; k++)
			if (p->rlimits[k].resource == rlimit_table[j].res)
				return err_make(err, 0, "%s.rlimits[%zu].type: \"%s\" given twice",
						path, i, rl->type);
		rl->resource = rlimit_table[j].res;
	}
	for (i = 0; i < CT_CAP_NSETS; i++) {
		p->capmask[i] = 0;
		for (j = 0; j < p->nr_caps[i]; j++) {
			cap_value_t v;

			if (cap_from_name(p->caps[i][j], &v) < 0 || v < 0 || v > 63 ||
			    strncmp(p->caps[i][j], "CAP_", 4))
				return err_make(
					err, 0,
					"%s.capabilities.%s[%zu]: unknown capability \"%s\"", path,
					capset_keys[i], j, p->caps[i][j]);
			p->capmask[i] |= 1ULL << v;
		}
	}
	return 0;
}

static bool is_abs(const char *p)
{
	return p && p[0] == '/';
}

static int validate_namespaces(struct ct_config *c, struct err **err)
{
	unsigned int seen = 0;
	size_t i, t;

	for (i = 0; i < c->nr_namespaces; i++) {
		struct ct_namespace *n = &c->namespaces[i];

		for (t = 0; t < CT_NS_MAX; t++)
			if (!strcmp(n->type, ns_table[t].name))
				break;
		if (t == CT_NS_MAX)
			return err_make(err, 0,
					"linux.namespaces[%zu].type: unknown namespace \"%s\"", i,
					n->type);
		if (seen & (1u << t))
			return err_make(err, 0, "linux.namespaces[%zu].type: \"%s\" given twice", i,
					n->type);
		if (n->path && !is_abs(n->path))
			return err_make(err, 0, "linux.namespaces[%zu].path: must be absolute", i);
		seen |= 1u << t;
		n->ns = t;
	}
	if ((c->nr_uid_mappings || c->nr_gid_mappings) && !(seen & (1u << CT_NS_USER)))
		return err_make(err, 0, "linux.uidMappings: given without a user namespace");
	if ((seen & (1u << CT_NS_USER)) && !ct_config_ns(c, CT_NS_USER)->path &&
	    (!c->nr_uid_mappings || !c->nr_gid_mappings))
		return err_make(err, 0,
				"linux.uidMappings: a new user namespace needs uid and "
				"gid mappings");
	if (c->hostname && *c->hostname && !(seen & (1u << CT_NS_UTS)))
		return err_make(err, 0, "hostname: needs a new uts namespace");
	if (c->root_readonly &&
	    (!(seen & (1u << CT_NS_MOUNT)) || ct_config_ns(c, CT_NS_MOUNT)->path))
		return err_make(err, 0,
				"root.readonly: needs a new mount namespace (the rootfs is "
				"remounted read-only in it)");
	return 0;
}

static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} mount_opts[] = {
	{ "defaults", false, 0 },
	{ "ro", false, MS_RDONLY },
	{ "rw", true, MS_RDONLY },
	{ "nosuid", false, MS_NOSUID },
	{ "suid", true, MS_NOSUID },
	{ "nodev", false, MS_NODEV },
	{ "dev", true, MS_NODEV },
	{ "noexec", false, MS_NOEXEC },
	{ "exec", true, MS_NOEXEC },
	{ "sync", false, MS_SYNCHRONOUS },
	{ "async", true, MS_SYNCHRONOUS },
	{ "dirsync", false, MS_DIRSYNC },
	{ "remount", false, MS_REMOUNT },
	{ "mand", false, MS_MANDLOCK },
	{ "nomand", true, MS_MANDLOCK },
	{ "atime", true, MS_NOATIME },
	{ "noatime", false, MS_NOATIME },
	{ "diratime", true, MS_NODIRATIME },
	{ "nodiratime", false, MS_NODIRATIME },
	{ "relatime", false, MS_RELATIME },
	{ "norelatime", true, MS_RELATIME },
	{ "strictatime", false, MS_STRICTATIME },
	{ "nostrictatime", true, MS_STRICTATIME },
};

static const struct {
	const char *name;
	unsigned long flag;
} prop_opts[] = {
	{ "private", MS_PRIVATE },	 { "rprivate", MS_PRIVATE | MS_REC },
	{ "shared", MS_SHARED },	 { "rshared", MS_SHARED | MS_REC },
	{ "slave", MS_SLAVE },		 { "rslave", MS_SLAVE | MS_REC },
	{ "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
};

static int validate_mount(struct ct_mount *m, size_t idx, struct err **err)
{
	size_t i, j, len = 0;
	char *data;

	if (!is_abs(m->destination))
		return err_make(err, 0, "mounts[%zu].destination: must be absolute", idx);
	if (!m->type && !m->source)
		return err_make(err, 0, "mounts[%zu]: needs a type or a source", idx);
	m->flags = 0;
	m->propagation = 0;
	m->bind = m->type && !strcmp(m->type, "bind");
	for (i = 0; i < m->nr_options; i++)
		len += strlen(m->options[i]) + 1;
	data = calloc(1, len + 1);
	if (!data)
		return -ENOMEM;
	for (i = 0; i < m->nr_options; i++) {
		const char *o = m->options[i];

		if (!strcmp(o, "bind") || !strcmp(o, "rbind")) {
			m->bind = true;
			if (o[0] == 'r')
				m->flags |= MS_REC;
			continue;
		}
		for (j = 0; j < sizeof(mount_opts) / sizeof(mount_opts[0]); j++)
			if (!strcmp(o, mount_opts[j].name))
				break;
		if (j < sizeof(mount_opts) / sizeof(mount_opts[0])) {
			if (mount_opts[j].clear)
				m->flags &= ~mount_opts[j].flag;
			else
				m->flags |= mount_opts[j].flag;
			continue;
		}
		for (j = 0; j < sizeof(prop_opts) / sizeof(prop_opts[0]); j++)
			if (!strcmp(o, prop_opts[j].name))
				break;
		if (j < sizeof(prop_opts) / sizeof(prop_opts[0])) {
			m->propagation = prop_opts[j].flag;
			continue;
		}
		/* anything else goes to the filesystem: mode=755, size=64k */
		if (*data)
			strcat(data, ",");
		strcat(data, o);
	}
	if (m->bind) {
		m->flags |= MS_BIND;
		if (!m->source)
			return free(data),
			       err_make(err, 0, "mounts[%zu].source: bind needs a source", idx);
	}
	free(m->data);
	m->data = data;
	return 0;
}

static const struct {
	const char *name;
	uint32_t act; /* SCMP_ACT_ERRNO/TRACE take the errno afterwards */
} seccomp_actions[] = {
	{ "SCMP_ACT_KILL", SCMP_ACT_KILL },
	{ "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD },
	{ "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS },
	{ "SCMP_ACT_TRAP", SCMP_ACT_TRAP },
	{ "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0) },
	{ "SCMP_ACT_TRACE", SCMP_ACT_TRACE(0) },
	{ "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW },
	{ "SCMP_ACT_LOG", SCMP_ACT_LOG },
};

static const struct {
	const char *name;
	int op;
} seccomp_ops[] = {
	{ "SCMP_CMP_NE", SCMP_CMP_NE },
	{ "SCMP_CMP_LT", SCMP_CMP_LT },
	{ "SCMP_CMP_LE", SCMP_CMP_LE },
	{ "SCMP_CMP_EQ", SCMP_CMP_EQ },
	{ "SCMP_CMP_GE", SCMP_CMP_GE },
	{ "SCMP_CMP_GT", SCMP_CMP_GT },
	{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

/* Resolve an action name; errno-style actions take `eno` (EPERM by default). */
static int seccomp_action(const char *name, bool has_errno, uint32_t eno, uint32_t *out)
{
	size_t i;

	for (i = 0; i < sizeof(seccomp_actions) / sizeof(seccomp_actions[0]); i++) {
		if (strcmp(name, seccomp_actions[i].name))
			continue;
		if (!strcmp(name, "SCMP_ACT_ERRNO"))
			*out = SCMP_ACT_ERRNO(has_errno ? eno : EPERM);
		else if (!strcmp(name, "SCMP_ACT_TRACE"))
			*out = SCMP_ACT_TRACE(has_errno ? eno : EPERM);
		else
			*out = seccomp_actions[i].act;
		return 0;
	}
	return -EINVAL;
}

static int validate_seccomp(struct ct_seccomp *s, struct err **err)
{
	size_t i, j, k;

	if (seccomp_action(s->default_action, s->has_default_errno, s->default_errno,
			   &s->default_value) < 0)
		return err_make(err, 0, "linux.seccomp.defaultAction: unknown action \"%s\"",
				s->default_action);
	/* unknown architectures are skipped at load time, as other runtimes do */
	for (i = 0; i < s->nr_rules; i++) {
		struct ct_seccomp_rule *r = &s->rules[i];

		if (seccomp_action(r->action, r->has_errno_ret, r->errno_ret, &r->action_value) < 0)
			return err_make(err, 0,
					"linux.seccomp.syscalls[%zu].action: unknown action \"%s\"",
					i, r->action);
		for (j = 0; j < r->nr_args; j++) {
			struct ct_seccomp_arg *a = &r->args[j];

			if (a->index > 5)
				return err_make(
					err, 0,
					"linux.seccomp.syscalls[%zu].args[%zu].index: must be "
					"0..5",
					i, j);
			for (k = 0; k < sizeof(seccomp_ops) / sizeof(seccomp_ops[0]); k++)
				if (!strcmp(a->op, seccomp_ops[k].name))
					break;
			if (k == sizeof(seccomp_ops) / sizeof(seccomp_ops[0]))
				return err_make(err, 0,
						"linux.seccomp.syscalls[%zu].args[%zu].op: unknown "
						"operator \"%s\"",
						i, j, a->op);
			a->cmp = seccomp_ops[k].op;
		}
	}
	return 0;
}

static int validate_linux(struct ct_config *c, struct err **err)
{
	size_t i, j;
	int r;

	if ((r = validate_namespaces(c, err)) < 0)
		return r;
	for (i = 0; i < c->nr_uid_mappings + c->nr_gid_mappings; i++) {
		bool uid = i < c->nr_uid_mappings;
		struct ct_idmap *m = uid ? &c->uid_mappings[i] :
					   &c->gid_mappings[i - c->nr_uid_mappings];

		if (m->size == 0)
			return err_make(err, 0, "linux.%s[%zu].size: must not be 0",
					uid ? "uidMappings" : "gidMappings",
					uid ? i : i - c->nr_uid_mappings);
	}
	for (i = 0; i < c->nr_devices; i++) {
		struct ct_device *d = &c->devices[i];

		if (!is_abs(d->path))
			return err_make(err, 0, "linux.devices[%zu].path: must be absolute", i);
		if (!strchr("cbup", d->type))
			return err_make(err, 0,
					"linux.devices[%zu].type: unknown device type \"%c\"", i,
					d->type);
		if (d->type != 'p' && (d->major < 0 || d->minor < 0))
			return err_make(err, 0, "linux.devices[%zu]: needs major and minor", i);
	}
	for (i = 0; i < c->nr_masked_paths; i++)
		if (!is_abs(c->masked_paths[i]))
			return err_make(err, 0, "linux.maskedPaths[%zu]: must be absolute", i);
	for (i = 0; i < c->nr_readonly_paths; i++)
		if (!is_abs(c->readonly_paths[i]))
			return err_make(err, 0, "linux.readonlyPaths[%zu]: must be absolute", i);
	for (i = 0; i < c->nr_sysctl; i++)
		if (strstr(c->sysctl[i].key, "..") || strchr(c->sysctl[i].key, '/'))
			return err_make(err, 0, "linux.sysctl.%s: not a sysctl name",
					c->sysctl[i].key);
	c->rootfs_prop_flags = MS_REC | MS_PRIVATE;
	if (c->rootfs_propagation) {
		for (j = 0; j < sizeof(prop_opts) / sizeof(prop_opts[0]); j++)
			if (!strcmp(c->rootfs_propagation, prop_opts[j].name))
				break;
		if (j == sizeof(prop_opts) / sizeof(prop_opts[0]))
			return err_make(err, 0,
					"linux.rootfsPropagation: unknown propagation \"%s\"",
					c->rootfs_propagation);
		c->rootfs_prop_flags = prop_opts[j].flag | MS_REC;
	}
	if (c->cgroups_path && strchr(c->cgroups_path, ':'))
		return err_make(err, 0,
				"linux.cgroupsPath: systemd paths (\"slice:prefix:name\") are not "
				"supported");
	if (c->cgroups_path && strstr(c->cgroups_path, ".."))
		return err_make(err, 0, "linux.cgroupsPath: must not contain \"..\"");
	if (c->seccomp && (r = validate_seccomp(c->seccomp, err)) < 0)
		return r;
	return 0;
}

static const char *const hook_keys[CT_HOOK_NKINDS] = {
	"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
};

int ct_config_validate(struct ct_config *c, struct err **err)
{
	size_t i, k;
	int r;

	if (strncmp(c->oci_version, "1.", 2))
		return err_make(err, 0, "ociVersion: unsupported version \"%s\" (want 1.x)",
				c->oci_version);
	if (!*c->root_path)
		return err_make(err, 0, "root.path: must not be empty");
	if (c->process && (r = ct_process_validate(c->process, "process", err)) < 0)
		return r;
	for (i = 0; i < c->nr_mounts; i++)
		if ((r = validate_mount(&c->mounts[i], i, err)) < 0)
			return r;
	for (k = 0; k < CT_HOOK_NKINDS; k++)
		for (i = 0; i < c->hooks.nr[k]; i++)
			if (!is_abs(c->hooks.list[k][i].path))
				return err_make(err, 0, "hooks.%s[%zu].path: must be absolute",
						hook_keys[k], i);
	if (c->sysinfo_view && strcmp(c->sysinfo_view, "cgroup"))
		return err_make(err, 0,
				"annotations.org.vps.sysinfo: must be \"cgroup\", not \"%s\"",
				c->sysinfo_view);
	if (c->sysinfo_socket && (!c->sysinfo_view || !is_abs(c->sysinfo_socket)))
		return err_make(err, 0,
				"annotations.org.vps.sysinfo.socket: must be an absolute path, "
				"with org.vps.sysinfo");
	if (c->console_mode && strcmp(c->console_mode, "noctty"))
		return err_make(err, 0,
				"annotations.org.vps.console: must be \"noctty\", not \"%s\"",
				c->console_mode);
	return validate_linux(c, err);
}
