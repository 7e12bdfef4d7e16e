# SPDX-License-Identifier: GPL-2.0-or-later
"""IPv6 for a vm/vmm VPS (issue 23, docs/networks.md "VMs"), in the nested
test host L1 where KVM is real: test_vm_net.py covers the same path on the
QEMU engine on this host. A private vpsd in L1 makes a network with an IPv4
and an IPv6 pool and a debian-12 VM on vps-vmm in it; one boot:

- in the guest (serial console) the interface has the address from
  vps.ip6= and the default route through the network's gateway;
- L1 pings the VM over IPv6, and the VM opens a TCP connection over IPv6 to
  a listener in L1 on the gateway's address (bash's /dev/tcp; the template
  has no ping): what it sends arrives;
- with its own address gone and another of the same prefix put on (an
  address it was not given), the VM's connection to the same listener
  gets nowhere: the port's chain drops the forged source and counts it,
  and the listener receives nothing of it;
- stop and destroy: the tap and its chain are gone.

A boot that hangs in the emulated SVM, or a cycle during which L1 stops
answering, is retried once in all (framework/retry.py, as
test_vpsd_vm.py's vm/vmm cycle). Run as root under the L1 lock:
    flock /work/l1.lock env VPS_BUILD=$PWD/build-test \\
        /usr/bin/python3 -m pytest -q tests/integration/test_vm_net_vmm.py"""

import re
import secrets
import shlex
import shutil
import subprocess
import time

import pytest

from framework import artefacts
from framework.vpsd import VPSD
from test_vpsd_vm import L1_BASE, in_l1, l1_boot_to_login, l1_console, l1_show, l1_vps

pytestmark = [
    pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built"),
    pytest.mark.skipif(not shutil.which("qemu-system-x86_64"),
                       reason="qemu-system-x86_64 is not installed"),
]

MKVMTEMPLATE = artefacts.TOP / "src" / "host" / "templates" / "mkvmtemplate"
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
NET4, NET6 = "10.231.61.1/24", "fd77:231:61::1/64"
GW6 = "fd77:231:61::1"
FORGED6 = "fd77:231:61::99"
PORT = 7461
NAME = "w6"
LISTEN = "/tmp/vps-listen6.txt"  # L1's tmpfs: in_l1 removes L1_BASE before the end
# a listener on the gateway's IPv6 address in L1: each connection's first
# line appended to LISTEN
LISTENER = f"""
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("{GW6}", {PORT}))
s.listen(8)
while True:
    c, a = s.accept()
    c.settimeout(5)
    try:
        d = c.recv(100).decode(errors="replace")
    except OSError:
        d = ""
    with open("{LISTEN}", "a") as f:
        f.write(a[0] + " " + d)
    c.close()
"""


def shell(l1, cmd, timeout=120):
    """CMD typed at the VM's root shell (logged in already); its output."""
    tag = secrets.token_hex(4)
    r = l1_console(l1, "", f"echo B{tag}-$((6*7)); {cmd}; echo E{tag}-$((6*7))",
                   f"E{tag}-42", timeout=timeout, name=NAME)
    assert r.ok, r
    out = r.stdout
    return out[out.index(f"B{tag}-42") + len(tag) + 4:out.rindex(f"E{tag}-42")]


def counters(l1, dev):
    r = l1.run(f"nft list chain bridge vps_filter port_{dev}", timeout=60, check=True)
    return {m.group(1).strip(): int(m.group(2))
            for m in re.finditer(r"^\s*(.*?) counter packets (\d+)", r.stdout, re.M)}


def heard(l1):
    return l1.run(f"cat {LISTEN} 2>/dev/null; true", timeout=30).stdout


def cycle(l1, timings):
    l1_vps(l1, "net", "create", "v6", "--ipv4", NET4, "--ipv6", NET6, "--no-nat")
    t0 = time.monotonic()
    l1_vps(l1, "create", NAME, "--kind", "vm", "--engine", "vmm", "--template", "debian-12",
           "--ram", "512M", "--cpus", "1", "--disk", "512M", "--password", "pw",
           "--network", "v6")
    v = l1_show(l1, NAME)
    addr6, mac = v["ipv6"], v["mac"]
    assert addr6 == "fd77:231:61::2", v
    l1_vps(l1, "start", NAME)
    l1_boot_to_login(l1, "first boot", timings, name=NAME)
    timings.append(("vm/vmm on an IPv6 network in L1: create to root shell",
                    time.monotonic() - t0))
    r = l1.run(f"cat {L1_BASE}/data/vps/{NAME}/vm.json", timeout=30, check=True)
    dev = re.search(r'"tap":\s*"(vps\d+)"', r.stdout).group(1)
    r = l1.run(f"basename $(readlink /sys/class/net/{dev}/master); "
               f"nft list map bridge vps_filter ports", timeout=30, check=True)
    assert r.stdout.startswith("vbr-v6\n") and f'"{dev}" : jump port_{dev}' in r.stdout, r

    # in the guest: the address from vps.ip6= and the route through the gateway
    out = shell(l1, "ip -o link show; ip -o -6 addr show scope global; "
                    "ip -6 route show default")
    assert f"link/ether {mac}" in out, out
    assert f"inet6 {addr6}/64" in out and f"default via {GW6}" in out, out

    # L1 -> VM over IPv6 (after the guest's duplicate address detection)
    t1 = time.monotonic()
    while True:
        r = l1.run(f"{BUSYBOX} ping -6 -c 1 -W 2 {addr6}", timeout=30)
        if r.ok or time.monotonic() - t1 > 60:
            break
    assert r.ok, r
    r = l1.run(f"{BUSYBOX} ping -6 -c 3 -W 5 {addr6}", timeout=60)
    assert r.ok and " 0% packet loss" in r.stdout, r
    timings.append(("L1 pings a vm/vmm over IPv6 (first answer)", time.monotonic() - t1))
    assert sum(counters(l1, dev).values()) == 0, counters(l1, dev)

    # VM -> L1 over IPv6 TCP: it arrives, from the VM's address
    r = l1.run(f"rm -f {LISTEN}; setsid python3 -c {shlex.quote(LISTENER)} "
               f">/tmp/vps-listener6.log 2>&1 </dev/null & echo $! >/tmp/vps-listener6.pid; "
               f"for i in $(seq 100); do ss -ltn | grep -q '{PORT}' && break; sleep 0.1; done; "
               f"ss -ltn | grep '{PORT}'", timeout=60)
    assert r.ok, r
    out = shell(l1, f"echo hello6 >/dev/tcp/{GW6}/{PORT}; echo RC-$?")
    assert "RC-0" in out, out
    t1 = time.monotonic()
    while "hello6" not in heard(l1) and time.monotonic() - t1 < 10:
        time.sleep(0.2)
    assert heard(l1) == f"{addr6} hello6\n", heard(l1)

    # a forged source: its own address gone, another of the prefix on
    before = counters(l1, dev)
    out = shell(l1, "d=$(ls /sys/class/net | grep -v lo | head -n1); "
                    "ip -6 addr flush dev $d scope global; "
                    f"ip -6 addr add {FORGED6}/64 dev $d nodad; "
                    f"timeout 6 bash -c 'echo forged6 >/dev/tcp/{GW6}/{PORT}'; echo RC-$?; "
                    "ip -o -6 addr show scope global", timeout=60)
    assert f"inet6 {FORGED6}/64" in out and f"inet6 {addr6}/" not in out, out
    assert "RC-0" not in out, out  # no answer: the SYNs (or its neighbour solicitations) dropped
    after = counters(l1, dev)
    spoofed6 = [k for k in after if k.startswith("ip6 saddr != ")]
    assert spoofed6 and sum(after[k] - before.get(k, 0) for k in spoofed6) > 0, (before, after)
    time.sleep(1)
    assert "forged6" not in heard(l1) and FORGED6 not in heard(l1), heard(l1)

    l1_vps(l1, "stop", "--force", NAME, timeout=300)
    r = l1.run(f"test -e /sys/class/net/{dev} && echo tap-left; "
               f"nft list table bridge vps_filter | grep -c 'port_{dev}' || true", timeout=30)
    assert "tap-left" not in r.stdout and r.stdout.strip() == "0", r
    l1_vps(l1, "destroy", NAME)
    l1_vps(l1, "net", "delete", "v6")


def test_vm_vmm_ipv6_in_l1(l1, guest_kernel, timings):
    r = subprocess.run([str(MKVMTEMPLATE), "debian-12"], capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stderr
    # L1's root is this host's, without /lib/modules: nftables' modules from
    # the stock kernel's own tree (test_net_vlan.py does the same)
    r = l1.run(f"modprobe -d {guest_kernel.dir} -a nf_tables nft_chain_nat nft_masq "
               "nft_meta_bridge nft_objref 2>&1; sysctl -qw net.ipv6.conf.all.disable_ipv6=0; "
               "nft list tables >/dev/null && echo has-nft", timeout=60)
    assert "has-nft" in r.stdout, f"L1's kernel is meant to have nftables: {r}"
    try:
        in_l1(l1, "vm/vmm IPv6 in L1", lambda: cycle(l1, timings), NAME)
    finally:
        if l1.healthy:
            l1.run("kill $(cat /tmp/vps-listener6.pid 2>/dev/null) 2>/dev/null; "
                   "ip link del vbr-v6 2>/dev/null; true", timeout=60)
