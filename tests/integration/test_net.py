# SPDX-License-Identifier: GPL-2.0-or-later
"""Networks (issue 7, docs/networks.md) through a private vpsd: the API and
its pools, busybox containers on a network's bridge reaching each other and
"the outside" through NAT, anti-spoofing (a forged address or MAC gets its
packets dropped, counted by the nft rules), and the bandwidth limit measured
with iperf3. "The outside" is a network namespace the test makes, joined to
the host by a veth with a TEST-NET-2 address; nothing leaves the machine.
Every bridge, rule, namespace and qdisc the tests make is removed."""

import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid

import pytest

from framework.ctm import VPS_CTM
from framework.vpsd import VPSD, Vpsd

pytestmark = [
    pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (bridges, nftables)"),
    pytest.mark.skipif(not shutil.which("nft", path="/usr/sbin:/sbin"),
                       reason="nft is not installed (Debian package nftables)"),
]

NFT = shutil.which("nft", path="/usr/sbin:/sbin")
OUT_NS = "vpst-out"
OUT_HOST, OUT_PEER = "198.51.100.1", "198.51.100.2"


def sh(*args, check=True):
    return subprocess.run(args, capture_output=True, text=True, check=check).stdout


def link_exists(name):
    return os.path.exists(f"/sys/class/net/{name}")


def nft_text(*what):
    r = subprocess.run([NFT, "list", *what], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else ""


@pytest.fixture
def vpsd():
    d = Vpsd().start()
    yield d
    d.cleanup()


@pytest.fixture
def net(vpsd):
    """A network on a fresh bridge, deleted (and checked gone) afterwards."""
    name = "t" + uuid.uuid4().hex[:6]
    n = vpsd.api("POST", "/networks", {"name": name, "ipv4": "10.231.7.1/24",
                                       "ipv6": "fd77:231:7::1/64", "nat": True}, expect=201)
    yield n
    for v in vpsd.api("GET", "/vps"):
        vpsd.request("DELETE", f"/api/v1/vps/{v['name']}")
    vpsd.request("DELETE", f"/api/v1/networks/{name}")
    assert not link_exists(n["bridge"])
    assert "10.231.7.0/24" not in nft_text("table", "inet", "vps")
    assert "port_vps" not in nft_text("table", "bridge", "vps_filter")


def ct(d, name, network, **kw):
    body = {"name": name, "kind": "ct", "template": "busybox", "ram": "128M", "disk": "64M",
            "network": network}
    body.update(kw)
    return d.api("POST", "/vps", body, expect=201)


def ex(d, name, script, timeout=120):
    return d.api("POST", f"/vps/{name}/exec", {"args": ["sh", "-c", script]}, timeout=timeout)


def ct_json(d, name):
    return json.loads((d.data / "vps" / name / "ct.json").read_text())


def counters(dev):
    """{rule text before `counter`: packets} of a VPS's anti-spoofing chain."""
    out = nft_text("chain", "bridge", "vps_filter", f"port_{dev}")
    return {m.group(1).strip(): int(m.group(2))
            for m in re.finditer(r"^\s*(.*?) counter packets (\d+)", out, re.M)}


def test_network_api_and_pools(vpsd, net):
    name, bridge = net["name"], net["bridge"]
    assert net["ipv4"] == "10.231.7.1/24" and net["nat"] is True
    assert net["pool4"] == 253 and net["used4"] == 0 and net["vps"] == 0
    assert "10.231.7.1/24" in sh("ip", "-br", "addr", "show", bridge)
    assert "10.231.7.0/24" in nft_text("set", "inet", "vps", "nat4")
    assert "fd77:231:7::/64" in nft_text("set", "inet", "vps", "nat6")
    assert open("/proc/sys/net/ipv4/ip_forward").read().strip() == "1"

    # bad bodies name their field; nothing is made
    for body, field in [({"name": "x1", "ipv4": "10.231.7.300/24"}, "ipv4"),
                        ({"name": "x1", "ipv4": "fd00::1/64"}, "ipv4"),
                        ({"name": "x1", "ipv4": "10.231.7.1/32"}, "ipv4"),
                        ({"name": "x1"}, "ipv4"),
                        ({"name": "x1", "ipv4": "10.231.7.129/25"}, "ipv4"),  # overlaps
                        ({"name": "X!", "ipv4": "10.9.9.1/24"}, "name"),
                        ({"name": "x1", "ipv4": "10.9.9.1/24", "color": 1}, "color"),
                        ({"name": "x1", "ipv4": "10.9.9.1/24", "nat": "yes"}, "nat"),
                        ({"name": name, "ipv4": "10.9.9.1/24"}, "")]:
        status, j = vpsd.request("POST", "/api/v1/networks", body)
        assert status in (400, 409) and f"`{field}`" in j["error"]["message"] or \
            (not field and status == 409), (body, status, j)
    assert len(vpsd.api("GET", "/networks")) == 1 and not link_exists("vbr-x1")

    # pools: the next free address, or the one asked for, checked
    a = ct(vpsd, "pa", name)
    assert (a["network"], a["ipv4"], a["ipv6"]) == (name, "10.231.7.2", "fd77:231:7::2")
    assert re.fullmatch(r"[0-9a-f][26ae](:[0-9a-f]{2}){5}", a["mac"]), a["mac"]
    b = ct(vpsd, "pb", name, ipv4="10.231.7.50", ipv6="fd77:231:7::50")
    assert (b["ipv4"], b["ipv6"]) == ("10.231.7.50", "fd77:231:7::50")
    c = ct(vpsd, "pc", name)
    assert (c["ipv4"], c["ipv6"]) == ("10.231.7.3", "fd77:231:7::3")
    for kw, code, field in [({"ipv4": "10.231.7.50"}, 409, "ipv4"),  # taken
                            ({"ipv4": "10.231.8.5"}, 400, "ipv4"),  # outside
                            ({"ipv4": "10.231.7.1"}, 400, "ipv4"),  # the gateway
                            ({"ipv4": "10.231.7.255"}, 400, "ipv4"),  # broadcast
                            ({"ipv6": "fd77:231:8::5"}, 400, "ipv6"),
                            ({"network": "nosuch"}, 400, "network")]:
        body = {"name": "bad", "kind": "ct", "template": "busybox", "ram": "128M",
                "disk": "64M", "network": name}
        body.update(kw)
        status, j = vpsd.request("POST", "/api/v1/vps", body)
        assert status == code and f"`{field}`" in j["error"]["message"], (kw, status, j)
    status, j = vpsd.request("POST", "/api/v1/vps", {"name": "bad", "kind": "ct",
                                                      "template": "busybox", "ipv4": "10.1.1.1"})
    assert status == 400 and "`ipv4`: needs `network`" in j["error"]["message"], j
    assert [v["name"] for v in vpsd.api("GET", "/vps")] == ["pa", "pb", "pc"]
    show = vpsd.api("GET", f"/networks/{name}")
    assert (show["used4"], show["used6"], show["vps"]) == (3, 3, 3), show
    assert vpsd.api("GET", "/vps/pb")["ipv4"] == "10.231.7.50"
    # ct.json carries the network to vps-ctm
    n = ct_json(vpsd, "pb")["net"]
    assert n["bridge"] == bridge and n["ipv4"] == "10.231.7.50/24" and n["gw4"] == "10.231.7.1"
    assert n["ipv6"] == "fd77:231:7::50/64" and n["gw6"] == "fd77:231:7::1"
    assert n["mac"] == b["mac"] and re.fullmatch(r"vps\d+", n["host_ifname"])

    # the network is refused while in use; a destroyed VPS's addresses come free
    status, j = vpsd.request("DELETE", f"/api/v1/networks/{name}")
    assert status == 409, j
    vpsd.api("DELETE", "/vps/pa")
    assert ct(vpsd, "pd", name)["ipv4"] == "10.231.7.2"

    # the store survives a restart; the bridge is made again at vpsd's start
    vpsd.stop()
    sh("ip", "link", "del", bridge)
    sh(NFT, "delete", "element", "inet", "vps", "nat4", "{ 10.231.7.0/24 }")
    vpsd.start()
    assert "10.231.7.1/24" in sh("ip", "-br", "addr", "show", bridge)
    assert "10.231.7.0/24" in nft_text("set", "inet", "vps", "nat4")
    assert vpsd.api("GET", "/vps/pb")["mac"] == b["mac"]


@pytest.fixture
def outside():
    """A namespace standing for the Internet: 198.51.100.2, reached from the
    host over a veth (198.51.100.1); no route back to the VPS networks, so
    only NATed traffic can be answered."""
    sh("ip", "netns", "add", OUT_NS)
    try:
        sh("ip", "link", "add", "vpst-o0", "type", "veth", "peer", "name", "vpst-o1",
           "netns", OUT_NS)
        sh("ip", "addr", "add", f"{OUT_HOST}/24", "dev", "vpst-o0")
        sh("ip", "link", "set", "vpst-o0", "up")
        for c in (["ip", "addr", "add", f"{OUT_PEER}/24", "dev", "vpst-o1"],
                  ["ip", "link", "set", "vpst-o1", "up"], ["ip", "link", "set", "lo", "up"]):
            sh("ip", "netns", "exec", OUT_NS, *c)
        yield OUT_NS
    finally:
        subprocess.run(["ip", "link", "del", "vpst-o0"], capture_output=True)
        subprocess.run(["ip", "netns", "del", OUT_NS], capture_output=True)


SERVER = r"""
import socket
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("0.0.0.0", 7070)); t.listen(8)
print("ready", flush=True)
while True:
    c, peer = t.accept(); c.sendall(f"{peer[0]}\n".encode()); c.close()
"""


@pytest.fixture
def server(outside, tmp_path):
    """In the outside namespace: TCP 7070 answers with the peer's address, and
    an nft counter counts the pings that arrive there."""
    log = tmp_path / "server.log"
    p = subprocess.Popen(["ip", "netns", "exec", outside, "/usr/bin/python3", "-c", SERVER],
                         stdout=open(log, "w"))
    subprocess.run(["ip", "netns", "exec", outside, NFT, "-f", "-"], check=True, text=True,
                   input="table ip count {\n chain input {\n"
                         "  type filter hook input priority 0;\n"
                         "  icmp type echo-request counter\n }\n}\n")
    for _ in range(100):
        if log.read_text().startswith("ready"):
            break
        time.sleep(0.05)

    def pings():
        out = sh("ip", "netns", "exec", outside, NFT, "list", "table", "ip", "count")
        return int(re.search(r"counter packets (\d+)", out).group(1))

    p.pings = pings
    yield p
    p.kill()
    p.wait()


def test_bridge_nat_and_antispoofing(vpsd, net, server):
    name = net["name"]
    a = ct(vpsd, "na", name, start=True)
    b = ct(vpsd, "nb", name, start=True)
    # the host routes to the outside namespace; the container gets there through NAT
    out = ex(vpsd, "na", f"ping -c 2 -W 2 {b['ipv4']} && ping6 -c 2 -W 2 {b['ipv6']} && "
                         f"ping -c 1 -W 2 10.231.7.1")
    assert out["status"] == 0, out
    out = ex(vpsd, "na", f"nc {OUT_PEER} 7070 </dev/null")
    assert out["status"] == 0 and out["stdout"].strip() == OUT_HOST, out  # masqueraded

    dev = ct_json(vpsd, "na")["net"]["host_ifname"]
    assert f'"{dev}" : jump port_{dev}' in nft_text("map", "bridge", "vps_filter", "ports")
    # the control: from its own address and MAC, pings arrive
    n = server.pings()
    assert ex(vpsd, "na", f"ping -c 2 -W 2 {OUT_PEER}")["status"] == 0
    assert server.pings() == n + 2

    # a second address inside, used as source: dropped at the bridge port
    before, n = counters(dev), server.pings()
    out = ex(vpsd, "na", "ip addr add 10.231.7.99/24 dev eth0 && "
             f"ping -c 2 -W 1 -I 10.231.7.99 {OUT_PEER}; "
             f"ping -c 2 -W 1 -I 10.231.7.99 {b['ipv4']}; "
             f"arping -c 2 -w 2 -I eth0 -s 10.231.7.99 {b['ipv4']}; "
             "ip addr del 10.231.7.99/24 dev eth0")
    after = counters(dev)
    assert server.pings() == n, out  # the receiver saw nothing
    assert " 0 packets received" in out["stdout"] and "2 packets received" not in out["stdout"]
    assert "Received 0 response" in out["stdout"], out  # the ARP with a forged sender too
    assert after["ip saddr != 10.231.7.2"] >= before["ip saddr != 10.231.7.2"] + 2, after
    assert (after["arp saddr ip != { 0.0.0.0, 10.231.7.2 }"] >
            before["arp saddr ip != { 0.0.0.0, 10.231.7.2 }"]), (before, after)

    # another MAC on eth0: nothing it sends gets through
    before, n = counters(dev), server.pings()
    out = ex(vpsd, "na", "ip link set eth0 address 02:00:00:00:00:99 && "
             f"ping -c 2 -W 1 {OUT_PEER}; ping -c 2 -W 1 {b['ipv4']}; "
             f"ip link set eth0 address {a['mac']}")
    after = counters(dev)
    rule = f"ether saddr != {a['mac']}"
    assert after[rule] >= before[rule] + 4, (rule, before, after)
    assert server.pings() == n and "2 packets received" not in out["stdout"], out
    # with its own MAC back, it works again
    assert ex(vpsd, "na", f"ping -c 1 -W 2 {OUT_PEER}")["status"] == 0
    assert server.pings() == n + 1

    # a restart of vpsd (kill -9) re-applies lost rules to the running VPS
    sh(NFT, "flush", "chain", "bridge", "vps_filter", f"port_{dev}")
    vpsd.kill9()
    vpsd.start()
    assert f"ether saddr != {a['mac']}" in nft_text("chain", "bridge", "vps_filter",
                                                    f"port_{dev}")
    # stopped: its rules go; started: back
    vpsd.api("POST", "/vps/na/stop", {"force": True})
    assert f"port_{dev}" not in nft_text("table", "bridge", "vps_filter")
    vpsd.api("POST", "/vps/na/start")
    assert f"port_{dev}" in nft_text("table", "bridge", "vps_filter")
    assert ex(vpsd, "na", f"ping -c 1 -W 2 {b['ipv4']}")["status"] == 0


def init_pid(d, name):
    """The host pid of a running container's init (its monitor's `state`)."""
    r = subprocess.run([str(VPS_CTM), "ctl", str(d.data / "vps" / name / "ct.json"),
                        '{"cmd":"state"}'], capture_output=True, text=True, check=True)
    return str(json.loads(r.stdout)["pid"])


def in_ns(pid, *argv, check=True, input=None):
    """ARGV, the host's program, in the network namespace of PID only."""
    r = subprocess.run(["nsenter", "-t", pid, "-n", *argv], capture_output=True, text=True,
                       input=input)
    assert r.returncode == 0 or not check, (argv, r.returncode, r.stderr)
    return r.stdout


# Sends one IPv6 frame from eth0 of the namespace it runs in, built whole on
# a packet socket, from MAC (eth0's own: only what is inside forges); argv
# KIND ADDR MAC [TO_MAC]:
#   na        an unsolicited neighbor advertisement with override, from the
#             link-local address of MAC to all nodes, naming ADDR as at MAC
#             (as at TO_MAC when given): what a VPS sends to take an address
#             over
#   dad       a duplicate address detection probe for ADDR, from ::, to its
#             solicited-node group: what makes its owner give it up at boot
#   redirect  a redirect to ADDR (at TO_MAC): "fe80::1 is the better hop to
#             ADDR" (a VPS is never the router)
#   udp0      a UDP datagram to ADDR (at TO_MAC) from ::
FRAME = r"""
import ipaddress, socket, struct, sys
kind, addr = sys.argv[1], ipaddress.IPv6Address(sys.argv[2])
mac = bytes.fromhex(sys.argv[3].replace(":", ""))
to_mac = bytes.fromhex(sys.argv[4].replace(":", "")) if len(sys.argv) > 4 else None
eui = bytes([mac[0] ^ 2]) + mac[1:3] + b"\xff\xfe" + mac[3:]
link_local = ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + eui)
unspec = ipaddress.IPv6Address("::")
nh = 58
if kind == "na":
    src, dst = link_local, ipaddress.IPv6Address("ff02::1")
    body = (struct.pack("!BBHI", 136, 0, 0, 0x20000000) + addr.packed + bytes([2, 1]) +
            (to_mac or mac))
    to_mac = None
elif kind == "dad":
    src = unspec
    dst = ipaddress.IPv6Address(b"\xff\x02" + bytes(9) + b"\x01\xff" + addr.packed[13:])
    body = struct.pack("!BBHI", 135, 0, 0, 0) + addr.packed
elif kind == "redirect":
    src, dst = link_local, addr
    body = (struct.pack("!BBHI", 137, 0, 0, 0) + ipaddress.IPv6Address("fe80::1").packed +
            addr.packed)
else:
    src, dst, nh = unspec, addr, 17
    body = struct.pack("!HHHH", 5353, 7, 13, 0) + b"spoof"
pseudo = src.packed + dst.packed + struct.pack("!I3xB", len(body), nh)
data = pseudo + body + bytes(len(body) % 2)
csum = sum(struct.unpack(f"!{len(data) // 2}H", data))
while csum >> 16:
    csum = (csum & 0xffff) + (csum >> 16)
at = 2 if nh == 58 else 6
body = body[:at] + struct.pack("!H", ~csum & 0xffff or 0xffff) + body[at + 2:]
ip6 = struct.pack("!IHBB", 6 << 28, len(body), nh, 255) + src.packed + dst.packed
eth = (to_mac or b"\x33\x33" + dst.packed[12:]) + mac + b"\x86\xdd"
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
s.send(eth + ip6 + body)
"""


def link_local(mac):
    """The EUI-64 link-local address of MAC (RFC 4291 appendix A)."""
    b = bytes.fromhex(mac.replace(":", ""))
    eui = bytes([b[0] ^ 2]) + b[1:3] + b"\xff\xfe" + b[3:]
    return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + eui))


def set_of(rule, prefix):
    """The elements of `PREFIX{ a, b }` in a rule's text."""
    assert rule.startswith(prefix + "{ ") and rule.endswith(" }"), rule
    return {str(ipaddress.IPv6Address(e)) for e in rule[len(prefix) + 2:-2].split(", ")}


def test_ipv6_antispoofing(vpsd, net):
    """IPv6 as the IPv4 test above: a VPS's packets from an address that is
    not its own are dropped at its bridge port, and so is NDP naming an
    address that is not its own; its own address works. The receivers are
    checked: the other VPS counts what reaches it (an nft table in its
    namespace), and the host's neighbor table names the right MAC."""
    name = net["name"]
    a = ct(vpsd, "sa", name, start=True)
    b = ct(vpsd, "sb", name, start=True)
    dev = ct_json(vpsd, "sa")["net"]["host_ifname"]
    bridge = net["bridge"]
    apid, bpid = init_pid(vpsd, "sa"), init_pid(vpsd, "sb")
    for pid in (apid, bpid):  # the addresses are usable once duplicate detection passed
        for _ in range(100):
            out = in_ns(pid, "ip", "-6", "addr", "show", "dev", "eth0")
            if "inet6 fd77:" in out and "tentative" not in out:
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"no IPv6 address out of duplicate detection: {out}")
    forged = "fd77:231:7::99"
    in_ns(bpid, NFT, "-f", "-", input=(
        "table ip6 count {\n chain input {\n  type filter hook input priority 0;\n"
        f"  icmpv6 type echo-request ip6 saddr {a['ipv6']} counter\n"
        f"  icmpv6 type echo-request ip6 saddr {forged} counter\n"
        " }\n}\n"))

    def seen():
        """echo requests that reached sb: (from sa's address, from the forged one)"""
        out = in_ns(bpid, NFT, "list", "table", "ip6", "count")
        return tuple(int(n) for n in re.findall(r"counter packets (\d+)", out))

    def neigh(addr):
        return sh("ip", "-6", "neigh", "show", addr, "dev", bridge)

    def drops(before, after):
        return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}

    def dropped_once_by(rule, before, after):
        """one frame dropped, by the rule starting with RULE (not, say, the MAC's)"""
        d = drops(before, after)
        return len(d) == 1 and next(iter(d)).startswith(rule) and sum(d.values()) == 1

    # the control: from its own address, to the other VPS and to the gateway
    before = counters(dev)
    out = ex(vpsd, "sa", f"ping6 -c 2 -W 2 {b['ipv6']} && ping6 -c 1 -W 2 fd77:231:7::1")
    assert out["status"] == 0, out
    assert seen() == (2, 0)
    assert drops(before, counters(dev)) == {}, (before, counters(dev))

    # a second address inside, used as source: dropped at the bridge port
    in_ns(apid, "ip", "-6", "addr", "add", f"{forged}/64", "dev", "eth0", "nodad")
    before = counters(dev)
    out = ex(vpsd, "sa", f"ping6 -c 2 -W 1 -I {forged} {b['ipv6']}; "
             f"ping6 -c 2 -W 1 -I {forged} fd77:231:7::1")
    in_ns(apid, "ip", "-6", "addr", "del", f"{forged}/64", "dev", "eth0")
    after = counters(dev)
    rule = next(k for k in after if k.startswith("ip6 saddr != "))
    # its address, its own link-local (EUI-64 of its MAC, not all of fe80::/10), ::
    assert set_of(rule, "ip6 saddr != ") == {a["ipv6"], link_local(a["mac"]), "::"}, rule
    assert out["stdout"].count(" 0 packets received") == 2, out
    assert seen() == (2, 0), out  # sb saw nothing from the forged address
    assert after[rule] >= before[rule] + 4, (rule, before, after)

    # NDP: the host knows sb's address at sb's MAC; sa claims it with an
    # unsolicited advertisement (override): dropped, the host's entry stays
    assert ex(vpsd, "sb", "ping6 -c 1 -W 2 fd77:231:7::1")["status"] == 0  # the host answers
    assert f"lladdr {b['mac']}" in neigh(b["ipv6"]), neigh(b["ipv6"])
    before = counters(dev)
    in_ns(apid, "/usr/bin/python3", "-c", FRAME, "na", b["ipv6"], a["mac"])
    for _ in range(40):  # delivered or dropped: one of them shows
        after = counters(dev)
        if drops(before, after) or f"lladdr {b['mac']}" not in neigh(b["ipv6"]):
            break
        time.sleep(0.05)
    assert f"lladdr {b['mac']}" in neigh(b["ipv6"]), neigh(b["ipv6"])
    assert dropped_once_by("icmpv6 type nd-neighbor-advert", before, after), (before, after)
    # a duplicate address probe for sb's address, a redirect to sb, a
    # datagram to it from ::: dropped too
    for kind, rule, to in [("dad", "ip6 saddr :: icmpv6 type nd-neighbor-solicit", ()),
                           ("redirect", "icmpv6 type { nd-router-advert, nd-redirect }",
                            (b["mac"],)),
                           ("udp0", "ip6 saddr :: meta l4proto != ipv6-icmp", (b["mac"],))]:
        before = counters(dev)
        in_ns(apid, "/usr/bin/python3", "-c", FRAME, kind, b["ipv6"], a["mac"], *to)
        for _ in range(40):
            if drops(before, after := counters(dev)):
                break
            time.sleep(0.05)
        assert dropped_once_by(rule, before, after), (kind, before, after)
    # its own address, advertised and probed the same way, gets through
    before = counters(dev)
    in_ns(apid, "/usr/bin/python3", "-c", FRAME, "na", a["ipv6"], a["mac"])
    in_ns(apid, "/usr/bin/python3", "-c", FRAME, "dad", a["ipv6"], a["mac"])
    assert drops(before, counters(dev)) == {}, (before, counters(dev))
    assert f"lladdr {a['mac']}" in neigh(a["ipv6"]), neigh(a["ipv6"])
    # and its traffic still flows
    assert ex(vpsd, "sa", f"ping6 -c 1 -W 2 {b['ipv6']}")["status"] == 0
    assert seen() == (3, 0)


def test_ndp_link_local_is_pinned(vpsd, net):
    """A VPS claims another VPS's link-local address (issue 15): an
    unsolicited advertisement from sa naming sb's link-local address is
    dropped at sa's bridge port and the host's neighbor entry for it keeps
    sb's MAC; so is an advertisement of sa's own link-local address that
    names sb's MAC in its link-layer option, and a packet from sb's
    link-local address. sa's own link-local NDP still works: the host learns
    sa's link-local at sa's MAC, and sa reaches sb over link-local."""
    name = net["name"]
    a = ct(vpsd, "la", name, start=True)
    b = ct(vpsd, "lb", name, start=True)
    dev, bridge = ct_json(vpsd, "la")["net"]["host_ifname"], net["bridge"]
    apid, bpid = init_pid(vpsd, "la"), init_pid(vpsd, "lb")
    a_ll, b_ll = link_local(a["mac"]), link_local(b["mac"])
    for pid, ll in ((apid, a_ll), (bpid, b_ll)):  # the guests' own: EUI-64
        for _ in range(100):
            out = in_ns(pid, "ip", "-6", "addr", "show", "dev", "eth0", "scope", "link")
            if f"inet6 {ll}/64" in out and "tentative" not in out:
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"no link-local {ll} out of duplicate detection: {out}")

    def neigh(addr):
        return sh("ip", "-6", "neigh", "show", addr, "dev", bridge)

    def drops(before, after):
        return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}

    def send(*argv):
        before = counters(dev)
        in_ns(apid, "/usr/bin/python3", "-c", FRAME, *argv)
        for _ in range(40):  # delivered or dropped: one of them shows
            after = counters(dev)
            if drops(before, after):
                break
            time.sleep(0.05)
        return drops(before, after)

    # the host knows sb's link-local address at sb's MAC, sa's at sa's
    # (a datagram from the host to it: the host's kernel asks, sb answers)
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as u:
        u.sendto(b"x", (b_ll, 9, 0, socket.if_nametoindex(bridge)))
    for _ in range(40):
        if f"lladdr {b['mac']}" in neigh(b_ll):
            break
        time.sleep(0.05)
    assert f"lladdr {b['mac']}" in neigh(b_ll), neigh(b_ll)
    # sa: "sb's link-local is at my MAC"
    d = send("na", b_ll, a["mac"])
    assert len(d) == 1 and next(iter(d)).startswith("icmpv6 type nd-neighbor-advert @th,64,128"), d
    assert f"lladdr {b['mac']}" in neigh(b_ll), neigh(b_ll)
    # sa: "my link-local is at sb's MAC" (the target is its own, the option is not)
    d = send("na", a_ll, a["mac"], b["mac"])
    assert len(d) == 1 and next(iter(d)).startswith("icmpv6 type nd-neighbor-advert @th,192,8"), d
    assert f"lladdr {b['mac']}" not in neigh(a_ll), neigh(a_ll)
    # its own link-local, advertised right, gets through and the host takes it
    assert send("na", a_ll, a["mac"]) == {}
    for _ in range(40):
        if f"lladdr {a['mac']}" in neigh(a_ll):
            break
        time.sleep(0.05)
    assert f"lladdr {a['mac']}" in neigh(a_ll), neigh(a_ll)
    # a packet from sb's link-local address (a second address inside sa) is dropped
    in_ns(apid, "ip", "-6", "addr", "add", f"{b_ll}/64", "dev", "eth0", "nodad")
    before = counters(dev)
    in_ns(apid, "/usr/bin/python3", "-c",
          "import socket, sys\n"
          "i = socket.if_nametoindex('eth0')\n"
          "s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
          "s.bind((sys.argv[1], 0, 0, i))\n"
          "s.sendto(b'spoof', ('ff02::1', 9, 0, i))\n", b_ll)
    for _ in range(40):
        if drops(before, after := counters(dev)):
            break
        time.sleep(0.05)
    in_ns(apid, "ip", "-6", "addr", "del", f"{b_ll}/64", "dev", "eth0")
    d = drops(before, after)
    assert list(d) == [next(k for k in after if k.startswith("ip6 saddr != "))], d
    # and sa's own link-local NDP and traffic work: it reaches sb over link-local
    out = ex(vpsd, "la", f"ping6 -c 1 -W 2 {b_ll}%eth0")
    assert out["status"] == 0, out


def copy_iperf3(rootfs):
    """The host's iperf3 and the libraries it loads, into a busybox rootfs."""
    iperf3 = shutil.which("iperf3")
    r = subprocess.run(["ldd", iperf3], capture_output=True, text=True, check=True)
    libs = [w for line in r.stdout.splitlines() for w in line.split() if w.startswith("/")]
    for p in [iperf3, *libs]:
        dst = rootfs / p.lstrip("/")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, dst)
        dst.chmod(0o755)
    return iperf3


def iperf_end(vpsd, name, host_addr, reverse, secs=4):
    """The `end` of iperf3's JSON for one TCP stream of SECS seconds between
    the VPS (the client) and a server on host_addr: the VPS sends (upload),
    or with reverse receives. Also test_traffic's."""
    port = 5300 + (uuid.uuid4().int % 500)
    srv = subprocess.Popen(["iperf3", "-s", "-B", host_addr, "-p", str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):  # listening? (a probe connection would count as a client)
            if sh("ss", "-Hltn", f"sport = :{port}").strip():
                break
            time.sleep(0.05)
        else:
            raise AssertionError("iperf3 -s did not listen")
        out = ex(vpsd, name, f"/usr/bin/iperf3 -c {host_addr} -p {port} -t {secs} -J"
                             f"{' -R' if reverse else ''}")
    finally:
        srv.kill()
        srv.wait()
    assert out["status"] == 0, out
    return json.loads(out["stdout"])["end"]


def iperf(vpsd, name, host_addr, reverse, secs=4):
    """bits/s the receiver counted: the VPS sends (upload), or with reverse receives."""
    return iperf_end(vpsd, name, host_addr, reverse, secs)["sum_received"]["bits_per_second"]


@pytest.mark.skipif(not shutil.which("iperf3"), reason="iperf3 is not installed "
                    "(Debian package iperf3; scripts/lib.sh installs it)")
def test_bandwidth_limit(vpsd, net):
    rate = 20_000_000
    ct(vpsd, "bw1", net["name"], bw=rate, start=True)
    dev = ct_json(vpsd, "bw1")["net"]["host_ifname"]
    assert "tbf" in sh("tc", "qdisc", "show", "dev", dev)
    copy_iperf3(vpsd.data / "vps" / "bw1" / "ct" / "rootfs")
    for reverse in (False, True):
        got = iperf(vpsd, "bw1", "10.231.7.1", reverse)
        assert abs(got - rate) <= rate * 0.10, (reverse, got)
    # live: `set bw` changes the running VPS's limit
    r = vpsd.api("PATCH", "/vps/bw1", {"bw": rate // 2})
    assert r["live"] is True
    got = iperf(vpsd, "bw1", "10.231.7.1", True)
    assert abs(got - rate / 2) <= rate / 2 * 0.10, got
    vpsd.api("POST", "/vps/bw1/stop", {"force": True})
    assert not link_exists(f"ifb{dev}")
