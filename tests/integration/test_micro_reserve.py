# SPDX-License-Identifier: GPL-2.0-or-later
"""Memory `reserve` in vps-vmm (docs/policies.md), on a micro-guest on /dev/kvm.

With `--reserve` (JSON `"reserve": true`) the monitor faults every page of
guest RAM in and mlock()s it before the guest runs: its RSS is the guest's
RAM from the first moment, /proc/PID/status shows it all in VmLck, and the
balloon refuses to take any of it back. Without it, guest RAM is mapped
lazily and the same idle guest costs a few MiB. A monitor that cannot lock
fails at start, naming the size.
"""
import json
import shutil
import subprocess

import pytest

from framework.vmm import MICRO, VMM, Control, needs_kvm
from framework.vmm import start_spin as vmm_start_spin

MIB = 2**20
RAM = 256 * MIB

pytestmark = needs_kvm


def status_kib(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def start_spin(tmp_path, *extra):
    """spin64 with a control socket; returns (process, Control) once the guest runs."""
    p, sock = vmm_start_spin(tmp_path, "--memory", f"{RAM // MIB}M", *extra)
    return p, Control(sock)


def stop(p, ctl):
    ctl.close()
    if p.poll() is None:
        p.kill()
    p.wait(timeout=10)
    p.stderr.close()


@pytest.mark.parametrize("how", ["flag", "json"])
def test_reserve_prefaults_and_locks_guest_ram(tmp_path, how):
    if how == "flag":
        extra = ["--reserve"]
    else:
        cfg = tmp_path / "vm.json"
        cfg.write_text(json.dumps({"reserve": True}))
        extra = ["--config", str(cfg)]
    p, ctl = start_spin(tmp_path, *extra)
    try:
        state = ctl("state")
        assert state["reserve"] is True and state["memory"] == RAM
        # Right after start, before the guest touched anything: all of it is there.
        rss = ctl("stats")["rss_bytes"]
        assert RAM <= rss < RAM + 64 * MIB, rss
        assert status_kib(p.pid, "VmLck") * 1024 >= RAM
        # A reserved VM is not reclaimed: no target below its RAM.
        r = ctl("balloon", target=RAM - 64 * MIB)
        assert r["ok"] is False
        assert "balloon: reserved memory (locked) is not reclaimed" in r["error"]
        assert ctl("stats")["balloon"]["target_pages"] == 0
        assert ctl("balloon", target=RAM) == {"ok": True}  # asking for nothing is fine
        assert ctl("stats")["rss_bytes"] >= RAM
    finally:
        stop(p, ctl)


def test_without_reserve_ram_is_lazy(tmp_path):
    p, ctl = start_spin(tmp_path)
    try:
        assert ctl("state")["reserve"] is False
        rss = ctl("stats")["rss_bytes"]
        assert rss < 48 * MIB, rss
        assert status_kib(p.pid, "VmLck") == 0
    finally:
        stop(p, ctl)


@pytest.mark.skipif(not (shutil.which("prlimit") and shutil.which("setpriv")),
                    reason="prlimit and setpriv (util-linux) are not installed")
def test_reserve_that_cannot_lock_fails_naming_the_size():
    # Without CAP_IPC_LOCK and CAP_SYS_RESOURCE, an 8 MiB RLIMIT_MEMLOCK holds.
    r = subprocess.run(["prlimit", f"--memlock={8 * MIB}:{8 * MIB}", "setpriv",
                        "--bounding-set", "-ipc_lock,-sys_resource", str(VMM), "--micro",
                        str(MICRO / "hello64.bin"), "--mode", "long", "--serial", "none",
                        "--memory", f"{RAM // MIB}M", "--reserve"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert f"reserve: mlock {RAM // MIB} MiB: Cannot allocate memory" in r.stderr
    assert "RLIMIT_MEMLOCK is 8192 KiB" in r.stderr
