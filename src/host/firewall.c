// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A firewall per VPS (firewall.h, docs/networks.md "Firewall").
 *
 *   table inet vps
 *     maps fwin4/fwin6    the VPS's address -> jump fwi_DEV   (packets to it)
 *     maps fwout4/fwout6  the VPS's address -> jump fwo_DEV   (packets from it)
 *     chain fw_fwd_out    forward, priority 0:  ip saddr vmap @fwout4 ...
 *     chain fw_fwd_in     forward, priority 10: ip daddr vmap @fwin4 ...
 *     chain fw_input      input:  what a VPS sends to the host itself (fwo_)
 *     chain fw_output     output: what the host sends to a VPS (fwi_)
 *
 * Two base chains for the forward hook, not one: an `accept` ends only
 * its own base chain, so a VPS's outbound `accept` can never skip the
 * inbound chain of the VPS it sends to. Bridged packets between two VPSes
 * reach the inet hooks (and conntrack) through br_netfilter
 * (bridge-nf-call-iptables), which fw_apply turns on; packets the host
 * routes to and from a VPS reach them anyway. The anti-spoofing rules
 * (net.c) make a VPS's source address its own before any of this.
 *
 * Every rule is printed from the parsed rule (numbers, addresses from
 * inet_ntop); no text a customer sent reaches `nft`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "host/firewall.h"
#include "host/net.h"
#include "sys/net.h"
#include "sys/netcmd.h"

#define FW_COMMENT_MAX 64

struct fw_prefix {
	int family; /* 0: none */
	uint8_t addr[16];
	unsigned int len;
};

struct fw_rule {
	bool out; /* from the VPS; else to it */
	bool accept;
	int proto; /* 0: any, IPPROTO_TCP, _UDP, _ICMP, _ICMPV6 */
	unsigned int lo, hi; /* destination ports, 0: any */
	struct fw_prefix src, dst;
	char comment[FW_COMMENT_MAX + 1];
};

static const struct {
	const char *name;
	int proto;
} protos[] = { { "any", 0 },
	       { "tcp", IPPROTO_TCP },
	       { "udp", IPPROTO_UDP },
	       { "icmp", IPPROTO_ICMP },
	       { "icmpv6", IPPROTO_ICMPV6 } };

static const char *proto_name(int p)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].proto == p)
			return protos[i].name;
	return "any";
}

/* --- parsing --------------------------------------------------------------------- */

static int parse_prefix(json_t *x, const char *key, struct fw_prefix *p, struct err **err)
{
	const char *s = json_string_value(x);
	unsigned int bytes;

	if (!s || strlen(s) > INET6_ADDRSTRLEN + 4)
		return err_make(err, EINVAL, "`%s`: expected an address or prefix (10.0.0.0/8)",
				key);
	if (sys_net_parse_addr(s, &p->family, p->addr, strchr(s, '/') ? &p->len : NULL, NULL) < 0)
		return err_make(err, EINVAL, "`%s`: `%.48s` is not an address or prefix", key, s);
	bytes = p->family == AF_INET ? 4 : 16;
	if (!strchr(s, '/'))
		p->len = bytes * 8;
	if (p->len > bytes * 8)
		return err_make(err, EINVAL, "`%s`: /%u is longer than the address", key, p->len);
	/* the network: host bits cleared, so the rule says what it matches */
	for (unsigned int i = p->len; i < bytes * 8; i++)
		p->addr[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
	return 0;
}

static int parse_port(const char *s, unsigned int *out)
{
	unsigned long n = 0;

	if (!*s || strlen(s) > 5)
		return -EINVAL;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return -EINVAL;
		n = n * 10 + (unsigned long)(*c - '0');
	}
	if (n < 1 || n > 65535)
		return -EINVAL;
	*out = (unsigned int)n;
	return 0;
}

static int parse_ports(json_t *x, struct fw_rule *r, struct err **err)
{
	char buf[16], *dash;

	if (json_is_integer(x) && json_integer_value(x) >= 1 && json_integer_value(x) <= 65535) {
		r->lo = r->hi = (unsigned int)json_integer_value(x);
		return 0;
	}
	if (!json_is_string(x) || json_string_length(x) >= sizeof(buf))
		goto bad;
	memcpy(buf, json_string_value(x), json_string_length(x) + 1);
	dash = strchr(buf, '-');
	if (dash)
		*dash = 0;
	if (parse_port(buf, &r->lo) < 0 || parse_port(dash ? dash + 1 : buf, &r->hi) < 0 ||
	    r->lo > r->hi)
		goto bad;
	return 0;
bad:
	return err_make(err, EINVAL, "`dport`: expected a port (1-65535) or a range (8000-8100)");
}

static int parse_rule(json_t *in, struct fw_rule *r, struct err **err)
{
	const char *k, *s;
	json_t *x;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(in))
		return err_make(err, EINVAL, "a rule must be a JSON object");
	json_object_foreach(in, k, x)
	{
		s = json_string_value(x);
		if (!strcmp(k, "direction")) {
			if (!s || (strcmp(s, "in") && strcmp(s, "out")))
				return err_make(err, EINVAL, "`direction`: expected in or out");
			r->out = !strcmp(s, "out");
		} else if (!strcmp(k, "action")) {
			if (!s || (strcmp(s, "accept") && strcmp(s, "drop")))
				return err_make(err, EINVAL, "`action`: expected accept or drop");
			r->accept = !strcmp(s, "accept");
		} else if (!strcmp(k, "proto")) {
			size_t i;

			for (i = 0; s && i < sizeof(protos) / sizeof(protos[0]); i++)
				if (!strcmp(s, protos[i].name))
					break;
			if (!s || i == sizeof(protos) / sizeof(protos[0]))
				return err_make(err, EINVAL,
						"`proto`: expected any, tcp, udp, icmp or icmpv6");
			r->proto = protos[i].proto;
		} else if (!strcmp(k, "dport")) {
			if (parse_ports(x, r, err) < 0)
				return -EINVAL;
		} else if (!strcmp(k, "source")) {
			if (parse_prefix(x, k, &r->src, err) < 0)
				return -EINVAL;
		} else if (!strcmp(k, "destination")) {
			if (parse_prefix(x, k, &r->dst, err) < 0)
				return -EINVAL;
		} else if (!strcmp(k, "comment")) {
			if (!s || strlen(s) > FW_COMMENT_MAX)
				return err_make(err, EINVAL, "`comment`: at most %d characters",
						FW_COMMENT_MAX);
			for (const char *c = s; *c; c++)
				if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					    "0123456789 _.,:/+-",
					    *c))
					return err_make(err, EINVAL,
							"`comment`: letters, digits, space and "
							"_.,:/+- only");
			snprintf(r->comment, sizeof(r->comment), "%s", s);
		} else if (strcmp(k, "n")) { /* n: its place, as GET shows it; ignored */
			return err_make(err, EINVAL, "`%.40s`: unknown field", k);
		}
	}
	if (!json_object_get(in, "direction"))
		return err_make(err, EINVAL, "`direction`: required (in or out)");
	if (!json_object_get(in, "action"))
		return err_make(err, EINVAL, "`action`: required (accept or drop)");
	if (r->lo && r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP)
		return err_make(err, EINVAL, "`dport`: only with proto tcp or udp");
	if (r->src.family && r->dst.family && r->src.family != r->dst.family)
		return err_make(err, EINVAL, "`destination`: not of `source`'s family");
	{
		int fam = r->src.family ? r->src.family : r->dst.family;

		if ((r->proto == IPPROTO_ICMP && fam == AF_INET6) ||
		    (r->proto == IPPROTO_ICMPV6 && fam == AF_INET))
			return err_make(err, EINVAL, "`proto`: %s with an IPv%d prefix",
					proto_name(r->proto), fam == AF_INET ? 4 : 6);
	}
	return 0;
}

static json_t *prefix_json(const struct fw_prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8];

	inet_ntop(p->family, p->addr, buf, INET6_ADDRSTRLEN);
	snprintf(buf + strlen(buf), 8, "/%u", p->len);
	return json_string(buf);
}

static json_t *rule_json(const struct fw_rule *r)
{
	json_t *j = json_pack("{s:s, s:s, s:s}", "direction", r->out ? "out" : "in", "action",
			      r->accept ? "accept" : "drop", "proto", proto_name(r->proto));
	char ports[16];

	if (r->lo) {
		if (r->lo == r->hi)
			snprintf(ports, sizeof(ports), "%u", r->lo);
		else
			snprintf(ports, sizeof(ports), "%u-%u", r->lo, r->hi);
		json_object_set_new(j, "dport", json_string(ports));
	}
	if (r->src.family)
		json_object_set_new(j, "source", prefix_json(&r->src));
	if (r->dst.family)
		json_object_set_new(j, "destination", prefix_json(&r->dst));
	if (*r->comment)
		json_object_set_new(j, "comment", json_string(r->comment));
	return j;
}

/* A whole document, checked, as stored (no `n`): {policy_in, policy_out, rules}. */
static int parse_doc(json_t *in, json_t **out, struct err **err)
{
	json_t *rules = json_array(), *x;
	const char *k, *pin = "accept", *pout = "accept";
	size_t i;

	if (!json_is_object(in))
		goto not_object;
	json_object_foreach(in, k, x)
	{
		if (!strcmp(k, "policy_in") || !strcmp(k, "policy_out")) {
			const char *s = json_string_value(x);

			if (!s || (strcmp(s, "accept") && strcmp(s, "drop"))) {
				json_decref(rules);
				return err_make(err, EINVAL, "`%s`: expected accept or drop", k);
			}
			*(!strcmp(k, "policy_in") ? &pin : &pout) = s;
		} else if (!strcmp(k, "rules")) {
			if (!json_is_array(x)) {
				json_decref(rules);
				return err_make(err, EINVAL, "`rules`: expected a list");
			}
			if (json_array_size(x) > FW_RULES_MAX) {
				json_decref(rules);
				return err_make(err, EINVAL, "`rules`: at most %d, not %zu",
						FW_RULES_MAX, json_array_size(x));
			}
		} else {
			json_decref(rules);
			return err_make(err, EINVAL, "`%.40s`: unknown field", k);
		}
	}
	json_array_foreach(json_object_get(in, "rules"), i, x)
	{
		struct fw_rule r;

		if (parse_rule(x, &r, err) < 0) {
			json_decref(rules);
			return err_wrap(err, "rule %zu", i + 1);
		}
		json_array_append_new(rules, rule_json(&r));
	}
	*out = json_pack("{s:s, s:s, s:o}", "policy_in", pin, "policy_out", pout, "rules", rules);
	return 0;
not_object:
	json_decref(rules);
	return err_make(err, EINVAL, "the body must be a JSON object");
}

/* --- the store ------------------------------------------------------------------- */

static json_t *stored(struct host *h, const char *name)
{
	_cleanup_free_ char *text = store_firewall_get(h->store, name);
	json_t *doc = text ? json_loads(text, 0, NULL) : NULL, *out = NULL;

	if (!doc || parse_doc(doc, &out, NULL) < 0)
		out = json_pack("{s:s, s:s, s:[]}", "policy_in", "accept", "policy_out", "accept",
				"rules");
	json_decref(doc);
	return out;
}

static json_t *shown(json_t *doc)
{
	json_t *x;
	size_t i;

	json_array_foreach(json_object_get(doc, "rules"), i, x)
		json_object_set_new(x, "n", json_integer((json_int_t)i + 1));
	return doc;
}

json_t *fw_get(struct host *h, const char *name)
{
	struct vps v;

	if (store_vps_get(h->store, name, &v, NULL) < 0)
		return NULL;
	vps_free(&v);
	return shown(stored(h, name));
}

/* Store doc (checked), then apply it to the VPS if it runs. */
static int save(struct host *h, const char *name, json_t *doc, json_t **out, struct err **err)
{
	_cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT);
	struct vps v;
	int r;

	if (!text)
		return err_make(err, ENOMEM, "firewall of `%s`", name);
	if ((r = store_vps_get(h->store, name, &v, err)) < 0)
		return r;
	if ((r = store_firewall_put(h->store, name, text, err)) == 0 && v.state == VPS_RUNNING &&
	    (r = fw_apply(h, &v, err)) < 0)
		err_wrap(err, "apply the firewall of `%s`", name);
	vps_free(&v);
	if (r == 0 && out)
		*out = shown(json_deep_copy(doc));
	return r;
}

int fw_put(struct host *h, const char *name, json_t *body, json_t **out, struct err **err)
{
	json_t *doc = NULL;
	int r;

	if ((r = parse_doc(body, &doc, err)) < 0)
		return r;
	r = save(h, name, doc, out, err);
	json_decref(doc);
	return r;
}

int fw_rule_add(struct host *h, const char *name, json_t *body, json_t **out, struct err **err)
{
	json_t *doc, *rules, *pos = NULL, *copy;
	struct fw_rule rule;
	size_t at;
	int r;

	if (json_is_object(body) && (pos = json_object_get(body, "position")) &&
	    (!json_is_integer(pos) || json_integer_value(pos) < 1))
		return err_make(err, EINVAL, "`position`: expected 1 or more");
	copy = json_deep_copy(body);
	json_object_del(copy, "position");
	r = parse_rule(copy, &rule, err);
	json_decref(copy);
	if (r < 0)
		return r;
	doc = stored(h, name);
	rules = json_object_get(doc, "rules");
	if (json_array_size(rules) >= FW_RULES_MAX) {
		json_decref(doc);
		return err_make(err, EINVAL, "`rules`: at most %d rules a VPS", FW_RULES_MAX);
	}
	at = pos ? (size_t)json_integer_value(pos) - 1 : json_array_size(rules);
	if (at > json_array_size(rules))
		at = json_array_size(rules);
	json_array_insert_new(rules, at, rule_json(&rule));
	r = save(h, name, doc, out, err);
	json_decref(doc);
	return r;
}

int fw_rule_rm(struct host *h, const char *name, const char *n, json_t **out, struct err **err)
{
	json_t *doc = stored(h, name), *rules = json_object_get(doc, "rules");
	unsigned int i = 0;
	int r;

	if (parse_port(n, &i) < 0 || i > json_array_size(rules)) {
		json_decref(doc);
		return err_make(err, ENOENT, "no rule %.8s", n);
	}
	json_array_remove(rules, i - 1);
	r = save(h, name, doc, out, err);
	json_decref(doc);
	return r;
}

/* --- nftables ------------------------------------------------------------------------- */

#define MAPS                                                      \
	"add table inet vps\n"                                    \
	"add map inet vps fwin4 { type ipv4_addr : verdict; }\n"  \
	"add map inet vps fwin6 { type ipv6_addr : verdict; }\n"  \
	"add map inet vps fwout4 { type ipv4_addr : verdict; }\n" \
	"add map inet vps fwout6 { type ipv6_addr : verdict; }\n"

/* The maps alone (fw_remove), and with the base chains once a VPS has rules. */
static const char maps[] = MAPS;
static const char skeleton[] = MAPS
	"add chain inet vps fw_fwd_out { type filter hook forward priority 0; policy accept; }\n"
	"add chain inet vps fw_fwd_in { type filter hook forward priority 10; policy accept; }\n"
	"add chain inet vps fw_input { type filter hook input priority 0; policy accept; }\n"
	"add chain inet vps fw_output { type filter hook output priority 0; policy accept; }\n";

static int skeleton_ensure(struct err **err)
{
	static const struct {
		const char *chain, *dir;
		const char *maps; /* 4 or 6 appended */
	} base[] = { { "fw_fwd_out", "saddr", "fwout" },
		     { "fw_fwd_in", "daddr", "fwin" },
		     { "fw_input", "saddr", "fwout" },
		     { "fw_output", "daddr", "fwin" } };
	char batch[512];
	int r;

	if ((r = sys_nft(skeleton, err)) < 0)
		return err_wrap(err, "make the firewall's chains");
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		_cleanup_free_ char *o = NULL;

		if (sys_netcmd_output(&o, "nft", "list chain inet vps %s", base[i].chain) != 0 ||
		    strstr(o, "vmap"))
			continue;
		snprintf(batch, sizeof(batch),
			 "add rule inet vps %s ip %s vmap @%s4\n"
			 "add rule inet vps %s ip6 %s vmap @%s6\n",
			 base[i].chain, base[i].dir, base[i].maps, base[i].chain, base[i].dir,
			 base[i].maps);
		if ((r = sys_nft(batch, err)) < 0)
			return r;
	}
	return 0;
}

/* Bridged packets between two VPSes through the inet hooks and conntrack. */
static int bridge_nf_on(struct err **err)
{
	static const char *const knobs[] = { "/proc/sys/net/bridge/bridge-nf-call-iptables",
					     "/proc/sys/net/bridge/bridge-nf-call-ip6tables" };
	_cleanup_free_ char *cur = NULL;

	for (size_t i = 0; i < 2; i++) {
		free(cur);
		cur = NULL;
		if (read_file(knobs[i], &cur, NULL) < 0)
			return err_make(
				err, ENOTSUP,
				"the firewall needs br_netfilter (`modprobe br_netfilter`): "
				"no `%s`",
				knobs[i]);
		if (cur[0] == '1')
			continue;
		{
			_cleanup_close_ int fd = open(knobs[i], O_WRONLY | O_CLOEXEC);

			if (fd < 0 || write_all(fd, "1\n", 2) < 0)
				return err_make(err, errno, "write 1 to `%s`", knobs[i]);
		}
	}
	return 0;
}

struct buf {
	char *p;
	size_t n, cap;
};

static void __attribute__((format(printf, 2, 3))) put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (!b->p)
		return;
	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (k < 0) {
			free(b->p), b->p = NULL;
			return;
		}
		if ((size_t)k < b->cap - b->n)
			break;
		b->cap = (b->cap + (size_t)k) * 2;
		if (!(b->p = realloc(b->p, b->cap)))
			return;
	}
	b->n += (size_t)k;
}

static void put_prefix(struct buf *b, const char *what, const struct fw_prefix *p)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family, p->addr, a, sizeof(a));
	put(b, " %s %s %s/%u", p->family == AF_INET ? "ip" : "ip6", what, a, p->len);
}

/* One rule of the VPS's chain (fwi_DEV or fwo_DEV). */
static void put_rule(struct buf *b, const char *chain, const struct fw_rule *r)
{
	put(b, "add rule inet vps %s", chain);
	if (r->src.family)
		put_prefix(b, "saddr", &r->src);
	if (r->dst.family)
		put_prefix(b, "daddr", &r->dst);
	if ((r->proto == IPPROTO_TCP || r->proto == IPPROTO_UDP) && r->lo) {
		put(b, " %s", proto_name(r->proto));
		if (r->lo == r->hi)
			put(b, " dport %u", r->lo);
		else
			put(b, " dport %u-%u", r->lo, r->hi);
	} else if (r->proto) {
		put(b, " meta l4proto %s", proto_name(r->proto));
	}
	put(b, " counter %s\n", r->accept ? "accept" : "drop");
}

/* The map elements of the VPS's addresses: verb add or delete. */
static void put_elements(struct buf *b, const struct vps *v, const char *ifname, const char *verb)
{
	for (int f = 0; f < 2; f++) {
		const char *addr = f ? v->ipv6 : v->ipv4;

		if (!*addr)
			continue;
		for (int d = 0; d < 2; d++)
			put(b, "%s element inet vps %s%s { %s%s%s%s }\n", verb,
			    d ? "fwout" : "fwin", f ? "6" : "4", addr,
			    *verb == 'a' ? " : jump " : "",
			    *verb == 'a' ? (d ? "fwo_" : "fwi_") : "", *verb == 'a' ? ifname : "");
	}
}

int fw_apply(struct host *h, const struct vps *v, struct err **err)
{
	_cleanup_free_ char *text = NULL;
	struct buf b = { .cap = 4096 };
	json_t *doc, *x;
	char ifname[16], fwi[24], fwo[24];
	uint8_t a[16];
	bool open_in, open_out;
	size_t i;
	int r;

	if (!*v->network)
		return 0;
	b.p = malloc(b.cap);
	/* addresses checked again before they go in a batch: the store's, but still */
	if ((*v->ipv4 && inet_pton(AF_INET, v->ipv4, a) != 1) ||
	    (*v->ipv6 && inet_pton(AF_INET6, v->ipv6, a) != 1)) {
		free(b.p);
		return err_make(err, EINVAL, "firewall of `%s`: a stored address is not one",
				v->name);
	}
	doc = stored(h, v->name);
	open_in = !strcmp(json_string_value(json_object_get(doc, "policy_in")), "accept");
	open_out = !strcmp(json_string_value(json_object_get(doc, "policy_out")), "accept");
	if (open_in && open_out && !json_array_size(json_object_get(doc, "rules"))) {
		json_decref(doc);
		free(b.p);
		fw_remove(h, v); /* nothing to filter: no chains, no lookups */
		return 0;
	}
	if ((r = bridge_nf_on(err)) < 0 || (r = skeleton_ensure(err)) < 0) {
		json_decref(doc);
		free(b.p);
		return r;
	}
	net_ifname(v, ifname);
	snprintf(fwi, sizeof(fwi), "fwi_%s", ifname);
	snprintf(fwo, sizeof(fwo), "fwo_%s", ifname);
	for (int d = 0; d < 2; d++) {
		const char *c = d ? fwo : fwi;

		put(&b, "add chain inet vps %s\nflush chain inet vps %s\n", c, c);
		put(&b, "add rule inet vps %s ct state established,related accept\n", c);
		put(&b, "add rule inet vps %s ct state invalid drop\n", c);
		/* neighbor discovery is the link's, not the customer's to break */
		put(&b,
		    "add rule inet vps %s icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, "
		    "nd-router-solicit, nd-router-advert } accept\n",
		    c);
	}
	json_array_foreach(json_object_get(doc, "rules"), i, x)
	{
		struct fw_rule rule;

		if (parse_rule(x, &rule, NULL) == 0)
			put_rule(&b, rule.out ? fwo : fwi, &rule);
	}
	if (!open_in)
		put(&b, "add rule inet vps %s counter drop\n", fwi);
	if (!open_out)
		put(&b, "add rule inet vps %s counter drop\n", fwo);
	/* add, delete, add: an element left from before (or a changed address) is no error */
	put_elements(&b, v, ifname, "add");
	put_elements(&b, v, ifname, "delete");
	put_elements(&b, v, ifname, "add");
	json_decref(doc);
	if (!b.p)
		return err_make(err, ENOMEM, "firewall of `%s`", v->name);
	text = b.p;
	if ((r = sys_nft(text, err)) < 0)
		return err_wrap(err, "firewall of `%s`", v->name);
	return 0;
}

void fw_remove(struct host *h, const struct vps *v)
{
	struct buf b = { .p = malloc(2048), .cap = 2048 };
	char ifname[16];

	if (!*v->network || !b.p) {
		free(b.p);
		return;
	}
	net_ifname(v, ifname);
	/* no base chains (hooks) for a host where no VPS has a firewall */
	if (sys_nft(maps, NULL) < 0) {
		free(b.p);
		return;
	}
	/* added first, so removing what is not there is no error */
	put(&b, "add chain inet vps fwi_%s\nadd chain inet vps fwo_%s\n", ifname, ifname);
	put_elements(&b, v, ifname, "add");
	put_elements(&b, v, ifname, "delete");
	put(&b, "flush chain inet vps fwi_%s\ndelete chain inet vps fwi_%s\n", ifname, ifname);
	put(&b, "flush chain inet vps fwo_%s\ndelete chain inet vps fwo_%s\n", ifname, ifname);
	if (b.p)
		sys_nft(b.p, NULL);
	free(b.p);
}
