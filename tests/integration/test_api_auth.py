# SPDX-License-Identifier: GPL-2.0-or-later
"""The API's security (issue 8), against a private vpsd on its unix socket
(the administrator) and on TCP (customers with a cookie session or a
token). The endpoints come from docs/openapi.json, so an endpoint added
there is covered at once: every endpoint that takes a VPS name answers a
customer on someone else's VPS exactly as on a VPS that does not exist;
every `x-role: admin` endpoint refuses customers; every endpoint but login
and openapi.json refuses the unauthenticated. Then tokens (expiry, source
limits, revocation), CSRF, bad bodies, the login rate limit, ownership,
suspension and the audit log. Every answer is checked against the spec
(framework/openapi.py). Containers are created, not started, except once
(suspension)."""

import json
import re
import threading
import time

import pytest

from framework.ct import ct_enforces
from framework.openapi import spec, start_vpsd, tcp, unix
from framework.vpsd import VPSD

pytestmark = pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built")

SPEC = spec()
PASSWORDS = {"alice": "alice's long secret", "bob": "bob's long secret",
             "carol": "carol's long secret"}
MISSING = "zz-none"  # a VPS that does not exist
WS_HEADERS = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


class Env:
    """A vpsd with: customers alice (VPS a1) and bob (VPS b1), an
    administrator carol, a plan `small`; alice and bob logged in over TCP."""

    def __init__(self, d):
        self.d = d
        self.admin = unix(d)
        for name, role in (("alice", "customer"), ("bob", "customer"), ("carol", "admin")):
            self.admin.api("POST", "/users", {"name": name, "password": PASSWORDS[name],
                                              "role": role}, expect=201)
        # an IO weight only where the kernel has one (test_limits.py: refused elsewhere)
        self.admin.api("POST", "/plans", {"name": "small", "ram": "128M", "disk": "64M",
                                          "cpus": 1, **({"io_weight": 100}
                                                        if ct_enforces("io_weight") else {})},
                       expect=201)
        self.alice = self.login("alice")
        self.bob = self.login("bob")
        # a customer makes her own VPS from a plan; the administrator makes bob's
        v = self.alice.api("POST", "/vps", {"name": "a1", "kind": "ct", "template": "busybox",
                                            "plan": "small"}, expect=201)
        assert v["owner"] == "alice", v
        v = self.admin.api("POST", "/vps", {"name": "b1", "kind": "ct", "template": "busybox",
                                            "plan": "small", "owner": "bob"}, expect=201)
        assert v["owner"] == "bob", v

    def login(self, user):
        c = tcp(self.d)
        c.login(user, PASSWORDS[user])
        return c

    def token(self, user, **kw):
        body = {"name": "t", "expires_in": 600, "user": user}
        body.update(kw)
        return self.admin.api("POST", "/tokens", body, expect=201)

    def snapshot(self, name):
        """What a stranger's request must not change: the VPS (less its live
        figures) and its events."""
        v = self.admin.api("GET", f"/vps/{name}")
        for k in ("usage", "stats", "monitor"):
            v.pop(k, None)
        return v, self.admin.api("GET", f"/events?vps={name}")


@pytest.fixture(scope="module")
def env():
    d = start_vpsd()
    try:
        yield Env(d)
    finally:
        d.cleanup()


@pytest.fixture(scope="module", autouse=True)
def expiring():
    """test_token_expires's wait, spent while the module's other tests run:
    at the module's start, a vpsd of its own (so nothing they do, a
    suspension, a revocation, touches it) where alice makes the shortest
    token (60 s), and a thread that asks /me with it once a second until it
    is refused or 5 s past its expiry. The test reads what the thread saw."""
    d = start_vpsd()
    stop = threading.Event()
    poller = None
    try:
        unix(d).api("POST", "/users", {"name": "alice", "password": PASSWORDS["alice"],
                                       "role": "customer"}, expect=201)
        alice = tcp(d)
        alice.login("alice", PASSWORDS["alice"])
        made = alice.api("POST", "/tokens", {"name": "short", "expires_in": 60}, expect=201)
        t = tcp(d, token=made["token"])
        assert t.api("GET", "/me")["name"] == "alice"
        seen, failed = [], []  # (time after the answer, answer); what the thread raised

        def poll():
            try:
                while not stop.is_set() and time.time() < made["expires"] + 5:
                    r = t.request("GET", "/me")
                    seen.append((time.time(), r))
                    if r.status != 200:
                        return
                    stop.wait(1)
            except BaseException as e:  # an answer the description does not allow
                failed.append(e)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        yield made, poller, seen, failed
    finally:
        stop.set()
        if poller:
            poller.join(30)
        d.cleanup()


@pytest.fixture
def fresh():
    """A vpsd of its own (the login rate limit counts per address: 127.0.0.1)."""
    d = start_vpsd()
    yield d
    d.cleanup()


def no_isos(d):
    """No ISO, not even a partial upload, in d's data directory."""
    isos = d.data / "isos"
    return not isos.exists() or not list(isos.iterdir())


def same(r1, name1, r2, name2):
    """Two answers alike but for the VPS's name in the message."""
    t1 = json.dumps(r1.json, sort_keys=True).replace(name1, "NAME")
    t2 = json.dumps(r2.json, sort_keys=True).replace(name2, "NAME")
    return r1.status == r2.status and t1 == t2


def requests_for(o, vps):
    """(path, body, headers) to try on operation o with `vps` as the VPS
    name (its example body; with and without ?async=1)."""
    values = {p["name"]: vps for p in o.vps_params if p["in"] == "path"}
    values.update({n: "x" for n in o.path_params if n not in values})
    path = o.path(**values)
    query = [f"{p['name']}={vps}" for p in o.vps_params if p["in"] == "query"]
    if query:
        path += "?" + "&".join(query)
    body = o.body_example()
    if body is None and o.body_type() == "application/json" and o.method != "GET":
        body = {}
    headers = WS_HEADERS if o.websocket else None
    out = [(path, body, headers)]
    if o.has_async:
        out.append((path + ("&" if "?" in path else "?") + "async=1", body, headers))
    return out


# --- ownership ------------------------------------------------------------------------------

VPS_OPS = [o for o in SPEC.operations if o.vps_params]


def test_spec_lists_vps_endpoints():
    ids = {o.id for o in VPS_OPS}
    assert {"get_vps_name", "patch_vps_name", "delete_vps_name", "post_vps_name_start",
            "get_vps_name_console_ws", "get_events"} <= ids, ids


@pytest.mark.parametrize("o", sorted(VPS_OPS, key=lambda o: o.method == "DELETE"), ids=str)
def test_other_customers_vps_is_not_there(env, o):
    """bob on alice's a1 gets what he gets on a VPS that does not exist,
    and a1 is as it was, with a cookie session and with a token."""
    before = env.snapshot("a1")
    bob_token = tcp(env.d, token=env.token("bob")["token"])
    for client in (env.bob, bob_token):
        for (path, body, headers), (mpath, mbody, mheaders) in zip(requests_for(o, "a1"),
                                                                   requests_for(o, MISSING)):
            theirs = client.request(o.method, path, body, headers=headers)
            missing = client.request(o.method, mpath, mbody, headers=mheaders)
            assert same(theirs, "a1", missing, MISSING), (o, path, theirs, missing)
            if o.admin:
                assert theirs.status in (403, 404), (o, theirs)
            elif any(p["in"] == "path" for p in o.vps_params):
                assert theirs.status == 404 and theirs.code == "not_found", (o, theirs)
    assert env.snapshot("a1") == before


def test_other_customers_tokens_and_operations(env):
    """A token or an operation of alice's is, to bob, one that does not exist."""
    t = env.alice.api("POST", "/tokens", {"name": "mine", "expires_in": 600}, expect=201)
    assert t["id"] not in [x["id"] for x in env.bob.api("GET", "/tokens")]
    theirs = env.bob.request("DELETE", f"/tokens/{t['id']}")
    missing = env.bob.request("DELETE", "/tokens/999999")
    assert theirs.status == missing.status == 404, (theirs, missing)
    assert tcp(env.d, token=t["token"]).api("GET", "/me")["name"] == "alice"  # still valid

    acc = env.alice.request("POST", "/vps/a1/stop?async=1", {"timeout": 5})
    assert acc.status == 202, acc
    op_id = acc.json["operation"]["id"]
    theirs = env.bob.request("GET", f"/operations/{op_id}")
    missing = env.bob.request("GET", "/operations/999999")
    assert same(theirs, str(op_id), missing, "999999") and theirs.status == 404, (theirs, missing)
    assert env.alice.api("GET", f"/operations/{op_id}")["user"] == "alice"


def test_customer_lists_only_their_own(env):
    assert [v["name"] for v in env.alice.api("GET", "/vps")] == ["a1"]
    assert [v["name"] for v in env.bob.api("GET", "/vps")] == ["b1"]
    assert {"a1", "b1"} <= {v["name"] for v in env.admin.api("GET", "/vps")}
    for e in env.alice.api("GET", "/events"):
        assert e["vps"] == "a1", e
    for user in ("alice", "bob"):
        me = getattr(env, user).api("GET", "/me")
        assert me["name"] == user and me["role"] == "customer", me


def test_customer_cannot_set_owner_or_figures(env):
    c = env.alice
    for body, field, status in (
            ({"owner": "bob"}, "owner", 403),
            ({"ram": "256M"}, "ram", 403),
            ({"cpus": 2}, "cpus", 403),
            ({"disk": "128M"}, "disk", 403),
            ({}, "plan", 400),  # a customer's VPS comes from a plan
    ):
        b = {"name": "a9", "kind": "ct", "template": "busybox"}
        b.update(body)
        if field != "plan":
            b["plan"] = "small"
        r = c.request("POST", "/vps", b)
        assert r.status == status and f"`{field}`" in r.message, (body, r)
    env.admin.api("GET", "/vps/a9", expect=404)
    before = env.snapshot("a1")
    for body in ({"owner": "bob"}, {"ram": "256M"}, {"cpus": 2}, {"disk": "128M"},
                 {"swap": "64M"}, {"bw": "10M"}, {"io_weight": 500}):
        r = c.request("PATCH", "/vps/a1", body)
        assert r.status == 403 and r.code == "forbidden", (body, r)
        assert f"`{next(iter(body))}`" in r.message, r
    assert env.snapshot("a1") == before
    # what a customer may change
    v = c.api("PATCH", "/vps/a1", {"hostname": "alices", "onboot": False})["vps"]
    assert v["hostname"] == "alices" and v["owner"] == "alice"


# --- roles ----------------------------------------------------------------------------------

ADMIN_OPS = [o for o in SPEC.operations if o.admin]


def test_spec_marks_admin_endpoints():
    marked = {(o.method, o.template) for o in ADMIN_OPS}
    for m, t in (("GET", "/host"), ("PUT", "/policies"), ("POST", "/plans"),
                 ("DELETE", "/plans/{name}"), ("GET", "/networks"), ("POST", "/networks"),
                 ("DELETE", "/networks/{name}"), ("PUT", "/isos/{name}"),
                 ("DELETE", "/isos/{name}"), ("GET", "/users"), ("POST", "/users"),
                 ("GET", "/audit"), ("POST", "/vps/{name}/suspend"),
                 ("POST", "/vps/{name}/unsuspend"), ("POST", "/vps/{name}/plan")):
        assert (m, t) in marked, (m, t)
    for m, t in (("GET", "/plans"), ("GET", "/templates"), ("GET", "/isos"),
                 ("GET", "/policies"), ("GET", "/events")):
        assert (m, t) not in marked, (m, t)


@pytest.mark.parametrize("o", ADMIN_OPS, ids=str)
def test_customers_forbidden(env, o):
    """alice (her session and her token) gets 403 on every administrator's
    endpoint, on her own VPS too, and nothing changes."""
    values = {"name": "a1" if o.vps_params else ("small" if "plans" in o.template else
                                                   "bob" if "users" in o.template else "x")}
    values = {n: values.get(n, "x") for n in o.path_params}
    path = o.path(**values)
    body = o.body_example()
    if o.body_type() == "application/octet-stream":
        body = b"not an ISO"
    before = (env.snapshot("a1"), env.admin.api("GET", "/plans"), env.admin.api("GET", "/users"),
              env.admin.api("GET", "/policies"), env.admin.api("GET", "/isos"))
    alice_token = tcp(env.d, token=env.token("alice")["token"])
    for client in (env.alice, alice_token):
        r = client.request(o.method, path, body)
        assert r.status == 403 and r.code == "forbidden", (o, r)
    after = (env.snapshot("a1"), env.admin.api("GET", "/plans"), env.admin.api("GET", "/users"),
             env.admin.api("GET", "/policies"), env.admin.api("GET", "/isos"))
    assert after == before
    assert no_isos(env.d)


def test_admin_user_over_tcp(env):
    carol = env.login("carol")
    assert carol.api("GET", "/me")["role"] == "admin"
    carol.api("GET", "/host")
    assert {"a1", "b1"} <= {v["name"] for v in carol.api("GET", "/vps")}


# --- authentication -------------------------------------------------------------------------

@pytest.mark.parametrize("o", [o for o in SPEC.operations if not o.anonymous], ids=str)
def test_unauthenticated(env, o):
    """No cookie and no token, a made-up cookie, a made-up token: 401 on
    every endpoint but login and openapi.json; nothing happens."""
    nobody = tcp(env.d)
    path = o.path(**{n: "a1" if n == "name" and "/vps/" in o.template else "x"
                     for n in o.path_params})
    body = o.body_example()
    if o.body_type() == "application/octet-stream":
        body = b"not an ISO"
    before = env.snapshot("a1")
    for headers in ({}, {"Cookie": "vps_session=" + "ab" * 32},
                    {"Authorization": "Bearer vps_1_" + "ab" * 32},
                    {"Authorization": "Basic YWxpY2U6c2VjcmV0"}):
        r = nobody.request(o.method, path, body, headers=headers)
        assert r.status == 401 and r.code == "unauthenticated", (o, headers, r)
    assert env.snapshot("a1") == before
    assert no_isos(env.d)


def test_unauthenticated_anywhere_under_api(env):
    nobody = tcp(env.d)
    for method, path in (("GET", "/no-such-thing"), ("POST", "/vps/a1/no-such-action"),
                         ("GET", "/")):
        r = nobody.request(method, "/api/v1" + path)
        assert r.status == 401, (method, path, r)
    assert nobody.request("GET", "/openapi.json").status == 200


def test_unix_socket_is_the_administrator(env):
    me = env.admin.api("GET", "/me")
    assert me == {"name": "root", "role": "admin"}, me


# --- sessions and CSRF ----------------------------------------------------------------------

def test_login_cookie_and_logout(env):
    c = tcp(env.d)
    r = c.login("alice", PASSWORDS["alice"])
    cookie = r.headers["Set-Cookie"]
    assert re.match(r"vps_session=[0-9a-f]{32,};", cookie), cookie
    attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"path", "httponly", "samesite"} <= attrs and "secure" not in attrs, cookie
    assert "SameSite=Strict" in cookie and "Path=/" in cookie
    assert r.json["user"] == {"name": "alice", "role": "customer"}
    assert c.api("GET", "/me")["csrf"] == c.csrf
    old = c.cookie
    r = c.request("POST", "/logout")
    assert r.status == 200 and "vps_session=;" in r.headers["Set-Cookie"].replace(" ", ""), r
    c.cookie = old  # a cookie kept after logout is worth nothing
    assert c.request("GET", "/me").status == 401


def test_csrf(env):
    c = env.alice
    before = env.snapshot("a1")
    for csrf in (False, "0" * len(c.csrf), c.csrf[:-1], "x"):
        r = c.request("PATCH", "/vps/a1", {"hostname": "csrf"}, csrf=csrf)
        assert r.status == 403 and r.code == "csrf", (csrf, r)
        r = c.request("POST", "/tokens", {"name": "csrf", "expires_in": 600}, csrf=csrf)
        assert r.status == 403 and r.code == "csrf", (csrf, r)
        r = c.request("DELETE", "/vps/a1", csrf=csrf)
        assert r.status == 403 and r.code == "csrf", (csrf, r)
    assert env.snapshot("a1") == before
    assert "csrf" not in [t["name"] for t in env.admin.api("GET", "/tokens")]
    # bob's token is not alice's
    r = c.request("PATCH", "/vps/a1", {"hostname": "csrf"}, csrf=env.bob.csrf)
    assert r.status == 403 and r.code == "csrf", r
    assert c.api("PATCH", "/vps/a1", {"hostname": "csrf"})["vps"]["hostname"] == "csrf"
    # tokens need none
    t = tcp(env.d, token=env.token("alice")["token"])
    assert t.api("PATCH", "/vps/a1", {"hostname": "token"})["vps"]["hostname"] == "token"


CSRF_OPS = [o for o in SPEC.operations
            if o.method != "GET" and {"session": [], "csrf": []} in o.op.get("security", [])]


def test_spec_csrf_covers_every_write():
    """Every operation but GET that a session may call needs the token."""
    writes = [o for o in SPEC.operations if o.method != "GET" and not o.anonymous]
    assert writes and CSRF_OPS == writes, set(map(str, writes)) ^ set(map(str, CSRF_OPS))


@pytest.fixture(scope="module")
def csrf_real(env):
    """Path parameters that name things that exist, by collection (a token
    and an ISO made for it, removed after)."""
    token = env.token("bob")["id"]
    env.admin.api("PUT", "/isos/csrf-keep", b"an ISO", expect=201)
    yield {"vps": "a1", "users": "bob", "plans": "small", "tokens": token, "isos": "csrf-keep"}
    env.admin.api("DELETE", "/isos/csrf-keep")
    env.admin.api("DELETE", f"/tokens/{token}")


@pytest.mark.parametrize("o", CSRF_OPS, ids=str)
def test_csrf_every_write(env, csrf_real, o):
    """An administrator's cookie session without the CSRF token, with a
    made-up one and with another session's gets 403 `csrf` on every
    operation but GET the description lists, on things that exist (so a
    request let through would change them), and nothing changes; the
    session itself lives on (logout too is refused)."""
    carol = env.login("carol")
    path = o.path(**{n: csrf_real.get(o.template.split("/")[1], MISSING)
                     for n in o.path_params})
    body = o.body_example()
    if o.body_type() == "application/octet-stream":
        body = b"not an ISO"

    def state():
        vs = env.admin.api("GET", "/vps")
        for v in vs:
            for k in ("usage", "stats", "monitor"):
                v.pop(k, None)
        return (vs, *(env.admin.api("GET", p) for p in (
            "/users", "/plans", "/tokens", "/policies", "/isos", "/networks", "/events")))

    before = state()
    for csrf in (False, "0" * len(carol.csrf), env.bob.csrf):
        r = carol.request(o.method, path, body, csrf=csrf)
        assert r.status == 403 and r.code == "csrf", (o, csrf, r)
    assert state() == before
    assert carol.api("GET", "/me")["name"] == "carol"
    carol.logout()


# --- tokens ---------------------------------------------------------------------------------

def test_tokens(env):
    made = env.alice.api("POST", "/tokens", {"name": "ci", "expires_in": 600}, expect=201)
    assert made["user"] == "alice" and made["token"].startswith(f"vps_{made['id']}_")
    assert made["expires"] - time.time() == pytest.approx(600, abs=5)
    listed = [t for t in env.alice.api("GET", "/tokens") if t["id"] == made["id"]]
    assert len(listed) == 1 and "token" not in listed[0], listed
    t = tcp(env.d, token=made["token"])
    assert t.api("GET", "/me") == {"name": "alice", "role": "customer", "2fa": False,
                                   "2fa_required": False}
    # a tampered secret, another id
    bad = made["token"][:-1] + ("0" if made["token"][-1] != "0" else "1")
    assert tcp(env.d, token=bad).request("GET", "/me").status == 401
    bad = f"vps_{made['id'] + 1000}_{made['token'].split('_', 2)[2]}"
    assert tcp(env.d, token=bad).request("GET", "/me").status == 401
    # a customer makes tokens for herself only
    r = env.alice.request("POST", "/tokens", {"name": "x", "expires_in": 600, "user": "bob"})
    assert r.status == 403, r
    # revoked
    env.alice.api("DELETE", f"/tokens/{made['id']}")
    r = t.request("GET", "/me")
    assert r.status == 401 and r.code == "unauthenticated", r


def test_token_sources(env):
    far = tcp(env.d, token=env.alice.api("POST", "/tokens", {
        "name": "far", "expires_in": 600, "sources": ["10.0.0.0/8"]}, expect=201)["token"])
    r = far.request("GET", "/me")
    assert r.status == 401 and r.code == "unauthenticated", r
    near = tcp(env.d, token=env.alice.api("POST", "/tokens", {
        "name": "near", "expires_in": 600, "sources": ["10.0.0.0/8", "127.0.0.1/32"]},
        expect=201)["token"])
    assert near.api("GET", "/me")["name"] == "alice"


# --- bad bodies -----------------------------------------------------------------------------

VPS = {"name": "bad1", "kind": "ct", "template": "busybox", "ram": "128M", "disk": "64M"}
BAD = [
    # (who, method, path, body, the field named)
    ("admin", "POST", "/vps", {**VPS, "name": "Bad_Name"}, "name"),
    ("admin", "POST", "/vps", {**VPS, "kind": "zone"}, "kind"),
    ("admin", "POST", "/vps", {**VPS, "ram": "lots"}, "ram"),
    ("admin", "POST", "/vps", {**VPS, "colour": "red"}, "colour"),
    ("admin", "POST", "/vps", {**VPS, "owner": "nobody"}, "owner"),
    ("admin", "POST", "/vps", {**VPS, "plan": "nosuch"}, "plan"),
    ("alice", "POST", "/vps", {"name": "bad1", "kind": "ct", "template": "busybox",
                               "plan": "nosuch"}, "plan"),
    ("alice", "POST", "/vps", {"name": "bad1", "kind": "ct", "template": "busybox",
                               "plan": "small", "colour": "red"}, "colour"),
    ("admin", "PATCH", "/vps/a1", {"ram": "x"}, "ram"),
    ("admin", "PATCH", "/vps/a1", {"name": "a2"}, "name"),
    ("admin", "PATCH", "/vps/a1", {"owner": "nobody"}, "owner"),
    ("alice", "PATCH", "/vps/a1", {"hostname": ""}, "hostname"),
    ("alice", "PATCH", "/vps/a1", {"onboot": "yes"}, "onboot"),
    ("alice", "PATCH", "/vps/a1", {"ssh_keys": ["not a key"]}, "ssh_keys[0]"),
    ("admin", "POST", "/users", {"name": "dave", "role": "customer"}, "password"),
    ("admin", "POST", "/users", {"name": "dave", "password": "short", "role": "customer"},
     "password"),
    ("admin", "POST", "/users", {"name": "dave", "password": "x" * 1025, "role": "customer"},
     "password"),
    ("admin", "POST", "/users", {"name": "dave", "password": "long enough", "role": "god"},
     "role"),
    ("admin", "POST", "/users", {"name": "Dave Jones", "password": "long enough",
                                 "role": "customer"}, "name"),
    ("admin", "POST", "/users", {"name": "root", "password": "long enough",
                                 "role": "admin"}, "name"),
    ("admin", "POST", "/users", {"name": "dave", "password": "long enough",
                                 "role": "customer", "colour": "red"}, "colour"),
    ("admin", "PATCH", "/users/alice", {"role": "god"}, "role"),
    ("admin", "PATCH", "/users/alice", {"password": "short"}, "password"),
    ("alice", "POST", "/tokens", {"expires_in": 600}, "name"),
    ("alice", "POST", "/tokens", {"name": "t"}, "expires_in"),
    ("alice", "POST", "/tokens", {"name": "t", "expires_in": 59}, "expires_in"),
    ("alice", "POST", "/tokens", {"name": "t", "expires_in": 31536001}, "expires_in"),
    ("alice", "POST", "/tokens", {"name": "t", "expires_in": "600"}, "expires_in"),
    ("alice", "POST", "/tokens", {"name": "t", "expires_in": 600, "sources": "10.0.0.0/8"},
     "sources"),
    ("alice", "POST", "/tokens", {"name": "t", "expires_in": 600, "sources": ["10.0.0.0/33"]},
     "sources"),
    ("alice", "POST", "/tokens", {"name": "t", "expires_in": 600, "colour": "red"}, "colour"),
    ("admin", "POST", "/plans", {"name": "p1", "ram": "x", "disk": "64M", "cpus": 1}, "ram"),
    ("admin", "POST", "/plans", {"name": "p1", "ram": "128M", "cpus": 1}, "disk"),
    ("admin", "POST", "/plans", {"name": "P 1", "ram": "128M", "disk": "64M", "cpus": 1},
     "name"),
    ("admin", "POST", "/plans", {"name": "p1", "ram": "128M", "disk": "64M", "cpus": 1,
                                 "colour": "red"}, "colour"),
    ("alice", "POST", "/vps/a1/stop", {"force": "yes"}, "force"),
    ("alice", "POST", "/vps/a1/stop", {"timeout": 0}, "timeout"),
    ("alice", "POST", "/vps/a1/stop", {"timeout": 5, "colour": "red"}, "colour"),
    ("alice", "POST", "/vps/a1/exec", {"args": ["true"], "colour": "red"}, "colour"),
    ("alice", "POST", "/vps/a1/password", {"password": "long enough", "colour": "red"},
     "colour"),
    ("admin", "POST", "/vps/a1/plan", {"plan": "small", "colour": "red"}, "colour"),
    ("alice", "POST", "/vps/a1/exec", {"args": "ls"}, "args"),
    ("alice", "POST", "/vps/a1/exec", {"args": [1]}, "args[0]"),
    ("alice", "POST", "/vps/a1/reinstall", {"colour": "red"}, "colour"),
    ("alice", "POST", "/vps/a1/reinstall", {"template": ""}, "template"),
    ("alice", "POST", "/vps/a1/password", {"password": 5}, "password"),
    ("alice", "POST", "/vps/a1/password", {}, "password"),
    ("admin", "POST", "/vps/a1/plan", {"plan": 5}, "plan"),
    ("admin", "POST", "/vps/a1/plan", {"plan": "nosuch"}, "plan"),
    ("admin", "PUT", "/policies", {"memory": {"mode": "sideways"}}, "memory.mode"),
]


@pytest.mark.parametrize("who,method,path,body,field", BAD,
                         ids=[f"{m} {p} {f}" for _, m, p, _, f in BAD])
def test_bad_body(env, who, method, path, body, field):
    client = env.admin if who == "admin" else env.alice
    before = env.snapshot("a1")
    try:
        r = client.request(method, path, body)
        assert r.status == 400 and r.code == "bad_request", r
        assert f"`{field}`" in r.message, (field, r.message)
        assert env.snapshot("a1") == before
    finally:  # what a failure changed, undone for the tests after it
        now = env.snapshot("a1")[0]
        undo = {k: before[0][k] for k in ("owner", "hostname", "onboot", "ssh_keys", "ram")
                if now[k] != before[0][k]}
        if undo:
            env.admin.api("PATCH", "/vps/a1", undo)
    env.admin.api("GET", "/vps/bad1", expect=404)
    assert "dave" not in [u["name"] for u in env.admin.api("GET", "/users")]
    assert "p1" not in [p["name"] for p in env.admin.api("GET", "/plans")]


@pytest.mark.parametrize("method,path", [
    ("POST", "/vps"), ("PATCH", "/vps/a1"), ("POST", "/users"), ("PATCH", "/users/alice"),
    ("POST", "/tokens"), ("POST", "/plans"), ("POST", "/vps/a1/stop"), ("PUT", "/policies")])
def test_not_json(env, method, path):
    client = env.admin if "/users" in path or "/plans" in path or "/policies" in path \
        else env.alice
    before = env.snapshot("a1")
    for text in ("{not json", "[1, 2]", '"a string"', '{"a": 1, "a": 2}'):
        r = client.request(method, path, text)
        assert r.status == 400 and r.code == "bad_request", (text, r)
    assert env.snapshot("a1") == before


def test_login_bad_bodies(fresh):
    c = tcp(fresh)
    for body, field in (({"password": "x"}, "user"), ({"user": 5, "password": "x"}, "user"),
                        ({"user": "alice"}, "password"),
                        ({"user": "alice", "password": 5}, "password"),
                        ({"user": "alice", "password": "x", "otp": 1}, "otp")):
        r = c.request("POST", "/login", body)
        assert r.status == 400 and f"`{field}`" in r.message, (body, r)
    for text in ("{not json", "[]"):
        r = c.request("POST", "/login", text)
        assert r.status == 400, r


# --- the login rate limit -------------------------------------------------------------------

def test_login_rate_limit(fresh):
    unix(fresh).api("POST", "/users", {"name": "alice", "password": PASSWORDS["alice"],
                                       "role": "customer"}, expect=201)
    c = tcp(fresh)
    wrong_name = c.request("POST", "/login", {"user": "nobody", "password": "whatever"})
    wrong_pass = c.request("POST", "/login", {"user": "alice", "password": "whatever"})
    assert wrong_name.status == wrong_pass.status == 401
    assert wrong_name.json == wrong_pass.json, "the same answer for a wrong name and password"
    for _ in range(3):
        assert c.request("POST", "/login", {"user": "alice", "password": "guess"}).status == 401
    for password in ("guess", PASSWORDS["alice"]):
        r = c.request("POST", "/login", {"user": "alice", "password": password})
        assert r.status == 429 and r.code == "rate_limited", r
        assert 1 <= int(r.headers["Retry-After"]) <= 60, r.headers["Retry-After"]
        assert r.headers.get("Set-Cookie") is None
    # recorded: every attempt
    audit = [a for a in unix(fresh).api("GET", "/audit") if a["path"] == "/api/v1/login"]
    assert [a["status"] for a in audit] == [401] * 5 + [429] * 2, audit
    assert {a["source"] for a in audit} == {"127.0.0.1"}


# --- suspension -----------------------------------------------------------------------------

def test_suspend(env):
    """Suspended: its customer cannot start it (409 suspended); unsuspended:
    he can (the one container start of these tests)."""
    v = env.admin.api("POST", "/vps/b1/suspend")
    assert v["suspended"] is True and v["state"] == "stopped", v
    assert env.bob.api("GET", "/vps/b1")["suspended"] is True
    for client in (env.bob, tcp(env.d, token=env.token("bob")["token"])):
        r = client.request("POST", "/vps/b1/start")
        assert r.status == 409 and r.code == "suspended", r
        r = client.request("POST", "/vps/b1/start?async=1")
        if r.status == 202:  # refused inside the operation then
            op = client.api("GET", r.headers["Location"])
            while op["state"] == "running":
                time.sleep(0.1)
                op = client.api("GET", r.headers["Location"])
            assert op["state"] == "failed" and op["error"]["code"] == "suspended", op
        else:
            assert r.status == 409 and r.code == "suspended", r
        r = client.request("POST", "/vps/b1/unsuspend")
        assert r.status == 403, r
    assert env.admin.api("GET", "/vps/b1")["state"] == "stopped"
    assert env.admin.api("POST", "/vps/b1/unsuspend")["suspended"] is False
    assert env.bob.api("POST", "/vps/b1/start")["state"] == "running"
    env.bob.api("POST", "/vps/b1/stop", {"timeout": 5})


# --- users ----------------------------------------------------------------------------------

def test_users(env):
    a = env.admin
    a.api("POST", "/users", {"name": "erin", "password": "erin's secret", "role": "customer"},
          expect=201)
    r = a.request("POST", "/users", {"name": "erin", "password": "erin's secret",
                                     "role": "customer"})
    assert r.status == 409 and r.code == "exists", r
    u = a.api("PATCH", "/users/erin", {"role": "admin"})
    assert u["role"] == "admin" and "password" not in u
    erin = tcp(env.d)
    erin.login("erin", "erin's secret")
    assert erin.api("GET", "/me")["role"] == "admin"
    a.api("PATCH", "/users/erin", {"password": "erin's new secret"})
    tcp(env.d).login("erin", "erin's new secret")
    a.api("DELETE", "/users/erin")
    assert erin.request("GET", "/me").status == 401, "a removed user's session ends"
    a.api("GET", "/users/erin", expect=404)
    r = a.request("DELETE", "/users/alice")
    assert r.status == 409, r  # she owns a1
    assert "password" not in json.dumps(a.api("GET", "/users"))


# --- the audit log --------------------------------------------------------------------------

def test_audit(env):
    env.alice.api("PATCH", "/vps/a1", {"hostname": "audited"})
    tcp(env.d).login("alice", "not her password", expect=401)
    env.admin.api("POST", "/vps/a1/suspend")
    env.admin.api("POST", "/vps/a1/unsuspend")
    log = env.admin.api("GET", "/audit")
    ids = [e["id"] for e in log]
    assert ids == sorted(ids)

    def find(**kw):
        return [e for e in log if all(e[k] == v for k, v in kw.items())]

    assert find(user="alice", source="127.0.0.1", method="PATCH", path="/api/v1/vps/a1",
                status=200)
    assert find(user="alice", source="127.0.0.1", method="POST", path="/api/v1/login",
                status=401)
    assert find(user="alice", method="POST", path="/api/v1/login", status=200)
    assert find(user="root", source="unix", method="POST", path="/api/v1/vps/a1/suspend",
                status=200)
    # every answer refused is recorded too: alice's CSRF-less attempt
    env.alice.request("DELETE", "/vps/a1", csrf=False)
    last = env.admin.api("GET", "/audit?limit=1")
    assert len(last) == 1 and last[0]["path"] == "/api/v1/vps/a1" and \
        last[0]["status"] == 403 and last[0]["method"] == "DELETE", last
    assert env.admin.api("GET", f"/audit?after={last[0]['id']}") == []
    r = env.alice.request("GET", "/audit")
    assert r.status == 403, r


def test_token_expires(expiring):
    """The one test that waits: the shortest token (60 s) until it expires
    (made at the module's start: the fixture `expiring`); last in the
    module, so that the others run during the wait."""
    made, poller, seen, failed = expiring
    poller.join(max(0, made["expires"] + 15 - time.time()))
    assert not poller.is_alive(), "still polling 10 s after the last request was due"
    if failed:
        raise failed[0]
    assert seen, "no answer"
    for when, r in seen[:-1]:
        assert r.status == 200, r
    when, r = seen[-1]
    assert r.status == 401 and r.code == "unauthenticated", r
    assert when >= made["expires"] - 1, "expired early"
