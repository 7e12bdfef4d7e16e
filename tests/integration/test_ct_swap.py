# SPDX-License-Identifier: GPL-2.0-or-later
"""vswap in a system container (docs/policies.md, "Swap per kind"): a
container's `swap` is its cgroup's memory+swap limit above its `memory`, so
with swap on the host it can hold more than its RAM, the overflow going to
the host's swap; with `swap` 0 the same program is OOM-killed at its RAM.

The test makes its own host swap (a 256 MiB file under /var/tmp) and takes
it away at the end; it skips, saying why, where swapon is not permitted.

Run as root: /usr/bin/python3 -m pytest -q -p no:cacheprovider test_ct_swap.py"""

import os
import subprocess
from pathlib import Path

import pytest

MIB = 1 << 20

# dd reads its whole block into one buffer before it writes: 100 MiB held at once.
HOG = ("dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1")


@pytest.fixture(scope="module")
def host_swap():
    """A 256 MiB swap file on the host for this module's tests."""
    if os.geteuid() != 0:
        pytest.skip("swapon needs root")
    memsw = Path("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
    v2 = Path("/sys/fs/cgroup/cgroup.controllers")
    if not memsw.exists() and not v2.exists():
        pytest.skip("the kernel does not account swap per cgroup (swapaccount=0)")
    path = Path("/var/tmp") / f"vps-test-{os.getpid()}.swap"
    try:
        subprocess.run(["fallocate", "-l", "256M", str(path)], check=True,
                       capture_output=True)
        path.chmod(0o600)
        subprocess.run(["mkswap", str(path)], check=True, capture_output=True)
        r = subprocess.run(["swapon", str(path)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"swapon is not permitted here: {r.stderr.strip()}")
        yield path
        subprocess.run(["swapoff", str(path)], check=True, capture_output=True, timeout=120)
    finally:
        path.unlink(missing_ok=True)


def cg_int(ct, leaf):
    return int((ct.cgroup("memory") / leaf).read_text())


def test_vswap_holds_more_than_ram(ctm, host_swap):
    ct = ctm(memory="64M", swap="64M")
    ct.create()
    ct.start()
    r = ct.exec_r(*HOG, timeout=180)
    assert r.returncode == 0, r
    if (ct.cgroup("memory") / "memory.memsw.limit_in_bytes").exists():
        # v1: RAM held at 64 MiB, RAM + swap charged past it, within 128 MiB
        assert cg_int(ct, "memory.memsw.limit_in_bytes") == 128 * MIB
        assert cg_int(ct, "memory.max_usage_in_bytes") <= 64 * MIB
        assert 100 * MIB <= cg_int(ct, "memory.memsw.max_usage_in_bytes") <= 128 * MIB
    else:
        # v2: swap.max is the swap part alone
        assert cg_int(ct, "memory.swap.max") == 64 * MIB
    assert ct.state()["state"] == "running"


def test_no_vswap_is_oom_killed_at_ram(ctm, host_swap):
    ct = ctm(memory="64M", swap="0")
    ct.create()
    ct.start()
    r = ct.exec_r("sh", "-c", " ".join(HOG) + "; echo status=$?", timeout=180)
    assert "status=137" in r.stdout, r
    if (ct.cgroup("memory") / "memory.memsw.max_usage_in_bytes").exists():
        assert cg_int(ct, "memory.memsw.max_usage_in_bytes") <= 64 * MIB
    assert ct.state()["state"] == "running"
