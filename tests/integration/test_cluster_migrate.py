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
from framework.openapi import unix
from framework.pg import why_not
from framework.vpsd import VPSD
from test_cluster_forward import (ROOT, ct_body, database, nodes, peer_request,  # noqa: F401
                                  postgres)

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
