/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `vps`, the command line client of vpsd's REST API (docs/vpsd.md). The
 * CLI holds no state and knows no policy: flags are checked for shape
 * (sizes parse, names are names) and turned into the JSON body the API
 * takes; the daemon decides everything else. This header is shared by
 * its files:
 *   args.c     the flag parser and the value checks that build the body
 *   api.c      HTTP over vpsd's unix socket (or TCP) with libcurl
 *   out.c      tables, `key: value` views, human-readable sizes
 *   vps.c      main, the command table, the VPS lifecycle commands
 *   attach.c   console and exec
 *   admin.c    host, policies, events, templates, plans
 *   net.c      networks
 *   users.c    users, tokens, audit, operations, root passwords
 * Exit status: 0 done, 1 the operation failed (the server's message is
 * printed), 2 bad usage; `vps exec` exits with the command's status.
 */
#ifndef VPS_CLI_CLI_H
#define VPS_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>

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

/* ---- args.c ---- */

struct flag {
	const char *name; /* without the dashes: "ram"; one letter: a short flag (-n) */
	bool value; /* takes a value (--ram 1G or --ram=1G) */
};

/* Walks one command's arguments. */
struct argp {
	const char *cmd; /* "create", "plan create": for messages */
	int argc, i;
	char **argv;
	bool dashdash; /* seen `--`: the rest are positional */
	bool stop_at_pos; /* the first positional ends the flags (exec) */
};

enum { ARGP_END, ARGP_FLAG, ARGP_POS, ARGP_HELP, ARGP_ERR };

void argp_init(struct argp *p, const char *cmd, int argc, char **argv);
/*
 * The next argument: ARGP_FLAG (*name, *val for flags that take one),
 * ARGP_POS (*val), ARGP_HELP (--help or -h), ARGP_END, or ARGP_ERR after
 * printing a usage error. --socket and --url are taken here for every
 * command.
 */
int argp_next(struct argp *p, const struct flag *flags, const char **name, const char **val);
/* Everything after the current argument (exec's command). */
char **argp_rest(struct argp *p, int *n);

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

/*
 * A setting the body can carry, shared by create, set and plan create:
 * its flag (--io), its key in `vps set` (io) and its JSON field (io_weight).
 */
enum field_type { F_SIZE, F_CPUS, F_IO, F_PIDS, F_BOOL, F_HOSTNAME, F_TEXT };

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

/* ---- the commands ---- */

int cmd_console(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_host(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_net(int argc, char **argv); /* net.c */
int cmd_user(int argc, char **argv); /* users.c */
int cmd_token(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_op(int argc, char **argv);
int cmd_passwd(int argc, char **argv);

#endif
