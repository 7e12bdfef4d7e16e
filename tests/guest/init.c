// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The test init: a tiny static multi-call program that is PID 1 in the test
 * guests' initramfs (tests/guest/mkinitramfs, mkl1). It mounts proc, sys and
 * devtmpfs, loads the modules listed in /modules.order with finit_module,
 * reports what the guest sees on the console, runs the checks the test asked
 * for on the kernel command line, and says `VPS-INIT: ok` or
 * `VPS-INIT: fail <reason>`. Then it powers off, reboots, opens a shell, or
 * (in the nested test host L1) sets up the host root shared over 9p and
 * serves the command channel (agent.c).
 *
 * The console lines, one per item, are what tests match:
 *   VPS-INIT: start
 *   VPS-INIT: modules <n loaded>
 *   VPS-INIT: cpus <n online>
 *   VPS-INIT: mem <MemTotal in kB>
 *   VPS-INIT: block <names in /sys/block, or ->
 *   VPS-INIT: net <names in /sys/class/net, or ->
 *   VPS-INIT: rng <current hw_random, or -> entropy <entropy_avail>
 *   VPS-INIT: check <spec> ok | check <spec> fail <why>
 *   VPS-INIT: ok | fail <first failure>
 *
 * Kernel command line:
 *   vps.check=cmdline:TOKEN    TOKEN is a word of the command line
 *   vps.check=disk:DEV:MAGIC   DEV starts with "VPSMARK MAGIC\n" (mkrootfs mark)
 *   vps.check=file:PATH        PATH exists
 *   vps.check=diskwrite:DEV:TEXT   write "VPSWRITE TEXT\n" at 1 MiB into DEV, sync,
 *                              read it back (the host then checks the image)
 *   vps.check=rng:N            read N bytes from /dev/hwrng: not all zero
 *   vps.net=IFACE,ADDR/PREFIX  bring IFACE up with ADDR (busybox ip), before checks
 *   vps.check=ping:ADDR        busybox ping reaches ADDR
 *   vps.check=tcpsend:ADDR:PORT:MIB   connect to ADDR:PORT (IPv4) and send MIB MiB in
 *                              64 KiB writes (the stack may hand the NIC TSO frames),
 *                              then close; fails if a write or the connect does
 *   vps.check=fb:RRGGBB        /dev/fb0 comes (10 s at most) at 32 bits per pixel;
 *                              says `VPS-INIT: fb WxH line L`, and fills the lower half
 *                              of the visible screen with the colour (hex) through write()
 *   vps.check=kms:RRGGBB       through /dev/dri/card0 as a compositor does: a dumb buffer
 *                              of the connector's preferred mode, its lower half the
 *                              colour, its upper half black, shown with SETCRTC; says
 *                              `VPS-INIT: kms WxH of N modes, the largest WxH`; the device
 *                              stays open (our mode stays)
 *   vps.then=poweroff|reboot|shell|agent|wait   (default poweroff); wait says
 *                              `VPS-INIT: waiting` and powers off when the ACPI
 *                              power button is pressed
 *   vps.dirty=MIB              with wait: a child writes every page of MIB MiB
 *                              over and over (a busy guest for migration)
 *
 * Run as any name but PID 1 it only reports and checks (the command line then
 * comes from $VPS_CMDLINE if set); run as `vps-agent` it is the agent.
 */
#define _GNU_SOURCE /* built outside meson's project arguments */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/fb.h>
#include <linux/fs.h>
#include <linux/input.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agent.h"

#define MAX_ARGS 256

static char cmdline[8192];
static char *args[MAX_ARGS];
static int nargs;
static char failure[256]; /* the first failure, for the final line */
static int pid1;

static void say(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "VPS-INIT: ");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/*
	 * One write a line, and wait for the console to send it: a kernel
	 * message (printk writes the UART directly) cannot land inside it,
	 * and nothing is left in the tty buffer at power-off.
	 */
	if (write(1, line, n) == n)
		tcdrain(1);
}

static void fail(const char *fmt, ...)
{
	va_list ap;

	if (failure[0])
		return;
	va_start(ap, fmt);
	vsnprintf(failure, sizeof(failure), fmt, ap);
	va_end(ap);
}

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return n;
}

static int do_mount(const char *src, const char *dst, const char *type, unsigned long flags,
		    const char *data)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY) {
		fail("mount %s on %s: %s", type, dst, strerror(errno));
		return -errno;
	}
	return 0;
}

static void mount_basics(void)
{
	do_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	do_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	do_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	do_mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, NULL);
	do_mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");

	/* The kernel gave us no console if the archive had no /dev/console. */
	if (fcntl(1, F_GETFD) < 0) {
		int fd = open("/dev/console", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
	}
}

/* Split the command line into words; "double quotes" may hold spaces. */
static void parse_cmdline(void)
{
	const char *env = pid1 ? NULL : getenv("VPS_CMDLINE");
	char *p, *w;
	int quoted = 0;

	if (env)
		snprintf(cmdline, sizeof(cmdline), "%s", env);
	else if (read_file("/proc/cmdline", cmdline, sizeof(cmdline)) < 0)
		fail("read /proc/cmdline: %s", strerror(errno));

	for (p = w = cmdline; nargs < MAX_ARGS;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		args[nargs++] = w = p;
		for (; *p && (quoted || (*p != ' ' && *p != '\t')); p++) {
			if (*p == '"')
				quoted = !quoted;
			else
				*w++ = *p;
		}
		if (*p)
			p++;
		*w = 0;
	}
}

static const char *param(const char *key)
{
	size_t n = strlen(key);

	for (int i = nargs - 1; i >= 0; i--)
		if (!strncmp(args[i], key, n) && args[i][n] == '=')
			return args[i] + n + 1;
	return NULL;
}

/* finit_module, one line a module: "PATH [PARAMS]", in dependency order. */
static void load_modules(void)
{
	FILE *f = fopen("/modules.order", "re");
	char line[512];
	int loaded = 0;

	if (!f) {
		say("modules 0");
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *path = line, *params;
		int fd;

		line[strcspn(line, "\n")] = 0;
		params = strchr(line, ' ');
		if (params)
			*params++ = 0;
		if (!*path)
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fail("module %s: %s", path, strerror(errno));
			continue;
		}
		if (syscall(SYS_finit_module, fd, params ? params : "", 0) < 0 && errno != EEXIST)
			fail("module %s: %s", path, strerror(errno));
		else
			loaded++;
		close(fd);
	}
	fclose(f);
	say("modules %d", loaded);
}

static int not_dot(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/* "name name ..." of a directory's entries, sorted, or "-" if none. */
static void say_dir(const char *what, const char *dir)
{
	struct dirent **de;
	char list[1024] = "";
	size_t len = 0;
	int n = scandir(dir, &de, not_dot, alphasort);

	for (int i = 0; i < n; i++) {
		if (len < sizeof(list))
			len += snprintf(list + len, sizeof(list) - len, "%s%s", len ? " " : "",
					de[i]->d_name);
		free(de[i]);
	}
	if (n > 0)
		free(de);
	say("%s %s", what, len ? list : "-");
}

static int count_cpus(const char *list)
{
	int count = 0;

	while (*list) {
		char *end;
		long a = strtol(list, &end, 10), b = a;

		if (end == list)
			break;
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		count += b - a + 1;
		list = *end == ',' ? end + 1 : end;
	}
	return count;
}

static void report(void)
{
	char buf[4096], rng[64], ent[32];
	char *p;

	if (read_file("/sys/devices/system/cpu/online", buf, sizeof(buf)) < 0)
		buf[0] = 0;
	say("cpus %d", count_cpus(buf));

	buf[0] = 0;
	if (read_file("/proc/meminfo", buf, sizeof(buf)) >= 0) {
		p = strstr(buf, "MemTotal:");
		say("mem %ld", p ? strtol(p + 9, NULL, 10) : 0L);
	}

	say_dir("block", "/sys/block");
	say_dir("net", "/sys/class/net");

	if (read_file("/sys/class/misc/hw_random/rng_current", rng, sizeof(rng)) <= 0 ||
	    !strcmp(rng, "none") || access("/dev/hwrng", F_OK))
		strcpy(rng, "-");
	if (read_file("/proc/sys/kernel/random/entropy_avail", ent, sizeof(ent)) <= 0)
		strcpy(ent, "-");
	say("rng %s entropy %s", rng, ent);
}

static const char *check_cmdline(const char *token, const char *self)
{
	for (int i = 0; i < nargs; i++)
		if (args[i] != self && !strcmp(args[i], token))
			return NULL;
	return "not on the command line";
}

static const char *check_disk(const char *spec)
{
	static char why[300];
	char dev[128], want[256], got[256];
	const char *colon = strchr(spec, ':');
	ssize_t n;
	int fd;

	if (!colon || colon - spec >= (long)sizeof(dev))
		return "want disk:DEV:MAGIC";
	snprintf(dev, sizeof(dev), "%.*s", (int)(colon - spec), spec);
	n = snprintf(want, sizeof(want), "VPSMARK %s\n", colon + 1);
	fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, sizeof(why), "open %s: %s", dev, strerror(errno));
		return why;
	}
	if (pread(fd, got, n, 0) != n || memcmp(got, want, n)) {
		close(fd);
		return "marker differs";
	}
	close(fd);
	return NULL;
}

#define DISKWRITE_OFFSET (1 << 20)

static const char *check_diskwrite(const char *spec)
{
	static char why[300];
	char dev[128], text[256], got[256];
	const char *colon = strchr(spec, ':');
	ssize_t n;
	int fd;

	if (!colon || colon - spec >= (long)sizeof(dev))
		return "want diskwrite:DEV:TEXT";
	snprintf(dev, sizeof(dev), "%.*s", (int)(colon - spec), spec);
	n = snprintf(text, sizeof(text), "VPSWRITE %s\n", colon + 1);
	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, sizeof(why), "open %s: %s", dev, strerror(errno));
		return why;
	}
	if (pwrite(fd, text, n, DISKWRITE_OFFSET) != n || fsync(fd) < 0) {
		snprintf(why, sizeof(why), "write %s: %s", dev, strerror(errno));
		close(fd);
		return why;
	}
	/* Read back past the page cache, so the bytes come from the device. */
	ioctl(fd, BLKFLSBUF, 0);
	if (pread(fd, got, n, DISKWRITE_OFFSET) != n || memcmp(got, text, n)) {
		close(fd);
		return "read back differs";
	}
	close(fd);
	return NULL;
}

static const char *check_rng(const char *spec)
{
	unsigned char buf[4096];
	long want = strtol(spec, NULL, 10);
	ssize_t got = 0, n;
	int fd, nonzero = 0;

	if (want <= 0 || want > (long)sizeof(buf))
		return "want rng:N with N from 1 to 4096";
	fd = open("/dev/hwrng", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "no /dev/hwrng";
	while (got < want && (n = read(fd, buf + got, want - got)) > 0)
		got += n;
	close(fd);
	if (got < want)
		return "short read";
	for (long i = 0; i < want; i++)
		nonzero |= buf[i];
	return nonzero ? NULL : "all zero";
}

/* vps.check=tcpsend:ADDR:PORT:MIB: a bulk TCP transfer out of the guest. */
static const char *check_tcpsend(const char *spec)
{
	static char why[160], buf[64 << 10];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char addr[64];
	unsigned int port, mib;
	long left;
	int fd, tries;

	if (sscanf(spec, "%63[^:]:%u:%u", addr, &port, &mib) != 3 || !port || port > 65535 ||
	    !mib || mib > 4096 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return "want tcpsend:ADDR:PORT:MIB (IPv4, 1 to 4096 MiB)";
	sa.sin_port = htons((uint16_t)port);
	fd = -1;
	for (tries = 0; tries < 50; tries++) { /* the link may still be coming up */
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		close(fd);
		fd = -1;
		usleep(100000);
	}
	if (fd < 0) {
		snprintf(why, sizeof(why), "connect %s:%u: %s", addr, port, strerror(errno));
		return why;
	}
	for (left = (long)mib << 20; left > 0;) {
		ssize_t n = write(fd, buf, left < (long)sizeof(buf) ? (size_t)left : sizeof(buf));

		if (n <= 0) {
			snprintf(why, sizeof(why), "write: %s", n < 0 ? strerror(errno) : "0");
			close(fd);
			return why;
		}
		left -= n;
	}
	close(fd);
	return NULL;
}

/* vps.check=fb:RRGGBB: a display driver's fbdev emulation, written as a program would. */
static const char *check_fb(const char *spec)
{
	static char why[160];
	struct fb_var_screeninfo var;
	struct fb_fix_screeninfo fix;
	uint32_t colour = strtoul(spec, NULL, 16), *row;
	int fd = -1;

	for (int i = 0; i < 100 && fd < 0; i++) {
		fd = open("/dev/fb0", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			usleep(100000);
	}
	if (fd < 0)
		return "no /dev/fb0";
	if (ioctl(fd, FBIOGET_VSCREENINFO, &var) < 0 || ioctl(fd, FBIOGET_FSCREENINFO, &fix) < 0) {
		close(fd);
		return "FBIOGET_*SCREENINFO failed";
	}
	say("fb %ux%u line %u", var.xres, var.yres, fix.line_length);
	if (var.bits_per_pixel != 32 || fix.line_length < var.xres * 4) {
		snprintf(why, sizeof(why), "%u bits per pixel, line %u", var.bits_per_pixel,
			 fix.line_length);
		close(fd);
		return why;
	}
	row = malloc(fix.line_length);
	if (!row) {
		close(fd);
		return "out of memory";
	}
	for (unsigned int x = 0; x < fix.line_length / 4; x++)
		row[x] = colour;
	for (unsigned int y = var.yres / 2; y < var.yres; y++) {
		off_t at = (off_t)(y + var.yoffset) * fix.line_length;

		if (pwrite(fd, row, fix.line_length, at) != (ssize_t)fix.line_length) {
			snprintf(why, sizeof(why), "write row %u: %s", y, strerror(errno));
			free(row);
			close(fd);
			return why;
		}
	}
	free(row);
	close(fd);
	return NULL;
}

/* The DRM uapi (include/uapi/drm/drm_mode.h) this needs; no libdrm in the static init. */
struct kms_card_res {
	uint64_t fb_ptr, crtc_ptr, connector_ptr, encoder_ptr;
	uint32_t count_fbs, count_crtcs, count_connectors, count_encoders;
	uint32_t min_width, max_width, min_height, max_height;
};
struct kms_modeinfo {
	uint32_t clock;
	uint16_t hdisplay, hsync_start, hsync_end, htotal, hskew;
	uint16_t vdisplay, vsync_start, vsync_end, vtotal, vscan;
	uint32_t vrefresh, flags, type;
	char name[32];
};
struct kms_get_connector {
	uint64_t encoders_ptr, modes_ptr, props_ptr, prop_values_ptr;
	uint32_t count_modes, count_props, count_encoders;
	uint32_t encoder_id, connector_id, connector_type, connector_type_id;
	uint32_t connection, mm_width, mm_height, subpixel, pad;
};
struct kms_crtc {
	uint64_t set_connectors_ptr;
	uint32_t count_connectors, crtc_id, fb_id, x, y, gamma_size, mode_valid;
	struct kms_modeinfo mode;
};
struct kms_fb_cmd {
	uint32_t fb_id, width, height, pitch, bpp, depth, handle;
};
struct kms_create_dumb {
	uint32_t height, width, bpp, flags, handle, pitch;
	uint64_t size;
};
struct kms_map_dumb {
	uint32_t handle, pad;
	uint64_t offset;
};
#define KMS_IOWR(nr, type) _IOWR('d', nr, type)
#define KMS_GETRESOURCES KMS_IOWR(0xa0, struct kms_card_res)
#define KMS_SETCRTC KMS_IOWR(0xa2, struct kms_crtc)
#define KMS_GETCONNECTOR KMS_IOWR(0xa7, struct kms_get_connector)
#define KMS_ADDFB KMS_IOWR(0xae, struct kms_fb_cmd)
#define KMS_CREATE_DUMB KMS_IOWR(0xb2, struct kms_create_dumb)
#define KMS_MAP_DUMB KMS_IOWR(0xb3, struct kms_map_dumb)
#define KMS_MODE_TYPE_PREFERRED (1 << 3)

static int kms_fd = -1; /* kept open: closing it would give the screen back to fbdev */

static const char *check_kms(const char *spec)
{
	static char why[160];
	uint32_t colour = strtoul(spec, NULL, 16), crtc = 0, conn = 0;
	struct kms_card_res res = { 0 };
	struct kms_get_connector gc = { 0 };
	struct kms_modeinfo modes[64], *mode;
	struct kms_create_dumb cd = { 0 };
	struct kms_fb_cmd fb = { 0 };
	struct kms_map_dumb md = { 0 };
	struct kms_crtc sc = { 0 };
	uint8_t *px;

	kms_fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
	if (kms_fd < 0)
		return "no /dev/dri/card0";
	res.crtc_ptr = (uintptr_t)&crtc;
	res.connector_ptr = (uintptr_t)&conn;
	res.count_crtcs = res.count_connectors = 1;
	if (ioctl(kms_fd, KMS_GETRESOURCES, &res) < 0 || !crtc || !conn)
		return "GETRESOURCES: no CRTC or connector";
	gc.connector_id = conn;
	gc.modes_ptr = (uintptr_t)modes;
	gc.count_modes = 64;
	if (ioctl(kms_fd, KMS_GETCONNECTOR, &gc) < 0 || !gc.count_modes)
		return "GETCONNECTOR: no modes";
	mode = modes;
	for (uint32_t i = 0; i < gc.count_modes && i < 64; i++)
		if (modes[i].type & KMS_MODE_TYPE_PREFERRED) {
			mode = &modes[i];
			break;
		}
	cd.width = mode->hdisplay;
	cd.height = mode->vdisplay;
	cd.bpp = 32;
	if (ioctl(kms_fd, KMS_CREATE_DUMB, &cd) < 0)
		return "CREATE_DUMB failed";
	fb = (struct kms_fb_cmd){ .width = cd.width,
				  .height = cd.height,
				  .pitch = cd.pitch,
				  .bpp = 32,
				  .depth = 24,
				  .handle = cd.handle };
	md.handle = cd.handle;
	if (ioctl(kms_fd, KMS_ADDFB, &fb) < 0 || ioctl(kms_fd, KMS_MAP_DUMB, &md) < 0)
		return "ADDFB or MAP_DUMB failed";
	px = mmap(NULL, cd.size, PROT_READ | PROT_WRITE, MAP_SHARED, kms_fd, md.offset);
	if (px == MAP_FAILED)
		return "mmap of the dumb buffer failed";
	for (uint32_t y = 0; y < cd.height; y++)
		for (uint32_t x = 0; x < cd.width; x++)
			((uint32_t *)(px + (size_t)y * cd.pitch))[x] = y >= cd.height / 2 ? colour :
											    0;
	munmap(px, cd.size);
	sc.set_connectors_ptr = (uintptr_t)&conn;
	sc.count_connectors = 1;
	sc.crtc_id = crtc;
	sc.fb_id = fb.fb_id;
	sc.mode_valid = 1;
	sc.mode = *mode;
	if (ioctl(kms_fd, KMS_SETCRTC, &sc) < 0) {
		snprintf(why, sizeof(why), "SETCRTC: %s", strerror(errno));
		return why;
	}
	{
		struct kms_modeinfo *big = modes;

		for (uint32_t i = 1; i < gc.count_modes && i < 64; i++)
			if ((uint32_t)modes[i].hdisplay * modes[i].vdisplay >
			    (uint32_t)big->hdisplay * big->vdisplay)
				big = &modes[i];
		say("kms %ux%u of %u modes, the largest %ux%u", cd.width, cd.height, gc.count_modes,
		    big->hdisplay, big->vdisplay);
	}
	return NULL;
}

/* Run busybox APPLET ARGS...; returns its exit status (127: could not run). */
static int busybox(const char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		execv("/bin/busybox", (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return 127;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static const char *check_ping(const char *addr)
{
	const char *argv[] = { "busybox", "ping", "-c", "3", "-W", "5", addr, NULL };

	return busybox(argv) ? "no reply" : NULL;
}

/* vps.net=IFACE,ADDR/PREFIX: a static address, as a hosting panel would set. */
static void setup_net(void)
{
	const char *spec = param("vps.net");
	char ifname[32];
	const char *comma;

	if (!spec)
		return;
	comma = strchr(spec, ',');
	if (!comma || comma - spec >= (long)sizeof(ifname)) {
		fail("vps.net=%s: want IFACE,ADDR/PREFIX", spec);
		return;
	}
	snprintf(ifname, sizeof(ifname), "%.*s", (int)(comma - spec), spec);
	if (busybox((const char *[]){ "busybox", "ip", "link", "set", ifname, "up", NULL }) ||
	    busybox((const char *[]){ "busybox", "ip", "addr", "add", comma + 1, "dev", ifname,
				      NULL }))
		fail("vps.net=%s: ip failed", spec);
	else
		say("net %s %s", ifname, comma + 1);
}

static void run_checks(void)
{
	for (int i = 0; i < nargs; i++) {
		const char *spec, *why;

		if (strncmp(args[i], "vps.check=", 10))
			continue;
		spec = args[i] + 10;
		if (!strncmp(spec, "cmdline:", 8))
			why = check_cmdline(spec + 8, args[i]);
		else if (!strncmp(spec, "disk:", 5))
			why = check_disk(spec + 5);
		else if (!strncmp(spec, "file:", 5))
			why = access(spec + 5, F_OK) ? strerror(errno) : NULL;
		else if (!strncmp(spec, "diskwrite:", 10))
			why = check_diskwrite(spec + 10);
		else if (!strncmp(spec, "rng:", 4))
			why = check_rng(spec + 4);
		else if (!strncmp(spec, "ping:", 5))
			why = check_ping(spec + 5);
		else if (!strncmp(spec, "tcpsend:", 8))
			why = check_tcpsend(spec + 8);
		else if (!strncmp(spec, "fb:", 3))
			why = check_fb(spec + 3);
		else if (!strncmp(spec, "kms:", 4))
			why = check_kms(spec + 4);
		else
			why = "unknown check";
		if (why) {
			say("check %s fail %s", spec, why);
			fail("check %s: %s", spec, why);
		} else {
			say("check %s ok", spec);
		}
	}
}

/*
 * The nested test host: the host's / over 9p (tag "host", read-only) is the
 * lower layer of an overlay whose upper layer is L1's memory, so every host
 * path reads as on the host (the build directory, wherever it is, even under
 * /tmp) and writes stay in L1. If overlayfs refuses, the 9p mount is used
 * as it is, with tmpfs on /tmp and /var/tmp. On top: this kernel's proc,
 * sys, cgroup2 unified, dev, a fresh /run, and the runner's scratch share
 * (tag "scratch", read-write) at /run/scratch. The agent chroots into it.
 */
static int setup_host_root(void)
{
	static const char opts[] = "trans=virtio,version=9p2000.L,msize=512000,cache=loose";
	static const char ovl[] = "lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work,xino=off";
	const unsigned long nosuid = MS_NOSUID | MS_NODEV;

	if (do_mount("host", "/lower", "9p", MS_RDONLY, opts) ||
	    do_mount("tmpfs", "/rw", "tmpfs", 0, "mode=0755"))
		return -1;
	mkdir("/rw/upper", 0755);
	mkdir("/rw/work", 0755);
	mkdir("/host", 0755);
	if (mount("overlay", "/host", "overlay", 0, ovl) < 0) {
		say("no overlay on the host root (%s): tmpfs /tmp", strerror(errno));
		if (do_mount("/lower", "/host", NULL, MS_BIND, NULL) ||
		    do_mount("tmpfs", "/host/tmp", "tmpfs", nosuid, "mode=1777") ||
		    do_mount("tmpfs", "/host/var/tmp", "tmpfs", nosuid, "mode=1777"))
			return -1;
	}
	if (do_mount("proc", "/host/proc", "proc", nosuid | MS_NOEXEC, NULL) ||
	    do_mount("sysfs", "/host/sys", "sysfs", nosuid | MS_NOEXEC, NULL) ||
	    do_mount("cgroup2", "/host/sys/fs/cgroup", "cgroup2", nosuid | MS_NOEXEC,
		     "nsdelegate") ||
	    do_mount("devtmpfs", "/host/dev", "devtmpfs", MS_NOSUID, "mode=0755") ||
	    do_mount("devpts", "/host/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		     "ptmxmode=0666,mode=0620") ||
	    do_mount("tmpfs", "/host/dev/shm", "tmpfs", nosuid, NULL) ||
	    do_mount("tmpfs", "/host/run", "tmpfs", nosuid, "mode=0755"))
		return -1;
	mkdir("/host/run/scratch", 0755);
	if (mount("scratch", "/host/run/scratch", "9p", nosuid,
		  "trans=virtio,version=9p2000.L,msize=512000") < 0)
		say("no scratch share: %s", strerror(errno));
	return 0;
}

static pid_t start_agent(void)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	if (chroot("/host") || chdir("/")) {
		say("fail chroot /host: %s", strerror(errno));
		_exit(1);
	}
	clearenv();
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", 1);
	setenv("HOME", "/tmp", 1);
	setenv("TERM", "dumb", 1);
	setenv("LANG", "C.UTF-8", 1);
	setenv("VPS_SCRATCH", "/run/scratch", 1);
	setenv("VPS_L1", "1", 1);
	_exit(agent_main(1, (char *[]){ "vps-agent", NULL }));
}

/* PID 1 under the agent: reap orphans until the agent itself is gone. */
static void serve_agent(void)
{
	pid_t agent;
	int st;

	if (setup_host_root())
		return;
	agent = start_agent();
	if (agent < 0) {
		fail("fork agent: %s", strerror(errno));
		return;
	}
	for (;;) {
		pid_t pid = wait(&st);

		if (pid == agent || (pid < 0 && errno == ECHILD))
			break;
	}
	fail("agent exited");
}

/*
 * vps.then=wait: block until the ACPI power button (the `button` driver's
 * input device, read through evdev) reports KEY_POWER, as acpid or logind
 * would, then power off. The monitor presses it from its control socket.
 */
static void wait_power_button(void)
{
	struct input_event ev;
	char path[64], name[128];
	int fd = -1;

	for (int i = 0; i < 32 && fd < 0; i++) {
		snprintf(path, sizeof(path), "/dev/input/event%d", i);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (ioctl(fd, EVIOCGNAME(sizeof(name)), name) < 0 ||
		    !strstr(name, "Power Button")) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		say("fail no power button input device");
		return;
	}
	say("waiting");
	while (read(fd, &ev, sizeof(ev)) == sizeof(ev))
		if (ev.type == EV_KEY && ev.code == KEY_POWER && ev.value == 1)
			break;
	close(fd);
	say("power button");
}

/*
 * vps.dirty=MIB: a child that keeps MIB MiB of anonymous memory dirty, one
 * write per 4 KiB page per pass, for as long as the guest runs; what a busy
 * guest does to a live migration's pre-copy. Says `dirtying N MiB` once its
 * first pass has touched every page.
 */
static void start_dirtying(void)
{
	const char *v = param("vps.dirty");
	unsigned long mib = v ? strtoul(v, NULL, 10) : 0;
	volatile unsigned char *mem;
	size_t len = mib << 20;

	if (!mib || fork() != 0)
		return;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		say("fail vps.dirty=%s: mmap: %s", v, strerror(errno));
		_exit(1);
	}
	for (unsigned char pass = 1;; pass++) {
		for (size_t off = 0; off < len; off += 4096)
			mem[off] = pass | 1; /* never an all-zero page */
		if (pass == 1)
			say("dirtying %lu MiB", mib);
	}
}

static void shell(void)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		setsid();
		ioctl(0, TIOCSCTTY, 1);
		execl("/bin/sh", "sh", (char *)NULL);
		_exit(127);
	}
	while (pid > 0 && wait(&st) != pid)
		;
}

static int init_main(void)
{
	const char *then;

	pid1 = getpid() == 1;
	if (pid1)
		mount_basics();
	say("start");
	parse_cmdline();
	then = param("vps.then");
	if (!then)
		then = "poweroff";
	if (pid1)
		load_modules();
	report();
	if (pid1)
		setup_net();
	run_checks();
	if (strcmp(then, "poweroff") && strcmp(then, "reboot") && strcmp(then, "shell") &&
	    strcmp(then, "agent") && strcmp(then, "wait"))
		fail("vps.then=%s: want poweroff, reboot, shell, agent or wait", then);

	if (failure[0])
		say("fail %s", failure);
	else
		say("ok");
	if (!pid1)
		return failure[0] ? 1 : 0;

	if (!failure[0] && !strcmp(then, "agent"))
		serve_agent();
	if (!strcmp(then, "shell"))
		shell();
	if (!strcmp(then, "wait")) {
		start_dirtying();
		wait_power_button();
	}
	if (failure[0])
		say("fail %s", failure);
	sync();
	reboot(!strcmp(then, "reboot") ? RB_AUTOBOOT : RB_POWER_OFF);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (!strcmp(basename(argv[0]), "vps-agent"))
		return agent_main(argc, argv);
	return init_main();
}
