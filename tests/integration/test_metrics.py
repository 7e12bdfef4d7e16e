# SPDX-License-Identifier: GPL-2.0-or-later
"""GET /api/v1/metrics (docs/metrics.md) through a private vpsd sampling
every second: the whole answer parsed by Prometheus's own Python parser
(python3-prometheus-client), its figures held against the host (a
container's memory and CPU time against its cgroup, a network transfer
against the bytes moved, the plan against the row), the API's request
counters and latency histogram against the requests made, the operations
against one asynchronous stop; who may read it (an administrator, the
metrics token) and who may not (nobody, a customer, the metrics token
anywhere else), tried as an attacker would; and label values that would
need escaping, which the names' rules keep out."""

import os
import shutil
import stat
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from framework.openapi import start_vpsd, tcp, unix
from framework.vpsd import VPSD

pytestmark = [
    pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (containers, bridges)"),
]

MIB = 1 << 20
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METRICS_TOKEN = "m" * 8 + uuid.uuid4().hex + uuid.uuid4().hex  # 72 characters
PASSWORDS = {"mallory": "mallory's long secret", "dora": "dora's long secret"}


@pytest.fixture(scope="module")
def env():
    keep = Path(tempfile.mkdtemp(prefix="vps-metrics-", dir="/var/tmp"))
    token_file = keep / "metrics.token"
    token_file.write_text(METRICS_TOKEN + "\n")
    token_file.chmod(0o600)
    d = start_vpsd(extra=("--sample-every", "1", "--metrics-token-file", str(token_file)))
    admin = unix(d)
    admin.api("POST", "/users", {"name": "mallory", "password": PASSWORDS["mallory"],
                                 "role": "customer"}, expect=201)
    admin.api("POST", "/users", {"name": "dora", "password": PASSWORDS["dora"],
                                 "role": "admin"}, expect=201)
    yield d
    d.cleanup()
    shutil.rmtree(keep, ignore_errors=True)


def unique(prefix):
    # containers' cgroups (/vps-ct/NAME) are host-wide: no clash with another test's
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def token_of(d, user):
    return unix(d).api("POST", "/tokens", {"name": unique("t"), "expires_in": 600,
                                           "user": user}, expect=201)["token"]


def scrape(client, **kw):
    """{family name: family} of one scrape, checked to be well formed."""
    r = client.request("GET", "/metrics", **kw)
    assert r.status == 200, r
    assert r.headers["Content-Type"] == CONTENT_TYPE, r.headers
    families = list(text_string_to_metric_families(r.text))
    names = [f.name for f in families]
    # every sample under its family's HELP and TYPE (the lax parser makes any
    # other an untyped family of its own), and each family once: grouped
    assert not [f for f in families if f.type == "untyped"], r.text[:2000]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    return {f.name: f for f in families}


def samples(fams, family, sample=None, **labels):
    """The samples of `family` (named `sample`, by default the family's) whose labels
    include `labels`."""
    f = fams[family]
    want = sample or (family + "_total" if f.type == "counter" else family)
    return [s for s in f.samples
            if s.name == want and all(s.labels.get(k) == v for k, v in labels.items())]


def one(fams, family, sample=None, **labels):
    got = samples(fams, family, sample, **labels)
    assert len(got) == 1, (family, labels, got)
    return got[0].value


def ct(d, name, **kw):
    body = {"name": name, "kind": "ct", "template": "busybox", "ram": "256M", "disk": "256M",
            "start": True}
    body.update(kw)
    return unix(d).api("POST", "/vps", body, expect=201)


def ex(d, name, script):
    r = unix(d).api("POST", f"/vps/{name}/exec", {"args": ["sh", "-c", script]})
    assert r["status"] == 0, r
    return r["stdout"]


def wait_metric(client, family, pred, timeout=30, **labels):
    """The first scrape in which `family`{labels} has one sample and pred holds for it."""
    deadline, seen = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        fams = scrape(client)
        got = samples(fams, family, **labels)
        if len(got) == 1 and pred(got[0].value):
            return fams
        seen = got
        time.sleep(0.2)
    raise AssertionError(f"{family}{labels}: {seen} in {timeout} s")


# --- the host's own view, as the test reads it -------------------------------------------

def cgroup_mounts():
    """{controller or "unified": mount point} of the hierarchies' roots."""
    out = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        pre, post = line.split(" - ")
        root, mnt = pre.split()[3:5]
        fstype, _, opts = post.split()[:3]
        if root != "/":
            continue
        if fstype == "cgroup2":
            out.setdefault("unified", mnt)
        elif fstype == "cgroup":
            for c in ("memory", "cpuacct"):
                if c in opts.split(","):
                    out.setdefault(c, mnt)
    return out


def cgroup_figures(name):
    """(memory in use less inactive file cache, CPU seconds) of the container's cgroup."""
    m = cgroup_mounts()
    if "memory" in m:
        d = Path(m["memory"]) / "vps-ct" / name
        usage = int((d / "memory.usage_in_bytes").read_text())
        key = "total_inactive_file"
    else:
        d = Path(m["unified"]) / "vps-ct" / name
        usage = int((d / "memory.current").read_text())
        key = "inactive_file"
    inactive = dict(line.split() for line in (d / "memory.stat").read_text().splitlines())[key]
    if "cpuacct" in m:
        cpu = int((Path(m["cpuacct"]) / "vps-ct" / name / "cpuacct.usage").read_text()) / 1e9
    else:
        st = dict(line.split() for line in
                  (Path(m["unified"]) / "vps-ct" / name / "cpu.stat").read_text().splitlines())
        cpu = int(st["usage_usec"]) / 1e6
    return usage - int(inactive), cpu


# --- the figures ----------------------------------------------------------------------------

def test_container_figures_match_the_host(env):
    """A container's memory and CPU time as its cgroup says, its plan as its row, the
    host's counts as the rows are; an asynchronous stop counted as an operation."""
    admin = unix(env)
    name = unique("mx")
    v = ct(env, name)
    labels = {"name": name, "kind": "ct", "owner": v["owner"]}
    fams = wait_metric(admin, "vps_memory_bytes", lambda x: x > 0, **labels)
    assert one(fams, "vps_state", **labels, state="running") == 1
    assert one(fams, "vps_memory_limit_bytes", **labels) == 256 * MIB
    assert one(fams, "vps_disk_limit_bytes", **labels) == 256 * MIB
    assert one(fams, "vps_suspended", **labels) == 0
    rows = admin.api("GET", "/vps")
    running = sum(r["state"] == "running" and r["kind"] == "ct" for r in rows)
    assert one(fams, "vps_host_vps", kind="ct", state="running") == running
    assert sum(s.value for s in samples(fams, "vps_host_vps")) == len(rows)
    assert one(fams, "vps_host_memory_allocated_bytes") == sum(r["ram"] for r in rows)
    meminfo = dict(line.split(":") for line in Path("/proc/meminfo").read_text().splitlines())
    assert one(fams, "vps_host_memory_total_bytes") == int(meminfo["MemTotal"].split()[0]) * 1024
    assert one(fams, "vps_host_cpus") == os.cpu_count()
    assert one(fams, "vpsd_usage_sample_interval_seconds") == 1

    # memory: 64 MiB put in the container's tmpfs shows, and is the cgroup's figure
    ex(env, name, "dd if=/dev/zero of=/dev/shm/fill bs=1M count=64 2>/dev/null")
    fams = wait_metric(admin, "vps_memory_bytes", lambda x: x > 64 * MIB, **labels)
    taken = one(fams, "vps_usage_sample_timestamp_seconds", **labels)
    assert abs(taken - time.time()) < 5, taken
    mem = one(fams, "vps_memory_bytes", **labels)
    host_mem, _ = cgroup_figures(name)
    # read a second apart at most, by the same rule (usage less inactive file cache)
    assert abs(mem - host_mem) < 4 * MIB + 0.05 * host_mem, (mem, host_mem)

    # CPU: a busy loop's second shows, and the counter is never past the cgroup's own
    before = one(scrape(admin), "vps_cpu_seconds", **labels)
    ex(env, name, "(while :; do :; done) >/dev/null 2>&1 & echo $! >/run/burn")
    fams = wait_metric(admin, "vps_cpu_seconds", lambda x: x > before + 1, timeout=60,
                       **labels)
    cpu = one(fams, "vps_cpu_seconds", **labels)
    _, host_cpu = cgroup_figures(name)
    ex(env, name, "kill $(cat /run/burn)")
    assert before + 1 < cpu <= host_cpu + 1e-6, (before, cpu, host_cpu)
    assert host_cpu - cpu < 3, (cpu, host_cpu)  # the sample is a second old at most
    # disk: what its files take on the host, a few MiB of the busybox image
    disk = one(fams, "vps_disk_bytes", **labels)
    assert MIB < disk <= 256 * MIB + MIB, disk

    # an operation: started, done, none running
    old = scrape(admin)
    started = samples(old, "vpsd_operations_started", action="stop")
    done = samples(old, "vpsd_operations_finished", action="stop", result="done")
    r = admin.request("POST", f"/vps/{name}/stop?async=1", {"force": True, "timeout": 1})
    assert r.status == 202, r
    deadline = time.monotonic() + 60
    while admin.api("GET", r.headers["Location"])["state"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    fams = scrape(admin)
    assert one(fams, "vpsd_operations_started", action="stop") == \
        (started[0].value if started else 0) + 1
    assert one(fams, "vpsd_operations_finished", action="stop", result="done") == \
        (done[0].value if done else 0) + 1
    assert one(fams, "vpsd_operations_running") == 0
    # stopped: its state says so, and its usage series are gone
    assert one(fams, "vps_state", **labels, state="stopped") == 1
    assert not samples(fams, "vps_state", **labels, state="running")
    wait_metric(admin, "vps_host_vps", lambda x: x == running - 1, kind="ct", state="running")
    fams = wait_metric(admin, "vps_state", lambda x: x == 1, **labels, state="stopped")
    for _ in range(30):
        if not samples(fams, "vps_memory_bytes", **labels):
            break
        time.sleep(0.2)
        fams = scrape(admin)
    assert not samples(fams, "vps_memory_bytes", **labels)
    admin.api("DELETE", f"/vps/{name}")


@pytest.fixture
def net(env):
    if not shutil.which("nft", path="/usr/sbin:/sbin"):
        pytest.skip("nft is not installed (Debian package nftables)")
    name = "m" + uuid.uuid4().hex[:6]
    n = unix(env).api("POST", "/networks", {"name": name, "ipv4": "10.231.29.1/24",
                                            "nat": False}, expect=201)
    made = []
    yield n, made
    for v in made:
        env.request("DELETE", f"/api/v1/vps/{v}")
    env.request("DELETE", f"/api/v1/networks/{name}")


def test_network_counters_match_the_bytes_moved(env, net):
    """A fetches 3 x 10 MiB from B: A's receive and B's transmit counters grow by that."""
    n, made = net
    admin = unix(env)
    a, b = unique("mna"), unique("mnb")
    made += [a, b]
    ct(env, a, network=n["name"], ram="128M", disk="64M")
    bv = ct(env, b, network=n["name"], ram="192M", disk="64M")
    ex(env, b, "mkdir -p /dev/shm/www && dd if=/dev/zero of=/dev/shm/www/big bs=1M count=10 "
               "2>/dev/null && httpd -p 8080 -h /dev/shm/www")
    la = {"name": a, "kind": "ct"}
    lb = {"name": b, "kind": "ct"}
    wait_metric(admin, "vps_network_transmit_bytes", lambda x: True, **lb)
    fams = wait_metric(admin, "vps_network_receive_bytes", lambda x: True, **la)
    t0 = one(fams, "vps_usage_sample_timestamp_seconds", **la)
    rx0 = one(fams, "vps_network_receive_bytes", **la)
    tx0 = one(fams, "vps_network_transmit_bytes", **lb)
    ex(env, a, f"for i in 1 2 3; do wget -q -O /dev/null http://{bv['ipv4']}:8080/big || exit 1; "
               "done")
    # a reading taken after the transfer
    after = time.time() + 1
    fams = wait_metric(admin, "vps_usage_sample_timestamp_seconds", lambda x: x > after, **la)
    wait_metric(admin, "vps_usage_sample_timestamp_seconds", lambda x: x > after, **lb)
    fams = scrape(admin)
    assert one(fams, "vps_usage_sample_timestamp_seconds", **la) > t0
    moved = 30 * MIB
    rx = one(fams, "vps_network_receive_bytes", **la) - rx0
    tx = one(fams, "vps_network_transmit_bytes", **lb) - tx0
    # the payload plus headers and ACKs, never less
    assert moved <= rx < moved * 1.1, rx
    assert moved <= tx < moved * 1.1, tx
    # the month's traffic (nftables counters, the store's figures) saw it too
    fams = wait_metric(admin, "vps_traffic_month_receive_bytes", lambda x: x >= moved, **la)
    month_rx = one(fams, "vps_traffic_month_receive_bytes", **la)
    # since it was made, as its device's counter since it started (less Ethernet headers)
    assert month_rx <= one(fams, "vps_network_receive_bytes", **la) * 1.05 + 65536, month_rx
    assert one(scrape(admin), "vps_traffic_month_transmit_bytes", **lb) >= moved


def test_request_counters_and_histogram_count_exactly(env):
    """N requests made are N more in the counter of their method, route and status, and
    N more in the histogram's count; a method nobody knows is counted as `other`."""
    admin = unix(env)
    dora = tcp(env, token=token_of(env, "dora"))
    before = scrape(admin)

    def count(fams, route, status, method="GET"):
        got = samples(fams, "vpsd_api_requests", method=method, route=route, status=status)
        return got[0].value if got else 0

    def hist(fams, route, sample, method="GET", **labels):
        got = samples(fams, "vpsd_api_request_duration_seconds",
                      "vpsd_api_request_duration_seconds" + sample, method=method, route=route,
                      **labels)
        return got[0].value if got else 0

    for _ in range(7):
        dora.api("GET", "/plans")
    for _ in range(3):
        dora.api("GET", "/vps/zz-no-such-vps", expect=404)
    r = dora.request("BREW", "/plans", validate=False)
    assert r.status == 405, r
    after = scrape(admin)
    assert count(after, "/plans", "200") - count(before, "/plans", "200") == 7
    assert count(after, "/vps/{name}", "404") - count(before, "/vps/{name}", "404") == 3
    assert count(after, "/plans", "405", "other") - count(before, "/plans", "405", "other") == 0
    assert count(after, "unmatched", "405", "other") - count(before, "unmatched", "405",
                                                              "other") == 1
    assert not [s for s in after["vpsd_api_requests"].samples if s.labels["method"] == "BREW"]
    assert hist(after, "/plans", "_count") - hist(before, "/plans", "_count") == 7
    assert hist(after, "/plans", "_sum") > hist(before, "/plans", "_sum")

    # each histogram: cumulative buckets, +Inf is its count, its count is its requests
    for s in samples(after, "vpsd_api_request_duration_seconds",
                     "vpsd_api_request_duration_seconds_count"):
        m, route = s.labels["method"], s.labels["route"]
        buckets = sorted(((float(b.labels["le"]), b.value) for b in samples(
            after, "vpsd_api_request_duration_seconds", "vpsd_api_request_duration_seconds_bucket",
            method=m, route=route)))
        assert buckets[-1] == (float("inf"), s.value), (m, route, buckets)
        assert [v for _, v in buckets] == sorted(v for _, v in buckets), (m, route, buckets)
        total = sum(c.value for c in samples(after, "vpsd_api_requests", method=m, route=route))
        assert total == s.value, (m, route, total, s.value)


# --- who may read them ------------------------------------------------------------------------

def test_who_may_read_them(env):
    """An administrator (unix socket, token, session) and the metrics token read them;
    nobody, a customer (token or session) and a wrong token do not, nor does the metrics
    token open anything else; the host is as it was."""
    admin = unix(env)
    secret = unique("secretvps")
    ct(env, secret, start=False, owner="dora")
    rows, users = admin.api("GET", "/vps"), admin.api("GET", "/users")

    scrape(admin)
    scrape(tcp(env, token=token_of(env, "dora")))
    session = tcp(env)
    session.login("dora", PASSWORDS["dora"])
    scrape(session)
    fams = scrape(tcp(env, token=METRICS_TOKEN))
    assert one(fams, "vps_state", name=secret, state="stopped") == 1

    mallory_token = token_of(env, "mallory")
    mallory = tcp(env)
    mallory.login("mallory", PASSWORDS["mallory"])
    for who, client, status in (
            ("nobody", tcp(env), 401),
            ("a customer's token", tcp(env, token=mallory_token), 403),
            ("a customer's session", mallory, 403),
            ("a wrong metrics token", tcp(env, token=METRICS_TOKEN[:-1] + "x"), 401),
            ("the metrics token, longer", tcp(env, token=METRICS_TOKEN + "x"), 401),
            ("a prefix of it", tcp(env, token=METRICS_TOKEN[:32]), 401)):
        r = client.request("GET", "/metrics")
        assert r.status == status, (who, r)
        assert secret not in r.text and "vps_state" not in r.text, (who, r.text)
    # the metrics token opens nothing else: as if no token were valid
    m = tcp(env, token=METRICS_TOKEN)
    for method, path, body in (("GET", "/vps", None), ("GET", f"/vps/{secret}", None),
                               ("GET", "/host", None), ("GET", "/users", None),
                               ("GET", "/me", None),
                               ("POST", "/vps", {"name": "mx-evil", "kind": "ct",
                                                 "template": "busybox"}),
                               ("POST", "/tokens", {"name": "evil", "expires_in": 600}),
                               ("DELETE", f"/vps/{secret}", None)):
        r = m.request(method, path, body)
        assert r.status == 401, (method, path, r)
        assert secret not in r.text, (method, path, r.text)
    # a customer gets no other's VPS names through any list either
    assert secret not in mallory.request("GET", "/vps").text
    assert admin.api("GET", "/vps") == rows and admin.api("GET", "/users") == users
    admin.api("DELETE", f"/vps/{secret}")


def test_metrics_token_file_checked(env):
    """vpsd will not start on a token file others may read, nor on a short token."""
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        f = Path(tmp) / "t"
        for text, mode, why in ((METRICS_TOKEN, 0o644, "only its owner"),
                                (METRICS_TOKEN, 0o640, "only its owner"),
                                ("short-token", 0o600, "expected one line"),
                                ("has a space" + "x" * 40, 0o600, "expected one line"),
                                (METRICS_TOKEN + "\nsecond line", 0o600, "expected one line")):
            f.write_text(text)
            f.chmod(mode)
            r = subprocess.run([str(VPSD), "--check", "--metrics-token-file", str(f)],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 2 and why in r.stderr, (text, oct(mode), r)
        f.write_text(METRICS_TOKEN + "\n")
        f.chmod(0o600)
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        r = subprocess.run([str(VPSD), "--check", "--metrics-token-file", str(f)],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r


def test_label_values_that_need_escaping_are_refused(env):
    """The labels are a VPS's name, its owner's and a policy's mode: each is held to a
    set of characters without backslash, double quote or newline, so none reaches
    the text (the escaping itself: tests/unit/test_host_metrics.c)."""
    admin = unix(env)
    for bad in ('a"b', "a\\b", "a\nb", 'x"} 1\nvps_host_cpus 999'):
        r = admin.request("POST", "/vps", {"name": bad, "kind": "ct", "template": "busybox"})
        assert r.status == 400 and "`name`" in r.message, (bad, r)
        r = admin.request("POST", "/users", {"name": bad, "password": "a long password",
                                             "role": "customer"})
        assert r.status == 400 and "`name`" in r.message, (bad, r)
        r = admin.request("PUT", "/policies", {"memory": {"mode": bad}})
        assert r.status == 400, (bad, r)
    fams = scrape(admin)
    assert one(fams, "vps_host_cpus") == os.cpu_count()
    names = {s.labels.get("name") for f in fams.values() for s in f.samples}
    assert not [n for n in names if n and any(c in n for c in '"\\\n')], names


def test_dashboard_asks_only_for_what_is_served(env):
    """docs/grafana-dashboard.json: every metric its queries name is one vpsd declares (a
    family with no samples yet is declared too), and every family is drawn somewhere."""
    import json
    import re

    top = Path(__file__).resolve().parents[2]
    dash = json.loads((top / "docs" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"] for v in dash["templating"]["list"] if v["type"] == "query"]
    asked = {m for e in exprs for m in re.findall(r"\b(vpsd?_[a-z0-9_]+)", e)}
    r = unix(env).request("GET", "/metrics")
    declared = {}
    for line in r.text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split()
            declared[name] = typ
    served = set(declared)
    served |= {n + s for n, t in declared.items() if t == "histogram"
               for s in ("_bucket", "_sum", "_count")}
    assert asked and not asked - served, sorted(asked - served)
    undrawn = {n for n in declared
               if not any(a == n or a.startswith(n + "_") for a in asked)}
    # the plan's disk and the policy's ratio are in the host report's words already
    assert undrawn <= {"vps_disk_limit_bytes", "vps_host_policy_ratio",
                       "vps_host_swap_total_bytes", "vps_host_swap_free_bytes",
                       "vpsd_usage_sample_interval_seconds"}, sorted(undrawn)
