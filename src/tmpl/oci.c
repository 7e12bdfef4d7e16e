// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vps-tmpl-oci: an OCI image layout (a tar of one) turned into a root
 * filesystem tar stream for vps-tmpl-import (docs/templates.md). vpsd runs
 *
 *   vps-tmpl-oci WORK REF MAX -- vps-tmpl-import - OUT --max-bytes MAX
 *
 * WORK is a directory vpsd made for this import and gave to the importer's
 * ids (IMPORT_BASE, 65536 of them: below every container's range), holding
 * `in`, the upload, and `fs`, an ext4 of its own (the upload's size and
 * MAX) where everything is unpacked: its size bounds what the unpack
 * writes in all, RLIMIT_FSIZE (MAX) each file. REF is the tag to unpack (`-`: the only manifest, else
 * `latest`). The layout is the customer's: nothing of it is read by the
 * host's root. A child enters new user, mount, network, IPC and UTS
 * namespaces whose map is `0 IMPORT_BASE 65536` (written here, by the
 * parent), becomes that namespace's root, and pivots into a fresh tmpfs
 * holding only /usr (read-only), /dev/null and WORK at /work: the host's
 * files are out of reach, and those it could still see belong to ids it
 * does not map. There, with no new privileges and a per-file size limit,
 *
 *   1. GNU tar extracts the upload into /work/fs/layout (no owners kept);
 *   2. the layout is checked: only directories and regular files (a
 *      symlink or device is refused), `oci-layout` and `index.json` there,
 *      the manifest chosen by REF, every descriptor's digest of the form
 *      sha256:64-hex (nothing that names a path outside blobs/), every
 *      declared size within MAX;
 *   3. `umoci unpack --rootless` makes /work/fs/rootfs, verifying each
 *      blob's digest and size as it reads it;
 *   4. the image's config (Entrypoint, Cmd, Env, WorkingDir, User), read
 *      after umoci verified it, and the manifest's digest go to the parent
 *      as one JSON line;
 *   5. GNU tar writes the rootfs as a tar stream (numeric owners, the
 *      namespace's ids 0-65535) into PROG's stdin, where every rule of an
 *      upload applies: absolute paths, `..`, devices, owners, size.
 *
 * On success PROG's JSON line is printed (by PROG) and then the image's;
 * on failure the reason is the last line on stderr. `vps-tmpl-oci WORK
 * --probe` (the tests') enters the jail and prints what it can reach.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <ftw.h>
#include <unistd.h>

#include "common/child.h"
#include "common/cleanup.h"

#define IMPORT_BASE 934464U /* the importer's ids: the 65536 below the first container's */
#define IMPORT_SIZE 65536U
#define MAX_JSON (1 << 20) /* index.json, a manifest, a config */
#define MAX_ENTRIES 100000 /* files in the layout */
#define MAX_DEPTH 16
#define MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define REF_NAME "org.opencontainers.image.ref.name"

static int msgfd = 2; /* the jail's messages to the parent */

static _Noreturn void fail(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(msgfd, "E", 1);
	(void)!write(msgfd, buf, (size_t)n);
	_exit(1);
}

/*
 * Run argv in the jail, stdout to `out` (-1: its stderr's pipe too); its
 * status, and the last line it wrote on stderr in `why`.
 */
static int run(char *const *argv, int out, char *why, size_t len)
{
	char buf[65536];
	size_t got = 0;
	ssize_t n;
	int st, e[2];
	pid_t p;

	if (pipe2(e, O_CLOEXEC) < 0)
		return -1;
	p = fork();
	if (p == 0) {
		/* the jail killed (vpsd's deadline): tar and umoci go with it */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || dup2(e[1], 2) < 0 ||
		    dup2(out >= 0 ? out : e[1], 1) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	close(e[1]);
	while ((n = read(e[0], buf + got, sizeof(buf) - 1 - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += (size_t)n;
		if (got > sizeof(buf) / 2) { /* keep the tail */
			memmove(buf, buf + got - 4096, 4096);
			got = 4096;
		}
	}
	close(e[0]);
	buf[got] = 0;
	while (got && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
		buf[--got] = 0;
	{
		const char *last = strrchr(buf, '\n') ? strrchr(buf, '\n') + 1 : buf;
		size_t k = strlen(last) < len ? strlen(last) : len - 1;

		memcpy(why, last, k);
		why[k] = 0;
	}
	if (p < 0)
		return -1;
	while (waitpid(p, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* --- the jail ------------------------------------------------------------------------ */

static void bind_in(const char *from, const char *to, unsigned long extra)
{
	if (mount(from, to, NULL, MS_BIND | MS_REC, NULL) < 0 ||
	    mount(NULL, to, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | extra, NULL) < 0)
		fail("jail: bind `%s`: %s", from, strerror(errno));
}

/* A fresh root: /usr read-only, the merged-/usr links, /dev/null, WORK at /work. */
static void jail(const char *work)
{
	static const char *const links[][2] = { { "usr/bin", "bin" },
						{ "usr/sbin", "sbin" },
						{ "usr/lib", "lib" },
						{ "usr/lib64", "lib64" } };
	char root[4096];

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail("jail: make / private: %s", strerror(errno));
	snprintf(root, sizeof(root), "%s/root", work);
	if (mkdir(root, 0700) < 0 ||
	    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755") < 0 ||
	    chdir(root) < 0)
		fail("jail: its root: %s", strerror(errno));
	if (mkdir("usr", 0755) < 0 || mkdir("dev", 0755) < 0 || mkdir("work", 0700) < 0 ||
	    mkdir("old", 0700) < 0 || close(open("dev/null", O_CREAT | O_WRONLY, 0666)) < 0)
		fail("jail: its directories: %s", strerror(errno));
	for (size_t i = 0; i < ARRAY_SIZE(links); i++)
		if (symlink(links[i][0], links[i][1]) < 0)
			fail("jail: a link: %s", strerror(errno));
	bind_in("/usr", "usr", MS_RDONLY);
	bind_in("/dev/null", "dev/null", 0);
	bind_in(work, "work", MS_NOEXEC);
	if (syscall(SYS_pivot_root, ".", "old") < 0 || chdir("/") < 0 ||
	    umount2("/old", MNT_DETACH) < 0 || rmdir("/old") < 0)
		fail("jail: pivot_root: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) <
	    0)
		fail("jail: read-only root: %s", strerror(errno));
}

/*
 * What tar and umoci keep of the namespace root's capabilities when
 * exec'd: the file ones (owners, modes, reading and writing the namespace's
 * files), not mount, chroot, network or id changes.
 */
static void keep_file_caps(void)
{
	static const int keep[] = { CAP_CHOWN,	CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
				    CAP_FOWNER, CAP_FSETID,	  CAP_SETFCAP };

	for (int c = 0; c < 64; c++) {
		bool k = false;

		for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
			k |= keep[i] == c;
		if (!k && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			fail("drop capability %d: %s", c, strerror(errno));
	}
}

/* --- the layout's checks -------------------------------------------------------------- */

static int entries;

/* Only directories and regular files, each with one link: a symlink blob is refused here. */
static void walk(int dfd, const char *dir, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;

	if (!d)
		fail("`%s`: %s", dir, strerror(errno));
	if (depth > MAX_DEPTH)
		fail("`%s`: deeper than %d: not an OCI layout", dir, MAX_DEPTH);
	while ((e = readdir(d))) {
		char path[4096];
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s%s%s", dir, *dir ? "/" : "", e->d_name);
		if (++entries > MAX_ENTRIES)
			fail("more than %d files in the layout: refused", MAX_ENTRIES);
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			fail("`%s`: %s", path, strerror(errno));
		if (S_ISLNK(st.st_mode))
			fail("`%s`: a symlink in the layout: refused (blobs are files)", path);
		if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);

			if (fd < 0)
				fail("`%s`: %s", path, strerror(errno));
			walk(fd, path, depth + 1);
		} else if (!S_ISREG(st.st_mode)) {
			fail("`%s`: not a file or directory: refused", path);
		}
	}
	closedir(d);
}

static json_t *load(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	json_error_t je;
	struct stat st;
	json_t *j;
	char *buf;

	if (fd < 0)
		fail("`%s`: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_JSON)
		fail("`%s`: not a file of at most %d bytes", path, MAX_JSON);
	buf = calloc(1, (size_t)st.st_size + 1);
	if (!buf || read(fd, buf, (size_t)st.st_size) != st.st_size)
		fail("`%s`: read: %s", path, strerror(errno));
	j = json_loads(buf, 0, &je);
	free(buf);
	if (!json_is_object(j))
		fail("`%s`: not a JSON object: %s", path, je.text);
	return j;
}

/* A descriptor's blob path (blobs/sha256/HEX), its digest and size checked first. */
static void blob(json_t *desc, const char *what, unsigned long long max, char *path, size_t len)
{
	const char *dg = json_string_value(json_object_get(desc, "digest"));
	json_t *size = json_object_get(desc, "size");

	if (!dg || strncmp(dg, "sha256:", 7) || strlen(dg) != 71 ||
	    strspn(dg + 7, "0123456789abcdef") != 64)
		fail("%s: digest `%.80s`: not sha256:<64 hex> (a blob is a file of blobs/sha256/): "
		     "refused",
		     what, dg ? dg : "");
	if (!json_is_integer(size) || json_integer_value(size) < 0 ||
	    (unsigned long long)json_integer_value(size) > max)
		fail("%s: declared size %lld: more than %llu bytes or none: refused", what,
		     (long long)json_integer_value(size), max);
	snprintf(path, len, "/work/fs/layout/blobs/sha256/%s", dg + 7);
}

/* The manifest descriptor REF names: the only one, else `latest`; else an error listing the refs. */
static json_t *choose(json_t *index, const char *ref, char *tag, size_t len)
{
	json_t *ms = json_object_get(index, "manifests"), *m, *hit = NULL;
	char refs[512] = "";
	size_t i, n = 0;

	if (!json_is_array(ms) || json_array_size(ms) == 0)
		fail("index.json: no manifests");
	json_array_foreach(ms, i, m)
	{
		const char *name = json_string_value(
			json_object_get(json_object_get(m, "annotations"), REF_NAME));

		if (name && strlen(refs) < sizeof(refs) - 80)
			snprintf(refs + strlen(refs), sizeof(refs) - strlen(refs), "%s`%.64s`",
				 n++ ? ", " : "", name);
		if (name && !strcmp(name, strcmp(ref, "-") ? ref : "latest")) {
			if (hit)
				fail("ref `%.64s` names more than one manifest: refused", name);
			hit = m;
		}
	}
	if (!strcmp(ref, "-") && json_array_size(ms) == 1)
		hit = json_array_get(ms, 0);
	if (!hit && strcmp(ref, "-"))
		fail("no ref `%s`: the layout's refs are %s", ref, n ? refs : "none");
	if (!hit)
		fail("several manifests and none is `latest`: the layout's refs are %s; name one "
		     "with --ref",
		     n ? refs : "none");
	if (strcmp(json_string_value(json_object_get(hit, "mediaType")) ?: "", MANIFEST))
		fail("the chosen manifest is `%.80s`, not an image manifest (%s): refused",
		     json_string_value(json_object_get(hit, "mediaType")) ?: "", MANIFEST);
	{
		const char *name = json_string_value(
			json_object_get(json_object_get(hit, "annotations"), REF_NAME));

		if (!name || strlen(name) >= len ||
		    strspn(name, "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "0123456789._-") != strlen(name))
			fail("the chosen manifest has no usable ref name (`%.64s`): umoci unpacks by "
			     "tag",
			     name ? name : "");
		snprintf(tag, len, "%s", name);
	}
	return hit;
}

/*
 * umoci --rootless leaves every file the namespace's root's and records the
 * layer's owner in `user.rootlesscontainers` (a protobuf: 1 uid, 2 gid,
 * varints); the owner is put back here, where the namespace's root may
 * chown to its ids 0-65535 and to nothing else, and the xattr removed.
 */
static unsigned long fixed;

static int varint(const unsigned char *p, ssize_t n, ssize_t *at, unsigned long long *v)
{
	*v = 0;
	for (int shift = 0; *at < n && shift < 64; shift += 7) {
		unsigned char b = p[(*at)++];

		*v |= (unsigned long long)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

static int owner(const char *path, const struct stat *st, int type, struct FTW *f)
{
	static const char key[] = "user.rootlesscontainers";
	unsigned long long uid = 0, gid = 0, tag, v;
	unsigned char buf[64];
	ssize_t n = lgetxattr(path, key, buf, sizeof(buf)), at = 0;

	if (n < 0 && (errno == ENODATA || errno == ENOTSUP))
		return 0;
	if (n < 0)
		fail("`%s`: read its owner: %s", path + 15, strerror(errno));
	while (at < n) {
		if (varint(buf, n, &at, &tag) < 0 || (tag & 7) != 0 || varint(buf, n, &at, &v) < 0)
			fail("`%s`: a garbled owner record", path + 15);
		if (v == 0xffffffffULL) /* the record's "unchanged": the namespace's root */
			v = 0;
		if (tag >> 3 == 1)
			uid = v;
		else if (tag >> 3 == 2)
			gid = v;
	}
	if (uid >= IMPORT_SIZE || gid >= IMPORT_SIZE)
		fail("`%s`: owner %llu:%llu outside the container's ids 0-65535: refused",
		     path + 15, uid, gid);
	if (lchown(path, (uid_t)uid, (gid_t)gid) < 0 ||
	    (type != FTW_SL && chmod(path, st->st_mode & 07777) < 0) || lremovexattr(path, key) < 0)
		fail("`%s`: set its owner: %s", path + 15, strerror(errno));
	fixed++;
	return 0;
}

/* A config field as the record keeps it: a string of at most 4096 bytes, else null. */
static json_t *string(json_t *v)
{
	const char *t = json_string_value(v);

	return t && strlen(t) <= 4096 ? json_string(t) : json_null();
}

/* An array of at most 256 such strings, else null. */
static json_t *strings(json_t *v)
{
	json_t *a, *e;
	size_t i;

	if (!json_is_array(v) || json_array_size(v) > 256)
		return json_null();
	a = json_array();
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e) || strlen(json_string_value(e)) > 4096) {
			json_decref(a);
			return json_null();
		}
		json_array_append(a, e);
	}
	return a;
}

/* Steps 1-4: extract, check, unpack; the image's record in *meta. */
static void unpack(const char *ref, unsigned long long max, json_t **meta)
{
	char *untar[] = { "/usr/bin/tar",
			  "-x",
			  "--no-same-owner",
			  "--no-same-permissions",
			  "-f",
			  "/work/in",
			  "-C",
			  "/work/fs/layout",
			  NULL };
	char path[128], image[256], tag[129], why[512];
	json_t *index, *desc, *man, *cfg, *c, *l;
	unsigned long long total = 0;
	size_t i;
	int fd;

	if (mkdir("/work/fs/layout", 0700) < 0 || mkdir("/work/fs/tmp", 0700) < 0)
		fail("mkdir: %s", strerror(errno));
	if (run(untar, -1, why, sizeof(why)) != 0)
		fail("not a tar of an OCI image layout: %s", why);
	if ((fd = open("/work/fs/layout", O_RDONLY | O_DIRECTORY | O_NOFOLLOW)) < 0)
		fail("the layout: %s", strerror(errno));
	walk(fd, "", 0);
	if (access("/work/fs/layout/oci-layout", F_OK) < 0)
		fail("no `oci-layout` file: not an OCI image layout");
	json_decref(load("/work/fs/layout/oci-layout"));
	index = load("/work/fs/layout/index.json");
	desc = choose(index, ref, tag, sizeof(tag));
	blob(desc, "the manifest", MAX_JSON, path, sizeof(path));
	man = load(path); /* unverified: read for its refusals only; umoci verifies */
	blob(json_object_get(man, "config"), "the config", MAX_JSON, path, sizeof(path));
	json_array_foreach(json_object_get(man, "layers"), i, l)
	{
		char what[32];

		snprintf(what, sizeof(what), "layer %zu", i);
		blob(l, what, max, path, sizeof(path));
		total += (unsigned long long)json_integer_value(json_object_get(l, "size"));
	}
	if (total > max)
		fail("the layers declare %llu bytes: more than %llu: refused", total, max);
	snprintf(image, sizeof(image), "/work/fs/layout:%s", tag);
	{
		char *argv[] = { "/usr/bin/umoci", "raw", "unpack",	     "--rootless",
				 "--image",	   image, "/work/fs/rootfs", NULL };

		if (run(argv, -1, why, sizeof(why)) != 0) {
			const char *w = why + strspn(why, " ");

			if (!strncmp(w, "\u2a2f ", 4)) /* umoci's mark for an error */
				w += 4;
			if (strstr(w, "file too large") || strstr(w, "no space left"))
				fail("the unpacked files pass the cap (%llu bytes): a size bomb or too "
				     "big: %s",
				     max, w);
			fail("umoci refused the image: %s", w);
		}
	}
	if (nftw("/work/fs/rootfs", owner, 64, FTW_PHYS) < 0)
		fail("the root filesystem's owners: %s", strerror(errno));
	/* the manifest and config umoci read and verified */
	blob(json_object_get(man, "config"), "the config", MAX_JSON, path, sizeof(path));
	cfg = load(path);
	c = json_object_get(cfg, "config");
	*meta = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "digest",
			  json_string_value(json_object_get(desc, "digest")), "ref", tag,
			  "entrypoint", strings(json_object_get(c, "Entrypoint")), "cmd",
			  strings(json_object_get(c, "Cmd")), "env",
			  strings(json_object_get(c, "Env")), "workdir",
			  string(json_object_get(c, "WorkingDir")), "user",
			  string(json_object_get(c, "User")));
	json_decref(cfg), json_decref(man), json_decref(index);
}

/*
 * --probe (the tests'): what the jail can reach, as one JSON record: its
 * uid, the host's /etc/shadow and old root, a write to /usr, the network,
 * CAP_SYS_ADMIN in the bounding set, and a directory made in WORK/fs.
 */
static json_t *probe(void)
{
	int fd = open("/etc/shadow", O_RDONLY), e1 = errno, s, e3;
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(53),
				  .sin_addr.s_addr = htonl(0x01010101) };
	const char *shadow = fd < 0 ? strerror(e1) : "opened";
	char sh[64], usr[64], net[64], old[64];

	snprintf(sh, sizeof(sh), "%s", shadow);
	fd = open("/usr/vps-probe", O_CREAT | O_WRONLY, 0600);
	snprintf(usr, sizeof(usr), "%s", fd < 0 ? strerror(errno) : "created");
	s = socket(AF_INET, SOCK_DGRAM, 0);
	e3 = s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? errno : 0;
	snprintf(net, sizeof(net), "%s", e3 ? strerror(e3) : "connected");
	snprintf(old, sizeof(old), "%s", access("/old", F_OK) < 0 ? strerror(errno) : "there");
	return json_pack("{s:i, s:s, s:s, s:s, s:s, s:i, s:s}", "uid", (int)getuid(), "shadow", sh,
			 "usr", usr, "net", net, "old_root", old, "cap_sys_admin",
			 prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0), "work",
			 mkdir("/work/fs/probe", 0700) < 0 ? strerror(errno) : "made");
}

static _Noreturn void child(const char *work, const char *ref, unsigned long long max, int out,
			    int ready, int go)
{
	char *pack[] = {
		"/usr/bin/tar", "--numeric-owner", "-C", "/work/fs/rootfs", "-cf", "-", ".", NULL
	};
	struct rlimit fsize = { max, max }, cpu = { 1800, 1800 };
	json_t *meta = NULL;
	char b, *line, why[512];

	signal(SIGPIPE, SIG_IGN);
	if (setgroups(0, NULL) < 0 ||
	    unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0 ||
	    write(ready, "r", 1) != 1)
		fail("the importer's namespaces: %s", strerror(errno));
	if (read(go, &b, 1) != 1)
		_exit(1); /* the parent could not write the maps; it says why */
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		fail("become the namespace's root: %s", strerror(errno));
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
		_exit(1);
	jail(work);
	keep_file_caps();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0) < 0 ||
	    setrlimit(RLIMIT_FSIZE, &fsize) < 0 || setrlimit(RLIMIT_CPU, &cpu) < 0)
		fail("no_new_privs, limits: %s", strerror(errno));
	setenv("TMPDIR", "/work/fs/tmp", 1);
	setenv("PATH", "/usr/bin", 1);
	umask(022);
	if (!strcmp(ref, "--probe"))
		meta = probe();
	else
		unpack(ref, max, &meta);
	line = json_dumps(meta, JSON_COMPACT);
	if (!line || write(msgfd, "M", 1) != 1 || write(msgfd, line, strlen(line)) < 0 ||
	    write(msgfd, "\n", 1) != 1)
		fail("the image's record: %s", strerror(errno));
	if (!strcmp(ref, "--probe"))
		_exit(0);
	if (run(pack, out, why, sizeof(why)) != 0)
		fail("pack the root filesystem: %s", why);
	_exit(0);
}

/* --- the parent: the maps, PROG, the outcome ----------------------------------------- */

static int write_maps(pid_t pid)
{
	char path[64];
	int r = child_write_idmap(pid, IMPORT_BASE, IMPORT_SIZE, path, sizeof(path));

	if (r < 0) {
		fprintf(stderr, "write `%s`: %s\n", path, strerror(-r));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int data[2], msg[2], ready[2], go[2], cst, pst;
	unsigned long long max;
	static char buf[MAX_JSON / 4];
	size_t got = 0;
	ssize_t n;
	pid_t cpid, ppid = -1;
	char b, *end;

	if (argc == 3 && !strcmp(argv[2], "--probe")) {
		static char *probe_argv[] = { NULL, NULL, "--probe", "1", "--", "/bin/true", NULL };

		probe_argv[1] = argv[1];
		argv = probe_argv;
		argc = 6;
	}
	if (argc < 6 || strcmp(argv[4], "--")) {
		fprintf(stderr, "usage: vps-tmpl-oci WORK REF MAX -- PROG [ARG...]\n");
		return 2;
	}
	max = strtoull(argv[3], &end, 10);
	if (*end || !max) {
		fprintf(stderr, "`%s`: not a size\n", argv[3]);
		return 2;
	}
	if (pipe2(data, O_CLOEXEC) < 0 || pipe2(msg, O_CLOEXEC) < 0 ||
	    pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0) {
		perror("pipe");
		return 1;
	}
	cpid = fork();
	if (cpid == 0) {
		close(data[0]), close(msg[0]), close(ready[0]), close(go[1]);
		msgfd = msg[1];
		child(argv[1], argv[2], max, data[1], ready[1], go[0]);
	}
	close(data[1]), close(msg[1]), close(ready[1]), close(go[0]);
	if (cpid > 0 && read(ready[0], &b, 1) == 1 && write_maps(cpid) == 0 &&
	    write(go[1], "g", 1) == 1) {
		ppid = fork();
		if (ppid == 0) {
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || dup2(data[0], 0) < 0)
				_exit(127);
			execv(argv[5], argv + 5);
			_exit(127);
		}
	}
	close(data[0]), close(ready[0]), close(go[1]);
	while (got < sizeof(buf) - 1 && (n = read(msg[0], buf + got, sizeof(buf) - 1 - got)) != 0)
		if (n > 0)
			got += (size_t)n;
		else if (errno != EINTR)
			break;
	buf[got] = 0;
	if (cpid > 0 && ppid <= 0)
		kill(cpid, SIGKILL);
	pst = ppid > 0 ? child_status(ppid) : 1;
	if (pst != 0 && cpid > 0)
		kill(cpid, SIGKILL);
	cst = cpid > 0 ? child_status(cpid) : 1;
	/* before the stream: the jail's reason; during it: PROG's (its size cap), else the jail's */
	if (buf[0] == 'M' && pst != 0)
		return pst;
	if (buf[0] != 'M' || cst != 0) {
		char *e = buf[0] == 'E' ? buf + 1 : strstr(buf, "\nE");

		if (e && e != buf + 1)
			e += 2;
		fprintf(stderr, "%s", e ? e : "the importer failed\n");
		return 1;
	}
	*strchr(buf, '\n') = 0;
	printf("%s\n", buf + 1);
	return 0;
}
