# SPDX-License-Identifier: GPL-2.0-or-later
"""VLAN networks (issue 23, docs/networks.md "VLANs") through a private vpsd.

On this host (a kernel without 802.1Q): creating a VLAN network is refused
with the reason, and nothing is left behind (no bridge, no VLAN device, no
store row, the parent as it was); bad ids and parents are refused by field
before anything is touched; a customer cannot make a network at all.

In the nested test host L1 (a stock Debian kernel: 802.1Q is there): a VLAN
network of id 100 on one end of a veth pair whose other end sits in a
network namespace with a VLAN device of id 100, and one of id 200 moved
into a second namespace; a namespace on the
network's bridge (standing in for a container, which cannot start in L1:
see the test) pings the address on the same id, and the address on
another id gets none of it, either way. And on this host: a container's own
802.1Q frames are dropped at its port."""

import json
import os
import re
import shlex
import shutil
import subprocess
import uuid

import pytest

from framework.ct import BUILD
from framework.openapi import start_vpsd, tcp
from framework.vpsd import VPSD

VPS = BUILD / "src" / "cli" / "vps"

pytestmark = [
    pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (bridges, VLAN devices)"),
    pytest.mark.skipif(not shutil.which("nft", path="/usr/sbin:/sbin"),
                       reason="nft is not installed (Debian package nftables)"),
]

IP = shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin")
PW = "vlan-customer-pw-1"


def sh(*args, check=True):
    return subprocess.run(args, capture_output=True, text=True, check=check).stdout


def links():
    """{name: (kind, flags, master, parent index)} of every link on the host."""
    out = {}
    for li in json.loads(sh(IP, "-j", "-d", "link", "show")):
        out[li["ifname"]] = (li.get("linkinfo", {}).get("info_kind", ""),
                             tuple(sorted(li.get("flags", []))), li.get("master"),
                             li.get("link_index"))
    return out


# names other sessions' vpsds and tests make and remove while this runs
OTHERS = re.compile(r"(vps\d+|ifbvps\d+|vbr-[a-z0-9-]+|vln-[a-z0-9-]+|veth\w*|vpst-[\w-]+)")


def changed(before, after, ours):
    """The links that differ, less other sessions' (never any of `ours`)."""
    names = {n for n in set(before) | set(after) if before.get(n) != after.get(n)}
    return {n: (before.get(n), after.get(n)) for n in names
            if n in ours or not OTHERS.fullmatch(n)}


def kernel_has_8021q():
    """Whether `ip link add ... type vlan` works here (then removed again)."""
    probe = "vlnprobe" + uuid.uuid4().hex[:4]
    try:
        sh(IP, "link", "add", f"{probe}a", "type", "veth", "peer", "name", f"{probe}b")
        r = subprocess.run([IP, "link", "add", "link", f"{probe}a", "name", f"{probe}v",
                            "type", "vlan", "id", "7"], capture_output=True, text=True)
        return r.returncode == 0
    finally:
        subprocess.run([IP, "link", "del", f"{probe}a"], capture_output=True)


@pytest.fixture
def vpsd():
    d = start_vpsd()
    yield d
    d.cleanup()


@pytest.fixture
def parent():
    """A veth pair made here, its first end left down: the VLAN's parent."""
    name = "vlp" + uuid.uuid4().hex[:6]
    sh(IP, "link", "add", name, "type", "veth", "peer", "name", name + "x")
    yield name
    subprocess.run([IP, "link", "del", name], capture_output=True)


def test_vlan_refused_without_8021q(vpsd, parent):
    if kernel_has_8021q():
        pytest.skip("this kernel has 802.1Q: the refusal is for one without it "
                    "(test_vlan_in_l1 covers the tagged path)")
    name = "v" + uuid.uuid4().hex[:6]
    bridge, vdev = f"vbr-{name}", f"vln-{name}"
    before = links()
    status, j = vpsd.request("POST", "/api/v1/networks", {
        "name": name, "ipv4": "10.231.40.1/24", "vlan": 100, "parent": parent})
    assert status == 409 and j["error"]["code"] == "unenforceable", (status, j)
    msg = j["error"]["message"]
    assert f"network `{name}`" in msg and "802.1Q" in msg and "8021q" in msg, msg
    assert f"VLAN 100 on `{parent}`" in msg, msg
    after = links()
    assert changed(before, after, {parent, parent + "x", bridge, vdev}) == {}
    assert bridge not in after and vdev not in after
    assert after[parent] == before[parent]  # still down, no master
    assert not [n for n, v in after.items() if v[0] == "vlan"]
    assert vpsd.api("GET", "/networks") == []
    vpsd.api("GET", f"/networks/{name}", expect=404)
    assert "10.231.40.0/24" not in sh("nft", "list", "ruleset", check=False)

    # the CLI says the same, with the same nothing left
    r = subprocess.run([str(VPS), "net", "create", name, "--ipv4", "10.231.40.1/24",
                        "--vlan", "100", "--parent", parent],
                       env={**os.environ, "VPS_SOCKET": str(vpsd.sock)},
                       capture_output=True, text=True)
    assert r.returncode != 0 and "802.1Q" in r.stderr, r
    assert changed(before, links(), {parent, bridge, vdev}) == {}
    assert vpsd.api("GET", "/networks") == []

    # a network without a tag is made as ever on the same host
    n = vpsd.api("POST", "/networks", {"name": name, "ipv4": "10.231.40.1/24"}, expect=201)
    assert "vlan" not in n and "parent" not in n and os.path.exists(f"/sys/class/net/{bridge}")
    vpsd.api("DELETE", f"/networks/{name}")
    assert not os.path.exists(f"/sys/class/net/{bridge}")


BAD = [
    ({"vlan": 0}, "vlan"),
    ({"vlan": 4095}, "vlan"),
    ({"vlan": -1}, "vlan"),
    ({"vlan": "x"}, "vlan"),
    ({"vlan": "100"}, "vlan"),
    ({"vlan": 1.5}, "vlan"),
    ({"vlan": True}, "vlan"),
    ({"vlan": None}, "vlan"),
    ({"vlan": 2 ** 40}, "vlan"),
    ({"vlan": 100, "parent": None}, "parent"),
    ({"vlan": 100, "parent": ""}, "parent"),
    ({"vlan": 100, "parent": "../../x"}, "parent"),
    ({"vlan": 100, "parent": "a" * 16}, "parent"),
    ({"vlan": 100, "parent": "nosuchdev0"}, "parent"),
    ({"vlan": 100, "parent": "PARENT", "bridge": "PARENT"}, "parent"),
    ({"vlan": 100}, "parent"),
    ({"parent": "PARENT"}, "vlan"),
]


def test_bad_vlans_refused_by_field(vpsd, parent):
    name = "v" + uuid.uuid4().hex[:6]
    before = links()
    for extra, field in BAD:
        body = {"name": name, "ipv4": "10.231.41.1/24"}
        body.update({k: (parent if v == "PARENT" else v) for k, v in extra.items()})
        status, j = vpsd.request("POST", "/api/v1/networks", body)
        assert status == 400 and f"`{field}`" in j["error"]["message"], (extra, status, j)
    assert changed(before, links(), {parent, f"vbr-{name}", f"vln-{name}"}) == {}
    assert vpsd.api("GET", "/networks") == []
    # the CLI refuses what is not a number before asking
    for bad in ("x", "1e3", "", "-5"):
        r = subprocess.run([str(VPS), "net", "create", name, "--ipv4", "10.231.41.1/24",
                            "--vlan", bad, "--parent", parent],
                           env={**os.environ, "VPS_SOCKET": str(vpsd.sock)},
                           capture_output=True, text=True)
        assert r.returncode != 0 and "--vlan" in r.stderr, (bad, r)
    assert vpsd.api("GET", "/networks") == []


def test_customer_cannot_make_a_network(vpsd, parent):
    vpsd.api("POST", "/users", {"name": "vlc", "password": PW, "role": "customer"},
             expect=201)
    c = tcp(vpsd)
    c.login("vlc", PW)
    before = links()
    for body in ({"name": "cv1", "ipv4": "10.231.42.1/24", "vlan": 42, "parent": parent},
                 {"name": "cv2", "ipv4": "10.231.43.1/24"},
                 {"name": "cv3", "ipv4": "10.231.44.1/24", "vlan": 1, "parent": "eth0"}):
        r = c.request("POST", "/networks", body)
        assert r.status == 403, (body, r.status, r.json)
    assert c.request("GET", "/networks").status == 403
    assert c.request("DELETE", "/networks/cv1").status == 403
    assert changed(before, links(), {parent, "vbr-cv1", "vln-cv1", "vbr-cv2", "vbr-cv3",
                                     "vln-cv3"}) == {}
    assert vpsd.api("GET", "/networks") == []


# ---- the tagged path, in L1 ----

L1_BASE = "/var/tmp/vpsd-l1-vlan"


def l1_api(l1, method, path, body=None, check=True):
    """(status, JSON) of one request to the private vpsd in L1 (curl over its socket)."""
    data = "" if body is None else f"-H 'Content-Type: application/json' " \
                                   f"--data {shlex.quote(json.dumps(body))}"
    r = l1.run(f"curl -s -w '\\n%{{http_code}}' --unix-socket {L1_BASE}/run/vpsd.sock "
               f"-X {method} {data} http://vpsd/api/v1{path}", timeout=300)
    assert r.ok, r
    text, _, code = r.stdout.rpartition("\n")
    out = (int(code), json.loads(text) if text.strip() else None)
    if check:
        assert out[0] < 300, (method, path, out)
    return out


def test_vlan_in_l1(l1, guest_kernel):
    # L1's root is this host's, which has no /lib/modules: the modules come
    # from the stock kernel's own tree, as a host's modprobe would load them
    # (8021q; nf_tables and the expressions of vpsd's rules: NAT's chain,
    # masquerade, the bridge family's meta, named counters)
    r = l1.run(f"modprobe -d {guest_kernel.dir} -a 8021q nf_tables nft_chain_nat nft_masq "
               "nft_meta_bridge nft_objref 2>&1; test -d /proc/net/vlan && echo has-8021q",
               timeout=60)
    assert "has-8021q" in r.stdout, f"L1's kernel is meant to have 802.1Q: {r}"
    setup = f"""
set -e
rm -rf {L1_BASE}; mkdir -p {L1_BASE}; chmod 711 {L1_BASE}
ip link add vlt-p type veth peer name vlt-q
ip netns add vlt-ns
ip link set vlt-q netns vlt-ns
ip -n vlt-ns link set vlt-q up
ip -n vlt-ns link add link vlt-q name vlt-q.100 type vlan id 100
ip -n vlt-ns link add link vlt-q name vlt-q.200 type vlan id 200
ip netns add vlt-o
ip -n vlt-ns link set vlt-q.200 netns vlt-o
ip -n vlt-ns addr add 10.231.50.200/24 dev vlt-q.100
ip -n vlt-o addr add 10.231.50.201/24 dev vlt-q.200
ip -n vlt-ns link set vlt-q.100 up
ip -n vlt-o link set vlt-q.200 up
setsid {VPSD} --data {L1_BASE}/data --run {L1_BASE}/run >{L1_BASE}/vpsd.log 2>&1 </dev/null &
echo $! >{L1_BASE}/vpsd.pid
for i in $(seq 100); do test -S {L1_BASE}/run/vpsd.sock && break; sleep 0.1; done
test -S {L1_BASE}/run/vpsd.sock
"""
    try:
        r = l1.run(setup, timeout=120)
        assert r.ok, r
        n = l1_api(l1, "POST", "/networks", {"name": "tag", "ipv4": "10.231.50.1/24",
                                             "nat": False, "vlan": 100, "parent": "vlt-p"})[1]
        assert (n["vlan"], n["parent"], n["bridge"]) == (100, "vlt-p", "vbr-tag"), n
        r = l1.run("ip -j -d link show vln-tag", timeout=30)
        li = json.loads(r.stdout)[0]
        assert li["linkinfo"]["info_kind"] == "vlan", li
        assert li["linkinfo"]["info_data"]["id"] == 100 and li["master"] == "vbr-tag", li
        assert li["link"] == "vlt-p", li

        # The VPS's end: a container of vpsd's cannot start in L1 (its
        # agent runs chrooted into this host's root, and the kernel refuses
        # a user namespace to a chrooted caller: clone EPERM), so a network
        # namespace plugged into the network's bridge by a veth, as vps-ctm
        # plugs a container's, stands in for it.
        r = l1.run("ip netns add vlt-g && ip link add vlt-h type veth peer name eth0 "
                   "netns vlt-g && ip link set vlt-h master vbr-tag up && "
                   "ip -n vlt-g addr add 10.231.50.2/24 dev eth0 && "
                   "ip -n vlt-g link set eth0 up && ip -n vlt-g link set lo up", timeout=30)
        assert r.ok, r

        def ping(addr):
            return l1.run(f"ip netns exec vlt-g ping -c 3 -W 2 {addr}", timeout=60)

        def rx(dev):
            ns = "vlt-ns" if dev == "vlt-q.100" else "vlt-o"
            return int(l1.run(f"ip netns exec {ns} cat /sys/class/net/{dev}/statistics/"
                              "rx_packets", timeout=30).stdout)

        # the same id: through the tag and back
        r = ping("10.231.50.200")
        assert r.ok and re.search(r"\b3 (packets )?received", r.stdout), r
        # the frames were tagged on the wire: the namespace's VLAN device of
        # id 100 took them in; the one of id 200 is at what it had
        rx100, rx200 = rx("vlt-q.100"), rx("vlt-q.200")
        assert rx100 >= 3, rx100

        # another id: nothing
        r = ping("10.231.50.201")
        assert not r.ok and re.search(r"\b0 (packets )?received", r.stdout), r
        assert rx("vlt-q.200") == rx200 and rx("vlt-q.100") > rx100

        # and the same the other way: the namespace sending on id 200 to
        # the "VPS" reaches nothing, on id 100 it does
        r = l1.run("ip netns exec vlt-o ping -c 2 -W 2 10.231.50.2", timeout=60)
        assert not r.ok, r
        r = l1.run("ip netns exec vlt-ns ping -c 2 -W 2 10.231.50.2", timeout=60)
        assert r.ok, r

        # vpsd's restart (net_restore) keeps the VLAN device and its port:
        # the same link, still on the bridge, still carrying the tag
        idx = l1.run("cat /sys/class/net/vln-tag/ifindex", timeout=30).stdout.strip()
        r = l1.run(f"kill $(cat {L1_BASE}/vpsd.pid); "
                   f"while kill -0 $(cat {L1_BASE}/vpsd.pid) 2>/dev/null; do sleep 0.1; done; "
                   f"rm -f {L1_BASE}/run/vpsd.sock; "
                   f"setsid {VPSD} --data {L1_BASE}/data --run {L1_BASE}/run "
                   f">>{L1_BASE}/vpsd.log 2>&1 </dev/null & echo $! >{L1_BASE}/vpsd.pid; "
                   f"for i in $(seq 100); do test -S {L1_BASE}/run/vpsd.sock && break; "
                   f"sleep 0.1; done; test -S {L1_BASE}/run/vpsd.sock", timeout=60)
        assert r.ok, r
        r = l1.run("cat /sys/class/net/vln-tag/ifindex; "
                   "basename $(readlink /sys/class/net/vln-tag/master)", timeout=30)
        assert r.stdout.split() == [idx, "vbr-tag"], (idx, r)
        assert ping("10.231.50.200").ok
        r = l1.run(f"VPS_SOCKET={L1_BASE}/run/vpsd.sock {VPS} net list", timeout=60)
        assert r.ok and re.search(r"^tag\s.*\b100\b.*\bvlt-p\b", r.stdout, re.M), r
        l1.run("ip link del vlt-h; ip netns del vlt-g", timeout=30)

        # gone with the network
        l1_api(l1, "DELETE", "/networks/tag")
        r = l1.run("ip link show vln-tag; ip link show vbr-tag; ip link show vlt-p", timeout=30)
        assert "vln-tag" not in r.stdout and "vbr-tag" not in r.stdout, r
        assert "vlt-p" in r.stdout, r
    finally:
        if l1.healthy:
            log = l1.run(f"cat {L1_BASE}/vpsd.log", timeout=30).stdout
            print(log[-3000:], l1.run(f"for f in {L1_BASE}/run/vps/*/*.log; do echo $f; "
                                      "tail -20 $f; done", timeout=30).stdout)
            l1.run(f"kill $(cat {L1_BASE}/vpsd.pid) 2>/dev/null; ip link del vlt-h 2>/dev/null; "
                   "ip link del vlt-p 2>/dev/null; ip netns del vlt-ns 2>/dev/null; "
                   "ip netns del vlt-g 2>/dev/null; ip netns del vlt-o 2>/dev/null; true",
                   timeout=120)
            assert "Sanitizer" not in log and "runtime error" not in log, log[-4000:]


# ---- a VPS's own tags, on this host ----

# Sends N 802.1Q frames (id 200, an IPv4 ping to 10.231.45.1 inside) from
# eth0 of the namespace it runs in, from eth0's own MAC, built whole on a
# packet socket: what a VPS's root would send to hop into another VLAN.
TAGGED = r"""
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
mac = s.getsockname()[4]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 1, 0, 64, 1, 0,
                 socket.inet_aton(sys.argv[2]), socket.inet_aton("10.231.45.1"))
icmp = struct.pack("!BBHHH", 8, 0, 0xf7fe, 1, 0)
frame = b"\xff" * 6 + mac + struct.pack("!HH", 0x8100, 200) + b"\x08\x00" + ip + icmp
for _ in range(int(sys.argv[1])):
    s.send(frame)
"""


def test_vps_own_tags_dropped_at_its_port(vpsd):
    """A VPS cannot put frames on the wire with a tag of its choosing: its
    port drops every frame that is not ARP, IPv4 or IPv6 (a VLAN network's
    tag is added after the bridge, so a tagged frame from the VPS would
    leave double tagged), counted there."""
    from framework.ctm import VPS_CTM
    name = "v" + uuid.uuid4().hex[:6]
    vpsd.api("POST", "/networks", {"name": name, "ipv4": "10.231.45.1/24"}, expect=201)
    try:
        v = vpsd.api("POST", "/vps", {"name": "tg1", "kind": "ct", "template": "busybox",
                                       "ram": "128M", "disk": "64M", "network": name,
                                       "start": True}, expect=201)
        r = subprocess.run([str(VPS_CTM), "ctl", str(vpsd.data / "vps" / "tg1" / "ct.json"),
                            '{"cmd":"state"}'], capture_output=True, text=True, check=True)
        pid = str(json.loads(r.stdout)["pid"])
        ports = os.listdir(f"/sys/class/net/vbr-{name}/brif")  # the VPS's host end only
        assert len(ports) == 1 and re.fullmatch(r"vps\d+", ports[0]), ports
        dev = ports[0]

        def drops():
            out = sh("nft", "list", "chain", "bridge", "vps_filter", f"port_{dev}")
            m = re.search(r"ether type != \{[^}]*\} counter packets (\d+)", out)
            assert m, out
            return int(m.group(1))

        before = drops()
        r = subprocess.run(["nsenter", "-t", pid, "-n", "python3", "-c", TAGGED, "5",
                            v["ipv4"]], capture_output=True, text=True)
        assert r.returncode == 0, r
        assert drops() == before + 5
    finally:
        vpsd.request("DELETE", "/api/v1/vps/tg1")
        vpsd.request("DELETE", f"/api/v1/networks/{name}")
