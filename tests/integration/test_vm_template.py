# SPDX-License-Identifier: GPL-2.0-or-later
"""The VM templates (src/host/templates/mkvmtemplate): debian-11, debian-12
and debian-13 build and are cached; debian-12 boots to a login prompt on its serial
console under both engines of the vm kind -- QEMU's software CPU on this
machine (whose PVM /dev/kvm cannot run a stock kernel) and vps-vmm in the
nested test host L1 -- and powers off on the ACPI power button, which is
how the daemon stops a VM gracefully.

That debian-12 boots here without a cloud-init seed: cloud-init finds no
datasource and stays off. debian-11 and debian-13 boot through the daemon
(a VPS made from the template, its NoCloud seed attached), one engine each,
to keep the suite's time (two Debian boots under the software CPU cost
about as much as the rest of this file): debian-11 under QEMU here,
debian-13 under vps-vmm in L1; each logs in with the password cloud-init
set, and the hostname and SSH key are the VPS's. debian-12 gets the same
through the daemon in test_vpsd_vm.py. The kind itself (src/host/kind_vm.c: disk copy,
the NoCloud seed, vm.json, QEMU's argv, QMP) is tested through the daemon in
test_vpsd_vm.py, the seed against a hostile disk in test_attack_vm_disk.py."""

import re
import shlex
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from framework import artefacts
from framework.agent import ChannelError
from framework.console import Console
from framework.retry import ATTEMPTS, LAST, retry, triple_fault
from framework.vpsd import Vpsd
from test_vpsd_vm import (KEY, QEMU_LOGIN_TIMEOUT, console_path, in_l1, l1_boot_to_login,
                          l1_console, l1_show, l1_vps, show, vps)

MKVMTEMPLATE = artefacts.TOP / "src" / "host" / "templates" / "mkvmtemplate"
VMMCTL = Path(__file__).resolve().parent / "framework" / "vmmctl.py"
CMDLINE = "console=ttyS0 root=/dev/vda rw quiet"


RELEASES = ("debian-11", "debian-12", "debian-13")
_built = {}


def mkvmtemplate(name="debian-12"):
    t0 = time.monotonic()
    r = subprocess.run([str(MKVMTEMPLATE), name], capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip()), time.monotonic() - t0


def template(name, timings):
    """NAME's VM template, built (or found in the cache) once a session."""
    if name not in _built:
        _built[name], seconds = mkvmtemplate(name)
        timings.append((f"mkvmtemplate {name} (first call of the session)", seconds))
    return _built[name]


@pytest.fixture(scope="module")
def vm_template(timings):
    return template("debian-12", timings)


def vm_disk(template, dest, size="2G"):
    """A VM's disk as the kind makes it: a sparse copy, grown offline."""
    subprocess.run(["cp", "--sparse=always", str(template / "rootfs.img"), str(dest)],
                   check=True)
    subprocess.run(["truncate", "-s", size, str(dest)], check=True)
    subprocess.run(["e2fsck", "-f", "-y", str(dest)], check=True, capture_output=True)
    subprocess.run(["resize2fs", str(dest)], check=True, capture_output=True)
    return dest


@pytest.mark.parametrize("release", RELEASES)
def test_template_is_built_and_cached(release, timings):
    vm_template = template(release, timings)
    for f in ("vmlinuz", "initrd.img", "rootfs.img", "version"):
        assert (vm_template / f).is_file(), f
    again, seconds = mkvmtemplate(release)
    timings.append((f"mkvmtemplate {release}, cached", seconds))
    assert again == vm_template
    assert seconds < 10, seconds
    # the initramfs carries what Debian builds as modules and root needs
    listing = subprocess.run(f"zcat {vm_template}/initrd.img | cpio -t --quiet",
                             shell=True, capture_output=True, text=True, check=True).stdout
    for ko in ("virtio_pci.ko", "virtio_blk.ko", "ext4.ko", "jbd2.ko", "isofs.ko", "evdev.ko"):
        assert f"/{ko}\n" in listing, ko
    blkid = subprocess.run(["blkid", "-o", "export", str(vm_template / "rootfs.img")],
                           capture_output=True, text=True, check=True).stdout
    assert "TYPE=ext4" in blkid and "LABEL=root" in blkid, blkid


def test_unknown_template_is_refused():
    r = subprocess.run([str(MKVMTEMPLATE), "nosuch"], capture_output=True, text=True)
    assert r.returncode != 0 and "unknown VM template `nosuch`" in r.stderr, r


def wait_console(sock, marker, timeout):
    """Read a unix-socket console until MARKER; returns (seconds, text)."""
    t0 = time.monotonic()
    while True:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(sock))
            break
        except OSError:
            s.close()
            assert time.monotonic() - t0 < 30, "no console socket"
            time.sleep(0.05)
    buf = b""
    with s:
        while marker.encode() not in buf:
            left = timeout - (time.monotonic() - t0)
            assert left > 0, f"no {marker!r} within {timeout} s:\n{buf[-2000:]!r}"
            s.settimeout(left)
            d = s.recv(4096)
            assert d, f"console closed before {marker!r}:\n{buf[-2000:]!r}"
            buf += d
    return time.monotonic() - t0, buf.decode(errors="replace")


def qmp(sock, cmd):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(sock))
        f = s.makefile("rwb")
        f.readline()  # greeting
        for c in ("qmp_capabilities", cmd):
            f.write(f'{{"execute": "{c}"}}\n'.encode())
            f.flush()
            while b'"return"' not in (line := f.readline()):
                assert b'"error"' not in line and line, line


def test_boots_to_login_under_qemu_tcg(vm_template, qemu_bin, tmp_path, timings):
    disk = vm_disk(vm_template, tmp_path / "disk.img")
    console, qmp_sock = tmp_path / "console.sock", tmp_path / "qmp.sock"
    argv = [qemu_bin, "-machine", "pc", "-accel", "tcg", "-cpu", "max", "-m", "512",
            "-smp", "2", "-nodefaults", "-display", "none",
            "-drive", f"file={disk},if=virtio,format=raw",
            "-kernel", str(vm_template / "vmlinuz"), "-initrd", str(vm_template / "initrd.img"),
            "-append", CMDLINE, "-serial", f"unix:{console},server=on,wait=off",
            "-qmp", f"unix:{qmp_sock},server=on,wait=off"]
    q = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        seconds, text = wait_console(console, "login: ", 240)
        timings.append(("debian-12 VM under QEMU TCG: start to login prompt", seconds))
        assert "debian login: " in text
        t0 = time.monotonic()
        qmp(qmp_sock, "system_powerdown")
        assert q.wait(120) == 0
        timings.append(("debian-12 VM under QEMU TCG: power button to exit",
                        time.monotonic() - t0))
    finally:
        if q.poll() is None:
            q.kill()
            q.wait()


def test_boots_to_login_under_vps_vmm_in_l1(vm_template, l1, timings):
    """vps-vmm with the template's kernel, initramfs and a copy of its disk
    (in the scratch share: written by the guest, not L1's memory), serial in
    a file, then the power button through the control socket. A boot that
    ends in a triple fault (the emulated SVM's, QEMU's guests have them too)
    is tried once more, and one during which L1 itself stops answering once
    more in a fresh L1, each with a fresh copy of the disk; any other guest
    crash fails it (docs/testbench.md, "Retries")."""
    name = f"vm-{uuid.uuid4().hex[:8]}.img"
    host_disk, l1_disk = l1.scratch_path(name)
    vmm = artefacts.build_dir() / "src" / "vmm" / "vps-vmm"
    run = f"/tmp/vmm-{uuid.uuid4().hex[:8]}"
    argv = [str(vmm), "--kernel", str(vm_template / "vmlinuz"),
            "--initrd", str(vm_template / "initrd.img"), "--cmdline", CMDLINE,
            "--memory", "512M", "--cpus", "2", "--disk", f"path={l1_disk},id=root",
            "--serial", f"file:{run}/serial", "--control", f"{run}/ctl"]
    cmd = (f"mkdir -p {run}; {shlex.join(argv)} 2>{run}/stderr & pid=$!; "
           f"t0=$(date +%s.%N); "
           f"for i in $(seq 3000); do grep -q 'login: ' {run}/serial 2>/dev/null && break; "
           f"kill -0 $pid 2>/dev/null || break; sleep 0.1; done; "
           f"echo LOGIN-AFTER: $(echo \"$(date +%s.%N) - $t0\" | bc); "
           f"python3 {VMMCTL} {run}/ctl '{{\"cmd\":\"shutdown\"}}'; t1=$(date +%s.%N); "
           f"wait $pid; echo VMM-EXIT: $?; "
           f"echo OFF-AFTER: $(echo \"$(date +%s.%N) - $t1\" | bc); "
           f"tail -c 3000 {run}/serial; cat {run}/stderr >&2; rm -rf {run}")
    for attempt in ATTEMPTS:
        vm_disk(vm_template, host_disk)
        try:
            r = l1.run(cmd, timeout=420)
        except ChannelError as e:
            if attempt == LAST:
                raise
            retry("vps-vmm boot of the debian-12 template in L1",
                  f"L1 stopped answering: {str(e).splitlines()[0]}")
            l1.restart()
            continue
        finally:
            host_disk.unlink(missing_ok=True)
        status = re.search(r"^VMM-EXIT: (\d+)$", r.stdout, re.M)
        if attempt < LAST and status and triple_fault(int(status.group(1)), r.stderr):
            log = l1.workdir / "l2-template-triple-fault.log"
            log.write_text(r.stdout + "\n--- stderr\n" + r.stderr)
            retry("vps-vmm boot of the debian-12 template in L1", "triple fault", log)
            continue
        break
    assert not r.timed_out, r
    login = re.search(r"^LOGIN-AFTER: ([\d.]+)", r.stdout, re.M)
    off = re.search(r"^OFF-AFTER: ([\d.]+)", r.stdout, re.M)
    assert "login: " in r.stdout, str(r)
    timings.append(("debian-12 VM under vps-vmm in L1: start to login prompt",
                    float(login.group(1))))
    assert status and int(status.group(1)) == 0, str(r)
    timings.append(("debian-12 VM under vps-vmm in L1: power button to exit",
                    float(off.group(1))))


# ---- debian-11 and debian-13 configured by cloud-init, one engine each ----

# a marker of its own: the console replays what came before (the login's END-42)
CHECK = ("hostname; cat /root/.ssh/authorized_keys; cat /etc/debian_version; "
         "echo CHECKED-$((6*7))")


def check_configured(text, name, version):
    """What CHECK printed: the VPS's hostname, its key, the release."""
    assert f"{name}\r\n" in text and KEY in text, text
    assert re.search(rf"\r\n{version}(\.\d+)*\r\nCHECKED-42", text), text


def boot_under_qemu(release, version, timings):
    """A private vpsd here; the VPS made from RELEASE under QEMU's software
    CPU, a login with the password the seed gave, then the power button."""
    d, name = Vpsd().start(), f"c{version}"
    try:
        vps(d, "create", name, "--kind", "vm", "--engine", "qemu", "--template", release,
            "--ram", "512M", "--cpus", "1", "--disk", "2G", "--password", "pw",
            "--ssh-key", KEY, timeout=1800)
        t0 = time.monotonic()
        vps(d, "start", name)
        with Console(console_path(d, name)) as c:
            c.login("pw", QEMU_LOGIN_TIMEOUT)
            timings.append((f"{release} VM under QEMU TCG (seeded): start to root shell",
                            time.monotonic() - t0))
            c.run(CHECK, "CHECKED-42")
            check_configured(c.tail(), name, version)
        t0 = time.monotonic()
        vps(d, "stop", name, "--timeout", "180")
        timings.append((f"{release} VM under QEMU TCG: graceful stop", time.monotonic() - t0))
        v = show(d, name)
        assert v["state"] == "stopped" and v["last_exit"] == 0, v
        vps(d, "destroy", name)
    finally:
        d.cleanup()


def boot_under_vmm(release, version, l1, timings):
    """A private vpsd in L1; the VPS made from RELEASE under vps-vmm, the
    same login and checks, then the power button through the control socket."""
    name = f"w{version}"

    def cycle():
        l1_vps(l1, "create", name, "--kind", "vm", "--engine", "vmm", "--template", release,
               "--ram", "512M", "--cpus", "1", "--disk", "512M", "--password", "pw",
               "--ssh-key", KEY, timeout=1800)
        l1_vps(l1, "start", name)
        seconds, _ = l1_boot_to_login(l1, f"{release} boot", timings, name=name)
        timings.append((f"{release} VM under vps-vmm in L1 (seeded): start to root shell",
                        seconds))
        r = l1_console(l1, "", CHECK, "CHECKED-42", name=name, timeout=60)
        assert r.ok, r
        check_configured(r.stdout[r.stdout.rindex("# hostname;"):], name, version)
        t0 = time.monotonic()
        l1_vps(l1, "stop", name, "--timeout", "180", timeout=300)
        timings.append((f"{release} VM under vps-vmm in L1: graceful stop",
                        time.monotonic() - t0))
        v = l1_show(l1, name)
        assert v["state"] == "stopped" and v["last_exit"] == 0, v

    in_l1(l1, f"{release} under vps-vmm in L1", cycle, name)


@pytest.mark.parametrize("release,engine", [("debian-11", "qemu"), ("debian-13", "vmm")])
def test_release_configured_by_cloud_init(release, engine, request, timings):
    """The release's own cloud-init (20.4 in bullseye, 25.1 in trixie) reads
    the seed vpsd builds: root's password (the login), the hostname and the
    SSH key are the VPS's, and the release is the one named."""
    template(release, timings)  # on the host, before L1 boots: L1 sees it over 9p
    version = release.split("-")[1]
    if engine == "qemu":
        boot_under_qemu(release, version, timings)
    else:
        boot_under_vmm(release, version, request.getfixturevalue("l1"), timings)
