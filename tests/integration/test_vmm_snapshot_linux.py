# SPDX-License-Identifier: GPL-2.0-or-later
"""Snapshot and restore of a stock Linux guest (docs/vmm.md, "Snapshots"),
in the nested test host (L1), where vps-vmm has an in-kernel irqchip, PIT,
LAPIC timers, kvmclock and MSI-X through irqfds: the guest boots to the
test init's `waiting`, is snapshotted and left paused, the monitor is killed
with SIGKILL, and a new monitor restored from the snapshot gets the ACPI
power button pressed: the guest must take the interrupt (SCI through the
restored IO-APIC), print `power button` on its serial console and power off
(exit status 0). One boot; slow (TCG). L1 itself dying meanwhile (its emulated CPUs lock
up) is retried once in a fresh L1 (docs/testbench.md, "Retries")."""

import json
import re
import uuid
from pathlib import Path

from framework import artefacts
from framework.guest import shell_quote
from framework.retry import l1_run

VMMCTL = Path(__file__).resolve().parent / "framework" / "vmmctl.py"


def test_linux_guest_snapshot_kill_restore_still_answers(l1, guest_kernel, guest_initramfs):
    vmm = artefacts.build_dir() / "src" / "vmm" / "vps-vmm"
    run = f"/tmp/vsnap-{uuid.uuid4().hex[:8]}"
    base = [str(vmm), "--kernel", str(guest_kernel.vmlinuz), "--initrd", str(guest_initramfs),
            "--cmdline", "console=ttyS0 panic=-1 quiet vps.then=wait", "--cpus", "2",
            "--memory", "256M"]
    src = base + ["--serial", f"file:{run}/serial1", "--control", f"{run}/ctl1"]
    dst = base + ["--serial", f"file:{run}/serial2", "--control", f"{run}/ctl2",
                  "--restore", f"{run}/snap"]
    wait = (f"for i in $(seq 1200); do grep -q 'VPS-INIT: waiting' {run}/serial1 2>/dev/null "
            f"&& break; sleep 0.1; done")
    cmd = (f"mkdir -p {run}; {shell_quote(src)} 2>{run}/stderr1 & pid=$!; {wait}; "
           f"python3 {VMMCTL} {run}/ctl1 "
           f"'{{\"cmd\":\"snapshot\",\"path\":\"{run}/snap\",\"resume\":false}}' "
           f"| sed 's/^/SNAPSHOT: /'; "
           f"kill -9 $pid; wait $pid; echo SOURCE-EXIT: $?; "
           f"{shell_quote(dst)} 2>{run}/stderr2 & pid=$!; "
           f"for i in $(seq 100); do [ -S {run}/ctl2 ] && break; sleep 0.1; done; sleep 2; "
           f"python3 {VMMCTL} {run}/ctl2 '{{\"cmd\":\"shutdown\"}}' | sed 's/^/SHUTDOWN: /'; "
           f"wait $pid; echo RESTORED-EXIT: $?; "
           f"echo '--- serial1'; cat {run}/serial1; echo '--- serial2'; cat {run}/serial2; "
           f"echo '--- stderr1'; cat {run}/stderr1; echo '--- stderr2'; cat {run}/stderr2; "
           f"rm -rf {run}")
    r = l1_run(l1, "vps-vmm snapshot and restore in L1", cmd, 300)
    out = r.stdout
    snap = re.search(r"^SNAPSHOT: (.*)$", out, re.M)
    assert snap and json.loads(snap.group(1))["state"] == "paused", out
    assert json.loads(snap.group(1))["ok"] is True, out
    assert "SOURCE-EXIT: 137" in out, out
    assert re.search(r'^SHUTDOWN: \{"ok": true\}$', out, re.M), out
    assert "RESTORED-EXIT: 0" in out, out
    serial2 = out.split("--- serial2", 1)[1].split("--- stderr1", 1)[0]
    # the restored guest's console: it goes on from `waiting`, never boots again
    assert "VPS-INIT: power button" in serial2, out
    assert "Linux version" not in serial2, out
    assert "restored from" in out, out


def test_vhost_net_snapshot_restore_answers_ping_and_refuses_migration(
        l1, guest_kernel, guest_initramfs):
    """A guest on vhost-net (two queue pairs, L1 has /dev/vhost-net): L1
    pings it through the kernel's path; live migration is refused with the
    reason (vhost's writes are not in the dirty log); a snapshot takes the
    rings back from vhost (their positions are saved), the monitor is
    killed, and the restored one hands them to vhost again: the guest still
    answers L1's ping, so no ring position was lost on the way."""
    vmm = artefacts.build_dir() / "src" / "vmm" / "vps-vmm"
    run = f"/tmp/vsnap-{uuid.uuid4().hex[:8]}"
    tap = "vpsv" + uuid.uuid4().hex[:6]
    base = [str(vmm), "--kernel", str(guest_kernel.vmlinuz), "--initrd", str(guest_initramfs),
            "--cmdline", "console=ttyS0 panic=-1 quiet vps.net=eth0,192.0.2.2/24 vps.then=wait",
            "--cpus", "2", "--memory", "256M",
            "--net", f"tap={tap},mac=52:54:00:00:02:08,vhost=on"]
    src = base + ["--serial", f"file:{run}/serial1", "--control", f"{run}/ctl1"]
    dst = base + ["--serial", f"file:{run}/serial2", "--control", f"{run}/ctl2",
                  "--restore", f"{run}/snap"]
    wait = (f"for i in $(seq 1200); do grep -q 'VPS-INIT: waiting' {run}/serial1 2>/dev/null "
            f"&& break; sleep 0.1; done")
    ping = "{ ping -c 2 -W 10 192.0.2.2 || busybox ping -c 2 -W 10 192.0.2.2; } >/dev/null 2>&1"
    cmd = (f"mkdir -p {run}; ip tuntap add {tap} mode tap multi_queue; "
           f"ip addr add 192.0.2.1/24 dev {tap}; ip link set {tap} up; "
           f"{shell_quote(src)} 2>{run}/stderr1 & pid=$!; {wait}; "
           f"{ping} && echo PING1: ok; "
           f"python3 {VMMCTL} {run}/ctl1 '{{\"cmd\":\"migrate\",\"to\":\"{run}/m.sock\"}}' "
           f"| sed 's/^/MIGRATE: /'; "
           f"python3 {VMMCTL} {run}/ctl1 "
           f"'{{\"cmd\":\"snapshot\",\"path\":\"{run}/snap\",\"resume\":false}}' "
           f"| sed 's/^/SNAPSHOT: /'; "
           f"kill -9 $pid; wait $pid; echo SOURCE-EXIT: $?; "
           f"{shell_quote(dst)} 2>{run}/stderr2 & pid=$!; "
           f"for i in $(seq 100); do [ -S {run}/ctl2 ] && break; sleep 0.1; done; "
           f"{ping} && echo PING2: ok; "
           f"python3 {VMMCTL} {run}/ctl2 '{{\"cmd\":\"shutdown\"}}' | sed 's/^/SHUTDOWN: /'; "
           f"wait $pid; echo RESTORED-EXIT: $?; ip link del {tap}; "
           f"echo '--- serial2'; cat {run}/serial2; "
           f"echo '--- stderr1'; cat {run}/stderr1; echo '--- stderr2'; cat {run}/stderr2; "
           f"rm -rf {run}")
    r = l1_run(l1, "vps-vmm on vhost-net: snapshot and restore in L1", cmd, 400)
    out = r.stdout
    assert "PING1: ok" in out, out
    mig = re.search(r"^MIGRATE: (.*)$", out, re.M)
    assert mig and json.loads(mig.group(1))["ok"] is False, out
    assert "runs on vhost-net, whose writes to guest memory are not logged" in mig.group(1), out
    snap = re.search(r"^SNAPSHOT: (.*)$", out, re.M)
    assert snap and json.loads(snap.group(1))["ok"] is True, out
    assert "SOURCE-EXIT: 137" in out, out
    # the restored monitor handed the rings to vhost again, and the guest answered through them
    assert "PING2: ok" in out, out
    assert re.search(r'^SHUTDOWN: \{"ok": true\}$', out, re.M), out
    assert "RESTORED-EXIT: 0" in out, out
    # the restored monitor gave the rings to vhost (frames already waiting in the tap when
    # its I/O thread started may be served in user space first, from the same positions)
    stderr2 = out.split("--- stderr2", 1)[1]
    assert re.search(r"2 queue pairs \(at most 2 in use; .*\), vhost-net \(rings handed over "
                     r"[1-9]\d* times\)", stderr2), out
    assert "refused the rings" not in out, out
