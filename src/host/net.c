// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Networks (net.h, docs/networks.md). The kernel side is made with the
 * tools made for it: bridges through rtnetlink (src/sys/net.c), nftables
 * rules through `nft -f -` (one atomic batch each), qdiscs through `tc`
 * (both src/sys/netcmd.c).
 * The rules live in two shared tables whose per-network and per-VPS parts
 * are set elements and chains of their own, so adding or removing one
 * never rewrites another's (two vpsds on one host, as the tests run, do
 * not clobber each other):
 *
 *   table inet vps            sets nat4/nat6 (prefixes to masquerade) and
 *                             nets4/nets6 (all prefixes: not masqueraded
 *                             between them); one postrouting chain
 *   table bridge vps_filter   map ports: host device name -> jump port_DEV;
 *                             chain port_DEV: that VPS's MAC and addresses,
 *                             then counter tx_DEV (what it sent);
 *                             map outs: name -> jump out_DEV, counter
 *                             rx_DEV (what it received; traffic.c)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "sys/net.h"
#include "sys/netcmd.h"
#include "host/net.h"

#define tc(err, ...) sys_netcmd(err, "tc", __VA_ARGS__)
#define ip(err, ...) sys_netcmd(err, "ip", __VA_ARGS__)

static int write_sysctl(const char *path, const char *val, struct err **err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write_all(fd, val, strlen(val)) < 0)
		return err_make(err, errno, "write `%s` to `%s`", val, path);
	return 0;
}

/* --- addresses -------------------------------------------------------------------- */

struct prefix {
	int family; /* 0: none */
	uint8_t gw[16], net[16]; /* the gateway (the bridge's address), the network */
	unsigned int len;
	char text[INET6_ADDRSTRLEN + 4]; /* the network as nft writes it: 10.77.0.0/24 */
};

static int prefix_parse(const char *cidr, int want, const char *key, struct prefix *p,
			struct err **err)
{
	unsigned int bytes;

	memset(p, 0, sizeof(*p));
	if (!cidr)
		return 0;
	if (sys_net_parse_addr(cidr, &p->family, p->gw, &p->len, err) < 0)
		return err_wrap(err, "`%s`", key);
	bytes = p->family == AF_INET ? 4 : 16;
	if (p->family != want)
		return err_make(err, EINVAL, "`%s`: `%s` is not an IPv%d address", key, cidr,
				want == AF_INET ? 4 : 6);
	if (p->len < (want == AF_INET ? 8 : 48) || p->len > (want == AF_INET ? 30 : 120))
		return err_make(err, EINVAL, "`%s`: a prefix from /%d to /%d, not /%u", key,
				want == AF_INET ? 8 : 48, want == AF_INET ? 30 : 120, p->len);
	for (unsigned int i = 0; i < bytes; i++) {
		unsigned int bits = p->len > i * 8 ? p->len - i * 8 : 0;

		p->net[i] = p->gw[i] & (bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits));
	}
	inet_ntop(p->family, p->net, p->text, INET6_ADDRSTRLEN);
	snprintf(p->text + strlen(p->text), 5, "/%u", p->len);
	return 0;
}

static bool in_prefix(const struct prefix *p, const uint8_t a[16])
{
	for (unsigned int i = 0; i < p->len; i++)
		if ((a[i / 8] ^ p->net[i / 8]) & (0x80 >> (i % 8)))
			return false;
	return true;
}

/* The network, the gateway and (IPv4) broadcast are not handed out. */
static bool reserved(const struct prefix *p, const uint8_t a[16])
{
	unsigned int bytes = p->family == AF_INET ? 4 : 16;
	bool all_ones = true;

	if (!memcmp(a, p->net, bytes) || !memcmp(a, p->gw, bytes))
		return true;
	for (unsigned int i = p->len; i < bytes * 8; i++)
		all_ones &= !!(a[i / 8] & (0x80 >> (i % 8)));
	return p->family == AF_INET && all_ones;
}

static bool used(json_t *taken, int family, const uint8_t a[16])
{
	uint8_t b[16];
	size_t i;
	json_t *x;

	json_array_foreach(taken, i, x)
	{
		if (inet_pton(family, json_string_value(x), b) == 1 &&
		    !memcmp(a, b, family == AF_INET ? 4 : 16))
			return true;
	}
	return false;
}

/* The next free address, or the one asked for (checked); text in out. */
static int pick(const struct prefix *p, json_t *taken, const char *want, const char *key,
		char out[INET6_ADDRSTRLEN], struct err **err)
{
	unsigned int bytes = p->family == AF_INET ? 4 : 16;
	uint8_t a[16];

	if (*want) {
		if (inet_pton(p->family, want, a) != 1)
			return err_make(err, EINVAL, "`%s`: `%s` is not an IPv%d address", key,
					want, p->family == AF_INET ? 4 : 6);
		if (!in_prefix(p, a))
			return err_make(err, EINVAL, "`%s`: `%s` is not in %s", key, want, p->text);
		if (reserved(p, a))
			return err_make(err, EINVAL,
					"`%s`: `%s` is the network's own (network, gateway or "
					"broadcast address)",
					key, want);
		if (used(taken, p->family, a))
			return err_make(err, EEXIST, "`%s`: `%s` is taken", key, want);
		inet_ntop(p->family, a, out, INET6_ADDRSTRLEN);
		return 0;
	}
	memcpy(a, p->net, sizeof(a));
	/* at most 65536 tries: a pool is a /16 or a slice of a /64 in practice */
	for (unsigned int n = 0; n < 65536; n++) {
		for (int i = bytes - 1; i >= 0 && ++a[i] == 0; i--)
			;
		if (!in_prefix(p, a))
			break;
		if (!reserved(p, a) && !used(taken, p->family, a)) {
			inet_ntop(p->family, a, out, INET6_ADDRSTRLEN);
			return 0;
		}
	}
	return err_make(err, EBUSY, "`%s`: no free address left in %s", key, p->text);
}

/* --- networks on the host ------------------------------------------------------- */

static const char skeleton[] =
	"add table inet vps\n"
	"add set inet vps nat4 { type ipv4_addr; flags interval; }\n"
	"add set inet vps nat6 { type ipv6_addr; flags interval; }\n"
	"add set inet vps nets4 { type ipv4_addr; flags interval; }\n"
	"add set inet vps nets6 { type ipv6_addr; flags interval; }\n"
	"add chain inet vps postrouting { type nat hook postrouting priority srcnat; "
	"policy accept; }\n"
	"add table bridge vps_filter\n"
	"add map bridge vps_filter ports { type ifname : verdict; }\n"
	"add chain bridge vps_filter prerouting { type filter hook prerouting priority -200; "
	"policy accept; }\n"
	"add map bridge vps_filter outs { type ifname : verdict; }\n"
	"add chain bridge vps_filter postrouting { type filter hook postrouting priority -200; "
	"policy accept; }\n";

/* The tables, sets and base chains, and each base chain's one rule, once. */
static int skeleton_ensure(struct err **err)
{
	_cleanup_free_ char *o1 = NULL, *o2 = NULL, *o3 = NULL;
	int r;

	if ((r = sys_nft(skeleton, err)) < 0)
		return err_wrap(err, "make the nftables tables");
	if (sys_netcmd_output(&o1, "nft", "list chain inet vps postrouting") == 0 &&
	    !strstr(o1, "masquerade") &&
	    (r = sys_nft(
		     "add rule inet vps postrouting ip saddr @nat4 ip daddr != @nets4 masquerade\n"
		     "add rule inet vps postrouting ip6 saddr @nat6 ip6 daddr != @nets6 "
		     "masquerade\n",
		     err)) < 0)
		return r;
	if (sys_netcmd_output(&o2, "nft", "list chain bridge vps_filter prerouting") == 0 &&
	    !strstr(o2, "vmap") &&
	    (r = sys_nft("add rule bridge vps_filter prerouting iifname vmap @ports\n", err)) < 0)
		return r;
	if (sys_netcmd_output(&o3, "nft", "list chain bridge vps_filter postrouting") == 0 &&
	    !strstr(o3, "vmap") &&
	    (r = sys_nft("add rule bridge vps_filter postrouting oifname vmap @outs\n", err)) < 0)
		return r;
	return 0;
}

/* nft batch lines adding (or, with `del`, removing: added first, so it never fails) one network's set elements. */
static void nat_elements(char *buf, size_t len, const struct prefix *p4, const struct prefix *p6,
			 bool nat, bool del)
{
	size_t n = 0;

	buf[0] = 0;
	for (int pass = del ? 0 : 1; pass < 2; pass++) {
		const char *verb = pass ? (del ? "delete" : "add") : "add";

		for (int f = 0; f < 2; f++) {
			const struct prefix *p = f ? p6 : p4;
			const char *sfx = f ? "6" : "4";

			if (!p->family)
				continue;
			n += snprintf(buf + n, len - n, "%s element inet vps nets%s { %s }\n", verb,
				      sfx, p->text);
			if (nat)
				n += snprintf(buf + n, len - n,
					      "%s element inet vps nat%s { %s }\n", verb, sfx,
					      p->text);
		}
	}
}

static int net_parse(json_t *n, struct prefix *p4, struct prefix *p6, struct err **err)
{
	if (prefix_parse(json_string_value(json_object_get(n, "ipv4")), AF_INET, "ipv4", p4, err) <
		    0 ||
	    prefix_parse(json_string_value(json_object_get(n, "ipv6")), AF_INET6, "ipv6", p6, err) <
		    0)
		return -EINVAL;
	return 0;
}

/* A VLAN network's 802.1Q device: "vln-" + its name (fits IFNAMSIZ as "vbr-" does). */
static void vlan_ifname(json_t *n, char buf[IFNAMSIZ])
{
	snprintf(buf, IFNAMSIZ, "vln-%s", json_string_value(json_object_get(n, "name")));
}

/*
 * The bridge with its gateway addresses, NAT elements, forwarding, and a
 * VLAN network's 802.1Q device as its port: idempotent. The VLAN device is
 * made first, so a kernel without 802.1Q leaves no bridge behind.
 */
static int net_up(json_t *n, struct err **err)
{
	const char *bridge = json_string_value(json_object_get(n, "bridge"));
	const char *v4 = json_string_value(json_object_get(n, "ipv4"));
	const char *v6 = json_string_value(json_object_get(n, "ipv6"));
	const char *parent = json_string_value(json_object_get(n, "parent"));
	int vlan = (int)json_integer_value(json_object_get(n, "vlan"));
	bool nat = json_is_true(json_object_get(n, "nat"));
	struct prefix p4, p6;
	char batch[1024], *elems = batch, vdev[IFNAMSIZ];
	int r;

	if ((r = net_parse(n, &p4, &p6, err)) < 0)
		return r;
	vlan_ifname(n, vdev);
	if (vlan && (r = sys_net_vlan_ensure(vdev, parent, vlan, err)) < 0)
		return r;
	if ((r = sys_net_bridge_ensure(bridge, v4, v6, err)) < 0 || (r = skeleton_ensure(err)) < 0)
		return r;
	if (vlan && (r = sys_net_port_attach(bridge, vdev, err)) < 0)
		return r;
	/* delete-then-add: an element left by a crash, or present, is no error */
	nat_elements(batch, sizeof(batch), &p4, &p6, nat, true);
	elems = batch + strlen(batch);
	nat_elements(elems, sizeof(batch) - strlen(batch), &p4, &p6, nat, false);
	if ((r = sys_nft(batch, err)) < 0)
		return err_wrap(err, "masquerade the network's prefixes");
	if (v4 && (r = write_sysctl("/proc/sys/net/ipv4/ip_forward", "1", err)) < 0)
		return r;
	if (v6 && (r = write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1", err)) < 0)
		return r;
	return 0;
}

/* What net_up made; with `bridge` false, a bridge that was there before is left. */
static void net_down(json_t *n, bool bridge_too)
{
	const char *bridge = json_string_value(json_object_get(n, "bridge"));
	char batch[1024], vdev[IFNAMSIZ];
	struct prefix p4, p6;

	if (net_parse(n, &p4, &p6, NULL) == 0) {
		nat_elements(batch, sizeof(batch), &p4, &p6,
			     json_is_true(json_object_get(n, "nat")), true);
		sys_nft(batch, NULL);
	}
	vlan_ifname(n, vdev);
	if (json_integer_value(json_object_get(n, "vlan")) && if_nametoindex(vdev))
		sys_net_vlan_remove(vdev, NULL);
	if (bridge_too)
		ip(NULL, "link del dev %s type bridge", bridge);
}

/*
 * A VLAN (docs/networks.md, "VLANs"): `vlan` 1-4094 and the `parent` device
 * its tagged frames leave by, both or neither; the parent must exist.
 */
static int check_vlan(json_t *body, const char *bridge, struct err **err)
{
	json_t *vlan = json_object_get(body, "vlan");
	const char *parent = json_string_value(json_object_get(body, "parent"));

	if (!vlan && !parent)
		return 0;
	if (!vlan)
		return err_make(err, EINVAL, "`vlan`: required with `parent`");
	if (!json_is_integer(vlan) || json_integer_value(vlan) < 1 ||
	    json_integer_value(vlan) > 4094)
		return err_make(err, EINVAL, "`vlan`: expected an 802.1Q id from 1 to 4094");
	if (!parent)
		return err_make(err, EINVAL,
				"`parent`: required with `vlan` (the device the "
				"tagged frames leave by)");
	if (sys_net_check_ifname(parent, err) < 0)
		return err_wrap(err, "`parent`");
	if (!strcmp(parent, bridge))
		return err_make(err, EINVAL, "`parent`: `%s` is the network's own bridge", parent);
	if (!if_nametoindex(parent))
		return err_make(err, EINVAL, "`parent`: no device `%s` on this host", parent);
	return 0;
}

static int check_net_name(const char *s, struct err **err)
{
	if (!slug_ok(s, NET_NAME_MAX))
		return err_make(err, EINVAL, "`name`: `%.40s` must be 1-%d of a-z, 0-9 and -", s,
				NET_NAME_MAX);
	return 0;
}

int net_create(struct host *h, json_t *body, json_t **out, struct err **err)
{
	const char *k, *name = NULL, *bridge = NULL;
	char defbridge[IFNAMSIZ];
	struct prefix p4, p6;
	json_t *x, *n, *all;
	bool had_bridge;
	size_t i;
	int r;

	if (!json_is_object(body))
		return err_make(err, EINVAL, "the body must be a JSON object");
	json_object_foreach(body, k, x)
	{
		if (!strcmp(k, "name") || !strcmp(k, "bridge") || !strcmp(k, "ipv4") ||
		    !strcmp(k, "ipv6") || !strcmp(k, "parent")) {
			if (!json_is_string(x))
				return err_make(err, EINVAL, "`%s`: expected a string", k);
		} else if (!strcmp(k, "nat")) {
			if (!json_is_boolean(x))
				return err_make(err, EINVAL, "`nat`: expected true or false");
		} else if (strcmp(k, "vlan")) { /* check_vlan() */
			return err_make(err, EINVAL, "`%s`: unknown field", k);
		}
	}
	name = json_string_value(json_object_get(body, "name"));
	if (!name)
		return err_make(err, EINVAL, "`name`: required");
	if ((r = check_net_name(name, err)) < 0)
		return r;
	bridge = json_string_value(json_object_get(body, "bridge"));
	if (!bridge) {
		snprintf(defbridge, sizeof(defbridge), "vbr-%s", name);
		bridge = defbridge;
	} else if (sys_net_check_ifname(bridge, err) < 0) {
		return err_wrap(err, "`bridge`");
	}
	if ((r = check_vlan(body, bridge, err)) < 0 || (r = net_parse(body, &p4, &p6, err)) < 0)
		return r;
	if (!p4.family && !p6.family)
		return err_make(err, EINVAL, "`ipv4`: a network needs ipv4 or ipv6 (or both)");
	/* prefixes must not overlap another network's: routes and NAT sets would */
	all = store_nets(h->store, NULL);
	json_array_foreach(all, i, x)
	{
		struct prefix q4, q6;

		if (net_parse(x, &q4, &q6, NULL) < 0)
			continue;
		for (int f = 0; f < 2; f++) {
			const struct prefix *a = f ? &p6 : &p4, *b = f ? &q6 : &q4;
			const struct prefix *wide = a->len < b->len ? a : b;

			if (a->family && b->family &&
			    in_prefix(wide, wide == a ? b->net : a->net)) {
				r = err_make(err, EEXIST, "`ipv%d`: %s overlaps network `%s` (%s)",
					     f ? 6 : 4, a->text,
					     json_string_value(json_object_get(x, "name")),
					     b->text);
				json_decref(all);
				return r;
			}
		}
	}
	json_decref(all);
	n = json_pack("{s:s, s:s, s:s?, s:s?, s:b}", "name", name, "bridge", bridge, "ipv4",
		      json_string_value(json_object_get(body, "ipv4")), "ipv6",
		      json_string_value(json_object_get(body, "ipv6")), "nat",
		      !json_is_false(json_object_get(body, "nat")));
	if ((x = json_object_get(body, "vlan"))) {
		json_object_set(n, "vlan", x);
		json_object_set(n, "parent", json_object_get(body, "parent"));
	}
	if ((r = store_net_insert(h->store, n, err)) < 0) {
		json_decref(n);
		return r;
	}
	had_bridge = if_nametoindex(bridge) != 0;
	if ((r = net_up(n, err)) < 0) {
		err_wrap(err, "network `%s`", name);
		net_down(n, !had_bridge);
		store_net_delete(h->store, name, NULL);
		json_decref(n);
		return r;
	}
	store_event(h->store, NULL, "network", name);
	json_decref(n);
	if (out)
		*out = net_show(h, name);
	return 0;
}

int net_delete(struct host *h, const char *name, struct err **err)
{
	json_t *n = store_nets(h->store, name), *row = json_array_get(n, 0);
	int r;

	if (!row) {
		json_decref(n);
		return err_make(err, ENOENT, "no network named `%s`", name);
	}
	if ((r = store_net_delete(h->store, name, err)) == 0) {
		net_down(row, true);
		store_event(h->store, NULL, "network-deleted", name);
	}
	json_decref(n);
	return r;
}

/* Pool size: host addresses minus network, gateway (and broadcast). */
static json_int_t pool_size(const struct prefix *p)
{
	unsigned int host_bits = (p->family == AF_INET ? 32 : 128) - p->len;

	if (!p->family)
		return 0;
	if (host_bits >= 62)
		return (json_int_t)1 << 62;
	return ((json_int_t)1 << host_bits) - (p->family == AF_INET ? 3 : 2);
}

static json_t *with_usage(json_t *rows)
{
	size_t i;
	json_t *x;

	json_array_foreach(rows, i, x)
	{
		struct prefix p4, p6;

		if (net_parse(x, &p4, &p6, NULL) < 0)
			continue;
		if (p4.family)
			json_object_set_new(x, "pool4", json_integer(pool_size(&p4)));
		if (p6.family)
			json_object_set_new(x, "pool6", json_integer(pool_size(&p6)));
	}
	return rows;
}

json_t *net_list(struct host *h)
{
	return with_usage(store_nets(h->store, NULL));
}

json_t *net_show(struct host *h, const char *name)
{
	json_t *a = with_usage(store_nets(h->store, name)), *n = json_incref(json_array_get(a, 0));

	json_decref(a);
	return n;
}

int net_restore(struct host *h, struct err **err)
{
	json_t *all = store_nets(h->store, NULL), *x;
	size_t i;
	int r = 0;

	json_array_foreach(all, i, x)
	{
		struct err *e = NULL;

		if (net_up(x, &e) < 0) {
			/* one broken network does not keep the others (or vpsd) down */
			pr_err("network `%s`: %s", json_string_value(json_object_get(x, "name")),
			       err_msg(e));
			err_free(&e);
		}
	}
	json_decref(all);
	return r;
}

/* --- per VPS ------------------------------------------------------------------------ */

void net_ifname(const struct vps *v, char buf[16])
{
	snprintf(buf, 16, "vps%lld", (long long)v->id);
}

int net_assign(struct host *h, struct vps *v, struct err **err)
{
	json_t *n, *row, *taken = NULL;
	struct prefix p4, p6;
	uint8_t mac[6];
	int r = 0;

	if (!*v->network)
		return 0;
	n = store_nets(h->store, v->network);
	row = json_array_get(n, 0);
	if (!row) {
		json_decref(n);
		return err_make(err, EINVAL, "`network`: no network `%s`", v->network);
	}
	if ((r = net_parse(row, &p4, &p6, err)) < 0)
		goto out;
	if (*v->ipv4 && !p4.family) {
		r = err_make(err, EINVAL, "`ipv4`: network `%s` has no IPv4", v->network);
		goto out;
	}
	if (*v->ipv6 && !p6.family) {
		r = err_make(err, EINVAL, "`ipv6`: network `%s` has no IPv6", v->network);
		goto out;
	}
	/* locally administered, unicast; stored, so it stays the VPS's */
	if (getrandom(mac, sizeof(mac), 0) != sizeof(mac)) {
		r = err_make(err, errno, "getrandom");
		goto out;
	}
	mac[0] = (mac[0] & 0xfc) | 0x02;
	snprintf(v->mac, sizeof(v->mac), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
	for (int f = 0; f < 2; f++) {
		const struct prefix *p = f ? &p6 : &p4;
		char *addr = f ? v->ipv6 : v->ipv4, want[INET6_ADDRSTRLEN];
		bool asked = *addr;

		if (!p->family)
			continue;
		snprintf(want, sizeof(want), "%s", addr);
		/* two creates may pick the same next address: the key decides, try again */
		for (int tries = 0; tries < 8; tries++) {
			json_decref(taken);
			taken = store_net_addresses(h->store, v->network);
			if ((r = pick(p, taken, want, f ? "ipv6" : "ipv4", addr, err)) < 0)
				goto out;
			r = store_address_add(h->store, v->network, addr, v->name,
					      asked || tries == 7 ? err : NULL);
			if (r != -EEXIST || asked)
				break;
		}
		if (r < 0)
			goto out;
	}
	r = store_vps_update(h->store, v, err);
out:
	json_decref(taken);
	json_decref(n);
	return r;
}

/* The host's nameservers, as Docker hands them on: none of the loopback ones. */
static json_t *host_nameservers(void)
{
	_cleanup_free_ char *text = NULL;
	json_t *a = json_array();
	char *save = NULL;

	if (read_file("/etc/resolv.conf", &text, NULL) < 0)
		return a;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char addr[64];
		uint8_t b[16];

		if (sscanf(l, " nameserver %63s", addr) != 1 || json_array_size(a) >= 3)
			continue;
		if ((inet_pton(AF_INET, addr, b) == 1 && b[0] != 127) ||
		    (inet_pton(AF_INET6, addr, b) == 1 && strcmp(addr, "::1")))
			json_array_append_new(a, json_string(addr));
	}
	return a;
}

json_t *net_ct_settings(struct host *h, const struct vps *v)
{
	json_t *n, *row, *j;
	struct prefix p4, p6;
	char ifname[16], cidr[INET6_ADDRSTRLEN + 8], gw[INET6_ADDRSTRLEN];

	if (!*v->network)
		return NULL;
	n = store_nets(h->store, v->network);
	row = json_array_get(n, 0);
	if (!row || net_parse(row, &p4, &p6, NULL) < 0) {
		json_decref(n);
		return NULL;
	}
	net_ifname(v, ifname);
	j = json_pack("{s:s, s:s, s:o}", "bridge",
		      json_string_value(json_object_get(row, "bridge")), "host_ifname", ifname,
		      "nameservers", host_nameservers());
	if (*v->mac)
		json_object_set_new(j, "mac", json_string(v->mac));
	for (int f = 0; f < 2; f++) {
		const struct prefix *p = f ? &p6 : &p4;
		const char *addr = f ? v->ipv6 : v->ipv4;

		if (!p->family || !*addr)
			continue;
		snprintf(cidr, sizeof(cidr), "%s/%u", addr, p->len);
		inet_ntop(p->family, p->gw, gw, sizeof(gw));
		json_object_set_new(j, f ? "ipv6" : "ipv4", json_string(cidr));
		json_object_set_new(j, f ? "gw6" : "gw4", json_string(gw));
	}
	json_decref(n);
	return j;
}

int net_vps_tap(struct host *h, const struct vps *v, struct err **err)
{
	json_t *n, *row;
	char ifname[16];
	int r;

	if (!*v->network)
		return 0;
	n = store_nets(h->store, v->network);
	row = json_array_get(n, 0);
	if (!row) {
		json_decref(n);
		return err_make(err, ENOENT, "`%s`: no network `%s`", v->name, v->network);
	}
	net_ifname(v, ifname);
	r = sys_net_tap_attach(json_string_value(json_object_get(row, "bridge")), ifname, err);
	json_decref(n);
	return r;
}

/*
 * The VPS's link-local address: fe80::/64 with the EUI-64 interface
 * identifier of its MAC (RFC 4291 appendix A: the universal/local bit
 * flipped, ff:fe in the middle), as text into buf and as bytes into a.
 */
static int link_local_of(const char *mac, unsigned char a[16], char *buf, size_t len,
			 struct err **err)
{
	unsigned int m[6];

	if (sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		return err_make(err, EINVAL, "`mac`: `%s` is not a MAC address", mac);
	memset(a, 0, 16);
	a[0] = 0xfe;
	a[1] = 0x80;
	a[8] = (unsigned char)(m[0] ^ 0x02);
	a[9] = (unsigned char)m[1];
	a[10] = (unsigned char)m[2];
	a[11] = 0xff;
	a[12] = 0xfe;
	a[13] = (unsigned char)m[3];
	a[14] = (unsigned char)m[4];
	a[15] = (unsigned char)m[5];
	if (!inet_ntop(AF_INET6, a, buf, (socklen_t)len))
		return err_make(err, errno, "link-local address of `%s`", mac);
	return 0;
}

static size_t hex128(const unsigned char a[16], char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "0x");

	for (int i = 0; i < 16 && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%02x", a[i]);
	return n;
}

/*
 * The match for an NDP target (RFC 4861 §4.3, §4.4: 16 bytes at byte 8 of
 * the ICMPv6 header; nftables 1.0.6 has no name for it) that is neither the
 * VPS's link-local address `ll` nor ADDR (none: its link-local only), into
 * buf.
 */
static int nd_target_other(const char *addr, const unsigned char ll[16], char *buf, size_t len,
			   struct err **err)
{
	unsigned char a[16];
	size_t n;

	n = (size_t)snprintf(buf, len, "@th,64,128 != ");
	n += hex128(ll, buf + n, len - n);
	if (!*addr)
		return 0;
	if (inet_pton(AF_INET6, addr, a) != 1)
		return err_make(err, EINVAL, "`ipv6`: `%s` is not an IPv6 address", addr);
	n += (size_t)snprintf(buf + n, len - n, " @th,64,128 != ");
	hex128(a, buf + n, len - n);
	return 0;
}

int net_vps_filter(struct host *h, const struct vps *v, struct err **err)
{
	char ifname[16], batch[5120], other[128], ll_text[INET6_ADDRSTRLEN], tlla[16];
	unsigned char ll[16];
	size_t n = 0;
	int r;

	if (!*v->network || !*v->mac)
		return 0;
	if ((r = skeleton_ensure(err)) < 0)
		return r;
	if ((r = link_local_of(v->mac, ll, ll_text, sizeof(ll_text), err)) < 0 ||
	    (r = nd_target_other(v->ipv6, ll, other, sizeof(other), err)) < 0)
		return err_wrap(err, "anti-spoofing rules for `%s`", v->name);
	/* the MAC (back out of the EUI-64) as the 48-bit value of a link-layer address option */
	snprintf(tlla, sizeof(tlla), "0x%02x%02x%02x%02x%02x%02x", ll[8] ^ 0x02, ll[9], ll[10],
		 ll[13], ll[14], ll[15]);
	net_ifname(v, ifname);
#define ADD(...)                                                               \
	n += (size_t)snprintf(batch + (n < sizeof(batch) ? n : sizeof(batch)), \
			      n < sizeof(batch) ? sizeof(batch) - n : 0, __VA_ARGS__)
	/* traffic counters (traffic.c): `add` keeps the bytes of ones that exist */
	ADD("add counter bridge vps_filter tx_%s\n", ifname);
	ADD("add counter bridge vps_filter rx_%s\n", ifname);
	ADD("add chain bridge vps_filter port_%s\n", ifname);
	ADD("flush chain bridge vps_filter port_%s\n", ifname);
	ADD("add chain bridge vps_filter out_%s\n", ifname);
	ADD("flush chain bridge vps_filter out_%s\n", ifname);
	ADD("add rule bridge vps_filter out_%s counter name rx_%s\n", ifname, ifname);
#define RULE(...)                                                   \
	do {                                                        \
		ADD("add rule bridge vps_filter port_%s ", ifname); \
		ADD(__VA_ARGS__);                                   \
		ADD("\n");                                          \
	} while (0)
	RULE("ether saddr != %s counter drop", v->mac);
	RULE("ether type != { arp, ip, ip6 } counter drop"); /* VLAN tags and the like */
	RULE("arp saddr ether != %s counter drop", v->mac);
	if (*v->ipv4) {
		RULE("arp saddr ip != { %s, 0.0.0.0 } counter drop", v->ipv4);
		RULE("ip saddr != %s counter drop", v->ipv4);
		RULE("udp sport 67 counter drop"); /* no DHCP server on the bridge but ours */
	} else {
		RULE("ether type { arp, ip } counter drop");
	}
	/*
	 * Its own link-local for NDP (the EUI-64 one of its MAC, as Incus pins
	 * it: docs/networks.md), :: for duplicate address detection.
	 */
	if (*v->ipv6)
		RULE("ip6 saddr != { %s, %s, :: } counter drop", v->ipv6, ll_text);
	else
		RULE("ip6 saddr != { %s, :: } counter drop", ll_text);
	/*
	 * NDP naming another address, as ARP above: an advertisement would
	 * move the host's (and the other VPSes') neighbor entry for it to this
	 * MAC, a probe from :: would make its owner give it up at boot. Its
	 * own link-local is one of its addresses: another VPS's is refused
	 * like any other. An advertisement's target link-layer address option
	 * (type 2, RFC 4861 §4.6.1, right after the target) must be its MAC.
	 */
	RULE("icmpv6 type nd-neighbor-advert %s counter drop", other);
	RULE("ip6 saddr :: icmpv6 type nd-neighbor-solicit %s counter drop", other);
	RULE("icmpv6 type nd-neighbor-advert @th,192,8 2 @th,208,48 != %s counter drop", tlla);
	RULE("ip6 saddr :: meta l4proto != ipv6-icmp counter drop"); /* :: is for DAD and MLD */
	RULE("icmpv6 type { nd-router-advert, nd-redirect } counter drop"); /* the host routes */
	RULE("counter name tx_%s", ifname); /* what passed: the VPS's traffic out */
	ADD("add element bridge vps_filter ports { \"%s\" : jump port_%s }\n", ifname, ifname);
	ADD("add element bridge vps_filter outs { \"%s\" : jump out_%s }\n", ifname, ifname);
#undef RULE
#undef ADD
	if (n >= sizeof(batch))
		return err_make(err, E2BIG, "anti-spoofing rules for `%s`: too long", v->name);
	if ((r = sys_nft(batch, err)) < 0)
		return err_wrap(err, "anti-spoofing rules for `%s`", v->name);
	return 0;
}

int net_vps_bw(struct host *h, const struct vps *v, uint64_t rate, struct err **err)
{
	char ifname[16];
	unsigned long long burst, bw = rate;
	int r;

	if (!*v->network)
		return 0;
	net_ifname(v, ifname);
	if (!if_nametoindex(ifname))
		return 0; /* not running: applied at the next start */
	tc(NULL, "qdisc del dev %s root", ifname);
	tc(NULL, "qdisc del dev %s ingress", ifname);
	if (!bw) {
		ip(NULL, "link del dev ifb%s type ifb", ifname);
		return 0;
	}
	/* 10 ms at the rate, and at least a few full-size frames */
	burst = bw / 8 / 100;
	if (burst < 16384)
		burst = 16384;
	/*
	 * To the VPS: shaped on the host end's egress. From the VPS: what
	 * enters the host end is redirected to an ifb and shaped on its egress
	 * (a policer would drop instead of queue, and TCP then falls well
	 * below the rate).
	 */
	if ((r = tc(err, "qdisc add dev %s root tbf rate %llubit burst %llu latency 50ms", ifname,
		    bw, burst)) < 0 ||
	    /* exists already, or made now: `up` says if it is there */
	    (ip(NULL, "link add name ifb%s type ifb", ifname), false) ||
	    (r = ip(err, "link set dev ifb%s up", ifname)) < 0 ||
	    (r = tc(err, "qdisc replace dev ifb%s root tbf rate %llubit burst %llu latency 50ms",
		    ifname, bw, burst)) < 0 ||
	    (r = tc(err, "qdisc add dev %s handle ffff: ingress", ifname)) < 0 ||
	    (r = tc(err,
		    "filter add dev %s parent ffff: protocol all prio 50 u32 match u32 0 0 "
		    "action mirred egress redirect dev ifb%s",
		    ifname, ifname)) < 0)
		return err_wrap(err, "bandwidth limit on `%s`", ifname);
	return 0;
}

void net_vps_down(struct host *h, const struct vps *v)
{
	char ifname[16], ifb[20], batch[1024];

	if (!*v->network)
		return;
	net_ifname(v, ifname);
	/* added first, so removing what is not there is no error */
	snprintf(batch, sizeof(batch),
		 "add chain bridge vps_filter port_%s\n"
		 "add element bridge vps_filter ports { \"%s\" : jump port_%s }\n"
		 "delete element bridge vps_filter ports { \"%s\" }\n"
		 "flush chain bridge vps_filter port_%s\n"
		 "delete chain bridge vps_filter port_%s\n"
		 "add chain bridge vps_filter out_%s\n"
		 "add element bridge vps_filter outs { \"%s\" : jump out_%s }\n"
		 "delete element bridge vps_filter outs { \"%s\" }\n"
		 "flush chain bridge vps_filter out_%s\n"
		 "delete chain bridge vps_filter out_%s\n"
		 "add counter bridge vps_filter rx_%s\n"
		 "delete counter bridge vps_filter rx_%s\n"
		 "add counter bridge vps_filter tx_%s\n"
		 "delete counter bridge vps_filter tx_%s\n",
		 ifname, ifname, ifname, ifname, ifname, ifname, ifname, ifname, ifname, ifname,
		 ifname, ifname, ifname, ifname, ifname, ifname);
	if (skeleton_ensure(NULL) == 0)
		sys_nft(batch, NULL);
	if (if_nametoindex(ifname)) {
		tc(NULL, "qdisc del dev %s root", ifname);
		tc(NULL, "qdisc del dev %s ingress", ifname);
	}
	snprintf(ifb, sizeof(ifb), "ifb%s", ifname);
	if (if_nametoindex(ifb))
		ip(NULL, "link del dev %s type ifb", ifb);
	/* a VM's tap outlives its monitor (persistent); a veth is refused here */
	if (if_nametoindex(ifname))
		sys_net_tap_detach(ifname, NULL);
}
