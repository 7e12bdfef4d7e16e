// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * disktool: a thin command-line driver over src/sys/disk.h for the
 * integration tests (tests/integration/test_ct_disk.py). One subcommand per
 * call of the interface:
 *
 *   disktool create PATH SIZE thin|reserve
 *   disktool attach PATH [ro]          (prints the loop device)
 *   disktool mount DEV DIR [ro]        disktool umount DIR
 *   disktool grow PATH DEV|- SIZE      disktool detach DEV
 *   disktool usage PATH                (prints "APPARENT ALLOCATED" in bytes)
 *   disktool find PATH                 (prints the loop device, or nothing)
 *
 * Errors go to stderr as the error chain and exit with status 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "sys/disk.h"

static int size_arg(const char *s, uint64_t *out, struct err **err)
{
	if (parse_size(s, out) < 0)
		return err_make(err, EINVAL, "bad size `%s`", s);
	return 0;
}

static int run(int argc, char **argv, struct err **err)
{
	const char *cmd = argv[1];
	bool ro = argc > 3 && !strcmp(argv[argc - 1], "ro");
	_cleanup_free_ char *dev = NULL;
	uint64_t a, b;
	int ret;

	if (!strcmp(cmd, "create") && argc == 5) {
		enum sys_disk_alloc alloc;

		if (!strcmp(argv[4], "thin"))
			alloc = SYS_DISK_THIN;
		else if (!strcmp(argv[4], "reserve"))
			alloc = SYS_DISK_RESERVE;
		else
			return err_make(err, EINVAL, "bad allocation `%s`", argv[4]);
		ret = size_arg(argv[3], &a, err);
		return ret < 0 ? ret : sys_disk_create(argv[2], a, alloc, err);
	}
	if (!strcmp(cmd, "attach") && (argc == 3 || (argc == 4 && ro))) {
		ret = sys_disk_attach(argv[2], ro, &dev, err);
		if (ret == 0)
			printf("%s\n", dev);
		return ret;
	}
	if (!strcmp(cmd, "find") && argc == 3) {
		ret = sys_disk_find_loop(argv[2], &dev, err);
		if (ret == 0 && dev)
			printf("%s\n", dev);
		return ret;
	}
	if (!strcmp(cmd, "mount") && (argc == 4 || (argc == 5 && ro)))
		return sys_disk_mount(argv[2], argv[3], ro, err);
	if (!strcmp(cmd, "umount") && argc == 3)
		return sys_disk_umount(argv[2], err);
	if (!strcmp(cmd, "detach") && argc == 3)
		return sys_disk_detach(argv[2], err);
	if (!strcmp(cmd, "grow") && argc == 5) {
		ret = size_arg(argv[4], &a, err);
		if (ret < 0)
			return ret;
		return sys_disk_grow(argv[2], strcmp(argv[3], "-") ? argv[3] : NULL, a, err);
	}
	if (!strcmp(cmd, "usage") && argc == 3) {
		ret = sys_disk_usage(argv[2], &a, &b, err);
		if (ret == 0)
			printf("%" PRIu64 " %" PRIu64 "\n", a, b);
		return ret;
	}
	return err_make(err, EINVAL, "bad command line for `%s`", cmd);
}

int main(int argc, char **argv)
{
	struct err *err = NULL;

	log_init("disktool", getenv("DISKTOOL_DEBUG") ? LOG_DEBUG : LOG_WARN);
	if (argc < 2) {
		fprintf(stderr, "usage: disktool create|attach|mount|umount|detach|grow|usage|find "
				"...\n");
		return 2;
	}
	if (run(argc, argv, &err) < 0) {
		fprintf(stderr, "disktool: %s\n", err_msg(err));
		err_free(&err);
		return 1;
	}
	return 0;
}
