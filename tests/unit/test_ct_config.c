// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for config.json parsing and validation (src/ct/config.c,
 * config_validate.c): a good document resolves to the expected struct, and
 * each kind of bad input fails with the JSON path and the reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <cmocka.h>
#include <jansson.h>

#include "ct/config.h"
#include "ct/container.h"
#include "ct/spec.h"

#define BASE_HEAD                                                   \
	"{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"}," \
	"\"process\":{\"args\":[\"/init\"],\"cwd\":\"/\"},"
#define NS "\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"pid\"}]"

static int load(const char *text, struct ct_config **cfg, struct err **err)
{
	int r = ct_config_parse(text, cfg, err);

	if (r == 0)
		r = ct_config_validate(*cfg, err);
	return r;
}

/* The document must fail, with a message that contains `want`. */
static void expect_error(const char *text, const char *want)
{
	struct ct_config *cfg = NULL;
	struct err *err = NULL;

	assert_int_not_equal(load(text, &cfg, &err), 0);
	assert_non_null(err);
	if (!strstr(err_msg(err), want))
		fail_msg("error \"%s\" does not contain \"%s\"", err_msg(err), want);
	err_free(&err);
	ct_config_free(cfg);
}

static void test_default_spec(void **state)
{
	struct ct_config *cfg = NULL;
	struct err *err = NULL;

	assert_int_equal(load(ct_spec_default(), &cfg, &err), 0);
	assert_string_equal(cfg->root_path, "rootfs");
	assert_true(cfg->root_readonly);
	assert_string_equal(cfg->process->args[0], "sh");
	assert_null(cfg->process->args[1]);
	assert_int_equal(cfg->nr_namespaces, 6);
	assert_non_null(ct_config_ns(cfg, CT_NS_MOUNT));
	assert_null(ct_config_ns(cfg, CT_NS_USER));
	assert_true(cfg->process->no_new_privileges);
	assert_int_equal(cfg->process->nr_rlimits, 1);
	assert_int_equal(cfg->process->rlimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(cfg->process->capmask[CT_CAP_BOUNDING],
			 (1ULL << 29) | (1ULL << 5) | (1ULL << 10));
	assert_int_equal(cfg->nr_mounts, 7);
	assert_true(cfg->mounts[1].flags & MS_NOSUID);
	assert_string_equal(cfg->mounts[1].data, "mode=755,size=65536k");
	assert_true(cfg->mounts[5].flags & MS_RDONLY);
	/* the container's own cgroups, read-only, as runc's default spec has them */
	assert_string_equal(cfg->mounts[6].destination, "/sys/fs/cgroup");
	assert_string_equal(cfg->mounts[6].type, "cgroup");
	assert_true(cfg->mounts[6].flags & MS_RDONLY);
	assert_int_equal(cfg->nr_masked_paths, 10);
	ct_config_free(cfg);
}

static void test_full(void **state)
{
	static const char doc[] = BASE_HEAD
		"\"hostname\":\"h\",\"mounts\":[{\"destination\":\"/data\",\"type\":"
		"\"bind\",\"source\":\"/tmp\",\"options\":[\"rbind\",\"ro\",\"rslave\"]}],"
		"\"hooks\":{\"prestart\":[{\"path\":\"/bin/true\",\"args\":[\"true\"],"
		"\"timeout\":5}]},"
		"\"x-unknown-extension\":{\"a\":1},"
		"\"linux\":{\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"uts\"},"
		"{\"type\":\"user\"}],"
		"\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
		"\"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
		"\"sysctl\":{\"kernel.domainname\":\"x\"},"
		"\"resources\":{\"memory\":{\"limit\":1048576,\"swap\":2097152},"
		"\"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000,\"cpus\":\"0\"},"
		"\"pids\":{\"limit\":32}},"
		"\"cgroupsPath\":\"/test/x\","
		"\"devices\":[{\"path\":\"/dev/fuse\",\"type\":\"c\",\"major\":10,"
		"\"minor\":229,\"fileMode\":438}],"
		"\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
		"[\"mkdir\",\"nosuchcall\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1,"
		"\"args\":[{\"index\":1,\"value\":0,\"op\":\"SCMP_CMP_GE\"}]}]},"
		"\"rootfsPropagation\":\"rslave\"}}";
	struct ct_config *cfg = NULL;
	struct err *err = NULL;

	if (load(doc, &cfg, &err))
		fail_msg("%s", err_msg(err));
	assert_string_equal(cfg->hostname, "h");
	assert_true(cfg->mounts[0].bind);
	assert_int_equal(cfg->mounts[0].flags & (MS_BIND | MS_REC | MS_RDONLY),
			 MS_BIND | MS_REC | MS_RDONLY);
	assert_int_equal(cfg->mounts[0].propagation, MS_SLAVE | MS_REC);
	assert_int_equal(cfg->hooks.nr[CT_HOOK_PRESTART], 1);
	assert_int_equal(cfg->hooks.list[CT_HOOK_PRESTART][0].timeout, 5);
	assert_int_equal(cfg->uid_mappings[0].host_id, 100000);
	assert_int_equal(cfg->resources.memory_limit, 1048576);
	assert_int_equal(cfg->resources.memory_swap, 2097152);
	assert_int_equal(cfg->resources.cpu_shares, 512);
	assert_string_equal(cfg->resources.cpus, "0");
	assert_int_equal(cfg->resources.pids_limit, 32);
	assert_int_equal(cfg->resources.blkio_weight, CG_UNSET);
	assert_string_equal(cfg->cgroups_path, "/test/x");
	assert_int_equal(cfg->devices[0].file_mode, 0666);
	assert_int_equal(cfg->seccomp->nr_rules, 1);
	assert_string_equal(cfg->sysctl[0].key, "kernel.domainname");
	assert_int_equal(cfg->rootfs_prop_flags, MS_SLAVE | MS_REC);
	ct_config_free(cfg);
}

static void test_bad_json(void **state)
{
	expect_error("{\"ociVersion\": ", "config.json: line 1");
	expect_error("[]", "config.json: must be a JSON object");
}

static void test_bad_process(void **state)
{
	expect_error(
		"{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},\"process\":{\"cwd\":\"/\"},"
		"\"linux\":{" NS "}}",
		"process.args: must be a non-empty array of strings");
	expect_error("{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[],"
		     "\"cwd\":\"/\"},\"linux\":{" NS "}}",
		     "process.args: must be a non-empty array of strings");
	expect_error(
		"{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"a\","
		"3],\"cwd\":\"/\"},\"linux\":{" NS "}}",
		"process.args[1]: must be a string");
	expect_error(
		"{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"a\"]"
		",\"cwd\":\"rel\"},\"linux\":{" NS "}}",
		"process.cwd: must be absolute");
}

static void test_bad_fields(void **state)
{
	expect_error("{\"root\":{\"path\":\"r\"}}", "ociVersion: is required");
	expect_error("{\"ociVersion\":\"2.0.0\",\"root\":{\"path\":\"r\"},\"linux\":{" NS "}}",
		     "ociVersion: unsupported version");
	expect_error("{\"ociVersion\":\"1.0.2\"}", "root: is required");
	expect_error(BASE_HEAD "\"linux\":{\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"pid\"},"
			       "{\"type\":\"foo\"}]}}",
		     "linux.namespaces[2].type: unknown namespace \"foo\"");
	expect_error(BASE_HEAD
		     "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]}}",
		     "linux.namespaces[1].type: \"pid\" given twice");
	expect_error("{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\",\"readonly\":true},"
		     "\"linux\":{\"namespaces\":[{\"type\":\"pid\"}]}}",
		     "root.readonly: needs a new mount namespace");
	expect_error(
		"{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\",\"readonly\":true},"
		"\"linux\":{\"namespaces\":[{\"type\":\"mount\",\"path\":\"/proc/1/ns/mnt\"}]}}",
		"root.readonly: needs a new mount namespace");
	expect_error(BASE_HEAD
		     "\"mounts\":[{\"destination\":\"/a\",\"type\":\"tmpfs\"},"
		     "{\"destination\":\"/b\",\"type\":\"tmpfs\"},{\"destination\":\"/c\","
		     "\"type\":\"tmpfs\"},{\"destination\":\"d\",\"type\":\"tmpfs\"}],"
		     "\"linux\":{" NS "}}",
		     "mounts[3].destination: must be absolute");
	expect_error(BASE_HEAD "\"mounts\":[{\"type\":\"tmpfs\"}],\"linux\":{" NS "}}",
		     "mounts[0].destination: is required");
	expect_error(BASE_HEAD "\"mounts\":[{\"destination\":\"/x\",\"type\":\"bind\"}],"
			       "\"linux\":{" NS "}}",
		     "mounts[0].source: bind needs a source");
	expect_error(BASE_HEAD "\"hostname\":\"h\",\"linux\":{" NS "}}",
		     "hostname: needs a new uts namespace");
	expect_error(BASE_HEAD "\"linux\":{" NS ",\"uidMappings\":[{\"containerID\":0,"
			       "\"hostID\":1,\"size\":1}]}}",
		     "linux.uidMappings: given without a user namespace");
	expect_error(BASE_HEAD
		     "\"linux\":{\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"user\"}],"
		     "\"uidMappings\":[{\"containerID\":0,\"hostID\":1}]}}",
		     "linux.uidMappings[0].size: is required");
}

static void test_bad_names(void **state)
{
	expect_error(
		"{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"a\"]"
		",\"cwd\":\"/\",\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_NOPE\"]}},"
		"\"linux\":{" NS "}}",
		"process.capabilities.bounding[1]: unknown capability \"CAP_NOPE\"");
	expect_error(
		"{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"a\"]"
		",\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_FOO\",\"soft\":1,\"hard\":1}]},"
		"\"linux\":{" NS "}}",
		"process.rlimits[0].type: unknown rlimit \"RLIMIT_FOO\"");
	expect_error(
		"{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"a\"]"
		",\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":2,\"hard\":1}]},"
		"\"linux\":{" NS "}}",
		"process.rlimits[0]: soft limit above hard limit");
	expect_error(BASE_HEAD "\"linux\":{" NS
			       ",\"seccomp\":{\"defaultAction\":\"SCMP_ACT_NOPE\"}}}",
		     "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\"");
	expect_error(BASE_HEAD "\"linux\":{" NS
			       ",\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
			       "\"syscalls\":[{\"names\":[\"x\"],\"action\":\"SCMP_ACT_ERRNO\","
			       "\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_BAD\"}]}]}}}",
		     "linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_BAD\"");
	expect_error(BASE_HEAD "\"linux\":{" NS ",\"rootfsPropagation\":\"sideways\"}}",
		     "linux.rootfsPropagation: unknown propagation \"sideways\"");
	expect_error(BASE_HEAD "\"linux\":{" NS ",\"devices\":[{\"path\":\"dev/x\",\"type\":\"c\","
			       "\"major\":1,\"minor\":1}]}}",
		     "linux.devices[0].path: must be absolute");
	expect_error(BASE_HEAD "\"linux\":{" NS ",\"devices\":[{\"path\":\"/dev/x\",\"type\":\"q\","
			       "\"major\":1,\"minor\":1}]}}",
		     "linux.devices[0].type: unknown device type");
	expect_error(BASE_HEAD "\"linux\":{" NS ",\"resources\":{\"memory\":{\"limit\":\"1G\"}}}}",
		     "linux.resources.memory.limit: must be an integer");
	expect_error(BASE_HEAD "\"linux\":{" NS ",\"cgroupsPath\":\"system.slice:a:b\"}}",
		     "linux.cgroupsPath: systemd paths");
	expect_error(BASE_HEAD "\"hooks\":{\"poststop\":[{\"path\":\"rel\"}]},\"linux\":{" NS "}}",
		     "hooks.poststop[0].path: must be absolute");
	expect_error(BASE_HEAD "\"linux\":{" NS ",\"maskedPaths\":[\"proc/kcore\"]}}",
		     "linux.maskedPaths[0]: must be absolute");
}

/* The cgroup is delegated only with a user ns of our own that maps root, and a rw cgroup mount. */
static void test_cgroup_owner(void **state)
{
#define USERNS                                                                             \
	"\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"user\"},{\"type\":\"cgroup\"}]," \
	"\"uidMappings\":[{\"containerID\":1,\"hostID\":300000,\"size\":1},"               \
	"{\"containerID\":0,\"hostID\":200000,\"size\":65536}],"                           \
	"\"gidMappings\":[{\"containerID\":0,\"hostID\":200001,\"size\":65536}]"
#define CGMOUNT(opt)                                                           \
	"\"mounts\":[{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\"," \
	"\"source\":\"cgroup\",\"options\":[\"nosuid\",\"" opt "\"]}],"
	static const struct {
		const char *text;
		bool owned;
	} cases[] = {
		{ BASE_HEAD CGMOUNT("rw") "\"linux\":{" USERNS "}}", true },
		{ BASE_HEAD CGMOUNT("ro") "\"linux\":{" USERNS "}}", false },
		{ BASE_HEAD "\"linux\":{" USERNS "}}", false }, /* no cgroup mount */
		{ BASE_HEAD CGMOUNT("rw") "\"linux\":{" NS "}}", false }, /* no user ns */
		/* a user ns joined by path: its owner is not ours to pick */
		{ BASE_HEAD CGMOUNT("rw") "\"linux\":{\"namespaces\":[{\"type\":\"mount\"},"
					  "{\"type\":\"user\",\"path\":\"/proc/1/ns/user\"}]}}",
		  false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ct_config *cfg = NULL;
		struct err *err = NULL;
		uid_t uid = 0;
		gid_t gid = 0;

		if (load(cases[i].text, &cfg, &err) != 0)
			fail_msg("case %zu: %s", i, err_msg(err));
		assert_int_equal(ct_cgroup_owner(cfg, &uid, &gid), cases[i].owned);
		if (cases[i].owned) {
			assert_int_equal(uid, 200000);
			assert_int_equal(gid, 200001);
		}
		ct_config_free(cfg);
	}
#undef USERNS
#undef CGMOUNT
}

/* linux.resources.unified: a map of cgroup v2 files, checked at parse. */
static void test_unified(void **state)
{
#define UNI(x) BASE_HEAD "\"linux\":{" NS ",\"resources\":{\"unified\":{" x "}}}}"
	struct ct_config *cfg = NULL;
	struct cg_resources res;
	struct err *err = NULL;
	json_t *o;

	assert_int_equal(load(UNI("\"memory.high\":\"1073741824\",\"io.bfq.weight\":\"50\","
				  "\"hugetlb.2MB.max\":\"max\""),
			      &cfg, &err),
			 0);
	assert_int_equal(cfg->resources.nr_unified, 3);
	assert_string_equal(cfg->resources.unified[0].name, "memory.high");
	assert_string_equal(cfg->resources.unified[0].value, "1073741824");
	assert_string_equal(cfg->resources.unified[2].name, "hugetlb.2MB.max");
	assert_int_equal(cfg->resources.memory_limit, CG_UNSET); /* nothing else set */
	ct_config_free(cfg);

	/* `vps-ct update --resources FILE` parses the same object */
	o = json_loads("{\"memory\":{\"limit\":1048576},\"unified\":{\"memory.high\":\"max\"}}", 0,
		       NULL);
	assert_int_equal(ct_resources_parse(o, &res, &err), 0);
	assert_int_equal(res.memory_limit, 1048576);
	assert_int_equal(res.nr_unified, 1);
	assert_string_equal(res.unified[0].value, "max");
	json_decref(o);

	expect_error(UNI("\"memory.high\":1"),
		     "linux.resources.unified: `memory.high`: must be a string");
	expect_error(BASE_HEAD "\"linux\":{" NS ",\"resources\":{\"unified\":[]}}}",
		     "linux.resources.unified: must be an object");
	for (const char *const *k =
		     (const char *const[]){ "memory", "memory.", ".high", "../memory.high",
					    "memory/../x.max", "memory..high", "Memory.high",
					    "memory.hi gh", "memory.hi\\nx", NULL };
	     *k; k++) {
		char doc[512], want[128];

		snprintf(doc, sizeof(doc), UNI("\"%s\":\"1\""), *k);
		snprintf(want, sizeof(want), "not a cgroup v2 file name (controller.file)");
		expect_error(doc, want);
	}
	expect_error(UNI("\"cgroup.procs\":\"1\""),
		     "linux.resources.unified: `cgroup.procs`: cgroup.* files are the runtime's");
	expect_error(UNI("\"cgroup.subtree_control\":\"+memory\""),
		     "cgroup.* files are the runtime's");
	expect_error(
		UNI("\"io.max\":\"8:0 rbps=1\\n8:16 rbps=1\""),
		"linux.resources.unified: `io.max`: the value must be one line under 256 bytes");
	/* jansson refuses a NUL inside a string already (no JSON_ALLOW_NUL) */
	expect_error(UNI("\"memory.high\":\"1\\u00002\""), "is not allowed");
	{
		char doc[1024], big[300];

		memset(big, '9', sizeof(big) - 1);
		big[sizeof(big) - 1] = 0;
		snprintf(doc, sizeof(doc), UNI("\"memory.high\":\"%s\""), big);
		expect_error(doc, "under 256 bytes");
	}
	{
		char doc[2048] = "", *p;

		p = doc +
		    sprintf(doc, "%s", BASE_HEAD "\"linux\":{" NS ",\"resources\":{\"unified\":{");
		for (int i = 0; i < CG_MAX_UNIFIED + 1; i++)
			p += sprintf(p, "%s\"misc.f%d\":\"1\"", i ? "," : "", i);
		strcpy(p, "}}}}");
		expect_error(doc, "linux.resources.unified: at most 16 entries");
	}
#undef UNI
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_spec), cmocka_unit_test(test_full),
		cmocka_unit_test(test_bad_json),     cmocka_unit_test(test_bad_process),
		cmocka_unit_test(test_bad_fields),   cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_cgroup_owner), cmocka_unit_test(test_unified),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
