// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the container disk's checks (src/sys/disk.c): the size
 * rules, refusing to shrink, refusing to clobber, and the usage figures of
 * a sparse file. Nothing here needs root or a loop device; attach, mount
 * and grow are covered by tests/integration/test_ct_disk.py.
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

#include "sys/disk.h"

#define MiB (1ULL << 20)

static void expect_msg(struct err *err, const char *needle)
{
	assert_non_null(err);
	if (!strstr(err_msg(err), needle))
		fail_msg("`%s` does not contain `%s`", err_msg(err), needle);
}

static void test_sizes(void **state)
{
	struct err *err = NULL;

	(void)state;
	assert_int_equal(sys_disk_check_size(16 * MiB, &err), 0);
	assert_int_equal(sys_disk_check_size(10ULL << 40, &err), 0);
	assert_null(err);

	assert_int_equal(sys_disk_check_size(15 * MiB, &err), -EINVAL);
	expect_msg(err, "below the minimum of 16 MiB");
	err_free(&err);
	assert_int_equal(sys_disk_check_size(0, &err), -EINVAL);
	err_free(&err);
	assert_int_equal(sys_disk_check_size(64 * MiB + 4096, &err), -EINVAL);
	expect_msg(err, "not a whole number of MiB");
	err_free(&err);
	assert_int_equal(sys_disk_check_size(UINT64_MAX - MiB + 1, &err), -EINVAL);
	expect_msg(err, "too large");
	err_free(&err);
}

static void test_grow_rules(void **state)
{
	struct err *err = NULL;

	(void)state;
	assert_int_equal(sys_disk_check_grow(64 * MiB, 128 * MiB, &err), 0);
	/* Equal is allowed: it finishes a grow whose resize failed. */
	assert_int_equal(sys_disk_check_grow(64 * MiB, 64 * MiB, &err), 0);
	assert_null(err);
	assert_int_equal(sys_disk_check_grow(128 * MiB, 64 * MiB, &err), -EINVAL);
	expect_msg(err, "cannot shrink a disk from 128 MiB to 64 MiB");
	err_free(&err);
	assert_int_equal(sys_disk_check_grow(64 * MiB, 65 * MiB + 1, &err), -EINVAL);
	err_free(&err);
}

static void test_create_refusals(void **state)
{
	char dir[] = "/tmp/test_ct_disk.XXXXXX", path[64];
	struct err *err = NULL;
	struct stat st;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/img", dir);

	/* A bad size fails before anything is created. */
	assert_int_equal(sys_disk_create(path, 20 * MiB + 512, SYS_DISK_THIN, &err), -EINVAL);
	expect_msg(err, path);
	err_free(&err);
	assert_int_equal(stat(path, &st), -1);

	/* An existing file is somebody's data: left exactly as it was. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "data", 4), 4);
	close(fd);
	assert_int_equal(sys_disk_create(path, 32 * MiB, SYS_DISK_RESERVE, &err), -EEXIST);
	expect_msg(err, "create disk `");
	err_free(&err);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 4);

	unlink(path);
	rmdir(dir);
}

static void test_usage_sparse(void **state)
{
	char path[] = "/tmp/test_ct_disk_usage.XXXXXX";
	uint64_t apparent, allocated;
	struct err *err = NULL;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 64 * MiB), 0);
	assert_int_equal(pwrite(fd, "x", 1, 0), 1);
	close(fd);
	assert_int_equal(sys_disk_usage(path, &apparent, &allocated, &err), 0);
	assert_int_equal(apparent, 64 * MiB);
	assert_true(allocated > 0 && allocated < MiB);
	unlink(path);

	assert_int_equal(sys_disk_usage(path, &apparent, &allocated, &err), -ENOENT);
	expect_msg(err, path);
	err_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_grow_rules),
		cmocka_unit_test(test_create_refusals),
		cmocka_unit_test(test_usage_sparse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
