// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `vps-ctm export CONFIG -- PROG ARG...`: a stopped container's root
 * filesystem as a tar stream on PROG's stdin (vpsd's `template create
 * --from CT` passes vps-tmpl-import, docs/templates.md).
 *
 * The container's files are the customer's: the host's root never walks
 * them. The root is mounted (image or layered storage, as `run` would),
 * then a child that holds an fd of it enters a new user namespace whose
 * map is the container's own (`0 uid_base uid_size`), becomes that
 * namespace's root, chroots into the tree and sets no new privileges.
 * From there it reads what the container's root could read, and no more:
 * a host file is neither reachable (the chroot; every name is opened with
 * O_NOFOLLOW from its directory's fd, never as a path) nor readable (its
 * owner is not mapped, so the namespace's capabilities do not reach it),
 * and the owners it sees are the container's ids 0-65535 again, which the
 * kernel translates, so nothing is shifted by hand.
 *
 * It writes a plain pax tar (the path and link target in pax records, so
 * no name is cut) with what a root filesystem needs: type, mode, numeric
 * owner, mtime, link target, data. Devices and fifos are written as
 * entries (vps-tmpl-import drops and counts the devices); sockets are left
 * out. A file owned by an id the namespace cannot name (only the host's
 * root could have made one) reads as the kernel's overflow id 65534, and
 * its set-uid and set-gid bits are dropped here. PROG then judges every
 * entry as it judges an upload, and its unpacked-size cap stops a sparse
 * giant: when PROG exits, the pipe breaks and the reader stops.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdarg.h>
#include <search.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/child.h"
#include "common/cleanup.h"
#include "common/util.h"
#include "ctm/ctm.h"

#define OVERFLOW_ID 65534 /* /proc/sys/kernel/overflowuid: an id the namespace cannot name */
#define MAX_DEPTH 256
#define MAX_PATH 4096

/* The reader's state: one process, one stream. */
static struct {
	int out; /* the pipe to PROG */
	int msg; /* the reader's error, for the parent to print last */
	dev_t dev; /* the root's filesystem: no other is walked */
	void *links; /* (dev, ino) -> first path, of files with more than one link */
} rd;

struct link_key {
	dev_t dev;
	ino_t ino;
	char path[];
};

static _Noreturn void rfail(int code, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)!write(rd.msg, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	_exit(code);
}

static void out_all(const void *p, size_t n)
{
	if (write_all(rd.out, p, n) < 0) {
		if (errno == EPIPE)
			_exit(3); /* PROG stopped reading: its own message says why */
		rfail(1, "write the stream: %s", strerror(errno));
	}
}

/* A ustar number: len - 1 octal digits, zero-padded, then NUL (callers keep v in range). */
static void octal(char *field, size_t len, unsigned long long v)
{
	field[len - 1] = 0;
	for (size_t i = len - 1; i-- > 0; v >>= 3)
		field[i] = (char)('0' + (v & 7));
}

/* One pax record "LEN KEY=VALUE\n" appended to buf; LEN counts itself. */
static size_t pax_record(char *buf, size_t at, size_t cap, const char *key, const char *val)
{
	size_t body = 1 + strlen(key) + 1 + strlen(val) + 1, len = body + 1;
	char tmp[24];

	/* the length's own digits are part of the length */
	while (body + (size_t)snprintf(tmp, sizeof(tmp), "%zu", len) != len)
		len = body + (size_t)snprintf(tmp, sizeof(tmp), "%zu", len);
	if (at + len > cap)
		rfail(1, "a pax header over %zu bytes", cap);
	snprintf(buf + at, cap - at, "%zu %s=%s\n", len, key, val);
	return at + len;
}

static void header(char h[512], const char *name, char type, mode_t mode, unsigned long long size,
		   uid_t uid, gid_t gid, long long mtime, dev_t rdev, const char *link)
{
	unsigned int sum = 0;

	memset(h, 0, 512);
	snprintf(h, 100, "%.99s", name);
	octal(h + 100, 8, mode & 07777);
	octal(h + 108, 8, uid);
	octal(h + 116, 8, gid);
	octal(h + 124, 12, size);
	octal(h + 136, 12, mtime < 0 ? 0 : mtime > 077777777777LL ? 077777777777LL : mtime);
	h[156] = type;
	if (link)
		snprintf(h + 157, 100, "%.99s", link);
	memcpy(h + 257,
	       "ustar\0"
	       "00",
	       8);
	octal(h + 329, 8, major(rdev) & 07777777);
	octal(h + 337, 8, minor(rdev) & 07777777);
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
}

/* An entry: its pax header (path, link target, a large size), then its ustar header. */
static void entry(const char *path, char type, const struct stat *st, unsigned long long size,
		  const char *link)
{
	static char pax[3 * MAX_PATH + 256];
	char h[512], num[32], pad[512] = { 0 };
	size_t n = 0;
	mode_t mode = st->st_mode;

	n = pax_record(pax, n, sizeof(pax), "hdrcharset", "BINARY");
	n = pax_record(pax, n, sizeof(pax), "path", path);
	if (link)
		n = pax_record(pax, n, sizeof(pax), "linkpath", link);
	if (size >= 077777777777ULL) {
		snprintf(num, sizeof(num), "%llu", size);
		n = pax_record(pax, n, sizeof(pax), "size", num);
	}
	header(h, "././@PaxHeader", 'x', 0644, n, 0, 0, st->st_mtime, 0, NULL);
	out_all(h, 512);
	out_all(pax, n);
	if (n % 512)
		out_all(pad, 512 - n % 512);
	/* an owner the namespace cannot name is no one's: no set-id bits for it */
	if (st->st_uid == OVERFLOW_ID || st->st_gid == OVERFLOW_ID)
		mode &= ~(mode_t)06000;
	header(h, path, type, mode, size >= 077777777777ULL ? 0 : size, st->st_uid, st->st_gid,
	       st->st_mtime, st->st_rdev, link);
	out_all(h, 512);
}

/* A regular file's data: exactly the size its header said (zeros if it shrank). */
static void data(int fd, const char *path, unsigned long long size)
{
	static char buf[1 << 16];
	unsigned long long done = 0;

	while (done < size) {
		size_t want = size - done < sizeof(buf) ? (size_t)(size - done) : sizeof(buf);
		ssize_t n = read(fd, buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rfail(1, "`%s`: read: %s", path, strerror(errno));
		if (n == 0) {
			memset(buf, 0, want);
			n = (ssize_t)want;
		}
		out_all(buf, (size_t)n);
		done += (unsigned long long)n;
	}
	if (size % 512) {
		memset(buf, 0, 512);
		out_all(buf, 512 - size % 512);
	}
}

static int link_cmp(const void *a, const void *b)
{
	const struct link_key *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* The first path of this inode when it was written before (a hard link), else NULL. */
static const char *seen(const struct stat *st, const char *path)
{
	struct link_key *k = malloc(sizeof(*k) + strlen(path) + 1), **f;

	if (!k)
		rfail(1, "out of memory");
	k->dev = st->st_dev;
	k->ino = st->st_ino;
	strcpy(k->path, path);
	f = tsearch(k, &rd.links, link_cmp);
	if (!f)
		rfail(1, "out of memory");
	if (*f != k) {
		free(k);
		return (*f)->path;
	}
	return NULL;
}

static void walk(int dfd, const char *dir, int depth)
{
	DIR *d;
	struct dirent *de;
	int fd = dup(dfd);

	if (depth > MAX_DEPTH)
		rfail(1, "`%s`: more than %d directories deep: refused", dir, MAX_DEPTH);
	if (fd < 0 || !(d = fdopendir(fd)))
		rfail(1, "`%s`: open: %s", dir, strerror(errno));
	while ((errno = 0, de = readdir(d))) {
		char path[MAX_PATH + 1];
		struct stat st, fst;
		const char *first;
		_cleanup_close_ int f = -1;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			rfail(1, "`%s/%s`: a path over %d bytes: refused", dir, de->d_name,
			      MAX_PATH);
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			rfail(1, "`%s`: stat: %s", path, strerror(errno));
		switch (st.st_mode & S_IFMT) {
		case S_IFDIR:
			if (st.st_dev != rd.dev)
				continue; /* nothing is mounted in a stopped container's root */
			f = openat(dfd, de->d_name,
				   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (f < 0)
				rfail(1, "`%s`: open: %s", path, strerror(errno));
			entry(path, '5', &st, 0, NULL);
			walk(f, path, depth + 1);
			break;
		case S_IFREG:
			if (st.st_nlink > 1 && (first = seen(&st, path))) {
				entry(path, '1', &st, 0, first);
				break;
			}
			/* O_NOFOLLOW, O_NONBLOCK: never a link, never a device's open */
			f = openat(dfd, de->d_name,
				   O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
			if (f < 0 || fstat(f, &fst) < 0)
				rfail(1, "`%s`: open: %s", path, strerror(errno));
			if (!S_ISREG(fst.st_mode) || fst.st_ino != st.st_ino)
				rfail(1, "`%s`: changed while read: refused", path);
			entry(path, '0', &fst, (unsigned long long)fst.st_size, NULL);
			data(f, path, (unsigned long long)fst.st_size);
			break;
		case S_IFLNK: {
			char target[MAX_PATH + 1];
			ssize_t n = readlinkat(dfd, de->d_name, target, sizeof(target) - 1);

			if (n < 0)
				rfail(1, "`%s`: readlink: %s", path, strerror(errno));
			target[n] = 0;
			entry(path, '2', &st, 0,
			      target); /* its target is written, never followed */
			break;
		}
		case S_IFCHR:
			entry(path, '3', &st, 0, NULL);
			break;
		case S_IFBLK:
			entry(path, '4', &st, 0, NULL);
			break;
		case S_IFIFO:
			entry(path, '6', &st, 0, NULL);
			break;
		default: /* a socket: nothing to carry */
			break;
		}
	}
	if (errno)
		rfail(1, "`%s`: read the directory: %s", dir, strerror(errno));
	closedir(d);
}

/* The child: the container's user namespace, its root, then the walk. */
static _Noreturn void reader(int root, int ready, int go)
{
	struct stat st;
	char b, zero[1024] = { 0 };

	signal(SIGPIPE, SIG_IGN);
	if (setgroups(0, NULL) < 0 || unshare(CLONE_NEWUSER) < 0 || write(ready, "r", 1) != 1)
		rfail(1, "a user namespace: %s", strerror(errno));
	if (read(go, &b, 1) != 1)
		_exit(1); /* the parent could not write the maps; it says why */
	/* the namespace's root, mapped to uid_base: the container's root, nothing more */
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		rfail(1, "become the namespace's root: %s", strerror(errno));
	/* after the id change, which clears it: vps-ctm killed (vpsd's deadline) ends the walk */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
		_exit(1);
	if (fchdir(root) < 0 || chroot(".") < 0 || chdir("/") < 0)
		rfail(1, "chroot into the container's root: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0) < 0)
		rfail(1, "no_new_privs: %s", strerror(errno));
	if (fstat(root, &st) < 0)
		rfail(1, "stat the root: %s", strerror(errno));
	rd.dev = st.st_dev;
	walk(root, ".", 0);
	out_all(zero, sizeof(zero)); /* the end of the archive */
	_exit(0);
}

static int write_maps(pid_t pid, const struct ctm_config *c, struct err **err)
{
	char path[64];
	int r = child_write_idmap(pid, c->uid_base, c->uid_size, path, sizeof(path));

	return r < 0 ? err_make(err, -r, "write `%s`", path) : 0;
}

/* With the root mounted: the reader into `to`'s stdin; PROG's status, or 1 with *err. */
static int pipe_through(const struct ctm_config *c, const char *rootfs, char *const *to,
			struct err **err)
{
	_cleanup_close_ int root = open(rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int data[2], msg[2], ready[2], go[2], rst, pst, r = 0;
	char b, why[1024];
	pid_t rpid, ppid;
	ssize_t n;

	if (root < 0)
		return err_make(err, errno, "open `%s`", rootfs), 1;
	if (pipe2(data, O_CLOEXEC) < 0 || pipe2(msg, O_CLOEXEC) < 0 ||
	    pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		return err_make(err, errno, "pipe"), 1;
	rpid = fork();
	if (rpid == 0) {
		close(data[0]), close(msg[0]), close(ready[0]), close(go[1]);
		rd.out = data[1];
		rd.msg = msg[1];
		reader(root, ready[1], go[0]);
	}
	close(data[1]), close(msg[1]), close(ready[1]), close(go[0]);
	if (rpid < 0)
		r = err_make(err, errno, "fork");
	else if (read(ready[0], &b, 1) != 1)
		r = -ECHILD; /* its reason comes through msg */
	else if ((r = write_maps(rpid, c, err)) == 0 && write(go[1], "g", 1) != 1)
		r = err_make(err, errno, "start the reader");
	close(ready[0]), close(go[1]);
	ppid = r < 0 ? -1 : fork();
	if (ppid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || dup2(data[0], 0) < 0)
			_exit(127);
		execv(to[0], to);
		_exit(127);
	}
	close(data[0]);
	pst = ppid > 0 ? child_status(ppid) : 1;
	if (rpid > 0 && ppid <= 0)
		kill(rpid, SIGKILL);
	rst = rpid > 0 ? child_status(rpid) : 1;
	n = read(msg[0], why, sizeof(why) - 1);
	close(msg[0]);
	why[n > 0 ? n : 0] = 0;
	if (r == -ECHILD)
		return err_make(err, ECHILD, "export `%s`: %s", c->name,
				*why ? why : "the reader did not start"),
		       1;
	if (r < 0)
		return 1;
	/* the reader's own failure is the reason (PROG then saw half an archive) */
	if (rst != 0 && rst != 3)
		return err_make(err, EIO, "read the root of `%s`: %s", c->name,
				*why ? why : "the reader failed"),
		       1;
	return pst;
}

int ctm_export(const struct ctm_config *c, char *const *to, struct err **err)
{
	_cleanup_free_ char *rootfs = ctm_path(c, false, "rootfs");
	int st, r;

	if (!rootfs)
		return err_make(err, ENOMEM, "export"), 1;
	if (ctm_mount(c, err) < 0) {
		err_wrap(err, "export `%s`", c->name);
		return 1;
	}
	st = pipe_through(c, rootfs, to, err);
	r = ctm_umount(c, st == 0 ? err : NULL);
	return st ? st : r < 0 ? 1 : 0;
}
