/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small helpers every part needs: whole reads and writes that survive EINTR
 * and short counts, and the size syntax used on command lines (`512M`).
 */
#ifndef VPS_COMMON_UTIL_H
#define VPS_COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

ssize_t write_all(int fd, const void *buf, size_t len);
ssize_t read_all(int fd, void *buf, size_t len);

/*
 * Parse a size such as "4096", "512K", "512M", "2G" (binary units; a
 * trailing "iB" or "B" is accepted). Returns 0 or -EINVAL / -ERANGE.
 */
int parse_size(const char *s, uint64_t *out);

/*
 * mkdir -p: the missing parents with mode `parents`, the last with `mode`
 * (exactly those modes, whatever the umask); one that exists already is
 * fine and keeps its mode. 0 or -errno.
 */
int mkdir_p(const char *path, mode_t mode, mode_t parents);

/*
 * Open PATH under DIRFD, a tree a guest controls (its root as the host sees
 * it): no symlink followed at any component, nothing outside DIRFD's mount
 * (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV), and,
 * unless FLAGS has O_PATH or O_DIRECTORY, a regular file of at most MAX bytes
 * (0: any) that was never opened as anything else: it is first opened with
 * O_PATH and checked, then reopened, so a FIFO or device node planted there
 * is refused (EINVAL) without blocking or touching a driver. With O_CREAT a
 * missing file is made with O_EXCL. A leading `/` is the root's. The fd
 * (close-on-exec, O_NONBLOCK), or -1 with errno.
 */
int open_untrusted(int dirfd, const char *path, int flags, mode_t mode, off_t max);

/* Read a whole file into a fresh NUL-terminated buffer; -errno on failure. */
int read_file(const char *path, char **out, size_t *len);

/*
 * Give back to the kernel what a long-lived process no longer uses once it
 * settles into its loop: free malloc memory (malloc_trim) and the pages of
 * its main stack below the caller's frame that earlier, deeper calls
 * touched (a margin below the frame is kept for the calls still to come).
 * A monitor's start (parsing, running programs) leaves both behind, and
 * they would stay charged for as long as the container runs
 * (docs/ct-density.md). Best effort; nothing to report.
 */
void release_idle_memory(void);

/* A short name for things the host names: 1 to max of a-z, 0-9 and -, not starting with -. */
bool slug_ok(const char *s, size_t max);

#endif
