# SPDX-License-Identifier: GPL-2.0-or-later
"""`vps`, the CLI (src/cli, docs/vpsd.md). First what it judges alone, with
no daemon: usage, flag shapes and the messages that name the flag (exit
status 2), and an unreachable socket (exit status 1). Then, against a
private vpsd on its real socket (framework/vpsd.py), the life of a `ct`
from the busybox template driven only through the CLI, and the daemon's
errors as the CLI prints them (`vps: error: MESSAGE`, exit status 1).

Run as root: /usr/bin/python3 -m pytest -q -p no:cacheprovider test_cli.py"""

import json
import os
import re
import subprocess
import uuid

import pytest

from framework.ct import BUILD, ct_enforces
from framework.terminal import Terminal
from framework.vpsd import VPSD, Vpsd, raise_spec_errors

VPS = BUILD / "src" / "cli" / "vps"
NOWHERE = "/nonexistent/vpsd.sock"  # usage errors must come before any connect


@pytest.fixture(scope="module")
def cli():
    if not VPS.exists():
        pytest.fail(f"{VPS} is not built: ninja -C $VPS_BUILD")
    return VPS


def vps(*args, sock=NOWHERE, stdin=None, timeout=300):
    """Run the CLI; every answer it got from a vpsd behind a CheckingProxy
    (vpsd.cli_sock) must be one docs/openapi.json allows."""
    env = dict(os.environ, VPS_SOCKET=str(sock))
    r = subprocess.run([str(VPS), *args], capture_output=True, text=True, env=env,
                       input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                       timeout=timeout)
    raise_spec_errors()
    return r


def console_on_a_terminal(name, sock):
    """`vps console` on a terminal of its own (src/sys/tty.c): raw while
    attached, a newline gets a login prompt, Ctrl-] detaches with status 0,
    and the terminal is as it was."""
    with Terminal([VPS, "console", name], env=dict(os.environ, VPS_SOCKET=str(sock))) as t:
        t.read_until(b"Ctrl-] detaches")
        assert t.raw()
        t.type(b"\n")
        t.read_until(b"login:")
        t.type(b"\x1d")
        assert t.proc.wait(timeout=30) == 0
        t.read_until(f"detached from `{name}`".encode())
        assert t.restored()
    raise_spec_errors()


def ok(*args, sock):
    r = vps(*args, sock=sock)
    assert r.returncode == 0, r
    return r.stdout


def failed(*args, sock, status=1):
    r = vps(*args, sock=sock)
    assert r.returncode == status, r
    assert r.stderr.startswith("vps: error: "), r
    return r.stderr


# ---- no daemon ----

COMMANDS = ["create", "list", "show", "start", "stop", "restart", "destroy", "set",
            "console", "exec", "host", "events", "template", "plan", "rescue"]


def test_help(cli):
    r = vps("--help")
    assert r.returncode == 0 and "usage: vps" in r.stdout and "Ctrl-]" in r.stdout
    for c in COMMANDS:
        r = vps(c, "--help")
        assert r.returncode == 0, (c, r)
        assert r.stdout.startswith(f"usage: vps {c}"), (c, r.stdout)
    r = vps()
    assert r.returncode == 2 and "usage: vps" in r.stderr
    r = vps("frobnicate")
    assert r.returncode == 2 and "unknown command `frobnicate`" in r.stderr


BAD = [
    (["create", "--kind", "ct"], "missing NAME"),
    (["create", "web1"], "--kind: required"),
    (["create", "Web_1", "--kind", "ct"], "`Web_1`: not a valid name"),
    (["create", "web1", "--kind", "lxc"], "--kind: `lxc` is not ct or vm"),
    (["create", "web1", "--kind", "ct", "--ram", "12Q"], "--ram: `12Q` is not a size"),
    (["create", "web1", "--kind", "ct", "--swap=lots"], "--swap: `lots` is not a size"),
    (["create", "web1", "--kind", "ct", "--disk", "-1G"], "--disk: `-1G` is not a size"),
    (["create", "web1", "--kind", "ct", "--bw", "fast"], "--bw: `fast` is not a size"),
    (["create", "web1", "--kind", "ct", "--ram"], "--ram: needs a value"),
    (["create", "web1", "--kind", "ct", "--cpus", "0"], "--cpus: `0` is not a number of CPUs"),
    (["create", "web1", "--kind", "ct", "--cpus", "two"], "--cpus: `two`"),
    (["create", "web1", "--kind", "ct", "--io", "5"], "--io: `5` is not an IO weight"),
    (["create", "web1", "--kind", "ct", "--hostname", "-x"], "--hostname: `-x` is not a host"),
    (["create", "web1", "--kind", "ct", "--ssh-key", "AAAA"], "--ssh-key: "),
    (["create", "web1", "--kind", "ct", "--password-file", "/nonexistent"],
     "--password-file: open `/nonexistent`: No such file"),
    (["create", "web1", "--kind", "ct", "--password", "a", "--password", "b"], "given twice"),
    (["create", "web1", "--kind", "ct", "--engine", "qemu"], "--engine: only for --kind vm"),
    (["create", "web1", "--kind", "vm", "--engine", "xen"], "--engine: `xen` is not vmm or qemu"),
    (["create", "web1", "--kind", "vm", "--boot", "pxe"], "--boot: `pxe` is not linux, firmware or uefi"),
    (["create", "web1", "--kind", "ct", "--plan", "small", "--ram", "1G"],
     "--ram: cannot be combined with --plan"),
    (["create", "web1", "--kind", "ct", "--frob"], "unknown flag `--frob`"),
    (["create", "web1", "--kind", "ct", "-x"], "unknown flag `-x`"),
    (["create", "web1", "web2", "--kind", "ct"], "unexpected argument `web2`"),
    (["rescue", "web1"], "missing on|off"),
    (["node", "rm", "a/b?force=1"], "`a/b?force=1` is not a node name"),
    (["node", "show", ".hidden"], "`.hidden` is not a node name"),
    (["node", "add"], "missing NAME"),
    (["node", "add", "b", "--for", "c"], "--for: only for `node token`"),
    (["rescue", "web1", "maybe"], "`maybe`: on or off"),
    (["set"], "missing NAME"),
    (["set", "web1"], "nothing to set"),
    (["set", "web1", "ram"], "`ram`: expected KEY=VALUE"),
    (["set", "web1", "=1G"], "`=1G`: expected KEY=VALUE"),
    (["set", "web1", "colour=red"], "unknown key `colour`"),
    (["set", "web1", "ram=abc"], "ram: `abc` is not a size"),
    (["set", "web1", "cpus=0"], "cpus: `0` is not a number of CPUs"),
    (["set", "web1", "io=2000"], "io: `2000` is not an IO weight"),
    (["set", "web1", "onboot=maybe"], "onboot: `maybe` is not true or false"),
    (["set", "web1", "hostname=a b"], "hostname: `a b` is not a host name"),
    (["set", "web1", "iso=../etc/passwd"], "iso: `../etc/passwd` is not an ISO's name"),
    (["create", "web1", "--kind", "vm", "--boot", "bios"], "--boot: `bios`"),
    (["start"], "missing NAME"),
    (["start", "BAD!"], "`BAD!`: not a valid name"),
    (["stop", "web1", "--timeout", "soon"], "--timeout: `soon` is not a number of seconds"),
    (["stop", "--force=yes", "web1"], "--force: takes no value"),
    (["destroy", "--yes", "web1"], "unknown flag `--yes`"),
    (["list", "--format", "yaml"], "--format: `yaml` is not table or json"),
    (["list", "extra"], "unexpected argument `extra`"),
    (["show"], "missing NAME"),
    (["show", "a", "b"], "unexpected argument `b`"),
    (["console"], "missing NAME"),
    (["exec", "web1"], "missing CMD"),
    (["events", "--vps", "NO"], "--vps: `NO` is not a VPS name"),
    (["template"], "missing list"),
    (["template", "build"], "missing NAME"),
    (["template", "frobnicate"], "unknown template command `frobnicate`"),
    (["template", "import", "t1"], "missing FILE"),
    (["template", "create", "t1"], "--from: required"),
    (["template", "import", "t1", "f", "--kind", "lxc"], "--kind: `lxc` is not ct or vm"),
    (["plan", "frob"], "unknown plan command `frob`"),
    (["plan", "create", "p1", "--ram", "x"], "--ram: `x` is not a size"),
    (["plan", "create", "p1", "--pids", "8"], "--pids: `8` is not a number of processes"),
    (["plan", "delete"], "missing NAME"),
    (["--url", "ftp://host", "list"], "--url: `ftp://host` is not http://HOST:PORT"),
]


@pytest.mark.parametrize("args,msg", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_usage_errors(cli, args, msg):
    r = vps(*args)
    assert r.returncode == 2, r
    assert r.stderr.startswith("vps: error: ") and msg in r.stderr, r.stderr
    assert "--help" in r.stderr  # the way to the usage
    assert not r.stdout


def test_unreachable_daemon(cli, tmp_path):
    r = vps("list")
    assert r.returncode == 1, r
    assert r.stderr == f"vps: error: cannot reach vpsd: socket `{NOWHERE}`: " \
                       "No such file or directory\n"
    # --socket wins over $VPS_SOCKET; a file that is no socket is named so
    f = tmp_path / "plain"
    f.write_text("")
    r = vps("--socket", str(f), "show", "web1")
    assert r.returncode == 1 and f"`{f}`" in r.stderr and "non-socket" in r.stderr, r
    r = vps("list", "--url", "http://127.0.0.1:1")
    assert r.returncode == 1 and "cannot reach vpsd at `http://127.0.0.1:1`" in r.stderr, r


# ---- against a private vpsd ----

@pytest.fixture(scope="module")
def vpsd(cli):
    if not VPSD.exists():
        pytest.fail(f"{VPSD} is not built: ninja -C $VPS_BUILD")
    d = Vpsd().start()
    d.cli_sock = d.checked().sock  # the CLI's answers checked against the description
    yield d
    d.cleanup()


@pytest.fixture
def name(vpsd):
    """A fresh VPS name, destroyed after the test whatever it left."""
    n = "cli-" + uuid.uuid4().hex[:6]
    yield n
    vps("destroy", n, sock=vpsd.cli_sock)


def test_lifecycle(vpsd, name, tmp_path):
    s = vpsd.cli_sock
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    io = ct_enforces("io_weight")
    if not io:
        # a kernel without an IO weight: refused, naming it, and nothing made
        err = failed("create", name, "--kind", "ct", "--template", "busybox", "--io", "500",
                     sock=s)
        assert "`io_weight`: this host cannot enforce io_weight for a ct: " in err, err
        assert name not in ok("list", sock=s)
    out = ok("create", name, "--kind", "ct", "--template", "busybox", "--ram", "128M",
             "--swap", "64M", "--cpus", "1", "--disk", "64M", *(["--io", "500"] if io else []),
             "--bw", "100M",
             "--hostname", f"{name}.example.com", "--password-file", str(pw),
             "--ssh-key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB test@cli", sock=s)
    assert out == f"created {name} (ct, stopped)\n"

    table = ok("list", sock=s).splitlines()
    assert table[0].split() == ["NAME", "KIND", "ENGINE", "STATE", "RAM", "CPUS", "DISK",
                                "OWNER"]
    row = next(line.split() for line in table[1:] if line.split()[0] == name)
    assert row == [name, "ct", "ctm", "stopped", "128M", "1", "64M", "root"]
    rows = json.loads(ok("list", "--format", "json", sock=s))
    mine = next(v for v in rows if v["name"] == name)
    assert mine["ram"] == 128 << 20 and mine["swap"] == 64 << 20
    assert mine["io_weight"] == (500 if io else 0)
    assert mine["bw"] == 100 << 20 and mine["ssh_keys"][0].startswith("ssh-ed25519 ")
    assert "root_password" not in mine

    show = ok("show", name, sock=s)
    assert show.splitlines()[0] == f"name: {name}"
    assert "state: stopped" in show and "ram: 128M" in show and "template: busybox" in show
    assert json.loads(ok("show", name, "--format", "json", sock=s))["hostname"] == \
        f"{name}.example.com"

    assert ok("start", name, sock=s) == f"started {name}\n"
    assert "state: running" in ok("show", name, sock=s)
    r = vps("exec", name, "--", "cat", "/etc/hostname", sock=s)
    assert (r.returncode, r.stdout) == (0, f"{name}.example.com\n"), r
    r = vps("exec", name, "sh", "-c", "echo out; echo err >&2; exit 7", sock=s)
    assert (r.returncode, r.stdout, r.stderr) == (7, "out\n", "err\n"), r

    out = ok("set", name, "ram=256M", sock=s)
    assert out.startswith(f"updated {name} (") and "live" in out, out
    assert "ram: 256M" in ok("show", name, sock=s)
    r = vps("exec", name, "cat", "/sys/fs/cgroup/memory.max", sock=s)
    if r.returncode == 0 and r.stdout.strip().isdigit():  # cgroup v2 inside
        assert int(r.stdout) == 256 << 20

    # the console: replay, then what we send (a newline gets a new login prompt)
    r = vps("console", name, sock=s, stdin="\n", timeout=60)
    assert r.returncode == 0 and "login:" in r.stdout, r
    console_on_a_terminal(name, s)

    assert ok("stop", name, "--timeout", "10", sock=s) == f"stopped {name}\n"
    assert "state: stopped" in ok("show", name, sock=s)
    events = ok("events", "--vps", name, sock=s)
    assert "running" in events and "stopped" in events, events
    assert ok("destroy", name, sock=s) == f"destroyed {name}\n"
    assert name not in ok("list", sock=s)


def test_daemon_errors(vpsd, name):
    s = vpsd.cli_sock
    ok("create", name, "--kind", "ct", "--template", "busybox", "--ram", "128M", "--disk", "64M",
       sock=s)
    msg = failed("create", name, "--kind", "ct", "--template", "busybox", sock=s)
    assert msg == f"vps: error: a VPS named `{name}` exists\n"
    assert failed("show", "no-such-vps", sock=s) == "vps: error: no VPS named `no-such-vps`\n"
    assert "no VPS named" in failed("start", "no-such-vps", sock=s)
    # shapes the CLI lets through, values the daemon refuses, the field named
    assert "`ram`" in failed("create", "x" + name, "--kind", "ct", "--ram", "1M", sock=s)
    assert "`disk`" in failed("set", name, "disk=32M", sock=s)  # shrinking
    assert "`iso`" in failed("create", "x" + name, "--kind", "vm", "--boot", "linux", "--iso",
                             "/x.iso", sock=s)
    assert "no-such-template" in failed("create", "x" + name, "--kind", "ct", "--template",
                                        "no-such-template", sock=s)
    assert "x" + name not in ok("list", sock=s)  # nothing half-made
    # exit 1 names the failure; the others still run (incus habit)
    r = vps("stop", "no-such-vps", name, sock=s)
    assert r.returncode == 1 and "no VPS named" in r.stderr, r


def test_host_templates_plans(vpsd):
    s = vpsd.cli_sock
    host = json.loads(ok("host", "--format", "json", sock=s))
    assert host["memory"]["physical"] > 0
    assert "PHYSICAL" in ok("host", sock=s)
    t = ok("template", "list", sock=s).splitlines()
    assert t[0].split()[0] == "NAME" and any(line.split()[0] == "busybox" for line in t[1:])
    plan = "p-" + uuid.uuid4().hex[:6]
    assert ok("plan", "create", plan, "--ram", "512M", "--disk", "2G", "--cpus", "1",
              "--pids", "256", sock=s) == f"created plan {plan}\n"
    assert any(p["name"] == plan and p["ram"] == 512 << 20 and p["pids"] == 256
               for p in json.loads(ok("plan", "list", "--format", "json", sock=s)))
    assert "ram: 512M" in ok("plan", "show", plan, sock=s)
    assert ok("plan", "delete", plan, sock=s) == f"deleted plan {plan}\n"
    assert plan not in ok("plan", "list", sock=s)
    # a plan's traffic allowance, and a VPS's traffic (none moved: no network)
    assert ok("plan", "create", plan, "--ram", "128M", "--disk", "64M", "--cpus", "1",
              "--traffic", "500G", "--traffic-action", "throttle", "--traffic-bw", "10M",
              sock=s) == f"created plan {plan}\n"
    got = json.loads(ok("plan", "show", plan, "--format", "json", sock=s))
    assert got["traffic"] == {"allowance": 500 << 30, "action": "throttle", "bw": 10 << 20}
    name = "t-" + uuid.uuid4().hex[:6]
    ok("create", name, "--kind", "ct", "--template", "busybox", "--plan", plan, sock=s)
    t = json.loads(ok("traffic", name, "--format", "json", sock=s))
    assert (t["rx"], t["tx"], t["allowance"], t["action"]) == (0, 0, 500 << 30, "")
    text = ok("traffic", name, sock=s)
    assert text.startswith(f"{name}: 0 of 500G this month ({t['month']})"), text
    assert re.search(rf"^{t['month']}\s+0\s+0\s*$", text, re.M), text
    shown = ok("show", name, sock=s)  # the month's figures, sizes made human
    assert re.search(r"^traffic:\n(  .*\n)*  allowance: 500G\n", shown, re.M), shown
    ok("destroy", name, sock=s)
    ok("plan", "delete", plan, sock=s)


def test_reinstall_usage(cli):
    r = vps("reinstall")
    assert r.returncode == 2 and "missing NAME" in r.stderr, r
    r = vps("reinstall", "x", "--ssh-key", "nope")
    assert r.returncode == 2 and "--ssh-key" in r.stderr, r
    r = vps("reinstall", "--help")
    assert r.returncode == 0 and "fresh disk" in r.stdout, r
