# SPDX-License-Identifier: GPL-2.0-or-later
"""Disk images that boot their own kernel (docs/templates.md, "Disk images
that boot their own kernel"): an image made here (framework/grubdisk.py:
an MBR, GRUB in it, an ext4 partition with its own kernel, initramfs,
grub.cfg and a busybox root), converted to qcow2 with qemu-img, imported
as a provider would (`vps template import NAME FILE --kind vm
--image-format qcow2`), and a VPS made from it with `boot: firmware`:
SeaBIOS reads the disk's boot sector, GRUB reads its grub.cfg and kernel
from the partition, the kernel mounts /dev/vda1 and its init prints the
command line GRUB gave it (a marker only grub.cfg holds) and powers off;
the daemon records the stop. The host reads no kernel out of the image and
mounts nothing.

- vm/qemu here (QEMU's software CPU), through the CLI.
- vm/vmm in the nested test host L1 (this machine's PVM /dev/kvm runs
  SeaBIOS and GRUB but not a stock kernel), through a private vpsd in L1.

And the refusals: firmware boot of a template without a boot sector (a
root filesystem for boot linux, such as debian-12) is refused at create,
nothing made.

And a whole Debian system on such a disk (grubdisk.make_debian: the
debian-12 VM template's debootstrapped root as the partition, Debian's
kernel in its /boot, GRUB in the MBR and the gap) boots jailed on
vps-vmm's SeaBIOS in L1 from its virtio-blk disk to the `login:` prompt of
its getty on the serial console."""

import json
import re
import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from framework import grubdisk
from framework.console import Console
from framework.guest import shell_quote
from framework.retry import vmm_in_l1
from framework.vmm import JAIL, VMM
from framework.vpsd import Vpsd
from test_vpsd_vm import (L1_BASE, VPS, console_path, in_l1, l1_console, l1_show, l1_vps, show,
                          until, vm_template_cached, vps)  # noqa: F401 (a fixture)

BOOT_TIMEOUT = 300  # SeaBIOS, GRUB and a kernel under the software CPU, 2 busy cores
LOGIN_TIMEOUT = 600  # and systemd to its getty in L2 under the emulated SVM
BIOS = "/usr/share/seabios/bios.bin"
VMMCTL = Path(__file__).resolve().parent / "framework" / "vmmctl.py"


@pytest.fixture(scope="module")
def own_disk(vm_template_cached, tmp_path_factory):
    """(qcow2 image, marker): the kernel and initramfs are Debian's (the
    debian-12 VM template's), but inside the image, where GRUB finds them."""
    tmp = tmp_path_factory.mktemp("own")
    marker = uuid.uuid4().hex[:12]
    raw = grubdisk.make(tmp / "own.raw", vm_template_cached / "vmlinuz",
                        vm_template_cached / "initrd.img", marker)
    qcow = tmp / "own.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(qcow)],
                   check=True)
    raw.unlink()
    return qcow, marker


def own_init_said(text, marker):
    """The image's init's line: its kernel, with the command line of the
    image's grub.cfg (BOOT_IMAGE is GRUB's)."""
    assert ("OWN-KERNEL 6.1.0-" in text and "BOOT_IMAGE=/boot/vmlinuz-own" in text and
            f"root=/dev/vda1 rw vps.own={marker}" in text), text


def test_own_kernel_boots_through_firmware_under_qemu(own_disk, timings):
    qcow, marker = own_disk
    d = Vpsd().start()
    try:
        out = vps(d, "template", "import", "owngrub", str(qcow), "--kind", "vm",
                  "--image-format", "qcow2", timeout=1800)
        assert "owngrub" in out, out
        # a root filesystem for boot linux has no boot sector: refused, nothing made
        code, j = d.request("POST", "/api/v1/vps", {
            "name": "own0", "kind": "vm", "engine": "qemu", "boot": "firmware",
            "template": "debian-12", "ram": "256M", "disk": "2G"}, timeout=1800)
        assert code == 400 and "`debian-12` has no boot sector" in j["error"]["message"], j
        assert d.api("GET", "/vps") == [] and not (d.data / "vps" / "own0").exists()

        vps(d, "create", "own1", "--kind", "vm", "--engine", "qemu", "--boot", "firmware",
            "--template", "owngrub", "--ram", "256M", "--disk", "128M", "--password", "pw")
        v = show(d, "own1")
        assert v["boot"] == "firmware" and v["template"] == "owngrub", v
        vdir = d.data / "vps" / "own1"
        assert not (vdir / "vmlinuz").exists() and not (vdir / "initrd.img").exists()
        assert (vdir / "disk.img").stat().st_size == 128 << 20
        t0 = time.monotonic()
        vps(d, "start", "own1")
        with Console(console_path(d, "own1")) as c:
            try:  # the kernel prints its command line first, then the image's init
                c.expect("OWN-KERNEL ", BOOT_TIMEOUT)
                c.expect(f"vps.own={marker}", 60)
            except (TimeoutError, EOFError) as e:
                pytest.fail(f"{e}\n{c.tail()}\nvpsd log:\n{d.log.read_text()[-3000:]}")
            timings.append(("own-kernel disk under QEMU TCG: start to its init",
                            time.monotonic() - t0))
            own_init_said(c.tail(), marker)
        # its init powers off: QEMU exits 0, the daemon records the stop
        v = until(lambda: (v := show(d, "own1"))["state"] == "stopped" and v, 120,
                  "stopped after the guest's poweroff")
        assert v["last_exit"] == 0, v
        vps(d, "destroy", "own1")
        vps(d, "template", "rm", "owngrub")
    finally:
        d.cleanup()


def test_own_kernel_boots_through_firmware_under_vmm_in_l1(own_disk, l1, timings):
    """The same image on vps-vmm's SeaBIOS (virtio-blk disk) in L1, where
    KVM runs the stock kernel GRUB loads."""
    qcow, marker = own_disk
    # L1's /tmp is its own: the image goes through the scratch share
    host_copy, l1_copy = l1.scratch_path(f"own-{marker}.qcow2")

    def cycle():
        shutil.copy(qcow, host_copy)
        try:
            l1_vps(l1, "template", "import", "owngrub", l1_copy, "--kind", "vm",
                   "--image-format", "qcow2", timeout=1800)
        finally:
            host_copy.unlink(missing_ok=True)
        l1_vps(l1, "create", "own1", "--kind", "vm", "--engine", "vmm", "--boot", "firmware",
               "--template", "owngrub", "--ram", "256M", "--disk", "128M", "--password", "pw")
        cfg = json.loads(l1.run(f"cat {L1_BASE}/data/vps/own1/vm.json", check=True).stdout)
        assert cfg["firmware"].endswith("bios.bin") and "kernel" not in cfg, cfg
        t0 = time.monotonic()
        l1_vps(l1, "start", "own1")
        r = l1_console(l1, "OWN-KERNEL ", "", f"vps.own={marker}", name="own1",
                       timeout=BOOT_TIMEOUT)
        assert r.ok, r
        own_init_said(r.stdout, marker)
        timings.append(("own-kernel disk under vps-vmm in L1: start to its init",
                        time.monotonic() - t0))
        r = l1.run(f"for i in $(seq 600); do VPS_SOCKET={L1_BASE}/run/vpsd.sock "
                   f"{shlex.quote(str(VPS))} show own1 --format json | grep -q "
                   f"'\"state\": *\"stopped\"' && break; sleep 0.2; done", timeout=180)
        v = l1_show(l1, "own1")
        assert v["state"] == "stopped" and v["last_exit"] == 0, v
        l1_vps(l1, "destroy", "own1")

    in_l1(l1, "own-kernel disk under vps-vmm in L1", cycle, "own1")


@pytest.fixture
def debian_disk(vm_template_cached, l1):
    """(L1 path, marker, kernel release) of a raw disk in L1's scratch share: an MBR
    with GRUB, one partition holding the debian-12 VM template's root (debootstrap)
    with Debian's kernel and the template's initramfs in its /boot."""
    marker = uuid.uuid4().hex[:12]
    host, path = l1.scratch_path(f"debian-{marker}.raw")
    release = (vm_template_cached / "version").read_text().strip()
    grubdisk.make_debian(host, vm_template_cached / "rootfs.img",
                         vm_template_cached / "vmlinuz", vm_template_cached / "initrd.img",
                         release, marker)
    yield path, marker, release
    host.unlink(missing_ok=True)


def test_debian_disk_with_grub_boots_to_login_under_vmm_in_l1(debian_disk, l1, timings):
    """SeaBIOS reads the disk's MBR, GRUB its grub.cfg and Debian's kernel from the
    partition, the kernel mounts /dev/vda1 and systemd starts the serial console's
    getty: `login:`. No kernel comes from the host; the monitor is jailed."""
    path, marker, release = debian_disk
    run = "/tmp/vmm-debian"
    argv = [str(VMM), "--firmware", BIOS, "--memory", "512M", "--disk", f"path={path}",
            "--serial", f"file:{run}/serial", "--control", f"{run}/ctl", *JAIL]
    stop = shell_quote(["python3", str(VMMCTL), f"{run}/ctl", '{"cmd":"stop"}'])
    cmd = (f"rm -rf {run}; mkdir -p {run}; {shell_quote(argv)} 2>{run}/stderr & pid=$!; "
           f"t0=$(date +%s); for i in $(seq {LOGIN_TIMEOUT // 2}); do sleep 2; "
           f"kill -0 $pid 2>/dev/null || break; grep -aq 'login: *$' {run}/serial && break; "
           f"done; echo SECONDS: $(( $(date +%s) - t0 )); {stop} >/dev/null 2>&1; wait $pid; "
           f"echo VMM-EXIT: $?; echo SERIAL:; cat {run}/serial; cat {run}/stderr >&2")
    r, status = vmm_in_l1(l1, "Debian disk boot in L1", cmd, LOGIN_TIMEOUT + 60,
                          lambda r: "login:" in r.stdout)
    serial = r.stdout.split("SERIAL:", 1)[-1]
    # GRUB from the disk's own grub.cfg, Debian's kernel from its /boot, with that command line
    assert "GRUB-FROM-THE-DISK" in serial, r
    assert (f"Command line: BOOT_IMAGE=/boot/vmlinuz-{release} root=/dev/vda1 rw console=ttyS0 "
            f"vps.debian={marker}") in serial, r
    assert f"Linux version {release}" in serial, r
    # the debootstrapped system's getty on the serial console
    assert "Debian GNU/Linux 12" in serial and re.search(r"login: *$", serial, re.M), r
    secs = int(re.search(r"^SECONDS: (\d+)$", r.stdout, re.M).group(1))
    timings.append(("vps-vmm in L1: firmware, GRUB and Debian from a disk to login:", secs))
    print(f"firmware to the Debian disk's login prompt: {secs} s")
    assert status == 5, r  # stopped by the control socket, as vpsd's stop expects
