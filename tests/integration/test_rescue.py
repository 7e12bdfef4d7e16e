# SPDX-License-Identifier: GPL-2.0-or-later
"""Rescue mode (src/host/kind_vm.c vm_rescue, life.c life_rescue,
docs/rescue.md) through the daemon and the CLI, vm/qemu on this machine
(QEMU's software CPU: one boot).

A debian-12 VM whose disk holds a file to be fixed: `vps rescue NAME on`
makes the rescue system (a fresh copy of the debian-12 template's disk and
its kernel); the start runs QEMU with the rescue disk first and the VPS's
disk second; the customer logs in on the console with the VPS's password,
finds the VPS's disk at /dev/vdb, not mounted, mounts it, reads and fixes
the file; `rescue off` throws the rescue system away and the next start
boots the VPS's own disk and kernel again, with the fix on it. A container
is refused with the reason; so is a body that is not {"on": bool}.

Run as root: VPS_BUILD=... /usr/bin/python3 -m pytest -q test_rescue.py"""

import os
import subprocess
import time

import pytest

from framework.console import Console
from test_vpsd_vm import (QEMU_LOGIN_TIMEOUT, VPS, console_path, daemon,  # noqa: F401
                          qemu_of, show, until, vm_template_cached, vps)


def debugfs(img, req, write=False):
    """e2fsprogs' debugfs on the stopped VM's image: the test's own look at
    the disk, never the host's code path."""
    r = subprocess.run(["debugfs"] + (["-w"] if write else []) + ["-R", req, str(img)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    return r.stdout


def argv_of(pid):
    return open(f"/proc/{pid}/cmdline", "rb").read().decode().split("\0")


def drives(argv):
    """The files behind QEMU's -drive options, in order (through -add-fd's opaque)."""
    sets = {}
    for i, a in enumerate(argv):
        if a == "-add-fd":
            spec = dict(kv.split("=", 1) for kv in argv[i + 1].split(","))
            sets[spec["set"]] = spec["opaque"].split(":", 1)[1]
    out = []
    for i, a in enumerate(argv):
        if a == "-drive" and "/dev/fdset/" in argv[i + 1]:
            out.append(sets[argv[i + 1].split("/dev/fdset/")[1].split(",")[0]])
    return out


def test_rescue_on_off_and_refusals(daemon, vm_template_cached):
    """No boot: on and off of a stopped VM make and remove the rescue
    system and `show` says so; a body that is not {"on": bool}, a word that
    is not on or off, and a container are refused with nothing made."""
    d = daemon
    vps(d, "create", "r0", "--kind", "vm", "--engine", "qemu", "--template", "debian-12",
        "--ram", "256M", "--cpus", "1", "--disk", "2G", "--password", "pw")
    vdir = d.data / "vps" / "r0"
    assert show(d, "r0")["rescue"] is False
    for body in ({}, {"on": "yes"}, {"on": True, "x": 1}):
        code, j = d.request("POST", "/api/v1/vps/r0/rescue", body, validate=False)
        assert code == 400, (body, j)
    assert not (vdir / "rescue.img").exists()
    r = subprocess.run([str(VPS), "rescue", "r0", "maybe"], capture_output=True, text=True,
                       env=dict(os.environ, VPS_SOCKET=str(d.sock)))
    assert r.returncode != 0 and "on or off" in r.stderr, r
    d.api("POST", "/vps", {"name": "rct", "kind": "ct", "template": "busybox", "ram": "64M",
                           "disk": "64M"}, expect=201)
    code, j = d.request("POST", "/api/v1/vps/rct/rescue", {"on": True})
    assert code == 400 and "has no rescue mode" in j["error"]["message"], j
    assert "rescue" not in show(d, "rct")
    d.api("DELETE", "/vps/rct")

    assert vps(d, "rescue", "r0", "on") == "rescue on for r0\n"
    v = show(d, "r0")
    assert v["rescue"] is True and v["state"] == "stopped", v
    tmpl = d.api("GET", "/templates/debian-12")
    img = d.data / "templates" / "debian-12" / str(tmpl["version"]) / "vm" / "rootfs.img"
    assert (vdir / "rescue.img").read_bytes() == img.read_bytes()
    assert vps(d, "rescue", "r0", "on") == "rescue on for r0\n"  # again: a fresh copy
    assert vps(d, "rescue", "r0", "off") == "rescue off for r0\n"
    assert show(d, "r0")["rescue"] is False
    for f in ("rescue.img", "rescue-vmlinuz", "rescue-initrd.img"):
        assert not (vdir / f).exists(), f
    ev = [e["kind"] for e in d.api("GET", "/events?vps=r0")]
    assert ev.count("rescue") == 3, ev
    vps(d, "destroy", "r0")
    assert not vdir.exists()


def test_vm_rescue_mode(daemon, vm_template_cached, tmp_path, timings):
    d = daemon
    vps(d, "create", "r1", "--kind", "vm", "--engine", "qemu", "--template", "debian-12",
        "--ram", "512M", "--cpus", "1", "--disk", "2G", "--password", "pw")
    vdir = d.data / "vps" / "r1"
    disk = vdir / "disk.img"
    # the "broken" file the customer comes to fix
    (tmp_path / "broken").write_text("BROKEN\n")
    debugfs(disk, f"write {tmp_path / 'broken'} /root/broken", write=True)

    assert vps(d, "rescue", "r1", "on") == "rescue on for r1\n"
    for f in ("rescue.img", "rescue-vmlinuz", "rescue-initrd.img"):
        assert (vdir / f).is_file(), f
    t0 = time.monotonic()
    vps(d, "start", "r1")
    pid = until(lambda: qemu_of(vdir), 30, "QEMU running")[0]
    a = argv_of(pid)
    assert drives(a)[:2] == [str(vdir / "rescue.img"), str(disk)], a
    assert a[a.index("-kernel") + 1] == str(vdir / "rescue-vmlinuz"), a
    assert a[a.index("-initrd") + 1] == str(vdir / "rescue-initrd.img"), a
    with Console(console_path(d, "r1")) as c:
        c.login("pw", QEMU_LOGIN_TIMEOUT)
        timings.append(("vm/qemu rescue: start to root shell (TCG)", time.monotonic() - t0))
        c.run("hostname; findmnt -n -o SOURCE /; grep -c vdb /proc/mounts; "
              "echo END-$((6*7))", "END-42")
        out = c.tail()
        assert "r1\r\n/dev/vda\r\n0\r\nEND-42" in out, out
        c.run("mount /dev/vdb /mnt && cat /mnt/root/broken && echo FIXED > /mnt/root/broken "
              "&& umount /mnt && sync && echo DONE-$((6*7))", "DONE-42", timeout=120)
        assert "BROKEN" in c.tail(), c.tail()
    vps(d, "stop", "r1", "--timeout", "180")
    assert show(d, "r1")["state"] == "stopped"
    assert "FIXED" in debugfs(disk, "cat /root/broken")

    # off: the rescue system is gone; the next start is the VPS's own disk and kernel
    assert vps(d, "rescue", "r1", "off") == "rescue off for r1\n"
    for f in ("rescue.img", "rescue-vmlinuz", "rescue-initrd.img"):
        assert not (vdir / f).exists(), f
    vps(d, "start", "r1")
    pid = until(lambda: qemu_of(vdir), 30, "QEMU running")[0]
    a = argv_of(pid)
    assert drives(a)[0] == str(disk) and str(vdir / "rescue.img") not in a, a
    assert a[a.index("-kernel") + 1] == str(vdir / "vmlinuz"), a
    vps(d, "stop", "--force", "r1")
    ev = [e["kind"] for e in d.api("GET", "/events?vps=r1")]
    assert ev.count("rescue") == 2, ev
    vps(d, "destroy", "r1")
    assert not vdir.exists()
