// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Container network plumbing over raw rtnetlink (see net.h and
 * docs/ct-net.md). The first half is a tiny netlink client: a request
 * buffer with attribute and nest builders, and one request/ack exchange
 * that turns the kernel's answer (with its extended-ack text, when it sends
 * one) into an error naming the message. The second half is the operations:
 * bridge, veth, configuration inside the container's namespace (in a forked
 * child that reports failures back over a pipe), and the guest's /etc files.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/openat2.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "sys/net.h"

#define NL_REQ_SIZE 1024 /* our largest request (a veth pair) is ~200 bytes */
#define NL_REPLY_SIZE 32768 /* one RTM_NEWLINK with stats fits easily */

struct nl_req {
	union {
		struct nlmsghdr h;
		char buf[NL_REQ_SIZE];
	};
};

/* Start a request of `type` with a zeroed family header of `hdrlen` bytes. */
static void *nl_init(struct nl_req *r, uint16_t type, uint16_t flags, size_t hdrlen)
{
	memset(r, 0, sizeof(*r));
	r->h.nlmsg_len = NLMSG_LENGTH(hdrlen);
	r->h.nlmsg_type = type;
	r->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	return NLMSG_DATA(&r->h);
}

static struct rtattr *nl_put(struct nl_req *r, uint16_t type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(r->h.nlmsg_len);
	struct rtattr *rta = (struct rtattr *)(r->buf + off);

	/* Inputs are length-checked before building: overflow is a bug. */
	if (off + RTA_SPACE(len) > sizeof(r->buf))
		abort();
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (data)
		memcpy(RTA_DATA(rta), data, len);
	else
		memset(RTA_DATA(rta), 0, len);
	r->h.nlmsg_len = off + RTA_SPACE(len);
	return rta;
}

static void nl_put_str(struct nl_req *r, uint16_t type, const char *s)
{
	nl_put(r, type, s, strlen(s) + 1);
}

static void nl_put_u32(struct nl_req *r, uint16_t type, uint32_t v)
{
	nl_put(r, type, &v, sizeof(v));
}

static struct rtattr *nl_nest(struct nl_req *r, uint16_t type)
{
	return nl_put(r, type, NULL, 0);
}

static void nl_nest_end(struct nl_req *r, struct rtattr *nest)
{
	nest->rta_len = (char *)&r->h + r->h.nlmsg_len - (char *)nest;
}

static int nl_open(struct err **err)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int one = 1, fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return err_make(err, errno, "open rtnetlink socket");
	/* Best effort: older kernels just send bare errnos. */
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		return err_make(err, e, "bind rtnetlink socket");
	}
	return fd;
}

static const char *nl_type_name(uint16_t type)
{
	switch (type) {
	case RTM_NEWLINK:
		return "RTM_NEWLINK";
	case RTM_DELLINK:
		return "RTM_DELLINK";
	case RTM_GETLINK:
		return "RTM_GETLINK";
	case RTM_NEWADDR:
		return "RTM_NEWADDR";
	case RTM_NEWROUTE:
		return "RTM_NEWROUTE";
	default:
		return "rtnetlink";
	}
}

/* The kernel's extended-ack text in an NLMSG_ERROR, or NULL. */
static const char *nl_extack(const struct nlmsghdr *h)
{
	const struct nlmsgerr *e = NLMSG_DATA(h);
	const struct rtattr *a;
	size_t off, left;

	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	off = sizeof(*e);
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	off = NLMSG_ALIGN(off);
	if (NLMSG_LENGTH(off) > h->nlmsg_len)
		return NULL;
	left = h->nlmsg_len - NLMSG_LENGTH(off);
	for (a = (const void *)((const char *)e + off); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
		if (a->rta_type == NLMSGERR_ATTR_MSG && RTA_PAYLOAD(a) > 1 &&
		    ((const char *)RTA_DATA(a))[RTA_PAYLOAD(a) - 1] == '\0')
			return RTA_DATA(a);
	}
	return NULL;
}

/*
 * Send `r` and wait for its ack. A data reply (RTM_GETLINK) is copied to
 * `reply` when given. Errors read "RTM_NEWLINK: <kernel text>: <errno>".
 */
static int nl_talk(int fd, struct nl_req *r, void *reply, size_t reply_len, struct err **err)
{
	static uint32_t seq;
	const char *what = nl_type_name(r->h.nlmsg_type);
	_cleanup_free_ char *buf = malloc(NL_REPLY_SIZE);
	bool got_reply = false;

	if (!buf)
		return err_make(err, ENOMEM, "%s", what);
	r->h.nlmsg_seq = ++seq;
	if (send(fd, r, r->h.nlmsg_len, 0) < 0)
		return err_make(err, errno, "%s: send", what);
	for (;;) {
		ssize_t n = recv(fd, buf, NL_REPLY_SIZE, MSG_TRUNC);
		struct nlmsghdr *h;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_make(err, errno, "%s: receive", what);
		if (n > NL_REPLY_SIZE)
			return err_make(err, EMSGSIZE, "%s: reply of %zd bytes", what, n);
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != r->h.nlmsg_seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				const char *ext = nl_extack(h);

				if (e->error == 0 && (got_reply || !reply))
					return 0;
				if (e->error == 0)
					return err_make(err, ENODATA, "%s: no reply", what);
				if (ext)
					return err_make(err, -e->error, "%s: %s", what, ext);
				return err_make(err, -e->error, "%s", what);
			}
			if (reply && !got_reply) {
				memcpy(reply, h,
				       h->nlmsg_len < reply_len ? h->nlmsg_len : reply_len);
				got_reply = true;
			}
		}
	}
}

/* IFLA_VLAN_ID in a link's IFLA_INFO_DATA (a VLAN's; other kinds have none) into *vid. */
static void nl_vlan_id(const struct rtattr *data, size_t len, int *vid)
{
	const struct rtattr *c;

	for (c = data; RTA_OK(c, len); c = RTA_NEXT(c, len))
		if (c->rta_type == IFLA_VLAN_ID && RTA_PAYLOAD(c) >= sizeof(uint16_t))
			*vid = *(const uint16_t *)RTA_DATA(c);
}

/*
 * The link's kind ("bridge", "veth"; "" for a physical NIC) into kind[16];
 * with `link` and `vid` (may be NULL), the index of the link it sits on
 * (IFLA_LINK, 0: none) and a VLAN's id (IFLA_VLAN_ID, 0: not a VLAN).
 */
static int nl_link_info(int fd, const char *name, char kind[16], int *link, int *vid,
			struct err **err)
{
	struct nl_req r;
	_cleanup_free_ char *reply = calloc(1, NL_REPLY_SIZE);
	struct nlmsghdr *h = (struct nlmsghdr *)reply;
	struct rtattr *a, *b;
	int ret;
	size_t left, inner;

	if (!reply)
		return err_make(err, ENOMEM, "look up `%s`", name);
	nl_init(&r, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
	nl_put_str(&r, IFLA_IFNAME, name);
	nl_put_u32(&r, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	ret = nl_talk(fd, &r, reply, NL_REPLY_SIZE, err);
	if (ret < 0)
		return ret;
	kind[0] = '\0';
	if (link)
		*link = 0;
	if (vid)
		*vid = 0;
	left = h->nlmsg_len - NLMSG_LENGTH(sizeof(struct ifinfomsg));
	for (a = IFLA_RTA(NLMSG_DATA(h)); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
		if (a->rta_type == IFLA_LINK && link && RTA_PAYLOAD(a) >= sizeof(uint32_t))
			*link = (int)*(const uint32_t *)RTA_DATA(a);
		if (a->rta_type != IFLA_LINKINFO)
			continue;
		inner = RTA_PAYLOAD(a);
		for (b = RTA_DATA(a); RTA_OK(b, inner); b = RTA_NEXT(b, inner)) {
			if (b->rta_type == IFLA_INFO_KIND)
				snprintf(kind, 16, "%.*s", (int)RTA_PAYLOAD(b),
					 (const char *)RTA_DATA(b));
			if (b->rta_type == IFLA_INFO_DATA && vid)
				nl_vlan_id(RTA_DATA(b), RTA_PAYLOAD(b), vid);
		}
	}
	return 0;
}

static int nl_link_kind(int fd, const char *name, char kind[16], struct err **err)
{
	return nl_link_info(fd, name, kind, NULL, NULL, err);
}

/* Set flags IFF_UP on, and master to `master_ifindex` when > 0. */
static int nl_link_up(int fd, const char *name, int master_ifindex, struct err **err)
{
	struct nl_req r;
	struct ifinfomsg *ifi = nl_init(&r, RTM_NEWLINK, 0, sizeof(*ifi));

	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	nl_put_str(&r, IFLA_IFNAME, name);
	if (master_ifindex > 0)
		nl_put_u32(&r, IFLA_MASTER, master_ifindex);
	return nl_talk(fd, &r, NULL, 0, err);
}

static int ifindex_of(const char *name, struct err **err)
{
	unsigned int idx = if_nametoindex(name);

	if (!idx)
		return err_make(err, errno, "find interface `%s`", name);
	return (int)idx;
}

/* Add (or re-add: NLM_F_REPLACE keeps this idempotent) "ADDR/LEN" on `ifname`. */
static int nl_addr_add(int fd, const char *ifname, const char *cidr, struct err **err)
{
	uint8_t addr[16];
	unsigned int len;
	int family, idx, ret;
	struct nl_req r;
	struct ifaddrmsg *ifa;

	ret = sys_net_parse_addr(cidr, &family, addr, &len, err);
	if (ret < 0)
		return ret;
	idx = ifindex_of(ifname, err);
	if (idx < 0)
		return idx;
	ifa = nl_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*ifa));
	ifa->ifa_family = family;
	ifa->ifa_prefixlen = len;
	ifa->ifa_index = idx;
	/* The host hands out addresses: a DAD wait would only delay the guest. */
	ifa->ifa_flags = family == AF_INET6 ? IFA_F_NODAD : 0;
	nl_put(&r, IFA_LOCAL, addr, family == AF_INET ? 4 : 16);
	nl_put(&r, IFA_ADDRESS, addr, family == AF_INET ? 4 : 16);
	ret = nl_talk(fd, &r, NULL, 0, err);
	if (ret < 0)
		return err_wrap(err, "add `%s` to `%s`", cidr, ifname);
	return 0;
}

static int nl_default_route(int fd, const char *ifname, const char *gw, int want_family,
			    struct err **err)
{
	uint8_t addr[16];
	int family, idx, ret;
	struct nl_req r;
	struct rtmsg *rtm;

	ret = sys_net_parse_addr(gw, &family, addr, NULL, err);
	if (ret < 0)
		return ret;
	if (family != want_family)
		return err_make(err, EINVAL, "gateway `%s` is not an IPv%d address", gw,
				want_family == AF_INET ? 4 : 6);
	idx = ifindex_of(ifname, err);
	if (idx < 0)
		return idx;
	rtm = nl_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*rtm));
	rtm->rtm_family = family;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	nl_put(&r, RTA_GATEWAY, addr, family == AF_INET ? 4 : 16);
	nl_put_u32(&r, RTA_OIF, idx);
	ret = nl_talk(fd, &r, NULL, 0, err);
	if (ret < 0)
		return err_wrap(err, "default route via `%s` on `%s`", gw, ifname);
	return 0;
}

int sys_net_check_ifname(const char *name, struct err **err)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, "..") ||
	    strpbrk(name, "/: \t\n"))
		return err_make(err, EINVAL,
				"bad interface name `%s` (1-%d characters, no `/`, "
				"`:` or blanks)",
				name ? name : "", IFNAMSIZ - 1);
	return 0;
}

int sys_net_check_hostname(const char *name, struct err **err)
{
	size_t n = name ? strlen(name) : 0, i;

	/* RFC 1123 labels: what may go into /etc/hosts without quoting. */
	for (i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (!alnum && !(c == '-' && i > 0 && name[i - 1] != '.') &&
		    !(c == '.' && i > 0 && name[i - 1] != '.' && name[i - 1] != '-'))
			break;
	}
	if (n == 0 || n > 64 || i < n || name[n - 1] == '-' || name[n - 1] == '.')
		return err_make(err, EINVAL, "bad hostname `%s`", name ? name : "");
	return 0;
}

int sys_net_parse_addr(const char *s, int *family, uint8_t addr[16], unsigned int *len_out,
		       struct err **err)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long len = 0;

	if (!s || strlen(s) >= sizeof(buf))
		goto bad;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!!slash != !!len_out)
		goto bad;
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, buf, addr) == 1)
		*family = AF_INET6;
	else
		goto bad;
	if (slash) {
		errno = 0;
		len = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end || errno || len > (*family == AF_INET ? 32u : 128u))
			goto bad;
		*len_out = len;
	}
	return 0;
bad:
	return err_make(err, EINVAL, "bad address `%s` (want %s)", s ? s : "",
			len_out ? "ADDR/PREFIXLEN" : "an IPv4 or IPv6 address");
}

static int bridge_ensure(int fd, const char *name, const char *v4, const char *v6, struct err **err)
{
	char kind[16];
	struct nl_req r;
	struct rtattr *li;
	int ret;

	ret = nl_link_kind(fd, name, kind, err);
	if (ret == -ENODEV) {
		err_free(err);
		nl_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifinfomsg));
		nl_put_str(&r, IFLA_IFNAME, name);
		li = nl_nest(&r, IFLA_LINKINFO);
		nl_put_str(&r, IFLA_INFO_KIND, "bridge");
		nl_nest_end(&r, li);
		ret = nl_talk(fd, &r, NULL, 0, err);
		/* Lost a race with another creator: fine if it made a bridge. */
		if (ret == -EEXIST)
			ret = nl_link_kind(fd, name, kind, err);
		else if (ret == 0)
			strcpy(kind, "bridge");
	}
	if (ret < 0)
		return ret;
	if (strcmp(kind, "bridge"))
		return err_make(err, EEXIST, "`%s` exists and is a %s, not a bridge", name,
				kind[0] ? kind : "device");
	if (v4 && (ret = nl_addr_add(fd, name, v4, err)) < 0)
		return ret;
	if (v6 && (ret = nl_addr_add(fd, name, v6, err)) < 0)
		return ret;
	return nl_link_up(fd, name, 0, err);
}

int sys_net_bridge_ensure(const char *name, const char *ipv4_cidr, const char *ipv6_cidr,
			  struct err **err)
{
	_cleanup_close_ int fd = -1;
	int ret = sys_net_check_ifname(name, err);

	if (ret == 0)
		ret = fd = nl_open(err);
	if (ret >= 0)
		ret = bridge_ensure(fd, name, ipv4_cidr, ipv6_cidr, err);
	if (ret < 0)
		return err_wrap(err, "bridge `%s`", name ? name : "");
	return 0;
}

static int veth_create(int fd, pid_t pid, const char *host, const char *guest, const uint8_t mac[6],
		       unsigned int mtu, struct err **err)
{
	struct nl_req r;
	struct rtattr *li, *data, *peer;

	nl_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifinfomsg));
	nl_put_str(&r, IFLA_IFNAME, host);
	if (mtu)
		nl_put_u32(&r, IFLA_MTU, mtu);
	li = nl_nest(&r, IFLA_LINKINFO);
	nl_put_str(&r, IFLA_INFO_KIND, "veth");
	data = nl_nest(&r, IFLA_INFO_DATA);
	/* VETH_INFO_PEER carries a whole ifinfomsg, then the peer's attributes. */
	peer = nl_put(&r, VETH_INFO_PEER, NULL, sizeof(struct ifinfomsg));
	/*
	 * The peer is born in the container's namespace under its final
	 * name: no temporary name in the host, no move-and-rename window.
	 */
	nl_put_str(&r, IFLA_IFNAME, guest);
	nl_put_u32(&r, IFLA_NET_NS_PID, pid);
	if (mac)
		nl_put(&r, IFLA_ADDRESS, mac, 6);
	if (mtu)
		nl_put_u32(&r, IFLA_MTU, mtu);
	nl_nest_end(&r, peer);
	nl_nest_end(&r, data);
	nl_nest_end(&r, li);
	return nl_talk(fd, &r, NULL, 0, err);
}

static int link_delete(int fd, const char *name, struct err **err)
{
	struct nl_req r;

	nl_init(&r, RTM_DELLINK, 0, sizeof(struct ifinfomsg));
	nl_put_str(&r, IFLA_IFNAME, name);
	return nl_talk(fd, &r, NULL, 0, err);
}

/* The index of `bridge`, which must be a bridge; -errno. */
static int bridge_index(int fd, const char *bridge, struct err **err)
{
	char kind[16];
	int ret = nl_link_kind(fd, bridge, kind, err);

	if (ret < 0)
		return err_wrap(err, "look up bridge");
	if (strcmp(kind, "bridge"))
		return err_make(err, EINVAL, "`%s` is a %s, not a bridge", bridge,
				kind[0] ? kind : "device");
	return ifindex_of(bridge, err);
}

int sys_net_veth_attach(pid_t pid, const char *bridge, const char *host_ifname,
			const char *guest_ifname, const uint8_t mac[6], unsigned int mtu,
			struct err **err)
{
	_cleanup_close_ int fd = -1;
	int ret, br;

	if ((ret = sys_net_check_ifname(host_ifname, err)) < 0 ||
	    (ret = sys_net_check_ifname(guest_ifname, err)) < 0 ||
	    (ret = sys_net_check_ifname(bridge, err)) < 0)
		goto fail;
	if (pid <= 0) {
		ret = err_make(err, EINVAL, "bad pid %d", (int)pid);
		goto fail;
	}
	if (mac && (mac[0] & 1)) {
		ret = err_make(err, EINVAL, "MAC %02x:%02x:%02x:%02x:%02x:%02x is multicast",
			       mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
		goto fail;
	}
	ret = fd = nl_open(err);
	if (ret < 0)
		goto fail;
	/* Check the bridge first, so a bad name leaves nothing to undo. */
	ret = br = bridge_index(fd, bridge, err);
	if (ret < 0)
		goto fail;
	ret = veth_create(fd, pid, host_ifname, guest_ifname, mac, mtu, err);
	if (ret < 0) {
		err_wrap(err, "create veth `%s` with peer `%s` in netns of pid %d", host_ifname,
			 guest_ifname, (int)pid);
		goto fail;
	}
	ret = nl_link_up(fd, host_ifname, br, err);
	if (ret < 0) {
		struct err *undo = NULL;

		if (link_delete(fd, host_ifname, &undo) < 0)
			err_wrap(err, "(and `%s` could not be removed: %s)", host_ifname,
				 err_msg(undo));
		err_free(&undo);
		goto fail;
	}
	return 0;
fail:
	return err_wrap(err, "attach `%s` to bridge `%s`", host_ifname ? host_ifname : "",
			bridge ? bridge : "");
}

/* TUNSETIFF on the tap `name` (made if absent) and TUNSETPERSIST `persist`. */
static int tap_persist(const char *name, int persist, struct err **err)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	_cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return err_make(err, errno, "open /dev/net/tun");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return err_make(err, errno, "tap `%s`: TUNSETIFF", name);
	if (ioctl(fd, TUNSETPERSIST, persist) < 0)
		return err_make(err, errno, "tap `%s`: TUNSETPERSIST", name);
	return 0;
}

int sys_net_tap_attach(const char *bridge, const char *name, struct err **err)
{
	_cleanup_close_ int fd = -1;
	char kind[16];
	bool made = false;
	int ret, br;

	if ((ret = sys_net_check_ifname(name, err)) < 0 ||
	    (ret = sys_net_check_ifname(bridge, err)) < 0)
		goto fail;
	ret = fd = nl_open(err);
	if (ret < 0)
		goto fail;
	ret = br = bridge_index(fd, bridge, err);
	if (ret < 0)
		goto fail;
	if (if_nametoindex(name)) {
		/* left by a monitor that died, or a start that failed: reused */
		if ((ret = nl_link_kind(fd, name, kind, err)) < 0)
			goto fail;
		if (strcmp(kind, "tun")) {
			ret = err_make(err, EEXIST, "`%s` exists and is a %s, not a tap", name,
				       kind[0] ? kind : "device");
			goto fail;
		}
	} else {
		if ((ret = tap_persist(name, 1, err)) < 0)
			goto fail;
		made = true;
	}
	ret = nl_link_up(fd, name, br, err);
	if (ret < 0) {
		if (made)
			tap_persist(name, 0, NULL);
		goto fail;
	}
	return 0;
fail:
	return err_wrap(err, "attach tap `%s` to bridge `%s`", name ? name : "",
			bridge ? bridge : "");
}

/*
 * Remove the link `name` if it is of `kind` (rtnetlink's name: "veth", or
 * "tun" for a tap, `what`), else leave whatever is there alone.
 */
static int detach(const char *name, const char *kind, const char *what, struct err **err)
{
	_cleanup_close_ int fd = -1;
	char is[16];
	int ret = sys_net_check_ifname(name, err);

	if (ret == 0)
		ret = fd = nl_open(err);
	if (ret >= 0)
		ret = nl_link_kind(fd, name, is, err);
	if (ret == 0 && strcmp(is, kind))
		ret = err_make(err, EINVAL, "not a %s (%s)", what, is[0] ? is : "device");
	/* a tap has no rtnetlink delete: it goes when it is no longer persistent */
	if (ret == 0)
		ret = strcmp(kind, "tun") ? link_delete(fd, name, err) : tap_persist(name, 0, err);
	if (ret < 0)
		return err_wrap(err, "detach `%s`", name ? name : "");
	return 0;
}

int sys_net_detach(const char *host_ifname, struct err **err)
{
	return detach(host_ifname, "veth", "veth", err);
}

int sys_net_tap_detach(const char *name, struct err **err)
{
	return detach(name, "tun", "tap", err);
}

/* A new 802.1Q device `name` on the link of index `parent`, tagging with `vid`. */
static int vlan_create(int fd, const char *name, int parent, int vid, struct err **err)
{
	uint16_t id = (uint16_t)vid;
	struct nl_req r;
	struct rtattr *li, *data;
	int ret;

	nl_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifinfomsg));
	nl_put_str(&r, IFLA_IFNAME, name);
	nl_put_u32(&r, IFLA_LINK, (uint32_t)parent);
	li = nl_nest(&r, IFLA_LINKINFO);
	nl_put_str(&r, IFLA_INFO_KIND, "vlan");
	data = nl_nest(&r, IFLA_INFO_DATA);
	nl_put(&r, IFLA_VLAN_ID, &id, sizeof(id));
	nl_nest_end(&r, data);
	nl_nest_end(&r, li);
	ret = nl_talk(fd, &r, NULL, 0, err);
	/*
	 * The kernel asks modprobe for `rtnl-link-vlan` (the 8021q module)
	 * itself; EOPNOTSUPP ("Unknown device type") is that it has none.
	 */
	if (ret == -EOPNOTSUPP && err)
		err_wrap(err, "this host's kernel has no 802.1Q VLAN support (module 8021q not "
			      "built in, not loaded and not loadable)");
	return ret;
}

int sys_net_vlan_ensure(const char *name, const char *parent, int vid, struct err **err)
{
	_cleanup_close_ int fd = -1;
	char kind[16];
	int ret, pidx, link, has;

	if ((ret = sys_net_check_ifname(name, err)) < 0 ||
	    (ret = sys_net_check_ifname(parent, err)) < 0)
		goto fail;
	if (vid < 1 || vid > 4094) {
		ret = err_make(err, EINVAL, "VLAN id %d is not in 1-4094", vid);
		goto fail;
	}
	ret = fd = nl_open(err);
	if (ret >= 0)
		ret = pidx = ifindex_of(parent, err);
	if (ret < 0)
		goto fail;
	ret = nl_link_info(fd, name, kind, &link, &has, err);
	if (ret == 0 && strcmp(kind, "vlan")) {
		ret = err_make(err, EEXIST, "`%s` exists and is a %s, not a VLAN", name,
			       kind[0] ? kind : "device");
		goto fail;
	}
	if (ret == 0 && link == pidx && has == vid)
		return 0; /* made before (vpsd's restart): kept, with its bridge port */
	if (ret == 0 && (ret = link_delete(fd, name, err)) < 0)
		goto fail; /* one of ours on another parent or id: made again */
	if (ret == -ENODEV) {
		err_free(err);
		ret = 0;
	}
	if (ret < 0 || (ret = vlan_create(fd, name, pidx, vid, err)) < 0)
		goto fail;
	/* the parent must be up for the VLAN to carry anything (Incus does the same) */
	if ((ret = nl_link_up(fd, parent, 0, err)) < 0) {
		link_delete(fd, name, NULL);
		goto fail;
	}
	return 0;
fail:
	return err_wrap(err, "VLAN %d on `%s` (`%s`)", vid, parent ? parent : "", name ? name : "");
}

int sys_net_port_attach(const char *bridge, const char *name, struct err **err)
{
	_cleanup_close_ int fd = -1;
	int ret, br;

	if ((ret = sys_net_check_ifname(name, err)) < 0 ||
	    (ret = sys_net_check_ifname(bridge, err)) < 0)
		goto fail;
	ret = fd = nl_open(err);
	if (ret >= 0)
		ret = br = bridge_index(fd, bridge, err);
	if (ret >= 0)
		ret = nl_link_up(fd, name, br, err);
	if (ret >= 0)
		return 0;
fail:
	return err_wrap(err, "attach `%s` to bridge `%s`", name ? name : "", bridge ? bridge : "");
}

int sys_net_vlan_remove(const char *name, struct err **err)
{
	return detach(name, "vlan", "VLAN device", err);
}

struct inside_args {
	const char *ifname, *v4, *gw4, *v6, *gw6;
};

/* Runs in the child, already in the container's network namespace. */
static int configure(const struct inside_args *a, struct err **err)
{
	_cleanup_close_ int fd = nl_open(err);
	int ret;

	if (fd < 0)
		return fd;
	if ((ret = nl_link_up(fd, "lo", 0, err)) < 0)
		return err_wrap(err, "bring up `lo`");
	if ((ret = nl_link_up(fd, a->ifname, 0, err)) < 0)
		return err_wrap(err, "bring up `%s`", a->ifname);
	if (a->v4 && (ret = nl_addr_add(fd, a->ifname, a->v4, err)) < 0)
		return ret;
	if (a->v6 && (ret = nl_addr_add(fd, a->ifname, a->v6, err)) < 0)
		return ret;
	if (a->gw4 && (ret = nl_default_route(fd, a->ifname, a->gw4, AF_INET, err)) < 0)
		return ret;
	if (a->gw6 && (ret = nl_default_route(fd, a->ifname, a->gw6, AF_INET6, err)) < 0)
		return ret;
	return 0;
}

/* What the child sends back: its errno and message (truncated). */
struct inside_report {
	int errnum;
	char msg[1024];
};

static int check_inside_args(const struct inside_args *a, struct err **err)
{
	const char *cidrs[] = { a->v4, a->v6 }, *gws[] = { a->gw4, a->gw6 };
	uint8_t addr[16];
	unsigned int len;
	int family, ret;
	size_t i;

	if ((ret = sys_net_check_ifname(a->ifname, err)) < 0)
		return ret;
	for (i = 0; i < 2; i++) {
		int want = i ? AF_INET6 : AF_INET;

		if (cidrs[i] && (ret = sys_net_parse_addr(cidrs[i], &family, addr, &len, err)) < 0)
			return ret;
		if (cidrs[i] && family != want)
			return err_make(err, EINVAL, "`%s` is not an IPv%d address", cidrs[i],
					i ? 6 : 4);
		if (gws[i] && (ret = sys_net_parse_addr(gws[i], &family, addr, NULL, err)) < 0)
			return ret;
		if (gws[i] && family != want)
			return err_make(err, EINVAL, "gateway `%s` is not an IPv%d address", gws[i],
					i ? 6 : 4);
	}
	return 0;
}

int sys_net_configure_inside(pid_t pid, const char *ifname, const char *ipv4_cidr,
			     const char *ipv4_gw, const char *ipv6_cidr, const char *ipv6_gw,
			     struct err **err)
{
	const struct inside_args a = { ifname, ipv4_cidr, ipv4_gw, ipv6_cidr, ipv6_gw };
	struct inside_report rep = { 0 };
	_cleanup_close_ int nsfd = -1;
	int pipefd[2], ret, status = 0;
	char path[64];
	pid_t child;
	ssize_t n;

	ret = check_inside_args(&a, err);
	if (ret < 0)
		goto fail;
	if (pid <= 0) {
		ret = err_make(err, EINVAL, "bad pid %d", (int)pid);
		goto fail;
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	/* Opened here, so the pid names the same process for the child. */
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		ret = err_make(err, errno, "open `%s`", path);
		goto fail;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		ret = err_make(err, errno, "pipe");
		goto fail;
	}
	child = fork();
	if (child < 0) {
		ret = err_make(err, errno, "fork");
		close(pipefd[0]);
		close(pipefd[1]);
		goto fail;
	}
	if (child == 0) {
		struct err *cerr = NULL;

		close(pipefd[0]);
		if (setns(nsfd, CLONE_NEWNET) < 0)
			err_make(&cerr, errno, "enter `%s`", path);
		else
			configure(&a, &cerr);
		if (cerr) {
			rep.errnum = cerr->errnum;
			snprintf(rep.msg, sizeof(rep.msg), "%s", err_msg(cerr));
		}
		write_all(pipefd[1], &rep, sizeof(rep));
		_exit(cerr ? 1 : 0);
	}
	close(pipefd[1]);
	n = read_all(pipefd[0], &rep, sizeof(rep));
	close(pipefd[0]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(rep)) {
		ret = err_make(err, EPROTO, "helper in netns of pid %d died (status %#x)", (int)pid,
			       status);
	} else if (rep.errnum) {
		rep.msg[sizeof(rep.msg) - 1] = '\0';
		err_make(err, 0, "%s", rep.msg);
		(*err)->errnum = rep.errnum;
		ret = -rep.errnum;
	} else {
		return 0;
	}
fail:
	return err_wrap(err, "configure `%s` in netns of pid %d", ifname ? ifname : "", (int)pid);
}

/*
 * Replace etc/NAME under the root with `text`: etc/ is resolved inside the
 * root, the new file is written beside the old one and renamed over it.
 */
static int write_guest_file(int rootfd, const char *name, const char *text, struct err **err)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	_cleanup_close_ int etc = -1, fd = -1;
	char tmp[64];

	etc = syscall(SYS_openat2, rootfd, "etc", &how, sizeof(how));
	if (etc < 0)
		return err_make(err, errno, "open `/etc` in the container's root");
	snprintf(tmp, sizeof(tmp), ".%s.vps-%d", name, (int)getpid());
	fd = openat(etc, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 && errno == EEXIST) {
		unlinkat(etc, tmp, 0); /* left by a crashed writer with our pid */
		fd = openat(etc, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	}
	if (fd < 0)
		return err_make(err, errno, "create `/etc/%s`", tmp);
	if (write_all(fd, text, strlen(text)) < 0 || fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
		int e = errno;

		unlinkat(etc, tmp, 0);
		return err_make(err, e, "write `/etc/%s`", tmp);
	}
	if (renameat(etc, tmp, etc, name) < 0) {
		int e = errno;

		unlinkat(etc, tmp, 0);
		return err_make(err, e, "rename `/etc/%s` to `/etc/%s`", tmp, name);
	}
	return 0;
}

int sys_net_write_resolv(int rootfd, const char *const nameservers[], size_t n, struct err **err)
{
	char text[64 + SYS_NET_MAX_NAMESERVERS * (INET6_ADDRSTRLEN + 16)];
	size_t i, off;
	uint8_t addr[16];
	int family, ret;

	if (n > SYS_NET_MAX_NAMESERVERS)
		return err_make(err, EINVAL,
				"write `/etc/resolv.conf`: %zu nameservers, at most %d", n,
				SYS_NET_MAX_NAMESERVERS);
	off = snprintf(text, sizeof(text), "# written by vps\n");
	for (i = 0; i < n; i++) {
		/* Parsed, so nothing but an address can reach the file. */
		ret = sys_net_parse_addr(nameservers[i], &family, addr, NULL, err);
		if (ret < 0)
			return err_wrap(err, "write `/etc/resolv.conf`");
		off += snprintf(text + off, sizeof(text) - off, "nameserver %s\n", nameservers[i]);
	}
	ret = write_guest_file(rootfd, "resolv.conf", text, err);
	return ret < 0 ? err_wrap(err, "write `/etc/resolv.conf`") : 0;
}

int sys_net_write_hostname(int rootfd, const char *hostname, struct err **err)
{
	char text[80];
	int ret = sys_net_check_hostname(hostname, err);

	if (ret == 0) {
		snprintf(text, sizeof(text), "%s\n", hostname);
		ret = write_guest_file(rootfd, "hostname", text, err);
	}
	return ret < 0 ? err_wrap(err, "write `/etc/hostname`") : 0;
}

int sys_net_write_hosts(int rootfd, const char *hostname, const char *ipv4, const char *ipv6,
			struct err **err)
{
	const char *ips[] = { ipv4, ipv6 };
	char text[512];
	uint8_t addr[16];
	int family, ret;
	size_t off, i;

	ret = sys_net_check_hostname(hostname, err);
	if (ret < 0)
		goto fail;
	off = snprintf(text, sizeof(text),
		       "# written by vps\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
		       "ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n");
	for (i = 0; i < 2; i++) {
		if (!ips[i])
			continue;
		if ((ret = sys_net_parse_addr(ips[i], &family, addr, NULL, err)) < 0)
			goto fail;
		off += snprintf(text + off, sizeof(text) - off, "%s\t%s\n", ips[i], hostname);
	}
	if (!ipv4 && !ipv6)
		snprintf(text + off, sizeof(text) - off, "127.0.1.1\t%s\n", hostname);
	ret = write_guest_file(rootfd, "hosts", text, err);
	if (ret == 0)
		return 0;
fail:
	return err_wrap(err, "write `/etc/hosts`");
}
