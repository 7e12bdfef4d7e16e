# SPDX-License-Identifier: GPL-2.0-or-later
"""The nested test host L1: a Linux guest under QEMU's software CPU (TCG)
with emulated AMD SVM, so KVM inside it is real even though this machine's
/dev/kvm (PVM) cannot run a stock kernel. See docs/testbench.md.

L1 boots the stock Debian kernel with the mkl1 initramfs. Its init mounts
the host's / read-only over 9p (tag `host`) and chroots the agent into it, so
every host binary (Debian's QEMU, the build directory, the artefact cache)
is at its usual path in L1, with L1's own /proc, /sys, /dev, cgroup2 unified
at /sys/fs/cgroup, tmpfs at /tmp, /var/tmp and /run, and a read-write scratch
share (tag `scratch`) at /run/scratch, which is self.scratch on the host.
The runner talks to L1's agent over a virtio-serial port whose host end is a
unix socket this class listens on; QEMU connects to it at start.

Every command run in L1 gets the sanitizer options (framework/sanitizer.py)
with its reports in the scratch share's sanitizer/, which the host watches:
a report from vpsd, vps-vmm or any program in L1 fails the test as one on
the host would."""

import os
import select
import shutil
import socket
import tempfile
import time
from pathlib import Path

from . import sanitizer
from .agent import Channel, ChannelError
from .qemu import Qemu

BOOT_TIMEOUT = 240  # TCG on 2 busy cores: typically ~10 s, bounded anyway
SCRATCH_IN_L1 = "/run/scratch"


class L1:
    def __init__(self, kernel, initramfs, smp=2, mem_mib=2048, workdir=None):
        self.kernel = kernel
        self.initramfs = Path(initramfs)
        self.smp = smp
        self.mem_mib = mem_mib
        # A workdir given is the caller's (pytest keeps its last three, with
        # l1-console.log); one made here is removed by stop().
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="vps-l1-"))
        self.scratch = self.workdir / "scratch"
        self.scratch.mkdir(parents=True, exist_ok=True)
        sanitizer.WATCH.add(self.scratch / "sanitizer", copy_as=f"l1-{self.workdir.name}-")
        self._san = sanitizer.shell_exports(f"{SCRATCH_IN_L1}/sanitizer")
        self.qemu = None
        self.channel = None
        self.boot_seconds = None
        self.restarts = 0

    def argv(self, sock_path):
        return [
            "qemu-system-x86_64", "-accel", os.environ.get("VPS_L1_ACCEL", "tcg,thread=multi"),
            "-M", "pc", "-cpu", os.environ.get("VPS_L1_CPU", "EPYC,+svm"), "-smp", str(self.smp),
            "-m", str(self.mem_mib),
            "-nodefaults", "-display", "none", "-no-reboot",
            "-serial", "stdio",
            "-kernel", self.kernel.vmlinuz, "-initrd", self.initramfs,
            "-append", "console=ttyS0 panic=-1 quiet vps.then=agent",
            "-device", "virtio-rng-pci",
            "-virtfs", "local,path=/,mount_tag=host,security_model=none,"
                       "readonly=on,multidevs=remap",
            "-virtfs", f"local,path={self.scratch},mount_tag=scratch,"
                       "security_model=none",
            "-device", "virtio-serial-pci",
            "-chardev", f"socket,id=agent,path={sock_path}",
            "-device", "virtserialport,chardev=agent,name=vps.agent",
        ]

    def start(self):
        sock_path = self.workdir / "agent.sock"
        sock_path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(sock_path))
            listener.listen(1)
            self.qemu = Qemu(self.argv(sock_path),
                             self.workdir / "l1-console.log").start()
            deadline = self.qemu.started + BOOT_TIMEOUT
            # QEMU connects as it starts; wait for that or for its death.
            while True:
                ready, _, _ = select.select([listener], [], [], 1.0)
                if ready:
                    conn, _ = listener.accept()
                    break
                if not self.qemu.alive() or time.monotonic() > deadline:
                    raise RuntimeError("L1 QEMU never connected its agent "
                                       f"port:\n{self.qemu.tail()}")
        finally:
            listener.close()
        self.channel = Channel(conn)
        try:
            self.channel.wait_ready(deadline - time.monotonic())
        except Exception as e:
            raise RuntimeError(f"L1 agent not ready: {e}\n"
                               f"{self.qemu.tail()}") from e
        self.boot_seconds = time.monotonic() - self.qemu.started
        return self

    def run(self, cmd, timeout=120, check=False):
        """Run CMD in L1 (/bin/sh -c, chrooted in the host root); L1 kills
        it after TIMEOUT seconds. Returns an agent.Result."""
        try:
            r = self.channel.run(self._san + cmd, timeout)
        except ChannelError as e:
            alive = "running" if self.qemu.alive() else "exited"
            raise ChannelError(f"{e}\nL1 QEMU {alive}; console "
                               f"{self.qemu.log_path}:\n{self.qemu.tail()}"
                               ) from e
        if check and not r.ok:
            raise AssertionError(f"in L1: {r}")
        return r

    def put(self, path, name=None):
        """Copy a host file into the scratch share; returns its L1 path."""
        name = name or Path(path).name
        shutil.copyfile(path, self.scratch / name)
        return f"{SCRATCH_IN_L1}/{name}"

    def scratch_path(self, name):
        """(host path, L1 path) of a file in the scratch share."""
        return self.scratch / name, f"{SCRATCH_IN_L1}/{name}"

    @property
    def healthy(self):
        return (self.qemu is not None and self.qemu.alive() and
                self.channel is not None and not self.channel.broken)

    def restart(self):
        """A fresh L1 after a broken channel; the old console log is kept
        as l1-console.log.N."""
        self._halt()
        self.restarts += 1
        log = self.workdir / "l1-console.log"
        if log.exists():
            log.rename(f"{log}.{self.restarts}")
        return self.start()

    def _halt(self):
        if self.channel:
            self.channel.close()
            self.channel = None
        if self.qemu:
            self.qemu.stop()
            self.qemu = None

    def stop(self):
        self._halt()
        if self._own_workdir and not os.environ.get("VPS_TEST_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)
