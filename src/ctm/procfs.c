// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The container's /proc/meminfo and /proc/swaps, answered by its monitor
 * (procfs.h; docs/ct-sysinfo.md, "meminfo and swaps from vps-ctm"). A FUSE
 * file system of two read-only files (libfuse3's low-level API) mounted at
 * DIR/proc, one per container, so a request needs no lookup of who asks:
 * every reader is this container. A thread of its own answers it, because
 * the monitor's loop waits for `vps-ct create`, whose bind of these files
 * asks the file system (a lookup) on the way. Each read at offset 0 reads
 * the cgroup afresh into the open file's buffer, later offsets read that
 * buffer (procfs's seq_file does the same: `top` rereads one open file).
 * What the host parses is the kernel's: the cgroup's files and its own
 * /proc/meminfo; nothing the container writes.
 */
#define FUSE_USE_VERSION 34
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "ct/cgroup.h"
#include "ctm/ctm.h"
#include "ctm/procfs.h"

#define INO_MEMINFO 2
#define INO_SWAPS 3
#define TEXT_MAX 8192 /* the host's meminfo is about 1.5 KiB */
/*
 * Open files at once: each holds its text (under TEXT_MAX) in the monitor,
 * outside the container's cgroup, so a container that opens without end
 * gets ENFILE, not the host's memory.
 */
#define OPEN_MAX 1024

struct ctm_procfs {
	struct fuse_session *se;
	pthread_t thread;
	bool running; /* the thread was started */
	int stop_fd; /* an eventfd: the thread returns when it reads */
	char *mnt;
	char cgpath[64];
	struct ct_cgroup *cg; /* the thread's: opened at the first read of each boot */
	uint64_t swap; /* the vswap sold, where the kernel does not account swap */
	unsigned int open; /* the thread's count of open files */
};

struct handle {
	size_t len;
	char *text;
};

/* --- the text ------------------------------------------------------------- */

/* One "Key:   N kB" line of a figure in bytes, in /proc/meminfo's columns. */
static int kb_line(char *out, size_t size, const char *key, uint64_t bytes)
{
	return snprintf(out, size, "%-15s %8" PRIu64 " kB\n", key, bytes / 1024);
}

static uint64_t sub0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

int ctm_meminfo_render(const char *host, const struct ctm_meminfo *m, char *out, size_t size)
{
	uint64_t total = 0, ht = 0, free_, avail;
	const char *line, *eol;
	size_t len = 0;

	/* the host's total first: a limit above it (or none) shows the host's */
	if ((line = strstr(host, "MemTotal:")))
		ht = strtoull(line + strlen("MemTotal:"), NULL, 10) * 1024;
	total = m->limit && (!ht || m->limit < ht) ? m->limit : ht;
	free_ = sub0(total, m->usage);
	avail = free_ + m->cache < total ? free_ + m->cache : total;
	for (line = host; *line; line = *eol ? eol + 1 : eol) {
		const struct {
			const char *key;
			uint64_t v;
		} ours[] = {
			{ "MemTotal:", total },
			{ "MemFree:", free_ },
			{ "MemAvailable:", avail },
			{ "Buffers:", 0 },
			{ "Cached:", m->cache },
			{ "SwapCached:", 0 },
			{ "Active:", m->active_anon + m->active_file },
			{ "Inactive:", m->inactive_anon + m->inactive_file },
			{ "Active(anon):", m->active_anon },
			{ "Inactive(anon):", m->inactive_anon },
			{ "Active(file):", m->active_file },
			{ "Inactive(file):", m->inactive_file },
			{ "Unevictable:", m->unevictable },
			{ "SwapTotal:", m->swap },
			{ "SwapFree:", sub0(m->swap, m->swap_usage) },
			{ "Zswap:", 0 },
			{ "Zswapped:", 0 },
			{ "Dirty:", m->dirty },
			{ "Writeback:", m->writeback },
			{ "AnonPages:", sub0(m->active_anon + m->inactive_anon, m->shmem) },
			{ "Mapped:", m->mapped },
			{ "Shmem:", m->shmem },
			{ "Slab:", 0 },
			{ "SReclaimable:", 0 },
			{ "SUnreclaim:", 0 },
			{ "AnonHugePages:", m->anon_thp },
			{ "ShmemHugePages:", 0 },
			{ "ShmemPmdMapped:", 0 },
		};
		size_t i, n;
		int w = -1;

		eol = strchrnul(line, '\n');
		n = eol - line;
		if (!n)
			continue;
		for (i = 0; i < ARRAY_SIZE(ours); i++) {
			size_t k = strlen(ours[i].key);

			if (n > k && !strncmp(line, ours[i].key, k)) {
				w = kb_line(out + len, size - len, ours[i].key, ours[i].v);
				break;
			}
		}
		if (w < 0) /* the host's line as it is */
			w = snprintf(out + len, size - len, "%.*s\n", (int)n, line);
		if (w < 0 || (size_t)w >= size - len)
			return -ENOSPC;
		len += w;
	}
	return (int)len;
}

int ctm_swaps_render(const struct ctm_meminfo *m, char *out, size_t size)
{
	int w = snprintf(out, size, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");

	if (w >= 0 && (size_t)w < size && m->swap)
		w += snprintf(out + w, size - w, "%-40s%s\t\t%" PRIu64 "\t\t%" PRIu64 "\t\t%d\n",
			      "none", "virtual", m->swap / 1024,
			      (m->swap_usage < m->swap ? m->swap_usage : m->swap) / 1024, -1);
	return w < 0 || (size_t)w >= size ? -ENOSPC : w;
}

/* --- the figures ---------------------------------------------------------- */

static uint64_t pos(int64_t v)
{
	return v > 0 ? (uint64_t)v : 0;
}

/* The container's figures now; -errno when its cgroup cannot be read. */
static int figures(struct ctm_procfs *p, struct ctm_meminfo *m)
{
	struct cg_memory_stat s;

	if (!p->cg && cg_open(p->cgpath, &p->cg, NULL) < 0)
		return -ENOENT;
	if (cg_memory_stat(p->cg, &s, NULL) < 0) {
		/* opened before this boot made it, perhaps: open afresh next time */
		cg_free(p->cg);
		p->cg = NULL;
		return -EIO;
	}
	*m = (struct ctm_meminfo){
		.limit = pos(s.limit),
		.usage = pos(s.usage),
		.swap = s.swap_limit >= 0 ? (uint64_t)s.swap_limit : p->swap,
		.swap_usage = pos(s.swap_usage),
		.cache = pos(s.cache),
		.shmem = pos(s.shmem),
		.mapped = pos(s.mapped),
		.dirty = pos(s.dirty),
		.writeback = pos(s.writeback),
		.anon_thp = pos(s.anon_thp),
		.active_anon = pos(s.active_anon),
		.inactive_anon = pos(s.inactive_anon),
		.active_file = pos(s.active_file),
		.inactive_file = pos(s.inactive_file),
		.unevictable = pos(s.unevictable),
	};
	return 0;
}

static int render(struct ctm_procfs *p, fuse_ino_t ino, struct handle *h)
{
	char host[TEXT_MAX], text[TEXT_MAX];
	struct ctm_meminfo m;
	ssize_t n = 0;
	int r, fd;

	if ((r = figures(p, &m)) < 0)
		return r;
	if (ino == INO_MEMINFO) {
		fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		n = read(fd, host, sizeof(host) - 1);
		close(fd);
		if (n <= 0)
			return -EIO;
		host[n] = '\0';
		r = ctm_meminfo_render(host, &m, text, sizeof(text));
	} else {
		r = ctm_swaps_render(&m, text, sizeof(text));
	}
	if (r < 0)
		return r;
	free(h->text);
	h->text = strndup(text, r);
	h->len = h->text ? (size_t)r : 0;
	return h->text ? 0 : -ENOMEM;
}

/* --- the file system -------------------------------------------------------- */

/*
 * The files' size is TEXT_MAX, not procfs's 0, and an open makes it that
 * again (grow_size): read() goes to the server whatever the size (direct
 * I/O), but Linux 6.5 and later read a direct-I/O FUSE file through the
 * page cache for splice and sendfile (busybox `cat`) and stop at the size,
 * so 0 read as empty. The page cache's read at offset 0 is short (the text
 * is under a page), which sets the size to the text's: sendfile then stops
 * at its end.
 */
static void attr(fuse_ino_t ino, struct stat *st)
{
	*st = (struct stat){
		.st_ino = ino, .st_nlink = 1, .st_mode = S_IFREG | 0444, .st_size = TEXT_MAX
	};
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	}
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	/* static names and attributes: the kernel may keep them for a day */
	struct fuse_entry_param e = { .attr_timeout = 86400, .entry_timeout = 86400 };

	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!strcmp(name, "meminfo"))
		e.ino = INO_MEMINFO;
	else if (!strcmp(name, "swaps"))
		e.ino = INO_SWAPS;
	else {
		fuse_reply_err(req, ENOENT);
		return;
	}
	attr(e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (ino != FUSE_ROOT_ID && ino != INO_MEMINFO && ino != INO_SWAPS) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	attr(ino, &st);
	fuse_reply_attr(req, &st, 86400);
}

/*
 * The kernel's size back to TEXT_MAX after a short read set it to an
 * earlier text's: a store of no bytes at TEXT_MAX grows the size and
 * touches no page. (A store of one byte would lock a page that a reader
 * may hold while it waits for this thread to answer its read.)
 */
static void grow_size(struct ctm_procfs *p, fuse_ino_t ino)
{
	struct fuse_bufvec v = FUSE_BUFVEC_INIT(0);

	fuse_lowlevel_notify_store(p->se, ino, TEXT_MAX, &v, 0);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ctm_procfs *p = fuse_req_userdata(req);
	struct handle *h;

	if (ino != INO_MEMINFO && ino != INO_SWAPS) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	/* the mode and default_permissions refuse this first; the server too */
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (p->open >= OPEN_MAX) {
		fuse_reply_err(req, ENFILE);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1; /* no page cache for read(): every read comes here */
	p->open++;
	grow_size(p, ino);
	if (fuse_reply_open(req, fi) < 0) {
		free(h);
		p->open--;
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct ctm_procfs *p = fuse_req_userdata(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	int r;

	if (off == 0 || !h->text) {
		if ((r = render(p, ino, h)) < 0) {
			fuse_reply_err(req, -r);
			return;
		}
	}
	if (off < 0 || (uint64_t)off >= h->len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	fuse_reply_buf(req, h->text + off, size < h->len - off ? size : h->len - off);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ctm_procfs *p = fuse_req_userdata(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	(void)ino;
	if (h) {
		free(h->text);
		free(h);
		p->open--;
	}
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = op_lookup,
	.getattr = op_getattr,
	.open = op_open,
	.read = op_read,
	.release = op_release,
};

static void *serve(void *arg)
{
	struct ctm_procfs *p = arg;
	struct fuse_buf buf = { 0 };
	int fd = fuse_session_fd(p->se), r;

	while (!fuse_session_exited(p->se)) {
		struct pollfd pf[2] = { { fd, POLLIN, 0 }, { p->stop_fd, POLLIN, 0 } };

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("procfs: poll: %s", strerror(errno));
			break;
		}
		if (pf[1].revents)
			break;
		r = fuse_session_receive_buf(p->se, &buf);
		if (r == -EINTR || r == -EAGAIN)
			continue;
		if (r <= 0) /* 0 or -ENODEV: unmounted */
			break;
		fuse_session_process_buf(p->se, &buf);
	}
	free(buf.mem);
	return NULL;
}

/* --- start, stop -------------------------------------------------------------- */

static char *mountpoint(const struct ctm_config *c)
{
	return ctm_path(c, false, "proc");
}

void ctm_procfs_detach(const struct ctm_config *c)
{
	_cleanup_free_ char *mnt = mountpoint(c);

	/* EINVAL: nothing mounted there; a dead server's mount reads ENOTCONN */
	if (mnt && umount2(mnt, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		pr_warn("umount `%s`: %s", mnt, strerror(errno));
	if (mnt && rmdir(mnt) < 0 && errno != ENOENT)
		pr_warn("rmdir `%s`: %s", mnt, strerror(errno));
}

void ctm_procfs_stop(struct ctm_procfs *p)
{
	if (!p)
		return;
	if (p->running) {
		uint64_t one = 1;

		if (write(p->stop_fd, &one, sizeof(one)) != sizeof(one))
			pr_warn("procfs: stop: %s", strerror(errno));
		pthread_join(p->thread, NULL);
	}
	if (p->se) {
		/* the readers left (the container is gone) get ENOTCONN, as from a dead lxcfs */
		fuse_session_unmount(p->se);
		fuse_session_destroy(p->se);
	}
	if (p->mnt && rmdir(p->mnt) < 0 && errno != ENOENT)
		pr_warn("rmdir `%s`: %s", p->mnt, strerror(errno));
	if (p->stop_fd >= 0)
		close(p->stop_fd);
	cg_free(p->cg);
	free(p->mnt);
	free(p);
}

int ctm_procfs_start(const struct ctm_config *c, struct ctm_procfs **out, struct err **err)
{
	/*
	 * Read-only three times over: the mount, the files' mode (0444, root's:
	 * no uid of the container owns them) checked by the kernel
	 * (default_permissions), and no write in ops. allow_other: the readers
	 * are the container's uids.
	 */
	char *argv[] = { "vps-ctm", "-o",
			 "ro,nosuid,nodev,noexec,allow_other,default_permissions,"
			 "fsname=vps-ctm,subtype=vps-ctm",
			 NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct ctm_procfs *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return err_make(err, ENOMEM, "procfs");
	p->stop_fd = -1;
	p->swap = c->swap;
	snprintf(p->cgpath, sizeof(p->cgpath), "/vps-ct/%s", c->name);
	if (!(p->mnt = mountpoint(c))) {
		r = err_make(err, ENOMEM, "procfs");
		goto fail;
	}
	ctm_procfs_detach(c);
	if (mkdir(p->mnt, 0755) < 0 && errno != EEXIST) {
		r = err_make(err, errno, "mkdir `%s`", p->mnt);
		goto fail;
	}
	p->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (p->stop_fd < 0) {
		r = err_make(err, errno, "eventfd");
		goto fail;
	}
	p->se = fuse_session_new(&args, &ops, sizeof(ops), p);
	fuse_opt_free_args(&args);
	if (!p->se) {
		r = err_make(err, EINVAL, "procfs: fuse session");
		goto fail;
	}
	if (fuse_session_mount(p->se, p->mnt) != 0) {
		r = err_make(err, ENODEV, "mount FUSE at `%s`", p->mnt);
		fuse_session_destroy(p->se);
		p->se = NULL;
		goto fail;
	}
	fcntl(fuse_session_fd(p->se), F_SETFD, FD_CLOEXEC); /* vps-ct and its init never get it */
	if ((r = pthread_create(&p->thread, NULL, serve, p)) != 0) {
		r = err_make(err, r, "procfs: thread");
		goto fail;
	}
	p->running = true;
	*out = p;
	return 0;
fail:
	ctm_procfs_stop(p);
	return r;
}
