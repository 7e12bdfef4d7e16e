# SPDX-License-Identifier: GPL-2.0-or-later
"""Attacks by a customer through the API (issue 15, docs/security.md): what
a paying stranger with a login or a token tries against a private vpsd on
TCP, each shown refused and the host unchanged. Plan limits on every path
that creates, ISOs only by name, `owner` a real user, JSON only as JSON,
tokens that never outlive or widen the token that made them, secrets that
die with a password change, logins that cannot exhaust the host's memory
or be guessed from many addresses, connection limits, networks per owner
and console slots per user."""

import json
import socket
import subprocess
import threading
import time
import uuid
import http.client

import pytest

from framework.openapi import start_vpsd, tcp, unix
from framework.vpsd import VPSD, Vpsd, check_answer, free_port

pytestmark = pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built")

PASSWORDS = {"alice": "alice's long secret", "bob": "bob's long secret"}


class Env:
    """A vpsd with customers alice (VPS a1, a busybox container, not
    started) and bob, a plan `small` (128M, 1 CPU); alice logged in."""

    def __init__(self, d):
        self.d = d
        self.admin = unix(d)
        for name in PASSWORDS:
            self.admin.api("POST", "/users", {"name": name, "password": PASSWORDS[name],
                                              "role": "customer"}, expect=201)
        self.admin.api("POST", "/plans", {"name": "small", "ram": "128M", "disk": "64M",
                                          "cpus": 1}, expect=201)
        self.alice = self.login("alice")
        self.alice.api("POST", "/vps", {"name": "a1", "kind": "ct", "template": "busybox",
                                        "plan": "small"}, expect=201)

    def login(self, user):
        c = tcp(self.d)
        c.login(user, PASSWORDS[user])
        return c

    def names(self):
        return sorted(v["name"] for v in self.admin.api("GET", "/vps"))


@pytest.fixture(scope="module")
def env():
    d = start_vpsd()
    try:
        yield Env(d)
        d.destroy_all_and_stop()  # a sanitizer's report fails the module
    finally:
        d.cleanup()


def raw(d, method, path, body=b"", headers=None, source="127.0.0.1", timeout=60):
    """One request over TCP from a chosen loopback address: (status, headers, json),
    the answer checked against docs/openapi.json."""
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=timeout,
                                   source_address=(source, 0))
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        text = r.read().decode(errors="replace")
        try:
            j = json.loads(text) if text else None
        except json.JSONDecodeError:
            j = text
        check_answer(method, path, r.status, r.headers, j)
        return r.status, r.headers, j
    finally:
        c.close()


# --- plan limits on every path that creates -------------------------------------------

@pytest.mark.parametrize("extra", [{}, {"plan": "small"}, {"owner": "bob"}, {"owner": "ghost"}])
def test_create_through_an_action_is_refused(env, extra):
    """`POST /vps/<own>/create` went to the create work with the body as
    sent: 8G and 2 CPUs on a 128M plan, for any owner."""
    before = env.names()
    body = {"name": "big1", "kind": "ct", "template": "busybox", "ram": "8G", "cpus": 2}
    body.update(extra)
    r = env.alice.request("POST", "/vps/a1/create", body)
    assert r.status == 404, r
    assert env.names() == before
    # not for the administrator either: a VPS is created by POST /vps alone
    r = env.admin.request("POST", "/vps/a1/create", body)
    assert r.status == 404, r
    assert env.names() == before


@pytest.mark.parametrize("action", ["suspend", "unsuspend", "plan", "create", "nosuch"])
def test_customer_actions_are_an_allow_list(env, action):
    r = env.alice.request("POST", f"/vps/a1/{action}", {"plan": "small"})
    assert r.status in (403, 404), r
    assert not env.alice.api("GET", "/vps/a1")["suspended"]


def test_customer_create_takes_only_what_a_customer_sends(env):
    before = env.names()
    for k, v in (("ram", "8G"), ("cpus", 2), ("owner", "bob"), ("ipv4", "10.0.0.9")):
        r = env.alice.request("POST", "/vps", {"name": "a9", "kind": "ct",
                                               "template": "busybox", "plan": "small", k: v})
        assert r.status == 403 and f"`{k}`" in r.message, (k, r)
    assert env.names() == before


# --- a plan's pids limit -------------------------------------------------------------------

def test_customer_cannot_raise_the_plans_pids(env):
    """A plan's pids limit holds on every path a customer has: create, PATCH, a
    plan change (admins only)."""
    env.admin.api("POST", "/plans", {"name": "pids64", "ram": "128M", "disk": "64M",
                                     "cpus": 1, "pids": 64}, expect=201)
    assert env.admin.api("GET", "/plans/pids64")["pids"] == 64
    assert env.admin.api("GET", "/plans/small")["pids"] == 0  # the host's default
    before = env.names()
    for pids in (100000, 0, 64):  # more, "the host's default", even the plan's own
        r = env.alice.request("POST", "/vps", {"name": "a8", "kind": "ct",
                                               "template": "busybox", "plan": "pids64",
                                               "pids": pids})
        assert r.status == 403 and "`pids`" in r.message, (pids, r)
    assert env.names() == before
    r = env.alice.request("PATCH", "/vps/a1", {"pids": 100000})
    assert r.status == 403 and "`pids`" in r.message, r
    r = env.alice.request("POST", "/vps/a1/plan", {"plan": "pids64"})
    assert r.status == 403, r
    assert env.admin.api("GET", "/vps/a1")["pids"] == 0
    # a customer's VPS of the plan has the plan's
    env.alice.api("POST", "/vps", {"name": "a8", "kind": "ct", "template": "busybox",
                                   "plan": "pids64"}, expect=201)
    assert env.alice.api("GET", "/vps/a8")["pids"] == 64
    env.admin.api("DELETE", "/vps/a8")


# --- a container's switches and IO limits ------------------------------------------------

def test_customer_cannot_turn_on_switches_or_lift_io_limits(env):
    """The switches (tun, fuse, nesting) and the disk's IO limits are the
    provider's to give: a customer sends neither at create nor in a PATCH,
    and gets the plan's."""
    env.admin.api("POST", "/plans", {"name": "vpn", "ram": "128M", "disk": "64M", "cpus": 1,
                                     "features": ["tun"], "io_write_bps": "4M"}, expect=201)
    before = env.names()
    for field, value in (("features", ["tun", "fuse", "nesting"]), ("features", []),
                         ("io_write_bps", 0), ("io_read_iops", 1000000)):
        r = env.alice.request("POST", "/vps", {"name": "a9", "kind": "ct",
                                               "template": "busybox", "plan": "vpn",
                                               field: value})
        assert r.status == 403 and f"`{field}`" in r.message, (field, r)
        r = env.alice.request("PATCH", "/vps/a1", {field: value})
        assert r.status == 403 and f"`{field}`" in r.message, (field, r)
    assert env.names() == before
    a1 = env.admin.api("GET", "/vps/a1")
    assert a1["features"] == [] and a1["io_read_iops"] == 0, a1
    env.alice.api("POST", "/vps", {"name": "a9", "kind": "ct", "template": "busybox",
                                   "plan": "vpn"}, expect=201)
    a9 = env.alice.api("GET", "/vps/a9")
    assert a9["features"] == ["tun"] and a9["io_write_bps"] == 4 << 20, a9
    env.admin.api("DELETE", "/vps/a9")


# --- ISOs only by name -------------------------------------------------------------------

@pytest.mark.parametrize("iso", ["/etc/passwd", "../../../../etc/passwd", "/dev/sda",
                                 ".hidden", "nosuch"])
def test_iso_is_an_uploaded_name(env, iso):
    before = env.names()
    body = {"name": "v1", "kind": "vm", "boot": "firmware", "iso": iso, "plan": "small"}
    r = env.alice.request("POST", "/vps", body)
    assert r.status == 400 and "`iso`" in r.message, r
    # the provider's own requests too: no host path reaches QEMU
    body.pop("plan")
    r = env.admin.request("POST", "/vps", dict(body, ram="128M", disk="64M"))
    assert r.status == 400 and "`iso`" in r.message, r
    assert env.names() == before


# --- JSON only as JSON ---------------------------------------------------------------------

def test_cross_site_form_login_is_refused(env):
    """A text/plain form's body can be made JSON (name `{"user":"bob","password":"x`,
    value `y"}`): such a request must log nobody in."""
    body = '{"user":"bob","password":"bob\'s long secret"}'
    status, headers, j = raw(env.d, "POST", "/api/v1/login", body,
                             {"Content-Type": "text/plain"}, source="127.0.0.3")
    assert status == 415, (status, j)
    assert not headers.get("Set-Cookie")
    assert j["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=x"])
def test_json_bodies_need_json(env, ctype):
    before = env.names()
    h = {"Cookie": f"vps_session={env.alice.cookie}", "X-CSRF-Token": env.alice.csrf}
    if ctype:
        h["Content-Type"] = ctype
    body = json.dumps({"name": "a7", "kind": "ct", "template": "busybox", "plan": "small"})
    status, _, j = raw(env.d, "POST", "/api/v1/vps", body, h)
    assert status == 415, (status, j)
    assert env.names() == before
    # the right type with its parameters is fine (here refused for the name only)
    h["Content-Type"] = "application/json; charset=utf-8"
    status, _, j = raw(env.d, "POST", "/api/v1/vps", json.dumps({"name": "a1"}), h)
    assert status == 400, (status, j)


# --- tokens and passwords -----------------------------------------------------------------

def test_minted_token_never_outlives_or_widens_its_parent(env):
    parent = env.alice.api("POST", "/tokens", {"name": "p", "expires_in": 600,
                                               "sources": ["127.0.0.1/32"]}, expect=201)
    via = tcp(env.d, token=parent["token"])
    r = via.request("POST", "/tokens", {"name": "long", "expires_in": 31536000})
    assert r.status == 403 and "`expires_in`" in r.message, r
    for wide in (["0.0.0.0/0"], ["127.0.0.0/8"], ["::/0"], ["127.0.0.2"]):
        r = via.request("POST", "/tokens", {"name": "wide", "expires_in": 60, "sources": wide})
        assert r.status == 403 and "`sources`" in r.message, (wide, r)
    # without sources the child takes its parent's; inside them is fine
    child = via.api("POST", "/tokens", {"name": "c", "expires_in": 300}, expect=201)
    assert child["sources"] == ["127.0.0.1/32"] and child["expires"] <= parent["expires"]
    via.api("POST", "/tokens", {"name": "c2", "expires_in": 60, "sources": ["127.0.0.1"]},
            expect=201)
    # and the child cannot mint a grandchild past itself
    r = tcp(env.d, token=child["token"]).request("POST", "/tokens",
                                                 {"name": "g", "expires_in": 500})
    assert r.status == 403, r
    mine = [t["name"] for t in env.alice.api("GET", "/tokens")]
    assert "long" not in mine and "wide" not in mine and "g" not in mine


def test_password_change_ends_tokens_and_sessions(env):
    env.admin.api("POST", "/users", {"name": "dave", "password": "dave's old secret",
                                     "role": "customer"}, expect=201)
    s = tcp(env.d)
    s.login("dave", "dave's old secret")
    t = s.api("POST", "/tokens", {"name": "t", "expires_in": 600}, expect=201)
    bearer = tcp(env.d, token=t["token"])
    bearer.api("GET", "/me")
    env.admin.api("PATCH", "/users/dave", {"password": "dave's new secret"})
    assert bearer.request("GET", "/me").status == 401
    assert s.request("GET", "/me").status == 401
    assert not [x for x in env.admin.api("GET", "/tokens") if x["user"] == "dave"]


# --- logins --------------------------------------------------------------------------------

def login_from(d, source, user, password="wrong password here", results=None):
    body = json.dumps({"user": user, "password": password})
    try:
        status, _, j = raw(d, "POST", "/api/v1/login", body,
                           {"Content-Type": "application/json"}, source=source, timeout=120)
    except OSError as e:
        status, j = "closed", str(e)
    if results is not None:
        results.append(status)
    return status


def parallel(n, fn):
    results = []
    ts = [threading.Thread(target=fn, args=(i, results)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


def test_parallel_failures_are_counted_before_the_hash(env):
    """Every failure was recorded after its argon2id hash: 16 wrong
    passwords at once all got through the check of the address's count."""
    got = parallel(16, lambda i, res: login_from(env.d, "127.0.0.4", "bob", results=res))
    assert got.count(401) <= 5 and set(got) <= {401, 429}, got
    # a 429 above may be "too many logins at once" (not counted: never hashed);
    # one at a time, the address has its five failures and no more
    for _ in range(6 - got.count(401)):
        got.append(login_from(env.d, "127.0.0.4", "bob"))
    assert got.count(401) == 5 and got[-1] == 429, got
    assert login_from(env.d, "127.0.0.4", "bob", PASSWORDS["bob"]) == 429


def test_failures_per_account_across_addresses(env):
    """A limit per exact address let anyone with many addresses guess on."""
    for i in range(10):
        assert login_from(env.d, f"127.0.2.{i + 1}", "alice") == 401
    assert login_from(env.d, "127.0.2.100", "alice") == 429
    assert login_from(env.d, "127.0.2.101", "alice", PASSWORDS["alice"]) == 429


def test_failures_per_ipv6_prefix():
    """Limits per exact address let one subscriber's /64 (2^64 addresses)
    guess on forever: five failures from five addresses of one /64 close it."""
    addrs = [f"fd15:15:15:15::{i}" for i in range(1, 8)]
    for a in addrs:
        subprocess.run(["ip", "-6", "addr", "add", f"{a}/128", "dev", "lo", "nodad"],
                       check=True)
    port = free_port()
    d = Vpsd().start(extra=("--tcp", f"[::1]:{port}"))
    try:
        def login6(src, user="nobody6"):
            c = http.client.HTTPConnection("::1", port, timeout=60, source_address=(src, 0))
            c.request("POST", "/api/v1/login", json.dumps({"user": user, "password": "x" * 12}),
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            text = r.read()
            check_answer("POST", "/api/v1/login", r.status, r.headers,
                         json.loads(text) if text else None)
            return r.status

        assert [login6(a) for a in addrs[:5]] == [401] * 5
        assert login6(addrs[5]) == 429
        assert login6(addrs[6], "other6") == 429  # the prefix, whatever the name
    finally:
        d.cleanup()
        for a in addrs:
            subprocess.run(["ip", "-6", "addr", "del", f"{a}/128", "dev", "lo"])


def vpsd_status(d, key):
    for line in open(f"/proc/{d.proc.pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(key)


def test_parallel_logins_do_not_exhaust_memory(env):
    """Each login hashed argon2id (64 MiB) on its own thread, all at once."""
    with open(f"/proc/{env.d.proc.pid}/clear_refs", "w") as f:
        f.write("5")  # the peak RSS starts again from the RSS now
    base = vpsd_status(env.d, "VmHWM")
    got = parallel(32, lambda i, res: login_from(env.d, f"127.0.3.{i + 1}", f"nobody{i}",
                                                 results=res))
    grown = vpsd_status(env.d, "VmHWM") - base
    assert grown < 256 << 20, (grown >> 20, got)
    print(f"peak RSS grew {grown >> 20} MiB; answers {sorted(got)}")
    assert set(got) <= {401, 429}, got


def test_connections_per_address_are_limited(env):
    """Idle connections from one address, held open: no limit filled the
    daemon with threads; past the limit a new one is refused, another
    address is still served, and an idle one is closed soon."""
    held = []
    try:
        for _ in range(40):
            s = socket.socket()
            s.bind(("127.0.0.5", 0))
            s.connect(("127.0.0.1", env.d.port))
            held.append(s)
        time.sleep(0.5)
        assert login_from(env.d, "127.0.0.5", "nobody") == "closed"
        assert login_from(env.d, "127.0.0.6", "nobody") == 401
    finally:
        for s in held:
            s.close()
    s = socket.socket()
    s.bind(("127.0.0.7", 0))
    s.connect(("127.0.0.1", env.d.port))
    s.settimeout(60)
    t0 = time.monotonic()
    assert s.recv(1) == b""  # closed by the daemon
    assert time.monotonic() - t0 < 45
    s.close()


# --- networks per owner ---------------------------------------------------------------------

def test_customers_join_only_networks_given_to_them(env):
    name = "a" + uuid.uuid4().hex[:6]
    env.admin.api("POST", "/networks", {"name": name, "ipv4": "10.231.93.1/24"}, expect=201)
    try:
        before = env.names()
        body = {"name": "an1", "kind": "ct", "template": "busybox", "plan": "small",
                "network": name}
        r = env.alice.request("POST", "/vps", body)
        assert r.status == 403 and "`network`" in r.message, r
        assert env.names() == before
        # the administrator lets her use it
        u = env.admin.api("PATCH", "/users/alice", {"networks": [name]})
        assert u["networks"] == [name]
        v = env.alice.api("POST", "/vps", body, expect=201)
        assert v["network"] == name
        # bob still may not
        r = env.login("bob").request("POST", "/vps", dict(body, name="bn1"))
        assert r.status == 403, r
        env.admin.api("DELETE", "/vps/an1")
    finally:
        env.admin.request("DELETE", f"/networks/{name}")


# --- console sessions per user ------------------------------------------------------------

def ws_open(d, name, cookie):
    """A console WebSocket handshake with a session cookie: (status line, socket)."""
    s = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    s.sendall(f"GET /api/v1/vps/{name}/console/ws HTTP/1.1\r\nHost: 127.0.0.1:{d.port}\r\n"
              f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
              f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              f"Cookie: vps_session={cookie}\r\n\r\n".encode())
    head = b""
    while b"\r\n" not in head:
        b = s.recv(1)
        assert b, head
        head += b
    return head.split(b"\r\n")[0].decode(), s


def test_console_sessions_per_user(env):
    """64 console WebSockets for the whole host and none per user: one
    customer could hold every one of them."""
    env.alice.api("POST", "/vps/a1/start")
    held = []
    try:
        for _ in range(4):
            line, s = ws_open(env.d, "a1", env.alice.cookie)
            held.append(s)
            assert " 101 " in line, line
        line, s = ws_open(env.d, "a1", env.alice.cookie)
        held.append(s)
        assert " 429 " in line, line
        # the host's administrator still gets one
        admin = env.admin.api("POST", "/users", {"name": "root2", "role": "admin",
                                                 "password": "root2's long secret"}, expect=201)
        assert admin["name"] == "root2"
        c = tcp(env.d)
        c.login("root2", "root2's long secret")
        line, s = ws_open(env.d, "a1", c.cookie)
        held.append(s)
        assert " 101 " in line, line
    finally:
        for s in held:
            s.close()
        env.admin.api("POST", "/vps/a1/stop", {"force": True})
