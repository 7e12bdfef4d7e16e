// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tap backend: see tap.h. No offloads are turned on (TUNSETOFFLOAD 0), to
 * match a virtio-net device that offers none: every frame is a plain
 * Ethernet frame of at most 1514 bytes plus the header.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/backends/tap.h"

int tap_open(const char *name, struct err **err)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int hdr = TAP_VNET_HDR_LEN, fd, ret;

	if (!name[0] || strlen(name) >= IFNAMSIZ)
		return err_make(err, EINVAL, "tap `%s`: names are 1 to %d characters", name,
				IFNAMSIZ - 1);
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
