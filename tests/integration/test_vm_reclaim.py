# SPDX-License-Identifier: GPL-2.0-or-later
"""Balloon reclaim end to end (docs/policies.md, "Memory reclaim"): a
private vpsd whose `--reclaim-below` is above the host's MemAvailable, so
the host looks short; memory policy oversell; one vm/qemu debian-12 VM
with 512M under QEMU's software CPU.

- vpsd's reclaim loop lowers the VM's balloon to its floor (the larger of
  half its RAM and 128 MiB): `balloon_actual` in the VM's stats drops, a
  `reclaim` event names it. The QEMU process's RSS is a soft check only
  (the guest touched little of its RAM under TCG), printed in the timings.
- vpsd restarted with `--reclaim-below off` gives the memory back:
  `balloon_actual` returns to 512M.
- stop --force, destroy: no file, process or run dir left.

Run as root:
    VPS_BUILD=/work/main/build-test /usr/bin/python3 -m pytest -q test_vm_reclaim.py"""

import time

import pytest

from framework.console import Console
from test_vpsd_vm import (KEY, QEMU_LOGIN_TIMEOUT, VPS, console_path, procs_under, qemu_of,
                          show, until, vm_template_cached, vps)
from framework.vpsd import Vpsd

assert vm_template_cached  # a fixture, used by name

MIB = 1 << 20
RAM = 512 * MIB
FLOOR = max(RAM // 2, 128 * MIB)
RECLAIM_TIMEOUT = 60


def meminfo(field):
    for line in open("/proc/meminfo"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) << 10
    raise KeyError(field)


def vm_rss(pid):
    """VmRSS of PID in bytes (0 when it has none or is gone)."""
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) << 10
    except OSError:
        pass
    return 0


def ram_rss(pid):
    """Resident bytes of the guest's RAM in QEMU: the largest mapping of
    PID at least RAM long (0 when there is none)."""
    best = (0, 0)
    size = 0
    try:
        for line in open(f"/proc/{pid}/smaps"):
            if line.startswith("Size:"):
                size = int(line.split()[1]) << 10
            elif line.startswith("Rss:") and size >= RAM:
                best = max(best, (size, int(line.split()[1]) << 10))
    except OSError:
        pass
    return best[1]


def balloon(d, name):
    return show(d, name).get("stats", {}).get("balloon_actual")


def reclaim_events(d, name):
    return [e for e in d.api("GET", f"/events?vps={name}") if e["kind"] == "reclaim"]


@pytest.fixture
def daemon():
    if not VPS.exists():
        pytest.fail(f"{VPS} is not built: ninja -C $VPS_BUILD")
    d = Vpsd()
    yield d
    d.cleanup()


def test_vm_qemu_reclaim(daemon, vm_template_cached, timings):
    d = daemon
    total, avail = meminfo("MemTotal"), meminfo("MemAvailable")
    # the threshold is the whole of MemTotal: MemAvailable is always under it
    d.start(extra=("--reclaim-below", f"{total >> 10}K"))
    host = d.api("GET", "/host")
    assert host["memory"]["reclaim"]["below"] == total >> 10 << 10, host["memory"]
    assert avail < host["memory"]["reclaim"]["below"]

    # memory reserve (the default) locks a VM's RAM and never balloons it
    vps(d, "policy", "set", "memory", "oversell", "1.5")
    vps(d, "create", "r1", "--kind", "vm", "--engine", "qemu", "--template", "debian-12",
        "--ram", "512M", "--cpus", "1", "--disk", "3G", "--password", "pw", "--ssh-key", KEY)
    vdir = d.data / "vps" / "r1"
    rundir = d.run / "vps" / "r1"

    t0 = time.monotonic()
    vps(d, "start", "r1")
    pids = until(lambda: qemu_of(vdir), 30, "QEMU running")
    assert len(pids) == 1, pids
    pid = pids[0]
    with Console(console_path(d, "r1")) as c:
        c.login("pw", QEMU_LOGIN_TIMEOUT)
        timings.append(("vm/qemu reclaim: start to root shell (TCG)", time.monotonic() - t0))
        # the guest is up, and so is its balloon driver (a module udev loads)
        c.run("ls -d /sys/bus/virtio/drivers/virtio_balloon/virtio* | wc -l; "
              "echo END-$((6*7))", "END-42")
        guest_balloon = "1\r\nEND-42" in c.tail()
        c.run("free -m; echo END-$((6*7))", "END-42")
        print(c.tail(600))
    rss_up, ram_up = vm_rss(pid), ram_rss(pid)

    # the loop took from the balloon while the guest booted, or takes it now
    t0 = time.monotonic()
    low = until(lambda: (b := balloon(d, "r1")) is not None and b <= FLOOR and b,
                RECLAIM_TIMEOUT, f"ballooned down to the floor {FLOOR >> 20} MiB "
                f"(balloon_actual {balloon(d, 'r1')}, virtio_balloon loaded: {guest_balloon})")
    timings.append((f"vm/qemu reclaim: balloon_actual {low >> 20} MiB "
                    f"(floor {FLOOR >> 20} MiB) after the guest was up", time.monotonic() - t0))
    assert low == FLOOR, low
    ev = reclaim_events(d, "r1")
    assert ev, d.api("GET", "/events?vps=r1")
    assert all(e["vps"] == "r1" for e in ev), ev
    assert any(f"→ {FLOOR >> 20} MiB" in e["message"] and "under" in e["message"]
               for e in ev), ev
    host = d.api("GET", "/host")["memory"]["reclaim"]
    assert host["taken"] == RAM - FLOOR and host["vms"] == 1, host

    # RSS: soft. The guest touched little of its RAM under TCG, and QEMU
    # gives ballooned pages back to the host (MADV_DONTNEED) only when they
    # were populated; it must not have grown past a margin at least.
    time.sleep(4)
    rss_low, ram_low = vm_rss(pid), ram_rss(pid)
    timings.append((f"vm/qemu reclaim: QEMU RSS {rss_up >> 20} MiB (guest RAM {ram_up >> 20} MiB) "
                    f"when the guest was up, {rss_low >> 20} MiB (guest RAM {ram_low >> 20} MiB) "
                    f"at balloon {low >> 20} MiB", 0.0))
    print(f"QEMU RSS: {rss_up >> 20} MiB -> {rss_low >> 20} MiB, "
          f"guest RAM {ram_up >> 20} MiB -> {ram_low >> 20} MiB")
    if rss_low > rss_up + 64 * MIB:
        timings.append((f"vm/qemu reclaim: QEMU RSS grew by {(rss_low - rss_up) >> 20} MiB "
                        "(soft check)", 0.0))
    if ram_low > FLOOR + 32 * MIB:
        timings.append((f"vm/qemu reclaim: guest RAM resident {ram_low >> 20} MiB, above the "
                        f"balloon's {FLOOR >> 20} MiB (soft check)", 0.0))

    # a vpsd without the threshold gives the memory back (its first pass)
    d.stop()  # a clean stop of the daemon stops no VPS
    assert qemu_of(vdir) == [pid]
    d.start(extra=("--reclaim-below", "off"))
    assert d.api("GET", "/host")["memory"]["reclaim"]["below"] == 0
    t0 = time.monotonic()
    until(lambda: balloon(d, "r1") == RAM, RECLAIM_TIMEOUT,
          f"given back to 512M with reclaim off (balloon_actual {balloon(d, 'r1')})")
    timings.append(("vm/qemu reclaim off: balloon_actual back to 512 MiB",
                    time.monotonic() - t0))
    # the start-up pass that gives RAM back is no change of ours: no event
    assert len(reclaim_events(d, "r1")) == len(ev)
    assert d.api("GET", "/host")["memory"]["reclaim"]["taken"] == 0
    timings.append((f"vm/qemu reclaim off: QEMU RSS {vm_rss(pid) >> 20} MiB "
                    f"(guest RAM {ram_rss(pid) >> 20} MiB)", 0.0))
    assert qemu_of(vdir) == [pid], "QEMU was not the same process"

    vps(d, "stop", "--force", "r1")
    assert show(d, "r1")["state"] == "stopped"
    assert not qemu_of(vdir) and not procs_under(rundir)
    vps(d, "destroy", "r1")
    assert d.api("GET", "/vps") == []
    assert not vdir.exists() and not rundir.exists()
    assert not procs_under(d.run / "vps"), "a keeper or QEMU outlived the destroy"
    assert not procs_under(vdir), "a keeper or QEMU outlived the destroy"
