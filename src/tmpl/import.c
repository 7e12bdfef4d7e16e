// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vps-tmpl-import: turn a customer's or provider's root filesystem tarball
 * (tar, tar.gz, tar.xz, tar.zst, tar.bz2) into a clean template tarball
 * (docs/templates.md). vpsd runs it for `vps template import`:
 *
 *   vps-tmpl-import IN OUT [--max-bytes N] [--max-entries N] [--probe-open PATH]
 *
 * IN is the upload (`-`: stdin, a stream), OUT the template's tarball to make (pax, zstd). The two
 * files are opened first; then the process confines itself before it reads
 * one byte of IN: no supplementary groups, uid and gid 65534, no new
 * privileges, and a seccomp filter that allows reading and writing the
 * descriptors it has, memory, and exit: no open, no exec, no socket. A bug
 * in libarchive's parsers that a hostile archive reaches can then do no
 * more than write garbage into OUT, which vpsd throws away on a non-zero
 * exit.
 *
 * Nothing is extracted here: each entry is checked and written anew, with
 * only the fields a root filesystem needs (path, type, mode, numeric
 * owner, mtime, link target, data, the file capability). The rules:
 *
 *   absolute path       tamed: made relative (`/etc/x` -> `./etc/x`)
 *   `..` component      refused
 *   through a symlink   refused (an entry below a path the archive made a symlink)
 *   hard link           refused unless to a regular file earlier in the archive
 *   device node, socket dropped, counted in the summary
 *   owner outside 0-65535  refused (the container's ids; vps-ctm shifts them)
 *   unpacked size       refused beyond --max-bytes (holes of sparse files count)
 *   entries             refused beyond --max-entries
 *   xattrs, ACLs, flags dropped, but security.capability
 *   garbage, truncated  refused with libarchive's reason
 *
 * On success it prints one JSON line on stdout: entries, bytes, what was
 * tamed, the init it found (/sbin/init's link) and /etc/os-release's ID and
 * VERSION_ID. --probe-open PATH (the tests') confines itself, tries to open
 * PATH, prints its ids and the outcome, and exits without reading IN.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <search.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#define ID_MAX 65535UL /* the container's ids: vps-ctm maps 0-65535 to its range */
#define PATH_MAXLEN 4095
#define OS_RELEASE_MAX 8192

static struct {
	unsigned long long max_bytes, max_entries;
	unsigned long long bytes, entries;
	unsigned long absolute, devices, sockets, xattrs;
	void *symlinks, *files; /* tsearch trees of normalized paths */
	char init[256];
	char os_release[OS_RELEASE_MAX + 1];
} st = { .max_bytes = 16ULL << 30, .max_entries = 2000000 };

static void fail(const char *fmt, ...)
{
	char msg[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)sizeof(msg) - 2)
		n = sizeof(msg) - 2;
	msg[n++] = '\n';
	if (write(2, "vps-tmpl-import: ", 17) < 0 || write(2, msg, n) < 0)
		_exit(2);
	_exit(1); /* _exit: no atexit handler runs under the filter (a sanitizer's leak check) */
}

static int cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static bool in_tree(void **tree, const char *p)
{
	return tfind(p, tree, cmp) != NULL;
}

static void tree_add(void **tree, const char *p)
{
	char *d;

	if (in_tree(tree, p))
		return;
	if (!(d = strdup(p)) || !tsearch(d, tree, cmp))
		fail("out of memory");
}

static void tree_del(void **tree, const char *p)
{
	void *n = tfind(p, tree, cmp);

	if (n) {
		char *k = *(char **)n;

		tdelete(p, tree, cmp);
		free(k);
	}
}

/*
 * `p` as `./a/b`: leading slashes and `.` components gone (an absolute path
 * counted as tamed); `..` refused. Empty for the root itself.
 */
static void normalize(const char *p, char *out, size_t len, const char *what, bool *absolute)
{
	size_t o = 0;

	*absolute = *p == '/';
	out[o++] = '.';
	out[o] = 0;
	while (*p) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n == 2 && p[0] == '.' && p[1] == '.')
			fail("`%s`: a `..` component: refused (nothing may land outside the template)",
			     what);
		if (!(n == 1 && p[0] == '.')) {
			if (o + 1 + n >= len)
				fail("`%s`: path longer than %d bytes", what, PATH_MAXLEN);
			out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
			out[o] = 0;
		}
		p += n;
	}
}

/* Refuse a path that goes through a symlink the archive made earlier. */
static void no_symlink_prefix(const char *path, const char *what)
{
	char buf[PATH_MAXLEN + 1];
	size_t l = strlen(path);

	memcpy(buf, path, l + 1);
	for (size_t i = 2; i < l; i++)
		if (buf[i] == '/') {
			buf[i] = 0;
			if (in_tree(&st.symlinks, buf))
				fail("`%s`: goes through the symlink `%s`: refused", what, buf + 2);
			buf[i] = '/';
		}
}

static void confine(void)
{
	static const int calls[] = {
		SCMP_SYS(read),		 SCMP_SYS(write),	   SCMP_SYS(close),
		SCMP_SYS(fstat),	 SCMP_SYS(newfstatat),	   SCMP_SYS(lseek),
		SCMP_SYS(brk),		 SCMP_SYS(mmap),	   SCMP_SYS(munmap),
		SCMP_SYS(mremap),	 SCMP_SYS(madvise),	   SCMP_SYS(futex),
		SCMP_SYS(getrandom),	 SCMP_SYS(exit),	   SCMP_SYS(exit_group),
		SCMP_SYS(rt_sigreturn),	 SCMP_SYS(rt_sigprocmask), SCMP_SYS(sigaltstack),
		SCMP_SYS(clock_gettime), SCMP_SYS(getpid),	   SCMP_SYS(gettid),
		SCMP_SYS(sched_yield),	 SCMP_SYS(getuid),	   SCMP_SYS(getgid),
	};
	struct rlimit cpu = { 600, 600 }, core = { 0, 0 };
	scmp_filter_ctx ctx;
	int r = 0;

	if (setrlimit(RLIMIT_CPU, &cpu) < 0 || setrlimit(RLIMIT_CORE, &core) < 0)
		fail("setrlimit: %s", strerror(errno));
	if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
			       setresuid(65534, 65534, 65534) < 0))
		fail("drop to uid 65534: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail("no_new_privs: %s", strerror(errno));
	/* mprotect without PROT_EXEC only: the allocator's guard pages */
	ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		fail("seccomp: out of memory");
	for (size_t i = 0; r == 0 && i < sizeof(calls) / sizeof(calls[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0)
		fail("seccomp: %s", strerror(-r));
}

static void write_entry(struct archive *out, struct archive_entry *e, const char *what)
{
	if (archive_write_header(out, e) != ARCHIVE_OK)
		fail("`%s`: write: %s", what, archive_error_string(out));
}

/* Copy the data of a regular file, counting every byte against the cap. */
static void copy_data(struct archive *in, struct archive *out, const char *what, const char *path)
{
	static char buf[1 << 16];
	bool keep = !strcmp(path, "./etc/os-release") || !strcmp(path, "./usr/lib/os-release");
	size_t kept = 0;

	for (;;) {
		la_ssize_t n = archive_read_data(in, buf, sizeof(buf));

		if (n < 0)
			fail("`%s`: %s", what, archive_error_string(in));
		if (n == 0)
			break;
		st.bytes += (unsigned long long)n;
		if (st.bytes > st.max_bytes)
			fail("more than %llu bytes unpacked (at `%s`): refused, a size bomb or too big",
			     st.max_bytes, what);
		if (archive_write_data(out, buf, (size_t)n) != n)
			fail("`%s`: write: %s", what, archive_error_string(out));
		if (keep && kept < OS_RELEASE_MAX) {
			size_t c = (size_t)n < OS_RELEASE_MAX - kept ? (size_t)n :
								       OS_RELEASE_MAX - kept;

			memcpy(st.os_release + kept, buf, c);
			kept += c;
			st.os_release[kept] = 0;
		}
	}
}

static void one(struct archive *in, struct archive *out, struct archive_entry *e)
{
	const char *name = archive_entry_pathname(e), *hl = archive_entry_hardlink(e);
	char path[PATH_MAXLEN + 2], target[PATH_MAXLEN + 2];
	struct archive_entry *o;
	mode_t type = archive_entry_filetype(e);
	bool abs, tabs;
	const char *xn;
	const void *xv;
	size_t xl;

	if (!name || !*name)
		fail("an entry without a name: refused");
	if (++st.entries > st.max_entries)
		fail("more than %llu entries: refused", st.max_entries);
	normalize(name, path, sizeof(path), name, &abs);
	st.absolute += abs;
	if (!strcmp(path, "."))
		return; /* the root: its owner and mode are the container's */
	no_symlink_prefix(path, name);
	if (archive_entry_uid(e) > (la_int64_t)ID_MAX ||
	    archive_entry_gid(e) > (la_int64_t)ID_MAX || archive_entry_uid(e) < 0 ||
	    archive_entry_gid(e) < 0)
		fail("`%s`: owner %lld:%lld is outside the container's ids 0-%lu: refused", name,
		     (long long)archive_entry_uid(e), (long long)archive_entry_gid(e), ID_MAX);
	if (!hl && (type == AE_IFCHR || type == AE_IFBLK)) {
		st.devices++; /* the runtime makes /dev; a node here would reach the host's device */
		return;
	}
	if (!hl && type == AE_IFSOCK) {
		st.sockets++;
		return;
	}
	o = archive_entry_new();
	if (!o)
		fail("out of memory");
	archive_entry_set_pathname(o, path);
	archive_entry_set_uid(o, archive_entry_uid(e));
	archive_entry_set_gid(o, archive_entry_gid(e));
	archive_entry_set_mtime(o, archive_entry_mtime(e), 0);
	if (hl) {
		normalize(hl, target, sizeof(target), name, &tabs);
		no_symlink_prefix(target, name);
		if (!in_tree(&st.files, target))
			fail("`%s`: a hard link to `%s`, no regular file earlier in the archive: "
			     "refused",
			     name, hl);
		archive_entry_set_filetype(o, AE_IFREG);
		archive_entry_set_perm(o, archive_entry_perm(e) & 07777);
		archive_entry_set_hardlink(o, target);
		archive_entry_set_size(o, 0);
		tree_del(&st.symlinks, path);
		tree_add(&st.files, path);
		write_entry(out, o, name);
		archive_entry_free(o);
		return;
	}
	if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFIFO)
		fail("`%s`: an entry of unknown type 0%o: refused", name, (unsigned int)type);
	archive_entry_set_filetype(o, type);
	archive_entry_set_perm(o, archive_entry_perm(e) & 07777);
	if (type == AE_IFLNK) {
		const char *t = archive_entry_symlink(e);

		/* its target stays as it is: it resolves inside the container's root */
		if (!t || !*t || strlen(t) > PATH_MAXLEN)
			fail("`%s`: a symlink without a usable target: refused", name);
		archive_entry_set_symlink(o, t);
		tree_add(&st.symlinks, path);
		if (!strcmp(path, "./sbin/init") || !strcmp(path, "./usr/sbin/init"))
			snprintf(st.init, sizeof(st.init), "%s", t);
	} else {
		tree_del(&st.symlinks, path);
	}
	if (type == AE_IFREG) {
		archive_entry_set_size(o, archive_entry_size(e));
		if (archive_entry_size(e) < 0 ||
		    (unsigned long long)archive_entry_size(e) > st.max_bytes - st.bytes)
			fail("more than %llu bytes unpacked (at `%s`): refused, a size bomb or too big",
			     st.max_bytes, name);
		tree_add(&st.files, path);
		if ((!strcmp(path, "./sbin/init") || !strcmp(path, "./usr/sbin/init")) && !*st.init)
			snprintf(st.init, sizeof(st.init), "file");
	} else {
		archive_entry_set_size(o, 0);
	}
	/* the file capability only (ping's cap_net_raw): no ACL, no trusted.* or other xattr */
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &xn, &xv, &xl) == ARCHIVE_OK) {
		if (type == AE_IFREG && !strcmp(xn, "security.capability"))
			archive_entry_xattr_add_entry(o, xn, xv, xl);
		else
			st.xattrs++;
	}
	write_entry(out, o, name);
	if (type == AE_IFREG)
		copy_data(in, out, name, path);
	archive_entry_free(o);
}

/* os-release's KEY="value" into a JSON string's body (quotes and controls left out). */
static void os_value(const char *key, char *out, size_t len)
{
	size_t kl = strlen(key), o = 0;

	*out = 0;
	for (const char *l = st.os_release; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
		if (strncmp(l, key, kl) || l[kl] != '=')
			continue;
		for (const char *p = l + kl + 1; *p && *p != '\n' && o + 1 < len; p++)
			if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_')
				out[o++] = *p;
		out[o] = 0;
		return;
	}
}

static const char *init_kind(void)
{
	if (strstr(st.init, "systemd"))
		return "systemd";
	if (strstr(st.init, "busybox"))
		return "busybox";
	return *st.init ? "other" : "none";
}

static unsigned long long number(const char *s, const char *flag)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || !v)
		fail("%s: expected a positive number, not `%s`", flag, s);
	return v;
}

int main(int argc, char **argv)
{
	struct archive *in, *out;
	struct archive_entry *e;
	char id[64], ver[64], line[1024];
	const char *probe = NULL;
	int infd, outfd, r, n;

	if (argc < 3)
		fail("usage: vps-tmpl-import IN OUT [--max-bytes N] [--max-entries N]");
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--max-bytes") && i + 1 < argc)
			st.max_bytes = number(argv[++i], "--max-bytes");
		else if (!strcmp(argv[i], "--max-entries") && i + 1 < argc)
			st.max_entries = number(argv[++i], "--max-entries");
		else if (!strcmp(argv[i], "--probe-open") && i + 1 < argc)
			probe = argv[++i];
		else
			fail("unknown argument `%s`", argv[i]);
	}
	/* `-`: a stream on stdin (`vps-ctm export`, a stopped container's root) */
	infd = !strcmp(argv[1], "-") ? 0 : open(argv[1], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (infd < 0)
		fail("open `%s`: %s", argv[1], strerror(errno));
	outfd = open(argv[2], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (outfd < 0)
		fail("create `%s`: %s", argv[2], strerror(errno));
	in = archive_read_new();
	out = archive_write_new();
	if (!in || !out)
		fail("out of memory");
	/* tar only, compressed or not; the filters are libraries, never external programs */
	if (archive_read_support_format_tar(in) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(in) != ARCHIVE_OK ||
	    archive_read_support_filter_xz(in) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(in) != ARCHIVE_OK ||
	    archive_read_support_filter_bzip2(in) != ARCHIVE_OK ||
	    archive_write_set_format_pax_restricted(out) != ARCHIVE_OK ||
	    archive_write_add_filter_zstd(out) != ARCHIVE_OK)
		fail("libarchive lacks tar, gzip, xz, zstd or bzip2 in-process");
	confine();
	if (probe) { /* the tests' proof of the confinement: what this process may still do */
		int fd = open(probe, O_RDONLY | O_CLOEXEC), oe = errno;

		dprintf(1, "uid %u gid %u open %s\n", (unsigned int)getuid(),
			(unsigned int)getgid(), fd >= 0 ? "ok" : strerror(oe));
		_exit(0);
	}
	if (archive_read_open_fd(in, infd, 1 << 16) != ARCHIVE_OK)
		fail("not a tar archive (tar, tar.gz, tar.xz, tar.zst, tar.bz2): %s",
		     archive_error_string(in));
	if (archive_write_open_fd(out, outfd) != ARCHIVE_OK)
		fail("write: %s", archive_error_string(out));
	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)
		one(in, out, e);
	if (r != ARCHIVE_EOF)
		fail("not a whole tar archive (truncated or garbage after %llu entries): %s",
		     st.entries, archive_error_string(in));
	if (!st.entries)
		fail("an empty archive: refused");
	if (archive_write_close(out) != ARCHIVE_OK)
		fail("write: %s", archive_error_string(out));
	os_value("ID", id, sizeof(id));
	os_value("VERSION_ID", ver, sizeof(ver));
	n = snprintf(line, sizeof(line),
		     "{\"entries\": %llu, \"bytes\": %llu, \"absolute\": %lu, \"devices\": %lu, "
		     "\"sockets\": %lu, \"xattrs\": %lu, \"init\": \"%s\", \"os\": \"%s\", "
		     "\"release\": \"%s\"}\n",
		     st.entries, st.bytes, st.absolute, st.devices, st.sockets, st.xattrs,
		     init_kind(), id, ver);
	if (write(1, line, (size_t)n) != n)
		fail("write the summary");
	_exit(0);
}
