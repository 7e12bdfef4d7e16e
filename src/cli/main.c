// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `vps`'s main: where vpsd is by default ($VPS_SOCKET), then the command
 * line to the table (commands.c) through the one parser (args.c).
 */
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
	const char *env = getenv("VPS_SOCKET");
	int r;

	if (env && *env)
		cli_target.socket = env;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = command_run(commands, argc - 1, argv + 1);
	curl_global_cleanup();
	fflush(stdout);
	return r;
}
