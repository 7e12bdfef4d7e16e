# SPDX-License-Identifier: GPL-2.0-or-later
"""A VM's monitor in a cgroup and a PID namespace of its own (issue 15,
docs/security.md "The monitor's jail"), tried the way a hostile guest that
took over its monitor would see it, on this host's /dev/kvm.

vpsd's keeper (src/host/keeper.c) is the monitor's jailer for what the
monitor cannot do to itself, as Firecracker's jailer with --cgroup and
--new-pid-ns: the keeper is run here as vpsd runs it (`vpsd keep ...`, the
options kind_vm_jail() gives it), with a jailed vps-vmm micro-guest.

Checked: from outside, the monitor's /proc/PID/cgroup names its own cgroup
in every hierarchy, with the pids and memory limits in force and its threads
and memory counted there; its PID namespace is not the host's and it is pid
1 in it (NSpid). From inside its PID namespace nothing of the host is
visible or can be signalled, even as root: a host process lives on after a
SIGKILL sent from there. The cgroup is gone once the VM stops, whether the
guest's monitor stops on request or is killed with SIGKILL.

Run as root: /usr/bin/python3 -m pytest -q -p no:cacheprovider test_attack_vm_monitor.py"""

import glob
import json
import os
import signal
import subprocess
import time

import pytest

from framework import artefacts
from framework.vmm import JAIL, MICRO, VMM, Control, needs_kvm

pytestmark = [needs_kvm, pytest.mark.skipif(os.geteuid() != 0, reason="cgroups need root")]

VPSD = artefacts.build_dir() / "src" / "host" / "vpsd"
CG_ROOT = "/sys/fs/cgroup"
PIDS_MAX = 40
MEMORY_MAX = 192 << 20


def until(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def cgroup_dirs(rel):
    """The cgroup's directory in every hierarchy it exists in."""
    return [d for d in glob.glob(f"{CG_ROOT}/*/{rel}") + glob.glob(f"{CG_ROOT}/{rel}")
            if os.path.isdir(d)]


def controller_file(rel, v1_name, v2_name):
    for d in cgroup_dirs(rel):
        for n in (v1_name, v2_name):
            if os.path.exists(f"{d}/{n}"):
                with open(f"{d}/{n}") as f:
                    return f.read().strip()
    raise AssertionError(f"no {v1_name} or {v2_name} for {rel}: {cgroup_dirs(rel)}")


class Keeper:
    def __init__(self, tmp_path, name):
        self.name, self.run = name, tmp_path / "run"
        self.run.mkdir()
        self.sock, self.serial = tmp_path / "ctl.sock", tmp_path / "serial.log"
        self.cgroup = f"vps-vm/{name}"
        argv = [str(VPSD), "keep", name, str(self.run), ",", "--cgroup", self.cgroup,
                "--pids-max", str(PIDS_MAX), "--memory-max", str(MEMORY_MAX), "--new-pid-ns",
                "--", str(VMM), "--micro", str(MICRO / "spin64.bin"), "--mode", "long",
                "--serial", f"file:{self.serial}", "--control", str(self.sock), *JAIL]
        self.p = subprocess.Popen(argv)
        until(lambda: b"VPS-MICRO spin" in (self.serial.read_bytes()
                                            if self.serial.exists() else b""),
              20, f"the guest never ran: {self.log()}")
        self.pid = int((self.run / "monitor.pid").read_text())

    def log(self):
        p = self.run / "monitor.log"
        return p.read_text() if p.exists() else "(no log)"

    def close(self):
        if self.p.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.p.wait(timeout=30)


@pytest.fixture
def keeper(tmp_path, request):
    k = Keeper(tmp_path, f"atk-{os.getpid()}-{request.node.name[-12:].strip('_')}")
    yield k
    k.close()
    for d in cgroup_dirs(k.cgroup):  # only after a failure: the tests check it is gone
        os.rmdir(d)


def test_monitor_has_a_cgroup_of_its_own_with_limits(keeper):
    with open(f"/proc/{keeper.pid}/cgroup") as f:
        lines = [ln.rstrip("\n").split(":", 2) for ln in f]
    mine = {tuple(ln[1].split(",")): ln[2] for ln in lines}
    with open("/proc/self/cgroup") as f:
        host = {tuple(ln.split(":", 2)[1].split(",")): ln.rstrip("\n").split(":", 2)[2]
                for ln in f}
    # the accounting controllers (v1: their own hierarchies; v2: the one line "")
    wanted = [k for k in mine if set(k) & {"pids", "memory", "cpu", ""}]
    assert wanted, mine
    for k in wanted:
        assert mine[k] == f"/{keeper.cgroup}", (k, mine[k])
        assert mine[k] != host.get(k), (k, mine[k])
    # the limits are the kernel's, and what the monitor does is counted there
    assert controller_file(keeper.cgroup, "pids.max", "pids.max") == str(PIDS_MAX)
    assert int(controller_file(keeper.cgroup, "memory.limit_in_bytes",
                               "memory.max")) == MEMORY_MAX
    threads = len(os.listdir(f"/proc/{keeper.pid}/task"))
    assert int(controller_file(keeper.cgroup, "pids.current", "pids.current")) == threads
    # the micro-guest's memory and the monitor's: more than nothing, under the limit
    used = int(controller_file(keeper.cgroup, "memory.usage_in_bytes", "memory.current"))
    assert 64 << 10 < used < MEMORY_MAX, used
    # the keeper itself stays out: it is not the VM's
    with open(f"/proc/{keeper.p.pid}/cgroup") as f:
        assert f"/{keeper.cgroup}" not in f.read()


def test_monitor_is_pid_1_of_a_pid_namespace_of_its_own(keeper):
    assert os.readlink(f"/proc/{keeper.pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    with open(f"/proc/{keeper.pid}/status") as f:
        nspid = next(ln for ln in f if ln.startswith("NSpid:")).split()[1:]
    assert nspid == [str(keeper.pid), "1"], nspid
    # the monitor's own /proc (the sanitizer build keeps one in its jail) holds itself only
    proc = f"/proc/{keeper.pid}/root/proc"
    if os.path.isdir(proc):
        assert sorted(e for e in os.listdir(proc) if e.isdigit()) == ["1"]


def test_from_inside_no_host_process_is_seen_or_signalled(keeper):
    """Root in the monitor's PID namespace (what a monitor that broke its
    seccomp and uid would be at most) lists its /proc and sends SIGKILL to a
    host process: it sees only the monitor and itself, the kill finds
    nothing, and the host process lives on."""
    victim = subprocess.Popen(["sleep", "120"])
    try:
        probe = (
            "import json, os, signal\n"
            "seen = sorted(int(e) for e in os.listdir('/proc') if e.isdigit())\n"
            "try:\n"
            f"    os.kill({victim.pid}, signal.SIGKILL); killed = 'yes'\n"
            "except ProcessLookupError:\n"
            "    killed = 'ESRCH'\n"
            "print(json.dumps([seen, os.getpid(), killed]))\n")
        out = subprocess.run(
            ["nsenter", f"--target={keeper.pid}", "--pid", "--",
             "unshare", "--mount", "--mount-proc", "--", "/usr/bin/python3", "-c", probe],
            capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        pids, me, killed = json.loads(out.stdout)
        assert killed == "ESRCH", out.stdout
        # pid 1 is the monitor; the rest are the probe's own (python, after
        # unshare exec'd it), numbered from 2 in the monitor's namespace
        assert pids[0] == 1 and me in pids and len(pids) <= 3, out.stdout
        assert all(p < 10 for p in pids), out.stdout
        time.sleep(0.1)
        assert victim.poll() is None, "the host process was killed from inside"
    finally:
        victim.kill()
        victim.wait()
    # the monitor is untouched by all that
    assert Control(keeper.sock)("state")["state"] == "running"


def test_cgroup_is_removed_when_the_vm_stops(keeper):
    assert cgroup_dirs(keeper.cgroup)
    assert Control(keeper.sock)("stop") == {"ok": True}
    keeper.p.wait(timeout=30)
    assert keeper.p.returncode == 0
    assert cgroup_dirs(keeper.cgroup) == [], keeper.log()


def test_cgroup_is_removed_after_a_kill_9_of_the_monitor(keeper):
    assert cgroup_dirs(keeper.cgroup)
    os.kill(keeper.pid, signal.SIGKILL)
    keeper.p.wait(timeout=30)
    assert (keeper.run / "exit").read_text().strip() == str(128 + signal.SIGKILL)
    assert cgroup_dirs(keeper.cgroup) == [], keeper.log()
    assert not os.path.exists(f"/proc/{keeper.pid}")

