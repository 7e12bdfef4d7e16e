// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The applets of vps-ct-init (init.c) that try a container's switches
 * (docs/containers.md, "Features"): a FUSE filesystem of its own, swapon and
 * swapoff, user namespaces and a container inside. Each prints what it got,
 * "ok" or the errno's name, for test_ct_features.py to check.
 *
 *   tunuse NAME    make TUN device NAME, give it 10.199.0.1/24, send a UDP
 *                  datagram to 10.199.0.2 and read it back from the device:
 *                  "tun NAME carried N bytes"
 *   fuse DIR       mount a one-file FUSE filesystem on DIR, serve it from a
 *                  child, read DIR/hello, unmount: "read <text>"
 *   swap on|off P  swapon(P, 0) / swapoff(P): "swapon ok"
 *   userns         unshare, clone and clone3 with CLONE_NEWUSER
 *   nest           a user-namespaced container: new user, mount and pid
 *                  namespaces, its own /proc: "proc ok pid 1 procs 1"
 *
 * The FUSE server speaks the kernel's protocol (<linux/fuse.h>) directly, as
 * little of it as `cat` needs: no libfuse in a static helper.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <linux/fuse.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int switches(const char *cmd, int argc, char **argv);

static const char hello[] = "hello from fuse\n";

#define ROOT_ID 1 /* FUSE_ROOT_ID */
#define HELLO_ID 2

static const char *res(long r)
{
	return r < 0 ? strerrorname_np(errno) : "ok";
}

static void attr_of(uint64_t node, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = node;
	a->nlink = node == ROOT_ID ? 2 : 1;
	a->mode = node == ROOT_ID ? S_IFDIR | 0755 : S_IFREG | 0444;
	a->size = node == ROOT_ID ? 0 : sizeof(hello) - 1;
	a->blksize = 4096;
}

static void answer(int fd, uint64_t unique, int error, const void *data, size_t n)
{
	char buf[sizeof(struct fuse_out_header) + 4096];
	struct fuse_out_header *h = (void *)buf;

	h->len = sizeof(*h) + n;
	h->error = -error;
	h->unique = unique;
	if (n)
		memcpy(buf + sizeof(*h), data, n);
	if (write(fd, buf, h->len) < 0)
		return; /* the request was interrupted: nothing waits for it */
}

/* Requests until the mount goes (read fails with ENODEV). */
static void serve(int fd)
{
	static char buf[FUSE_MIN_READ_BUFFER + 131072];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		struct fuse_in_header *in = (void *)buf;
		void *arg = buf + sizeof(*in);

		switch (in->opcode) {
		case FUSE_INIT: {
			struct fuse_init_out o = { .major = FUSE_KERNEL_VERSION,
						   .minor = FUSE_KERNEL_MINOR_VERSION,
						   .max_readahead = 4096,
						   .max_write = 4096 };

			answer(fd, in->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out o = { 0 };

			attr_of(in->nodeid, &o.attr);
			answer(fd, in->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_LOOKUP: {
			struct fuse_entry_out o = { .nodeid = HELLO_ID };

			if (in->nodeid != ROOT_ID || strcmp(arg, "hello")) {
				answer(fd, in->unique, ENOENT, NULL, 0);
				break;
			}
			attr_of(HELLO_ID, &o.attr);
			answer(fd, in->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_OPEN: {
			struct fuse_open_out o = { 0 };

			answer(fd, in->unique, in->nodeid == HELLO_ID ? 0 : EISDIR, &o, sizeof(o));
			break;
		}
		case FUSE_READ: {
			struct fuse_read_in *r = arg;
			size_t len = sizeof(hello) - 1, off = r->offset < len ? r->offset : len;
			size_t cnt = len - off < r->size ? len - off : r->size;

			answer(fd, in->unique, 0, hello + off, cnt);
			break;
		}
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
		case FUSE_INTERRUPT:
			break; /* no answer is expected */
		case FUSE_RELEASE:
		case FUSE_FLUSH:
			answer(fd, in->unique, 0, NULL, 0);
			break;
		default:
			answer(fd, in->unique, ENOSYS, NULL, 0);
		}
	}
}

static int fuse_applet(const char *dir)
{
	char opts[128], path[4096], text[128] = "";
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC), f;
	ssize_t n = 0;
	pid_t pid;

	if (fd < 0) {
		printf("open %s\n", strerrorname_np(errno));
		return 1;
	}
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
	if (mount("vpstest", dir, "fuse.vpstest", MS_NOSUID | MS_NODEV, opts) < 0) {
		printf("mount %s\n", strerrorname_np(errno));
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		serve(fd);
		_exit(0);
	}
	close(fd);
	snprintf(path, sizeof(path), "%s/hello", dir);
	f = open(path, O_RDONLY);
	if (f >= 0) {
		n = read(f, text, sizeof(text) - 1);
		close(f);
	}
	printf("read %s", f < 0 || n < 0 ? strerrorname_np(errno) : text);
	printf("%sumount %s\n", f < 0 || n < 0 ? "\n" : "", res(umount2(dir, MNT_DETACH)));
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return 0;
}

static int set_addr(int s, const char *name, unsigned long req, const char *addr)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, addr, &sin->sin_addr);
	return ioctl(s, req, &ifr);
}

/* A TUN device made and used: what the kernel routes to it comes out of its fd. */
static int tun_use(const char *name)
{
	static const char payload[] = "vps-tun-payload";
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9999) };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), s = socket(AF_INET, SOCK_DGRAM, 0);
	unsigned char pkt[2048];

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
		printf("tun %s: %s\n", fd < 0 ? "open" : "TUNSETIFF", strerrorname_np(errno));
		return 1;
	}
	if (set_addr(s, name, SIOCSIFADDR, "10.199.0.1") < 0 ||
	    set_addr(s, name, SIOCSIFNETMASK, "255.255.255.0") < 0 ||
	    ioctl(s, SIOCGIFFLAGS, &ifr) < 0 || (ifr.ifr_flags |= IFF_UP, 0) ||
	    ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
		printf("tun %s: address %s\n", name, strerrorname_np(errno));
		return 1;
	}
	inet_pton(AF_INET, "10.199.0.2", &to.sin_addr);
	if (sendto(s, payload, sizeof(payload), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		printf("tun %s: sendto %s\n", name, strerrorname_np(errno));
		return 1;
	}
	/* the kernel may send other packets first (IPv6 on the new link) */
	for (int i = 0; i < 50; i++) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, pkt, sizeof(pkt));
		/* IPv4, UDP, our payload after the 20-byte IP and 8-byte UDP headers */
		if (n >= 28 + (ssize_t)sizeof(payload) && pkt[0] == 0x45 && pkt[9] == 17 &&
		    !memcmp(pkt + 28, payload, sizeof(payload))) {
			printf("tun %s carried %zd bytes\n", name, n);
			return 0;
		}
	}
	printf("tun %s: nothing came out\n", name);
	return 1;
}

/* Each call in a child, so the caller's namespaces stay as they are. */
static const char *try_child(int how)
{
	struct clone_args ca = { .flags = CLONE_NEWUSER, .exit_signal = SIGCHLD };
	long r;
	int st;

	if (how == 0) {
		pid_t p = fork();

		if (p == 0)
			_exit(unshare(CLONE_NEWUSER) < 0 ? errno : 0);
		waitpid(p, &st, 0);
		errno = WEXITSTATUS(st);
		return errno ? strerrorname_np(errno) : "ok";
	}
	r = how == 1 ? syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0) :
		       syscall(SYS_clone3, &ca, sizeof(ca));
	if (r == 0)
		_exit(0);
	if (r < 0)
		return strerrorname_np(errno);
	waitpid(r, &st, 0);
	return "ok";
}

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : write(fd, text, strlen(text));

	if (fd >= 0)
		close(fd);
	return n < 0 ? -1 : 0;
}

/* `unshare -Urpf --mount-proc` by hand: a container inside the container. */
static int nest(void)
{
	pid_t p = fork();
	int st;

	if (p == 0) {
		pid_t c;

		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
			printf("unshare %s\n", strerrorname_np(errno));
			_exit(1);
		}
		if (write_text("/proc/self/setgroups", "deny") < 0 ||
		    write_text("/proc/self/uid_map", "0 0 1") < 0 ||
		    write_text("/proc/self/gid_map", "0 0 1") < 0) {
			printf("idmap %s\n", strerrorname_np(errno));
			_exit(1);
		}
		if (unshare(CLONE_NEWPID) < 0) {
			printf("unshare-pid %s\n", strerrorname_np(errno));
			_exit(1);
		}
		c = fork();
		if (c == 0) {
			int procs = 0;
			DIR *d;
			struct dirent *e;

			mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
			if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) <
			    0) {
				printf("proc %s pid %d\n", strerrorname_np(errno), (int)getpid());
				_exit(1);
			}
			d = opendir("/proc");
			while (d && (e = readdir(d)))
				procs += e->d_name[0] >= '1' && e->d_name[0] <= '9';
			if (d)
				closedir(d);
			printf("proc ok pid %d procs %d\n", (int)getpid(), procs);
			_exit(0);
		}
		waitpid(c, &st, 0);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
	}
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* The applets above; -1 when CMD is none of them. */
int switches(const char *cmd, int argc, char **argv)
{
	if (!strcmp(cmd, "tunuse") && argc >= 3)
		return tun_use(argv[2]);
	if (!strcmp(cmd, "fuse") && argc >= 3)
		return fuse_applet(argv[2]);
	if (!strcmp(cmd, "swap") && argc >= 4) {
		long r = !strcmp(argv[2], "on") ? syscall(SYS_swapon, argv[3], 0) :
						  syscall(SYS_swapoff, argv[3]);

		printf("swap%s %s\n", argv[2], res(r));
		return 0;
	}
	if (!strcmp(cmd, "userns")) {
		const char *u = try_child(0), *c = try_child(1), *c3 = try_child(2);

		printf("unshare %s clone %s clone3 %s\n", u, c, c3);
		return 0;
	}
	if (!strcmp(cmd, "nest"))
		return nest();
	return -1;
}
