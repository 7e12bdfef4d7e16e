# SPDX-License-Identifier: GPL-2.0-or-later
"""Live migration of a stock Linux guest (docs/vmm.md, "Live migration"), in
the nested test host (L1), where vps-vmm has an in-kernel irqchip, PIT,
LAPIC timers, kvmclock and MSI-X through irqfds: the guest boots to the test
init's `waiting`, is migrated while it runs to a second monitor over a unix
socket (the source exits with status 6), and the destination gets the ACPI
power button pressed: the guest must take the interrupt (SCI through the
migrated IO-APIC), print `power button` on its serial console and power off
(exit status 0). The destination announces the guest on its network card
(a RARP from the guest's MAC), so a bridge holding both monitors' taps
learns where the guest went. One boot; slow (TCG). L1 itself dying meanwhile (its emulated CPUs lock
up) is retried once in a fresh L1 (docs/testbench.md, "Retries")."""

import json
import re
import uuid
from pathlib import Path

from framework import artefacts
from framework.guest import shell_quote
from framework.retry import l1_run

VMMCTL = Path(__file__).resolve().parent / "framework" / "vmmctl.py"


def test_linux_guest_migrates_and_still_answers(l1, guest_kernel, guest_initramfs):
    vmm = artefacts.build_dir() / "src" / "vmm" / "vps-vmm"
    run = f"/tmp/vmig-{uuid.uuid4().hex[:8]}"
    base = [str(vmm), "--kernel", str(guest_kernel.vmlinuz), "--initrd", str(guest_initramfs),
            "--cmdline", "console=ttyS0 panic=-1 quiet vps.then=wait", "--cpus", "2",
            "--memory", "256M"]
    tag = uuid.uuid4().hex[:5]
    br, tap1, tap2 = f"vmb{tag}", f"vma{tag}", f"vmz{tag}"
    mac = "52:54:00:00:09:01"
    src = base + ["--serial", f"file:{run}/serial1", "--control", f"{run}/ctl1",
                  "--net", f"tap={tap1},mac={mac}"]
    dst = base + ["--serial", f"file:{run}/serial2", "--control", f"{run}/ctl2",
                  "--net", f"tap={tap2},mac={mac}", "--migrate-listen", f"{run}/mig"]
    # Both taps on one bridge, as two hosts' ports on one switch. The guest's
    # eth0 stays down, so only the destination's announcement (a RARP from
    # the guest's MAC) can teach the bridge where the guest is.
    net = (f"ip link add {br} type bridge && ip link set {br} up && "
           f"for t in {tap1} {tap2}; do ip tuntap add $t mode tap && "
           f"ip link set $t master {br} up || exit 1; done")
    wait = (f"for i in $(seq 1200); do grep -q 'VPS-INIT: waiting' {run}/serial1 2>/dev/null "
            f"&& break; sleep 0.1; done")
    cmd = (f"mkdir -p {run}; {net} || exit 1; "
           f"{shell_quote(src)} 2>{run}/stderr1 & spid=$!; {wait}; "
           f"{shell_quote(dst)} 2>{run}/stderr2 & dpid=$!; "
           f"for i in $(seq 100); do [ -S {run}/mig ] && break; sleep 0.1; done; "
           f"python3 {VMMCTL} {run}/ctl1 '{{\"cmd\":\"migrate\",\"to\":\"{run}/mig\"}}' "
           f"| sed 's/^/MIGRATE: /'; "
           f"wait $spid; echo SOURCE-EXIT: $?; sleep 2; "
           f"bridge fdb show br {br} | grep -i '^{mac} ' | sed 's/^/FDB: /'; "
           f"python3 {VMMCTL} {run}/ctl2 '{{\"cmd\":\"stats\"}}' | sed 's/^/DSTATS: /'; "
           f"python3 {VMMCTL} {run}/ctl2 '{{\"cmd\":\"shutdown\"}}' | sed 's/^/SHUTDOWN: /'; "
           f"for i in $(seq 600); do kill -0 $dpid 2>/dev/null || break; sleep 0.1; done; "
           f"kill -0 $dpid 2>/dev/null && {{ python3 {VMMCTL} {run}/ctl2 '{{\"cmd\":\"stats\"}}' "
           f"| sed 's/^/STATS: /'; kill -9 $dpid; }}; "
           f"wait $dpid; echo DEST-EXIT: $?; "
           f"echo '--- serial1'; cat {run}/serial1; echo '--- serial2'; cat {run}/serial2; "
           f"echo '--- stderr1'; cat {run}/stderr1; echo '--- stderr2'; cat {run}/stderr2; "
           f"rm -rf {run}; ip link del {br}; ip link del {tap1}; ip link del {tap2}")
    r = l1_run(l1, "vps-vmm migration in L1", cmd, 600)
    out = r.stdout
    mig = re.search(r"^MIGRATE: (.*)$", out, re.M)
    assert mig and json.loads(mig.group(1)) == {"ok": True, "migration": "active"}, out
    assert "SOURCE-EXIT: 6" in out, out
    assert re.search(r'^SHUTDOWN: \{"ok": true\}$', out, re.M), out
    assert "DEST-EXIT: 0" in out, out
    serial2 = out.split("--- serial2", 1)[1].split("--- stderr1", 1)[0]
    # the destination's console goes on from `waiting`: the guest never boots again
    assert "VPS-INIT: power button" in serial2, out
    assert "Linux version" not in serial2, out
    m = re.search(r"migrated to `[^`]*`: (\d+) rounds, (\d+) bytes, (\d+) pages while paused, "
                  r"downtime (\d+) us, total (\d+) us", out)
    assert m, out
    print("L1 Linux migration:", m.group(0))
    assert "migrated in:" in out, out
    # the destination announced the guest: one RARP, and the bridge learnt
    # the guest's MAC on the destination's port, nowhere else
    stats = json.loads(re.search(r"^DSTATS: (.*)$", out, re.M).group(1))
    assert [n["announces"] for n in stats["net"]] == [1], stats
    fdb = re.findall(r"^FDB: (.*)$", out, re.M)
    assert len(fdb) == 1 and f" dev {tap2} " in fdb[0] + " ", out
