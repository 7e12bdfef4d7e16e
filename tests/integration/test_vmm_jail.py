# SPDX-License-Identifier: GPL-2.0-or-later
"""The monitor's jail (src/vmm/jail.c, docs/security.md), checked from
outside the way a provider would: a running vps-vmm has the VM's own uid and
gid, no capabilities in any set, no_new_privs, seccomp in filter mode on
every thread (two filters each: the process's and its class's), a root that
is not the host's and holds nothing of it; its control socket still works
(stats from a /proc file opened before the jail). A syscall outside its
lists kills it: gdb makes the jailed monitor call mkdir(2), and the kernel
ends it with SIGSYS. Bad --jail values are refused before anything runs.

The device, console and control tests (test_micro_virtio.py,
test_vmm_console.py, test_vmm_control.py) run jailed too, so every path they
reach is one the jail's lists allow; vpsd jails every vps-vmm it starts
(test_vpsd_vm.py and test_vm_template.py in the nested host).

Run as root: /usr/bin/python3 -m pytest -q -p no:cacheprovider test_vmm_jail.py"""

import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from framework.jail import assert_jailed, kill_with_foreign_syscall
from framework.vmm import JAIL, JAIL_UID, MICRO, VMM, Control, needs_kvm, start_spin

pytestmark = [needs_kvm, pytest.mark.skipif(os.geteuid() != 0, reason="the jail needs root")]


def status(pid, task=None):
    path = f"/proc/{pid}/status" if task is None else f"/proc/{pid}/task/{task}/status"
    with open(path) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


@pytest.fixture
def jailed(tmp_path):
    p, sock = start_spin(tmp_path, *JAIL)
    yield p, sock
    if p.poll() is None:
        p.kill()
    p.wait(timeout=10)


def test_jail_from_outside(jailed):
    p, sock = jailed
    st = status(p.pid)
    assert st["Uid"].split() == [str(JAIL_UID)] * 4, st["Uid"]
    assert st["Gid"].split() == [str(JAIL_UID)] * 4, st["Gid"]
    assert st["Groups"].strip() == "", st["Groups"]
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(st[cap], 16) == 0, (cap, st[cap])
    assert st["NoNewPrivs"] == "1"
    # every thread of ours under the process filter and its class's (vCPU,
    # control, device I/O: `io-rng`, `io-balloon`, live migration: `migrate`; the kernel's own
    # kvm-nx-lpage worker is not ours)
    tasks = os.listdir(f"/proc/{p.pid}/task")
    names = {t: status(p.pid, t)["Name"] for t in tasks}
    ours = [t for t in tasks if names[t] in ("vps-vmm", "migrate") or names[t].startswith("io-")]
    assert len(ours) >= 5, names  # main (control), the vCPU, the rng's and balloon's I/O, migrate
    assert "migrate" in names.values(), names
    # a thread narrows its filter as it starts, which may be just after the
    # control socket answers: give the newest a moment, no more
    deadline = time.monotonic() + 5
    for t in ours:
        while True:
            ts = status(p.pid, t)
            if ts["Seccomp_filters"] != "1" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert ts["Seccomp"] == "2" and int(ts["Seccomp_filters"]) == 2, (t, ts["Seccomp"],
                                                                       ts["Seccomp_filters"])
    # a root of its own: not the host's, and empty of the host's files (the
    # sanitizer build, which the tests run, keeps only /proc for its runtime)
    root, host = os.stat(f"/proc/{p.pid}/root"), os.stat("/")
    assert (root.st_dev, root.st_ino) != (host.st_dev, host.st_ino)
    assert set(os.listdir(f"/proc/{p.pid}/root")) <= {"proc"}
    with open(f"/proc/{p.pid}/mountinfo") as f:
        mounts = f.read().splitlines()
    rootline = next(m for m in mounts if m.split()[4] == "/")
    assert " ro," in rootline or " ro " in rootline, rootline
    assert "tmpfs" in rootline, rootline
    # its own mount namespace
    assert os.readlink(f"/proc/{p.pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    # the control socket still answers, with stats read through the open /proc file
    ctl = Control(sock)
    st = ctl("stats")
    assert st["ok"] and st["rss_bytes"] > 1 << 20, st
    assert ctl("stop") == {"ok": True}
    ctl.close()
    assert p.wait(timeout=10) == 5


@pytest.mark.skipif(not shutil.which("gdb"), reason="gdb is not installed (package gdb)")
def test_foreign_syscall_kills(jailed, tmp_path):
    """mkdir(2) is in no list: the kernel kills the whole monitor (SIGSYS)."""
    p, _ = jailed
    assert_jailed(p.pid, JAIL_UID)
    r = kill_with_foreign_syscall(p.pid, VMM, '(int)mkdir("/jail-escape", 0)', tmp_path)
    assert p.wait(timeout=30) == -signal.SIGSYS, (p.returncode, r.stdout[-2000:])
    assert not os.path.exists("/jail-escape")


@pytest.mark.skipif(not shutil.which("gdb"), reason="gdb is not installed (package gdb)")
def test_io_thread_is_narrower(jailed, tmp_path):
    """A device I/O thread (iothread.c) runs under its own class's list:
    getrusage(2), which the control thread may make (the process filter has
    it), kills the monitor when the virtio-rng's I/O thread makes it."""
    p, _ = jailed
    io = [t for t in os.listdir(f"/proc/{p.pid}/task") if status(p.pid, t)["Name"] == "io-rng"]
    assert len(io) == 1, io
    # on the main thread the call is allowed (it fails on the NULL pointer): the monitor lives
    kill_with_foreign_syscall(p.pid, VMM, "(int)getrusage(0, 0)", tmp_path)
    with pytest.raises(subprocess.TimeoutExpired):
        p.wait(timeout=2)
    r = kill_with_foreign_syscall(p.pid, VMM, "(int)getrusage(0, 0)", tmp_path, tid=io[0])
    assert p.wait(timeout=30) == -signal.SIGSYS, (p.returncode, r.stdout[-2000:])
    # gdb's `info threads` marks the thread it made the call on
    assert re.search(rf"^\*\s+\d+\s+Thread .*\(LWP {io[0]}\)", r.stdout, re.M), r.stdout[-2000:]


@pytest.mark.parametrize("value, words", [
    ("uid=0", "`jail.uid`: expected a uid or gid from 1 to 4294967294"),
    ("uid=1000,gid=0", "`jail.gid`: expected a uid or gid from 1 to 4294967294"),
    ("uid=abc", "`jail.uid`: expected a uid or gid"),
    ("uid=4294967295", "`jail.uid`: expected a uid or gid"),
    ("gid=5", "`jail`: expected {\"uid\": N"),
    ("uid=5,user=x", "`jail.user`: unknown key (uid, gid)"),
])
def test_bad_jail_refused(value, words):
    r = subprocess.run([str(VMM), "--micro", str(MICRO / "hello64.bin"), "--mode", "long",
                        "--jail", value], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    assert words in r.stderr, r.stderr
