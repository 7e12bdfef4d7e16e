# SPDX-License-Identifier: GPL-2.0-or-later
"""The console through any node (issue 19, docs/cluster.md "The console
through any node"): two vpsds (a, b) with --peer on one private
PostgreSQL. A container on b, its owner logged in on a's TCP API, opens
its console WebSocket on a: a relays it to b over the node-to-node TLS, and
a command typed there answers there. Attacks: another customer asks for it
through either node (the 404 of no VPS); b's node listener asked for the
upgrade with no client certificate, a self-signed one, or the caller
header alone (401); the control: a's real certificate gets the 101.

Run as root: /usr/bin/python3 -m pytest -q -p no:cacheprovider test_cluster_console.py"""

import base64
import os
import socket
import ssl
import subprocess
import time

import pytest

from framework.openapi import tcp, unix
from framework.pg import why_not
from framework.vpsd import VPSD
from test_cluster_forward import (ROOT, ct_body, database, nodes, postgres,  # noqa: F401
                                  running_on)

websocket = pytest.importorskip("websocket", reason="python3-websocket is not installed")

pytestmark = [pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built"),
              pytest.mark.skipif(why_not() is not None, reason=str(why_not()))]


def console(node, name, cookie):
    return websocket.create_connection(
        f"ws://127.0.0.1:{node.port}/api/v1/vps/{name}/console/ws", timeout=30,
        header=[f"Cookie: vps_session={cookie}"])


def read_until(ws, marker, timeout=60):
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} on the console in {timeout} s: {seen[-2000:]!r}"
        ws.settimeout(left)
        op, data = ws.recv_data()
        assert op == websocket.ABNF.OPCODE_BINARY, (op, data)
        seen += data
    return seen


def refused(node, name, cookie):
    """The status a console handshake is refused with (None: it was not)."""
    try:
        console(node, name, cookie).close()
    except websocket.WebSocketBadStatusException as e:
        return e.status_code
    return None


def peer_upgrade(port, path, headers=None, cert=None):
    """A raw WebSocket handshake on a node-to-node listener: its status
    line's code, or None when TLS itself refused."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(*cert)
    key = base64.b64encode(os.urandom(16)).decode()
    head = (f"GET /api/v1{path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n")
    for k, v in (headers or {}).items():
        head += f"{k}: {v}\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            with ctx.wrap_socket(raw) as s:
                s.sendall((head + "\r\n").encode())
                answer = s.recv(4096).decode(errors="replace")
    except (ssl.SSLError, ConnectionError, socket.timeout):
        return None
    return int(answer.split()[1]) if answer.startswith("HTTP/1.") else None


def test_console_through_the_other_node(postgres, database, nodes, tmp_path):
    node_a, node_b = nodes
    a, b = unix(node_a), unix(node_b)
    for who in ("own", "oth"):
        a.api("POST", "/users", {"name": who, "password": f"{who} password",
                                 "role": "customer"}, expect=201)
    b.api("POST", "/vps", ct_body("w1", owner="own", node="b", root_password="pw"),
          expect=201)
    a.api("POST", "/vps/w1/start")  # forwarded to b
    assert running_on(node_b, "w1") and not running_on(node_a, "w1")
    own, oth = tcp(node_a), tcp(node_a)
    own.login("own", "own password")
    oth.login("oth", "oth password")

    # the unix socket's console is a socket path on b's host: a says where, does nothing
    r = a.request("GET", "/vps/w1/console")
    assert r.status == 421 and r.json["error"]["node"] == "b", r
    # the owner, on a, types in the console of a container b runs
    ws = console(node_a, "w1", own.cookie)
    try:
        ws.send_binary(b"\n")
        read_until(ws, b"login:")
        ws.send_binary(b"root\n")
        read_until(ws, b"assword:")
        ws.send_binary(b"pw\n")
        read_until(ws, b"# ")
        ws.send_binary(b"echo through-$((6*7)) > /root/typed; cat /root/typed\n")
        read_until(ws, b"through-42")
        ws.ping(b"ping through a")  # answered by b, relayed back
        ws.settimeout(10)
        while True:
            op, data = ws.recv_data(control_frame=True)
            if op == websocket.ABNF.OPCODE_PONG:
                assert data == b"ping through a"
                break
        ws.send_binary(b"exit\n")
        read_until(ws, b"login:")
    finally:
        ws.close()
    # the command ran on b, in that container
    x = b.api("POST", "/vps/w1/exec", {"args": ["cat", "/root/typed"]})
    assert x["stdout"].strip() == "through-42", x

    # another customer: the 404 of no VPS through either node, and with a caller header
    assert refused(node_a, "w1", oth.cookie) == 404
    oth_b = tcp(node_b)
    oth_b.login("oth", "oth password")
    assert refused(node_b, "w1", oth_b.cookie) == 404
    try:
        websocket.create_connection(
            f"ws://127.0.0.1:{node_a.port}/api/v1/vps/w1/console/ws", timeout=30,
            header=[f"Cookie: vps_session={oth.cookie}", f"X-Vps-Caller: {ROOT}"]).close()
        status = None
    except websocket.WebSocketBadStatusException as e:
        status = e.status_code
    assert status == 404, status
    assert refused(node_a, "w1", "not-a-session") == 401

    # b's node listener: no client certificate, a self-signed one named a: refused
    assert peer_upgrade(node_b.peer, "/vps/w1/console/ws", {"X-Vps-Caller": ROOT}) in (None, 401)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=a", "-days", "2",
                    "-keyout", tmp_path / "self.key", "-out", tmp_path / "self.crt"],
                   check=True, capture_output=True)
    assert peer_upgrade(node_b.peer, "/vps/w1/console/ws", {"X-Vps-Caller": ROOT},
                        cert=(tmp_path / "self.crt", tmp_path / "self.key")) in (None, 401)
    # the control: a's real key and certificate open it (so the refusals are the checks)
    db = database.rsplit("dbname=", 1)[1]
    (tmp_path / "a.key").write_bytes((node_a.data / "node.key").read_bytes())
    (tmp_path / "a.crt").write_text(
        postgres.psql("SELECT cert FROM nodes WHERE name = 'a'", db) + "\n")
    assert peer_upgrade(node_b.peer, "/vps/w1/console/ws", {"X-Vps-Caller": ROOT},
                        cert=(tmp_path / "a.crt", tmp_path / "a.key")) == 101
    # a stopped VPS: b's refusal (409) answered through a as it is
    a.api("POST", "/vps/w1/stop")
    assert refused(node_a, "w1", own.cookie) == 409
    a.api("DELETE", "/vps/w1")
