# SPDX-License-Identifier: GPL-2.0-or-later
"""Migration between nodes (issue 19, docs/cluster.md "Migration"): two
vpsds (a, b) with --peer on one private PostgreSQL. A stopped container
moves a to b with what its disk holds; a running container stops, moves
and starts on b, the downtime reported; a forged archive (a checksum that
does not match) sent to b's node listener with a member's real
certificate is refused and nothing is kept.

Run as root: /usr/bin/python3 -m pytest -q -p no:cacheprovider test_cluster_migrate.py"""

import json
import os
import subprocess

import pytest

from framework.ct import BUILD
from framework.openapi import tcp, unix
from framework.pg import why_not
from framework.vpsd import VPSD
from test_cluster_forward import (ROOT, ct_body, database, nodes, peer_request,  # noqa: F401
                                  postgres, running_on)

pytestmark = [pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built"),
              pytest.mark.skipif(why_not() is not None, reason=str(why_not()))]


def row(postgres, database, name):
    db = database.rsplit("dbname=", 1)[1]
    return postgres.psql(f"SELECT node || ':' || state FROM vps WHERE name = '{name}'", db)


def test_migrate_stopped_and_running_container(postgres, database, nodes):
    node_a, node_b = nodes
    a, b = unix(node_a), unix(node_b)
    a.api("POST", "/vps", ct_body("m1", node="a"), expect=201)
    a.api("POST", "/vps/m1/start")
    a.api("POST", "/vps/m1/exec", {"args": ["sh", "-c", "echo kept > /root/marker"]})
    a.api("POST", "/vps/m1/stop")
    # stopped: through b (forwarded to a, which holds it)
    r = subprocess.run([str(BUILD / "src" / "cli" / "vps"), "migrate", "m1", "--to", "b",
                        "--format", "json"], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, VPS_SOCKET=str(node_b.sock)))
    assert r.returncode == 0 and "moving `m1` to node `b`" in r.stderr, r
    m = json.loads(r.stdout)
    assert m["from"] == "a" and m["to"] == "b" and m["bytes"] > 0 and len(m["sha256"]) == 64, m
    assert "downtime_ms" not in m, m
    assert row(postgres, database, "m1") == "b:stopped"
    assert (node_b.data / "vps" / "m1").is_dir() and not (node_a.data / "vps" / "m1").exists()
    assert a.api("POST", "/vps/m1/start")["state"] == "running"  # forwarded to b now
    x = a.api("POST", "/vps/m1/exec", {"args": ["cat", "/root/marker"]})
    assert x["stdout"].strip() == "kept", x
    # running container: back to a, stopped, moved and started there
    r = subprocess.run([str(BUILD / "src" / "cli" / "vps"), "migrate", "m1", "--to", "a"],
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, VPS_SOCKET=str(node_a.sock)))
    assert r.returncode == 0 and "from node `b` to node `a`" in r.stdout, r
    assert ", down " in r.stdout, r
    down = int(r.stdout.rsplit(", down ", 1)[1].split()[0])
    assert down > 0, r.stdout
    print(r.stdout.strip())  # the figure: the downtime of a restart migration
    assert row(postgres, database, "m1") == "a:running"
    x = b.api("POST", "/vps/m1/exec", {"args": ["cat", "/root/marker"]})
    assert x["stdout"].strip() == "kept", x
    assert not (node_b.data / "vps" / "m1").exists()
    # refusals: to itself, to nobody
    r = a.request("POST", "/vps/m1/migrate", {"to": "a"})
    assert r.status == 400, r
    r = a.request("POST", "/vps/m1/migrate", {"to": "zz"})
    assert r.status == 400, r
    a.api("POST", "/vps/m1/stop")
    a.api("DELETE", "/vps/m1")


def test_archive_with_a_wrong_checksum_is_refused(postgres, database, nodes, tmp_path):
    """b's node listener, with a's real certificate and key, given an
    archive whose X-Vps-Sha256 is not its hash: 409, no directory kept; the
    same through the public API: 403. The VPS stays on a, whole."""
    node_a, node_b = nodes
    a = unix(node_a)
    db = database.rsplit("dbname=", 1)[1]
    a.api("POST", "/vps", ct_body("m2", node="a"), expect=201)
    key = tmp_path / "a.key"
    key.write_bytes((node_a.data / "node.key").read_bytes())
    crt = tmp_path / "a.crt"
    crt.write_text(postgres.psql("SELECT cert FROM nodes WHERE name = 'a'", db) + "\n")
    status, body = peer_request(node_b.peer, "PUT", "/migrations/m2",
                                headers={"X-Vps-Caller": ROOT, "X-Vps-Sha256": "0" * 64,
                                         "Content-Type": "application/octet-stream"},
                                cert=(crt, key))
    assert status == 409 and b"checksum" in body, (status, body)
    assert not (node_b.data / "vps" / "m2").exists()
    assert not list(node_b.data.glob(".migrate-in-*"))
    r = unix(node_b).request("PUT", "/migrations/m2", b"x", validate=False)
    assert r.status == 403, r
    assert row(postgres, database, "m2") == "a:stopped"
    assert (node_a.data / "vps" / "m2").is_dir()


def test_evacuate_a_node(postgres, database, nodes):
    """`vps node evacuate a` sent to b: a goes evacuating, its two stopped
    containers move to b (the only node left), a create pinned to a is
    refused while it evacuates; restored, a takes VPSes again."""
    node_a, node_b = nodes
    a, b = unix(node_a), unix(node_b)
    for n in ("e1", "e2"):
        a.api("POST", "/vps", ct_body(n, node="a"), expect=201)
    r = subprocess.run([str(BUILD / "src" / "cli" / "vps"), "node", "evacuate", "a"],
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, VPS_SOCKET=str(node_b.sock)))
    assert r.returncode == 0, r
    assert "moved `e1` to node `b`" in r.stdout and "moved `e2` to node `b`" in r.stdout, r
    # an operation: its percentage grows to 100 on stderr (each VPS its share)
    pcts = [int(line.split(": ")[1].split("%")[0]) for line in r.stderr.splitlines()
            if line.startswith("evacuating node `a`: ")]
    assert pcts == sorted(pcts) and pcts[-1] == 100 and len(pcts) >= 2, r.stderr
    assert row(postgres, database, "e1") == "b:stopped" == row(postgres, database, "e2")
    assert {n["name"]: n["state"] for n in a.api("GET", "/nodes")}["a"] == "evacuating"
    r = a.request("POST", "/vps", ct_body("e3", node="a"))
    assert r.status == 409 and "evacuating" in r.message, r
    r = a.request("POST", "/vps", ct_body("e3"))  # placed on b, forwarded there
    assert r.status == 201 and r.json["node"] == "b", r
    b.api("POST", "/nodes/a/restore")
    assert {n["name"]: n["state"] for n in a.api("GET", "/nodes")}["a"] == "online"
    assert a.api("POST", "/vps", ct_body("e4", node="a"), expect=201)["node"] == "a"
    r = a.request("POST", "/nodes/zz/evacuate")
    assert r.status == 404, r


def big_ct(a, name, mib):
    """A container on a with mib MiB of random bytes on its disk (zstd cannot
    shrink them: the archive is as large as the disk's data); its md5."""
    a.api("POST", "/vps", ct_body(name, node="a", disk="1G"), expect=201)
    a.api("POST", f"/vps/{name}/start")
    x = a.api("POST", f"/vps/{name}/exec",
              {"args": ["sh", "-c", f"dd if=/dev/urandom of=/root/big bs=1M count={mib} "
                        "2>/dev/null && sync && md5sum /root/big"]}, timeout=600)
    assert x["status"] == 0, x
    return x["stdout"].split()[0]


def start_migration(client, name, to):
    r = client.request("POST", f"/vps/{name}/migrate?async=1", {"to": to})
    assert r.status == 202, r
    return r.json["operation"]["id"]


def test_migration_progress_is_shown_and_only_grows(postgres, database, nodes):
    """A stopped container with 160 MiB of data moved a to b as an operation
    started through b (forwarded to a, which runs it) and polled through b
    (its figures forwarded from a): the percentage only grows, passes
    through several figures in the pack and send phases, and the operation
    ends done with the move's figures. Then `vps migrate` back shows its
    progress lines on stderr."""
    node_a, node_b = nodes
    a, b = unix(node_a), unix(node_b)
    md5 = big_ct(a, "p1", 160)
    a.api("POST", "/vps/p1/stop")
    op = start_migration(b, "p1", "b")
    seen = []
    for _ in range(6000):
        o = b.api("GET", f"/operations/{op}")
        if o["state"] != "running":
            break
        assert o["node"] == "a", o  # the row names the node that runs it
        if "progress" in o:
            seen.append((o["progress"], o.get("phase")))
        __import__("time").sleep(0.05)
    assert o["state"] == "done", o
    assert o["result"]["from"] == "a" and o["result"]["to"] == "b", o
    assert o["result"]["bytes"] > 150 << 20, o  # random bytes: the archive is the data
    figures = [p for p, _ in seen]
    print("progress seen:", [(round(p, 1), ph) for p, ph in seen[::max(1, len(seen) // 20)]])
    assert figures == sorted(figures), seen  # never backwards
    phases = {ph for _, ph in seen}
    assert {"pack", "send"} <= phases, phases
    middle = {round(p) for p in figures if 0 < p < 95}
    assert len(middle) >= 3, seen  # a figure that moves, not a jump from 0 to done
    assert row(postgres, database, "p1") == "b:stopped"
    # the CLI: lines of `moving ...: N% (phase)` on stderr (not a terminal), then the figures
    r = subprocess.run([str(BUILD / "src" / "cli" / "vps"), "migrate", "p1", "--to", "a"],
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, VPS_SOCKET=str(node_a.sock)))
    assert r.returncode == 0 and "from node `b` to node `a`" in r.stdout, r
    print(r.stdout.strip())  # the figures: MiB sent, seconds
    pcts = [int(line.split(": ")[1].split("%")[0]) for line in r.stderr.splitlines()
            if line.startswith("moving `p1` to node `a`: ")]
    assert pcts == sorted(pcts) and len(pcts) >= 3 and pcts[-1] == 100, r.stderr
    assert "(send)" in r.stderr, r.stderr
    a.api("POST", "/vps/p1/start")
    x = b.api("POST", "/vps/p1/exec", {"args": ["md5sum", "/root/big"]})
    assert x["stdout"].split()[0] == md5, x
    a.api("POST", "/vps/p1/stop")


def test_cancel_midway_leaves_the_source_whole(postgres, database, nodes):
    """A running container with 200 MiB of data being moved a to b: another
    customer's cancel is the 404 of no operation; the administrator's cancel,
    sent through b while the archive is on its way, ends the operation
    `cancelled`; the container runs again on a with its data, b holds
    nothing of it (no VPS directory, no partial archive), and the same
    container then moves whole."""
    node_a, node_b = nodes
    a, b = unix(node_a), unix(node_b)
    a.api("POST", "/users", {"name": "oth", "password": "oth password", "role": "customer"},
          expect=201)
    oth = tcp(node_b)
    oth.login("oth", "oth password")
    md5 = big_ct(a, "c1", 200)
    op = start_migration(a, "c1", "b")
    r = oth.request("DELETE", f"/operations/{op}")
    assert r.status == 404, r
    cancelled_at = None
    for _ in range(6000):
        o = b.api("GET", f"/operations/{op}")
        if o["state"] != "running":
            break
        if o.get("phase") == "send" and 55 < o["progress"] < 90 and cancelled_at is None:
            r = b.request("DELETE", f"/operations/{op}")
            assert r.status == 202, r
            cancelled_at = (o["progress"], o["phase"])
        __import__("time").sleep(0.05)
    assert cancelled_at, ("never seen mid-send", o)
    print("cancelled at", cancelled_at)
    assert o["state"] == "failed" and o["error"]["code"] == "cancelled", o
    r = b.request("DELETE", f"/operations/{op}")
    assert r.status == 409, r  # it has ended
    # the source: the row, its directory, the container running with its data
    assert row(postgres, database, "c1") == "a:running"
    assert (node_a.data / "vps" / "c1").is_dir()
    assert not list(node_a.data.glob(".migrate-out-*"))
    x = b.api("POST", "/vps/c1/exec", {"args": ["md5sum", "/root/big"]})  # forwarded to a
    assert x["stdout"].split()[0] == md5, x
    assert running_on(node_a, "c1") and not running_on(node_b, "c1")
    # the destination: nothing half made (its partial archive goes when the connection is cut)
    for _ in range(100):
        left = list(node_b.data.glob(".migrate-in-*")) + list((node_b.data / "vps").glob("c1"))
        if not left:
            break
        __import__("time").sleep(0.1)
    assert not left, left
    # cancelled while it packs: tar killed, its archive removed, the container running again
    op = start_migration(a, "c1", "b")
    cancelled_at = None
    for _ in range(6000):
        o = a.api("GET", f"/operations/{op}")
        if o["state"] != "running":
            break
        if o.get("phase") == "pack" and cancelled_at is None:
            assert a.api("DELETE", f"/operations/{op}", expect=202)["cancellable"] is False
            cancelled_at = (o["progress"], o["phase"])
        __import__("time").sleep(0.05)
    assert cancelled_at, ("never seen packing", o)
    print("cancelled at", cancelled_at)
    assert o["state"] == "failed" and o["error"]["code"] == "cancelled", o
    assert row(postgres, database, "c1") == "a:running"
    assert not list(node_a.data.glob(".migrate-out-*"))
    assert not list(node_b.data.glob(".migrate-in-*"))
    assert not (node_b.data / "vps" / "c1").exists()
    x = b.api("POST", "/vps/c1/exec", {"args": ["md5sum", "/root/big"]})
    assert x["stdout"].split()[0] == md5, x
    # and it still moves, whole
    op = start_migration(a, "c1", "b")
    for _ in range(6000):
        o = a.api("GET", f"/operations/{op}")
        if o["state"] != "running":
            break
        __import__("time").sleep(0.1)
    assert o["state"] == "done", o
    assert row(postgres, database, "c1") == "b:running"
    x = a.api("POST", "/vps/c1/exec", {"args": ["md5sum", "/root/big"]})
    assert x["stdout"].split()[0] == md5, x
    a.api("POST", "/vps/c1/stop")


def uptime(con):
    """The guest's uptime (s) read on its console, between markers."""
    con.send("echo U''P=$(cut -d' ' -f1 /proc/uptime)=U''P")  # the echoed line has no UP=
    con.expect("UP=", 60)
    start = con.mark
    con.expect("=UP", 60)
    return float(con.text[start:con.mark - 3].decode())


def test_running_qemu_vm_moves_with_its_state(postgres, database, nodes):
    """A debian-12 VM on QEMU (TCG), booted once on a: a move to b whose
    destination vpsd is killed while the source packs leaves it running on
    a (paused for the save, run on again), the guest's uptime and a process
    going on; b restarted, the move goes through: it runs on b with the same
    uptime going on and the same process alive (not a boot), a holds nothing
    of it, the downtime reported."""
    from framework.console import Console
    from test_snapshot import MKVMTEMPLATE
    import time
    r = subprocess.run([str(MKVMTEMPLATE), "debian-12"], capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stderr
    node_a, node_b = nodes
    a, b = unix(node_a), unix(node_b)
    a.api("POST", "/vps", {"name": "q1", "kind": "vm", "engine": "qemu", "node": "a",
                           "template": "debian-12", "ram": "256M", "disk": "1G", "cpus": 1,
                           "root_password": "pw"}, expect=201)
    a.api("POST", "/vps/q1/start")
    with Console(a.api("GET", "/vps/q1/console")["path"]) as c:
        c.login("pw", 600)
        c.send("sleep 100000 & echo P''ID=$!=P''ID")
        c.expect("PID=", 30)
        s = c.mark
        c.expect("=PID", 30)
        pid = int(c.text[s:c.mark - 4].decode())
        u0 = uptime(c)
    # the destination killed mid-way: the VM runs on, on a
    op = start_migration(a, "q1", "b")
    seen = None
    for _ in range(12000):
        o = a.api("GET", f"/operations/{op}")
        if o["state"] != "running":
            break
        if o.get("phase") == "pack" and seen is None:
            node_b.kill9()
            seen = o["phase"]
        time.sleep(0.05)
    assert seen, ("never seen packing", o)
    assert o["state"] == "failed", o
    assert row(postgres, database, "q1") == "a:running"
    v = a.api("GET", "/vps/q1")
    assert v["monitor"]["state"] == "running", v
    assert not (node_a.data / "vps" / "q1" / "migrate-state").exists()
    assert not (node_b.data / "vps" / "q1").exists()
    with Console(a.api("GET", "/vps/q1/console")["path"]) as c:
        u1 = uptime(c)
    assert u1 > u0, (u0, u1)
    node_b.start(extra=node_b.again)
    # the move: a to b with its state
    t0 = time.monotonic()
    r = subprocess.run([str(BUILD / "src" / "cli" / "vps"), "migrate", "q1", "--to", "b",
                        "--format", "json"], capture_output=True, text=True, timeout=900,
                       env=dict(os.environ, VPS_SOCKET=str(node_a.sock)))
    wall = time.monotonic() - t0
    assert r.returncode == 0, r
    m = json.loads(r.stdout)
    assert m["to"] == "b" and m["state_kept"] is True and m["downtime_ms"] > 0, m
    print(f"q1 a->b with its state: {m['seconds']:.1f} s, down {m['downtime_ms']} ms, "
          f"state {m['state_bytes']} bytes, archive {m['bytes']} bytes")
    assert row(postgres, database, "q1") == "b:running"
    assert b.api("GET", "/vps/q1")["monitor"]["state"] == "running"
    assert not (node_a.data / "vps" / "q1").exists()
    assert not running_on(node_a, "q1") and running_on(node_b, "q1")
    assert not (node_b.data / "vps" / "q1" / "migrate-state").exists()
    with Console(b.api("GET", "/vps/q1/console")["path"]) as c:
        c.send("")
        u2 = uptime(c)
        c.send(f"kill -0 {pid} && echo ALI''VE=yes")
        c.expect("ALIVE=yes", 30)
    # not a boot: its uptime went on from before the move (less the pause)
    assert u1 < u2 < u1 + wall + 120, (u1, u2, wall)
    b.api("POST", "/vps/q1/stop", {"force": True})
    b.api("DELETE", "/vps/q1")


def test_forged_state_for_a_stopped_vps_is_refused(postgres, database, nodes, tmp_path):
    """A member node's certificate sending b an archive of a stopped
    container that carries a saved state (migrate-state/state), its hash
    right: b starts nothing, keeps nothing (no VPS directory, no archive),
    and the row is a's, stopped, as it was."""
    import hashlib
    node_a, node_b = nodes
    db = database.rsplit("dbname=", 1)[1]
    unix(node_a).api("POST", "/vps", ct_body("m3", node="a"), expect=201)
    src = tmp_path / "src"
    (src / "m3" / "migrate-state").mkdir(parents=True)
    (src / "m3" / "migrate-state" / "state").write_bytes(b"QEVM" + os.urandom(4096))
    arc = tmp_path / "m3.tar.zst"
    subprocess.run(["tar", "--zstd", "-cf", str(arc), "-C", str(src), "m3"], check=True)
    data = arc.read_bytes()
    key = tmp_path / "a.key"
    key.write_bytes((node_a.data / "node.key").read_bytes())
    crt = tmp_path / "a.crt"
    crt.write_text(postgres.psql("SELECT cert FROM nodes WHERE name = 'a'", db) + "\n")
    status, body = peer_request(node_b.peer, "PUT", "/migrations/m3", body=data,
                                headers={"X-Vps-Caller": ROOT,
                                         "X-Vps-Sha256": hashlib.sha256(data).hexdigest(),
                                         "Content-Type": "application/octet-stream"},
                                cert=(crt, key))
    assert status == 409 and b"nothing runs" in body, (status, body)
    assert not (node_b.data / "vps" / "m3").exists()
    assert not list(node_b.data.glob(".migrate-in-*"))
    assert not running_on(node_b, "m3")
    assert row(postgres, database, "m3") == "a:stopped"
