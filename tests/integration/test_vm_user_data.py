# SPDX-License-Identifier: GPL-2.0-or-later
"""A customer's own cloud-init user-data (docs/vpsd.md, "Your own
user-data"), through the real vpsd: given at create (API and CLI) and kept
across a reinstall, it goes into the VM's NoCloud seed as the second part
of a MIME multipart message after the host's own #cloud-config, and the
instance-id changes with it. The seed is read back here with xorriso, the
way a guest's cloud-init would find it, never by booting (test_vpsd_vm's
QEMU lifecycle boots with user-data and sees it applied).

Hostile and careless input: too big, empty, a NUL byte, not text, an
unknown first line, a container, a firmware VM, a customer's create and a
reinstall of another's VPS; each refused with a clear message and nothing
made or changed."""

import email
import subprocess

import pytest

from framework.bootiso import build_iso
from framework.vpsd import Vpsd, free_port
from test_vpsd_vm import VPS, vm_template_cached  # noqa: F401

UD = "#cloud-config\nwrite_files:\n- path: /root/ud-ok\n  content: user-data ran\n"


@pytest.fixture
def d():
    d = Vpsd().start()
    yield d
    d.cleanup()


def seed_files(d, name, tmp_path):
    """{leaf: text} of the VM's seed.iso, extracted as a reader of the ISO sees it."""
    out = tmp_path / f"seed-{name}"
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", str(d.data / "vps" / name / "seed.iso"),
                    "-extract", "/", str(out)], check=True, capture_output=True)
    return {p.name: p.read_text() for p in out.iterdir()}


def parts(user_data):
    msg = email.message_from_string(user_data)
    assert msg.is_multipart(), user_data[:200]
    return [(p.get_content_type(), p.get_payload()) for p in msg.get_payload()]


def create(d, name, **kw):
    return d.api("POST", "/vps", {"name": name, "kind": "vm", "engine": "qemu",
                                  "template": "debian-12", "ram": "256M", "disk": "3G",
                                  "root_password": "pw", **kw}, expect=kw.pop("expect", 201))


def test_user_data_in_the_seed_and_kept_on_reinstall(d, vm_template_cached, tmp_path):
    create(d, "ud1", user_data=UD)
    seed = seed_files(d, "ud1", tmp_path)
    got = parts(seed["user-data"])
    assert [t for t, _ in got] == ["text/cloud-config", "text/x-not-multipart"], got
    ours, theirs = got[0][1], got[1][1]
    assert ours.startswith("#cloud-config\n") and '"chpasswd"' in ours, ours
    assert theirs.strip() == UD.strip()
    # without user-data: ours alone, and a different instance
    create(d, "ud0")
    plain = seed_files(d, "ud0", tmp_path)
    assert plain["user-data"].startswith("#cloud-config\n")
    assert "ud-ok" not in plain["user-data"]

    # a reinstall keeps it, or takes a new one; a new instance-id each time
    ids = {seed["meta-data"]}
    d.api("POST", "/vps/ud1/reinstall", {"root_password": "pw2"})
    seed = seed_files(d, "ud1", tmp_path / "r1")
    assert parts(seed["user-data"])[1][1].strip() == UD.strip()
    ids.add(seed["meta-data"])
    script = "#!/bin/sh\necho hello > /root/hello\n"
    d.api("POST", "/vps/ud1/reinstall", {"user_data": script})
    seed = seed_files(d, "ud1", tmp_path / "r2")
    assert parts(seed["user-data"])[1][1].strip() == script.strip()
    ids.add(seed["meta-data"])
    assert len(ids) == 3, ids

    # the CLI reads it from a file
    f = tmp_path / "ud.yaml"
    f.write_text(UD)
    r = subprocess.run([str(VPS), "--socket", str(d.sock), "create", "ud2", "--kind", "vm",
                        "--engine", "qemu", "--template", "debian-12", "--ram", "256M",
                        "--disk", "3G", "--user-data", str(f)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert parts(seed_files(d, "ud2", tmp_path)["user-data"])[1][1].strip() == UD.strip()
    f.write_bytes(b"#cloud-config\n\xff\xfe\n")
    r = subprocess.run([str(VPS), "--socket", str(d.sock), "reinstall", "ud2", "--user-data",
                        str(f)], capture_output=True, text=True)
    assert r.returncode == 2 and "not UTF-8 text" in r.stderr, r


BAD = [
    ("x" * 10, "its first line must say what it is"),
    ("", "`user_data`: empty"),
    ("#cloud-config\n" + "a" * (64 << 10), "more than the 65536 allowed"),
    ("#cloud-config\n\u0000", "\\u0000 is not allowed"),  # the body's parser refuses it
    (7, "expected the text of a cloud-init user-data"),
    ("#cloud-configX\n", "its first line must say what it is"),
]


@pytest.mark.parametrize("ud,msg", BAD)
def test_bad_user_data_refused_nothing_made(d, vm_template_cached, ud, msg):
    e = create(d, "bad1", user_data=ud, expect=400)
    assert msg in e["error"]["message"], e
    assert d.api("GET", "/vps") == []
    assert not (d.data / "vps" / "bad1").exists()


def test_user_data_where_there_is_no_seed(d, tmp_path):
    e = d.api("POST", "/vps", {"name": "c1", "kind": "ct", "template": "busybox", "ram": "64M",
                               "disk": "64M", "user_data": UD}, expect=400)
    assert "`user_data`: kind ct has no cloud-init seed" in e["error"]["message"], e
    d.api("PUT", "/isos/boot", build_iso(tmp_path).read_bytes(), expect=201)
    e = d.api("POST", "/vps", {"name": "f1", "kind": "vm", "engine": "qemu", "iso": "boot",
                               "ram": "64M", "disk": "64M", "user_data": UD}, expect=400)
    assert "a VM that boots firmware installs its own system" in e["error"]["message"], e
    assert d.api("GET", "/vps") == []
    assert not (d.data / "vps" / "f1").exists() and not (d.data / "vps" / "c1").exists()


def test_a_customer_gives_user_data_to_their_own_vm_only(vm_template_cached):
    """Over TCP with customers' tokens: bob cannot reinstall alice's VM with his user-data
    (404, as for any VPS not his), and alice's stays as she gave it."""
    import http.client
    import json

    port = free_port()
    d = Vpsd().start(extra=("--tcp", f"127.0.0.1:{port}"))
    try:
        def token(user):
            d.api("POST", "/users", {"name": user, "role": "customer",
                                     "password": f"{user} ud pw"}, expect=201)
            return d.api("POST", "/tokens", {"name": "ud", "expires_in": 3600, "user": user},
                         expect=201)["token"]

        def call(tok, method, path, body):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request(method, "/api/v1" + path, json.dumps(body),
                      {"Authorization": f"Bearer {tok}", "Content-Type": "application/json"})
            r = c.getresponse()
            out = r.status, json.loads(r.read() or b"null")
            c.close()
            return out

        alice, bob = token("alice"), token("bob")
        create(d, "a1", owner="alice", user_data=UD)
        status, j = call(bob, "POST", "/vps/a1/reinstall", {"user_data": "#!/bin/sh\nid\n"})
        assert status == 404, (status, j)
        status, j = call(bob, "POST", "/vps", {"name": "b1", "kind": "vm", "engine": "qemu",
                                               "template": "debian-12", "ram": "256M",
                                               "disk": "3G", "user_data": "nonsense"})
        assert status in (400, 403), (status, j)
        assert (d.data / "vps" / "a1" / "user-data").read_text() == UD
        assert not (d.data / "vps" / "b1").exists()
        status, j = call(alice, "POST", "/vps/a1/reinstall", {"user_data": "#!/bin/sh\nid\n"})
        assert status == 200, (status, j)
        assert (d.data / "vps" / "a1" / "user-data").read_text() == "#!/bin/sh\nid\n"
    finally:
        d.cleanup()


def test_network_config_for_images_without_vps_net(d, vm_template_cached, tmp_path):
    """On a network, the seed has network-config v2 (the addresses, routes and nameservers on
    the interface with the VPS's MAC) for an imported image; off one, none."""
    import json
    d.api("POST", "/networks", {"name": "udnet", "ipv4": "10.79.0.1/24", "ipv6": "fd79::1/64",
                                "nat": False}, expect=201)
    try:
        create(d, "n1", network="udnet")
        v = d.api("GET", "/vps/n1")
        nc = json.loads(seed_files(d, "n1", tmp_path)["network-config"])
        assert nc["version"] == 2, nc
        eth = nc["ethernets"]["vps0"]
        assert eth["match"] == {"macaddress": v["mac"]}, (eth, v)
        assert eth["addresses"] == [f"{v['ipv4']}/24", f"{v['ipv6']}/64"], (eth, v)
        assert eth["routes"] == [{"to": "0.0.0.0/0", "via": "10.79.0.1"},
                                 {"to": "::/0", "via": "fd79::1"}], eth
        assert not eth["dhcp4"] and not eth["dhcp6"]
        create(d, "n0")
        assert "network-config" not in seed_files(d, "n0", tmp_path / "n0")
        d.api("DELETE", "/vps/n1")
    finally:
        d.request("DELETE", "/api/v1/networks/udnet")
