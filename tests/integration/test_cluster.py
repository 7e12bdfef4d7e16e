# SPDX-License-Identifier: GPL-2.0-or-later
"""vpsd on a shared PostgreSQL store (issue 19's first piece, docs/cluster.md):
a real PostgreSQL started by the test (framework/pg.py: initdb as nobody,
a unix socket in its own directory, no TCP), vpsd --cluster against it.
One vpsd through the whole API flow; two vpsds (nodes a and b) on one
database seeing one VPS list and one set of sessions; the two racing for
the last room, one admitted; hostile values through the API.

The two vpsds run on one host, each with its own data and run directory,
socket and TCP port. No test here makes a network: networks live in the
shared store and every node would raise the same bridge names and
nftables table at start (node-local networks come with membership).

Run as root: /usr/bin/python3 -m pytest -q -p no:cacheprovider test_cluster.py"""

import concurrent.futures
import json
import subprocess
import threading

import pytest

from framework.openapi import start_vpsd, tcp, unix
from framework.pg import Postgres, why_not
from framework.vpsd import VPSD, Vpsd

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
    d = start_vpsd(extra=("--cluster", database, "--node", "a"))
    yield d
    d.cleanup()


@pytest.fixture
def node_b(database, node_a):
    d = start_vpsd(extra=("--cluster", database, "--node", "b"))
    yield d
    d.cleanup()


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
    assert postgres.psql("SELECT version FROM vps_schema", db) == "2"


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


def test_admission_race_across_nodes(node_a, node_b):
    """Memory reserve with room for one: creates fired at both nodes at once,
    one made, the other 409 no_room; both nodes list the one. Rounds, as
    test_policy.py's race: the loser must never slip in."""
    each = (int(meminfo("MemTotal") * 0.6) // MiB) * MiB  # one fits, two do not
    a, b = unix(node_a), unix(node_b)
    a.api("PUT", "/policies", {"memory": {"mode": "reserve"}})
    assert b.api("GET", "/policies")["memory"]["mode"] == "reserve"  # one store
    for rnd in range(4):
        go = threading.Barrier(2)

        def create(args):
            client, name = args
            go.wait()
            return client.request("POST", "/vps", ct_body(name, ram=each))

        names = [f"race{rnd}-a", f"race{rnd}-b"]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            answers = dict(zip(names, pool.map(create, zip((a, b), names))))
        won = [n for n, r in answers.items() if r.status == 201]
        assert len(won) == 1, (rnd, {n: (r.status, r.json) for n, r in answers.items()})
        lost = [r for n, r in answers.items() if n not in won]
        assert lost[0].status == 409 and lost[0].json["error"]["code"] == "no_room", lost
        for d in (a, b):
            assert [x["name"] for x in d.api("GET", "/vps")] == won
        (a if won[0].endswith("-a") else b).api("DELETE", f"/vps/{won[0]}")


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
