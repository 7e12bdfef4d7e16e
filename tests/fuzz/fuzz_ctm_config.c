// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: vps-ctm's settings file (src/ctm/config.c), the JSON vpsd
 * writes for every system container, and the OCI spec the monitor builds
 * from settings that parsed (src/ctm/spec.c), for each kind of init.
 */
#include <stdlib.h>

#include "ctm/ctm.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctm_config c;
	struct err *e = NULL;
	json_t *j = json_loadb((const char *)data, size, 0, NULL), *spec;
	char *out;

	if (!j)
		return 0;
	ctm_config_init(&c);
	if (ctm_config_from_json(&c, j, &e) == 0) {
		spec = ctm_spec(&c,
				c.init == CTM_INIT_SYSTEMD ? CTM_INIT_SYSTEMD : CTM_INIT_BUSYBOX,
				"/nonexistent/rootfs", size & 1 ? "/nonexistent/proc" : NULL, &e);
		if (spec) {
			out = json_dumps(spec, JSON_COMPACT);
			free(out);
			json_decref(spec);
		}
	}
	err_free(&e);
	ctm_config_free(&c);
	json_decref(j);
	return 0;
}
