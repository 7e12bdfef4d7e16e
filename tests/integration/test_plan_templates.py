# SPDX-License-Identifier: GPL-2.0-or-later
"""The templates a plan offers (issue 21, docs/templates.md "Per plan")
through the real daemon on both stores (SQLite, and PostgreSQL started
here): a customer lists what their plans offer, a create or a reinstall
with a template the plan does not offer is 403 whoever asks and leaves the
host unchanged, a hostile plan body is 400 and stores nothing. Containers
are created, not started, except the one reinstalled."""

import json
import os
import subprocess

import pytest

from framework.ct import BUILD
from framework.openapi import start_vpsd, tcp, unix
from framework.vpsd import VPSD

pytestmark = pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built")

VPS = BUILD / "src" / "cli" / "vps"
PASSWORD = "alice's long secret"
PLAN = {"ram": "128M", "disk": "64M", "cpus": 1}


@pytest.fixture
def env(store_flags):
    d = start_vpsd(extra=store_flags)
    admin = unix(d)
    admin.api("POST", "/users", {"name": "alice", "password": PASSWORD, "role": "customer"},
              expect=201)
    alice = tcp(d)
    alice.login("alice", PASSWORD)
    yield d, admin, alice
    d.cleanup()


def names(rows):
    return sorted({r["name"] for r in rows})


def test_a_plan_offers_only_its_templates(env):
    d, admin, alice = env
    every = names(admin.api("GET", "/templates"))
    assert {"busybox", "debian-12"} <= set(every), every
    # no plan yet: nothing restricts, the customer sees every template
    assert names(alice.api("GET", "/templates")) == every

    # hostile or careless plan bodies: 400, nothing stored
    for bad, msg in ((["no-such-tmpl"], "no template `no-such-tmpl`"),
                     ("busybox", "expected a list"),
                     (["busybox", "busybox"], "`busybox` twice"),
                     (["../etc"], "item 0 is not a template name"),
                     ([7], "item 0 is not a template name"),
                     ([f"t{i}" for i in range(65)], "up to 64")):
        r = admin.request("POST", "/plans", {"name": "bad", **PLAN, "templates": bad},
                          validate=False)
        assert r.status == 400 and msg in r.message, (bad, r)
    assert admin.api("GET", "/plans") == []

    p = admin.api("POST", "/plans", {"name": "bb", **PLAN, "templates": ["busybox"]}, expect=201)
    assert p["templates"] == ["busybox"], p
    admin.api("POST", "/plans", {"name": "any", **PLAN}, expect=201)
    assert admin.api("GET", "/plans/any")["templates"] == []
    assert admin.api("GET", "/plans/bb")["templates"] == ["busybox"]

    # the list: per plan for anyone; a customer's, what some plan offers
    assert names(alice.api("GET", "/templates?plan=bb")) == ["busybox"]
    assert names(admin.api("GET", "/templates?plan=any")) == every
    alice.api("GET", "/templates?plan=nope", expect=404)
    assert names(alice.api("GET", "/templates")) == every  # `any` offers every one
    admin.api("DELETE", "/plans/any")
    assert names(alice.api("GET", "/templates")) == ["busybox"]
    assert names(admin.api("GET", "/templates")) == every  # the provider's view is whole

    # a create with a template the plan does not offer: 403, whoever asks, nothing made
    ct = {"name": "pt1", "kind": "ct", "plan": "bb"}
    for who in (alice, admin):
        r = who.request("POST", "/vps", {**ct, "template": "debian-12"})
        assert r.status == 403, r
        assert r.message == "`template`: plan `bb` offers busybox, not `debian-12`", r
    assert admin.api("GET", "/vps") == []
    alice.api("POST", "/vps", {**ct, "template": "busybox"}, expect=201)

    # a reinstall into a template the plan does not offer: 403, the VPS as it was
    before = admin.api("GET", "/vps/pt1")
    r = alice.request("POST", "/vps/pt1/reinstall",
                      {"template": "debian-12", "root_password": "again"})
    assert r.status == 403 and "offers busybox, not `debian-12`" in r.message, r
    assert admin.api("GET", "/vps/pt1") == before
    # its own template again is always a reinstall its plan allows
    v = alice.api("POST", "/vps/pt1/reinstall", {"template": "busybox", "root_password": "again"})
    assert v["template"] == "busybox", v
    # a customer still cannot write plans, nor widen one
    alice.api("POST", "/plans", {"name": "bb", **PLAN, "templates": []}, expect=403)
    assert admin.api("GET", "/plans/bb")["templates"] == ["busybox"]

    # a plan change: the plan's templates are not VPS figures (a PATCH would refuse them)
    admin.api("POST", "/plans", {"name": "any", **PLAN}, expect=201)
    v = admin.api("POST", "/vps/pt1/plan", {"plan": "any"})
    assert v["template"] == "busybox" and v["ram"] == 128 << 20, v


def test_cli_plan_templates(env):
    d, admin, _ = env
    run = dict(env=dict(os.environ, VPS_SOCKET=str(d.sock)), capture_output=True, text=True)
    r = subprocess.run([str(VPS), "plan", "create", "bbc", "--ram", "128M", "--disk", "64M",
                        "--cpus", "1", "--templates", "busybox,debian-12"], **run)
    assert r.returncode == 0, r
    assert admin.api("GET", "/plans/bbc")["templates"] == ["busybox", "debian-12"]
    r = subprocess.run([str(VPS), "plan", "create", "bbd", "--ram", "128M", "--disk", "64M",
                        "--cpus", "1", "--templates", "busybox,nope"], **run)
    assert r.returncode != 0 and "no template `nope`" in r.stderr, r
    admin.api("POST", "/plans", {"name": "bbo", **PLAN, "templates": ["busybox"]}, expect=201)
    r = subprocess.run([str(VPS), "template", "list", "--plan", "bbo", "--format", "json"], **run)
    assert r.returncode == 0, r
    assert {t["name"] for t in json.loads(r.stdout)} == {"busybox"}, r.stdout
    r = subprocess.run([str(VPS), "template", "list", "--plan", "../x"], **run)
    assert r.returncode == 2 and "`../x`: not a valid name" in r.stderr, r
