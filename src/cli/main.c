// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `vps`'s main: where vpsd is by default ($VPS_SOCKET), then the command
 * line to the table (commands.c) through the one parser (args.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "common/config.h"

int main(int argc, char **argv)
{
	const char *env = getenv("VPS_SOCKET");
	int r;

	if (env && *env)
		cli_target.socket = env;
	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("vps %s\n", VPS_VERSION);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "--complete"))
		return complete_main(commands, argc - 2, argv + 2);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = command_run(commands, argc - 1, argv + 1);
	curl_global_cleanup();
	fflush(stdout);
	return r;
}
