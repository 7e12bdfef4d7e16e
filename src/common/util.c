// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Small helpers: see util.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <malloc.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

ssize_t write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += n;
	}
	return done;
}

ssize_t read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, p + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (end == s)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (*end) {
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'B')
			end++;
		if (*end)
			return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int read_file(const char *path, char **out, size_t *len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, n = 0;
	char *buf, *nb;

	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return -errno;
		}
		if (r == 0)
			break;
		n += r;
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

int mkdir_p(const char *path, mode_t mode, mode_t parents)
{
	char tmp[4096];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(tmp, parents) == 0) {
				if (chmod(tmp, parents) < 0)
					return -errno;
			} else if (errno != EEXIST) {
				return -errno;
			}
			*p = '/';
		}
	if (mkdir(tmp, mode) == 0)
		return chmod(tmp, mode) < 0 ? -errno : 0;
	return errno == EEXIST ? 0 : -errno;
}

static int openat2_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = { .flags = flags | O_NOFOLLOW | O_CLOEXEC,
				.mode = (flags & O_CREAT) ? mode : 0,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
					   RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV };

	while (*path == '/')
		path++;
	return syscall(SYS_openat2, dirfd, *path ? path : ".", &how, sizeof(how));
}

int open_untrusted(int dirfd, const char *path, int flags, mode_t mode, off_t max)
{
	_cleanup_close_ int pfd = -1;
	char proc[64];
	struct stat st;
	int fd, e;

	if (flags & (O_PATH | O_DIRECTORY))
		return openat2_beneath(dirfd, path, flags, mode);
	pfd = openat2_beneath(dirfd, path, O_PATH, 0);
	if (pfd < 0 && errno == ENOENT && (flags & O_CREAT)) /* a fresh file is ours */
		return openat2_beneath(dirfd, path, flags | O_EXCL | O_NONBLOCK, mode);
	if (pfd < 0)
		return -1;
	if (fstat(pfd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	/* the very inode checked: a rename in between changes nothing */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	fd = open(proc, (flags & ~(O_CREAT | O_EXCL)) | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		e = errno;
	else if (max > 0 && st.st_size > max)
		e = EFBIG;
	else
		return fd;
	close(fd);
	errno = e;
	return -1;
}

bool slug_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 1 && n <= max && s[0] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

void release_idle_memory(void)
{
	/* below the frame: the madvise wrapper's own frame and what follows */
	const uintptr_t margin = 16384, page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0), end;
	unsigned long lo = 0, hi = 0;
	char line[512];
	FILE *f;

	malloc_trim(0);
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "[stack]") && sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			break;
		lo = hi = 0;
	}
	fclose(f);
	if (sp < lo + margin || sp >= hi)
		return;
	end = (sp - margin) & ~(page - 1);
	if (end > lo)
		madvise((void *)lo, end - lo, MADV_DONTNEED);
}
