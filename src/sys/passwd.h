/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Root's password in a guest's /etc/shadow, for the ct and vm kinds alike:
 * hashed with SHA-512 crypt and a fresh salt (also what a VM's seed
 * carries), written in place (owner and
 * mode kept) through a file opened with open_untrusted(): no link followed,
 * a regular file of at most 1 MiB, never a blocking open.
 */
#ifndef VPS_SYS_PASSWD_H
#define VPS_SYS_PASSWD_H

#include "common/err.h"

int sys_set_root_password(int rootfd, const char *password, struct err **err);

/* A SHA-512 crypt hash of `password` with a fresh salt into *hash (caller frees). */
int sys_hash_password(const char *password, char **hash, struct err **err);

#endif
