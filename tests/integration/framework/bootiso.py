# SPDX-License-Identifier: GPL-2.0-or-later
"""Tiny bootable ISOs for the firmware tests: a 512-byte real-mode program
of tests/guest/ (isoboot.S: a line on COM1; screenboot.S: VGA text and the
keyboard) assembled with binutils and put on an El Torito no-emulation ISO
with xorriso. The tools come from scripts/lib.sh's package list: a missing
one is a failure, not a skip."""

import shutil
import subprocess

import pytest

from framework import artefacts

GUEST = artefacts.TOP / "tests" / "guest"


def tool(name):
    path = shutil.which(name)
    if not path:
        pytest.fail(f"no `{name}` on this host (scripts/test installs it: scripts/lib.sh)")
    return path


def run(*argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    return r


def build_iso(tmp, source="isoboot.S"):
    """boot.bin (512 bytes, 0x55aa at the end) from tests/guest/SOURCE on an El Torito ISO."""
    obj, root, iso = tmp / "boot.o", tmp / "root", tmp / "boot.iso"
    root.mkdir()
    run(tool("as"), "--32", "-o", str(obj), str(GUEST / source))
    run(tool("ld"), "-m", "elf_i386", "-Ttext", "0x7c00", "--oformat", "binary",
        "-o", str(root / "boot.bin"), str(obj))
    data = (root / "boot.bin").read_bytes()
    assert len(data) == 512 and data[510:] == b"\x55\xaa", len(data)
    run(tool("xorriso"), "-as", "mkisofs", "-quiet", "-b", "boot.bin", "-no-emul-boot",
        "-boot-load-size", "4", "-o", str(iso), str(root))
    return iso
