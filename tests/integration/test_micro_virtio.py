# SPDX-License-Identifier: GPL-2.0-or-later
"""The PCI bus and the virtio devices of vps-vmm, driven by C micro-guests.

Each guest (tests/guest/micro/*64.c on the runtime in rt.c and the virtio-pci
driver in virtio.c) runs on this machine's /dev/kvm in long mode, prints
lines on COM1 (our stdout) and ends the VM with its own status through the
exit port: 0 for success, a distinct code per failed check. These tests
check the status, the lines, and what the guest did on the host side: the
disk image's bytes, the monitor's log and its RSS under the balloon.
"""
import os
import re
import select
import subprocess
import time

import pytest

from framework.vmm import JAIL, MICRO, VMM, Control, needs_kvm

MIB = 2**20

pytestmark = needs_kvm

# What blk64.c expects: byte i of sector n, salted (PAT_IMAGE, PAT_WRITTEN there).
PAT_IMAGE, PAT_WRITTEN = 0x5A, 0xC3
SECTORS = 64


def sector(n, salt):
    return bytes(((n * 37 + i) ^ salt) & 0xFF for i in range(512))


def micro_argv(name, *extra, memory="64M"):
    return [str(VMM), "--micro", str(MICRO / f"{name}.bin"), "--mode", "long", "--exit-port",
            "--memory", memory, *JAIL, *map(str, extra)]


def run_micro(name, *extra, timeout=60):
    return subprocess.run(micro_argv(name, *extra), capture_output=True, text=True,
                          timeout=timeout)


# Where a queue notification is served (docs/vmm.md, "Notifications and
# interrupts"): by default KVM signals the queue's ioeventfd and the device's
# I/O thread serves it; --no-ioeventfd keeps the old path, an MMIO exit served
# on the vCPU. The device tests run both ways.
PATHS = {"ioeventfd": (), "exit": ("--no-ioeventfd",)}


def assert_notified_by(stderr, device, path):
    """The monitor's closing line for `device` says every notification came
    the way `path` means (this machine's KVM, PVM, has ioeventfds)."""
    m = re.search(rf"virtio-{device} \(slot \d+\): notifications (\d+) by ioeventfd, "
                  rf"(\d+) by exit", stderr)
    assert m, stderr
    by_ioeventfd, by_exit = int(m[1]), int(m[2])
    if path == "ioeventfd":
        assert by_ioeventfd > 0 and by_exit == 0, m[0]
    else:
        assert by_ioeventfd == 0 and by_exit > 0, m[0]


@pytest.fixture
def image(tmp_path):
    """A 32 KiB raw image with sector n holding sector(n, PAT_IMAGE)."""
    path = tmp_path / "disk.img"
    path.write_bytes(b"".join(sector(n, PAT_IMAGE) for n in range(SECTORS)))
    return path


# --- pci64 -------------------------------------------------------------------

def pci_line(slot, devid, cls, bar, caps, vectors, queues):
    return (f"slot {slot:02x} 1af4:{devid:04x} class {cls:06x} bar0 {bar:08x} size 8000 "
            f"caps {caps} msix {vectors} queues {queues}")


RNG = (0x1044, 0xFF0000, "common notify isr", 2, 1)
BALLOON = (0x1045, 0x058000, "common notify isr device", 4, 3)
BLK = (0x1042, 0x018000, "common notify isr device", 2, 1)


@pytest.mark.parametrize("disks", [0, 2])
def test_pci_bus_enumeration(tmp_path, disks):
    extra = []
    for i in range(disks):
        img = tmp_path / f"d{i}.img"
        img.write_bytes(bytes(4096))
        extra += ["--disk", f"path={img}" + (",readonly=on" if i else "")]
    r = run_micro("pci64", *extra)
    assert r.returncode == 0, r.stdout + r.stderr
    # machine.c: slot 0 the bridge, then blk per --disk, rng, balloon; BARs
    # placed back to back from the bottom of the 32-bit window, 32 KiB each.
    devs = [BLK] * disks + [RNG, BALLOON]
    want = ["slot 00 8086:29c0 class 060000"]
    want += [pci_line(i + 1, *d[:2], 0xC0000000 + 0x8000 * i, *d[2:]) for i, d in enumerate(devs)]
    want.append(f"VPS-MICRO pci64 ok functions={len(devs) + 1}")
    assert r.stdout.splitlines() == want


# --- blk64 -------------------------------------------------------------------

# The disk's request path (docs/vmm.md, "The block path"): --io-uring through
# io_uring on the I/O thread, which the jail's device class allows
# io_uring_enter for; by default, and for notifications served on the vCPU
# even with --io-uring, by pread/pwrite.
BLK_PATHS = {"io_uring": ("--io-uring",), "sync": (), "exit": ("--io-uring", "--no-ioeventfd")}


def assert_disk_path(stderr, path):
    """The monitor's start and closing lines for disk 0 say which path served it."""
    start = re.search(r"disk\[0\]: 1 request queue, (.*)", stderr)
    end = re.search(r"disk\[0\]: (\d+) reads, (\d+) writes, (\d+) flushes, (\d+) errors; "
                    r"(\d+) through io_uring", stderr)
    assert start and end, stderr
    reads, writes, flushes, _, uring = map(int, end.groups())
    assert reads > 0 and writes > 0 and flushes > 0, end[0]
    if path == "io_uring":
        assert start[1] == "io_uring on the I/O thread", start[0]
        # every read, write and flush went through the ring, inside the jail
        assert uring == reads + writes + flushes, end[0]
    else:
        assert uring == 0, end[0]
        if path == "sync":
            assert start[1] == "synchronous pread/pwrite", start[0]


@pytest.mark.parametrize("path", BLK_PATHS)
def test_blk_read_write_flush_getid(image, path):
    r = run_micro("blk64", "--disk", f"path={image},id=vps-disk-serial01", *BLK_PATHS[path])
    assert r.returncode == 0, r.stdout + r.stderr
    assert_notified_by(r.stderr, "blk", "exit" if path == "exit" else "ioeventfd")
    assert_disk_path(r.stderr, path)
    assert r.stdout.splitlines() == [
        f"capacity {SECTORS} rw",
        "serial vps-disk-serial01",
        "VPS-MICRO blk64 ok rw",
    ]
    data = image.read_bytes()
    assert len(data) == SECTORS * 512
    for n in range(SECTORS):
        want = sector(n, PAT_WRITTEN if n == 3 else PAT_IMAGE)
        assert data[n * 512:(n + 1) * 512] == want, f"sector {n}"


def test_blk_serial_of_twenty_bytes_is_not_terminated(image):
    # virtio 1.2 §5.2.6: 20 bytes, NUL-padded only when shorter.
    r = run_micro("blk64", "--disk", f"path={image},id=ABCDEFGHIJKLMNOPQRST")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "serial ABCDEFGHIJKLMNOPQRST\n" in r.stdout


def test_blk_readonly_write_fails_and_file_is_unchanged(image):
    before = image.read_bytes()
    mtime = image.stat().st_mtime_ns
    r = run_micro("blk64", "--disk", f"path={image},readonly=on")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == [f"capacity {SECTORS} ro", "serial ",
                                     "VPS-MICRO blk64 ok ro"]
    assert image.read_bytes() == before
    assert image.stat().st_mtime_ns == mtime


# --- rng64 -------------------------------------------------------------------

@pytest.mark.parametrize("path", PATHS)
def test_rng_reads(path):
    r = run_micro("rng64", *PATHS[path])
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == "VPS-MICRO rng64 ok\n"
    assert_notified_by(r.stderr, "rng", path)


# --- hostile64 ---------------------------------------------------------------

HOSTILE_CASES = ["loop", "far", "wrap", "head", "idx", "order", "indirect", "ring"]
# virtqueue.c's reason for each case, as logged through pr_ratelimited().
HOSTILE_LOG = {
    "loop": "descriptor chain loops or is longer than its table",
    "far": "buffer outside guest RAM",
    "wrap": "buffer outside guest RAM",
    "head": "avail ring names a descriptor out of range",
    "idx": "avail idx moved by more than the queue size",
    "order": "device-readable descriptor after a device-writable one",
    "indirect": "indirect descriptor without VIRTIO_F_INDIRECT_DESC",
    "ring": "ring outside guest RAM",
}
FLOOD = 40  # hostile64.c


@pytest.mark.parametrize("path", PATHS)
def test_hostile_driver_gets_needs_reset_and_monitor_survives(path):
    """The hostile chains reach the device through the queue's ioeventfd
    (served on the I/O thread, asynchronously to the vCPU) as well as
    through the old MMIO exit; the moved BAR case checks the ioeventfd
    follows the BAR (no exit at the new address, nothing at the old)."""
    t0 = time.monotonic()
    r = run_micro("hostile64", *PATHS[path])
    elapsed = time.monotonic() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    want = [f"hostile {c}: needs reset, recovered" for c in HOSTILE_CASES]
    want += ["hostile junk: ignored", "hostile moved: answers at the new address only",
             f"hostile flood: {FLOOD} loops, recovered", "VPS-MICRO hostile64 ok"]
    assert r.stdout.splitlines() == want
    lines = [ln for ln in r.stderr.splitlines() if "virtqueue:" in ln]
    # Each distinct case came before the flood, so each is logged once, in order.
    for c in HOSTILE_CASES:
        assert any(HOSTILE_LOG[c] in ln and "device needs reset" in ln for ln in lines), c
    # The flood is not: one call site prints 10 lines per 5 s (common/log.h).
    assert len(lines) <= 10 * (1 + int(elapsed // 5)) < len(HOSTILE_CASES) + FLOOD
    assert "guest crashed" not in r.stderr
    # junk's writes to absent queues are not notifications: none counts
    assert_notified_by(r.stderr, "rng", path)


# --- balloon64 ---------------------------------------------------------------


class Lines:
    """The guest's COM1 output, line by line, with a deadline on every wait."""

    def __init__(self, proc):
        self.proc, self.buf, self.seen = proc, b"", []

    def wait_for(self, pattern, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                self.seen.append(line.decode())
                m = re.fullmatch(pattern, self.seen[-1])
                if m:
                    return m
            left = deadline - time.monotonic()
            assert left > 0, f"no line matching {pattern!r}; saw {self.seen}"
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                assert chunk, f"guest ended before {pattern!r}; saw {self.seen}"
                self.buf += chunk


def test_balloon_inflate_drops_rss_and_deflate_returns_pages(tmp_path):
    sock = tmp_path / "ctl.sock"
    mem = 64 * MIB
    p = subprocess.Popen(micro_argv("balloon64", "--control", sock, memory="64M"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ctl = None
    try:
        out = Lines(p)
        touched = int(out.wait_for(r"VPS-MICRO balloon64 ready pages=(\d+)").group(1))
        ctl = Control(sock)
        before = ctl("stats")
        assert before["ok"] and before["balloon"]["actual_pages"] == 0
        # Ask for the pages the guest touched back: target = RAM less them.
        assert ctl("balloon", target=mem - touched * 4096) == {"ok": True}
        assert int(out.wait_for(r"balloon inflated pages=(\d+)").group(1)) == touched
        after = ctl("stats")
        assert after["balloon"]["target_pages"] == touched
        assert after["balloon"]["actual_pages"] == touched
        assert after["balloon"]["inflated_bytes"] == touched * 4096
        # the inflate queue's notifications came by ioeventfd (stats, docs/vmm.md)
        balloon = next(v for v in after["virtio"] if v["device"] == "balloon")
        assert balloon["notify_ioeventfd"] > 0 and balloon["notify_exit"] == 0, balloon
        # The pages went back to the host: most of their 16 MiB leave the RSS.
        dropped = before["rss_bytes"] - after["rss_bytes"]
        assert dropped >= touched * 4096 * 3 // 4, (before["rss_bytes"], after["rss_bytes"])
        assert ctl("balloon", target=mem) == {"ok": True}
        assert int(out.wait_for(r"balloon deflated zeroed=(\d+)").group(1)) == touched
        out.wait_for(r"VPS-MICRO balloon64 ok")
        assert p.wait(timeout=30) == 0, p.stderr.read().decode()
    finally:
        if ctl:
            ctl.close()
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
        p.stdout.close()
        p.stderr.close()


# --- net64 -------------------------------------------------------------------

ETH_P_VPS = 0x88B5  # net64.c's ethertype (IEEE local experimental)


@pytest.fixture
def mq_tap():
    """A tap of our own (the pid in its name: other sessions make taps too),
    made multi-queue or not as the test asks, up, deleted at the end."""
    made = []

    def make(multi_queue):
        name = f"vmq{os.getpid() % 100000}{len(made)}"
        subprocess.run(["ip", "tuntap", "add", name, "mode", "tap"] +
                       (["multi_queue"] if multi_queue else []), check=True)
        made.append(name)
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
        return name

    yield make
    for name in made:
        subprocess.run(["ip", "link", "del", name], check=False)


def tap_frames(sock):
    """The payloads of net64's frames that reached the tap (AF_PACKET on it)."""
    got = []
    while select.select([sock], [], [], 0.5)[0]:
        frame = sock.recv(2048)
        if frame[12:14] == ETH_P_VPS.to_bytes(2, "big"):
            got.append(frame[14:27].decode())
    return sorted(got)


def packet_socket(tap):
    import socket
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_VPS))
    s.bind((tap, 0))
    return s


@pytest.mark.parametrize("path", PATHS)
def test_net_queue_pairs_control_queue_and_each_pair_transmits(mq_tap, path):
    """Two queue pairs on a multi-queue tap, one fd each: the guest reads
    max_virtqueue_pairs 2, its hostile VQ_PAIRS_SET commands are acked ERR
    and the good one OK (the device thread, or the vCPU with --no-ioeventfd,
    attaches the tap queue inside the jail: TUNSETQUEUE is allowed there),
    and a frame sent on each pair's transmit queue reaches the tap."""
    tap = mq_tap(True)
    sock = packet_socket(tap)
    r = run_micro("net64", "--net", f"tap={tap},queues=2", *PATHS[path])
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == "pairs 2\nVPS-MICRO net64 ok\n", r.stdout + r.stderr
    assert f"net[0]: tap `{tap}`, 2 queue pairs, user-space path" in r.stderr, r.stderr
    # four refusals logged (rate limited), two pairs in use at the end, one frame each way out
    assert "control command refused: queue pair count outside" in r.stderr, r.stderr
    assert "control command refused: VQ_PAIRS_SET whose data is not two bytes" in r.stderr
    assert re.search(r"virtio-net \(slot \d+\): offloads \w+, 2 queue pairs \(at most 2 in use; "
                     r"5 control commands, 4 refused\), user-space path \(rings handed over 0 times\); received \d+ frames "
                     r".*sent 2 ", r.stderr), r.stderr
    assert "attach tap queue" not in r.stderr and "detach tap queue" not in r.stderr, r.stderr
    assert tap_frames(sock) == ["VPS-MQ pair 0", "VPS-MQ pair 1"]
    assert_notified_by(r.stderr, "net", path)


def test_net_single_queue_tap_runs_one_pair_unless_asked(mq_tap):
    """A tap made without multi_queue (a persistent one vpsd or QEMU made):
    one vCPU, one pair, and no MQ or control queue on offer (the layout from
    before MQ); asked for two pairs the monitor refuses to start and says how
    to make the tap. (With more vCPUs and no `queues`, it runs one pair:
    test_vmm_linux's two-vCPU guests on their single-queue tap.)"""
    tap = mq_tap(False)
    sock = packet_socket(tap)
    r = run_micro("net64", "--net", f"tap={tap}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == "pairs 1\nno MQ offered\nVPS-MICRO net64 ok\n", r.stdout + r.stderr
    assert f"net[0]: tap `{tap}`, 1 queue pair, user-space path" in r.stderr, r.stderr
    assert tap_frames(sock) == ["VPS-MQ pair 0"]
    r = run_micro("net64", "--net", f"tap={tap},queues=2")
    assert r.returncode != 0 and "VPS-MICRO" not in r.stdout, r.stdout + r.stderr
    assert (f"tap `{tap}`: 2 queues asked, but it is single-queue (make it with "
            f"`ip tuntap add {tap} mode tap multi_queue`)") in r.stderr, r.stderr
