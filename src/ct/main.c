// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vps-ct: the OCI runtime's command line, compatible with what runc and
 * crun accept (global --root, --log, --log-format; per command --bundle,
 * --pid-file, --console-socket, --detach, ...), so containerd, podman or a
 * person can drive it the same way. Each command is a thin shell over the
 * engine in container.c/exec.c; errors print as one line with their whole
 * context chain, to stderr and to --log.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "ct/cgroup.h"
#include "ct/container.h"
#include "ct/spec.h"

static const char *opt_root = CT_DEFAULT_ROOT;
static const char *opt_log;
static bool opt_log_json;

static void report(const char *cmd, struct err *err)
{
	FILE *f;

	fprintf(stderr, "vps-ct: %s\n", err_msg(err));
	if (!opt_log || !(f = fopen(opt_log, "ae")))
		return;
	if (opt_log_json) {
		json_t *o = json_pack("{s:s, s:s, s:I}", "level", "error", "msg", err_msg(err),
				      "time", (json_int_t)time(NULL));
		char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

		if (s)
			fprintf(f, "%s\n", s);
		free(s);
		json_decref(o);
	} else {
		fprintf(f, "vps-ct %s: %s\n", cmd, err_msg(err));
	}
	fclose(f);
}

static void usage(FILE *f)
{
	fputs("usage: vps-ct [--root DIR] [--log FILE] [--log-format text|json] COMMAND ...\n"
	      "  create [-b BUNDLE] [--pid-file F] [--console-socket S] [--preserve-fds N] ID\n"
	      "  run [-b BUNDLE] [-d] [--pid-file F] [--console-socket S] [--preserve-fds N] ID\n"
	      "  start ID | state ID | pause ID | resume ID\n"
	      "  kill [-a] ID [SIGNAL] | delete [-f] ID\n"
	      "  exec [-p PROCESS.json] [-e K=V] [--cwd D] [-u UID[:GID]] [-t] [-d]\n"
	      "       [--preserve-fds N] ID [CMD...]\n"
	      "  list [-f table|json] [-q] | ps [-f table|json] ID\n"
	      "  update [-r RESOURCES.json] [--memory N] [--memory-swap N] [--cpu-shares N]\n"
	      "         [--cpu-quota N] [--cpu-period N] [--cpuset-cpus L] [--pids-limit N] ID\n"
	      "  spec [-b BUNDLE] | features\n",
	      f);
}

static int need_id(int argc, char **argv, const char **id, struct err **err)
{
	if (optind >= argc)
		return err_make(err, 0, "container id required");
	*id = argv[optind++];
	return 0;
}

/* --preserve-fds N: the N descriptors after stdio go to the process; the rest close at execve. */
static int parse_preserve_fds(const char *s, unsigned int *n, struct err **err)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 0 || v > 65536)
		return err_make(err, EINVAL, "--preserve-fds: expected 0 to 65536");
	*n = (unsigned int)v;
	return 0;
}

static int cmd_create(int argc, char **argv, bool run, int *status, struct err **err)
{
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "pid-file", required_argument, NULL, 'P' },
		{ "console-socket", required_argument, NULL, 'C' },
		{ "detach", no_argument, NULL, 'd' },
		{ "no-pivot", no_argument, NULL, 'N' },
		{ "no-new-keyring", no_argument, NULL, 'N' },
		{ "preserve-fds", required_argument, NULL, 'F' },
		{ 0 },
	};
	struct ct_opts o = { .root = opt_root, .run = run };
	struct ct_config *cfg = NULL;
	char bundle[PATH_MAX];
	const char *b = ".";
	int c, r;

	while ((c = getopt_long(argc, argv, "+b:d", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			b = optarg;
			break;
		case 'P':
			o.pid_file = optarg;
			break;
		case 'C':
			o.console_socket = optarg;
			break;
		case 'd':
			o.detach = true;
			break;
		case 'F':
			if (parse_preserve_fds(optarg, &o.preserve_fds, err) < 0)
				return -EINVAL;
			break;
		case 'N':
			break;
		default:
			return err_make(err, 0, "bad option");
		}
	}
	if ((r = need_id(argc, argv, &o.id, err)) < 0)
		return r;
	if (!realpath(b, bundle))
		return err_make(err, errno, "bundle `%s`", b);
	o.bundle = bundle;
	if ((r = ct_config_load(bundle, &cfg, err)) < 0 || (r = ct_config_validate(cfg, err)) < 0) {
		ct_config_free(cfg);
		return err_wrap(err, "%s container `%s`", run ? "run" : "create", o.id);
	}
	r = ct_create(&o, cfg, status, err);
	ct_config_free(cfg);
	if (r < 0)
		return err_wrap(err, "%s container `%s`", run ? "run" : "create", o.id);
	return 0;
}

static int cmd_state(const char *id, struct err **err)
{
	_cleanup_free_ char *s = NULL;
	struct ct_state st;
	int r = ct_state_load(opt_root, id, &st, err);

	if (r < 0)
		return r;
	s = ct_state_json(&st, ct_state_status(opt_root, &st));
	ct_state_clear(&st);
	if (!s)
		return err_make(err, ENOMEM, "state");
	puts(s);
	return 0;
}

static int parse_signal(const char *s, int *sig)
{
	char *end;
	int i;

	*sig = strtol(s, &end, 10);
	if (*s && !*end)
		return *sig > 0 && *sig < NSIG ? 0 : -EINVAL;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (i = 1; i < NSIG; i++) {
		const char *n = sigabbrev_np(i);

		if (n && !strcasecmp(n, s)) {
			*sig = i;
			return 0;
		}
	}
	return -EINVAL;
}

static int cmd_list(int argc, char **argv, struct err **err)
{
	static const struct option opts[] = { { "format", required_argument, NULL, 'f' },
					      { "quiet", no_argument, NULL, 'q' },
					      { 0 } };
	bool json = false, quiet = false;
	json_t *arr = json_array();
	struct dirent *de;
	DIR *d;
	int c;

	while ((c = getopt_long(argc, argv, "+f:q", opts, NULL)) != -1) {
		if (c == 'f')
			json = !strcmp(optarg, "json");
		else if (c == 'q')
			quiet = true;
		else
			return json_decref(arr), err_make(err, 0, "bad option");
	}
	d = opendir(opt_root);
	if (!json && !quiet)
		printf("%-24s %-8s %-10s %-40s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
	while (d && (de = readdir(d))) {
		struct ct_state st;
		const char *s;

		if (de->d_name[0] == '.' || ct_state_load(opt_root, de->d_name, &st, NULL) < 0)
			continue;
		s = ct_state_status(opt_root, &st);
		if (json)
			json_array_append_new(arr,
					      json_pack("{s:s, s:i, s:s, s:s, s:s}", "id", st.id,
							"pid", st.pid, "status", s, "bundle",
							st.bundle, "created", st.created));
		else if (quiet)
			printf("%s\n", st.id);
		else
			printf("%-24s %-8d %-10s %-40s %s\n", st.id,
			       strcmp(s, "stopped") ? st.pid : 0, s, st.bundle, st.created);
		ct_state_clear(&st);
	}
	if (d)
		closedir(d);
	if (json) {
		char *s = json_dumps(arr, JSON_COMPACT);

		puts(s ? s : "[]");
		free(s);
	}
	json_decref(arr);
	return 0;
}

static int open_cg(const char *id, struct ct_cgroup **cg, struct err **err)
{
	struct ct_state st;
	int r = ct_state_load(opt_root, id, &st, err);

	if (r < 0)
		return r;
	r = cg_open(st.cgroup_path, cg, err);
	ct_state_clear(&st);
	return r;
}

static int cmd_ps(int argc, char **argv, struct err **err)
{
	static const struct option opts[] = { { "format", required_argument, NULL, 'f' }, { 0 } };
	struct ct_cgroup *cg = NULL;
	bool json = false;
	const char *id = NULL;
	pid_t *pids = NULL;
	size_t n = 0, i;
	int c, r;

	while ((c = getopt_long(argc, argv, "+f:", opts, NULL)) != -1)
		if (c == 'f')
			json = !strcmp(optarg, "json");
	if ((r = need_id(argc, argv, &id, err)) < 0 || (r = open_cg(id, &cg, err)) < 0)
		return r;
	r = cg_pids_own(cg, &pids, &n, err);
	cg_free(cg);
	if (r < 0)
		return r;
	if (json)
		putchar('[');
	else
		puts("PID");
	for (i = 0; i < n; i++)
		printf(json ? "%s%d" : "%s%d\n", json && i ? "," : "", pids[i]);
	if (json)
		puts("]");
	free(pids);
	return 0;
}

static int cmd_update(int argc, char **argv, struct err **err)
{
	static const struct option opts[] = {
		{ "resources", required_argument, NULL, 'r' },
		{ "memory", required_argument, NULL, 'm' },
		{ "memory-swap", required_argument, NULL, 's' },
		{ "memory-reservation", required_argument, NULL, 'R' },
		{ "cpu-shares", required_argument, NULL, 'c' },
		{ "cpu-quota", required_argument, NULL, 'q' },
		{ "cpu-period", required_argument, NULL, 'p' },
		{ "cpuset-cpus", required_argument, NULL, 'C' },
		{ "cpuset-mems", required_argument, NULL, 'M' },
		{ "pids-limit", required_argument, NULL, 'L' },
		{ "blkio-weight", required_argument, NULL, 'w' },
		{ 0 },
	};
	struct cg_resources res;
	struct ct_cgroup *cg = NULL;
	const char *id = NULL;
	uint64_t v;
	int c, r;

	cg_resources_init(&res);
	while ((c = getopt_long(argc, argv, "+r:", opts, NULL)) != -1) {
		if (c == 'r') {
			_cleanup_free_ char *text = NULL;
			json_error_t je;
			json_t *o;
			size_t len;

			if ((r = read_file(optarg, &text, &len)) < 0)
				return err_make(err, -r, "read `%s`", optarg);
			o = json_loads(text, 0, &je);
			if (!o || !json_is_object(o))
				return json_decref(o),
				       err_make(err, 0, "`%s`: not a JSON object", optarg);
			r = ct_resources_parse(o, &res, err);
			json_decref(o);
			if (r < 0)
				return err_wrap(err, "`%s`", optarg);
			continue;
		}
		if (c == 'C' || c == 'M') {
			char *dst = c == 'C' ? res.cpus : res.mems;

			snprintf(dst, sizeof(res.cpus), "%s", optarg);
			continue;
		}
		if (c == '?')
			return err_make(err, 0, "bad option");
		if (!strcmp(optarg, "-1")) {
			v = (uint64_t)-1;
		} else if (strchr("msR", c)) {
			if (parse_size(optarg, &v) < 0)
				return err_make(err, 0, "bad size `%s`", optarg);
		} else {
			char *end;

			v = strtoll(optarg, &end, 10);
			if (!*optarg || *end)
				return err_make(err, 0, "bad number `%s`", optarg);
		}
		switch (c) {
		case 'm':
			res.memory_limit = v;
			break;
		case 's':
			res.memory_swap = v;
			break;
		case 'R':
			res.memory_reservation = v;
			break;
		case 'c':
			res.cpu_shares = v;
			break;
		case 'q':
			res.cpu_quota = (int64_t)v;
			break;
		case 'p':
			res.cpu_period = v;
			break;
		case 'L':
			res.pids_limit = v;
			break;
		case 'w':
			res.blkio_weight = v;
			break;
		}
	}
	if ((r = need_id(argc, argv, &id, err)) < 0 || (r = ct_device_rules(&res, NULL, err)) < 0 ||
	    (r = open_cg(id, &cg, err)) < 0)
		return r;
	r = cg_update(cg, &res, err);
	cg_free(cg);
	return r < 0 ? err_wrap(err, "update container `%s`", id) : 0;
}

static int cmd_exec(int argc, char **argv, int *status, struct err **err)
{
	static const struct option opts[] = {
		{ "process", required_argument, NULL, 'p' },
		{ "env", required_argument, NULL, 'e' },
		{ "cwd", required_argument, NULL, 'c' },
		{ "user", required_argument, NULL, 'u' },
		{ "tty", no_argument, NULL, 't' },
		{ "detach", no_argument, NULL, 'd' },
		{ "pid-file", required_argument, NULL, 'P' },
		{ "console-socket", required_argument, NULL, 'C' },
		{ "preserve-fds", required_argument, NULL, 'F' },
		{ 0 },
	};
	struct ct_exec_opts o = { .root = opt_root };
	_cleanup_free_ const char **env = calloc(argc + 1, sizeof(char *));
	const char *process_file = NULL;
	struct ct_process *p = NULL;
	size_t nenv = 0;
	int c, r;

	if (!env)
		return -ENOMEM;
	while ((c = getopt_long(argc, argv, "+p:e:u:td", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			process_file = optarg;
			break;
		case 'e':
			env[nenv++] = optarg;
			break;
		case 'c':
			o.cwd = optarg;
			break;
		case 'u':
			o.user = optarg;
			break;
		case 't':
			o.tty = true;
			break;
		case 'd':
			o.detach = true;
			break;
		case 'P':
			o.pid_file = optarg;
			break;
		case 'C':
			o.console_socket = optarg;
			break;
		case 'F':
			if (parse_preserve_fds(optarg, &o.preserve_fds, err) < 0)
				return -EINVAL;
			break;
		default:
			return err_make(err, 0, "bad option");
		}
	}
	if ((r = need_id(argc, argv, &o.id, err)) < 0)
		return r;
	o.env = env;
	o.args = (const char **)argv + optind;
	if (process_file) {
		_cleanup_free_ char *text = NULL;
		json_error_t je;
		json_t *j;
		size_t len;

		if ((r = read_file(process_file, &text, &len)) < 0)
			return err_make(err, -r, "read `%s`", process_file);
		j = json_loads(text, 0, &je);
		if (!j)
			return err_make(err, 0, "`%s`: %s", process_file, je.text);
		r = ct_process_parse(j, "process", &p, err);
		if (r == 0)
			r = ct_process_validate(p, "process", err);
		if (r == 0) {
			o.process = p;
			r = ct_exec(&o, status, err);
		}
		ct_process_free(p);
		json_decref(j);
		return r;
	}
	if (!o.args[0])
		return err_make(err, 0, "exec: command required");
	return ct_exec(&o, status, err);
}

static int cmd_spec(int argc, char **argv, struct err **err)
{
	static const struct option opts[] = { { "bundle", required_argument, NULL, 'b' },
					      { "rootless", no_argument, NULL, 'R' },
					      { 0 } };
	const char *b = ".";
	int c;

	while ((c = getopt_long(argc, argv, "+b:", opts, NULL)) != -1)
		if (c == 'b')
			b = optarg;
	return ct_spec_write(b, err);
}

/*
 * `vps-ct features`: the OCI runtime features document (as `runc features`),
 * with what this host's cgroups enforce as annotations, so a caller (vpsd)
 * can refuse a limit before it promises it:
 *   "run.vps.resource.io_weight": "not enforced: neither `blkio.weight` ..."
 */
static int cmd_features(struct err **err)
{
	static const char *const layouts[] = {
		[CG_V1] = "v1", [CG_V2] = "v2", [CG_HYBRID] = "hybrid"
	};
	struct cg_feature f[CG_NR_FEATURES];
	enum cg_layout layout;
	json_t *doc, *ann;
	int r = cg_probe("vps-ct", &layout, f, err);

	if (r < 0)
		return r;
	doc = json_pack("{s:s, s:s, s:{s:[s,s,s,s,s,s,s], s:{s:b, s:b, s:b, s:b}, s:{s:b}}}",
			"ociVersionMin", "1.0.0", "ociVersionMax", CT_OCI_VERSION, "linux",
			"namespaces", "cgroup", "ipc", "mount", "network", "pid", "user", "uts",
			"cgroup", "v1", true, "v2", true, "systemd", false, "systemdUser", false,
			"seccomp", "enabled", true);
	ann = json_pack("{s:s}", "run.vps.cgroup.layout", layouts[layout]);
	for (unsigned int i = 0; i < CG_NR_FEATURES; i++) {
		char key[64], val[256];

		snprintf(key, sizeof(key), "run.vps.resource.%s", f[i].name);
		snprintf(val, sizeof(val), "%s%s", f[i].enforced ? "enforced" : "not enforced: ",
			 f[i].enforced ? "" : f[i].why);
		json_object_set_new(ann, key, json_string(val));
	}
	json_object_set_new(doc, "annotations", ann);
	r = json_dumpf(doc, stdout, JSON_INDENT(2)) < 0 ? err_make(err, EIO, "write stdout") : 0;
	json_decref(doc);
	putchar('\n');
	return r;
}

static int dispatch(const char *cmd, int argc, char **argv, int *status, struct err **err)
{
	static const struct option noopts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "all", no_argument, NULL, 'a' },
		{ 0 },
	};
	bool force = false, all = false;
	const char *id = NULL;
	int c, r, sig = SIGTERM;

	if (!strcmp(cmd, "create") || !strcmp(cmd, "run"))
		return cmd_create(argc, argv, cmd[0] == 'r', status, err);
	if (!strcmp(cmd, "exec"))
		return cmd_exec(argc, argv, status, err);
	if (!strcmp(cmd, "list"))
		return cmd_list(argc, argv, err);
	if (!strcmp(cmd, "ps"))
		return cmd_ps(argc, argv, err);
	if (!strcmp(cmd, "update"))
		return cmd_update(argc, argv, err);
	if (!strcmp(cmd, "spec"))
		return cmd_spec(argc, argv, err);
	if (!strcmp(cmd, "features"))
		return cmd_features(err);
	while ((c = getopt_long(argc, argv, "+fa", noopts, NULL)) != -1) {
		if (c == 'f')
			force = true;
		else if (c == 'a')
			all = true;
		else
			return err_make(err, 0, "bad option");
	}
	if ((r = need_id(argc, argv, &id, err)) < 0)
		return r;
	if (!strcmp(cmd, "start"))
		return ct_start(opt_root, id, err) < 0 ? err_wrap(err, "start container `%s`", id) :
							 0;
	if (!strcmp(cmd, "state"))
		return cmd_state(id, err);
	if (!strcmp(cmd, "delete"))
		return ct_delete(opt_root, id, force, err);
	if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume"))
		return ct_pause(opt_root, id, cmd[0] == 'p', err) < 0 ?
			       err_wrap(err, "%s container `%s`", cmd, id) :
			       0;
	if (!strcmp(cmd, "kill")) {
		if (optind < argc && parse_signal(argv[optind], &sig) < 0)
			return err_make(err, 0, "unknown signal `%s`", argv[optind]);
		return ct_kill(opt_root, id, sig, all, err) < 0 ?
			       err_wrap(err, "kill container `%s`", id) :
			       0;
	}
	usage(stderr);
	return err_make(err, 0, "unknown command `%s`", cmd);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "log", required_argument, NULL, 'l' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "debug", no_argument, NULL, 'D' },
		{ "systemd-cgroup", no_argument, NULL, 'S' },
		{ "version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct err *err = NULL;
	int c, status = 0;
	const char *cmd;

	/*
	 * jansson seeds its hash from /dev/urandom (open, read, close) on first
	 * use; config.json is the caller's own input, so ASLR's stack and text
	 * addresses are seed enough and cost no syscall.
	 */
	json_object_seed(((size_t)&err ^ (size_t)(uintptr_t)main) | 1);

	if (argc > 1 && !strcmp(argv[1], CT_SYSINFO_MONITOR_CMD))
		return ct_sysinfo_monitor_main(argc, argv);
	log_init("vps-ct", LOG_WARN);
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			opt_root = optarg;
			break;
		case 'l':
			opt_log = optarg;
			break;
		case 'F':
			opt_log_json = !strcmp(optarg, "json");
			break;
		case 'D':
			log_max_level = LOG_DEBUG;
			break;
		case 'S':
			break;
		case 'v':
			puts("vps-ct version " VPS_VERSION "\nspec: " CT_OCI_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 1;
	}
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 1;
	if (dispatch(cmd, argc, argv, &status, &err) < 0) {
		report(cmd, err);
		err_free(&err);
		return 1;
	}
	return status;
}
