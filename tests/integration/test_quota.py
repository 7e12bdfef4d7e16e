# SPDX-License-Identifier: GPL-2.0-or-later
"""Quotas per customer (issue 23, docs/auth.md) through the real daemon,
on both stores (SQLite, and PostgreSQL started here): how many VPSes, how
much RAM, disk and CPU a customer may hold, checked on every create and
every change that grows a figure (plan change, PATCH), refused with the
numbers -- a revert to a snapshot (or a restore of a backup, the same
path) taken before the disk was shrunk back by an older one, which grows
it again, is one such change; a hostile customer who tries to raise their own quota or to get
past it through a plan change or a resize is refused and the host is
unchanged; administrators hold what they like unless given a quota.
Containers are created, not started."""

import pytest

from framework.openapi import start_vpsd, tcp, unix
from framework.vpsd import VPSD

pytestmark = pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built")

MiB = 1 << 20
PASSWORD = "alice's long secret"


@pytest.fixture
def env(store_flags):
    d = start_vpsd(extra=store_flags)
    admin = unix(d)
    admin.api("POST", "/plans", {"name": "small", "ram": "128M", "disk": "64M", "cpus": 1},
              expect=201)
    admin.api("POST", "/plans", {"name": "big", "ram": "512M", "disk": "64M", "cpus": 1},
              expect=201)
    admin.api("POST", "/users", {"name": "alice", "password": PASSWORD, "role": "customer",
                                 "quota": {"vps": 2, "ram": 256 * MiB, "cpus": 4}}, expect=201)
    admin.api("POST", "/users", {"name": "carol", "password": PASSWORD, "role": "admin"},
              expect=201)
    alice = tcp(d)
    alice.login("alice", PASSWORD)
    yield d, admin, alice
    d.cleanup()


def ct(name, plan="small", **kw):
    return {"name": name, "kind": "ct", "template": "busybox", "plan": plan, **kw}


def state(admin):
    """What the refusals must leave alone: every VPS's figures and plan, the users."""
    return ([(v["name"], v["owner"], v["ram"], v["disk"], v["cpus"], v.get("plan"))
             for v in admin.api("GET", "/vps")], admin.api("GET", "/users"))


def test_quota_refusals_with_numbers(env):
    d, admin, alice = env
    assert admin.api("GET", "/users/alice")["quota"] == {"vps": 2, "ram": 256 * MiB, "cpus": 4}
    alice.api("POST", "/vps", ct("a1"), expect=201)
    alice.api("POST", "/vps", ct("a2"), expect=201)
    before = state(admin)

    # a third VPS: past `vps`, with the numbers; past `ram` as well, and said so
    r = alice.request("POST", "/vps", ct("a3"))
    assert r.status == 403 and r.code == "quota", r.json
    assert "quota of user `alice`: vps: 2 of 2 used, 1 asked" in r.message, r.message
    assert "ram: 256 MiB of 256 MiB used, 128 MiB asked" in r.message, r.message
    assert state(admin) == before
    assert not (d.data / "vps" / "a3").exists()
    # an administrator making it for her is held to her quota too
    r = admin.request("POST", "/vps", ct("a3", owner="alice"))
    assert r.status == 403 and r.code == "quota", r.json

    # a plan change past `ram` (the administrator's route): refused, a1 unchanged
    r = admin.request("POST", "/vps/a1/plan", {"plan": "big"})
    assert r.status == 403 and r.code == "quota", r.json
    assert "ram: 256 MiB of 256 MiB used, 384 MiB more asked" in r.message, r.message
    # a resize past `cpus`
    r = admin.request("PATCH", "/vps/a1", {"cpus": 4})
    assert r.status == 403 and "cpus: 2 of 4 used, 3 more asked" in r.message, r.json
    assert state(admin) == before

    # the hostile customer: raise her own quota, change her plan, resize, make a VPS of
    # figures she chooses, or give herself another owner's name
    for method, path, body in (
            ("PATCH", "/users/alice", {"quota": {"vps": 100}}),
            ("PATCH", "/users/alice", {"quota": {}}),
            ("POST", "/users", {"name": "alice2", "password": PASSWORD, "role": "customer"}),
            ("POST", "/vps/a1/plan", {"plan": "big"}),
            ("PATCH", "/vps/a1", {"ram": "512M"}),
            ("PATCH", "/vps/a1", {"cpus": 8}),
            ("POST", "/vps", {**ct("a9"), "ram": "64M"}),
            ("POST", "/vps", {**ct("a9"), "owner": "carol"})):
        r = alice.request(method, path, body)
        assert r.status == 403, (method, path, r.status, r.json)
    r = alice.request("GET", "/users/alice")
    assert r.status == 403
    assert state(admin) == before

    # a VPS given to her by the administrator counts whole against her quota
    admin.api("POST", "/vps", ct("c9", owner="carol"), expect=201)
    r = admin.request("PATCH", "/vps/c9", {"owner": "alice"})
    assert r.status == 403 and "vps: 2 of 2 used, 1 asked" in r.message, r.json
    assert admin.api("GET", "/vps/c9")["owner"] == "carol"
    admin.api("DELETE", "/vps/c9")
    assert state(admin) == before

    # the provider raises the quota: the same plan change passes
    admin.api("PATCH", "/users/alice", {"quota": {"vps": 2, "ram": 1024 * MiB, "cpus": None}})
    assert admin.api("GET", "/users/alice")["quota"] == {"vps": 2, "ram": 1024 * MiB}
    admin.api("POST", "/vps/a1/plan", {"plan": "big"})
    assert admin.api("GET", "/vps/a1")["ram"] == 512 * MiB
    # a change that does not grow a figure always fits, even at the quota
    admin.api("PATCH", "/users/alice", {"quota": {"ram": 128 * MiB}})
    admin.api("PATCH", "/vps/a1", {"hostname": "still-fine"})

    # bad quotas name the key
    for q, word in (({"ram": "4G"}, "quota.ram"), ({"vps": -1}, "quota.vps"),
                    ({"bananas": 1}, "bananas"), ([], "quota")):
        r = admin.request("PATCH", "/users/alice", {"quota": q})
        assert r.status == 400 and word in r.message, (q, r.json)


def test_admins_unlimited_by_default(env):
    d, admin, _ = env
    carol = tcp(d)
    carol.login("carol", PASSWORD)
    for i in range(3):
        carol.api("POST", "/vps", ct(f"c{i}", plan="big", owner="carol"), expect=201)
    assert admin.api("GET", "/users/carol")["quota"] == {}
    # given a quota, an administrator is held to it as well
    admin.api("PATCH", "/users/carol", {"quota": {"vps": 3}})
    r = carol.request("POST", "/vps", ct("c3", owner="carol"))
    assert r.status == 403 and "vps: 3 of 3 used, 1 asked" in r.message, r.json


def test_cli_user_set(env):
    """`vps user set NAME quota.KEY=VALUE...`: sizes parsed, the figures not
    named kept, `none` lifts one; bad keys and values are usage errors."""
    from test_cli import vps

    d, admin, _ = env
    r = vps("user", "set", "alice", "quota.ram=1G", "quota.disk=20G", sock=d.sock)
    assert r.returncode == 0, r
    assert admin.api("GET", "/users/alice")["quota"] == {
        "vps": 2, "ram": 1 << 30, "disk": 20 << 30, "cpus": 4}
    r = vps("user", "set", "alice", "quota.cpus=none", "quota.vps=5", sock=d.sock)
    assert r.returncode == 0, r
    assert admin.api("GET", "/users/alice")["quota"] == {
        "vps": 5, "ram": 1 << 30, "disk": 20 << 30}
    for bad in ("quota.ram=lots", "quota.vps=-1", "quota.bananas=1", "ram=1G", "2fa=on"):
        r = vps("user", "set", "alice", bad, sock=d.sock)
        assert r.returncode == 2, (bad, r)
    assert admin.api("GET", "/users/alice")["quota"]["vps"] == 5


def test_parallel_creates_hold_the_quota(env):
    """Four creates at once against a quota of two VPSes: the check runs in
    admission's transaction, so exactly two are made."""
    from concurrent.futures import ThreadPoolExecutor

    d, admin, alice = env
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda i: alice.request("POST", "/vps", ct(f"p{i}")), range(4)))
    assert sorted(r.status for r in got) == [201, 201, 403, 403], [(r.status, r.json) for r in got]
    assert all(r.code == "quota" for r in got if r.status == 403)
    assert len(admin.api("GET", "/vps")) == 2


def test_addresses(env):
    """`addresses`: one per address family of the VPS's network."""
    import uuid

    d, admin, alice = env
    net = "q" + uuid.uuid4().hex[:6]
    admin.api("POST", "/networks", {"name": net, "ipv4": "10.231.94.1/24",
                                    "ipv6": "fd31:94::1/64"}, expect=201)
    try:
        admin.api("PATCH", "/users/alice", {"networks": [net],
                                            "quota": {"vps": 5, "addresses": 3}})
        v = alice.api("POST", "/vps", ct("n1", network=net), expect=201)
        assert v["ipv4"] and v["ipv6"], v
        r = alice.request("POST", "/vps", ct("n2", network=net))
        assert r.status == 403 and "addresses: 2 of 3 used, 2 asked" in r.message, r.json
        assert [x["name"] for x in admin.api("GET", "/vps")] == ["n1"]
        alice.api("POST", "/vps", ct("n3"), expect=201)  # no network: no address
        for name in ("n1", "n3"):
            admin.api("DELETE", f"/vps/{name}")
    finally:
        admin.request("DELETE", f"/networks/{net}")


def test_revert_that_grows_the_disk_is_held_to_the_quota(env):
    """A snapshot of the bigger disk, a revert to an older smaller one, a
    second VPS in the room that made: reverting to the bigger one again
    would hold more disk than the quota. Refused with the numbers before
    the VPS is touched; passes once the quota is raised. A backup restored
    in place takes the same path (snapshot.c, put_back)."""
    d, admin, alice = env
    admin.api("PATCH", "/users/alice", {"quota": {"vps": 2, "disk": 160 * MiB}})
    alice.api("POST", "/vps", ct("g1"), expect=201)
    alice.api("POST", "/vps/g1/snapshots", {"name": "small"}, expect=201)
    admin.api("PATCH", "/vps/g1", {"disk": "128M"})
    alice.api("POST", "/vps/g1/snapshots", {"name": "big"}, expect=201)
    alice.api("POST", "/vps/g1/snapshots/small/revert")
    assert admin.api("GET", "/vps/g1")["disk"] == 64 * MiB
    alice.api("POST", "/vps", ct("g2"), expect=201)  # 64 + 64 of 160
    before = state(admin)
    img = d.data / "vps" / "g1" / "ct" / "disk.img"
    size = img.stat().st_size

    r = alice.request("POST", "/vps/g1/snapshots/big/revert")
    assert r.status == 403 and r.code == "quota", r.json
    assert "revert `g1` to `big`, whose disk is 128 MiB" in r.message, r.message
    assert "quota of user `alice`: disk: 128 MiB of 160 MiB used, 64 MiB more asked" \
        in r.message, r.message
    assert state(admin) == before and img.stat().st_size == size
    assert [e for e in admin.api("GET", "/events?vps=g1") if e["kind"] == "revert"][-1][
        "message"] == "small"

    admin.api("PATCH", "/users/alice", {"quota": {"vps": 2, "disk": 256 * MiB}})
    alice.api("POST", "/vps/g1/snapshots/big/revert")
    assert admin.api("GET", "/vps/g1")["disk"] == 128 * MiB
    assert [e for e in admin.api("GET", "/events?vps=g1") if e["kind"] == "revert"][-1][
        "message"] == "big"
