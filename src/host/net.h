/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Networks (issue 7): a bridge per network carrying the gateway addresses,
 * masquerading of its prefixes (nftables, `table inet vps`), pools of IPv4
 * and IPv6 addresses handed to VPSes, and per VPS the anti-spoofing rules
 * (`table bridge vps_filter`, keyed on the host device's name) and the
 * bandwidth limit (tc on the host device). The host device is the host end
 * of a container's veth or a VM's tap: the same rules fit both.
 * The store keeps the truth; bridges, rules and qdiscs are rebuilt from it
 * (they do not survive a host reboot). See docs/networks.md.
 */
#ifndef VPS_HOST_NET_H
#define VPS_HOST_NET_H

#include <jansson.h>

#include "common/err.h"
#include "host/host.h"
#include "host/vps.h"

#define NET_NAME_MAX 11 /* the default bridge "vbr-NAME" fits IFNAMSIZ */

/*
 * POST /networks {name, bridge?, ipv4?, ipv6?, nat?, vlan?, parent?}: stored,
 * then made on the host; with a VLAN, the 802.1Q device "vln-NAME" on
 * `parent` is the bridge's port (-EOPNOTSUPP on a kernel without 802.1Q,
 * with nothing left behind).
 */
int net_create(struct host *h, json_t *body, json_t **out, struct err **err);
/* DELETE: -EBUSY while a VPS is in it; removes the bridge and its NAT elements. */
int net_delete(struct host *h, const char *name, struct err **err);
/* GET: every network with its usage (addresses used / pool size, VPSes). */
json_t *net_list(struct host *h);
json_t *net_show(struct host *h, const char *name);
/* At vpsd start: every network's bridge, NAT elements, forwarding. */
int net_restore(struct host *h, struct err **err);

/* The host device of a VPS on a network: "vps" + its id. */
void net_ifname(const struct vps *v, char buf[16]);

/*
 * At create, the row inserted (v->network set, v->ipv4/v->ipv6 the
 * addresses asked for or empty): pick the MAC and the addresses, store
 * them, fill them into v. Nothing to do without a network.
 */
int net_assign(struct host *h, struct vps *v, struct err **err);
/*
 * The `net` object of vps-ctm's settings; NULL without a network. The VM
 * kinds read the same object (bridge, host_ifname, mac, ipv4/gw4,
 * ipv6/gw6, nameservers) for their tap, command line and resolv.conf.
 */
json_t *net_ct_settings(struct host *h, const struct vps *v);
/*
 * A VM's host device (kinds whose monitor opens a tap by name): the
 * persistent tap net_ifname() made and put on the network's bridge, before
 * the monitor starts. net_vps_down() removes it.
 */
int net_vps_tap(struct host *h, const struct vps *v, struct err **err);
/*
 * Anti-spoofing rules for the VPS's host device (before its monitor
 * starts). The customer's firewall (firewall.h) and the traffic counters'
 * reading (traffic.h) are life.c's to call around these: net is below them.
 */
int net_vps_filter(struct host *h, const struct vps *v, struct err **err);
/*
 * The bandwidth limit `bw` (bits/s, 0: none) on the host device, once it
 * exists (after the start; on `set bw`; traffic_bw() says which rate).
 */
int net_vps_bw(struct host *h, const struct vps *v, uint64_t bw, struct err **err);
/* Both gone, and a VM's tap (stop, destroy); quiet and idempotent. */
void net_vps_down(struct host *h, const struct vps *v);

#endif
