# SPDX-License-Identifier: GPL-2.0-or-later
"""Runs one VMM command and times it from process start until MARKER shows,
on its console (stdout) or, with --screen, in the VGA text screen read every
half second. Prints one JSON line: {"marker_s", "rc", "maxrss_kib"}; the
VMM is killed once the marker shows (or at TIMEOUT). Used by
bench/vmm-firmware inside the nested test host, so the clock, the VMM and
the reader are in one place.

usage: screen-timer.py [--screen vmm:CTL|qemu:QMP] MARKER TIMEOUT CMD...

vmm:CTL reads vps-vmm's control socket (`screen`, which starts at the
CRTC's start address); qemu:QMP reads the whole 32 KiB text window at
0xb8000 through QEMU's QMP socket (`pmemsave`), every
other byte a character as the VGA stores them: Linux's VGA console scrolls
by moving the start address through that window, so after the kernel's
messages the screen no longer begins at 0xb8000 (HMP does not show the
CRTC), and a marker on one row is a run of the window's characters wherever
the row is."""

import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time


def vmm_screen(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(b'{"cmd":"screen"}\n')
        r = json.loads(s.makefile().readline())
    return "\n".join(r.get("text") or [])


def qemu_screen(path):
    """QMP's pmemsave, whose reply comes once the file is written (HMP's prompt
    came back before the command had run: the file read was still empty)."""
    name = tempfile.mktemp(prefix="screen-", dir="/tmp")
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        f = s.makefile("rwb")

        def call(cmd, **args):
            f.write(json.dumps({"execute": cmd, "arguments": args}).encode() + b"\n")
            f.flush()
            while True:  # events may come before the reply
                r = json.loads(f.readline())
                if "return" in r or "error" in r:
                    return r

        json.loads(f.readline())  # the greeting
        call("qmp_capabilities")
        r = call("pmemsave", val=0xb8000, size=0x8000, filename=name)
    try:
        if "error" in r:
            raise ValueError(r["error"])
        with open(name, "rb") as f:
            data = f.read()
    finally:
        if os.path.exists(name):
            os.unlink(name)
    return data[0::2].decode("latin-1")


def main():
    args, reader = sys.argv[1:], None
    if args[0] == "--screen":
        kind, _, path = args[1].partition(":")
        reader = (vmm_screen if kind == "vmm" else qemu_screen, path)
        args = args[2:]
    marker, timeout, cmd = args[0], float(args[1]), args[2:]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    os.set_blocking(p.stdout.fileno(), False)
    seen, buf = None, b""
    while seen is None and time.monotonic() - t0 < timeout and p.poll() is None:
        time.sleep(0.5)
        buf = (buf + (p.stdout.read() or b""))[-4096:]
        if marker.encode() in buf:
            seen = time.monotonic() - t0
        elif reader:
            try:
                if marker in reader[0](reader[1]):
                    seen = time.monotonic() - t0
            except (OSError, ValueError):
                pass  # the socket is not there yet
    p.kill()
    rc = p.wait()
    print(json.dumps({"marker_s": seen, "rc": rc,
                      "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))


if __name__ == "__main__":
    main()
