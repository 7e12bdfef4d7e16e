// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The table of kinds: which one runs a VPS, and what each settles at create.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host/kind.h"

static const struct kind_ops *const kinds[] = { &kind_ct, &kind_vm_vmm, &kind_vm_qemu };

static const struct kind_family *const families[] = { &kind_ct_family, &kind_vm_family };

#define NR(a) (sizeof(a) / sizeof((a)[0]))

const struct kind_family *kind_family_at(size_t i)
{
	return i < NR(families) ? families[i] : NULL;
}

const struct kind_family *kind_family_of(enum vps_kind kind)
{
	for (size_t i = 0; i < NR(families); i++)
		if (families[i]->kind == kind)
			return families[i];
	return NULL;
}

/* "vmm, qemu": the engines of a kind, for an error. */
static const char *engines_of(enum vps_kind kind, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = 0;
	for (size_t i = 0; i < NR(kinds) && at < len; i++)
		if (kinds[i]->kind == kind)
			at += snprintf(buf + at, len - at, "%s%s", at ? ", " : "",
				       vps_engine_name(kinds[i]->engine));
	return buf;
}

int kind_settle(struct vps *v, struct err **err)
{
	const struct kind_family *f = kind_family_of(v->kind);
	char list[64];
	int r;

	if (!f)
		return err_make(err, EINVAL, "`kind`: no kind `%s`", vps_kind_name(v->kind));
	if ((r = f->settle(v, err)) < 0)
		return r;
	/* the kind took the engine asked for, or set its own: one it has */
	if (!kind_find(v->kind, v->engine))
		return err_make(err, EINVAL, "`engine`: kind %s has no engine `%s` (%s)",
				vps_kind_name(v->kind), vps_engine_name(v->engine),
				engines_of(v->kind, list, sizeof(list)));
	return 0;
}

const struct kind_ops *kind_find(enum vps_kind kind, enum vps_engine engine)
{
	for (size_t i = 0; i < NR(kinds); i++)
		if (kinds[i]->kind == kind && kinds[i]->engine == engine)
			return kinds[i];
	return NULL;
}
