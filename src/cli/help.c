// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The help texts, made from the command table (commands.c) so that they
 * cannot drift from what the parser takes: `vps help` lists each command's
 * overview lines by section; `vps CMD --help` prints a usage line built from
 * the command's positionals and options, its prose, and one line per option.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define WIDTH 79 /* usage lines wrap before this column */
#define OVERVIEW_COL 30 /* `vps help`: where the right column starts, after "  " */
#define OPTION_COL 24 /* `vps CMD --help`: the same for the options */

static const char main_head[] =
	"usage: vps [--socket PATH | --url http://HOST:PORT] COMMAND [ARGS]\n";
static const char main_foot[] =
	"\n"
	"vpsd's socket: --socket PATH, else $VPS_SOCKET, else " DEFAULT_SOCKET ".\n"
	"With --url, $VPS_TOKEN is sent as the API token (`vps token create`).\n"
	"`vps COMMAND --help` describes each command. Exit status: 0 done, 1 failed,\n"
	"2 bad usage; exec: the command's. `vps --version` prints the version.\n";

/* "LEFT\tRIGHT" lines as two columns, LEFT padded to col. */
static void two_columns(FILE *f, const char *text, int col)
{
	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n'), *tab = strchr(l, '\t');
		int len = nl ? (int)(nl - l) : (int)strlen(l);

		if (tab && tab < l + len)
			fprintf(f, "  %-*.*s %.*s\n", col, (int)(tab - l), l,
				(int)(l + len - tab - 1), tab + 1);
		else
			fprintf(f, "  %.*s\n", len, l);
		l = nl ? nl + 1 : NULL;
	}
}

void help_main(FILE *f, const struct command *table)
{
	fputs(main_head, f);
	for (const struct command *c = table; c->name; c++) {
		if (c->section)
			fprintf(f, "%s%s\n", c == table ? "\n" : "", c->section);
		two_columns(f, c->overview, OVERVIEW_COL);
	}
	fputs(main_foot, f);
}

/* The value an option takes, as help shows it: SIZE, ct|vm, table|json. */
static const char *opt_meta(const struct opt *o, char *buf, size_t len)
{
	size_t used = 0;

	if (o->type == V_FORMAT)
		return "table|json";
	if (o->type != V_CHOICE)
		return o->meta ? o->meta : "VALUE";
	buf[0] = '\0';
	for (size_t i = 0; o->choices[i] && used < len; i++)
		used += snprintf(buf + used, len - used, "%s%s", i ? "|" : "", o->choices[i]);
	return buf;
}

/* An option as the usage line shows it: --kind ct|vm, [--force], [-n N]. */
static void opt_synopsis(const struct opt *o, char *buf, size_t len)
{
	char label[64], meta[96];

	opt_label(o, label, sizeof(label));
	if (o->type == V_FLAG)
		snprintf(buf, len, "[%s]", label);
	else
		snprintf(buf, len, "%s%s %s%s%s", o->required ? "" : "[", label,
			 opt_meta(o, meta, sizeof(meta)), o->required ? "" : "]",
			 o->repeat ? "..." : "");
}

/* Words on a usage line, wrapped under its first argument. */
struct line {
	FILE *f;
	int col, indent;
};

static void word(struct line *l, const char *w)
{
	int n = (int)strlen(w);

	if (l->col + 1 + n > WIDTH && l->col > l->indent) {
		fprintf(l->f, "\n%*s", l->indent, "");
		l->col = l->indent;
	} else {
		fputc(' ', l->f);
		l->col++;
	}
	fputs(w, l->f);
	l->col += n;
}

/* `usage: vps plan create NAME [--ram SIZE] ...`, or `       vps ...` after the first. */
static void usage_line(FILE *f, const struct command *c, const char *cmd, bool first)
{
	struct line l = { f, 0, 0 };
	char buf[160];

	l.col = fprintf(f, "%svps %s", first ? "usage: " : "       ", cmd);
	l.indent = l.col + 1;
	for (const struct pos *p = c->pos; p && p->name; p++) {
		if (p->rest) {
			snprintf(buf, sizeof(buf), "[--] %s [ARG...]", p->name);
		} else {
			snprintf(buf, sizeof(buf), "%s%s%s%s", p->optional ? "[" : "", p->name,
				 p->many ? "..." : "", p->optional ? "]" : "");
		}
		word(&l, buf);
	}
	for (const struct opt *o = c->opts; o && (o->name || o->short_name); o++) {
		if (!o->help)
			continue; /* taken but not shown: kept for old scripts */
		opt_synopsis(o, buf, sizeof(buf));
		word(&l, buf);
	}
	fputc('\n', f);
}

/* Whether an option named name comes in opts before until (all of opts: until NULL). */
static bool named_before(const struct opt *opts, const struct opt *until, const char *name)
{
	for (const struct opt *o = opts; o && o != until && (o->name || o->short_name); o++)
		if (name && o->name && !strcmp(o->name, name))
			return true;
	return false;
}

/* One line an option: `  --ram SIZE               memory ...`. */
static void option_line(FILE *f, const struct opt *o, bool *header)
{
	char label[64], meta[96], left[160];

	if (!o->help)
		return;
	if (!*header)
		fputs("Options:\n", f);
	*header = true;
	opt_label(o, label, sizeof(label));
	if (o->type == V_FLAG)
		snprintf(left, sizeof(left), "%s", label);
	else
		snprintf(left, sizeof(left), "%s %s", label, opt_meta(o, meta, sizeof(meta)));
	if ((int)strlen(left) > OPTION_COL)
		fprintf(f, "  %s\n  %-*s %s%s\n", left, OPTION_COL, "", o->help,
			o->repeat ? " (repeatable)" : "");
	else
		fprintf(f, "  %-*s %s%s\n", OPTION_COL, left, o->help,
			o->repeat ? " (repeatable)" : "");
}

/* The options of c, or of all its subcommands, each name once (the first one's help). */
static void option_lines(FILE *f, const struct command *c)
{
	const struct command *one[2] = { c, NULL };
	bool header = false;

	for (const struct command *s = c->subs ? c->subs : *one; s && s->name;
	     s = c->subs ? s + 1 : NULL) {
		for (const struct opt *o = s->opts; o && (o->name || o->short_name); o++) {
			bool dup = named_before(s->opts, o, o->name);

			for (const struct command *t = c->subs; t && t < s && !dup; t++)
				dup = named_before(t->opts, NULL, o->name);
			if (!dup)
				option_line(f, o, &header);
		}
	}
}

void help_command(FILE *f, const struct command *c, const char *cmd, const struct command *parent)
{
	const char *help = c->help ? c->help : parent ? parent->help : NULL;
	char sub[64];

	if (c->subs) {
		for (const struct command *s = c->subs; s->name; s++) {
			snprintf(sub, sizeof(sub), "%s %s", cmd, s->name);
			usage_line(f, s, sub, s == c->subs);
		}
	} else {
		usage_line(f, c, cmd, true);
	}
	if (help)
		fputs(help, f);
	option_lines(f, c);
}
