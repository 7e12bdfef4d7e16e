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
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

from .guest import shell_quote

TOP = Path(__file__).resolve().parents[3]
BUILD = Path(os.environ.get("VPS_BUILD", TOP / "build-test"))
VPS_CT = BUILD / "src" / "ct" / "vps-ct"


def ct_enforces(limit):
    """Whether this host's cgroups enforce a container limit (`vps-ct
    features`; test_limits.py checks that answer against the kernel). Tests
    that use a limit in passing (an IO weight in a plan) ask first, so they
    hold on kernels with and without it."""
    r = subprocess.run([str(VPS_CT), "features"], capture_output=True, text=True,
                       timeout=30, check=True)
    return json.loads(r.stdout)["annotations"][f"run.vps.resource.{limit}"] == "enforced"
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


def copy_with_libs(rootfs, *programs):
    """Host programs and the libraries they load (ldd) into rootfs, under the same paths:
    a dynamic program run in a busybox container."""
    for prog in programs:
        r = subprocess.run(["ldd", prog], capture_output=True, text=True, check=True)
        libs = [w for line in r.stdout.splitlines() for w in line.split() if w.startswith("/")]
        for p in [prog, *libs]:
            dst = Path(rootfs) / p.lstrip("/")
            dst.parent.mkdir(parents=True, exist_ok=True)
            # a link already there (busybox's `free` -> /bin/busybox) goes first: copying
            # onto it would write through it, onto the host's own file
            if dst.is_symlink() or dst.exists():
                dst.unlink()
            shutil.copy(p, dst)  # the file a symlink names, under the link's name


def wait_for(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


# ---- system containers (docs/ct-systemd.md) ----

SYSTEM_HOST_ID = 200000  # container root is this uid/gid on the host
SYSTEM_ID_SIZE = 65536

# What LXC drops for an unprivileged container (lxc.cap.drop in its common
# config): loading modules, setting the clock, MAC policy and raw I/O.
SYSTEM_CAPS_DROPPED = {"CAP_SYS_MODULE", "CAP_SYS_TIME", "CAP_MAC_ADMIN",
                       "CAP_MAC_OVERRIDE", "CAP_SYS_RAWIO"}
ALL_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
    "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE"]


def system_config(hostname="vps-ct", host_id=SYSTEM_HOST_ID, size=SYSTEM_ID_SIZE,
                  init=("/sbin/init",), cgroups_path=None, terminal=True):
    """The config.json of a system container whose init is systemd (or any
    full init): every namespace including user (root is HOST_ID outside),
    tmpfs on /run, /run/lock, /tmp and /dev, /sys read-only, /proc with the
    usual masked and read-only paths, the container's own delegated cgroup
    tree at /sys/fs/cgroup, `container=vps`, LXC's capability set for an
    unprivileged container, no no_new_privs, and a terminal (run it with
    --console-socket: the pty becomes /dev/console, where systemd writes;
    TERMINAL=False leaves the init the runtime's stdio and no
    /dev/console). docs/ct-systemd.md says why each piece."""
    caps = [c for c in ALL_CAPS if c not in SYSTEM_CAPS_DROPPED]
    tmpfs = ["nosuid", "nodev", "strictatime"]
    cfg = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": terminal,
            "user": {"uid": 0, "gid": 0},
            "args": list(init),
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "container=vps", "TERM=linux"],
            "cwd": "/",
            "capabilities": {k: list(caps) for k in
                             ("bounding", "effective", "permitted")},
            "noNewPrivileges": False,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": hostname,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666",
                         "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "rw"]},
            {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
             "options": [*tmpfs, "mode=755", "size=65536k"]},
            {"destination": "/run/lock", "type": "tmpfs", "source": "tmpfs",
             "options": [*tmpfs, "noexec", "mode=1777", "size=5120k"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
             "options": [*tmpfs, "mode=1777"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in
                           ("pid", "network", "ipc", "uts", "mount", "cgroup", "user")],
            "uidMappings": [{"containerID": 0, "hostID": host_id, "size": size}],
            "gidMappings": [{"containerID": 0, "hostID": host_id, "size": size}],
            "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list",
                            "/proc/timer_stats", "/proc/sched_debug",
                            "/proc/scsi", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }
    if cgroups_path:
        cfg["linux"]["cgroupsPath"] = cgroups_path
    return cfg


class ConsoleSocket:
    """A --console-socket receiver: takes the pty master the runtime sends
    (SCM_RIGHTS) and copies everything written to it into a file, so the
    container's console (systemd's boot and shutdown messages) can be read
    while it runs. The draining matters: a full pty blocks its writers."""

    def __init__(self, path, log):
        self.path, self.log = str(path), Path(log)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.closed = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.sock.accept()
        with conn:
            _, fds, _, _ = socket.recv_fds(conn, 16, 1)
        # Kept open to the end: with the master closed, opening the slave
        # (systemd reopens /dev/console) fails with EIO for good.
        with os.fdopen(fds[0], "rb", buffering=0) as master, \
                open(self.log, "ab", buffering=0) as out:
            while not self.closed:
                try:
                    data = master.read(4096)
                except OSError:  # EIO while no slave is open: wait for one
                    time.sleep(0.05)
                    continue
                if data:
                    out.write(data)

    def settle(self, quiet=0.3, timeout=5.0):
        """Wait until nothing new came for QUIET seconds (the last lines an
        init wrote before it ended may still be in the pty)."""
        end = time.monotonic() + timeout
        size, since = -1, time.monotonic()
        while time.monotonic() < end:
            now = self.log.stat().st_size if self.log.exists() else 0
            if now != size:
                size, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.05)

    def text(self):
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def close(self):
        self.closed = True
        self.sock.close()


def shift_rootfs(rootfs, host_id=SYSTEM_HOST_ID):
    """Own every file of ROOTFS by the container's ids as the host sees them
    (uid and gid + HOST_ID), as a template unpacked for a user namespace
    must be. chown clears setuid/setgid, so the mode is put back."""
    def shift(path):
        st = os.lstat(path)
        os.lchown(path, st.st_uid + host_id, st.st_gid + host_id)
        if not os.path.islink(path) and st.st_mode & 0o6000:
            os.chmod(path, st.st_mode & 0o7777)

    shift(rootfs)
    for top, dirs, files in os.walk(rootfs):
        for name in dirs + files:
            shift(os.path.join(top, name))
