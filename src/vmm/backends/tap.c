// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tap backend: see tap.h. The tap starts with no offloads (TUNSETOFFLOAD
 * 0): every frame it hands us is a plain Ethernet frame plus the header,
 * which any driver takes. virtio-net turns on what the driver accepted
 * (net.c, net_sync_tap()) once it has. What we write into the tap may
 * carry GSO and partial checksums whatever TUNSETOFFLOAD says.
 *
 * A multi-queue tap (IFF_MULTI_QUEUE) is opened once per queue pair; the
 * kernel spreads received flows over the fds attached to it (TUNSETQUEUE,
 * net.c). A tap is multi-queue or not from its making: a persistent tap made
 * without it refuses IFF_MULTI_QUEUE, and a monitor that was not asked for a
 * number of queues then runs with one pair rather than refuse to start.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/backends/tap.h"

/* One fd on the tap `name`: TUNSETIFF with `flags`, the header size, no offloads. */
static int tap_open_one(const char *name, short flags, struct err **err)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | flags };
	int hdr = TAP_VNET_HDR_LEN, fd, ret;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return err_make(err, errno, "tap `%s`: open /dev/net/tun", name);
	strcpy(ifr.ifr_name, name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = err_make(err, errno, "tap `%s`: TUNSETIFF", name);
		goto fail;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		ret = err_make(err, errno, "tap `%s`: TUNSETVNETHDRSZ", name);
		goto fail;
	}
	if (ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		ret = err_make(err, errno, "tap `%s`: TUNSETOFFLOAD", name);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return ret;
}

static int check_name(const char *name, struct err **err)
{
	if (!name[0] || strlen(name) >= IFNAMSIZ)
		return err_make(err, EINVAL, "tap `%s`: names are 1 to %d characters", name,
				IFNAMSIZ - 1);
	return 0;
}

int tap_open(const char *name, struct err **err)
{
	int ret = check_name(name, err);

	return ret < 0 ? ret : tap_open_one(name, 0, err);
}

int tap_open_queues(const char *name, unsigned int want, bool required, int *fds, struct err **err)
{
	unsigned int i;
	int ret = check_name(name, err);

	if (ret < 0)
		return ret;
	if (want <= 1) {
		ret = fds[0] = tap_open_one(name, 0, err);
		return ret < 0 ? ret : 1;
	}
	for (i = 0; i < want; i++) {
		ret = fds[i] = tap_open_one(name, IFF_MULTI_QUEUE, err);
		if (ret >= 0)
			continue;
		/* the kernel refuses IFF_MULTI_QUEUE on a tap made without it */
		if (i == 0 && ret == -EINVAL && !required) {
			err_free(err);
			pr_info("tap `%s` is single-queue (made without multi_queue): one queue pair",
				name);
			ret = fds[0] = tap_open_one(name, 0, err);
			return ret < 0 ? ret : 1;
		}
		if (i == 0 && ret == -EINVAL) {
			err_free(err);
			return err_make(
				err, EINVAL,
				"tap `%s`: %u queues asked, but it is single-queue (make it "
				"with `ip tuntap add %s mode tap multi_queue`)",
				name, want, name);
		}
		while (i--)
			close(fds[i]);
		return ret;
	}
	return (int)want;
}
