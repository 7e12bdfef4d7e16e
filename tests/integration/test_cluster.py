# SPDX-License-Identifier: GPL-2.0-or-later
"""vpsd on a shared PostgreSQL store (issue 19, docs/cluster.md): a real
PostgreSQL started by the test (framework/pg.py: initdb as nobody, a unix
socket in its own directory, no TCP), vpsd --cluster against it. One vpsd
through the whole API flow; two vpsds (nodes a and b, b joined with a
token) on one database seeing one VPS list and one set of sessions;
creates racing for the last room, no node over its policy; hostile values
through the API. Membership: joining with no, a forged, a used and an
expired token refused, a good one used up; the node list; a node killed
shown offline after the heartbeat timeout. Placement to the roomier node,
refusal naming every node's figures when all are full; work on another
node's VPS answered 421 naming it (a stranger gets the 404 of no VPS);
PostgreSQL stopped: 503, but for reads of the node's own VPSes answered
from its read copy to those the copy says may read them (a credential
revoked before the outage opens nothing), then everything back. The VPS
list a page at a time with its filters, on PostgreSQL and on SQLite.

The two vpsds run on one host, each with its own data and run directory,
socket and TCP port. No test here makes a network: networks live in the
shared store and every node would raise the same bridge names and
nftables table at start (node-local networks come with membership).

Run as root: /usr/bin/python3 -m pytest -q -p no:cacheprovider test_cluster.py"""

import concurrent.futures
import json
import os
import subprocess
import threading
import time

import pytest

from framework.ct import BUILD
from framework.openapi import start_vpsd, tcp, unix
from framework.pg import Postgres, why_not
from framework.vpsd import VPSD, Vpsd

VPS = BUILD / "src" / "cli" / "vps"
# fast heartbeats: a node is offline after 2 missed beats of 1 s
BEAT = ("--heartbeat", "1", "--offline-after", "2")

pytestmark = [pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built"),
              pytest.mark.skipif(why_not() is not None, reason=str(why_not()))]

MiB = 1 << 20
# a password a careless quoting would break: both quotes, SQL, a backslash, non-ASCII
PASSWORD = "it's \"q\" \\ '); DROP TABLE users; -- \u00e9t\u00e9"


@pytest.fixture(scope="module")
def postgres():
    pg = Postgres().start()
    yield pg
    pg.stop()


@pytest.fixture
def database(postgres, request):
    """A new database for one test: its conninfo."""
    name = "t_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")
    return postgres.createdb(name[:60])


@pytest.fixture
def node_a(database):
    """The first node of an empty database: it makes the cluster, no token."""
    d = start_vpsd(extra=("--cluster", database, "--node", "a", *BEAT))
    yield d
    d.cleanup()


def join_token(node, ttl=600):
    return unix(node).api("POST", "/nodes/tokens", {"ttl": ttl}, expect=201)["token"]


@pytest.fixture
def node_b(database, node_a):
    """A second node, joined with a token node a made."""
    d = start_vpsd(extra=("--cluster", database, "--node", "b", "--join", join_token(node_a),
                          *BEAT))
    yield d
    d.cleanup()


def refused(database, name, *extra):
    """Start a vpsd that must be refused: its exit status and log."""
    d = Vpsd()
    try:
        d.start(extra=("--cluster", database, "--node", name, *extra), wait=False)
        code = d.proc.wait(timeout=60)
        return code, d.log.read_text()
    finally:
        if d.proc and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        d.proc = None
        d.cleanup()


def nodes_of(node):
    return {n["name"]: n for n in unix(node).api("GET", "/nodes")}


def meminfo(key):
    for line in open("/proc/meminfo"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def ct_body(name, **kw):
    body = {"name": name, "kind": "ct", "template": "busybox", "ram": "128M", "disk": "64M",
            "cpus": 0.5}
    body.update(kw)
    return body


def test_api_flow_on_postgresql(postgres, database, node_a):
    """Login, create a container, list, start, stop, destroy: every row in
    PostgreSQL (read there with psql), none in a SQLite file."""
    db = database.rsplit("dbname=", 1)[1]
    admin = unix(node_a)
    admin.api("POST", "/users", {"name": "carol", "password": PASSWORD, "role": "admin"},
              expect=201)
    c = tcp(node_a)
    c.login("carol", PASSWORD)
    c.login("carol", PASSWORD[:-1], expect=401)  # the stored hash is of the whole password
    v = c.api("POST", "/vps", ct_body("web1"), expect=201)
    assert v["state"] == "stopped", v
    assert [x["name"] for x in c.api("GET", "/vps")] == ["web1"]
    assert c.api("POST", "/vps/web1/start")["state"] == "running"
    r = c.api("POST", "/vps/web1/exec", {"args": ["echo", "hi"]})
    assert r["status"] == 0 and r["stdout"].strip() == "hi", r
    assert c.api("POST", "/vps/web1/stop")["state"] == "stopped"
    assert postgres.psql("SELECT name, node, state FROM vps", db) == "web1|a|stopped"
    kinds = postgres.psql("SELECT kind FROM events WHERE vps = 'web1' ORDER BY id", db)
    assert kinds.split("\n")[:1] == ["create"] and "running" in kinds and "stopped" in kinds
    assert postgres.psql("SELECT count(*) FROM sessions", db) == "1"
    c.api("DELETE", "/vps/web1")
    assert c.api("GET", "/vps") == []
    assert postgres.psql("SELECT count(*) FROM vps", db) == "0"
    assert not (node_a.data / "vps.db").exists()
    assert postgres.psql("SELECT version FROM vps_schema", db) == "15"


def test_two_nodes_one_list(postgres, database, node_a, node_b):
    """What node a makes, node b lists; a session made on a is good on b;
    a user made on b logs in on a."""
    a, b = unix(node_a), unix(node_b)
    a.api("POST", "/vps", ct_body("on-a"), expect=201)
    b.api("POST", "/vps", ct_body("on-b"), expect=201)
    for d in (a, b):
        assert [x["name"] for x in d.api("GET", "/vps")] == ["on-a", "on-b"]
    assert b.api("GET", "/vps/on-a")["owner"] == "root"
    db = database.rsplit("dbname=", 1)[1]
    assert postgres.psql("SELECT name || ':' || node FROM vps ORDER BY name", db) == \
        "on-a:a\non-b:b"

    b.api("POST", "/users", {"name": "dave", "password": PASSWORD, "role": "admin"},
          expect=201)
    ca = tcp(node_a)
    ca.login("dave", PASSWORD)
    cb = tcp(node_b)
    cb.cookie, cb.csrf = ca.cookie, ca.csrf  # the session lives in the shared store
    assert [x["name"] for x in cb.api("GET", "/vps")] == ["on-a", "on-b"]
    ca.logout()
    assert cb.request("GET", "/vps").status == 401  # ended on a: ended on b


def test_settings_shared_by_nodes(postgres, database, node_a, node_b):
    """The require_2fa setting lives in the shared store: set on node a, node
    b's logins follow it within the 5 s its copy is kept (docs/auth.md,
    "Where it lives"), and so does b's session opened before; set back on b,
    a follows."""
    a, b = unix(node_a), unix(node_b)
    a.api("POST", "/users", {"name": "erin", "password": PASSWORD, "role": "customer"},
          expect=201)
    before = tcp(node_b)
    assert "2fa_required" not in before.login("erin", PASSWORD).json
    assert before.api("GET", "/me")["2fa_required"] is False
    a.api("PATCH", "/settings", {"require_2fa": "all"})
    db = database.rsplit("dbname=", 1)[1]
    assert postgres.psql("SELECT name || '=' || value FROM settings", db) == "require_2fa=all"

    def until(node, required):
        deadline = time.monotonic() + 10
        while True:
            r = tcp(node).login("erin", PASSWORD)
            if bool(r.json.get("2fa_required")) == required:
                return time.monotonic() - (deadline - 10)
            assert time.monotonic() < deadline, ("node still answers", r.json)
            time.sleep(0.2)

    # b's logins first (a GET /settings on b would read the row again at once)
    assert until(node_b, True) <= 6
    assert b.api("GET", "/settings") == {"require_2fa": "all"}
    # the session opened on b before the change is enrolment only too
    r = before.request("GET", "/vps", validate=False)
    assert r.status == 403 and r.code == "2fa_required", r.json
    b.api("PATCH", "/settings", {"require_2fa": "none"})
    assert until(node_a, False) <= 6
    assert a.api("GET", "/settings") == {"require_2fa": "none"}
    assert before.api("GET", "/vps") == []


def test_one_vpsd_per_node_name(database, node_a):
    """A second vpsd that calls itself `a` is refused at start: it would act
    on a's VPSes as its own."""
    d = Vpsd()
    try:
        d.start(extra=("--cluster", database, "--node", "a"), wait=False)
        assert d.proc.wait(timeout=30) == 1
        assert "node `a` runs already on this database" in d.log.read_text()
    finally:
        d.proc = None
        d.cleanup()
    assert unix(node_a).api("GET", "/vps") == []  # a is still up


def test_admission_race_across_nodes(postgres, database, node_a, node_b):
    """Memory reserve, each create 60% of RAM: each node has room for one.
    Rounds of three creates fired at once (two at a, one at b), no --node:
    every answer is 201, 409 no_room or 421 (placed on the other node), and
    no node ever holds two (0 over-allocations); the rows every node lists
    are the same."""
    each = (int(meminfo("MemTotal") * 0.6) // MiB) * MiB  # one fits a node, two do not
    a, b = unix(node_a), unix(node_b)
    db = database.rsplit("dbname=", 1)[1]
    a.api("PUT", "/policies", {"memory": {"mode": "reserve"}})
    assert b.api("GET", "/policies")["memory"]["mode"] == "reserve"  # one store
    for rnd in range(3):
        go = threading.Barrier(3)

        def create(args):
            client, name = args
            go.wait()
            return client.request("POST", "/vps", ct_body(name, ram=each))

        names = [f"race{rnd}-a1", f"race{rnd}-a2", f"race{rnd}-b"]
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            answers = dict(zip(names, pool.map(create, zip((a, a, b), names))))
        for n, r in answers.items():
            assert r.status in (201, 409, 421), (rnd, n, r.status, r.json)
            if r.status == 409:
                assert r.code == "no_room", r.json
            if r.status == 421:
                assert r.code == "other_node" and r.json["error"]["node"] in ("a", "b"), r.json
        per_node = postgres.psql("SELECT node || ':' || count(*) FROM vps GROUP BY node "
                                 "ORDER BY node", db)
        assert all(line.endswith(":1") for line in per_node.split("\n") if line), per_node
        won = sorted(n for n, r in answers.items() if r.status == 201)
        assert won, answers  # an empty cluster takes at least one
        for d in (a, b):
            assert sorted(x["name"] for x in d.api("GET", "/vps")) == won
        for n in won:
            (a if d_of(a, n) == "a" else b).api("DELETE", f"/vps/{n}")


def d_of(client, name):
    return client.api("GET", f"/vps/{name}")["node"]


def test_hostile_values_through_the_api(postgres, database, node_a, node_b):
    """A NUL in JSON is refused with nothing stored; quotes and SQL in
    values are kept as they are, and read the same through both nodes."""
    a, b = unix(node_a), unix(node_b)
    db = database.rsplit("dbname=", 1)[1]
    before = postgres.psql("SELECT count(*) FROM users", db)
    for body in ('{"name": "eve\\u0000x", "password": "long enough secret", "role": "admin"}',
                 '{"name": "eve", "password": "long enough\\u0000secret", "role": "admin"}'):
        r = a.request("POST", "/users", body, validate=False)
        assert r.status == 400, (body, r.status, r.json)
    assert postgres.psql("SELECT count(*) FROM users", db) == before
    assert postgres.psql("SELECT count(*) FROM users WHERE name LIKE 'eve%'", db) == "0"

    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostile x'); DROP TABLE vps; -- \"q\""
    v = a.api("POST", "/vps", ct_body("h1", ssh_keys=[key]), expect=201)
    for d in (a, b):
        got = d.api("GET", "/vps/h1")
        assert got["ssh_keys"] == [key], got
    assert postgres.psql("SELECT ssh_keys FROM vps WHERE name = 'h1'", db) == json.dumps(
        [key], separators=(",", ":"))
    assert v["name"] == "h1"
    # the password of quotes logs in through the other node
    a.api("POST", "/users", {"name": "frank", "password": PASSWORD, "role": "customer"},
          expect=201)
    tcp(node_b).login("frank", PASSWORD)
    assert postgres.psql("SELECT count(*) FROM vps", db) == "1"  # the tables are all there


def test_bad_cluster_flags(postgres, tmp_path):
    """--node alone, an empty node name, and a database that is not there:
    vpsd refuses to start and says why."""
    base = ["--data", str(tmp_path / "d"), "--run", str(tmp_path / "r")]
    for args, code, says in (
            (["--node", "a"], 2, "--node is for --cluster"),
            (["--cluster", postgres.conninfo(), "--node", ""], 2, "--node: expected"),
            (["--cluster", postgres.conninfo("nosuch"), "--node", "a"], 1,
             "connect to PostgreSQL")):
        r = subprocess.run([str(VPSD), *base, *args], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == code and says in r.stderr, (args, r.returncode, r.stderr)


# --- membership ---------------------------------------------------------------------------

def test_join_tokens(postgres, database, node_a):
    """A new node joins only with a token a member made: none, a forged
    one, an expired one and a used one are refused with the nodes table
    unchanged; a good one is used up by the join; the store keeps only its
    hash; a member comes back without one. Customers make no tokens."""
    db = database.rsplit("dbname=", 1)[1]

    def members():
        return postgres.psql("SELECT string_agg(name, ',' ORDER BY name) FROM nodes", db)

    assert members() == "a"
    code, log = refused(database, "x")
    assert code == 1 and "not a member of this cluster" in log and "--join TOKEN" in log, log
    code, log = refused(database, "x", "--join", "vpsjoin-" + "0" * 64)
    assert code == 1 and "join token is not valid" in log, log
    short = join_token(node_a, ttl=1)
    time.sleep(2.5)
    code, log = refused(database, "x", "--join", short)
    assert code == 1 and "join token is not valid" in log, log
    r = subprocess.run([str(VPS), "node", "token", "--for", "zz", "--ttl", "600", "--format",
                        "json"], capture_output=True, text=True,
                       env=dict(os.environ, VPS_SOCKET=str(node_a.sock)), timeout=60)
    assert r.returncode == 0, r.stderr
    bound = json.loads(r.stdout)
    assert bound["node"] == "zz" and bound["token"].startswith("vpsjoin-"), bound
    code, log = refused(database, "x", "--join", bound["token"])  # for zz only
    assert code == 1 and "for another name" in log, log
    assert members() == "a"

    token = join_token(node_a)
    assert token.startswith("vpsjoin-") and len(token) == 8 + 64
    assert postgres.psql(f"SELECT count(*) FROM join_tokens WHERE hash LIKE '%{token[8:20]}%'",
                         db) == "0"  # the secret is not stored, only its hash
    b = start_vpsd(extra=("--cluster", database, "--node", "b", "--join", token, *BEAT))
    try:
        assert members() == "a,b"
        assert postgres.psql("SELECT count(*) FROM join_tokens WHERE used IS NOT NULL "
                             "AND node = 'b'", db) == "1"
        code, log = refused(database, "c", "--join", token)  # used: once is all
        assert code == 1 and "join token is not valid" in log, log
        assert members() == "a,b"
        b.stop()
        b.start(extra=("--tcp", f"127.0.0.1:{b.port}", "--cluster", database, "--node", "b",
                       *BEAT))  # a member again, no token
        assert nodes_of(node_a)["b"]["state"] == "online"
    finally:
        b.cleanup()

    # a customer: no tokens, no node list; a bad ttl is refused
    adm = unix(node_a)
    adm.api("POST", "/users", {"name": "cust", "password": "cust password", "role": "customer"},
            expect=201)
    c = tcp(node_a)
    c.login("cust", "cust password")
    c.api("POST", "/nodes/tokens", {}, expect=403)
    c.api("GET", "/nodes", expect=403)
    r = adm.request("POST", "/nodes/tokens", {"ttl": 0}, validate=False)
    assert r.status == 400 and "`ttl`" in r.message, r
    assert postgres.psql("SELECT count(*) FROM join_tokens WHERE used IS NULL", db) == "2"


def test_node_list_and_heartbeat(node_a, node_b):
    """Both nodes list both, online, with their addresses and capacity, over
    the API and the CLI; b killed (SIGKILL: no goodbye) shows offline once
    its heartbeat is older than 2 beats of 1 s; b stopped cleanly shows
    offline at once."""
    for d, me in ((node_a, "a"), (node_b, "b")):
        ns = nodes_of(d)
        assert sorted(ns) == ["a", "b"], ns
        for name, n in ns.items():
            assert n["state"] == "online" and n["self"] == (name == me), n
            assert n["ram"] == meminfo("MemTotal") and n["cpus"] >= 1 and n["disk"] > 0, n
        assert ns["b"]["address"] == f"http://127.0.0.1:{node_b.port}"
    r = subprocess.run([str(VPS), "node", "list", "--format", "json"], capture_output=True,
                       text=True, env=dict(os.environ, VPS_SOCKET=str(node_a.sock)), timeout=60)
    assert r.returncode == 0, r.stderr
    assert sorted(n["name"] for n in json.loads(r.stdout)) == ["a", "b"]
    r = subprocess.run([str(VPS), "node", "list"], capture_output=True, text=True,
                       env=dict(os.environ, VPS_SOCKET=str(node_a.sock)), timeout=60)
    assert r.returncode == 0 and "online" in r.stdout and "127.0.0.1" in r.stdout, r

    node_b.kill9()
    killed = time.monotonic()
    while nodes_of(node_a)["b"]["state"] == "online":
        assert time.monotonic() - killed < 10, "b still online 10 s after it was killed"
        time.sleep(0.2)
    took = time.monotonic() - killed
    assert took >= 1.0, took  # not before the timeout: 2 beats of 1 s
    print(f"killed node shown offline after {took:.1f} s (heartbeat 1 s, offline after 2)")
    assert nodes_of(node_a)["a"]["state"] == "online"


def test_clean_stop_is_offline_at_once(database, node_a, node_b):
    node_b.stop()
    assert nodes_of(node_a)["b"]["state"] == "offline"


# --- placement ----------------------------------------------------------------------------

def test_placement(postgres, database, node_a, node_b):
    """Memory reserve, 60% of RAM a VPS: pinned to a it goes on a; the next
    one, sent to a, is placed on b (the roomier) and answered 421 naming b
    and its address; sent there it is made on b. A third has no room on
    either: 409 naming both nodes' figures. A pin to an unknown node is
    400, to an offline one 409; a customer may not pin."""
    each = (int(meminfo("MemTotal") * 0.6) // MiB) * MiB
    a, b = unix(node_a), unix(node_b)
    db = database.rsplit("dbname=", 1)[1]
    a.api("PUT", "/policies", {"memory": {"mode": "reserve"}})
    assert a.api("POST", "/vps", ct_body("p1", ram=each, node="a"), expect=201)["node"] == "a"
    r = a.request("POST", "/vps", ct_body("p2", ram=each))
    assert r.status == 421 and r.code == "other_node", r
    assert r.json["error"]["node"] == "b"
    assert r.json["error"]["address"] == f"http://127.0.0.1:{node_b.port}"
    assert "node `b`" in r.message, r
    assert postgres.psql("SELECT count(*) FROM vps WHERE name = 'p2'", db) == "0"
    # the client follows: the same create, sent where it was told
    assert b.api("POST", "/vps", ct_body("p2", ram=each, node="b"), expect=201)["node"] == "b"
    assert a.api("GET", "/vps/p2")["node"] == "b"  # every node shows where it is
    r = b.request("POST", "/vps", ct_body("p3", ram=each))
    assert r.status == 409 and r.code == "no_room", r
    assert "node `a`" in r.message and "node `b`" in r.message and "left" in r.message, r
    r = a.request("POST", "/vps", ct_body("p3", ram=MiB * 128, node="zz"))
    assert r.status == 400 and "no node named `zz`" in r.message, r
    r = a.request("POST", "/vps", ct_body("p3", ram=MiB * 128, node=""), validate=False)
    assert r.status == 400 and "`node`" in r.message, r
    a.api("POST", "/users", {"name": "pin", "password": "pin password", "role": "customer"},
          expect=201)
    a.api("POST", "/plans", {"name": "tiny", "ram": "128M", "disk": "64M", "cpus": 0.5},
          expect=201)
    c = tcp(node_a)
    c.login("pin", "pin password")
    r = c.request("POST", "/vps", {"name": "p4", "kind": "ct", "template": "busybox",
                                   "plan": "tiny", "node": "a"})
    assert r.status == 403 and "`node`" in r.message, r
    b.api("DELETE", "/vps/p2")
    node_b.stop()
    r = a.request("POST", "/vps", ct_body("p5", ram=MiB * 128, node="b"))
    assert r.status == 409 and "node `b` is offline" in r.message, r
    assert postgres.psql("SELECT string_agg(name, ',') FROM vps", db) == "p1"


# --- work on another node's VPS -----------------------------------------------------------

def test_other_nodes_vps_is_misdirected(postgres, database, node_a, node_b):
    """A VPS on b: through a, its show and usage answer (the store), its
    start, exec, stop, change and destroy answer 421 naming b and b's
    address, with nothing done; through b they work. A customer gets the
    same 421 for their own VPS, and for another customer's the 404 of a
    VPS that does not exist (no hint of where it is)."""
    a, b = unix(node_a), unix(node_b)
    db = database.rsplit("dbname=", 1)[1]
    a.api("POST", "/users", {"name": "own", "password": "own password", "role": "customer"},
          expect=201)
    a.api("POST", "/users", {"name": "oth", "password": "oth password", "role": "customer"},
          expect=201)
    b.api("POST", "/vps", ct_body("m1", owner="own", node="b"), expect=201)
    assert a.api("GET", "/vps/m1")["node"] == "b"
    a.api("GET", "/vps/m1/usage")
    for method, path, body in (("POST", "/vps/m1/start", None),
                               ("POST", "/vps/m1/exec", {"args": ["true"]}),
                               ("POST", "/vps/m1/stop", None),
                               ("PATCH", "/vps/m1", {"hostname": "x"}),
                               ("DELETE", "/vps/m1", None)):
        r = a.request(method, path, body)
        assert r.status == 421 and r.code == "other_node", (method, path, r)
        assert r.json["error"]["node"] == "b"
        assert r.json["error"]["address"] == f"http://127.0.0.1:{node_b.port}"
    assert postgres.psql("SELECT state || ':' || coalesce(hostname, '-') FROM vps "
                         "WHERE name = 'm1'", db) == "stopped:m1"
    own, oth = tcp(node_a), tcp(node_a)
    own.login("own", "own password")
    oth.login("oth", "oth password")
    r = own.request("POST", "/vps/m1/start")
    assert r.status == 421 and r.json["error"]["node"] == "b", r
    r = oth.request("POST", "/vps/m1/start")
    nothing = oth.request("POST", "/vps/zz-none/start")
    assert (r.status, r.json) == (404, {"error": {**nothing.json["error"],
                                                  "message": r.message}}), r
    assert r.message == nothing.message.replace("zz-none", "m1"), (r, nothing)
    # on b, its own node, the work is done
    assert b.api("POST", "/vps/m1/start")["state"] == "running"
    x = b.api("POST", "/vps/m1/exec", {"args": ["echo", "on-b"]})
    assert x["stdout"].strip() == "on-b", x
    assert b.api("POST", "/vps/m1/stop")["state"] == "stopped"
    b.api("DELETE", "/vps/m1")
    assert postgres.psql("SELECT count(*) FROM vps", db) == "0"


# --- the database away --------------------------------------------------------------------

def test_store_away_answers_503(postgres, database):
    """PostgreSQL stopped, the read copy off (--stale-reads 0): vpsd stays
    up; API calls, reads of its own VPSes too, answer 503 store_unavailable
    at once (no hang, no 401 for a session it cannot look up); started
    again, everything answers as before."""
    node_a = start_vpsd(extra=("--cluster", database, "--node", "a", *BEAT,
                               "--stale-reads", "0"))
    try:
        away_503(postgres, node_a)
    finally:
        node_a.cleanup()


def away_503(postgres, node_a):
    a = unix(node_a)
    a.api("POST", "/vps", ct_body("s1"), expect=201)
    a.api("POST", "/users", {"name": "sam", "password": "sam password", "role": "admin"},
          expect=201)
    c = tcp(node_a)
    c.login("sam", "sam password")
    postgres.pause()
    slowest = 0
    try:
        for client, method, path in ((a, "GET", "/vps"), (a, "GET", "/nodes"),
                                     (c, "GET", "/vps"), (a, "POST", "/vps/s1/start"),
                                     (a, "GET", "/vps/s1")):
            t0 = time.monotonic()
            r = client.request(method, path, timeout=30)
            took = time.monotonic() - t0
            assert r.status == 503 and r.code == "store_unavailable", (method, path, r)
            assert "PostgreSQL" in r.message and took < 10, (r, took)
            slowest = max(slowest, took)
        r = tcp(node_a).request("POST", "/login", {"name": "sam", "password": "sam password"})
        assert r.status == 503, r
        assert node_a.proc.poll() is None  # still running
        print(f"503 with PostgreSQL stopped: the slowest answer took {slowest * 1000:.0f} ms")
    finally:
        postgres.resume()
    back = time.monotonic()
    deadline = time.monotonic() + 20
    while a.request("GET", "/vps").status != 200:
        assert time.monotonic() < deadline, "no recovery 20 s after PostgreSQL came back"
        time.sleep(0.2)
    print(f"answering again {time.monotonic() - back:.2f} s after PostgreSQL was back")
    assert [v["name"] for v in a.api("GET", "/vps")] == ["s1"]
    assert [v["name"] for v in c.api("GET", "/vps")] == ["s1"]  # the session outlived it
    deadline = time.monotonic() + 10
    while nodes_of(node_a)["a"]["state"] != "online":  # the heartbeat is back
        assert time.monotonic() < deadline
        time.sleep(0.2)


def stale(r):
    """The copy's age an answer from the read copy gives (X-Vps-Stale), or None."""
    v = r.headers.get("X-Vps-Stale")
    return None if v is None else int(v)


def test_store_away_local_reads(postgres, database, node_a, node_b):
    """PostgreSQL stopped: node a answers reads of its own VPSes from the
    copy its heartbeats took (marked X-Vps-Stale), to whom the copy says may
    read them: the owner's session and live token, the administrator. A
    token revoked, a session logged out and a session ended by a password
    change before the outage open nothing; another customer's VPS on a, a
    VPS on b and a name that does not exist answer the one same 503; every
    write is 503 naming PostgreSQL; the running container keeps running.
    Started again: the whole list, no header, writes, the revoked token
    still refused."""
    a, b = unix(node_a), unix(node_b)
    for u in ("own", "oth"):
        a.api("POST", "/users", {"name": u, "password": f"{u} password", "role": "customer"},
              expect=201)
    a.api("POST", "/vps", ct_body("l1", owner="own", node="a"), expect=201)
    a.api("POST", "/vps", ct_body("l2", owner="oth", node="a"), expect=201)
    b.api("POST", "/vps", ct_body("r1", owner="own", node="b"), expect=201)
    assert a.api("POST", "/vps/l1/start")["state"] == "running"
    own, oth, gone, moved = (tcp(node_a) for _ in range(4))
    own.login("own", "own password")
    gone.login("own", "own password")
    moved.login("oth", "oth password")
    a.api("PATCH", "/users/oth", {"password": "a new password"})  # ends oth's sessions
    oth.login("oth", "a new password")
    keep = tcp(node_a, token=a.api("POST", "/tokens", {"name": "k", "expires_in": 3600,
                                                       "user": "own"}, expect=201)["token"])
    made = a.api("POST", "/tokens", {"name": "r", "expires_in": 3600, "user": "own"},
                 expect=201)
    revoked = tcp(node_a, token=made["token"])
    assert revoked.api("GET", "/vps/l1")["name"] == "l1"  # good until revoked
    a.api("DELETE", f"/tokens/{made['id']}")
    gone.logout()
    assert moved.request("GET", "/vps/l2").status == 401
    time.sleep(2.5)  # the revocations in the copy: one heartbeat of 1 s, twice over
    postgres.pause()
    try:
        r = own.request("GET", "/vps/l1", timeout=30)
        assert r.status == 200 and r.json["name"] == "l1", r
        assert r.json["state"] == "running" and r.json["node"] == "a", r.json
        assert 0 <= stale(r) <= 5, r.headers
        r = own.request("GET", "/vps", timeout=30)
        assert r.status == 200 and stale(r) is not None, r
        assert [v["name"] for v in r.json] == ["l1"], r.json  # not b's r1, not oth's l2
        r = keep.request("GET", "/vps/l1", timeout=30)
        assert r.status == 200 and r.json["owner"] == "own", r
        r = a.request("GET", "/vps", timeout=30)
        assert sorted(v["name"] for v in r.json) == ["l1", "l2"] and stale(r) is not None, r
        assert a.request("GET", "/vps/l2").json["owner"] == "oth"
        # what the copy cannot answer for this caller: the one 503 of the database away
        nothing = own.request("GET", "/vps/zz-none", timeout=30)
        assert nothing.status == 503 and nothing.code == "store_unavailable", nothing
        for client, path in ((own, "/vps/l2"), (own, "/vps/r1"), (oth, "/vps/l1"),
                             (revoked, "/vps/l1"), (revoked, "/vps"), (gone, "/vps/l1"),
                             (gone, "/vps"), (moved, "/vps/l2"),
                             (tcp(node_a, token="vps_" + "0" * 40), "/vps/l1"),
                             (tcp(node_a), "/vps/l1")):
            r = client.request("GET", path, timeout=30)
            assert (r.status, r.json, stale(r)) == (503, nothing.json, None), (path, r)
        r = oth.request("GET", "/vps", timeout=30)
        assert r.status == 200 and [v["name"] for v in r.json] == ["l2"], r
        # writes: 503 with the reason, nothing done
        for client, method, path, body in ((own, "POST", "/vps/l1/stop", None),
                                           (own, "PATCH", "/vps/l1", {"hostname": "x"}),
                                           (a, "POST", "/vps", ct_body("l3")),
                                           (a, "DELETE", "/vps/l2", None),
                                           (own, "POST", "/logout", None),
                                           (a, "GET", "/nodes", None)):
            r = client.request(method, path, body, timeout=30)
            assert r.status == 503 and r.code == "store_unavailable", (method, path, r)
            assert "PostgreSQL" in r.message, r
        r = tcp(node_a).request("POST", "/login", {"user": "own", "password": "own password"})
        assert r.status == 503, r
        assert own.request("GET", "/vps/l1").json["state"] == "running"
        assert node_a.proc.poll() is None
    finally:
        postgres.resume()
    deadline = time.monotonic() + 20
    while (r := own.request("GET", "/vps")).status != 200 or stale(r) is not None:
        assert time.monotonic() < deadline, "no recovery 20 s after PostgreSQL came back"
        time.sleep(0.2)
    assert sorted(v["name"] for v in r.json) == ["l1", "r1"], r.json  # the whole list again
    assert own.api("POST", "/vps/l1/stop")["state"] == "stopped"
    assert revoked.request("GET", "/vps/l1").status == 401
    assert gone.request("GET", "/vps/l1").status == 401
    a.api("DELETE", "/vps/l1")
    assert [v["name"] for v in own.api("GET", "/vps")] == ["r1"]


def test_store_away_copy_expires(postgres, database):
    """--stale-reads 3: the copy answers for 3 s after the last heartbeat
    that took it, then the database's 503."""
    d = start_vpsd(extra=("--cluster", database, "--node", "a", *BEAT, "--stale-reads", "3"))
    try:
        a = unix(d)
        a.api("POST", "/vps", ct_body("e1"), expect=201)
        time.sleep(1.5)
        postgres.pause()
        try:
            t0 = time.monotonic()
            r = a.request("GET", "/vps/e1", timeout=30)
            assert r.status == 200 and stale(r) is not None, r
            while time.monotonic() - t0 < 5:
                time.sleep(0.5)
            r = a.request("GET", "/vps/e1", timeout=30)
            assert r.status == 503 and r.code == "store_unavailable", r
        finally:
            postgres.resume()
        deadline = time.monotonic() + 20
        while (r := a.request("GET", "/vps/e1")).status != 200 or stale(r) is not None:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        d.cleanup()


# --- the VPS list a page at a time ---------------------------------------------------------

def list_pages(d, node):
    """GET /vps?limit=&after= and its filters on one vpsd; `node` its node's name."""
    a = unix(d)
    for u in ("pown", "poth"):
        a.api("POST", "/users", {"name": u, "password": f"{u} password", "role": "customer"},
              expect=201)
    names = ["pg-c", "pg-a", "pg-e", "pg-b", "pg-d"]
    for i, n in enumerate(names):
        a.api("POST", "/vps", ct_body(n, owner="poth" if i % 2 else "pown"), expect=201)
    a.api("POST", "/vps/pg-e/start")
    every = sorted(names)
    assert [v["name"] for v in a.api("GET", "/vps")] == every
    # walked two at a time, each once, in name order
    seen, after = [], None
    while True:
        page = a.api("GET", "/vps?limit=2" + (f"&after={after}" if after else ""))
        assert len(page) <= 2
        seen += [v["name"] for v in page]
        if len(page) < 2:
            break
        after = page[-1]["name"]
    assert seen == every, seen
    assert [v["name"] for v in a.api("GET", "/vps?after=pg-c")] == ["pg-d", "pg-e"]
    assert [v["name"] for v in a.api("GET", "/vps?state=running")] == ["pg-e"]
    assert [v["name"] for v in a.api("GET", "/vps?owner=poth")] == ["pg-a", "pg-b"]
    assert [v["name"] for v in a.api("GET", f"/vps?node={node}&limit=1")] == ["pg-a"]
    assert a.api("GET", "/vps?node=zz") == []
    # a customer: their own, whatever the filters say
    c = tcp(d)
    c.login("pown", "pown password")
    assert [v["name"] for v in c.api("GET", "/vps?limit=1000")] == ["pg-c", "pg-d", "pg-e"]
    assert [v["name"] for v in c.api("GET", "/vps?limit=1&after=pg-c")] == ["pg-d"]
    assert c.api("GET", "/vps?owner=poth") == []
    assert c.api("GET", "/vps?owner=pown&state=running")[0]["name"] == "pg-e"
    # hostile cursors and filters: refused, or taken as the strings they are
    for q in ("limit=0", "limit=1001", "limit=x", "limit=", "limit=-1", "state=bogus",
              "owner=", "after=" + "a" * 33):
        r = c.request("GET", "/vps?" + q, validate=False)
        assert r.status == 400, (q, r)
    assert c.api("GET", "/vps?after=%27%20OR%20%271%27%3D%271", validate=False) != []
    for q in ("owner=%27%20OR%20%271%27%3D%271", "node=%27%3B%20DROP%20TABLE%20vps%3B--",
              "owner=poth%27--"):
        assert c.api("GET", "/vps?" + q, validate=False) == [], q
        assert a.api("GET", "/vps?" + q, validate=False) == [], q
    assert [v["name"] for v in a.api("GET", "/vps")] == every  # nothing dropped
    # the CLI
    r = subprocess.run([str(VPS), "list", "--limit", "2", "--after", "pg-a", "--owner", "pown",
                        "--format", "json"], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, VPS_SOCKET=str(d.sock)))
    assert r.returncode == 0, r.stderr
    assert [v["name"] for v in json.loads(r.stdout)] == ["pg-c", "pg-d"]
    r = subprocess.run([str(VPS), "list", "--owner", "x'y"], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, VPS_SOCKET=str(d.sock)))
    assert r.returncode != 0 and "--owner" in r.stderr, r
    a.api("POST", "/vps/pg-e/stop")


def test_vps_list_pages_postgresql(database, node_a):
    list_pages(node_a, "a")


def test_vps_list_pages_sqlite():
    d = start_vpsd()
    try:
        node = unix(d).api("GET", "/nodes")[0]["name"]
        list_pages(d, node)
    finally:
        d.cleanup()


def test_other_lists_page():
    """Users, nodes, networks, plans and pools by name, tokens and webhooks by
    id: limit and after as on the VPS list; a bad limit or after 400; a
    customer's tokens page holds their own only."""
    d = start_vpsd()
    try:
        a = unix(d)
        for u in ("lu-c", "lu-a", "lu-b"):
            a.api("POST", "/users", {"name": u, "password": f"{u} password",
                                     "role": "customer"}, expect=201)
        every = sorted(u["name"] for u in a.api("GET", "/users"))
        assert [u["name"] for u in a.api("GET", "/users?limit=2")] == every[:2]
        rest = a.api("GET", f"/users?after={every[1]}")
        assert [u["name"] for u in rest] == every[2:]
        assert a.api("GET", "/users?after=lu-b&limit=1")[0]["name"] == "lu-c"
        ids = [a.api("POST", "/tokens", {"name": f"t{i}", "expires_in": 600, "user": "lu-a"},
                     expect=201)["id"] for i in range(3)]
        mine = a.api("POST", "/tokens", {"name": "m", "expires_in": 600, "user": "lu-b"},
                     expect=201)
        assert [t["id"] for t in a.api("GET", f"/tokens?after={ids[0]}&limit=1")] == [ids[1]]
        assert [t["id"] for t in a.api("GET", f"/tokens?after={ids[2]}")] == [mine["id"]]
        c = tcp(d, token=mine["token"])
        assert [t["id"] for t in c.api("GET", "/tokens?after=0&limit=1000")] == [mine["id"]]
        node = a.api("GET", "/nodes")[0]["name"]
        assert [n["name"] for n in a.api("GET", "/nodes?limit=1")] == [node]
        assert a.api("GET", f"/nodes?after={node}") == []
        for path in ("/networks", "/plans", "/pools", "/webhooks"):
            assert a.api("GET", f"{path}?limit=1000") == a.api("GET", path)[:1000], path
        for q in ("/users?limit=0", "/users?limit=1001", "/nodes?limit=x", "/tokens?after=x",
                  "/tokens?after=-1", "/plans?limit=", "/webhooks?after=1.5"):
            r = a.request("GET", q, validate=False)
            assert r.status == 400, (q, r)
    finally:
        d.cleanup()
