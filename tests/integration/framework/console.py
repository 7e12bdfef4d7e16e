# SPDX-License-Identifier: GPL-2.0-or-later
"""Talk to a VM's serial console on its unix socket (the path that
`GET /api/v1/vps/NAME/console` names): wait for a marker, type a line,
expect/send dialogues such as a login. Used from the tests on the host, and
inside L1 as a script (the host's Python is there through the shared root):

    python3 console.py SOCK TIMEOUT EXPECT [SEND EXPECT]...

prints what the console said and exits 0 when every EXPECT was seen in
turn, 1 otherwise. SEND is typed followed by a carriage return.

QEMU's serial socket keeps no backlog (vps-vmm's replays its last 64 KiB),
so a wait for `login: ` nudges getty with a carriage return whenever the
console has been quiet for a while: a prompt printed before we connected
is printed again."""

import socket
import sys
import time


class Console:
    def __init__(self, path, connect_timeout=30):
        t0 = time.monotonic()
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(str(path))
                break
            except OSError:
                self.sock.close()
                if time.monotonic() - t0 > connect_timeout:
                    raise
                time.sleep(0.05)
        self.text = b""  # everything read, for error messages
        self.mark = 0  # where the next expect() starts looking

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r")

    def expect(self, marker, timeout, nudge=None):
        """Read until MARKER (after what earlier expects consumed); returns
        the seconds it took. NUDGE: seconds of silence after which a
        carriage return is typed (for a login prompt that may have gone)."""
        want = marker.encode()
        t0 = time.monotonic()
        quiet = t0
        while want not in self.text[self.mark:]:
            now = time.monotonic()
            left = timeout - (now - t0)
            if left <= 0:
                raise TimeoutError(f"no {marker!r} within {timeout} s; console tail:\n"
                                   f"{self.tail()}")
            if nudge and now - quiet > nudge:
                self.sock.sendall(b"\r")
                quiet = now
            self.sock.settimeout(min(left, nudge or left, 1.0))
            try:
                d = self.sock.recv(4096)
            except socket.timeout:
                continue
            if not d:
                raise EOFError(f"console closed before {marker!r}; tail:\n{self.tail()}")
            self.text += d
            quiet = time.monotonic()
        self.mark = self.text.index(want, self.mark) + len(want)
        return time.monotonic() - t0

    def tail(self, n=2000):
        return self.text[-n:].decode(errors="replace")

    def login(self, password, timeout, prompt_timeout=None):
        """Log in as root (the prompt may have been printed already).
        Returns the seconds until the login prompt."""
        seconds = self.expect("login: ", prompt_timeout or timeout, nudge=15)
        self.send("root")
        self.expect("Password: ", 60)
        self.send(password)
        self.expect("# ", timeout)
        return seconds

    def run(self, cmd, marker, timeout=60):
        """Type CMD at the shell and wait for MARKER in what follows."""
        self.send(cmd)
        return self.expect(marker, timeout)


def main(argv):
    path, timeout, steps = argv[1], float(argv[2]), argv[3:]
    try:
        with Console(path) as c:
            for i, s in enumerate(steps):
                if i % 2:
                    c.send(s)
                else:
                    c.expect(s, timeout, nudge=15 if s.endswith("login: ") else None)
            sys.stdout.write(c.text.decode(errors="replace"))
    except (OSError, TimeoutError, EOFError) as e:
        print(f"console.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
