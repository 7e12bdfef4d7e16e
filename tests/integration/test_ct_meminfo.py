# SPDX-License-Identifier: GPL-2.0-or-later
"""The container's /proc/meminfo and /proc/swaps from its monitor
(docs/ct-sysinfo.md, "meminfo and swaps from vps-ctm"; src/ctm/procfs.c):
the vswap as sold, whatever the host's swap (this host has none), in
/proc/meminfo, procps `free -k` (the host's, copied in with its libraries),
busybox `free` and /proc/swaps; SwapFree going down as the container is
pushed into swap (on a swap file the test makes, as test_ct_swap.py does);
0 with no swap sold; a live `set` seen at the next read. Then what a hostile
root inside tries: writing the files, remounting them read-write, chmod,
unmounting them, reading in a loop while the monitor must answer; the host
unchanged. The real vps-ctm and vps-ct on this host's cgroup v1; the same on
pure cgroup2 is test_ctm_v2.py::test_ctm_v2_busybox, in L1.

Run as root: VPS_BUILD=build-test python3 -m pytest tests/integration/test_ct_meminfo.py"""

import time

import pytest

from framework.ct import copy_with_libs
from framework.ctm import ensure_lxcfs

from test_ct_swap import host_swap  # noqa: F401 (the fixture: a swap file on the host)

MIB = 1 << 20
FREE = "/usr/bin/free"  # procps (Debian's `procps`), which reads /proc/meminfo only


def meminfo(text):
    """{key: number} of a /proc/meminfo text."""
    return {k.rstrip(":"): int(v.split()[0]) for k, v in
            (ln.split(None, 1) for ln in text.splitlines() if ln.strip())}


def swap_row(free_out):
    """The numbers of `free`'s Swap: row (total, used, free)."""
    row = next(ln for ln in free_out.splitlines() if ln.startswith("Swap:"))
    return [int(x) for x in row.split()[1:4]]


def proc_mounts(ct):
    """{mount point: (fs type, options)} inside, for /proc/meminfo and /proc/swaps."""
    out = ct.exec("cat", "/proc/self/mountinfo")
    got = {}
    for ln in out.splitlines():
        f = ln.split()
        sep = f.index("-")
        if f[4] in ("/proc/meminfo", "/proc/swaps"):
            got[f[4]] = (f[sep + 1], f[5])
    return got


@pytest.fixture
def lxcfs_up():
    # with lxcfs the other /proc files are its own, and meminfo must still be ours
    why = ensure_lxcfs()
    return why is None


def test_vswap_shown_as_sold(ctm, lxcfs_up):
    # this host has no swap (lxcfs would show 0); a swap file another test
    # turns on meanwhile changes nothing here: the sold figure shows either way
    ct = ctm(memory="64M", swap="64M")
    ct.create()
    ct.start()
    copy_with_libs(ct.rootfs, FREE)  # into the mounted disk
    m = proc_mounts(ct)
    assert m["/proc/meminfo"][0] == m["/proc/swaps"][0] == "fuse.vps-ctm", m
    assert m["/proc/meminfo"][1].startswith("ro"), m
    mem = meminfo(ct.exec("cat", "/proc/meminfo"))
    assert mem["MemTotal"] == 65536 and mem["SwapTotal"] == 65536, mem
    swap_used = (int((ct.cgroup("memory") / "memory.memsw.usage_in_bytes").read_text()) -
                 int((ct.cgroup("memory") / "memory.usage_in_bytes").read_text()))
    assert mem["SwapFree"] == 65536 - max(swap_used, 0) // 1024, mem
    assert 0 < mem["MemFree"] < 65536, mem
    # procps free (the /proc/meminfo reader) and busybox free (sysinfo()) agree
    total, used, free = swap_row(ct.exec(FREE, "-k"))
    assert total == 65536 and used + free == total, (total, used, free)
    assert swap_row(ct.exec("free"))[0] == 65536
    # /proc/swaps says the same, and swapon -s (busybox) reads it
    swaps = ct.exec("cat", "/proc/swaps").splitlines()
    assert swaps[0].split() == ["Filename", "Type", "Size", "Used", "Priority"], swaps
    assert swaps[1].split()[:3] == ["none", "virtual", "65536"], swaps
    # the lxcfs files stay lxcfs's (cpuinfo, uptime...), where lxcfs runs
    if lxcfs_up:
        up = ct.exec("cat", "/proc/self/mountinfo")
        assert any(" /proc/uptime " in ln and "fuse.lxcfs" in ln for ln in up.splitlines()), up
    # a live set shows at the next read: the cgroup is read at every read
    r = ct.ctl({"cmd": "set", "swap": "32M", "memory": "96M"})
    assert r == {"ok": True, "live": True}, r
    mem = meminfo(ct.exec("cat", "/proc/meminfo"))
    assert mem["SwapTotal"] == 32768 and mem["MemTotal"] == 98304, mem
    # an open file read again from 0 (as top does) is read afresh
    out = ct.sh("exec 3</proc/meminfo; head -1 <&3; dd if=/dev/zero of=/dev/shm/x bs=1M "
                "count=8 2>/dev/null; head -c 0 <&3; cat /proc/meminfo | grep Shmem:")
    assert "MemTotal:" in out and int(out.split()[-2]) >= 8192, out
    ct.exec("rm", "/dev/shm/x")
    # the monitor ends: nothing mounted is left on the host
    assert ct.ctl({"cmd": "shutdown"}).get("ok")
    assert ct.wait() == 0
    assert not [ln for ln in open("/proc/self/mountinfo") if str(ct.dir) + "/proc" in ln]


def test_no_swap_sold_is_zero(ctm):
    ct = ctm(memory="64M", swap="0")
    ct.create()
    ct.start()
    mem = meminfo(ct.exec("cat", "/proc/meminfo"))
    assert mem["SwapTotal"] == 0 and mem["SwapFree"] == 0 and mem["MemTotal"] == 65536, mem
    assert swap_row(ct.exec("free"))[0] == 0
    assert ct.exec("cat", "/proc/swaps").splitlines()[1:] == []


def test_swapfree_goes_down_when_pushed_into_swap(ctm, host_swap):  # noqa: F811
    ct = ctm(memory="64M", swap="64M")
    ct.create()
    ct.start()
    copy_with_libs(ct.rootfs, FREE)
    before = meminfo(ct.exec("cat", "/proc/meminfo"))
    assert before["SwapTotal"] == 65536, before
    # dd holds its 96 MiB block while the pipe to sleep is full: 32 MiB or
    # more of it must go to swap (RAM is 64 MiB)
    ct.sh("(dd if=/dev/zero bs=96M count=1 | sleep 120) >/dev/null 2>&1 &")
    cg = ct.cgroup("memory")
    end = time.monotonic() + 60
    while time.monotonic() < end:
        used = (int((cg / "memory.memsw.usage_in_bytes").read_text()) -
                int((cg / "memory.usage_in_bytes").read_text()))
        if used >= 24 * MIB:
            break
        time.sleep(0.2)
    assert used >= 24 * MIB, f"not pushed into swap: {used} bytes"
    mem = meminfo(ct.exec("cat", "/proc/meminfo"))
    assert mem["SwapTotal"] == 65536, mem
    # what the cgroup says the container swapped, give or take what moved meanwhile
    assert 65536 - 40 * 1024 <= mem["SwapFree"] <= 65536 - 20 * 1024, (mem, used)
    total, used_k, free = swap_row(ct.exec(FREE, "-k"))
    assert total == 65536 and used_k >= 20 * 1024, (total, used_k, free)
    ct.sh("killall dd sleep; true")
    end = time.monotonic() + 30
    while meminfo(ct.exec("cat", "/proc/meminfo"))["SwapFree"] < 65536 - 1024:
        assert time.monotonic() < end, "SwapFree did not come back"
        time.sleep(0.2)


# ---- a hostile root inside ----

def test_root_inside_cannot_change_what_it_is_shown(ctm):
    ct = ctm(memory="64M", swap="64M")
    ct.create()
    ct.start()
    host_meminfo = open("/proc/meminfo").read().split("\n")[0]
    for f in ("/proc/meminfo", "/proc/swaps"):
        # write, truncate, chmod, chown: refused
        r = ct.exec_r("/bin/sh", "-c", f"echo 'SwapTotal: 1 kB' > {f}")
        assert r.returncode != 0, r
        r = ct.exec_r("/bin/sh", "-c", f": > {f}")
        assert r.returncode != 0, r
        assert ct.exec_r("chmod", "666", f).returncode != 0
        assert ct.exec_r("chown", "0", f).returncode != 0
        # remounting the bind read-write does not make the file writable:
        # the FUSE mount itself is read-only (the host's), the file 0444 of
        # a uid the container does not have, and the server has no write
        ct.exec_r("mount", "-o", "remount,bind,rw", f)
        r = ct.exec_r("/bin/sh", "-c", f"echo 'SwapTotal: 1 kB' > {f}")
        assert r.returncode != 0, r
    assert meminfo(ct.exec("cat", "/proc/meminfo"))["SwapTotal"] == 65536
    # reading in a loop, many readers at once: the monitor still answers at once
    loops = ct.sh("for i in 1 2 3 4; do (while :; do cat /proc/meminfo /proc/swaps; done) "
                  ">/dev/null 2>&1 & echo $!; done").split()
    assert len(loops) == 4, loops
    try:
        t = time.monotonic()
        assert ct.ctl({"cmd": "state"})["state"] == "running"
        assert time.monotonic() - t < 5
        assert meminfo(ct.exec("cat", "/proc/meminfo"))["SwapTotal"] == 65536
    finally:
        ct.exec("kill", *loops)
    # unmounting its own view: it may (its mount namespace, as with lxcfs),
    # and then sees the kernel's own global file, no figure of another
    # container; nothing changes on the host or for the monitor
    r = ct.exec_r("umount", "/proc/meminfo")
    if r.returncode == 0:
        inside = ct.exec("head", "-1", "/proc/meminfo").strip()
        assert inside.split()[:2] == host_meminfo.split()[:2], (inside, host_meminfo)
    assert open("/proc/meminfo").read().split("\n")[0] == host_meminfo
    mnt = ct.dir / "proc" / "meminfo"
    assert any(f" {ct.dir}/proc " in ln and "fuse.vps-ctm" in ln
               for ln in open("/proc/self/mountinfo")), "the monitor's mount is gone"
    # the host-side file answers with the container's figures still (read by host root)
    assert meminfo(mnt.read_text())["SwapTotal"] == 65536
    assert ct.state()["state"] == "running"
