// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reading a cgroup's memory figures, for the views a container gets of its
 * own resources (sysinfo.c answers sysinfo() from them). v1 reads
 * memory.limit_in_bytes, memory.usage_in_bytes, memory.memsw.* (when the
 * kernel accounts swap) and memory.stat's total_* lines; v2 reads
 * memory.max, memory.current, memory.swap.max, memory.swap.current and
 * memory.stat. Both are reduced to one struct in bytes, -1 for "no limit".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ct/cgroup_priv.h"

/* v1 reports "no limit" as PAGE_COUNTER_MAX pages: anything this big. */
#define CG_V1_UNLIMITED (1LL << 62)

static int64_t read_num(const char *dir, const char *file, bool *ok)
{
	char buf[64], *end;
	long long v;

	if (cg_read(dir, file, buf, sizeof(buf), NULL) < 0) {
		*ok = false;
		return -1;
	}
	if (!strcmp(buf, "max"))
		return -1;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || end == buf || *end) {
		*ok = false;
		return -1;
	}
	return v >= CG_V1_UNLIMITED ? -1 : v;
}

/* One "key value" line of memory.stat, or 0 when absent. */
static int64_t stat_field(const char *text, const char *key)
{
	size_t n = strlen(key);
	const char *p;

	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, n) && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	return 0;
}

int cg_memory_stat(const struct ct_cgroup *cg, struct cg_memory_stat *out, struct err **err)
{
	const char *dir = cg_ctrl_dir(cg, CG_MEMORY);
	bool ok = true, v2 = cg->li.layout == CG_V2;
	char stat[8192];

	*out = (struct cg_memory_stat){ .limit = -1, .swap_limit = -1 };
	if (!dir)
		return err_make(err, ENOENT, "no memory controller for cgroup `%s`", cg->path);
	if (v2) {
		out->limit = read_num(dir, "memory.max", &ok);
		out->usage = read_num(dir, "memory.current", &ok);
		if (ok && cg_has(dir, "memory.swap.max")) {
			out->swap_limit = read_num(dir, "memory.swap.max", &ok);
			out->swap_usage = read_num(dir, "memory.swap.current", &ok);
		}
	} else {
		out->limit = read_num(dir, "memory.limit_in_bytes", &ok);
		out->usage = read_num(dir, "memory.usage_in_bytes", &ok);
		if (ok && cg_has(dir, "memory.memsw.limit_in_bytes")) {
			int64_t sl = read_num(dir, "memory.memsw.limit_in_bytes", &ok);
			int64_t su = read_num(dir, "memory.memsw.usage_in_bytes", &ok);

			/* memsw counts memory + swap: the swap part is the difference */
			if (sl >= 0 && out->limit >= 0)
				out->swap_limit = sl > out->limit ? sl - out->limit : 0;
			out->swap_usage = su > out->usage ? su - out->usage : 0;
		}
	}
	if (!ok)
		return err_make(err, EIO, "read memory figures of cgroup `%s`", cg->path);
	if (cg_read(dir, "memory.stat", stat, sizeof(stat), NULL) == 0) {
		out->cache = stat_field(stat, v2 ? "file" : "total_cache");
		out->shmem = stat_field(stat, v2 ? "shmem" : "total_shmem");
		out->mapped = stat_field(stat, v2 ? "file_mapped" : "total_mapped_file");
		out->dirty = stat_field(stat, v2 ? "file_dirty" : "total_dirty");
		out->writeback = stat_field(stat, v2 ? "file_writeback" : "total_writeback");
		out->anon_thp = stat_field(stat, v2 ? "anon_thp" : "total_rss_huge");
		out->active_anon = stat_field(stat, v2 ? "active_anon" : "total_active_anon");
		out->inactive_anon = stat_field(stat, v2 ? "inactive_anon" : "total_inactive_anon");
		out->active_file = stat_field(stat, v2 ? "active_file" : "total_active_file");
		out->inactive_file = stat_field(stat, v2 ? "inactive_file" : "total_inactive_file");
		out->unevictable = stat_field(stat, v2 ? "unevictable" : "total_unevictable");
	}
	return 0;
}
