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
boots the VPS's own disk and kernel again, with the fix on it. A body that
is not {"on": bool} is refused.

A busybox container whose /sbin/init is gone (it cannot boot): `rescue on`
makes a rescue container (kind_ct.c ct_rescue, vps-ctm's `rescue_dir`),
which boots the busybox template with the container's own root at /mnt, in
the same uid range; the fix is made through `vps exec` and the console,
`rescue off` and the container boots its own root with the fix. The
attacks: another customer's rescue is a 404, rescue while a snapshot holds
the VPS is refused, and root inside the rescue system is the container's
shifted root, not the host's.

Run as root: VPS_BUILD=... /usr/bin/python3 -m pytest -q test_rescue.py"""

import json
import os
import subprocess
import time

import pytest

from framework.console import Console
from framework.openapi import start_vpsd, tcp, unix
from test_vpsd_vm import (QEMU_LOGIN_TIMEOUT, VPS, console_path, daemon,  # noqa: F401
                          qemu_of, show, until, vm_template_cached, vps)
from test_vpsd_kill9 import Paused


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
    system and `show` says so; a body that is not {"on": bool} and a word
    that is not on or off are refused with nothing made."""
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
        # one line, so the rescue system's own console messages (cloud-init's, the
        # kernel's), which may come between lines on a loaded host, cannot split it
        c.run('echo "R:$(hostname):$(findmnt -n -o SOURCE /):$(grep -c vdb /proc/mounts):'
              'END-$((6*7))"', "END-42")
        out = c.tail()
        assert "R:r1:/dev/vda:0:END-42" in out, out
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


# --- containers ---------------------------------------------------------------------------

def exec_sh(d, name, script):
    r = d.api("POST", f"/vps/{name}/exec", {"args": ["sh", "-c", script]})
    return r["status"], r["stdout"], r["stderr"]


def uid_base(d, name):
    return json.loads((d.data / "vps" / name / "ct.json").read_text())["uid_base"]


def test_ct_rescue_mode(daemon, timings):
    """A container that cannot boot (no /sbin/init) is fixed from the rescue
    container and boots again; rescue survives a vpsd restart; root in the
    rescue system is the container's shifted root."""
    d = daemon
    vps(d, "create", "rc1", "--kind", "ct", "--template", "busybox", "--ram", "64M",
        "--disk", "64M")
    vdir = d.data / "vps" / "rc1"
    vps(d, "start", "rc1")
    base = uid_base(d, "rc1")
    st, out, err = exec_sh(d, "rc1", "echo BROKEN > /root/note && rm /sbin/init && echo ok")
    assert st == 0 and out == "ok\n", (st, out, err)
    vps(d, "stop", "rc1")
    # it would not boot: vps-ct cannot exec a missing /sbin/init
    # (vps-ctm exits 4 at once; vpsd sees it while it starts, or just after)
    code, j = d.request("POST", "/api/v1/vps/rc1/start")
    assert (code == 500 and "stopped while starting" in j["error"]["message"]) or \
        code == 200, (code, j)
    until(lambda: show(d, "rc1")["state"] == "stopped", 30, "the broken rc1 stopped")
    ev = [e["kind"] for e in d.api("GET", "/events?vps=rc1")]
    assert ev[-1] in ("stopped", "crashed") and ev.count("starting") == 2, ev

    t0 = time.monotonic()
    assert vps(d, "rescue", "rc1", "on") == "rescue on for rc1\n"
    timings.append(("ct rescue: on (a busybox vps-ctm create)", time.monotonic() - t0))
    v = show(d, "rc1")
    assert v["rescue"] is True and v["state"] == "stopped", v
    assert (vdir / "ct-rescue.json").is_file() and (vdir / "ct-rescue" / "disk.img").is_file()
    # thin: what busybox holds (2.5 MiB here), not the 256 MiB it may grow to
    assert os.stat(vdir / "ct-rescue" / "disk.img").st_blocks * 512 < 16 << 20
    cfg = json.loads((vdir / "ct.json").read_text())
    assert cfg["rescue_dir"] == str(vdir / "ct-rescue"), cfg

    # a vpsd restart keeps it: the mark is a file, and the next start boots the rescue system
    d.stop()
    d.start(timeout=60)
    assert show(d, "rc1")["rescue"] is True
    t0 = time.monotonic()
    vps(d, "start", "rc1")
    st, out, err = exec_sh(d, "rc1", "hostname; cat /mnt/root/note; "
                           "test -e /mnt/sbin/init || echo NOINIT; readlink /sbin/init; "
                           "test -e /root/note || echo NONOTE; grep ' /mnt ' /proc/mounts")
    timings.append(("ct rescue: start to exec", time.monotonic() - t0))
    assert st == 0 and out.startswith("rc1\nBROKEN\nNOINIT\n../bin/busybox\nNONOTE\n"), \
        (out, err)
    mnt = out.split("\n")[5:-1]
    assert len(mnt) == 1 and "nosuid" in mnt[0] and "nodev" in mnt[0], out

    # root inside is the container's root: the shifted range, no device, no host ids
    st, out, err = exec_sh(d, "rc1", "cat /proc/self/uid_map; id -u; "
                           "mknod /mnt/root/sda b 8 0 2>&1 || echo NOMKNOD; "
                           "echo x > /proc/sysrq-trigger 2>&1 || echo NOSYSRQ; "
                           "touch /mnt/root/made-in-rescue && echo MADE")
    assert st == 0, (out, err)
    lines = out.split("\n")
    assert lines[0].split() == ["0", str(base), "65536"], out
    assert lines[1] == "0" and "NOMKNOD" in out and "NOSYSRQ" in out and "MADE" in out, out
    own = vdir / "ct" / "rootfs"
    st_made = os.lstat(own / "root" / "made-in-rescue")
    assert (st_made.st_uid, st_made.st_gid) == (base, base), st_made
    assert not (own / "root" / "sda").exists()
    rb = os.lstat(vdir / "ct-rescue" / "rootfs" / "bin" / "busybox")
    assert (rb.st_uid, rb.st_gid) == (base, base), rb

    # the console is the rescue system's: its own password (`vps password` in rescue mode),
    # and the customer's own /etc/shadow untouched
    shadow = (own / "etc" / "shadow").read_bytes()
    d.api("POST", "/vps/rc1/password", {"password": "rescue-pw"})
    assert (own / "etc" / "shadow").read_bytes() == shadow
    with Console(console_path(d, "rc1")) as c:
        c.login("rescue-pw", 60)
        c.run("ln -s ../bin/busybox /mnt/sbin/init && echo FIXED > /mnt/root/note && "
              "sync && echo DONE-$((6*7))", "DONE-42")

    # off while it runs: restarted onto its own root, the fix there, the rescue system gone
    assert vps(d, "rescue", "rc1", "off") == "rescue off for rc1\n"
    v = show(d, "rc1")
    assert v["rescue"] is False and v["state"] == "running", v
    assert not (vdir / "ct-rescue.json").exists() and not (vdir / "ct-rescue").exists()
    assert "rescue_dir" not in json.loads((vdir / "ct.json").read_text())
    st, out, err = exec_sh(d, "rc1", "cat /root/note; readlink /sbin/init; "
                           "test -e /mnt/root || echo NOMNT; ls /root")
    assert st == 0 and out.startswith("FIXED\n../bin/busybox\nNOMNT\n"), (out, err)
    assert "made-in-rescue" in out, out
    ev = [e["kind"] for e in d.api("GET", "/events?vps=rc1")]
    assert ev.count("rescue") == 2, ev
    vps(d, "destroy", "rc1")
    assert not vdir.exists()


PASSWORDS = {"alice": "alice's long secret", "bob": "bob's long secret"}


def test_ct_rescue_refusals():
    """What a customer may not do: rescue another's VPS (the 404 of one that
    does not exist), send a body that is not {"on": bool}, or turn rescue
    off while a snapshot holds the VPS; each leaves nothing changed. A
    reinstall ends rescue mode."""
    d = start_vpsd()
    try:
        admin = unix(d)
        for name, pw in PASSWORDS.items():
            admin.api("POST", "/users", {"name": name, "password": pw, "role": "customer"},
                      expect=201)
        admin.api("POST", "/plans", {"name": "small", "ram": "64M", "disk": "64M", "cpus": 1},
                  expect=201)
        alice, bob = tcp(d), tcp(d)
        alice.login("alice", PASSWORDS["alice"])
        bob.login("bob", PASSWORDS["bob"])
        alice.api("POST", "/vps", {"name": "a1", "kind": "ct", "template": "busybox",
                                   "plan": "small"}, expect=201)
        vdir = d.data / "vps" / "a1"
        before = sorted(os.listdir(vdir))

        nobody = bob.request("POST", "/vps/nosuch/rescue", {"on": True})
        assert nobody.status == 404, nobody.json
        for on in (True, False):
            r = bob.request("POST", "/vps/a1/rescue", {"on": on})
            assert r.status == 404 and r.json == json.loads(
                nobody.text.replace("nosuch", "a1")), (r.status, r.json)
        for body in ({}, {"on": "yes"}, {"on": 1}, {"on": True, "x": 1}, {"on": None}):
            r = alice.request("POST", "/vps/a1/rescue", body)
            assert r.status == 400, (body, r.status, r.json)
        assert sorted(os.listdir(vdir)) == before
        assert alice.api("GET", "/vps/a1")["rescue"] is False
        assert [e["kind"] for e in admin.api("GET", "/events?vps=a1")].count("rescue") == 0

        # her own: on, shown to her, in the event log
        alice.api("POST", "/vps/a1/rescue", {"on": True})
        assert alice.api("GET", "/vps/a1")["rescue"] is True
        assert (vdir / "ct-rescue.json").is_file()
        assert bob.request("POST", "/vps/a1/rescue", {"on": False}).status == 404
        assert (vdir / "ct-rescue.json").is_file()

        # a reinstall is a fresh VPS: its rescue system goes with the old disk
        alice.api("POST", "/vps/a1/reinstall", {"template": "busybox"})
        assert alice.api("GET", "/vps/a1")["rescue"] is False
        assert not (vdir / "ct-rescue.json").exists() and not (vdir / "ct-rescue").exists()
        alice.api("POST", "/vps/a1/rescue", {"on": True})

        # a snapshot holds the VPS: rescue waits its turn (409), the rescue system stays
        p = Paused(d, "snapshot-copied", "a1", "POST", "/api/v1/vps/a1/snapshots",
                   {"name": "held"})
        code, j = d.request("POST", "/api/v1/vps/a1/rescue", {"on": False})
        assert code == 409 and "busy" in j["error"]["message"], (code, j)
        assert (vdir / "ct-rescue.json").is_file() and (vdir / "ct-rescue" / "disk.img").is_file()
        p.kill9()
        assert d.api("GET", "/vps/a1")["rescue"] is True  # kept across the kill -9
        d.api("POST", "/vps/a1/rescue", {"on": False})
        assert not (vdir / "ct-rescue.json").exists() and not (vdir / "ct-rescue").exists()
        d.destroy_all_and_stop()  # a sanitizer's report fails the test
    finally:
        d.cleanup()
