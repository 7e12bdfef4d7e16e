// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Migration between nodes (migrate.h, docs/cluster.md "Migration"). The
 * node that holds the VPS packs its directory (tar, sparse, zstd), hashes
 * the archive (SHA-256) and PUTs it to the destination's node-to-node
 * listener (peer.c) with the hash; the destination hashes what it received
 * and unpacks it only when the two agree. Then the row's node changes in
 * one statement, and only then the source lets its copy go: a failure
 * before leaves the VPS where it was, whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gnutls/crypto.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/testpoint.h"
#include "host/auth.h"
#include "host/host.h"
#include "host/keeper.h"
#include "host/kind.h"
#include "host/life.h"
#include "host/migrate.h"
#include "host/migrate_blocks.h"
#include "host/node.h"
#include "host/ops.h"
#include "host/peer.h"
#include "host/policy.h"
#include "host/store.h"
#include "host/vps.h"
#include "sys/spawn.h"
#include "sys/unix.h"

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int run(const char *const *argv, struct err **err)
{
	const struct sys_spawn s = { .argv = (char *const *)argv,
				     .in = SYS_SPAWN_NULL,
				     .out = SYS_SPAWN_NULL,
				     .err = SYS_SPAWN_CAPTURE,
				     .flags = SYS_SPAWN_PATH | SYS_SPAWN_DIE_WITH_PARENT |
					      SYS_SPAWN_CLOSE_FDS };

	return sys_run(&s, NULL, err);
}

/*
 * The phases of a migration as the operation shows them (docs/cluster.md
 * "Progress and cancel"): packing reads the disk (0 to 50%), sending the
 * archive (50 to 95%), the destination unpacking, then the row moves.
 */
#define PACK_END 50.0
#define SEND_END 95.0
#define TAR_CHECKPOINT 100 /* records of 10 KiB: tar prints a dot per MiB it archives */

static unsigned long long tree_bytes;

static int add_blocks(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)path;
	(void)f;
	if (flag == FTW_F && S_ISREG(st->st_mode))
		tree_bytes += (unsigned long long)st->st_blocks * 512;
	return 0;
}

/* The bytes a tree's files hold on disk (what tar --sparse reads): never 0. */
static unsigned long long disk_bytes(const char *dir)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	unsigned long long n;

	pthread_mutex_lock(&lock); /* nftw has no argument: one walk at a time */
	tree_bytes = 0;
	nftw(dir, add_blocks, 16, FTW_PHYS | FTW_MOUNT);
	n = tree_bytes;
	pthread_mutex_unlock(&lock);
	return n ? n : 1;
}

struct pack {
	unsigned long long total, done;
	double scale; /* of the whole figure: a live move's memory follows (LIVE_FROM) */
};

/* tar's checkpoint dots: a MiB archived each; a cancel kills tar (< 0). */
static int pack_dots(const char *data, size_t n, void *arg)
{
	struct pack *pk = arg;

	for (size_t i = 0; i < n; i++)
		if (data[i] == '.')
			pk->done += TAR_CHECKPOINT * 10240ULL;
	op_phase("pack", pk->scale * PACK_END * (double)pk->done / (double)pk->total);
	return op_cancelled() ? -1 : 0;
}

/*
 * Before each chunk of the archive goes: the figure, and a cancel stops it.
 * The last chunk is the point of no return (op_commit): a destination never
 * has the whole archive of a migration that was cancelled.
 */
struct sending {
	unsigned long long total;
	double scale; /* as struct pack's */
	bool live; /* the last chunk is no point of no return: the memory follows */
};

static int send_progress(unsigned long long sent, size_t next, void *arg)
{
	const struct sending *sd = arg;

	op_phase("send",
		 sd->scale * (PACK_END + (SEND_END - PACK_END) * (double)sent / (double)sd->total));
	if (sent + next >= sd->total) {
		if (!sd->live && op_commit(NULL) < 0)
			return -1;
		/* the destination's, once the last chunk is there */
		op_phase("unpack", sd->scale * SEND_END);
	}
	return op_cancelled() ? -1 : 0;
}

/*
 * A live move (docs/cluster.md "A running VM on vps-vmm"): its disks (their
 * requests held, the guest running) go in the archive, the first LIVE_FROM
 * of the figure; its memory with the monitor's pre-copy the rest.
 */
#define LIVE_FROM 40.0

/*
 * A live move's disks (docs/cluster.md): after the copy made while it runs,
 * rounds of what the dirty-block logs took, while it runs, until a round is
 * at most PRECOPY_SMALL bytes or PRECOPY_ROUNDS have gone; then the last
 * one under the hold. A guest that rewrites its disk faster than the link
 * carries it still moves: its last round is larger, the hold longer.
 */
#define PRECOPY_ROUNDS 4
#define PRECOPY_SMALL (8ULL << 20)
#define LIVE_SOCK "out.sock" /* the source's socket, in the run directory's KIND_LIVE_DIR */
#define LIVE_ACCEPT_MS 30000 /* the monitor connects at once: silence this long is a failure */

struct relay {
	int lfd, stop; /* the listening socket; an eventfd: end now */
	struct peer_stream *ps;
	unsigned long long bytes; /* monitor to destination */
	char why[96]; /* how it ended */
};

static void *relay_run(void *arg)
{
	struct relay *rl = arg;
	struct pollfd a[2] = { { rl->lfd, POLLIN, 0 }, { rl->stop, POLLIN, 0 } };
	int fd = -1, pfd = peer_stream_fd(rl->ps);
	char buf[1 << 16];

	if (poll(a, 2, LIVE_ACCEPT_MS) <= 0 || a[1].revents ||
	    (fd = accept4(rl->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		snprintf(rl->why, sizeof(rl->why), "the monitor never connected");
		return NULL;
	}
	for (;;) {
		struct pollfd p[3] = { { fd, POLLIN, 0 },
				       { pfd, POLLIN, 0 },
				       { rl->stop, POLLIN, 0 } };
		ssize_t n;

		if (peer_stream_pending(rl->ps))
			p[1].revents = POLLIN;
		else if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[2].revents) {
			snprintf(rl->why, sizeof(rl->why), "ended by the move");
			break;
		}
		if (p[0].revents) {
			n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				snprintf(rl->why, sizeof(rl->why), "the monitor closed");
				break;
			}
			if (n > 0 && peer_stream_send(rl->ps, buf, (size_t)n) < 0) {
				snprintf(rl->why, sizeof(rl->why), "the destination is gone");
				break;
			}
			rl->bytes += n > 0 ? (unsigned long long)n : 0;
		}
		if (p[1].revents) {
			n = peer_stream_recv(rl->ps, buf, sizeof(buf));
			if (n == 0 || (n < 0 && n != -EAGAIN)) {
				snprintf(rl->why, sizeof(rl->why), "the destination closed");
				break;
			}
			if (n > 0 && send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n) {
				snprintf(rl->why, sizeof(rl->why), "the monitor is gone");
				break;
			}
		}
	}
	close(fd);
	return NULL;
}

static int live_progress(double done, void *arg)
{
	(void)arg;
	op_phase("memory", LIVE_FROM + (99.0 - LIVE_FROM) * done);
	return op_cancelled() ? -1 : 0;
}

/* The disks' barrier of a live move (live_send): the last blocks go, the VM paused. */
struct barrier {
	struct host *h;
	const struct vps *v;
	const char *to;
	const struct principal *p;
	unsigned long long *blocks; /* the round's bytes, at [*rounds] */
	unsigned int *rounds;
	double *down; /* when its disks were held */
};

static int send_blocks(struct host *h, const struct vps *v, const char *to,
		       const struct principal *p, unsigned long long *bytes, struct err **err);

static int at_barrier(void *arg, struct err **err)
{
	struct barrier *b = arg;
	int r;

	*b->down = now_s();
	op_phase("hold", LIVE_FROM + (99.0 - LIVE_FROM) * 0.95);
	r = send_blocks(b->h, b->v, b->to, b->p, &b->blocks[*b->rounds], err);
	(*b->rounds)++;
	return r;
}

/* A live move's stream, from its opening (the destination's monitor waiting) to its end. */
struct live {
	char *dir; /* the run directory's KIND_LIVE_DIR */
	char path[4200]; /* the monitor's socket there */
	struct relay rl;
	bool started; /* the relay's thread runs */
	pthread_t t;
};

/* End what live_open and live_run left: the relay, the socket, the stream. */
static void live_close(const struct vps *v, struct live *lv)
{
	if (lv->started) {
		if (eventfd_write(lv->rl.stop, 1) < 0)
			pr_err("migrate VPS `%s`: end the relay", v->name);
		pthread_join(lv->t, NULL);
		lv->started = false;
	}
	if (lv->rl.lfd >= 0) {
		close(lv->rl.lfd);
		unlink(lv->path);
	}
	if (lv->rl.stop >= 0)
		close(lv->rl.stop);
	peer_stream_close(lv->rl.ps);
	lv->rl = (struct relay){ .lfd = -1, .stop = -1 };
	free(lv->dir);
	lv->dir = NULL;
}

/*
 * Open running VPS v's stream to node `to`: a socket in its run directory
 * for its monitor, and the stream to `to`'s (GET /migrations/NAME/stream
 * starts its monitor, waiting, and names a port of vpsd's own TLS there and
 * a ticket: peer_stream_dial, the member certificates). Opened before the
 * hold, so the destination's monitor starts while the guest's disk still
 * serves; live_close ends it if the move goes no further.
 */
static int live_open(struct host *h, const struct vps *v, const char *to, const struct principal *p,
		     struct live *lv, struct err **err)
{
	char url[320], loc[PEER_LOCATION_MAX];
	const char *ticket;
	json_int_t port;
	unsigned int status = 0;
	json_t *ans = NULL;
	struct stat st;
	int r;

	*lv = (struct live){ .rl = { .lfd = -1, .stop = -1 } };
	lv->dir = host_vps_run(h, v->name, KIND_LIVE_DIR);
	if (!lv->dir || stat(lv->dir, &st) < 0) {
		r = err_make(err, errno ? errno : ENOMEM,
			     "VPS `%s`: its monitor has no migrate directory (started before live "
			     "moves were: restart it once)",
			     v->name);
		goto out;
	}
	snprintf(lv->path, sizeof(lv->path), "%s/" LIVE_SOCK, lv->dir);
	if ((lv->rl.lfd = unix_listen(lv->path, 0600, SOCK_NONBLOCK, 1)) < 0 ||
	    chown(lv->path, st.st_uid, st.st_gid) < 0) {
		r = err_make(err, lv->rl.lfd < 0 ? -lv->rl.lfd : errno, "listen at `%s`", lv->path);
		goto out;
	}
	snprintf(url, sizeof(url), "/api/v1/migrations/%s/stream", v->name);
	if ((r = peer_forward(h, to, p, "GET", url, NULL, &status, &ans, loc, err)) < 0)
		goto out;
	if (status != 200) {
		const char *m = json_string_value(
			json_object_get(json_object_get(ans, "error"), "message"));

		r = err_make(err, EIO, "node `%s` refused the stream (%u): %s", to, status,
			     m ? m : "no reason");
		goto out;
	}
	port = json_integer_value(json_object_get(ans, "port"));
	ticket = json_string_value(json_object_get(ans, "ticket"));
	if (port <= 0 || port > 65535 || !ticket) {
		r = err_make(err, EPROTO, "node `%s`: the stream's answer names no port and ticket",
			     to);
		goto out;
	}
	testpoint("migrate-live-dial", v->name);
	r = peer_stream_dial(h, to, (unsigned int)port, ticket, &lv->rl.ps, err);
out:
	json_decref(ans);
	if (r < 0)
		live_close(v, lv);
	return r;
}

/*
 * The memory of running VPS v over the opened stream: relayed between its
 * monitor and the destination while the monitor's pre-copy runs
 * (live_send). *left once the monitor handed the VM over; then `to` is
 * asked whether it runs it (GET /migrations/NAME), its figures in *fig.
 */
static int live_run(struct host *h, const struct vps *v, const struct kind_ops *ko, const char *to,
		    const struct principal *p, struct live *lv,
		    int (*barrier)(void *arg, struct err **err), void *barrier_arg, bool *left,
		    json_t **fig, struct err **err)
{
	char url[320], loc[PEER_LOCATION_MAX];
	unsigned int status = 0;
	json_t *ans = NULL;
	int r;

	*left = false;
	*fig = NULL;
	if ((lv->rl.stop = eventfd(0, EFD_CLOEXEC)) < 0 ||
	    pthread_create(&lv->t, NULL, relay_run, &lv->rl)) {
		r = err_make(err, errno ? errno : EAGAIN, "the relay");
		goto out;
	}
	lv->started = true;
	testpoint("migrate-live-stream", v->name);
	r = ko->live_send(h, v, LIVE_SOCK, live_progress, barrier_arg, barrier, err);
	if (r == 0) {
		*left = true;
		/* its last bytes (GO) flushed, the monitor gone: the relay ends by itself */
		for (int i = 0; i < 200 && !*lv->rl.why; i++)
			usleep(10000);
	}
	if (eventfd_write(lv->rl.stop, 1) < 0)
		pr_err("migrate VPS `%s`: end the relay: %s", v->name, strerror(errno));
	pthread_join(lv->t, NULL);
	lv->started = false;
	if (r < 0) {
		if (*lv->rl.why)
			err_wrap(err, "the stream: %s", lv->rl.why);
		goto out;
	}
	testpoint("migrate-live-left", v->name);
	snprintf(url, sizeof(url), "/api/v1/migrations/%s", v->name);
	if ((r = peer_forward(h, to, p, "GET", url, NULL, &status, &ans, loc, err)) < 0)
		goto out;
	if (status != 200 || !json_is_true(json_object_get(ans, "running"))) {
		const char *m = json_string_value(
			json_object_get(json_object_get(ans, "error"), "message"));

		r = err_make(err, EIO, "node `%s` does not confirm it runs it (%u): %s", to, status,
			     m ? m : "no reason");
		goto out;
	}
	*fig = json_incref(json_object_get(json_object_get(ans, "migration"), "incoming"));
	r = 0;
out:
	live_close(v, lv);
	json_decref(ans);
	return r;
}

static int cancelled(struct err **err)
{
	return op_cancelled() ? err_make(err, ECANCELED, "cancelled") : 0;
}

static int sha256_file(const char *path, char hex[65], unsigned long long *size, struct err **err);

/*
 * What running VPS v's dirty-block logs took since the last take, as a blocks
 * file (migrate_blocks.h) PUT to node `to` over the images its archive
 * brought there; *bytes: the blocks' data.
 */
static int send_blocks(struct host *h, const struct vps *v, const char *to,
		       const struct principal *p, unsigned long long *bytes, struct err **err)
{
	const struct kind_ops *ko = kind_find(v->kind, v->engine);
	char sha[65], hdr[200], path[320];
	unsigned long long size = 0;
	unsigned int status = 0;
	json_t *ans = NULL;
	char *tmp = NULL;
	int fd = -1, r;

	*bytes = 0;
	if (asprintf(&tmp, "%s/.migrate-blocks-%s", h->data_dir, v->name) < 0)
		return err_make(err, ENOMEM, "migration");
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
		r = err_make(err, errno, "open `%s`", tmp);
		goto out;
	}
	if ((r = ko->live_blocks(h, v, KIND_BLOCKS_TAKE, fd, bytes, err)) < 0)
		goto out;
	if (!*bytes) /* nothing written since: no round trip (at the barrier, it is the pause) */
		goto out;
	if ((r = sha256_file(tmp, sha, &size, err)) < 0)
		goto out;
	if (lseek(fd, 0, SEEK_SET) < 0) {
		r = err_make(err, errno, "`%s`", tmp);
		goto out;
	}
	snprintf(hdr, sizeof(hdr), MIGRATE_SHA_HEADER ": %s\r\n" MIGRATE_BLOCKS_HEADER ": 1\r\n",
		 sha);
	snprintf(path, sizeof(path), "/api/v1/migrations/%s", v->name);
	if ((r = peer_send_file(h, to, p, path, fd, size, hdr, NULL, NULL, &status, &ans, err)) < 0)
		goto out;
	if (status != 200) {
		const char *m = json_string_value(
			json_object_get(json_object_get(ans, "error"), "message"));

		r = err_make(err, EIO, "node `%s` refused the disk blocks (%u): %s", to, status,
			     m ? m : "no reason");
	}
out:
	if (fd >= 0)
		close(fd);
	if (tmp)
		unlink(tmp);
	free(tmp);
	json_decref(ans);
	return r;
}

/* SHA-256 of the file at path (hex, 65 bytes), and its size. */
static int sha256_file(const char *path, char hex[65], unsigned long long *size, struct err **err)
{
	gnutls_hash_hd_t hd;
	unsigned char d[32], buf[1 << 16];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_make(err, errno, "open `%s`", path);
	if (gnutls_hash_init(&hd, GNUTLS_DIG_SHA256) < 0) {
		close(fd);
		return err_make(err, EIO, "sha256");
	}
	*size = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		gnutls_hash(hd, buf, (size_t)n);
		*size += (unsigned long long)n;
	}
	gnutls_hash_deinit(hd, d);
	close(fd);
	if (n < 0)
		return err_make(err, errno, "read `%s`", path);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return 0;
}

/*
 * A live arrival's directory (LIFE_ARRIVING) that nothing of runs here: a
 * move that broke off while this vpsd was away. The VPS runs at its source;
 * the copy goes, so that the next move can come.
 */
static void arrival_leftover(struct host *h, const char *name, const char *dir)
{
	char mark[4200];
	char *run = host_vps_run(h, name, NULL);

	snprintf(mark, sizeof(mark), "%s/" LIFE_ARRIVING, dir);
	if (run && access(mark, F_OK) == 0 && keeper_pid(run, name) < 0) {
		pr_info("VPS `%s`: the copy a live move left here goes", name);
		life_rm_rf(dir);
	}
	free(run);
}

/* The row of VPS name names node `from`, where it runs: a live move from there may come. */
static int live_from_ok(struct host *h, const char *name, const char *from, struct err **err)
{
	struct vps v;
	int r;

	vps_init(&v);
	if (!from || !*from)
		r = err_make(err, EPERM, "VPS `%s`: a live move comes from a member node only",
			     name);
	else if ((r = store_vps_get(h->store, name, &v, err)) < 0)
		;
	else if (strcmp(v.node, from) || (h->node && !strcmp(v.node, h->node)))
		r = err_make(err, EPERM,
			     "VPS `%s`: its row names node `%s`, not `%s`: no live move of it "
			     "comes from there",
			     name, v.node, from);
	else if (v.state != VPS_RUNNING)
		r = err_make(err, EBUSY, "VPS `%s` is %s on node `%s`: nothing runs to move", name,
			     vps_state_name(v.state), v.node);
	vps_free(&v);
	return r;
}

int migrate_incoming(struct host *h, const char *name, char **tmp, struct err **err)
{
	char *dir = host_vps_dir(h, name, NULL);
	int fd;

	if (vps_check_name(name, err) < 0) {
		free(dir);
		return -EINVAL;
	}
	if (dir)
		arrival_leftover(h, name, dir);
	if (!dir || access(dir, F_OK) == 0) {
		free(dir);
		return err_make(err, EEXIST, "VPS `%s`: this node has its directory already", name);
	}
	free(dir);
	if (asprintf(tmp, "%s/.migrate-in-%s.tar.zst", h->data_dir, name) < 0)
		return *tmp = NULL, err_make(err, ENOMEM, "migration");
	fd = open(*tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_make(err, errno, "open `%s`", *tmp);
		free(*tmp);
		*tmp = NULL;
	}
	return fd;
}

/*
 * A running VM's arrival (docs/cluster.md "A running VM on QEMU"): its
 * monitor started here from the state the source saved into the archive,
 * the row untouched (the source's until it moves it), running when this
 * returns 0. Whatever fails, nothing of it runs here after.
 */
static int arrive(struct host *h, struct vps *v, void *arg, struct err **err)
{
	if (!*v->node || (h->node && !strcmp(v->node, h->node)))
		return err_make(err, EPERM,
				"VPS `%s`: its row names this node: it arrives from none", v->name);
	if (v->state != VPS_RUNNING)
		return err_make(err, EBUSY, "VPS `%s` is %s on node `%s`: nothing runs to move",
				v->name, vps_state_name(v->state), v->node);
	v->incoming = true;
	v->restore = arg; /* the dir that holds `state` */
	return life_start_held(h, v, err);
}

int migrate_receive(struct host *h, const char *name, const char *tmp, const char *got,
		    const char *want, unsigned long long bytes, const char *live_from, json_t **out,
		    struct err **err)
{
	char *into = NULL, *from = NULL, *dir = host_vps_dir(h, name, NULL), *state = NULL;
	bool running = false;
	int r;

	if (live_from && (r = live_from_ok(h, name, live_from, err)) < 0) {
		unlink(tmp);
		free(dir);
		return err_wrap(err, "receive VPS `%s`", name);
	}
	if (!want || strcasecmp(got, want)) {
		unlink(tmp);
		free(dir);
		return err_make(err, EBADMSG,
				"VPS `%s`: the archive's checksum is %s, the sender's %s: the copy "
				"is dropped, the VPS stays where it is",
				name, got, want ? want : "(none)");
	}
	if (!dir || asprintf(&into, "%s/.migrate-in-%s.d", h->data_dir, name) < 0 ||
	    asprintf(&from, "%s/%s", into, name) < 0) {
		r = err_make(err, ENOMEM, "migration");
		goto out;
	}
	life_rm_rf(into);
	if (mkdir(into, 0700) < 0) {
		r = err_make(err, errno, "mkdir `%s`", into);
		goto out;
	}
	{
		const char *argv[] = { "tar", "--zstd", "--sparse", "--numeric-owner", "-xpf", tmp,
				       "-C",  into,	NULL };

		if ((r = run(argv, err)) < 0)
			goto out;
	}
	if (rename(from, dir) < 0) {
		r = err_make(err, errno, "move `%s` to `%s`", from, dir);
		goto out;
	}
	/* a running VM's state came with it: it runs here before the answer, or nothing stays */
	if (asprintf(&state, "%s/" MIGRATE_STATE_DIR, dir) < 0) {
		r = err_make(err, ENOMEM, "migration");
		goto out;
	}
	if (live_from) { /* its state follows as a stream (migrate_stream_in) */
		char mark[4200];
		int fd;

		life_rm_rf(state); /* a live move's archive carries none: never taken in */
		snprintf(mark, sizeof(mark), "%s/" LIFE_ARRIVING, dir);
		if ((fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0) {
			r = err_make(err, errno, "mark `%s`", mark);
			life_rm_rf(dir);
			goto out;
		}
		close(fd);
	} else if ((running = access(state, F_OK) == 0)) {
		r = life_with(h, name, arrive, state, err);
		life_rm_rf(state);
		if (r < 0) {
			life_rm_rf(dir);
			goto out;
		}
	}
	*out = json_pack("{s:s, s:I, s:s, s:b}", "name", name, "bytes", (json_int_t)bytes, "sha256",
			 got, "running", running);
	r = *out ? 0 : err_make(err, ENOMEM, "migration");
out:
	if (r < 0)
		err_wrap(err, "receive VPS `%s`", name);
	unlink(tmp);
	if (into)
		life_rm_rf(into);
	free(into);
	free(from);
	free(state);
	free(dir);
	return r;
}

int migrate_blocks_incoming(struct host *h, const char *name, char **tmp, struct err **err)
{
	int fd;

	if (vps_check_name(name, err) < 0)
		return -EINVAL;
	if (asprintf(tmp, "%s/.migrate-blocks-in-%s", h->data_dir, name) < 0)
		return *tmp = NULL, err_make(err, ENOMEM, "migration");
	fd = open(*tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err_make(err, errno, "open `%s`", *tmp);
		free(*tmp);
		*tmp = NULL;
	}
	return fd;
}

static int arriving(struct host *h, const char *name, struct err **err);

int migrate_blocks_in(struct host *h, const char *name, const char *tmp, const char *got,
		      const char *want, const char *from, json_t **out, struct err **err)
{
	char *dir = NULL;
	const struct kind_ops *ko;
	unsigned long long bytes = 0;
	unsigned int ranges = 0;
	int dfd = -1, in = -1, r;
	struct vps v;

	*out = NULL;
	vps_init(&v);
	if ((r = live_from_ok(h, name, from, err)) < 0 || (r = arriving(h, name, err)) < 0 ||
	    (r = store_vps_get(h->store, name, &v, err)) < 0)
		goto out;
	if (!want || strcasecmp(got, want)) {
		r = err_make(err, EBADMSG,
			     "the blocks' checksum is %s, the sender's %s: nothing was written",
			     got, want ? want : "(none)");
		goto out;
	}
	ko = kind_find(v.kind, v.engine);
	if (!ko->live_images) {
		r = err_make(err, ENOTSUP, "a %s on %s takes no disk blocks", vps_kind_name(v.kind),
			     vps_engine_name(v.engine));
		goto out;
	}
	/*
	 * Its monitor may be taking the state already: the last blocks come at
	 * the source's last pass, before it lets GO go. Once the move is
	 * confirmed (migrate_arrived) the arrival mark is gone and no blocks are
	 * taken. Between GO and that, only the VM's holder could send any, which
	 * could have sent any disk in its archive too: nothing is gained there.
	 */
	if (!(dir = host_vps_dir(h, name, NULL)) ||
	    (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    (in = open(tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		r = err_make(err, errno ? errno : ENOMEM, "open `%s`", dfd < 0 && dir ? dir : tmp);
		goto out;
	}
	if ((r = migrate_blocks_apply(dfd, in, ko->live_images, &bytes, &ranges, err)) < 0)
		goto out;
	*out = json_pack("{s:I, s:i}", "bytes", (json_int_t)bytes, "ranges", (int)ranges);
	r = *out ? 0 : err_make(err, ENOMEM, "migration");
out:
	if (r < 0)
		err_wrap(err, "VPS `%s`'s disk blocks", name);
	if (dfd >= 0)
		close(dfd);
	if (in >= 0)
		close(in);
	unlink(tmp);
	free(dir);
	vps_free(&v);
	return r;
}

/* A live arrival's start: its monitor waits at arg (a socket path) for the stream. */
static int arrive_live(struct host *h, struct vps *v, void *arg, struct err **err)
{
	v->incoming = true;
	v->stream_in = arg;
	return life_start_held(h, v, err);
}

/* Its directory is here, marked as a live arrival: the copy came, the move is under way. */
static int arriving(struct host *h, const char *name, struct err **err)
{
	char *mark = host_vps_dir(h, name, LIFE_ARRIVING);
	bool yes = mark && access(mark, F_OK) == 0;

	free(mark);
	return yes ? 0 :
		     err_make(err, EPERM,
			      "VPS `%s`: no live move of it is under way to this node (its copy "
			      "did not come first)",
			      name);
}

int migrate_stream_in(struct host *h, const char *name, const char *from, char **sock,
		      struct err **err)
{
	char *run = NULL;
	int r;

	*sock = NULL;
	if (vps_check_name(name, err) < 0)
		return -EINVAL;
	if ((r = live_from_ok(h, name, from, err)) < 0 || (r = arriving(h, name, err)) < 0)
		goto out;
	if (!(run = host_vps_run(h, name, NULL)) || asprintf(sock, "%s/migrate-in.sock", run) < 0) {
		*sock = NULL;
		r = err_make(err, ENOMEM, "migration");
		goto out;
	}
	if (keeper_pid(run, name) > 0) {
		r = err_make(err, EBUSY, "VPS `%s`: its monitor runs here already", name);
		goto out;
	}

	testpoint("migrate-stream-in", name);
	r = life_with(h, name, arrive_live, *sock, err);
out:
	free(run);
	if (r < 0) {
		free(*sock);
		*sock = NULL;
		err_wrap(err, "take VPS `%s`'s live stream", name);
	}
	return r;
}

int migrate_arrived(struct host *h, const char *name, const char *from, json_t **out,
		    struct err **err)
{
	char *mark = NULL;
	struct vps v;
	int r;

	*out = NULL;
	vps_init(&v);
	if (vps_check_name(name, err) < 0)
		return -EINVAL;
	if ((r = live_from_ok(h, name, from, err)) < 0 || (r = arriving(h, name, err)) < 0 ||
	    (r = store_vps_get(h->store, name, &v, err)) < 0)
		goto out;
	/* up when its monitor says it runs: after GO, the control loop answers */
	for (int t = 0; t < 10000; t += 50) {
		json_t *st = json_object();
		const char *s;

		kind_find(v.kind, v.engine)->status(h, &v, st);
		s = json_string_value(json_object_get(json_object_get(st, "monitor"), "state"));
		if (s && !strcmp(s, "running")) {
			*out = json_pack("{s:b, s:O*}", "running", 1, "migration",
					 json_object_get(json_object_get(st, "stats"),
							 "migration"));
			json_decref(st);
			break;
		}
		json_decref(st);
		usleep(50000);
	}
	if (!*out) {
		r = err_make(err, EIO, "VPS `%s`: its monitor here does not run it", name);
		goto out;
	}
	mark = host_vps_dir(h, name, LIFE_ARRIVING);
	if (mark)
		unlink(mark); /* it runs here: a monitor's end is a stop from now on */
	r = 0;
out:
	free(mark);
	vps_free(&v);
	if (r < 0)
		err_wrap(err, "VPS `%s`'s arrival", name);
	return r;
}

/*
 * After the move: the monitor of VPS v (now another node's) ended here,
 * and its keeper waited for, without a word to the row: the keeper's end
 * is not a stop of the VPS (life.c leaves a row another node holds alone).
 */
static void end_here(struct host *h, const struct vps *v, const char *run_dir, bool kill)
{
	const struct kind_ops *o = kind_find(v->kind, v->engine);
	struct err *e = NULL;

	/* a live move's monitor left by itself (MONITOR_EXIT_MIGRATED) */
	if (kill && o->kill(h, v, &e) < 0)
		pr_err("migrate VPS `%s`: end its monitor here: %s", v->name, err_msg(e));
	err_free(&e);
	for (int t = 0; run_dir && t < 30000 && keeper_pid(run_dir, v->name) > 0; t += 50)
		usleep(50000);
	if (o->keeper_gone)
		o->keeper_gone(h, v->name); /* what is left in its cgroup */
}

/* `live` a boolean; `fallback` "restart", and only with `live`: true. */
static int live_fields(json_t *live, json_t *fb, struct err **err)
{
	if (live && !json_is_boolean(live))
		return err_make(err, EINVAL, "`live`: expected true or false");
	if (fb && (!json_is_string(fb) || strcmp(json_string_value(fb), "restart")))
		return err_make(err, EINVAL, "`fallback`: expected \"restart\"");
	if (fb && !json_is_true(live))
		return err_make(err, EINVAL, "`fallback`: only with `live`: true");
	return 0;
}

int migrate_vps(struct host *h, const char *name, json_t *body, const char *user, json_t **out,
		struct err **err)
{
	const char *to = json_string_value(json_object_get(body, "to"));
	json_t *live = json_object_get(body, "live"), *fb = json_object_get(body, "fallback");
	struct principal p = { .admin = true };
	struct vps v;
	json_t *nodes = NULL, *n, *ans = NULL;
	char *tmp = NULL, *pool = NULL, *dir = host_vps_dir(h, name, NULL), *run_dir = NULL;
	struct sending sd;
	char sha[65], hdr[160], path[512], loc[PEER_LOCATION_MAX], why[1024] = "";
	unsigned long long bytes = 0;
	unsigned int status = 0;
	double t0 = now_s(), down = 0, dest_up = 0;
	unsigned long long state_bytes = 0, blocks[PRECOPY_ROUNDS + 1] = { 0 };
	unsigned int rounds = 0;
	bool restart = false, carry = false, there = false, stream = false, left = false;
	bool logging = false;
	unsigned long long scratch;
	struct live lv = { .rl = { .lfd = -1, .stop = -1 } };
	json_t *fig = NULL;
	char *state = NULL;
	int r, fd = -1;

	*out = NULL;
	vps_init(&v);
	op_cancellable(true);
	op_phase("check", 0);
	snprintf(p.user, sizeof(p.user), "%s", user ? user : AUTH_LOCAL_USER);
	snprintf(p.source, sizeof(p.source), "node %s", h->node ? h->node : "");
	if (!h->node || !h->peer) {
		r = err_make(
			err, EBUSY,
			"migration is between the nodes of a cluster (vpsd --cluster, --peer): "
			"this host is on its own");
		goto out;
	}
	if (!to || !*to || !strcmp(to, h->node)) {
		r = err_make(err, EINVAL, "`to`: expected another node's name");
		goto out;
	}
	if ((r = live_fields(live, fb, err)) < 0)
		goto out;
	nodes = node_list(h, err);
	n = nodes ? node_find(nodes, to) : NULL;
	if (!n || strcmp(json_string_value(json_object_get(n, "state")), "online") ||
	    !*json_string_value(json_object_get(n, "peer"))) {
		r = err_make(err, n ? EBUSY : EINVAL, "`to`: node `%s` %s", to,
			     !n ? "does not exist" :
			     strcmp(json_string_value(json_object_get(n, "state")), "online") ?
				  "is not online" :
				  "has no node-to-node listener (--peer)");
		json_decref(n);
		goto out;
	}
	json_decref(n);
	if ((r = store_vps_get(h->store, name, &v, err)) < 0)
		goto out;
	if ((pool = store_vps_pool(h->store, name))) {
		r = err_make(err, ENOTSUP, "VPS `%s` is in pool `%s`: only the default pool's move",
			     name, pool);
		goto out;
	}
	if (json_is_true(live)) {
		/* asked to keep it running: refused, or a restart with the reason said */
		if (v.state != VPS_RUNNING)
			snprintf(why, sizeof(why), "it is %s: there is no running state to keep",
				 vps_state_name(v.state));
		else if (kind_find(v.kind, v.engine)->migrate_save ||
			 kind_find(v.kind, v.engine)->live_send)
			; /* it moves with its state (live, or paused for the copy) */
		else if (!kind_find(v.kind, v.engine)->restart_migrate)
			snprintf(why, sizeof(why),
				 "the live move of a running %s on %s is not built here",
				 vps_kind_name(v.kind), vps_engine_name(v.engine));
		else
			migrate_live_ready(h, why, sizeof(why));
	}
	if (*why) {
		if (!json_is_string(fb)) {
			r = err_make(err, MIGRATE_ENOLIVE,
				     "VPS `%s` cannot move live: %s; it was left as it was (a "
				     "running container moves by a restart without `live`, or "
				     "with `fallback`: `restart`, the downtime reported)",
				     name, why);
			goto out;
		}
		pr_info("migrate VPS `%s`: not live: %s: it moves %s", name, why,
			v.state == VPS_RUNNING ? "by a restart" : "as it is");
	}
	if (v.state == VPS_RUNNING && kind_find(v.kind, v.engine)->live_send) {
		const struct kind_ops *ko = kind_find(v.kind, v.engine);
		struct err *e = NULL;

		/*
		 * live: the disks go while it runs, their dirty-block logs on, then
		 * what they took (below); without logs, its disk requests wait
		 * while the disks go. Then its memory streams.
		 */
		if (ko->live_blocks &&
		    ko->live_blocks(h, &v, KIND_BLOCKS_START, -1, &scratch, &e) == 0) {
			logging = true;
		} else {
			if (ko->live_blocks)
				pr_warn("migrate VPS `%s`: no dirty-block log (%s): its disk requests "
					"wait while the disks go",
					name, err_msg(e));
			err_free(&e);
			down = now_s();
			op_phase("hold", 0);
			if ((r = ko->live_hold(h, &v, true, err)) < 0)
				goto out;
		}
		stream = true;
	} else if (v.state == VPS_RUNNING && kind_find(v.kind, v.engine)->migrate_save) {
		/* paused, its whole state saved into its directory: the archive carries it */
		const struct kind_ops *ko = kind_find(v.kind, v.engine);
		int sfd;

		down = now_s();
		carry = true;
		op_phase("save", 0);
		if (asprintf(&state, "%s/" MIGRATE_STATE_DIR, dir) < 0) {
			state = NULL;
			r = err_make(err, ENOMEM, "migration");
			goto out;
		}
		life_rm_rf(state);
		if (mkdir(state, 0700) < 0) {
			r = err_make(err, errno, "mkdir `%s`", state);
			goto out;
		}
		snprintf(path, sizeof(path), "%s/state", state);
		if ((sfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) <
		    0) {
			r = err_make(err, errno, "open `%s`", path);
			goto out;
		}
		r = ko->migrate_save(h, &v, sfd, err);
		if (r == 0 && fsync(sfd) < 0)
			r = err_make(err, errno, "fsync `%s`", path);
		close(sfd);
		if (r < 0)
			goto out;
		{
			struct stat st;

			if (stat(path, &st) == 0)
				state_bytes = (unsigned long long)st.st_size;
		}
	} else if (v.state == VPS_RUNNING && kind_find(v.kind, v.engine)->restart_migrate) {
		/* a restart migration: the downtime runs from here to the start there */
		down = now_s();
		restart = true;
		op_phase("stop", 0);
		if ((r = life_stop(h, name, false, 30, err)) < 0)
			goto out;
		vps_free(&v);
		vps_init(&v);
		if ((r = store_vps_get(h->store, name, &v, err)) < 0)
			goto out;
	}
	if (v.state != VPS_STOPPED && !carry && !stream) {
		r = err_make(err, EBUSY,
			     "VPS `%s` is %s: a stopped VPS, a running container or a running VM "
			     "on QEMU moves",
			     name, vps_state_name(v.state));
		goto out;
	}
	if ((r = cancelled(err)) < 0)
		goto out;
	if (asprintf(&tmp, "%s/.migrate-out-%s.tar.zst", h->data_dir, name) < 0) {
		tmp = NULL;
		r = err_make(err, ENOMEM, "migration");
		goto out;
	}
	{
		char base[4200], every[32];
		/* copied while it writes: the logs have what changed, tar need not say so */
		const char *argv[] = { "tar",
				       "--zstd",
				       "--sparse",
				       "--numeric-owner",
				       every,
				       "--checkpoint-action=dot",
				       logging ? "--warning=no-file-changed" : "--warning=all",
				       "-cpf",
				       tmp,
				       "-C",
				       base,
				       name,
				       NULL };
		struct sys_spawn_result res = { 0 };
		struct pack pk = { .total = disk_bytes(dir),
				   .scale = stream ? LIVE_FROM / 100 : 1 };
		const struct sys_spawn sp = { .argv = (char *const *)argv,
					      .in = SYS_SPAWN_NULL,
					      .out = SYS_SPAWN_CAPTURE,
					      .err = SYS_SPAWN_CAPTURE,
					      .on_out = pack_dots,
					      .on_out_arg = &pk,
					      .flags = SYS_SPAWN_PATH | SYS_SPAWN_DIE_WITH_PARENT |
						       SYS_SPAWN_CLOSE_FDS };

		snprintf(every, sizeof(every), "--checkpoint=%d", TAR_CHECKPOINT);
		snprintf(base, sizeof(base), "%s/vps", h->data_dir);
		op_phase("pack", 0);
		r = sys_spawn(&sp, &res, err);
		/* 1: a file changed as tar read it, which the dirty-block logs cover */
		if (r > 1 || (r == 1 && !logging))
			r = err_make(err, EIO, "tar exited with status %d: %s", r,
				     res.err && *res.err ? res.err : "no message");
		sys_spawn_result_free(&res);
		if (op_cancelled()) {
			err_free(err);
			r = err_make(err, ECANCELED, "cancelled");
		}
		if (r < 0)
			goto out;
	}
	if ((r = sha256_file(tmp, sha, &bytes, err)) < 0 || (r = cancelled(err)) < 0)
		goto out;
	op_phase("send", (stream ? LIVE_FROM / 100 : 1) * PACK_END);
	if ((fd = open(tmp, O_RDONLY | O_CLOEXEC)) < 0) {
		r = err_make(err, errno, "open `%s`", tmp);
		goto out;
	}
	snprintf(hdr, sizeof(hdr), MIGRATE_SHA_HEADER ": %s\r\n%s", sha,
		 stream ? MIGRATE_LIVE_HEADER ": 1\r\n" : "");
	snprintf(path, sizeof(path), "/api/v1/migrations/%s", name);
	sd = (struct sending){ bytes, stream ? LIVE_FROM / 100 : 1, stream };
	if ((r = peer_send_file(h, to, &p, path, fd, bytes, hdr, send_progress, &sd, &status, &ans,
				err)) < 0) {
		if (op_cancelled()) {
			err_free(err);
			r = err_make(err, ECANCELED, "cancelled");
		}
		goto out;
	}
	if (status != 201) {
		const char *m = json_string_value(
			json_object_get(json_object_get(ans, "error"), "message"));

		r = err_make(err, EIO, "node `%s` refused the copy (%u): %s", to, status,
			     m ? m : "no reason");
		goto out;
	}
	/*
	 * The blocks written while the disks went, round after round while it
	 * runs, until a round is small; then the destination's monitor starts
	 * (the stream opened) and the memory goes, the disks serving until its
	 * last pass, when they are held and the last round goes (at_barrier).
	 */
	while (logging && rounds < PRECOPY_ROUNDS &&
	       (rounds == 0 || blocks[rounds - 1] > PRECOPY_SMALL)) {
		op_phase("blocks", LIVE_FROM - 2);
		if ((r = cancelled(err)) < 0 ||
		    (r = send_blocks(h, &v, to, &p, &blocks[rounds], err)) < 0)
			goto out;
		rounds++;
	}
	if (stream) {
		struct barrier b = { h, &v, to, &p, blocks, &rounds, &down };

		op_phase("start there", LIVE_FROM - 1);
		if ((r = live_open(h, &v, to, &p, &lv, err)) < 0 ||
		    (r = live_run(h, &v, kind_find(v.kind, v.engine), to, &p, &lv,
				  logging ? at_barrier : NULL, &b, &left, &fig, err)) < 0)
			goto out;
	}
	dest_up = now_s(); /* a running VM's: it runs there from this answer on */
	/* a running VM runs there from this answer on: never run on here as well */
	there = carry || stream;
	/* the one step that moves it: from here on the row names the destination */
	op_phase("switch", 99);
	if ((r = store_vps_move(h->store, name, h->node, to, err)) < 0) {
		if (there)
			err_wrap(
				err,
				"it runs on node `%s` and its row still names this node, where %s: "
				"end one of the two by hand",
				to,
				stream ? "its monitor handed it over and left" :
					 "its QEMU is left paused");
		goto out;
	}
	store_event(h->store, name, "migrated", to);
	run_dir = host_vps_run(h, name, NULL);
	if (carry || stream) /* it runs there: its monitor here ends (its row is b's: kept) */
		end_here(h, &v, run_dir, carry);
	life_rm_rf(dir);
	if (run_dir)
		life_rm_rf(run_dir);
	*out = json_pack("{s:s, s:s, s:s, s:I, s:s}", "vps", name, "from", h->node, "to", to,
			 "bytes", (json_int_t)bytes, "sha256", sha);
	if (*out && carry) {
		json_object_set_new(*out, "state_kept", json_true());
		json_object_set_new(*out, "state_bytes", json_integer((json_int_t)state_bytes));
		json_object_set_new(*out, "downtime_ms",
				    json_integer((json_int_t)((dest_up - down) * 1000)));
	}
	if (*out && stream) {
		/* the pause is the monitor's (its last pass to GO); the disk requests waited longer */
		json_int_t us = json_integer_value(json_object_get(fig, "downtime_us"));

		json_object_set_new(*out, "state_kept", json_true());
		json_object_set_new(*out, "live", json_true());
		json_object_set_new(*out, "downtime_ms", json_integer((us + 500) / 1000));
		json_object_set_new(*out, "downtime_us", json_integer(us));
		json_object_set_new(*out, "disk_hold_ms",
				    json_integer((json_int_t)((dest_up - down) * 1000)));
		json_object_set_new(
			*out, "memory_bytes",
			json_integer(json_integer_value(json_object_get(fig, "bytes"))));
		json_object_set_new(
			*out, "rounds",
			json_integer(json_integer_value(json_object_get(fig, "rounds"))));
		if (logging) { /* the disks' rounds: bytes each, the last under the hold */
			json_t *b = json_array();

			for (unsigned int i = 0; i < rounds; i++)
				json_array_append_new(b, json_integer((json_int_t)blocks[i]));
			json_object_set_new(*out, "disk_rounds", b);
		}
	}
	if (*out && *why) { /* it went, but not live: why, for the caller */
		json_object_set_new(*out, "live", json_false());
		json_object_set_new(*out, "live_refused", json_string(why));
	}
	r = 0;
out:
	live_close(&v, &lv); /* a stream opened and not run: the destination's monitor ends */
	if (*out && restart) {
		char spath[512];
		json_t *started = NULL, *empty = json_object();

		snprintf(spath, sizeof(spath), "/api/v1/vps/%s/start", name);
		if (peer_forward(h, to, &p, "POST", spath, empty, &status, &started, loc, NULL) ==
			    0 &&
		    status == 200)
			json_object_set_new(*out, "downtime_ms",
					    json_integer((json_int_t)((now_s() - down) * 1000)));
		else
			json_object_set_new(*out, "start_failed", json_true());
		json_decref(started);
		json_decref(empty);
	} else if (r < 0 && restart) {
		life_start(h, name, NULL); /* it stays here: as it was */
	} else if (r < 0 && stream && !left) {
		struct err *e = NULL;

		/* it stays here: its monitor ran on through the failure; its disks serve again */
		if (kind_find(v.kind, v.engine)->live_hold(h, &v, false, &e) < 0) {
			pr_err("migrate VPS `%s`: release its disks here: %s", name, err_msg(e));
			store_event(h->store, name, "migrate-failed", err_msg(e));
		}
		err_free(&e);
		if (logging &&
		    kind_find(v.kind, v.engine)
				    ->live_blocks(h, &v, KIND_BLOCKS_STOP, -1, &scratch, &e) < 0)
			pr_warn("migrate VPS `%s`: end its dirty-block log: %s", name, err_msg(e));
		err_free(&e);
	} else if (r < 0 && stream) {
		/* its monitor here handed it over: whether the destination runs it is not known */
		pr_err("migrate VPS `%s`: its monitor left for node `%s`, which did not confirm it "
		       "runs it",
		       name, to);
		store_event(h->store, name, "migrate-failed",
			    "its monitor left for the destination, which did not confirm");
	} else if (r < 0 && carry && !there) {
		struct err *e = NULL;

		/* it stays here: run on from where it was paused (QEMU takes its disks back) */
		if (kind_find(v.kind, v.engine)->migrate_cont(h, &v, &e) < 0) {
			pr_err("migrate VPS `%s`: run it on here: %s", name, err_msg(e));
			store_event(h->store, name, "migrate-failed", err_msg(e));
		}
		err_free(&e);
	}
	if (state)
		life_rm_rf(state);
	if (*out)
		json_object_set_new(*out, "seconds", json_real(now_s() - t0));
	if (r < 0)
		err_wrap(err, "migrate VPS `%s` to node `%s`", name, to ? to : "?");
	if (fd >= 0)
		close(fd);
	if (tmp)
		unlink(tmp);
	free(tmp);
	free(state);
	free(pool);
	free(dir);
	free(run_dir);
	json_decref(ans);
	json_decref(fig);
	json_decref(nodes);
	vps_free(&v);
	return r;
}

int migrate_evacuate(struct host *h, const char *node, const char *user, json_t **out,
		     struct err **err)
{
	struct principal p = { .admin = true };
	struct vps *all = NULL;
	size_t nr = 0, todo = 0, done = 0;
	json_t *moved = json_array(), *failed = json_array();
	int r;

	*out = NULL;
	snprintf(p.user, sizeof(p.user), "%s", user ? user : AUTH_LOCAL_USER);
	snprintf(p.source, sizeof(p.source), "node %s", h->node ? h->node : "");
	if ((r = store_node_state(h->store, node, "evacuating", err)) < 0 ||
	    (r = store_vps_list(h->store, &all, &nr, err)) < 0)
		goto out;
	for (size_t i = 0; i < nr; i++)
		if (!strcmp(all[i].node, node))
			todo++;
	for (size_t i = 0; i < nr; i++) {
		struct vps v = all[i];
		struct err *e = NULL;
		json_t *body, *ans = NULL;
		char path[320], loc[PEER_LOCATION_MAX];
		unsigned int status = 0;
		int q;

		if (strcmp(v.node, node))
			continue;
		/*
		 * As an operation: each VPS its share of the figure (a migration
		 * run here shows its own within it), and a cancel stops the
		 * migration under way, or the next from starting.
		 */
		op_cancellable(true);
		if (op_cancelled()) {
			json_array_append_new(failed, json_pack("{s:s, s:s}", "vps", v.name,
								"error", "cancelled"));
			continue;
		}
		op_progress_range(100.0 * (double)done / (double)todo,
				  100.0 * (double)(done + 1) / (double)todo);
		op_phase("migrate", 0);
		done++;
		/* where placement would put it now, the evacuating node left out */
		*v.node = 0;
		q = policy_place(h, &v, &e);
		if (q < 0 && q != -EXDEV) {
			json_array_append_new(failed, json_pack("{s:s, s:s}", "vps", v.name,
								"error", err_msg(e)));
			err_free(&e);
			snprintf(all[i].node, sizeof(all[i].node), "%s", node);
			continue;
		}
		err_free(&e);
		body = json_pack("{s:s}", "to", v.node);
		snprintf(path, sizeof(path), "/api/v1/vps/%s/migrate", v.name);
		if (!strcmp(node, h->node)) {
			q = migrate_vps(h, v.name, body, p.user, &ans, &e);
			status = q < 0 ? 500 : 200;
		} else {
			q = peer_forward(h, node, &p, "POST", path, body, &status, &ans, loc, &e);
		}
		if (q == 0 && status == 200) {
			json_array_append_new(moved,
					      json_pack("{s:s, s:s}", "vps", v.name, "to", v.node));
		} else {
			const char *m = json_string_value(
				json_object_get(json_object_get(ans, "error"), "message"));

			json_array_append_new(failed,
					      json_pack("{s:s, s:s}", "vps", v.name, "error",
							e ? err_msg(e) :
							m ? m :
							    "refused"));
		}
		snprintf(all[i].node, sizeof(all[i].node), "%s", node);
		err_free(&e);
		json_decref(ans);
		json_decref(body);
	}
	op_progress_range(0, 100);
	op_cancellable(false);
	*out = json_pack("{s:s, s:O, s:O}", "node", node, "moved", moved, "failed", failed);
	r = *out ? 0 : err_make(err, ENOMEM, "evacuate");
out:
	if (r < 0)
		err_wrap(err, "evacuate node `%s`", node);
	store_vps_list_free(all, nr);
	json_decref(moved);
	json_decref(failed);
	return r;
}

int migrate_restore(struct host *h, const char *node, struct err **err)
{
	return store_node_state(h->store, node, "online", err);
}
