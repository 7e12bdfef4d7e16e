// SPDX-License-Identifier: GPL-2.0-or-later
/* Root's password in a guest's /etc/shadow (passwd.h). */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "sys/passwd.h"

#define SHADOW_MAX (1 << 20)

int sys_hash_password(const char *password, char **hash, struct err **err)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = calloc(1, sizeof(*cd)); /* ~32 KiB: not on a thread's stack */
	const char *h;
	int r = 0;

	*hash = NULL;
	if (!cd)
		return err_make(err, ENOMEM, "hash the root password");
	errno = 0;
	if (!crypt_gensalt_rn("$6$", 0, NULL, 0, salt, sizeof(salt)))
		r = err_make(err, errno ? errno : EINVAL, "make a password salt");
	else if (!(h = crypt_r(password, salt, cd)) || h[0] == '*')
		r = err_make(err, errno ? errno : EINVAL, "hash the root password");
	else if (!(*hash = strdup(h)))
		r = err_make(err, ENOMEM, "hash the root password");
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return r;
}

int sys_set_root_password(int rootfd, const char *password, struct err **err)
{
	/* the guest's to plant anything there: a FIFO, a link, a huge file */
	_cleanup_close_ int fd = open_untrusted(rootfd, "/etc/shadow", O_RDWR, 0, SHADOW_MAX);
	_cleanup_free_ char *text = NULL, *out = NULL, *hash = NULL;
	const char *line, *end;
	size_t len = 0;
	ssize_t n = 0;
	int r;

	if (fd < 0 && errno == EFBIG)
		return err_make(err, EINVAL, "`/etc/shadow` in the guest is larger than %d KiB",
				SHADOW_MAX >> 10);
	if (fd < 0 && (errno == EINVAL || errno == ELOOP || errno == EXDEV))
		return err_make(err, EINVAL,
				"`/etc/shadow` in the guest is not a regular file in its root");
	if (fd < 0)
		return err_make(err, errno, "open `/etc/shadow` in the guest's root");
	if (!(text = malloc(SHADOW_MAX + 1)))
		return err_make(err, ENOMEM, "read `/etc/shadow`");
	while (len < SHADOW_MAX && (n = read(fd, text + len, SHADOW_MAX - len)) > 0)
		len += n;
	if (n < 0)
		return err_make(err, errno, "read `/etc/shadow`");
	text[len] = 0;
	if ((r = sys_hash_password(password, &hash, err)) < 0)
		return r;
	if (strncmp(text, "root:", 5) == 0)
		line = text;
	else if ((line = strstr(text, "\nroot:")))
		line++;
	else
		return err_make(err, ENOENT, "`/etc/shadow` has no root line");
	end = strchr(line + 5, ':');
	if (!end)
		return err_make(err, EINVAL, "`/etc/shadow`: bad root line");
	if (asprintf(&out, "%.*s%s%s", (int)(line + 5 - text), text, hash, end) < 0)
		return err_make(err, ENOMEM, "`/etc/shadow`");
	if (lseek(fd, 0, SEEK_SET) < 0 || ftruncate(fd, 0) < 0 ||
	    write_all(fd, out, strlen(out)) < 0 || fsync(fd) < 0)
		return err_make(err, errno, "write `/etc/shadow`");
	return 0;
}
