# SPDX-License-Identifier: GPL-2.0-or-later
"""Micro-guests on this machine's /dev/kvm, run by vps-vmm.

Each micro-guest (tests/guest/micro) exercises one monitor feature and reports
over COM1 and the test exit port; these tests check both, and that bad
command lines are refused with a message naming the flag.
"""
import subprocess

import pytest

from framework.vmm import MICRO, VMM, needs_kvm


pytestmark = needs_kvm


def run_vmm(*args, timeout=30):
    return subprocess.run([str(VMM), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def micro(name, *extra):
    mode = "long" if name.endswith("64") else "real"
    return run_vmm("--micro", MICRO / f"{name}.bin", "--mode", mode, "--exit-port", *extra)


def test_real_mode_serial_marker():
    r = micro("hello16")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "VPS-MICRO hello16 ok\n"


def test_exit_status_comes_from_guest():
    r = micro("exit16")
    assert r.returncode == 7, r.stderr
    assert r.stdout == ""


def test_halt_without_interrupts_ends_vm():
    r = micro("halt16")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "H\n"


def test_long_mode_entry():
    r = micro("hello64")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "VPS-MICRO hello64 ok\n"


@pytest.mark.parametrize("mem_mib", [4, 64, 1024])
def test_long_mode_ram_is_all_there(mem_mib):
    r = micro("memtest64", "--memory", f"{mem_mib}M")
    assert r.returncode == 0, r.stdout + r.stderr
    # The guest checks one qword per 4 KiB page from 2 MiB to the top of RAM,
    # less the stack page: the count proves it saw exactly the RAM we gave it.
    pages = (mem_mib * 2**20 - 2 * 2**20 - 4096) // 4096
    assert r.stdout == f"VPS-MICRO memtest ok pages={pages:016x}\n"


def test_guest_crash_is_reported_not_fatal():
    r = micro("crash64")
    assert r.returncode == 4, r.stderr
    assert "guest crashed" in r.stderr


def test_serial_to_file(tmp_path):
    out = tmp_path / "console.log"
    r = micro("hello16", "--serial", f"file:{out}")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert out.read_text() == "VPS-MICRO hello16 ok\n"


@pytest.mark.parametrize("args,needle", [
    (["--memory", "1M"], "`memory`: must be whole pages"),
    (["--memory", "12Q"], "`memory`: expected a size"),
    (["--mode", "protected"], "`mode`: expected"),
    (["--serial", "tcp:1"], "`serial`: `tcp:1` is not"),
    (["--bogus"], "unknown option `--bogus`"),
    (["--cpus", "2"], "`cpus`: micro-guests run on one vCPU"),
    (["--disk", "path=/nonexistent.img"],
     "`disk[0].path`: open `/nonexistent.img`: No such file or directory"),
    (["--cmdline", "quiet"], "`micro`: takes no initrd or cmdline"),
])
def test_bad_flags_are_refused(args, needle):
    r = run_vmm("--micro", MICRO / "hello16.bin", *args)
    assert r.returncode == 2
    # The first line is the error; the usage text follows it.
    assert needle in r.stderr.splitlines()[0]
    assert r.stdout == ""


def test_missing_payload_is_refused(tmp_path):
    r = run_vmm("--micro", tmp_path / "nope.bin")
    assert r.returncode == 2
    assert "nope.bin" in r.stderr and "No such file" in r.stderr


def test_payload_too_big_for_real_mode(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(b"\xf4" * 0x10001)
    r = run_vmm("--micro", big)
    assert r.returncode == 2
    assert "does not fit" in r.stderr


def test_i8042_reset_is_a_reboot():
    r = micro("reset16")
    assert r.returncode == 3, r.stderr


def test_acpi_reset_register_is_a_reboot():
    r = micro("acpireset16")
    assert r.returncode == 3, r.stderr


def test_acpi_s5_is_a_poweroff():
    # The guest spins after asking for S5: only the poweroff can end it.
    r = micro("poweroff16")
    assert r.returncode == 0, r.stderr


def test_cmos_clock_reads_host_year():
    import datetime
    before = datetime.datetime.now(datetime.timezone.utc).year
    r = micro("rtc16")
    after = datetime.datetime.now(datetime.timezone.utc).year
    assert r.returncode == 0, r.stderr
    assert r.stdout in (f"RTC {before}\n", f"RTC {after}\n")
