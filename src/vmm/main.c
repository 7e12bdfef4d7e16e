// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vps-vmm: the per-VM monitor process. This first form runs micro-guests
 * (raw x86 payloads, real or long mode) with a UART and the test exit port;
 * Linux boot, virtio devices and the control socket grow from it.
 *
 * Exit status, for a supervisor:
 *   0   the guest halted or powered off
 *   1   the monitor failed (KVM refused something, out of memory)
 *   2   bad command line or configuration
 *   4   the guest crashed (triple fault)
 *   N   with --exit-port: the byte the guest wrote to port 0xf4
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "vmm/arch/x86/micro.h"
#include "vmm/devices/exitport.h"
#include "vmm/devices/serial.h"
#include "vmm/vm.h"

#define EXIT_MONITOR_FAILED 1
#define EXIT_BAD_CONFIG 2
#define EXIT_GUEST_CRASHED 4

struct opts {
	const char *micro;
	enum micro_mode mode;
	uint64_t memory;
	int exit_port;
	const char *serial;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vps-vmm --micro FILE [--mode real|long] [--memory SIZE]\n"
		   "               [--serial stdio|file:PATH] [--exit-port]\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "micro", required_argument, NULL, 'k' },
		{ "mode", required_argument, NULL, 'm' },
		{ "memory", required_argument, NULL, 'M' },
		{ "serial", required_argument, NULL, 's' },
		{ "exit-port", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*o = (struct opts){ .mode = MICRO_REAL, .memory = 16ULL << 20, .serial = "stdio" };
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			o->micro = optarg;
			break;
		case 'm':
			if (!strcmp(optarg, "real")) {
				o->mode = MICRO_REAL;
			} else if (!strcmp(optarg, "long")) {
				o->mode = MICRO_LONG;
			} else {
				pr_err("--mode: `%s` is not one of real, long", optarg);
				return -EINVAL;
			}
			break;
		case 'M':
			if (parse_size(optarg, &o->memory) < 0 || o->memory < (2ULL << 20) ||
			    o->memory > (64ULL << 30) || o->memory % 4096) {
				pr_err("--memory: `%s` is not a size from 2M to 64G in whole pages",
				       optarg);
				return -EINVAL;
			}
			break;
		case 's':
			o->serial = optarg;
			break;
		case 'x':
			o->exit_port = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument `%s`", argv[optind]);
		return -EINVAL;
	}
	if (!o->micro) {
		pr_err("--micro is required");
		return -EINVAL;
	}
	return 0;
}

static int open_serial(const char *spec)
{
	int fd;

	if (!strcmp(spec, "stdio"))
		return dup(STDOUT_FILENO);
	if (!strncmp(spec, "file:", 5) && spec[5]) {
		fd = open(spec + 5, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			pr_err("--serial: open `%s`: %s", spec + 5, strerror(errno));
		return fd;
	}
	pr_err("--serial: `%s` is not stdio or file:PATH", spec);
	errno = EINVAL;
	return -1;
}

int main(int argc, char **argv)
{
	_cleanup_free_ char *img = NULL;
	_cleanup_close_ int serial_fd = -1;
	struct serial com1;
	struct vcpu *vcpu;
	struct opts o;
	struct vm vm;
	size_t len;
	int ret, status;

	log_init("vps-vmm", LOG_INFO);
	if (parse_opts(argc, argv, &o) < 0)
		return EXIT_BAD_CONFIG;
	ret = read_file(o.micro, &img, &len);
	if (ret < 0) {
		pr_err("--micro: read `%s`: %s", o.micro, strerror(-ret));
		return EXIT_BAD_CONFIG;
	}
	serial_fd = open_serial(o.serial);
	if (serial_fd < 0)
		return EXIT_BAD_CONFIG;

	if (vm_create(&vm, o.memory) < 0)
		return EXIT_MONITOR_FAILED;
	status = EXIT_MONITOR_FAILED;
	ret = micro_load(&vm, o.mode, img, len);
	if (ret < 0) {
		pr_err("--micro: `%s` (%zu bytes) does not fit in %s mode", o.micro, len,
		       o.mode == MICRO_REAL ? "real" : "long");
		status = EXIT_BAD_CONFIG;
		goto out;
	}
	if (serial_init(&com1, &vm, SERIAL_COM1_BASE, serial_fd) < 0)
		goto out;
	if (o.exit_port && exitport_init(&vm) < 0)
		goto out;
	if (vcpu_create(&vm, 0, &vcpu) < 0)
		goto out;
	ret = micro_setup_vcpu(vcpu, o.mode);
	if (ret < 0) {
		pr_err("set up vcpu 0 for %s mode: %s", o.mode == MICRO_REAL ? "real" : "long",
		       strerror(-ret));
		goto out;
	}
	if (vcpu_run_loop(vcpu) < 0)
		goto out;

	switch (vm.exit_reason) {
	case VM_EXIT_PORT:
		status = vm.exit_status;
		break;
	case VM_HALTED:
		status = 0;
		break;
	case VM_SHUTDOWN:
		pr_warn("guest crashed (shutdown exit)");
		status = EXIT_GUEST_CRASHED;
		break;
	default:
		status = EXIT_MONITOR_FAILED;
		break;
	}
out:
	vm_destroy(&vm);
	return status;
}
