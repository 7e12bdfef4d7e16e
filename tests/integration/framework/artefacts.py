# SPDX-License-Identifier: GPL-2.0-or-later
"""The guest artefacts, made by the scripts in tests/guest and cached by
content hash under /var/cache/vps-test (VPS_TEST_CACHE): the stock Debian
kernel, the test initramfs, the test disk, the L1 initramfs. Each call runs
the script, which only prints the path when nothing changed."""

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

TOP = Path(__file__).resolve().parents[3]
GUEST = TOP / "tests" / "guest"

# The modules the test initramfs loads by default (dependencies are added).
TEST_MODULES = ("virtio_pci", "virtio_blk", "virtio_net", "virtio_rng",
                "virtio_balloon", "button", "evdev")


def _script(name, *args, timeout=900):
    """Run tests/guest/NAME and return the path it prints last."""
    r = subprocess.run([str(GUEST / name), *map(str, args)],
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"tests/guest/{name} {' '.join(map(str, args))} "
                           f"failed ({r.returncode}):\n{r.stderr.strip()}")
    return Path(r.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class Kernel:
    dir: Path  # $VPS_TEST_CACHE/kernel/<sha256 of the .deb>

    @property
    def vmlinuz(self):
        return self.dir / "vmlinuz"

    @property
    def version(self):
        return (self.dir / "version").read_text().strip()


def kernel():
    return Kernel(_script("mkkernel"))


def initramfs(init, modules=TEST_MODULES, name="test"):
    return _script("mkinitramfs", "--name", name, "--init", init, *modules)


def l1_initramfs(init):
    return _script("mkl1", "--init", init)


def rootfs(init):
    return _script("mkrootfs", "--init", init)


def mark_disk(image, magic):
    """Write the marker vps.check=disk:DEV:MAGIC looks for into IMAGE."""
    return _script("mkrootfs", "mark", image, magic)


def build_dir():
    return Path(os.environ.get("VPS_BUILD", TOP / "build-test"))
