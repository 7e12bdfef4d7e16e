# SPDX-License-Identifier: GPL-2.0-or-later
"""The limits this host enforces (issue 14; docs/cgroups.md "What the host
enforces", docs/policies.md "Limits the host enforces"). Kernels differ: the
one these tests were written on has no BFQ scheduler, so no cgroup IO weight.

- `vps-ct features` says, per limit, whether a container's cgroup enforces
  it; the tests find the same answer on their own, in a cgroup they make
  (and from the block devices' scheduler lists for the IO weight).
- vps-ctm's limits are read back from the container's cgroup, at start and
  after a live change: memory, swap, CPU quota and weight, pids, IO
  bandwidth and IOPS, and the IO weight where the host has one. Where it has
  none, asking vps-ct for one fails with words that say why.
- vpsd's host report lists the same; a create or set asking for a limit the
  host cannot enforce is refused naming it (409 `unenforceable`), and the
  store is unchanged; under the `limits warn` policy it is accepted with a
  warning event and the VPS starts without it (never an EIO at start).

The nested host's cgroup v2 runs the same read-back in test_ctm_v2.py.

Run as root: /usr/bin/python3 -m pytest -q -p no:cacheprovider test_limits.py"""

import glob
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from framework.ct import BUILD, VPS_CT
from framework.vpsd import VPSD, Vpsd

MIB = 1 << 20
LIMITS = ("memory", "swap", "cpu_weight", "cpu_quota", "pids", "io_weight", "io_bps",
          "io_iops")
VPS = BUILD / "src" / "cli" / "vps"


def features():
    """`vps-ct features` as {limit: (enforced, why)} and the cgroup layout."""
    r = subprocess.run([str(VPS_CT), "features"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r
    doc = json.loads(r.stdout)
    assert doc["ociVersionMax"] and "pid" in doc["linux"]["namespaces"], doc
    ann = doc["annotations"]
    out = {}
    for name in LIMITS:
        v = ann[f"run.vps.resource.{name}"]
        assert v == "enforced" or v.startswith("not enforced: "), (name, v)
        out[name] = (v == "enforced", v[len("not enforced: "):] if v != "enforced" else "")
    return out, ann["run.vps.cgroup.layout"]


# What each limit needs in a container's cgroup, in the test's own words.
V1_FILES = {
    "memory": ("memory", ["memory.limit_in_bytes"]),
    "swap": ("memory", ["memory.memsw.limit_in_bytes"]),
    "cpu_weight": ("cpu", ["cpu.shares"]),
    "cpu_quota": ("cpu", ["cpu.cfs_quota_us"]),
    "pids": ("pids", ["pids.max"]),
    "io_weight": ("blkio", ["blkio.weight", "blkio.bfq.weight"]),
    "io_bps": ("blkio", ["blkio.throttle.read_bps_device"]),
    "io_iops": ("blkio", ["blkio.throttle.read_iops_device"]),
}


def own_probe_v1():
    """Make a cgroup in each v1 hierarchy, see which files it has, remove it."""
    name = "vps-test-probe-" + uuid.uuid4().hex[:8]
    made, found = [], {}
    try:
        for limit, (ctrl, files) in V1_FILES.items():
            d = Path(f"/sys/fs/cgroup/{ctrl}/{name}")
            if not Path(f"/sys/fs/cgroup/{ctrl}").is_dir():
                found[limit] = False
                continue
            if not d.exists():
                d.mkdir()
                made.append(d)
            found[limit] = any((d / f).exists() for f in files)
    finally:
        for d in made:
            d.rmdir()
    return found


def bfq_available():
    """Whether any block device offers the BFQ scheduler."""
    for f in glob.glob("/sys/block/*/queue/scheduler"):
        if "bfq" in Path(f).read_text().replace("[", " ").replace("]", " ").split():
            return True
    return False


@pytest.fixture(scope="module")
def host_features():
    if os.geteuid() != 0:
        pytest.skip("cgroups can only be made as root")
    return features()


def test_features_agree_with_the_kernel(host_features):
    feats, layout = host_features
    if layout == "v2":
        pytest.skip("this host is pure cgroup2: the nested host's test covers v2")
    assert layout in ("v1", "hybrid"), layout
    mine = own_probe_v1()
    for name in LIMITS:
        assert feats[name][0] == mine[name], (name, feats[name], mine[name])
        if not feats[name][0]:
            assert "`" in feats[name][1], feats[name]  # names the file it missed
    # the IO weight is BFQ's: the two answers must agree
    assert feats["io_weight"][0] == bfq_available(), feats["io_weight"]
    if not feats["io_weight"][0]:
        assert "BFQ" in feats["io_weight"][1], feats["io_weight"]
    # the probe leaves nothing behind
    assert not glob.glob("/sys/fs/cgroup/*/vps-ct/.probe-*"), glob.glob("/sys/fs/cgroup/*/vps-ct/*")


# ---- vps-ctm: every limit read back from the container's cgroup ----

def throttle(f, dev):
    """A v1 throttle file's rate for device dev ("MAJ:MIN"), None if absent."""
    for line in f.read_text().splitlines():
        k, _, v = line.partition(" ")
        if k == dev:
            return int(v)
    return None


def loop_dev(ct):
    """MAJ:MIN of the container's disk (its loop device)."""
    r = subprocess.run(["losetup", "-j", str(ct.disk_img), "-O", "NAME", "-n"],
                       capture_output=True, text=True, check=True)
    st = os.stat(r.stdout.split()[0])
    return f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"


def test_ctm_limits_read_back(ctm, host_features):
    feats, layout = host_features
    if layout == "v2":
        pytest.skip("this host is pure cgroup2: test_ctm_v2.py reads v2 back")
    cfg = dict(memory="128M", swap="64M", cpus=0.5, cpu_weight=50, pids=77, disk="64M",
               io_read_bps="5M", io_write_bps="6M", io_read_iops=100, io_write_iops=200)
    if feats["io_weight"][0]:
        cfg["io_weight"] = 300
    ct = ctm(**cfg)
    ct.create()
    ct.start()
    mem, cpu, pids, bio = (ct.cgroup(c) for c in ("memory", "cpu", "pids", "blkio"))
    dev = loop_dev(ct)

    def read(d, f):
        return (d / f).read_text().strip()

    assert int(read(mem, "memory.limit_in_bytes")) == 128 * MIB
    assert int(read(mem, "memory.memsw.limit_in_bytes")) == (128 + 64) * MIB
    assert read(cpu, "cpu.cfs_quota_us") == "50000"
    assert read(cpu, "cpu.cfs_period_us") == "100000"
    assert read(cpu, "cpu.shares") == "512"  # weight 50 of 100 = 512 of 1024 shares
    assert read(pids, "pids.max") == "77"
    assert throttle(bio / "blkio.throttle.read_bps_device", dev) == 5 * MIB
    assert throttle(bio / "blkio.throttle.write_bps_device", dev) == 6 * MIB
    assert throttle(bio / "blkio.throttle.read_iops_device", dev) == 100
    assert throttle(bio / "blkio.throttle.write_iops_device", dev) == 200
    if feats["io_weight"][0]:
        wf = bio / "blkio.weight" if (bio / "blkio.weight").exists() else bio / "blkio.bfq.weight"
        assert read(bio, wf.name).split()[-1] == "300"

    # live: each moves, and reads back as set
    r = ct.ctl({"cmd": "set", "memory": "200M", "swap": "32M", "cpus": 1, "cpu_weight": 200,
                "pids": 99, "io_write_bps": "7M", "io_read_iops": 150})
    assert r == {"ok": True, "live": True}, r
    assert int(read(mem, "memory.limit_in_bytes")) == 200 * MIB
    assert int(read(mem, "memory.memsw.limit_in_bytes")) == (200 + 32) * MIB
    assert read(cpu, "cpu.cfs_quota_us") == "100000"
    assert read(cpu, "cpu.shares") == "2048"
    assert read(pids, "pids.max") == "99"
    assert throttle(bio / "blkio.throttle.write_bps_device", dev) == 7 * MIB
    assert throttle(bio / "blkio.throttle.read_iops_device", dev) == 150
    assert throttle(bio / "blkio.throttle.read_bps_device", dev) == 5 * MIB  # kept


def test_ctm_io_weight_without_bfq(ctm, host_features):
    """vps-ct refuses a weight it cannot write, as runc does, with words
    that say why; the monitor reports it and leaves nothing behind (the
    fixture checks the host after the test)."""
    feats, _ = host_features
    if feats["io_weight"][0]:
        pytest.skip("this kernel has an IO weight: test_ctm_limits_read_back reads it back")
    ct = ctm(io_weight=300)
    ct.create()
    with pytest.raises(AssertionError):
        ct.start(timeout=30)
    ct.wait(timeout=30)
    log = ct.output()
    assert "blkio weight `300`" in log and "BFQ" in log, log


def host_swaps():
    """The active swap areas of the host (/proc/swaps without its header)."""
    return Path("/proc/swaps").read_text().splitlines()[1:]


def test_ctm_swap_with_and_without_host_swap(ctm, host_features, tmp_path):
    """vswap as it behaves: 64M of RAM and 64M of swap. Without host swap a
    96M hog is killed (the swap limit holds nothing to swap to); with host
    swap the same hog lives, part of it swapped out (memory+swap use above
    the RAM limit), and a 160M one, past memory + swap, is killed."""
    feats, layout = host_features
    if layout == "v2" or not feats["swap"][0]:
        pytest.skip(f"no v1 swap accounting here ({layout}, {feats['swap']})")
    if host_swaps():
        pytest.skip(f"the host has swap already ({host_swaps()}): no 'without' case")
    ct = ctm(memory="64M", swap="64M")
    ct.create()
    ct.start()
    mem = ct.cgroup("memory")
    assert int((mem / "memory.memsw.limit_in_bytes").read_text()) == 128 * MIB

    def hog(mib):
        return ct.exec_r("dd", "if=/dev/zero", "of=/dev/null", f"bs={mib}M", "count=1",
                         timeout=120)

    r = hog(96)
    assert r.returncode == 128 + 9, r  # the OOM killer, inside the container
    assert ct.exec("echo", "alive") == "alive\n"

    swap = Path("/var/tmp") / f"vps-test-swap-{uuid.uuid4().hex[:8]}"
    try:
        with open(swap, "wb") as f:  # written, not sparse: swapon refuses holes
            for _ in range(256):
                f.write(b"\0" * MIB)
        swap.chmod(0o600)
        subprocess.run(["mkswap", str(swap)], check=True, capture_output=True)
        subprocess.run(["swapon", str(swap)], check=True, capture_output=True)
        (mem / "memory.memsw.max_usage_in_bytes").write_text("0")
        r = hog(96)
        assert r.returncode == 0, r
        peak = int((mem / "memory.memsw.max_usage_in_bytes").read_text())
        assert peak > 64 * MIB + 16 * MIB, peak  # memory + swap: swap was used
        assert int((mem / "memory.max_usage_in_bytes").read_text()) <= 64 * MIB
        r = hog(160)
        assert r.returncode == 128 + 9, r
    finally:
        subprocess.run(["swapoff", str(swap)], capture_output=True)
        swap.unlink(missing_ok=True)
    assert host_swaps() == []


# ---- vpsd: the host report, refusals, the warn policy ----

@pytest.fixture
def vpsd():
    d = Vpsd().start()
    yield d
    d.cleanup()


def ct_body(name, **kw):
    body = {"name": name, "kind": "ct", "template": "busybox", "ram": "128M", "disk": "64M",
            "cpus": 0.5}
    body.update(kw)
    return body


def test_host_report_lists_limits(vpsd, host_features):
    feats, layout = host_features
    rep = vpsd.api("GET", "/host")["limits"]
    assert rep["ct"]["cgroup"] == layout
    for name in LIMITS:
        got = rep["ct"]["limits"][name]
        assert got["enforced"] == feats[name][0], (name, got)
        if not got["enforced"]:
            assert got["why"] == feats[name][1], (name, got)
    assert rep["vm"]["limits"]["io_weight"]["enforced"] is False
    assert all(rep["vm"]["limits"][k]["enforced"] for k in ("memory", "swap", "cpus"))
    out = subprocess.run([str(VPS), "--socket", str(vpsd.sock), "host"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out
    assert "limits this host enforces:" in out.stdout, out.stdout
    assert "not io_weight: a VM's disk IO" in out.stdout, out.stdout
    for name in LIMITS:
        if not feats[name][0]:
            assert f"not {name}: {feats[name][1]}" in out.stdout, out.stdout


def test_vm_io_weight_refused(vpsd):
    """No engine gives a VM an IO weight: refused on every host, before the
    VM's other settings are looked at, and nothing is made."""
    before = vpsd.api("GET", "/vps")
    status, j = vpsd.request("POST", "/api/v1/vps",
                             {"name": "v1", "kind": "vm", "engine": "qemu", "ram": "256M",
                              "disk": "1G", "cpus": 1, "io_weight": 500,
                              "template": "debian-12"})
    assert status == 409, (status, j)
    assert j["error"]["code"] == "unenforceable", j
    assert j["error"]["message"].startswith("`io_weight`: this host cannot enforce io_weight "
                                            "for a vm: "), j
    assert vpsd.api("GET", "/vps") == before


def test_ct_io_weight_refused_or_enforced(vpsd, host_features):
    feats, _ = host_features
    made = vpsd.api("POST", "/vps", ct_body("c1"), expect=201)
    assert made["io_weight"] == 0
    if feats["io_weight"][0]:
        vpsd.api("PATCH", "/vps/c1", {"io_weight": 500})
        vpsd.api("POST", "/vps/c1/start", {})
        blkio = Path("/sys/fs/cgroup/blkio/vps-ct/c1")
        f = blkio / "blkio.weight" if (blkio / "blkio.weight").exists() else \
            blkio / "blkio.bfq.weight"
        assert f.read_text().split()[-1] == "500"
        return
    status, j = vpsd.request("POST", "/api/v1/vps", ct_body("c2", io_weight=500))
    assert status == 409 and j["error"]["code"] == "unenforceable", (status, j)
    assert "`io_weight`" in j["error"]["message"] and "BFQ" in j["error"]["message"], j
    assert [v["name"] for v in vpsd.api("GET", "/vps")] == ["c1"]
    status, j = vpsd.request("PATCH", "/api/v1/vps/c1", {"io_weight": 500})
    assert status == 409 and j["error"]["code"] == "unenforceable", (status, j)
    assert vpsd.api("GET", "/vps/c1")["io_weight"] == 0
    # a change that does not touch the weight still goes through
    vpsd.api("PATCH", "/vps/c1", {"ram": "192M"})
    assert vpsd.api("GET", "/vps/c1")["ram"] == 192 * MIB


def test_warn_policy(vpsd, host_features):
    feats, _ = host_features
    assert vpsd.api("GET", "/policies")["limits"] == {"mode": "refuse"}
    for bad, field in (({"mode": "maybe"}, "`limits.mode`"), ({"mode": "warn", "ratio": 2},
                                                              "`limits.ratio`"), ("warn",
                                                                                  "`limits`")):
        status, j = vpsd.request("PUT", "/api/v1/policies", {"limits": bad})
        assert status == 400 and j["error"]["message"].startswith(field), (bad, status, j)
    assert vpsd.api("GET", "/policies")["limits"] == {"mode": "refuse"}
    assert vpsd.api("PUT", "/policies", {"limits": {"mode": "warn"}})["limits"] == \
        {"mode": "warn"}
    if feats["io_weight"][0]:
        pytest.skip("this host enforces an IO weight: nothing to warn about for containers")
    made = vpsd.api("POST", "/vps", ct_body("w1", io_weight=500), expect=201)
    assert made["io_weight"] == 500
    vpsd.api("POST", "/vps/w1/start", {})
    assert vpsd.api("GET", "/vps/w1")["state"] == "running"
    events = [e for e in vpsd.api("GET", "/events?vps=w1") if e["kind"] == "warning"]
    msgs = [e["message"] for e in events]
    assert any(m.startswith("`io_weight` accepted but not enforced on this host: ")
               for m in msgs), msgs
    assert any(m.startswith("started without `io_weight`: ") for m in msgs), msgs
    # the container's cgroup has no weight file to hold it; the rest is there
    assert (Path("/sys/fs/cgroup/memory/vps-ct/w1/memory.limit_in_bytes").read_text().strip()
            == str(128 * MIB))
