# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers for the system-container monitor tests (vps-ctm, src/ctm): a
container's config file, `vps-ctm create`, the monitor (`vps-ctm run`)
started in the background, its control socket, `vps-ctm exec`, a console
client, and a cleanup that leaves nothing behind whatever state the test
left the container in (no monitor, no mount, no loop device, no cgroup, no
veth, no directory).

    ct = Ctm(tmp_path, template("busybox"), memory="128M")
    ct.create()
    ct.start()                      # waits for control.sock and "running"
    ct.exec("cat", "/run/boot")     # stdout (str); exec_r() for the result
    ct.ctl({"cmd": "state"})        # the reply as a dict
    with ct.console() as con:       # a Console on console.sock
        con.read_until(b"login:")
    ct.ctl({"cmd": "shutdown"}); ct.wait()   # the monitor's exit status
    ct.cleanup()                    # always safe; the ctm fixture calls it

Names are unique (`t` + 6 hex digits: the host veth is `vps-` + the first
11 bytes of the name) and so are uid ranges. The run directory (sockets) is
under tmp_path when that is short enough for a unix socket path; the
container's directory (DIR: disk.img, rootfs/) is a fresh /tmp/ctm-NAME-*
of mode 0711, since the container's root, an unprivileged uid outside, must
walk down to its rootfs (pytest's tmp_path is under a 0700 directory)."""

import glob
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from .ct import BUILD, TOP, VPS_CT

VPS_CTM = BUILD / "src" / "ctm" / "vps-ctm"
MKTEMPLATE = TOP / "src" / "ct" / "templates" / "mktemplate"
LXCFS = Path("/var/lib/lxcfs")

# exit statuses of `vps-ctm run` (src/ctm/ctm.h)
EXIT_POWEROFF, EXIT_FAILURE, EXIT_CONFIG, EXIT_CRASH, EXIT_KILLED = 0, 1, 2, 4, 5

SUN_PATH_MAX = 107  # sizeof(sun_path) - 1
_LONGEST_SOCKET = "ct/tXXXXXX/console-recv.sock-x"  # with room for vps-ct's own

_templates = {}


def template(name="busybox"):
    """The cached template tarball (src/ct/templates/mktemplate): its path."""
    if name not in _templates:
        r = subprocess.run([str(MKTEMPLATE), name], capture_output=True, text=True,
                           timeout=1800)
        if r.returncode != 0:
            raise AssertionError(f"mktemplate {name}: {r.stderr}")
        _templates[name] = r.stdout.strip().splitlines()[-1]
    return _templates[name]


def ensure_lxcfs():
    """Start lxcfs as scripts/test does; returns an error text or None."""
    r = subprocess.run(["bash", "-c", f". {TOP}/scripts/lib.sh && vps_ensure_lxcfs"],
                       capture_output=True, text=True, timeout=60)
    return None if r.returncode == 0 else (r.stdout + r.stderr).strip() or "failed"


def unique_uid_base():
    """A uid range of 65536 that no other test of this run uses: from
    2^24 up, picked by pid and a counter, so parallel runs differ too."""
    unique_uid_base.n += 1
    slot = (os.getpid() * 64 + unique_uid_base.n) % 2000
    return (256 + slot) * 65536


unique_uid_base.n = 0


def ctm(*args, timeout=120, **kw):
    """Run vps-ctm ARGS; returns the CompletedProcess (text)."""
    return subprocess.run([str(VPS_CTM), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kw)


class Console:
    """A client of the monitor's console socket. read_until() keeps what it
    read in .data (bytes), so a test can look at all the output so far."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.data = b""
        self.pos = 0  # read_until() looks from here

    def send(self, text):
        self.sock.sendall(text.encode() if isinstance(text, str) else text)

    def read_until(self, pattern, timeout=30):
        """Read until PATTERN (bytes or str regex) matches output after the
        previous match; returns the match. Raises TimeoutError with the
        output seen."""
        if isinstance(pattern, str):
            pattern = pattern.encode()
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while True:
            m = rx.search(self.data, self.pos)
            if m:
                self.pos = m.end()
                return m
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"console: no {pattern!r} in {timeout} s; "
                                   f"got {self.data[-2000:]!r}")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise EOFError(f"console closed before {pattern!r}; "
                               f"got {self.data[-2000:]!r}")
            self.data += chunk

    def drain(self, seconds=0.3):
        """Read whatever comes for SECONDS; returns it."""
        got = b""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            got += chunk
        self.data += got
        return got

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Ctm:
    """One system container under test. KW are config keys (memory, net,
    tun, ...) over a small default; .config can be changed before create()
    or write_config()."""

    def __init__(self, tmp_path, template_path, name=None, uid_base=None, **kw):
        self.tmp = Path(tmp_path)
        self.name = name or "t" + uuid.uuid4().hex[:6]
        # the container's root (uid_base outside) walks down to DIR/rootfs:
        # pytest's tmp_path is under a 0700 directory, so DIR is not there
        self._base = Path(tempfile.mkdtemp(prefix=f"ctm-{self.name}-", dir="/tmp"))
        self._base.chmod(0o711)
        self.dir = self._base / "ct"
        run = self.tmp / f"run-{self.name}"
        if len(f"{run}/{_LONGEST_SOCKET}") > SUN_PATH_MAX:
            run = self._base / "run"
        self.run_dir = run
        self.config = {
            "name": self.name, "dir": str(self.dir), "run_dir": str(self.run_dir),
            "template": str(template_path), "memory": "128M", "swap": "64M",
            "pids": 200, "disk": "64M", "uid_base": uid_base or unique_uid_base(),
            "stop_timeout": 10,
        }
        self.config.update(kw)
        self.path = self.tmp / f"{self.name}.json"
        self.proc = None  # the monitor
        self.log = self.tmp / f"{self.name}.monitor.log"
        self.status = None  # the monitor's exit status once reaped
        self.write_config()

    # --- files and paths ------------------------------------------------------

    @property
    def control_sock(self):
        return self.run_dir / "control.sock"

    @property
    def console_sock(self):
        return self.run_dir / "console.sock"

    @property
    def rootfs(self):
        return self.dir / "rootfs"

    @property
    def disk_img(self):
        return self.dir / "disk.img"

    @property
    def host_ifname(self):
        net = self.config.get("net") or {}
        return net.get("host_ifname") or f"vps-{self.name[:11]}"

    def write_config(self):
        self.path.write_text(json.dumps(self.config))

    def cgroup_dirs(self):
        """The container's cgroup directories on every hierarchy."""
        return [d for d in glob.glob(f"/sys/fs/cgroup/*/vps-ct/{self.name}") +
                glob.glob(f"/sys/fs/cgroup/vps-ct/{self.name}") if os.path.isdir(d)]

    def cgroup(self, controller):
        """The container's cgroup directory of CONTROLLER (v1 hybrid:
        /sys/fs/cgroup/CONTROLLER/vps-ct/NAME; else the unified one)."""
        for p in (f"/sys/fs/cgroup/{controller}/vps-ct/{self.name}",
                  f"/sys/fs/cgroup/vps-ct/{self.name}"):
            if os.path.isdir(p):
                return Path(p)
        raise AssertionError(f"no {controller} cgroup for {self.name}")

    def mounted(self):
        """Whether DIR/rootfs is a mount point in this mount namespace."""
        target = str(self.rootfs)
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == target for line in f)

    def loop_devices(self):
        """Loop devices backed by disk.img."""
        r = subprocess.run(["losetup", "-n", "-O", "NAME", "-j", str(self.disk_img)],
                           capture_output=True, text=True)
        return r.stdout.split()

    def veth_exists(self):
        return os.path.exists(f"/sys/class/net/{self.host_ifname}")

    # --- commands -------------------------------------------------------------

    def ctm(self, cmd, *args, timeout=120):
        return ctm(cmd, self.path, *args, timeout=timeout)

    def create(self, check=True):
        r = self.ctm("create")
        if check and r.returncode != 0:
            raise AssertionError(f"vps-ctm create: {r.returncode}: {r.stderr}")
        return r

    def destroy(self, check=True):
        r = self.ctm("destroy")
        if check and r.returncode != 0:
            raise AssertionError(f"vps-ctm destroy: {r.returncode}: {r.stderr}")
        return r

    def start(self, timeout=60, wait_running=True):
        """Start `vps-ctm run` in the background (its output goes to
        .log); wait for control.sock and, unless told not to, for the
        state "running"."""
        assert self.proc is None or self.proc.poll() is not None, "already started"
        self.status = None
        self._logf = open(self.log, "ab")
        self.proc = subprocess.Popen([str(VPS_CTM), "run", str(self.path)],
                                     stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=subprocess.STDOUT)
        end = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                self._reaped()
                raise AssertionError(f"vps-ctm run exited {self.status}: {self.output()}")
            if self.control_sock.exists():
                try:
                    st = self.ctl({"cmd": "state"}, timeout=5)
                except OSError:
                    st = None
                if st and (not wait_running or st.get("state") == "running"):
                    return st
            if time.monotonic() > end:
                raise AssertionError(f"vps-ctm run: not running in {timeout} s: "
                                     f"{self.output()}")
            time.sleep(0.05)

    def output(self):
        """What the monitor printed (its stdout and stderr)."""
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def ctl(self, request, timeout=30):
        """One request (dict or JSON text) on the control socket; the reply
        as a dict."""
        line = request if isinstance(request, str) else json.dumps(request)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.control_sock))
            s.sendall(line.encode() + b"\n")
            buf = b""
            while b"\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        return json.loads(buf.decode())

    def state(self):
        return self.ctl({"cmd": "state"})

    def exec_r(self, *cmd, timeout=60, input=None):
        """`vps-ctm exec CONFIG -- CMD`: the CompletedProcess (text)."""
        return subprocess.run([str(VPS_CTM), "exec", str(self.path), "--", *map(str, cmd)],
                              capture_output=True, text=True, timeout=timeout, input=input)

    def exec(self, *cmd, timeout=60, input=None):
        """Run CMD inside; its stdout. Fails the test if it fails."""
        r = self.exec_r(*cmd, timeout=timeout, input=input)
        if r.returncode != 0:
            raise AssertionError(f"exec {cmd}: status {r.returncode}: "
                                 f"{r.stdout}{r.stderr}")
        return r.stdout

    def sh(self, script, timeout=60):
        """`sh -c SCRIPT` inside; its stdout."""
        return self.exec("/bin/sh", "-c", script, timeout=timeout)

    def console(self):
        return Console(self.console_sock)

    def wait_state(self, want, timeout=30, **fields):
        """Poll the state until it is WANT (and has FIELDS); returns it."""
        end = time.monotonic() + timeout
        st = None
        while time.monotonic() < end:
            try:
                st = self.state()
                if st.get("state") == want and all(st.get(k) == v for k, v in fields.items()):
                    return st
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"state {want} {fields} not reached in {timeout} s: {st}")

    def wait(self, timeout=60):
        """The monitor's exit status, waiting up to TIMEOUT seconds."""
        if self.status is None:
            self.proc.wait(timeout=timeout)
            self._reaped()
        return self.status

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _reaped(self):
        self.status = self.proc.returncode
        if getattr(self, "_logf", None):
            self._logf.close()
            self._logf = None

    # --- cleanup --------------------------------------------------------------

    def stop(self, timeout=20):
        """Stop the monitor whatever it is doing: control stop, then
        SIGTERM, then SIGKILL (after which vps-ct delete cleans up)."""
        if not self.running():
            if self.proc is not None and self.status is None:
                self._reaped()
            return self.status
        for how in ("stop", "term", "kill"):
            try:
                if how == "stop":
                    self.ctl({"cmd": "stop"}, timeout=5)
                elif how == "term":
                    self.proc.terminate()
                else:
                    self.proc.kill()
                self.proc.wait(timeout=timeout if how != "kill" else 30)
                break
            except (OSError, ValueError, subprocess.TimeoutExpired):
                continue
        self._reaped()
        return self.status

    def leftovers(self):
        """What is left of the container on the host: a list of texts."""
        left = []
        if self.running():
            left.append(f"monitor pid {self.proc.pid}")
        if self.mounted():
            left.append(f"mount {self.rootfs}")
        left += [f"loop {d}" for d in self.loop_devices()]
        left += [f"cgroup {d}" for d in self.cgroup_dirs()]
        if self.veth_exists():
            left.append(f"veth {self.host_ifname}")
        return left

    def cleanup(self):
        """Leave nothing behind, whatever state the test left: safe to call
        twice. Raises AssertionError if something could not be removed."""
        self.stop()
        if (self.run_dir / "ct" / self.name).exists():
            subprocess.run([str(VPS_CT), "--root", str(self.run_dir / "ct"), "delete",
                            "--force", self.name], capture_output=True, timeout=60)
        for d in self.cgroup_dirs():  # a crashed vps-ct: kill and remove
            for procs in glob.glob(f"{d}/**/cgroup.procs", recursive=True):
                try:
                    for pid in Path(procs).read_text().split():
                        os.kill(int(pid), 9)
                except (OSError, ValueError):
                    pass
        deadline = time.monotonic() + 10
        while self.cgroup_dirs() and time.monotonic() < deadline:
            for d in self.cgroup_dirs():
                for sub in sorted(glob.glob(f"{d}/**/", recursive=True), reverse=True):
                    try:
                        os.rmdir(sub)
                    except OSError:
                        pass
            time.sleep(0.1)
        if self.dir.exists():
            self.destroy(check=False)
        if self.mounted():
            subprocess.run(["umount", "-l", str(self.rootfs)], capture_output=True)
        for dev in self.loop_devices():
            subprocess.run(["losetup", "-d", dev], capture_output=True)
        if self.veth_exists():
            subprocess.run(["ip", "link", "del", self.host_ifname], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        if not self.dir.exists():
            shutil.rmtree(self._base, ignore_errors=True)
        left = self.leftovers()
        assert not left, f"{self.name}: left behind: {left}"


class CtmFactory:
    """What the `ctm` fixture gives a test: make(**config) -> a Ctm, all
    cleaned up when the test ends."""

    def __init__(self, tmp_path, template_name="busybox"):
        self.tmp_path = tmp_path
        self.template_name = template_name
        self.made = []

    def __call__(self, template_name=None, **kw):
        c = Ctm(self.tmp_path, template(template_name or self.template_name), **kw)
        self.made.append(c)
        return c

    def cleanup(self):
        errors = []
        for c in reversed(self.made):
            try:
                c.cleanup()
            except Exception as e:  # clean up the others first
                errors.append(f"{c.name}: {e}")
        assert not errors, "; ".join(errors)
