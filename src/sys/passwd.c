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

int sys_set_root_password(int rootfd, const char *password, struct err **err)
{
	/* the guest's to plant anything there: a FIFO, a link, a huge file */
	_cleanup_close_ int fd = open_untrusted(rootfd, "/etc/shadow", O_RDWR, 0, SHADOW_MAX);
	_cleanup_free_ char *text = NULL, *out = NULL;
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	const char *hash, *line, *end;
	size_t len = 0;
	ssize_t n = 0;

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
	if (!crypt_gensalt_rn("$6$", 0, NULL, 0, salt, sizeof(salt)))
		return err_make(err, errno, "make a password salt");
	memset(&cd, 0, sizeof(cd));
	hash = crypt_r(password, salt, &cd);
	explicit_bzero(&cd.input, sizeof(cd.input));
	if (!hash || hash[0] == '*')
		return err_make(err, errno ? errno : EINVAL, "hash the root password");
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
