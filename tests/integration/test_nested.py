# SPDX-License-Identifier: GPL-2.0-or-later
"""The nested test host L1 works, and the stock Debian kernel boots inside it
under Debian's QEMU with KVM, driven by the test init's command line."""

import re

import pytest


def test_l1_has_kvm(l1):
    r = l1.run("test -c /dev/kvm && echo kvm; "
               "grep -c ^processor /proc/cpuinfo", check=True)
    assert r.stdout.split() == ["kvm", "2"], r


def test_l1_cgroup2_unified(l1):
    r = l1.run("stat -fc %T /sys/fs/cgroup; "
               "cat /sys/fs/cgroup/cgroup.controllers; "
               "grep ' /sys/fs/cgroup ' /proc/mounts", check=True)
    lines = r.stdout.splitlines()
    assert lines[0] == "cgroup2fs", r
    assert {"cpu", "memory", "pids"} <= set(lines[1].split()), r
    assert len(lines) == 3 and lines[2].split()[2] == "cgroup2", r


def test_l1_agent_reports_status_and_streams(l1):
    r = l1.run("echo out; echo err >&2; exit 7")
    assert (r.status, r.stdout, r.stderr) == (7, "out\n", "err\n"), r
    r = l1.run("sleep 30", timeout=1)
    assert r.timed_out and r.status == 128 + 9, r


def test_l1_sees_host_files_and_writes_stay_in_l1(l1, guest_init, tmp_path):
    probe = tmp_path / "written-in-l1"
    r = l1.run(f"test -x {guest_init} && echo found; "
               f"echo l1 > {probe} && cat {probe}; "
               f"touch {guest_init} && echo touched", check=True)
    assert r.stdout.split() == ["found", "l1", "touched"], r
    assert not probe.exists(), "a write in L1 reached the host"
    r = l1.run("grep -c ' / overlay ' /proc/mounts; "
               "touch /tmp/x && echo tmp-writable", check=True)
    assert r.stdout.split() == ["1", "tmp-writable"], r


def test_stock_kernel_boots_in_l1(boot_in_l1, test_disk, timings):
    disk, magic = test_disk
    report, r = boot_in_l1(f"vps.check=disk:/dev/vda:{magic} "
                           "vps.e2e=on vps.check=cmdline:vps.e2e=on",
                           disk=disk)
    timings.append(("L2 boot to power-off (stock kernel, QEMU -enable-kvm "
                    "in L1)", r.seconds))
    assert r.ok, r
    assert report.ok, report.text
    assert report.cpus == 2, report.text
    assert "vda" in report.block, report.text
    assert "eth0" in report.net, report.text
    assert report.rng == "virtio_rng.0", report.text
    assert 200_000 < report.mem_kib <= 256 * 1024, report.text
    assert report.checks == {f"disk:/dev/vda:{magic}": "ok",
                             "cmdline:vps.e2e=on": "ok"}, report.text


@pytest.mark.parametrize("check", ["cmdline:vps.e2e=off",
                                   "disk:/dev/vda:not-the-magic"])
def test_wrong_check_fails_the_boot(boot_in_l1, test_disk, check):
    disk, _ = test_disk
    report, r = boot_in_l1(f"vps.e2e=on vps.check={check}", disk=disk)
    assert r.ok, r  # QEMU itself exits 0: the guest powered off
    assert report.result and report.result.startswith("fail check "
                                                      f"{check}:"), r.stdout
    assert report.checks[check].startswith("fail"), report.text
    assert not re.search(r"^VPS-INIT: ok$", report.text, re.M)
