# SPDX-License-Identifier: GPL-2.0-or-later
"""Test guests booted by Debian's QEMU (the peer VMM): the command line for
the stock kernel with the test initramfs, and what the test init reports on
its console (tests/guest/init.c lists the lines)."""

import re
from dataclasses import dataclass, field


def qemu_argv(kernel, initramfs, append="", accel="kvm", smp=2, mem_mib=256,
              disk=None, rng=True, net=True):
    """Debian QEMU, -M pc, console on stdio, exits when the guest powers off.
    ACCEL is "kvm" (inside L1) or "tcg" (on this host, no usable KVM)."""
    argv = ["qemu-system-x86_64", "-M", "pc", "-smp", str(smp),
            "-m", str(mem_mib), "-nodefaults", "-display", "none",
            "-no-reboot", "-serial", "stdio",
            "-kernel", str(kernel.vmlinuz), "-initrd", str(initramfs),
            "-append", f"console=ttyS0 panic=-1 quiet {append}".strip()]
    if accel == "kvm":
        argv += ["-enable-kvm", "-cpu", "host"]
    else:
        argv += ["-accel", "tcg,thread=multi", "-cpu", "max"]
    if disk:
        argv += ["-drive", f"file={disk},if=virtio,format=raw"]
    if rng:
        argv += ["-device", "virtio-rng-pci"]
    if net:
        # A NIC on a hub with nothing else on it: a device, and no traffic.
        argv += ["-netdev", "hubport,id=n0,hubid=0",
                 "-device", "virtio-net-pci,netdev=n0"]
    return argv


def shell_quote(argv):
    return " ".join("'" + a.replace("'", "'\\''") + "'" for a in argv)


@dataclass
class InitReport:
    """The `VPS-INIT:` lines of one boot, parsed."""
    text: str
    lines: list = field(default_factory=list)
    cpus: int = None
    mem_kib: int = None
    block: list = field(default_factory=list)
    net: list = field(default_factory=list)
    rng: str = None
    checks: dict = field(default_factory=dict)  # spec -> "ok" | "fail why"
    result: str = None  # "ok" | "fail why" | None if it never got there

    @classmethod
    def parse(cls, text):
        r = cls(text)
        for m in re.finditer(r"^VPS-INIT: (.*)$", text, re.M):
            line = m.group(1).strip()
            r.lines.append(line)
            word, _, rest = line.partition(" ")
            if word == "cpus":
                r.cpus = int(rest)
            elif word == "mem":
                r.mem_kib = int(rest)
            elif word in ("block", "net"):
                setattr(r, word, [] if rest == "-" else rest.split())
            elif word == "rng":
                r.rng = rest.split()[0]
            elif word == "check":
                spec, _, verdict = rest.partition(" ")
                r.checks[spec] = verdict
            elif word in ("ok", "fail") and r.result is None:
                r.result = line
        return r

    @property
    def ok(self):
        return self.result == "ok"
