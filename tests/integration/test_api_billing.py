# SPDX-License-Identifier: GPL-2.0-or-later
"""What a billing system drives (docs/auth.md): VPSes made for a customer
from a plan, suspend and unsuspend, a plan change, a root password reset,
terminate; long requests as operations polled by id; and the API over
HTTPS with a certificate. Everything through a real vpsd."""

import http.client
import json
import socket
import ssl
import subprocess
import time
import warnings

import pytest
import websocket

from framework.vpsd import Vpsd, check_answer, free_port

with warnings.catch_warnings():  # libcrypt's crypt(3), to check a SHA-512 hash
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt


@pytest.fixture
def vpsd():
    d = Vpsd()
    d.port = free_port()
    d.start(extra=("--tcp", f"127.0.0.1:{d.port}"))
    d.api("POST", "/plans", {"name": "small", "ram": "128M", "disk": "64M", "cpus": 1},
          expect=201)
    # the same disk: an online ext4 grow needs CAP_SYS_RESOURCE, which this host's root lacks
    d.api("POST", "/plans", {"name": "big", "ram": "256M", "disk": "64M", "cpus": 2},
          expect=201)
    d.api("POST", "/plans", {"name": "mini", "ram": "128M", "disk": "48M", "cpus": 1},
          expect=201)
    d.api("POST", "/users", {"name": "carol", "password": "carolpass", "role": "customer"},
          expect=201)
    yield d
    d.cleanup()


class Tcp:
    """A client over TCP with a bearer token (no cookie, no CSRF); every
    answer checked against docs/openapi.json."""

    def __init__(self, port, token, tls=None):
        self.port, self.token, self.tls = port, token, tls

    def request(self, method, path, body=None):
        if self.tls:
            c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls,
                                            timeout=120)
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        hdr = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body)
            hdr["Content-Type"] = "application/json"
        c.request(method, "/api/v1" + path, body=data, headers=hdr)
        r = c.getresponse()
        text = r.read().decode()
        headers = r.headers
        c.close()
        j = json.loads(text) if text else None
        check_answer(method, "/api/v1" + path, r.status, headers, j)
        return r.status, j, headers

    def api(self, method, path, body=None, expect=200):
        status, j, _ = self.request(method, path, body)
        assert status == expect, (method, path, status, j)
        return j


def token_for(d, user):
    return d.api("POST", "/tokens", {"name": "t", "expires_in": 3600, "user": user},
                 expect=201)["token"]


def poll(client, op_id, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        op = client.api("GET", f"/operations/{op_id}")
        if op["state"] != "running":
            return op
        time.sleep(0.2)
    raise AssertionError(f"operation {op_id} still running")


def test_customer_vps_from_a_plan_suspend_plan_change_terminate(vpsd):
    carol = Tcp(vpsd.port, token_for(vpsd, "carol"))
    # a customer's VPS comes from a plan: no figures, no owner of their choosing
    status, j, _ = carol.request("POST", "/vps", {"name": "c1", "kind": "ct",
                                                  "template": "busybox"})
    assert status == 400 and "`plan`" in j["error"]["message"], j
    status, j, _ = carol.request("POST", "/vps", {"name": "c1", "kind": "ct", "plan": "small",
                                                  "template": "busybox", "ram": "8G"})
    assert status == 403 and "`ram`" in j["error"]["message"], j
    status, j, _ = carol.request("POST", "/vps", {"name": "c1", "kind": "ct", "plan": "small",
                                                  "template": "busybox", "owner": "root"})
    assert status == 403 and "`owner`" in j["error"]["message"], j
    assert vpsd.api("GET", "/vps") == []

    # the provider makes one for carol (what a billing module does on an order)
    v = vpsd.api("POST", "/vps", {"name": "c1", "kind": "ct", "plan": "small",
                                  "template": "busybox", "owner": "carol"}, expect=201)
    assert v["owner"] == "carol" and v["ram"] == 128 << 20 and v["suspended"] is False
    status, j = vpsd.request("POST", "/api/v1/vps", {"name": "c9", "kind": "ct",
                                                        "plan": "small", "template": "busybox",
                                                        "owner": "nobody"})
    assert status == 400 and "`owner`" in j["error"]["message"], j
    assert [x["name"] for x in carol.api("GET", "/vps")] == ["c1"]
    assert carol.api("POST", "/vps/c1/start")["state"] == "running"

    # suspend: stopped, and its owner cannot start it; the customer cannot unsuspend
    carol.api("POST", "/vps/c1/suspend", expect=403)
    v = vpsd.api("POST", "/vps/c1/suspend")
    assert v["state"] == "stopped" and v["suspended"] is True
    status, j, _ = carol.request("POST", "/vps/c1/start")
    assert status == 409 and j["error"]["code"] == "suspended", j
    carol.api("POST", "/vps/c1/unsuspend", expect=403)
    assert vpsd.api("POST", "/vps/c1/unsuspend")["suspended"] is False
    assert carol.api("POST", "/vps/c1/start")["state"] == "running"

    # a plan change: the plan's figures, applied live, the plan recorded
    carol.api("POST", "/vps/c1/plan", {"plan": "big"}, expect=403)
    status, j = vpsd.request("POST", "/api/v1/vps/c1/plan", {"plan": "nope"})
    assert status == 400 and "`plan`" in j["error"]["message"], j
    status, j = vpsd.request("POST", "/api/v1/vps/c1/plan", {"plan": "big", "x": 1})
    assert status == 400 and "`x`" in j["error"]["message"], j
    v = vpsd.api("POST", "/vps/c1/plan", {"plan": "big"})
    assert v["ram"] == 256 << 20 and v["disk"] == 64 << 20 and v["cpus"] == 2
    r = vpsd.api("POST", "/vps/c1/exec", {"args": ["head", "-1", "/proc/meminfo"]})
    assert "262144 kB" in r["stdout"], r
    # a plan smaller on disk than the VPS is refused (disks do not shrink)
    status, j = vpsd.request("POST", "/api/v1/vps/c1/plan", {"plan": "mini"})
    assert status == 400 and "`disk`" in j["error"]["message"], j
    kinds = [e["kind"] for e in carol.api("GET", "/events?vps=c1")]
    assert "suspended" in kinds and "unsuspended" in kinds and "plan" in kinds, kinds

    # a user who owns a VPS cannot go; terminate, then they can
    status, j = vpsd.request("DELETE", "/api/v1/users/carol")
    assert status == 409, j
    carol.api("DELETE", "/vps/c1")
    assert carol.api("GET", "/vps") == []
    vpsd.api("DELETE", "/users/carol")
    # carol's token went with her
    status, j, _ = carol.request("GET", "/vps")
    assert status == 401, j


def test_root_password_reset(vpsd):
    carol = Tcp(vpsd.port, token_for(vpsd, "carol"))
    vpsd.api("POST", "/vps", {"name": "pw1", "kind": "ct", "plan": "small",
                              "template": "busybox", "owner": "carol", "root_password": "old"},
             expect=201)
    # a container's password is reset while it runs
    status, j, _ = carol.request("POST", "/vps/pw1/password", {"password": "n3w-secret"})
    assert status == 409, j
    carol.api("POST", "/vps/pw1/start")
    for bad, field in (({"password": ""}, "password"), ({"password": "a\nb"}, "password"),
                       ({"password": 5}, "password"), ({"password": "x", "y": 1}, "y")):
        status, j, _ = carol.request("POST", "/vps/pw1/password", bad)
        assert status == 400 and f"`{field}`" in j["error"]["message"], (bad, j)
    carol.api("POST", "/vps/pw1/password", {"password": "n3w-secret"})
    shadow = vpsd.api("POST", "/vps/pw1/exec", {"args": ["cat", "/etc/shadow"]})["stdout"]
    root = next(line for line in shadow.splitlines() if line.startswith("root:"))
    h = root.split(":")[1]
    assert h.startswith("$6$") and crypt.crypt("n3w-secret", h) == h, root
    assert crypt.crypt("old", h) != h
    # what vpsd starts (the keeper, then the monitor) inherits neither its blocked SIGTERM/SIGINT nor
    # its ignored SIGPIPE
    pid = int((vpsd.run / "vps" / "pw1" / "keeper.pid").read_text())
    st = open(f"/proc/{pid}/status").read()
    sig = dict(line.split(":\t", 1) for line in st.splitlines() if line.startswith("Sig"))
    assert not int(sig["SigBlk"], 16) & ((1 << 1) | (1 << 14)), sig


def test_operations(vpsd):
    carol = Tcp(vpsd.port, token_for(vpsd, "carol"))
    status, j, hdr = carol.request("POST", "/vps?async=1", {"name": "op1", "kind": "ct",
                                                            "plan": "small",
                                                            "template": "busybox"})
    assert status == 202, j
    op = j["operation"]
    assert hdr["Location"] == f"/api/v1/operations/{op['id']}"
    assert op["action"] == "create" and op["vps"] == "op1" and op["user"] == "carol"
    op = poll(carol, op["id"])
    assert op["state"] == "done" and op["status"] == 201, op
    assert op["result"]["name"] == "op1" and op["result"]["owner"] == "carol"

    status, j, _ = carol.request("POST", "/vps/op1/start?async=1")
    assert status == 202, j
    op = poll(carol, j["operation"]["id"])
    assert op["state"] == "done" and op["result"]["state"] == "running", op
    # a failure is an operation that failed, with the error the request would have had
    status, j, _ = carol.request("POST", "/vps/op1/start?async=1")
    op = poll(carol, j["operation"]["id"])
    assert op["state"] == "failed" and op["status"] == 409, op
    assert op["error"]["code"] == "conflict" and "running" in op["error"]["message"], op

    # another customer does not see carol's operations; the provider does
    vpsd.api("POST", "/users", {"name": "dave", "password": "davepass1", "role": "customer"},
             expect=201)
    dave = Tcp(vpsd.port, token_for(vpsd, "dave"))
    dave.api("GET", f"/operations/{op['id']}", expect=404)
    assert vpsd.api("GET", f"/operations/{op['id']}")["id"] == op["id"]
    carol.api("GET", "/operations/0123456789abcdef0123456789abcdef", expect=404)

    status, j, _ = carol.request("DELETE", "/vps/op1?async=1")
    op = poll(carol, j["operation"]["id"])
    assert op["state"] == "done", op
    carol.api("GET", "/vps/op1", expect=404)

    # operations a vpsd restart cut short are failed, not left running
    vpsd.api("POST", "/vps", {"name": "op2", "kind": "ct", "plan": "small",
                              "template": "busybox"}, expect=201)
    status, j, _ = carol.request("GET", "/vps")
    vpsd.stop()
    db = __import__("sqlite3").connect(vpsd.data / "vps.db")
    db.execute("INSERT INTO operations (id, vps, user, action, state, created) VALUES "
               "('feedfeedfeedfeedfeedfeedfeedfeed', 'op2', 'root', 'start', 'running', 1)")
    db.commit()
    db.close()
    vpsd.start(extra=("--tcp", f"127.0.0.1:{vpsd.port}"))
    op = vpsd.api("GET", "/operations/feedfeedfeedfeedfeedfeedfeedfeed")
    assert op["state"] == "failed" and "vpsd stopped" in op["error"]["message"], op


def test_https(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    d = Vpsd()
    port = free_port()
    try:
        # half a pair is refused with the flags named
        p = subprocess.run([str(__import__("framework.vpsd", fromlist=["VPSD"]).VPSD),
                            "--data", str(d.data), "--run", str(d.run), "--tcp",
                            f"127.0.0.1:{port}", "--cert", str(cert)],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode != 0 and "--cert and --key" in p.stderr, p.stderr
        d.start(extra=("--tcp", f"127.0.0.1:{port}", "--cert", str(cert), "--key", str(key)))
        d.api("POST", "/users", {"name": "erin", "password": "erinpass1", "role": "admin"},
              expect=201)
        ctx = ssl.create_default_context(cafile=str(cert))
        ctx.check_hostname = False
        c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
        c.request("POST", "/api/v1/login", body=json.dumps({"user": "erin",
                                                            "password": "erinpass1"}),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        body = json.loads(r.read())
        cookie = r.getheader("Set-Cookie")
        assert r.status == 200 and body["user"]["role"] == "admin", body
        # over HTTPS the session cookie is Secure as well as HttpOnly and SameSite
        for attr in ("HttpOnly", "SameSite=Strict", "Secure"):
            assert attr in cookie, cookie
        c.request("GET", "/api/v1/host",
                  headers={"Cookie": cookie.split(";")[0]})
        r = c.getresponse()
        assert r.status == 200 and "memory" in json.loads(r.read())
        c.close()
        # the console over wss: the WebSocket bridge works through TLS too
        d.api("POST", "/vps", {"name": "tls1", "kind": "ct", "template": "busybox",
                               "ram": "128M", "disk": "64M", "root_password": "pw",
                               "start": True}, expect=201)
        ws = websocket.create_connection(
            f"wss://127.0.0.1:{port}/api/v1/vps/tls1/console/ws", timeout=30,
            sslopt={"ca_certs": str(cert), "check_hostname": False},
            header=[f"Cookie: {cookie.split(';')[0]}"])
        try:
            seen, deadline = b"", time.monotonic() + 60
            ws.send_binary(b"\n")
            for send, want in ((None, b"login:"), (b"root\n", b"assword:"), (b"pw\n", b"# "),
                               (b"echo tls-$((6*7))\n", b"tls-42")):
                if send:
                    ws.send_binary(send)
                seen = b""
                while want not in seen:
                    assert time.monotonic() < deadline, seen[-500:]
                    seen += ws.recv_data()[1]
        finally:
            ws.close()
        # plain HTTP to the TLS port gets no API answer
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /api/v1/host HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            data = b""
        s.close()
        assert b"memory" not in data and not data.startswith(b"HTTP/1.1 200"), data
    finally:
        d.cleanup()
