/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `vps`, the command line client of vpsd's REST API (docs/vpsd.md). The
 * CLI holds no state and knows no policy: flags are checked for shape
 * (sizes parse, names are names) and turned into the JSON body the API
 * takes; the daemon decides everything else. This header is shared by
 * its files:
 *   main.c     main: $VPS_SOCKET, then the command line to the table
 *   commands.c the command table: commands, positionals, options, handlers
 *   args.c     the one parser of the table, and the value checks that build the body
 *   help.c     `vps help` and `vps CMD --help`, made from the table
 *   api.c      HTTP over vpsd's unix socket (or TCP) with libcurl
 *   out.c      tables, `key: value` views, human-readable sizes
 *   vps.c      the VPS lifecycle commands
 *   attach.c   console and exec
 *   admin.c    host, policies, events, templates, plans
 *   net.c      networks
 *   nodes.c    cluster nodes and join tokens
 *   users.c    users, tokens, audit, operations, root passwords
 * Exit status: 0 done, 1 the operation failed (the server's message is
 * printed), 2 bad usage; `vps exec` exits with the command's status.
 */
#ifndef VPS_CLI_CLI_H
#define VPS_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "common/err.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

#define DEFAULT_SOCKET "/run/vps/vpsd.sock"

/* Where vpsd is: --socket / $VPS_SOCKET, or --url for TCP. */
struct cli_target {
	const char *socket;
	const char *url; /* http://HOST:PORT; NULL: the unix socket */
};

extern struct cli_target cli_target;

/* ---- args.c: the command table's shape and its one parser ---- */

/* What an option's value must be; the parser checks it and names the option if not. */
enum val_type {
	V_FLAG, /* no value: --force */
	V_STR, /* any string: the handler judges it */
	V_INT, /* a whole number from min to max: "-n: `x` is not a number (1 to 100000)" */
	V_CHOICE, /* one of choices[]: "--kind: `lxc` is not ct or vm" */
	V_FORMAT, /* table|json (text is table): sets args.json */
	V_FIELD, /* a setting of the body (fields[] by the option's name): into args.body */
	V_VPS, /* a VPS name: "--vps: `NO` is not a VPS name" */
};

struct opt {
	const char *name; /* long name without the dashes, or NULL: short only (-n) */
	char short_name; /* -n, or 0 */
	enum val_type type;
	const char *meta; /* the value in help: SIZE (choices and formats make their own) */
	const char *help; /* one line in `vps CMD --help`; NULL: taken but not shown */
	const char *const *choices; /* V_CHOICE, NULL-terminated */
	long min, max; /* V_INT */
	const char *what; /* V_INT: "a number of seconds" */
	bool required; /* "--kind: required (ct or vm)" when absent */
	bool repeat; /* meant to be given again for more (--ssh-key): help says so */
	const char *hint; /* required: what to give, when there are no choices */
	/* "OPT=VALUE": taken only with that value of OPT ("--engine: only for --kind vm") */
	const char *only_with;
};

/* What a positional argument must be. */
enum pos_type {
	P_NAME, /* a VPS or plan name (name_ok) */
	P_USER, /* a user name */
	P_ID, /* a token's or an operation's id */
	P_REAL, /* a number: "RATIO: `lots` is not a number" */
	P_ANY, /* the handler judges it */
	P_NODE, /* a cluster node's name: a host name (1-63 of a-z, A-Z, 0-9, ., _, -) */
};

struct pos {
	const char *name; /* NAME, ID, KEY=VALUE: in help and in "missing NAME" */
	enum pos_type type;
	bool optional; /* [RATIO] */
	bool many; /* NAME...: the last one only */
	bool rest; /* exec's CMD: it and all after it, flags or not, are the handler's */
};

struct args;

/*
 * A command: its word, its positionals and options, and its handler; or,
 * with subs, a command of commands (`vps plan create`). The table is in
 * commands.c; `vps help` and `vps CMD --help` are made from it (help.c).
 */
struct command {
	const char *name, *alias; /* alias: ls for list, or NULL */
	const struct pos *pos; /* ends at a NULL name; NULL: none */
	const struct opt *opts; /* ends at a NULL name and short_name; NULL: none */
	const struct command *subs; /* ends at a NULL name; NULL: a plain command */
	int (*run)(struct args *a); /* returns the exit status */
	const char *section; /* `vps help`: starts this section (VPSes:) */
	const char *overview; /* `vps help`: lines of `LEFT\tRIGHT`; NULL for a sub */
	const char *help; /* `vps CMD --help`: the prose after the usage lines */
};

extern const struct command commands[]; /* commands.c */

#define ARGS_MAX 64 /* positionals and options in one command line */

/* One option as given, in order: `--ram 1G` is { ram's opt, "1G" }. */
struct given {
	const struct opt *opt;
	const char *val; /* NULL for a flag */
};

/* What args_parse() found, for the handler to read. */
struct args {
	char cmd[32]; /* "plan create": for messages */
	const struct command *c;
	const char *pos[ARGS_MAX]; /* checked for their pos_type */
	int npos;
	char **rest; /* the rest positional and all after it (exec's command) */
	int nrest;
	struct given given[ARGS_MAX];
	int ngiven;
	bool json; /* --format json */
	json_t *body; /* V_FIELD values under their JSON keys; NULL when none */
};

/*
 * Parse one command's arguments (those after its word) against c's table
 * (parent: the command c is a subcommand of, or NULL):
 * options anywhere (--opt=V, --opt V, -n V, -nV), `--` ends them,
 * --socket and --url taken for every command, --help and -h print c's help.
 * Values and positionals are checked by type; missing positionals and
 * required options are errors. Returns 0 (a filled; args_free it), -1 after
 * printing the help, or EXIT_USAGE after printing the error. With subs, the
 * first positional and all after it are left in rest.
 */
int args_parse(const struct command *c, const struct command *parent, const char *cmd, int argc,
	       char **argv, struct args *a);
void args_free(struct args *a);
/* The last value given for the option `name` (long name, or the short letter), or NULL. */
const char *args_get(const struct args *a, const char *name);
bool args_has(const struct args *a, const char *name);
/* A V_INT option's value, or def when it was not given. */
long args_num(const struct args *a, const char *name, long def);
/* "--ram" or "-n": how messages name an option. */
const char *opt_label(const struct opt *o, char *buf, size_t len);
/*
 * `vps ARGS...` (argv without the program): --socket and --url, then the
 * command's word (and a subcommand's), its arguments parsed and its handler
 * run. `vps help [CMD [SUB]]` prints the help. Returns the exit status.
 */
int command_run(const struct command *table, int argc, char **argv);
/* The command named word in table (by name or alias), or NULL. */
const struct command *command_find(const struct command *table, const char *word);

/* ---- help.c ---- */

/* `vps help`: the overview of every command, by section. */
void help_main(FILE *f, const struct command *table);
/* `vps --complete WORD...`: the words that may follow WORDs (complete.c) */
int complete_main(const struct command *table, int argc, char **argv);
/* `vps CMD --help`: usage lines, prose, options; cmd is "plan" or "plan create". */
void help_command(FILE *f, const struct command *c, const char *cmd, const struct command *parent);

/* Print `vps: error: ...` and a pointer to --help; returns EXIT_USAGE. */
int usage_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print `vps: error: ...`; returns EXIT_FAIL. */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the err's message as fail() does and free it. */
int fail_err(struct err **err);

/* A VPS (or plan) name: 1-32 of a-z 0-9 -, not starting with -. */
bool name_ok(const char *s);
/* Check a positional NAME, usage error naming `what` if bad or missing. */
int check_name(const char *cmd, const char *what, const char *s);
/* A user name: 1-32 of a-z 0-9 _ . -, starting with a letter; what is NAME or --user. */
int check_user(const char *cmd, const char *what, const char *s);

/*
 * A setting the body can carry, shared by create, set and plan create:
 * its flag (--io), its key in `vps set` (io) and its JSON field (io_weight).
 */
enum field_type {
	F_SIZE,
	F_CPUS,
	F_IO,
	F_PIDS,
	F_IOPS,
	F_FEATURES,
	F_BOOL,
	F_HOSTNAME,
	F_TEXT,
	F_ISO
};

struct field {
	const char *flag; /* flag and `set` key */
	const char *key; /* JSON field */
	enum field_type type;
};

extern const struct field fields[];
const struct field *field_find(const char *flag);
/*
 * Check `val` for f and put it in body under f->key. `label` names it in
 * the error (`--ram` or `ram`). Returns 0 or a usage error's EXIT_USAGE.
 */
int field_put(const char *cmd, const char *label, const struct field *f, const char *val,
	      json_t *body);

/* ---- api.c ---- */

/*
 * One request: method, path under /api/v1 ("/vps/web1"), an optional
 * JSON body (not consumed). On 2xx *reply is the parsed body (NULL when
 * empty) and 0 is returned. A server error fills err with its message;
 * a transport failure with what failed.
 */
int api(const char *method, const char *path, json_t *body, json_t **reply, struct err **err);
/*
 * POST path?async=1 and wait for the operation (backup.c): its percentage
 * and phase on stderr, ^C asks it to stop; its result in *result. 0, or 1
 * with the reason printed.
 */
int run_op(const char *path, json_t *body, const char *what, json_t **result);
/* PUT a file's bytes to path (a template import); the reply as api()'s. */
int api_upload(const char *path, const char *file, json_t **reply, struct err **err);
/*
 * A session (`vps login`): while cookie is set, requests over --url send it
 * and its CSRF token instead of $VPS_TOKEN; a login's Set-Cookie sets it.
 */
void api_session(const char *cookie, const char *csrf);
const char *api_session_cookie(void);
/* The `code` of the last error reply ("totp_required"), "" for none. */
const char *api_last_code(void);
/* DELETE /collection/name and print `done name` ("deleted plan p1"); the exit status. */
int api_delete(const char *collection, const char *name, const char *done);
/*
 * GET path and print the reply: as JSON with json; else its list as a table
 * of cols, or, with cols NULL, the object with the keys in order first.
 */
int api_show(const char *path, bool json, const char *const *cols, const char *const *order);

/* ---- out.c ---- */

/* 536870912 -> "512M"; 1610612736 -> "1.5G". */
void human_size(uint64_t n, char *buf, size_t len);
/* A JSON value as a table cell or `key: value` text (sizes made human for size keys). */
void cell_text(const char *key, json_t *v, char *buf, size_t len);
/* A list reply: the array itself, or the first array member of an object. */
json_t *as_list(json_t *reply);
/* Rows of objects as a table: columns are JSON keys, headers upper-cased. */
void print_table(json_t *rows, const char *const *cols);
/* An object as `key: value` lines, nested objects indented; nulls left out. */
void print_object(json_t *obj, int indent);
/* The same with numbers as sizes when size_parent is set (children of `memory:`). */
void print_object_in(json_t *obj, int indent, const char *size_parent);
/* Top level, the keys in `first` before the others. */
void print_object_ordered(json_t *obj, const char *const *first);
/* Pretty JSON on stdout. */
void print_json(json_t *j);
/* --format's value: 0 table, 1 json, or a usage error (EXIT_USAGE). */
int parse_format(const char *cmd, const char *val, bool *json);

/* ---- the handlers, named in commands.c's table ---- */

int cmd_create(struct args *a); /* vps.c */
int cmd_list(struct args *a);
int cmd_show(struct args *a);
int cmd_lifecycle(struct args *a); /* start, stop, restart, destroy, suspend, unsuspend */
int cmd_reinstall(struct args *a);
int cmd_set(struct args *a);
int cmd_console(struct args *a); /* attach.c */
int cmd_exec(struct args *a);
int cmd_host(struct args *a); /* admin.c */
int cmd_policy_list(struct args *a);
int cmd_policy_set(struct args *a);
int cmd_settings_show(struct args *a);
int cmd_settings_set(struct args *a);
int cmd_events(struct args *a);
int cmd_template_list(struct args *a);
int cmd_template_show(struct args *a);
int cmd_template_build(struct args *a);
int cmd_template_import(struct args *a);
int cmd_template_create(struct args *a);
int cmd_template_rm(struct args *a);
int cmd_plan_list(struct args *a);
int cmd_plan_show(struct args *a);
int cmd_plan_create(struct args *a);
int cmd_plan_delete(struct args *a);
int cmd_net_list(struct args *a); /* net.c */
int cmd_net_create(struct args *a);
int cmd_net_delete(struct args *a);
int cmd_node_list(struct args *a); /* nodes.c */
int cmd_node_token(struct args *a);
int cmd_node_add(struct args *a);
int cmd_node_show(struct args *a);
int cmd_node_rm(struct args *a);
int cmd_migrate(struct args *a);
int cmd_node_evacuate(struct args *a);
int cmd_node_restore(struct args *a);
int cmd_pool_list(struct args *a); /* storage.c */
int cmd_pool_add(struct args *a);
int cmd_pool_rm(struct args *a);
int cmd_webhook_list(struct args *a); /* hooks.c */
int cmd_webhook_add(struct args *a);
int cmd_webhook_rm(struct args *a);
int cmd_snapshot_list(struct args *a);
int cmd_traffic(struct args *a);
int cmd_fw_list(struct args *a);
int cmd_fw_add(struct args *a);
int cmd_fw_rm(struct args *a);
int cmd_fw_policy(struct args *a);
int cmd_snapshot_create(struct args *a);
int cmd_snapshot_revert(struct args *a);
int cmd_snapshot_rm(struct args *a);
int cmd_repo_list(struct args *a); /* backup.c */
int cmd_repo_add(struct args *a);
int cmd_repo_rm(struct args *a);
int cmd_backup_create(struct args *a);
int cmd_backup_list(struct args *a);
int cmd_backup_restore(struct args *a);
int cmd_clone(struct args *a);
int cmd_backup_rm(struct args *a);
int cmd_backup_schedule(struct args *a);
int cmd_user_list(struct args *a); /* users.c */
int cmd_user_add(struct args *a);
int cmd_user_passwd(struct args *a);
int cmd_user_rm(struct args *a);
int cmd_user_set(struct args *a);
int cmd_login(struct args *a); /* login.c */
int cmd_2fa_enable(struct args *a);
int cmd_2fa_disable(struct args *a);
/* users.c's prompts, shared with login.c */
char *read_line(void);
char *prompt_line(const char *prompt);
void free_secret(char *s);
int cmd_token_list(struct args *a);
int cmd_token_create(struct args *a);
int cmd_token_rm(struct args *a);
int cmd_audit(struct args *a);
int cmd_op(struct args *a);
int cmd_passwd(struct args *a);
int cmd_rescue(struct args *a); /* rescue NAME on|off */

#endif
