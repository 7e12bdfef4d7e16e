# SPDX-License-Identifier: GPL-2.0-or-later
"""The container's own /proc from lxcfs (docs/ct-sysinfo.md, "/proc from
lxcfs"): the bind mounts ct_lxcfs_mounts() adds (src/ct/lxcfs.c, mirrored by
lxcfs_mounts() here) over the container's /proc/meminfo, cpuinfo, stat,
uptime, loadavg, swaps and diskstats and /sys/devices/system/cpu/online, and
with the annotation org.vps.sysinfo=cgroup both busybox `free` (sysinfo() and
/proc/meminfo) and procps `free` (/proc/meminfo only) showing the
container's memory and swap. lxcfs is started as scripts/test does
(vps_ensure_lxcfs in scripts/lib.sh); these run the real vps-ct and lxcfs on
this host and read what the container printed.

Run as root: VPS_BUILD=build-test python3 -m pytest tests/integration/test_ct_lxcfs.py"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from framework.ct import TOP, Bundle, copy_with_libs
from test_ct_sysinfo import ANNOTATION, MIB, SOLD_SWAP_KIB, SWAP, free_rows, swap_kib

LXCFS = Path("/var/lib/lxcfs")
# what ct_lxcfs_mounts() appends, in its order, with its options
FILES = ["proc/meminfo", "proc/cpuinfo", "proc/stat", "proc/uptime", "proc/loadavg",
         "proc/swaps", "proc/diskstats", "sys/devices/system/cpu/online"]


@pytest.fixture(scope="module")
def lxcfs():
    r = subprocess.run(["bash", "-c", f". {TOP}/scripts/lib.sh && vps_ensure_lxcfs"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        pytest.skip(f"lxcfs cannot run here: {(r.stdout + r.stderr).strip()}")
    return LXCFS


def lxcfs_has(flag):
    """Whether the running lxcfs was started with flag (Debian's
    lxcfs.service starts it without --enable-cfs and --enable-loadavg)."""
    for d in Path("/proc").glob("[0-9]*"):
        try:
            if (d / "comm").read_text().strip() == "lxcfs":
                return flag.encode() in (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
    return False


def lxcfs_mounts(root):
    return [{"destination": "/" + f, "type": "bind", "source": str(root / f),
             "options": ["bind", "ro", "nosuid", "nodev", "noexec"]}
            for f in FILES if (root / f).is_file()]


@pytest.fixture
def bundle(tmp_path, ct_rootfs, lxcfs):
    b = Bundle(tmp_path, ct_rootfs)
    b.config["linux"]["resources"] = {"memory": {"limit": 64 * MIB}}
    if SWAP:  # OCI swap is memory + swap: 64 MiB of swap
        b.config["linux"]["resources"]["memory"]["swap"] = 128 * MIB
    b.config["mounts"] += lxcfs_mounts(lxcfs)
    yield b
    if (b.root / b.id).exists():
        b.ct("delete", "--force", b.id)


def sh(bundle, script):
    bundle.config["process"]["args"] = ["/bin/sh", "-c", script]
    bundle.write()
    r = bundle.ct("run", "-b", str(bundle.path), bundle.id, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def fields(text):
    """`Key: value ...` lines of a /proc file: {key: first value as int}."""
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        if v.split() and v.split()[0].isdigit():
            out[k.strip()] = int(v.split()[0])
    return out


def section(out, name):
    """The text between `== name` and the next `== ` marker."""
    return out.split(f"== {name}\n", 1)[1].split("\n== ", 1)[0]


def test_mounts_are_lxcfs(bundle):
    out = sh(bundle, "cat /proc/self/mountinfo")
    for f in FILES:
        if (LXCFS / f).is_file():
            line = [m for m in out.splitlines() if m.split()[4] == "/" + f]
            assert line and "fuse.lxcfs" in line[-1] and " ro," in line[-1], (f, out)


def test_meminfo_and_swaps(bundle):
    out = sh(bundle, "echo '== meminfo'; cat /proc/meminfo; echo '== swaps'; cat /proc/swaps")
    mem = fields(section(out, "meminfo"))
    assert mem["MemTotal"] == 65536, out
    assert 0 < mem["MemFree"] <= 65536 and mem["MemAvailable"] <= 65536, out
    assert mem["SwapTotal"] == (swap_kib() if SWAP else mem["SwapTotal"]), out
    swaps = section(out, "swaps").splitlines()
    assert swaps[0].startswith("Filename"), out
    assert sum(int(s.split()[2]) for s in swaps[1:]) == mem["SwapTotal"], out


def test_uptime_is_the_containers(bundle):
    start = time.monotonic()
    out = sh(bundle, "cat /proc/uptime")
    up = float(out.split()[0])
    assert 0 <= up <= time.monotonic() - start + 1, (up, out)
    host = float(Path("/proc/uptime").read_text().split()[0])
    assert host > 2 * up + 1 or host < 5, (host, up)


def test_cpuset(bundle):
    bundle.config["linux"]["resources"]["cpu"] = {"cpus": "0"}
    out = sh(bundle, "echo '== cpuinfo'; grep -c ^processor /proc/cpuinfo; "
             "echo '== online'; cat /sys/devices/system/cpu/online; "
             "echo '== stat'; grep ^cpu /proc/stat")
    assert section(out, "cpuinfo").strip() == "1", out
    assert section(out, "online").strip() == "0", out
    assert [line.split()[0] for line in section(out, "stat").splitlines()] == ["cpu", "cpu0"], out


@pytest.mark.skipif(os.cpu_count() < 2, reason="one CPU: a quota of one shows nothing new")
def test_cpu_quota(bundle):
    # one CPU's worth of quota, every CPU in the cpuset: lxcfs --enable-cfs shows one
    if not lxcfs_has("--enable-cfs"):
        pytest.skip("lxcfs runs without --enable-cfs: quotas do not show in its cpuinfo")
    bundle.config["linux"]["resources"]["cpu"] = {"quota": 100000, "period": 100000}
    out = sh(bundle, "grep -c ^processor /proc/cpuinfo")
    assert out.strip() == "1", out


def test_loadavg_is_the_containers(bundle):
    # the 4th field, running/total tasks: the container's few, not the host's
    if not lxcfs_has("--enable-loadavg"):
        pytest.skip("lxcfs runs without --enable-loadavg: its loadavg is the host's")
    out = sh(bundle, "cat /proc/loadavg")
    total = int(out.split()[3].split("/")[1])
    assert total < 20, out


def test_busybox_free(bundle):
    # sysinfo() (total, free, swap) and /proc/meminfo (buff/cache, available)
    # both the container's: `used` is sane, not total - free - host cache
    bundle.config["annotations"] = ANNOTATION
    out = sh(bundle, "free; echo '== meminfo'; cat /proc/meminfo")
    (total, free), = free_rows(out)[0]
    mem = out.splitlines()[1].split()
    used, cache = int(mem[2]), int(mem[5])
    assert total == 65536, out
    assert 0 <= used < 65536 and 0 <= cache < 65536, out
    assert used + free + cache == total, out
    if SWAP:
        # sysinfo() shows the allowance as sold; lxcfs's meminfo no more than the host has
        swap = free_rows(out)[1][0][0]
        assert swap == SOLD_SWAP_KIB, out
        assert fields(section(out, "meminfo"))["SwapTotal"] == swap_kib(), out


def procps_free(rootfs):
    """Copy the host's procps `free` and the libraries it loads into rootfs."""
    free = shutil.which("free", path="/usr/bin:/bin")
    if not free or "busybox" in os.path.realpath(free):
        pytest.skip("procps `free` is not on this host")
    copy_with_libs(rootfs, free)
    return "/" + free.lstrip("/")


def test_procps_free(bundle):
    free = procps_free(bundle.rootfs)
    bundle.config["annotations"] = ANNOTATION
    out = sh(bundle, f"{free}")
    rows = {line.split()[0]: [int(x) for x in line.split()[1:]]
            for line in out.splitlines() if line.split()[0] in ("Mem:", "Swap:")}
    assert rows["Mem:"][0] == 65536, out
    used, free_, cache = rows["Mem:"][1], rows["Mem:"][2], rows["Mem:"][4]
    assert 0 <= used < 65536 and used + free_ + cache <= 65536 + 4, out
    if SWAP:
        assert rows["Swap:"][0] == swap_kib(), out


def test_exec_sees_lxcfs(bundle):
    # lxcfs answers for the reader's pid-namespace init: exec'd processes too
    bundle.config["annotations"] = ANNOTATION
    bundle.config["process"]["args"] = ["/bin/sleep", "1000"]
    bundle.create()
    bundle.ct("start", bundle.id, check=True)
    r = bundle.ct("exec", bundle.id, "/bin/sh", "-c", "free; head -1 /proc/meminfo",
                  check=True)
    assert free_rows(r.stdout)[0][0][0] == 65536, r.stdout
    assert fields(r.stdout)["MemTotal"] == 65536, r.stdout
    bundle.ct("kill", bundle.id, "KILL", check=True)


def test_user_namespace(bundle):
    # the read-only remount keeps the flags a user namespace locks
    bundle.config["linux"]["namespaces"].append({"type": "user"})
    for k in ("uidMappings", "gidMappings"):
        bundle.config["linux"][k] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    os.chown(bundle.rootfs, 100000, 100000)
    for d in [bundle.path, *bundle.path.parents]:  # root inside is 100000 outside
        if d == Path("/tmp"):
            break
        os.chmod(d, os.stat(d).st_mode | 0o011)
    bundle.config["annotations"] = ANNOTATION
    out = sh(bundle, "free; cat /proc/meminfo")
    assert free_rows(out)[0][0][0] == 65536, out
    assert fields(out)["MemTotal"] == 65536, out
