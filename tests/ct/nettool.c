// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nettool: a thin command-line driver over src/sys/net.h for the integration
 * tests (tests/integration/test_ct_net.py). One subcommand per call of the
 * interface; `-` stands for "none" (NULL):
 *
 *   nettool bridge NAME CIDR4|- CIDR6|-
 *   nettool veth PID BRIDGE HOST GUEST [MAC|- [MTU]]
 *   nettool inside PID IFACE CIDR4|- GW4|- CIDR6|- GW6|-
 *   nettool resolv DIR [NS...]     nettool hostname DIR NAME
 *   nettool hosts DIR NAME IP4|- IP6|-
 *   nettool detach HOST
 *
 * Errors go to stderr as the error chain and exit with status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "sys/net.h"

static const char *opt(const char *s)
{
	return strcmp(s, "-") ? s : NULL;
}

static int parse_mac(const char *s, uint8_t mac[6], struct err **err)
{
	unsigned int b[6];
	char end;
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6)
		return err_make(err, EINVAL, "bad MAC `%s`", s);
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return err_make(err, EINVAL, "bad MAC `%s`", s);
		mac[i] = b[i];
	}
	return 0;
}

static int parse_uint(const char *s, long max, long *out, struct err **err)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	if (!*s || *end || errno || *out < 0 || *out > max)
		return err_make(err, EINVAL, "bad number `%s`", s);
	return 0;
}

static int open_root(const char *dir, struct err **err)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return err_make(err, errno, "open `%s`", dir);
	return fd;
}

static int run(int argc, char **argv, struct err **err)
{
	const char *cmd = argv[1];
	_cleanup_close_ int root = -1;
	uint8_t mac[6];
	long pid, mtu = 0;
	int ret;

	if (!strcmp(cmd, "bridge") && argc == 5)
		return sys_net_bridge_ensure(argv[2], opt(argv[3]), opt(argv[4]), err);
	if (!strcmp(cmd, "veth") && argc >= 6 && argc <= 8) {
		bool has_mac = argc >= 7 && opt(argv[6]);

		if ((ret = parse_uint(argv[2], 1L << 22, &pid, err)) < 0)
			return ret;
		if (has_mac && (ret = parse_mac(argv[6], mac, err)) < 0)
			return ret;
		if (argc == 8 && (ret = parse_uint(argv[7], 65535, &mtu, err)) < 0)
			return ret;
		return sys_net_veth_attach(pid, argv[3], argv[4], argv[5], has_mac ? mac : NULL,
					   mtu, err);
	}
	if (!strcmp(cmd, "inside") && argc == 8) {
		if ((ret = parse_uint(argv[2], 1L << 22, &pid, err)) < 0)
			return ret;
		return sys_net_configure_inside(pid, argv[3], opt(argv[4]), opt(argv[5]),
						opt(argv[6]), opt(argv[7]), err);
	}
	if (!strcmp(cmd, "detach") && argc == 3)
		return sys_net_detach(argv[2], err);
	if (argc >= 3 && (root = open_root(argv[2], err)) < 0)
		return root;
	if (!strcmp(cmd, "resolv") && argc >= 3)
		return sys_net_write_resolv(root, (const char *const *)argv + 3, argc - 3, err);
	if (!strcmp(cmd, "hostname") && argc == 4)
		return sys_net_write_hostname(root, argv[3], err);
	if (!strcmp(cmd, "hosts") && argc == 6)
		return sys_net_write_hosts(root, argv[3], opt(argv[4]), opt(argv[5]), err);
	return err_make(err, EINVAL, "bad command line for `%s`", cmd);
}

int main(int argc, char **argv)
{
	struct err *err = NULL;

	log_init("nettool", getenv("NETTOOL_DEBUG") ? LOG_DEBUG : LOG_WARN);
	if (argc < 2) {
		fprintf(stderr, "usage: nettool bridge|veth|inside|detach|resolv|hostname|hosts "
				"...\n");
		return 2;
	}
	if (run(argc, argv, &err) < 0) {
		fprintf(stderr, "nettool: %s\n", err_msg(err));
		err_free(&err);
		return 1;
	}
	return 0;
}
