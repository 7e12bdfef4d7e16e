# SPDX-License-Identifier: GPL-2.0-or-later
"""vps-vmm's `freeze` and `thaw` (docs/vmm.md, "Control socket";
docs/storage.md, "Snapshots"), against a micro-guest on /dev/kvm that never
stops writing its disk (tests/guest/micro/blkwrite64.c): eight 128 KiB
requests always in flight, every sector stamped with its request's
generation and its own number. (It writes about 100 requests a second on
this loaded machine: the guest's stores are slow.)

The check of a copy is this disk format's fsck: every region must be of one
generation (or never written); a region that mixes two caught a request half
written. A copy of the image taken while the guest writes, with no freeze,
is shown to fail it (so the check can fail); a copy taken between `freeze`
and `thaw` passes it every time, the image does not change while frozen, and
the guest writes on after `thaw`. Both block paths: synchronous (what vpsd
runs) and io_uring."""

import os
import struct
import subprocess
import time

import pytest

from framework.vmm import JAIL, MICRO, VMM, Control, needs_kvm

pytestmark = needs_kvm

SECTOR, REGION = 512, 256  # as blkwrite64.c
IMAGE_MIB = 8
PATHS = {"sync": (), "io_uring": ("--io-uring",)}


def torn_regions(data):
    """The regions of `data` that are not one request's whole write, and the
    newest generation seen."""
    torn, newest = [], 0
    size = REGION * SECTOR
    for r in range(len(data) // size):
        region = data[r * size:(r + 1) * size]
        gen = struct.unpack_from("<Q", region, 0)[0]
        newest = max(newest, gen)
        if gen == 0:
            ok = region == bytes(size)
        else:
            ok = all(struct.unpack_from("<QQ", region, n * SECTOR) == (gen, r * REGION + n)
                     and region[n * SECTOR + 16:(n + 1) * SECTOR] == bytes(SECTOR - 16)
                     for n in range(REGION))
        if not ok:
            torn.append(r)
    return torn, newest


def slow_copy(image):
    """A copy as a full copy of a big disk reads it: region by region, each
    in two halves with a moment between (the time a large copy takes)."""
    half, out = REGION * SECTOR // 2, []
    with open(image, "rb") as f:
        for r in range(IMAGE_MIB * 2**20 // (2 * half)):
            out.append(os.pread(f.fileno(), half, 2 * half * r))
            time.sleep(0.004)
            out.append(os.pread(f.fileno(), half, 2 * half * r + half))
    return b"".join(out)


def newest(image):
    return torn_regions(image.read_bytes())[1]


def wait_for_writes(image, after, timeout=30):
    deadline = time.monotonic() + timeout
    while (n := newest(image)) <= after:
        assert time.monotonic() < deadline, f"no write past generation {after}"
        time.sleep(0.02)
    return n


@pytest.fixture(params=PATHS)
def writer(tmp_path, request):
    """A running blkwrite64 on an 8 MiB image; yields (Control, image path)."""
    image, sock, serial = tmp_path / "disk.img", tmp_path / "ctl.sock", tmp_path / "serial.log"
    with open(image, "wb") as f:
        f.truncate(IMAGE_MIB << 20)
    p = subprocess.Popen([str(VMM), "--micro", str(MICRO / "blkwrite64.bin"), "--mode", "long",
                          "--memory", "64M", "--disk", f"path={image}", "--serial",
                          f"file:{serial}", "--control", str(sock), *JAIL,
                          *PATHS[request.param]], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120  # its first stores to each page are slow
    while b"VPS-MICRO blkwrite64 running" not in (serial.read_bytes() if serial.exists()
                                                   else b""):
        assert p.poll() is None, p.stderr.read() + serial.read_text()
        assert time.monotonic() < deadline, "guest marker never came"
        time.sleep(0.01)
    ctl = Control(sock)
    yield ctl, image
    ctl.close()
    p.kill()
    p.wait(timeout=10)
    assert "VPS-MICRO FAIL" not in serial.read_text()


def test_a_copy_while_it_writes_is_torn(writer):
    """The negative control: without a freeze, the same copy taken while
    the guest writes catches requests half written, and the check says so."""
    ctl, image = writer
    for attempt in range(40):
        torn, _ = torn_regions(slow_copy(image))
        if torn:
            break
    assert torn, "40 copies of a disk being written were all whole: the check cannot fail"
    assert ctl("state")["state"] == "running"


def test_a_copy_while_frozen_is_whole_and_the_guest_writes_on(writer):
    ctl, image = writer
    gen = 0
    for i in range(8):
        gen = wait_for_writes(image, gen)
        r = ctl("freeze")
        assert r["ok"] and r["state"] == "frozen", r
        assert ctl("state")["state"] == "frozen"
        copy = slow_copy(image)
        assert image.read_bytes() == copy, "the image changed while frozen"
        assert ctl("thaw") == {"ok": True, "state": "running"}
        torn, gen = torn_regions(copy)
        assert torn == [], f"copy {i}: regions {torn} hold a request half written"
    wait_for_writes(image, gen)  # and it writes on after the last thaw


def test_frozen_refuses_what_would_undo_it(writer, tmp_path):
    ctl, image = writer
    assert ctl("freeze")["state"] == "frozen"
    for cmd, kw in (("freeze", {}), ("pause", {}), ("resume", {}),
                    ("snapshot", {"path": str(tmp_path / "s"), "resume": True}),
                    ("migrate", {"to": str(tmp_path / "m.sock")})):
        r = ctl(cmd, **kw)
        assert r["ok"] is False, (cmd, r)
        assert ctl("state")["state"] == "frozen", cmd
    assert not (tmp_path / "s").exists()
    assert ctl("thaw")["state"] == "running"
    assert ctl("thaw") == {"ok": True, "state": "running"}  # a second thaw changes nothing
    # a VM paused before the freeze stays paused after the thaw
    assert ctl("pause")["state"] == "paused"
    assert ctl("freeze")["state"] == "frozen"
    assert ctl("thaw")["state"] == "paused"
    assert ctl("resume")["state"] == "running"


def take(ctl):
    """Every range the disk's dirty-block log holds, as (offset, length)."""
    out, more = [], True
    while more:
        r = ctl("dirty-log", op="take", disk=0)
        assert r["ok"] and r["disk"] == 0 and r["disks"] == 1 and r["id"] == "", r
        out += [tuple(x) for x in r["ranges"]]
        more = r["more"]
    return out


def test_a_copy_made_while_it_writes_is_made_whole_by_the_dirty_log(writer):
    """The live move's disk pre-copy (docs/cluster.md): the whole image is
    copied while the guest writes (torn, as above), then only the blocks the
    dirty-block log took, twice while it runs; then, frozen with its vCPUs
    running, the last ranges. The copy is then the image byte for byte,
    with no request half written, and the guest writes on after `thaw`."""
    ctl, image = writer
    r = ctl("dirty-log", op="start")
    assert r == {"ok": True, "disks": 1, "block": 65536}, r
    size = IMAGE_MIB << 20
    copy = bytearray(slow_copy(image))
    sent = [size]

    def apply(ranges):
        with open(image, "rb") as f:
            for off, length in ranges:
                assert off % 65536 == 0 and 0 < length and off + length <= size, (off, length)
                copy[off:off + length] = os.pread(f.fileno(), length, off)
        sent.append(sum(n for _, n in ranges))

    for _ in range(2):
        apply(take(ctl))
    r = ctl("freeze", run=True)
    assert r["ok"] and r["state"] == "frozen", r
    apply(take(ctl))
    assert bytes(copy) == image.read_bytes(), "the copy differs from the held image"
    torn, gen = torn_regions(bytes(copy))
    assert torn == [] and gen > 0, torn
    assert ctl("thaw")["state"] == "running"
    assert ctl("dirty-log", op="stop") == {"ok": True, "disks": 1, "block": 65536}
    wait_for_writes(image, gen)
    # the rounds sent less than the whole image (the guest rewrites all 8 MiB over time)
    print(f"pre-copy: bytes per round {sent}")


def test_dirty_log_refuses_bad_requests(writer):
    ctl, _ = writer
    r = ctl("dirty-log", op="take", disk=0)
    assert r["ok"] is False and "`dirty-log` `start` first" in r["error"], r
    for kw, needle in (({}, "`op`: expected start, take or stop"),
                       ({"op": "all"}, "`op`: expected"),
                       ({"op": 1}, "`op`: expected"),
                       ({"op": "take"}, "`disk`: expected with `take` only"),
                       ({"op": "start", "disk": 0}, "`disk`: expected with `take` only"),
                       ({"op": "take", "disk": -1}, "`disk`: expected a disk's number"),
                       ({"op": "take", "disk": "0"}, "`disk`: expected a disk's number"),
                       ({"op": "take", "disk": 2**40}, "`disk`: expected a disk's number"),
                       ({"op": "take", "disk": 1}, "this VM has 1 disk(s)")):
        if kw.get("disk") == 1:
            assert ctl("dirty-log", op="start")["ok"]
        r = ctl("dirty-log", **kw)
        assert r["ok"] is False and needle in r["error"], (kw, r)
    assert ctl("state")["state"] == "running"
