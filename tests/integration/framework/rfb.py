# SPDX-License-Identifier: GPL-2.0-or-later
"""A small RFB (VNC) client for the screen tests (docs/screen.md): RFC 6143's
handshake with security type None, ServerInit, a 32-bit true-colour pixel
format, raw encoding (and DesktopSize, so a guest's mode change is followed),
FramebufferUpdateRequest and KeyEvent. It reads bytes from any stream: a unix
socket (QEMU's vnc.sock) or vpsd's WebSocket (`ws_stream`), so one client
checks both ends of the bridge.

    with Rfb(ws_stream(ws)) as r:
        r.update()                    # a whole frame, into r.fb
        r.pixel(x, y) -> (r, g, b)
        r.key(0xff0d)                 # Return, down and up
"""

import socket
import struct
import time

RAW, DESKTOP_SIZE = 0, -223
XK_RETURN, XK_SHIFT_L, XK_CONTROL_L, XK_ALT_L, XK_DELETE = 0xff0d, 0xffe1, 0xffe3, 0xffe9, 0xffff


class RfbError(Exception):
    pass


def sock_stream(path, timeout=30):
    """(recv, send) over a unix socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(path))
    return s.recv, s.sendall, s.close


def ws_stream(ws):
    """(recv, send) over a websocket-client connection: binary messages are
    the byte stream, in order, whatever their boundaries."""
    def recv(n):
        op, data = ws.recv_data()
        if op == 0x8:  # close
            raise EOFError(f"the WebSocket closed: {data!r}")
        return data

    return recv, lambda b: ws.send_binary(bytes(b)), ws.close


class Rfb:
    def __init__(self, stream, timeout=30):
        self._recv, self._send, self._close = stream
        self.buf = bytearray()
        self.timeout = timeout
        self.version = self.read(12)
        if not self.version.startswith(b"RFB 003."):
            raise RfbError(f"not an RFB server: {self.version!r}")
        self._send(b"RFB 003.008\n")
        n = self.read(1)[0]
        if n == 0:
            ln = struct.unpack("!I", self.read(4))[0]
            raise RfbError(f"the server refused: {self.read(ln)!r}")
        types = self.read(n)
        if 1 not in types:
            raise RfbError(f"no security type None among {list(types)}")
        self._send(b"\x01")
        if struct.unpack("!I", self.read(4))[0] != 0:
            raise RfbError("security None failed")
        self._send(b"\x01")  # ClientInit: shared
        self.width, self.height = struct.unpack("!HH", self.read(4))
        self.read(16)  # the server's pixel format: replaced below
        self.name = self.read(struct.unpack("!I", self.read(4))[0]).decode(errors="replace")
        # SetPixelFormat: 32 bpp, depth 24, little endian, true colour, r<<16 g<<8 b
        self._send(struct.pack("!B3xBBBBHHHBBB3x", 0, 32, 24, 0, 1, 255, 255, 255, 16, 8, 0))
        self._send(struct.pack("!BxHii", 2, 2, RAW, DESKTOP_SIZE))  # SetEncodings
        self.fb = bytearray(self.width * self.height * 4)
        self.updates = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self._close()
        except OSError:
            pass

    def read(self, n):
        end = time.monotonic() + self.timeout
        while len(self.buf) < n:
            if time.monotonic() > end:
                raise TimeoutError(f"RFB: {n} bytes awaited, {len(self.buf)} came")
            chunk = self._recv(65536)
            if not chunk:
                raise EOFError("the RFB stream ended")
            self.buf += chunk
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def request(self, incremental=False):
        self._send(struct.pack("!BBHHHH", 3, int(incremental), 0, 0, self.width, self.height))

    def update(self, incremental=False):
        """Ask for the screen and read server messages until one
        FramebufferUpdate is in; its rectangles land in self.fb."""
        self.request(incremental)
        while True:
            t = self.read(1)[0]
            if t == 0:
                break
            if t == 2:  # Bell
                continue
            if t == 3:  # ServerCutText
                self.read(3)
                self.read(struct.unpack("!I", self.read(4))[0])
                continue
            raise RfbError(f"unexpected server message {t}")
        self.read(1)
        for _ in range(struct.unpack("!H", self.read(2))[0]):
            x, y, w, h, enc = struct.unpack("!HHHHi", self.read(12))
            if enc == DESKTOP_SIZE:
                self.width, self.height = w, h
                self.fb = bytearray(w * h * 4)
                continue
            if enc != RAW:
                raise RfbError(f"encoding {enc} not asked for")
            data = self.read(w * h * 4)
            for row in range(h):
                o = ((y + row) * self.width + x) * 4
                self.fb[o:o + w * 4] = data[row * w * 4:(row + 1) * w * 4]
        self.updates += 1

    def pixel(self, x, y):
        o = (y * self.width + x) * 4
        b, g, r = self.fb[o], self.fb[o + 1], self.fb[o + 2]
        return r, g, b

    def key(self, keysym, down=None):
        """A KeyEvent; with down None, a press and a release."""
        for d in ((True, False) if down is None else (down,)):
            self._send(struct.pack("!BBxxI", 4, int(d), keysym))

    def blank(self):
        """Whether every pixel of the frame is one colour."""
        return self.fb.count(self.fb[:4]) * 4 == len(self.fb) if len(self.fb) else True


# --- VGA text mode as QEMU draws it: 80x25 cells of 9x16 pixels (720x400) ----------------

CELL_W, CELL_H = 9, 16


def cell_colour(r, col, row):
    """The colour most pixels of a text cell have (its background, for a space)."""
    seen = {}
    for dy in range(CELL_H):
        for dx in range(CELL_W):
            p = r.pixel(col * CELL_W + dx, row * CELL_H + dy)
            seen[p] = seen.get(p, 0) + 1
    return max(seen, key=seen.get)


def is_red(p):
    return p[0] > 0x80 and p[1] < 0x40 and p[2] < 0x40


def is_green(p):
    return p[1] > 0x80 and p[0] < 0x40 and p[2] < 0x40


# --- VGA text mode as vps-vmm draws it: 80x25 cells of 8x16 pixels (640x400) -------------

VGABIOS = "/usr/share/seabios/vgabios-stdvga.bin"
_GLYPH_A = bytes([0, 0, 0x10, 0x38, 0x6c, 0xc6, 0xc6, 0xfe, 0xc6, 0xc6, 0xc6, 0xc6, 0, 0, 0, 0])


def vga_font(path=VGABIOS):
    """The 8x16 font SeaBIOS's vgabios loads into plane 2 (found in the ROM by its 'A'):
    {glyph rows (16 bytes): character}, printable ASCII only."""
    rom = open(path, "rb").read()
    at = rom.find(_GLYPH_A) - 0x41 * 16
    if at < 0:
        raise RfbError(f"no 8x16 font in `{path}`")
    font = {}
    for ch in range(0x7e, 0x1f, -1):  # a space last: blank glyphs read as spaces
        font[rom[at + 16 * ch:at + 16 * (ch + 1)]] = chr(ch)
    return font


def read_text(r, font, cell_w=8, cell_h=16):
    """The screen's text read back from the pixels: each cell's two colours tried
    either way round as foreground against the font; '?' for a cell that is no glyph
    (the cursor's cell, a character outside printable ASCII)."""
    rows = []
    for row in range(r.height // cell_h):
        line = []
        for col in range(r.width // cell_w):
            px = [[r.pixel(col * cell_w + x, row * cell_h + y) for x in range(cell_w)]
                  for y in range(cell_h)]
            colours = {p for line_ in px for p in line_}
            if len(colours) == 1:
                line.append(" ")
                continue
            found = "?"
            for fg in colours if len(colours) == 2 else ():
                glyph = bytes(sum(0x80 >> x for x in range(cell_w) if px[y][x] == fg)
                              for y in range(cell_h))
                if glyph in font:
                    found = font[glyph]
                    break
            line.append(found)
        rows.append("".join(line))
    return rows


# --- run where the socket is (in L1): python3 rfb.py SOCKET RRGGBB -----------------------

def wait_colour(path, colour, timeout=60):
    """Frames from the RFB server at PATH until the pixel at the middle of the lower
    half's first row is COLOUR ((r, g, b)) or TIMEOUT seconds pass; the last frame's
    size, that pixel and others as a dict."""
    deadline = time.monotonic() + timeout
    with Rfb(sock_stream(path)) as r:
        while True:
            r.update()
            w, h = r.width, r.height
            probe = (w // 2, h // 2)
            if r.pixel(*probe) == colour or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        points = {"top-left": (0, 0), "upper": (w // 2, h // 4), "probe": probe,
                  "lower-left": (0, h - 1), "lower-right": (w - 1, h - 1),
                  "last-upper": (w - 1, h // 2 - 1)}
        return {"size": [w, h], "updates": r.updates,
                "pixels": {k: list(r.pixel(*p)) for k, p in points.items()}}


if __name__ == "__main__":
    import json
    import sys

    want = bytes.fromhex(sys.argv[2])
    print(json.dumps(wait_colour(sys.argv[1], (want[0], want[1], want[2]))))
