// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: vps-vmm's configuration document (src/vmm/config.c), the
 * JSON vpsd writes and `--config FILE` reads: parse over the defaults, then
 * the whole-configuration checks.
 */
#include <stdlib.h>

#include "fuzz.h"
#include "vmm/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmm_config c;
	struct err *e = NULL;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	config_init(&c);
	if (config_parse(&c, text, &e) == 0) {
		if (config_validate(&c, &e) < 0)
			err_free(&e);
	} else {
		err_free(&e);
	}
	config_free(&c);
	free(text);
	return 0;
}
