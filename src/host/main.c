// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vpsd: the host daemon (docs/vpsd.md).
 *
 *   vpsd [--data DIR] [--run DIR] [--socket PATH] [--tcp ADDR:PORT]
 *        [--cert PEM --key PEM] [--web DIR] [--sample-every S] [--usage-keep N]
 *        [--pids-limit N]
 *        [--reclaim-below SIZE|N%|off] [--cluster CONNINFO [--node NAME]]
 *   vpsd --routes            (every API route as JSON lines: routes.c)
 *   vpsd keep ...            (the keeper of one VPS: keeper.c)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "host/caps.h"
#include "host/api.h"
#include "host/auth.h"
#include "host/host.h"
#include "host/keeper.h"
#include "host/life.h"
#include "host/ops.h"
#include "host/reclaim.h"
#include "host/route.h"
#include "host/usage.h"
#include "host/ws.h"

/* Programs live beside vpsd when installed; in the build tree, in ../ct etc. */
static char *find_prog_dir(const char *self)
{
	_cleanup_free_ char *dup = strdup(self);
	char *dir = dirname(dup), cand[4200];

	snprintf(cand, sizeof(cand), "%s/vps-ctm", dir);
	if (access(cand, X_OK) == 0)
		return strdup(dir);
	snprintf(cand, sizeof(cand), "%s/..", dir); /* build tree: build/src/host -> build/src */
	return realpath(cand, NULL);
}

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
		{ "pids-limit", required_argument, NULL, 'P' },
		{ "cluster", required_argument, NULL, 'c' },
		{ "node", required_argument, NULL, 'n' },
		{ "routes", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct host h = { .sample_every = 10, .usage_keep = 8640, .pids_limit = 4096 };
	const char *data = "/var/lib/vps", *run = "/run/vps", *sock = NULL, *tcp = NULL;
	const char *reclaim_below = NULL, *cert = NULL, *key = NULL, *web = NULL;
	const char *cluster = NULL, *node = NULL;
	char host_name[64] = "";
	_cleanup_free_ char *self = NULL, *sock_path = NULL, *db = NULL, *lockp = NULL;
	_cleanup_free_ char *vps_data = NULL, *vps_run = NULL;
	struct api *api = NULL, *api_tcp = NULL;
	_cleanup_free_ char *web_dir = NULL, *api_doc = NULL;
	char *end;
	struct err *e = NULL;
	sigset_t mask;
	int c, sig, lock, status = 1;

	if (argc > 1 && !strcmp(argv[1], "keep"))
		return keeper_main(argc, argv);
	log_init("vpsd", LOG_INFO);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
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
		case 'c': /* the store is PostgreSQL there, shared with other nodes */
			cluster = optarg;
			break;
		case 'n':
			node = optarg;
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
			       "            [--pids-limit N] [--cluster CONNINFO [--node NAME]]\n"
			       "       vpsd --routes\n");
			return 0;
		default:
			return 2;
		}
	}
	if (node && !cluster) {
		pr_err("--node is for --cluster");
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
	h.data_dir = (char *)data;
	h.run_dir = (char *)run;
	h.self = self;
	h.bin_dir = find_prog_dir(self);
	if (asprintf(&h.mktemplate, "%s/../../src/ct/templates/mktemplate", h.bin_dir) < 0 ||
	    asprintf(&h.mkvmtemplate, "%s/../../src/host/templates/mkvmtemplate", h.bin_dir) < 0 ||
	    asprintf(&db, "%s/vps.db", data) < 0 || asprintf(&lockp, "%s/vpsd.lock", data) < 0 ||
	    asprintf(&vps_data, "%s/vps", data) < 0 || asprintf(&vps_run, "%s/vps", run) < 0 ||
	    (!sock && asprintf(&sock_path, "%s/vpsd.sock", run) < 0))
		return 1;
	/* the panel and the API description: the source tree's, else the installed ones */
	if (web)
		web_dir = realpath(web, NULL);
	else if (asprintf(&web_dir, "%s/../../web", h.bin_dir) >= 0 && access(web_dir, R_OK) < 0) {
		free(web_dir);
		web_dir = strdup("/usr/share/vps/web");
	}
	if (!web_dir) {
		pr_err("--web `%s`: %s", web, strerror(errno));
		return 2;
	}
	h.web_dir = web_dir;
	if (asprintf(&api_doc, "%s/../docs/openapi.json", web_dir) >= 0 &&
	    access(api_doc, R_OK) < 0) {
		free(api_doc);
		if (asprintf(&api_doc, "%s/openapi.json", web_dir) < 0)
			api_doc = NULL;
	}
	h.api_doc = api_doc;
	if (access(h.mktemplate, X_OK) < 0) {
		free(h.mktemplate);
		h.mktemplate = strdup("/usr/lib/vps/mktemplate");
	}
	if (getenv("VPS_MKVMTEMPLATE") && *getenv("VPS_MKVMTEMPLATE")) {
		free(h.mkvmtemplate);
		h.mkvmtemplate = strdup(getenv("VPS_MKVMTEMPLATE"));
	} else if (access(h.mkvmtemplate, X_OK) < 0) {
		free(h.mkvmtemplate);
		h.mkvmtemplate = strdup("/usr/lib/vps/mkvmtemplate");
	}
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
	if ((cluster ? store_open_cluster(cluster, node, &h.store, &e) :
		       store_open(db, &h.store, &e)) < 0 ||
	    (op_recover(&h), life_init(&h, &e)) < 0 || reclaim_start(&h, reclaim_below, &e) < 0 ||
	    usage_start(&h, &e) < 0) {
		pr_err("%s", err_msg(e));
		goto out;
	}
	api = api_start_unix(&h, sock ? sock : sock_path, &e);
	if (api && tcp) {
		char addr[64];
		unsigned int port;

		/* 127.0.0.1:8006 or [::1]:8006 */
		if ((sscanf(tcp, "[%63[^]]]:%u", addr, &port) != 2 &&
		     sscanf(tcp, "%63[^:]:%u", addr, &port) != 2) ||
		    port == 0 || port > 65535) {
			err_make(&e, EINVAL, "--tcp: expected ADDR:PORT");
		} else {
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
	usage_stop(&h);
	reclaim_stop();
	life_fini(&h);
	store_close(h.store);
	err_free(&e);
	free(h.bin_dir);
	free(h.mktemplate);
	free(h.mkvmtemplate);
	return status;
}
