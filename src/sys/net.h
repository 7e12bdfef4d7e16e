/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A system container's network plumbing, the LXC way: a host bridge, one
 * veth pair per container whose host end is a bridge port and whose peer is
 * the container's eth0, and the addresses, routes, hostname and nameservers
 * the customer finds inside. Everything is plain rtnetlink (no libnl, no
 * `ip` command); what happens inside the container's network namespace runs
 * in a forked child so the caller's own namespace is never touched. The
 * host's policy layer chooses names and addresses; this file only carries
 * them out. NAT, anti-spoofing and bandwidth limits come later (issue 7).
 * See docs/ct-net.md.
 */
#ifndef VPS_SYS_NET_H
#define VPS_SYS_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

#define SYS_NET_MAX_NAMESERVERS 3 /* glibc's MAXNS: more are ignored */

/*
 * Create the bridge `name` unless it exists (an existing link that is not a
 * bridge is -EEXIST), give it the addresses (either may be NULL; "ADDR/LEN",
 * set idempotently, IPv6 without DAD) and bring it up.
 */
int sys_net_bridge_ensure(const char *name, const char *ipv4_cidr, const char *ipv6_cidr,
			  struct err **err);

/*
 * Create the veth pair `host_ifname` / `guest_ifname`, the peer created
 * directly in the network namespace of `pid` under its final name (and MAC,
 * when `mac` is not NULL; mtu 0 keeps the kernel's default), then make the
 * host end a port of `bridge` and bring it up. On failure nothing is left.
 */
int sys_net_veth_attach(pid_t pid, const char *bridge, const char *host_ifname,
			const char *guest_ifname, const uint8_t mac[6], unsigned int mtu,
			struct err **err);

/*
 * Inside the network namespace of `pid`: bring `lo` and `ifname` up, add the
 * addresses and default routes. Any of the four may be NULL (no IPv4, no
 * IPv6, no default route). The caller's namespace is left as it was.
 */
int sys_net_configure_inside(pid_t pid, const char *ifname, const char *ipv4_cidr,
			     const char *ipv4_gw, const char *ipv6_cidr, const char *ipv6_gw,
			     struct err **err);

/*
 * Delete the veth whose host end is `host_ifname` (the peer goes with it).
 * Refuses links that are not veths, so a typo cannot remove a real NIC.
 */
int sys_net_detach(const char *host_ifname, struct err **err);

/*
 * A VM's host device: the persistent tap `name` (IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR, as vps-vmm and QEMU open it by name), made unless a tap of
 * that name exists, brought up as a port of `bridge`. A link of that name
 * that is not a tap is -EEXIST. On failure a tap made here is removed.
 */
int sys_net_tap_attach(const char *bridge, const char *name, struct err **err);
/* Remove the persistent tap `name` (-EBUSY while a monitor holds it); refuses other links. */
int sys_net_tap_detach(const char *name, struct err **err);

/*
 * A network's 802.1Q device (docs/networks.md, "VLANs"): `name` on
 * `parent`, tagging what leaves with `vid` (1-4094) and taking in what
 * arrives with it; made unless a VLAN of that name, parent and id exists
 * (one of that name on another parent or id is made again, any other link
 * of that name is -EEXIST), and the parent brought up. A kernel without
 * 802.1Q is -EOPNOTSUPP, with nothing made or changed.
 */
int sys_net_vlan_ensure(const char *name, const char *parent, int vid, struct err **err);
/* Remove the VLAN device `name`; refuses other links. */
int sys_net_vlan_remove(const char *name, struct err **err);
/* Make the existing link `name` a port of `bridge` and bring it up. */
int sys_net_port_attach(const char *bridge, const char *name, struct err **err);

/*
 * Files in the container's root, `rootfd` an open directory of the root.
 * Paths are resolved with openat2(RESOLVE_IN_ROOT), so symlinks planted in
 * the guest cannot lead outside it, and each file is replaced by rename, so
 * a guest symlink at the file's own name is replaced, never written through.
 */
int sys_net_write_resolv(int rootfd, const char *const nameservers[], size_t n, struct err **err);
int sys_net_write_hostname(int rootfd, const char *hostname, struct err **err);
/* /etc/hosts: localhost lines, and `hostname` on each address given (may be NULL). */
int sys_net_write_hosts(int rootfd, const char *hostname, const char *ipv4, const char *ipv6,
			struct err **err);

/* Pure checks (unit-testable): -EINVAL + message naming the value. */
int sys_net_check_ifname(const char *name, struct err **err);
int sys_net_check_hostname(const char *name, struct err **err);
/* "ADDR/LEN" (or "ADDR" when len_out is NULL): *family is AF_INET or AF_INET6. */
int sys_net_parse_addr(const char *s, int *family, uint8_t addr[16], unsigned int *len_out,
		       struct err **err);

#endif
