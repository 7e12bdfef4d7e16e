# SPDX-License-Identifier: GPL-2.0-or-later
"""systemd as PID 1 of a system container (docs/ct-systemd.md): the
debian-12 template (src/ct/templates/mktemplate; built once per host, then
cached) unpacked and shifted to the ids of a user namespace, run in the
foreground by the real vps-ct with framework.ct.system_config() and its
console on a --console-socket. Each test boots it until `systemctl
is-system-running --wait` says `running`, then stops it one way and checks
how the init ended, as the runtime that reaps it reports it (128 + signal):

- SIGRTMIN+3 from the host (`vps-ct kill ID 37`: glibc's SIGRTMIN is 34):
  systemd halts, and systemd-shutdown's reboot(RB_HALT_SYSTEM) in a pid
  namespace kills init with SIGINT;
- `systemctl reboot` inside: reboot(RB_AUTOBOOT) kills init with SIGHUP;
- `systemctl poweroff` inside: SIGINT.

On this host the layout is the v1 hybrid; the same boot in L1 (pure
cgroup2) is test_systemd_v2. Run as root:
VPS_BUILD=build-test python3 -m pytest tests/integration/test_ct_systemd.py"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from framework.ct import (SYSTEM_HOST_ID, TOP, VPS_CT, BUILD, ConsoleSocket,
                          shift_rootfs, system_config)

MKTEMPLATE = TOP / "src" / "ct" / "templates" / "mktemplate"
SIGRTMIN_GLIBC = 34  # what SIGRTMIN is inside: glibc keeps 32 and 33 for itself
BOOT_TIMEOUT = 90


@pytest.fixture(scope="session")
def debian_tar(timings):
    if os.geteuid() != 0:
        pytest.skip("vps-ct and the template need root")
    if not VPS_CT.exists():
        pytest.fail(f"{VPS_CT} is not built: ninja -C {BUILD}")
    t0 = time.monotonic()
    r = subprocess.run([str(MKTEMPLATE), "debian-12"], capture_output=True,
                       text=True, timeout=1800)
    if r.returncode != 0 and "no Debian mirror" in r.stderr:
        pytest.skip(r.stderr.strip())
    assert r.returncode == 0, r.stderr[-3000:]
    timings.append(("debian-12 template for systemd (warm: cache)",
                    time.monotonic() - t0))
    return r.stdout.strip()


class SystemContainer:
    """The template in a bundle at PATH, its rootfs owned by the shifted
    ids, run in the foreground (self.proc) with its console in PATH/console
    and the runtime's own stdout and stderr in PATH/out."""

    def __init__(self, path, tar):
        self.path = path
        self.root = path / "state"
        self.id = f"sd{os.getpid()}x{int(time.monotonic() * 1000) % 100000}"
        self.cgpath = f"/vps-ct-test/{self.id}"
        rootfs = path / "rootfs"
        rootfs.mkdir()
        subprocess.run(["tar", "-xf", tar, "-C", str(rootfs)], check=True)
        shift_rootfs(rootfs)
        # root in the container is SYSTEM_HOST_ID outside: it must reach the bundle
        for d in [path, *path.parents]:
            if d == Path("/tmp"):
                break
            os.chmod(d, os.stat(d).st_mode | 0o011)
        self.config = system_config(hostname=self.id, cgroups_path=self.cgpath)
        self.console = None
        self.proc = None

    def ct(self, *args, timeout=60):
        return subprocess.run([str(VPS_CT), "--root", str(self.root), *map(str, args)],
                              capture_output=True, text=True, timeout=timeout)

    def exec(self, *cmd, timeout=60):
        return self.ct("exec", self.id, *cmd, timeout=timeout)

    def start(self):
        import json
        (self.path / "config.json").write_text(json.dumps(self.config))
        self.console = ConsoleSocket(self.path / "console.sock", self.path / "console")
        with open(self.path / "out", "w") as out:
            self.proc = subprocess.Popen(
                [str(VPS_CT), "--root", str(self.root), "run", "--console-socket",
                 self.console.path, "-b", str(self.path), self.id],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out)

    def wait_running(self):
        """`systemctl is-system-running --wait` once the container exists."""
        end = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < end:
            assert self.proc.poll() is None, f"init ended: {self.report()}"
            if (self.root / self.id / "state.json").exists():
                break
            time.sleep(0.05)
        # until PID 1 listens on its private socket systemctl cannot ask it
        while True:
            r = self.exec("systemctl", "is-system-running", "--wait",
                          timeout=max(1, end - time.monotonic()))
            if r.stdout.strip() or time.monotonic() > end:
                return r.stdout.strip() or r.stderr.strip()
            assert self.proc.poll() is None, f"init ended: {self.report()}"
            time.sleep(0.2)

    def failed_units(self):
        return self.exec("systemctl", "list-units", "--failed", "--plain",
                         "--no-legend", "--no-pager").stdout

    def wait_exit(self, timeout=60):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"init still running after {timeout} s\n"
                                 f"{self.report()}") from None
        self.console.settle()
        return rc

    def report(self):
        out = (self.path / "out").read_text() if (self.path / "out").exists() else ""
        con = self.console.text() if self.console else ""
        return f"runtime said: {out}\nconsole (tail):\n{con[-4000:]}"

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.ct("kill", self.id, "KILL")
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.ct("delete", "--force", self.id)
        if self.console:
            self.console.close()


@pytest.fixture
def booted(tmp_path, debian_tar, timings):
    c = SystemContainer(tmp_path, debian_tar)
    try:
        t0 = time.monotonic()
        c.start()
        state = c.wait_running()
        timings.append(("debian-12 systemd boot to `running`", time.monotonic() - t0))
        assert state == "running", \
            f"{state}; failed units:\n{c.failed_units()}\n{c.report()}"
        yield c
    finally:
        c.cleanup()


def host_cgroup(c, hier):
    return Path(f"/sys/fs/cgroup/{hier}{c.cgpath}")


def test_boot_running(booted):
    c = booted
    assert c.exec("cat", "/proc/1/comm").stdout.strip() == "systemd"
    # systemd made its own tree in the delegated part and left the rest alone
    cg = c.exec("cat", "/proc/1/cgroup").stdout
    assert "0::/init.scope" in cg.split("\n"), cg
    for hier in ("unified", "systemd"):
        d = host_cgroup(c, hier)
        if d.parent.parent.exists():  # the hierarchy is mounted on this host
            assert d.stat().st_uid == SYSTEM_HOST_ID, d
            assert (d / "init.scope").is_dir() and (d / "system.slice").is_dir()
            assert (d / "cgroup.procs").stat().st_uid == SYSTEM_HOST_ID
    mem = host_cgroup(c, "memory")
    if mem.exists():  # a v1 controller: never delegated, nothing made inside
        assert mem.stat().st_uid == 0
        assert not (mem / "init.scope").exists()
    # a service runs (journald) and the console shows the boot
    assert c.exec("systemctl", "is-active", "systemd-journald").stdout.strip() == "active"
    assert "Welcome to" in c.console.text(), c.report()
    assert c.exec("systemd-detect-virt", "--container").stdout.strip() == "container-other"


def test_sigrtmin3_halts(booted):
    c = booted
    t0 = time.monotonic()
    r = c.ct("kill", c.id, str(SIGRTMIN_GLIBC + 3))
    assert r.returncode == 0, r.stderr
    # halt.target, then systemd-shutdown's reboot(RB_HALT_SYSTEM): SIGINT
    rc = c.wait_exit(60)
    assert rc == 128 + signal.SIGINT, f"{rc}\n{c.report()}"
    assert time.monotonic() - t0 < 60
    assert "System is halting" in c.console.text() or \
        "Halting system" in c.console.text(), c.report()
    assert c.ct("state", c.id).returncode != 0 or \
        '"stopped"' in c.ct("state", c.id).stdout


def test_reboot_ends_init_with_sighup(booted):
    c = booted
    # systemctl returns at once; the init ends a moment later
    c.exec("systemctl", "reboot")
    rc = c.wait_exit(60)
    assert rc == 128 + signal.SIGHUP, f"{rc}\n{c.report()}"
    assert "Rebooting" in c.console.text(), c.report()


def test_poweroff_ends_init_with_sigint(booted):
    c = booted
    c.exec("systemctl", "poweroff")
    rc = c.wait_exit(60)
    assert rc == 128 + signal.SIGINT, f"{rc}\n{c.report()}"
    assert "Powering off" in c.console.text(), c.report()


def test_cgroups_removed(tmp_path, debian_tar):
    """After a boot and a halt, delete leaves no cgroup in any hierarchy,
    including the sub-cgroups systemd made (owned by the container)."""
    c = SystemContainer(tmp_path, debian_tar)
    try:
        c.start()
        assert c.wait_running() == "running", c.report()
        c.ct("kill", c.id, str(SIGRTMIN_GLIBC + 3))
        c.wait_exit(60)
    finally:
        c.cleanup()
    left = [str(p) for p in Path("/sys/fs/cgroup").glob(f"*{c.cgpath}")]
    assert not left, left
