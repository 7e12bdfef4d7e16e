# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers for the vps-ct (OCI runtime) tests: the paths of the runtime and
of the multi-call helper /init (tests/ct/init.c), the base config.json every
test starts from, and a bundle around a copy of the busybox rootfs
(tests/ct/mkrootfs), either on this host (Bundle: test_ct_runtime.py) or in
the nested test host L1, whose cgroups are pure cgroup2 (L1Bundle:
test_ct_v2.py). Both run the real vps-ct and read what /init printed."""

import copy
import glob
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from .guest import shell_quote

TOP = Path(__file__).resolve().parents[3]
BUILD = Path(os.environ.get("VPS_BUILD", TOP / "build-test"))
VPS_CT = BUILD / "src" / "ct" / "vps-ct"
INIT = BUILD / "tests" / "ct" / "vps-ct-init"

BASE = {
    "ociVersion": "1.0.2",
    "process": {"args": ["/init", "true"], "cwd": "/",
                "env": ["PATH=/bin:/sbin", "TERM=xterm"]},
    "root": {"path": "rootfs"},
    "hostname": "vps-test",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666",
                     "mode=0620"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
    ],
    "linux": {"namespaces": [{"type": t} for t in
                             ("pid", "network", "ipc", "uts", "mount", "cgroup")]},
}


def mkrootfs():
    """The cached busybox rootfs with /init (tests/ct/mkrootfs): its path."""
    r = subprocess.run([str(TOP / "tests" / "ct" / "mkrootfs"), str(INIT)],
                       capture_output=True, text=True, check=True)
    return Path(r.stdout.strip().splitlines()[-1])


class Bundle:
    def __init__(self, path, rootfs):
        self.path = path
        self.root = path / "state"  # --root: private per test
        self.rootfs = path / "rootfs"
        shutil.copytree(rootfs, self.rootfs, symlinks=True)
        self.config = copy.deepcopy(BASE)
        self.id = "t" + uuid.uuid4().hex[:10]

    def write(self):
        (self.path / "config.json").write_text(json.dumps(self.config))

    def ct(self, *args, check=False, timeout=30, **kw):
        r = subprocess.run([str(VPS_CT), "--root", str(self.root), *args],
                           capture_output=True, text=True, timeout=timeout, **kw)
        if check and r.returncode != 0:
            raise AssertionError(f"vps-ct {' '.join(args)}: {r.returncode}: {r.stderr}")
        return r

    def run(self, *args, check=True):
        """Run /init ARGS in a fresh container; return its stdout."""
        if args:
            self.config["process"]["args"] = ["/init", *args]
        self.write()
        r = self.ct("run", "-b", str(self.path), self.id)
        if check and r.returncode != 0:
            raise AssertionError(f"run failed ({r.returncode}): {r.stderr}")
        return r if not check else r.stdout

    def create(self, *args, extra=()):
        if args:
            self.config["process"]["args"] = ["/init", *args]
        self.write()
        # the container keeps the stdio it is given: never a pipe we wait on
        with open(self.path / "out", "w") as out:
            r = subprocess.run([str(VPS_CT), "--root", str(self.root), "create",
                                "-b", str(self.path), *extra, self.id],
                               stdout=out, stderr=out, timeout=30)
        assert r.returncode == 0, self.output()
        return self

    def state(self):
        return json.loads(self.ct("state", self.id, check=True).stdout)

    def output(self):
        return (self.path / "out").read_text()


class L1Bundle:
    """A bundle in L1, at /tmp/vps-ct-v2/<id> (L1's overlay: its memory),
    its rootfs unpacked from TAR (an L1 path, in the scratch share: a tree
    the host made after L1 booted may read stale through L1's 9p cache).
    Its cgroup is /vpsct-<id>/ct, so that gone() can check that the whole
    tree the runtime made went away. Commands go through l1.run and return
    its agent.Result (.status, .stdout, .stderr, .ok)."""

    def __init__(self, l1, tar):
        self.l1 = l1
        self.id = "t" + uuid.uuid4().hex[:10]
        self.path = f"/tmp/vps-ct-v2/{self.id}"
        self.root = f"{self.path}/state"
        self.top = f"vpsct-{self.id}"
        self.cgpath = f"/{self.top}/ct"
        self.config = copy.deepcopy(BASE)
        self.config["linux"]["cgroupsPath"] = self.cgpath
        self.sh(f"mkdir -p {self.path}/rootfs && tar -xf {tar} -C {self.path}/rootfs",
                check=True)

    def sh(self, cmd, check=False, timeout=120):
        r = self.l1.run(cmd, timeout=timeout)
        if check:
            assert r.ok, r
        return r

    def write(self):
        text = json.dumps(self.config)
        self.sh(f"cat > {self.path}/config.json <<'VPS_EOF'\n{text}\nVPS_EOF",
                check=True)

    def ct_cmd(self, *args):
        return shell_quote([str(VPS_CT), "--root", self.root, *map(str, args)])

    def ct(self, *args, check=False, timeout=120):
        r = self.sh(self.ct_cmd(*args), timeout=timeout)
        if check:
            assert r.ok, r
        return r

    def run(self, *args, check=True):
        """Run /init ARGS (or config's args) in a fresh container."""
        if args:
            self.config["process"]["args"] = ["/init", *args]
        self.write()
        r = self.ct("run", "-b", self.path, self.id)
        if check:
            assert r.ok, r
        return r

    def create(self, *args, extra=(), check=True):
        if args:
            self.config["process"]["args"] = ["/init", *args]
        self.write()
        # the container keeps the stdio it is given: a file, never the agent's pipes
        r = self.sh(self.ct_cmd("create", "-b", self.path, *extra, self.id) +
                    f" </dev/null >{self.path}/out 2>&1")
        if check:
            assert r.ok, f"{r}\n{self.output()}"
        return r

    def state(self):
        return json.loads(self.ct("state", self.id, check=True).stdout)

    def output(self):
        return self.sh(f"cat {self.path}/out").stdout

    def cg(self, f):
        """A file of the container's cgroup, stripped."""
        return self.sh(f"cat /sys/fs/cgroup{self.cgpath}/{f}", check=True).stdout.strip()

    def gone(self):
        """What is left of the container: its state dir, its cgroup tree
        and processes of the runtime or of /init that mention its bundle."""
        # the bundle path in two halves: this shell's own command line
        # (and its subshells') must not match
        r = self.sh(f"d=/tmp/vps-ct-v2; i={self.id}; "
                    "test -e $d/$i/state/$i && echo state; "
                    "test -e /sys/fs/cgroup/vpsct-$i && echo cgroup; "
                    "for p in /proc/[0-9]*; do "
                    "case \"$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)\" in "
                    "*$d/$i*) echo proc ${p#/proc/};; esac; done; true",
                    check=True)
        return r.stdout.split("\n") if r.stdout.strip() else []

    def cleanup(self):
        self.sh(self.ct_cmd("delete", "--force", self.id) + " >/dev/null 2>&1; "
                f"rmdir /sys/fs/cgroup{self.cgpath} /sys/fs/cgroup/{self.top} "
                f"2>/dev/null; rm -rf {self.path}; true")


def cgroup_dirs(cgpath):
    return [d for d in glob.glob(f"/sys/fs/cgroup/*{cgpath}") if os.path.isdir(d)]


def wait_for(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False
