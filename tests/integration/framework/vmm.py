# SPDX-License-Identifier: GPL-2.0-or-later
"""What the tests of vps-vmm on this machine's /dev/kvm share: where the
monitor and the micro-guests are built, the skip for a machine without
/dev/kvm, and a client of the control socket."""

import json
import os
import socket
import subprocess
import time

import pytest

from . import artefacts

VMM = artefacts.build_dir() / "src" / "vmm" / "vps-vmm"
MICRO = artefacts.build_dir() / "tests" / "guest" / "micro"

# The monitor's jail (src/vmm/jail.c): its own uid, an empty root, no
# capabilities, seccomp. The device, console and control tests run jailed, so
# every path they reach is one the jail's syscall lists allow.
JAIL_UID = 3999000
JAIL = ("--jail", f"uid={JAIL_UID}")

needs_kvm = pytest.mark.skipif(not os.access("/dev/kvm", os.R_OK | os.W_OK),
                               reason="/dev/kvm is missing or not accessible")


class Control:
    """One client of the control socket: a JSON object per line each way."""

    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.f = self.sock.makefile("rwb")

    def raw(self, line: bytes) -> dict:
        self.f.write(line + b"\n")
        self.f.flush()
        return json.loads(self.f.readline())

    def __call__(self, cmd, **kw):
        return self.raw(json.dumps({"cmd": cmd, **kw}).encode())

    def close(self):
        self.f.close()
        self.sock.close()


def start_spin(tmp_path, *extra):
    """spin64 (a guest that spins) with a control socket and its serial in a
    file; returns (process, socket path) once the guest runs (it prints its
    marker after the socket is up)."""
    sock, serial = tmp_path / "ctl.sock", tmp_path / "serial.log"
    p = subprocess.Popen([str(VMM), "--micro", str(MICRO / "spin64.bin"), "--mode", "long",
                          "--serial", f"file:{serial}", "--control", str(sock), *extra],
                         stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while b"VPS-MICRO spin" not in (serial.read_bytes() if serial.exists() else b""):
        assert p.poll() is None, p.stderr.read()
        assert time.monotonic() < deadline, "guest marker never came"
        time.sleep(0.01)
    return p, sock
