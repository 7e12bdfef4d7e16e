# SPDX-License-Identifier: GPL-2.0-or-later
"""Live migration of a running VM on vps-vmm between two vpsd nodes (issue
19, docs/cluster.md "A running VM on vps-vmm"): two vpsds (a, b) with
--peer on one private PostgreSQL, as test_cluster_migrate. /dev/kvm here is
PVM, where vps-vmm runs micro-guests and no stock Linux: vpsd boots the
micro-guest count64 (VPS_VMM_MICRO, test-only) in place of the template's
kernel; the template is a raw disk imported with a stand-in
VPS_MKVMTEMPLATE (its kernel is never booted). count64 prints "tick N" on
its console and writes N to its disk every ~20 ms, and dirties 2 MiB of
pages between ticks, checking them (a page lost or stale in a move ends it
with status 8).

- the move a to b: an operation whose figure only grows to 100, the VM
  running on b with its counter going on from where it was on a (not a
  boot), a holding nothing, the row b's, the downtime reported;
- kill -9 of a's vpsd with the stream set up, and of b's vpsd while it
  takes the stream: the VM runs on at a, nowhere else, its disk requests
  served again, the row a's;
- a forged stream (a member's real certificate) for a VPS that is not
  being moved, and for one whose copy did not come first: refused, nothing
  started; a customer cannot start a migration.

Run as root: /usr/bin/python3 -m pytest -q -p no:cacheprovider test_cluster_migrate_vmm.py"""

import json
import os
import re
import socket
import ssl
import subprocess
import time

import pytest

from framework.ct import BUILD
from framework.openapi import tcp, unix
from framework.pg import why_not
from framework.vmm import MICRO, VMM, needs_kvm
from framework.vpsd import VPSD
from test_cluster_forward import (ROOT, database, peer_request, postgres,  # noqa: F401
                                  running_on, two_nodes)

pytestmark = [pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built"),
              pytest.mark.skipif(not VMM.exists(), reason=f"{VMM} not built"),
              needs_kvm,
              pytest.mark.skipif(why_not() is not None, reason=str(why_not()))]

DISK_MIB = 16

FAKE_MKVMTEMPLATE = """#!/bin/sh
# a stand-in for mkvmtemplate: the micro-guest boots instead of its kernel
d={dir}
mkdir -p $d
[ -f $d/rootfs.img ] || truncate -s {mib}M $d/rootfs.img
echo micro > $d/vmlinuz; echo micro > $d/initrd.img; echo 1 > $d/version
echo $d
"""


@pytest.fixture
def vnodes(database, tmp_path, monkeypatch):  # noqa: F811
    fake = tmp_path / "mkvmtemplate"
    fake.write_text(FAKE_MKVMTEMPLATE.format(dir=tmp_path / "vmt", mib=DISK_MIB))
    fake.chmod(0o755)
    monkeypatch.setenv("VPS_MKVMTEMPLATE", str(fake))
    monkeypatch.setenv("VPS_VMM_MICRO", str(MICRO / "count64.bin"))
    yield from two_nodes(database)


def row(postgres, database, name):  # noqa: F811
    db = database.rsplit("dbname=", 1)[1]
    return postgres.psql(f"SELECT node || ':' || state FROM vps WHERE name = '{name}'", db)


def make_vm(a, name, tmp_path, **kw):
    """A template `micro` (a raw disk of DISK_MIB) on a, and VM `name` of it, started."""
    r = a.request("GET", "/templates/micro")
    if r.status != 200:
        img = tmp_path / "micro.raw"
        img.write_bytes(b"\0" * (DISK_MIB << 20))
        a.api("PUT", "/templates/micro?kind=vm&format=raw", img.read_bytes(), expect=201,
              headers={"Content-Type": "application/octet-stream"})
    a.api("POST", "/vps", {"name": name, "kind": "vm", "engine": "vmm", "node": "a",
                           "template": "micro", "ram": "128M", "disk": f"{DISK_MIB}M",
                           "cpus": 1, **kw}, expect=201)
    a.api("POST", f"/vps/{name}/start")


def last_tick(client, name, wait=1.0):
    """The newest whole `tick N` on VM name's console (connected afresh), read for `wait` s,
    or until the first comes (a guest just started on a loaded machine: up to 30 s)."""
    path = client.api("GET", f"/vps/{name}/console")["path"]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(0.2)
    text, t0 = b"", time.monotonic()
    try:
        while time.monotonic() - t0 < wait or (not re.search(rb"tick \d+\n", text) and
                                               time.monotonic() - t0 < 30):
            try:
                d = s.recv(65536)
            except socket.timeout:
                continue
            if not d:
                break
            text += d
    finally:
        s.close()
    ticks = [int(x) for x in re.findall(rb"tick (\d+)\n", text)]
    assert ticks, text[-500:]
    return ticks[-1]


def running_where(client, name):
    v = client.api("GET", f"/vps/{name}")
    return v["node"], v.get("monitor", {}).get("state")


def test_running_vmm_vm_moves_live(postgres, database, vnodes, tmp_path):  # noqa: F811
    """a to b as an operation: the figure only grows and ends at 100; the VM
    runs on b and counts on from where it was on a; a keeps nothing; the row
    is b's, running; the downtime is the monitor's pause, reported."""
    node_a, node_b = vnodes
    a, b = unix(node_a), unix(node_b)
    make_vm(a, "lv1", tmp_path)
    last_tick(a, "lv1")
    n_, t_ = last_tick(a, "lv1", 2.0), time.monotonic()
    n0, t0 = last_tick(a, "lv1"), time.monotonic()
    assert n0 > n_  # it counts
    rate = (n0 - n_) / (t0 - t_)  # ticks per second, each a disk write and read
    r = a.request("POST", "/vps/lv1/migrate?async=1", {"to": "b"})
    assert r.status == 202, r
    op = r.json["operation"]["id"]
    seen, phases, when = [], set(), []
    for _ in range(6000):
        o = a.api("GET", f"/operations/{op}")
        if o.get("progress") is not None:
            seen.append(o["progress"])
        if o.get("phase") not in phases:
            when.append(f"{o.get('phase')} {time.monotonic() - t0:.2f}")
        phases.add(o.get("phase"))
        if o["state"] != "running":
            break
        time.sleep(0.02)
    if o["state"] != "done":
        print(json.dumps(o, indent=1), "\n=== b\n", node_b.log.read_text()[-6000:],
              "\n=== a\n", node_a.log.read_text()[-6000:])
        for d in (node_a, node_b):
            for m in d.run.glob("vps/lv1/monitor.log"):
                print(f"=== {m}\n", m.read_text()[-3000:])
    assert o["state"] == "done", o
    # the figure only grows, through the disks' copy (to 40) and the memory (to 99)
    assert seen == sorted(seen) and seen[-1] > 40 and "memory" in phases, (seen, phases)
    res = o["result"]
    assert res["to"] == "b" and res["live"] is True and res["state_kept"] is True, res
    assert 0 < res["downtime_us"] < 5000000 and res["memory_bytes"] > 0, res
    # the disks went while it ran: then rounds of the blocks written since, the last held
    assert 1 <= len(res["disk_rounds"]) <= 5, res
    assert all(isinstance(n, int) and n >= 0 for n in res["disk_rounds"]), res
    print(f"lv1 a->b live: {res['seconds']:.2f} s, downtime {res['downtime_us'] / 1000:.1f} ms, "
          f"disk requests held {res['disk_hold_ms']} ms (disk rounds {res['disk_rounds']} "
          f"bytes), {res['rounds']} rounds, "
          f"{res['memory_bytes']} memory bytes, archive {res['bytes']} bytes; phases {phases}")
    assert row(postgres, database, "lv1") == "b:running"
    assert running_where(b, "lv1") == ("b", "running")
    n1, t1 = last_tick(b, "lv1"), time.monotonic()
    # not a boot: it counts on from a's count (a boot would start at 1)
    assert n1 > n0, (n0, n1)
    # the guest's own figure: how far its counter fell behind the wall clock through the move
    # (its loop waits on a disk write each tick, so its disk requests' hold shows too)
    behind = (t1 - t0) - (n1 - n0) / rate
    print(f"lv1: {rate:.1f} ticks/s before; through the move the counter fell behind by "
          f"{behind * 1000:.0f} ms; phases at (s) {', '.join(when)}")
    assert behind < res["disk_hold_ms"] / 1000 + 1.0, (behind, res)
    assert last_tick(b, "lv1") > n1
    assert not (node_a.data / "vps" / "lv1").exists()
    assert not running_on(node_a, "lv1") and running_on(node_b, "lv1")
    assert not (node_b.data / "vps" / "lv1" / ".arriving").exists()
    ev = b.api("GET", "/events?vps=lv1")
    assert any(e["kind"] == "migrated" for e in (ev if isinstance(ev, list) else ev["events"])), ev
    b.api("POST", "/vps/lv1/stop", {"force": True})
    b.api("DELETE", "/vps/lv1")


def stays_on_a(postgres, database, a, node_a, node_b, name, n0):  # noqa: F811
    # b's monitor, if one was started, waits for a stream that broke off: it gives up within
    # vps-vmm's 30 s of silence (it never ran the guest), and its arrival goes with it
    for _ in range(450):
        if not running_on(node_b, name):
            break
        time.sleep(0.1)
    assert row(postgres, database, name) == "a:running"
    assert running_where(a, name) == ("a", "running"), a.api("GET", f"/vps/{name}")
    n1 = last_tick(a, name)
    assert last_tick(a, name) > n1 > n0  # it runs on and its disk serves again
    assert running_on(node_a, name) and not running_on(node_b, name)


@pytest.mark.parametrize("who", ["source", "destination"])
def test_kill9_mid_move_leaves_it_on_the_source(postgres, database, vnodes,  # noqa: F811
                                                tmp_path, who):
    """kill -9 of a's vpsd with the stream to b set up (the disks' requests
    held), or of b's while it starts taking the stream: the VM runs on at a
    (a's vpsd back: its disks serve again), nowhere else, the row a's."""
    node_a, node_b = vnodes
    a = unix(node_a)
    make_vm(a, "lv2", tmp_path)
    n0 = last_tick(a, "lv2")
    node, point = (node_a, "migrate-live-stream") if who == "source" else \
        (node_b, "migrate-stream-in")
    flags = a_again(node_a, node_b) if who == "source" else node_b.again
    log = tmp_path / "pause.log"
    node.kill9()  # back paused at the point
    node.start(extra=flags, env={"VPS_TEST_PAUSE": point, "VPS_TEST_PAUSE_LOG": str(log)})
    a = unix(node_a)
    r = a.request("POST", "/vps/lv2/migrate?async=1", {"to": "b"})
    assert r.status == 202, r
    for _ in range(3000):
        if log.exists() and point in log.read_text():
            break
        time.sleep(0.02)
    assert point in log.read_text()
    node.kill9()
    node.start(extra=flags)
    a = unix(node_a)
    for _ in range(600):  # b gone: a's monitor gives its migration up, a's vpsd sees it
        o = a.api("GET", "/vps/lv2")
        if o.get("monitor", {}).get("state") == "running":
            break
        time.sleep(0.1)
    try:
        stays_on_a(postgres, database, a, node_a, node_b, "lv2", n0)
    except AssertionError:
        print(
            node_a.log.read_text()[-5000:] + "\n=== B\n" + node_b.log.read_text()[-5000:] +
            "\n=== MA\n" + "".join(p.read_text()[-3000:] for p in
                                     node_a.run.glob("vps/lv2/monitor.log")) +
            "\n=== RB\n" + " ".join(str(p) for p in node_b.run.glob("vps/lv2/*")))
        raise
    a.api("POST", "/vps/lv2/stop", {"force": True})
    a.api("DELETE", "/vps/lv2")


def a_again(node_a, node_b):
    """a's flags for a restart: b's with a's name and listeners."""
    out, it = [], iter(node_b.again)
    for x in it:
        if x == "--tcp":
            out += [x, f"127.0.0.1:{node_a.port}"]
            next(it)
        elif x == "--node":
            out += [x, "a"]
            next(it)
        elif x == "--peer":
            out += [x, f"127.0.0.1:{node_a.peer}"]
            next(it)
        else:
            out.append(x)
    return tuple(out)


def stream_request(port, path, cert):
    """GET path upgraded, on a node-to-node listener with a member's
    certificate: the status line and the headers' first bytes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(*cert)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with ctx.wrap_socket(raw) as s:
            s.sendall((f"GET /api/v1{path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                       "Sec-WebSocket-Key: dnBzLWxpdmUtbWlncmF0ZQ==\r\n"
                       f"X-Vps-Caller: {ROOT}\r\n\r\n").encode())
            got = b""
            while b"\r\n\r\n" not in got:
                d = s.recv(4096)
                if not d:
                    break
                got += d
            if b" 101 " not in got.split(b"\r\n")[0]:
                s.settimeout(5)
                try:
                    while True:
                        d = s.recv(4096)
                        if not d:
                            break
                        got += d
                except (socket.timeout, ssl.SSLError):
                    pass
            return got.decode(errors="replace")


def member_credentials(postgres, db, node_a, tmp_path):  # noqa: F811
    """Node a's real member certificate and key, as files: (cert, key)."""
    key = tmp_path / "a.key"
    key.write_bytes((node_a.data / "node.key").read_bytes())
    crt = tmp_path / "a.crt"
    crt.write_text(postgres.psql("SELECT cert FROM nodes WHERE name = 'a'", db) + "\n")
    return crt, key


def test_forged_stream_is_refused(postgres, database, vnodes, tmp_path):  # noqa: F811
    """With a's real certificate and key, b's node listener is asked for a
    stream of VM lv3, running on a and not being moved (no copy came), and
    of lv3 claimed from b itself; a copy marked live of a stopped VM is
    refused too. Nothing starts on b, nothing of lv3 stays there; over the
    public API the stream route is refused (403); the row is a's."""
    node_a, node_b = vnodes
    a = unix(node_a)
    db = database.rsplit("dbname=", 1)[1]
    make_vm(a, "lv3", tmp_path)
    crt, key = member_credentials(postgres, db, node_a, tmp_path)
    got = stream_request(node_b.peer, "/migrations/lv3/stream", (crt, key))
    assert " 101 " not in got.split("\r\n")[0] and "no live move" in got, got
    status, body = peer_request(node_b.peer, "GET", "/migrations/lv3",
                                headers={"X-Vps-Caller": ROOT}, cert=(crt, key))
    assert status in (403, 409) and b"no live move" in body, (status, body)
    # a live copy of a VPS that does not run at a: refused, nothing kept
    a.api("POST", "/vps/lv3/stop", {"force": True})
    import hashlib
    src = tmp_path / "src"
    (src / "lv3").mkdir(parents=True)
    (src / "lv3" / "vm.json").write_text("{}")
    arc = tmp_path / "lv3.tar.zst"
    subprocess.run(["tar", "--zstd", "-cf", str(arc), "-C", str(src), "lv3"], check=True)
    data = arc.read_bytes()
    status, body = peer_request(node_b.peer, "PUT", "/migrations/lv3", body=data,
                                headers={"X-Vps-Caller": ROOT, "X-Vps-Live": "1",
                                         "X-Vps-Sha256": hashlib.sha256(data).hexdigest(),
                                         "Content-Type": "application/octet-stream"},
                                cert=(crt, key))
    assert status == 409 and b"nothing runs" in body, (status, body)
    got = stream_request(node_b.peer, "/migrations/lv3/stream", (crt, key))
    assert " 101 " not in got.split("\r\n")[0], got
    assert not (node_b.data / "vps" / "lv3").exists()
    assert not running_on(node_b, "lv3")
    # the public API: the routes are node to node only
    r = unix(node_b).request("GET", "/migrations/lv3")
    assert r.status == 403, r
    assert row(postgres, database, "lv3") == "a:stopped"
    a.api("DELETE", "/vps/lv3")


def probe(port, cert=None, send=b""):
    """A TLS connection to the stream listener at port (with cert, or none),
    send sent once the handshake is through: what came back before it
    closed (b"" when refused), or None when it stayed open 10 s."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(*cert)
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with ctx.wrap_socket(raw) as s:
                s.sendall(send)
                while True:
                    d = s.recv(4096)
                    if not d:
                        return got
                    got += d
        except (ssl.SSLError, ConnectionError):
            return got
        except socket.timeout:
            return None


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def test_stream_listener_refuses_strangers(postgres, database, vnodes, tmp_path):  # noqa: F811
    """The port b opens for a live move's stream (vpsd's own TLS), with a
    paused just before it connects: a connection without a client
    certificate, with a self-signed one named a, with one of another
    authority named a, with member b's real one (not the node that asked),
    with a's real one and a wrong ticket, and with a's real one and
    garbage, and plain bytes that are no TLS, are each closed with nothing
    sent back, and the port takes the next one; nothing of them reaches
    b's monitor. a's vpsd killed there, the VM runs on at a, the row a's."""
    node_a, node_b = vnodes
    a = unix(node_a)
    db = database.rsplit("dbname=", 1)[1]
    make_vm(a, "lv5", tmp_path)
    n0 = last_tick(a, "lv5")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", "/CN=a", "-days", "2", "-keyout", tmp_path / "self.key",
            "-out", tmp_path / "self.crt")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", "/CN=vps cluster authority", "-days", "2", "-keyout", tmp_path / "ca.key",
            "-out", tmp_path / "ca.crt")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", "/CN=a", "-keyout", tmp_path / "n.key", "-out", tmp_path / "n.csr")
    openssl("x509", "-req", "-in", tmp_path / "n.csr", "-CA", tmp_path / "ca.crt", "-CAkey",
            tmp_path / "ca.key", "-CAcreateserial", "-days", "2", "-out", tmp_path / "n.crt")
    flags, log = a_again(node_a, node_b), tmp_path / "pause.log"
    node_a.kill9()
    node_a.start(extra=flags, env={"VPS_TEST_PAUSE": "migrate-live-dial",
                                   "VPS_TEST_PAUSE_LOG": str(log)})
    a = unix(node_a)
    r = a.request("POST", "/vps/lv5/migrate?async=1", {"to": "b"})
    assert r.status == 202, r
    for _ in range(3000):
        if log.exists() and "migrate-live-dial" in log.read_text():
            break
        time.sleep(0.02)
    assert "migrate-live-dial" in log.read_text()
    m = re.search(r"a stream from node `a` to `[^`]*lv5[^`]*` waited for at port (\d+)",
                  node_b.log.read_text())
    assert m, node_b.log.read_text()[-3000:]
    port = int(m.group(1))
    certs = {}  # the members' real ones (a's issued anew at its restart)
    for n, d in (("a", node_a), ("b", node_b)):
        (tmp_path / f"{n}.key").write_bytes((d.data / "node.key").read_bytes())
        (tmp_path / f"{n}.crt").write_text(
            postgres.psql(f"SELECT cert FROM nodes WHERE name = '{n}'", db) + "\n")
        certs[n] = (tmp_path / f"{n}.crt", tmp_path / f"{n}.key")
    ticket = b"0" * 64 + b"\n"
    tries = [(None, b"x"), ((tmp_path / "self.crt", tmp_path / "self.key"), ticket),
             ((tmp_path / "n.crt", tmp_path / "n.key"), ticket), (certs["b"], ticket),
             (certs["a"], ticket + b"VMM0" * 1000), (certs["a"], os.urandom(4096))]
    for cert, send in tries:
        got = probe(port, cert, send)
        assert got == b"", (cert, send[:80], got)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:  # not TLS at all
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(512))
        try:
            got = s.recv(4096)
        except ConnectionError:
            got = b""
        assert not got.startswith(b"HTTP") and b"VMM" not in got, got
    text = node_b.log.read_text()
    for why in ("without its ticket", "came from node `b`", "Certificate is required",
                "the client certificate is not the cluster's", "unexpected TLS packet"):
        assert why in text, (why, "\n".join(x for x in text.splitlines() if "node to" in x))
    assert text.count("without its ticket") == 2
    node_a.kill9()
    node_a.start(extra=flags)
    a = unix(node_a)
    for _ in range(600):
        if a.api("GET", "/vps/lv5").get("monitor", {}).get("state") == "running":
            break
        time.sleep(0.1)
    stays_on_a(postgres, database, a, node_a, node_b, "lv5", n0)
    a.api("POST", "/vps/lv5/stop", {"force": True})
    a.api("DELETE", "/vps/lv5")


def test_customer_cannot_migrate(postgres, database, vnodes, tmp_path):  # noqa: F811
    """A customer owning a running VM asks to move it, and asks for another
    customer's: 403 and 404; it stays running on a, the row a's."""
    node_a, node_b = vnodes
    a = unix(node_a)
    for u in ("cust1", "cust2"):
        a.api("POST", "/users", {"name": u, "password": u + " password", "role": "customer"},
              expect=201)
    make_vm(a, "lv4", tmp_path, owner="cust1")
    c1, c2 = tcp(node_a), tcp(node_a)
    c1.login("cust1", "cust1 password")
    c2.login("cust2", "cust2 password")
    r = c1.request("POST", "/vps/lv4/migrate", {"to": "b"})
    assert r.status == 403, r
    r = c2.request("POST", "/vps/lv4/migrate", {"to": "b"})
    assert r.status == 404, r
    assert row(postgres, database, "lv4") == "a:running"
    assert running_where(a, "lv4") == ("a", "running")
    assert not (node_b.data / "vps" / "lv4").exists()
    a.api("POST", "/vps/lv4/stop", {"force": True})
    a.api("DELETE", "/vps/lv4")


def test_cli_migrate(postgres, database, vnodes, tmp_path):  # noqa: F811
    """`vps migrate NAME --to b` of the running VM: it moves live, says so."""
    node_a, node_b = vnodes
    make_vm(unix(node_a), "lv5", tmp_path)
    r = subprocess.run([str(BUILD / "src" / "cli" / "vps"), "migrate", "lv5", "--to", "b",
                        "--format", "json"], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, VPS_SOCKET=str(node_a.sock)))
    assert r.returncode == 0, r
    m = json.loads(r.stdout)
    assert m["live"] is True and m["to"] == "b", m
    assert row(postgres, database, "lv5") == "b:running"
    b = unix(node_b)
    b.api("POST", "/vps/lv5/stop", {"force": True})
    b.api("DELETE", "/vps/lv5")


def blocks_file(*ranges, magic=b"VPSBLKS1", end=b"\0"):
    """A blocks file (src/host/migrate_blocks.c): (leaf, offset, data) each."""
    out = magic
    for leaf, off, data in ranges:
        leaf = leaf.encode()
        out += bytes([1, len(leaf)]) + leaf + off.to_bytes(8, "little")
        out += len(data).to_bytes(8, "little") + data
    return out + end


def test_hostile_disk_blocks_are_refused_and_write_nothing(postgres, database, vnodes,
                                                           tmp_path):  # noqa: F811
    """A live move's blocks files, sent to b with a's real member certificate
    for VM lv6 (running on a) whose live copy came to b: each hostile one
    (not a blocks file, a name outside the VPS's images, a path, a link to
    a host file, a range past the image's end or of no bytes, a file cut
    short or with bytes after its end, a good range followed by a bad one,
    a wrong checksum, after the move was confirmed there) is refused with the
    reason and writes nothing: the image and the link's target are as they
    were. A good one is written. Without the copy first, or over the public
    API, nothing is taken."""
    import hashlib
    node_a, node_b = vnodes
    a = unix(node_a)
    db = database.rsplit("dbname=", 1)[1]
    make_vm(a, "lv6", tmp_path)
    crt, key = member_credentials(postgres, db, node_a, tmp_path)
    victim = tmp_path / "victim"
    victim.write_bytes(b"host file\n" * 100)

    def put(data, sha=None, blocks=True):
        h = {"X-Vps-Caller": ROOT, "X-Vps-Sha256": sha or hashlib.sha256(data).hexdigest(),
             "Content-Type": "application/octet-stream"}
        h["X-Vps-Blocks" if blocks else "X-Vps-Live"] = "1"
        return peer_request(node_b.peer, "PUT", "/migrations/lv6", body=data, headers=h,
                            cert=(crt, key))

    one = b"\x11" * 65536
    status, body = put(blocks_file(("disk.img", 0, one)))
    assert status == 403 and b"no live move of it is under way" in body, (status, body)
    # the live copy, as a's vpsd sends it: a 1 MiB image, and a link where the swap would be
    src = tmp_path / "src" / "lv6"
    src.mkdir(parents=True)
    (src / "disk.img").write_bytes(b"\x00" * (1 << 20))
    os.symlink(victim, src / "swap.img")
    arc = tmp_path / "lv6.tar.zst"
    subprocess.run(["tar", "--zstd", "-cf", str(arc), "-C", str(src.parent), "lv6"],
                   check=True)
    status, body = put(arc.read_bytes(), blocks=False)
    assert status == 201, (status, body)
    img = node_b.data / "vps" / "lv6" / "disk.img"
    assert img.read_bytes() == b"\x00" * (1 << 20)
    bad = [
        (blocks_file(("disk.img", 0, one), magic=b"VPSBLKS0"), b"not a blocks file"),
        (blocks_file(("vm.json", 0, one)), b"not a disk image of this VPS"),
        (blocks_file(("../../../etc/passwd", 0, one)), b"not a disk image of this VPS"),
        (blocks_file(("disk.img/..", 0, one)), b"not a disk image of this VPS"),
        (blocks_file(("swap.img", 0, b"pwned\n")), b"swap.img"),
        (blocks_file(("disk.img", (1 << 20) - 4096, one)), b"past the end"),
        (blocks_file(("disk.img", 2**64 - 4096, one)), b"past the end"),
        (blocks_file(("disk.img", 0, b"")), b"a range of 0 bytes"),
        (blocks_file(("disk.img", 0, one), end=b""), b"ends before its end record"),
        (blocks_file(("disk.img", 0, one), end=b"\0junk"), b"after the end record"),
        (blocks_file(("disk.img", 0, one))[:-100], b"a range of"),
        (blocks_file(("disk.img", 0, one), ("disk.img", 1 << 20, one)), b"past the end"),
        (blocks_file(("disk.img", 0, one), ("config.json", 0, one)),
         b"not a disk image of this VPS"),
        (b"VPSBLKS1\x01\x00", b"bad range record"),
        (b"VPSBLKS1\x07", b"bad range record"),
    ]
    for data, why in bad:
        status, body = put(data)
        assert status in (400, 409, 422) and why in body, (data[:40], status, body)
        assert img.read_bytes() == b"\x00" * (1 << 20), data[:40]
    status, body = put(blocks_file(("disk.img", 0, one)), sha="0" * 64)
    assert status in (400, 409, 422) and b"checksum" in body, (status, body)
    assert victim.read_bytes() == b"host file\n" * 100
    assert img.read_bytes() == b"\x00" * (1 << 20)
    # the good one: written where it says, nothing else
    status, body = put(blocks_file(("disk.img", 65536, one), ("disk.img", 3 << 18, b"\x22" * 512)))
    assert status == 200 and json.loads(body) == {"bytes": 65536 + 512, "ranges": 2}, body
    got = img.read_bytes()
    assert got[65536:131072] == one and got[3 << 18:(3 << 18) + 512] == b"\x22" * 512
    assert got[:65536] == b"\0" * 65536 and got[131072:3 << 18] == b"\0" * ((3 << 18) - 131072)
    # once the move is confirmed there (its arrival mark gone), no more blocks
    (node_b.data / "vps" / "lv6" / ".arriving").unlink()
    status, body = put(blocks_file(("disk.img", 0, one)))
    assert status == 403 and b"no live move of it is under way" in body, (status, body)
    assert img.read_bytes()[:65536] == b"\0" * 65536
    # the public API takes none
    r = unix(node_b).request("PUT", "/migrations/lv6", blocks_file(("disk.img", 0, one)),
                             headers={"X-Vps-Blocks": "1",
                                      "Content-Type": "application/octet-stream"})
    assert r.status == 403, r
    assert img.read_bytes()[:65536] == b"\0" * 65536
    assert not running_on(node_b, "lv6") and not (node_b.data / "vps" / "lv6" / "vm.json").exists()
    assert row(postgres, database, "lv6") == "a:running"
    a.api("POST", "/vps/lv6/stop", {"force": True})
    a.api("DELETE", "/vps/lv6")
