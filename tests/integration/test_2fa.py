# SPDX-License-Identifier: GPL-2.0-or-later
"""Two-factor login (issue 23, docs/auth.md) through the real daemon, on
both stores (SQLite, and PostgreSQL started here): enrolment with a first
code, a login that needs its code, codes made by an independent TOTP
implementation (oathtool, from oath-toolkit, the command beside the
liboath vpsd links), a wrong code and a replayed code refused with no
session, a recovery code good once, tokens unaffected, the attempt limit,
and the host's requirement enforced: the require_2fa setting (GET and
PATCH /settings, an administrator's), which vpsd --require-2fa seeds
while the store has none. Each test runs its own vpsd: wrong codes count
as failed logins from 127.0.0.1."""

import base64
import hashlib
import hmac
import json
import shutil
import sqlite3
import struct
import subprocess

import pytest

from framework.openapi import TOP, start_vpsd, tcp, unix
from framework.vpsd import VPSD

pytestmark = [pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built"),
              pytest.mark.skipif(not shutil.which("oathtool"),
                                 reason="no oathtool (scripts/lib.sh installs it)")]

PASSWORD = "alice's long secret"


def rfc6238(secret, when):
    """RFC 6238's TOTP (HMAC-SHA1, 30 s, 6 digits) in Python's hmac: a
    check of oathtool, which links the liboath vpsd uses."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(when) // 30), hashlib.sha1).digest()
    off = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7fffffff) % 10 ** 6)


def code(secret, at="now"):
    """The TOTP code of `secret` at `at` (GNU date's words), by oathtool."""
    when = int(subprocess.run(["date", "-d", at, "+%s"], check=True, capture_output=True,
                              text=True).stdout)
    c = subprocess.run(["oathtool", "--totp", "-b", "-N", f"@{when}", secret], check=True,
                       capture_output=True, text=True).stdout.strip()
    assert c == rfc6238(secret, when), (c, secret, when)
    return c


def vpsd(*extra):
    d = start_vpsd(extra=extra)
    admin = unix(d)
    admin.api("POST", "/users", {"name": "alice", "password": PASSWORD, "role": "customer"},
              expect=201)
    return d, admin


def login(d, totp=None, expect=200, user="alice", password=PASSWORD):
    c = tcp(d)
    body = {"user": user, "password": password}
    if totp is not None:
        body["totp"] = totp
    r = c.request("POST", "/login", body, auth=False)
    assert r.status == expect, (r.status, r.json)
    if r.status == 200:
        c.take_cookie(r)
        c.csrf = r.json["csrf"]
    else:
        assert not r.headers.get_all("Set-Cookie"), "a refused login set a cookie"
    return c, r


def enrol(c):
    """Turn on c's user's 2FA: (secret, recovery codes, the confirming code)."""
    begin = c.api("POST", "/me/2fa", {"password": PASSWORD})
    secret = begin["secret"]
    assert begin["uri"].startswith("otpauth://totp/vps:") and f"secret={secret}" in begin["uri"]
    first = code(secret)
    done = c.api("POST", "/me/2fa/confirm", {"code": first})
    assert done["2fa"] is True and len(done["recovery_codes"]) == 10
    return secret, done["recovery_codes"], first


def test_totp_login_replay_recovery_tokens(store_flags):
    d, admin = vpsd(*store_flags)
    try:
        c, _ = login(d)
        assert c.api("GET", "/me")["2fa"] is False
        # the password again: a stolen session cannot put the thief's phone on the account
        r = c.request("POST", "/me/2fa", {"password": "a thief's guess"})
        assert r.status == 403 and "wrong password" in r.message, r.json
        assert c.request("POST", "/me/2fa").status == 400  # no body, no password
        begin = c.api("POST", "/me/2fa", {"password": PASSWORD})
        # a wrong first code does not turn it on (a code an hour away is not in the window)
        r = c.request("POST", "/me/2fa/confirm", {"code": code(begin["secret"], "now + 1 hour")})
        assert r.status == 401 and "wrong code" in r.message, r.json
        assert c.api("GET", "/me")["2fa"] is False
        # begin again: only the last secret shown is good
        secret, recovery, first = enrol(c)
        assert admin.api("GET", "/users/alice")["2fa"] is True
        assert c.request("POST", "/me/2fa", {"password": PASSWORD}).status == 409  # on already

        # a password alone: told to send a code, and no session
        _, r = login(d, expect=401)
        assert r.code == "totp_required", r.json
        # a wrong code
        _, r = login(d, code(secret, "now + 1 hour"), expect=401)
        assert "wrong two-factor code" in r.message, r.json
        # the code that confirmed the enrolment is spent: its step is taken
        _, r = login(d, first, expect=401)
        assert "used already" in r.message, r.json
        # the next step's code (the window is one step either side) logs in, once
        nxt = code(secret, "now + 30 seconds")
        c2, _ = login(d, nxt)
        assert c2.api("GET", "/me")["name"] == "alice"
        _, r = login(d, nxt, expect=401)
        assert "used already" in r.message, r.json
        # a recovery code, typed in upper case: once
        c3, _ = login(d, recovery[3].upper())
        assert c3.api("GET", "/me")["name"] == "alice"
        _, r = login(d, recovery[3], expect=401)
        assert "used already" in r.message, r.json

        # the store keeps argon2id hashes of the codes, not the codes
        if not store_flags:
            db = sqlite3.connect(d.data / "vps.db")
            (kept,) = db.execute("SELECT recovery FROM users WHERE name = 'alice'").fetchone()
            db.close()
            assert kept.count("$argon2id$") == 9 and "null" in kept, kept
            assert not any(rc.split("-", 1)[1].replace("-", "") in kept for rc in recovery)

        # tokens are unaffected: no code asked
        tok = admin.api("POST", "/tokens", {"name": "t", "expires_in": 600, "user": "alice"},
                        expect=201)["token"]
        assert tcp(d, token=tok).api("GET", "/vps") == []

        # off: a wrong code is refused, a good one (here a recovery code) turns it off
        r = c2.request("POST", "/me/2fa/disable", {"code": code(secret, "now + 1 hour")})
        assert r.status == 401, r.json
        assert admin.api("GET", "/users/alice")["2fa"] is True
        c2.api("POST", "/me/2fa/disable", {"code": recovery[5]})
        assert admin.api("GET", "/users/alice")["2fa"] is False
        login(d)  # the password alone again
    finally:
        d.cleanup()


def test_racing_one_code(store_flags):
    """Four logins at once with one code: the time step is taken in one
    statement, so exactly one session is made."""
    from concurrent.futures import ThreadPoolExecutor

    d, admin = vpsd(*store_flags)
    try:
        c, _ = login(d)
        secret, _, _ = enrol(c)
        nxt = code(secret, "now + 30 seconds")

        def one(_):
            r = tcp(d).request("POST", "/login", {"user": "alice", "password": PASSWORD,
                                                  "totp": nxt}, auth=False)
            return r.status, bool(r.headers.get_all("Set-Cookie"))

        with ThreadPoolExecutor(4) as pool:
            got = sorted(pool.map(one, range(4)))
        # the others: 401 (the step is taken), or 429 when a slow host kept one waiting
        # more than 1 s for an argon2id slot; none of them a session
        assert got[0] == (200, True) and all(st in (401, 429) and not ck for st, ck in got[1:]), got
    finally:
        d.cleanup()


def test_code_guessing_is_rate_limited():
    """Wrong codes count as failed logins: the fifth closes logins from the
    address for the window, even with the right code after it."""
    d, admin = vpsd()
    try:
        c, _ = login(d)
        secret, _, _ = enrol(c)
        for i in range(5):
            _, r = login(d, code(secret, f"now + {i + 2} hours"), expect=401)
        _, r = login(d, code(secret, "now + 30 seconds"), expect=429)
        assert r.headers.get("Retry-After"), r.headers
        # on the 2FA routes too: five wrong codes, then 429 for the user
        for i in range(5):
            r = c.request("POST", "/me/2fa/disable", {"code": code(secret, f"now + {i + 2} days")})
            assert r.status == 401, r.json
        r = c.request("POST", "/me/2fa/disable", {"code": code(secret)})
        assert r.status == 429, r.json
        assert admin.api("GET", "/users/alice")["2fa"] is True
    finally:
        d.cleanup()


def test_hostile_codes_and_resets():
    """What a customer (or a guesser) can send: malformed codes and
    recovery codes, an admin's reset asked for by a customer, a 2FA of root."""
    d, admin = vpsd()
    try:
        admin.api("POST", "/users", {"name": "bob", "password": PASSWORD, "role": "customer"},
                  expect=201)
        c, _ = login(d)
        secret, recovery, _ = enrol(c)
        bob, _ = login(d, user="bob")
        # bob may not end alice's second factor, nor see users
        assert bob.request("PATCH", "/users/alice", {"2fa": False}).status == 403
        assert admin.api("GET", "/users/alice")["2fa"] is True
        # malformed: wrong types are 400, odd strings wrong codes (401); no session.
        # Five 401s: the most one address gets in the window.
        for bad, status in ((123456, 400), ("x" * 65, 400), ("9-" + "a" * 16, 401),
                            ("0-" + "a" * 17, 401), ("a-aaaa", 401), ("-", 401), ("", 401)):
            login(d, bad, expect=status)
        # the unix socket's root is no user: no 2FA of its own
        assert admin.request("POST", "/me/2fa", {"password": PASSWORD}).status == 400
        # an admin ends alice's 2FA (a lost phone): her password alone logs in again
        admin.api("PATCH", "/users/alice", {"2fa": False})
        assert admin.api("GET", "/users/alice")["2fa"] is False
        r = admin.request("PATCH", "/users/alice", {"2fa": True})
        assert r.status == 400, r.json  # only the user turns it on
    finally:
        d.cleanup()


@pytest.mark.parametrize("who", ["all", "admins"])
def test_required(who, store_flags):
    d, admin = vpsd("--require-2fa", who, *store_flags)
    try:
        admin.api("POST", "/users", {"name": "carol", "password": PASSWORD, "role": "admin"},
                  expect=201)
        admin.api("POST", "/plans", {"name": "small", "ram": "128M", "disk": "64M", "cpus": 1},
                  expect=201)
        required = ["carol", "alice"] if who == "all" else ["carol"]
        tok = admin.api("POST", "/tokens", {"name": "t", "expires_in": 600, "user": "alice"},
                        expect=201)["token"]
        for user in ("alice", "carol"):
            c, r = login(d, user=user)
            if user not in required:
                assert "2fa_required" not in r.json
                assert c.api("GET", "/vps") == []
                continue
            assert r.json.get("2fa_required") is True, r.json
            assert c.api("GET", "/me")["2fa_required"] is True
            # everything but enrolment is closed, and changes nothing
            r = c.request("GET", "/vps", validate=False)
            assert r.status == 403 and r.code == "2fa_required", r.json
            r = c.request("POST", "/vps", {"name": "x1", "kind": "ct", "template": "busybox",
                                           "plan": "small"})
            assert r.status == 403 and r.code == "2fa_required", r.json
            assert admin.api("GET", "/vps") == []
            # enrolment is open; then a login with a code opens everything
            secret, _, _ = enrol(c)
            c2, r = login(d, code(secret, "now + 30 seconds"), user=user)
            assert "2fa_required" not in r.json
            assert c2.api("GET", "/vps") == []
        # tokens are unaffected by the requirement
        assert tcp(d, token=tok).api("GET", "/vps") == []
    finally:
        d.cleanup()


def enrol_only(c):
    """Whether c's session is one that may only enrol (403 `2fa_required` elsewhere)."""
    r = c.request("GET", "/vps", validate=False)
    if r.status == 403:
        assert r.code == "2fa_required", r.json
        return True
    assert r.status == 200, r.json
    return False


def test_required_setting(store_flags):
    """PATCH /settings require_2fa through the running daemon: `all` makes a
    customer without 2FA log in to an enrol-only session (and closes the
    sessions opened before), `none` opens them again; a customer may
    neither read nor change it, and a bad body changes nothing."""
    d, admin = vpsd(*store_flags)
    try:
        admin.api("POST", "/users", {"name": "bob", "password": PASSWORD, "role": "customer"},
                  expect=201)
        tok = admin.api("POST", "/tokens", {"name": "t", "expires_in": 600, "user": "alice"},
                        expect=201)["token"]
        assert admin.api("GET", "/settings") == {"require_2fa": "none"}
        before, r = login(d)
        assert "2fa_required" not in r.json and not enrol_only(before)

        # a customer: 403 whatever the body, and nothing changes
        bob, _ = login(d, user="bob")
        assert bob.request("GET", "/settings").status == 403
        for body in ({"require_2fa": "none"}, {"require_2fa": "all"}, {"x": 1}):
            r = bob.request("PATCH", "/settings", body, validate=False)
            assert r.status == 403, r.json
        # a customer's token: the same
        r = tcp(d, token=tok).request("PATCH", "/settings", {"require_2fa": "all"})
        assert r.status == 403, r.json
        assert admin.api("GET", "/settings") == {"require_2fa": "none"}

        # hostile and malformed bodies: 400 naming the field, nothing written
        for body, word in (({"require_2fa": "everyone"}, "require_2fa"),
                           ({"require_2fa": 1}, "require_2fa"),
                           ({"require_2fa": None}, "require_2fa"),
                           ({"require_2fa": "ALL"}, "require_2fa"),
                           ({"require_2fa": ["all"]}, "require_2fa"),
                           ({"require_2fa": "all", "require_3fa": "all"}, "require_3fa"),
                           ({"requre_2fa": "all"}, "requre_2fa"),
                           ({}, "require_2fa"), ([], "require_2fa"), ('"all"', "JSON")):
            r = admin.request("PATCH", "/settings", body, validate=False)
            assert r.status == 400 and word in r.message, (body, r.status, r.json)
        r = admin.request("PATCH", "/settings", b'{"require_2fa": "all"', validate=False)
        assert r.status == 400, r.json
        assert admin.api("GET", "/settings") == {"require_2fa": "none"}
        assert not enrol_only(before)

        # all: a login without 2FA opens enrolment only; so does the session from before
        assert admin.api("PATCH", "/settings", {"require_2fa": "all"}) == {"require_2fa": "all"}
        assert admin.api("GET", "/settings") == {"require_2fa": "all"}
        c, r = login(d)
        assert r.json.get("2fa_required") is True, r.json
        assert c.api("GET", "/me")["2fa_required"] is True
        assert enrol_only(c) and enrol_only(before)
        r = c.request("POST", "/vps", {"name": "x1", "kind": "ct", "template": "busybox"})
        assert r.status == 403 and r.code == "2fa_required", r.json
        assert admin.api("GET", "/vps") == []
        # an admin of the panel is no exception with `all`; the unix socket's root is no user
        assert tcp(d, token=tok).api("GET", "/vps") == []  # tokens are unaffected
        # admins: the customer is free again, an admin is not
        admin.api("POST", "/users", {"name": "carol", "password": PASSWORD, "role": "admin"},
                  expect=201)
        admin.api("PATCH", "/settings", {"require_2fa": "admins"})
        assert not enrol_only(c)
        carol, r = login(d, user="carol")
        assert r.json.get("2fa_required") is True and enrol_only(carol), r.json
        # an enrol-only admin may not turn the requirement off for themselves
        r = carol.request("PATCH", "/settings", {"require_2fa": "none"}, validate=False)
        assert r.status == 403 and r.code == "2fa_required", r.json
        assert admin.api("GET", "/settings") == {"require_2fa": "admins"}

        # none: logins are plain again, and so are the sessions
        admin.api("PATCH", "/settings", {"require_2fa": "none"})
        c2, r = login(d)
        assert "2fa_required" not in r.json and not enrol_only(c2)
        assert not enrol_only(carol) and not enrol_only(before)

        # each change is an event and in the audit log, with who made it
        ev = [e["message"] for e in admin.api("GET", "/events") if e["kind"] == "setting"]
        assert ev == ["require_2fa all", "require_2fa admins", "require_2fa none"], ev
        audit = [(a["user"], a["status"]) for a in admin.api("GET", "/audit")
                 if a["path"].endswith("/settings") and a["method"] == "PATCH"]
        assert ("bob", 403) in audit and ("root", 200) in audit, audit
    finally:
        d.cleanup()


def test_flag_seeds_and_the_store_wins(store_flags):
    """vpsd --require-2fa writes the setting only while the store has none:
    after an administrator's change, a restart with the old flag leaves it
    (and says so in the log), as does a restart without the flag."""
    d, admin = vpsd("--require-2fa", "admins", *store_flags)
    try:
        assert admin.api("GET", "/settings") == {"require_2fa": "admins"}
        ev = [e["message"] for e in admin.api("GET", "/events") if e["kind"] == "setting"]
        assert ev == ["require_2fa admins (vpsd --require-2fa)"], ev
        admin.api("PATCH", "/settings", {"require_2fa": "none"})
        base = ("--tcp", f"127.0.0.1:{d.port}", "--web", str(TOP / "web"), *store_flags)
        for flag in (("--require-2fa", "all"), ()):
            d.stop()
            d.start(extra=(*base, *flag))
            assert admin.api("GET", "/settings") == {"require_2fa": "none"}
            _, r = login(d)
            assert "2fa_required" not in r.json, r.json
        assert "the store's require_2fa is none, which stands" in d.log.read_text()
        ev = [e["message"] for e in admin.api("GET", "/events") if e["kind"] == "setting"]
        assert len(ev) == 2, ev  # the restarts wrote nothing
    finally:
        d.cleanup()


def test_cli_enable_login_disable():
    """The CLI: `vps 2fa enable` prints the secret and takes a first code,
    `vps login` asks for the code and prints a token, `vps 2fa disable`."""
    import os
    import re

    from test_cli import VPS

    d, admin = vpsd()
    try:
        url = f"http://127.0.0.1:{d.port}"
        tok = admin.api("POST", "/tokens", {"name": "t", "expires_in": 600, "user": "alice"},
                        expect=201)["token"]
        env = dict(os.environ, VPS_TOKEN=tok)
        p = subprocess.Popen([str(VPS), "--url", url, "2fa", "enable"], env=env, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        p.stdin.write(PASSWORD + "\n")  # asked again
        p.stdin.flush()
        secret = p.stdout.readline().split(": ", 1)[1].strip()
        assert p.stdout.readline().startswith("uri: otpauth://totp/vps:alice?secret=" + secret)
        out, err = p.communicate(code(secret) + "\n", timeout=120)
        assert p.returncode == 0, err
        recovery = out.split()
        assert len(recovery) == 10 and all(re.fullmatch(r"\d-[a-z2-7]{4}(-[a-z2-7]{4}){3}", c)
                                           for c in recovery), out
        assert admin.api("GET", "/users/alice")["2fa"] is True

        def login_cli(stdin):
            return subprocess.run([str(VPS), "--url", url, "login", "alice"], input=stdin,
                                  capture_output=True, text=True, timeout=120,
                                  env={k: v for k, v in os.environ.items() if k != "VPS_TOKEN"})

        r = login_cli(PASSWORD + "\n")  # no code: refused, no token
        assert r.returncode == 1 and "no code given" in r.stderr and not r.stdout, r
        r = login_cli(PASSWORD + "\n" + code(secret, "now + 1 hour") + "\n")
        assert r.returncode == 1 and "wrong two-factor code" in r.stderr, r
        r = login_cli(PASSWORD + "\n" + code(secret, "now + 30 seconds") + "\n")
        assert r.returncode == 0, r
        made = r.stdout.strip()
        assert tcp(d, token=made).api("GET", "/me")["name"] == "alice"

        r = subprocess.run([str(VPS), "--url", url, "2fa", "disable"], env=env, text=True,
                           input=recovery[0] + "\n", capture_output=True, timeout=120)
        assert r.returncode == 0 and "off" in r.stdout, r
        assert admin.api("GET", "/users/alice")["2fa"] is False
    finally:
        d.cleanup()


def test_panel_login_with_code():
    """The panel's login page (tests/e2e/login_2fa.mjs, headless Chromium):
    asks for the code when the server does, refuses a wrong one, takes the
    right one. Needs scripts/web-vendor, node and Chromium."""
    import os
    from pathlib import Path

    e2e = Path(__file__).resolve().parents[1] / "e2e" / "login_2fa.mjs"
    node = shutil.which("node")
    if not node or not Path("/usr/bin/chromium").exists():
        pytest.fail("node and chromium are needed (scripts/lib.sh installs them)")
    d, admin = vpsd()
    try:
        c, _ = login(d)
        secret, _, _ = enrol(c)
        env = dict(os.environ, PANEL_USER=f"alice:{PASSWORD}",
                   PANEL_WRONG=code(secret, "now + 1 hour"),
                   PANEL_CODE=code(secret, "now + 30 seconds"))
        r = subprocess.run([node, str(e2e), f"http://127.0.0.1:{d.port}/"], env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0 and "passed" in r.stdout, r.stdout + r.stderr
    finally:
        d.cleanup()


def test_panel_settings_require_2fa():
    """The panel's Settings page (tests/e2e/settings_2fa.mjs, headless
    Chromium): an admin changes require_2fa to Everyone; the server keeps
    it, and a customer's panel login lands on enrolment. Needs
    scripts/web-vendor, node and Chromium."""
    import os
    from pathlib import Path

    e2e = Path(__file__).resolve().parents[1] / "e2e" / "settings_2fa.mjs"
    node = shutil.which("node")
    if not node or not Path("/usr/bin/chromium").exists():
        pytest.fail("node and chromium are needed (scripts/lib.sh installs them)")
    d, admin = vpsd()
    try:
        admin.api("POST", "/users", {"name": "carol", "password": PASSWORD, "role": "admin"},
                  expect=201)
        env = dict(os.environ, PANEL_ADMIN=f"carol:{PASSWORD}", PANEL_USER=f"alice:{PASSWORD}")
        r = subprocess.run([node, str(e2e), f"http://127.0.0.1:{d.port}/"], env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0 and "passed" in r.stdout, r.stdout + r.stderr
        assert admin.api("GET", "/settings") == {"require_2fa": "all"}
        audit = [(a["user"], a["method"], a["status"]) for a in admin.api("GET", "/audit")
                 if a["path"].endswith("/settings")]
        assert ("carol", "PATCH", 200) in audit, audit
    finally:
        d.cleanup()


def test_cli_settings():
    """`vps settings show|set`: an admin sets require-2fa and reads it back,
    a bad name or value is refused with the name and nothing changes, and a
    customer's token is refused."""
    import os

    from test_cli import VPS, vps

    d, admin = vpsd()
    try:
        sock = d.checked().sock  # every answer the CLI gets checked against the description
        r = vps("settings", "show", sock=sock)
        assert r.returncode == 0 and r.stdout.split()[2:] == ["require-2fa", "none"], r
        r = vps("settings", "set", "require-2fa=all", sock=sock)
        assert r.returncode == 0 and "all" in r.stdout, r
        assert admin.api("GET", "/settings") == {"require_2fa": "all"}
        r = vps("settings", "show", "--format", "json", sock=sock)
        assert r.returncode == 0 and json.loads(r.stdout) == {"require_2fa": "all"}, r
        for bad, word in (("require-2fa=sometimes", "require_2fa"),
                          ("require-3fa=none", "require_3fa"),
                          ("require-2fa", "KEY=VALUE"), ("=none", "KEY=VALUE")):
            r = vps("settings", "set", bad, sock=sock)
            assert r.returncode != 0 and word in r.stderr, (bad, r)
        r = vps("settings", "set", "require-2fa=none", "require-3fa=none", sock=sock)
        assert r.returncode != 0 and "require_3fa" in r.stderr, r
        assert admin.api("GET", "/settings") == {"require_2fa": "all"}
        tok = admin.api("POST", "/tokens", {"name": "t", "expires_in": 600, "user": "alice"},
                        expect=201)["token"]
        r = subprocess.run([str(VPS), "--url", f"http://127.0.0.1:{d.port}", "settings", "set",
                            "require-2fa=none"], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, VPS_TOKEN=tok))
        assert r.returncode != 0 and "admin" in r.stderr, r
        assert admin.api("GET", "/settings") == {"require_2fa": "all"}
    finally:
        d.cleanup()


def test_cli_login_enrols_when_required():
    """vpsd --require-2fa all: `vps login` of a user without 2FA enrols them
    (the secret, a first code, the recovery codes) and prints no token; the
    next login with a code gives one."""
    import os

    from test_cli import VPS

    d, admin = vpsd("--require-2fa", "all")
    try:
        url = f"http://127.0.0.1:{d.port}"
        env = {k: v for k, v in os.environ.items() if k != "VPS_TOKEN"}
        p = subprocess.Popen([str(VPS), "--url", url, "login", "alice"], env=env, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        p.stdin.write(PASSWORD + "\n")
        p.stdin.flush()
        secret = p.stdout.readline().split(": ", 1)[1].strip()
        out, err = p.communicate(code(secret) + "\n", timeout=120)
        assert p.returncode == 0 and "requires two-factor login" in err, err
        codes = [w for w in out.split() if w[:2] in {f"{i}-" for i in range(10)}]
        assert len(codes) == 10 and "vps_" not in out, out  # the recovery codes, no token
        assert admin.api("GET", "/users/alice")["2fa"] is True
        r = subprocess.run([str(VPS), "--url", url, "login", "alice"], env=env, text=True,
                           input=f"{PASSWORD}\n{code(secret, 'now + 30 seconds')}\n",
                           capture_output=True, timeout=120)
        assert r.returncode == 0, r
        assert tcp(d, token=r.stdout.strip()).api("GET", "/vps") == []
    finally:
        d.cleanup()
