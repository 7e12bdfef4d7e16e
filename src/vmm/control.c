// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Control socket: see control.h. Requests are small and answered at once,
 * so one poll loop serves every client; a client that sends a line longer
 * than CONTROL_MAX_LINE gets an error and is dropped, never buffered
 * without bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "sys/unix.h"
#include "vmm/control.h"
#include "vmm/jail.h"

int control_open(struct control *c, const char *path, struct vm *vm,
		 const struct control_hooks *hooks, struct err **err)
{
	unsigned int i;
	int fd;

	memset(c, 0, sizeof(*c));
	c->listen_fd = -1;
	c->vm = vm;
	c->hooks = hooks;
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		c->client[i].fd = -1;
	c->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (!path)
		return 0;
	/* 0600: only the owner may steer the VM; a jailed monitor before us (a guest reboot) could not remove its socket */
	fd = unix_listen(path, 0600, SOCK_NONBLOCK, CONTROL_MAX_CLIENTS);
	if (fd < 0)
		return err_make(err, -fd, "control socket `%s`", path);
	c->listen_fd = fd;
	return 0;
}

void control_close(struct control *c, const char *path)
{
	unsigned int i;

	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (c->client[i].fd >= 0)
			close(c->client[i].fd);
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		if (path &&
		    !jail_active()) /* jailed, the path is out of reach: the keeper removes it */
			unlink(path);
	}
	c->listen_fd = -1;
	if (c->statm_fd >= 0)
		close(c->statm_fd);
	c->statm_fd = -1;
}

static const char *state_name(struct vm *vm)
{
	if (__atomic_load_n(&vm->exit_reason, __ATOMIC_SEQ_CST) != VM_RUNNING)
		return "stopping";
	return vm_is_paused(vm) ? "paused" : "running";
}

static uint64_t rss_bytes(int statm_fd)
{
	unsigned long long size, rss;
	char s[128];
	ssize_t n = statm_fd >= 0 ? pread(statm_fd, s, sizeof(s) - 1, 0) : -1;

	if (n <= 0)
		return 0;
	s[n] = 0;
	if (sscanf(s, "%llu %llu", &size, &rss) != 2)
		return 0;
	return rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static json_t *reply_error(const char *msg)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static json_t *do_stats(struct control *c)
{
	json_t *r = json_pack("{s:b, s:s, s:I}", "ok", 1, "state", state_name(c->vm), "rss_bytes",
			      (json_int_t)rss_bytes(c->statm_fd));
	json_t *t = json_array();
	unsigned int i;

	for (i = 0; i < c->vm->nr_vcpus; i++)
		json_array_append_new(t, json_integer(vcpu_cpu_time_ns(c->vm->vcpus[i])));
	json_object_set_new(r, "vcpu_time_ns", t);
	if (c->hooks && c->hooks->stats)
		c->hooks->stats(c->hooks->machine, r);
	return r;
}

static json_t *do_balloon(struct control *c, json_t *req)
{
	json_t *t = json_object_get(req, "target");
	struct err *e = NULL;
	json_t *r;

	if (!c->hooks || !c->hooks->balloon_set)
		return reply_error("this VM has no balloon");
	if (!json_is_integer(t) || json_integer_value(t) < 0)
		return reply_error("`target`: expected a byte count");
	if (c->hooks->balloon_set(c->hooks->machine, json_integer_value(t), &e) < 0) {
		r = reply_error(err_msg(e));
		err_free(&e);
		return r;
	}
	return json_pack("{s:b}", "ok", 1);
}

char *control_handle(struct control *c, const char *line)
{
	json_error_t jerr;
	json_t *req, *r = NULL;
	const char *cmd = NULL;
	char *out;

	req = json_loads(line, 0, &jerr);
	if (!req || !json_is_object(req) || json_unpack(req, "{s:s}", "cmd", &cmd) < 0) {
		r = reply_error("expected {\"cmd\": ...}");
	} else if (!strcmp(cmd, "state")) {
		r = json_pack("{s:b, s:s, s:i, s:I, s:b}", "ok", 1, "state", state_name(c->vm),
			      "vcpus", c->vm->nr_vcpus, "memory", (json_int_t)c->vm->ram_size,
			      "reserve", c->vm->ram_reserved);
		if (c->console_path)
			json_object_set_new(r, "console", json_string(c->console_path));
	} else if (!strcmp(cmd, "pause")) {
		r = vm_pause(c->vm) < 0 ? reply_error("the VM is stopping") :
					  json_pack("{s:b, s:s}", "ok", 1, "state", "paused");
	} else if (!strcmp(cmd, "resume")) {
		vm_resume(c->vm);
		r = json_pack("{s:b, s:s}", "ok", 1, "state", state_name(c->vm));
	} else if (!strcmp(cmd, "stop")) {
		vm_request_exit(c->vm, VM_STOPPED, 0);
		r = json_pack("{s:b}", "ok", 1);
	} else if (!strcmp(cmd, "shutdown")) {
		if (!c->hooks || !c->hooks->power_button)
			r = reply_error("this VM has no ACPI power button");
		else if (c->hooks->power_button(c->hooks->opaque) < 0)
			r = reply_error("pressing the power button failed");
		else
			r = json_pack("{s:b}", "ok", 1);
	} else if (!strcmp(cmd, "stats")) {
		r = do_stats(c);
	} else if (!strcmp(cmd, "balloon")) {
		r = do_balloon(c, req);
	} else {
		char msg[160];

		snprintf(msg, sizeof(msg),
			 "unknown command `%.40s` (known: state, pause, resume, stop, shutdown, "
			 "stats, balloon)",
			 cmd);
		r = reply_error(msg);
	}
	json_decref(req);
	out = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(r);
	return out;
}

static void client_drop(struct control_client *cl)
{
	close(cl->fd);
	cl->fd = -1;
	cl->len = 0;
}

static void client_reply(struct control_client *cl, const char *reply)
{
	if (write_all(cl->fd, reply, strlen(reply)) < 0 || write_all(cl->fd, "\n", 1) < 0)
		client_drop(cl);
}

static void client_read(struct control *c, struct control_client *cl)
{
	ssize_t n = read(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len);
	char *nl;

	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		client_drop(cl);
		return;
	}
	cl->len += n;
	while (cl->fd >= 0 && (nl = memchr(cl->buf, '\n', cl->len))) {
		_cleanup_free_ char *reply = NULL;

		*nl = '\0';
		reply = control_handle(c, cl->buf);
		if (reply)
			client_reply(cl, reply);
		if (cl->fd < 0)
			return;
		cl->len -= nl + 1 - cl->buf;
		memmove(cl->buf, nl + 1, cl->len);
	}
	if (cl->len == sizeof(cl->buf)) {
		client_reply(cl, "{\"error\":\"request longer than 4096 bytes\",\"ok\":false}");
		if (cl->fd >= 0)
			client_drop(cl);
	}
}

static void accept_client(struct control *c)
{
	unsigned int i;
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		if (c->client[i].fd < 0) {
			c->client[i].fd = fd;
			c->client[i].len = 0;
			return;
		}
	}
	write_all(fd, "{\"error\":\"too many clients\",\"ok\":false}\n", 40);
	close(fd);
}

void control_loop(struct control *c)
{
	struct pollfd pfd[CONTROL_MAX_CLIENTS + 2];
	unsigned int i, n;

	for (;;) {
		n = 0;
		pfd[n++] = (struct pollfd){ .fd = c->vm->stop_efd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = c->listen_fd, .events = POLLIN };
		for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
			pfd[n++] = (struct pollfd){ .fd = c->client[i].fd, .events = POLLIN };
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("control: poll: %s", strerror(errno));
			return;
		}
		if (pfd[0].revents)
			return;
		if (pfd[1].revents & POLLIN)
			accept_client(c);
		for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
			if (pfd[2 + i].revents && c->client[i].fd >= 0)
				client_read(c, &c->client[i]);
	}
}
