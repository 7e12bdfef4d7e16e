// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: vps-vmm's control socket (src/vmm/control.c): the bytes a
 * client sends, cut into lines the way the server cuts them, each handled by
 * control_handle() against a VM with no vCPUs (pause, resume and stop work
 * on its state alone) and hooks that answer like the machine's; every reply
 * must be one JSON object with `ok`.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fuzz.h"
#include "vmm/control.h"

static struct vm vm;
static struct control ctl;

static int power_button(void *opaque)
{
	return *(int *)opaque;
}

static int balloon_set(void *machine, uint64_t target, struct err **err)
{
	if (target > 1ULL << 30)
		return err_make(err, EINVAL, "balloon target %llu is above the VM's",
				(unsigned long long)target);
	return 0;
}

static void stats(void *machine, json_t *reply)
{
	json_object_set_new(reply, "disk", json_pack("{s:I}", "read_ops", (json_int_t)1));
}

static int button_result;
static const struct control_hooks hooks = {
	.power_button = power_button,
	.opaque = &button_result,
	.balloon_set = balloon_set,
	.stats = stats,
};

static void handle(const char *line)
{
	char *reply = control_handle(&ctl, line);
	json_t *j;

	if (!reply)
		__builtin_trap();
	j = json_loads(reply, 0, NULL);
	if (!json_is_object(j) || !json_is_boolean(json_object_get(j, "ok")))
		__builtin_trap();
	json_decref(j);
	free(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[CONTROL_MAX_LINE];
	uint64_t v;

	if (!ctl.vm) {
		pthread_mutex_init(&vm.lock, NULL);
		pthread_cond_init(&vm.cond, NULL);
		vm.ram_size = 512 << 20;
		vm.stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vm.stop_efd < 0 || control_open(&ctl, NULL, &vm, &hooks, NULL) < 0)
			abort();
		ctl.console_path = "/dev/pts/7";
	}
	vm.exit_reason = VM_RUNNING;
	vm.paused = false;
	button_result = size & 1 ? -1 : 0;
	if (read(vm.stop_efd, &v, sizeof(v)) < 0)
		v = 0;
	/* client_read(): whole lines answered, an overlong one dropped */
	fuzz_lines(data, size, buf, sizeof(buf), handle);
	return 0;
}
