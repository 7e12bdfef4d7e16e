# SPDX-License-Identifier: GPL-2.0-or-later
"""The runner's end of the command channel into a guest (the guest's end is
tests/guest/agent.c; the frame layout is tests/guest/agent.h, whose numbers
are mirrored here). One command at a time: RUN, then OUT/ERR frames, then
EXIT. Every wait has a deadline; a channel that missed one is broken and
refuses further use, since the frame boundary can no longer be trusted."""

import socket
import struct
import threading
import time
from dataclasses import dataclass

MAGIC = 0x41535056  # "VPSA"
HDR = struct.Struct("<IB3xII")  # struct vps_agent_hdr
EXIT = struct.Struct("<iI")  # struct vps_agent_exit
RUN, PING = ord("R"), ord("P")
READY, PONG, OUT, ERR, EXITED, FAIL = (ord(c) for c in "YpOEXF")
MAX_PAYLOAD = 1 << 20
GRACE = 30  # seconds past the agent's own timeout before we give up on it


class ChannelError(RuntimeError):
    pass


@dataclass
class Result:
    cmd: str
    status: int  # exit code, or 128 + signal
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float

    @property
    def ok(self):
        return self.status == 0 and not self.timed_out

    def __str__(self):
        return (f"`{self.cmd}`: status {self.status}"
                f"{' (timed out)' if self.timed_out else ''} "
                f"in {self.seconds:.1f} s\n--- stdout\n{self.stdout}"
                f"\n--- stderr\n{self.stderr}")


class Channel:
    def __init__(self, sock):
        self.sock = sock
        self._buf = b""
        self._id = 0
        self._lock = threading.Lock()
        self.broken = None
        self.version = None

    def _recv_exact(self, n, deadline):
        while len(self._buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(max(65536, n - len(self._buf)))
            except socket.timeout:
                raise TimeoutError from None
            if not data:
                raise ChannelError("the guest closed the channel")
            self._buf += data
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def _frame(self, deadline):
        magic, typ, fid, length = HDR.unpack(
            self._recv_exact(HDR.size, deadline))
        if magic != MAGIC or length > MAX_PAYLOAD:
            raise ChannelError(f"bad frame header (magic {magic:#x}, "
                               f"length {length})")
        return typ, fid, self._recv_exact(length, deadline)

    def _send(self, typ, fid, payload=b""):
        self.sock.settimeout(GRACE)
        self.sock.sendall(HDR.pack(MAGIC, typ, fid, len(payload)) + payload)

    def _guard(self, what, fn):
        if self.broken:
            raise ChannelError(f"channel unusable: {self.broken}")
        try:
            return fn()
        except (TimeoutError, ChannelError, OSError) as e:
            self.broken = f"{what}: {e!r}"
            raise ChannelError(self.broken) from e

    def wait_ready(self, timeout):
        def ready():
            typ, _, payload = self._frame(time.monotonic() + timeout)
            if typ != READY:
                raise ChannelError(f"first frame is {chr(typ)!r}, not READY")
            self.version = payload.decode()
        with self._lock:
            self._guard("waiting for the agent", ready)

    def ping(self, timeout=GRACE):
        with self._lock:
            self._id += 1
            fid = self._id

            def ping():
                self._send(PING, fid)
                typ, rid, _ = self._frame(time.monotonic() + timeout)
                if typ != PONG or rid != fid:
                    raise ChannelError(f"ping {fid}: got {chr(typ)!r} {rid}")
            self._guard("ping", ping)

    def run(self, cmd, timeout=120):
        """Run CMD with /bin/sh -c in the guest; the guest kills it after
        TIMEOUT seconds (Result.timed_out)."""
        with self._lock:
            self._id += 1
            fid = self._id
            start = time.monotonic()

            def run():
                self._send(RUN, fid, struct.pack("<I", int(timeout * 1000)) +
                           cmd.encode())
                out, err = [], []
                deadline = start + timeout + GRACE
                while True:
                    typ, rid, payload = self._frame(deadline)
                    if rid != fid:
                        raise ChannelError(f"frame for {rid} while running "
                                           f"{fid}")
                    if typ == OUT:
                        out.append(payload)
                    elif typ == ERR:
                        err.append(payload)
                    elif typ == EXITED:
                        status, timed_out = EXIT.unpack(payload)
                        return Result(cmd, status,
                                      b"".join(out).decode("utf-8", "replace"),
                                      b"".join(err).decode("utf-8", "replace"),
                                      bool(timed_out),
                                      time.monotonic() - start)
                    elif typ == FAIL:
                        raise ChannelError(f"agent refused: {payload!r}")
                    else:
                        raise ChannelError(f"unexpected frame {chr(typ)!r}")
            return self._guard(f"run `{cmd}`", run)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
