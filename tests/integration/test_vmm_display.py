# SPDX-License-Identifier: GPL-2.0-or-later
"""vps-vmm's display as a PCI function (docs/vmm.md "The display as a PCI
function") under the stock Debian kernel in the nested test host L1: with
`--display`, Debian's bochs-drm (the stock kernel's module, in the test
initramfs) binds to 1234:1111 and sets its mode through the DISPI registers
in BAR 2 (its fbdev emulation comes up as /dev/fb0 at 1024x768x32), and what
the guest draws through /dev/dri/card0 (a dumb buffer shown with SETCRTC, as
a compositor does) lands in the video memory behind BAR 0, a KVM slot
wherever the guest's PCI code left the BAR; the test reads those pixels back
from the monitor's RFB server (`--vnc`) in L1.

Why not pixels written to /dev/fb0: on Debian 12's kernel (6.1) bochs-drm's
fbdev buffer is made in system memory and pinned there by the fbdev's own
mapping before the first mode set, so the scanout never shows it; QEMU's own
standard VGA shows the same black screen for the same writes (checked with
QEMU's screendump), while the KMS path shows them on both."""

import json
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from framework import artefacts
from test_vmm_linux import VMMCTL, vmm_boot, wait_for  # noqa: F401 (vmm_boot: a fixture)

RFB = Path(__file__).resolve().parent / "framework" / "rfb.py"
COLOUR = "3366cc"


@pytest.fixture(scope="module")
def guest_initramfs(guest_kernel, guest_init):
    """The test initramfs with bochs-drm (and drm, drm_kms_helper, the VRAM helpers)."""
    return artefacts.initramfs(guest_init, modules=(*artefacts.TEST_MODULES, "bochs"),
                               name="display")


@pytest.mark.parametrize("jail", [False, True], ids=["plain", "jailed"])
def test_bochs_drm_drives_the_display(vmm_boot, jail):
    """Jailed as vpsd runs it: the vCPU threads' seccomp class lets them move the slot."""
    vnc = f"/tmp/vnc-{uuid.uuid4().hex[:8]}.sock"
    report, status, r = vmm_boot(
        f"vps.check=file:/sys/class/drm/card0 vps.check=fb:{COLOUR} vps.check=kms:{COLOUR} "
        "vps.then=wait",
        memory="256M",
        args=("--display", "--vnc", vnc, *(("--jail", "uid=3999000") if jail else ())),
        script=(f"{wait_for('VPS-INIT: waiting', 120)}; "
                f"python3 {RFB} {vnc} {COLOUR} | sed 's/^/RFB: /'; "
                f"python3 {VMMCTL} $CTL '{{\"cmd\":\"shutdown\"}}'; rm -f {vnc}"),
        timeout=240)
    assert status == 0, r
    assert report.ok, r.stdout
    # the driver's fbdev took the EDID's preferred mode: 1024x768x32
    m = re.search(r"^VPS-INIT: fb (\d+)x(\d+) line (\d+)", r.stdout, re.M)
    assert m and m.groups() == ("1024", "768", "4096"), r.stdout
    # KMS: the EDID's preferred mode, and nothing larger offered (the EDID says so)
    assert re.search(r"^VPS-INIT: kms 1024x768 of \d+ modes, the largest 1024x768", r.stdout,
                     re.M), r.stdout
    shot = json.loads(re.search(r"^RFB: (.*)$", r.stdout, re.M).group(1))
    # the device's mode, as the monitor renders it, is the driver's
    assert shot["size"] == [1024, 768], shot
    want = list(bytes.fromhex(COLOUR))
    px = shot["pixels"]
    assert px["probe"] == want and px["lower-left"] == want and px["lower-right"] == want, \
        (shot, r.stdout[-20000:], r.stderr[-3000:])
    # the upper half is black: the picture is the guest's buffer, not a fill of ours
    assert px["upper"] == [0, 0, 0] and px["last-upper"] == [0, 0, 0], shot
    # BAR 0 was a KVM slot where Linux left it (in the window), never refused, and
    # bochs-drm wrote nothing we refused
    m = re.search(r"vga \(slot \d+\): video memory at (0x[0-9a-f]+), placed ([1-9]\d*) times, "
                  r"0 placements refused; 0 bad register writes", r.stderr)
    assert m, r.stderr[-3000:]
    assert 0xc0000000 <= int(m[1], 16) < 0xe0000000, m[0]


def test_display_refused_where_it_has_no_meaning(tmp_path):
    """--display is for kernel boot (firmware boot has its display with --vgabios);
    --vnc needs a display; snapshots and migration refuse it (not in the state file yet).
    Configuration checks: no KVM needed."""
    vmm = artefacts.build_dir() / "src" / "vmm" / "vps-vmm"
    for args, needle in [
        (["--micro", "/dev/null", "--display"], "`display`: only with `kernel`"),
        (["--firmware", "/dev/null", "--display"], "`display`: only with `kernel`"),
        (["--kernel", "/dev/null", "--vnc", tmp_path / "x.sock"], "`vnc`: only with a display"),
        (["--kernel", "/dev/null", "--display", "--restore", tmp_path],
         "`display`: no snapshots or migration"),
    ]:
        r = subprocess.run([str(vmm), *map(str, args)], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 2 and needle in r.stderr, (args, r.stderr)
