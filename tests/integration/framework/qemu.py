# SPDX-License-Identifier: GPL-2.0-or-later
"""A QEMU process whose serial console is its stdout: a reader thread keeps
everything it printed (in memory and in a log file) and tests wait for a line
to appear, never for a fixed time. The process dies with the test runner
(PR_SET_PDEATHSIG) and stop() ends it for sure."""

import ctypes
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _die_with_parent():
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class ConsoleTimeout(AssertionError):
    pass


class Qemu:
    def __init__(self, argv, log_path):
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_path)
        self.text = ""
        self._cond = threading.Condition()
        self._eof = False
        self.started = None
        self.proc = None

    def start(self):
        self._log = open(self.log_path, "w", encoding="utf-8")
        self._log.write("# " + " ".join(self.argv) + "\n")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def _read(self):
        for raw in iter(lambda: self.proc.stdout.read1(65536), b""):
            chunk = raw.decode("utf-8", "replace").replace("\r", "")
            self._log.write(chunk)
            self._log.flush()
            with self._cond:
                self.text += chunk
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def tail(self, lines=40):
        return "\n".join(self.text.splitlines()[-lines:])

    def wait_for(self, pattern, timeout):
        """The first match of regex PATTERN in the console, waiting up to
        TIMEOUT seconds; fails early if QEMU exits without printing it."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = rx.search(self.text)
                if m:
                    return m
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    why = "exited" if self._eof else f"no match in {timeout} s"
                    raise ConsoleTimeout(
                        f"waiting for /{pattern}/: QEMU {why}; log "
                        f"{self.log_path}; last lines:\n{self.tail()}")
                self._cond.wait(left)

    def wait_exit(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        finally:
            self._thread.join(5)
        return rc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._thread.join(5)
        self._log.close()
