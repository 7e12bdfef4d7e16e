# SPDX-License-Identifier: GPL-2.0-or-later
"""Runs one VMM command and times it: process start -> MARKER on its console
(stdout) -> exit. Prints one JSON line: {"marker_s", "exit_s", "rc",
"maxrss_kib"}. Used by bench/vmm-linux-boot inside the nested test host, so
the clock and the VMM are in the same place.

usage: boot-timer.py MARKER TIMEOUT CMD..."""

import json
import resource
import subprocess
import sys
import time


def main():
    marker, timeout, cmd = sys.argv[1].encode(), float(sys.argv[2]), sys.argv[3:]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    seen, buf = None, b""
    while True:
        chunk = p.stdout.read1(65536)
        if not chunk:
            break
        buf = (buf + chunk)[-4096:]
        if seen is None and marker in buf:
            seen = time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            p.kill()
            break
    rc = p.wait()
    out = {"marker_s": seen, "exit_s": time.monotonic() - t0, "rc": rc,
           "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
