# SPDX-License-Identifier: GPL-2.0-or-later
"""The test artefacts on their own, without L1: the stock kernel with the
test initramfs boots under QEMU's software CPU on this host (about 8 s), and
the test init reports and checks what it should. This machine's /dev/kvm
(PVM) cannot run a stock kernel, so no KVM here."""

import subprocess

from framework.guest import InitReport, qemu_argv

TIMEOUT = 90  # measured ~8 s on 2 cores; bounded for a loaded CI machine


def test_stock_kernel_boots_under_tcg(qemu_bin, guest_kernel, guest_initramfs,
                                      timings):
    argv = qemu_argv(guest_kernel, guest_initramfs,
                     "vps.tcg=yes vps.check=cmdline:vps.tcg=yes", accel="tcg")
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=TIMEOUT)
    report = InitReport.parse(r.stdout)
    assert r.returncode == 0, r.stderr
    assert report.ok, r.stdout
    assert report.cpus == 2, r.stdout
    assert report.net == ["eth0", "lo"], r.stdout
    assert report.rng == "virtio_rng.0", r.stdout
    assert report.checks == {"cmdline:vps.tcg=yes": "ok"}, r.stdout
