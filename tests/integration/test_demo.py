# SPDX-License-Identifier: GPL-2.0-or-later
"""scripts/demo's last part, the host it leaves running (issue 23, "The
demo"): `scripts/demo --host-only` on this build (VPS_DEMO_BUILD) and a port
of its own (VPS_DEMO_PORT). Once it says the host is up, the panel's address
and the admin login it printed log in over TCP (as the panel does), the
panel's page is served, and the admin's list holds the sample container and
the sample VM (QEMU's software CPU: this machine's PVM /dev/kvm cannot run
the debian-12 template's kernel), both running. Then a SIGINT to its process
group, as a Ctrl-C at the terminal sends, and nothing of it is left: its
exit status is 130, and its processes (vpsd, the keepers, the container's
monitor, QEMU), cgroups, mounts, loop devices, network devices, nftables
elements and files are gone.

With VPS_DEMO_WAIT=0 (what --no-wait sets) it removes the host as soon as
it is up, exit status 0, and leaves nothing either.

The tour before it (micro-guests, vps-ctm, the nested test host) is what
other tests cover piece by piece; it is not run here (minutes)."""

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from framework import artefacts
from framework.ct import BUILD
from framework.vpsd import free_port

DEMO = artefacts.TOP / "scripts" / "demo"
MKVMTEMPLATE = artefacts.TOP / "src" / "host" / "templates" / "mkvmtemplate"
NFT = shutil.which("nft", path="/usr/sbin:/sbin")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (vpsd, containers, bridges)"),
    pytest.mark.skipif(not (BUILD / "src" / "host" / "vpsd").exists(),
                       reason=f"{BUILD}/src/host/vpsd is not built"),
]


def links():
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                         check=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def procs_under(path):
    """pids whose command line names a path under PATH."""
    found = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(path) in cmd:
            found[int(p.name)] = cmd
    return found


class Reader(threading.Thread):
    """The demo's output, line by line, kept and searchable while it runs."""

    def __init__(self, proc):
        super().__init__(daemon=True)
        self.proc, self.lines = proc, []
        self.start()

    def run(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def text(self):
        return "\n".join(self.lines)

    def wait_for(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.text(), re.M)
            if m:
                return m
            if self.proc.poll() is not None and not self.is_alive():
                break
            time.sleep(0.2)
        raise AssertionError(f"the demo did not print /{pattern}/: {self.text()[-4000:]}")


@pytest.fixture(scope="module")
def vm_template():
    r = subprocess.run([str(MKVMTEMPLATE), "debian-12"], capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stderr  # cached: the VM tests build it too


def sigint_as_at_a_terminal():
    """A shell started with SIGINT ignored cannot trap it, and a suite started in the
    background (`cmd &` in a script, as CI may run it) hands its children an ignored
    SIGINT: the demo is started with it at its default, as a terminal starts it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def demo(port, **env):
    proc = subprocess.Popen([str(DEMO), "--host-only"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=sigint_as_at_a_terminal,
                            env=dict(os.environ, VPS_DEMO_BUILD=str(BUILD),
                                     VPS_DEMO_PORT=str(port), **env))
    return proc, Reader(proc)


def nothing_left(host, made, out):
    assert f"removed {host}" in out.text(), out.text()[-4000:]
    assert not host.exists()
    assert not procs_under(host), procs_under(host)
    assert str(host) not in Path("/proc/self/mounts").read_text()
    loops = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    assert str(host) not in loops, loops
    assert not made & links(), made & links()
    if NFT:
        ruleset = subprocess.run([NFT, "list", "ruleset"], capture_output=True,
                                 text=True).stdout
        left = [d for d in made if re.search(rf"\b{re.escape(d)}\b", ruleset)]
        assert not left, left


def test_demo_without_wait_removes_the_host_at_once(vm_template):
    proc, out = demo(free_port(), VPS_DEMO_WAIT="0")
    assert proc.wait(timeout=600) == 0, out.text()[-4000:]
    out.join(timeout=10)
    out.wait_for(r"the host is up", 1)
    host = Path(out.wait_for(r"its files: (\S+)", 1)[1])
    assert "Ctrl-C" not in out.text()
    nothing_left(host, {"vbr-demo"}, out)


def test_demo_host_runs_until_sigint_then_leaves_nothing(vm_template):
    before = links()
    port = free_port()
    proc, out = demo(port)
    try:
        url = out.wait_for(r"the host is up: the panel at (\S+)$", 600)[1]
        user, pw = out.wait_for(r"admin login: (\S+) / (\S+)$", 5).groups()
        host = Path(out.wait_for(r"its files: (\S+)", 5)[1])
        out.wait_for(r"Ctrl-C stops", 5)
        assert url == f"http://127.0.0.1:{port}/", url

        # the panel: its page, then a login with what was printed, and the list
        jar = CookieJar()
        web = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        with web.open(url, timeout=30) as page:
            assert page.status == 200 and b"<script" in page.read()
        req = urllib.request.Request(url + "api/v1/login", method="POST",
                                     data=json.dumps({"user": user, "password": pw}).encode(),
                                     headers={"Content-Type": "application/json"})
        with web.open(req, timeout=30) as r:
            me = json.loads(r.read())
        assert me["csrf"] and any(c.name for c in jar), me
        with web.open(url + "api/v1/vps", timeout=30) as r:
            vs = {v["name"]: v for v in json.loads(r.read())}
        assert {n: (v["kind"], v["state"]) for n, v in vs.items()} == \
            {"demo-ct": ("ct", "running"), "demo-vm": ("vm", "running")}, vs
        assert all(v["ipv4"].startswith("10.88.1.") for v in vs.values()), vs

        # what there is to be left behind
        pids = procs_under(host)
        assert any("vpsd" in c for c in pids.values()) and \
            any("qemu" in c for c in pids.values()), pids
        keepers = [int(p.read_text()) for p in host.glob("run/vps/*/keeper.pid")]
        cgroups = [p.read_text().strip() for p in host.glob("run/vps/*/cgroup")]
        assert keepers and cgroups, (keepers, cgroups)
        made = links() - before
        assert made, "the demo made no network device (its network, the VPSes' devices)"
        assert str(host) in Path("/proc/self/mounts").read_text()
    except BaseException:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=180)
        raise

    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
    assert proc.wait(timeout=180) == 130, out.text()[-4000:]
    out.join(timeout=10)
    nothing_left(host, made, out)
    for pid in [*keepers, *pids]:
        assert not Path(f"/proc/{pid}").exists() or pid not in procs_under(host), pid
    for cg in cgroups:
        rel = cg.strip("/")
        assert rel and not [d for d in glob.glob(f"/sys/fs/cgroup/*/{rel}") +
                            glob.glob(f"/sys/fs/cgroup/{rel}") if os.path.isdir(d)], cg
