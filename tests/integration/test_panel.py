# SPDX-License-Identifier: GPL-2.0-or-later
"""The control panel (web/, src/host/web.c, docs/panel.md). First the static
file server on its own: types, security headers, revalidation, and what it
must refuse (`..`, encoded or not, hidden files, a symlink out of the web
directory, a FIFO, a type the panel does not use). Then the panel end to end
in headless Chromium (tests/e2e/panel.mjs): a customer creates, starts, uses
the console of, turns rescue mode on and off for (logging in to the rescue
system on the console), watches the graphs of, stops, snapshots and backs up a
busybox container; an administrator sees the host report and edits the
customer's quota (a bad figure refused with the API's message), and the
customer is refused a create past it, with the numbers. Screenshots after every step go to
$VPS_BUILD/panel-screenshots (VPS_PANEL_SHOTS overrides; scripts/test
puts them in $VPS_BUILD/results/panel-screenshots, with the other results).

Needs scripts/web-vendor (scripts/test runs it), node and Chromium
(scripts/lib.sh installs them). Run as root:
/usr/bin/python3 -m pytest -q -p no:cacheprovider test_panel.py"""

import email.message
import http.client
import json
import os
import shutil
import time
import subprocess
from pathlib import Path

import pytest

from framework import artefacts
from framework.vpsd import VPSD, Vpsd, check_answer, free_port

TOP = Path(__file__).resolve().parents[2]
WEB = TOP / "web"
E2E = TOP / "tests" / "e2e" / "panel.mjs"
CHROMIUM = "/usr/bin/chromium"
CUSTOMER = ("alice", "alice-pw-123")
ADMIN = ("boss", "boss-pw-1234")
PLAN = "e2e-small"


@pytest.fixture(scope="module")
def webdir(tmp_path_factory):
    """A copy of web/ (vendored files too) with traps planted in it."""
    if not (WEB / "vendor" / "xterm.mjs").exists():
        pytest.fail(f"{WEB}/vendor is empty: run scripts/web-vendor")
    d = tmp_path_factory.mktemp("web") / "web"
    shutil.copytree(WEB, d)
    outside = d.parent / "secret.css"
    outside.write_text("body { secret: 1 }\n")
    (d / "leak.css").symlink_to(outside)              # a symlink out
    (d / "leak2.css").symlink_to("../secret.css")     # relative, out
    (d / "inside.css").symlink_to("app.css")          # a symlink that stays inside
    (d / ".hidden.css").write_text("hidden\n")
    (d / "notes.txt").write_text("a type the panel does not use\n")
    os.mkfifo(d / "fifo.js")
    (d / "dir.js").mkdir()
    return d


@pytest.fixture(scope="module")
def panel(webdir, tmp_path_factory):
    """A private vpsd over TCP serving WEBDIR, sampling usage every second,
    with a plan, a customer, an administrator and a restic repository (a
    directory of its own: the backups card's) made over the unix socket."""
    if not VPSD.exists():
        pytest.fail(f"{VPSD} is not built: ninja -C $VPS_BUILD")
    port = free_port()
    d = Vpsd()
    try:
        d.start(extra=("--tcp", f"127.0.0.1:{port}", "--web", str(webdir),
                       "--sample-every", "1"))
        d.api("POST", "/plans", {"name": PLAN, "ram": "128M", "disk": "64M", "cpus": 1},
              expect=201)
        d.api("POST", "/plans", {"name": "e2e-deb", "ram": "128M", "disk": "64M", "cpus": 1,
                                 "templates": ["debian-12"]}, expect=201)
        for (name, pw), role in ((CUSTOMER, "customer"), (ADMIN, "admin")):
            d.api("POST", "/users", {"name": name, "password": pw, "role": role}, expect=201)
        repo = tmp_path_factory.mktemp("repo") / "restic"
        d.api("POST", "/repos", {"name": "local", "url": str(repo)}, expect=201)
        d.port = port
        yield d
    finally:
        d.cleanup()


def get(port, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@pytest.mark.parametrize("path,ctype", [
    ("/", "text/html; charset=utf-8"),
    ("/static/app.js", "text/javascript; charset=utf-8"),
    ("/static/app.css", "text/css; charset=utf-8"),
    ("/static/favicon.svg", "image/svg+xml"),
    ("/vendor/xterm.mjs", "text/javascript; charset=utf-8"),
    ("/vendor/uPlot.min.css", "text/css; charset=utf-8"),
    ("/static/inside.css", "text/css; charset=utf-8"),  # a symlink within the directory
])
def test_static_types_and_headers(panel, webdir, path, ctype):
    r, body = get(panel.port, path)
    assert r.status == 200, (path, r.status, body[:200])
    assert r.getheader("Content-Type") == ctype
    rel = "index.html" if path == "/" else path.split("/", 2)[2]
    if path.startswith("/vendor/"):
        rel = "vendor/" + rel
    assert body == (webdir / rel).read_bytes()
    for k, v in SECURITY.items():
        assert r.getheader(k) == v, k
    csp = r.getheader("Content-Security-Policy")
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert r.getheader("Cache-Control") == "no-cache"


def test_static_revalidation(panel):
    r, _ = get(panel.port, "/static/app.js")
    etag = r.getheader("ETag")
    assert etag and etag.startswith('"')
    r, body = get(panel.port, "/static/app.js", {"If-None-Match": etag})
    assert (r.status, body) == (304, b"")
    r, _ = get(panel.port, "/static/app.js", {"If-None-Match": '"stale"'})
    assert r.status == 200


@pytest.mark.parametrize("path", [
    "/static/../../../../etc/passwd",
    "/static/%2e%2e/secret.css",
    "/static/..%2fsecret.css",
    "/static//etc/hostname",
    "/vendor/../app.js",
    "/static/leak.css",            # symlink to an absolute path outside
    "/static/leak2.css",           # relative symlink leading out
    "/static/.hidden.css",
    "/vendor/.stamp",
    "/static/notes.txt",           # not a type the panel uses
    "/static/fifo.js",             # not a regular file (and must not hang)
    "/static/dir.js",
    "/static/nonexistent.js",
    "/index.html",                 # only / names it
    "/etc/passwd",
    "/static/",
])
def test_static_refusals(panel, path):
    r, body = get(panel.port, path)
    assert r.status == 404, (path, r.status, body[:200])
    assert r.getheader("Content-Type") == "application/json"
    assert b'"not_found"' in body and b"secret" not in body and b"root:" not in body
    assert r.getheader("X-Content-Type-Options") == "nosniff"


def test_panel_e2e(panel):
    """tests/e2e/panel.mjs against the daemon: exit 0, or its message."""
    node = shutil.which("node")
    if not node:
        pytest.fail("node is not installed (Debian package nodejs; scripts/lib.sh)")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is not installed (Debian package chromium; scripts/lib.sh)")
    shots = Path(os.environ.get("VPS_PANEL_SHOTS", artefacts.build_dir() / "panel-screenshots"))
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    answers = shots / "api-answers.json"
    env = dict(os.environ, PANEL_CUSTOMER=":".join(CUSTOMER), PANEL_ADMIN=":".join(ADMIN),
               PANEL_PLAN=PLAN, PANEL_VPS="e2e-panel", PANEL_API_LOG=str(answers))
    r = subprocess.run([node, str(E2E), f"http://127.0.0.1:{panel.port}/", str(shots)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, (
        f"panel e2e failed (exit {r.returncode}); screenshots in {shots}\n"
        f"{r.stdout}{r.stderr}\n--- vpsd log (end) ---\n"
        + "\n".join(panel.log.read_text(errors="replace").splitlines()[-30:]))
    assert "steps passed" in r.stdout, r.stdout
    # every answer the panel got, checked against the description as the tests' own are
    got = json.loads(answers.read_text())
    assert any(a["path"] == "/api/v1/login" for a in got), got
    for a in got:
        headers = email.message.Message()  # case-insensitive, as http.client's
        for k, v in a["headers"].items():
            headers[k] = v
        assert "unread" not in a, a
        try:
            body = json.loads(a["body"]) if a["body"] else None
        except ValueError:
            body = a["body"]
        check_answer(a["method"], a["path"], a["status"], headers, body)


def monitor_log(d, name):
    """The tail of the VM's monitor log (vpsd's run directory), for a failure's message."""
    path = d.run / "vps" / name / "monitor.log"
    return path.read_text(errors="replace")[-2000:] if path.exists() else "(none)"


def rebooted_console(d, name, marker, timeout):
    """The console of the VM vpsd started again after its reboot, read until MARKER."""
    from framework.console import Console
    deadline = time.monotonic() + timeout
    while True:
        try:
            with Console(d.api("GET", f"/vps/{name}/console")["path"]) as con:
                return con.expect(marker, max(1, deadline - time.monotonic()))
        except (OSError, EOFError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.parametrize("engine", ["qemu", "vmm"])
def test_panel_screen(panel, tmp_path, engine):
    """tests/e2e/screen.mjs: the customer's firmware-booted VM on the VM page
    (noVNC), on each engine (QEMU's VNC server; vps-vmm's own RFB server, its
    SeaBIOS slow under this machine's PVM); what the panel sends reaches the
    guest's keyboard, read back on its serial line: the text, then the boot
    program again after Ctrl-Alt-Del."""
    from framework.bootiso import build_iso
    from framework.console import Console

    node = shutil.which("node")
    if not node or not Path(CHROMIUM).exists():
        pytest.fail("node and chromium are needed (scripts/lib.sh)")
    d = panel
    d.api("PUT", "/isos/screen", build_iso(tmp_path, "screenboot.S").read_bytes(), expect=201)
    boot = 90 if engine == "qemu" else 240
    d.api("POST", "/vps", {"name": "e2e-screen", "kind": "vm", "engine": engine,
                           "iso": "screen", "ram": "64M", "disk": "64M",
                           "owner": CUSTOMER[0]}, expect=201)
    d.api("POST", "/vps/e2e-screen/start")
    shots = Path(os.environ.get("VPS_PANEL_SHOTS", artefacts.build_dir() / "panel-screenshots"))
    shots = shots.parent / (shots.name + f"-screen-{engine}")
    shutil.rmtree(shots, ignore_errors=True)
    env = dict(os.environ, PANEL_CUSTOMER=":".join(CUSTOMER), PANEL_VPS="e2e-screen",
               PANEL_TEXT="vps42")
    with Console(d.api("GET", "/vps/e2e-screen/console")["path"]) as con:
        con.expect("VPS-SCREEN ok", boot)
        p = subprocess.Popen([node, str(TOP / "tests" / "e2e" / "screen.mjs"),
                              f"http://127.0.0.1:{panel.port}/", str(shots)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=env)
        try:
            con.expect("vps42", 120)
            if engine == "qemu":
                con.expect("VPS-SCREEN ok", boot)  # Ctrl-Alt-Del: SeaBIOS resets, it boots again
            else:
                # vps-vmm ends at the reset with its reboot status, and vpsd starts it
                # again: the console closes, and the new monitor's shows the boot again
                try:
                    con.expect("VPS-SCREEN ok", boot)
                except EOFError:
                    try:
                        rebooted_console(d, "e2e-screen", "VPS-SCREEN ok", boot)
                    except AssertionError as e:  # not started again: say what it did
                        raise EOFError(f"{e}\nevents: {d.api('GET', '/events?vps=e2e-screen')}"
                                       f"\nmonitor: {monitor_log(d, 'e2e-screen')}") from e
                    kinds = [e["kind"] for e in d.api("GET", "/events?vps=e2e-screen")]
                    assert "rebooted" in kinds and "crashed" not in kinds, kinds
        except (TimeoutError, EOFError) as e:
            p.kill()
            pytest.fail(f"{e}\n--- screen.mjs ---\n{p.communicate()[0]}\nscreenshots in {shots}"
                        f"\n--- vpsd.log ---\n{d.log.read_text(errors='replace')[-3000:]}")
        out, _ = p.communicate(timeout=120)
    assert p.returncode == 0 and "steps passed" in out, f"{out}\nscreenshots in {shots}"
    d.api("POST", "/vps/e2e-screen/stop", {"force": True})
    d.api("DELETE", "/vps/e2e-screen")
    d.api("DELETE", "/isos/screen")
