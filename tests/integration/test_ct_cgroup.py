# SPDX-License-Identifier: GPL-2.0-or-later
"""The container engine's cgroups (src/ct/cgroup*.c) through the cgtool
driver (tests/ct/cgtool.c), on real kernels: this host (a v1 hybrid: v1
controllers plus an empty cgroup2 mount, the layout crun refuses) and the
nested test host L1 (pure cgroup2). The same scenario runs on both: create
with limits and check the files, move a process in, freeze and thaw it,
enforce pids and device rules, raise and lower memory+swap, kill (with
SIGTERM one by one, with SIGKILL via cgroup.kill where v2 has it), destroy
and find nothing left; a create that fails part-way leaves nothing."""

import os
import subprocess
import time
import uuid

import pytest

from framework import artefacts

CGTOOL = artefacts.build_dir() / "tests" / "ct" / "cgtool"
V1_CTRLS = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer",
            "blkio", "pids"]


@pytest.fixture(scope="module")
def cgtool():
    if not CGTOOL.exists():
        pytest.fail(f"{CGTOOL} is not built: ninja -C $VPS_BUILD")
    return str(CGTOOL)


class HostShell:
    """Runs shell commands on this host, returning what L1.run returns."""

    class Result:
        def __init__(self, cmd, p):
            self.cmd, self.status = cmd, p.returncode
            self.stdout, self.stderr = p.stdout, p.stderr
            self.ok = p.returncode == 0

        def __str__(self):
            return (f"`{self.cmd}`: status {self.status}\n--- stdout\n"
                    f"{self.stdout}\n--- stderr\n{self.stderr}")

        __repr__ = __str__

    def run(self, cmd, timeout=60, check=False):
        p = subprocess.run(["/bin/sh", "-c", cmd], capture_output=True,
                           text=True, timeout=timeout)
        r = self.Result(cmd, p)
        if check:
            assert r.ok, r
        return r


class Scenario:
    """One cgroup's life, on a shell (host or L1) whose layout is known."""

    def __init__(self, sh, tool, layout):
        self.sh, self.tool, self.layout = sh, tool, layout
        self.top = f"vpstest-{uuid.uuid4().hex[:8]}"
        self.path = f"{self.top}/ct"

    def run(self, cmd, check=True):
        r = self.sh.run(cmd)
        if check:
            assert r.ok, r
        return r

    def cg(self, *args, check=True):
        return self.run(" ".join([self.tool, *args]), check=check)

    def read(self, rel):
        return self.run(f"cat /sys/fs/cgroup/{rel}").stdout.strip()

    # Where our leaf lives, per layout.
    def dirs(self, path):
        if self.layout == "v2":
            return [f"/sys/fs/cgroup/{path}"]
        d = [f"/sys/fs/cgroup/{c}/{path}" for c in V1_CTRLS]
        if self.layout == "hybrid":
            d.append(f"/sys/fs/cgroup/unified/{path}")
        return d

    def assert_gone(self, path):
        left = self.run("for d in " + " ".join(self.dirs(path)) +
                        "; do test -e $d && echo $d; done; true").stdout
        assert left == "", f"left behind: {left}"

    def ctl(self, ctrl, f):
        """A controller file of our leaf: memory.max, or memory/memory.x."""
        if self.layout == "v2":
            return self.read(f"{self.path}/{f}")
        return self.read(f"{ctrl}/{self.path}/{f}")

    def spawn(self, cmd="sleep 300"):
        """A background process (its output to /dev/null); returns its pid."""
        return int(self.run(f"{cmd} >/dev/null 2>&1 & echo $!").stdout)

    def dead(self, pid):
        """Gone or a zombie (its parent may not reap it at once)."""
        r = self.run(f"cat /proc/{pid}/status 2>/dev/null | grep ^State",
                     check=False)
        return r.status != 0 or "zombie" in r.stdout

    def wait(self, what, cond, timeout=10.0):
        end = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < end, f"timed out waiting for {what}"
            time.sleep(0.05)

    def frozen(self):
        if self.layout == "v2":
            return "frozen 1" in self.read(f"{self.path}/cgroup.events")
        return self.read(f"freezer/{self.path}/freezer.state") == "FROZEN"

    def counter(self, f):
        try:
            return int(self.run(f"wc -c < {f}").stdout)
        except ValueError:
            return 0

    # The scenario, step by step.
    def create(self):
        r = self.cg("create", self.path, "memory=64M", "swap=128M",
                    "reservation=32M", "shares=512", "quota=50000",
                    "period=100000", "pids=10", "cpus=0", "mems=0",
                    "dev=deny:a", "dev=allow:c:1:3:rwm",
                    "dev=allow:c:1:5:rwm")
        assert r.stdout.strip() == "created 2", r
        M = 64 << 20
        if self.layout == "v2":
            assert self.ctl("memory", "memory.max") == str(M)
            assert self.ctl("memory", "memory.swap.max") == str(M)
            assert self.ctl("memory", "memory.low") == str(32 << 20)
            assert self.ctl("cpu", "cpu.max") == "50000 100000"
            # 512 shares: 10^((81 + 1125) / 612 - 7/34) = 58.2 (docs/cgroups.md)
            assert self.ctl("cpu", "cpu.weight") == "58"
            assert self.ctl("cpuset", "cpuset.cpus") == "0"
        else:
            assert self.ctl("memory", "memory.limit_in_bytes") == str(M)
            assert self.ctl("memory", "memory.memsw.limit_in_bytes") == str(2 * M)
            assert self.ctl("memory", "memory.soft_limit_in_bytes") == str(32 << 20)
            assert self.ctl("cpu", "cpu.cfs_quota_us") == "50000"
            assert self.ctl("cpu", "cpu.cfs_period_us") == "100000"
            assert self.ctl("cpu", "cpu.shares") == "512"
            assert self.ctl("cpuset", "cpuset.cpus") == "0"
            assert self.ctl("cpuset", "cpuset.mems") == "0"
            assert self.ctl("devices", "devices.list").split("\n") == \
                ["c 1:3 rwm", "c 1:5 rwm"]
        assert self.ctl("pids", "pids.max") == "10"
        for d in self.dirs(self.path):
            self.run(f"test -d {d}")

    def enter_and_freeze(self):
        f = f"/tmp/{self.top}.count"
        pid = self.spawn(f"sh -c 'while :; do echo x >> {f}; sleep 0.02; done'")
        self.cg("enter", self.path, str(pid))
        cgline = self.run(f"cat /proc/{pid}/cgroup").stdout
        assert f"/{self.path}\n" in cgline, cgline
        assert str(pid) in self.cg("pids", self.path).stdout.split()
        self.wait("the writer to write", lambda: self.counter(f) > 0)

        self.cg("freeze", self.path)
        assert self.frozen()
        if self.layout != "v2":  # the v1 freezer shows frozen tasks as D
            st = self.run(f"grep ^State /proc/{pid}/status").stdout
            assert "D (" in st, st
        n = self.counter(f)
        time.sleep(0.5)  # the absence of progress can only be watched
        assert self.counter(f) == n, "a frozen task kept writing"

        self.cg("thaw", self.path)
        assert not self.frozen()
        self.wait("the writer to go on", lambda: self.counter(f) > n)
        return pid

    def enforce_devices_and_pids(self, writer):
        r = self.cg("exec", self.path, "sh", "-c",
                    "'head -c 4 /dev/zero > /dev/null && echo zero-ok; "
                    "echo x > /dev/full'", check=False)
        assert "zero-ok" in r.stdout, r
        assert "Operation not permitted" in r.stderr, r
        r = self.cg("exec", self.path, "sh", "-c",
                    "'i=0; while [ $i -lt 20 ]; do sleep 60 >/dev/null 2>&1 & "
                    "i=$((i+1)); done'", check=False)
        assert not r.ok and "fork" in r.stderr.lower(), r
        pids = self.cg("pids", self.path).stdout.split()
        # pids.max counts the writer and its short sleeps too.
        assert 5 <= len(pids) <= 10, pids
        extra = [p for p in pids if p != str(writer)]
        # One may be a short sleep of the writer that is gone already.
        self.run("kill -9 " + " ".join(extra), check=False)
        self.wait("the extra sleeps to end",
                  lambda: not set(extra) &
                  set(self.cg("pids", self.path).stdout.split()))

    def update_memory(self):
        hi, lo = 256 << 20, 32 << 20
        self.cg("update", self.path, "memory=256M", "swap=512M")  # swap first
        self.cg("update", self.path, "memory=32M", "swap=48M")  # limit first
        if self.layout == "v2":
            assert self.ctl("memory", "memory.max") == str(lo)
            assert self.ctl("memory", "memory.swap.max") == str(16 << 20)
        else:
            assert self.ctl("memory", "memory.limit_in_bytes") == str(lo)
            assert self.ctl("memory", "memory.memsw.limit_in_bytes") == \
                str(48 << 20)
        r = self.cg("update", self.path, "memory=64M", "swap=32M", check=False)
        assert not r.ok and "below the memory limit" in r.stderr, r
        self.cg("update", self.path, "quota=-1")  # -1 lifts the limit
        if self.layout == "v2":
            assert self.ctl("cpu", "cpu.max") == "max 100000"
        else:
            assert self.ctl("cpu", "cpu.cfs_quota_us") == "-1"
        del hi

    def kill_and_destroy(self, writer):
        # SIGTERM: freeze, signal each, thaw.
        self.cg("kill", self.path, "15")
        self.wait("SIGTERM to end the writer", lambda: self.dead(writer))
        # SIGKILL: cgroup.kill on v2.
        sleeper = self.spawn()
        self.cg("enter", self.path, str(sleeper))
        self.cg("kill", self.path)
        self.wait("SIGKILL to end sleep", lambda: self.dead(sleeper))
        self.wait("the cgroup to empty",
                  lambda: self.cg("pids", self.path).stdout.strip() == "")
        self.cg("destroy", self.path, "2")
        self.assert_gone(self.top)

    def failed_create_leaves_nothing(self):
        r = self.cg("create", self.path, "memory=64M", "cpus=999", check=False)
        assert r.status == 1, r
        assert "`999`" in r.stderr and "cpuset.cpus" in r.stderr, r
        self.assert_gone(self.top)
        r = self.cg("create", self.path, "memory=64M", "swap=32M", check=False)
        assert r.status == 1 and "below the memory limit" in r.stderr, r
        self.assert_gone(self.top)

    def bad_paths(self):
        for p, why in [("../etc", "`..`"), ("a:b:c", "systemd"),
                       ("a//b", "empty component"), ("/", "root cgroup")]:
            r = self.cg("create", f"'{p}'", check=False)
            assert r.status == 1 and why in r.stderr, r

    def all(self):
        try:
            self.bad_paths()
            self.failed_create_leaves_nothing()
            self.create()
            writer = self.enter_and_freeze()
            self.enforce_devices_and_pids(writer)
            self.update_memory()
            self.kill_and_destroy(writer)
        finally:  # leave the host clean whatever failed
            self.cg("kill", self.path, check=False)
            self.cg("destroy", self.path, "2", check=False)


def host_layout(tool):
    return subprocess.run([tool, "detect"], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_cgroup_host_v1_hybrid(cgtool):
    if os.geteuid() != 0:
        pytest.skip("cgroups can only be created as root")
    layout = host_layout(cgtool)
    if layout == "v2":
        pytest.skip("this host is pure cgroup2; the L1 test covers v2")
    Scenario(HostShell(), cgtool, layout).all()


def test_cgroup_l1_v2(l1, cgtool):
    r = l1.run(f"{cgtool} detect", check=True)
    assert r.stdout.strip() == "v2", r
    Scenario(l1, cgtool, "v2").all()
