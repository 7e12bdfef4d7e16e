// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the lxcfs mounts (src/ct/lxcfs.c) against a fake lxcfs
 * root in a temporary directory: which files become mounts, in what form,
 * and the refusal when lxcfs is not there. That the mounts work in a real
 * container under a real lxcfs is tests/integration/test_ct_lxcfs.py.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ct/lxcfs.h"

static char root[64];

static void touch(const char *rel)
{
	char path[256], *p;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = strchr(path + strlen(root) + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = 0;
		mkdir(path, 0755);
		*p = '/';
	}
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0444);
	assert_true(fd >= 0);
	close(fd);
}

static int setup(void **state)
{
	(void)state;
	strcpy(root, "/tmp/vps-test-lxcfs.XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_not_running(void **state)
{
	json_t *m = json_array();
	struct err *err = NULL;

	(void)state;
	touch("proc/cpuinfo"); /* no meminfo: not a running lxcfs */
	assert_int_equal(ct_lxcfs_mounts(m, root, &err), -ENOENT);
	assert_non_null(err);
	assert_int_equal(err->errnum, ENOENT);
	assert_non_null(strstr(err_msg(err), "lxcfs is not running at"));
	assert_int_equal(json_array_size(m), 0);
	err_free(&err);
	json_decref(m);
}

static void test_not_an_array(void **state)
{
	json_t *o = json_object();
	struct err *err = NULL;

	(void)state;
	assert_int_equal(ct_lxcfs_mounts(o, root, &err), -EINVAL);
	err_free(&err);
	json_decref(o);
}

static void test_mounts(void **state)
{
	json_t *m = json_array(), *e, *opts;
	struct err *err = NULL;
	char src[256];

	(void)state;
	touch("proc/meminfo");
	touch("proc/uptime");
	touch("proc/slabinfo"); /* served by lxcfs, not wanted */
	touch("sys/devices/system/cpu/online");
	mkdir(strcat(strcpy(src, root), "/proc/swaps"), 0755); /* not a file: skipped */
	json_array_append_new(m, json_pack("{s:s}", "destination", "/proc"));
	assert_int_equal(ct_lxcfs_mounts(m, root, &err), 0);
	assert_null(err);
	/* after what was there, in the fixed order (cpuinfo: test_not_running's) */
	assert_int_equal(json_array_size(m), 5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 1), "destination")),
			    "/proc/meminfo");
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 2), "destination")),
			    "/proc/cpuinfo");
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 3), "destination")),
			    "/proc/uptime");
	e = json_array_get(m, 4);
	assert_string_equal(json_string_value(json_object_get(e, "destination")),
			    "/sys/devices/system/cpu/online");
	snprintf(src, sizeof(src), "%s/sys/devices/system/cpu/online", root);
	assert_string_equal(json_string_value(json_object_get(e, "source")), src);
	assert_string_equal(json_string_value(json_object_get(e, "type")), "bind");
	opts = json_object_get(e, "options");
	assert_string_equal(json_string_value(json_array_get(opts, 0)), "bind");
	assert_string_equal(json_string_value(json_array_get(opts, 1)), "ro");
	json_decref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_running),
		cmocka_unit_test(test_not_an_array),
		cmocka_unit_test(test_mounts),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
