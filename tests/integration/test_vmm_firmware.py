# SPDX-License-Identifier: GPL-2.0-or-later
"""PC firmware boot on vps-vmm (`--firmware`, docs/vmm.md "Firmware boot"):
Debian's SeaBIOS boots an ISO from the virtio-scsi CD before the disk, a
disk's boot sector through fw_cfg when there is no bootable CD, the VGA option
ROM prints its banner in VGA text memory, which the control socket's
`screen` reads back; all of it jailed (seccomp), as vpsd runs the monitor.

This machine's /dev/kvm (PVM) runs SeaBIOS's real-mode code, slowly (it
emulates it): about 20 s from start to the boot sector here. Hostile input:
bad firmware and option-ROM files are refused with a message and status 2;
a boot sector that attacks fw_cfg and the VGA ports (tests/guest/
fwhostile.S) gets errors back and leaves the monitor serving.

Needs `as`/`ld` (binutils), xorriso and the `seabios` package (scripts/lib.sh)."""
import fcntl
import os
import re
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from framework import artefacts, rfb
from framework.vmm import JAIL, MICRO, VMM, Control, needs_kvm

pytestmark = needs_kvm

BIOS = Path("/usr/share/seabios/bios.bin")
VGABIOS = Path("/usr/share/seabios/vgabios-stdvga.bin")
GUEST = artefacts.TOP / "tests" / "guest"
BOOT_TIMEOUT = 180  # SeaBIOS under PVM's emulation, on a loaded 2-core machine


def tool(name):
    path = shutil.which(name)
    if not path:
        pytest.fail(f"no `{name}` on this host (scripts/test installs it: scripts/lib.sh)")
    return path


def boot_disk(tmp, src):
    """A 1 MiB disk whose first sector is the program in tests/guest/SRC."""
    obj, bin_, img = tmp / "boot.o", tmp / "boot.bin", tmp / "disk.img"
    subprocess.run([tool("as"), "--32", "-I", GUEST, "-o", obj, GUEST / src], check=True)
    subprocess.run([tool("ld"), "-m", "elf_i386", "-Ttext", "0x7c00", "--oformat", "binary",
                    "-o", bin_, obj], check=True)
    data = bin_.read_bytes()
    assert len(data) == 512 and data[510:] == b"\x55\xaa"
    img.write_bytes(data + bytes((1 << 20) - 512))
    return img


def wait_serial(p, serial, marker, timeout=BOOT_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = serial.read_text(errors="replace") if serial.exists() else ""
        if marker in text:
            return text
        if p.poll() is not None:
            pytest.fail(f"vps-vmm ended with {p.returncode}: {p.stderr.read()}")
        time.sleep(0.2)
    p.kill()
    pytest.fail(f"no `{marker}` on COM1 in {timeout} s: {serial.read_text()!r}")


@pytest.fixture
def firmware_vm(tmp_path):
    """Start a jailed firmware VM booting tests/guest/SRC from its disk."""
    procs = []

    def start(src, *extra):
        assert BIOS.exists() and VGABIOS.exists(), "the `seabios` package (scripts/lib.sh)"
        disk = boot_disk(tmp_path, src)
        serial, sock = tmp_path / "serial.log", tmp_path / "ctl.sock"
        p = subprocess.Popen([str(VMM), "--firmware", BIOS, "--vgabios", VGABIOS,
                              "--memory", "64M", "--disk", f"path={disk}", *extra,
                              "--serial", f"file:{serial}", "--control", sock, *JAIL],
                             stderr=subprocess.PIPE, text=True)
        procs.append(p)
        return p, serial, sock

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def stop(p, sock):
    """Stop the VM; its stderr."""
    c = Control(sock)
    assert c("stop") == {"ok": True}
    c.close()
    err = p.stderr.read()
    assert p.wait(timeout=20) == 5, err
    return err


def test_seabios_boots_disk_and_screen_shows_banner(firmware_vm):
    p, serial, sock = firmware_vm("isoboot.S")
    t0 = time.monotonic()
    wait_serial(p, serial, "VPS-ISO-BOOT ok")
    print(f"firmware to boot sector: {time.monotonic() - t0:.1f} s")
    c = Control(sock)
    r = c("screen")
    assert r["ok"] and r["mode"] == "text" and r["cols"] == 80 and r["rows"] == 25, r
    screen = "\n".join(r["text"])
    # SeaBIOS prints through the VGA BIOS once it is up: its banner, then the boot device
    assert "SeaBIOS (version" in screen, screen
    assert "Booting from Hard Disk..." in screen, screen
    assert all(len(row) == 80 for row in r["text"])
    s = c("state")
    assert s["ok"] and s["state"] == "running", s
    # not yet: the firmware devices' state is not in a snapshot
    assert c("snapshot", path=str(sock.parent / "snap")) == \
        {"ok": False, "error": "snapshot: not yet for firmware boot"}
    assert c("migrate", to="tcp:127.0.0.1:1") == \
        {"ok": False, "error": "migrate: not yet for firmware boot"}
    assert c("state")["state"] == "running"
    c.close()
    err = stop(p, sock)
    # the vgabios's register writes (its palette alone is 768 bytes) and debug messages
    # were queued in KVM, not an exit each (docs/vmm.md, "Firmware boot")
    m = re.search(r"port writes queued in KVM \(VGA registers, debug port\): (\d+)", err)
    if coalesced_pio():
        assert m and int(m[1]) >= 1500, err
    else:
        print("this KVM has no KVM_CAP_COALESCED_PIO: every port write exits")


def coalesced_pio():
    """Whether this machine's KVM queues port writes (KVM_CAP_COALESCED_PIO)."""
    kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    try:
        vm = fcntl.ioctl(kvm, 0xAE01, 0)  # KVM_CREATE_VM
        try:
            return fcntl.ioctl(vm, 0xAE03, 162) > 0  # KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO
        finally:
            os.close(vm)
    finally:
        os.close(kvm)


def build_iso(tmp):
    """isoboot.S's sector as an El Torito no-emulation boot image."""
    root, obj, iso = tmp / "isoroot", tmp / "iso.o", tmp / "boot.iso"
    root.mkdir()
    subprocess.run([tool("as"), "--32", "-o", obj, GUEST / "isoboot.S"], check=True)
    subprocess.run([tool("ld"), "-m", "elf_i386", "-Ttext", "0x7c00", "--oformat", "binary",
                    "-o", root / "boot.bin", obj], check=True)
    subprocess.run([tool("xorriso"), "-as", "mkisofs", "-quiet", "-b", "boot.bin",
                    "-no-emul-boot", "-boot-load-size", "4", "-o", iso, root], check=True)
    return iso


def test_iso_boots_from_cd_before_disk(firmware_vm, tmp_path):
    # the disk's sector would print VPS-FW-HOSTILE: the CD must win
    iso = build_iso(tmp_path)
    p, serial, sock = firmware_vm("fwhostile.S", "--cdrom", iso)
    text = wait_serial(p, serial, "VPS-ISO-BOOT ok")
    assert "VPS-FW-HOSTILE" not in text, text
    c = Control(sock)
    screen = "\n".join(c("screen")["text"])
    assert "Booting from DVD/CD..." in screen, screen
    assert "Booting from Hard Disk" not in screen, screen
    c.close()
    media_changes_while_running(p, sock, tmp_path)
    stop(p, sock)


def media(sock, fds=(), **kw):
    """One `media` request with descriptors passed beside it (SCM_RIGHTS), as vpsd sends it."""
    import json
    import socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(sock))
        line = json.dumps({"cmd": "media", **kw}).encode() + b"\n"
        socket.send_fds(s, [line], list(fds))
        return json.loads(s.makefile("rb").readline())


def open_fds(p, want=None):
    """The monitor's open descriptors; with want, waited for (up to 5 s) as the monitor
    closes the connection of a request that just ended."""
    deadline = time.monotonic() + 5
    while True:
        n = len(list(Path(f"/proc/{p.pid}/fd").iterdir()))
        if want is None or n == want or time.monotonic() > deadline:
            return n
        time.sleep(0.05)


def media_changes_while_running(p, sock, tmp_path):
    """The `media` command on the running, jailed monitor: eject, insert, and what a
    hostile or careless caller passes refused with the drive and descriptors unchanged."""
    c = Control(sock)
    base = open_fds(p)  # Control's connection, which stays, and the ISO in the drive
    st = c("stats")["cdrom"]
    assert st["medium"] and st["media_changes"] == 0, st
    assert media(sock, eject=True) == {"ok": True}
    st = c("stats")["cdrom"]
    assert not st["medium"] and st["media_changes"] == 1, st
    new = tmp_path / "new.iso"
    new.write_bytes(b"\x42" * (10 * 2048))
    fd = os.open(new, os.O_RDONLY)
    try:
        assert media(sock, [fd]) == {"ok": True}
    finally:
        os.close(fd)
    st = c("stats")["cdrom"]
    assert st["medium"] and st["blocks"] == 10 and st["media_changes"] == 2, st
    assert open_fds(p, base) == base  # the drive holds the new ISO; the old one is closed
    # refused, each with the drive as it was and no descriptor kept
    wfd, dfd = os.open(new, os.O_RDWR), os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    small = tmp_path / "small.iso"
    small.write_bytes(b"x" * 100)
    sfd = os.open(small, os.O_RDONLY)
    try:
        for fds, kw, err in (([], {}, "no medium: pass the ISO's descriptor with the request"),
                             ([sfd], {"eject": True}, "`eject` takes no medium"),
                             ([wfd], {}, "the medium must be opened read-only"),
                             ([dfd], {}, "the medium is not an image file of at least 2 KiB"),
                             ([sfd], {}, "the medium is not an image file of at least 2 KiB"),
                             ([sfd], {"eject": "yes"}, "`eject`: expected true or false")):
            assert media(sock, fds, **kw) == {"ok": False, "error": err}, (fds, kw)
            assert open_fds(p, base) == base, (fds, kw)
        # several descriptors with one request: the first taken, the others closed
        assert media(sock, [sfd, wfd, dfd]) == \
            {"ok": False, "error": "the medium is not an image file of at least 2 KiB"}
        assert open_fds(p, base) == base
    finally:
        for f in (wfd, dfd, sfd):
            os.close(f)
    st = c("stats")["cdrom"]
    assert st["medium"] and st["blocks"] == 10 and st["media_changes"] == 2, st
    assert c("state")["state"] == "running"
    c.close()


def test_malformed_iso_falls_through_to_disk(firmware_vm, tmp_path):
    # no El Torito record, a boot catalog pointer of all ones: SeaBIOS gives up on the CD
    bad = tmp_path / "bad.iso"
    bad.write_bytes(b"\xff" * (64 << 10))
    p, serial, sock = firmware_vm("isoboot.S", "--cdrom", bad)
    wait_serial(p, serial, "VPS-ISO-BOOT ok")
    c = Control(sock)
    screen = "\n".join(c("screen")["text"])
    assert "Booting from DVD/CD..." in screen and "Booting from Hard Disk..." in screen, screen
    c.close()
    stop(p, sock)


def test_keys_reach_the_guest(firmware_vm):
    p, serial, sock = firmware_vm("fwkeys.S")
    wait_serial(p, serial, "VPS-KEYS ready")
    c = Control(sock)
    assert c("key", text="Hello, World! 42") == {"ok": True}
    assert c("key", key="enter") == {"ok": True}
    text = wait_serial(p, serial, " done", timeout=60)
    assert "VPS-KEYS ready\nHello, World! 42 done" in text, text
    # refused: a key there is none of, both or neither argument, a byte with no key
    assert c("key", key="hyper-x") == {"ok": False, "error": "`key`: no key `hyper-x`"}
    assert c("key", key="enter", text="x")["ok"] is False
    assert c("key")["ok"] is False
    r = c("key", text="caf\u00e9")
    assert r["ok"] is False and "no key for byte 0xc3 at offset 3" in r["error"], r
    # a guest that reads nothing: the queue fills, further keys are refused, not queued
    for _ in range(40):
        r = c("key", text="x" * 20)
        if not r["ok"]:
            break
    assert not r["ok"] and "has not read the keys" in r["error"], r
    assert c("state")["state"] == "running"
    c.close()
    stop(p, sock)


def test_acpi_tables_through_table_loader(firmware_vm):
    """SeaBIOS ran etc/table-loader: the RSDP is in the F segment with good checksums, and
    the pointers it patched lead to a valid XSDT, FADT and DSDT (tests/guest/fwacpi.S)."""
    p, serial, sock = firmware_vm("fwacpi.S")
    text = wait_serial(p, serial, "VPS-ACPI ok")  # on failure: "VPS-ACPI bad STEP"
    assert "bad" not in text, text
    stop(p, sock)


def test_hostile_boot_sector_on_fwcfg_and_vga(firmware_vm):
    p, serial, sock = firmware_vm("fwhostile.S")
    text = wait_serial(p, serial, "done")
    # the bad DMA came back with the error bit, and fw_cfg still served the good one
    assert "VPS-FW-HOSTILE E Q done" in text, text
    c = Control(sock)
    r = c("screen")  # the CRTC start address at 0xffff: still 25 rows of 80
    assert r["ok"] and len(r["text"]) == 25 and all(len(x) == 80 for x in r["text"]), r
    assert c("state")["state"] == "running"
    c.close()
    stop(p, sock)


def rfb_raw(path, handshake=False):
    """A raw connection to the screen's RFB socket; with handshake, through ServerInit."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(str(path))
    assert s.recv(12, socket.MSG_WAITALL) == b"RFB 003.008\n"
    if handshake:
        s.sendall(b"RFB 003.008\n")
        assert s.recv(2, socket.MSG_WAITALL) == b"\x01\x01"
        s.sendall(b"\x01")
        assert s.recv(4, socket.MSG_WAITALL) == bytes(4)
        s.sendall(b"\x01")
        assert len(s.recv(24 + 7, socket.MSG_WAITALL)) == 31
    return s


def closed_by_server(s):
    """The server closed s: end of file after whatever it still said."""
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
        pass
    s.close()
    return True


def test_rfb_screen_shows_the_banner_and_refuses_hostile_clients(firmware_vm, tmp_path):
    """--vnc: the screen over RFB 3.8 on a unix socket (0600, root's, made before the
    jail). The pixels of one FramebufferUpdate, read back against the vgabios's own
    8x16 font, say what the firmware printed; hostile clients are closed, the VM runs on."""
    vnc = tmp_path / "vnc.sock"
    p, serial, sock = firmware_vm("isoboot.S", "--vnc", vnc)
    wait_serial(p, serial, "VPS-ISO-BOOT ok")
    st = vnc.lstat()
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
    # hostile: not RFB; a 4 GiB ClientCutText; an unknown message; a security type not
    # offered; nine clients at once
    s = rfb_raw(vnc)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert closed_by_server(s)
    s = rfb_raw(vnc, handshake=True)
    s.sendall(b"\x06\0\0\0\xff\xff\xff\xff" + b"A" * 65536)
    assert closed_by_server(s)
    s = rfb_raw(vnc, handshake=True)
    s.sendall(b"\xfe" * 1000)
    assert closed_by_server(s)
    s = rfb_raw(vnc)
    s.sendall(b"RFB 003.008\n")
    assert s.recv(2, socket.MSG_WAITALL) == b"\x01\x01"
    s.sendall(b"\x02")  # VNC authentication: not offered
    assert s.recv(8, socket.MSG_WAITALL)[:4] == b"\0\0\0\x01"
    assert closed_by_server(s)
    many = [rfb_raw(vnc) for _ in range(8)]
    ninth = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ninth.settimeout(20)
    ninth.connect(str(vnc))
    assert ninth.recv(12) == b""  # turned away
    for s in many:
        s.close()
    c = Control(sock)
    assert c("state")["state"] == "running"
    # a well-behaved client: the whole screen, then the text read from its pixels
    with rfb.Rfb(rfb.sock_stream(vnc)) as r:
        assert (r.width, r.height, r.name) == (640, 400, "vps-vmm")
        r.update()
        assert not r.blank()
        text = rfb.read_text(r, rfb.vga_font())
    shown = "\n".join(text)
    assert "SeaBIOS (version" in shown and "Booting from Hard Disk..." in shown, shown
    # cell by cell what VGA text memory holds (`screen`), but for the cursor's cell
    screen = c("screen")["text"]
    for got, want in zip(text, screen):
        assert all(a == b or a == "?" or b == "." for a, b in zip(got, want)), (got, want)
    assert sum(row.count("?") for row in text) <= 1, shown
    assert c("state")["state"] == "running"
    c.close()
    stop(p, sock)


@pytest.mark.parametrize("src", ["fwvbe.S", "fwvbe_bios.S"])
def test_vbe_mode_drawn_by_the_guest_reaches_rfb(firmware_vm, tmp_path, src):
    """Bochs VBE: a boot sector sets 640x400x32 with the linear framebuffer, either through
    ports 0x1ce/0x1cf after probing the ID as the vgabios does (tests/guest/fwvbe.S) or
    through SeaBIOS's vgabios, VBE 4F01h/4F02h, which must find our DISPI interface and say
    the framebuffer is BAR 0 of the display's PCI function (fwvbe_bios.S: SeaBIOS ran the
    vgabios as that function's ROM); each finds BAR 0 where SeaBIOS put it and draws there;
    an RFB client gets those pixels and `screen` says graphics. The video memory was a KVM
    slot at that address (placed, never refused), not MMIO exits."""
    vnc = tmp_path / "vnc.sock"
    p, serial, sock = firmware_vm(src, "--vnc", vnc)
    wait_serial(p, serial, "VPS-VBE drawn")
    c = Control(sock)
    assert c("screen") == {"ok": True, "mode": "graphics"}
    with rfb.Rfb(rfb.sock_stream(vnc)) as r:
        r.update()
        assert (r.width, r.height) == (640, 400)
        assert r.pixel(0, 0) == (0x33, 0x66, 0x99)
        assert r.pixel(639, 99) == (0x33, 0x66, 0x99)
        assert r.pixel(0, 100) == (0xff, 0, 0) and r.pixel(639, 199) == (0xff, 0, 0)
        assert r.pixel(320, 200) == (0x33, 0x66, 0x99)
        assert r.pixel(639, 399) == (0x33, 0x66, 0x99)
    assert c("state")["state"] == "running"
    c.close()
    err = stop(p, sock)
    m = re.search(r"vga \(slot \d+\): video memory at (0x[0-9a-f]+), placed ([1-9]\d*) times, "
                  r"0 placements refused; 0 bad register writes", err)
    assert m, err
    # where SeaBIOS put BAR 0: in its q35 window, 0xc0000000 up to the IO-APIC
    assert 0xc0000000 <= int(m[1], 16) < 0xfec00000, m[0]


def test_rfb_keys_reach_the_guest(firmware_vm, tmp_path):
    """RFB key events (X keysyms, shift pressed by the client as noVNC does) reach the
    PS/2 keyboard as scan codes: the boot sector reads them through int 16h."""
    vnc = tmp_path / "vnc.sock"
    p, serial, sock = firmware_vm("fwkeys.S", "--vnc", vnc)
    wait_serial(p, serial, "VPS-KEYS ready")
    with rfb.Rfb(rfb.sock_stream(vnc)) as r:
        r.key(rfb.XK_SHIFT_L, True)
        r.key(ord("H"))
        r.key(rfb.XK_SHIFT_L, False)
        for ch in "i, 42":
            r.key(ord(ch))
        r.key(rfb.XK_RETURN)
        text = wait_serial(p, serial, " done", timeout=60)
    assert "VPS-KEYS ready\nHi, 42 done" in text, text
    stop(p, sock)


def run_vmm(*args):
    return subprocess.run([str(VMM), *map(str, args)], capture_output=True, text=True,
                          timeout=30)


@pytest.mark.parametrize("content,needle", [
    (b"", "its size is not whole 64 KiB blocks"),
    (bytes(100 << 10), "its size is not whole 64 KiB blocks"),
    (bytes(128 << 10), "no jump at the reset vector"),
    (bytes(32 << 20), "its size is not whole 64 KiB blocks"),
], ids=["empty", "100k", "no-jump", "32m"])
def test_bad_firmware_refused(tmp_path, content, needle):
    bad = tmp_path / "bios.bin"
    bad.write_bytes(content)
    r = run_vmm("--firmware", bad, "--memory", "64M")
    assert r.returncode == 2, r.stderr
    assert f"`firmware`: `{bad}`: {needle}" in r.stderr


def test_missing_firmware_and_bad_vgabios_refused(tmp_path):
    r = run_vmm("--firmware", tmp_path / "none.bin")
    assert r.returncode == 2 and "`firmware`: read" in r.stderr, r.stderr
    bad = tmp_path / "vga.bin"
    bad.write_bytes(b"\x55\xaa\xff" + bytes(1000))  # claims 130 KiB in 1 KiB
    r = run_vmm("--firmware", BIOS, "--vgabios", bad)
    assert r.returncode == 2 and f"`vgabios`: `{bad}` is not an option ROM" in r.stderr, \
        r.stderr
    empty = tmp_path / "empty.iso"
    empty.write_bytes(b"")
    r = run_vmm("--firmware", BIOS, "--cdrom", empty)
    assert r.returncode == 2 and "is not an image file of at least 2 KiB" in r.stderr, r.stderr
    r = run_vmm("--firmware", BIOS, "--vnc", tmp_path / "vnc.sock")
    assert r.returncode == 2 and "`vnc`: only with a display" in r.stderr, r.stderr
    r = run_vmm("--firmware", BIOS, "--cmdline", "console=ttyS0")
    assert r.returncode == 2 and "`firmware`: takes no initrd, cmdline" in r.stderr


def test_screen_without_display(tmp_path):
    sock = tmp_path / "ctl.sock"
    p = subprocess.Popen([str(VMM), "--micro", MICRO / "spin64.bin", "--mode", "long",
                          "--serial", "none", "--control", sock], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        c = Control(sock)
        r = c("screen")
        assert r == {"ok": False, "error": "this VM has no display"}, r
        r = c("key", key="enter")
        assert r == {"ok": False, "error": "this VM has no keyboard"}, r
        c.close()
        stop(p, sock)
    finally:
        if p.poll() is None:
            p.kill()
