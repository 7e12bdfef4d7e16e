/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An OCI bundle's config.json (runtime-spec 1.x config.md and
 * config-linux.md) as a C struct. Parsing (config.c) only checks the shape
 * of the document and records where each value came from; validation
 * (config_validate.c) checks meaning -- absolute paths, known namespace
 * types, capability and rlimit names -- and resolves the names to numbers.
 * Errors name the JSON path: `linux.namespaces[2].type: unknown namespace
 * "foo"`. Unknown keys are ignored, as the spec allows extensions.
 *
 * Strings point into the parsed JSON document, which the config keeps
 * alive; ct_config_free() releases both.
 */
#ifndef VPS_CT_CONFIG_H
#define VPS_CT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "ct/cgroup.h"

struct json_t;

enum ct_ns {
	CT_NS_PID,
	CT_NS_NET,
	CT_NS_MOUNT,
	CT_NS_IPC,
	CT_NS_UTS,
	CT_NS_USER,
	CT_NS_CGROUP,
	CT_NS_MAX,
};

struct ct_namespace {
	const char *type; /* as written */
	const char *path; /* join this one instead of creating; NULL: new */
	enum ct_ns ns; /* resolved by validation */
};

struct ct_idmap {
	uint32_t container_id, host_id, size;
};

struct ct_rlimit {
	const char *type; /* "RLIMIT_NOFILE" */
	uint64_t soft, hard;
	int resource; /* resolved by validation */
};

enum ct_capset {
	CT_CAP_BOUNDING,
	CT_CAP_EFFECTIVE,
	CT_CAP_PERMITTED,
	CT_CAP_INHERITABLE,
	CT_CAP_AMBIENT,
	CT_CAP_NSETS
};

struct ct_process {
	bool terminal;
	uint32_t uid, gid;
	gid_t *additional_gids;
	size_t nr_additional_gids;
	int umask; /* -1: not given */
	const char **args; /* NULL-terminated */
	size_t nr_args;
	const char **env; /* NULL-terminated */
	size_t nr_env;
	const char *cwd;
	struct ct_rlimit *rlimits;
	size_t nr_rlimits;
	bool has_caps; /* capabilities object present */
	const char **caps[CT_CAP_NSETS]; /* names as written */
	size_t nr_caps[CT_CAP_NSETS];
	uint64_t capmask[CT_CAP_NSETS]; /* resolved by validation */
	bool no_new_privileges;
	bool has_oom_score_adj;
	int oom_score_adj;
};

struct ct_mount {
	const char *destination, *source, *type;
	const char **options;
	size_t nr_options;
	/* from the options, by validation */
	unsigned long flags; /* MS_* to mount with */
	unsigned long propagation; /* MS_SHARED etc., applied after */
	bool bind, readonly_bind; /* bind mounts need a remount for ro etc */
	char *data; /* options that are not flags, comma-joined; owned */
};

struct ct_device {
	const char *path;
	char type; /* 'c', 'b', 'u', 'p' */
	int64_t major, minor;
	bool has_mode, has_uid, has_gid;
	uint32_t file_mode, uid, gid;
};

struct ct_hook {
	const char *path;
	const char **args; /* NULL-terminated, may be NULL */
	const char **env;
	int timeout; /* seconds, 0: none */
};

enum ct_hook_kind {
	CT_HOOK_PRESTART,
	CT_HOOK_CREATE_RUNTIME,
	CT_HOOK_CREATE_CONTAINER,
	CT_HOOK_START_CONTAINER,
	CT_HOOK_POSTSTART,
	CT_HOOK_POSTSTOP,
	CT_HOOK_NKINDS
};

struct ct_hooks {
	struct ct_hook *list[CT_HOOK_NKINDS];
	size_t nr[CT_HOOK_NKINDS];
};

struct ct_seccomp_arg {
	unsigned int index;
	uint64_t value, value_two;
	const char *op;
	int cmp; /* enum scmp_compare, by validation */
};

struct ct_seccomp_rule {
	const char **names;
	size_t nr_names;
	const char *action;
	uint32_t action_value; /* SCMP_ACT_*, by validation */
	bool has_errno_ret;
	uint32_t errno_ret;
	struct ct_seccomp_arg *args;
	size_t nr_args;
};

struct ct_seccomp {
	const char *default_action;
	uint32_t default_value; /* by validation */
	bool has_default_errno;
	uint32_t default_errno;
	const char **architectures;
	size_t nr_architectures;
	const char **flags;
	size_t nr_flags;
	struct ct_seccomp_rule *rules;
	size_t nr_rules;
};

struct ct_sysctl {
	const char *key, *value;
};

struct ct_config {
	struct json_t *json; /* the document the strings point into */
	const char *oci_version;
	const char *root_path;
	bool root_readonly;
	const char *hostname;
	struct ct_process *process; /* NULL when absent (only for create) */
	struct ct_mount *mounts;
	size_t nr_mounts;
	struct ct_hooks hooks;
	/* linux */
	struct ct_namespace *namespaces;
	size_t nr_namespaces;
	struct ct_idmap *uid_mappings, *gid_mappings;
	size_t nr_uid_mappings, nr_gid_mappings;
	struct ct_sysctl *sysctl;
	size_t nr_sysctl;
	bool has_resources;
	struct cg_resources resources;
	const char *cgroups_path;
	struct ct_device *devices;
	size_t nr_devices;
	struct ct_seccomp *seccomp; /* NULL: none */
	const char *rootfs_propagation;
	unsigned long rootfs_prop_flags; /* by validation; 0 means MS_REC|MS_PRIVATE */
	const char **masked_paths, **readonly_paths;
	size_t nr_masked_paths, nr_readonly_paths;
	/* annotations we act on; the others are ignored, as OCI says */
	const char *sysinfo_view; /* org.vps.sysinfo: "cgroup" (docs/ct-sysinfo.md), or NULL */
	/*
	 * org.vps.sysinfo.socket: a unix socket whose server answers the
	 * container's sysinfo() (vps-ctm's monitor): the runtime sends it the
	 * listener's socket instead of starting a monitor of its own; or NULL
	 */
	const char *sysinfo_socket;
	/*
	 * org.vps.console: "noctty" gives the init its terminal as stdio and
	 * /dev/console but not as its controlling terminal, as LXC does, so a
	 * getty on /dev/console can make it its own; or NULL (runc's way)
	 */
	const char *console_mode;
};

/* Parse config.json text. Shape errors name the JSON path. */
int ct_config_parse(const char *text, struct ct_config **out, struct err **err);

/* Read and parse `<bundle>/config.json`. */
int ct_config_load(const char *bundle, struct ct_config **out, struct err **err);

/* Check meaning and resolve names (namespaces, caps, rlimits, seccomp, mount options). */
int ct_config_validate(struct ct_config *cfg, struct err **err);

/* A `process` object alone (exec --process), parsed and validated. */
int ct_process_parse(struct json_t *obj, const char *path, struct ct_process **out,
		     struct err **err);
int ct_process_validate(struct ct_process *p, const char *path, struct err **err);
void ct_process_free(struct ct_process *p);

void ct_config_free(struct ct_config *cfg);

/* An OCI `linux.resources` object (also `update -r file`) into cgroup terms. */
int ct_resources_parse(struct json_t *obj, struct cg_resources *res, struct err **err);

/* The namespace wanted, or NULL. */
const struct ct_namespace *ct_config_ns(const struct ct_config *cfg, enum ct_ns ns);

/* clone() flag of a namespace type, and its /proc/<pid>/ns name. */
int ct_ns_flag(enum ct_ns ns);
const char *ct_ns_procname(enum ct_ns ns);

#endif
