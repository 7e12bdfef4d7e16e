# SPDX-License-Identifier: GPL-2.0-or-later
"""vps-vmm snapshot and restore (docs/vmm.md, "Snapshots") on this machine's
/dev/kvm, with count64: a micro-guest that ticks a counter in its RAM every
~20 ms, prints it on COM1 and writes it to sector 1 of its disk and reads it
back. Snapshotted while it runs, the monitor killed, the snapshot restored in
a new process: the console goes on from the next tick, the disk still takes
writes. A state file that is not ours, of another version, truncated,
corrupt or hostile (sizes and addresses that would reach outside the VM),
and a VM of another shape, are refused with exit status 2 and a message
saying why, before the guest runs (its disk is untouched)."""
import hashlib
import os
import re
import shutil
import struct
import subprocess
import time
import zlib

import pytest

from framework.vmm import JAIL, JAIL_UID, MICRO, VMM, Control, needs_kvm

pytestmark = needs_kvm

COUNT = MICRO / "count64.bin"
MEMORY = 64 * 2**20


def argv(tmp_path, serial, *extra, memory="64M", disk=True):
    a = [str(VMM), "--micro", str(COUNT), "--mode", "long", "--memory", memory,
         "--serial", f"file:{serial}"]
    if disk:
        a += ["--disk", f"path={tmp_path / 'disk.img'}"]
    return a + list(extra)


def ticks(text):
    return [int(n) for n in re.findall(r"tick (\d+)\n", text)]


def wait_ticks(path, p, n, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        t = ticks(path.read_text() if path.exists() else "")
        if t and t[-1] >= n:
            return t
        assert p.poll() is None, p.stderr.read()
        assert time.monotonic() < deadline, f"no tick {n}: {t[-3:]}"
        time.sleep(0.02)


def start(tmp_path, name, *extra, **kw):
    serial, sock = tmp_path / f"{name}.log", tmp_path / f"{name}.sock"
    p = subprocess.Popen(argv(tmp_path, serial, "--control", str(sock), *extra, **kw),
                         stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not sock.exists():
        assert p.poll() is None, p.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return p, Control(sock), serial


def sector1(tmp_path):
    with open(tmp_path / "disk.img", "rb") as f:
        f.seek(512)
        return f.read(512)


@pytest.fixture
def disk(tmp_path):
    with open(tmp_path / "disk.img", "wb") as f:
        f.truncate(1 << 20)
    return tmp_path / "disk.img"


@pytest.fixture
def snapdir(tmp_path):
    d = tmp_path / "snaps"
    d.mkdir()
    os.chown(d, JAIL_UID, JAIL_UID)
    return d


def take_snapshot(tmp_path, snapdir, name="s1", extra=()):
    """A jailed count64 snapshotted (left paused) after a few ticks, then
    killed; returns (snapshot dir, last tick the source printed)."""
    p, ctl, serial = start(tmp_path, "src", *JAIL, "--snapshot-dir", str(snapdir), *extra)
    try:
        wait_ticks(serial, p, 5)
        r = ctl("snapshot", path=name, resume=False)
        assert r["ok"] is True and r["state"] == "paused", r
        before = serial.read_text()
        time.sleep(0.3)  # paused: not one more tick
        assert serial.read_text() == before
    finally:
        ctl.close()
        p.kill()
        p.wait(timeout=10)
    return snapdir / name, before


# the disk by pread/pwrite (the default) and through io_uring, whose requests
# are in the kernel outside the device lock until the snapshot drains them
DISK_PATHS = {"pread": (), "io_uring": ("--io-uring",)}


def restored_goes_on(tmp_path, snap, before, last, *extra):
    """A new process restored from snap on the same disk: the counter, the console and the
    disk go on from tick `last` (the source's console was `before`): no gap, no repeat, no
    restart."""
    p, ctl, serial = start(tmp_path, "dst", "--restore", str(snap), *extra)
    try:
        wait_ticks(serial, p, last + 10)
        assert ctl("state")["state"] == "running"
        assert ctl("stop") == {"ok": True}
        assert p.wait(timeout=10) == 5
    finally:
        ctl.close()
        if p.poll() is None:
            p.kill()
    whole = ticks(before + serial.read_text())
    assert whole == list(range(1, whole[-1] + 1)), whole
    assert whole[-1] >= last + 10
    m = re.match(rb"COUNT (\d+)\n", sector1(tmp_path))
    assert m and int(m.group(1)) > last + 5


@pytest.mark.parametrize("path", DISK_PATHS)
def test_snapshot_restore_continues_counter_console_and_disk(tmp_path, disk, snapdir, path):
    extra = DISK_PATHS[path]
    # a first snapshot of a running VM resumes it by default: it ticks on
    p, ctl, serial = start(tmp_path, "live", *JAIL, "--snapshot-dir", str(snapdir), *extra)
    try:
        n = wait_ticks(serial, p, 3)[-1]
        r = ctl("snapshot", path="running")
        assert r["ok"] is True and r["state"] == "running", r
        assert r["paused_us"] > 0
        wait_ticks(serial, p, n + 5)
        # one name under the snapshot directory, nothing else
        for bad in ("../x", "a/b", ".."):
            r = ctl("snapshot", path=bad)
            assert r["ok"] is False and "one name" in r["error"], r
        assert not (tmp_path / "x").exists()
    finally:
        ctl.close()
        p.kill()
        p.wait(timeout=10)

    snap, before = take_snapshot(tmp_path, snapdir, extra=extra)
    last = ticks(before)[-1]
    assert sorted(os.listdir(snap)) == ["memory", "state"]
    st = os.stat(snap / "memory")
    assert st.st_size == MEMORY
    assert st.st_blocks * 512 < MEMORY // 4, "untouched RAM should stay holes"
    disk_at_snapshot = sector1(tmp_path)
    assert disk_at_snapshot.startswith(f"COUNT {last}\n".encode())

    # a new process, the same disk: the counter, the console and the disk go on
    restored_goes_on(tmp_path, snap, before, last, *extra)


def test_snapshot_while_frozen_matches_the_disk_copied_then(tmp_path, disk, snapdir):
    """vpsd's memory snapshot (docs/storage.md): `freeze`, `snapshot`, the
    disk copied, `thaw`. The snapshot leaves the VM frozen (no tick, no
    write while the copy is made), `resume` is refused while frozen, and the
    guest runs on after the thaw. Restored with the disk copied at that
    instant, the counter goes on from the frozen tick without gap or repeat,
    and the disk takes its writes again (sector 1 holds a later tick)."""
    p, ctl, serial = start(tmp_path, "live", *JAIL, "--snapshot-dir", str(snapdir))
    try:
        wait_ticks(serial, p, 5)
        assert ctl("freeze")["state"] == "frozen"
        r = ctl("snapshot", path="f1", resume=True)
        assert r["ok"] is False and "frozen" in r["error"], r
        r = ctl("snapshot", path="f1")
        assert r["ok"] is True and r["state"] == "frozen", r
        before = serial.read_text()
        copy = tmp_path / "disk-at-snapshot.img"
        shutil.copyfile(disk, copy)
        time.sleep(0.3)  # still frozen: not one more tick, not one more write
        assert serial.read_text() == before
        assert copy.read_bytes() == disk.read_bytes()
        assert ctl("thaw")["state"] == "running"
        last = ticks(before)[-1]
        wait_ticks(serial, p, last + 5)  # it runs on, and writes on
        m = re.match(rb"COUNT (\d+)\n", sector1(tmp_path))
        assert m and int(m.group(1)) > last
    finally:
        ctl.close()
        p.kill()
        p.wait(timeout=10)
    shutil.copyfile(copy, disk)  # the revert of the disk
    restored_goes_on(tmp_path, snapdir / "f1", before, last)


@pytest.fixture
def snapshot(tmp_path, disk, snapdir):
    snap, _ = take_snapshot(tmp_path, snapdir)
    return snap


def restore(tmp_path, snap, *extra, **kw):
    serial = tmp_path / "refused.log"
    before = hashlib.sha256((tmp_path / "disk.img").read_bytes()).hexdigest()
    r = subprocess.run(argv(tmp_path, serial, "--restore", str(snap), *extra, **kw),
                       capture_output=True, text=True, timeout=60)
    assert hashlib.sha256((tmp_path / "disk.img").read_bytes()).hexdigest() == before
    assert not ticks(serial.read_text() if serial.exists() else "")
    return r


def sections(data):
    """(offset, tag, id, len) of each section of a state file."""
    out, off = [], 32
    for _ in range(struct.unpack_from("<I", data, 12)[0]):
        tag, sid, ln, _ = struct.unpack_from("<4sIII", data, off)
        out.append((off, tag, sid, ln))
        off += 16 + ((ln + 7) & ~7)
    return out


def reseal(data):
    """Fix the header's checksum, as an attacker who knows the format would."""
    data = bytearray(data)
    struct.pack_into("<I", data, 24, zlib.crc32(bytes(data[32:])))
    return bytes(data)


def variant(tmp_path, snap, name, state=None, memory_size=None):
    d = tmp_path / name
    shutil.copytree(snap, d)
    if state is not None:
        (d / "state").write_bytes(state)
    if memory_size is not None:
        os.truncate(d / "memory", memory_size)
    return d


def test_good_snapshot_has_a_valid_header(snapshot):
    data = (snapshot / "state").read_bytes()
    assert data[:8] == b"VPSVMST\n"
    assert struct.unpack_from("<I", data, 8)[0] == 1
    assert struct.unpack_from("<Q", data, 16)[0] == len(data) - 32
    assert struct.unpack_from("<I", data, 24)[0] == zlib.crc32(data[32:])
    tags = {t for _, t, _, _ in sections(data)}
    assert {b"VM  ", b"REGS", b"SREG", b"MSRS", b"EVNT", b"CLOK", b"UART", b"VIO "} <= tags


def corrupt_variants(data):
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    v2 = bytearray(data)
    struct.pack_into("<I", v2, 8, 2)
    # a section claiming 4 GiB, checksum made right
    off = sections(data)[0][0]
    huge = bytearray(data)
    struct.pack_into("<I", huge, off + 8, 0xfffffff0)
    return {
        "truncated": (data[:-100], "truncated"),
        "empty": (b"", "not a vps-vmm snapshot"),
        "foreign": (b"QEVM" + data[4:], "not a vps-vmm snapshot"),
        "flipped": (bytes(flipped), "checksum"),
        "version": (bytes(v2), "version 2; this vps-vmm reads version 1"),
        "huge_section": (reseal(huge), "runs past the end"),
    }


@pytest.mark.parametrize("case", ["truncated", "empty", "foreign", "flipped", "version",
                                  "huge_section"])
def test_broken_state_file_is_refused(tmp_path, snapshot, case):
    state, needle = corrupt_variants((snapshot / "state").read_bytes())[case]
    r = restore(tmp_path, variant(tmp_path, snapshot, case, state=state))
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr, r.stderr


def test_hostile_queue_address_is_refused(tmp_path, snapshot):
    """A well-formed, correctly checksummed state file whose disk queue sits
    outside guest RAM: the rings are checked as a driver's would be."""
    data = bytearray((snapshot / "state").read_bytes())
    for off, tag, sid, ln in sections(data):
        if tag == b"VIO " and sid == 1:
            # struct vdev_state: features (16), ids (4), status (4), then queue 0's desc
            struct.pack_into("<Q", data, off + 16 + 24, 0x7ffffffff000)
    r = restore(tmp_path, variant(tmp_path, snapshot, "hostile", state=reseal(data)))
    assert r.returncode == 2, r.stderr
    assert "queue 0 is not a valid ring" in r.stderr, r.stderr


def test_other_memory_size_is_refused(tmp_path, snapshot):
    r = restore(tmp_path, snapshot, memory="128M")
    assert r.returncode == 2, r.stderr
    assert f"snapshot is of a VM with {MEMORY} bytes of memory, this one has {128 * 2**20}" \
        in r.stderr, r.stderr


def test_short_memory_file_is_refused(tmp_path, snapshot):
    r = restore(tmp_path, variant(tmp_path, snapshot, "short", memory_size=MEMORY // 2))
    assert r.returncode == 2, r.stderr
    assert f"memory file is {MEMORY // 2} bytes, the VM has {MEMORY}" in r.stderr, r.stderr


def test_other_devices_are_refused(tmp_path, snapshot):
    r = restore(tmp_path, snapshot, disk=False)
    assert r.returncode == 2, r.stderr
    assert "pass the same disks" in r.stderr, r.stderr


def test_jailed_snapshot_needs_a_snapshot_dir(tmp_path, disk):
    p, ctl, serial = start(tmp_path, "nodir", *JAIL)
    try:
        wait_ticks(serial, p, 2)
        r = ctl("snapshot", path=str(tmp_path / "s"))
        assert r["ok"] is False and "snapshot_dir" in r["error"], r
        assert not (tmp_path / "s").exists()
        assert ctl("state")["state"] == "running"
    finally:
        ctl.close()
        p.kill()
        p.wait(timeout=10)
