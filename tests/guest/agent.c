// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vps-agent: the guest end of the test runner's command channel (framing in
 * agent.h). Part of the multi-call test init: init.c starts it in the nested
 * test host L1 (vps.then=agent), and it can be run by hand as `vps-agent
 * [/dev/vportNpM]`.
 *
 * It runs one command at a time with /bin/sh -c, stdin from /dev/null, in a
 * session of its own, and streams stdout and stderr back as they come. At
 * the timeout the runner gave, it kills the command's process group (and if
 * that is not gone 10 s later, reports status -1 and leaves it). Once
 * the shell exits, output still buffered in the pipes is sent and the exit
 * frame follows; background jobs the command left running keep running
 * (tests that start them redirect their output to files).
 */
#define _GNU_SOURCE /* built outside meson's project arguments */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define CHUNK 65536 /* largest OUT/ERR payload the agent sends */
#define KILL_WAIT_MS 10000 /* after SIGKILL at the timeout, wait this long */

static unsigned char out_buf[sizeof(struct vps_agent_hdr) + CHUNK];

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * A virtio-serial read returns 0 while no one is connected on the host side;
 * the runner may connect late or come back, so that is a wait, not an end.
 */
static int read_full(int fd, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			sleep_ms(100);
			continue;
		}
		p += n;
		len -= n;
	}
	return 0;
}

static int send_frame(int port, int type, uint32_t id, const void *data, size_t len)
{
	struct vps_agent_hdr h = {
		.magic = VPS_AGENT_MAGIC,
		.type = type,
		.id = id,
		.len = len,
	};

	if (len > CHUNK)
		return -EMSGSIZE;
	memcpy(out_buf, &h, sizeof(h));
	if (len)
		memcpy(out_buf + sizeof(h), data, len);
	return write_all(port, out_buf, sizeof(h) + len);
}

/* The port named VPS_AGENT_PORT, found without udev through sysfs. */
static int port_open(const char *path)
{
	char name[64], dev[300];
	struct dirent *de;
	DIR *d;
	int fd = -1;

	if (path)
		return open(path, O_RDWR | O_CLOEXEC);
	d = opendir("/sys/class/virtio-ports");
	if (!d)
		return -1;
	while (fd < 0 && (de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(dev, sizeof(dev), "/sys/class/virtio-ports/%s/name", de->d_name);
		f = fopen(dev, "re");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f)) {
			name[strcspn(name, "\n")] = 0;
			if (!strcmp(name, VPS_AGENT_PORT)) {
				snprintf(dev, sizeof(dev), "/dev/%s", de->d_name);
				fd = open(dev, O_RDWR | O_CLOEXEC);
			}
		}
		fclose(f);
	}
	closedir(d);
	if (fd < 0)
		errno = ENOENT;
	return fd;
}

/* Forward what one pipe has; returns -1 once it reached end of file. */
static int pump(int port, uint32_t id, int type, int fd)
{
	static char buf[CHUNK];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return fd;
	if (n <= 0) {
		close(fd);
		return -1;
	}
	send_frame(port, type, id, buf, n);
	return fd;
}

static pid_t spawn(const char *cmd, int out[2], int err[2])
{
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		setsid();
		signal(SIGPIPE, SIG_DFL);
		dup2(null, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	if (pid < 0) {
		close(out[0]);
		close(err[0]);
	}
	return pid;
}

static void run(int port, uint32_t id, const char *cmd, uint32_t timeout_ms)
{
	struct vps_agent_exit ex = { 0 };
	long long deadline = now_ms() + timeout_ms;
	int out[2], err[2], pidfd, st;
	pid_t pid = spawn(cmd, out, err);
	char why[128];

	if (pid < 0) {
		snprintf(why, sizeof(why), "fork: %s", strerror(errno));
		send_frame(port, VPS_AGENT_FAIL, id, why, strlen(why));
		return;
	}
	pidfd = syscall(SYS_pidfd_open, pid, 0);

	for (;;) {
		struct pollfd p[3] = {
			{ .fd = out[0], .events = POLLIN },
			{ .fd = err[0], .events = POLLIN },
			{ .fd = pidfd, .events = POLLIN },
		};
		long long left = deadline - now_ms();
		int n;

		if (left < 0)
			left = 0;
		n = poll(p, 3, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && ex.timed_out) {
			/* SIGKILL did not end it (stuck in the kernel): say so */
			ex.status = -1;
			break;
		}
		if (n == 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			ex.timed_out = 1;
			deadline = now_ms() + KILL_WAIT_MS;
			continue;
		}
		if (p[0].revents)
			out[0] = pump(port, id, VPS_AGENT_OUT, out[0]);
		if (p[1].revents)
			err[0] = pump(port, id, VPS_AGENT_ERR, err[0]);
		if (p[2].revents || pidfd < 0)
			break;
	}

	/* The shell is gone: send what it left in the pipes, nothing more. */
	for (int i = 0; i < 2; i++) {
		int *fd = i ? &err[0] : &out[0];

		if (*fd < 0)
			continue;
		fcntl(*fd, F_SETFL, O_NONBLOCK);
		/* bounded: a background job may hold the pipe and keep writing */
		for (int round = 0; *fd >= 0 && round < 256; round++) {
			int was = *fd;

			*fd = pump(port, id, i ? VPS_AGENT_ERR : VPS_AGENT_OUT, *fd);
			if (*fd == was) {
				/* EAGAIN: drained; EOF closed it already */
				struct pollfd q = { .fd = was, .events = POLLIN };

				if (poll(&q, 1, 0) <= 0)
					break;
			}
		}
		if (*fd >= 0)
			close(*fd);
	}
	if (pidfd >= 0)
		close(pidfd);
	if (ex.status == 0) {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		ex.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	send_frame(port, VPS_AGENT_EXIT, id, &ex, sizeof(ex));
}

int agent_main(int argc, char **argv)
{
	static const char version[] = "vps-agent 1";
	struct vps_agent_hdr h;
	char *payload;
	int port, r;

	port = port_open(argc > 1 ? argv[1] : NULL);
	if (port < 0) {
		fprintf(stderr, "VPS-AGENT: fail open port `%s`: %s\n",
			argc > 1 ? argv[1] : VPS_AGENT_PORT, strerror(errno));
		return 1;
	}
	payload = malloc(VPS_AGENT_MAX_PAYLOAD + 1);
	if (!payload)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	if (!getenv("PATH"))
		setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
	fprintf(stderr, "VPS-AGENT: ready\n");
	send_frame(port, VPS_AGENT_READY, 0, version, strlen(version));

	for (;;) {
		r = read_full(port, &h, sizeof(h));
		if (r < 0)
			break;
		if (h.magic != VPS_AGENT_MAGIC || h.len > VPS_AGENT_MAX_PAYLOAD) {
			/* Lost the frame boundary: nothing after it is safe. */
			fprintf(stderr, "VPS-AGENT: fail bad frame header\n");
			return 1;
		}
		r = read_full(port, payload, h.len);
		if (r < 0)
			break;
		payload[h.len] = 0;

		switch (h.type) {
		case VPS_AGENT_PING:
			send_frame(port, VPS_AGENT_PONG, h.id, NULL, 0);
			break;
		case VPS_AGENT_RUN: {
			uint32_t timeout_ms;

			if (h.len < sizeof(timeout_ms)) {
				send_frame(port, VPS_AGENT_FAIL, h.id, "short run", 9);
				break;
			}
			memcpy(&timeout_ms, payload, sizeof(timeout_ms));
			run(port, h.id, payload + sizeof(timeout_ms), timeout_ms);
			break;
		}
		default:
			send_frame(port, VPS_AGENT_FAIL, h.id, "unknown type", 12);
		}
	}
	fprintf(stderr, "VPS-AGENT: fail read port: %s\n", strerror(-r));
	return 1;
}
