# SPDX-License-Identifier: GPL-2.0-or-later
"""The console over a WebSocket (src/host/ws.c, docs/console-ws.md): a real
vpsd listening on TCP, a busybox container, websocket-client as the browser
(log in on the console, run a command, a second client gets the replay),
and raw sockets for what a browser would never send: bad handshakes,
unmasked frames, garbage, oversized messages. vpsd must answer the API
after each."""

import base64
import hashlib
import http.client
import json
import os
import random
import socket
import struct
import time

import pytest

from framework.vpsd import VPSD, Vpsd, check_answer, free_port

websocket = pytest.importorskip("websocket", reason="python3-websocket is not installed")

pytestmark = pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built")

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CTRL_U = b"\x15"  # the tty's kill-line: harmless to whatever reads the console


def bearer(d):
    """The Authorization header of an administrator's token, made over the
    unix socket (where the caller is root); none where vpsd has no users."""
    status, j = d.request("POST", "/api/v1/users", {"name": "wsadmin", "role": "admin",
                                                    "password": "the ws test's secret"})
    if status == 404:  # a vpsd from before issue 8: TCP is unauthenticated
        return {}
    assert status == 201, (status, j)
    status, j = d.request("POST", "/api/v1/tokens", {"name": "ws-test", "expires_in": 3600,
                                                     "user": "wsadmin",
                                                     "sources": ["127.0.0.1/32"]})
    assert status == 201, (status, j)
    return {"Authorization": f"Bearer {j['token']}"}


@pytest.fixture(scope="module")
def vpsd():
    port = free_port()
    d = Vpsd().start(extra=("--tcp", f"127.0.0.1:{port}"))
    d.port = port
    d.auth = bearer(d)
    yield d
    # (a sanitizer's report from the daemon fails the test: framework/sanitizer.py)
    for v in d.api("GET", "/vps"):
        d.request("DELETE", f"/api/v1/vps/{v['name']}")
    d.stop()
    d.cleanup()


@pytest.fixture(scope="module")
def running(vpsd):
    """A busybox container, started, root's password `pw`."""
    vpsd.api("POST", "/vps", {"name": "wscon", "kind": "ct", "template": "busybox",
                              "ram": "128M", "disk": "64M", "root_password": "pw",
                              "start": True}, expect=201)
    assert vpsd.api("GET", "/vps/wscon")["state"] == "running"
    return "wscon"


@pytest.fixture(scope="module")
def stopped(vpsd):
    """A busybox container that is not running (tests that start it stop it again)."""
    vpsd.api("POST", "/vps", {"name": "wsoff", "kind": "ct", "template": "busybox",
                              "ram": "128M", "disk": "64M"}, expect=201)
    return "wsoff"


def url(d, name):
    return f"ws://127.0.0.1:{d.port}/api/v1/vps/{name}/console/ws"


def connect(d, name, **kw):
    return websocket.create_connection(url(d, name), timeout=30,
                                       header=[f"{k}: {v}" for k, v in d.auth.items()], **kw)


def read_until(ws, marker, timeout=60, also=None):
    """Console bytes from binary frames until marker (or also) shows; all of them."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen and (also is None or also not in seen):
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} on the console in {timeout} s: {seen[-2000:]!r}"
        ws.settimeout(left)
        op, data = ws.recv_data()
        assert op == websocket.ABNF.OPCODE_BINARY, (op, data)
        seen += data
    return seen


def api_alive(d):
    assert d.request("GET", "/api/v1/vps")[0] == 200


def test_login_and_run_a_command(vpsd, running):
    ws = connect(vpsd, running)
    try:
        ws.send_binary(b"\n")  # a fresh login prompt, whatever the replay held
        read_until(ws, b"login:")
        ws.send("root\n")  # a text frame: console bytes all the same
        read_until(ws, b"assword:")
        ws.send_binary(b"pw\n")
        read_until(ws, b"# ")
        ws.send_binary(b"echo hello-$((6*7))\n")
        read_until(ws, b"hello-42")
        # a ping is answered with its payload
        ws.ping(b"are you there")
        ws.settimeout(10)
        while True:
            op, data = ws.recv_data(control_frame=True)
            if op == websocket.ABNF.OPCODE_PONG:
                assert data == b"are you there"
                break
        # a message in fragments, each a frame of its own
        ws.send_frame(websocket.ABNF.create_frame(b"echo frag", websocket.ABNF.OPCODE_BINARY,
                                                  fin=0))
        ws.send_frame(websocket.ABNF.create_frame(b"ment-$((2+3))", websocket.ABNF.OPCODE_CONT,
                                                  fin=0))
        ws.send_frame(websocket.ABNF.create_frame(b"\n", websocket.ABNF.OPCODE_CONT, fin=1))
        read_until(ws, b"fragment-5")
        ws.send_binary(b"exit\n")  # back to a login prompt for the tests after this one
        read_until(ws, b"login:")
    finally:
        ws.close()
    # the second client gets what the console printed lately first
    ws = connect(vpsd, running)
    try:
        seen = read_until(ws, b"hello-42", timeout=10)
        assert b"fragment-5" in seen or b"hello-42" in seen
    finally:
        ws.close()
    api_alive(vpsd)


def test_close_is_answered(vpsd, running):
    ws = connect(vpsd, running)
    ws.send_close(1000, b"bye")
    ws.settimeout(10)
    while True:
        op, data = ws.recv_data(control_frame=True)
        if op == websocket.ABNF.OPCODE_CLOSE:
            assert struct.unpack("!H", data[:2])[0] == 1000
            break
    ws.shutdown()
    api_alive(vpsd)


def handshake(d, path, **headers):
    """A GET with the given headers (None drops one) over plain HTTP; (status, body)."""
    h = {"Host": f"127.0.0.1:{d.port}", "Upgrade": "websocket", "Connection": "Upgrade",
         "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
         "Sec-WebSocket-Version": "13", **d.auth}
    for k, v in headers.items():
        k = k.replace("_", "-")
        if v is None:
            h.pop(k, None)
        else:
            h[k] = v
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    c.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
    for k, v in h.items():
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    body = r.read() if r.status != 101 else b""
    c.close()
    try:
        j = json.loads(body) if body else None
    except ValueError:
        j = body.decode(errors="replace")
    check_answer("GET", path, r.status, r.headers, j)
    return r.status, body


@pytest.mark.parametrize("headers, status, word", [
    ({"Sec-WebSocket-Key": None}, 400, b"Sec-WebSocket-Key"),
    ({"Sec-WebSocket-Key": "c2hvcnQ="}, 400, b"Sec-WebSocket-Key"),
    ({"Sec-WebSocket-Version": "8"}, 400, b"Sec-WebSocket-Version"),
    ({"Sec-WebSocket-Version": None}, 400, b"Sec-WebSocket-Version"),
    ({"Upgrade": None}, 400, b"Upgrade"),
    ({"Upgrade": "h2c"}, 400, b"Upgrade"),
    ({"Connection": "keep-alive"}, 400, b"Connection"),
    ({"Origin": "http://evil.example"}, 403, b"Origin"),
    ({"Origin": "null"}, 403, b"Origin"),
])
def test_bad_handshakes(vpsd, running, headers, status, word):
    got, body = handshake(vpsd, f"/api/v1/vps/{running}/console/ws", **headers)
    assert got == status, (got, body)
    assert b'"code":"bad_request"' in body or b'"code":"forbidden"' in body, body
    assert word in body, body
    api_alive(vpsd)


def test_same_origin_is_fine(vpsd, running):
    ws = connect(vpsd, running, origin=f"http://127.0.0.1:{vpsd.port}")
    ws.close()


def test_no_credentials(vpsd, running):
    """The upgrade is an API request like the others: no token, no console."""
    if not vpsd.auth:
        pytest.skip("this vpsd has no authentication (before issue 8)")
    saved, vpsd.auth = vpsd.auth, {}
    try:
        status, body = handshake(vpsd, f"/api/v1/vps/{running}/console/ws")
    finally:
        vpsd.auth = saved
    assert status == 401, (status, body)


def test_no_such_vps(vpsd):
    assert handshake(vpsd, "/api/v1/vps/nosuch/console/ws")[0] == 404


def test_stopped_vps_is_a_conflict(vpsd, stopped):
    status, body = handshake(vpsd, f"/api/v1/vps/{stopped}/console/ws")
    assert status == 409, (status, body)


# --- raw sockets: what no browser sends --------------------------------------------------

def raw_connect(d, name):
    s = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    key = base64.b64encode(os.urandom(16))
    auth = "".join(f"{k}: {v}\r\n" for k, v in d.auth.items())
    s.sendall(f"GET /api/v1/vps/{name}/console/ws HTTP/1.1\r\nHost: 127.0.0.1:{d.port}\r\n"
              f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
              f"Sec-WebSocket-Key: {key.decode()}\r\n{auth}\r\n".encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):  # a byte at a time: frames follow at once
        b = s.recv(1)
        assert b, head
        head += b
    assert head.startswith(b"HTTP/1.1 101"), head
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    assert b"Sec-WebSocket-Accept: " + accept in head, head
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        b = s.recv(n - len(buf))
        if not b:
            raise EOFError(buf)
        buf += b
    return buf


def server_frame(s):
    b0, b1 = recv_exact(s, 2)
    assert not b1 & 0x80, "a server frame must not be masked"
    n = b1 & 0x7f
    if n == 126:
        n = struct.unpack("!H", recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(s, 8))[0]
    return b0 & 0x0f, recv_exact(s, n)


def close_code(s, answer=True):
    """Skip console frames until the close frame; its status code. Then the end."""
    while True:
        op, data = server_frame(s)
        if op == 8:
            break
        assert op == 2, (op, data)
    code = struct.unpack("!H", data[:2])[0]
    if not answer:
        return code
    s.sendall(masked(8, data[:2]))  # the close handshake: answer with the same code
    s.settimeout(10)
    while s.recv(4096):  # then vpsd hangs up
        pass
    s.close()
    return code


def masked(op, payload, fin=True):
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | op])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@pytest.mark.parametrize("what, frame, code", [
    ("unmasked", bytes([0x82, 0x03]) + b"abc", 1002),
    ("rsv1", bytes([0xc2, 0x80]) + b"\0\0\0\0", 1002),
    ("reserved-opcode", bytes([0x83, 0x80]) + b"\0\0\0\0", 1002),
    ("fragmented-ping", masked(9, b"x", fin=False), 1002),
    ("long-ping", masked(9, b"x" * 126), 1002),
    ("orphan-continuation", masked(0, b"orphan"), 1002),
    # Ctrl-U: what reaches the console kills the line
    ("message-in-message", masked(2, CTRL_U, fin=False) + masked(2, CTRL_U), 1002),
    ("2MiB-frame", bytes([0x82, 0xff]) + struct.pack("!Q", 2 << 20) + b"\0\0\0\0", 1009),
    ("1MiB+1-in-parts", masked(2, CTRL_U, fin=False) + masked(0, b"x" * (1 << 20)), 1009),
    ("http-garbage", b"GET / HTTP/1.1\r\n\r\n" * 4, 1002),
], ids=lambda x: x if isinstance(x, str) else "")
def test_bad_frames_get_a_close(vpsd, running, what, frame, code):
    s = raw_connect(vpsd, running)
    s.sendall(frame)
    assert close_code(s) == code
    api_alive(vpsd)


def test_random_garbage_never_hurts(vpsd, running):
    rnd = random.Random(8)  # the same bytes each run: some may reach the console
    for i in range(20):
        s = raw_connect(vpsd, running)
        try:
            s.sendall(rnd.randbytes(64 + i * 97))
            close_code(s, answer=False)  # whatever it was, vpsd closes (or waits for more)
        except (ConnectionResetError, BrokenPipeError, EOFError, socket.timeout):
            pass
        s.close()
    api_alive(vpsd)


def test_hang_up_mid_frame(vpsd, running):
    """A client gone halfway through a frame: the bridge ends, the next one works."""
    for _ in range(5):
        s = raw_connect(vpsd, running)
        s.sendall(masked(2, b"x" * 1000)[:500])
        s.close()
    ws = connect(vpsd, running)
    ws.send_binary(CTRL_U + b"\n")
    read_until(ws, b"login:", also=b"# ")
    ws.close()
    api_alive(vpsd)


def test_vps_stops_under_the_console(vpsd, stopped):
    """The console ends (the monitor is gone): vpsd says so with a close frame."""
    vpsd.api("POST", f"/vps/{stopped}/start")
    ws = connect(vpsd, stopped)
    vpsd.api("POST", f"/vps/{stopped}/stop", {"force": True})
    ws.settimeout(30)
    while True:
        op, data = ws.recv_data(control_frame=True)
        if op == websocket.ABNF.OPCODE_CLOSE:
            assert struct.unpack("!H", data[:2])[0] == 1001, data
            assert b"console closed" in data
            break
        assert op == websocket.ABNF.OPCODE_BINARY, (op, data)
    ws.shutdown()
    api_alive(vpsd)


def test_daemon_stops_with_a_console_open():
    """SIGTERM with sessions open: vpsd ends them and exits cleanly."""
    port = free_port()
    d = Vpsd().start(extra=("--tcp", f"127.0.0.1:{port}"))
    try:
        d.port = port
        d.auth = bearer(d)
        d.api("POST", "/vps", {"name": "wsterm", "kind": "ct", "template": "busybox",
                               "ram": "128M", "disk": "64M", "start": True}, expect=201)
        clients = [connect(d, "wsterm") for _ in range(3)]
        for ws in clients:
            ws.send_binary(b"\n")
            read_until(ws, b"login:")
        for ws in clients:  # input still in flight as vpsd stops: no reset may lose the close
            ws.ping(b"late")
            ws.send_binary(b"echo late\n" * 64)
        proc = d.proc
        d.stop()
        assert proc.returncode == 0, d.log.read_text(errors="replace")[-4000:]
        for ws in clients:  # each was told
            ws.settimeout(10)
            while True:
                op, data = ws.recv_data(control_frame=True)
                if op == websocket.ABNF.OPCODE_CLOSE:
                    assert data[:2] == struct.pack("!H", 1001) and b"stopping" in data, data
                    break
            ws.shutdown()
    finally:
        d.cleanup()
