# SPDX-License-Identifier: GPL-2.0-or-later
"""Webhooks (issue 23, docs/webhooks.md) through the real daemon on both
stores (SQLite, and PostgreSQL started here), received by HTTP servers the
test runs on loopback: each event of a customer's own VPSes arrives signed
(HMAC-SHA256 over "TIMESTAMP.BODY", checked here with Python's hmac), a
failing receiver is retried and then counted as failed, a VPS's owner is
told of its suspension and of its failed scheduled backup (traffic use:
test_traffic.py, whose VPSes move bytes), and the hostile
customer is refused: another's hooks (404), bad URLs and schemes, and a
hook aimed at the host's own network (SSRF), which vpsd refuses at the
address curl is about to connect to, so the receiver there gets nothing.
vpsd runs with --webhook-allow 127.0.0.1/32, so 127.0.0.1 is open to
customers' hooks and 127.0.0.2 (loopback too) is not."""

import hashlib
import hmac
import http.server
import json
import threading
import time

import pytest

from framework.openapi import start_vpsd, tcp, unix
from framework.vpsd import VPSD

pytestmark = pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built")

PASSWORD = "a long customer's secret"


class Receiver:
    """An HTTP server that records each POST (every attempt) and answers
    500 to the first `fail_first` of them, 200 after."""

    def __init__(self, host="127.0.0.1", fail_first=0):
        self.got, self.fail_first = [], fail_first
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.got.append((dict(self.headers), body))
                self.send_response(500 if len(outer.got) <= outer.fail_first else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.srv.server_address[1]}/hook"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def events(self):
        return [json.loads(b)["event"] for _, b in self.got]

    def wait(self, pred, timeout=40):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred(self):
                return True
            time.sleep(0.2)
        return False

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def signed(secret, headers, body):
    want = "sha256=" + hmac.new(secret.encode(), headers["X-Vps-Timestamp"].encode() + b"." +
                                body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, headers["X-Vps-Signature"])


@pytest.fixture
def env(store_flags):
    d = start_vpsd(extra=(*store_flags, "--webhook-allow", "127.0.0.1/32"))
    admin = unix(d)
    admin.api("POST", "/plans", {"name": "small", "ram": "64M", "disk": "64M", "cpus": 1},
              expect=201)
    for name in ("alice", "bob"):
        admin.api("POST", "/users", {"name": name, "password": PASSWORD, "role": "customer"},
                  expect=201)
    alice, bob = tcp(d), tcp(d)
    alice.login("alice", PASSWORD)
    bob.login("bob", PASSWORD)
    receivers = []

    def receiver(**kw):
        r = Receiver(**kw)
        receivers.append(r)
        return r

    yield d, admin, alice, bob, receiver
    for r in receivers:
        r.close()
    d.cleanup()


def ct(name):
    return {"name": name, "kind": "ct", "template": "busybox", "plan": "small"}


def hook_of(client, hid):
    return next(h for h in client.api("GET", "/webhooks") if h["id"] == hid)


def test_signed_events_of_ones_own_vps_only(env):
    d, admin, alice, bob, receiver = env
    ra, rb, radm = receiver(), receiver(), receiver()
    ha = alice.api("POST", "/webhooks", {"url": ra.url}, expect=201)
    hb = bob.api("POST", "/webhooks", {"url": rb.url, "events": ["set"]}, expect=201)
    hadm = admin.api("POST", "/webhooks", {"url": radm.url}, expect=201)
    assert len(ha["secret"]) == 64 and ha["events"] == "*" and hb["events"] == "set"
    # lists never carry the secret; each customer sees their own hook only
    mine = alice.api("GET", "/webhooks")
    assert [h["id"] for h in mine] == [ha["id"]] and "secret" not in mine[0]
    assert {h["id"] for h in admin.api("GET", "/webhooks")} == \
        {ha["id"], hb["id"], hadm["id"]}

    alice.api("POST", "/vps", ct("a1"), expect=201)
    bob.api("POST", "/vps", ct("b1"), expect=201)
    alice.api("PATCH", "/vps/a1", {"hostname": "alpha"})
    bob.api("PATCH", "/vps/b1", {"hostname": "bravo"})

    assert ra.wait(lambda r: any(e["kind"] == "set" for e in r.events())), ra.got
    assert rb.wait(lambda r: len(r.got) >= 1), rb.got
    assert radm.wait(lambda r: {e.get("vps") for e in r.events()} >= {"a1", "b1"}), radm.got
    time.sleep(2)  # anything else due has come by now
    assert {e.get("vps") for e in ra.events()} == {"a1"}, ra.events()
    assert [e["kind"] for e in rb.events()] == ["set"] and rb.events()[0]["vps"] == "b1"
    for r, h in ((ra, ha), (rb, hb), (radm, hadm)):
        for headers, body in r.got:
            assert signed(h["secret"], headers, body), headers
            ev = json.loads(body)
            assert ev["webhook"] == h["id"]
            assert headers["X-Vps-Event"] == ev["event"]["kind"]
            assert headers["X-Vps-Delivery"] == f"{h['id']}-{ev['event']['id']}"
    # a signature under another secret does not check out: the test's check can fail
    headers, body = ra.got[0]
    assert not signed(hb["secret"], headers, body)
    assert not signed(ha["secret"], headers, body + b" ")
    # every event once: the cursor moved past each (no retries were needed)
    ids = [e["id"] for e in ra.events()]
    assert len(ids) == len(set(ids))
    assert hook_of(alice, ha["id"])["delivered"] == len(ids)


def test_retries_then_failure(env):
    d, admin, alice, bob, receiver = env
    flaky = receiver(fail_first=2)
    h = alice.api("POST", "/webhooks", {"url": flaky.url, "events": "set"}, expect=201)
    alice.api("POST", "/vps", ct("a1"), expect=201)
    alice.api("PATCH", "/vps/a1", {"hostname": "alpha"})
    assert flaky.wait(lambda r: len(r.got) >= 3), flaky.got
    # the same delivery three times: 500, 500, 200
    assert len({hd["X-Vps-Delivery"] for hd, _ in flaky.got}) == 1
    time.sleep(2)
    assert len(flaky.got) == 3
    st = hook_of(alice, h["id"])
    assert st["delivered"] == 1 and st["failed"] == 0 and st["last_status"] == "HTTP 200"

    dead = receiver(fail_first=1000)
    h2 = alice.api("POST", "/webhooks", {"url": dead.url, "events": "set"}, expect=201)
    alice.api("PATCH", "/vps/a1", {"hostname": "alpha2"})
    assert dead.wait(lambda r: len(r.got) >= 5), dead.got
    assert flaky.wait(lambda r: len(r.got) == 4)  # the working hook is not held up
    end = time.monotonic() + 20
    while hook_of(alice, h2["id"])["failed"] != 1 and time.monotonic() < end:
        time.sleep(0.5)
    st = hook_of(alice, h2["id"])
    assert st["failed"] == 1 and "gave up" in st["last_status"] and "HTTP 500" in \
        st["last_status"], st
    time.sleep(2)
    assert len(dead.got) == 5, "tried again after giving up"


def test_owner_told_of_suspend_and_failed_backup(env, tmp_path):
    """The owner's hook gets `suspended` (the provider's billing action) and
    `backup-failed` (a scheduled backup into a repository gone from disk),
    signed; the other customer's hook gets nothing of it."""
    import shutil

    if not shutil.which("restic"):
        pytest.skip("restic is not installed (Debian package restic; scripts/lib.sh)")
    d, admin, alice, bob, receiver = env
    ra, rb = receiver(), receiver()
    ha = alice.api("POST", "/webhooks",
                   {"url": ra.url, "events": "suspended,backup-failed,traffic-exceeded"},
                   expect=201)
    bob.api("POST", "/webhooks", {"url": rb.url}, expect=201)
    alice.api("POST", "/vps", ct("a1"), expect=201)
    admin.api("POST", "/vps/a1/suspend")
    assert ra.wait(lambda r: "suspended" in [e["kind"] for e in r.events()]), ra.got

    repo = tmp_path / "repo"
    admin.api("POST", "/repos", {"name": "gone", "url": str(repo)}, expect=201)
    shutil.rmtree(repo)
    admin.api("PUT", "/vps/a1/backup-schedule", {"every": 5, "repo": "gone"})
    assert ra.wait(lambda r: "backup-failed" in [e["kind"] for e in r.events()], timeout=60), \
        ra.got
    failed = next(e for e in ra.events() if e["kind"] == "backup-failed")
    assert failed["vps"] == "a1" and failed["message"], failed
    for headers, body in ra.got:
        assert signed(ha["secret"], headers, body), headers
    assert {e["kind"] for e in ra.events()} <= {"suspended", "backup-failed"}, ra.events()
    admin.api("DELETE", "/vps/a1/backup-schedule")
    assert not [e for e in rb.events() if e.get("vps") == "a1"], rb.events()


def test_hostile_customer(env):
    d, admin, alice, bob, receiver = env
    ra = receiver()
    ha = alice.api("POST", "/webhooks", {"url": ra.url}, expect=201)
    before = admin.api("GET", "/webhooks")
    # another customer's hook: not there, for every verb
    for path in (f"/webhooks/{ha['id']}", "/webhooks/999999", "/webhooks/x",
                 "/webhooks/-1"):
        r = bob.request("DELETE", path)
        assert r.status == 404, (path, r.json)
    assert bob.api("GET", "/webhooks") == []
    # bad bodies, each with a clear message
    for body, msg in (
            ({"url": "file:///etc/passwd"}, "http or https only"),
            ({"url": "gopher://127.0.0.1:70/"}, "http or https only"),
            ({"url": "not a url"}, "no blanks"),
            ({"url": "http://"}, "not an absolute URL"),
            ({"url": "http://x/" + "a" * 3000}, "at most 2000"),
            ({}, "`url`: required"),
            ({"url": ra.url, "events": "A,B"}, "`events`"),
            ({"url": ra.url, "events": ",set"}, "`events`"),
            ({"url": ra.url, "events": [1]}, "`events`"),
            ({"url": ra.url, "secret": "short"}, "`secret`"),
            ({"url": ra.url, "owner": "bob"}, "`owner`: unknown field")):
        r = alice.request("POST", "/webhooks", body)
        assert r.status == 400 and msg in r.message, (body, r.json)
    assert admin.api("GET", "/webhooks") == before
    # at most ten hooks a customer
    for _ in range(9):
        alice.api("POST", "/webhooks", {"url": ra.url, "events": "none-such"}, expect=201)
    r = alice.request("POST", "/webhooks", {"url": ra.url})
    assert r.status == 403 and "at most 10 webhooks" in r.message, r.json

    # SSRF: a hook aimed at the host's loopback beyond --webhook-allow
    inside = receiver(host="127.0.0.2")
    for h in alice.api("GET", "/webhooks"):
        alice.api("DELETE", f"/webhooks/{h['id']}")
    hs = bob.api("POST", "/webhooks", {"url": inside.url, "events": "set"}, expect=201)
    hl = bob.api("POST", "/webhooks", {"url": inside.url.replace("127.0.0.2", "localhost6"),
                                       "events": "set"}, expect=201)
    hadm = admin.api("POST", "/webhooks", {"url": inside.url, "events": "set"}, expect=201)
    bob.api("POST", "/vps", ct("b1"), expect=201)
    bob.api("PATCH", "/vps/b1", {"hostname": "bravo"})
    # the administrator's hook may go there, and its delivery arrives
    assert inside.wait(lambda r: len(r.got) >= 1), inside.got
    end = time.monotonic() + 30
    while hook_of(bob, hs["id"])["failed"] != 1 and time.monotonic() < end:
        time.sleep(0.5)
    st = hook_of(bob, hs["id"])
    assert st["failed"] == 1 and st["delivered"] == 0, st
    assert "refused: 127.0.0.2 is not an address webhooks may reach" in st["last_status"], st
    # every POST that reached the receiver is the administrator's
    assert {json.loads(b)["webhook"] for _, b in inside.got} == {hadm["id"]}
    assert hook_of(bob, hl["id"])["delivered"] == 0
