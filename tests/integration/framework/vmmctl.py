# SPDX-License-Identifier: GPL-2.0-or-later
"""A tiny client of vps-vmm's control socket, run inside L1 (where the
monitor under test runs) as `python3 vmmctl.py SOCK ...`:

    vmmctl.py SOCK '{"cmd":"state"}'         print the reply line
    vmmctl.py SOCK balloon TARGET TIMEOUT    set the balloon target, poll
                                             stats until the guest gave the
                                             pages, print the last stats

Exit status 0 when the monitor answered ok (and the balloon settled)."""

import json
import socket
import sys
import time


def request(path, obj):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(path)
        s.sendall(json.dumps(obj).encode() + b"\n")
        return json.loads(s.makefile().readline())


def balloon(path, target, timeout):
    r = request(path, {"cmd": "balloon", "target": target})
    if not r.get("ok"):
        print(json.dumps(r))
        return 1
    deadline = time.monotonic() + timeout
    while True:
        st = request(path, {"cmd": "stats"})
        b = st["balloon"]
        if b["target_pages"] and b["actual_pages"] == b["target_pages"]:
            # One more round trip: the guest's own statistics after the inflate.
            time.sleep(1)
            print(json.dumps(request(path, {"cmd": "stats"})))
            return 0
        if time.monotonic() > deadline:
            print(json.dumps(st))
            return 1
        time.sleep(0.5)


def main(argv):
    path = argv[1]
    if argv[2] == "balloon":
        return balloon(path, int(argv[3]), float(argv[4]))
    r = request(path, json.loads(argv[2]))
    print(json.dumps(r))
    return 0 if r.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
