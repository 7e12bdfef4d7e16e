// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: vps-ct's OCI config parser (src/ct/config.c) and its
 * validation (config_validate.c) on any config.json a bundle may hold, as
 * `vps-ct create` reads it: parse, then validate what parsed.
 */
#include <stdlib.h>

#include "ct/config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ct_config *cfg = NULL;
	struct err *e = NULL;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (ct_config_parse(text, &cfg, &e) == 0) {
		if (ct_config_validate(cfg, &e) < 0)
			err_free(&e);
	} else {
		err_free(&e);
	}
	ct_config_free(cfg);
	free(text);
	return 0;
}
