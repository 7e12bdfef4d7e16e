# SPDX-License-Identifier: GPL-2.0-or-later
"""A disk image that boots its own kernel, as a provider's or a customer's
image does: an MBR, GRUB (Debian's grub-pc-bin: boot.img in the first
sector, core.img in the gap before the first partition) and one ext4
partition holding /boot with a kernel, an initramfs and grub.cfg, and a
root of static busybox whose /sbin/init prints what it booted and powers
off. Made without mounting anything: the partition table is written here,
the filesystem by `mkfs.ext4 -E offset= -d`, GRUB's images by grub-mkimage.

make_debian() puts a whole Debian system on such a disk instead: the root
filesystem of the debian-12 VM template (debootstrap, src/ct/templates/
mktemplate, made a VM's root by src/host/templates/mkvmtemplate) as the
partition, with Debian's kernel and the template's initramfs added to its
/boot and a grub.cfg beside them (by debugfs, still without mounting).

Used by test_vm_own_kernel.py: the host boots such an image through the
firmware (SeaBIOS), never by reading the kernel itself."""

import shutil
import struct
import subprocess
from pathlib import Path

GRUB = Path("/usr/lib/grub/i386-pc")
START = 2048  # the first partition's sector: a 1 MiB gap for core.img
INIT = """#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox echo "OWN-KERNEL $(/bin/busybox uname -r) $(/bin/busybox cat /proc/cmdline)"
/bin/busybox sync
/bin/busybox poweroff -f
"""


def tool(name):
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not path or not GRUB.is_dir():
        raise AssertionError(f"no `{name}` or {GRUB} on this host (scripts/lib.sh installs "
                             "e2fsprogs, grub-pc-bin, busybox-static)")
    return path


def make(dest, kernel, initrd, marker, size_mib=64):
    """DEST: a raw disk of SIZE_MIB whose GRUB boots KERNEL and INITRD with
    `root=/dev/vda1 vps.own=MARKER` on the first serial port."""
    work = Path(str(dest) + ".d")
    root = work / "root"
    for d in ("boot/grub", "bin", "sbin", "proc", "dev", "sys"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy(kernel, root / "boot" / "vmlinuz-own")
    shutil.copy(initrd, root / "boot" / "initrd.img-own")
    shutil.copy(tool("busybox"), root / "bin" / "busybox")
    (root / "sbin" / "init").write_text(INIT)
    (root / "sbin" / "init").chmod(0o755)
    (root / "boot" / "grub" / "grub.cfg").write_text(
        "serial --unit=0 --speed=115200\n"
        "terminal_input serial\nterminal_output serial\n"
        "set timeout=0\n"
        "menuentry own {\n"
        "  echo GRUB-FROM-THE-DISK\n"
        f"  linux /boot/vmlinuz-own console=ttyS0 root=/dev/vda1 rw vps.own={marker}\n"
        "  initrd /boot/initrd.img-own\n"
        "}\n")
    core_bytes = core_image(work)
    sectors = size_mib * 2048 - START
    with open(dest, "wb") as f:
        f.truncate(size_mib << 20)
    subprocess.run([tool("mkfs.ext4"), "-q", "-F", "-L", "own", "-E", f"offset={START * 512}",
                    "-d", str(root), str(dest), f"{sectors // 2}k"], check=True,
                   capture_output=True)
    install_grub(dest, core_bytes, sectors)
    shutil.rmtree(work)
    return dest


def core_image(work):
    """GRUB's core.img: the modules to read grub.cfg and a kernel from (hd0,msdos1)."""
    core = work / "core.img"
    subprocess.run([tool("grub-mkimage"), "-O", "i386-pc", "-o", str(core),
                    "-p", "(hd0,msdos1)/boot/grub", "biosdisk", "part_msdos", "ext2",
                    "normal", "linux", "serial", "terminal", "echo"], check=True)
    core_bytes = core.read_bytes()
    assert len(core_bytes) <= (START - 1) * 512, len(core_bytes)
    return core_bytes


def install_grub(dest, core_bytes, sectors):
    """The MBR (GRUB's boot.img and one partition) and core.img in the gap after it."""
    mbr = bytearray((GRUB / "boot.img").read_bytes())
    # one bootable Linux partition from START on (LBA; CHS saturated)
    mbr[446:462] = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", 0x83, b"\xfe\xff\xff",
                               START, sectors)
    mbr[462:510] = bytes(48)
    mbr[510:512] = b"\x55\xaa"
    with open(dest, "r+b") as f:
        f.write(mbr)
        f.seek(512)
        f.write(core_bytes)


def make_debian(dest, rootfs, kernel, initrd, release, marker):
    """DEST: a raw disk whose one partition is ROOTFS (an ext4 image of a
    Debian root, copied sparsely), with KERNEL and INITRD in its /boot as
    vmlinuz-RELEASE and initrd.img-RELEASE, /etc/fstab naming /dev/vda1, and
    a grub.cfg that boots them with `root=/dev/vda1 console=ttyS0
    vps.debian=MARKER` (GRUB's own menu on the serial port too). The
    template's cloud-init is turned off (/etc/cloud/cloud-init.disabled): a
    disk of the customer's own has no seed. Returns DEST."""
    work = Path(str(dest) + ".d")
    work.mkdir(parents=True, exist_ok=True)
    size = Path(rootfs).stat().st_size
    assert size % 512 == 0, size
    chunk = 1 << 20
    with open(rootfs, "rb") as src, open(dest, "wb") as out:
        out.truncate(START * 512 + size)
        out.seek(START * 512)
        while block := src.read(chunk):
            if block.count(0) == len(block):
                out.seek(len(block), 1)  # a hole stays a hole
            else:
                out.write(block)
    (work / "grub.cfg").write_text(
        "serial --unit=0 --speed=115200\n"
        "terminal_input serial\nterminal_output serial\n"
        "set timeout=0\n"
        "menuentry debian {\n"
        "  echo GRUB-FROM-THE-DISK\n"
        f"  linux /boot/vmlinuz-{release} root=/dev/vda1 rw console=ttyS0 vps.debian={marker}\n"
        f"  initrd /boot/initrd.img-{release}\n"
        "}\n")
    (work / "fstab").write_text("/dev/vda1\t/\text4\trw,errors=remount-ro\t0\t1\n")
    (work / "empty").write_bytes(b"")
    for f in ("grub.cfg", "fstab", "empty"):
        (work / f).chmod(0o644)
    fs = f"{dest}?offset={START * 512}"
    cmds = [
        "mkdir /boot", "mkdir /boot/grub",
        f"write {kernel} /boot/vmlinuz-{release}", f"write {initrd} /boot/initrd.img-{release}",
        f"write {work / 'grub.cfg'} /boot/grub/grub.cfg",
        "rm /etc/fstab", f"write {work / 'fstab'} /etc/fstab",
        f"write {work / 'empty'} /etc/cloud/cloud-init.disabled",
    ]
    (work / "cmds").write_text("\n".join(cmds) + "\n")
    subprocess.run([tool("debugfs"), "-w", "-f", str(work / "cmds"), fs], check=True,
                   capture_output=True)
    # debugfs carries on past a failed command: read back what must be there
    got = subprocess.run([tool("debugfs"), "-R", "cat /boot/grub/grub.cfg", fs], check=True,
                         capture_output=True, text=True).stdout
    assert f"vps.debian={marker}" in got, got
    got = subprocess.run([tool("debugfs"), "-R", "cat /etc/fstab", fs], check=True,
                         capture_output=True, text=True).stdout
    assert got.startswith("/dev/vda1"), got
    r = subprocess.run([tool("e2fsck"), "-fn", fs], capture_output=True, text=True)
    assert r.returncode == 0, r
    install_grub(dest, core_image(work), size // 512)
    shutil.rmtree(work)
    return dest
