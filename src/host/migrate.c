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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "host/auth.h"
#include "host/host.h"
#include "host/keeper.h"
#include "host/kind.h"
#include "host/life.h"
#include "host/migrate.h"
#include "host/node.h"
#include "host/ops.h"
#include "host/peer.h"
#include "host/policy.h"
#include "host/store.h"
#include "host/vps.h"
#include "sys/spawn.h"

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
};

/* tar's checkpoint dots: a MiB archived each; a cancel kills tar (< 0). */
static int pack_dots(const char *data, size_t n, void *arg)
{
	struct pack *pk = arg;

	for (size_t i = 0; i < n; i++)
		if (data[i] == '.')
			pk->done += TAR_CHECKPOINT * 10240ULL;
	op_phase("pack", PACK_END * (double)pk->done / (double)pk->total);
	return op_cancelled() ? -1 : 0;
}

/*
 * Before each chunk of the archive goes: the figure, and a cancel stops it.
 * The last chunk is the point of no return (op_commit): a destination never
 * has the whole archive of a migration that was cancelled.
 */
static int send_progress(unsigned long long sent, size_t next, void *arg)
{
	unsigned long long total = *(unsigned long long *)arg;

	op_phase("send", PACK_END + (SEND_END - PACK_END) * (double)sent / (double)total);
	if (sent + next >= total) {
		if (op_commit(NULL) < 0)
			return -1;
		op_phase("unpack", SEND_END); /* the destination's, once the last chunk is there */
	}
	return op_cancelled() ? -1 : 0;
}

static int cancelled(struct err **err)
{
	return op_cancelled() ? err_make(err, ECANCELED, "cancelled") : 0;
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

int migrate_incoming(struct host *h, const char *name, char **tmp, struct err **err)
{
	char *dir = host_vps_dir(h, name, NULL);
	int fd;

	if (vps_check_name(name, err) < 0) {
		free(dir);
		return -EINVAL;
	}
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
		    const char *want, unsigned long long bytes, json_t **out, struct err **err)
{
	char *into = NULL, *from = NULL, *dir = host_vps_dir(h, name, NULL), *state = NULL;
	bool running = false;
	int r;

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
	if ((running = access(state, F_OK) == 0)) {
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

/*
 * After the move: the monitor of VPS v (now another node's) ended here,
 * and its keeper waited for, without a word to the row: the keeper's end
 * is not a stop of the VPS (life.c leaves a row another node holds alone).
 */
static void end_here(struct host *h, const struct vps *v, const char *run_dir)
{
	const struct kind_ops *o = kind_find(v->kind, v->engine);
	struct err *e = NULL;

	if (o->kill(h, v, &e) < 0)
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
	char sha[65], hdr[128], path[512], loc[PEER_LOCATION_MAX], why[1024] = "";
	unsigned long long bytes = 0;
	unsigned int status = 0;
	double t0 = now_s(), down = 0, dest_up = 0;
	unsigned long long state_bytes = 0;
	bool restart = false, carry = false, there = false;
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
		else if (kind_find(v.kind, v.engine)->migrate_save)
			; /* it moves with its state (paused for the copy) */
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
	if (v.state == VPS_RUNNING && kind_find(v.kind, v.engine)->migrate_save) {
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
	if (v.state != VPS_STOPPED && !carry) {
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
		const char *argv[] = { "tar",	   "--zstd",
				       "--sparse", "--numeric-owner",
				       every,	   "--checkpoint-action=dot",
				       "-cpf",	   tmp,
				       "-C",	   base,
				       name,	   NULL };
		struct pack pk = { .total = disk_bytes(dir) };
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
		r = sys_run(&sp, NULL, err);
		if (op_cancelled()) {
			err_free(err);
			r = err_make(err, ECANCELED, "cancelled");
		}
		if (r < 0)
			goto out;
	}
	if ((r = sha256_file(tmp, sha, &bytes, err)) < 0 || (r = cancelled(err)) < 0)
		goto out;
	op_phase("send", PACK_END);
	if ((fd = open(tmp, O_RDONLY | O_CLOEXEC)) < 0) {
		r = err_make(err, errno, "open `%s`", tmp);
		goto out;
	}
	snprintf(hdr, sizeof(hdr), MIGRATE_SHA_HEADER ": %s\r\n", sha);
	snprintf(path, sizeof(path), "/api/v1/migrations/%s", name);
	if ((r = peer_send_file(h, to, &p, path, fd, bytes, hdr, send_progress, &bytes, &status,
				&ans, err)) < 0) {
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
	dest_up = now_s(); /* a running VM's: it runs there from this answer on */
	/* a running VM runs there from this answer on: never run on here as well */
	there = carry;
	/* the one step that moves it: from here on the row names the destination */
	op_phase("switch", 99);
	if ((r = store_vps_move(h->store, name, h->node, to, err)) < 0) {
		if (there)
			err_wrap(
				err,
				"it runs on node `%s` and its row still names this node, where its "
				"QEMU is left paused: end one of the two by hand",
				to);
		goto out;
	}
	store_event(h->store, name, "migrated", to);
	run_dir = host_vps_run(h, name, NULL);
	if (carry) /* it runs there: its QEMU here ends (its row is b's: kept as it is) */
		end_here(h, &v, run_dir);
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
	if (*out && *why) { /* it went, but not live: why, for the caller */
		json_object_set_new(*out, "live", json_false());
		json_object_set_new(*out, "live_refused", json_string(why));
	}
	r = 0;
out:
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
