# SPDX-License-Identifier: GPL-2.0-or-later
"""`vps` for issue 8's API: users, tokens, the audit log, suspend and
unsuspend, a VPS's root password, plan change and operations (src/cli/users.c,
/tmp/notes/contract.md). First what the CLI judges alone (exit status 2, the
flag named), passwords from a pipe and from a terminal without echo; then
against a private vpsd on its real socket, where the caller is root, and over
TCP with a token ($VPS_TOKEN) as a user of each role.

Run as root: /usr/bin/python3 -m pytest -q -p no:cacheprovider test_cli_auth.py"""

import http.client
import json
import os
import pty
import re
import select
import signal
import subprocess
import time
import uuid

import pytest

from framework.vpsd import VPSD, Vpsd, check_answer, free_port, raise_spec_errors
from test_cli import NOWHERE, VPS, cli, vps  # noqa: F401 (cli: a fixture)

PW = "correct horse battery\n"
NEW = ["user", "token", "audit", "op", "passwd", "suspend", "unsuspend"]


def test_help(cli):
    for c in NEW:
        r = vps(c, "--help")
        assert r.returncode == 0 and r.stdout.startswith(f"usage: vps {c}"), (c, r)
    for sub in (["user", "add"], ["token", "create"], ["token", "rm"]):
        r = vps(*sub, "--help")
        assert r.returncode == 0 and r.stdout.startswith(f"usage: vps {sub[0]}"), (sub, r)
    top = vps("--help").stdout
    assert all(f"  {c}" in top for c in ("user ", "token ", "audit ", "op ", "passwd "))
    assert "suspend|unsuspend" in top and "--plan P" in top and "VPS_TOKEN" in top
    assert "--plan P" in vps("set", "--help").stdout


BAD = [
    (["user"], None, "missing list, add, passwd, rm or set"),
    (["user", "frob"], None, "unknown user command `frob`"),
    (["user", "add", "bob"], PW, "--role: required (admin or customer)"),
    (["user", "add", "bob", "--role", "root"], PW, "--role: `root` is not admin or customer"),
    (["user", "add", "--role", "admin"], PW, "missing NAME"),
    (["user", "add", "Bob", "--role", "admin"], PW, "`Bob`: not a user name"),
    (["user", "add", "1bob", "--role", "admin"], PW, "`1bob`: not a user name"),
    (["user", "add", "bob", "--role", "admin"], "short\n", "password: must be 8 to 1024"),
    (["user", "add", "bob", "--role", "admin"], "x" * 1025 + "\n", "password: must be 8 to"),
    (["user", "add", "bob", "--role", "admin"], "", "password: nothing on standard input"),
    (["user", "add", "bob", "--role", "admin"], "\n", "password: must be 8 to 1024"),
    (["user", "passwd", "bob"], "1234567\n", "password: must be 8 to 1024"),
    (["user", "passwd"], PW, "missing NAME"),
    (["user", "rm", "bob", "--role", "admin"], None, "--role: only for `user add`"),
    (["user", "rm", "bob", "--password-stdin"], None, "--password-stdin: only for"),
    (["user", "list", "bob"], None, "unexpected argument `bob`"),
    (["user", "list", "--format", "yaml"], None, "--format: `yaml` is not table or json"),
    (["token"], None, "missing list, create or rm"),
    (["token", "create", "t1"], None, "--expires: required"),
    (["token", "create", "--expires", "1d"], None, "missing NAME"),
    (["token", "create", "t1", "--expires", "30x"], None, "--expires: `30x` is not a duration"),
    (["token", "create", "t1", "--expires", "1.5d"], None, "--expires: `1.5d` is not a dura"),
    (["token", "create", "t1", "--expires", "d"], None, "--expires: `d` is not a duration"),
    (["token", "create", "t1", "--expires", "-1h"], None, "--expires: `-1h` is not a dura"),
    (["token", "create", "t1", "--expires", "59s"], None, "--expires: `59s` is out of range"),
    (["token", "create", "t1", "--expires", "366d"], None, "--expires: `366d` is out of range"),
    (["token", "create", "t1", "--expires", "99999999999999999999"], None, "out of range"),
    (["token", "create", "t1", "--expires", "1d", "--source", "10.0.0.0/33"], None,
     "--source: `10.0.0.0/33` is not an address or ADDR/LEN"),
    (["token", "create", "t1", "--expires", "1d", "--source", "::1/129"], None,
     "--source: `::1/129`"),
    (["token", "create", "t1", "--expires", "1d", "--source", "10.1.2/8"], None,
     "--source: `10.1.2/8`"),
    (["token", "create", "t1", "--expires", "1d", "--source", "10.0.0.0/"], None,
     "--source: `10.0.0.0/`"),
    (["token", "create", "t1", "--expires", "1d", "--source", "example.com"], None,
     "--source: `example.com`"),
    (["token", "create", "t1", "--expires", "1d", "--user", "No!"], None,
     "--user: `No!`: not a user name"),
    (["token", "list", "--expires", "1d"], None, "--expires: only for `token create`"),
    (["token", "rm"], None, "missing ID"),
    (["token", "rm", "1/2"], None, "`1/2`: not an id"),
    (["audit", "-n", "0"], None, "-n: `0` is not a number"),
    (["audit", "-n", "many"], None, "-n: `many` is not a number"),
    (["audit", "-n"], None, "-n: needs a value"),
    (["audit", "-x"], None, "unknown flag `-x`"),
    (["audit", "--n", "3"], None, "unknown flag `--n`"),
    (["audit", "extra"], None, "unexpected argument `extra`"),
    (["op"], None, "missing ID"),
    (["op", "1", "2"], None, "unexpected argument `2`"),
    (["op", "../x"], None, "`../x`: not an id"),
    (["passwd"], "secret\n", "missing NAME"),
    (["passwd", "web1"], "", "password: nothing on standard input"),
    (["passwd", "web1"], "\n", "password: must be 1 to 1024"),
    (["suspend"], None, "missing NAME"),
    (["unsuspend", "BAD!"], None, "`BAD!`: not a valid name"),
    (["set", "web1", "--plan", "small", "ram=1G"], None, "--plan: cannot be combined"),
    (["set", "web1", "--plan", "a/b"], None, "--plan: `a/b` is not a plan name"),
    (["set", "web1", "--plan"], None, "--plan: needs a value"),
]


@pytest.mark.parametrize("args,stdin,msg", BAD, ids=[" ".join(a) for a, _, _ in BAD])
def test_usage_errors(cli, args, stdin, msg):
    r = vps(*args, stdin=stdin)
    assert r.returncode == 2, r
    assert r.stderr.startswith("vps: error: ") and msg in r.stderr, r.stderr
    assert "--help" in r.stderr and not r.stdout


def test_password_from_stdin_goes_to_daemon(cli):
    """A good password passes the CLI's checks: what fails is the connect."""
    for args in (["user", "add", "bob", "--role", "customer"], ["user", "passwd", "bob"],
                 ["passwd", "web1"], ["user", "add", "b.o_b-1", "--role", "admin",
                                      "--password-stdin"]):
        r = vps(*args, stdin="x" * 1024 + "\r\n")  # CRLF: the line without it
        assert r.returncode == 1 and "cannot reach vpsd" in r.stderr, (args, r)


def on_tty(args, typed):
    """Run vps with a terminal as stdin; type each line when asked. Returns
    (exit status, what the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["VPS_SOCKET"] = NOWHERE
        os.execv(str(VPS), [str(VPS), *args])
    shown, answered, deadline = b"", 0, time.monotonic() + 30
    while time.monotonic() < deadline:
        asked = shown.count(b"New password for ") + shown.count(b"Again: ")
        if answered < asked and answered < len(typed):
            os.write(fd, typed[answered].encode() + b"\n")
            answered += 1
        if not select.select([fd], [], [], 1)[0]:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        shown += data
    done = os.waitpid(pid, os.WNOHANG)
    if done == (0, 0):  # give it a second to end, then say what it showed
        time.sleep(1)
        done = os.waitpid(pid, os.WNOHANG)
    if done == (0, 0):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
        raise AssertionError(f"vps {args} still waits after {typed}: {shown!r}")
    status = done[1]
    os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_password_prompt_without_echo(cli):
    status, shown = on_tty(["user", "add", "bob", "--role", "admin"],
                           ["tty-secret-1", "tty-secret-1"])
    assert "New password for user `bob`:" in shown and "Again:" in shown, shown
    assert "tty-secret-1" not in shown, shown  # no echo
    assert status == 1 and "cannot reach vpsd" in shown, shown
    status, shown = on_tty(["passwd", "web1"], ["one-password", "another-one"])
    assert "New password for root on `web1`:" in shown, shown
    assert status == 2 and "the two do not match" in shown, shown


# ---- against a private vpsd ----

@pytest.fixture(scope="module")
def vpsd(cli):
    if not VPSD.exists():
        pytest.fail(f"{VPSD} is not built: ninja -C $VPS_BUILD")
    port = free_port()
    d = Vpsd().start(extra=("--tcp", f"127.0.0.1:{port}"))
    d.port, d.url = port, f"http://127.0.0.1:{port}"
    # the CLI speaks through proxies that check its answers against the description
    d.cli_sock, d.cli_url = d.checked().sock, d.checked(tcp=True).url
    yield d
    d.cleanup()


def uniq(prefix):
    return prefix + uuid.uuid4().hex[:6]


def run(*args, sock, stdin=None):
    r = vps(*args, sock=sock, stdin=stdin)
    assert r.returncode == 0, r
    return r.stdout


def login(vpsd, user, password):
    """The status of a login over TCP (the socket has no logins: its caller is root)."""
    c = http.client.HTTPConnection("127.0.0.1", vpsd.port, timeout=60)
    c.request("POST", "/api/v1/login", body=json.dumps({"user": user, "password": password}),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    check_answer("POST", "/api/v1/login", r.status, r.headers, json.loads(text) if text else None)
    return r.status


@pytest.fixture
def user(vpsd):
    """A fresh customer, removed after the test (with any VPS it was given)."""
    n = uniq("u")
    assert run("user", "add", n, "--role", "customer", sock=vpsd.cli_sock, stdin=PW) == \
        f"created user {n} (customer)\n"
    yield n
    for v in vpsd.api("GET", "/vps"):
        if v.get("owner") == n:
            vpsd.request("DELETE", f"/api/v1/vps/{v['name']}")
    vps("user", "rm", n, sock=vpsd.cli_sock)


def test_users(vpsd, user):
    s = vpsd.cli_sock
    admin = uniq("a")
    run("user", "add", admin, "--role", "admin", "--password-stdin", sock=s, stdin=PW)
    table = run("user", "list", sock=s).splitlines()
    assert table[0].split() == ["NAME", "ROLE", "CREATED"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows[user][1] == "customer" and rows[admin][1] == "admin"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", rows[user][2]), rows[user]  # a date, not a number
    users = json.loads(run("user", "list", "--format", "json", sock=s))
    assert {"name": user, "role": "customer"}.items() <= \
        next(u for u in users if u["name"] == user).items()

    r = vps("user", "add", user, "--role", "admin", sock=s, stdin=PW)
    assert r.returncode == 1 and f"`{user}` exists" in r.stderr, r
    assert login(vpsd, user, PW.strip()) == 200

    assert run("user", "passwd", user, sock=s, stdin="a new password\n") == \
        f"changed the password of user {user}\n"
    assert login(vpsd, user, PW.strip()) == 401
    assert login(vpsd, user, "a new password") == 200

    # unknown users: the daemon's message, exit 1
    for args in (["user", "rm", "nobody"], ["user", "passwd", "nobody"]):
        r = vps(*args, sock=s, stdin=PW)
        assert r.returncode == 1 and r.stderr == "vps: error: no user named `nobody`\n", r
    r = vps("user", "add", "root", "--role", "admin", sock=s, stdin=PW)
    assert r.returncode == 1 and "`root`" in r.stderr, r

    assert run("user", "rm", admin, sock=s) == f"removed user {admin}\n"
    assert admin not in run("user", "list", sock=s)


def test_user_owning_a_vps_is_kept(vpsd, user):
    s, name = vpsd.cli_sock, uniq("own-")
    run("create", name, "--kind", "ct", "--template", "busybox", "--ram", "128M", "--disk", "64M",
        "--owner", user, sock=s)
    r = vps("user", "rm", user, sock=s)
    assert r.returncode == 1 and f"user `{user}` owns" in r.stderr, r
    run("destroy", name, sock=s)


def test_tokens(vpsd, user):
    s = vpsd.cli_sock
    r = vps("token", "create", "ci", "--expires", "30d", "--user", user, "--source",
            "127.0.0.1", "--source", "::1/128", sock=s)
    assert r.returncode == 0, r
    token = r.stdout.strip()
    assert r.stdout.count("\n") == 1 and re.fullmatch(r"vps_\d+_[0-9a-f]+", token), r.stdout
    tid = token.split("_")[1]
    assert f"token ci (id {tid}, user {user}) expires " in r.stderr and "only this once" \
        in r.stderr, r.stderr

    table = run("token", "list", sock=s).splitlines()
    assert table[0].split() == ["ID", "NAME", "USER", "CREATED", "EXPIRES", "SOURCES",
                                "LAST_USED"]
    row = next(line for line in table[1:] if line.split()[0] == tid)
    assert " ci " in row and user in row and "127.0.0.1/32,::1/128" in row, row
    assert token not in "\n".join(table)  # never shown again
    listed = json.loads(run("token", "list", "--format", "json", sock=s))
    mine = next(t for t in listed if str(t["id"]) == tid)
    assert mine["sources"] == ["127.0.0.1/32", "::1/128"] and "token" not in mine
    assert 30 * 86400 - 60 <= mine["expires"] - mine["created"] <= 30 * 86400

    created = json.loads(run("token", "create", "j", "--expires", "3600", "--user", user,
                             "--format", "json", sock=s))
    assert created["token"].startswith("vps_") and created["expires"] - created["created"] == 3600

    # what only the daemon knows: its message, exit 1
    r = vps("token", "create", "x", "--expires", "1h", sock=s)  # root is no user
    assert r.returncode == 1 and "`user`" in r.stderr, r
    r = vps("token", "create", "x", "--expires", "1h", "--user", "nobody", sock=s)
    assert r.returncode == 1 and "no user named `nobody`" in r.stderr, r

    assert run("token", "rm", tid, sock=s) == f"removed token {tid}\n"
    r = vps("token", "rm", tid, sock=s)
    assert r.returncode == 1 and f"no token {tid}" in r.stderr, r
    run("token", "rm", str(created["id"]), sock=s)
    assert tid not in [line.split()[0] for line in run("token", "list", sock=s).splitlines()]


def test_over_tcp_with_a_token(vpsd, user):
    s = vpsd.cli_sock
    admin = uniq("a")
    run("user", "add", admin, "--role", "admin", sock=s, stdin=PW)
    tok = {u: run("token", "create", "cli", "--expires", "1h", "--user", u, sock=s).strip()
           for u in (admin, user)}

    def tcp(*args, token=None, stdin=None):
        env = dict(os.environ, VPS_SOCKET=NOWHERE)
        env.pop("VPS_TOKEN", None)
        if token:
            env["VPS_TOKEN"] = token
        r = subprocess.run([str(VPS), "--url", vpsd.cli_url, *args], capture_output=True,
                           text=True, env=env, input=stdin or "", timeout=60)
        raise_spec_errors()
        return r

    r = tcp("user", "list")
    assert r.returncode == 1 and r.stderr.startswith("vps: error: "), r  # 401
    r = tcp("user", "list", token=tok[admin])
    assert r.returncode == 0 and user in r.stdout, r
    r = tcp("user", "list", token=tok[user])
    assert r.returncode == 1 and r.stderr.startswith("vps: error: "), r  # 403
    r = tcp("token", "list", token=tok[user])  # a customer's own tokens
    assert r.returncode == 0 and user in r.stdout and admin not in r.stdout, r
    r = tcp("audit", token=tok[user])
    assert r.returncode == 1, r
    vps("user", "rm", admin, sock=s)


def test_audit(vpsd, user):
    s = vpsd.cli_sock
    table = run("audit", "-n", "3", sock=s).splitlines()
    assert table[0].split() == ["TIME", "USER", "SOURCE", "METHOD", "PATH", "STATUS"]
    assert 1 <= len(table) - 1 <= 3, table
    last = table[-1].split()  # oldest first: the last is the user made by the fixture
    assert last[2:5] == ["root", "unix", "POST"] and last[5:] in (["/api/v1/users", "201"],
                                                                 ["/api/v1/users", "200"]), table
    rows = json.loads(run("audit", "--format", "json", "-n5", sock=s))
    assert 1 <= len(rows) <= 5 and \
        {"id", "time", "user", "source", "method", "path", "status"} <= rows[0].keys()
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    vps("user", "rm", "nobody", sock=s)  # a failed change is recorded with its status
    assert run("audit", "-n", "1", sock=s).splitlines()[1].split()[-3:] == \
        ["DELETE", "/api/v1/users/nobody", "404"]


@pytest.fixture
def ct(vpsd, user):
    n = uniq("cli-")
    run("create", n, "--kind", "ct", "--template", "busybox", "--ram", "128M", "--disk", "64M",
        "--owner", user, sock=vpsd.cli_sock)
    yield n
    vps("destroy", n, sock=vpsd.cli_sock)


def shown(vpsd, name):
    return json.loads(run("show", name, "--format", "json", sock=vpsd.cli_sock))


def test_suspend_unsuspend(vpsd, ct):
    s = vpsd.cli_sock
    run("start", ct, sock=s)
    assert run("suspend", ct, sock=s) == f"suspended {ct}\n"
    v = shown(vpsd, ct)
    assert v["suspended"] is True and v["state"] == "stopped", v
    assert run("unsuspend", ct, sock=s) == f"unsuspended {ct}\n"
    assert shown(vpsd, ct)["suspended"] is False
    r = vps("suspend", "no-such-vps", sock=s)
    assert r.returncode == 1 and "no VPS named `no-such-vps`" in r.stderr, r


def shadow_root(vpsd, name):
    r = vps("exec", name, "--", "grep", "^root:", "/etc/shadow", sock=vpsd.cli_sock)
    assert r.returncode == 0, r
    return r.stdout


def test_root_password(vpsd, ct):
    s = vpsd.cli_sock
    run("start", ct, sock=s)
    before = shadow_root(vpsd, ct)
    assert before.startswith("root:"), before
    assert run("passwd", ct, sock=s, stdin="running-pw\n") == \
        f"changed the root password of {ct}\n"  # through the container
    after = shadow_root(vpsd, ct)
    assert after.startswith("root:$") and after != before
    r = vps("passwd", "no-such-vps", sock=s, stdin="whatever\n")
    assert r.returncode == 1 and "no VPS named `no-such-vps`" in r.stderr, r
    # a stopped ct: vpsd refuses (the contract said "on its disk"); its message as it is
    run("stop", ct, sock=s)
    r = vps("passwd", ct, sock=s, stdin="stopped-pw\n")
    assert (r.returncode == 0 and r.stdout == f"changed the root password of {ct}\n") or \
        (r.returncode == 1 and r.stderr.startswith(f"vps: error: `{ct}` is stopped")), r


def test_plan_change(vpsd, ct):
    s, plan = vpsd.cli_sock, uniq("p-")
    run("plan", "create", plan, "--ram", "256M", "--disk", "128M", "--cpus", "1", sock=s)
    assert run("set", ct, "--plan", plan, sock=s) == f"updated {ct} (plan {plan})\n"
    v = shown(vpsd, ct)
    assert v["ram"] == 256 << 20 and v["disk"] == 128 << 20, v
    r = vps("set", ct, "--plan", "no-such-plan", sock=s)
    assert r.returncode == 1 and "no-such-plan" in r.stderr, r
    run("destroy", ct, sock=s)
    run("plan", "delete", plan, sock=s)


def test_operation(vpsd, ct):
    s = vpsd.cli_sock
    status, reply = vpsd.request("POST", f"/api/v1/vps/{ct}/start?async=1")
    assert status == 202, reply
    oid = str(reply["operation"]["id"])
    deadline = time.monotonic() + 120
    while True:  # the operation's own state is the signal
        op = json.loads(run("op", oid, "--format", "json", sock=s))
        if op["state"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert op["state"] == "done" and op["action"] == "start" and op["vps"] == ct, op
    text = run("op", oid, sock=s).splitlines()
    assert text[0] == f"id: {oid}" and f"vps: {ct}" in text and "state: done" in text, text
    r = vps("op", "999999", sock=s)
    assert r.returncode == 1 and r.stderr.startswith("vps: error: "), r
