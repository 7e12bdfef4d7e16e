// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the monitors' control socket (src/monitor/server.c) with
 * each monitor's command table: vps-vmm's (vmm/control.c, against a VM
 * without vCPUs: pause, resume and stop work on its state alone, and hooks
 * that answer like the machine's) and vps-ctm's (ctm/ctl.c, whose checks
 * run against a container's settings and whose actions answer ok; a `set`
 * that passes is turned into the OCI resources the monitor would hand
 * `vps-ct update`). The input is the bytes a client sends, fed to the
 * server's own framing (monitor_conn_input) in reads of a fuzzed size;
 * every reply must be one JSON object with `ok`.
 *
 * Everything is set up once: an input costs no socket, thread or file.
 *
 * Input: a selector byte (bit 0: vmm or ctm; the rest: the read size), then
 * the bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ctm/ctl.h"
#include "ctm/ctm.h"
#include "fuzz.h"
#include "monitor/server.h"
#include "vmm/control.h"

/*
 * Most of an input's time is ASan's allocator under jansson recording where
 * each block was allocated; without that record (a report still says where
 * the bad access is; rerun the input with ASAN_OPTIONS=malloc_context_size=30
 * for the allocation's stack) this target runs a quarter faster.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "malloc_context_size=0";
}

/* --- vps-vmm ------------------------------------------------------------- */

static struct vm vm;
static struct control vctl;
static int button_result;

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

static bool logging;

static int dirty_log(void *machine, bool on, struct err **err)
{
	logging = on;
	return 1;
}

/* One disk, four ranges marked and more to come (the answer's bound is the command's). */
static int dirty_take(void *machine, unsigned int disk, uint64_t (*ranges)[2], unsigned int max,
		      bool *more, const char **id, unsigned int *nr, struct err **err)
{
	*id = "root";
	*nr = 1;
	if (disk >= 1)
		return err_make(err, EINVAL, "`disk`: this VM has 1 disk(s)");
	if (!logging)
		return err_make(err, ENOENT, "no dirty-block log runs");
	if (max > 4)
		max = 4;
	for (unsigned int i = 0; i < max; i++) {
		ranges[i][0] = (uint64_t)i << 17;
		ranges[i][1] = 1 << 16;
	}
	*more = true;
	return (int)max;
}

static const struct control_hooks hooks = {
	.power_button = power_button,
	.opaque = &button_result,
	.balloon_set = balloon_set,
	.stats = stats,
	.dirty_log = dirty_log,
	.dirty_take = dirty_take,
};

/* --- vps-ctm ------------------------------------------------------------- */

static struct ctm_config base;
static struct ctm_ctl cctx;
static struct monitor_server cctl;

static json_t *ok(void *m)
{
	return monitor_ok();
}

static json_t *ok_shutdown(void *m, unsigned int timeout)
{
	return timeout <= 3600 ? monitor_ok() : (__builtin_trap(), NULL);
}

static json_t *ok_grow(void *m, uint64_t size)
{
	return monitor_ok();
}

/* What monitor.c's do_set() writes for `vps-ct update` in a running container. */
static json_t *set(void *m, const struct ctm_config *nc)
{
	json_t *res = ctm_spec_update(nc, nc);
	char *out = json_dumps(res, JSON_COMPACT);

	if (!out)
		__builtin_trap();
	free(out);
	json_decref(res);
	return json_pack("{s:b, s:b}", "ok", 1, "live", 1);
}

/* disk-copy's path reached the action only if it passed the check */
static json_t *ok_disk_copy(void *m, const char *to)
{
	if (to[0] != '/' || strstr(to, "/../"))
		__builtin_trap();
	return json_pack("{s:b}", "ok", 1);
}

static const struct ctm_ctl_ops ops = {
	.state = ok,
	.stats = ok,
	.shutdown = ok_shutdown,
	.reboot = ok,
	.stop = ok,
	.set = set,
	.grow = ok_grow,
	.disk_copy = ok_disk_copy,
};

static void ctm_settings(void)
{
	static const char doc[] =
		"{\"name\": \"web1\", \"dir\": \"/nonexistent/vps-fuzz/web1\", "
		"\"template\": \"/nonexistent/t.tar\", \"memory\": \"512M\", \"swap\": \"256M\", "
		"\"cpus\": 1, \"disk\": \"1G\", \"pids\": 512}";
	json_t *j = json_loads(doc, 0, NULL);

	ctm_config_init(&base);
	if (!j || ctm_config_from_json(&base, j, NULL) < 0)
		abort();
	json_decref(j);
}

/* --- the client ---------------------------------------------------------- */

/* The server's replies come here instead of a socket: each must be {"ok": ..., ...}. */
static ssize_t check_reply(int fd, const void *buf, size_t len)
{
	const char *s = buf;

	if (len == 1 && s[0] == '\n')
		return 1;
	if (len < 2 || s[0] != '{' || s[len - 1] != '}' || s[len] != '\0' ||
	    (!strstr(s, "\"ok\":true") && !strstr(s, "\"ok\":false")))
		__builtin_trap();
	return len;
}

static int devnull = -1;

static void setup(void)
{
	pthread_mutex_init(&vm.lock, NULL);
	pthread_cond_init(&vm.cond, NULL);
	vm.ram_size = 512 << 20;
	vm.stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm.stop_efd < 0 || control_open(&vctl, NULL, &vm, &hooks, NULL) < 0)
		abort();
	vctl.console_path = "/dev/pts/7";
	vctl.srv.send = check_reply;
	ctm_settings();
	cctx = (struct ctm_ctl){ .ops = &ops, .c = &base };
	monitor_server_init(&cctl, ctm_ctl_cmds, CTM_CTL_COMMANDS, &cctx);
	cctl.send = check_reply;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct monitor_server *s;
	struct monitor_conn *c;
	size_t chunk, take;
	uint64_t v;

	if (devnull < 0)
		setup();
	if (!size)
		return 0;
	s = data[0] & 1 ? &cctl : &vctl.srv;
	chunk = 1 + (data[0] >> 1) * 33; /* 1 to 4192 bytes a read */
	data++;
	size--;
	vm.exit_reason = VM_RUNNING;
	vm.paused = false;
	button_result = size & 1 ? -1 : 0;
	if (read(vm.stop_efd, &v, sizeof(v)) < 0)
		v = 0;
	/* a connected client; the server closes its fd when it drops it (a line too long) */
	c = &s->conn[0];
	c->fd = devnull;
	c->len = 0;
	while (size && c->fd >= 0) {
		take = MONITOR_MAX_LINE - c->len;
		take = take < chunk ? take : chunk;
		take = take < size ? take : size;
		memcpy(c->buf + c->len, data, take);
		monitor_conn_input(s, c, take);
		data += take;
		size -= take;
	}
	if (c->fd < 0 && (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		abort();
	c->fd = -1;
	return 0;
}
