# SPDX-License-Identifier: GPL-2.0-or-later
"""A program on a terminal of its own, for the console clients (`vps
console`, `vps-ctm console`: src/sys/tty.c): a pseudo-terminal whose slave
side is the program's stdin, stdout and stderr, the master side the test's
keyboard and screen.

    with Terminal([VPS_CTM, "console", cfg]) as t:
        t.read_until(b"Ctrl-] detaches")
        assert t.raw()
        t.type(b"\\x1d")
        assert t.proc.wait(timeout=30) == 0
        assert t.restored()"""

import os
import select
import subprocess
import termios
import time


class Terminal:
    def __init__(self, argv, env=None):
        self.master, self.slave = os.openpty()
        self.before = termios.tcgetattr(self.slave)
        self.seen = b""
        self.proc = subprocess.Popen([str(a) for a in argv], stdin=self.slave,
                                     stdout=self.slave, stderr=self.slave, env=env,
                                     start_new_session=True)

    def read_until(self, marker, timeout=60):
        """What the program wrote, up to and with marker (all it wrote so far)."""
        deadline = time.monotonic() + timeout
        while marker not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0 and select.select([self.master], [], [], left)[0], \
                (marker, self.seen[-2000:])
            chunk = os.read(self.master, 4096)
            assert chunk, (marker, self.seen[-2000:])
            self.seen += chunk
        return self.seen

    def type(self, data):
        os.write(self.master, data)

    def raw(self):
        """The terminal is in raw mode: no line editing, no echo, no signal keys."""
        lflag = termios.tcgetattr(self.slave)[3]
        return not lflag & (termios.ICANON | termios.ECHO | termios.ISIG)

    def restored(self):
        return termios.tcgetattr(self.slave) == self.before

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.slave)
