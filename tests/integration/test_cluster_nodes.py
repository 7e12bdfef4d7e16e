# SPDX-License-Identifier: GPL-2.0-or-later
"""Membership's rest (issue 19, docs/cluster.md "Removing a node"): `vps
node show|rm|add` and GET/DELETE /api/v1/nodes/{name}, on two vpsds (nodes
a and b) on one private PostgreSQL (framework/pg.py), each with its
node-to-node listener (--peer). Show answers on every node for every node;
rm is refused while a VPS record names the node, while its heartbeat is
fresh and for the node answering, each with the store unchanged; b killed
and stale, rm succeeds, and b's old certificate no longer opens a's node
listener, nor does b join again without a new token (`vps node add b`
makes one). A customer gets 403 for show and rm, the node kept.

Run as root: /usr/bin/python3 -m pytest -q -p no:cacheprovider test_cluster_nodes.py"""

import http.client
import json
import os
import socket
import ssl
import subprocess
import time

import pytest

from framework.ct import BUILD
from framework.openapi import tcp, unix
from framework.pg import why_not
from framework.vpsd import VPSD
from test_cluster_forward import ct_body, database, postgres, two_nodes  # noqa: F401

VPS = BUILD / "src" / "cli" / "vps"
# fast heartbeats: a node is offline after 2 missed beats of 1 s; a usage sample a second
BEAT = ("--heartbeat", "1", "--offline-after", "2", "--sample-every", "1")
ROOT = json.dumps({"user": "root", "admin": True, "local": True, "source": "unix"})

pytestmark = [pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built"),
              pytest.mark.skipif(why_not() is not None, reason=str(why_not()))]


@pytest.fixture
def nodes(database):
    yield from two_nodes(database, BEAT)


def cli(node, *args):
    return subprocess.run([str(VPS), *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, VPS_SOCKET=str(node.sock)))


def rows(postgres, database):
    """What rm must leave alone when it refuses: the nodes, their
    certificates, and every VPS with its node."""
    db = database.rsplit("dbname=", 1)[1]
    return (postgres.psql("SELECT name, state, md5(cert) FROM nodes ORDER BY name", db),
            postgres.psql("SELECT name, node FROM vps ORDER BY name", db))


def peer_request(port, path, cert):
    """A GET to a node-to-node listener as root, with client certificate
    cert=(CERT, KEY): (status, body), or (None, the TLS error)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(*cert)
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=60)
    try:
        c.request("GET", "/api/v1" + path, headers={"X-Vps-Caller": ROOT})
        r = c.getresponse()
        return r.status, r.read()
    except (ssl.SSLError, ConnectionError, socket.timeout) as e:
        return None, str(e)
    finally:
        c.close()


def test_show_answers_on_every_node(nodes):
    """GET /nodes/{name} on a and on b, for a and for b: the list's entry
    plus evacuating and used; self only for the node answering; a VPS made
    on b counted and allocated on b. No such node: 404. The CLI's table and
    --format json say the same."""
    node_a, node_b = nodes
    unix(node_b).api("POST", "/vps", ct_body("s1", node="b"), expect=201)
    for d, me in ((node_a, "a"), (node_b, "b")):
        listed = {n["name"]: n for n in unix(d).api("GET", "/nodes")}
        for name in ("a", "b"):
            n = unix(d).api("GET", f"/nodes/{name}")
            assert n["name"] == name and n["state"] == "online", n
            assert n["self"] == (name == me) and n["evacuating"] is False, n
            assert n["address"] == listed[name]["address"] != "", n
            assert n["vps"] == (1 if name == "b" else 0), n
            assert n["allocated"]["ram"] == (128 << 20 if name == "b" else 0), n
            assert n["ram"] > 0 and n["cpus"] >= 1 and n["heartbeat"] > 0, n
            assert set(n["used"]) == {"cpus", "ram", "disk", "sampled"}, n
        r = unix(d).request("GET", "/nodes/zz-none")
        assert r.status == 404 and "zz-none" in r.message, r
    # used: s1 running on b, sampled there, seen from a; a runs nothing
    assert unix(node_a).api("POST", "/vps/s1/start")["state"] == "running"
    t0 = time.monotonic()
    while unix(node_a).api("GET", "/nodes/b")["used"]["ram"] == 0:
        assert time.monotonic() - t0 < 20, "no usage sample of s1 within 20 s"
        time.sleep(0.5)
    used = unix(node_a).api("GET", "/nodes/b")["used"]
    assert 0 < used["ram"] <= 128 << 20 and used["sampled"] > 0, used
    assert unix(node_b).api("GET", "/nodes/a")["used"] == \
        {"cpus": 0, "ram": 0, "disk": 0, "sampled": 0}
    r = cli(node_a, "node", "show", "b")
    assert r.returncode == 0 and "evacuating" in r.stdout and "allocated" in r.stdout, r
    r = cli(node_b, "node", "show", "a", "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout)["name"] == "a", r
    r = cli(node_a, "node", "show", "zz-none")
    assert r.returncode != 0 and "zz-none" in r.stderr, r


def test_rm_refused_with_the_store_unchanged(postgres, database, nodes, tmp_path):
    """rm b while a VPS record names b: 409 saying how many and naming
    `vps node evacuate`, even with force; rm a asked of a (itself): 409;
    rm b, its VPS gone but b online: 409 naming --force; a bad force
    value: 400; no such node: 404. After each the nodes, their
    certificates and the VPS rows are as they were. Then --force removes
    b, online and empty, and b's own heartbeats do not bring it back."""
    node_a, node_b = nodes
    a, b = unix(node_a), unix(node_b)
    b.api("POST", "/vps", ct_body("r1", node="b"), expect=201)
    b.api("POST", "/vps", ct_body("r2", node="b"), expect=201)
    before = rows(postgres, database)
    for path in ("/nodes/b", "/nodes/b?force=1"):
        r = a.request("DELETE", path)
        assert r.status == 409 and "2 VPS records" in r.message, r
        assert "vps node evacuate b" in r.message, r
        assert rows(postgres, database) == before
    r = cli(node_a, "node", "rm", "b")
    assert r.returncode != 0 and "2 VPS records" in r.stderr, r
    for path in ("/nodes/a", "/nodes/a?force=1"):
        r = a.request("DELETE", path)
        assert r.status == 409 and "the one answering" in r.message, r
    r = a.request("DELETE", "/nodes/b?force=maybe")
    assert r.status == 400, r
    r = a.request("DELETE", "/nodes/zz-none")
    assert r.status == 404, r
    assert rows(postgres, database) == before
    for v in ("r1", "r2"):
        a.api("DELETE", f"/vps/{v}")
    before = rows(postgres, database)
    r = a.request("DELETE", "/nodes/b")
    assert r.status == 409 and "is online" in r.message and "--force" in r.message, r
    assert rows(postgres, database) == before
    assert b.api("GET", "/nodes/b")["state"] == "online"

    # --force: b online and empty goes; its heartbeats do not bring the row back
    crt, key = tmp_path / "b.crt", tmp_path / "b.key"
    crt.write_text(postgres.psql("SELECT cert FROM nodes WHERE name = 'b'",
                                 database.rsplit("dbname=", 1)[1]) + "\n")
    key.write_bytes((node_b.data / "node.key").read_bytes())
    assert peer_request(node_a.peer, "/vps", (crt, key))[0] == 200  # the control
    r = cli(node_a, "node", "rm", "b", "--force")
    assert r.returncode == 0, r
    time.sleep(2.5)  # two of b's heartbeats
    assert [n["name"] for n in a.api("GET", "/nodes")] == ["a"]
    assert "no node named `b`" in node_b.log.read_text()
    status, body = peer_request(node_a.peer, "/vps", (crt, key))
    assert status in (401, 403), (status, body)


def test_rm_a_stale_node_and_its_credentials(postgres, database, nodes, tmp_path):
    """b killed (no goodbye): rm is refused until its heartbeat is stale,
    then succeeds, on a. b's key with the certificate its row held opened
    a's node listener before; after, it is refused. b started again with no
    token is refused (a new name to the cluster); with the one `vps node
    add b` prints, it joins."""
    node_a, node_b = nodes
    a = unix(node_a)
    db = database.rsplit("dbname=", 1)[1]
    key = tmp_path / "b.key"
    key.write_bytes((node_b.data / "node.key").read_bytes())
    crt = tmp_path / "b.crt"
    crt.write_text(postgres.psql("SELECT cert FROM nodes WHERE name = 'b'", db) + "\n")
    status, body = peer_request(node_a.peer, "/vps", (crt, key))
    assert status == 200, (status, body)  # the control: b's credentials open a's listener

    node_b.kill9()
    killed, refusals = time.monotonic(), 0
    while True:  # the CLI's rm, again and again, until b's heartbeat is stale
        r = cli(node_a, "node", "rm", "b")
        if r.returncode == 0:
            break
        assert "is online" in r.stderr and "--force" in r.stderr, r
        refusals += 1
        assert time.monotonic() - killed < 10, "b still online 10 s after it was killed"
        time.sleep(0.2)
    took = time.monotonic() - killed
    # not before the timeout: 2 beats of 1 s after the last, counted in whole seconds
    assert refusals > 0 and took >= 0.5, (refusals, took)
    print(f"b removed {took:.1f} s after it was killed (heartbeat 1 s, offline after 2)")
    assert [n["name"] for n in a.api("GET", "/nodes")] == ["a"]
    assert postgres.psql("SELECT count(*) FROM nodes WHERE name = 'b'", db) == "0"
    assert a.request("GET", "/nodes/b").status == 404
    status, body = peer_request(node_a.peer, "/vps", (crt, key))
    assert status in (401, 403), (status, body)

    seen = len(node_b.log.read_text())
    node_b.start(extra=node_b.again, wait=False)  # b as it was, its own key
    try:
        assert node_b.proc.wait(timeout=60) == 1
    finally:
        if node_b.proc.poll() is None:
            node_b.proc.kill()
            node_b.proc.wait()
        node_b.proc = None
    assert "node `b` is not a member of this cluster" in node_b.log.read_text()[seen:]
    r = cli(node_a, "node", "add", "b", "--format", "json")
    assert r.returncode == 0, r
    tok = json.loads(r.stdout)
    assert tok["node"] == "b" and tok["token"].startswith("vpsjoin-"), tok
    node_b.start(extra=(*node_b.again, "--join", tok["token"]))
    assert a.api("GET", "/nodes/b")["state"] == "online"
    # joined anew: a new certificate, the old one still refused
    assert postgres.psql("SELECT cert FROM nodes WHERE name = 'b'", db) + "\n" != \
        crt.read_text()
    status, body = peer_request(node_a.peer, "/vps", (crt, key))
    assert status in (401, 403), (status, body)


def test_customer_may_not_show_or_rm(postgres, database, nodes):
    """A customer over TCP: 403 for show and for rm (with force too), and
    b is still a member with its certificate."""
    node_a, node_b = nodes
    a = unix(node_a)
    a.api("POST", "/users", {"name": "eve", "password": "eve password", "role": "customer"},
          expect=201)
    node_b.stop()  # offline: only the role stands between eve and the removal
    before = rows(postgres, database)
    eve = tcp(node_a)
    eve.login("eve", "eve password")
    for method, path in (("GET", "/nodes/b"), ("GET", "/nodes/a"), ("DELETE", "/nodes/b"),
                         ("DELETE", "/nodes/b?force=1")):
        r = eve.request(method, path)
        assert r.status == 403, (method, path, r)
    assert rows(postgres, database) == before
    assert a.api("GET", "/nodes/b")["name"] == "b"
