// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The device I/O threads' loop: see iothread.h. Level-triggered unless a
 * handler asks for EPOLLET (the tap, which is read until it is empty or the
 * guest has no buffers left, and wakes us again on its next frame).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/iothread.h"
#include "vmm/jail.h"

#define STOP_TAG UINT64_MAX

int iothread_init(struct iothread *io, const char *name)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = STOP_TAG };
	int ret;

	memset(io, 0, sizeof(*io));
	io->name = name;
	io->stop_fd = -1;
	io->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (io->epfd < 0)
		return -errno;
	io->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (io->stop_fd < 0 || epoll_ctl(io->epfd, EPOLL_CTL_ADD, io->stop_fd, &ev) < 0) {
		ret = -errno;
		iothread_destroy(io);
		return ret;
	}
	return 0;
}

int iothread_add(struct iothread *io, int fd, uint32_t events, iothread_fn fn, void *opaque)
{
	struct epoll_event ev = { .events = events, .data.u64 = io->nr };

	if (io->started || io->nr >= IOTHREAD_MAX_FDS)
		return -ENOSPC;
	if (epoll_ctl(io->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	io->h[io->nr].fd = fd;
	io->h[io->nr].events = events;
	io->h[io->nr].fn = fn;
	io->h[io->nr].opaque = opaque;
	io->nr++;
	return 0;
}

int iothread_watch(struct iothread *io, int fd, bool on)
{
	unsigned int k;

	for (k = 0; k < io->nr; k++) {
		struct epoll_event ev = { .events = io->h[k].events, .data.u64 = k };

		if (io->h[k].fd != fd)
			continue;
		if (epoll_ctl(io->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev) < 0 &&
		    errno != (on ? EEXIST : ENOENT))
			return -errno;
		return 0;
	}
	return -ENOENT;
}

static void *loop(void *arg)
{
	struct iothread *io = arg;
	struct epoll_event ev[IOTHREAD_MAX_FDS + 1];
	char comm[16];

	/* `io-blk` in ps -L and /proc/PID/task/TID/comm; before the filter, which has no prctl */
	snprintf(comm, sizeof(comm), "io-%s", io->name);
	prctl(PR_SET_NAME, comm, 0, 0, 0);
	if (jail_thread(JAIL_DEVICE) < 0)
		return NULL;
	for (;;) {
		int n = epoll_wait(io->epfd, ev, IOTHREAD_MAX_FDS + 1, -1), i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pr_err("%s: epoll_wait: %s", io->name, strerror(errno));
			return NULL;
		}
		for (i = 0; i < n; i++) {
			uint64_t k = ev[i].data.u64;

			if (k == STOP_TAG)
				return NULL;
			io->h[k].fn(io->h[k].opaque, io->h[k].fd, ev[i].events);
		}
	}
}

int iothread_start(struct iothread *io)
{
	int ret = pthread_create(&io->thread, NULL, loop, io);

	if (ret)
		return -ret;
	io->started = true;
	return 0;
}

void iothread_stop(struct iothread *io)
{
	uint64_t one = 1;

	if (!io->started)
		return;
	if (write(io->stop_fd, &one, sizeof(one)) < 0)
		pr_warn("%s: stop the I/O thread: %s", io->name, strerror(errno));
	pthread_join(io->thread, NULL);
	io->started = false;
}

void iothread_destroy(struct iothread *io)
{
	iothread_stop(io);
	if (io->stop_fd >= 0)
		close(io->stop_fd);
	if (io->epfd >= 0)
		close(io->epfd);
	io->stop_fd = io->epfd = -1;
}
