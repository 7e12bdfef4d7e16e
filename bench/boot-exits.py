# SPDX-License-Identifier: GPL-2.0-or-later
"""Runs one VMM command in the nested test host (L1) and, when MARKER shows
on its console, reads the VM's KVM counters from debugfs
(/sys/kernel/debug/kvm/PID-FD/, debugfs mounted by the caller), then lets
the guest finish. Prints one JSON line: {"marker_s", "rc", "stats": {...}}.
Used by bench/vmm-boot-exits (issue 18: where a stock kernel's boot exits).

usage: boot-exits.py MARKER TIMEOUT CMD..."""

import glob
import json
import os
import select
import subprocess
import sys
import time


def kvm_stats(pid):
    out = {}
    for d in glob.glob(f"/sys/kernel/debug/kvm/{pid}-*"):
        for f in glob.glob(d + "/*"):
            try:
                out[os.path.basename(f)] = int(open(f).read().split()[0])
            except (OSError, ValueError, IndexError):
                pass  # directories (vcpuN) and non-numeric entries
    return out


def main():
    marker, timeout, cmd = sys.argv[1].encode(), float(sys.argv[2]), sys.argv[3:]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    buf, seen, stats = b"", None, {}
    while time.monotonic() - t0 < timeout:
        if not select.select([p.stdout], [], [], 1)[0]:
            continue
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        buf = (buf + chunk)[-4096:]
        if seen is None and marker in buf:
            seen = time.monotonic() - t0
            stats = kvm_stats(p.pid)
    if p.poll() is None:
        p.kill()
    print(json.dumps({"marker_s": seen, "rc": p.wait(), "stats": stats}))


if __name__ == "__main__":
    main()
