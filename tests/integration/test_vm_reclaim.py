# SPDX-License-Identifier: GPL-2.0-or-later
"""Balloon reclaim end to end (docs/policies.md, "Memory reclaim"): one
vm/qemu debian-12 VM with 512M under QEMU's software CPU, memory policy
oversell, and a private vpsd restarted around it:

- with `--reclaim-below off` the guest boots with all its RAM (balloon at
  512M, nothing taken) and then touches nearly all of it (dd with a buffer
  of its free memory), so that QEMU holds it resident: at least 448 MiB.
- restarted with `--reclaim-below` above the host's MemAvailable (the host
  looks short), vpsd's reclaim loop lowers the balloon to its floor (the
  larger of half its RAM and 128 MiB): `balloon_actual` drops, a `reclaim`
  event names it, the host report counts what it took. And the host gets
  the memory: the guest's free pages are the ones it touched, so the pages
  it gives the balloon are resident ones, which QEMU discards; the guest
  RAM resident in QEMU falls to at most the floor + 48 MiB, and QEMU's
  whole RSS by at least 128 MiB.
- restarted with `--reclaim-below off` again, vpsd gives the memory back:
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
    """Resident bytes of the guest's RAM in QEMU: the mapping of PID closest
    above RAM in size, at most 8 MiB more (0 when there is none). Not simply
    the largest: QEMU's TCG code buffer is a bigger mapping (1 GiB)."""
    best = None
    size = 0
    try:
        for line in open(f"/proc/{pid}/smaps"):
            if line.startswith("Size:"):
                size = int(line.split()[1]) << 10
            elif line.startswith("Rss:") and RAM <= size <= RAM + 8 * MIB:
                m = (size, int(line.split()[1]) << 10)
                best = m if best is None or m < best else best
    except OSError:
        pass
    return best[1] if best else 0


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
    total = meminfo("MemTotal")
    d.start(extra=("--reclaim-below", "off"))
    assert d.api("GET", "/host")["memory"]["reclaim"]["below"] == 0

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
        assert "1\r\nEND-42" in c.tail(), c.tail(600)
        # touch nearly all of the guest's RAM: a buffer of its free memory
        # less 16 MiB (the page cache it drops makes room for the rest)
        t0 = time.monotonic()
        c.run("dd if=/dev/zero of=/dev/null bs=$(awk '/^MemFree/ { print $2 - 16384 }' "
              "/proc/meminfo)K count=1; echo DD-$?-$((6*7))", "-42", timeout=300)
        assert "DD-0-42" in c.tail(), c.tail(600)
        timings.append(("vm/qemu reclaim: the guest touched its RAM (TCG)",
                        time.monotonic() - t0))
        c.run("free -m; echo END-$((6*7))", "END-42")
        print(c.tail(600))
    assert balloon(d, "r1") == RAM  # reclaim off: all of it
    assert d.api("GET", "/host")["memory"]["reclaim"]["taken"] == 0
    rss_up, ram_up = vm_rss(pid), ram_rss(pid)
    timings.append((f"vm/qemu reclaim: QEMU RSS {rss_up >> 20} MiB, guest RAM resident "
                    f"{ram_up >> 20} MiB after the guest touched it", 0.0))
    assert ram_up >= 448 * MIB, f"guest RAM resident {ram_up >> 20} MiB: not touched"

    # a vpsd whose threshold is the whole of MemTotal (MemAvailable is
    # always under it) takes from the balloon at its first passes
    d.stop()  # a clean stop of the daemon stops no VPS
    assert qemu_of(vdir) == [pid]
    d.start(extra=("--reclaim-below", f"{total >> 10}K"))
    host = d.api("GET", "/host")
    assert host["memory"]["reclaim"]["below"] == total >> 10 << 10, host["memory"]
    assert meminfo("MemAvailable") < host["memory"]["reclaim"]["below"]
    t0 = time.monotonic()
    low = until(lambda: (b := balloon(d, "r1")) is not None and b <= FLOOR and b,
                RECLAIM_TIMEOUT, f"ballooned down to the floor {FLOOR >> 20} MiB "
                f"(balloon_actual {balloon(d, 'r1')})")
    timings.append((f"vm/qemu reclaim: balloon_actual {low >> 20} MiB "
                    f"(floor {FLOOR >> 20} MiB)", time.monotonic() - t0))
    assert low == FLOOR, low
    ev = reclaim_events(d, "r1")
    assert ev, d.api("GET", "/events?vps=r1")
    assert all(e["vps"] == "r1" for e in ev), ev
    assert any(f"→ {FLOOR >> 20} MiB" in e["message"] and "under" in e["message"]
               for e in ev), ev
    host = d.api("GET", "/host")["memory"]["reclaim"]
    assert host["taken"] == RAM - FLOOR and host["vms"] == 1, host

    # the host got the pages: QEMU discards what the balloon holds, and
    # what the guest gave was resident (balloon_actual counts the pages the
    # guest reported, which QEMU discarded as each report came in)
    until(lambda: ram_rss(pid) <= FLOOR + 48 * MIB, 30,
          f"guest RAM resident at most the floor {FLOOR >> 20} MiB + 48 MiB "
          f"({ram_rss(pid) >> 20} MiB, {ram_up >> 20} MiB before)")
    rss_low, ram_low = vm_rss(pid), ram_rss(pid)
    timings.append((f"vm/qemu reclaim: QEMU RSS {rss_up >> 20} -> {rss_low >> 20} MiB, "
                    f"guest RAM resident {ram_up >> 20} -> {ram_low >> 20} MiB "
                    f"at balloon {low >> 20} MiB", 0.0))
    assert rss_low <= rss_up - 128 * MIB, (rss_up >> 20, rss_low >> 20)

    # a vpsd without the threshold gives the memory back (its first pass)
    d.stop()
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
    assert qemu_of(vdir) == [pid], "QEMU was not the same process"

    vps(d, "stop", "--force", "r1")
    assert show(d, "r1")["state"] == "stopped"
    assert not qemu_of(vdir) and not procs_under(rundir)
    vps(d, "destroy", "r1")
    assert d.api("GET", "/vps") == []
    assert not vdir.exists() and not rundir.exists()
    assert not procs_under(d.run / "vps"), "a keeper or QEMU outlived the destroy"
    assert not procs_under(vdir), "a keeper or QEMU outlived the destroy"
