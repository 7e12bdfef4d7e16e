# SPDX-License-Identifier: GPL-2.0-or-later
"""The live move of a vm/vmm VPS with a stock Linux guest between two vpsd
nodes, inside the nested test host L1 (issue 19, docs/cluster.md "In the
nested test host"). This machine's /dev/kvm is PVM, which runs no stock
kernel; L1 (framework/l1.py, docs/testbench.md) has KVM on QEMU's emulated
SVM, so the whole cluster runs there: a private PostgreSQL initdb'd in L1's
memory (as framework/pg.py does on the host: the unprivileged user, a unix
socket in its data directory only), vpsd nodes a and b on it with --peer
listeners on L1's loopback (b joined with a's token), the debian-12 VM
template (built on the host before L1 boots, found by both through L1's
view of the host).

The guest boots on a to a root shell on its serial console, starts a
counter (a shell loop writing to /run), and a is told `vps migrate w1 --to
b`. Then, through b's console (the same logged-in shell: not a boot): the
same boot id, a larger uptime, the counter gone on counting; b's vpsd says
it runs it, a's runs nothing of it (no run directory, no monitor), the
PostgreSQL row names b. The pause the move reports (downtime_us) is printed.

Run as root, under the L1 lock:
    flock /work/l1.lock /usr/bin/python3 -m pytest -q -p no:cacheprovider \\
        test_cluster_migrate_l1.py"""

import json
import re
import shlex
import time

import pytest

from framework.agent import ChannelError
from framework.l1 import L1
from framework.pg import bindir
from framework.retry import ATTEMPTS, LAST, retry
from framework.vpsd import VPSD
from test_vpsd_vm import CONSOLE_PY, VPS, vm_template_cached  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built"),
              pytest.mark.skipif(bindir() is None, reason="no PostgreSQL server binaries "
                                 "(/usr/lib/postgresql/*/bin): apt-get install postgresql-15")]

BASE = "/var/tmp/vps-l1mig"  # in L1's memory
PG = f"{BASE}/pg"
DB = f"host={PG}/data user=vps dbname=vps"
NODES = {"a": (17011, 17021), "b": (17012, 17022)}  # name: (--tcp port, --peer port)
LOGIN_TIMEOUT = 420
MOVE_TIMEOUT = 900  # 384 MiB of RAM and the disk through TCG's emulated SVM


@pytest.fixture(scope="module")
def l1m(qemu_bin, guest_kernel, l1_initramfs, tmp_path_factory):
    """An L1 of its own with room for two copies of the guest (its RAM and
    its disk, both in L1's memory while it moves)."""
    host = L1(guest_kernel, l1_initramfs, mem_mib=3072, workdir=tmp_path_factory.mktemp("l1m"))
    try:
        host.start()
        yield host
    finally:
        host.stop()


def sh(l1, cmd, timeout=120, check=True):
    r = l1.run(cmd, timeout=timeout)
    if check:
        assert r.ok, r
    return r


def vps(l1, node, *args, timeout=600, check=True):
    return sh(l1, f"VPS_SOCKET={BASE}/{node}/run/vpsd.sock {shlex.join([str(VPS), *args])}",
              timeout=timeout, check=check)


def show(l1, node, name):
    return json.loads(vps(l1, node, "show", name, "--format", "json").stdout)


def console(l1, node, *steps, timeout=LOGIN_TIMEOUT):
    sock = f"{BASE}/{node}/run/vps/w1/console.sock"
    return l1.run(shlex.join(["python3", str(CONSOLE_PY), sock, str(timeout), *steps]),
                  timeout=timeout + 30)


def start_node(l1, name, *extra):
    tcp, peer = NODES[name]
    d = f"{BASE}/{name}"
    sh(l1, f"mkdir -p {d}; setsid {VPSD} --data {d}/data --run {d}/run "
           f"--tcp 127.0.0.1:{tcp} --cluster {shlex.quote(DB)} --node {name} "
           f"--peer 127.0.0.1:{peer} {' '.join(extra)} >{d}/vpsd.log 2>&1 </dev/null & "
           f"for i in $(seq 300); do test -S {d}/run/vpsd.sock && break; sleep 0.1; done; "
           f"test -S {d}/run/vpsd.sock || {{ cat {d}/vpsd.log; exit 1; }}", timeout=90)


def logs(l1):
    if not l1.healthy:
        return "(L1 gone)"
    return sh(l1, f"for n in a b; do echo \"=== vpsd $n\"; tail -60 {BASE}/$n/vpsd.log; "
                  f"for f in {BASE}/$n/run/vps/*/monitor.log; do echo \"--- $f\"; "
                  f"tail -15 $f; done; done; echo '=== pg'; tail -20 {PG}/pg.log",
              timeout=60, check=False).stdout


def cluster_in_l1(l1):
    """PostgreSQL, then node a, then b joined with a's token."""
    pgbin = bindir()
    # L1's init brings no interface up, loopback included: a listener binds
    # 127.0.0.1 there all the same, but a connect to it is ENETUNREACH (the
    # node-to-node move failed so before this): a host has its loopback up
    lo = sh(l1, "ip -o addr show dev lo", check=False).stdout.strip()
    print(f"L1's loopback before: {lo or '(no address: down)'}")
    sh(l1, "ip link set lo up")
    run_pg = f"runuser -u nobody -- env LC_ALL=C.UTF-8 {pgbin}"
    sh(l1, f"rm -rf {BASE}; mkdir -p {PG}; chmod 711 {BASE}; chown nobody {PG}; "
           f"{run_pg}/initdb -D {PG}/data -U vps --auth=trust --encoding=UTF8 --no-sync "
           f">{PG}/initdb.log 2>&1 || {{ cat {PG}/initdb.log; exit 1; }}; "
           f"{run_pg}/pg_ctl -D {PG}/data -l {PG}/pg.log -w -t 60 "
           f"-o '-k {PG}/data -c listen_addresses= -c fsync=off -c max_connections=40' start "
           f"|| {{ cat {PG}/pg.log; exit 1; }}; "
           f"{pgbin}/psql -X -d 'host={PG}/data user=vps dbname=postgres' "
           f"-c 'CREATE DATABASE vps'", timeout=180)
    start_node(l1, "a")
    token = json.loads(vps(l1, "a", "node", "add", "b", "--format", "json").stdout)["token"]
    start_node(l1, "b", "--join", token)
    # what each listens on, as L1 sees it (the diagnosis of a connect that failed)
    print(sh(l1, "ip -o addr show dev lo; ss -ltn", check=False).stdout)
    said = sh(l1, f"grep -h 'node to node\\|store:' {BASE}/a/vpsd.log {BASE}/b/vpsd.log",
              check=False).stdout
    print(said)
    for n, (_, peer) in NODES.items():  # each says its node listener started
        assert f"node to node: listening on 127.0.0.1:{peer} " in said, said


def row(l1):
    return sh(l1, f"{bindir()}/psql -X -A -t -d {shlex.quote(DB)} "
                  f"-c \"SELECT node || ':' || state FROM vps WHERE name = 'w1'\"").stdout.strip()


LOGIN = ("login: ", "root", "Password: ", "pw", "# ")


def boot_to_shell(l1):
    """w1's console on a until a root shell; a boot the emulated SVM lost
    (no prompt, the monitor running) is stopped and started once more."""
    for attempt in ATTEMPTS:
        r = console(l1, "a", *LOGIN, "echo UP-$((6*7))", "UP-42")
        if r.ok:
            return
        v = show(l1, "a", "w1")
        if v["state"] != "running" or attempt == LAST:
            raise AssertionError(f"no login ({v}): {r}")
        retry("vm/vmm boot in L1 for the move", f"no login prompt: {r.stderr.strip()[-200:]}")
        vps(l1, "a", "stop", "--force", "w1")
        vps(l1, "a", "start", "w1")


def guest_state(l1, node, tag):
    """(boot id, counter, uptime s) read through NODE's console of w1."""
    k = int(time.monotonic() * 1000) % 100000
    r = console(l1, node, "", f"echo $(cat /proc/sys/kernel/random/boot_id) $(cat /run/ctr) "
                              f"$(cut -d' ' -f1 /proc/uptime) Z{tag}$(({k}+1))",
                f"Z{tag}{k + 1}", timeout=120)
    assert r.ok, r
    m = re.findall(rf"([0-9a-f-]{{36}}) (\d+) ([\d.]+) Z{tag}{k + 1}", r.stdout)
    assert m, r.stdout[-2000:]
    boot, ctr, up = m[-1]
    return boot, int(ctr), float(up)


def test_stock_linux_vm_moves_between_nodes_in_l1(l1m, vm_template_cached):  # noqa: F811
    """a boots w1, moves it live to b: the same guest runs on there."""
    l1 = l1m
    r = sh(l1, "test -c /dev/kvm && echo kvm", check=False)
    if "kvm" not in r.stdout:
        pytest.skip(f"L1 has no /dev/kvm (kvm-amd on the emulated SVM did not load): {r}")
    # L1 no longer answering (the emulated SVM) is run again once in a fresh L1
    for attempt in ATTEMPTS:
        try:
            move_in_l1(l1)
            break
        except ChannelError as e:
            if attempt == LAST:
                raise
            retry("the live move in L1", f"L1 stopped answering: {str(e).splitlines()[0]}")
            l1.restart()


def move_in_l1(l1):
    try:
        cluster_in_l1(l1)
        vps(l1, "a", "create", "w1", "--kind", "vm", "--engine", "vmm", "--template",
            "debian-12", "--ram", "384M", "--cpus", "1", "--disk", "512M", "--password", "pw",
            "--node", "a")
        vps(l1, "a", "start", "w1")
        boot_to_shell(l1)
        r = console(l1, "a", "", "nohup sh -c 'i=0; while :; do i=$((i+1)); echo $i >/run/ctr; "
                                 "sleep 0.2; done' >/dev/null 2>&1 & echo CTR-$((5*5))", "CTR-25",
                    timeout=60)
        assert r.ok, r
        time.sleep(2)
        boot0, ctr0, up0 = guest_state(l1, "a", "A")
        assert ctr0 > 0
        assert row(l1) == "a:running"
        pid_a = int(sh(l1, f"cat {BASE}/a/run/vps/w1/monitor.pid").stdout)
        t0 = time.monotonic()
        r = vps(l1, "a", "migrate", "w1", "--to", "b", "--format", "json",
                timeout=MOVE_TIMEOUT, check=False)
        took = time.monotonic() - t0
        assert r.ok, f"{r}\n{logs(l1)}"
        m = json.loads(r.stdout)
        print(f"w1 a->b in L1: {json.dumps(m)}; {took:.1f} s by the clock")
        assert m["to"] == "b" and m["live"] is True, m
        if "downtime_us" in m:
            print(f"w1 (debian-12, 384 MiB) paused {m['downtime_us'] / 1000:.1f} ms")
        # the same guest, on b: its boot id, uptime and counter carried on
        boot1, ctr1, up1 = guest_state(l1, "b", "B")
        assert boot1 == boot0, (boot0, boot1)
        assert up1 > up0 and ctr1 > ctr0, ((up0, ctr0), (up1, ctr1))
        time.sleep(1)
        _, ctr2, _ = guest_state(l1, "b", "C")
        assert ctr2 > ctr1, (ctr1, ctr2)  # it runs on there
        v = show(l1, "b", "w1")
        assert v["node"] == "b" and v["state"] == "running", v
        assert v["monitor"]["state"] == "running", v
        assert row(l1) == "b:running"
        # a holds nothing of it: no run or data directory, no monitor of it
        r = sh(l1, f"ls -A {BASE}/a/run/vps {BASE}/a/data/vps; "
                   f"test -d /proc/{pid_a} && echo a-monitor-alive; true")
        assert "w1" not in r.stdout and "alive" not in r.stdout, r
        pid_b = int(sh(l1, f"cat {BASE}/b/run/vps/w1/monitor.pid").stdout)
        assert pid_b != pid_a
        print(f"guest: boot id {boot0} kept, uptime {up0:.1f} -> {up1:.1f} s, "
              f"counter {ctr0} -> {ctr1} -> {ctr2}")
    except BaseException:
        print(logs(l1))
        if l1.healthy:
            print(sh(l1, "dmesg | tail -30; free -m", check=False).stdout)
        raise
    finally:
        if l1.healthy:
            for n in ("b", "a"):
                vps(l1, n, "stop", "--force", "w1", check=False)
                vps(l1, n, "destroy", "w1", check=False)
            sh(l1, f"kill $(pgrep -f '^{VPSD} --data {BASE}/') 2>/dev/null; sleep 1; "
                   f"runuser -u nobody -- {bindir()}/pg_ctl -D {PG}/data -m immediate stop; "
                   f"rm -rf {BASE}", timeout=120, check=False)
