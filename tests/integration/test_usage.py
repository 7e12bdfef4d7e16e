# SPDX-License-Identifier: GPL-2.0-or-later
"""Usage history (docs/usage.md) through a private vpsd sampling every
second and keeping 5 samples per VPS: busybox containers made to burn CPU,
fill a tmpfs, write to their disk and move bytes between them over a
network, each seen in GET /vps/NAME/usage; the bound on the samples kept,
no samples for a stopped VPS, none left of a destroyed one."""

import os
import shutil
import sqlite3
import threading
import time
import uuid

import pytest

from framework.vpsd import VPSD, Vpsd

pytestmark = [
    pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (containers, bridges)"),
]

MIB = 1 << 20
KEEP = 5


@pytest.fixture
def vpsd():
    d = Vpsd().start(extra=("--sample-every", "1", "--usage-keep", str(KEEP)))
    yield d
    d.cleanup()


def unique(prefix):
    # containers' cgroups (/vps-ct/NAME) are host-wide: no clash with another test's
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def ct(d, name, **kw):
    body = {"name": name, "kind": "ct", "template": "busybox", "ram": "256M", "disk": "256M",
            "start": True}
    body.update(kw)
    return d.api("POST", "/vps", body, expect=201)


def ex(d, name, script):
    r = d.api("POST", f"/vps/{name}/exec", {"args": ["sh", "-c", script]})
    assert r["status"] == 0, r
    return r["stdout"]


def usage(d, name, since=0):
    return d.api("GET", f"/vps/{name}/usage?since={since}")


def wait_sample(d, name, pred, after, timeout=30):
    """The first sample newer than `after` (Unix time) for which pred holds."""
    deadline, seen = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        for s in usage(d, name, after)["samples"]:
            if pred(s):
                return s
            seen.append(s)
            after = s["time"]
        time.sleep(0.2)
    raise AssertionError(f"no sample of {name} matched in {timeout} s: {seen[-8:]}")


def rows_in_store(d, name):
    db = sqlite3.connect(f"file:{d.data / 'vps.db'}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute("SELECT count(*) FROM usage WHERE vps = ?", (name,)).fetchone()[0]
    finally:
        db.close()


def test_cpu_memory_disk_and_bounds(vpsd):
    name = unique("us")
    ct(vpsd, name)
    first = wait_sample(vpsd, name, lambda s: True, 0, timeout=15)
    assert set(first) == {"time", "cpu", "mem", "disk", "rx", "tx"}, first
    assert usage(vpsd, name)["interval"] == 1
    # no network: no traffic; the busybox root takes a few MiB of its disk image
    assert first["rx"] == 0 and first["tx"] == 0, first
    assert 1 * MIB < first["disk"] < 64 * MIB, first
    assert 0 < first["mem"] < 64 * MIB, first

    # CPU: one busy loop is one core, and falls back once it is killed
    idle = wait_sample(vpsd, name, lambda s: s["cpu"] < 0.3, int(time.time()))
    pid = ex(vpsd, name, "sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 & echo $!")
    busy = wait_sample(vpsd, name, lambda s: s["cpu"] > 0.5, int(time.time()))
    assert busy["cpu"] < 1.3, busy  # one loop: at most one core (and no unit mixed up)
    ex(vpsd, name, f"kill -9 {pid.strip()}")
    # a sample whose whole interval began after the kill
    calm = wait_sample(vpsd, name, lambda s: s["cpu"] < 0.3, int(time.time()) + 1)
    assert idle["cpu"] < 0.3 and calm["cpu"] < 0.3

    # memory: 64 MiB in a tmpfs is memory in use (not cache it could drop), and gone with it
    base = wait_sample(vpsd, name, lambda s: True, int(time.time()))["mem"]
    ex(vpsd, name, "dd if=/dev/zero of=/dev/shm/fill bs=1M count=64 2>/dev/null")
    full = wait_sample(vpsd, name, lambda s: s["mem"] > base + 48 * MIB, int(time.time()) - 1)
    assert full["mem"] <= 256 * MIB, full  # the container's limit
    ex(vpsd, name, "rm /dev/shm/fill")
    wait_sample(vpsd, name, lambda s: s["mem"] < base + 16 * MIB, int(time.time()))

    # disk: 50 MiB written inside are 50 MiB more of its image allocated on the host
    base = wait_sample(vpsd, name, lambda s: True, int(time.time()))["disk"]
    ex(vpsd, name, "dd if=/dev/urandom of=/root/big bs=1M count=50 2>/dev/null && sync")
    grown = wait_sample(vpsd, name, lambda s: s["disk"] > base + 45 * MIB, int(time.time()) - 1)
    assert grown["disk"] < base + 80 * MIB, grown
    image = vpsd.data / "vps" / name / "ct" / "disk.img"
    assert abs(grown["disk"] - image.stat().st_blocks * 512) < 16 * MIB, grown

    # bounded: well over KEEP samples were taken, KEEP are kept, one a second
    samples = usage(vpsd, name)["samples"]
    times = [s["time"] for s in samples]
    assert len(samples) == KEEP and times == sorted(set(times)), samples
    assert times[-1] - times[0] <= 2 * KEEP, times
    assert rows_in_store(vpsd, name) <= KEEP
    assert [s["time"] for s in usage(vpsd, name, times[-2])["samples"]] == times[-1:]

    # history (docs/usage.md "History"): minute averages of every sample taken, beyond the
    # raw KEEP (the averaging itself: tests/unit/test_host_store.c, history_consolidates);
    # a span that is none is a 400
    hist = vpsd.api("GET", f"/vps/{name}/usage?span=day")
    assert hist["span"] == "day" and hist["interval"] == 60, hist
    mins = [h["time"] for h in hist["samples"]]
    assert mins == sorted(set(mins)) and all(t % 60 == 0 for t in mins), mins
    assert mins[-1] == times[-1] - times[-1] % 60 and mins[0] <= first["time"], (mins, times)
    assert any(h["cpu"] > 0.1 for h in hist["samples"]), hist  # the busy loop's minute
    # the written 50 MiB are in the last minute's average, diluted by that minute's samples
    # from before the write: above the disk as it was, by how much depends on the minute
    assert max(h["disk"] for h in hist["samples"]) > base, hist
    month = vpsd.api("GET", f"/vps/{name}/usage?span=month")["samples"]
    assert 1 <= len(month) <= 2 and month[-1]["time"] % 1800 == 0, month
    year = vpsd.api("GET", f"/vps/{name}/usage?span=year")
    assert year["span"] == "year" and year["interval"] == 86400, year
    assert 1 <= len(year["samples"]) <= 2 and year["samples"][-1]["time"] % 86400 == 0, year
    status, j = vpsd.request("GET", f"/api/v1/vps/{name}/usage?span=week")
    assert status == 400 and "`span`: day, month or year" in j["error"]["message"], j

    # stopped: the history stays, nothing is added
    vpsd.api("POST", f"/vps/{name}/stop", {"timeout": 10})
    last = usage(vpsd, name)["samples"][-1]["time"]
    time.sleep(3)  # three intervals: proving an absence takes waiting
    after = usage(vpsd, name)["samples"]
    assert after[-1]["time"] == last and len(after) == KEEP, after

    # destroyed: its samples go with its row
    vpsd.api("DELETE", f"/vps/{name}")
    status, j = vpsd.request("GET", f"/api/v1/vps/{name}/usage")
    assert status == 404, (status, j)
    assert rows_in_store(vpsd, name) == 0


@pytest.fixture
def net(vpsd):
    if not shutil.which("nft", path="/usr/sbin:/sbin"):
        pytest.skip("nft is not installed (Debian package nftables)")
    name = "u" + uuid.uuid4().hex[:6]
    n = vpsd.api("POST", "/networks", {"name": name, "ipv4": "10.231.19.1/24",
                                       "ipv6": "fd77:231:19::1/64", "nat": False}, expect=201)
    yield n
    for v in vpsd.api("GET", "/vps"):
        vpsd.request("DELETE", f"/api/v1/vps/{v['name']}")
    vpsd.request("DELETE", f"/api/v1/networks/{name}")


def test_network_rates(vpsd, net):
    """A downloads 3 x 30 MiB from B's httpd: A receives, B sends (the host
    devices count the other way round)."""
    a, b = unique("una"), unique("unb")
    ct(vpsd, a, network=net["name"], ram="128M", disk="64M")
    bv = ct(vpsd, b, network=net["name"], ram="192M", disk="64M")
    ex(vpsd, b, "mkdir -p /dev/shm/www && "
                "dd if=/dev/zero of=/dev/shm/www/big bs=1M count=30 2>/dev/null && "
                "httpd -p 8080 -h /dev/shm/www")
    for n in (a, b):
        wait_sample(vpsd, n, lambda s: True, 0, timeout=15)

    # samples are kept for 5 s only: collect them while the transfer runs
    got, stop = {a: {}, b: {}}, threading.Event()

    def collect():
        while not stop.is_set():
            for n in (a, b):
                for s in usage(vpsd, n, start - 1)["samples"]:
                    got[n][s["time"]] = s
            stop.wait(0.2)

    start = int(time.time())
    collector = threading.Thread(target=collect)
    collector.start()
    try:
        ex(vpsd, a, f"for i in 1 2 3; do wget -q -O /dev/null http://{bv['ipv4']}:8080/big "
                    "|| exit 1; done")
        end = int(time.time())
        # until a sample whose interval began after the transfer
        deadline = time.monotonic() + 20
        while min(max(list(got[n]), default=0) for n in (a, b)) <= end + 1:
            assert time.monotonic() < deadline, got
            time.sleep(0.2)
    finally:
        stop.set()
        collector.join()

    def total(n, k):
        return sum(s[k] for s in got[n].values())  # bytes/s over ~1 s intervals

    sent = 90 * MIB
    assert sent * 0.8 < total(a, "rx") < sent * 1.3, got[a]
    assert sent * 0.8 < total(b, "tx") < sent * 1.3, got[b]
    # the other way only ACKs went
    assert total(a, "tx") < total(a, "rx") / 10, got[a]
    assert total(b, "rx") < total(b, "tx") / 10, got[b]
