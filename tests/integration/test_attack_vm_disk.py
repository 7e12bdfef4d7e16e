# SPDX-License-Identifier: GPL-2.0-or-later
"""Attack: a customer's VM disk must never be mounted or written through by
the host (issue 15; docs/security.md, "VM first-boot configuration").

The customer is root in their VM, so the VM's disk holds whatever they put
there. They leave /etc/hostname as a block device node naming a host block
device (here a scratch loop device the test owns, standing in for the host's
own disk), stop the VM and ask for a root password reset through the API.
A host that loop-mounts the guest's ext4 (no nodev) to write the hostname
and password into it writes into that host device instead; its kernel also
parses a filesystem the customer made.

What must hold: the reset leaves the scratch device as it was, the guest's
disk is not opened for writing (mtime) and never mounted (the ext4 mount
count, which the host kernel raises at every mount, and the mount table
watched through the whole request), and the new password reaches the VM
only as a SHA-512 crypt hash in its cloud-init NoCloud seed (seed.iso,
0600, attached read-only), which the test reads in user space.

The disk is planted with debugfs, in user space, as the guest's root would
leave it; the VM never boots here (test_vpsd_vm.py boots the seed)."""

import http.client
import json
import os
import re
import select
import subprocess
import threading
import time
import warnings
from pathlib import Path

import pytest

from framework import artefacts
from framework.vpsd import Vpsd, free_port

with warnings.catch_warnings():  # libcrypt's crypt(3), to check a SHA-512 hash
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

MKVMTEMPLATE = artefacts.TOP / "src" / "host" / "templates" / "mkvmtemplate"
PATTERN = b"host-owned-block-device\n" * 4096  # 96 KiB the attack must not change
NEW_PASSWORD = "n3w-Secret-pw"


@pytest.fixture(scope="module")
def vm_template(timings):
    t0 = time.monotonic()
    r = subprocess.run([str(MKVMTEMPLATE), "debian-12"], capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stderr
    timings.append(("mkvmtemplate debian-12 (attack test)", time.monotonic() - t0))
    return Path(r.stdout.strip())


@pytest.fixture
def scratch_dev(tmp_path):
    """A loop device over a file the test owns: the 'host disk' of the attack."""
    back = tmp_path / "host-disk.img"
    back.write_bytes(PATTERN)
    dev = subprocess.run(["losetup", "--find", "--show", str(back)], capture_output=True,
                         text=True, check=True).stdout.strip()
    try:
        st = os.stat(dev)
        yield back, dev, os.major(st.st_rdev), os.minor(st.st_rdev)
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)


class MountWatch:
    """Every mount-table line that appears while it runs and names one of
    `needles` (POLLPRI on /proc/self/mountinfo wakes it on each change)."""

    def __init__(self, *needles):
        self.needles = [str(n) for n in needles]
        self.seen = []
        self.stop = threading.Event()
        self.fd = os.open("/proc/self/mountinfo", os.O_RDONLY)
        self.thread = threading.Thread(target=self.run, daemon=True)

    def scan(self):
        os.lseek(self.fd, 0, os.SEEK_SET)
        chunks = []
        while c := os.read(self.fd, 1 << 16):
            chunks.append(c)
        for line in b"".join(chunks).decode(errors="replace").splitlines():
            if any(n in line for n in self.needles):
                self.seen.append(line)

    def run(self):
        p = select.poll()
        p.register(self.fd, select.POLLPRI | select.POLLERR)
        while not self.stop.is_set():
            if p.poll(50):
                self.scan()

    def __enter__(self):
        self.scan()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.scan()
        os.close(self.fd)


def mount_count(img):
    out = subprocess.run(["dumpe2fs", "-h", str(img)], capture_output=True, text=True,
                         check=True).stdout
    return int(re.search(r"^Mount count:\s+(\d+)", out, re.M).group(1))


def debugfs(img, *cmds):
    r = subprocess.run(["debugfs", "-w", "-f", "-", str(img)], input="\n".join(cmds) + "\n",
                       capture_output=True, text=True, check=True)
    assert "rror" not in r.stderr.replace("debugfs 1.", ""), r.stderr


def loop_backing(img):
    """Loop devices whose backing file is img (a mount of it goes through one)."""
    out = subprocess.run(["losetup", "-j", str(img)], capture_output=True, text=True).stdout
    return out.strip()


def iso_file(iso, name, tmp):
    """A file of an ISO 9660 image, read in user space (xorriso, no mount)."""
    out = tmp / f"extracted-{name}"
    out.unlink(missing_ok=True)
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", str(iso), "-extract", f"/{name}",
                    str(out)], capture_output=True, check=True)
    return out.read_text()


def seed_of(vdir, tmp):
    """(user-data, meta-data) of a VPS's seed.iso, each as a dict."""
    ud = iso_file(vdir / "seed.iso", "user-data", tmp)
    assert ud.startswith("#cloud-config\n"), ud
    return json.loads(ud.split("\n", 1)[1]), json.loads(iso_file(vdir / "seed.iso",
                                                                "meta-data", tmp))


def test_password_reset_of_a_stopped_vm_never_mounts_the_guest_disk(vm_template, scratch_dev,
                                                                    tmp_path, timings):
    back, dev, major, minor = scratch_dev
    port = free_port()
    d = Vpsd().start(extra=("--tcp", f"127.0.0.1:{port}"))
    try:
        d.api("POST", "/users", {"name": "mallory", "role": "customer",
                                 "password": "mallory's login"}, expect=201)
        token = d.api("POST", "/tokens", {"name": "t", "expires_in": 3600, "user": "mallory"},
                      expect=201)["token"]
        d.api("PUT", "/policies", {"memory": {"mode": "oversell", "ratio": 1.5}})
        d.api("POST", "/vps", {"name": "evil", "kind": "vm", "engine": "qemu",
                               "template": "debian-12", "ram": "128M", "cpus": 1,
                               "disk": "1G", "root_password": "first", "owner": "mallory",
                               "hostname": "evil"}, expect=201)
        vdir = d.data / "vps" / "evil"
        disk = vdir / "disk.img"

        # what the guest's root leaves behind: /etc/hostname and /etc/hosts as
        # nodes of the host's block device
        for f in ("hostname", "hosts"):
            debugfs(disk, "cd /etc", f"rm {f}", f"mknod {f} b {major} {minor}",
                    f"sif {f} mode 060644")
        listing = subprocess.run(["debugfs", "-R", "stat /etc/hostname", str(disk)],
                                 capture_output=True, text=True, check=True,
                                 env=dict(os.environ, DEBUGFS_PAGER="__none__")).stdout
        assert "Type: block special" in listing, listing
        mounts_before = mount_count(disk)
        mtime_before = disk.stat().st_mtime_ns

        # the customer asks for a password reset of the stopped VM, over TCP
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        t0 = time.monotonic()
        with MountWatch(vdir, disk, dev) as watch:
            c.request("POST", "/api/v1/vps/evil/password",
                      body=json.dumps({"password": NEW_PASSWORD}),
                      headers={"Authorization": f"Bearer {token}",
                               "Content-Type": "application/json"})
            resp = c.getresponse()
            body = resp.read().decode()
            left_on_loop = loop_backing(disk)
        timings.append(("password reset of a stopped VM", time.monotonic() - t0))

        # nothing on the host was written through the guest's nodes
        assert back.read_bytes() == PATTERN, \
            "the host block device was written through the guest's /etc/hostname"
        # the guest's disk was neither mounted nor written
        assert not watch.seen, f"the guest's disk was mounted: {watch.seen}"
        assert mount_count(disk) == mounts_before, "the host kernel mounted the guest's ext4"
        assert disk.stat().st_mtime_ns == mtime_before, "the guest's disk was written"
        assert not left_on_loop, left_on_loop
        assert resp.status == 200, body

        # the password reaches the VM in its NoCloud seed, as a hash only
        seed = vdir / "seed.iso"
        assert seed.stat().st_mode & 0o777 == 0o600, oct(seed.stat().st_mode)
        raw = seed.read_bytes()
        assert NEW_PASSWORD.encode() not in raw and b"first" not in raw
        vol = subprocess.run(["blkid", "-o", "export", str(seed)], capture_output=True,
                             text=True, check=True).stdout
        assert "TYPE=iso9660" in vol and "LABEL=cidata" in vol, vol
        ud, md = seed_of(vdir, tmp_path)
        root = ud["chpasswd"]["users"]
        assert [(u["name"], u["type"]) for u in root] == [("root", "hash")], ud
        h = root[0]["password"]
        assert h.startswith("$6$") and crypt.crypt(NEW_PASSWORD, h) == h, ud
        assert (ud["hostname"], ud["fqdn"], ud["manage_etc_hosts"]) == ("evil", "evil", True)
        assert md["instance-id"].startswith("vps-"), md

        # a second reset is a new instance for cloud-init, which applies it again
        c.request("POST", "/api/v1/vps/evil/password", body=json.dumps({"password": "again"}),
                  headers={"Authorization": f"Bearer {token}",
                           "Content-Type": "application/json"})
        resp = c.getresponse()
        body = resp.read().decode()
        assert resp.status == 200, body
        ud2, md2 = seed_of(vdir, tmp_path)
        assert md2["instance-id"] != md["instance-id"], (md, md2)
        h2 = ud2["chpasswd"]["users"][0]["password"]
        assert crypt.crypt("again", h2) == h2, ud2
        assert back.read_bytes() == PATTERN and mount_count(disk) == mounts_before

        # destroy leaves no seed behind
        d.api("DELETE", "/vps/evil")
        assert not vdir.exists()
    finally:
        d.cleanup()
