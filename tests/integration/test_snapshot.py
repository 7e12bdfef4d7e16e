# SPDX-License-Identifier: GPL-2.0-or-later
"""Storage pools and snapshots (issue 17, docs/storage.md), through vpsd's
API and the CLI: pools on loop-mounted XFS (reflink=1), btrfs and ext4
filesystems made here; a container's file written, snapshot, deleted,
reverted and back; snapshots taken while a writer runs inside that e2fsck
finds clean; what a customer may not do to another's VPS or to the host
through a snapshot's name; and kill -9 of vpsd mid-snapshot leaving no
half-made snapshot listed.

Run as root:
    VPS_BUILD=/work/main/build-test /usr/bin/python3 -m pytest -q test_snapshot.py"""

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from framework.ct import BUILD
from framework.openapi import start_vpsd, tcp, unix
from framework.vpsd import VPSD, Vpsd, raise_spec_errors
from test_vpsd_kill9 import Paused

pytestmark = pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built")

VPS = BUILD / "src" / "cli" / "vps"
MKFS = {
    "xfs": ["mkfs.xfs", "-q", "-m", "reflink=1"],
    "btrfs": ["mkfs.btrfs", "-q"],
    "ext4": ["mkfs.ext4", "-q", "-F"],
}
REFLINK = {"xfs": True, "btrfs": True, "ext4": False}


@pytest.fixture(scope="module")
def filesystems():
    """{fs: mount point} of a 1 GiB sparse image of each filesystem,
    loop-mounted here and taken down afterwards."""
    base = Path(tempfile.mkdtemp(prefix="vps-pools-", dir="/var/tmp"))
    base.chmod(0o711)
    made = {}
    try:
        for fs, mkfs in MKFS.items():
            img, mnt = base / f"{fs}.img", base / fs
            with open(img, "wb") as f:
                f.truncate(1 << 30)
            subprocess.run([*mkfs, str(img)], check=True, capture_output=True)
            mnt.mkdir()
            subprocess.run(["mount", "-o", "loop", str(img), str(mnt)], check=True)
            made[fs] = mnt
            mnt.chmod(0o711)  # a container's root uid must reach its rootfs below
        yield made
    finally:
        for mnt in made.values():
            subprocess.run(["umount", str(mnt)], check=False)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def vpsd():
    """A private vpsd; a sanitizer's report in its log (it is built with ASan
    and UBSan) fails the test once its VPSes are gone and it has stopped."""
    d = Vpsd().start()
    try:
        yield d
        if d.proc:
            d.destroy_all_and_stop()
    finally:
        d.cleanup()


def cli(d, *args):
    r = subprocess.run([str(VPS), *args], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, VPS_SOCKET=str(d.checked().sock)))
    raise_spec_errors()
    return r


def ct(d, name, **kw):
    body = {"name": name, "kind": "ct", "template": "busybox", "ram": "128M", "disk": "64M"}
    body.update(kw)
    return d.api("POST", "/vps", body, expect=201)


def sh(d, name, script):
    r = d.api("POST", f"/vps/{name}/exec", {"args": ["sh", "-c", script]})
    return r["status"], r["stdout"]


def shared_extents(path):
    """Whether FIEMAP says some extent of PATH is shared with another file."""
    out = subprocess.run(["filefrag", "-v", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return "shared" in out


# --- pools ------------------------------------------------------------------------------

def test_pools_add_list_refuse_rm(vpsd, filesystems, tmp_path):
    pools = vpsd.api("GET", "/pools")
    assert [p["name"] for p in pools] == ["default"]
    assert pools[0]["default"] and pools[0]["path"] == str(vpsd.data / "vps")
    for fs, mnt in filesystems.items():
        d = mnt / "pool-a"
        d.mkdir(exist_ok=True)
        p = vpsd.api("POST", "/pools", {"name": fs, "path": str(d)}, expect=201)
        assert p["reflink"] is REFLINK[fs], (fs, p)
    listed = {p["name"]: p for p in vpsd.api("GET", "/pools")}
    assert {n: p["reflink"] for n, p in listed.items() if n != "default"} == REFLINK
    # the CLI says how each pool copies
    r = cli(vpsd, "pool", "list")
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines()[1:]}
    assert "reflink" in rows["xfs"] and "reflink" in rows["btrfs"], r.stdout
    assert "full" in rows["ext4"], r.stdout

    link = tmp_path / "link"
    link.symlink_to(filesystems["ext4"])
    afile = tmp_path / "file"
    afile.write_text("x")
    bad = [
        ({"name": "rel", "path": "var/tmp"}, 400, "absolute"),
        ({"name": "gone", "path": str(tmp_path / "nosuch")}, 400, "No such file"),
        ({"name": "file", "path": str(afile)}, 400, "not a directory"),
        ({"name": "link", "path": str(link)}, 400, "give that"),
        ({"name": "dots", "path": str(filesystems["ext4"]) + "/../ext4"}, 400, "give that"),
        ({"name": "root", "path": "/"}, 400, "host's or vpsd's own"),
        ({"name": "data", "path": str(vpsd.data / "vps")}, 400, "host's or vpsd's own"),
        ({"name": "default", "path": str(tmp_path)}, 400, "`name`"),
        ({"name": "Bad/Name", "path": str(tmp_path)}, 400, "`name`"),
        ({"name": "xfs", "path": str(tmp_path)}, 409, "a pool named `xfs` exists"),
        ({"name": "again", "path": str(filesystems["xfs"] / "pool-a")}, 409, "another pool's"),
        ({"name": "extra", "path": str(tmp_path), "thin": True}, 400, "`thin`"),
    ]
    for body, status, words in bad:
        code, j = vpsd.request("POST", "/api/v1/pools", body)
        assert code == status and words in j["error"]["message"], (body, code, j)
    assert [p["name"] for p in vpsd.api("GET", "/pools")] == list(listed)
    r = cli(vpsd, "pool", "add", "rel", "var/tmp")
    assert r.returncode == 2 and "absolute" in r.stderr, r

    # a pool that holds a VPS stays; once the VPS is gone it can go, its directory kept
    used = vpsd.api("GET", "/host")["disk"]["used"]
    ct(vpsd, "inpool", pool="ext4")
    assert (filesystems["ext4"] / "pool-a" / "inpool" / "ct" / "disk.img").is_file()
    # the host report counts what its disk takes in the pool
    grew = vpsd.api("GET", "/host")["disk"]["used"] - used
    assert grew >= os.stat(filesystems["ext4"] / "pool-a" / "inpool" / "ct" / "disk.img"
                           ).st_blocks * 512, grew
    assert not (vpsd.data / "vps" / "inpool" / "ct").exists()
    code, j = vpsd.request("DELETE", "/api/v1/pools/ext4")
    assert code == 409 and "holds VPSes" in j["error"]["message"], j
    code, j = vpsd.request("DELETE", "/api/v1/pools/default")
    assert code == 400, j
    code, j = vpsd.request("POST", "/api/v1/vps", {"name": "nopool", "kind": "ct",
                                                   "template": "busybox", "ram": "128M",
                                                   "disk": "64M", "pool": "nosuch"})
    assert code == 400 and "no pool `nosuch`" in j["error"]["message"], j
    vpsd.api("DELETE", "/vps/inpool")
    assert not (filesystems["ext4"] / "pool-a" / "inpool").exists()
    r = cli(vpsd, "pool", "rm", "ext4")
    assert r.returncode == 0, r.stderr
    assert (filesystems["ext4"] / "pool-a").is_dir()
    code, _ = vpsd.request("DELETE", "/api/v1/pools/ext4")
    assert code == 404


# --- snapshots of a container ----------------------------------------------------------

@pytest.mark.parametrize("fs", ["xfs", "btrfs", "ext4"])
def test_ct_snapshot_revert(vpsd, filesystems, fs):
    pdir = filesystems[fs] / f"snap-{os.getpid()}"
    pdir.mkdir()
    vpsd.api("POST", "/pools", {"name": fs, "path": str(pdir)}, expect=201)
    ct(vpsd, "s1", pool=fs, start=True)
    assert sh(vpsd, "s1", "echo precious > /root/data && sync") == (0, "")

    r = cli(vpsd, "snapshot", "create", "s1", "before")
    assert r.returncode == 0, r.stderr
    snaps = vpsd.api("GET", "/vps/s1/snapshots")
    assert [s["name"] for s in snaps] == ["before"]
    assert snaps[0]["size"] == 64 << 20 and snaps[0]["settings"]["disk"] == 64 << 20
    copy = pdir / "s1" / "snapshots" / "before" / "disk.img"
    assert copy.is_file()
    # a reflink pool shares the blocks; elsewhere the snapshot is a copy of its own
    assert shared_extents(copy) is REFLINK[fs]
    assert vpsd.api("GET", "/vps/s1")["state"] == "running"  # thawed, and running on

    assert sh(vpsd, "s1", "rm /root/data && echo new > /root/later && sync") == (0, "")
    img = pdir / "s1" / "ct" / "disk.img"
    alloc = os.getxattr(img, "user.vps.disk.alloc")
    r = cli(vpsd, "snapshot", "revert", "s1", "before")
    assert r.returncode == 0, r.stderr
    assert os.getxattr(img, "user.vps.disk.alloc") == alloc == b"thin"  # thin for life
    assert vpsd.api("GET", "/vps/s1")["state"] == "running"  # stopped, rolled back, started
    assert sh(vpsd, "s1", "cat /root/data") == (0, "precious\n")
    assert sh(vpsd, "s1", "test -e /root/later; echo $?") == (0, "1\n")

    # a stopped container's snapshot; the list in JSON; its removal
    vpsd.api("POST", "/vps/s1/stop")
    vpsd.api("POST", "/vps/s1/snapshots", {"name": "stopped.1"}, expect=201)
    r = cli(vpsd, "snapshot", "list", "s1", "--format", "json")
    assert [s["name"] for s in json.loads(r.stdout)] == ["before", "stopped.1"], r
    code, j = vpsd.request("POST", "/api/v1/vps/s1/snapshots", {"name": "before"})
    assert code == 409, j
    code, j = vpsd.request("POST", "/api/v1/vps/s1/reinstall", {})
    assert code == 409 and "snapshots" in j["error"]["message"], j
    r = cli(vpsd, "snapshot", "rm", "s1", "before")
    assert r.returncode == 0, r.stderr
    assert not (pdir / "s1" / "snapshots" / "before").exists()
    assert [s["name"] for s in vpsd.api("GET", "/vps/s1/snapshots")] == ["stopped.1"]
    code, _ = vpsd.request("POST", "/api/v1/vps/s1/snapshots/before/revert")
    assert code == 404
    # destroyed: its disks and snapshots go with it, and the pool with nothing in it
    vpsd.api("DELETE", "/vps/s1")
    assert not (pdir / "s1").exists()
    vpsd.api("DELETE", f"/pools/{fs}")


def test_snapshot_under_a_writer_is_clean(vpsd, filesystems):
    """A writer runs inside while snapshots are taken: each copy is a
    filesystem e2fsck finds clean (the container frozen, then FIFREEZE,
    for the copy), and the writer carries on afterwards."""
    pdir = filesystems["xfs"] / f"writer-{os.getpid()}"
    pdir.mkdir()
    vpsd.api("POST", "/pools", {"name": "fast", "path": str(pdir)}, expect=201)
    ct(vpsd, "w1", pool="fast", start=True)
    status, _ = sh(vpsd, "w1", "(i=0; while :; do i=$((i+1)); "
                   "dd if=/dev/urandom of=/root/w$((i % 6)) bs=64k count=8 2>/dev/null; "
                   "echo $i > /root/count; done) >/dev/null 2>&1 </dev/null &")
    assert status == 0
    for k in range(3):
        time.sleep(0.5)
        vpsd.api("POST", "/vps/w1/snapshots", {"name": f"w{k}"}, expect=201)
        img = pdir / "w1" / "snapshots" / f"w{k}" / "disk.img"
        r = subprocess.run(["e2fsck", "-fn", str(img)], capture_output=True, text=True)
        assert r.returncode == 0, (k, r.stdout, r.stderr)
        # frozen, the journal was committed: nothing to replay. A copy taken
        # beside the writer without the freeze passes -n too, but only by
        # skipping the recovery its journal needs (tried on this host).
        assert "journal recovery" not in r.stdout + r.stderr, (k, r.stdout)
        features = subprocess.run(["dumpe2fs", "-h", str(img)], capture_output=True,
                                  text=True).stdout
        assert "needs_recovery" not in features, (k, features)
    # the writer was thawed: its count still grows
    _, c1 = sh(vpsd, "w1", "cat /root/count")
    time.sleep(1)
    _, c2 = sh(vpsd, "w1", "cat /root/count")
    assert int(c2) > int(c1), (c1, c2)


# --- attacks: another customer's snapshots, hostile names -----------------------------

PASSWORDS = {"alice": "alice's long secret", "bob": "bob's long secret"}


def customers(d):
    """Customers alice and bob, logged in over TCP, and plan `small`: (admin, alice, bob)."""
    admin = unix(d)
    for name, pw in PASSWORDS.items():
        admin.api("POST", "/users", {"name": name, "password": pw, "role": "customer"},
                  expect=201)
    admin.api("POST", "/plans", {"name": "small", "ram": "128M", "disk": "64M", "cpus": 1},
              expect=201)
    alice, bob = tcp(d), tcp(d)
    alice.login("alice", PASSWORDS["alice"])
    bob.login("bob", PASSWORDS["bob"])
    return admin, alice, bob


def test_customer_cannot_touch_anothers_snapshots(filesystems):
    d = start_vpsd()
    try:
        admin, alice, bob = customers(d)
        alice.api("POST", "/vps", {"name": "a1", "kind": "ct", "template": "busybox",
                                   "plan": "small"}, expect=201)
        alice.api("POST", "/vps/a1/snapshots", {"name": "mine"}, expect=201)
        snaps = d.data / "vps" / "a1" / "snapshots"
        before = sorted(os.listdir(snaps))
        assert before == ["mine"]

        # bob sees no VPS a1: the 404 of one that does not exist, for every verb
        nobody = bob.request("GET", "/vps/nosuch/snapshots")
        for method, path, body in [
                ("GET", "/vps/a1/snapshots", None),
                ("POST", "/vps/a1/snapshots", {"name": "bobs"}),
                ("POST", "/vps/a1/snapshots", {"name": "bobs", "memory": True}),
                ("POST", "/vps/a1/snapshots/mine/revert", None),
                ("DELETE", "/vps/a1/snapshots/mine", None)]:
            r = bob.request(method, path, body)
            assert r.status == 404 and r.json == json.loads(
                nobody.text.replace("nosuch", "a1")), (method, path, r.status, r.json)
        assert [s["name"] for s in alice.api("GET", "/vps/a1/snapshots")] == ["mine"]

        # names that are paths, or not names at all
        for name in ["../x", "a/b", "..", ".hidden", "-x", "x" * 65, "", "a b", "é", 7, None]:
            r = alice.request("POST", "/vps/a1/snapshots", {"name": name})
            assert r.status == 400, (name, r.status, r.json)
        r = alice.request("POST", "/vps/a1/snapshots", {"name": "ok", "path": "/etc"})
        assert r.status == 400, r.json
        for seg in ["..%2Fx", "%2E%2E", "mine%2F..%2F..%2Fct"]:
            for method, path in [("DELETE", f"/vps/a1/snapshots/{seg}"),
                                 ("POST", f"/vps/a1/snapshots/{seg}/revert")]:
                status = alice.request(method, path, validate=False).status
                assert status in (400, 404), (method, path, status)
        # a customer picks no pool and sees none
        r = alice.request("POST", "/vps", {"name": "a2", "kind": "ct", "template": "busybox",
                                           "plan": "small", "pool": "default"})
        assert r.status == 403, r.json
        assert alice.request("GET", "/pools").status == 403
        assert alice.request("POST", "/pools", {"name": "p", "path": "/tmp"}).status == 403
        # the host unchanged: the one snapshot, its disk, the VPSes
        assert sorted(os.listdir(snaps)) == before
        assert (snaps / "mine" / "disk.img").is_file()
        assert sorted(v["name"] for v in admin.api("GET", "/vps")) == ["a1"]
        alice.api("DELETE", "/vps/a1/snapshots/mine")
        assert not (snaps / "mine").exists()
        d.destroy_all_and_stop()  # a1, then a sanitizer's report fails the test
    finally:
        d.cleanup()


# --- kill -9 mid-snapshot -------------------------------------------------------------

@pytest.mark.parametrize("point", ["snapshot-copied", "snapshot-renamed"])
def test_kill9_mid_snapshot_leaves_none_listed(vpsd, point):
    ct(vpsd, "k1", start=True)
    p = Paused(vpsd, point, "k1", "POST", "/api/v1/vps/k1/snapshots", {"name": "half"})
    p.kill9()
    assert vpsd.api("GET", "/vps/k1/snapshots") == []
    # the container was thawed (vps-ctm's copy had ended) and runs on
    assert vpsd.api("GET", "/vps/k1")["state"] == "running"
    assert sh(vpsd, "k1", "echo alive")[1] == "alive\n"
    # the name is free again; what the crash left is swept
    vpsd.api("POST", "/vps/k1/snapshots", {"name": "half"}, expect=201)
    assert sorted(os.listdir(vpsd.data / "vps" / "k1" / "snapshots")) == ["half"]
    assert [s["name"] for s in vpsd.api("GET", "/vps/k1/snapshots")] == ["half"]


# --- a VM on QEMU ---------------------------------------------------------------------

MKVMTEMPLATE = Path(__file__).resolve().parents[2] / "src" / "host" / "templates" / "mkvmtemplate"


def debugfs(img, cmd):
    """debugfs on an ext4 image: -w for a command that writes."""
    rw = ["-w"] if cmd.startswith(("write", "rm")) else []
    return subprocess.run(["debugfs", *rw, "-R", cmd, str(img)], capture_output=True, text=True)


def test_vm_qemu_snapshot_revert(vpsd, tmp_path):
    """A file put on a stopped VM's disk, snapshot (root and swap), the file
    removed, revert: it is back. Running, QEMU is stopped for the copy (QMP
    `stop`, `cont`) and runs on; a revert of the running VM stops it, rolls
    back and starts it."""
    r = subprocess.run([str(MKVMTEMPLATE), "debian-12"], capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stderr
    vpsd.api("POST", "/vps", {"name": "v1", "kind": "vm", "engine": "qemu",
                              "template": "debian-12", "ram": "256M", "swap": "64M",
                              "disk": "1G", "root_password": "pw"}, expect=201)
    vdir = vpsd.data / "vps" / "v1"
    disk = vdir / "disk.img"
    marker = tmp_path / "marker"
    marker.write_text("precious\n")
    r = debugfs(disk, f"write {marker} /root/marker")
    assert r.returncode == 0 and "error" not in r.stderr.lower(), r

    vpsd.api("POST", "/vps/v1/snapshots", {"name": "fresh"}, expect=201)
    assert sorted(os.listdir(vdir / "snapshots" / "fresh")) == ["disk.img", "swap.img"]
    r = debugfs(disk, "rm /root/marker")
    assert r.returncode == 0, r
    assert "File not found" in debugfs(disk, "stat /root/marker").stderr
    vpsd.api("POST", "/vps/v1/snapshots/fresh/revert")
    assert "precious" in debugfs(disk, "cat /root/marker").stdout

    vpsd.api("POST", "/vps/v1/start")
    vpsd.api("POST", "/vps/v1/snapshots", {"name": "running"}, expect=201)
    v = vpsd.api("GET", "/vps/v1")
    assert v["state"] == "running" and v["monitor"]["state"] == "running", v
    vpsd.api("POST", "/vps/v1/snapshots/fresh/revert")
    v = vpsd.api("GET", "/vps/v1")
    assert v["state"] == "running" and v["monitor"]["state"] == "running", v
    vpsd.api("POST", "/vps/v1/stop", {"force": True})
    assert "precious" in debugfs(disk, "cat /root/marker").stdout


def monitor_argv(d, name):
    pid = (d.run / "vps" / name / "monitor.pid").read_text().strip()
    return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")


def keeper_argv(d, name):
    pid = (d.run / "vps" / name / "keeper.pid").read_text().strip()
    return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")


def test_memory_snapshot_of_a_vmm_vm_and_its_revert(vpsd, tmp_path):
    """`vps snapshot create --memory` of a running vm on vps-vmm, through
    vpsd on this host's /dev/kvm (a Debian guest does not get far on this
    machine's PVM, but the monitor runs, freezes, saves and restores as in
    L1; the guest's counter going on is test_snapshot_vmm.py's, in L1, and
    test_vmm_snapshot.py's with a micro-guest): the RAM and state files are
    moved into the snapshot beside the disks, root's own; the list shows
    the RAM file's bytes; a revert starts vps-vmm with --restore from it,
    for that start only (the keeper's --once 2). A revert into another
    shape (RAM) is refused with the VPS untouched; a corrupt state file is
    refused by vps-vmm with its reason and the VPS is left stopped, on the
    snapshot's disks, and boots afresh at the next start. A container, a
    stopped VM and a QEMU VM are refused a memory snapshot, and a container
    whose snapshot directory was given a RAM file is refused the revert."""
    r = subprocess.run([str(MKVMTEMPLATE), "debian-12"], capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stderr
    vpsd.api("POST", "/vps", {"name": "m1", "kind": "vm", "engine": "vmm",
                              "template": "debian-12", "ram": "256M", "swap": "64M",
                              "disk": "1G", "root_password": "pw"}, expect=201)
    code, j = vpsd.request("POST", "/api/v1/vps/m1/snapshots", {"name": "s0", "memory": True})
    assert code == 400 and "stopped" in j["error"]["message"], j
    code, j = vpsd.request("POST", "/api/v1/vps/m1/snapshots", {"name": "s0", "memory": 1})
    assert code == 400 and "true or false" in j["error"]["message"], j
    vdir = vpsd.data / "vps" / "m1"
    assert not (vdir / "snapshots").exists() or os.listdir(vdir / "snapshots") == []

    vpsd.api("POST", "/vps/m1/start")
    assert b"--restore" not in monitor_argv(vpsd, "m1")
    r = cli(vpsd, "snapshot", "create", "m1", "s1", "--memory")
    assert r.returncode == 0 and "with its memory" in r.stdout, r
    v = vpsd.api("GET", "/vps/m1")
    assert v["state"] == "running" and v["monitor"]["state"] == "running", v  # thawed
    snap = vdir / "snapshots" / "s1"
    assert sorted(os.listdir(snap)) == ["disk.img", "memory", "state", "swap.img"]
    for f in ("memory", "state"):  # the jailed monitor's files, made root's own
        st = os.lstat(snap / f)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777, st.st_nlink) == (0, 0, 0o600, 1), f
    assert os.stat(snap / "memory").st_size == 256 << 20
    assert os.listdir(vdir / "vmm-snap") == []  # nothing left where the monitor writes
    (row,) = vpsd.api("GET", "/vps/m1/snapshots")
    assert row["memory"] == os.stat(snap / "memory").st_blocks * 512 > 0, row
    assert row["size"] >= (1 << 30) + (64 << 20) + (256 << 20), row  # the RAM file counts
    r = cli(vpsd, "snapshot", "list", "m1")
    assert r.returncode == 0 and "memory" in r.stdout.splitlines()[0].lower(), r.stdout
    vpsd.api("POST", "/vps/m1/snapshots", {"name": "disks"}, expect=201)
    assert vpsd.api("GET", "/vps/m1/snapshots")[1]["memory"] == 0

    # the revert runs it on from there, --restore for this start only
    vpsd.api("POST", "/vps/m1/snapshots/s1/revert")
    v = vpsd.api("GET", "/vps/m1")
    assert v["state"] == "running" and v["monitor"]["state"] == "running", v
    assert monitor_argv(vpsd, "m1")[-3:-1] == [b"--restore", str(snap).encode()]
    k = keeper_argv(vpsd, "m1")
    assert k[k.index(b"--once") + 1] == b"2", k
    log = (vpsd.run / "vps" / "m1" / "monitor.log").read_text()
    assert f"restored from `{snap}`" in log, log[-2000:]

    # another shape: refused before anything is touched
    vpsd.api("POST", "/vps/m1/stop", {"force": True})
    vpsd.api("PATCH", "/vps/m1", {"ram": "320M"})
    disk = vdir / "disk.img"
    before = os.stat(disk)
    code, j = vpsd.request("POST", "/api/v1/vps/m1/snapshots/s1/revert")
    assert code == 409 and "`ram` was 268435456" in j["error"]["message"], j
    after = os.stat(disk)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert vpsd.api("GET", "/vps/m1")["state"] == "stopped"
    vpsd.api("PATCH", "/vps/m1", {"ram": "256M"})

    # a corrupt state file: vps-vmm refuses it and says why; the VPS stays stopped
    state = bytearray((snap / "state").read_bytes())
    state[len(state) // 2] ^= 0xFF
    (snap / "state").write_bytes(bytes(state))
    code, j = vpsd.request("POST", "/api/v1/vps/m1/snapshots/s1/revert")
    assert code >= 400 and "checksum" in j["error"]["message"], j
    v = vpsd.api("GET", "/vps/m1")
    assert v["state"] == "stopped", v
    assert os.stat(disk).st_ino != before.st_ino  # on the snapshot's disks, put back
    vpsd.api("POST", "/vps/m1/start")  # and it boots afresh from them
    assert b"--restore" not in monitor_argv(vpsd, "m1")
    vpsd.api("POST", "/vps/m1/stop", {"force": True})

    # not a vm on vmm: refused, nothing made
    ct(vpsd, "c1", start=True)
    code, j = vpsd.request("POST", "/api/v1/vps/c1/snapshots", {"name": "m", "memory": True})
    assert code == 400 and "no memory snapshots" in j["error"]["message"], j
    assert vpsd.api("GET", "/vps/c1/snapshots") == []
    vpsd.api("POST", "/vps/c1/snapshots", {"name": "d"}, expect=201)
    (vpsd.data / "vps" / "c1" / "snapshots" / "d" / "memory").write_bytes(b"\0" * 4096)
    code, j = vpsd.request("POST", "/api/v1/vps/c1/snapshots/d/revert")
    assert code == 409 and "memory snapshot" in j["error"]["message"], j
    assert vpsd.api("GET", "/vps/c1")["state"] == "running"
    vpsd.api("POST", "/vps", {"name": "q1", "kind": "vm", "engine": "qemu",
                              "template": "debian-12", "ram": "256M", "disk": "1G",
                              "root_password": "pw"}, expect=201)
    code, j = vpsd.request("POST", "/api/v1/vps/q1/snapshots", {"name": "m", "memory": True})
    assert code == 400 and "(qemu) takes no memory snapshots" in j["error"]["message"], j


def test_full_pool_refuses_a_snapshot_and_a_clone_clearly(vpsd, filesystems):
    """A full-copy pool without room for a copy of the container's disk: the snapshot
    and the clone are refused saying so, nothing half-made is listed or left in the
    pool, and the container runs on."""
    pdir = filesystems["ext4"] / f"full-{os.getpid()}"
    pdir.mkdir()
    vpsd.api("POST", "/pools", {"name": "full", "path": str(pdir)}, expect=201)
    ct(vpsd, "f1", pool="full", start=True)
    assert sh(vpsd, "f1", "dd if=/dev/urandom of=/root/blob bs=1M count=40 2>/dev/null "
                          "&& sync")[0] == 0
    filler = pdir / "filler"
    st = os.statvfs(pdir)
    with open(filler, "wb") as f:
        # f_bfree: vpsd writes as root, into the reserved blocks too; ext4 keeps 16 MiB
        # more for its metadata: about 16 MiB stays free, less than the disk holds
        os.posix_fallocate(f.fileno(), 0, st.f_bfree * st.f_frsize - (32 << 20))
    try:
        def pool_files():  # the pool and the VPS's directory, not into its mounted root;
            snaps = pdir / "f1" / "snapshots"  # an empty snapshots directory may stay
            return (sorted(os.listdir(pdir)), sorted(set(os.listdir(pdir / "f1")) - {"snapshots"}),
                    sorted(os.listdir(snaps)) if snaps.exists() else [])

        before = pool_files()
        for path, body in (("/api/v1/vps/f1/snapshots", {"name": "s"}),
                           ("/api/v1/vps/f1/clone", {"name": "f2"})):
            code, j = vpsd.request("POST", path, body)
            assert code >= 400 and "No space left on device" in j["error"]["message"], (code, j)
            assert pool_files() == before, path
        assert vpsd.api("GET", "/vps/f1/snapshots") == []
        assert [v["name"] for v in vpsd.api("GET", "/vps")] == ["f1"]
        assert vpsd.api("GET", "/vps/f1")["state"] == "running"
        assert sh(vpsd, "f1", "echo still > /root/after && cat /root/after")[1] == "still\n"
    finally:
        filler.unlink()
    vpsd.api("POST", "/vps/f1/stop", {"force": True})
    vpsd.api("DELETE", "/vps/f1")
    vpsd.api("DELETE", "/pools/full")


def test_memory_snapshot_needs_room_for_the_ram(vpsd, filesystems):
    """The RAM file may take all of the VM's RAM: with less free in its pool, a memory
    snapshot is refused (409 no_room) before the guest is paused, nothing made, and
    the VM runs on."""
    r = subprocess.run([str(MKVMTEMPLATE), "debian-12"], capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stderr
    pdir = filesystems["ext4"] / f"room-{os.getpid()}"
    pdir.mkdir()
    vpsd.api("POST", "/pools", {"name": "small", "path": str(pdir)}, expect=201)
    vpsd.api("POST", "/vps", {"name": "r1", "kind": "vm", "engine": "vmm", "pool": "small",
                              "template": "debian-12", "ram": "256M", "disk": "1G",
                              "root_password": "pw"}, expect=201)
    vpsd.api("POST", "/vps/r1/start")
    filler = pdir / "filler"
    st = os.statvfs(pdir)
    with open(filler, "wb") as f:
        os.posix_fallocate(f.fileno(), 0, st.f_bavail * st.f_frsize - (128 << 20))
    try:
        code, j = vpsd.request("POST", "/api/v1/vps/r1/snapshots", {"name": "m", "memory": True})
        assert code == 409 and j["error"]["code"] == "no_room", j
        assert "RAM file may take 256 MiB" in j["error"]["message"], j
        assert vpsd.api("GET", "/vps/r1/snapshots") == []
        v = vpsd.api("GET", "/vps/r1")
        assert v["state"] == "running" and v["monitor"]["state"] == "running", v
    finally:
        filler.unlink()
    vpsd.api("POST", "/vps/r1/snapshots", {"name": "m", "memory": True}, expect=201)
    vpsd.api("POST", "/vps/r1/stop", {"force": True})
    vpsd.api("DELETE", "/vps/r1")
    vpsd.api("DELETE", "/pools/small")


def test_keeper_gives_the_restore_to_the_first_start_only(tmp_path):
    """`vpsd keep ... --once 2`: the monitor's last two words (`--restore DIR`) go to its
    first start; a restart asked by its exit status (a guest's reboot) starts it without
    them, so a VM run on from a memory snapshot boots afresh at a reboot. A count longer
    than the monitor's argv is refused."""
    run, seen, again = tmp_path / "run", tmp_path / "argv", tmp_path / "again"
    run.mkdir()
    mon = tmp_path / "mon.sh"
    mon.write_text(f'#!/bin/sh\necho "$*" >>{seen}\n[ -e {again} ] && exit 0\n'
                   f"touch {again}\nexit 3\n")
    mon.chmod(0o755)
    r = subprocess.run([str(VPSD), "keep", "k1", str(run), ",3,", "--once", "2", "--",
                        str(mon), "--config", "c.json", "--restore", "/snap"], timeout=60)
    assert r.returncode == 0
    assert seen.read_text() == "--config c.json --restore /snap\n--config c.json\n"
    assert (run / "restarted").read_text() == "1 3\n"
    r = subprocess.run([str(VPSD), "keep", "k1", str(run), ",3,", "--once", "3", "--",
                        str(mon), "a", "b"], timeout=60)
    assert r.returncode == 2
    assert seen.read_text().count("\n") == 2  # never started


def test_kill9_mid_revert_leaves_it_usable(vpsd):
    """vpsd killed once a revert has stopped the VPS, before its disk is put
    back: the VPS is stopped with its own disk, whole, and the revert asked
    again finishes."""
    ct(vpsd, "k2", start=True)
    assert sh(vpsd, "k2", "echo one > /root/f && sync") == (0, "")
    vpsd.api("POST", "/vps/k2/snapshots", {"name": "one"}, expect=201)
    assert sh(vpsd, "k2", "echo two > /root/f && sync") == (0, "")
    p = Paused(vpsd, "revert-stopped", "k2", "POST", "/api/v1/vps/k2/snapshots/one/revert")
    p.kill9()
    assert vpsd.api("GET", "/vps/k2")["state"] == "stopped"
    assert [s["name"] for s in vpsd.api("GET", "/vps/k2/snapshots")] == ["one"]
    img = vpsd.data / "vps" / "k2" / "ct" / "disk.img"
    r = subprocess.run(["e2fsck", "-fn", str(img)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
    vpsd.api("POST", "/vps/k2/start")
    assert sh(vpsd, "k2", "cat /root/f") == (0, "two\n")  # its own disk, as it was
    vpsd.api("POST", "/vps/k2/snapshots/one/revert")
    assert sh(vpsd, "k2", "cat /root/f") == (0, "one\n")


def test_failed_revert_starts_it_again_on_its_own_disk(vpsd):
    """A snapshot whose file went missing on the host: the revert of a
    running container fails, says why, and the container runs again on its
    own disk, unchanged."""
    ct(vpsd, "f1", start=True)
    vpsd.api("POST", "/vps/f1/snapshots", {"name": "gone"}, expect=201)
    assert sh(vpsd, "f1", "echo mine > /root/f && sync") == (0, "")
    (vpsd.data / "vps" / "f1" / "snapshots" / "gone" / "disk.img").unlink()
    code, j = vpsd.request("POST", "/api/v1/vps/f1/snapshots/gone/revert")
    assert code == 404 and "gone/disk.img" in j["error"]["message"], j  # its file is not there
    assert vpsd.api("GET", "/vps/f1")["state"] == "running"
    assert sh(vpsd, "f1", "cat /root/f") == (0, "mine\n")


def test_vm_disks_in_a_reflink_pool(vpsd, filesystems):
    """A VM's root and swap disks in a pool on XFS (reflink): made there (its
    kernel, seed and settings stay in its own directory), snapshots sharing
    their blocks, QEMU started on them (the keeper opens the pool's paths),
    a snapshot while it runs, revert, and all of it gone with the VPS."""
    r = subprocess.run([str(MKVMTEMPLATE), "debian-12"], capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stderr
    pdir = filesystems["xfs"] / f"vm-{os.getpid()}"
    pdir.mkdir()
    vpsd.api("POST", "/pools", {"name": "vmxfs", "path": str(pdir)}, expect=201)
    vpsd.api("POST", "/vps", {"name": "pv1", "kind": "vm", "engine": "qemu",
                              "template": "debian-12", "ram": "256M", "swap": "32M",
                              "disk": "512M", "root_password": "pw", "pool": "vmxfs"},
             expect=201)
    disks, own = pdir / "pv1", vpsd.data / "vps" / "pv1"
    assert sorted(p.name for p in disks.iterdir()) == ["disk.img", "swap.img"]
    assert not (own / "disk.img").exists() and not (own / "swap.img").exists()
    assert (own / "vmlinuz").is_file() and (own / "seed.iso").is_file()

    vpsd.api("POST", "/vps/pv1/snapshots", {"name": "fresh"}, expect=201)
    assert shared_extents(disks / "snapshots" / "fresh" / "disk.img")
    vpsd.api("POST", "/vps/pv1/start")
    v = vpsd.api("GET", "/vps/pv1")
    assert v["state"] == "running" and v["monitor"]["state"] == "running", v
    vpsd.api("POST", "/vps/pv1/snapshots", {"name": "running"}, expect=201)
    assert vpsd.api("GET", "/vps/pv1")["monitor"]["state"] == "running"
    assert sorted(os.listdir(disks / "snapshots" / "running")) == ["disk.img", "swap.img"]
    vpsd.api("POST", "/vps/pv1/stop", {"force": True})
    vpsd.api("POST", "/vps/pv1/snapshots/fresh/revert")
    assert vpsd.api("GET", "/vps/pv1")["state"] == "stopped"
    vpsd.api("DELETE", "/vps/pv1")
    assert not disks.exists() and not own.exists()
    vpsd.api("DELETE", "/pools/vmxfs")


def test_a_plan_names_a_pool(filesystems):
    """The administrator's plan names a pool; a customer's create on that
    plan lands there (a customer may not name a pool), the plan shows it, a
    pool a plan names stays, and a plan cannot name a pool that is not."""
    d = start_vpsd()
    try:
        admin = unix(d)
        pdir = filesystems["btrfs"] / f"plan-{os.getpid()}"
        pdir.mkdir()
        admin.api("POST", "/pools", {"name": "fastpool", "path": str(pdir)}, expect=201)
        p = admin.api("POST", "/plans", {"name": "fast", "ram": "128M", "disk": "64M",
                                         "cpus": 1, "pool": "fastpool"}, expect=201)
        assert p["pool"] == "fastpool", p
        assert admin.api("GET", "/plans/fast")["pool"] == "fastpool"
        p = admin.api("POST", "/plans", {"name": "plain", "ram": "128M", "disk": "64M",
                                         "cpus": 1, "pool": "default"}, expect=201)
        assert "pool" not in p, p
        for pool in ["nosuch", "../x", 7]:
            r = admin.request("POST", "/plans", {"name": "bad", "ram": "128M", "disk": "64M",
                                                 "cpus": 1, "pool": pool})
            assert r.status == 400 and "`pool`" in r.json["error"]["message"], (pool, r.json)
        r = cli(d, "plan", "create", "viacli", "--ram", "128M", "--disk", "64M", "--cpus", "1",
                "--pool", "fastpool")
        assert r.returncode == 0, r.stderr
        assert admin.api("GET", "/plans/viacli")["pool"] == "fastpool"
        assert [x["name"] for x in admin.api("GET", "/plans")] == ["fast", "plain", "viacli"]

        admin.api("POST", "/users", {"name": "alice", "password": PASSWORDS["alice"],
                                     "role": "customer"}, expect=201)
        alice = tcp(d)
        alice.login("alice", PASSWORDS["alice"])
        r = alice.request("POST", "/vps", {"name": "c1", "kind": "ct", "template": "busybox",
                                           "plan": "plain", "pool": "fastpool"})
        assert r.status == 403, r.json  # still: only an administrator picks a pool
        assert not (pdir / "c1").exists()
        alice.api("POST", "/vps", {"name": "c1", "kind": "ct", "template": "busybox",
                                   "plan": "fast"}, expect=201)
        assert (pdir / "c1" / "ct" / "disk.img").is_file()
        assert not (d.data / "vps" / "c1" / "ct").exists()
        # a plan change, off the pool's plan and onto it again, moves no disk
        for plan in ("plain", "fast"):
            admin.api("POST", "/vps/c1/plan", {"plan": plan})
            assert (pdir / "c1" / "ct" / "disk.img").is_file()

        admin.api("DELETE", "/vps/c1")
        r = admin.request("DELETE", "/pools/fastpool")
        assert r.status == 409 and "a plan names it" in r.json["error"]["message"], r.json
        admin.api("DELETE", "/plans/fast")
        admin.api("DELETE", "/plans/viacli")
        admin.api("DELETE", "/pools/fastpool")
        d.destroy_all_and_stop()  # a sanitizer's report fails the test
    finally:
        d.cleanup()
