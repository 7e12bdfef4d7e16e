/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An I/O thread: one epoll loop that calls a handler when one of its
 * descriptors is ready. Each virtio device has its own (docs/vmm.md,
 * "Notifications and interrupts"): its queues' doorbell eventfds, which
 * KVM signals on the guest's notify write, and its backend's descriptors
 * (a tap). Handlers are added before the thread starts and stay until it
 * is stopped, so the loop never changes its set while it runs.
 *
 * The thread narrows its seccomp filter to the device I/O class
 * (JAIL_DEVICE, jail.c) before it waits for the first time.
 */
#ifndef VPS_VMM_IOTHREAD_H
#define VPS_VMM_IOTHREAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define IOTHREAD_MAX_FDS 16

/* Called on the I/O thread with the epoll events of `fd`. */
typedef void (*iothread_fn)(void *opaque, int fd, uint32_t events);

struct iothread {
	const char *name; /* for log lines: "virtio-blk" */
	int epfd;
	int stop_fd; /* eventfd: the loop ends when it is readable */
	pthread_t thread;
	bool started;
	unsigned int nr;
	struct {
		int fd;
		uint32_t events;
		iothread_fn fn;
		void *opaque;
	} h[IOTHREAD_MAX_FDS];
};

int iothread_init(struct iothread *io, const char *name);
/* Watch `fd` for `events` (EPOLLIN, EPOLLET...); before iothread_start. */
int iothread_add(struct iothread *io, int fd, uint32_t events, iothread_fn fn, void *opaque);
/*
 * Stop (on false) or resume watching `fd`, added before: while the kernel
 * serves a queue itself (vhost-net), its doorbell and its tap are not ours
 * to wake for. Any thread; a handler already woken still runs once.
 */
int iothread_watch(struct iothread *io, int fd, bool on);
/* After the monitor's jail: the thread narrows its own filter. */
int iothread_start(struct iothread *io);
/* End the loop and join it; a handler running finishes first. */
void iothread_stop(struct iothread *io);
void iothread_destroy(struct iothread *io);

#endif
