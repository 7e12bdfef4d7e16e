# SPDX-License-Identifier: GPL-2.0-or-later
"""Snapshots of a running vm/vmm VPS (docs/storage.md, "Snapshots"), in the
nested test host L1 where vps-vmm boots Debian: a private vpsd inside L1,
the debian-12 VM started, a writer inside the guest that never stops
(files rewritten with fsync, a directory tree copied and removed: data and
metadata), three snapshots taken while it runs (vpsd asks vps-vmm to
`freeze`, copies root and swap, `thaw`s), and each snapshot's root image
checked by e2fsck: its journal replayed, as a mount would, then a forced
read-only check that must find nothing. The guest runs and writes on
between and after the snapshots. One boot; slow (TCG)."""

import json
import re
import time
import uuid

from framework.agent import ChannelError
from framework.retry import ATTEMPTS, LAST, retry
from test_vpsd_vm import (L1_BASE, l1_boot_to_login, l1_console, l1_show, l1_vps,  # noqa: F401
                          l1_vpsd_clean, l1_vpsd_start, vm_template_cached)

# The writer, niced, pausing 2 s a round, typed as short lines into a script: a 250-byte line
# typed at once lost characters on the serial console under TCG and left the shell waiting
# for the rest (its `>` prompt), which read as a console that did not answer.
WRITER = ["echo 'i=0; while :; do' >/root/w",
          "echo ' f=/root/f$((i%4))' >>/root/w",
          "echo ' nice -n 19 dd if=/dev/urandom of=$f bs=64k count=8 conv=fsync' >>/root/w",
          "echo ' nice -n 19 cp -a /etc /root/e$i; rm -rf /root/e$((i-1))' >>/root/w",
          "echo ' echo $i >/root/count; i=$((i+1)); sleep 2; done' >>/root/w",
          "sh /root/w >/dev/null 2>&1 &"]


class Hung(Exception):
    """The guest's console did not answer: the emulated SVM lost the vCPU (see l1_boot_to_login)."""


def count(l1):
    """The writer's rounds so far (0 before its first round ends). The end
    marker is new each time: the console replays what it showed before, and
    an old END-42 would end the wait before this command's answer."""
    nonce = uuid.uuid4().hex[:8]
    r = l1_console(l1, "", "", "# ",
                   f"echo C=$(cat /root/count 2>/dev/null)=C; echo END-$((6*7))-{nonce}",
                   f"END-42-{nonce}", timeout=120)
    if not r.ok:
        raise Hung(r.stderr.strip()[-300:] or r.stdout[-300:])
    found = re.findall(r"C=(\d*)=C", r.stdout)
    assert found, r.stdout[-2000:]
    return int(found[-1] or 0)


def count_past(l1, n, timeout=600):
    """Wait (TCG in L1 is slow: a round is seconds to minutes) until the writer passed round n."""
    deadline = time.monotonic() + timeout
    while (c := count(l1)) <= n:
        assert time.monotonic() < deadline, f"the writer did not pass round {n}"
        time.sleep(5)
    return c


def cycle(l1, timings):
    l1_vpsd_start(l1)
    l1_vps(l1, "create", "w1", "--kind", "vm", "--engine", "vmm", "--template", "debian-12",
           "--ram", "512M", "--cpus", "1", "--disk", "512M", "--swap", "64M",
           "--password", "pw")
    l1_vps(l1, "start", "w1")
    l1_boot_to_login(l1, "first boot", timings)
    # cloud-init's last stage runs on after the login prompt and writes to this console: the
    # writer starts once it is done (the console stopped answering where the two overlapped)
    r = l1_console(l1, "", "cloud-init status --wait >/dev/null 2>&1; echo CI-$((6*7))",
                   "CI-42", timeout=300)
    if not r.ok:
        raise Hung(r.stderr.strip()[-300:] or r.stdout[-300:])
    steps = [x for line in WRITER for x in (line, "# ")]
    r = l1_console(l1, "", *steps, "sleep 5; echo END-$((6*7))", "END-42", timeout=120)
    assert r.ok, r
    before = count_past(l1, 0)
    snaps = f"{L1_BASE}/data/vps/w1/snapshots"
    for i in range(3):
        t0 = time.monotonic()
        r = l1_vps(l1, "snapshot", "create", "w1", f"s{i}", check=False)
        assert r.ok, (r.stderr, l1.run(f"df -h {L1_BASE}", timeout=30).stdout)
        timings.append((f"vm/vmm in L1: snapshot of a running VM with a writer #{i}",
                        time.monotonic() - t0))
        v = l1_show(l1, "w1")
        assert v["state"] == "running" and v["monitor"]["state"] == "running", v
        r = l1.run(f"ls {snaps}/s{i}", check=True)
        assert r.stdout.split() == ["disk.img", "swap.img"], r
        # the check, on the snapshot itself (a copy of it does not fit in L1's memory-backed
        # /var/tmp beside the disk and the snapshots): the journal replayed as a mount would,
        # then a forced read-only check. The image must be the disk's full size first.
        img = f"{snaps}/s{i}/disk.img"
        r = l1.run(f"stat -c size=%s {img}; e2fsck -E journal_only -y {img}; echo replay=$?; "
                   f"e2fsck -fn {img}; echo check=$?", timeout=300)
        assert f"size={512 << 20}" in r.stdout, r.stdout
        assert "replay=0" in r.stdout or "replay=1" in r.stdout, r
        assert "check=0" in r.stdout, r
        # one snapshot at a time: L1's /var/tmp is a tmpfs in its memory, where the disk and
        # one full copy fit but not three
        l1_vps(l1, "snapshot", "rm", "w1", f"s{i}")
    count_past(l1, before)  # the writer ran on through the snapshots
    ev = [json.loads(line)["kind"] for line in
          l1_vps(l1, "events", "--vps", "w1", "--format", "json").stdout.splitlines()]
    assert ev.count("snapshot") == 3, ev
    l1_vps(l1, "stop", "--force", "w1")
    l1_vps(l1, "destroy", "w1")


def clean(l1):
    l1_vpsd_clean(l1, "w1")


def test_running_vmm_snapshot_under_a_writer_is_clean(vm_template_cached, l1, timings):
    """A retry (counted, at most two) when L1 stops answering or the guest's console does (the
    emulated SVM losing the vCPU); a snapshot that fails, or a check that finds damage, never
    retries. It starts with a fresh L1: in whole runs, after the other L1 tests, the guest's
    console stopped answering under the writer in both attempts, twice (its memory-backed
    /var/tmp and page cache are L1's own 2.5 GiB), while the test passed alone every time."""
    l1.restart()
    try:
        for attempt in ATTEMPTS:
            try:
                cycle(l1, timings)
                break
            except ChannelError as e:
                if attempt == LAST:
                    raise
                retry("vm/vmm snapshot in L1", f"L1 stopped answering: {str(e).splitlines()[0]}")
                l1.restart()
            except Hung as e:
                if attempt == LAST:
                    raise AssertionError(f"the guest's console did not answer: {e}")
                retry("vm/vmm snapshot in L1", f"the guest's console did not answer: {e}")
                clean(l1)
    finally:
        clean(l1)
