# SPDX-License-Identifier: GPL-2.0-or-later
"""A private vpsd for a test: its own data and run directories, its socket,
an HTTP client over that unix socket that checks every answer against
docs/openapi.json (framework/openapi.py; validate=False on the one call
that sends what the description does not allow), and a clean-up that
destroys every VPS it made (so no container, mount or loop device outlives
the test)."""

import glob
import http.client
import json
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from .ct import BUILD

VPSD = BUILD / "src" / "host" / "vpsd"


def free_port():
    """A loopback TCP port nobody listens on now (for vpsd --tcp)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_answer(method, path, status, headers, body):
    """Raise openapi.SpecError unless docs/openapi.json allows this answer
    (body: parsed JSON, a str that is not JSON, or None). Paths outside
    /api/v1 (the panel's files) are not the API's."""
    from .openapi import spec  # openapi imports this module

    if urlsplit(path).path.startswith("/api/v1/"):
        spec().check(method, path, status, headers, body)



def kill_cgroup(path):
    """SIGKILL every process in cgroup PATH (v1 hierarchies or v2), then remove it."""
    if not path or ".." in path:
        return
    dirs = [d for d in glob.glob(f"/sys/fs/cgroup/*/{path}") + [f"/sys/fs/cgroup/{path}"]
            if os.path.isfile(os.path.join(d, "cgroup.procs"))]
    for d in dirs:
        try:
            for pid in open(os.path.join(d, "cgroup.procs")).read().split():
                os.kill(int(pid), signal.SIGKILL)
        except (ValueError, OSError):
            pass
    for d in dirs:
        for _ in range(50):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)

class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self.path))


class _Forward(BaseHTTPRequestHandler):
    """One request to vpsd and back, its answer checked on the way."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                n = int(self.rfile.readline().split(b";")[0], 16)
                data += self.rfile.read(n)
                self.rfile.readline()
                if n == 0:
                    return data
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else None

    def _any(self):
        proxy = self.server.proxy
        body = self._body()
        hop = ("connection", "keep-alive", "expect", "transfer-encoding", "content-length")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in hop}
        c = proxy.connect()
        c.request(self.command, self.path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            j = json.loads(data) if data else None
        except ValueError:
            j = data.decode(errors="replace")
        try:
            check_answer(self.command, self.path, r.status, r.headers, j)
        except AssertionError as e:
            proxy.errors.append(e)
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in hop + ("date", "server"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _any


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class CheckingProxy:
    """What the CLI speaks to in the tests: a unix socket (or a TCP port)
    that passes every request on to vpsd and checks every answer against
    docs/openapi.json, so the C client's conversations are checked as the
    Python clients' are. raise_errors() raises the first answer the
    description does not allow (vps() in the CLI tests calls it after each
    command)."""

    def __init__(self, d, tcp=False):
        self.d, self.tcp, self.errors = d, tcp, []
        if tcp:
            self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Forward)
            self.server.daemon_threads = True
            self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        else:
            self.sock = d.base / "checked.sock"
            self.server = _UnixServer(str(self.sock), _Forward)
        self.server.proxy = self
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def connect(self):
        if self.tcp:
            return http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=300)
        return _UnixHTTP(self.d.sock, timeout=300)

    def raise_errors(self):
        errors, self.errors = self.errors, []
        if errors:
            raise errors[0]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


PROXIES = []

# VPS_TEST_STORE=postgresql: every Vpsd of the run keeps its records in a
# database of its own on one private PostgreSQL (framework/pg.py), started
# at the first and stopped at exit: the whole suite against the cluster
# store (docs/cluster.md). Unset: SQLite, as vpsd runs alone.
_PG = []


def _cluster_args(base):
    if os.environ.get("VPS_TEST_STORE") != "postgresql":
        return ()
    from .pg import Postgres, why_not

    if not _PG:
        why = why_not()
        assert why is None, f"VPS_TEST_STORE=postgresql: {why}"
        import atexit
        _PG.append(Postgres().start())
        atexit.register(_PG[0].stop)
    db = "v_" + base.name.replace("-", "_")
    if db not in _PG[0].psql("SELECT datname FROM pg_database").split():
        _PG[0].createdb(db)
    return ("--cluster", _PG[0].conninfo(db), "--node", "n1")


def raise_spec_errors():
    """Raise the first answer any CheckingProxy saw that the description does not allow."""
    for p in PROXIES:
        p.raise_errors()


class Vpsd:
    def __init__(self):
        # 0711 all the way: containers' root uids must reach their rootfs
        self.base = Path(tempfile.mkdtemp(prefix="vpsd-", dir="/var/tmp"))
        self.base.chmod(0o711)
        self.data = self.base / "data"
        self.run = self.base / "run"
        self.sock = self.run / "vpsd.sock"
        self.log = self.base / "vpsd.log"
        self.proc = None
        self.proxies = {}

    def checked(self, tcp=False):
        """A CheckingProxy in front of this vpsd's socket (tcp=True: its TCP
        port, self.port): give its .sock or .url to the CLI."""
        if tcp not in self.proxies:
            self.proxies[tcp] = CheckingProxy(self, tcp)
            PROXIES.append(self.proxies[tcp])
        return self.proxies[tcp]

    def start(self, timeout=10, extra=(), env=None, wait=True):
        """ENV: more environment for the daemon (VPS_TEST_PAUSE, docs/vpsd.md);
        WAIT: until its API answers."""
        cluster = () if "--cluster" in extra else _cluster_args(self.base)
        self.proc = subprocess.Popen(
            [str(VPSD), "--data", str(self.data), "--run", str(self.run), *cluster, *extra],
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
            env=dict(os.environ, **(env or {})))
        if not wait:
            return self
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sock.exists():
                try:
                    if self.request("GET", "/api/v1/vps")[0] == 200:
                        return self
                except OSError:
                    pass
            if self.proc.poll() is not None:
                raise AssertionError(f"vpsd exited {self.proc.returncode}: {self.log.read_text()}")
            time.sleep(0.05)
        raise AssertionError(f"vpsd did not answer: {self.log.read_text()}")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def destroy_all_and_stop(self):
        """Destroy every VPS, stop the daemon, and fail on a sanitizer's
        report in its log (vpsd is built with ASan and UBSan)."""
        vs = self.api("GET", "/vps")
        self._force_stop(vs)
        for v in vs:
            self.request("DELETE", f"/api/v1/vps/{v['name']}")
        self.stop()
        log = self.log.read_text(errors="replace")
        assert "Sanitizer" not in log and "runtime error" not in log, log[-4000:]

    def _force_stop(self, vs, wrong=None):
        """Stop --force whatever of VS still runs, before it is destroyed: a
        destroy stops gracefully first and waits up to 30 s for the guest
        (a VM still booting, or one that ignores the power button, takes all
        of them); the graceful stop has tests of its own."""
        for v in vs:
            if v.get("state") == "running":
                try:
                    self.request("POST", f"/api/v1/vps/{v['name']}/stop", {"force": True})
                except AssertionError as e:  # an answer the description does not allow
                    if wrong is None:
                        raise
                    wrong.append(e)

    def request(self, method, path, body=None, timeout=300, validate=True):
        """(status, body) of one request over the unix socket, the answer
        checked against docs/openapi.json unless validate=False (only for a
        request the description does not allow: a malformed body)."""
        c = _UnixHTTP(self.sock, timeout=timeout)
        data = None if body is None else (body if isinstance(body, (bytes, str))
                                          else json.dumps(body))
        c.request(method, path, body=data,
                  headers={"Content-Type": "application/json"} if data else {})
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        try:
            j = json.loads(text) if text else None
        except json.JSONDecodeError:
            j = text
        if validate:
            check_answer(method, path, r.status, r.headers, j)
        return r.status, j

    def api(self, method, path, body=None, expect=200, **kw):
        status, j = self.request(method, "/api/v1" + path, body, **kw)
        assert status == expect, (method, path, status, j)
        return j

    def cleanup(self):
        """Destroy every VPS (with a fresh vpsd if this one is gone), stop
        the daemon, remove the directories. Answers the description does not
        allow are raised once everything is cleaned up."""
        wrong = []
        try:
            if not self.proc and self.data.exists():
                self.start()
            if self.proc:
                try:
                    vs = self.api("GET", "/vps")
                except AssertionError as e:  # an answer the description does not allow
                    wrong.append(e)
                    vs = self.request("GET", "/api/v1/vps", validate=False)[1]
                self._force_stop(vs, wrong)
                for v in vs:
                    try:
                        self.request("DELETE", f"/api/v1/vps/{v['name']}")
                    except AssertionError as e:
                        wrong.append(e)
        except (AssertionError, OSError, TypeError):
            pass
        self.stop()
        for p in self.proxies.values():
            p.stop()
            PROXIES.remove(p)
            wrong += p.errors
        # keepers of VPSes a failed test left behind
        for pidfile in self.run.glob("vps/*/keeper.pid"):
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except (ValueError, OSError):
                pass
        # and their VMs' monitors: each is pid 1 of its own namespace in a
        # cgroup of its own (RUN/vps/NAME/cgroup), which vpsd, stopped now,
        # would have emptied on seeing its keeper gone
        for cgfile in self.run.glob("vps/*/cgroup"):
            kill_cgroup(cgfile.read_text().strip())
        shutil.rmtree(self.base, ignore_errors=True)
        if wrong:
            raise wrong[0]
