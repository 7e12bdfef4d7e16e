# SPDX-License-Identifier: GPL-2.0-or-later
"""Full virtualization end to end through the daemon: a tiny bootable ISO
(tests/guest/isoboot.S, a 512-byte real-mode program that prints
`VPS-ISO-BOOT ok` on COM1) is built here, uploaded (PUT /api/v1/isos/boot),
and a vm/qemu VPS created with `"iso": "boot"` boots it with the firmware
(SeaBIOS, El Torito no-emulation) on QEMU's software CPU. Then stop --force,
destroy, delete the ISO: no QEMU, keeper or run directory left.

Needs `as`/`ld` (binutils), xorriso and qemu-system-x86_64, which
scripts/test installs (scripts/lib.sh VPS_PACKAGES): a missing one is a
failure, not a skip. Run as root:
    cd tests/integration && /usr/bin/python3 -m pytest -q -p no:cacheprovider \\
        test_vm_firmware.py"""

from pathlib import Path

import pytest

from framework.bootiso import build_iso, tool
from framework.console import Console
from framework.vpsd import VPSD, Vpsd

MARKER = "VPS-ISO-BOOT ok"
BOOT_TIMEOUT = 60


def procs_under(path):
    """Pids whose command line names PATH (a VPS's QEMU, its keeper)."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes()
            except OSError:
                continue
            if str(path).encode() in cmd:
                out.append(int(p.name))
    return out


@pytest.fixture
def daemon():
    if not VPSD.exists():
        pytest.fail(f"{VPSD} is not built: ninja -C $VPS_BUILD")
    d = Vpsd().start()
    yield d
    d.cleanup()


def test_iso_firmware_boot(daemon, tmp_path):
    d = daemon
    tool("qemu-system-x86_64")
    iso = build_iso(tmp_path).read_bytes()

    assert d.api("PUT", "/isos/boot", iso, expect=201) == {"name": "boot", "size": len(iso)}
    v = d.api("POST", "/vps", {"name": "fw1", "kind": "vm", "engine": "qemu", "iso": "boot",
                               "ram": "64M", "disk": "64M"}, expect=201)
    assert v["boot"] == "firmware" and v["iso"] == str(d.data / "isos" / "boot.iso"), v
    vdir, rundir = d.data / "vps" / "fw1", d.run / "vps" / "fw1"

    d.api("POST", "/vps/fw1/start")
    v = d.api("GET", "/vps/fw1")
    assert v["state"] == "running", v
    qemu = [p for p in procs_under(vdir / "disk.img")
            if (Path("/proc") / str(p) / "cmdline").read_bytes().split(b"\0")[0]
            .endswith(b"qemu-system-x86_64")]
    assert len(qemu) == 1, qemu
    cmd = (Path("/proc") / str(qemu[0]) / "cmdline").read_bytes().split(b"\0")
    assert b"-kernel" not in cmd and str(d.data / "isos" / "boot.iso").encode() in b" ".join(cmd)

    with Console(d.api("GET", "/vps/fw1/console")["path"]) as c:
        try:
            c.expect(MARKER, BOOT_TIMEOUT)
        except (TimeoutError, EOFError) as e:
            pytest.fail(f"{e}\nQEMU: {cmd}\nvpsd log:\n{d.log.read_text()[-3000:]}")

    d.api("POST", "/vps/fw1/stop", {"force": True})
    v = d.api("GET", "/vps/fw1")
    assert v["state"] == "stopped", v
    assert not procs_under(vdir) and not procs_under(rundir)

    d.api("DELETE", "/vps/fw1")
    d.api("DELETE", "/isos/boot")
    assert d.api("GET", "/vps") == [] and d.api("GET", "/isos") == []
    assert not vdir.exists() and not rundir.exists()
    assert not list((d.data / "isos").iterdir())
    assert not procs_under(d.run / "vps") and not procs_under(d.data / "vps")


def test_iso_firmware_boot_vmm(daemon, tmp_path):
    """The same ISO on our own monitor: `boot: firmware` means SeaBIOS on vps-vmm too,
    the ISO on its virtio-scsi CD, booted before the empty disk. This machine's
    PVM /dev/kvm runs SeaBIOS (emulating its real-mode code), so no nested host."""
    d = daemon
    iso = build_iso(tmp_path).read_bytes()
    d.api("PUT", "/isos/boot", iso, expect=201)
    v = d.api("POST", "/vps", {"name": "fw2", "kind": "vm", "engine": "vmm", "iso": "boot",
                               "ram": "64M", "disk": "64M"}, expect=201)
    assert v["boot"] == "firmware" and v["engine"] == "vmm", v
    vdir = d.data / "vps" / "fw2"
    d.api("POST", "/vps/fw2/start")
    assert d.api("GET", "/vps/fw2")["state"] == "running"
    cfg = (vdir / "vm.json").read_text()
    assert '"firmware": "/usr/share/seabios/bios.bin"' in cfg and '"kernel"' not in cfg, cfg
    assert f'"cdrom": "{d.data / "isos" / "boot.iso"}"' in cfg, cfg
    with Console(d.api("GET", "/vps/fw2/console")["path"]) as c:
        try:
            c.expect(MARKER, 180)  # SeaBIOS under PVM's emulation: slow
        except (TimeoutError, EOFError) as e:
            pytest.fail(f"{e}\nvpsd log:\n{d.log.read_text()[-3000:]}")
    # the CD ejected and put back while it runs (vps-vmm's `media`, the ISO passed to the
    # jailed monitor by descriptor)
    out = d.api("PATCH", "/vps/fw2", {"iso": None})
    assert out["live"] is True and "iso" not in out["vps"], out
    cd = d.api("GET", "/vps/fw2")["stats"]["cdrom"]
    assert not cd["medium"] and cd["media_changes"] == 1, cd
    out = d.api("PATCH", "/vps/fw2", {"iso": "boot"})
    assert out["live"] is True and out["vps"]["iso"] == str(d.data / "isos" / "boot.iso"), out
    cd = d.api("GET", "/vps/fw2")["stats"]["cdrom"]
    assert cd["medium"] and cd["blocks"] == len(iso) // 2048 and cd["media_changes"] == 2, cd
    d.api("POST", "/vps/fw2/stop", {"force": True})
    assert d.api("GET", "/vps/fw2")["state"] == "stopped"
    assert not procs_under(vdir)
    d.api("DELETE", "/vps/fw2")
    d.api("DELETE", "/isos/boot")
    assert d.api("GET", "/vps") == [] and not vdir.exists()
