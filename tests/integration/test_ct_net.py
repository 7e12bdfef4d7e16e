# SPDX-License-Identifier: GPL-2.0-or-later
"""Container network plumbing (src/sys/net.c) through the nettool driver
(tests/ct/nettool.c), on this host as root. A "container" is a process in
a network namespace of its own (`unshare --net`); the bridge lives in
another such namespace that plays the host, so no test touches this host's
interfaces, except test_real_host_bridge, which creates and deletes one
bridge of its own with a unique name. Addresses are TEST-NET only
(192.0.2.0/24, 2001:db8::/32). Checks: the peer appears inside as eth0 with
its MAC and MTU, addresses and default routes inside, two containers on one
bridge ping each other over IPv4 and IPv6, the host end is a bridge port,
detach removes both ends, bad input is a clear error that leaves no veth,
and the guest's /etc files are written without leaving its root. Every
namespace, process and bridge is undone in fixture teardowns."""

import json
import os
import subprocess
import time
import uuid

import pytest

from framework import artefacts

NETTOOL = artefacts.build_dir() / "tests" / "ct" / "nettool"
BR4, BR6 = "192.0.2.1/24", "2001:db8:1::1/64"
GW4, GW6 = "192.0.2.1", "2001:db8:1::1"


def run(argv, check=True):
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                       timeout=60)
    if check:
        assert p.returncode == 0, f"{' '.join(map(str, argv))}: " \
            f"{p.returncode}\n{p.stdout}{p.stderr}"
    return p


class Netns:
    """`unshare --net --fork sleep` : its sleep is the container's init."""

    def __init__(self):
        self.proc = subprocess.Popen(
            ["unshare", "--net", "--fork", "--kill-child", "sleep", "300"])
        self.pid = self._child()

    def _child(self):
        mine = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 10
        path = f"/proc/{self.proc.pid}/task/{self.proc.pid}/children"
        while time.monotonic() < deadline:
            with open(path) as f:
                kids = f.read().split()
            if kids:
                try:
                    if os.readlink(f"/proc/{kids[0]}/ns/net") != mine:
                        return int(kids[0])
                except FileNotFoundError:
                    pass
            time.sleep(0.01)
        raise AssertionError("unshare did not start its child")

    def ip(self, *args):
        """`ip -j ARGS` inside, parsed."""
        out = run(["nsenter", "-t", self.pid, "-n", "ip", "-j", *args]).stdout
        return json.loads(out) if out.strip() else []

    def sh(self, *argv, check=True):
        return run(["nsenter", "-t", self.pid, "-n", *argv], check=check)

    def links(self):
        return {l["ifname"]: l for l in self.ip("-d", "link")}

    def kill(self):
        self.proc.kill()
        self.proc.wait()


class Lab:
    """A host namespace with a bridge, and containers to attach to it."""

    def __init__(self):
        self.host = Netns()
        self.containers = []
        self.bridge = "vpsbr0"

    def container(self):
        c = Netns()
        self.containers.append(c)
        return c

    def tool(self, *args, check=True):
        """nettool in the host namespace."""
        argv = ["nsenter", "-t", self.host.pid, "-n", NETTOOL, *args]
        p = run(argv, check=False)
        if check:
            assert p.returncode == 0, f"nettool {args}: {p.stderr}"
        return p

    def attach(self, c, host_if, n, mac=None):
        """A container with eth0 on the bridge and addresses ...::n."""
        self.tool("veth", c.pid, self.bridge, host_if, "eth0", mac or "-")
        self.tool("inside", c.pid, "eth0", f"192.0.2.{n}/24", GW4,
                  f"2001:db8:1::{n}/64", GW6)

    def close(self):
        for c in self.containers:
            c.kill()
        self.host.kill()


@pytest.fixture
def lab():
    if not NETTOOL.exists():
        pytest.fail(f"{NETTOOL} is not built: ninja -C $VPS_BUILD")
    if os.geteuid() != 0:
        pytest.skip("network namespaces and veths need root")
    lab = Lab()
    try:
        lab.tool("bridge", lab.bridge, BR4, BR6)
        yield lab
    finally:
        lab.close()  # namespaces die with their last process: veths too


def test_bridge_ensure_is_idempotent_and_checks_kind(lab):
    lab.tool("bridge", lab.bridge, BR4, BR6)
    br = lab.host.links()[lab.bridge]
    assert br["linkinfo"]["info_kind"] == "bridge"
    assert "UP" in br["flags"]
    addrs = {a["local"] for i in lab.host.ip("addr", "show", lab.bridge)
             for a in i["addr_info"]}
    assert {"192.0.2.1", "2001:db8:1::1"} <= addrs
    lab.host.sh("ip", "link", "add", "ve0", "type", "veth", "peer", "ve1")
    p = lab.tool("bridge", "ve0", "-", "-", check=False)
    assert p.returncode == 1
    assert "bridge `ve0`: `ve0` exists and is a veth, not a bridge" in p.stderr


def test_peer_is_eth0_with_mac_and_host_end_is_bridge_port(lab):
    c = lab.container()
    lab.tool("veth", c.pid, lab.bridge, "vps-web1", "eth0",
             "02:00:c0:00:02:0a", "1400")
    inside = c.links()
    assert set(inside) == {"lo", "eth0"}
    assert inside["eth0"]["address"] == "02:00:c0:00:02:0a"
    assert inside["eth0"]["mtu"] == 1400
    host = lab.host.links()
    assert host["vps-web1"]["master"] == lab.bridge
    assert "UP" in host["vps-web1"]["flags"]
    assert host["vps-web1"]["mtu"] == 1400
    ports = [l["ifname"] for l in lab.host.ip("link", "show", "master",
                                               lab.bridge)]
    assert ports == ["vps-web1"]


def test_inside_addresses_and_default_routes(lab):
    c = lab.container()
    lab.attach(c, "vps-web1", 10)
    addrs = {(a["family"], a["local"], a["prefixlen"])
             for i in c.ip("addr", "show", "eth0") for a in i["addr_info"]}
    assert ("inet", "192.0.2.10", 24) in addrs
    assert ("inet6", "2001:db8:1::10", 64) in addrs
    assert "UP" in c.links()["lo"]["flags"]
    r4 = [r for r in c.ip("route") if r["dst"] == "default"]
    r6 = [r for r in c.ip("-6", "route") if r["dst"] == "default"]
    assert [(r["gateway"], r["dev"]) for r in r4] == [(GW4, "eth0")]
    assert [(r["gateway"], r["dev"]) for r in r6] == [(GW6, "eth0")]
    # Again: configuration is idempotent (NLM_F_REPLACE).
    lab.tool("inside", c.pid, "eth0", "192.0.2.10/24", GW4,
             "2001:db8:1::10/64", GW6)


def test_two_containers_ping_each_other(lab):
    a, b = lab.container(), lab.container()
    lab.attach(a, "vps-a", 10)
    lab.attach(b, "vps-b", 11)
    ports = {l["ifname"] for l in lab.host.ip("link", "show", "master",
                                               lab.bridge)}
    assert ports == {"vps-a", "vps-b"}
    for src, dst in ((a, 11), (b, 10)):
        for addr in (f"192.0.2.{dst}", f"2001:db8:1::{dst}", GW4, GW6):
            p = src.sh("busybox", "ping", "-c", "2", "-W", "2", addr,
                       check=False)
            assert p.returncode == 0, f"ping {addr}:\n{p.stdout}{p.stderr}"


def test_detach_removes_both_ends(lab):
    c = lab.container()
    lab.attach(c, "vps-web1", 10)
    lab.tool("detach", "vps-web1")
    assert "vps-web1" not in lab.host.links()
    assert set(c.links()) == {"lo"}
    p = lab.tool("detach", "vps-web1", check=False)
    assert p.returncode == 1
    assert "detach `vps-web1`: RTM_GETLINK: No such device" in p.stderr


def test_detach_refuses_a_non_veth(lab):
    p = lab.tool("detach", lab.bridge, check=False)
    assert p.returncode == 1
    assert f"detach `{lab.bridge}`: not a veth (bridge)" in p.stderr
    assert lab.bridge in lab.host.links()


@pytest.mark.parametrize("case", ["no-bridge", "not-bridge", "bad-pid",
                                  "dead-pid", "host-exists", "bad-name",
                                  "multicast-mac"])
def test_attach_errors_leave_no_veth(lab, case):
    c = lab.container()
    bridge, pid, host, mac = lab.bridge, c.pid, "vps-web1", "-"
    if case == "no-bridge":
        bridge, want = "vpsnobr", "look up bridge: RTM_GETLINK: No such device"
    elif case == "not-bridge":
        lab.host.sh("ip", "link", "add", "ve0", "type", "veth", "peer", "ve1")
        bridge, want = "ve0", "`ve0` is a veth, not a bridge"
    elif case == "bad-pid":
        pid, want = 0, "bad pid 0"
    elif case == "dead-pid":
        dead = Netns()
        dead.kill()
        pid, want = dead.pid, "RTM_NEWLINK: No such process"
    elif case == "host-exists":
        lab.host.sh("ip", "link", "add", "vps-web1", "type", "bridge")
        want = "RTM_NEWLINK: File exists"
    elif case == "bad-name":
        host, want = "vps-far-too-long-name", "bad interface name"
    else:
        mac, want = "03:00:00:00:00:01", "is multicast"
    before = lab.host.links()
    p = lab.tool("veth", pid, bridge, host, "eth0", mac, check=False)
    assert p.returncode == 1, p.stderr
    assert f"attach `{host}` to bridge `{bridge}`: " in p.stderr
    assert want in p.stderr
    assert lab.host.links().keys() == before.keys()
    assert set(c.links()) == {"lo"}


@pytest.mark.parametrize("args,want", [
    (["192.0.2.10/33", GW4, "-", "-"], "bad address `192.0.2.10/33`"),
    (["192.0.2.10", GW4, "-", "-"], "bad address `192.0.2.10`"),
    (["2001:db8:1::10/64", "-", "-", "-"], "is not an IPv4 address"),
    (["192.0.2.10/24", GW6, "-", "-"], "gateway `2001:db8:1::1` is not an IPv4"),
])
def test_inside_bad_input_is_refused(lab, args, want):
    c = lab.container()
    lab.tool("veth", c.pid, lab.bridge, "vps-web1", "eth0")
    p = lab.tool("inside", c.pid, "eth0", *args, check=False)
    assert p.returncode == 1
    assert f"configure `eth0` in netns of pid {c.pid}: " in p.stderr
    assert want in p.stderr
    assert not [a for i in c.ip("addr", "show", "eth0")
                for a in i["addr_info"] if a["family"] == "inet"]


def test_inside_missing_iface_and_pid(lab):
    c = lab.container()
    p = lab.tool("inside", c.pid, "eth0", "192.0.2.10/24", "-", "-", "-",
                 check=False)
    assert p.returncode == 1
    assert "bring up `eth0`: RTM_NEWLINK: No such device" in p.stderr
    dead = Netns()
    dead.kill()
    p = lab.tool("inside", dead.pid, "eth0", "192.0.2.10/24", "-", "-", "-",
                 check=False)
    assert p.returncode == 1
    assert f"open `/proc/{dead.pid}/ns/net`: No such file" in p.stderr


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "rootfs"
    (r / "etc").mkdir(parents=True)
    return r


def test_guest_files(root):
    run([NETTOOL, "resolv", root, "192.0.2.53", "2001:db8::53"])
    assert (root / "etc/resolv.conf").read_text() == (
        "# written by vps\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n")
    run([NETTOOL, "hostname", root, "web1"])
    assert (root / "etc/hostname").read_text() == "web1\n"
    run([NETTOOL, "hosts", root, "web1", "192.0.2.10", "2001:db8:1::10"])
    hosts = (root / "etc/hosts").read_text()
    assert "127.0.0.1\tlocalhost\n" in hosts
    assert "192.0.2.10\tweb1\n2001:db8:1::10\tweb1\n" in hosts
    assert oct((root / "etc/hosts").stat().st_mode & 0o777) == "0o644"
    assert sorted(os.listdir(root / "etc")) == ["hostname", "hosts",
                                                "resolv.conf"]


def test_guest_files_stay_in_root(root, tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("precious\n")
    # A guest symlink at the file's name is replaced, not written through.
    (root / "etc/resolv.conf").symlink_to(outside)
    run([NETTOOL, "resolv", root, "192.0.2.53"])
    assert outside.read_text() == "precious\n"
    assert not (root / "etc/resolv.conf").is_symlink()
    # A guest /etc pointing out of the root resolves inside it instead.
    (root / "etc/resolv.conf").unlink()
    (root / "etc").rmdir()
    (tmp_path / "outetc").mkdir()
    (root / "etc").symlink_to(tmp_path / "outetc")
    p = run([NETTOOL, "hostname", root, "web1"], check=False)
    assert p.returncode == 1
    assert "write `/etc/hostname`: open `/etc` in the container's root: " \
        "No such file" in p.stderr
    assert os.listdir(tmp_path / "outetc") == []


@pytest.mark.parametrize("argv,want", [
    (["resolv", "192.0.2.53\nnameserver 6.6.6.6"], "bad address"),
    (["resolv", "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"],
     "4 nameservers, at most 3"),
    (["hostname", "web1\n127.0.0.1 evil"], "bad hostname"),
    (["hostname", "-web1"], "bad hostname"),
    (["hosts", "web1", "192.0.2.10/24", "-"], "bad address"),
])
def test_guest_files_bad_input(root, argv, want):
    p = run([NETTOOL, argv[0], root, *argv[1:]], check=False)
    assert p.returncode == 1
    assert want in p.stderr
    assert os.listdir(root / "etc") == []


def test_real_host_bridge(lab):
    """The bridge in this host's own namespace, as vpsd will use it: the
    host reaches the container over IPv4 and IPv6."""
    br = "vpst" + uuid.uuid4().hex[:8]
    c = lab.container()
    try:
        run([NETTOOL, "bridge", br, "192.0.2.129/25", "2001:db8:2::1/64"])
        run([NETTOOL, "veth", c.pid, br, "vpst-" + br[4:], "eth0"])
        run([NETTOOL, "inside", c.pid, "eth0", "192.0.2.130/25",
             "192.0.2.129", "2001:db8:2::2/64", "2001:db8:2::1"])
        for addr in ("192.0.2.130", "2001:db8:2::2"):
            p = run(["busybox", "ping", "-c", "2", "-W", "2", addr],
                    check=False)
            assert p.returncode == 0, f"ping {addr}:\n{p.stdout}{p.stderr}"
        run([NETTOOL, "detach", "vpst-" + br[4:]])
        assert set(c.links()) == {"lo"}
    finally:
        subprocess.run(["ip", "link", "del", "vpst-" + br[4:]],
                       capture_output=True)
        subprocess.run(["ip", "link", "del", br], capture_output=True)
