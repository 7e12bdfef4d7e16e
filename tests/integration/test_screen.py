# SPDX-License-Identifier: GPL-2.0-or-later
"""A VM's screen through vpsd (docs/screen.md): a firmware-booted VM on the
QEMU engine (software CPU) boots tests/guest/screenboot.S from an uploaded
ISO; its customer opens GET /api/v1/vps/NAME/vnc as noVNC does (a WebSocket,
subprotocol `binary`), speaks RFB through it (framework/rfb.py) and reads
the screen: the program's red bar and words where VGA text memory put them,
and a green cell more for every key sent. Then the attacks: another
customer's screen is a 404, a foreign Origin a 403, no credentials a 401, a
path or query that tries to name another socket reaches none, a link
planted in place of the socket is not followed; the audit log has every
session asked for. ISOs: a customer picks one by name, ejects it (live,
QMP), and the next boot is from the disk. UEFI: OVMF shows a screen too.

Needs qemu-system-x86_64, binutils, xorriso and ovmf (scripts/lib.sh). Run
as root: /usr/bin/python3 -m pytest -q -p no:cacheprovider test_screen.py"""

import http.client
import json
import os
import socket
import struct
import subprocess
import time

import pytest

from framework import artefacts, rfb
from framework.bootiso import build_iso, tool
from framework.console import Console
from framework.vpsd import VPSD, Vpsd, free_port

websocket = pytest.importorskip("websocket", reason="python3-websocket is not installed")

BOOT_TIMEOUT = 90
MARKER = "VPS-SCREEN ok"


def token(d, user, role):
    d.api("POST", "/users", {"name": user, "role": role, "password": f"{user} screen pw"},
          expect=201)
    t = d.api("POST", "/tokens", {"name": "screen", "expires_in": 3600, "user": user},
              expect=201)
    return {"Authorization": f"Bearer {t['token']}"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    if not VPSD.exists():
        pytest.fail(f"{VPSD} is not built: ninja -C $VPS_BUILD")
    tool("qemu-system-x86_64")
    iso = build_iso(tmp_path_factory.mktemp("iso"), "screenboot.S").read_bytes()
    port = free_port()
    d = Vpsd().start(extra=("--tcp", f"127.0.0.1:{port}"))
    try:
        d.port = port
        d.alice = token(d, "alice", "customer")
        d.bob = token(d, "bob", "customer")
        d.api("PUT", "/isos/screen", iso, expect=201)
        for name, owner in (("scr-a", "alice"), ("scr-b", "bob")):
            d.api("POST", "/vps", {"name": name, "kind": "vm", "engine": "qemu",
                                   "iso": "screen", "ram": "64M", "disk": "64M",
                                   "owner": owner}, expect=201)
        d.api("POST", "/vps/scr-a/start")
        yield d
    finally:
        d.cleanup()


def url(d, name, query=""):
    return f"ws://127.0.0.1:{d.port}/api/v1/vps/{name}/vnc{query}"


def open_screen(d, name, auth, query="", **kw):
    ws = websocket.create_connection(url(d, name, query), header=auth, subprotocols=["binary"],
                                     timeout=30, **kw)
    assert ws.getsubprotocol() == "binary"
    return ws


def wait_screen(r, ok, timeout, what):
    """Frames until ok(r) holds; the last frame's state in the message otherwise."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r.update()
        if ok(r):
            return
        time.sleep(0.5)
    pytest.fail(f"the screen did not show {what} in {timeout} s ({r.width}x{r.height}, "
                f"blank: {r.blank()})")


def booted(r):
    return (r.width, r.height) == (720, 400) and all(
        rfb.is_red(rfb.cell_colour(r, c, 12)) for c in (0, 40, 79))


def green_cells(r):
    n = 0
    while n < 80 and rfb.is_green(rfb.cell_colour(r, n, 14)):
        n += 1
    return n


def test_screen_through_vpsd(env):
    d = env
    sock = d.run / "vps" / "scr-a" / "vnc.sock"
    st = os.lstat(sock)
    # QEMU bound it as root before it dropped to the VM's uid: connecting
    # takes write permission, which only root has (nor can the VM's uid reach it)
    assert st.st_uid == 0 and st.st_mode & 0o022 == 0, oct(st.st_mode)
    with rfb.Rfb(rfb.ws_stream(open_screen(d, "scr-a", d.alice))) as r:
        assert r.name == "QEMU (scr-a)", r.name  # the VM its monitor names
        wait_screen(r, booted, BOOT_TIMEOUT, "the boot program's red bar on row 12")
        # rows 0-9 were cleared by the mode set; row 10 holds the words
        assert all(rfb.cell_colour(r, c, 5) == (0, 0, 0) for c in range(0, 80, 7))
        lit = sum(1 for x in range(0, 13 * rfb.CELL_W) for y in range(160, 176)
                  if r.pixel(x, y) != (0, 0, 0))
        assert lit > 100, f"row 10 shows no text ({lit} lit pixels)"
        assert green_cells(r) == 0
        with Console(d.api("GET", "/vps/scr-a/console")["path"]) as con:
            for ch in b"vps":
                r.key(ch)
            con.expect("vps", 30)
        wait_screen(r, lambda r: green_cells(r) == 3, 30, "three green cells for three keys")


def test_screen_through_vpsd_vmm(env):
    """The same bridge to vps-vmm's own RFB server (docs/vmm.md "The screen over RFB"):
    vpsd starts a firmware VM on the vmm engine with --vnc on its vnc.sock; the customer's
    WebSocket gets the handshake and frames whose pixels, read against the vgabios's font,
    show the boot program's words; keys typed there reach the guest; another customer's
    is a 404."""
    d = env
    d.api("POST", "/vps", {"name": "scr-v", "kind": "vm", "engine": "vmm", "iso": "screen",
                           "ram": "64M", "disk": "64M", "owner": "alice"}, expect=201)
    try:
        d.api("POST", "/vps/scr-v/start")
        cfg = json.loads((d.data / "vps" / "scr-v" / "vm.json").read_text())
        sock = d.run / "vps" / "scr-v" / "vnc.sock"
        assert cfg["vnc"] == str(sock), cfg
        st = os.lstat(sock)
        assert st.st_uid == 0 and st.st_mode & 0o777 == 0o600, oct(st.st_mode)
        assert raw_handshake(d, "/api/v1/vps/scr-v/vnc",
                             Authorization=d.bob["Authorization"])[0] == 404
        font = rfb.vga_font()
        with rfb.Rfb(rfb.ws_stream(open_screen(d, "scr-v", d.alice))) as r:
            assert (r.name, r.width, r.height) == ("vps-vmm", 640, 400)
            with Console(d.api("GET", "/vps/scr-v/console")["path"]) as con:
                # SeaBIOS under PVM's emulation: the marker on COM1 first, then the frame
                con.expect(MARKER, 180)
                r.update()
                text = rfb.read_text(r, font)
                assert text[10].startswith("VPS-SCREEN ok"), "\n".join(text)
                bar = [r.pixel(x, 12 * 16 + 1) for x in range(0, 640, 8)]
                assert all(rfb.is_red(p) for p in bar), bar[:4]
                for ch in b"vps":
                    r.key(ch)
                con.expect("vps", 30)
    finally:
        d.request("POST", "/api/v1/vps/scr-v/stop", {"force": True})
        d.request("DELETE", "/api/v1/vps/scr-v")


def raw_handshake(d, path, **headers):
    """The status line and body of a WebSocket handshake sent by hand."""
    s = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    h = {"Host": f"127.0.0.1:{d.port}", "Upgrade": "websocket", "Connection": "Upgrade",
         "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
         "Sec-WebSocket-Protocol": "binary", **headers}
    h = {k: v for k, v in h.items() if v is not None}
    s.sendall((f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
               + "\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head = data.split(b"\r\n\r\n")[0].decode()
    status = int(head.split()[1])
    s.close()
    return status, head


def test_screen_refusals(env):
    d = env
    me = d.alice["Authorization"]
    # another customer's VPS is one that does not exist
    assert raw_handshake(d, "/api/v1/vps/scr-a/vnc", Authorization=d.bob["Authorization"])[0] \
        == 404
    assert raw_handshake(d, "/api/v1/vps/nosuch/vnc", Authorization=me)[0] == 404
    # no credentials: the API's 401, no screen
    assert raw_handshake(d, "/api/v1/vps/scr-a/vnc")[0] == 401
    # another site's page with the user's credentials (cross-site WebSocket hijacking)
    assert raw_handshake(d, "/api/v1/vps/scr-a/vnc", Authorization=me,
                         Origin="http://evil.example")[0] == 403
    # a subprotocol the screen does not speak
    status, head = raw_handshake(d, "/api/v1/vps/scr-a/vnc", Authorization=me,
                                 **{"Sec-WebSocket-Protocol": "base64"})
    assert status == 400, head
    # the answer names the subprotocol it chose
    status, head = raw_handshake(d, "/api/v1/vps/scr-a/vnc", Authorization=me,
                                 Origin=f"http://127.0.0.1:{d.port}")
    assert status == 101 and "Sec-WebSocket-Protocol: binary" in head, head
    # a stopped VM has no screen now: 409, and so its owner's own one
    status, head = raw_handshake(d, "/api/v1/vps/scr-b/vnc", Authorization=d.bob["Authorization"])
    assert status == 409, head
    # paths that try to leave the VPS: the name is one segment of [a-z0-9-]
    for p in ("/api/v1/vps/..%2Fscr-a/vnc", "/api/v1/vps/scr-a%2F..%2Fscr-b/vnc",
              "/api/v1/vps/../vps/scr-a/vnc", "/api/v1/vps/%2Frun%2Fvps%2Fscr-a/vnc"):
        assert raw_handshake(d, p, Authorization=d.bob["Authorization"])[0] in (400, 404), p


def test_screen_socket_is_the_vps_own(env):
    """No parameter names a socket (Proxmox's vncwebsocket takes a port):
    the query is ignored, and a link planted where the socket is, to
    another VPS's screen, is refused rather than followed."""
    d = env
    ws = open_screen(d, "scr-a", d.alice, "?port=5900&path=/run/vps/scr-b/qmp.sock")
    with rfb.Rfb(rfb.ws_stream(ws)) as r:
        assert r.version.startswith(b"RFB 003.")
    d.api("POST", "/vps/scr-b/start")
    b_sock = d.run / "vps" / "scr-b" / "vnc.sock"
    aside = b_sock.with_name("vnc.sock.aside")
    os.rename(b_sock, aside)
    try:
        b_sock.symlink_to(d.run / "vps" / "scr-a" / "vnc.sock")
        ws = websocket.create_connection(url(d, "scr-b"), header=d.bob,
                                         subprotocols=["binary"], timeout=30)
        op, data = ws.recv_data()
        assert op == 0x8 and struct.unpack("!H", data[:2])[0] == 1011, (op, data)
        assert b"screen is not available" in data
        ws.close()
    finally:
        b_sock.unlink()
        os.rename(aside, b_sock)
    d.api("POST", "/vps/scr-b/stop", {"force": True})


def test_screen_sessions_are_audited_and_limited(env):
    d = env
    opened = [open_screen(d, "scr-a", d.alice) for _ in range(4)]
    try:
        status, head = raw_handshake(d, "/api/v1/vps/scr-a/vnc", Authorization=d.alice[
            "Authorization"])
        assert status == 429, head
    finally:
        for ws in opened:
            ws.close()
    log = [a for a in d.api("GET", "/audit?limit=1000") if a["path"].endswith("/vnc")]
    assert {"alice", "bob"} <= {a["user"] for a in log}
    assert any(a["user"] == "alice" and a["status"] == 101 for a in log), log
    assert any(a["user"] == "bob" and a["status"] == 404 for a in log), log
    assert any(a["user"] == "alice" and a["status"] == 429 for a in log), log


def test_screen_closes_when_the_vm_stops(env):
    d = env
    d.api("POST", "/vps/scr-b/start")
    ws = open_screen(d, "scr-b", d.bob)
    with rfb.Rfb(rfb.ws_stream(ws)) as r:
        r.update()
        d.api("POST", "/vps/scr-b/stop", {"force": True})
        with pytest.raises(EOFError, match="screen closed"):
            while True:
                r.update(incremental=True)


def test_http_client_gets_no_screen(env):
    """A plain GET (no upgrade) is the API's 400 naming what is missing."""
    c = http.client.HTTPConnection("127.0.0.1", env.port, timeout=30)
    c.request("GET", "/api/v1/vps/scr-a/vnc", headers=env.alice)
    r = c.getresponse()
    body = r.read()
    assert r.status == 400 and b"Upgrade" in body, (r.status, body)


def test_iso_eject_and_insert(env):
    """A customer ejects the ISO of their running VM (QMP, at once): a reset
    then boots without it (no red bar); puts it back by name (at once too: the
    descriptor passed over QMP), and a reset boots it. Names that are not
    uploaded ISOs, and another's VM, are refused."""
    d = env
    iso_path = str(d.data / "isos" / "screen.iso")

    def patch(name, body, auth, expect):
        status, head_body = raw_request(d, "PATCH", f"/api/v1/vps/{name}", body, auth)
        assert status == expect, (name, body, status, head_body)
        return head_body

    patch("scr-a", {"iso": "../../etc/passwd"}, d.alice, 400)
    patch("scr-a", {"iso": "nosuch"}, d.alice, 400)
    patch("scr-a", {"iso": 7}, d.alice, 400)
    patch("scr-a", {"iso": None}, d.bob, 404)
    assert d.api("GET", "/vps/scr-a")["iso"] == iso_path
    out = patch("scr-a", {"iso": None}, d.alice, 200)
    assert out["live"] is True and "iso" not in out["vps"], out
    # the ISO is no longer in use: it may go (a DELETE while in use is a 409)
    d.api("DELETE", "/isos/screen", expect=409)  # scr-b still has it
    with rfb.Rfb(rfb.ws_stream(open_screen(d, "scr-a", d.alice))) as r:
        for k, down in ((rfb.XK_CONTROL_L, True), (rfb.XK_ALT_L, True), (rfb.XK_DELETE, None),
                        (rfb.XK_ALT_L, False), (rfb.XK_CONTROL_L, False)):
            r.key(k, down)
        # SeaBIOS again, with an empty CD drive and an empty disk: no boot program
        wait_screen(r, lambda r: not booted(r) and not r.blank(), BOOT_TIMEOUT,
                    "the firmware's own screen without the boot program")
        time.sleep(5)
        r.update()
        assert not booted(r), "the ejected ISO booted again"
        # put back while it runs (QMP add-fd + blockdev-change-medium): the next reset boots it
        out = patch("scr-a", {"iso": "screen"}, d.alice, 200)
        assert out["live"] is True and out["vps"]["iso"] == iso_path, out
        for k, down in ((rfb.XK_CONTROL_L, True), (rfb.XK_ALT_L, True), (rfb.XK_DELETE, None),
                        (rfb.XK_ALT_L, False), (rfb.XK_CONTROL_L, False)):
            r.key(k, down)
        wait_screen(r, booted, BOOT_TIMEOUT, "the boot program from the ISO put back")
    # the CLI says the same (`vps set NAME iso=none|NAME`, on the unix socket)
    vps = str(artefacts.build_dir() / "src" / "cli" / "vps")
    for value, want in (("none", None), ("screen", iso_path)):
        out = subprocess.run([vps, "--socket", str(d.sock), "set", "scr-a", f"iso={value}"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out
        assert d.api("GET", "/vps/scr-a").get("iso") == want
    # and from a fresh start too
    d.api("POST", "/vps/scr-a/stop", {"force": True})
    d.api("POST", "/vps/scr-a/start")
    with rfb.Rfb(rfb.ws_stream(open_screen(d, "scr-a", d.alice))) as r:
        wait_screen(r, booted, BOOT_TIMEOUT, "the boot program after a start")


def raw_request(d, method, path, body, auth):
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
    c.request(method, path, body=json.dumps(body),
              headers={**auth, "Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data) if data else None


def test_uefi_screen(env):
    """boot uefi: OVMF on flash, its variables the VM's own copy; it draws a screen."""
    d = env
    v = d.api("POST", "/vps", {"name": "scr-u", "kind": "vm", "engine": "qemu", "boot": "uefi",
                               "iso": "screen", "ram": "128M", "disk": "64M",
                               "owner": "alice"}, expect=201)
    assert v["boot"] == "uefi", v
    vars_ = d.data / "vps" / "scr-u" / "efivars.fd"
    assert vars_.stat().st_size == os.stat("/usr/share/OVMF/OVMF_VARS_4M.fd").st_size
    d.api("POST", "/vps/scr-u/start")
    with rfb.Rfb(rfb.ws_stream(open_screen(d, "scr-u", d.alice))) as r:
        wait_screen(r, lambda r: not r.blank(), 240, "anything from OVMF")
    d.api("POST", "/vps/scr-u/stop", {"force": True})
    d.api("DELETE", "/vps/scr-u")
    assert not vars_.exists()
    # vps-vmm boots no UEFI: a clear refusal
    status, j = d.request("POST", "/api/v1/vps", {"name": "scr-v", "kind": "vm", "engine": "vmm",
                                                  "boot": "uefi", "iso": "screen", "ram": "64M",
                                                  "disk": "64M"})
    assert status == 400 and "uefi" in j["error"]["message"], j
