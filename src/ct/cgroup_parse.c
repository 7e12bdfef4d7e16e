// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The pure half of the cgroup code: reading mountinfo into a layout,
 * checking cgroup paths, and turning OCI resource values into the strings
 * and orderings the v1 and v2 files want. No file system access here, so
 * tests/unit/test_ct_cgroup.c can feed it any host's mountinfo.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup_priv.h"
#include "common/cleanup.h"

const char *const cg_ctrl_names[CG_NR_CTRL] = {
	[CG_CPU] = "cpu",	    [CG_CPUACCT] = "cpuacct", [CG_CPUSET] = "cpuset",
	[CG_MEMORY] = "memory",	    [CG_DEVICES] = "devices", [CG_FREEZER] = "freezer",
	[CG_BLKIO] = "blkio",	    [CG_PIDS] = "pids",	      [CG_NET_CLS] = "net_cls",
	[CG_NET_PRIO] = "net_prio",
};

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/* Controllers named in a v1 super-block option list such as "rw,cpu,cpuacct". */
static unsigned int v1_ctrls(const char *opts)
{
	unsigned int mask = 0;
	const char *p = opts;

	while (*p) {
		size_t len = strcspn(p, ",");

		for (int c = 0; c < CG_NR_CTRL; c++)
			if (strlen(cg_ctrl_names[c]) == len && !strncmp(p, cg_ctrl_names[c], len))
				mask |= 1u << c;
		p += len;
		if (*p == ',')
			p++;
	}
	return mask;
}

/* Split a mountinfo line into root, mount point, fs type and super options. */
static int split_line(char *line, char **root, char **mnt, char **fstype, char **sopts)
{
	char *tok[64];
	int n = 0, sep = -1;
	char *save = NULL;

	for (char *t = strtok_r(line, " ", &save); t && n < (int)ARRAY_SIZE(tok);
	     t = strtok_r(NULL, " ", &save))
		tok[n++] = t;
	for (int i = 6; i < n; i++) {
		if (!strcmp(tok[i], "-")) {
			sep = i;
			break;
		}
	}
	if (sep < 0 || n < sep + 4)
		return -EINVAL;
	*root = tok[3];
	*mnt = tok[4];
	*fstype = tok[sep + 1];
	*sopts = tok[sep + 3];
	return 0;
}

static bool better_mount(const char *old_mnt, const char *new_mnt, const char *new_root)
{
	if (strcmp(new_root, "/"))
		return false;
	return strncmp(old_mnt, "/sys/fs/cgroup", 14) && !strncmp(new_mnt, "/sys/fs/cgroup", 14);
}

static int add_v1(struct cg_layout_info *li, const char *mnt, const char *root, unsigned int mask)
{
	int have = -1;

	for (int c = 0; c < CG_NR_CTRL; c++)
		if ((mask & (1u << c)) && li->ctrl_hier[c] >= 0)
			have = li->ctrl_hier[c];
	if (have >= 0) { /* the same hierarchy mounted again */
		if (better_mount(li->hier[have].mnt, mnt, root)) {
			char *m = strdup(mnt);

			if (!m)
				return -ENOMEM;
			free(li->hier[have].mnt);
			li->hier[have].mnt = m;
		}
		return 0;
	}
	if (li->nr_hier == CG_MAX_HIER)
		return 0;
	li->hier[li->nr_hier].mnt = strdup(mnt);
	if (!li->hier[li->nr_hier].mnt)
		return -ENOMEM;
	li->hier[li->nr_hier].ctrls = mask;
	for (int c = 0; c < CG_NR_CTRL; c++)
		if (mask & (1u << c))
			li->ctrl_hier[c] = (int)li->nr_hier;
	li->nr_hier++;
	return 0;
}

static int add_v2(struct cg_layout_info *li, const char *mnt, const char *root)
{
	char *m;

	/* The one at /sys/fs/cgroup wins: that is where tools look first. */
	if (li->unified && (strcmp(root, "/") || !strcmp(li->unified, "/sys/fs/cgroup") ||
			    strcmp(mnt, "/sys/fs/cgroup")))
		return 0;
	m = strdup(mnt);
	if (!m)
		return -ENOMEM;
	free(li->unified);
	li->unified = m;
	return 0;
}

/* Is "name=systemd" one of the options of a v1 super block? */
static bool is_named_systemd(const char *opts)
{
	for (const char *p = opts; *p;) {
		size_t len = strcspn(p, ",");

		if (len == 12 && !strncmp(p, "name=systemd", 12))
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/* systemd's named hierarchy: the mount of its root under /sys/fs/cgroup wins. */
static int add_named(struct cg_layout_info *li, const char *mnt, const char *root)
{
	char *m;

	if (li->named && !better_mount(li->named, mnt, root))
		return 0;
	m = strdup(mnt);
	if (!m)
		return -ENOMEM;
	free(li->named);
	li->named = m;
	return 0;
}

int cg_parse_mountinfo(const char *text, struct cg_layout_info *li, struct err **err)
{
	_cleanup_free_ char *copy = strdup(text);
	char *save = NULL;
	int ret;

	memset(li, 0, sizeof(*li));
	for (int c = 0; c < CG_NR_CTRL; c++)
		li->ctrl_hier[c] = -1;
	if (!copy)
		return err_make(err, ENOMEM, "parse mountinfo");
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *root, *mnt, *fstype, *sopts;

		if (split_line(line, &root, &mnt, &fstype, &sopts) < 0)
			continue;
		unescape(mnt);
		unescape(root);
		if (!strcmp(fstype, "cgroup2")) {
			ret = add_v2(li, mnt, root);
		} else if (!strcmp(fstype, "cgroup")) {
			unsigned int mask = v1_ctrls(sopts);

			if (mask)
				ret = add_v1(li, mnt, root, mask);
			else
				ret = is_named_systemd(sopts) ? add_named(li, mnt, root) : 0;
		} else {
			continue;
		}
		if (ret < 0) {
			cg_layout_free(li);
			return err_make(err, -ret, "parse mountinfo");
		}
	}
	if (li->nr_hier)
		li->layout = li->unified ? CG_HYBRID : CG_V1;
	else if (li->unified)
		li->layout = CG_V2;
	else
		return err_make(err, ENOENT, "no cgroup file system is mounted");
	return 0;
}

void cg_layout_free(struct cg_layout_info *li)
{
	for (unsigned int i = 0; i < li->nr_hier; i++) {
		free(li->hier[i].mnt);
		li->hier[i].mnt = NULL;
	}
	li->nr_hier = 0;
	free(li->unified);
	li->unified = NULL;
	free(li->named);
	li->named = NULL;
}

int cg_path_normalize(const char *path, char *out, size_t outsz, struct err **err)
{
	const char *p = path;
	size_t len = 0;

	if (!path)
		return err_make(err, 0, "cgroup path missing");
	if (strchr(path, ':'))
		return err_make(
			err, 0,
			"cgroup path `%s`: systemd `slice:prefix:name` paths are not supported",
			path);
	if (*p == '/')
		p++;
	if (!*p)
		return err_make(err, 0, "cgroup path `%s`: the root cgroup cannot be used", path);
	if (strlen(p) >= outsz || strlen(p) >= CG_PATH_MAX)
		return err_make(err, ENAMETOOLONG, "cgroup path `%.64s...`", path);
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 0)
			return err_make(err, 0, "cgroup path `%s`: empty component", path);
		if (n > NAME_MAX)
			return err_make(err, ENAMETOOLONG, "cgroup path `%s`: component too long",
					path);
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return err_make(err, 0, "cgroup path `%s`: `.` and `..` are refused", path);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return err_make(err, 0, "cgroup path `%s`: control character",
						path);
		if (len)
			out[len++] = '/';
		memcpy(out + len, p, n);
		len += n;
		p += n;
		if (*p == '/') {
			p++;
			if (!*p)
				return err_make(err, 0, "cgroup path `%s`: empty component", path);
		}
	}
	out[len] = '\0';
	return 0;
}

/*
 * The curve through (2, 1), (1024, 100) and (262144, 10000) that is a
 * parabola in log space: log10(w) = (l^2 + 125 l) / 612 - 7/34 with
 * l = log2(shares). Unlike the old linear map (1024 -> 39) it keeps the
 * defaults of both versions equal. Rounded to nearest, then clamped.
 */
uint64_t cg_shares_to_weight(uint64_t shares)
{
	double l, w;

	if (shares <= 2)
		return 1;
	if (shares >= 262144)
		return 10000;
	l = log2((double)shares);
	w = pow(10.0, (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0);
	if (w < 1.0)
		return 1;
	if (w > 10000.0)
		return 10000;
	return (uint64_t)llround(w);
}

uint64_t cg_blkio_to_io_weight(uint64_t weight)
{
	if (weight < 10)
		weight = 10;
	if (weight > 1000)
		weight = 1000;
	return 1 + (weight - 10) * 9999 / 990;
}

struct io_dev {
	int64_t major, minor;
	uint64_t v[4]; /* rbps, wbps, riops, wiops */
	unsigned int set; /* bit per v[] */
};

int cg_io_max_lines(const struct cg_resources *r, char *buf, size_t bufsz)
{
	static const char *const keys[4] = { "rbps", "wbps", "riops", "wiops" };
	const struct cg_throttle *lists[4] = { r->read_bps, r->write_bps, r->read_iops,
					       r->write_iops };
	const unsigned int counts[4] = { r->nr_read_bps, r->nr_write_bps, r->nr_read_iops,
					 r->nr_write_iops };
	struct io_dev devs[4 * CG_MAX_THROTTLES];
	unsigned int nr = 0;
	size_t off = 0;

	for (int k = 0; k < 4; k++) {
		for (unsigned int i = 0; i < counts[k] && i < CG_MAX_THROTTLES; i++) {
			const struct cg_throttle *t = &lists[k][i];
			unsigned int d;

			for (d = 0; d < nr; d++)
				if (devs[d].major == t->major && devs[d].minor == t->minor)
					break;
			if (d == nr) {
				memset(&devs[nr], 0, sizeof(devs[nr]));
				devs[nr].major = t->major;
				devs[nr].minor = t->minor;
				nr++;
			}
			devs[d].v[k] = t->rate;
			devs[d].set |= 1u << k;
		}
	}
	for (unsigned int d = 0; d < nr; d++) {
		int n = snprintf(buf + off, bufsz - off, "%lld:%lld", (long long)devs[d].major,
				 (long long)devs[d].minor);

		if (n < 0 || (size_t)n >= bufsz - off)
			return -ENOSPC;
		off += (size_t)n;
		for (int k = 0; k < 4; k++) {
			if (!(devs[d].set & (1u << k)))
				continue;
			/* A rate of 0 means "no limit" in OCI, as in v1's files. */
			if (devs[d].v[k])
				n = snprintf(buf + off, bufsz - off, " %s=%llu", keys[k],
					     (unsigned long long)devs[d].v[k]);
			else
				n = snprintf(buf + off, bufsz - off, " %s=max", keys[k]);
			if (n < 0 || (size_t)n >= bufsz - off)
				return -ENOSPC;
			off += (size_t)n;
		}
		if (off + 1 > bufsz)
			return -ENOSPC;
		off++; /* keep the NUL snprintf wrote */
	}
	return (int)nr;
}

/*
 * v1 keeps memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every
 * step. Writing swap first needs cur_limit <= new_swap; when that fails,
 * new_limit <= new_swap < cur_limit <= cur_swap, so the limit can go first.
 */
bool cg_v1_swap_first(int64_t cur_limit, int64_t new_swap)
{
	uint64_t cur = cur_limit < 0 ? UINT64_MAX : (uint64_t)cur_limit;
	uint64_t swap = new_swap < 0 ? UINT64_MAX : (uint64_t)new_swap;

	return cur <= swap;
}

int cg_v2_swap_max(int64_t limit, int64_t swap, char *out, size_t outsz, struct err **err)
{
	if (swap < 0) {
		snprintf(out, outsz, "max");
		return 0;
	}
	if (limit < 0)
		return err_make(
			err, 0,
			"memory swap `%lld` needs a memory limit (OCI swap is memory + swap)",
			(long long)swap);
	if (swap < limit)
		return err_make(err, 0,
				"memory swap `%lld` is below the memory limit `%lld` (OCI swap is "
				"memory + swap)",
				(long long)swap, (long long)limit);
	snprintf(out, outsz, "%lld", (long long)(swap - limit));
	return 0;
}

void cg_v2_cpu_max(int64_t quota, int64_t period, int64_t cur_quota, char *out, size_t outsz)
{
	int64_t q = quota == CG_UNSET ? cur_quota : quota;

	if (period <= 0)
		period = 100000;
	if (q < 0)
		snprintf(out, outsz, "max %lld", (long long)period);
	else
		snprintf(out, outsz, "%lld %lld", (long long)q, (long long)period);
}

void cg_v1_device_line(const struct cg_device_rule *d, char *out, size_t outsz)
{
	char maj[24], min[24];

	if (d->type == 'a') {
		snprintf(out, outsz, "a");
		return;
	}
	if (d->major < 0)
		snprintf(maj, sizeof(maj), "*");
	else
		snprintf(maj, sizeof(maj), "%lld", (long long)d->major);
	if (d->minor < 0)
		snprintf(min, sizeof(min), "*");
	else
		snprintf(min, sizeof(min), "%lld", (long long)d->minor);
	snprintf(out, outsz, "%c %s:%s %s", d->type, maj, min, d->access[0] ? d->access : "rwm");
}

/* Whether the space-separated list has the word w (of length n). */
static bool has_word(const char *list, const char *w, size_t n)
{
	for (const char *p = list; p && *p;) {
		size_t l;

		p += strspn(p, " \n");
		l = strcspn(p, " \n");
		if (l == n && !strncmp(p, w, n))
			return true;
		p += l;
	}
	return false;
}

int cg_unified_check(const struct cg_layout_info *li, const char *v2_ctrls,
		     const struct cg_resources *r, struct err **err)
{
	for (unsigned int i = 0; li->layout != CG_V2 && i < r->nr_unified; i++) {
		const char *name = r->unified[i].name;
		size_t n = strcspn(name, ".");
		/* v2's io is v1's blkio */
		const char *v1 = n == 2 && !strncmp(name, "io", 2) ? "blkio" : NULL;
		bool on_v1 = false;

		if (has_word(v2_ctrls, name, n))
			continue;
		for (int c = 0; c < CG_NR_CTRL; c++)
			if (li->ctrl_hier[c] >= 0 &&
			    (v1 ? !strcmp(cg_ctrl_names[c], v1) :
				  strlen(cg_ctrl_names[c]) == n &&
					     !strncmp(cg_ctrl_names[c], name, n)))
				on_v1 = true;
		if (on_v1)
			return err_make(err, 0,
					"unified: `%s` needs cgroup v2 (this host's %.*s "
					"controller is on v1)",
					name, (int)n, name);
		return err_make(err, 0,
				"unified: `%s` needs cgroup v2 (this host's %.*s controller is "
				"not in the container's cgroup2 hierarchy)",
				name, (int)n, name);
	}
	return 0;
}
