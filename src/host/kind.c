// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The table of kinds: which one runs a VPS, and what each settles at create.
 */
#include <errno.h>
#include <string.h>

#include "host/kind.h"

static const struct kind_ops *const kinds[] = { &kind_ct, &kind_vm_vmm, &kind_vm_qemu };

static const struct kind_family *const families[] = { &kind_ct_family, &kind_vm_family };

int kind_settle(struct vps *v, struct err **err)
{
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if (!strcmp(families[i]->kind, v->kind))
			return families[i]->settle(v, err);
	return err_make(err, EINVAL, "`kind`: no kind `%.16s`", v->kind);
}

json_t *kind_templates(void)
{
	json_t *a = json_array();

	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		for (const char *const *t = families[i]->templates; t && *t; t++)
			json_array_append_new(a, json_pack("{s:s, s:s}", "name", *t, "kind",
							   families[i]->kind));
	return a;
}

const struct kind_ops *kind_find(const char *kind, const char *engine)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i]->kind, kind) && !strcmp(kinds[i]->engine, engine))
			return kinds[i];
	return NULL;
}
