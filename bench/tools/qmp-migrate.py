#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""QEMU's side of bench/vmm-migrate, run in the nested test host: through
the source QEMU's QMP socket, set the downtime limit, start a migration to
URI, poll `query-migrate` every 20 ms until it ends (or cancel it after
LIMIT seconds: QEMU without auto-converge copies a guest that dirties
memory faster than it sends for ever), print its last answer as one JSON
line, and quit the source.

usage: qmp-migrate.py QMP-SOCKET URI DOWNTIME-MS LIMIT-S"""

import json
import socket
import sys
import time


class Qmp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rw")
        self.read()  # the greeting
        self.cmd("qmp_capabilities")

    def read(self):
        while True:
            msg = json.loads(self.f.readline())
            if "event" not in msg:
                return msg

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        r = self.read()
        if "error" in r:
            sys.exit(f"qmp {name}: {r['error']}")
        return r["return"]


def main(argv):
    if len(argv) != 5:
        sys.exit(__doc__)
    q = Qmp(argv[1])
    q.cmd("migrate-set-parameters", **{"downtime-limit": int(argv[3])})
    q.cmd("migrate", uri=argv[2])
    end = time.monotonic() + float(argv[4])
    while True:
        st = q.cmd("query-migrate")
        if st.get("status") in ("completed", "failed", "cancelled"):
            break
        if time.monotonic() > end:
            q.cmd("migrate_cancel")
            end = float("inf")
        time.sleep(0.02)
    print(json.dumps(st))
    q.f.write(json.dumps({"execute": "quit"}) + "\n")
    q.f.flush()
    return 0 if st["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
