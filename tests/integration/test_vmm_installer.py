# SPDX-License-Identifier: GPL-2.0-or-later
"""The Debian installer's first screen on vps-vmm (issue 20, docs/vmm.md
"Firmware boot"): an installer ISO made here from Debian's packages --
isolinux (`isolinux`, `syslinux-common`) and the installer's netboot kernel
and initrd (`debian-installer-12-netboot-amd64`) -- boots through SeaBIOS
from vps-vmm's virtio-scsi CD, and the installer's first dialog is read off
the VGA text screen through the control socket's `screen`. The monitor runs
jailed, as vpsd runs it.

It runs in the nested test host (L1): this machine's /dev/kvm (PVM) runs
SeaBIOS and isolinux, but not the installer's stock kernel. About three
minutes there, most of it the installer's kernel and its hardware probe
under the emulated SVM. A boot that ends in a triple fault, loses L1, or
outlasts the L1 command's own timeout is retried as every L2 boot is
(framework.retry; docs/testbench.md); one that shows no dialog in WAIT
seconds fails at once."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from framework.guest import shell_quote
from framework.retry import vmm_in_l1
from framework.vmm import JAIL, VMM

DI = Path("/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64")
ISOLINUX = Path("/usr/lib/ISOLINUX/isolinux.bin")
LDLINUX = Path("/usr/lib/syslinux/modules/bios/ldlinux.c32")
BIOS = Path("/usr/share/seabios/bios.bin")
VGABIOS = Path("/usr/share/seabios/vgabios-stdvga.bin")
VMMCTL = Path(__file__).resolve().parent / "framework" / "vmmctl.py"
FIRST_SCREEN = "Select a language"
WAIT = 300  # seconds for the installer's first dialog in L2 under TCG (81 to 147 s seen)


def installer_iso(out):
    """An El Torito ISO: isolinux, which boots the installer's kernel and initrd
    in VGA text mode (fb=false: no framebuffer console of the installer's own;
    nomodeset: no DRM driver either, which the display's PCI function would
    otherwise bind; the dialog stays in text memory)."""
    for f in (DI / "linux", DI / "initrd.gz", ISOLINUX, LDLINUX):
        if not f.exists():
            pytest.fail(f"{f} is missing: scripts/test installs isolinux, syslinux-common and "
                        "debian-installer-12-netboot-amd64 (scripts/lib.sh)")
    root = out.parent / "isoroot"
    root.mkdir()
    for f in (DI / "linux", DI / "initrd.gz", ISOLINUX, LDLINUX):
        shutil.copyfile(f, root / f.name)
    (root / "isolinux.cfg").write_text(
        "default install\nprompt 0\ntimeout 0\nlabel install\n"
        "  kernel /linux\n  append initrd=/initrd.gz vga=normal fb=false nomodeset\n")
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-V", "VPS-DI", "-b", "isolinux.bin",
                    "-c", "boot.cat", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
                    "-o", out, root], check=True)
    shutil.rmtree(root)
    return out


def test_debian_installer_reaches_its_first_screen(l1, timings):
    host_iso, iso = l1.scratch_path("debian-installer.iso")
    installer_iso(host_iso)
    run = "/tmp/vmm-di"
    argv = [str(VMM), "--firmware", str(BIOS), "--vgabios", str(VGABIOS), "--memory", "1G",
            "--cdrom", iso, "--serial", f"file:{run}/serial", "--control", f"{run}/ctl", *JAIL]
    screen = shell_quote(["python3", str(VMMCTL), f"{run}/ctl", '{"cmd":"screen"}'])
    stop = shell_quote(["python3", str(VMMCTL), f"{run}/ctl", '{"cmd":"stop"}'])
    # poll the screen every 2 s until the dialog shows, then print it and stop the VM
    cmd = (f"rm -rf {run}; mkdir -p {run}; {shell_quote(argv)} 2>{run}/stderr & pid=$!; "
           f"t0=$(date +%s); for i in $(seq {WAIT // 2}); do sleep 2; "
           f"kill -0 $pid 2>/dev/null || break; {screen} >{run}/screen 2>/dev/null; "
           f"grep -q '{FIRST_SCREEN}' {run}/screen && break; done; "
           f"echo SECONDS: $(( $(date +%s) - t0 )); echo SCREEN: $(cat {run}/screen); "
           f"{stop} >/dev/null 2>&1; wait $pid; echo VMM-EXIT: $?; cat {run}/stderr >&2")
    # a dialog that never shows is a failure, not retried: three waits would cost the suite
    # a quarter of an hour
    r, status = vmm_in_l1(l1, "installer boot in L1", cmd, WAIT + 60,
                          lambda r: FIRST_SCREEN in r.stdout)
    m = re.search(r"^SCREEN: (.*)$", r.stdout, re.M)
    assert m, r
    s = json.loads(m.group(1))
    assert s["ok"] and s["mode"] == "text" and (s["cols"], s["rows"]) == (80, 25), s
    text = "\n".join(s["text"])
    # the installer's own words: the language dialog and newt's key help
    assert FIRST_SCREEN in text, text
    assert "installation process" in text, text
    assert "<Tab> moves; <Space> selects; <Enter> activates buttons" in text, text
    secs = int(re.search(r"^SECONDS: (\d+)$", r.stdout, re.M).group(1))
    timings.append(("vps-vmm in L1: firmware to the Debian installer's first screen", secs))
    print(f"firmware to the installer's first screen: {secs} s")
    # stopped by the control socket: exit status 5, as vpsd's stop expects
    assert status == 5, r
