// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The command table: every command and subcommand of `vps`, its positional
 * arguments, its options (name, short form, value type, help) and its
 * handler. args.c parses a command line against it and hands the handler a
 * filled struct args; help.c makes `vps help` and `vps CMD --help` from it.
 * A new option is one line here and one args_get() in its handler.
 */
#include <stddef.h>

#include "cli/cli.h"

/*
 * clang-format 14 spreads a brace initializer in a macro over four lines and
 * each field of a long one over its own: the table reads best as written.
 */
/* clang-format off */

/* One option a line: FLAG(name, help), STR(name, META, help) and so on (cli.h's enum val_type). */
#define FLAG(n, h) { .name = n, .type = V_FLAG, .help = h }
#define STR(n, m, h) { .name = n, .type = V_STR, .meta = m, .help = h }
#define FIELD(n, m, h) { .name = n, .type = V_FIELD, .meta = m, .help = h }
#define CHOICE(n, c, h) { .name = n, .type = V_CHOICE, .choices = c, .help = h }
#define FORMAT { .name = "format", .type = V_FORMAT, .help = "print a table (the default) or JSON" }
#define MANY(n, m, h) { .name = n, .type = V_STR, .meta = m, .help = h, .repeat = true }
#define END { 0 }

/* Options more than one command takes. */
#define LIMITS                                                                                 \
	FIELD("ram", "SIZE", "memory (512M, 2G)"), FIELD("swap", "SIZE", "swap on top of --ram"), \
		FIELD("cpus", "N", "CPUs, may be fractional (1.5)"),                           \
		FIELD("disk", "SIZE", "disk size"), FIELD("io", "W", "IO weight, 10 to 1000"),   \
		FIELD("bw", "SIZE", "network bandwidth in bits per second (100M)"),              \
		FIELD("pids", "N", "a container's processes at most (16 to 4194304)"),         \
		FIELD("read-bps", "SIZE", "a container's disk reads, bytes per second (20M)"),  \
		FIELD("write-bps", "SIZE", "a container's disk writes, bytes per second"),      \
		FIELD("read-iops", "N", "a container's disk reads, operations per second"),     \
		FIELD("write-iops", "N", "a container's disk writes, operations per second"),   \
		FIELD("features", "LIST", "a container's switches: tun,fuse,nesting (off without)")
#define PASSWORD                                                        \
	STR("password", "P", "root's password (`ps` shows it)"),        \
		STR("password-file", "FILE", "root's password: the first line of FILE")
#define SSH_KEY MANY("ssh-key", "KEY", "a line of root's authorized_keys")
#define USER_DATA STR("user-data", "FILE", "vm: FILE as cloud-init user-data beside the host's")
#define PASSWORD_STDIN FLAG("password-stdin", "the first line of stdin, even on a terminal")

static const char *const kinds[] = { "ct", "vm", NULL };
static const char *const engines[] = { "vmm", "qemu", NULL };
static const char *const boots[] = { "linux", "firmware", "uefi", NULL };
static const char *const roles[] = { "admin", "customer", NULL };

static const struct pos p_name[] = { { .name = "NAME", .type = P_NAME }, END };
static const struct pos p_node[] = { { .name = "NAME", .type = P_NODE }, END };
static const struct pos p_names[] = { { .name = "NAME", .type = P_NAME, .many = true }, END };
static const struct pos p_rescue[] = { { .name = "NAME", .type = P_NAME },
				       { .name = "on|off", .type = P_ANY },
				       END };
static const struct pos p_user[] = { { .name = "NAME", .type = P_USER }, END };
static const struct pos p_id[] = { { .name = "ID", .type = P_ID }, END };
static const struct opt o_format[] = { FORMAT, END };
/* Taken, as it always was, where the reply is one line: scripts pass it everywhere. */
static const struct opt o_format_ignored[] = { { .name = "format", .type = V_FORMAT }, END };

/* ---- VPSes ---- */

static const struct opt o_create[] = {
	{ .name = "kind", .type = V_CHOICE, .choices = kinds, .required = true,
	  .help = "a container (ct) or a virtual machine (vm)" },
	STR("template", "T", "the template of its disk"),
	STR("plan", "P", "the limits of plan P"),
	LIMITS,
	/* the API's names: the server refuses them for a ct too; this says so without asking */
	{ .name = "engine", .type = V_CHOICE, .choices = engines, .help = "vm: the monitor",
	  .only_with = "kind=vm" },
	{ .name = "boot", .type = V_CHOICE, .choices = boots,
	  .help = "vm: a kernel, firmware (SeaBIOS) or uefi (OVMF, qemu)",
	  .only_with = "kind=vm" },
	{ .name = "iso", .type = V_STR, .meta = "NAME", .help = "vm: an uploaded ISO",
	  .only_with = "kind=vm" },
	FIELD("owner", "USER", "the user who owns it"),
	FIELD("hostname", "HOST", "its host name"),
	PASSWORD,
	SSH_KEY,
	FLAG("onboot", "start it when vpsd starts"),
	FLAG("start", "start it once made"),
	STR("network", "NET", "join network NET"),
	STR("ipv4", "ADDR", "its IPv4 address on NET"),
	STR("ipv6", "ADDR", "its IPv6 address on NET"),
	STR("node", "NODE", "cluster: place it on NODE (default: the roomiest)"),
	STR("pool", "POOL", "keep its disks in storage pool POOL"),
	USER_DATA,
	END,
};

static const struct opt o_stop[] = {
	FLAG("force", "kill it at once"),
	{ .name = "timeout", .type = V_INT, .meta = "SECONDS", .min = 1, .max = 3600,
	  .what = "a number of seconds", .help = "kill it after this long (default: vpsd's)" },
	END,
};

static const char *const fallbacks[] = { "restart", NULL };
static const struct opt o_migrate[] = {
	STR("to", "NODE", "the node to move it to"),
	FLAG("live", "keep a running container running (CRIU): refused where it cannot be"),
	CHOICE("fallback", fallbacks, "with --live: where it cannot be, move it by a restart"),
	FORMAT,
	END,
};
static const struct opt o_reinstall[] = {
	STR("template", "T", "another template"),
	PASSWORD,
	STR("hostname", "H", "a new host name"),
	SSH_KEY,
	USER_DATA,
	END,
};

static const struct pos p_set[] = {
	{ .name = "NAME", .type = P_NAME },
	{ .name = "KEY=VALUE", .type = P_ANY, .optional = true, .many = true },
	END,
};
static const struct opt o_set[] = { STR("plan", "P", "take plan P's limits"), END };

static const struct pos p_exec[] = {
	{ .name = "NAME", .type = P_NAME },
	{ .name = "CMD", .type = P_ANY, .rest = true },
	END,
};

/* ---- the host ---- */

static const struct pos p_policy_set[] = {
	{ .name = "RESOURCE", .type = P_ANY },
	{ .name = "MODE", .type = P_ANY },
	{ .name = "RATIO", .type = P_REAL, .optional = true },
	END,
};

static const struct command policy_subs[] = {
	{ "list", "ls", .opts = o_format, .run = cmd_policy_list },
	{ "set", NULL, p_policy_set, o_format, .run = cmd_policy_set },
	END,
};

static const struct pos p_settings_set[] = {
	{ .name = "KEY=VALUE", .type = P_ANY, .many = true },
	END,
};

static const struct command settings_subs[] = {
	{ "show", "list", .opts = o_format, .run = cmd_settings_show },
	{ "set", NULL, p_settings_set, o_format, .run = cmd_settings_set },
	END,
};

static const struct opt o_events[] = {
	{ .name = "vps", .type = V_VPS, .meta = "NAME", .help = "only NAME's events" },
	FLAG("follow", "wait for new events until interrupted"),
	FORMAT,
	END,
};

static const struct pos p_template[] = { { .name = "NAME", .type = P_ANY }, END };
static const struct pos p_template_file[] = { { .name = "NAME", .type = P_ANY },
					      { .name = "FILE", .type = P_ANY },
					      END };
static const char *const image_formats[] = { "raw", "qcow2", "tar", "oci", NULL };
static const struct opt o_template_import[] = {
	FORMAT,
	{ .name = "kind", .type = V_CHOICE, .choices = kinds,
	  .help = "ct: a rootfs tarball (default); vm: a disk image" },
	{ .name = "image-format", .type = V_CHOICE, .choices = image_formats,
	  .help = "vm: raw (default) or qcow2; ct: tar (default) or oci (a tar of an OCI "
		  "image layout; a directory FILE is one); never guessed" },
	STR("ref", "TAG", "oci: the manifest to import (default: the only one, else `latest`)"),
	END,
};

static const struct opt o_template_create[] = {
	FORMAT,
	{ .name = "from", .type = V_VPS, .meta = "VPS", .required = true,
	  .help = "the stopped VPS (VM or container) that becomes the new version" },
	END,
};

static const struct opt o_template_list[] = {
	FORMAT,
	STR("plan", "P", "only the templates plan P offers"),
	END,
};

static const struct command template_subs[] = {
	{ "list", "ls", .opts = o_template_list, .run = cmd_template_list },
	{ "show", NULL, p_template, o_format, .run = cmd_template_show },
	{ "build", NULL, p_template, o_format, .run = cmd_template_build },
	{ "import", NULL, p_template_file, o_template_import, .run = cmd_template_import },
	{ "create", NULL, p_template, o_template_create, .run = cmd_template_create },
	{ "rm", "delete", p_template, o_format_ignored, .run = cmd_template_rm },
	END,
};

static const char *const traffic_actions[] = { "throttle", "suspend", NULL };
static const struct opt o_plan_create[] = {
	LIMITS,
	STR("traffic", "SIZE", "traffic allowance a month, in and out (500G)"),
	CHOICE("traffic-action", traffic_actions, "once it is used (default throttle)"),
	STR("traffic-bw", "SIZE", "the throttle's rate, bits per second (10M)"),
	STR("pool", "POOL", "its VPSes keep their disks in storage pool POOL"),
	STR("templates", "T,T", "the templates it offers (default: every one)"),
	STR("backup-daily", "HH:MM", "back up its VPSes every day then (UTC, spread by 15 min)"),
	STR("backup-every", "SECONDS", "back up its VPSes every so many seconds"),
	STR("backup-repo", "REPO", "into that repository (needed with more than one)"),
	STR("backup-keep-last", "N", "retention: keep the last N"),
	STR("backup-keep-daily", "N", "retention: the newest of each of the last N days"),
	STR("backup-keep-weekly", "N", "retention: the newest of each of the last N weeks"),
	STR("backup-keep-monthly", "N", "retention: the newest of each of the last N months"),
	END,
};

static const struct command plan_subs[] = {
	{ "list", "ls", .opts = o_format, .run = cmd_plan_list },
	{ "show", NULL, p_name, o_format, .run = cmd_plan_show },
	{ "create", NULL, p_name, o_plan_create, .run = cmd_plan_create },
	{ "delete", NULL, p_name, o_format_ignored, .run = cmd_plan_delete },
	END,
};

static const struct opt o_net_create[] = {
	FORMAT,
	STR("ipv4", "GW/LEN", "the gateway and IPv4 pool"),
	STR("ipv6", "GW/LEN", "the gateway and IPv6 pool"),
	STR("bridge", "IF", "the bridge's name"),
	FLAG("no-nat", "no NAT for outbound"),
	STR("vlan", "ID", "802.1Q id (1-4094): the network's frames leave --parent tagged"),
	STR("parent", "IF", "the host device a VLAN network's tagged frames leave by"),
	END,
};

static const struct opt o_node_token[] = {
	FORMAT,
	STR("ttl", "SECONDS", "how long the token is good for (default 3600)"),
	STR("for", "NAME", "only a node of that name may join with it"),
	END,
};

static const struct opt o_node_add[] = {
	FORMAT,
	STR("ttl", "SECONDS", "how long the token is good for (default 3600)"),
	END,
};

static const struct opt o_node_rm[] = {
	{ .name = "format", .type = V_FORMAT },
	FLAG("force", "even while its heartbeat is fresh (a VPS on it still refuses)"),
	END,
};

static const struct command node_subs[] = {
	{ "list", "ls", .opts = o_format, .run = cmd_node_list },
	{ "show", NULL, p_node, o_format, .run = cmd_node_show },
	{ "token", NULL, .opts = o_node_token, .run = cmd_node_token },
	{ "add", NULL, p_node, o_node_add, .run = cmd_node_add },
	{ "rm", "remove", p_node, o_node_rm, .run = cmd_node_rm },
	{ "evacuate", NULL, p_node, o_format, .run = cmd_node_evacuate },
	{ "restore", NULL, p_node, o_format_ignored, .run = cmd_node_restore },
	END,
};

static const struct command net_subs[] = {
	{ "list", "ls", .opts = o_format, .run = cmd_net_list },
	{ "create", NULL, p_name, o_net_create, .run = cmd_net_create },
	{ "delete", NULL, p_name, o_format_ignored, .run = cmd_net_delete },
	END,
};

/* ---- storage ---- */

static const struct pos p_pool_add[] = {
	{ .name = "NAME", .type = P_NAME },
	{ .name = "PATH", .type = P_ANY },
	END,
};

static const struct command pool_subs[] = {
	{ "list", "ls", .opts = o_format, .run = cmd_pool_list },
	{ "add", NULL, p_pool_add, o_format_ignored, .run = cmd_pool_add },
	{ "rm", "delete", p_name, o_format_ignored, .run = cmd_pool_rm },
	END,
};

static const struct pos p_url[] = { { .name = "URL", .type = P_ANY }, END };

static const struct opt o_webhook_add[] = {
	FORMAT,
	STR("events", "KINDS", "event kinds joined by commas (default: all)"),
	STR("secret", "SECRET", "the signing secret (default: made up and printed)"),
	END,
};

static const struct command webhook_subs[] = {
	{ "list", "ls", .opts = o_format, .run = cmd_webhook_list },
	{ "add", NULL, p_url, o_webhook_add, .run = cmd_webhook_add },
	{ "rm", "delete", p_id, o_format_ignored, .run = cmd_webhook_rm },
	END,
};

static const struct pos p_snap[] = {
	{ .name = "NAME", .type = P_NAME },
	{ .name = "SNAP", .type = P_ANY },
	END,
};

static const struct opt o_snapshot_create[] = {
	{ .name = "format", .type = V_FORMAT },
	FLAG("memory", "a running vm/vmm's whole state too: a revert runs it on from there"),
	END,
};

static const struct command snapshot_subs[] = {
	{ "list", "ls", p_name, o_format, .run = cmd_snapshot_list },
	{ "create", NULL, p_snap, o_snapshot_create, .run = cmd_snapshot_create },
	{ "revert", NULL, p_snap, o_format_ignored, .run = cmd_snapshot_revert },
	{ "rm", "delete", p_snap, o_format_ignored, .run = cmd_snapshot_rm },
	END,
};

static const char *const fw_dirs[] = { "in", "out", NULL };
static const char *const fw_actions[] = { "accept", "drop", NULL };
static const char *const fw_protos[] = { "any", "tcp", "udp", "icmp", "icmpv6", NULL };
static const struct pos p_fw_rm[] = {
	{ .name = "NAME", .type = P_NAME },
	{ .name = "N", .type = P_ANY },
	END,
};
static const struct opt o_fw_add[] = {
	{ .name = "direction", .type = V_CHOICE, .choices = fw_dirs, .required = true,
	  .help = "packets to the VPS (in) or from it (out)" },
	{ .name = "action", .type = V_CHOICE, .choices = fw_actions, .required = true,
	  .help = "what to do with them" },
	CHOICE("proto", fw_protos, "the protocol (default any)"),
	STR("port", "P", "tcp or udp: the destination port, or a range 8000-8100"),
	STR("source", "CIDR", "from this address or prefix"),
	STR("destination", "CIDR", "to this address or prefix"),
	STR("comment", "TEXT", "a note (letters, digits, space, _.,:/+-)"),
	{ .name = "position", .type = V_INT, .meta = "N", .min = 1, .max = 64,
	  .what = "a rule number", .help = "insert before rule N (default: at the end)" },
	END,
};
static const struct opt o_fw_policy[] = {
	CHOICE("in", fw_actions, "what no rule decides, to the VPS"),
	CHOICE("out", fw_actions, "what no rule decides, from the VPS"),
	END,
};

static const struct command firewall_subs[] = {
	{ "list", "ls", p_name, o_format, .run = cmd_fw_list },
	{ "add", NULL, p_name, o_fw_add, .run = cmd_fw_add },
	{ "rm", "delete", p_fw_rm, o_format_ignored, .run = cmd_fw_rm },
	{ "policy", NULL, p_name, o_fw_policy, .run = cmd_fw_policy },
	END,
};

static const struct pos p_repo_add[] = {
	{ .name = "NAME", .type = P_NAME },
	{ .name = "URL", .type = P_ANY },
	END,
};

static const struct command repo_subs[] = {
	{ "list", "ls", .opts = o_format, .run = cmd_repo_list },
	{ "add", NULL, p_repo_add, o_format_ignored, .run = cmd_repo_add },
	{ "rm", "delete", p_name, o_format_ignored, .run = cmd_repo_rm },
	END,
};

static const struct pos p_backup_id[] = {
	{ .name = "NAME", .type = P_NAME },
	{ .name = "ID", .type = P_ANY },
	END,
};

static const struct opt o_backup_create[] = {
	STR("repo", "REPO", "the repository (needed when the host has more than one)"),
	FORMAT, END,
};

static const struct opt o_backup_restore[] = {
	STR("as", "NEW", "into a new VPS of that name, made stopped (NAME may be destroyed)"),
	{ .name = "format", .type = V_FORMAT }, END,
};

static const struct pos p_clone[] = {
	{ .name = "SRC", .type = P_NAME },
	{ .name = "NEW", .type = P_NAME },
	END,
};

static const struct opt o_clone[] = {
	STR("snapshot", "SNAP", "from that snapshot of SRC, not from SRC as it is now"),
	FORMAT, END,
};

static const struct opt o_backup_schedule[] = {
	STR("daily", "HH:MM", "every day at that time (UTC), spread by up to 15 minutes"),
	STR("every", "SECONDS", "every so many seconds (a customer: 3600 and up)"),
	STR("repo", "REPO", "the repository (needed when the host has more than one)"),
	STR("keep-last", "N", "retention: keep the last N"),
	STR("keep-daily", "N", "retention: keep the newest of each of the last N days"),
	STR("keep-weekly", "N", "retention: keep the newest of each of the last N weeks"),
	STR("keep-monthly", "N", "retention: keep the newest of each of the last N months"),
	FLAG("off", "remove the schedule"),
	FORMAT, END,
};

static const struct command backup_subs[] = {
	{ "list", "ls", p_name, o_format, .run = cmd_backup_list },
	{ "create", NULL, p_name, o_backup_create, .run = cmd_backup_create },
	{ "restore", NULL, p_backup_id, o_backup_restore, .run = cmd_backup_restore },
	{ "rm", "delete", p_backup_id, o_format_ignored, .run = cmd_backup_rm },
	{ "schedule", NULL, p_name, o_backup_schedule, .run = cmd_backup_schedule },
	END,
};

/* ---- access ---- */

static const struct opt o_user_add[] = {
	{ .name = "role", .type = V_CHOICE, .choices = roles, .required = true,
	  .help = "what the user may do" },
	PASSWORD_STDIN,
	END,
};
static const struct opt o_password_stdin[] = { PASSWORD_STDIN, END };

static const struct pos p_user_set[] = {
	{ .name = "NAME", .type = P_USER },
	{ .name = "KEY=VALUE", .type = P_ANY, .many = true },
	END,
};

static const struct command user_subs[] = {
	{ "list", "ls", .opts = o_format, .run = cmd_user_list },
	{ "add", NULL, p_user, o_user_add, .run = cmd_user_add },
	{ "passwd", NULL, p_user, o_password_stdin, .run = cmd_user_passwd },
	{ "rm", "delete", p_user, .run = cmd_user_rm },
	{ "set", NULL, p_user_set, .run = cmd_user_set },
	END,
};

static const struct opt o_login[] = {
	{ .name = "expires", .type = V_STR, .meta = "DURATION",
	  .help = "the token's lifetime (default 12h): 3600s, 12h, 30d" },
	END,
};

static const struct command tfa_subs[] = {
	{ "enable", NULL, .run = cmd_2fa_enable },
	{ "disable", NULL, .run = cmd_2fa_disable },
	END,
};

static const struct pos p_token_name[] = { { .name = "NAME", .type = P_ANY }, END };
static const struct opt o_token_create[] = {
	{ .name = "expires", .type = V_STR, .meta = "DURATION", .required = true,
	  .hint = "30d, 12h, 3600s", .help = "its lifetime: 3600s, 12h, 30d, 2w" },
	MANY("source", "CIDR", "addresses it is taken from"),
	STR("user", "USER", "whose token it is"),
	FORMAT,
	END,
};

static const struct command token_subs[] = {
	{ "list", "ls", .opts = o_format, .run = cmd_token_list },
	{ "create", NULL, p_token_name, o_token_create, .run = cmd_token_create },
	{ "rm", "delete", p_id, .run = cmd_token_rm },
	END,
};

static const char *const vps_states[] = { "creating", "stopped", "starting", "running",
					  "stopping", "reinstalling", "destroying", NULL };
static const struct opt o_list[] = {
	{ .name = "limit", .type = V_INT, .meta = "N", .min = 1, .max = 1000,
	  .help = "at most N VPSes (a page; the next one: --after the last name)" },
	{ .name = "after", .type = V_VPS, .meta = "NAME", .help = "only the VPSes after NAME" },
	{ .name = "owner", .type = V_STR, .meta = "USER", .help = "only USER's VPSes" },
	{ .name = "node", .type = V_STR, .meta = "NODE", .help = "only the VPSes on NODE" },
	{ .name = "state", .type = V_CHOICE, .choices = vps_states, .help = "only those in STATE" },
	FORMAT,
	END,
};

static const struct opt o_audit[] = {
	{ .short_name = 'n', .type = V_INT, .meta = "N", .min = 1, .max = 100000,
	  .help = "at most N entries" },
	FORMAT,
	END,
};

/* clang-format on */

/* ---- the table ---- */

const struct command commands[] = {
	{ "create", NULL, p_name, o_create, .run = cmd_create, .section = "VPSes:",
	  .overview = "create NAME --kind ct|vm ...\tmake a VPS (see `vps create --help`)",
	  .help = "Sizes take K, M, G, T (binary): 512M, 10G. --cpus may be fractional (1.5);\n"
		  "--io is a weight from 10 to 1000; --bw is bits per second (100M); --pids is a\n"
		  "container's processes at most (16 to 4194304; the host's default without it).\n"
		  "--read-bps, --write-bps (bytes/s) and --read-iops, --write-iops limit a\n"
		  "container's disk; --features turns on its switches: tun, fuse, nesting\n"
		  "(docs/containers.md says what each opens).\n"
		  "--plan cannot be combined with --ram, --swap, --cpus, --disk, --io, --bw,\n"
		  "--pids, the IO limits or --features.\n"
		  "--engine, --boot and --iso are for vm only; --iso names an uploaded ISO\n"
		  "(PUT /api/v1/isos/NAME), never a path. --password-file reads the first\n"
		  "line of FILE (--password shows the password to `ps`). --ssh-key adds a line\n"
		  "to root's authorized_keys; repeat it for more. --network joins a network\n"
		  "(`vps net`): the next free addresses, or the ones given. --user-data gives\n"
		  "a VM cloud-init user-data of your own (64 KiB at most; its first line says\n"
		  "what it is: #cloud-config, #!/bin/sh ...), applied after the host's.\n" },
	{ "list", "ls", .opts = o_list, .run = cmd_list,
	  .overview = "list [--limit N] [--after NAME] [--owner USER] [--node NODE]\n"
		      "     [--state S] [--format table|json]\tall VPSes, or a page of them" },
	{ "show", "info", p_name, o_format, .run = cmd_show,
	  .overview = "show NAME [--format json]\tone VPS, with its live state and figures" },
	{ "start", NULL, p_names, .run = cmd_lifecycle,
	  .overview = "start|stop|restart NAME...\trun, stop (graceful, then forced), restart" },
	{ "stop", NULL, p_names, o_stop, .run = cmd_lifecycle,
	  .help = "Asks the guest to power off; after the timeout (default: the daemon's) it is\n"
		  "killed. --force kills it at once.\n" },
	{ "restart", NULL, p_names, .run = cmd_lifecycle },
	{ "destroy", "delete", p_names, .run = cmd_lifecycle,
	  .overview = "destroy NAME...\tstop and remove, disks included (no prompt)",
	  .help = "Stops the VPS if it runs and removes it with its disks. It does not ask.\n" },
	{ "reinstall", NULL, p_name, o_reinstall, .run = cmd_reinstall,
	  .overview =
		  "reinstall NAME [--template T]\ta fresh disk from a template; new password, keys",
	  .help = "A fresh disk from the template (its own, or T); the VPS keeps its name, plan,\n"
		  "owner and addresses. Everything on the old disk is lost.\n" },
	{ "migrate", NULL, p_name, o_migrate, .run = cmd_migrate,
	  .overview = "migrate NAME --to NODE [--live]\tmove it to another node of the cluster",
	  .help = "A stopped VPS moves its disks (compressed, checksummed) and its record; a\n"
		  "running container stops, moves and starts there (the downtime is printed).\n"
		  "Its percentage and phase show on stderr; ^C cancels it until the last bytes\n"
		  "go (the VPS stays where it was, as it was). --live asks that a running\n"
		  "container keep running through the move (CRIU); where it cannot (docs/\n"
		  "cluster.md: not on this kernel) it is refused and the container left as it\n"
		  "was, or with --fallback restart moved by a restart, the reason printed.\n" },
	{ "set", NULL, p_set, o_set, .run = cmd_set,
	  .overview =
		  "set NAME KEY=VALUE...\tchange ram, swap, cpus, disk, io, bw, pids, read-bps,\n"
		  "\twrite-bps, read-iops, write-iops, features, hostname, owner, onboot,\n"
		  "\tiso: stored, and live where it can be\n"
		  "set NAME --plan P\ttake plan P's limits",
	  .help = "Keys: ram, swap, disk, bw (sizes: 512M, 2G), cpus (1.5), io (10 to 1000),\n"
		  "pids (16 to 4194304, 0 for the host's default), read-bps, write-bps (bytes/s\n"
		  "on a container's disk, 0 for none), read-iops, write-iops (operations/s),\n"
		  "features (a container's switches: tun, fuse, nesting joined by commas;\n"
		  "`features=` turns them all off; they apply from its next start), hostname,\n"
		  "owner, onboot (true|false), iso (a VM's CD drive: an uploaded ISO's name,\n"
		  "or none to eject it). Always stored; applied to a running VPS\n"
		  "where its kind can, and the rest at its next start (the reply says which).\n"
		  "--plan moves the VPS to plan P: it takes the plan's limits, if the host has\n"
		  "room for them; it cannot be combined with KEY=VALUE.\n" },
	{ "suspend", NULL, p_names, .run = cmd_lifecycle,
	  .overview =
		  "suspend|unsuspend NAME...\tstop it and keep its owner from starting it; undo",
	  .help = "Stops the VPS; its owner can no longer start it until `vps unsuspend`.\n" },
	{ "unsuspend", NULL, p_names, .run = cmd_lifecycle },
	{ "passwd", NULL, p_name, o_password_stdin, .run = cmd_passwd,
	  .overview = "passwd NAME\troot's password (read from standard input)",
	  .help = "Sets the root password of the VPS: a running ct through the container, a\n"
		  "stopped VPS on its disk. The password is read from standard input: typed\n"
		  "twice without echo on a terminal, else its first line.\n" },
	{ "rescue", NULL, p_rescue, .run = cmd_rescue,
	  .overview = "rescue NAME on|off\tboot a rescue system with the VPS's disk in it",
	  .help = "on: a VM boots a Debian 12 rescue system (a fresh copy of the debian-12\n"
		  "template's disk, /dev/vda) with its own disk as the second drive (/dev/vdb,\n"
		  "not mounted), on the same console, network, password and keys. A container\n"
		  "boots a fresh busybox rescue container with its own root at /mnt, on the same\n"
		  "console and network (`vps exec`; `vps passwd` sets the rescue system's\n"
		  "password). A running VPS restarts into it. off: the rescue system is thrown\n"
		  "away and the VPS boots its own disk again.\n" },
	{ "console", NULL, p_name, .run = cmd_console,
	  .overview = "console NAME\tattach to the console (Ctrl-] detaches)",
	  .help = "Attaches to the VPS's console: what it printed lately is shown first, then\n"
		  "everything as it comes. Ctrl-] detaches; the VPS keeps running. With stdin\n"
		  "not a terminal, its bytes are sent and the console is left once stdin has\n"
		  "ended and the VPS has been quiet for a second.\n" },
	{ "exec", NULL, p_exec, .run = cmd_exec,
	  .overview = "exec NAME -- CMD [ARG...]\trun a command inside a ct; exits with its status",
	  .help = "Runs CMD inside the VPS (kind ct) as root and prints its output; the exit\n"
		  "status is the command's. Use -- before a command that has flags of its own.\n" },
	{ "snapshot", NULL, .subs = snapshot_subs,
	  .overview = "snapshot create|list|revert|rm\tevery disk of a VPS at one moment",
	  .help = "A snapshot holds every disk of the VPS and its settings at one moment; a\n"
		  "running container is frozen, a running QEMU VM stopped, for the copy, and runs\n"
		  "on. On a reflink pool it is instant, elsewhere a full copy (`vps pool list`).\n"
		  "revert stops a running VPS, puts its disks back as the snapshot has them and\n"
		  "starts it again; what was written since is lost. create --memory (a running\n"
		  "vm on vmm) saves its RAM, CPUs and devices too, at the instant of the disks'\n"
		  "copy: its revert runs the VM on from there instead of booting it.\n"
		  "SNAP: 1-64 of A-Z, a-z,\n"
		  "0-9, ., _ and -, starting with a letter or digit.\n" },
	{ "firewall", NULL, .subs = firewall_subs,
	  .overview = "firewall list|add|rm|policy\tthe VPS's own firewall, on the host",
	  .help = "Rules for the packets to (in) and from (out) the VPS, first match wins, and\n"
		  "a default policy each way (accept unless set). They live on the host, so\n"
		  "the VPS's root cannot remove them; replies to its own connections always\n"
		  "pass. At most 64 rules. rm takes the rule's number from `firewall list`.\n" },
	{ "traffic", NULL, p_name, o_format, .run = cmd_traffic,
	  .overview = "traffic NAME\tbytes in and out this month and each month before",
	  .help = "The bytes the VPS received (rx) and sent (tx) on its network, by calendar\n"
		  "month (UTC), and its plan's monthly allowance: once rx + tx passes it, the\n"
		  "VPS is throttled to the plan's rate or suspended until the month ends.\n" },
	{ "backup", NULL, .subs = backup_subs,
	  .overview = "backup create|list|restore|rm|schedule\ta VPS's backups (restic)",
	  .help = "A backup holds every disk of the VPS and its settings, taken from a snapshot's\n"
		  "copy (a running VPS runs on) and sent by restic: encrypted, and after the\n"
		  "first only changed chunks are added. create and restore show their progress.\n"
		  "restore stops a running VPS, puts its disks back and starts it again; with\n"
		  "--as NEW it makes a new VPS from the backup instead, stopped, with an identity\n"
		  "of its own (name, hostname, MAC, addresses; a container's machine-id and SSH\n"
		  "host keys made at its first boot), also after NAME was destroyed.\n"
		  "ID: the id `vps backup list` shows (8 to 64 of 0-9 a-f). schedule: vpsd backs\n"
		  "the VPS up on its own and forgets what the --keep-* rules do not keep\n"
		  "(restic forget --prune); without --daily or --every it shows the schedule.\n" },
	{ "clone", NULL, p_clone, o_clone, .run = cmd_clone,
	  .overview =
		  "clone SRC NEW [--snapshot SNAP]\ta new VPS from SRC's disks, its own identity",
	  .help = "Makes NEW, stopped, from SRC's disks as they are now (a running SRC is frozen\n"
		  "for the copy, as for a snapshot, and runs on) or as snapshot SNAP holds them.\n"
		  "NEW has SRC's owner, kind, template and figures (counted against the owner's\n"
		  "quota, as a create), and its own name, hostname, MAC and addresses; at its\n"
		  "first boot it makes a new machine-id and new SSH host keys.\n" },
	{ "op", NULL, p_id, o_format, .run = cmd_op,
	  .overview = "op ID\tone long operation (?async=1): state, result",
	  .help = "One long operation (started with ?async=1): its VPS, action, state (running,\n"
		  "done or failed), and its result or error.\n" },

	{ "host", NULL, .opts = o_format, .run = cmd_host,
	  .section = "The host:", .overview = "host [--format json]\tthe host report",
	  .help = "The host report: per resource its policy, physical, limit (ratio x physical),\n"
		  "allocated (sold), used (real) and headroom (limit - allocated); the limits this\n"
		  "host enforces for each kind (and why not, for the others); warnings.\n" },
	{ "policy", NULL, .subs = policy_subs,
	  .overview = "policy list|set RES MODE [R]\tresource policies: reserve, oversell, thin",
	  .help = "Resource policies of this host (docs/policies.md):\n"
		  "  memory  reserve | oversell RATIO   (RAM counted against RATIO x physical RAM)\n"
		  "  disk    reserve | thin [RATIO]     (disk sizes against RATIO x the data filesystem)\n"
		  "  cpus    reserve | oversell RATIO   (vCPUs against RATIO x cores)\n"
		  "  limits  refuse | warn              (a limit this host cannot enforce: refused,\n"
		  "                                      or accepted with a warning event)\n"
		  "New VPSes, and changes that grow one, are refused when they do not fit.\n" },
	{ "settings", NULL, .subs = settings_subs,
	  .overview = "settings show|set KEY=VALUE\tthe host's settings: who must use 2FA",
	  .help = "The host's settings (in a cluster, every node's: they live in the shared\n"
		  "database). An administrator's; each change is a `setting` event.\n"
		  "  require-2fa  none | admins | all   who must log in with a second factor: a\n"
		  "               user it names who has none gets a session that can only enrol\n"
		  "               (vps login enrols them); tokens are unaffected\n"
		  "vpsd --require-2fa sets it only while it has never been set.\n" },
	{ "events", NULL, .opts = o_events, .run = cmd_events,
	  .overview = "events [--vps NAME] [--follow]\tthe event log",
	  .help = "The event log, oldest first; --follow waits for new events until\n"
		  "interrupted. --format json prints one JSON object a line.\n" },
	{ "template", NULL, .subs = template_subs,
	  .overview =
		  "template list|show|build|import|create|rm\ttemplates: the OSes a VPS is made from",
	  .help = "Templates are versioned: build and import make a new version, create and\n"
		  "reinstall take the newest. `import NAME FILE` uploads a rootfs tarball (tar,\n"
		  ".gz, .xz, .zst) for containers, an OCI image layout (a directory, or a tar\n"
		  "with --image-format oci; --ref TAG), or with --kind vm a raw or qcow2 disk image;\n"
		  "`create NAME --from VPS` makes one of a stopped VM's disk or container's root.\n" },
	{ "plan", NULL, .subs = plan_subs,
	  .overview = "plan list|create|delete\tplans (named sets of limits)",
	  .help = "A plan is a named set of limits; `vps create --plan NAME` uses one.\n" },
	{ "net", "network", .subs = net_subs,
	  .overview = "net list|create|delete\tnetworks: bridge, NAT, address pools",
	  .help = "A network is a host bridge holding the gateway addresses (10.77.0.1/24,\n"
		  "fd77::1/64) with NAT for outbound unless --no-nat; VPSes created with\n"
		  "--network NAME take the next free addresses. A network in use cannot be\n"
		  "deleted. With --vlan ID --parent IF its frames leave IF tagged with ID (an\n"
		  "802.1Q device `vln-NAME` on IF is the bridge's port); a kernel without\n"
		  "802.1Q refuses it.\n" },
	{ "node", NULL, .subs = node_subs,
	  .overview =
		  "node list|show|add|rm|token\tcluster nodes; a one-time join token for a new one",
	  .help = "The cluster's nodes (vpsd --cluster): state (online, offline, evacuating),\n"
		  "address, capacity, VPSes and last heartbeat; `show NAME` adds what is\n"
		  "allocated and used on it. `vps node token` prints a join token, once, for a\n"
		  "new node to start with `vpsd --join TOKEN`: it is good for one join within\n"
		  "--ttl seconds (default 3600), by a node called NAME only with --for NAME;\n"
		  "`vps node add NAME` is `vps node token --for NAME`. `vps node rm NAME` takes a\n"
		  "node out of the cluster (its certificate with it): refused while any VPS is\n"
		  "on it (`vps node evacuate NAME` first), for the node answering, and while its\n"
		  "heartbeat is fresh unless --force. On one host the list is the host.\n" },

	{ "repo", NULL, .subs = repo_subs,
	  .overview = "repo list|add|rm\trestic repositories that backups go to",
	  .help = "A repository (restic) is a local directory (an absolute path), sftp:HOST:/PATH\n"
		  "or rest:http(s)://HOST/PATH. vpsd makes its password, keeps it (0600) and runs\n"
		  "`restic init`. One that holds backups cannot be removed.\n" },
	{ "pool", NULL, .subs = pool_subs,
	  .overview = "pool list|add|rm\tstorage pools: where VPS disks live",
	  .help = "A pool is a directory VPS disks live in (`vps create --pool NAME`); the\n"
		  "default pool is vpsd's own. On XFS (reflink=1) or btrfs, snapshots share\n"
		  "blocks (reflink copies); elsewhere they are full copies. PATH must be an\n"
		  "existing directory given as an absolute path without links. A pool that\n"
		  "holds VPSes cannot be removed; removing one leaves its directory alone.\n" },

	{ "webhook", NULL, .subs = webhook_subs,
	  .overview = "webhook list|add|rm\tevents POSTed to your URL, signed",
	  .help = "vpsd POSTs each event (of your VPSes; an admin's hook: of all) as JSON to\n"
		  "URL, with X-Vps-Signature: sha256=HMAC-SHA256(secret, TIMESTAMP.BODY) and\n"
		  "X-Vps-Timestamp, retried 5 times over 15 s. --events picks kinds\n"
		  "(suspended,crashed,...). A customer's hook may not reach the host or\n"
		  "private networks unless vpsd --webhook-allow opens them.\n" },

	{ "login", NULL, p_user, o_login, .run = cmd_login, .section = "Access:",
	  .overview = "login USER\tlog in over --url (password, then a 2FA code) and print a token",
	  .help = "Logs USER in over --url: the password (typed without echo, or standard\n"
		  "input's first line), then, when the user has two-factor login, the\n"
		  "authenticator's code or a recovery code. Prints an API token made with that\n"
		  "session, for `export VPS_TOKEN=...`, and ends the session. A host that\n"
		  "requires 2FA of a user who has none enrols them here first.\n" },
	{ "2fa", NULL, .subs = tfa_subs,
	  .overview = "2fa enable|disable\ttwo-factor login (TOTP) for yourself",
	  .help = "enable: asks for your password again, prints the otpauth:// URI and the\n"
		  "base32 secret once (add it to an authenticator app), asks for a first code\n"
		  "to confirm, then prints ten single-use recovery codes once. disable: asks\n"
		  "for a code (or a recovery code). Over --url, as whoever $VPS_TOKEN is; root\n"
		  "on the unix socket has no 2FA. An administrator ends a user's: vps user set\n"
		  "NAME 2fa=off.\n" },
	{ "user", NULL, .subs = user_subs,
	  .overview =
		  "user list|add|passwd|rm|set\tusers of the panel and the API, their roles and quotas",
	  .help = "Accounts of the panel and the API. An admin manages the host and every VPS;\n"
		  "a customer sees and runs only their own. The password (8 to 1024 characters)\n"
		  "is read from standard input: typed twice without echo on a terminal, else its\n"
		  "first line (--password-stdin: always the line). A user who owns a VPS cannot\n"
		  "be removed. `user set NAME quota.vps=3 quota.ram=4G quota.disk=40G\n"
		  "quota.cpus=4 quota.addresses=2` sets what the user may hold (`none`: no limit;\n"
		  "figures not named stay); `2fa=off` ends the user's two-factor login.\n" },
	{ "token", NULL, .subs = token_subs,
	  .overview = "token list|create|rm\tAPI tokens (for scripts over TCP)",
	  .help = "API tokens, sent as `Authorization: Bearer TOKEN` over TCP. DURATION is a\n"
		  "number with s, m, h, d or w (3600s, 12h, 30d), from 60 s to 365 days.\n"
		  "--source limits the addresses the token is taken from (10.0.0.0/8, ::1/128);\n"
		  "repeat it for more. --user makes the token for another user. The token is\n"
		  "printed once, on standard output; it cannot be shown again.\n" },
	{ "audit", NULL, .opts = o_audit, .run = cmd_audit,
	  .overview = "audit [-n N]\twho changed what, and every login attempt",
	  .help = "The audit log: every request that changes something and every login attempt,\n"
		  "with who made it, from where, and the status it got.\n" },
	END,
};
