// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vpsd: the host daemon (docs/vpsd.md).
 *
 *   vpsd [--data DIR] [--run DIR] [--socket PATH] [--tcp ADDR:PORT]
 *        [--cert PEM --key PEM] [--web DIR] [--sample-every S] [--usage-keep N]
 *        [--pids-limit N] [--start-timeout S] [--metrics-token-file FILE]
 *        [--require-2fa none|admins|all]
 *        [--reclaim-below SIZE|N%|off] [--webhook-allow CIDR]... [--cluster CONNINFO [--node NAME]
 *        [--peer HOST:PORT]]
 *        [--config FILE] [--check]
 *   vpsd --routes            (every API route as JSON lines: routes.c)
 *   vpsd keep ...            (the keeper of one VPS: keeper.c)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "host/backup.h"
#include "host/caps.h"
#include "host/api.h"
#include "host/auth.h"
#include "host/host.h"
#include "host/keeper.h"
#include "host/life.h"
#include "host/node.h"
#include "host/ops.h"
#include "host/peer.h"
#include "host/reclaim.h"
#include "host/route.h"
#include "host/settings.h"
#include "host/webhook.h"
#include "host/usage.h"
#include "host/ws.h"

#define CONF_MAX 64 /* settings in a config file: each flag once */

/* The config file's `--KEY=VALUE`s: optarg points into them until vpsd exits. */
static char *conf[CONF_MAX], **args;

/*
 * vpsd blocks SIGTERM and SIGINT for sigwait() and ignores SIGPIPE; a
 * child it forks (a keeper, a monitor, an exec into a container) starts
 * with neither, as any program expects.
 */
static void child_signals(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	umask(022); /* vpsd's own 077 is for its files, not for a container's init */
}

/*
 * vpsd's files hold secrets (the store: password hashes, sessions, the
 * audit log; a create file with a root password): it runs with umask 077,
 * and what an older vpsd made readable is closed here. The data directory
 * stays traversable (0711), since containers' root uids reach their rootfs
 * through it, but not listable.
 */
static void close_data_dir(const char *data, const char *db)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char path[4200];
	struct stat st;

	if (stat(data, &st) == 0 && (st.st_mode & 044))
		chmod(data, st.st_mode & 07711);
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", db, sfx[i]);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077))
			chmod(path, 0600);
	}
}

/*
 * The config file (--config FILE; the package's unit passes
 * /etc/vps/vpsd.conf): one `KEY = VALUE` a line, KEY a long flag that takes
 * a value, `#` starting a comment line, blank lines ignored. Each line
 * becomes `--KEY=VALUE` placed before the command line's flags, so that a
 * flag given overrides the file and every value passes the flag's own
 * check. A line that is not that is refused with its number; nothing is
 * guessed. *out gets the strings (the caller frees them).
 */
static int conf_read(const char *path, const struct option *opts, char **out, int *n)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[4200], *k, *v, *end;
	int no = 0;

	if (!f) {
		pr_err("--config `%s`: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		const struct option *o;

		no++;
		if (!strchr(line, '\n') && !feof(f)) {
			pr_err("`%s` line %d: longer than %zu bytes", path, no, sizeof(line) - 2);
			return -1;
		}
		k = line + strspn(line, " \t");
		end = k + strlen(k);
		while (end > k && strchr(" \t\r\n", end[-1]))
			*--end = 0;
		if (!*k || *k == '#')
			continue;
		if (!(v = strchr(k, '='))) {
			pr_err("`%s` line %d: expected KEY = VALUE, not `%s`", path, no, k);
			return -1;
		}
		for (end = v; end > k && strchr(" \t", end[-1]);)
			end--;
		*end = 0;
		v += 1 + strspn(v + 1, " \t");
		for (o = opts; o->name; o++)
			if (!strcmp(o->name, k) && o->has_arg == required_argument &&
			    strcmp(k, "config"))
				break;
		if (!o->name) {
			pr_err("`%s` line %d: unknown key `%s` (the keys are vpsd's flags that "
			       "take a value: vpsd --help)",
			       path, no, k);
			return -1;
		}
		if (!*v) {
			pr_err("`%s` line %d: `%s` has no value (leave the line out for the default)",
			       path, no, k);
			return -1;
		}
		for (int i = 0; i < *n; i++)
			if (!strncmp(out[i] + 2, k, strlen(k)) && out[i][2 + strlen(k)] == '=') {
				pr_err("`%s` line %d: `%s` again", path, no, k);
				return -1;
			}
		if (*n == CONF_MAX) {
			pr_err("`%s` line %d: more than %d settings", path, no, CONF_MAX);
			return -1;
		}
		if (asprintf(&out[*n], "--%s=%s", k, v) < 0)
			return -1;
		(*n)++;
	}
	return 0;
}

/* --config FILE or --config=FILE on the command line, else NULL; `--` ends the search */
static const char *conf_path(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--config"))
			return i + 1 < argc ? argv[i + 1] : NULL;
		if (!strncmp(argv[i], "--config=", 9))
			return argv[i] + 9;
	}
	return NULL;
}

/* --tcp's ADDR:PORT, or [ADDR]:PORT for IPv6 */
static int parse_tcp(const char *tcp, char *addr, unsigned int *port, struct err **err)
{
	if ((sscanf(tcp, "[%63[^]]]:%u", addr, port) != 2 &&
	     sscanf(tcp, "%63[^:]:%u", addr, port) != 2) ||
	    *port == 0 || *port > 65535)
		return err_make(err, EINVAL, "--tcp: expected ADDR:PORT, not `%s`", tcp);
	return 0;
}

/*
 * --metrics-token-file: one line, the secret a Prometheus server sends as
 * its bearer token (docs/metrics.md). A file only root reads, since the
 * token is in it in the clear, and a secret long enough not to be guessed.
 */
#define METRICS_TOKEN_MIN 32
#define METRICS_TOKEN_MAX 256

static int metrics_token_read(const char *path, char **out, struct err **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char buf[METRICS_TOKEN_MAX + 3];
	struct stat st;
	ssize_t got;
	size_t n = 0;
	bool ok;

	if (fd < 0 || fstat(fd, &st) < 0)
		return err_make(err, errno, "--metrics-token-file: open `%s`", path);
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077))
		return err_make(err, EPERM,
				"--metrics-token-file: `%s` must be a regular file that only its "
				"owner may read (chmod 600)",
				path);
	while (n < sizeof(buf) - 1 && (got = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)got;
	buf[n] = 0;
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = 0;
	/* a header carries it: printable, no spaces */
	ok = n >= METRICS_TOKEN_MIN && n <= METRICS_TOKEN_MAX;
	for (size_t i = 0; i < n; i++)
		ok &= buf[i] > ' ' && buf[i] < 0x7f;
	*out = ok ? strdup(buf) : NULL;
	sodium_memzero(buf, sizeof(buf));
	if (!ok)
		return err_make(
			err, EINVAL,
			"--metrics-token-file: `%s`: expected one line of %d to %d printable "
			"characters without spaces",
			path, METRICS_TOKEN_MIN, METRICS_TOKEN_MAX);
	if (!*out)
		return err_make(err, ENOMEM, "--metrics-token-file");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "run", required_argument, NULL, 'r' },
		{ "socket", required_argument, NULL, 's' },
		{ "tcp", required_argument, NULL, 't' },
		{ "reclaim-below", required_argument, NULL, 'R' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "web", required_argument, NULL, 'W' },
		{ "sample-every", required_argument, NULL, 'S' },
		{ "usage-keep", required_argument, NULL, 'U' },
		{ "metrics-token-file", required_argument, NULL, 'M' },
		{ "pids-limit", required_argument, NULL, 'P' },
		{ "start-timeout", required_argument, NULL, 'T' },
		{ "require-2fa", required_argument, NULL, '2' },
		{ "webhook-allow", required_argument, NULL, 'w' },
		{ "cluster", required_argument, NULL, 'L' },
		{ "node", required_argument, NULL, 'N' },
		{ "advertise", required_argument, NULL, 'A' },
		{ "join", required_argument, NULL, 'J' },
		{ "peer", required_argument, NULL, 'E' },
		{ "heartbeat", required_argument, NULL, 'B' },
		{ "offline-after", required_argument, NULL, 'F' },
		{ "stale-reads", required_argument, NULL, 'Y' },
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "routes", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct host h = { .sample_every = 10,
			  .usage_keep = 8640,
			  .pids_limit = 4096,
			  .start_timeout = 60,
			  .heartbeat_every = 5,
			  .offline_after = 3,
			  .stale_reads = 900 };
	const char *data = "/var/lib/vps", *run = "/run/vps", *sock = NULL, *tcp = NULL;
	const char *reclaim_below = NULL, *cert = NULL, *key = NULL, *web = NULL;
	const char *cluster = NULL, *node = NULL, *advertise = NULL, *join = NULL, *peer = NULL;
	const char *metrics_file = NULL, *require_2fa = NULL;
	char host_name[64] = "";
	_cleanup_free_ char *self = NULL, *sock_path = NULL, *db = NULL, *lockp = NULL;
	_cleanup_free_ char *vps_data = NULL, *vps_run = NULL;
	struct api *api = NULL, *api_tcp = NULL, *api_peer = NULL;
	char *end;
	struct err *e = NULL;
	sigset_t mask;
	int c, sig, lock, status = 1, nconf = 0;
	char addr[64];
	const char *conf_file;
	unsigned int port = 0;
	bool check = false;

	if (argc > 1 && !strcmp(argv[1], "keep"))
		return keeper_main(argc, argv);
	log_init("vpsd", LOG_INFO);
	conf_file = conf_path(argc, argv);
	if (conf_file && conf_read(conf_file, opts, conf, &nconf) < 0)
		return 2;
	/* the file's settings first, then the command line's: the last one given counts */
	if (!(args = calloc(argc + nconf + 1, sizeof(*args))))
		return 1;
	args[0] = argv[0];
	memcpy(args + 1, conf, nconf * sizeof(*conf));
	memcpy(args + 1 + nconf, argv + 1, (argc - 1) * sizeof(*argv));
	args[argc + nconf] = NULL;
	argc += nconf;
	argv = args;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': /* read above */
			break;
		case 'k':
			check = true;
			break;
		case 'd':
			data = optarg;
			break;
		case 'r':
			run = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 't':
			tcp = optarg;
			break;
		case 'R':
			reclaim_below = optarg;
			break;
		case 'C':
			cert = optarg;
			break;
		case 'K':
			key = optarg;
			break;
		case 'W':
			web = optarg;
			break;
		case 'L': /* the store is PostgreSQL there, shared with other nodes */
			cluster = optarg;
			break;
		case 'N':
			node = optarg;
			break;
		case 'A': /* HOST:PORT the other nodes and clients reach this one's API at */
			advertise = optarg;
			break;
		case 'E': /* HOST:PORT of the node-to-node listener (peer.c) */
			peer = optarg;
			break;
		case 'J': /* a join token (vps node token on a member) */
			join = optarg;
			break;
		case 'Y': { /* seconds the read copy answers with the database away (standby.c) */
			long n;

			errno = 0;
			n = strtol(optarg, &end, 10);
			if (!*optarg || *end || errno || n < 0 || n > 86400) {
				pr_err("--stale-reads: expected 0 (off) to 86400 seconds");
				return 2;
			}
			h.stale_reads = (int)n;
			break;
		}
		case 'B':
		case 'F': {
			long n;

			errno = 0;
			n = strtol(optarg, &end, 10);
			if (!*optarg || *end || errno || n < 1 || n > (c == 'B' ? 3600 : 1000)) {
				pr_err("--%s: expected %s",
				       c == 'B' ? "heartbeat" : "offline-after",
				       c == 'B' ? "1 to 3600 seconds" : "1 to 1000 heartbeats");
				return 2;
			}
			if (c == 'B')
				h.heartbeat_every = (int)n;
			else
				h.offline_after = (int)n;
			break;
		}
		case 'M':
			metrics_file = optarg;
			break;
		case 'w': /* a network customers' webhooks may reach (webhook.c) */
			if (webhook_allow(optarg, &e) < 0) {
				pr_err("%s", err_msg(e));
				err_free(&e);
				webhook_stop();
				return 2;
			}
			break;
		case 'P': /* every container gets one: a fork bomb stops at it */
			errno = 0;
			h.pids_limit = strtol(optarg, &end, 10);
			if (!*optarg || *end || errno || h.pids_limit < 16 ||
			    h.pids_limit > 4194304) {
				pr_err("--pids-limit: expected 16 to 4194304 processes");
				return 2;
			}
			break;
		case '2': /* who must log in with a second factor: seeds the store (settings.h) */
			if (settings_require_parse(optarg) < 0) {
				pr_err("--require-2fa: expected none, admins or all");
				return 2;
			}
			require_2fa = optarg;
			break;
		case 'T': /* how long a start waits for the monitor (life.c) */
			errno = 0;
			h.start_timeout = (int)strtol(optarg, &end, 10);
			if (!*optarg || *end || errno || h.start_timeout < 1 ||
			    h.start_timeout > 3600) {
				pr_err("--start-timeout: expected 1 to 3600 seconds");
				return 2;
			}
			break;
		case 'S':
		case 'U': {
			long n;

			errno = 0;
			n = strtol(optarg, &end, 10);
			if (!*optarg || *end || errno || n < (c == 'S' ? 0 : 1) ||
			    n > (c == 'S' ? 86400 : 1000000)) {
				pr_err("--%s: expected %s",
				       c == 'S' ? "sample-every" : "usage-keep",
				       c == 'S' ? "0 (off) to 86400 seconds" :
						  "1 to 1000000 samples");
				return 2;
			}
			if (c == 'S')
				h.sample_every = (int)n;
			else
				h.usage_keep = (int)n;
			break;
		}
		case 'O':
			if (routes_print(stdout, &e) < 0) {
				pr_err("%s", err_msg(e));
				err_free(&e);
				return 1;
			}
			return 0;
		case 'h':
			printf("usage: vpsd [--data DIR] [--run DIR] [--socket PATH] [--tcp ADDR:PORT]\n"
			       "            [--cert PEM --key PEM] [--web DIR] [--sample-every S]\n"
			       "            [--usage-keep N] [--reclaim-below SIZE|N%%|off]\n"
			       "            [--pids-limit N] [--start-timeout S]\n"
			       "            [--metrics-token-file FILE]\n"
			       "            [--require-2fa none|admins|all] [--webhook-allow CIDR]...\n"
			       "            [--cluster CONNINFO [--node NAME]\n"
			       "            [--advertise HOST:PORT] [--join TOKEN] [--heartbeat S]\n"
			       "            [--offline-after N] [--peer HOST:PORT]\n"
			       "            [--stale-reads S]]\n"
			       "            [--config FILE] [--check]\n"
			       "       vpsd --routes\n"
			       "--config FILE reads KEY = VALUE lines, KEY one of the flags above that\n"
			       "take a value (/etc/vps/vpsd.conf); flags given override it. --check\n"
			       "checks the settings, prints where the programs, template builders\n"
			       "and panel are, and exits.\n");
			return 0;
		default:
			return 2;
		}
	}
	if ((node || advertise || join || peer) && !cluster) {
		pr_err("--%s is for --cluster", node	  ? "node" :
						advertise ? "advertise" :
						join	  ? "join" :
							    "peer");
		return 2;
	}
	if (advertise && (!*advertise || strlen(advertise) > 200 || strpbrk(advertise, "/ \t") ||
			  !strchr(advertise, ':'))) {
		pr_err("--advertise: expected HOST:PORT");
		return 2;
	}
	if (peer && (strlen(peer) > 200 || parse_tcp(peer, addr, &port, &e) < 0)) {
		pr_err("--peer: expected ADDR:PORT (%s)", err_msg(e));
		err_free(&e);
		return 2;
	}
	if (cluster && !node) { /* the node's name: the host's, unless told */
		gethostname(host_name, sizeof(host_name) - 1);
		node = host_name;
	}
	if (cluster && (!*node || strlen(node) > 63)) {
		pr_err("--node: expected a name of 1 to 63 characters");
		return 2;
	}
	if (optind != argc || data[0] != '/' || run[0] != '/') {
		pr_err("usage: vpsd [--data DIR] [--run DIR] [--socket PATH] [--tcp ADDR:PORT] "
		       "(absolute paths)");
		return 2;
	}
	self = realpath("/proc/self/exe", NULL);
	if (!self) { /* the keeper runs vpsd itself, and the monitors are found beside it */
		pr_err("vpsd's own path: `/proc/self/exe`: %s", strerror(errno));
		return 1;
	}
	h.data_dir = (char *)data;
	h.run_dir = (char *)run;
	h.self = self;
	if (host_find_files(&h, self, web, &e) < 0) {
		pr_err("%s", err_msg(e));
		err_free(&e);
		status = 2;
		goto out_paths;
	}
	if (metrics_file && metrics_token_read(metrics_file, &h.metrics_token, &e) < 0) {
		pr_err("%s", err_msg(e));
		err_free(&e);
		status = 2;
		goto out_paths;
	}
	if (check) { /* what is checked before vpsd touches anything */
		uint64_t below;

		if ((tcp && parse_tcp(tcp, addr, &port, &e) < 0) ||
		    (reclaim_below &&
		     reclaim_parse_below(reclaim_below, 1ULL << 40, &below, &e) < 0))
			;
		else if ((cert || key) && (!tcp || !cert || !key))
			err_make(&e, EINVAL, "--cert and --key go together, with --tcp");
		else if ((cert && access(cert, R_OK) < 0) || (key && access(key, R_OK) < 0))
			err_make(&e, errno, "--cert `%s`, --key `%s`", cert, key);
		if (e) {
			pr_err("%s", err_msg(e));
			err_free(&e);
			status = 2;
		} else {
			/* and where vpsd found what it runs and serves (paths.c) */
			printf("vpsd: the settings are valid\nprograms: %s\nmktemplate: %s\n"
			       "mkvmtemplate: %s\nweb: %s\napi: %s\n",
			       h.bin_dir, h.mktemplate, h.mkvmtemplate, h.web_dir, h.api_doc);
			status = 0;
		}
		goto out_paths;
	}
	if (asprintf(&db, "%s/vps.db", data) < 0 || asprintf(&lockp, "%s/vpsd.lock", data) < 0 ||
	    asprintf(&vps_data, "%s/vps", data) < 0 || asprintf(&vps_run, "%s/vps", run) < 0 ||
	    (!sock && asprintf(&sock_path, "%s/vpsd.sock", run) < 0))
		goto out_paths;
	umask(077);
	if (mkdir_p(vps_data, 0711, 0711) < 0 || mkdir_p(vps_run, 0711, 0711) < 0) {
		pr_err("make `%s` and `%s`: %s", vps_data, vps_run, strerror(errno));
		return 1;
	}
	close_data_dir(data, db);
	/* one vpsd per data directory: the store has one writer */
	lock = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) < 0) {
		pr_err("another vpsd runs on `%s`", data);
		return 1;
	}
	/* before any thread starts: they all inherit the mask, and sigwait() below takes them */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_atfork(NULL, NULL, child_signals);
	if (auth_init() < 0) {
		pr_err("libsodium does not start");
		return 1;
	}
	{
		/* jailed monitors lock reserved memory as the VM's uid (kind_vm.c) */
		struct rlimit inf = { RLIM_INFINITY, RLIM_INFINITY };

		if (setrlimit(RLIMIT_MEMLOCK, &inf) < 0)
			pr_info("RLIMIT_MEMLOCK stays (%s): QEMU's reserved memory is prefaulted, "
				"not locked",
				strerror(errno));
	}
	caps_probe(&h); /* before life_init starts the onboot VPSes with what the host enforces */
	h.node = cluster ? node : NULL;
	/* what the other nodes are told: --advertise, else the TCP API's own address */
	if (asprintf(&h.advertise, "%s%s%s",
		     advertise || tcp ? (cert ? "https://" : "http://") : "",
		     advertise ? advertise :
		     tcp       ? tcp :
				 "",
		     "") < 0)
		h.advertise = NULL;
	/* a member before anything acts: a stranger without a token stops here */
	if ((cluster ? store_open_cluster(cluster, node, &h.store, &e) :
		       store_open(db, &h.store, &e)) < 0 ||
	    node_start(&h, join, &e) < 0 || settings_seed(&h, require_2fa, &e) < 0 ||
	    (cluster && peer_start(&h, peer, &e) < 0) || (op_recover(&h), life_init(&h, &e)) < 0 ||
	    reclaim_start(&h, reclaim_below, &e) < 0 || usage_start(&h, &e) < 0 ||
	    backup_timer_start(&h, &e) < 0 || webhook_start(&h, &e) < 0) {
		pr_err("%s", err_msg(e));
		goto out;
	}
	api = api_start_unix(&h, sock ? sock : sock_path, &e);
	if (api && tcp) {
		/* 127.0.0.1:8006 or [::1]:8006 */
		if (parse_tcp(tcp, addr, &port, &e) == 0) {
			api_tcp = api_start_tcp(&h, addr, port, cert, key, &e);
			if (api_tcp && strcmp(addr, "127.0.0.1") && strcmp(addr, "::1"))
				pr_warn("the API listens beyond loopback on %s port %u%s", addr,
					port, cert ? "" : " without TLS (--cert, --key)");
		}
		if (!api_tcp) {
			api_stop(api);
			api = NULL;
		}
	} else if (api && (cert || key)) {
		err_make(&e, EINVAL, "--cert and --key are for --tcp");
		api_stop(api);
		api = NULL;
	}
	if (api && peer && parse_tcp(peer, addr, &port, &e) == 0 &&
	    !(api_peer = api_start_peer(&h, addr, port, &e))) {
		api_stop(api);
		api_stop(api_tcp);
		api = api_tcp = NULL;
	}
	if (api_peer) /* the other nodes' requests and moves come here: say it listens */
		pr_info("node to node: listening on %s (TLS, a member's certificate required)",
			peer);
	if (!api) {
		pr_err("%s", err_msg(e));
		goto out;
	}
	if (cluster)
		pr_info("store: PostgreSQL (cluster), node `%s`", node);
	pr_info("listening on %s", sock ? sock : sock_path);
	sigwait(&mask, &sig);
	ws_shutdown(); /* open consoles are told, and end, before their connections go */
	status = 0;
out: /* also after a failed start: the sanitizers' leak check holds every exit to account */
	api_stop(api);
	api_stop(api_tcp);
	backup_timer_stop();
	webhook_stop();
	api_stop(api_peer);
	usage_stop(&h);
	reclaim_stop();
	life_fini(&h);
	node_stop(&h);
	peer_stop(&h);
	store_close(h.store);
	free(h.advertise);
	err_free(&e);
out_paths:
	free(h.bin_dir);
	free(h.mktemplate);
	free(h.mkvmtemplate);
	free(h.web_dir);
	free(h.api_doc);
	if (h.metrics_token) {
		sodium_memzero(h.metrics_token, strlen(h.metrics_token));
		free(h.metrics_token);
	}
	return status;
}
