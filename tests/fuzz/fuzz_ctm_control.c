// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: vps-ctm's control socket (src/ctm/ctl.c): the bytes a client
 * sends, cut into lines as the monitor cuts them, each parsed against a
 * container's settings; a `set` that parses is turned into the OCI resources
 * the monitor would hand `vps-ct update` (ctm_spec), as a running container's
 * would be. Every refusal must be a reply {"ok": false, "error": ...}.
 */
#include <stdlib.h>

#include "ctm/ctl.h"
#include "ctm/ctm.h"
#include "fuzz.h"

#define MAX_LINE 4096

static struct ctm_config base;

static void settings(void)
{
	static const char doc[] =
		"{\"name\": \"web1\", \"dir\": \"/nonexistent/vps-fuzz/web1\", "
		"\"template\": \"/nonexistent/t.tar\", \"memory\": \"512M\", \"swap\": \"256M\", "
		"\"cpus\": 1, \"disk\": \"1G\", \"pids\": 512}";
	json_t *j = json_loads(doc, 0, NULL);

	ctm_config_init(&base);
	if (!j || ctm_config_from_json(&base, j, NULL) < 0)
		abort();
	json_decref(j);
}

static void handle(const char *line)
{
	struct ctm_ctl_req req;
	json_t *r = ctm_ctl_parse(line, &base, &req), *spec;
	struct err *e = NULL;
	char *out;

	if (r) {
		if (!json_is_false(json_object_get(r, "ok")) ||
		    !json_is_string(json_object_get(r, "error")))
			__builtin_trap();
		json_decref(r);
		return;
	}
	if (req.cmd != CTM_CTL_SET)
		return;
	spec = ctm_spec(&req.set, CTM_INIT_BUSYBOX, "/", &e);
	if (!spec) {
		err_free(&e);
		return;
	}
	out = json_dumps(json_object_get(json_object_get(spec, "linux"), "resources"),
			 JSON_COMPACT);
	free(out);
	json_decref(spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[MAX_LINE];

	if (!base.name)
		settings();
	/* ctl_read(): whole lines answered, an overlong one dropped */
	fuzz_lines(data, size, buf, sizeof(buf), handle);
	return 0;
}
