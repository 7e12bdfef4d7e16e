// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: a live move's blocks file as the destination vpsd applies it
 * (src/host/migrate_blocks.c, migrate_blocks_apply), the input being the
 * whole file another node sent. Against a VPS directory on tmpfs made once:
 * `disk.img` (256 KiB) and `swap.img`, a link to a file outside. After each
 * input the image must keep its size (a blocks file never grows one) and
 * the file outside must be as it was; anything else aborts.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "host/migrate_blocks.h"

#define IMAGE (256 << 10)
#define OUTSIDE "outside, never written\n"

static char dir[64], victim[128];
static int dirfd = -1, in = -1;

static void cleanup(void)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/disk.img", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/swap.img", dir);
	unlink(p);
	unlink(victim);
	rmdir(dir);
}

static void setup(void)
{
	char p[160];
	int fd;

	snprintf(dir, sizeof(dir), "/dev/shm/fuzz-blocks-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(victim, sizeof(victim), "%s.outside", dir);
	snprintf(p, sizeof(p), "%s/disk.img", dir);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0 || ftruncate(fd, IMAGE) < 0)
		abort();
	close(fd);
	if ((fd = open(victim, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0 ||
	    write(fd, OUTSIDE, sizeof(OUTSIDE) - 1) != sizeof(OUTSIDE) - 1)
		abort();
	close(fd);
	snprintf(p, sizeof(p), "%s/swap.img", dir);
	if (symlink(victim, p) < 0)
		abort();
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY)) < 0 ||
	    (in = memfd_create("blocks", MFD_CLOEXEC)) < 0)
		abort();
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const allow[] = { "disk.img", "swap.img", "rescue.img", NULL };
	unsigned long long bytes;
	unsigned int ranges;
	struct err *e = NULL;
	char got[sizeof(OUTSIDE)] = { 0 };
	struct stat st;
	int fd;

	if (dirfd < 0)
		setup();
	if (ftruncate(in, 0) < 0 || (size && pwrite(in, data, size, 0) != (ssize_t)size))
		abort();
	if (migrate_blocks_apply(dirfd, in, allow, &bytes, &ranges, &e) < 0)
		err_free(&e);
	if (fstatat(dirfd, "disk.img", &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_size != IMAGE)
		abort(); /* grown, shrunk or replaced */
	if ((fd = open(victim, O_RDONLY)) < 0 ||
	    read(fd, got, sizeof(got)) != sizeof(OUTSIDE) - 1 ||
	    memcmp(got, OUTSIDE, sizeof(OUTSIDE) - 1))
		abort(); /* written through the link */
	close(fd);
	return 0;
}
