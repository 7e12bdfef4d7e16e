// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Live migration (migrate.h, docs/vmm.md "Live migration"): pre-copy over one
 * stream socket. The source turns on KVM's dirty log for every RAM slot and
 * marks what the monitor's own threads touch (mem.h), sends all RAM (zero
 * pages skipped: the destination's RAM is fresh), then passes of what the
 * guest dirtied meanwhile, until what is left would go in the downtime
 * limit at the speed measured so far or the passes run out; then it parks
 * the vCPUs, locks the devices, sends the last dirty pages, every page the
 * devices may have written and the used rings, then the state image, and
 * waits for the destination's OK before it sends GO and leaves. Anything
 * short of that (an error, a cancel, a destination that dies or goes quiet)
 * and the source unlocks, drops the log and runs on.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "monitor/protocol.h"
#include "vmm/jail.h"
#include "vmm/migrate.h"

#define BITS (8 * sizeof(unsigned long))

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- sockets ---- */

/* `tcp:HOST:PORT` (numeric, IPv4 or [IPv6]) or a unix socket path. */
static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len,
		      struct err **err)
{
	memset(ss, 0, sizeof(*ss));
	if (!strncmp(addr, "tcp:", 4)) {
		const char *host = addr + 4, *colon = strrchr(host, ':');
		char h[64], *end;
		unsigned long port;
		size_t hl;

		if (!colon)
			return err_make(err, EINVAL, "`%s`: expected tcp:HOST:PORT", addr);
		port = strtoul(colon + 1, &end, 10);
		hl = colon - host;
		if (*end || !colon[1] || port == 0 || port > 65535 || hl == 0 || hl >= sizeof(h))
			return err_make(err, EINVAL, "`%s`: expected tcp:HOST:PORT", addr);
		if (host[0] == '[' && host[hl - 1] == ']') {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

			memcpy(h, host + 1, hl - 2);
			h[hl - 2] = 0;
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(port);
			if (inet_pton(AF_INET6, h, &s6->sin6_addr) != 1)
				return err_make(err, EINVAL, "`%s`: not an IPv6 address", addr);
			*len = sizeof(*s6);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

			memcpy(h, host, hl);
			h[hl] = 0;
			s4->sin_family = AF_INET;
			s4->sin_port = htons(port);
			if (inet_pton(AF_INET, h, &s4->sin_addr) != 1)
				return err_make(err, EINVAL,
						"`%s`: not a numeric IPv4 address (no names are "
						"looked up)",
						addr);
			*len = sizeof(*s4);
		}
		return 0;
	}
	struct sockaddr_un *su = (struct sockaddr_un *)ss;

	if (!addr[0] || strlen(addr) >= sizeof(su->sun_path))
		return err_make(err, EINVAL, "`%s`: a unix socket path of 1 to %zu bytes", addr,
				sizeof(su->sun_path) - 1);
	su->sun_family = AF_UNIX;
	strcpy(su->sun_path, addr);
	*len = sizeof(*su);
	return 0;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = MIG_TIMEOUT_S };
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails on unix: fine */
}

int migration_listen(const char *addr, int uid, int gid, struct err **err)
{
	struct sockaddr_storage ss;
	struct sockaddr_un *su = (struct sockaddr_un *)&ss;
	socklen_t len;
	int fd, one = 1;

	if (parse_addr(addr, &ss, &len, err) < 0)
		return -EINVAL;
	/*
	 * A unix socket for another uid is bound under a temporary name, handed
	 * over, then renamed into place: a source never finds it still root's.
	 */
	if (ss.ss_family == AF_UNIX && uid >= 0) {
		if (strlen(addr) + 4 >= sizeof(su->sun_path))
			return err_make(err, EINVAL, "`%s`: too long", addr);
		strcat(su->sun_path, ".new");
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_make(err, errno, "`migrate_listen`: socket");
	if (ss.ss_family != AF_UNIX)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (ss.ss_family == AF_UNIX && uid >= 0 &&
	     (chown(su->sun_path, uid, gid) < 0 || rename(su->sun_path, addr) < 0)) ||
	    listen(fd, 1) < 0) {
		int e = errno;

		if (ss.ss_family == AF_UNIX && uid >= 0)
			unlink(su->sun_path);
		close(fd);
		return err_make(err, e, "`migrate_listen`: `%s`", addr);
	}
	return fd;
}

int migration_accept(int lfd, const char *addr, struct err **err)
{
	int fd;

	do
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return err_make(err, errno, "`migrate_listen`: accept");
	close(lfd); /* one source only */
	if (strncmp(addr, "tcp:", 4))
		unlink(addr);
	set_timeouts(fd);
	return fd;
}

/*
 * Connect to `to`. Under migrate_dir (dirfd), a unix socket is one name in
 * that directory, reached through fchdir (connect takes no directory fd);
 * without it a jailed monitor can reach only TCP.
 */
static int connect_to(const char *to, int dirfd, struct err **err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, ret, cwd = -1;

	if (parse_addr(to, &ss, &len, err) < 0)
		return -EINVAL;
	if (ss.ss_family == AF_UNIX) {
		if (dirfd >= 0 && (strchr(to, '/') || !strcmp(to, ".") || !strcmp(to, "..")))
			return err_make(err, EINVAL,
					"`to`: one name under the migration directory");
		if (dirfd < 0 && jail_active())
			return err_make(err, EPERM,
					"a jailed monitor reaches unix sockets only under its "
					"`migrate_dir` (or use tcp:HOST:PORT)");
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_make(err, errno, "migrate: socket");
	set_timeouts(fd);
	if (ss.ss_family == AF_UNIX && dirfd >= 0) {
		cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cwd < 0 || fchdir(dirfd) < 0) {
			ret = err_make(err, errno, "migrate: enter the migration directory");
			goto fail;
		}
	}
	ret = connect(fd, (struct sockaddr *)&ss, len);
	if (ret < 0)
		ret = err_make(err, errno, "migrate: connect to `%s`", to);
	if (cwd >= 0) {
		if (fchdir(cwd) < 0)
			pr_warn("migrate: back to the working directory: %s", strerror(errno));
		close(cwd);
		cwd = -1;
	}
	if (ret == 0)
		return fd;
fail:
	if (cwd >= 0)
		close(cwd);
	close(fd);
	return ret;
}

static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		p += n;
		len -= n;
	}
	return 0;
}

static int send_frame(int fd, uint32_t type, const void *a, size_t alen, const void *b, size_t blen)
{
	uint8_t h[MIG_HDR_LEN];
	uint32_t t = htole32(type), z = 0;
	uint64_t l = htole64(alen + blen);
	int r;

	memcpy(h, &t, 4);
	memcpy(h + 4, &z, 4);
	memcpy(h + 8, &l, 8);
	r = write_full(fd, h, sizeof(h));
	if (r == 0 && alen)
		r = write_full(fd, a, alen);
	if (r == 0 && blen)
		r = write_full(fd, b, blen);
	return r;
}

static int recv_header(int fd, uint32_t *type, uint64_t *len)
{
	uint8_t h[MIG_HDR_LEN];
	uint32_t t, z;
	uint64_t l;
	int r = read_full(fd, h, sizeof(h));

	if (r < 0)
		return r;
	memcpy(&t, h, 4);
	memcpy(&z, h + 4, 4);
	memcpy(&l, h + 8, 8);
	*type = le32toh(t);
	*len = le64toh(l);
	return z ? -EBADMSG : 0;
}

/* ---- the source ---- */

struct dirty {
	unsigned long *pending; /* pages to send, one bit per page of RAM */
	unsigned long *slot[GUEST_MEM_MAX_REGIONS]; /* KVM_GET_DIRTY_LOG, per slot */
	unsigned long *device; /* marked by the monitor's threads (mem.h) */
	uint64_t npages;
};

static size_t words(uint64_t bits)
{
	return (bits + BITS - 1) / BITS;
}

static int set_logging(struct vm *vm, bool on)
{
	unsigned int i;

	for (i = 0; i < vm->mem.nr; i++) {
		const struct mem_region *r = &vm->mem.r[i];
		struct kvm_userspace_memory_region region = {
			.slot = i,
			.flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
			return -errno;
	}
	return 0;
}

/* Fold KVM's log of every slot (read and cleared) into d->pending. */
static int collect(struct vm *vm, struct dirty *d)
{
	unsigned int i;
	size_t w;

	for (i = 0; i < vm->mem.nr; i++) {
		const struct mem_region *r = &vm->mem.r[i];
		uint64_t base = (uint64_t)(r->hva - (uint8_t *)vm->ram) / MIG_PAGE,
			 n = r->size / MIG_PAGE, pg;
		struct kvm_dirty_log log = { .slot = i, .dirty_bitmap = d->slot[i] };

		memset(d->slot[i], 0, words(n) * sizeof(unsigned long));
		if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
			return -errno;
		for (w = 0; w < words(n); w++) {
			unsigned long bits = d->slot[i][w];

			while (bits) {
				pg = base + w * BITS + __builtin_ctzl(bits);
				bits &= bits - 1;
				d->pending[pg / BITS] |= 1UL << (pg % BITS);
			}
		}
	}
	return 0;
}

static uint64_t count_bits(const unsigned long *b, uint64_t nbits)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < words(nbits); i++)
		n += __builtin_popcountl(b[i]);
	return n;
}

static bool test_bit(const unsigned long *b, uint64_t i)
{
	return b[i / BITS] >> (i % BITS) & 1;
}

static bool zero_page(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)p;
	unsigned int i;

	for (i = 0; i < MIG_PAGE / 8; i++)
		if (q[i])
			return false;
	return true;
}

static bool cancelled(struct migration *m)
{
	return __atomic_load_n(&m->cancel, __ATOMIC_SEQ_CST);
}

static void add_bytes(struct migration *m, uint64_t n)
{
	pthread_mutex_lock(&m->lock);
	m->fig.bytes += n;
	pthread_mutex_unlock(&m->lock);
}

/* One MEM frame: pages [first, first + n) of RAM. */
static int send_pages(struct migration *m, int fd, uint64_t first, uint64_t n)
{
	uint64_t off = htole64(first * MIG_PAGE);
	int r = send_frame(fd, MIG_MEM, &off, sizeof(off),
			   (uint8_t *)m->parts.vm->ram + first * MIG_PAGE, n * MIG_PAGE);

	if (r == 0)
		add_bytes(m, n * MIG_PAGE);
	if (r == 0 && m->max_bandwidth && !m->final) {
		/* hold to max_bandwidth while the guest runs (not in the downtime) */
		uint64_t due, now;

		m->paced += n * MIG_PAGE;
		due = m->pace_start + m->paced * 1000000 / m->max_bandwidth;
		now = now_us();
		if (due > now) {
			struct timespec ts = { .tv_sec = (due - now) / 1000000,
					       .tv_nsec = (due - now) % 1000000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	return r;
}

/*
 * Send the pages `sel` picks (all when NULL, skipping zero pages: the
 * destination starts from zeros), in runs of up to MIG_MAX_CHUNK; clears
 * `sel` as it goes. Stops early when cancelled.
 */
static int send_set(struct migration *m, int fd, unsigned long *sel, uint64_t npages)
{
	const uint8_t *ram = m->parts.vm->ram;
	uint64_t pg = 0, run = 0, start = 0;
	int r;

	for (pg = 0; pg <= npages; pg++) {
		bool want = pg < npages &&
			    (sel ? test_bit(sel, pg) : !zero_page(ram + pg * MIG_PAGE));

		if (want && run == 0)
			start = pg;
		if (want)
			run++;
		if (run && (!want || run == MIG_MAX_CHUNK / MIG_PAGE)) {
			if (cancelled(m))
				return -ECANCELED;
			r = send_pages(m, fd, start, run);
			if (r < 0)
				return r;
			run = 0;
		}
	}
	if (sel)
		memset(sel, 0, words(npages) * sizeof(unsigned long));
	return 0;
}

static int read_reply(int fd, const char *what, struct err **err)
{
	char msg[MIG_MAX_MSG + 1];
	uint32_t type;
	uint64_t len;
	int r = recv_header(fd, &type, &len);

	if (r < 0)
		return err_make(err, -r, "migrate: no answer from the destination to %s", what);
	if ((type != MIG_OK && type != MIG_ERR) || len > MIG_MAX_MSG)
		return err_make(err, EBADMSG, "migrate: the destination answered %s with nonsense",
				what);
	r = read_full(fd, msg, len);
	if (r < 0)
		return err_make(err, -r, "migrate: the destination's answer to %s", what);
	msg[len] = 0;
	if (type == MIG_ERR)
		return err_make(err, EPROTO, "migrate: the destination refused %s: %s", what, msg);
	return 0;
}

static void set_progress(struct migration *m, uint64_t round, uint64_t dirty)
{
	pthread_mutex_lock(&m->lock);
	m->round = round;
	m->dirty_pages = dirty;
	m->device_pages = count_bits(m->device, m->parts.vm->ram_size / MIG_PAGE);
	pthread_mutex_unlock(&m->lock);
}

#define MIG_BARRIER_S \
	10 /* the disks' barrier waits this long for migration_continue (Linux gives a disk request 30 s) */

/*
 * The disks' barrier: their requests in flight complete (their last blocks in
 * the files, marked in the dirty-block logs) and new ones wait on the rings,
 * which go with the state; then wait for migration_continue (the last
 * blocks copied), a cancel, or MIG_BARRIER_S. On a return < 0 nothing is held.
 */
static int barrier_wait(struct migration *m, struct err **err)
{
	struct timespec until;
	bool go;
	int r;

	if ((r = machine_disks_barrier(m->parts.mc, err)) < 0)
		return r;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += MIG_BARRIER_S;
	pthread_mutex_lock(&m->lock);
	m->at_barrier = true;
	while (!m->barrier_go && !m->cancel &&
	       pthread_cond_timedwait(&m->cond, &m->lock, &until) == 0)
		;
	go = m->barrier_go && !m->cancel;
	m->at_barrier = false;
	pthread_mutex_unlock(&m->lock);
	if (go)
		return 0;
	machine_disks_release(m->parts.mc);
	return err_make(err, m->cancel ? ECANCELED : ETIMEDOUT, "migrate: %s at the disks' barrier",
			m->cancel ? "cancelled" : "no `migrate-continue` came");
}

static int final_pass(struct migration *m, int fd, struct dirty *d, uint64_t t_start,
		      struct err **err)
{
	struct vm *vm = m->parts.vm;
	struct snap_w w;
	uint64_t t_pause = now_us(), n;
	size_t i;
	int r;

	if (vm_pause(vm) < 0)
		return err_make(err, ESRCH, "migrate: the VM is stopping");
	pthread_mutex_lock(&m->lock);
	m->final = true;
	pthread_mutex_unlock(&m->lock);
	if (m->barrier && (r = barrier_wait(m, err)) < 0)
		return r;
	machine_lock_devices(m->parts.mc);
	/* io_uring's requests complete (into marked pages) before the last pass */
	r = machine_quiesce_locked(m->parts.mc, err);
	if (r < 0)
		goto out;
	/* the used rings: written through pointers taken when the queue was enabled */
	machine_mark_used_rings(m->parts.mc);
	r = collect(vm, d);
	if (r < 0) {
		r = err_make(err, -r, "migrate: KVM_GET_DIRTY_LOG");
		goto out;
	}
	for (i = 0; i < words(d->npages); i++)
		d->pending[i] |= __atomic_load_n(&d->device[i], __ATOMIC_RELAXED);
	n = count_bits(d->pending, d->npages);
	r = send_set(m, fd, d->pending, d->npages);
	if (r < 0) {
		r = err_make(err, -r, "migrate: send the last pages");
		goto out;
	}
	snap_w_init(&w);
	r = snapshot_build_state(&m->parts, &w, err);
	if (r == 0 && snap_w_finish(&w) < 0)
		r = err_make(err, -w.err, "migrate: state");
	if (r == 0) {
		r = send_frame(fd, MIG_STATE, w.buf, w.len, NULL, 0);
		if (r < 0)
			r = err_make(err, -r, "migrate: send the state");
	}
	snap_w_free(&w);
	if (r == 0)
		r = read_reply(fd, "the state", err);
	if (r < 0)
		goto out;
	/* the point of no return: after GO the destination runs the guest */
	pthread_mutex_lock(&m->lock);
	if (m->cancel) {
		pthread_mutex_unlock(&m->lock);
		r = err_make(err, ECANCELED, "migrate: cancelled");
		goto out;
	}
	m->committed = true;
	m->fig.last_pages = n;
	m->fig.downtime_us = now_us() - t_pause;
	m->fig.total_us = now_us() - t_start;
	struct mig_figures f = m->fig;
	pthread_mutex_unlock(&m->lock);
	uint64_t le[5] = { htole64(f.rounds), htole64(f.bytes), htole64(f.downtime_us),
			   htole64(f.total_us), htole64(f.last_pages) };

	r = send_frame(fd, MIG_GO, le, sizeof(le), NULL, 0);
	if (r < 0) {
		r = err_make(err, -r, "migrate: send GO");
		goto out;
	}
	/* the destination may run now: this VM never does again */
	machine_unlock_devices(m->parts.mc);
	return 0;
out:
	machine_unlock_devices(m->parts.mc);
	if (m->barrier) /* it runs on here: its disks serve again */
		machine_disks_release(m->parts.mc);
	return r;
}

static int migrate_run(struct migration *m, int fd, struct err **err)
{
	struct vm *vm = m->parts.vm;
	struct dirty d = { .npages = vm->ram_size / MIG_PAGE, .device = m->device };
	struct snap_w hello;
	uint64_t t_start = now_us(), t0, bw, n = 0, round;
	unsigned int i;
	int r;

	snap_w_init(&hello);
	snapshot_build_shape(&m->parts, &hello);
	r = snap_w_finish(&hello);
	if (r == 0)
		r = send_frame(fd, MIG_HELLO, hello.buf, hello.len, NULL, 0);
	snap_w_free(&hello);
	if (r < 0)
		return err_make(err, -r, "migrate: send HELLO");
	r = read_reply(fd, "this VM's shape", err);
	if (r < 0)
		return r;

	d.pending = calloc(words(d.npages), sizeof(unsigned long));
	for (i = 0; i < vm->mem.nr; i++)
		d.slot[i] = calloc(words(vm->mem.r[i].size / MIG_PAGE), sizeof(unsigned long));
	r = d.pending ? 0 : -ENOMEM;
	for (i = 0; i < vm->mem.nr; i++)
		if (!d.slot[i])
			r = -ENOMEM;
	if (r < 0) {
		r = err_make(err, ENOMEM, "migrate: dirty bitmaps");
		goto out;
	}
	/* the device bitmap is ours until the end; zeroed while no one marks */
	memset(d.device, 0, words(d.npages) * sizeof(unsigned long));
	r = set_logging(vm, true);
	if (r < 0) {
		r = err_make(err, -r, "migrate: KVM_MEM_LOG_DIRTY_PAGES");
		goto out;
	}
	guest_mem_track(&vm->mem, d.device, vm->ram);
	/*
	 * A barrier: a device serving a request holds its lock, so once every
	 * lock has been taken and let go, no write through a pointer taken
	 * before the marking began is still to come. A disk on io_uring has
	 * requests in the kernel outside its lock: they are waited out too.
	 */
	machine_lock_devices(m->parts.mc);
	r = machine_quiesce_locked(m->parts.mc, err);
	machine_unlock_devices(m->parts.mc);
	machine_kick_all(m->parts.mc);
	if (r < 0)
		goto out_log;

	/* round 1: all of RAM */
	set_progress(m, 1, d.npages);
	m->pace_start = now_us();
	m->paced = 0;
	t0 = now_us();
	r = send_set(m, fd, NULL, d.npages);
	if (r < 0) {
		r = err_make(err, -r, "migrate: send RAM");
		goto out_log;
	}
	pthread_mutex_lock(&m->lock);
	m->fig.rounds = 1;
	bw = m->fig.bytes * 1000000 / (now_us() - t0 + 1); /* bytes per second */
	pthread_mutex_unlock(&m->lock);

	for (round = 2;; round++) {
		r = collect(vm, &d);
		if (r < 0) {
			r = err_make(err, -r, "migrate: KVM_GET_DIRTY_LOG");
			goto out_log;
		}
		n = count_bits(d.pending, d.npages);
		set_progress(m, round, n);
		/* what is left fits in the downtime limit at the speed seen: stop and copy */
		if (n * MIG_PAGE <= bw / 1000 * m->downtime_ms || round > m->max_rounds)
			break;
		t0 = now_us();
		m->pace_start = t0; /* each round paced on its own: no credit from the last */
		m->paced = 0;
		r = send_set(m, fd, d.pending, d.npages);
		if (r < 0) {
			r = err_make(err, -r, "migrate: send dirty pages");
			goto out_log;
		}
		bw = n * MIG_PAGE * 1000000 / (now_us() - t0 + 1);
		pthread_mutex_lock(&m->lock);
		m->fig.rounds = round;
		pthread_mutex_unlock(&m->lock);
	}
	if (cancelled(m)) {
		r = err_make(err, ECANCELED, "migrate: cancelled");
		goto out_log;
	}
	r = final_pass(m, fd, &d, t_start, err);
out_log:
	guest_mem_track(&vm->mem, NULL, NULL);
	if (r < 0 && set_logging(vm, false) < 0)
		pr_warn("migrate: dirty log stays on: %s", strerror(errno));
out:
	free(d.pending);
	for (i = 0; i < GUEST_MEM_MAX_REGIONS; i++)
		free(d.slot[i]);
	return r;
}

static void run_job(struct migration *m)
{
	struct vm *vm = m->parts.vm;
	struct err *e = NULL;
	bool was_paused = vm_is_paused(vm);
	int fd, r;

	fd = connect_to(m->to, m->dirfd, &e);
	pthread_mutex_lock(&m->lock);
	m->fd = fd;
	if (fd >= 0 && m->cancel) /* cancelled while connecting */
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&m->lock);
	r = fd < 0 ? fd : migrate_run(m, fd, &e);
	if (r < 0 && fd >= 0)
		send_frame(fd, MIG_CANCEL, NULL, 0, NULL, 0); /* best effort */
	pthread_mutex_lock(&m->lock);
	m->fd = -1;
	if (fd >= 0)
		close(fd);
	if (r == 0) {
		m->state = MIG_DONE;
		pr_info("migrated to `%s`: %llu rounds, %llu bytes, %llu pages while paused, "
			"downtime %llu us, total %llu us",
			m->to, (unsigned long long)m->fig.rounds, (unsigned long long)m->fig.bytes,
			(unsigned long long)m->fig.last_pages,
			(unsigned long long)m->fig.downtime_us,
			(unsigned long long)m->fig.total_us);
	} else {
		m->state = m->cancel ? MIG_CANCELLED : MIG_FAILED;
		snprintf(m->error, sizeof(m->error), "%s", err_msg(e));
		pr_warn("%s; the VM runs on here", err_msg(e));
	}
	m->final = false;
	pthread_mutex_unlock(&m->lock);
	err_free(&e);
	if (r == 0) {
		/*
		 * The guest runs at the destination now: this process must never
		 * touch its disks, taps or RAM again, not even an I/O thread
		 * finishing a request whose notification it had not read. It ends
		 * here, at once, rather than through the usual teardown.
		 */
		if (m->control_path)
			unlink(m->control_path);
		_exit(MONITOR_EXIT_MIGRATED);
	}
	if (!was_paused)
		vm_resume(vm);
}

static void *thread_main(void *arg)
{
	struct migration *m = arg;
	int r;

	/* `migrate` in ps -L; before the filter, which has no prctl */
	prctl(PR_SET_NAME, "migrate", 0, 0, 0);
	r = jail_thread(JAIL_MIGRATE);
	pthread_mutex_lock(&m->lock);
	m->ready = r < 0 ? -1 : 1; /* migration_init waits for this */
	pthread_cond_broadcast(&m->cond);
	if (r < 0) {
		pthread_mutex_unlock(&m->lock);
		return NULL;
	}
	for (;;) {
		while (!m->quit && !m->job)
			pthread_cond_wait(&m->cond, &m->lock);
		if (m->quit)
			break;
		m->job = false;
		pthread_mutex_unlock(&m->lock);
		run_job(m);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int migration_init(struct migration *m, const struct snap_parts *p, int dirfd, struct err **err)
{
	int r;

	struct mig_figures in = m->incoming;
	bool has_in = m->has_incoming;

	memset(m, 0, sizeof(*m));
	m->incoming = in;
	m->has_incoming = has_in;
	m->parts = *p;
	m->dirfd = dirfd;
	m->fd = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	/*
	 * What the monitor's threads mark while a migration runs (mem.h): one
	 * buffer for the process's life, since a thread may still hold it
	 * after a migration ends.
	 */
	m->device = calloc(words(p->vm->ram_size / MIG_PAGE), sizeof(unsigned long));
	if (!m->device)
		return err_make(err, ENOMEM, "migration: dirty bitmap");
	r = pthread_create(&m->thread, NULL, thread_main, m);
	if (r)
		return err_make(err, r, "start the migration thread");
	m->started = true;
	/* running under its own filter before the VM does (and before anyone looks) */
	pthread_mutex_lock(&m->lock);
	while (!m->ready)
		pthread_cond_wait(&m->cond, &m->lock);
	pthread_mutex_unlock(&m->lock);
	if (m->ready < 0)
		return err_make(err, EPERM, "the migration thread's filter");
	return 0;
}

int migration_start(struct migration *m, const char *to, unsigned int downtime_ms,
		    unsigned int max_rounds, uint64_t max_bandwidth, bool barrier, struct err **err)
{
	int ret = 0;

	if (m->refused)
		return err_make(err, 0, "migrate: %s", m->refused);
	if (strlen(to) >= sizeof(m->to))
		return err_make(err, EINVAL, "`to`: too long");
	/*
	 * vhost-net writes received frames into guest RAM from the kernel,
	 * which neither KVM's dirty log nor guest_mem_track() sees; without
	 * VHOST_SET_LOG_BASE those pages would arrive stale.
	 */
	if (machine_net_vhost(m->parts.mc))
		return err_make(err, EOPNOTSUPP,
				"migrate: a NIC runs on vhost-net, whose writes to guest memory "
				"are not logged; start it without `net[].vhost` to move it");
	pthread_mutex_lock(&m->lock);
	if (m->state == MIG_ACTIVE || m->job) {
		ret = err_make(err, EBUSY, "a migration is running already");
	} else if (m->state == MIG_DONE) {
		ret = err_make(err, EBUSY, "this VM has migrated away");
	} else {
		strcpy(m->to, to);
		m->downtime_ms = downtime_ms;
		m->max_rounds = max_rounds;
		m->max_bandwidth = max_bandwidth;
		m->barrier = barrier;
		m->barrier_go = false;
		m->state = MIG_ACTIVE;
		m->cancel = false;
		m->error[0] = 0;
		m->round = m->dirty_pages = m->device_pages = 0;
		memset(&m->fig, 0, sizeof(m->fig));
		m->committed = false;
		m->job = true;
		pthread_cond_broadcast(&m->cond);
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

int migration_cancel(struct migration *m, struct err **err)
{
	int ret = 0;

	pthread_mutex_lock(&m->lock);
	if (m->state != MIG_ACTIVE)
		ret = err_make(err, ENOENT, "no migration is running");
	else if (m->committed)
		ret = err_make(err, EBUSY, "too late: the destination runs the VM");
	else
		m->cancel = true; /* seen between frames; the destination is told */
	pthread_cond_broadcast(&m->cond); /* and at the disks' barrier */
	pthread_mutex_unlock(&m->lock);
	return ret;
}

int migration_continue(struct migration *m, struct err **err)
{
	int ret = 0;

	pthread_mutex_lock(&m->lock);
	if (m->state != MIG_ACTIVE || !m->at_barrier)
		ret = err_make(err, ENOENT, "no migration waits at the disks' barrier");
	else
		m->barrier_go = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

bool migration_holds_vm(struct migration *m)
{
	bool r;

	pthread_mutex_lock(&m->lock);
	r = m->state == MIG_ACTIVE;
	pthread_mutex_unlock(&m->lock);
	return r;
}

static const char *state_name(enum mig_state s)
{
	static const char *const n[] = { "none", "active", "done", "failed", "cancelled" };

	return n[s];
}

void migration_report(struct migration *m, json_t *reply)
{
	json_t *o;

	pthread_mutex_lock(&m->lock);
	o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "state",
		      m->at_barrier ? "barrier" : state_name(m->state), "round",
		      (json_int_t)m->round, "dirty_pages", (json_int_t)m->dirty_pages,
		      "device_pages", (json_int_t)m->device_pages, "bytes",
		      (json_int_t)m->fig.bytes, "rounds", (json_int_t)m->fig.rounds);
	if (m->state == MIG_DONE) {
		json_object_set_new(o, "downtime_us", json_integer(m->fig.downtime_us));
		json_object_set_new(o, "total_us", json_integer(m->fig.total_us));
	}
	if (m->error[0])
		json_object_set_new(o, "error", json_string(m->error));
	if (m->has_incoming)
		json_object_set_new(o, "incoming",
				    json_pack("{s:I, s:I, s:I, s:I, s:I}", "rounds",
					      (json_int_t)m->incoming.rounds, "bytes",
					      (json_int_t)m->incoming.bytes, "downtime_us",
					      (json_int_t)m->incoming.downtime_us, "total_us",
					      (json_int_t)m->incoming.total_us, "last_pages",
					      (json_int_t)m->incoming.last_pages));
	pthread_mutex_unlock(&m->lock);
	json_object_set_new(reply, "migration", o);
}

void migration_fini(struct migration *m)
{
	if (!m->started) {
		free(m->device);
		m->device = NULL;
		return;
	}
	pthread_mutex_lock(&m->lock);
	m->quit = true;
	m->cancel = true;
	if (m->fd >= 0)
		shutdown(m->fd, SHUT_RDWR);
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	m->started = false;
	guest_mem_track(&m->parts.vm->mem, NULL, NULL);
	/* every device thread is still alive but none marks: tracking is off */
	free(m->device);
	m->device = NULL;
}

/* ---- the destination ---- */

static void refuse(int fd, const char *msg)
{
	size_t n = strlen(msg);

	send_frame(fd, MIG_ERR, msg, n > MIG_MAX_MSG ? MIG_MAX_MSG : n, NULL, 0);
}

static int reply_ok(int fd, struct err **err)
{
	int r = send_frame(fd, MIG_OK, NULL, 0, NULL, 0);

	return r < 0 ? err_make(err, -r, "migration: answer the source") : 0;
}

static const char *frame_name(uint32_t t)
{
	switch (t) {
	case MIG_HELLO:
		return "HELLO";
	case MIG_MEM:
		return "MEM";
	case MIG_STATE:
		return "STATE";
	case MIG_GO:
		return "GO";
	default:
		return "an unknown frame";
	}
}

/* A whole payload of `len` bytes (bounded by the caller) into a new buffer. */
static int read_payload(int fd, uint64_t len, uint8_t **out, struct err **err)
{
	uint8_t *b = malloc(len ? len : 1);
	int r;

	if (!b)
		return err_make(err, ENOMEM, "migration: %llu bytes", (unsigned long long)len);
	r = read_full(fd, b, len);
	if (r < 0) {
		free(b);
		return err_make(err, -r, "migration: the stream ends inside a frame (truncated)");
	}
	*out = b;
	return 0;
}

static int recv_mem(const struct snap_parts *p, int fd, uint64_t len, struct err **err)
{
	uint64_t off, n = len - 8;
	int r;

	if (len < 8 + MIG_PAGE || n % MIG_PAGE || n > MIG_MAX_CHUNK)
		return err_make(err, EBADMSG,
				"migration: a MEM frame of %llu bytes (whole pages, at most %u)",
				(unsigned long long)len, MIG_MAX_CHUNK);
	r = read_full(fd, &off, sizeof(off));
	if (r < 0)
		return err_make(err, -r, "migration: the stream ends inside a frame (truncated)");
	off = le64toh(off);
	if (off % MIG_PAGE || off > p->vm->ram_size || n > p->vm->ram_size - off)
		return err_make(err, EBADMSG,
				"migration: pages at RAM offset %#llx + %llu lie outside the %llu "
				"bytes of RAM",
				(unsigned long long)off, (unsigned long long)n,
				(unsigned long long)p->vm->ram_size);
	r = read_full(fd, (uint8_t *)p->vm->ram + off, n);
	if (r < 0)
		return err_make(err, -r, "migration: the stream ends inside a frame (truncated)");
	return 0;
}

/*
 * A HELLO or STATE frame's payload (a state image of at most `max` bytes):
 * read, parsed, handed to `apply` (the shape check, or the load), and
 * answered OK, or refused with the reason, which is also the error.
 */
static int recv_image(const struct snap_parts *p, int fd, uint64_t len, uint64_t max,
		      const char *what,
		      int (*apply)(const struct snap_parts *, const struct snap_r *, struct err **),
		      struct err **err)
{
	struct snap_r sr;
	uint8_t *buf = NULL;
	int r;

	if (len > max)
		return err_make(err, EBADMSG, "migration: %s of %llu bytes", what,
				(unsigned long long)len);
	if ((r = read_payload(fd, len, &buf, err)) < 0)
		return r;
	r = snap_r_parse(&sr, buf, len, err);
	if (r == 0)
		r = apply(p, &sr, err);
	snap_r_free(&sr);
	if (r < 0) {
		refuse(fd, err_msg(*err));
		return r;
	}
	return reply_ok(fd, err);
}

int migration_receive(const struct snap_parts *p, int fd, struct mig_figures *fig, struct err **err)
{
	enum { WANT_HELLO, WANT_MEM, WANT_GO } at = WANT_HELLO;
	uint32_t type;
	uint64_t len, pages = 0;
	int r;

	for (;;) {
		r = recv_header(fd, &type, &len);
		if (r == -EBADMSG)
			return err_make(err, EBADMSG,
					"migration: a frame header with bits set "
					"that must be zero");
		if (r < 0)
			return err_make(err, -r, "migration: the stream ends %s (truncated)",
					at == WANT_HELLO ? "before HELLO" :
					at == WANT_MEM	 ? "before the state" :
							   "before GO");
		if (type == MIG_CANCEL)
			return err_make(err, ECANCELED, "migration: the source gave up");
		if (at == WANT_HELLO && type != MIG_HELLO)
			return err_make(err, EBADMSG, "migration: %s before HELLO",
					frame_name(type));
		switch (type) {
		case MIG_HELLO:
			if (at != WANT_HELLO)
				return err_make(err, EBADMSG, "migration: HELLO twice");
			if ((r = recv_image(p, fd, len, MIG_MAX_HELLO, "a HELLO",
					    snapshot_check_shape, err)) < 0)
				return r;
			at = WANT_MEM;
			break;
		case MIG_MEM:
			if (at != WANT_MEM)
				return err_make(err, EBADMSG, "migration: MEM after the state");
			if ((r = recv_mem(p, fd, len, err)) < 0)
				return r;
			pages += (len - 8) / MIG_PAGE;
			break;
		case MIG_STATE:
			if (at != WANT_MEM)
				return err_make(err, EBADMSG, "migration: STATE twice");
			if ((r = recv_image(p, fd, len, SNAP_MAX_STATE, "a state",
					    snapshot_load_state, err)) < 0)
				return r;
			at = WANT_GO;
			break;
		case MIG_GO: {
			uint64_t le[5];

			if (at != WANT_GO)
				return err_make(err, EBADMSG, "migration: GO before the state");
			if (len != sizeof(le))
				return err_make(err, EBADMSG, "migration: a GO of %llu bytes",
						(unsigned long long)len);
			r = read_full(fd, le, sizeof(le));
			if (r < 0)
				return err_make(err, -r, "migration: the stream ends inside GO");
			fig->rounds = le64toh(le[0]);
			fig->bytes = le64toh(le[1]);
			fig->downtime_us = le64toh(le[2]);
			fig->total_us = le64toh(le[3]);
			fig->last_pages = le64toh(le[4]);
			pr_info("migration in: %llu pages received", (unsigned long long)pages);
			return 0;
		}
		default:
			return err_make(err, EBADMSG, "migration: unknown frame type %u", type);
		}
	}
}
