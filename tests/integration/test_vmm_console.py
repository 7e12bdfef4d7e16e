# SPDX-License-Identifier: GPL-2.0-or-later
"""vps-vmm's console backends, with the echo micro-guest on /dev/kvm.

socket: a client attaching late sees the output so far (replayed) and can
type; pty: the control socket names the pty and it carries both ways.
"""
import json
import os
import socket
import subprocess
import time
from pathlib import Path

from framework.vmm import JAIL, MICRO, VMM, needs_kvm


pytestmark = needs_kvm


def wait_path(p: Path, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while not p.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, f"{p} never appeared"
        time.sleep(0.01)


def read_until(read, needle: bytes, timeout=20) -> bytes:
    buf = b""
    deadline = time.monotonic() + timeout
    while needle not in buf:
        assert time.monotonic() < deadline, f"no {needle!r} in {buf!r}"
        chunk = read()
        if chunk:
            buf += chunk
    return buf


def test_socket_console_replays_and_takes_input(tmp_path):
    sock = tmp_path / "console.sock"
    # unjailed: a monitor that can reach its socket's path removes it at exit
    p = subprocess.Popen([str(VMM), "--micro", str(MICRO / "echo16.bin"), "--exit-port",
                          "--serial", f"socket:{sock}"], stderr=subprocess.PIPE)
    try:
        wait_path(sock, p)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(20)
        c.connect(str(sock))
        # "READY" was printed before anyone attached: the replay must carry it.
        assert read_until(lambda: c.recv(100), b"READY\n").startswith(b"READY\n")
        c.sendall(b"hello")
        assert read_until(lambda: c.recv(100), b"HELLO") == b"HELLO"
        # Far more than the 16-byte FIFO at once: nothing may be lost.
        # (No 'q' in it: that ends the guest.)
        text = b"abcdefghijklmnoprstuvwxyz" * 40
        c.sendall(text)
        got = b""
        while len(got) < len(text):
            chunk = c.recv(4096)  # the socket's 20 s timeout bounds this
            assert chunk, f"console closed after {len(got)} bytes"
            got += chunk
        assert got == text.upper()
        c.sendall(b"q")
        assert p.wait(timeout=20) == 0
        c.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert not sock.exists()


def test_socket_console_serves_several_clients(tmp_path):
    """As vps-ctm's console: a second client (the panel's console card beside `vps
    console`) gets the replay and the output too, either one types, and one
    leaving leaves the other attached."""
    sock = tmp_path / "console.sock"
    p = subprocess.Popen([str(VMM), "--micro", str(MICRO / "echo16.bin"), "--exit-port",
                          "--serial", f"socket:{sock}"], stderr=subprocess.PIPE)
    try:
        wait_path(sock, p)
        a, b = (socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(2))
        for c in (a, b):
            c.settimeout(20)
            c.connect(str(sock))
            assert read_until(lambda: c.recv(100), b"READY\n").startswith(b"READY\n")
        b.sendall(b"from b")
        for c in (a, b):
            assert read_until(lambda: c.recv(100), b"FROM B").endswith(b"FROM B")
        a.sendall(b"from a")
        for c in (a, b):
            assert read_until(lambda: c.recv(100), b"FROM A").endswith(b"FROM A")
        a.close()
        b.sendall(b"still b")
        assert read_until(lambda: b.recv(100), b"STILL B").endswith(b"STILL B")
        b.sendall(b"q")
        assert p.wait(timeout=20) == 0
        b.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_pty_console_is_named_in_state(tmp_path):
    ctl_path = tmp_path / "ctl.sock"
    p = subprocess.Popen([str(VMM), "--micro", str(MICRO / "echo16.bin"), "--exit-port", *JAIL,
                          "--serial", "pty", "--control", str(ctl_path)], stderr=subprocess.PIPE)
    try:
        wait_path(ctl_path, p)
        ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ctl.settimeout(20)
        ctl.connect(str(ctl_path))
        ctl.sendall(b'{"cmd":"state"}\n')
        state = json.loads(ctl.makefile().readline())
        pty = state["console"]
        assert pty.startswith("/dev/pts/")
        fd = os.open(pty, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, b"pty")
            assert read_until(lambda: os.read(fd, 100), b"PTY").endswith(b"PTY")
            os.write(fd, b"q")
            assert p.wait(timeout=20) == 0
        finally:
            os.close(fd)
        ctl.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_client_leaving_mid_output_costs_the_vm_nothing(tmp_path):
    """A console client that hangs up while the guest is writing to it must
    not take the VM down (SIGPIPE: the keeper starts monitors with its
    default action, and before the fix this killed vps-vmm)."""
    sock = tmp_path / "console.sock"
    p = subprocess.Popen([str(VMM), "--micro", str(MICRO / "echo16.bin"), "--exit-port", *JAIL,
                          "--serial", f"socket:{sock}"], stderr=subprocess.PIPE)
    try:
        wait_path(sock, p)
        for _ in range(5):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(str(sock))
            c.sendall(b"abcdefghijklmnoprstuvwxyz" * 400)  # echoed back, upper case
            c.close()  # gone before the echo is written
            time.sleep(0.3)
            assert p.poll() is None, (p.returncode, p.stderr.read())
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(20)
        c.connect(str(sock))
        c.sendall(b"hello")
        assert b"HELLO" in read_until(lambda: c.recv(4096), b"HELLO")
        c.sendall(b"q")
        assert p.wait(timeout=20) == 0
        c.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
