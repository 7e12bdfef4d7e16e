// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the pure half of src/ct/cgroup*: mountinfo into a layout
 * (v1, co-mounted v1, v2, hybrid), cgroup path checks, value conversions,
 * io.max lines, the v1 memory/swap write order, and the v2 device program,
 * which a small interpreter here runs against device accesses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ct/cgroup_priv.h"

/* This machine's layout: v1 controllers plus an empty cgroup2. */
static const char mi_hybrid[] =
	"22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	"33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
	"34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
	"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	"36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
	"37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
	"38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
	"39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
	"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

/* Debian/Ubuntu v1 with co-mounted controllers and optional fields. */
static const char mi_v1_comount[] =
	"25 24 0:22 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755\n"
	"26 25 0:23 / /sys/fs/cgroup/systemd rw shared:10 - cgroup cgroup "
	"rw,xattr,name=systemd\n"
	"29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw shared:13 - cgroup cgroup rw,cpu,cpuacct\n"
	"30 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw shared:14 - cgroup cgroup "
	"rw,net_cls,net_prio\n"
	"31 25 0:28 / /sys/fs/cgroup/memory rw shared:15 - cgroup cgroup rw,memory\n"
	"32 25 0:29 / /sys/fs/cgroup/pids rw shared:16 - cgroup cgroup rw,pids\n"
	/* The same memory hierarchy bind-mounted elsewhere first would lose. */
	"33 25 0:28 / /mnt/mem\\040copy rw - cgroup cgroup rw,memory\n";

static const char mi_v2[] =
	"26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 "
	"cgroup2 rw,nsdelegate,memory_recursiveprot\n"
	"30 26 0:23 / /run/other rw - cgroup2 cgroup2 rw\n";

static void parse_hybrid(void **state)
{
	struct cg_layout_info li;

	assert_int_equal(cg_parse_mountinfo(mi_hybrid, &li, NULL), 0);
	assert_int_equal(li.layout, CG_HYBRID);
	assert_string_equal(li.unified, "/sys/fs/cgroup/unified");
	assert_int_equal(li.nr_hier, 8); /* name=systemd is not a controller hierarchy */
	assert_string_equal(li.named, "/sys/fs/cgroup/systemd"); /* but is kept for a systemd */
	for (int c = 0; c < CG_NR_CTRL; c++) {
		char want[64];

		if (c == CG_NET_CLS || c == CG_NET_PRIO) { /* enabled here but not mounted */
			assert_int_equal(li.ctrl_hier[c], -1);
			continue;
		}
		snprintf(want, sizeof(want), "/sys/fs/cgroup/%s", cg_ctrl_names[c]);
		assert_true(li.ctrl_hier[c] >= 0);
		assert_string_equal(li.hier[li.ctrl_hier[c]].mnt, want);
	}
	cg_layout_free(&li);
}

static void parse_v1_comounted(void **state)
{
	struct cg_layout_info li;

	assert_int_equal(cg_parse_mountinfo(mi_v1_comount, &li, NULL), 0);
	assert_int_equal(li.layout, CG_V1);
	assert_null(li.unified);
	assert_int_equal(li.nr_hier, 4); /* cpu+cpuacct, net_cls+net_prio, memory, pids */
	assert_int_equal(li.ctrl_hier[CG_NET_CLS], li.ctrl_hier[CG_NET_PRIO]);
	assert_string_equal(li.hier[li.ctrl_hier[CG_NET_CLS]].mnt,
			    "/sys/fs/cgroup/net_cls,net_prio");
	assert_int_equal(li.ctrl_hier[CG_CPU], li.ctrl_hier[CG_CPUACCT]);
	assert_string_equal(li.hier[li.ctrl_hier[CG_CPU]].mnt, "/sys/fs/cgroup/cpu,cpuacct");
	assert_int_equal(li.hier[li.ctrl_hier[CG_CPU]].ctrls, (1u << CG_CPU) | (1u << CG_CPUACCT));
	assert_string_equal(li.hier[li.ctrl_hier[CG_MEMORY]].mnt, "/sys/fs/cgroup/memory");
	assert_int_equal(li.ctrl_hier[CG_DEVICES], -1);
	assert_int_equal(li.ctrl_hier[CG_FREEZER], -1);
	cg_layout_free(&li);
}

static void parse_named_systemd(void **state)
{
	/* a bind of a sub-cgroup first, then the root under /sys/fs/cgroup: that wins */
	static const char mi[] =
		"50 25 0:23 /lxc/a /mnt/sd rw - cgroup cgroup rw,xattr,name=systemd\n"
		"26 25 0:23 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
		"27 25 0:24 / /sys/fs/cgroup/other rw - cgroup cgroup rw,name=other\n"
		"32 25 0:29 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
	struct cg_layout_info li;

	assert_int_equal(cg_parse_mountinfo(mi, &li, NULL), 0);
	assert_int_equal(li.layout, CG_V1);
	assert_int_equal(li.nr_hier, 1); /* other named hierarchies are ignored */
	assert_string_equal(li.named, "/sys/fs/cgroup/systemd");
	cg_layout_free(&li);
	assert_null(li.named);
}

static void parse_v1_escaped_bind_mount(void **state)
{
	/* Only the escaped copy: it is used, unescaped. */
	static const char mi[] = "33 25 0:28 / /mnt/mem\\040copy rw - cgroup cgroup rw,memory\n";
	struct cg_layout_info li;

	assert_int_equal(cg_parse_mountinfo(mi, &li, NULL), 0);
	assert_int_equal(li.nr_hier, 1);
	assert_string_equal(li.hier[0].mnt, "/mnt/mem copy");
	cg_layout_free(&li);
}

static void parse_v2(void **state)
{
	struct cg_layout_info li;

	assert_int_equal(cg_parse_mountinfo(mi_v2, &li, NULL), 0);
	assert_int_equal(li.layout, CG_V2);
	assert_string_equal(li.unified, "/sys/fs/cgroup");
	assert_int_equal(li.nr_hier, 0);
	cg_layout_free(&li);
}

static void parse_v2_only_systemd_named_v1(void **state)
{
	static const char mi[] = "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup "
				 "rw,name=systemd\n"
				 "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
	struct cg_layout_info li;

	assert_int_equal(cg_parse_mountinfo(mi, &li, NULL), 0);
	assert_int_equal(li.layout, CG_V2);
	assert_string_equal(li.unified, "/sys/fs/cgroup/unified");
	cg_layout_free(&li);
}

static void parse_nothing_is_enoent(void **state)
{
	struct cg_layout_info li;
	struct err *e = NULL;

	assert_int_equal(cg_parse_mountinfo("1 0 8:1 / / rw - ext4 /dev/sda1 rw\nbroken\n", &li,
					    &e),
			 -ENOENT);
	assert_non_null(strstr(err_msg(e), "no cgroup"));
	err_free(&e);
}

static void path_normalize(void **state)
{
	static const char *const bad[] = { "",
					   "/",
					   "..",
					   "a/../b",
					   "a/./b",
					   "a//b",
					   "a/",
					   "//a",
					   "x:y:z",
					   "a/\nb",
					   "/../x",
					   "a/b/..",
					   "system.slice:docker:x" };
	char out[CG_PATH_MAX], longp[CG_PATH_MAX + 8], comp[300];
	struct err *e = NULL;

	assert_int_equal(cg_path_normalize("/vps/web1", out, sizeof(out), NULL), 0);
	assert_string_equal(out, "vps/web1");
	assert_int_equal(cg_path_normalize("vps/web1", out, sizeof(out), NULL), 0);
	assert_string_equal(out, "vps/web1");
	assert_int_equal(cg_path_normalize("a..b/.c", out, sizeof(out), NULL), 0);
	assert_string_equal(out, "a..b/.c");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_true(cg_path_normalize(bad[i], out, sizeof(out), &e) < 0);
		assert_non_null(e);
		err_free(&e);
	}
	assert_int_equal(cg_path_normalize("x:y:z", out, sizeof(out), &e), -EINVAL);
	assert_non_null(strstr(err_msg(e), "systemd"));
	err_free(&e);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	for (size_t i = 100; i < sizeof(longp) - 1; i += 100)
		longp[i] = '/';
	assert_int_equal(cg_path_normalize(longp, out, sizeof(out), NULL), -ENAMETOOLONG);
	memset(comp, 'b', sizeof(comp) - 1);
	comp[sizeof(comp) - 1] = '\0';
	assert_int_equal(cg_path_normalize(comp, out, sizeof(out), NULL), -ENAMETOOLONG);
}

static void shares_to_weight(void **state)
{
	assert_int_equal(cg_shares_to_weight(0), 1);
	assert_int_equal(cg_shares_to_weight(2), 1);
	assert_int_equal(cg_shares_to_weight(1024), 100); /* default maps to default */
	assert_int_equal(cg_shares_to_weight(262144), 10000);
	assert_int_equal(cg_shares_to_weight(1 << 20), 10000);
	/* Monotonic, and halving shares gives less than the default. */
	assert_true(cg_shares_to_weight(512) < 100 && cg_shares_to_weight(512) > 30);
	assert_true(cg_shares_to_weight(2048) > 100);
	for (uint64_t s = 2; s < 262144; s = s * 3 / 2 + 1)
		assert_true(cg_shares_to_weight(s) <= cg_shares_to_weight(s * 3 / 2 + 1));
	assert_int_equal(cg_blkio_to_io_weight(10), 1);
	assert_int_equal(cg_blkio_to_io_weight(1000), 10000);
	assert_int_equal(cg_blkio_to_io_weight(500), 1 + 490 * 9999 / 990);
}

static void io_max_lines(void **state)
{
	struct cg_resources r;
	char buf[512];
	const char *l;

	cg_resources_init(&r);
	assert_int_equal(cg_io_max_lines(&r, buf, sizeof(buf)), 0);
	r.read_bps[r.nr_read_bps++] = (struct cg_throttle){ 8, 0, 1048576 };
	r.write_iops[r.nr_write_iops++] = (struct cg_throttle){ 8, 0, 100 };
	r.write_bps[r.nr_write_bps++] = (struct cg_throttle){ 253, 1, 0 };
	r.read_iops[r.nr_read_iops++] = (struct cg_throttle){ 8, 0, 50 };
	assert_int_equal(cg_io_max_lines(&r, buf, sizeof(buf)), 2);
	l = buf;
	assert_string_equal(l, "8:0 rbps=1048576 riops=50 wiops=100");
	l += strlen(l) + 1;
	assert_string_equal(l, "253:1 wbps=max"); /* 0: no limit */
	assert_int_equal(cg_io_max_lines(&r, buf, 12), -ENOSPC);
}

static void memory_swap_order(void **state)
{
	char v[32];
	struct err *e = NULL;

	/* Raising: 64M/128M -> 256M/512M needs swap first. */
	assert_true(cg_v1_swap_first(64 << 20, 512 << 20));
	/* Lowering: 256M/512M -> 64M/96M needs the limit first. */
	assert_false(cg_v1_swap_first(256 << 20, 96 << 20));
	/* A fresh cgroup is unlimited: only swap=-1 can go first. */
	assert_false(cg_v1_swap_first(-1, 128 << 20));
	assert_true(cg_v1_swap_first(-1, -1));
	assert_true(cg_v1_swap_first(64 << 20, -1));

	assert_int_equal(cg_v2_swap_max(64 << 20, 128 << 20, v, sizeof(v), NULL), 0);
	assert_string_equal(v, "67108864");
	assert_int_equal(cg_v2_swap_max(64 << 20, 64 << 20, v, sizeof(v), NULL), 0);
	assert_string_equal(v, "0");
	assert_int_equal(cg_v2_swap_max(64 << 20, -1, v, sizeof(v), NULL), 0);
	assert_string_equal(v, "max");
	assert_int_equal(cg_v2_swap_max(64 << 20, 32 << 20, v, sizeof(v), &e), -EINVAL);
	assert_non_null(strstr(err_msg(e), "below the memory limit"));
	err_free(&e);
	assert_int_equal(cg_v2_swap_max(-1, 32 << 20, v, sizeof(v), NULL), -EINVAL);
}

static void cpu_max_and_device_lines(void **state)
{
	struct cg_device_rule d = { .allow = true, .type = 'c', .major = 1, .minor = -1 };
	char v[64];

	cg_v2_cpu_max(50000, 100000, -1, v, sizeof(v));
	assert_string_equal(v, "50000 100000");
	cg_v2_cpu_max(-1, 100000, 20000, v, sizeof(v));
	assert_string_equal(v, "max 100000");
	cg_v2_cpu_max(CG_UNSET, 250000, 20000, v, sizeof(v)); /* keep the quota */
	assert_string_equal(v, "20000 250000");
	cg_v2_cpu_max(30000, CG_UNSET, -1, v, sizeof(v)); /* default period */
	assert_string_equal(v, "30000 100000");

	cg_v1_device_line(&d, v, sizeof(v));
	assert_string_equal(v, "c 1:* rwm");
	snprintf(d.access, sizeof(d.access), "rw");
	d.type = 'b';
	d.major = -1;
	d.minor = 3;
	cg_v1_device_line(&d, v, sizeof(v));
	assert_string_equal(v, "b *:3 rw");
	d.type = 'a';
	cg_v1_device_line(&d, v, sizeof(v));
	assert_string_equal(v, "a");
}

/*
 * Just enough of an eBPF interpreter for what cg_bpf_devices_prog emits:
 * 32-bit loads from the context, AND/RSH/MOV, conditional jumps, exit.
 */
static int run_prog(const struct bpf_insn *p, int n, int type, int access, uint32_t major,
		    uint32_t minor)
{
	struct bpf_cgroup_dev_ctx ctx = { .access_type = (uint32_t)(access << 16 | type),
					  .major = major,
					  .minor = minor };
	uint64_t r[11] = { 0 };
	int pc = 0, steps = 0;

	while (pc >= 0 && pc < n && steps++ < 10000) {
		const struct bpf_insn *i = &p[pc++];
		uint64_t src = BPF_SRC(i->code) == BPF_X ? r[i->src_reg] :
							   (uint64_t)(int64_t)i->imm;

		switch (i->code) {
		case BPF_LDX | BPF_MEM | BPF_W:
			assert_int_equal(i->src_reg, 1);
			assert_true(i->off >= 0 && i->off + 4 <= (int)sizeof(ctx));
			r[i->dst_reg] = *(uint32_t *)((char *)&ctx + i->off);
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			r[i->dst_reg] = (uint32_t)(r[i->dst_reg] & src);
			break;
		case BPF_ALU | BPF_RSH | BPF_K:
			r[i->dst_reg] = (uint32_t)r[i->dst_reg] >> i->imm;
			break;
		case BPF_ALU64 | BPF_MOV | BPF_X:
		case BPF_ALU64 | BPF_MOV | BPF_K:
			r[i->dst_reg] = src;
			break;
		case BPF_JMP | BPF_JNE | BPF_K:
		case BPF_JMP | BPF_JNE | BPF_X:
			if (r[i->dst_reg] != src)
				pc += i->off;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			if (r[i->dst_reg] == src)
				pc += i->off;
			break;
		case BPF_JMP | BPF_EXIT:
			return (int)r[0];
		default:
			fail_msg("unexpected opcode 0x%x at %d", i->code, pc - 1);
		}
	}
	fail_msg("fell off the program");
	return -1;
}

#define R BPF_DEVCG_ACC_READ
#define W BPF_DEVCG_ACC_WRITE
#define M BPF_DEVCG_ACC_MKNOD
#define CHR BPF_DEVCG_DEV_CHAR
#define BLK BPF_DEVCG_DEV_BLOCK

static void bpf_empty_denies_all(void **state)
{
	struct bpf_insn p[CG_BPF_MAX_INSNS];
	int n = cg_bpf_devices_prog(NULL, 0, p, CG_BPF_MAX_INSNS);

	assert_int_equal(n, 8); /* prologue 6 + r0 = 0; exit */
	assert_int_equal(p[n - 1].code, BPF_JMP | BPF_EXIT);
	assert_int_equal(run_prog(p, n, CHR, R, 1, 3), 0);
}

static void bpf_oci_default_list(void **state)
{
	/* What an OCI config usually says: deny all, then the usual nodes. */
	const struct cg_device_rule rules[] = {
		{ .allow = false, .type = 'a', .major = -1, .minor = -1, .access = "rwm" },
		{ .allow = true, .type = 'c', .major = 1, .minor = 3, .access = "rwm" },
		{ .allow = true, .type = 'c', .major = 5, .minor = 0, .access = "rw" },
		{ .allow = true, .type = 'c', .major = 136, .minor = -1, .access = "rwm" },
		{ .allow = false, .type = 'c', .major = 1, .minor = 3, .access = "w" },
	};
	struct bpf_insn p[CG_BPF_MAX_INSNS];
	int n = cg_bpf_devices_prog(rules, 5, p, CG_BPF_MAX_INSNS);

	/* 6 prologue; deny w (type, 3 access, major, minor, 2) = 8; allow 136:*
	 * rwm = 4; allow 5:0 rw = 8; allow 1:3 rwm = 5; deny a = 2; no tail. */
	assert_int_equal(n, 6 + 8 + 4 + 8 + 5 + 2);
	assert_int_equal(p[n - 2].code, BPF_ALU64 | BPF_MOV | BPF_K);
	assert_int_equal(p[n - 2].imm, 0);
	/* Every jump lands inside the program. */
	for (int i = 0; i < n; i++)
		if (BPF_CLASS(p[i].code) == BPF_JMP && BPF_OP(p[i].code) != BPF_EXIT)
			assert_true(i + 1 + p[i].off < n);

	assert_int_equal(run_prog(p, n, CHR, R, 1, 3), 1);
	assert_int_equal(run_prog(p, n, CHR, M, 1, 3), 1);
	assert_int_equal(run_prog(p, n, CHR, W, 1, 3), 0); /* the later deny wins */
	assert_int_equal(run_prog(p, n, CHR, R | W, 1, 3), 0);
	assert_int_equal(run_prog(p, n, CHR, R | W, 5, 0), 1);
	assert_int_equal(run_prog(p, n, CHR, M, 5, 0), 0);
	assert_int_equal(run_prog(p, n, CHR, R | W | M, 136, 7), 1);
	assert_int_equal(run_prog(p, n, BLK, R, 136, 7), 0);
	assert_int_equal(run_prog(p, n, BLK, R, 8, 0), 0);
	assert_int_equal(run_prog(p, n, CHR, R, 1, 5), 0);
}

static void bpf_allow_all_last_stops_early(void **state)
{
	const struct cg_device_rule rules[] = {
		{ .allow = false, .type = 'b', .major = 8, .minor = 0, .access = "rwm" },
		{ .allow = true, .type = 'a', .major = -1, .minor = -1, .access = "" },
	};
	struct bpf_insn p[CG_BPF_MAX_INSNS];
	int n = cg_bpf_devices_prog(rules, 2, p, CG_BPF_MAX_INSNS);

	/* The unconditional last rule makes the rest dead code: not emitted. */
	assert_int_equal(n, 6 + 2);
	assert_int_equal(run_prog(p, n, BLK, R, 8, 0), 1);
	assert_int_equal(cg_bpf_devices_prog(rules, 1, p, 7), -E2BIG);
}

/* unified entries on v1 and hybrid: only a controller in the cgroup2 leaf passes. */
static void unified_check(void **state)
{
	struct cg_layout_info hy, v1, v2;
	struct cg_resources r;
	struct err *e = NULL;

	assert_int_equal(cg_parse_mountinfo(mi_hybrid, &hy, NULL), 0);
	assert_int_equal(cg_parse_mountinfo(mi_v1_comount, &v1, NULL), 0);
	assert_int_equal(cg_parse_mountinfo(mi_v2, &v2, NULL), 0);
	cg_resources_init(&r);
	assert_int_equal(cg_unified_check(&hy, NULL, &r, NULL), 0); /* none given */
	strcpy(r.unified[0].name, "memory.high");
	strcpy(r.unified[0].value, "max");
	r.nr_unified = 1;
	assert_int_equal(cg_unified_check(&v2, NULL, &r, NULL), 0); /* v2: written, not checked */

	assert_int_equal(cg_unified_check(&hy, "hugetlb", &r, &e), -EINVAL);
	assert_string_equal(err_msg(e), "unified: `memory.high` needs cgroup v2 (this host's "
					"memory controller is on v1)");
	err_free(&e);
	assert_int_equal(cg_unified_check(&v1, NULL, &r, &e), -EINVAL);
	assert_non_null(strstr(err_msg(e), "memory controller is on v1"));
	err_free(&e);
	/* io is v1's blkio; v1 here has no blkio, so it is simply not in cgroup2 */
	strcpy(r.unified[0].name, "io.max");
	assert_int_equal(cg_unified_check(&hy, "", &r, &e), -EINVAL);
	assert_non_null(strstr(err_msg(e), "this host's io controller is on v1"));
	err_free(&e);
	assert_int_equal(cg_unified_check(&v1, NULL, &r, &e), -EINVAL);
	assert_non_null(strstr(err_msg(e), "io controller is not in the container's cgroup2"));
	err_free(&e);
	/* hybrid with the controller in the cgroup2 leaf: allowed (a word, not a prefix) */
	strcpy(r.unified[0].name, "hugetlb.2MB.max");
	strcpy(r.unified[1].name, "memory.high");
	r.nr_unified = 2;
	assert_int_equal(cg_unified_check(&hy, "hugetlb memory\n", &r, NULL), 0);
	assert_int_equal(cg_unified_check(&hy, "hugetlb memoryx", &r, &e), -EINVAL);
	assert_non_null(strstr(err_msg(e), "`memory.high` needs cgroup v2"));
	err_free(&e);
	cg_layout_free(&hy);
	cg_layout_free(&v1);
	cg_layout_free(&v2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_hybrid),
		cmocka_unit_test(parse_v1_comounted),
		cmocka_unit_test(parse_v1_escaped_bind_mount),
		cmocka_unit_test(parse_v2),
		cmocka_unit_test(parse_v2_only_systemd_named_v1),
		cmocka_unit_test(parse_named_systemd),
		cmocka_unit_test(parse_nothing_is_enoent),
		cmocka_unit_test(path_normalize),
		cmocka_unit_test(shares_to_weight),
		cmocka_unit_test(io_max_lines),
		cmocka_unit_test(memory_swap_order),
		cmocka_unit_test(unified_check),
		cmocka_unit_test(cpu_max_and_device_lines),
		cmocka_unit_test(bpf_empty_denies_all),
		cmocka_unit_test(bpf_oci_default_list),
		cmocka_unit_test(bpf_allow_all_last_stops_early),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
