// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for src/monitor and src/sys/unix: the control server's framing,
 * limits and dispatch (without a socket), the console server's replay ring,
 * and the unix-socket helpers (listen over a stale socket, fd passing).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "monitor/client.h"
#include "monitor/console.h"
#include "monitor/server.h"
#include "sys/unix.h"

/* --- the control server, fed by hand -------------------------------------- */

static char sent[8192];
static size_t sent_len;

static ssize_t capture(int fd, const void *buf, size_t len)
{
	assert_true(sent_len + len < sizeof(sent));
	memcpy(sent + sent_len, buf, len);
	sent_len += len;
	sent[sent_len] = '\0';
	return len;
}

static json_t *echo(void *ctx, json_t *req)
{
	++*(int *)ctx;
	return json_pack("{s:b, s:O}", "ok", 1, "req", req);
}

static json_t *refuse(void *ctx, json_t *req)
{
	return monitor_error("no `%s`", "thing");
}

static const struct monitor_cmd cmds[] = { { "echo", echo }, { "fail", refuse } };

static void serve(struct monitor_server *s, int *calls)
{
	monitor_server_init(s, cmds, 2, calls);
	s->send = capture;
	s->conn[0].fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	sent_len = 0;
}

static void feed(struct monitor_server *s, const char *bytes)
{
	struct monitor_conn *c = &s->conn[0];
	size_t n = strlen(bytes);

	memcpy(c->buf + c->len, bytes, n);
	monitor_conn_input(s, c, n);
}

static void server_answers_each_line_once_whole(void **state)
{
	struct monitor_server s;
	int calls = 0;

	serve(&s, &calls);
	feed(&s, "{\"cmd\":\"echo\",\"a\":1}\n{\"cmd\":\"ec");
	assert_int_equal(calls, 1);
	feed(&s, "ho\"}\n");
	assert_int_equal(calls, 2);
	assert_string_equal(sent, "{\"ok\":true,\"req\":{\"a\":1,\"cmd\":\"echo\"}}\n"
				  "{\"ok\":true,\"req\":{\"cmd\":\"echo\"}}\n");
	assert_int_equal(s.conn[0].len, 0);
	monitor_server_close(&s, NULL);
}

static void server_refuses_what_is_not_a_command(void **state)
{
	struct monitor_server s;
	int calls = 0;

	serve(&s, &calls);
	feed(&s, "[1]\n{\"cmd\":\"nope\"}\n{\"cmd\":\"fail\"}\n");
	assert_int_equal(calls, 0);
	assert_string_equal(
		sent, "{\"error\":\"expected {\\\"cmd\\\": ...}\",\"ok\":false}\n"
		      "{\"error\":\"unknown command `nope` (known: echo, fail)\",\"ok\":false}\n"
		      "{\"error\":\"no `thing`\",\"ok\":false}\n");
	monitor_server_close(&s, NULL);
}

static void server_drops_a_line_too_long(void **state)
{
	struct monitor_server s;
	char big[MONITOR_MAX_LINE + 1];
	int calls = 0;

	serve(&s, &calls);
	memset(big, 'x', MONITOR_MAX_LINE);
	big[MONITOR_MAX_LINE] = '\0';
	feed(&s, big);
	assert_int_equal(s.conn[0].fd, -1);
	assert_string_equal(sent, "{\"error\":\"request longer than 4096 bytes\",\"ok\":false}\n");
	monitor_server_close(&s, NULL);
}

/* --- over a real socket: the server's loop, the client ---------------------- */

static void client_and_server_over_a_socket(void **state)
{
	char dir[] = "/tmp/test-monitor-XXXXXX", path[64];
	struct monitor_server s;
	struct err *e = NULL;
	struct pollfd p[MONITOR_SERVER_FDS];
	json_t *r;
	int calls = 0, fd;
	pid_t pid;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/control.sock", dir);
	monitor_server_init(&s, cmds, 2, &calls);
	assert_int_equal(monitor_server_listen(&s, path, &e), 0);
	pid = fork();
	if (pid == 0) { /* the client */
		r = monitor_call(path, json_pack("{s:s}", "cmd", "echo"), 5000, &e);
		_exit(r && json_is_true(json_object_get(r, "ok")) ? 0 : 1);
	}
	while (calls == 0) {
		monitor_server_fds(&s, p);
		assert_true(poll(p, MONITOR_SERVER_FDS, 5000) > 0);
		monitor_server_events(&s, p);
	}
	monitor_server_close(&s, path);
	assert_int_equal(access(path, F_OK), -1);
	fd = 0;
	assert_int_equal(waitpid(pid, &fd, 0), pid);
	assert_true(WIFEXITED(fd) && WEXITSTATUS(fd) == 0);
	/* nothing listens now: the client says so */
	r = json_pack("{s:s}", "cmd", "echo");
	assert_null(monitor_call(path, r, 100, &e));
	json_decref(r);
	assert_int_equal(e->errnum, ENOENT);
	err_free(&e);
	rmdir(dir);
}

/* --- the console's ring --------------------------------------------------- */

static void console_replays_the_last_ring_bytes(void **state)
{
	char dir[] = "/tmp/test-monitor-XXXXXX", path[64];
	struct monitor_console c;
	static uint8_t out[MONITOR_CONSOLE_RING + 100], got[MONITOR_CONSOLE_RING + 100];
	size_t n = 0;
	ssize_t k;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/console.sock", dir);
	assert_int_equal(monitor_console_listen(&c, path, 1, true, NULL), 0);
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = i * 7;
	/* past the ring's end, in two writes: the first 100 bytes fall out */
	monitor_console_output(&c, out, 1000);
	monitor_console_output(&c, out + 1000, sizeof(out) - 1000);
	fd = unix_connect(path);
	assert_true(fd >= 0);
	assert_int_equal(monitor_console_accept(&c), 0);
	shutdown(c.client[0], SHUT_WR);
	while ((k = read(fd, got + n, sizeof(got) - n)) > 0)
		n += k;
	assert_int_equal(n, MONITOR_CONSOLE_RING);
	assert_memory_equal(got, out + 100, MONITOR_CONSOLE_RING);
	close(fd);
	monitor_console_close(&c, path);
	rmdir(dir);
}

/* --- sys/unix ------------------------------------------------------------- */

static void listen_replaces_a_stale_socket_only(void **state)
{
	char dir[] = "/tmp/test-monitor-XXXXXX", path[64];
	struct stat st;
	int a, b;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	a = unix_listen(path, 0600, 0, 1);
	assert_true(a >= 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(unix_listen(path, 0600, 0, 1), -EADDRINUSE); /* a live one */
	close(a);
	b = unix_listen(path, 0660, SOCK_NONBLOCK, 1); /* a stale one */
	assert_true(b >= 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_true(fcntl(b, F_GETFL) & O_NONBLOCK);
	close(b);
	unlink(path);
	rmdir(dir);
}

static void fd_passing_takes_one_fd(void **state)
{
	char buf[CMSG_SPACE(2 * sizeof(int))] = { 0 }, byte = 'f';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = buf,
		.msg_controllen = sizeof(buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	int sv[2], fds[2], got, null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(unix_send_fd(sv[0], null), 0);
	got = unix_recv_fd(sv[1]);
	assert_true(got >= 0 && got != null);
	assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
	close(got);
	/* two at once: refused, and neither is left open here */
	fds[0] = fds[1] = null;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	assert_int_equal(sendmsg(sv[0], &msg, 0), 1);
	got = dup(null); /* the lowest free fd now, and after the refusal again */
	close(got);
	assert_int_equal(unix_recv_fd(sv[1]), -EPROTO);
	assert_int_equal(fcntl(got, F_GETFD), -1);
	close(sv[0]);
	assert_int_equal(unix_recv_fd(sv[1]), -EPIPE);
	close(sv[1]);
	close(null);
}

/* Pages of [p, p + len) resident (mincore), p page-aligned. */
static size_t resident(const void *p, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t n = (len + page - 1) / page, r = 0;
	unsigned char v[64];

	assert_true(n <= sizeof(v));
	assert_int_equal(mincore((void *)p, len, v), 0);
	for (size_t i = 0; i < n; i++)
		r += v[i] & 1;
	return r;
}

/*
 * An idle server in fresh memory (vps-ctm's is in a mapping of its own)
 * touches none of its line buffers; a client's first line touches its own
 * only (docs/ct-density.md, step 5: 32 KiB per container before).
 */
static void server_buffers_cost_nothing_until_used(void **state)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = sizeof(struct monitor_server);
	struct monitor_server *s =
		mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t bufs, end;
	int calls = 0;

	assert_true(s != MAP_FAILED);
	monitor_server_init(s, cmds, 2, &calls);
	/* the pages wholly inside the buffers */
	bufs = ((uintptr_t)s->bufs + page - 1) & ~(uintptr_t)(page - 1);
	end = (uintptr_t)s->bufs[MONITOR_MAX_CLIENTS - 1] + MONITOR_MAX_LINE;
	end &= ~(uintptr_t)(page - 1);
	assert_true(end - bufs >= (size_t)(MONITOR_MAX_CLIENTS - 1) * page);
	assert_int_equal(resident((void *)bufs, end - bufs), 0);
	s->send = capture;
	s->conn[3].fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	sent_len = 0;
	memcpy(s->conn[3].buf, "{\"cmd\":\"echo\"}\n", 15);
	monitor_conn_input(s, &s->conn[3], 15);
	assert_int_equal(calls, 1);
	assert_true(resident((void *)bufs, end - bufs) <= 2);
	monitor_server_close(s, NULL);
	munmap(s, len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(server_answers_each_line_once_whole),
		cmocka_unit_test(server_refuses_what_is_not_a_command),
		cmocka_unit_test(server_drops_a_line_too_long),
		cmocka_unit_test(client_and_server_over_a_socket),
		cmocka_unit_test(console_replays_the_last_ring_bytes),
		cmocka_unit_test(listen_replaces_a_stale_socket_only),
		cmocka_unit_test(fd_passing_takes_one_fd),
		cmocka_unit_test(server_buffers_cost_nothing_until_used),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
