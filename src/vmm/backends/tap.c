// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tap backend: see tap.h. The tap starts with no offloads (TUNSETOFFLOAD
 * 0): every frame it hands us is a plain Ethernet frame plus the header,
 * which any driver takes. virtio-net turns on what the driver accepted
 * (net.c, net_sync_tap()) once it has. What we write into the tap may
 * carry GSO and partial checksums whatever TUNSETOFFLOAD says.
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
