// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vps-ctm: the command line of the system-container monitor.
 *
 *   vps-ctm create  CONFIG           make the disk and root filesystem
 *   vps-ctm run     CONFIG           run the container (the monitor; foreground)
 *   vps-ctm destroy CONFIG           remove what create made (not while running)
 *   vps-ctm spec    CONFIG           print the OCI config.json it would use
 *   vps-ctm ctl     CONFIG REQUEST   one control request (JSON), print the reply
 *   vps-ctm grow    CONFIG SIZE      grow the disk (online when running)
 *   vps-ctm exec    CONFIG [-t] -- CMD...   run CMD inside (-t: on a new terminal;
 *                                    `exec -t CONFIG -- /bin/sh -l` is "enter")
 *   vps-ctm console CONFIG           attach to the console; Ctrl-] detaches
 *   vps-ctm export  CONFIG -- PROG ARG...   the stopped root as a tar on PROG's
 *                                    stdin, read in the container's user namespace
 *                                    (the loop of `vps console` too: src/sys/tty.c)
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "sys/disk.h"
#include "ctm/ctm.h"
#include "monitor/client.h"
#include "monitor/protocol.h"
#include "sys/tty.h"
#include "sys/unix.h"

static void usage(FILE *f)
{
	fputs("usage: vps-ctm create|run|destroy|spec CONFIG\n"
	      "       vps-ctm grow CONFIG SIZE\n"
	      "       vps-ctm ctl CONFIG '{\"cmd\":\"state\"}'\n"
	      "       vps-ctm exec CONFIG [-t] -- CMD [ARG...]\n"
	      "       vps-ctm console CONFIG        (Ctrl-] detaches)\n"
	      "       vps-ctm export CONFIG -- PROG [ARG...]\n",
	      f);
}

static int cmd_ctl(const struct ctm_config *c, const char *req)
{
	_cleanup_free_ char *path = ctm_path(c, true, "control.sock");
	_cleanup_free_ char *out = NULL;
	struct err *e = NULL;
	json_t *r;
	int ok;

	if (!path)
		return 1;
	if (strchr(req, '\n')) {
		pr_err("send the request: must be one line");
		return 1;
	}
	r = monitor_send(path, req, -1, &e);
	if (!r) {
		pr_err("`%s`: %s", c->name, err_msg(e));
		err_free(&e);
		return 1;
	}
	/* as the monitor wrote it: sorted and compact */
	out = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
	ok = json_is_true(json_object_get(r, "ok"));
	json_decref(r);
	if (out)
		printf("%s\n", out);
	return ok ? 0 : 1;
}

static int cmd_console(const struct ctm_config *c)
{
	_cleanup_free_ char *path = ctm_path(c, true, "console.sock");
	_cleanup_close_ int fd = -1;
	struct tty_session s = { .in = 0, .out = 1 };
	char hello[128];
	enum tty_end end;

	if (!path || (fd = unix_connect(path)) < 0) {
		pr_err("`%s` is not running (console socket `%s`: %s)", c->name, path,
		       strerror(-fd));
		return 1;
	}
	s.peer = fd;
	snprintf(hello, sizeof(hello), "vps-ctm: attached to `%s`; Ctrl-] detaches", c->name);
	s.hello = hello;
	end = tty_attach(&s);
	if (tty_end_str(end)) {
		pr_err("console of `%s`: %s%s%s", c->name, tty_end_str(end), s.err ? ": " : "",
		       s.err ? strerror(s.err) : "");
		return 1;
	}
	if (s.raw)
		fprintf(stderr, "\nvps-ctm: detached from `%s`\n", c->name);
	return s.sig ? 128 + s.sig : 0;
}

/* Copy the terminal to the pty master and back until the process is gone. */
static int proxy_tty(int master, pid_t child)
{
	struct termios saved, raw;
	bool tty = isatty(0);
	struct winsize ws;
	char buf[4096];
	int st = 0;

	if (tty && ioctl(0, TIOCGWINSZ, &ws) == 0)
		ioctl(master, TIOCSWINSZ, &ws);
	if (tty) {
		tcgetattr(0, &saved);
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
	}
	for (bool in_open = true;;) {
		struct pollfd p[2] = { { in_open ? 0 : -1, POLLIN, 0 }, { master, POLLIN, 0 } };
		ssize_t n;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents) {
			n = read(master, buf, sizeof(buf));
			if (n <= 0) /* EIO: every holder of the terminal is gone */
				break;
			write_all(1, buf, n);
		}
		if (p[0].revents) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0)
				in_open = false; /* stdin done: keep reading the output */
			else
				write_all(master, buf, n);
		}
	}
	if (tty)
		tcsetattr(0, TCSANOW, &saved);
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int cmd_exec(const struct ctm_config *c, int argc, char **argv)
{
	_cleanup_free_ char *root = ctm_path(c, true, "ct");
	_cleanup_free_ const char **args = calloc(argc + 16, sizeof(char *));
	_cleanup_free_ char *sock = NULL;
	_cleanup_close_ int lfd = -1, cfd = -1, master = -1;
	struct err *e = NULL;
	bool tty = false;
	int i = 0, n = 0;
	pid_t pid;

	if (!args || !root)
		return 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--tty"))
			tty = true;
		else {
			pr_err("exec: unknown option `%s`", argv[i]);
			return 2;
		}
	}
	if (i >= argc) {
		pr_err("exec: a command is required");
		return 2;
	}
	args[n++] = ctm_vps_ct();
	args[n++] = "--root";
	args[n++] = root;
	args[n++] = "exec";
	args[n++] = "--env";
	args[n++] = "HOME=/root";
	args[n++] = "--env";
	args[n++] = "TERM=linux";
	if (tty) {
		if (asprintf(&sock, "%s/exec-%d.sock", c->run_dir, (int)getpid()) < 0)
			return 1;
		if ((lfd = ctm_listen_at(sock, &e)) < 0) {
			pr_err("exec: %s", err_msg(e));
			err_free(&e);
			return 1;
		}
		args[n++] = "--tty";
		args[n++] = "--console-socket";
		args[n++] = sock;
	}
	args[n++] = c->name;
	for (; i < argc; i++)
		args[n++] = argv[i];
	if (!tty) {
		execvp(args[0], (char *const *)args);
		pr_err("exec `%s`: %s", args[0], strerror(errno));
		return 1;
	}
	/*
	 * Not sys_spawn(): vps-ct is not waited for but watched, while the
	 * terminal it sends over the socket is taken and then proxied.
	 */
	pid = fork();
	if (pid == 0) {
		execvp(args[0], (char *const *)args);
		_exit(127);
	}
	/* the terminal's master comes over the socket, or vps-ct fails first */
	for (;;) {
		struct pollfd p = { lfd, POLLIN, 0 };
		int st;

		if (poll(&p, 1, 100) > 0) {
			cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			break;
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			unlink(sock);
			return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
		}
	}
	unlink(sock);
	master = cfd >= 0 ? unix_recv_fd(cfd) : -1;
	if (master < 0) {
		pr_err("exec: no terminal from vps-ct");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return 1;
	}
	return proxy_tty(master, pid);
}

int main(int argc, char **argv)
{
	struct ctm_config c;
	struct err *e = NULL;
	const char *cmd;
	int r;

	log_init("vps-ctm", LOG_INFO);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	ctm_config_init(&c);
	if (ctm_config_load(&c, argv[2], &e) < 0) {
		pr_err("%s", err_msg(e));
		err_free(&e);
		ctm_config_free(&c); /* what was parsed before the bad key */
		return MONITOR_EXIT_CONFIG;
	}
	if (!strcmp(cmd, "create") && argc == 3) {
		r = ctm_create(&c, &e) < 0 ? 1 : 0;
	} else if (!strcmp(cmd, "destroy") && argc == 3) {
		_cleanup_free_ char *lock = ctm_path(&c, true, "control.sock");
		int fd = lock ? unix_connect(lock) : -1;

		if (fd >= 0) {
			close(fd);
			err_make(&e, EBUSY, "destroy `%s`: it is running", c.name);
			r = 1;
		} else {
			r = ctm_destroy(&c, &e) < 0 ? 1 : 0;
		}
	} else if (!strcmp(cmd, "run") && argc == 3) {
		r = ctm_run(&c);
	} else if (!strcmp(cmd, "spec") && argc == 3) {
		_cleanup_free_ char *rootfs = ctm_boot_root(&c);
		_cleanup_free_ char *procfs = ctm_path(&c, false, "proc"); /* as `run` has it */
		json_t *s = ctm_spec(&c, c.init == CTM_INIT_AUTO ? ctm_detect_init(rootfs) : c.init,
				     rootfs, procfs, &e);

		r = 1;
		if (s) {
			json_dumpf(s, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
			putchar('\n');
			json_decref(s);
			r = 0;
		}
	} else if (!strcmp(cmd, "grow") && argc == 4) {
		_cleanup_free_ char *sock = ctm_path(&c, true, "control.sock");
		_cleanup_free_ char *img = ctm_path(&c, false, "disk.img");
		_cleanup_free_ char *req = NULL;
		int fd = sock ? unix_connect(sock) : -1;
		uint64_t size;

		if (parse_size(argv[3], &size) < 0) {
			err_make(&e, EINVAL, "grow: `%s` is not a size", argv[3]);
			r = 2;
		} else if (fd >= 0) { /* running: the monitor grows it online */
			close(fd);
			r = asprintf(&req, "{\"cmd\":\"grow\",\"disk\":\"%s\"}", argv[3]) < 0 ?
				    1 :
				    cmd_ctl(&c, req);
		} else {
			r = sys_disk_grow(img, NULL, size, &e) < 0 ? 1 : 0;
		}
	} else if (!strcmp(cmd, "ctl") && argc == 4) {
		r = cmd_ctl(&c, argv[3]);
	} else if (!strcmp(cmd, "console") && argc == 3) {
		r = cmd_console(&c);
	} else if (!strcmp(cmd, "export") && argc >= 5 && !strcmp(argv[3], "--")) {
		_cleanup_free_ char *sock = ctm_path(&c, true, "control.sock");
		int fd = sock ? unix_connect(sock) : -1;

		if (fd >= 0) {
			close(fd);
			err_make(&e, EBUSY, "export `%s`: it is running", c.name);
			r = 1;
		} else {
			r = ctm_export(&c, argv + 4, &e);
		}
	} else if (!strcmp(cmd, "exec")) {
		r = cmd_exec(&c, argc - 3, argv + 3);
	} else {
		usage(stderr);
		r = 2;
	}
	if (e) {
		pr_err("%s", err_msg(e));
		err_free(&e);
	}
	ctm_config_free(&c);
	return r;
}
