// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Bash completion from the command table (commands.c), so that it cannot
 * drift from what the parser takes: the completion script
 * (data/bash-completion/vps) runs `vps --complete WORD...` with the words
 * before the cursor, and this prints the words that may come next, one a
 * line: commands, subcommands, a command's options, an option's choices.
 * Nothing at all means "a value: complete file names".
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* the options every command takes (args.c's global ones) */
static const char *const global_opts[] = { "--socket", "--url", "--help", NULL };

static const struct opt *opt_named(const struct command *c, const char *w)
{
	if (!c || !c->opts || w[0] != '-')
		return NULL;
	for (const struct opt *o = c->opts; o->name || o->short_name; o++)
		if ((o->name && w[1] == '-' && !strcmp(w + 2, o->name)) ||
		    (!o->name && w[1] == o->short_name && !w[2]))
			return o;
	return NULL;
}

static void print_opts(const struct command *c)
{
	for (const struct opt *o = c && c->opts ? c->opts : NULL; o && (o->name || o->short_name);
	     o++) {
		if (o->name && o->help)
			printf("--%s\n", o->name);
		else if (!o->name)
			printf("-%c\n", o->short_name);
	}
	for (const char *const *g = global_opts; *g; g++)
		puts(*g);
}

static void print_subs(const struct command *table)
{
	for (const struct command *c = table; c->name; c++)
		puts(c->name);
}

int complete_main(const struct command *table, int argc, char **argv)
{
	const struct command *c = NULL, *sub = NULL;
	bool help = false;
	int i;

	for (i = 0; i < argc; i++) {
		const char *w = argv[i];
		const struct opt *o;

		if (!strcmp(w, "--"))
			return 0; /* exec's command: the shell's own completion is better */
		if (!strcmp(w, "--socket") || !strcmp(w, "--url")) {
			if (i + 1 == argc)
				return 0; /* a path or a URL */
			i++;
			continue;
		}
		if ((o = opt_named(sub ? sub : c, w))) {
			if (o->type == V_FLAG)
				continue;
			if (i + 1 < argc) {
				i++;
				continue;
			}
			if (o->type == V_CHOICE)
				for (const char *const *ch = o->choices; *ch; ch++)
					puts(*ch);
			else if (o->type == V_FORMAT)
				printf("table\njson\n");
			return 0;
		}
		if (w[0] == '-')
			continue;
		if (!c && !help) {
			if (!strcmp(w, "help"))
				help = true;
			else if (!(c = command_find(table, w)))
				return 0;
		} else if (help) {
			if (!c)
				c = command_find(table, w);
			else if (c->subs)
				return 0;
		} else if (c->subs && !sub && !(sub = command_find(c->subs, w))) {
			return 0;
		}
	}
	if (help && !c)
		print_subs(table);
	else if (help && c && c->subs)
		print_subs(c->subs);
	else if (!c) {
		print_subs(table);
		puts("help");
		puts("--version");
		for (const char *const *g = global_opts; *g; g++)
			puts(*g);
	} else if (c->subs && !sub)
		print_subs(c->subs);
	else if (!help)
		print_opts(sub ? sub : c);
	return 0;
}
