// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Device access on cgroup v2: there is no devices controller, so the rules
 * become a BPF_PROG_TYPE_CGROUP_DEVICE program that the kernel runs on each
 * open and mknod. We emit the instructions ourselves and load and attach
 * them with the raw bpf(2) syscall (no libbpf), as crun and runc do.
 *
 * The program sees struct bpf_cgroup_dev_ctx: access_type holds the device
 * type in its low 16 bits and the access bits above; then major, minor. It
 * returns 1 to allow, 0 to deny.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup_priv.h"
#include "common/cleanup.h"

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LDX_W(d, s, o) INSN(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define ALU32_K(op, d, i) INSN(BPF_ALU | (op) | BPF_K, d, 0, 0, i)
#define MOV64_X(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV64_K(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define JMP_K(op, d, i, o) INSN(BPF_JMP | (op) | BPF_K, d, 0, o, i)
#define JMP_X(op, d, s, o) INSN(BPF_JMP | (op) | BPF_X, d, s, o, 0)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* Registers after the prologue. */
enum { R_TYPE = 2, R_ACCESS = 3, R_MAJOR = 4, R_MINOR = 5 };

static unsigned int access_bits(const char *a)
{
	unsigned int bits = 0;

	if (!a[0])
		a = "rwm";
	for (; *a; a++) {
		if (*a == 'r')
			bits |= BPF_DEVCG_ACC_READ;
		else if (*a == 'w')
			bits |= BPF_DEVCG_ACC_WRITE;
		else if (*a == 'm')
			bits |= BPF_DEVCG_ACC_MKNOD;
	}
	return bits;
}

#define ACC_ALL (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)

/*
 * One rule: a run of "skip to the next rule unless ..." tests, then
 * r0 = verdict; exit. An allow rule matches a request whose access bits are
 * all granted; a deny rule one that asks for any denied bit. Sets
 * *unconditional when the rule has no test at all.
 */
static int emit_rule(const struct cg_device_rule *d, struct bpf_insn *out, size_t room,
		     bool *unconditional)
{
	struct bpf_insn blk[8];
	int n = 0, jumps[8], nj = 0;
	unsigned int acc = access_bits(d->access);

	if (d->type != 'a') {
		int t = d->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;

		jumps[nj++] = n;
		blk[n++] = JMP_K(BPF_JNE, R_TYPE, t, 0);
		if (acc != ACC_ALL) {
			blk[n++] = MOV64_X(1, R_ACCESS);
			blk[n++] = ALU32_K(BPF_AND, 1, (int)acc);
			jumps[nj++] = n;
			if (d->allow)
				blk[n++] = JMP_X(BPF_JNE, 1, R_ACCESS, 0);
			else
				blk[n++] = JMP_K(BPF_JEQ, 1, 0, 0);
		}
		if (d->major >= 0) {
			jumps[nj++] = n;
			blk[n++] = JMP_K(BPF_JNE, R_MAJOR, (int)d->major, 0);
		}
		if (d->minor >= 0) {
			jumps[nj++] = n;
			blk[n++] = JMP_K(BPF_JNE, R_MINOR, (int)d->minor, 0);
		}
	}
	blk[n++] = MOV64_K(0, d->allow ? 1 : 0);
	blk[n++] = EXIT();
	for (int j = 0; j < nj; j++)
		blk[jumps[j]].off = (short)(n - jumps[j] - 1);
	if ((size_t)n > room)
		return -E2BIG;
	memcpy(out, blk, sizeof(blk[0]) * (size_t)n);
	*unconditional = nj == 0;
	return n;
}

int cg_bpf_devices_prog(const struct cg_device_rule *rules, unsigned int n, struct bpf_insn *insns,
			size_t max_insns)
{
	const struct bpf_insn prologue[] = {
		LDX_W(R_TYPE, 1, offsetof(struct bpf_cgroup_dev_ctx, access_type)),
		ALU32_K(BPF_AND, R_TYPE, 0xffff),
		LDX_W(R_ACCESS, 1, offsetof(struct bpf_cgroup_dev_ctx, access_type)),
		ALU32_K(BPF_RSH, R_ACCESS, 16),
		LDX_W(R_MAJOR, 1, offsetof(struct bpf_cgroup_dev_ctx, major)),
		LDX_W(R_MINOR, 1, offsetof(struct bpf_cgroup_dev_ctx, minor)),
	};
	size_t len = ARRAY_SIZE(prologue);
	bool done = false;

	if (max_insns < len + 2)
		return -E2BIG;
	memcpy(insns, prologue, sizeof(prologue));
	/* Last rule first: on v1 a later rule overrides an earlier one. */
	for (unsigned int i = n; i-- > 0 && !done;) {
		int k = emit_rule(&rules[i], insns + len, max_insns - len, &done);

		if (k < 0)
			return k;
		len += (size_t)k;
	}
	if (!done) { /* no rule matched: deny (the verifier rejects dead code) */
		if (len + 2 > max_insns)
			return -E2BIG;
		insns[len++] = MOV64_K(0, 0);
		insns[len++] = EXIT();
	}
	return (int)len;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int prog_load(const struct bpf_insn *insns, int n, const char *dir, struct err **err)
{
	static char log[4096];
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.insn_cnt = (uint32_t)n;
	attr.license = (uint64_t)(uintptr_t) "GPL";
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd >= 0)
		return fd;
	if (errno != EINVAL && errno != EACCES)
		return err_make(err, errno, "load the device program for `%s`", dir);
	/* Load again with the verifier's log, to say why. */
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = sizeof(log);
	attr.log_level = 1;
	log[0] = '\0';
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd >= 0)
		return fd;
	return err_make(err, errno, "load the device program for `%s` (verifier: %.300s)", dir,
			log);
}

int cg_bpf_devices_apply(int dirfd, const char *dir, const struct cg_device_rule *rules,
			 unsigned int n, struct err **err)
{
	struct bpf_insn insns[CG_BPF_MAX_INSNS];
	uint32_t old_ids[64], nr_old = 0;
	_cleanup_close_ int prog = -1;
	union bpf_attr attr;
	int len;

	len = cg_bpf_devices_prog(rules, n, insns, ARRAY_SIZE(insns));
	if (len < 0)
		return err_make(err, -len, "device program for `%s`", dir);
	prog = prog_load(insns, len, dir, err);
	if (prog < 0)
		return prog;

	/* What is attached now (by an earlier create or update): replaced below. */
	memset(&attr, 0, sizeof(attr));
	attr.query.target_fd = (uint32_t)dirfd;
	attr.query.attach_type = BPF_CGROUP_DEVICE;
	attr.query.prog_ids = (uint64_t)(uintptr_t)old_ids;
	attr.query.prog_cnt = ARRAY_SIZE(old_ids);
	if (sys_bpf(BPF_PROG_QUERY, &attr) == 0)
		nr_old = attr.query.prog_cnt;

	/* Attach the new one before removing the old: never a moment unguarded. */
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)dirfd;
	attr.attach_bpf_fd = (uint32_t)prog;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0)
		return err_make(err, errno, "attach the device program to `%s`", dir);

	for (uint32_t i = 0; i < nr_old && i < ARRAY_SIZE(old_ids); i++) {
		_cleanup_close_ int ofd = -1;

		memset(&attr, 0, sizeof(attr));
		attr.prog_id = old_ids[i];
		ofd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
		if (ofd < 0)
			continue; /* gone already */
		memset(&attr, 0, sizeof(attr));
		attr.target_fd = (uint32_t)dirfd;
		attr.attach_bpf_fd = (uint32_t)ofd;
		attr.attach_type = BPF_CGROUP_DEVICE;
		if (sys_bpf(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
			return err_make(err, errno, "detach the old device program from `%s`", dir);
	}
	return 0;
}
