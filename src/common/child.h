/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Two steps every helper that starts a child in a new user namespace takes
 * (vps-ctm export, vps-tmpl-oci): its id maps, and its exit status. Inline,
 * so a small confined program uses them without linking a library.
 */
#ifndef VPS_COMMON_CHILD_H
#define VPS_COMMON_CHILD_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"

/*
 * "0 BASE SIZE" as PID's uid_map and gid_map: 0, or -errno with the file
 * that failed in path (of size n).
 */
static inline int child_write_idmap(pid_t pid, unsigned int base, unsigned int size, char *path,
				    size_t n)
{
	static const char *const files[] = { "uid_map", "gid_map" };
	char map[64];

	snprintf(map, sizeof(map), "0 %u %u\n", base, size);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_close_ int fd = -1;

		snprintf(path, n, "/proc/%d/%s", (int)pid, files[i]);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, map, strlen(map)) < 0)
			return -errno;
	}
	return 0;
}

/* PID's exit status once it ended (128 + the signal that killed it); 1 when it cannot be waited for. */
static inline int child_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif
