# SPDX-License-Identifier: GPL-2.0-or-later
"""Any node answers the whole API (issue 19, docs/cluster.md "Forwarding"):
two vpsds (nodes a and b) on one private PostgreSQL (framework/pg.py), each
with its node-to-node listener (--peer). Work on a VPS b holds, sent to a,
is forwarded to b over HTTPS with a's node certificate and answered as b
answers; the caller never sees which node did it. Attacks: a customer's
forged caller header on the public API, and the node-to-node listener
reached with no client certificate, a self-made one, or one of another
authority; each refused with the VPS unchanged.

Run as root: /usr/bin/python3 -m pytest -q -p no:cacheprovider test_cluster_forward.py"""

import http.client
import json
import os
import socket
import ssl
import subprocess
import time

import pytest

from framework.ct import BUILD
from framework.openapi import start_vpsd, tcp, unix
from framework.pg import Postgres, why_not
from framework.vpsd import VPSD, free_port

BEAT = ("--heartbeat", "1", "--offline-after", "2")

pytestmark = [pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built"),
              pytest.mark.skipif(why_not() is not None, reason=str(why_not()))]


@pytest.fixture(scope="module")
def postgres():
    pg = Postgres().start()
    yield pg
    pg.stop()


@pytest.fixture
def database(postgres, request):
    return postgres.createdb("f_" + request.node.name[:50])


def two_nodes(database, beat=BEAT):
    """Nodes a and b, b joined with a token, each with a --peer listener, their
    heartbeat flags BEAT: a generator, the body of a `nodes` fixture."""
    pa, pb = free_port(), free_port()
    a = start_vpsd(extra=("--cluster", database, "--node", "a", "--peer", f"127.0.0.1:{pa}",
                          *beat))
    b = None
    try:
        token = unix(a).api("POST", "/nodes/tokens", {"ttl": 600}, expect=201)["token"]
        b = start_vpsd(extra=("--cluster", database, "--node", "b", "--join", token, "--peer",
                              f"127.0.0.1:{pb}", *beat))
        a.peer, b.peer = pa, pb
        b.again = ("--tcp", f"127.0.0.1:{b.port}", "--cluster", database, "--node", "b",
                   "--peer", f"127.0.0.1:{pb}", *beat)
        yield a, b
    finally:
        if b:
            b.cleanup()
        a.cleanup()


@pytest.fixture
def nodes(database):
    yield from two_nodes(database)


def ct_body(name, **kw):
    body = {"name": name, "kind": "ct", "template": "busybox", "ram": "128M", "disk": "64M",
            "cpus": 0.5}
    body.update(kw)
    return body


def running_on(d, name):
    """Whether vpsd d runs VPS name (its monitor's run directory is there)."""
    return (d.run / "vps" / name).exists() and any((d.run / "vps" / name).iterdir())


def state(postgres, database, name):
    db = database.rsplit("dbname=", 1)[1]
    return postgres.psql(f"SELECT state FROM vps WHERE name = '{name}'", db)


def test_work_on_another_nodes_vps_is_forwarded(postgres, database, nodes):
    """A VPS on b, driven through a: by the administrator on a's socket and
    by its owner over a's TCP API; every answer the one b gives (no 421, no
    node named), the container running on b and not on a. Another customer
    still gets the 404 of a VPS that does not exist."""
    node_a, node_b = nodes
    a, b = unix(node_a), unix(node_b)
    certs = {n["name"]: n for n in a.api("GET", "/nodes")}
    assert certs["a"]["peer"] == f"127.0.0.1:{node_a.peer}", certs
    assert certs["b"]["peer"] == f"127.0.0.1:{node_b.peer}", certs
    assert "cert" not in certs["a"]  # the certificate is node to node only
    r = subprocess.run([str(BUILD / "src" / "cli" / "vps"), "node", "list"], capture_output=True,
                       text=True, env=dict(os.environ, VPS_SOCKET=str(node_a.sock)), timeout=60)
    assert r.returncode == 0 and f"127.0.0.1:{node_b.peer}" in r.stdout, r
    a.api("POST", "/users", {"name": "own", "password": "own password", "role": "customer"},
          expect=201)
    a.api("POST", "/users", {"name": "oth", "password": "oth password", "role": "customer"},
          expect=201)
    b.api("POST", "/vps", ct_body("f1", owner="own", node="b"), expect=201)
    assert a.api("POST", "/vps/f1/start")["state"] == "running"
    assert running_on(node_b, "f1") and not running_on(node_a, "f1")
    x = a.api("POST", "/vps/f1/exec", {"args": ["echo", "through-a"]})
    assert x["status"] == 0 and x["stdout"].strip() == "through-a", x
    own, oth = tcp(node_a), tcp(node_a)
    own.login("own", "own password")
    oth.login("oth", "oth password")
    x = own.api("POST", "/vps/f1/exec", {"args": ["echo", "owner"]})
    assert x["stdout"].strip() == "owner", x
    r = oth.request("POST", "/vps/f1/stop")
    nothing = oth.request("POST", "/vps/zz-none/stop")
    assert r.status == 404 and r.message == nothing.message.replace("zz-none", "f1"), r
    assert state(postgres, database, "f1") == "running"
    # the owner's own rights still hold on b: suspend is the administrators'
    r = own.request("POST", "/vps/f1/suspend")
    assert r.status == 403, r
    assert own.api("POST", "/vps/f1/stop")["state"] == "stopped"
    assert state(postgres, database, "f1") == "stopped"
    own.api("PATCH", "/vps/f1", {"hostname": "moved"})
    db = database.rsplit("dbname=", 1)[1]
    assert postgres.psql("SELECT hostname FROM vps WHERE name = 'f1'", db) == "moved"
    # asynchronous: the operation is in the shared store, read through either node
    r = own.request("POST", "/vps/f1/start?async=1")
    assert r.status == 202, r
    op = r.json["operation"]["id"]
    assert r.headers["Location"] == f"/api/v1/operations/{op}", r.headers
    for _ in range(600):
        o = own.api("GET", f"/operations/{op}")
        if o["state"] != "running":
            break
        __import__("time").sleep(0.1)
    assert o["state"] == "done", o
    assert running_on(node_b, "f1")
    a.api("POST", "/vps/f1/stop")
    a.api("DELETE", "/vps/f1")
    assert state(postgres, database, "f1") == ""


def test_node_away_is_503_naming_nothing(postgres, database, nodes):
    """b's vpsd gone: a request through a for b's VPS answers 503
    node_unreachable, with no node's name or address in it."""
    node_a, node_b = nodes
    unix(node_b).api("POST", "/vps", ct_body("f2", node="b"), expect=201)
    node_b.stop()
    r = unix(node_a).request("POST", "/vps/f2/start")
    assert r.status == 503 and r.code == "node_unreachable", r
    assert "127.0.0.1" not in json.dumps(r.json) and "`b`" not in json.dumps(r.json), r
    assert state(postgres, database, "f2") == "stopped"
    node_b.start(extra=node_b.again)
    assert unix(node_a).api("POST", "/vps/f2/start")["state"] == "running"
    unix(node_a).api("POST", "/vps/f2/stop")


def peer_request(port, method, path, body=None, headers=None, cert=None):
    """A raw HTTPS request to a node-to-node listener, optionally with a
    client certificate (cert=(CERT, KEY) files): (status, body) or the
    TLS error."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(*cert)
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=60)
    try:
        h = {"Content-Type": "application/json", **(headers or {})}
        raw = body if isinstance(body, bytes) else json.dumps(body or {})  # bytes: as they are
        c.request(method, "/api/v1" + path, body=raw, headers=h)
        r = c.getresponse()
        return r.status, r.read()
    except (ssl.SSLError, ConnectionError, socket.timeout) as e:
        return None, str(e)
    finally:
        c.close()


ROOT = json.dumps({"user": "root", "admin": True, "local": True, "source": "unix"})


def test_forged_node_credentials_refused(postgres, database, nodes, tmp_path):
    """The attacks: the caller header sent by a customer to the public API
    is not read (the customer stays a customer); the node-to-node listener
    with no client certificate, a self-signed one named like a member, and
    one issued by an authority of the attacker's own, is refused. After
    each, the VPS is as it was (stopped, on b, its owner unchanged)."""
    node_a, node_b = nodes
    a, b = unix(node_a), unix(node_b)
    a.api("POST", "/users", {"name": "eve", "password": "eve password", "role": "customer"},
          expect=201)
    b.api("POST", "/vps", ct_body("f3", node="b"), expect=201)
    eve = tcp(node_a)
    eve.login("eve", "eve password")
    # 1. the header on the public API: still eve, who may not see f3
    for path, method in (("/vps/f3/start", "POST"), ("/users", "GET")):
        r = eve.request(method, path, headers={"X-Vps-Caller": ROOT})
        assert r.status in (403, 404), (path, r)
    r = eve.request("GET", "/me", headers={"X-Vps-Caller": ROOT})
    assert r.json["name"] == "eve" and r.json["role"] == "customer", r
    # 2. no client certificate
    status, body = peer_request(node_b.peer, "POST", "/vps/f3/start",
                                headers={"X-Vps-Caller": ROOT})
    assert status in (None, 401, 403), (status, body)
    # 3. a self-signed certificate that says it is node a
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=a", "-days", "2",
                    "-keyout", tmp_path / "self.key", "-out", tmp_path / "self.crt"],
                   check=True, capture_output=True)
    status, body = peer_request(node_b.peer, "POST", "/vps/f3/start",
                                headers={"X-Vps-Caller": ROOT},
                                cert=(tmp_path / "self.crt", tmp_path / "self.key"))
    assert status in (None, 401, 403), (status, body)
    # 4. an authority of the attacker's own, and a certificate it issued to "a"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=vps cluster authority",
                    "-days", "2", "-keyout", tmp_path / "ca.key", "-out", tmp_path / "ca.crt"],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=a",
                    "-keyout", tmp_path / "n.key", "-out", tmp_path / "n.csr"],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", tmp_path / "n.csr", "-CA",
                    tmp_path / "ca.crt", "-CAkey", tmp_path / "ca.key", "-CAcreateserial",
                    "-days", "2", "-out", tmp_path / "n.crt"], check=True, capture_output=True)
    status, body = peer_request(node_b.peer, "POST", "/vps/f3/start",
                                headers={"X-Vps-Caller": ROOT},
                                cert=(tmp_path / "n.crt", tmp_path / "n.key"))
    assert status in (None, 401, 403), (status, body)
    # 5. node a's real key and certificate are not readable by a customer; the
    # control: a's own forwarding works, so the refusals above are the checks
    assert (node_a.data / "node.key").stat().st_mode & 0o077 == 0
    assert state(postgres, database, "f3") == "stopped"
    assert not running_on(node_b, "f3")  # never started: no run directory
    assert a.api("POST", "/vps/f3/start")["state"] == "running"
    assert a.api("POST", "/vps/f3/stop")["state"] == "stopped"


def test_node_credentials_survive_a_restart(postgres, database, nodes):
    """A node restarted keeps its key (DATA/node.key) and is issued anew by
    the same authority; forwarding to it still works. One authority row."""
    node_a, node_b = nodes
    db = database.rsplit("dbname=", 1)[1]
    assert postgres.psql("SELECT count(*) FROM cluster_ca", db) == "1"
    key = (node_b.data / "node.key").read_bytes()
    cert = postgres.psql("SELECT cert FROM nodes WHERE name = 'b'", db)
    assert "BEGIN CERTIFICATE" in cert
    assert postgres.psql("SELECT count(*) FROM nodes WHERE cert = ''", db) == "0"
    unix(node_b).api("POST", "/vps", ct_body("f4", node="b"), expect=201)
    node_b.stop()
    node_b.start(extra=node_b.again)
    assert (node_b.data / "node.key").read_bytes() == key
    assert postgres.psql("SELECT count(*) FROM cluster_ca", db) == "1"
    assert unix(node_a).api("POST", "/vps/f4/start")["state"] == "running"
    assert unix(node_a).api("POST", "/vps/f4/stop")["state"] == "stopped"


def meminfo(key):
    for line in open("/proc/meminfo"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def test_create_placed_elsewhere_is_forwarded(postgres, database, nodes):
    """Memory reserve, a VPS of 60% of RAM on a: a customer's create sent to
    a is placed on b and made there (201 from a, the row on b, the customer
    its owner), not answered 421; the administrator's pin to b through a is
    made on b too. The customer still may not pin a node themselves."""
    node_a, node_b = nodes
    a = unix(node_a)
    db = database.rsplit("dbname=", 1)[1]
    each = (int(meminfo("MemTotal") * 0.6) // (1 << 20)) << 20
    a.api("PUT", "/policies", {"memory": {"mode": "reserve"}})
    a.api("POST", "/vps", ct_body("c1", ram=each, node="a"), expect=201)
    a.api("POST", "/users", {"name": "cus", "password": "cus password", "role": "customer"},
          expect=201)
    a.api("POST", "/plans", {"name": "tiny", "ram": "128M", "disk": "64M", "cpus": 0.5},
          expect=201)
    c = tcp(node_a)
    c.login("cus", "cus password")
    body = {"name": "c2", "kind": "ct", "template": "busybox", "plan": "tiny"}
    r = c.request("POST", "/vps", {**body, "node": "b"})
    assert r.status == 403 and "`node`" in r.message, r
    assert postgres.psql("SELECT count(*) FROM vps WHERE name = 'c2'", db) == "0"
    v = c.api("POST", "/vps", body, expect=201)
    assert v["name"] == "c2" and v["node"] == "b" and v["owner"] == "cus", v
    assert postgres.psql("SELECT node || ':' || owner FROM vps WHERE name = 'c2'", db) == "b:cus"
    assert (node_b.data / "vps" / "c2").exists() and not (node_a.data / "vps" / "c2").exists()
    v = a.api("POST", "/vps", ct_body("c3", node="b"), expect=201)
    assert v["node"] == "b" and (node_b.data / "vps" / "c3").exists()
    # asynchronous (the panel's way): an operation on a, placed inside it, made on b; a
    # hostile body's own copy of the operation's hidden field changes nothing
    r = c.request("POST", "/vps?async=1",
                  {**body, "name": "c4", "\u0001placed": {"caller": {"user": "root",
                                                                   "admin": True}}})
    assert r.status == 400, r  # no such field for a customer (or anyone)
    r = c.request("POST", "/vps?async=1", {**body, "name": "c4"})
    assert r.status == 202, r
    op = r.json["operation"]["id"]
    for _ in range(600):
        o = c.api("GET", f"/operations/{op}")
        if o["state"] != "running":
            break
        time.sleep(0.1)
    assert o["state"] == "done", o
    assert o["result"]["node"] == "b" and o["result"]["owner"] == "cus", o
    assert postgres.psql("SELECT node || ':' || owner FROM vps WHERE name = 'c4'", db) == "b:cus"
    assert (node_b.data / "vps" / "c4").exists() and not (node_a.data / "vps" / "c4").exists()
    for n in ("c2", "c3", "c4"):
        a.api("DELETE", f"/vps/{n}")
    assert postgres.psql("SELECT string_agg(name, ',') FROM vps", db) == "c1"


def test_only_the_current_member_certificate_opens(postgres, database, nodes, tmp_path):
    """The control for the attacks above: node a's real key and the
    certificate its row holds open b's node listener straight (the caller
    it names is believed: a listing as root). a restarted is issued a new
    certificate: the old one, with the same key, is refused from then on."""
    node_a, node_b = nodes
    db = database.rsplit("dbname=", 1)[1]
    key = tmp_path / "a.key"
    key.write_bytes((node_a.data / "node.key").read_bytes())
    old = tmp_path / "old.crt"
    old.write_text(postgres.psql("SELECT cert FROM nodes WHERE name = 'a'", db) + "\n")
    status, body = peer_request(node_b.peer, "GET", "/vps", headers={"X-Vps-Caller": ROOT},
                                cert=(old, key))
    assert status == 200 and json.loads(body) == [], (status, body)
    # the header is still required from a member: without it, no caller
    status, body = peer_request(node_b.peer, "GET", "/vps", cert=(old, key))
    assert status in (401, 403), (status, body)
    node_a.stop()
    node_a.start(extra=("--tcp", f"127.0.0.1:{node_a.port}", "--cluster", database, "--node",
                        "a", "--peer", f"127.0.0.1:{node_a.peer}", *BEAT))
    new = tmp_path / "new.crt"
    new.write_text(postgres.psql("SELECT cert FROM nodes WHERE name = 'a'", db) + "\n")
    assert new.read_text() != old.read_text()
    status, body = peer_request(node_b.peer, "GET", "/vps", headers={"X-Vps-Caller": ROOT},
                                cert=(old, key))
    assert status in (401, 403), (status, body)
    status, body = peer_request(node_b.peer, "GET", "/vps", headers={"X-Vps-Caller": ROOT},
                                cert=(new, key))
    assert status == 200, (status, body)
