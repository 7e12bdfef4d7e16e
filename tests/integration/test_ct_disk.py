# SPDX-License-Identifier: GPL-2.0-or-later
"""A system container's own disk (src/sys/disk.c) through the disktool driver
(tests/ct/disktool.c), on this host's real loop devices: thin images stay
thin through mkfs and are charged by what is written, reserved ones are
allocated up front, a full disk inside fails with ENOSPC there while the
host file keeps its size, grow works offline and online and never shrinks,
bad input is refused, and once unmounted and detached no loop device is
left behind. Every mount and loop device is undone in the fixture's
teardown, also when a test fails."""

import hashlib
import mmap
import os
import subprocess

import pytest

from framework import artefacts

DISKTOOL = artefacts.build_dir() / "tests" / "ct" / "disktool"
MiB = 1 << 20
CAP_SYS_RESOURCE = 24


def has_cap(bit):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> bit & 1)
    return False


def losetup_j(path):
    p = subprocess.run(["losetup", "-j", str(path)], capture_output=True,
                       text=True, check=True)
    return p.stdout.strip()


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Disks:
    """Runs disktool and remembers every image, loop device and mount it
    made, so that teardown can undo them in reverse."""

    def __init__(self, tool, tmp):
        self.tool, self.tmp = tool, tmp
        self.images, self.loops, self.mounts = [], [], []

    def run(self, *args, check=True):
        p = subprocess.run([self.tool, *map(str, args)], capture_output=True,
                           text=True, timeout=120)
        if check:
            assert p.returncode == 0, (f"disktool {' '.join(map(str, args))}"
                                       f": {p.returncode}\n{p.stderr}")
        return p

    def create(self, name, size, alloc="thin"):
        path = self.tmp / name
        self.images.append(path)
        self.run("create", path, size, alloc)
        return path

    def attach(self, path, ro=False):
        dev = self.run("attach", path, *(["ro"] if ro else [])).stdout.strip()
        assert dev.startswith("/dev/loop"), dev
        self.loops.append(dev)
        return dev

    def mount(self, dev, name="mnt", ro=False):
        target = self.tmp / name
        target.mkdir(exist_ok=True)
        self.run("mount", dev, target, *(["ro"] if ro else []))
        self.mounts.append(target)
        return target

    def umount(self, target):
        self.run("umount", target)
        self.mounts.remove(target)

    def usage(self, path):
        apparent, allocated = self.run("usage", path).stdout.split()
        return int(apparent), int(allocated)

    def teardown(self):
        for m in reversed(self.mounts):
            if subprocess.run(["umount", str(m)]).returncode:
                subprocess.run(["umount", "-l", str(m)])
        for dev in reversed(self.loops):
            subprocess.run(["losetup", "-d", dev], capture_output=True)
        # Whatever the test attached by other means, too.
        for img in self.images:
            if img.exists():
                for line in losetup_j(img).splitlines():
                    subprocess.run(["losetup", "-d", line.split(":")[0]])


@pytest.fixture(scope="module")
def disktool():
    if not DISKTOOL.exists():
        pytest.fail(f"{DISKTOOL} is not built: ninja -C $VPS_BUILD")
    if not os.path.exists("/dev/loop-control"):
        pytest.skip("/dev/loop-control is missing: this host has no loop "
                    "driver, so no disk can be attached")
    return str(DISKTOOL)


@pytest.fixture
def disks(disktool, tmp_path):
    d = Disks(disktool, tmp_path)
    yield d
    d.teardown()


def test_thin_stays_thin(disks):
    img = disks.create("thin.img", "256M", "thin")
    apparent, allocated = disks.usage(img)
    assert apparent == 256 * MiB
    # mkfs wrote only superblocks, bitmaps and the first inode table blocks.
    assert allocated < apparent // 16, allocated


def test_reserve_is_allocated(disks):
    img = disks.create("reserve.img", "64M", "reserve")
    apparent, allocated = disks.usage(img)
    assert apparent == 64 * MiB
    assert allocated >= apparent


def test_writes_are_charged(disks):
    img = disks.create("thin.img", "256M")
    mnt = disks.mount(disks.attach(img))
    _, before = disks.usage(img)
    subprocess.run(["dd", "if=/dev/urandom", f"of={mnt}/data", "bs=1M",
                    "count=8", "conv=fsync", "status=none"], check=True)
    _, after = disks.usage(img)
    # 8 MiB of data plus a little metadata and journal.
    assert 8 * MiB <= after - before < 12 * MiB, (before, after)


def direct_io_ok(path):
    """Whether the filesystem holding `path` reads it with O_DIRECT."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    except OSError:
        return False
    try:
        return os.preadv(fd, [mmap.mmap(-1, 4096)], 0) == 4096  # page-aligned
    except OSError:
        return False
    finally:
        os.close(fd)


def test_direct_io_no_double_cache(disks):
    """The loop device reads and writes its image with direct I/O: what a
    container writes is cached once, by its own filesystem (charged to its
    memory cgroup), not a second time in the host's cache of the image
    file. With the buffered loop device of before, the image file kept
    the 64 MiB written here resident (65.6 MiB by fincore)."""
    img = disks.create("dio.img", "256M")
    dev = disks.attach(img)
    dio = open(f"/sys/block/{os.path.basename(dev)}/loop/dio").read().strip()
    if not direct_io_ok(img):
        assert dio == "0", "direct I/O on a filesystem without O_DIRECT"
        pytest.skip(f"{img.parent} does not take O_DIRECT: the loop device is buffered there")
    assert dio == "1"
    mnt = disks.mount(dev)
    subprocess.run(["dd", "if=/dev/urandom", f"of={mnt}/data", "bs=1M", "count=64",
                    "conv=fsync", "status=none"], check=True)
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", str(img)],
                         capture_output=True, text=True, check=True).stdout
    assert int(out.split()[0]) < 8 * MiB, out
    # and what was written reads back through the device, past the caches
    disks.umount(mnt)  # the device goes with it (autoclear)
    mnt = disks.mount(disks.attach(img), "again")
    assert os.path.getsize(f"{mnt}/data") == 64 * MiB


def test_full_disk_stays_inside(disks):
    img = disks.create("small.img", "32M")
    mnt = disks.mount(disks.attach(img))
    p = subprocess.run(["dd", "if=/dev/zero", f"of={mnt}/fill", "bs=1M",
                        "conv=fsync"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode != 0
    assert "No space left on device" in p.stderr, p.stderr
    apparent, allocated = disks.usage(img)
    assert apparent == 32 * MiB
    assert allocated <= apparent
    assert os.path.getsize(f"{mnt}/fill") < 32 * MiB


def test_readonly(disks):
    img = disks.create("ro.img", "32M")
    mnt = disks.mount(disks.attach(img, ro=True), ro=True)
    with pytest.raises(OSError) as e:
        open(f"{mnt}/x", "w")
    assert e.value.errno == 30  # EROFS


def test_grow_offline(disks):
    img = disks.create("grow.img", "64M")
    dev = disks.attach(img)
    mnt = disks.mount(dev)
    subprocess.run(["dd", "if=/dev/urandom", f"of={mnt}/data", "bs=1M",
                    "count=4", "status=none"], check=True)
    digest, total = sha(f"{mnt}/data"), os.statvfs(mnt).f_blocks
    disks.umount(mnt)
    # The last umount released the device (autoclear): grow the file alone.
    assert losetup_j(img) == ""
    disks.run("grow", img, "-", "96M")
    assert disks.usage(img)[0] == 96 * MiB
    # Attached but not mounted: through the device.
    dev = disks.attach(img)
    disks.run("grow", img, dev, "128M")
    mnt = disks.mount(dev)
    st = os.statvfs(mnt)
    assert st.f_blocks * st.f_frsize > total * st.f_frsize + 56 * MiB
    assert sha(f"{mnt}/data") == digest


def test_grow_online(disks):
    if not has_cap(CAP_SYS_RESOURCE):
        pytest.skip("this process lacks CAP_SYS_RESOURCE, which ext4's online "
                    "resize requires; test_grow_online_refused covers the "
                    "refusal here, test_grow_online_in_l1 the grow")
    img = disks.create("grow.img", "64M")
    dev = disks.attach(img)
    mnt = disks.mount(dev)
    subprocess.run(["dd", "if=/dev/urandom", f"of={mnt}/data", "bs=1M",
                    "count=4", "status=none"], check=True)
    digest, before = sha(f"{mnt}/data"), os.statvfs(mnt)
    disks.run("grow", img, dev, "128M")
    after = os.statvfs(mnt)
    assert disks.usage(img)[0] == 128 * MiB
    assert (after.f_blocks - before.f_blocks) * after.f_frsize > 56 * MiB
    assert sha(f"{mnt}/data") == digest


def test_grow_online_refused(disks):
    if has_cap(CAP_SYS_RESOURCE):
        pytest.skip("this process has CAP_SYS_RESOURCE: test_grow_online "
                    "grows for real")
    img = disks.create("grow.img", "64M")
    dev = disks.attach(img)
    disks.mount(dev)
    p = disks.run("grow", img, dev, "128M", check=False)
    assert p.returncode == 1
    assert "needs CAP_SYS_RESOURCE" in p.stderr and dev in p.stderr, p.stderr
    assert disks.usage(img)[0] == 64 * MiB


def test_grow_refusals(disks):
    img = disks.create("g.img", "64M")
    p = disks.run("grow", img, "-", "32M", check=False)
    assert p.returncode == 1
    assert "cannot shrink a disk from 64 MiB to 32 MiB" in p.stderr, p.stderr
    dev = disks.attach(img)
    p = disks.run("grow", img, "-", "128M", check=False)
    assert p.returncode == 1
    assert f"attached to `{dev}`" in p.stderr, p.stderr
    other = disks.create("other.img", "32M")
    p = disks.run("grow", other, dev, "64M", check=False)
    assert "is not attached to this image" in p.stderr, p.stderr
    assert disks.usage(img)[0] == 64 * MiB
    assert disks.usage(other)[0] == 32 * MiB


def test_create_refusals(disks):
    img = disks.create("exists.img", "32M")
    digest = sha(img)
    p = disks.run("create", img, "64M", "thin", check=False)
    assert p.returncode == 1
    assert f"create disk `{img}`: File exists" in p.stderr, p.stderr
    assert sha(img) == digest and disks.usage(img)[0] == 32 * MiB
    for size, why in [("8M", "below the minimum of 16 MiB"),
                      ("20971521", "not a whole number of MiB"),
                      ("33M", None)]:
        bad = disks.tmp / f"bad-{size}.img"
        p = disks.run("create", bad, size, "reserve", check=False)
        if why is None:  # a control: 33M is fine
            assert p.returncode == 0, p.stderr
            disks.images.append(bad)
            continue
        assert p.returncode == 1 and why in p.stderr, p.stderr
        assert not bad.exists()


def test_detach_leaves_nothing(disks):
    img = disks.create("d.img", "32M")
    dev = disks.attach(img)
    assert disks.run("find", img).stdout.strip() == dev
    assert dev in losetup_j(img)
    mnt = disks.mount(dev)
    disks.umount(mnt)
    disks.run("detach", dev)
    assert losetup_j(img) == ""
    assert disks.run("find", img).stdout.strip() == ""
    # Detach without a mount in between.
    dev = disks.attach(img)
    disks.run("detach", dev)
    assert losetup_j(img) == ""


def test_grow_online_in_l1(l1):
    """Online grow where root has CAP_SYS_RESOURCE: the nested test host.
    Its root is an overlayfs over tmpfs, which takes O_DIRECT at open and
    fails it at read: the device there must be buffered, and work."""
    tool = artefacts.build_dir() / "tests" / "ct" / "disktool"
    script = f"""set -e
T={tool}; I=/tmp/grow-$$.img; M=/tmp/grow-$$.mnt; mkdir -p $M
$T create $I 64M thin
dev=$($T attach $I)
echo "DIO $(cat /sys/block/${{dev#/dev/}}/loop/dio)"
$T mount $dev $M
dd if=/dev/urandom of=$M/data bs=1M count=4 status=none
echo "SUM1 $(sha256sum < $M/data)"
echo "BLOCKS1 $(stat -f -c '%b %S' $M)"
$T grow $I $dev 128M
echo "BLOCKS2 $(stat -f -c '%b %S' $M)"
echo "SUM2 $(sha256sum < $M/data)"
echo "USAGE $($T usage $I)"
$T umount $M
$T detach $dev
echo "LOOPS [$(losetup -j $I)]"
rm -f $I"""
    r = l1.run(script, timeout=120)
    assert r.ok, r
    out = dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)
    assert out["DIO"] == "0", r  # the image's filesystem cannot do direct I/O
    b1, bs1 = map(int, out["BLOCKS1"].split())
    b2, bs2 = map(int, out["BLOCKS2"].split())
    assert (b2 * bs2) - (b1 * bs1) > 56 * MiB, r
    assert out["SUM1"] == out["SUM2"], r
    assert int(out["USAGE"].split()[0]) == 128 * MiB, r
    assert out["LOOPS"] == "[]", r
