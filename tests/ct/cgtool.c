// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cgtool: a thin command-line driver over src/ct/cgroup.h for the
 * integration tests (tests/integration/test_ct_cgroup.py), which run it on
 * the v1 hybrid host and inside the v2 test host L1. One subcommand per
 * call of the interface; resources as key=value words:
 *
 *   cgtool detect
 *   cgtool create PATH [memory=64M swap=128M reservation=32M shares=512
 *                       quota=50000 period=100000 cpus=0 mems=0 pids=10
 *                       blkio-weight=500 rbps=8:0:1048576 wbps=.. riops=..
 *                       wiops=.. dev=deny:a dev=allow:c:1:5:rwm ...]
 *   cgtool update PATH k=v...      cgtool enter PATH PID
 *   cgtool exec PATH CMD [ARG...]  (joins the cgroup, then execs CMD)
 *   cgtool freeze|thaw|pids PATH   cgtool kill PATH [SIGNAL]
 *   cgtool destroy PATH [CREATED_DEPTH]
 *
 * Errors go to stderr as the error chain and exit with status 1.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "ct/cgroup.h"

static int bad(struct err **err, const char *word)
{
	return err_make(err, EINVAL, "bad resource `%s`", word);
}

static int parse_bytes(const char *s, int64_t *out)
{
	uint64_t v;

	if (!strcmp(s, "-1")) {
		*out = -1;
		return 0;
	}
	if (parse_size(s, &v) < 0 || v > INT64_MAX)
		return -EINVAL;
	*out = (int64_t)v;
	return 0;
}

static int parse_int(const char *s, int64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return (errno || end == s || *end) ? -EINVAL : 0;
}

static int parse_throttle(const char *s, struct cg_throttle *t, unsigned int *n)
{
	long long maj, min;
	unsigned long long rate;

	if (*n >= CG_MAX_THROTTLES || sscanf(s, "%lld:%lld:%llu", &maj, &min, &rate) != 3)
		return -EINVAL;
	t[*n] = (struct cg_throttle){ .major = maj, .minor = min, .rate = rate };
	(*n)++;
	return 0;
}

/* dev=allow|deny:TYPE[:MAJ:MIN[:ACCESS]], '*' for any number. */
static int parse_dev(const char *s, struct cg_resources *r)
{
	struct cg_device_rule *d;
	char verdict[8], type, maj[16] = "*", min[16] = "*", acc[4] = "rwm";
	int n;

	if (r->nr_devices >= CG_MAX_DEVICE_RULES)
		return -E2BIG;
	n = sscanf(s, "%7[a-z]:%c:%15[^:]:%15[^:]:%3s", verdict, &type, maj, min, acc);
	if (n < 2 || (strcmp(verdict, "allow") && strcmp(verdict, "deny")))
		return -EINVAL;
	d = &r->devices[r->nr_devices++];
	d->allow = !strcmp(verdict, "allow");
	d->type = type;
	d->major = strcmp(maj, "*") ? atoll(maj) : -1;
	d->minor = strcmp(min, "*") ? atoll(min) : -1;
	snprintf(d->access, sizeof(d->access), "%s", acc);
	return 0;
}

static int parse_res(int argc, char **argv, struct cg_resources *r, struct err **err)
{
	cg_resources_init(r);
	for (int i = 0; i < argc; i++) {
		char *k = argv[i], *v = strchr(k, '=');
		int ret = -EINVAL;

		if (!v)
			return bad(err, k);
		v++;
		if (!strncmp(k, "memory=", 7))
			ret = parse_bytes(v, &r->memory_limit);
		else if (!strncmp(k, "swap=", 5))
			ret = parse_bytes(v, &r->memory_swap);
		else if (!strncmp(k, "reservation=", 12))
			ret = parse_bytes(v, &r->memory_reservation);
		else if (!strncmp(k, "shares=", 7))
			ret = parse_int(v, &r->cpu_shares);
		else if (!strncmp(k, "quota=", 6))
			ret = parse_int(v, &r->cpu_quota);
		else if (!strncmp(k, "period=", 7))
			ret = parse_int(v, &r->cpu_period);
		else if (!strncmp(k, "pids=", 5))
			ret = parse_int(v, &r->pids_limit);
		else if (!strncmp(k, "blkio-weight=", 13))
			ret = parse_int(v, &r->blkio_weight);
		else if (!strncmp(k, "cpus=", 5))
			ret = snprintf(r->cpus, sizeof(r->cpus), "%s", v) < 0 ? -EINVAL : 0;
		else if (!strncmp(k, "mems=", 5))
			ret = snprintf(r->mems, sizeof(r->mems), "%s", v) < 0 ? -EINVAL : 0;
		else if (!strncmp(k, "rbps=", 5))
			ret = parse_throttle(v, r->read_bps, &r->nr_read_bps);
		else if (!strncmp(k, "wbps=", 5))
			ret = parse_throttle(v, r->write_bps, &r->nr_write_bps);
		else if (!strncmp(k, "riops=", 6))
			ret = parse_throttle(v, r->read_iops, &r->nr_read_iops);
		else if (!strncmp(k, "wiops=", 6))
			ret = parse_throttle(v, r->write_iops, &r->nr_write_iops);
		else if (!strncmp(k, "dev=", 4))
			ret = parse_dev(v, r);
		if (ret < 0)
			return bad(err, k);
	}
	return 0;
}

static int run(int argc, char **argv, struct err **err)
{
	const char *cmd = argv[1], *path = argc > 2 ? argv[2] : NULL;
	struct ct_cgroup *cg = NULL;
	struct cg_resources res;
	int ret;

	if (!strcmp(cmd, "detect")) {
		static const char *const names[] = { "v1", "v2", "hybrid" };
		enum cg_layout l;

		ret = cg_detect(&l, err);
		if (ret == 0)
			printf("%s\n", names[l]);
		return ret;
	}
	if (!path)
		return err_make(err, EINVAL, "usage: cgtool %s PATH ...", cmd);
	if (!strcmp(cmd, "create")) {
		ret = parse_res(argc - 3, argv + 3, &res, err);
		if (ret == 0)
			ret = cg_create(path, &res, &cg, err);
		if (ret == 0)
			printf("created %u\n", cg_created_depth(cg));
		cg_free(cg);
		return ret;
	}
	ret = cg_open(path, &cg, err);
	if (ret < 0)
		return ret;
	if (!strcmp(cmd, "update")) {
		ret = parse_res(argc - 3, argv + 3, &res, err);
		if (ret == 0)
			ret = cg_update(cg, &res, err);
	} else if (!strcmp(cmd, "enter") && argc == 4) {
		ret = cg_enter(cg, (pid_t)atoi(argv[3]), err);
	} else if (!strcmp(cmd, "exec") && argc >= 4) {
		ret = cg_enter(cg, getpid(), err);
		cg_free(cg);
		if (ret < 0)
			return ret;
		execvp(argv[3], argv + 3);
		return err_make(err, errno, "exec `%s`", argv[3]);
	} else if (!strcmp(cmd, "freeze") || !strcmp(cmd, "thaw")) {
		ret = cg_freeze(cg, !strcmp(cmd, "freeze"), err);
	} else if (!strcmp(cmd, "pids")) {
		pid_t *pids;
		size_t n;

		ret = cg_pids(cg, &pids, &n, err);
		for (size_t i = 0; ret == 0 && i < n; i++)
			printf("%d\n", (int)pids[i]);
		if (ret == 0)
			free(pids);
	} else if (!strcmp(cmd, "kill")) {
		ret = cg_kill_all(cg, argc > 3 ? atoi(argv[3]) : SIGKILL, err);
	} else if (!strcmp(cmd, "destroy")) {
		if (argc > 3)
			cg_set_created_depth(cg, (unsigned int)atoi(argv[3]));
		return cg_destroy(cg, err);
	} else {
		ret = err_make(err, EINVAL, "unknown command `%s`", cmd);
	}
	cg_free(cg);
	return ret;
}

int main(int argc, char **argv)
{
	struct err *err = NULL;

	log_init("cgtool", getenv("CGTOOL_DEBUG") ? LOG_DEBUG : LOG_WARN);
	if (argc < 2) {
		fprintf(stderr, "usage: cgtool detect|create|update|enter|exec|freeze|thaw|pids|"
				"kill|destroy PATH ...\n");
		return 2;
	}
	if (run(argc, argv, &err) < 0) {
		fprintf(stderr, "cgtool: %s\n", err_msg(err));
		err_free(&err);
		return 1;
	}
	return 0;
}
