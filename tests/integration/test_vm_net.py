# SPDX-License-Identifier: GPL-2.0-or-later
"""A VM on a network (docs/networks.md, "VMs"): one vm/qemu VPS (debian-12,
QEMU's software CPU here) on a network the test makes, through a private
vpsd. One boot:

- at create: the stored MAC and addresses (IPv4 and IPv6) in vm.json's
  `net` and `cmdline`
  (what vps-vmm would get too), the host's nameservers in the VM's
  cloud-init seed (user-data's write_files, read with xorriso), which
  cloud-init writes to /etc/resolv.conf in the guest;
- started: the persistent tap vps<id> is a port of the network's bridge,
  its anti-spoofing chain is in the `ports` map, QEMU's virtio-net has the
  stored MAC; in the guest (serial console) the interface has that MAC and
  the address from the command line;
- the host pings the VM, over IPv4 and IPv6; the VM reaches the gateway (TCP through bash's
  /dev/tcp to a listener on the gateway address: the template has no ping);
- a live bandwidth limit puts tbf on the tap; a forged source address in
  the guest is dropped and counted, an IPv6 one too;
- stop: tap, chain and ifb gone; destroy and the network's delete leave
  nothing.

Run as root:
    VPS_BUILD=/work/main/build-test /usr/bin/python3 -m pytest -q test_vm_net.py"""

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid

import pytest

from framework import artefacts
from framework.console import Console
from framework.vpsd import VPSD, Vpsd

pytestmark = [
    pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (bridges, taps, nftables)"),
    pytest.mark.skipif(not shutil.which("nft", path="/usr/sbin:/sbin"),
                       reason="nft is not installed (Debian package nftables)"),
    pytest.mark.skipif(not shutil.which("qemu-system-x86_64"),
                       reason="qemu-system-x86_64 is not installed"),
]

NFT = shutil.which("nft", path="/usr/sbin:/sbin")
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
MKVMTEMPLATE = artefacts.TOP / "src" / "host" / "templates" / "mkvmtemplate"
NET4, GW4 = "10.231.9.1/24", "10.231.9.1"
NET6, GW6 = "fd77:231:9::1/64", "fd77:231:9::1"
LOGIN_TIMEOUT = 300  # software CPU: 30 to 60 s, more under load


def sh(*args, check=True):
    return subprocess.run(args, capture_output=True, text=True, check=check).stdout


def link_exists(name):
    return os.path.exists(f"/sys/class/net/{name}")


def nft_text(*what):
    r = subprocess.run([NFT, "list", *what], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else ""


def counters(dev):
    out = nft_text("chain", "bridge", "vps_filter", f"port_{dev}")
    return {m.group(1).strip(): int(m.group(2))
            for m in re.finditer(r"^\s*(.*?) counter packets (\d+)", out, re.M)}


def host_nameservers():
    out = []
    for line in open("/etc/resolv.conf"):
        w = line.split()
        if len(w) >= 2 and w[0] == "nameserver" and not w[1].startswith("127.") \
                and w[1] != "::1" and len(out) < 3:
            out.append(w[1])
    return out


def qemu_cmdline(vdir):
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                cmd = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if cmd[0].endswith(b"qemu-system-x86_64") and str(vdir).encode() in b" ".join(cmd):
                return [c.decode() for c in cmd]
    return None


@pytest.fixture
def vpsd():
    d = Vpsd().start()
    yield d
    d.cleanup()


@pytest.fixture
def net(vpsd):
    name = "t" + uuid.uuid4().hex[:6]
    n = vpsd.api("POST", "/networks", {"name": name, "ipv4": NET4, "ipv6": NET6, "nat": False},
                 expect=201)
    yield n
    for v in vpsd.api("GET", "/vps"):
        vpsd.request("DELETE", f"/api/v1/vps/{v['name']}")
    vpsd.request("DELETE", f"/api/v1/networks/{name}")
    assert not link_exists(n["bridge"])
    assert "port_vps" not in nft_text("table", "bridge", "vps_filter")


def test_vm_qemu_on_network(vpsd, net, timings):
    r = subprocess.run([str(MKVMTEMPLATE), "debian-12"], capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stderr
    d, bridge = vpsd, net["bridge"]
    t0 = time.monotonic()
    v = d.api("POST", "/vps", {"name": "n1", "kind": "vm", "engine": "qemu",
                               "template": "debian-12", "ram": "512M", "cpus": 1,
                               "disk": "3G", "root_password": "pw", "network": net["name"]},
              expect=201)
    v = d.api("GET", "/vps/n1")
    timings.append(("vm/qemu create on a network", time.monotonic() - t0))
    mac, addr, addr6 = v["mac"], v["ipv4"], v["ipv6"]
    assert re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", mac), v
    assert addr == "10.231.9.2", v
    vdir = d.data / "vps" / "n1"
    cfg = json.loads((vdir / "vm.json").read_text())
    dev = cfg["net"][0]["tap"]
    assert re.fullmatch(r"vps\d+", dev) and cfg["net"][0]["mac"] == mac, cfg
    assert addr6 == "fd77:231:9::2", v
    assert cfg["cmdline"].endswith(f" vps.ip={addr}/24,{GW4} vps.ip6={addr6}/64,{GW6}"), cfg
    ns = host_nameservers()
    if ns:
        ud = vdir / "user-data"
        sh("xorriso", "-osirrox", "on", "-indev", str(vdir / "seed.iso"), "-extract",
           "/user-data", str(ud))
        cfg = json.loads(ud.read_text().split("\n", 1)[1])
        ud.unlink()
        out = {f["path"]: f["content"] for f in cfg["write_files"]}["/etc/resolv.conf"]
        assert all(f"nameserver {a}" in out for a in ns), out
    assert not link_exists(dev)

    t0 = time.monotonic()
    st, j = d.request("POST", "/api/v1/vps/n1/start")
    assert st < 300, (st, j)
    # the tap: persistent, a port of the bridge, up; its chain in the map
    assert os.path.exists(f"/sys/class/net/{dev}/tun_flags")
    assert os.path.basename(os.readlink(f"/sys/class/net/{dev}/master")) == bridge
    assert f'"{dev}" : jump port_{dev}' in nft_text("map", "bridge", "vps_filter", "ports")
    cmd = qemu_cmdline(vdir)
    assert cmd, "no QEMU"
    assert f"tap,id=n0,ifname={dev},script=no,downscript=no,vhost=off" in cmd, cmd
    assert f"virtio-net-pci,netdev=n0,mac={mac}" in cmd, cmd
    assert any(c.endswith(f"vps.ip={addr}/24,{GW4} vps.ip6={addr6}/64,{GW6}") for c in cmd), cmd

    path = d.api("GET", "/vps/n1/console")["path"]
    with Console(path) as c:
        c.login("pw", LOGIN_TIMEOUT)
        timings.append(("vm/qemu on a network: start to root shell (TCG)",
                        time.monotonic() - t0))
        c.run("ip -o link show; ip -o -4 addr show; echo END-$((6*7))", "END-42")
        out = c.tail()
        assert f"link/ether {mac}" in out, out
        assert f"inet {addr}/24" in out, out
        c.run("ip -o -6 addr show; ip -6 route show default; echo END-$((6*7))", "END-42")
        out = c.tail()
        assert f"inet6 {addr6}/64" in out and f"default via {GW6}" in out, out

        # host -> VM
        t1 = time.monotonic()
        r = None
        while time.monotonic() - t1 < 60:
            r = subprocess.run([BUSYBOX, "ping", "-c", "1", "-W", "2", addr], capture_output=True,
                               text=True)
            if r.returncode == 0:
                break
        assert r.returncode == 0, r.stdout + r.stderr
        r = subprocess.run([BUSYBOX, "ping", "-c", "3", "-W", "5", addr],
                           capture_output=True, text=True)
        assert r.returncode == 0 and " 0% packet loss" in r.stdout, r.stdout
        timings.append(("host pings the VM (first answer)", time.monotonic() - t1))
        # and over IPv6 (its address from vps.ip6=, after duplicate address detection)
        t1 = time.monotonic()
        while time.monotonic() - t1 < 60:
            r = subprocess.run([BUSYBOX, "ping", "-6", "-c", "1", "-W", "2", addr6],
                               capture_output=True, text=True)
            if r.returncode == 0:
                break
        assert r.returncode == 0, r.stdout + r.stderr
        assert sum(counters(dev).values()) == 0, counters(dev)

        # VM -> gateway (no ping in the template: TCP through bash's /dev/tcp)
        with_listener = listener_start()
        port, got = with_listener[0], with_listener[1]
        try:
            c.run(f"echo hello-$((6*7)) >/dev/tcp/{GW4}/{port}; echo RC-$?-END$((6*7))",
                  "-END42")
            assert "RC-0-END42" in c.tail(), c.tail()
            t1 = time.monotonic()
            while "hello-42\n" not in got and time.monotonic() - t1 < 10:
                time.sleep(0.1)
            assert "hello-42\n" in got, got
            c.run("ip neigh show; echo END-$((6*7))", "END-42")
            assert re.search(rf"{re.escape(GW4)} dev \S+ lladdr", c.tail()), c.tail()
            if ns:
                c.run("cat /etc/resolv.conf; echo END-$((6*7))", "END-42")
                assert f"nameserver {ns[0]}" in c.tail(), c.tail()

            # bandwidth: live, on the tap
            r = d.api("PATCH", "/vps/n1", {"bw": 50_000_000})
            assert r["live"] is True, r
            assert "tbf" in sh("tc", "qdisc", "show", "dev", dev)
            assert link_exists(f"ifb{dev}")

            # a forged source address: dropped and counted
            before = counters(dev)
            mark = len(c.text)
            c.run("ip addr flush dev $(ls /sys/class/net | grep -v lo | head -n1); "
                  "ip addr add 10.231.9.99/24 dev $(ls /sys/class/net | grep -v lo | head -n1); "
                  f"timeout 4 bash -c 'echo forged >/dev/tcp/{GW4}/{port}'; "
                  "echo RC-$?-END$((6*7))", "-END42", timeout=30)
            # its ARP or its SYNs dropped: no route to host, or a timeout
            assert "RC-0-END42" not in c.text[mark:].decode(errors="replace"), c.tail()
            after = counters(dev)
            spoofed = [k for k in after if "10.231.9.2" in k]
            assert sum(after[k] - before.get(k, 0) for k in spoofed) > 0, (before, after)
            assert "forged\n" not in got, got

            # a forged IPv6 source: dropped by the same chain as a container's
            before = counters(dev)
            mark = len(c.text)
            c.run("ip -6 addr add fd77:231:9::99/64 dev $(ls /sys/class/net | grep -v lo | "
                  "head -n1) nodad; "
                  f"timeout 4 bash -c 'echo forged6 >/dev/tcp/{GW6}/22'; "
                  "echo RC-$?-END$((6*7))", "-END42", timeout=30)
            after = counters(dev)
            spoofed6 = [k for k in after if k.startswith("ip6 saddr != ")]
            assert sum(after[k] - before.get(k, 0) for k in spoofed6) > 0, (before, after)
        finally:
            listener_stop(with_listener)

    st, j = d.request("POST", "/api/v1/vps/n1/stop", {"force": True})
    assert st < 300, (st, j)
    assert d.api("GET", "/vps/n1")["state"] == "stopped"
    assert not link_exists(dev) and not link_exists(f"ifb{dev}")
    assert f"port_{dev}" not in nft_text("table", "bridge", "vps_filter")
    st, j = d.request("DELETE", "/api/v1/vps/n1")
    assert st < 300, (st, j)
    assert not vdir.exists()


def listener_start():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((GW4, 0))
    s.listen(8)
    got = []

    def serve():
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            c.settimeout(5)
            try:
                got.append(c.recv(100).decode(errors="replace"))
            except OSError:
                pass
            c.close()

    threading.Thread(target=serve, daemon=True).start()
    return s.getsockname()[1], got, s


def listener_stop(lst):
    s = lst[2]
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()
