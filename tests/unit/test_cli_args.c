// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the CLI's one parser (src/cli/args.c) against the real
 * command table (src/cli/commands.c), and against a small table of its own
 * for the dispatch to subcommands: the option forms (--opt=V, --opt V,
 * -nV, -n V), `--`, and the usage errors, each read from stderr as the user
 * would read it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h" /* before cmocka.h, whose fail() macro would rename ours */
#include <cmocka.h>

static char err_text[1024]; /* what the last parse() printed on stderr */
static char out_text[4096]; /* and on stdout */

/* argv from a NULL-terminated list; parse it for the command `words`. */
static int parse_words(const char *words, struct args *a, ...)
{
	const struct command *c = command_find(commands, words), *parent = NULL;
	char *argv[32], cmd[32];
	FILE *err = tmpfile(), *out = tmpfile();
	int argc = 0, saved_err = dup(2), saved_out = dup(1), r;
	const char *sub = strchr(words, ' ');
	va_list ap;
	size_t n;

	snprintf(cmd, sizeof(cmd), "%s", words);
	if (sub) {
		cmd[sub - words] = '\0';
		parent = command_find(commands, cmd);
		assert_non_null(parent);
		c = command_find(parent->subs, sub + 1);
		snprintf(cmd, sizeof(cmd), "%s", words);
	}
	assert_non_null(c);
	va_start(ap, a);
	for (char *w; (w = va_arg(ap, char *)) && argc < 31;)
		argv[argc++] = w;
	va_end(ap);
	argv[argc] = NULL;

	fflush(stdout);
	fflush(stderr);
	dup2(fileno(err), 2);
	dup2(fileno(out), 1);
	r = args_parse(c, parent, cmd, argc, argv, a);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_err, 2);
	dup2(saved_out, 1);
	close(saved_err);
	close(saved_out);
	rewind(err);
	n = fread(err_text, 1, sizeof(err_text) - 1, err);
	err_text[n] = '\0';
	rewind(out);
	n = fread(out_text, 1, sizeof(out_text) - 1, out);
	out_text[n] = '\0';
	fclose(err);
	fclose(out);
	return r;
}

#define PARSE(words, a, ...) parse_words(words, a, ##__VA_ARGS__, (char *)NULL)

/* The first line of stderr is `vps: error: MSG` and the second points to --help. */
static void assert_usage(int r, const char *msg, const char *cmd)
{
	char want[512];

	assert_int_equal(r, EXIT_USAGE);
	snprintf(want, sizeof(want), "vps: error: %s\nTry `vps %s%s--help`.\n", msg, cmd,
		 *cmd ? " " : "");
	assert_string_equal(err_text, want);
}

static void unknown_option(void **state)
{
	struct args a;

	assert_usage(PARSE("create", &a, "web1", "--kind", "ct", "--frob"), "unknown flag `--frob`",
		     "create");
	assert_usage(PARSE("audit", &a, "-x"), "unknown flag `-x`", "audit");
	assert_usage(PARSE("audit", &a, "--n", "3"), "unknown flag `--n`",
		     "audit"); /* short only */
	assert_usage(PARSE("stop", &a, "--force=yes", "web1"), "--force: takes no value", "stop");
	/* a sibling's option is named as such */
	assert_usage(PARSE("user rm", &a, "bob", "--role", "admin"), "--role: only for `user add`",
		     "user rm");
	assert_usage(PARSE("user rm", &a, "bob", "--password-stdin"),
		     "--password-stdin: only for `user add` and `user passwd`", "user rm");
	/* an option for one value of another (only_with), before or after it */
	assert_usage(PARSE("create", &a, "web1", "--kind", "ct", "--engine", "qemu"),
		     "--engine: only for --kind vm", "create");
	assert_usage(PARSE("create", &a, "web1", "--iso=x.iso", "--kind=ct"),
		     "--iso: only for --kind vm", "create");
	assert_int_equal(PARSE("create", &a, "web1", "--kind", "vm", "--boot", "firmware", "--iso",
			       "x.iso", "--engine", "qemu"),
			 0);
	args_free(&a);
}

static void missing_value(void **state)
{
	struct args a;

	assert_usage(PARSE("create", &a, "web1", "--kind", "ct", "--ram"), "--ram: needs a value",
		     "create");
	/* a long option's value does not look like the next option */
	assert_usage(PARSE("create", &a, "web1", "--kind", "ct", "--ram", "--swap", "1G"),
		     "--ram: needs a value", "create");
	assert_usage(PARSE("audit", &a, "-n"), "-n: needs a value", "audit");
	assert_usage(PARSE("show", &a), "missing NAME", "show");
	assert_usage(PARSE("exec", &a, "web1"), "missing CMD", "exec");
	assert_usage(PARSE("create", &a, "web1"), "--kind: required (ct or vm)", "create");
	assert_usage(PARSE("token create", &a, "t1"), "--expires: required (30d, 12h, 3600s)",
		     "token create");
}

static void bad_values(void **state)
{
	struct args a;

	assert_usage(PARSE("stop", &a, "web1", "--timeout", "soon"),
		     "--timeout: `soon` is not a number of seconds (1 to 3600)", "stop");
	assert_usage(PARSE("stop", &a, "web1", "--timeout=3601"),
		     "--timeout: `3601` is not a number of seconds (1 to 3600)", "stop");
	assert_usage(PARSE("audit", &a, "-n", "12x"), "-n: `12x` is not a number (1 to 100000)",
		     "audit");
	assert_usage(PARSE("create", &a, "web1", "--kind", "ct", "--ram", "12x"),
		     "--ram: `12x` is not a size such as 512M or 2G", "create");
	assert_usage(PARSE("create", &a, "web1", "--kind", "lxc"), "--kind: `lxc` is not ct or vm",
		     "create");
	assert_usage(PARSE("list", &a, "--format", "yaml"), "--format: `yaml` is not table or json",
		     "list");
	assert_usage(PARSE("events", &a, "--vps", "NO"), "--vps: `NO` is not a VPS name", "events");
	assert_usage(PARSE("start", &a, "BAD!"),
		     "`BAD!`: not a valid name (1-32 of a-z, 0-9 and -, not starting with -)",
		     "start");
	assert_usage(PARSE("op", &a, "../x"), "`../x`: not an id", "op");
	assert_usage(PARSE("policy set", &a, "memory", "oversell", "1.5x"),
		     "RATIO: `1.5x` is not a number", "policy set");
	assert_usage(PARSE("show", &a, "a", "b"), "unexpected argument `b`", "show");
}

static void value_forms(void **state)
{
	const char *forms[][3] = { { "--ram=1G", NULL }, { "--ram", "1G" } };
	struct args a;

	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(PARSE("create", &a, "web1", "--kind=ct", forms[i][0], forms[i][1]),
				 0);
		assert_string_equal(err_text, "");
		assert_int_equal(a.npos, 1);
		assert_string_equal(a.pos[0], "web1");
		assert_string_equal(args_get(&a, "kind"), "ct");
		assert_string_equal(args_get(&a, "ram"), "1G");
		/* a body field: checked and put under its JSON key */
		assert_int_equal(json_integer_value(json_object_get(a.body, "ram")), 1 << 30);
		args_free(&a);
	}
	assert_int_equal(PARSE("audit", &a, "-n20"), 0);
	assert_int_equal(args_num(&a, "n", 0), 20);
	assert_int_equal(PARSE("audit", &a, "-n", "30", "--format", "json"), 0);
	assert_int_equal(args_num(&a, "n", 0), 30);
	assert_true(a.json);
	/* options after positionals, names many, the last value wins */
	assert_int_equal(PARSE("stop", &a, "a", "--timeout", "5", "b", "--force", "--timeout=7"),
			 0);
	assert_int_equal(a.npos, 2);
	assert_true(args_has(&a, "force"));
	assert_int_equal(args_num(&a, "timeout", 0), 7);
	assert_false(args_has(&a, "format"));
}

static void dashdash_ends_options(void **state)
{
	struct args a;

	assert_int_equal(PARSE("exec", &a, "web1", "--", "ls", "-l", "--all"), 0);
	assert_string_equal(a.pos[0], "web1");
	assert_int_equal(a.nrest, 3);
	assert_string_equal(a.rest[0], "ls");
	assert_string_equal(a.rest[1], "-l");
	/* exec: the command's flags are its own even without -- */
	assert_int_equal(PARSE("exec", &a, "web1", "sh", "-c", "true"), 0);
	assert_int_equal(a.nrest, 3);
	assert_string_equal(a.rest[1], "-c");
	/* after --, what looks like an option is a positional */
	assert_usage(PARSE("list", &a, "--", "--format"), "unexpected argument `--format`", "list");
	assert_int_equal(PARSE("set", &a, "web1", "--", "ram=1G"), 0);
	assert_string_equal(a.pos[1], "ram=1G");
	/* a lone - is a positional too */
	assert_usage(PARSE("show", &a, "-"),
		     "`-`: not a valid name (1-32 of a-z, 0-9 and -, not starting with -)", "show");
}

static void help_is_made_from_the_table(void **state)
{
	struct args a;

	assert_int_equal(PARSE("stop", &a, "web1", "--help"), -1);
	assert_string_equal(err_text, "");
	assert_int_equal(PARSE("stop", &a, "-h"), -1);
	/* args_parse leaves the printing to its caller: */
	assert_string_equal(out_text, "");
}

/* help_command() and help_main() into a string (free it). */
static char *help_text(const char *word, const char *sub)
{
	const struct command *c = word ? command_find(commands, word) : NULL, *s = NULL;
	char *buf = NULL, cmd[32];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (sub)
		s = command_find(c->subs, sub);
	snprintf(cmd, sizeof(cmd), "%s%s%s", word ? word : "", sub ? " " : "", sub ? sub : "");
	if (!c)
		help_main(f, commands);
	else
		help_command(f, s ? s : c, cmd, s ? c : NULL);
	fclose(f);
	return buf;
}

static void help_text_is_made_from_the_table(void **state)
{
	char *t = help_text("stop", NULL);

	/* the usage line from the positionals and options, then each option's line */
	assert_non_null(strstr(t, "usage: vps stop NAME... [--force] [--timeout SECONDS]\n"));
	assert_non_null(strstr(t, "\n  --timeout SECONDS        kill it after this long"));
	free(t);
	/* required options bare, choices spelled out, repeatable ones marked */
	t = help_text("create", NULL);
	assert_non_null(strstr(t, "usage: vps create NAME --kind ct|vm [--template T]"));
	assert_non_null(strstr(t, "[--ssh-key KEY]..."));
	free(t);
	/* a command of commands: a usage line a subcommand; a subcommand alone */
	t = help_text("token", NULL);
	assert_non_null(strstr(t, "usage: vps token list [--format table|json]\n"
				  "       vps token create NAME --expires DURATION"));
	assert_non_null(strstr(t, "       vps token rm ID\n"));
	free(t);
	t = help_text("audit", NULL);
	assert_non_null(strstr(t, "usage: vps audit [-n N] [--format table|json]\n"));
	free(t);
	t = help_text("user", "add");
	assert_true(!strncmp(t, "usage: vps user add NAME --role admin|customer", 46));
	free(t);
	/* `vps help`: every command is named in it (stop in start|stop|restart) */
	t = help_text(NULL, NULL);
	assert_true(!strncmp(t, "usage: vps [--socket PATH | --url http://HOST:PORT] COMMAND", 59));
	for (const struct command *c = commands; c->name; c++)
		assert_non_null(strstr(t, c->name));
	free(t);
}

/* ---- dispatch, on a table of our own ---- */

static const char *ran; /* the handler command_run() called, and its first positional */
static const char *ran_pos;

static int fake_run(struct args *a)
{
	ran = a->cmd;
	ran_pos = a->npos ? a->pos[0] : NULL;
	return 0;
}

static const struct pos one_name[] = { { .name = "NAME", .type = P_NAME }, { 0 } };
static const struct opt fmt[] = { { .name = "format", .type = V_FORMAT, .help = "x" }, { 0 } };
static const struct command subs[] = {
	{ "list", "ls", .opts = fmt, .run = fake_run },
	{ "delete", NULL, one_name, .run = fake_run },
	{ 0 },
};
static const struct command table[] = {
	{ "thing", NULL, .subs = subs, .overview = "thing list|delete\tthings" },
	{ "show", "info", one_name, .run = fake_run, .overview = "show NAME\tone" },
	{ 0 },
};

static int run_words(const char *first, ...)
{
	char *argv[16];
	int argc = 0, saved = dup(2), r;
	FILE *err = tmpfile();
	va_list ap;
	size_t n;

	argv[argc++] = (char *)first;
	va_start(ap, first);
	for (char *w; (w = va_arg(ap, char *)) && argc < 15;)
		argv[argc++] = w;
	va_end(ap);
	fflush(stderr);
	dup2(fileno(err), 2);
	ran = ran_pos = NULL;
	r = command_run(table, argc, argv);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(err);
	n = fread(err_text, 1, sizeof(err_text) - 1, err);
	err_text[n] = '\0';
	fclose(err);
	return r;
}

#define RUN(...) run_words(__VA_ARGS__, (char *)NULL)

static void dispatch(void **state)
{
	assert_int_equal(RUN("thing", "ls", "--format=json"), 0);
	assert_string_equal(ran, "thing list"); /* an alias runs as its command */
	assert_int_equal(RUN("info", "x1"), 0);
	assert_string_equal(ran, "show");
	assert_string_equal(ran_pos, "x1");
	assert_int_equal(RUN("thing", "delete", "x2"), 0);
	assert_string_equal(ran_pos, "x2");
	assert_usage(RUN("thing"), "missing list or delete", "thing");
	assert_usage(RUN("thing", "frob"), "unknown thing command `frob`", "thing");
	assert_usage(RUN("thing", "delete", "x", "--format", "json"),
		     "--format: only for `thing list`", "thing delete");
	assert_int_equal(RUN("frob"), EXIT_USAGE);
	assert_string_equal(err_text, "vps: error: unknown command `frob`\nTry `vps --help`.\n");
	assert_null(ran);
	/* --socket is taken before the command and after it */
	assert_int_equal(RUN("--socket", "/a.sock", "show", "x", "--socket=/b.sock"), 0);
	assert_string_equal(cli_target.socket, "/b.sock");
	assert_usage(RUN("--url", "ftp://x", "show", "x"),
		     "--url: `ftp://x` is not http://HOST:PORT", "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unknown_option),
		cmocka_unit_test(missing_value),
		cmocka_unit_test(bad_values),
		cmocka_unit_test(value_forms),
		cmocka_unit_test(dashdash_ends_options),
		cmocka_unit_test(help_is_made_from_the_table),
		cmocka_unit_test(help_text_is_made_from_the_table),
		cmocka_unit_test(dispatch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
