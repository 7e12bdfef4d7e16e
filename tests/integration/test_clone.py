# SPDX-License-Identifier: GPL-2.0-or-later
"""Clones (issue 17, docs/storage.md "Clones"), through vpsd's API and the
CLI: a container cloned while it runs comes up with its own name, hostname,
MAC, address, machine-id and SSH host keys, its files shifted to its own uid
range, the source running on untouched; a clone from a snapshot holds the
snapshot's data, not what was written since; a VM's clone gets a new MAC and
a seed of a new instance (which resets the machine-id in the guest); what a
hostile customer tries (another's VPS, past the quota, bad names) is refused
with nothing made; and vpsd killed -9 mid-clone leaves no half VPS.

Run as root:
    VPS_BUILD=/work/main/build-test /usr/bin/python3 -m pytest -q test_clone.py"""

import json
import os
import subprocess
import time

import pytest

from framework.openapi import start_vpsd, tcp, unix
from framework.vpsd import VPSD
from test_snapshot import MKVMTEMPLATE, cli, ct, debugfs, sh, vpsd  # noqa: F401 (fixture)
from test_vpsd_kill9 import Paused

pytestmark = pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built")


def uid_base(d, name):
    return json.loads((d.data / "vps" / name / "ct.json").read_text())["uid_base"]


def wait_for(d, name, script, timeout=120):
    """Run SCRIPT in NAME until it exits 0; its output."""
    deadline = time.monotonic() + timeout
    while True:
        st, out = sh(d, name, script)
        if st == 0:
            return out
        assert time.monotonic() < deadline, f"{name}: `{script}` never passed: {out}"
        time.sleep(0.5)


def skip_taken_devices(d):
    """A VPS's host device is `vps` + its id, and every fresh vpsd counts
    ids from 1: take the ids another vpsd on this host holds now."""
    n = 0
    while os.path.exists(f"/sys/class/net/vps{n + 1}") and n < 50:
        ct(d, f"skip{n}")
        n += 1


IDENTITY = ("cat /etc/hostname; cat /etc/machine-id; "
            "cat /etc/ssh/ssh_host_ed25519_key.pub 2>/dev/null | cut -d' ' -f2; "
            "ip -o link show eth0 | grep -o 'link/ether [0-9a-f:]*'; "
            "ip -o -4 addr show eth0 | awk '{print $4}'")


BOOTED = ("test -s /etc/machine-id && test -s /etc/ssh/ssh_host_ed25519_key.pub && "
          "ip -o -4 addr show eth0 | grep -q inet")


def new_identity(d, v, before, source_there=True):
    """Container v (as the API showed it), started from another's disk whose
    IDENTITY was `before` and which held /root/marker (`precious`, owned by
    1000 inside), once booted: its own hostname, machine-id, SSH host key,
    MAC and address (those two the source's no more once it is destroyed:
    they went back to the pool), the marker owned by 1000 of its own uid
    range. Its IDENTITY lines."""
    name = v["name"]
    wait_for(d, name, BOOTED)
    after = sh(d, name, IDENTITY)[1].split("\n")
    assert after[0] == name, after
    assert len(after[1]) == 32 and after[1] != before[1], (before, after)  # machine-id
    assert after[2] and after[2] != before[2], (before, after)  # SSH host key
    assert after[3] == f"link/ether {v['mac']}", (v, after)
    assert after[4].split("/")[0] == v["ipv4"].split("/")[0], (v, after)
    if source_there:
        assert after[3] != before[3] and after[4] != before[4], (before, after)
    # the source's data, owned inside as it was, on the host by its own range
    assert sh(d, name, "cat /root/marker; stat -c %u:%g /root/marker")[1] == \
        "precious\n1000:1000\n"
    base = uid_base(d, name)
    st = os.lstat(d.data / "vps" / name / "ct" / "rootfs" / "root" / "marker")
    assert (st.st_uid, st.st_gid) == (base + 1000, base + 1000), (st, base)
    return after


def test_ct_clone_of_a_running_container_has_its_own_identity(vpsd):
    net = f"cl{os.getpid() % 10000}"
    vpsd.api("POST", "/networks", {"name": net, "ipv4": "10.231.71.1/24"}, expect=201)
    skip_taken_devices(vpsd)
    src = ct(vpsd, "src1", template="debian-12", ram="256M", disk="1G", network=net,
             start=True)
    # systemd's first boot: a machine-id of its own, SSH host keys made inside
    wait_for(vpsd, "src1", BOOTED)
    assert sh(vpsd, "src1", "echo precious > /root/marker && chown 1000:1000 /root/marker "
              "&& sync")[0] == 0
    before = sh(vpsd, "src1", IDENTITY)[1].split("\n")
    assert len(before[1]) == 32 and before[2], before

    c = vpsd.api("POST", "/vps/src1/clone", {"name": "copy1"}, expect=201)
    assert c["name"] == "copy1" and c["hostname"] == "copy1" and c["state"] == "stopped", c
    assert c["owner"] == src["owner"] and c["template"] == src["template"], c
    assert c["disk"] == src["disk"] and c["ram"] == src["ram"] and c["network"] == net, c
    assert c["mac"] != src["mac"] and c["ipv4"] != src["ipv4"], (c, src)
    assert uid_base(vpsd, "copy1") != uid_base(vpsd, "src1")
    # the source ran on, unchanged
    s = vpsd.api("GET", "/vps/src1")
    assert s["state"] == "running" and s["mac"] == src["mac"] and s["ipv4"] == src["ipv4"], s
    assert sh(vpsd, "src1", IDENTITY)[1].split("\n") == before
    assert [x["name"] for x in vpsd.api("GET", "/vps/src1/snapshots")] == []

    vpsd.api("POST", "/vps/copy1/start")
    new_identity(vpsd, c, before)
    root = vpsd.data / "vps" / "copy1" / "ct" / "rootfs"
    assert os.lstat(root / "etc" / "passwd").st_uid == uid_base(vpsd, "copy1")
    # the two reach each other on the network: no address conflict
    # (the template has no ping: a TCP connection to the source's sshd, both ways)
    for a, b in (("copy1", src["ipv4"]), ("src1", c["ipv4"])):
        st, out = sh(vpsd, a, f"timeout 10 bash -c 'echo > /dev/tcp/{b.split('/')[0]}/22' "
                     "&& echo reached")
        assert (st, out) == (0, "reached\n"), (a, b, st, out)
    assert vpsd.api("GET", "/vps/src1")["state"] == "running"
    ev = [e["kind"] for e in vpsd.api("GET", "/events?vps=copy1")]
    assert "clone" in ev, ev
    vpsd.api("POST", "/vps/copy1/stop", {"force": True})
    vpsd.api("DELETE", "/vps/copy1")
    vpsd.api("POST", "/vps/src1/stop", {"force": True})
    vpsd.api("DELETE", "/vps/src1")
    vpsd.api("DELETE", f"/networks/{net}")


def test_clone_from_a_snapshot_holds_the_snapshots_data(vpsd):
    ct(vpsd, "src2", start=True)
    assert sh(vpsd, "src2", "echo one > /root/f && sync") == (0, "")
    vpsd.api("POST", "/vps/src2/snapshots", {"name": "one"}, expect=201)
    assert sh(vpsd, "src2", "echo two > /root/f && sync") == (0, "")
    r = cli(vpsd, "clone", "src2", "copy2", "--snapshot", "one")
    assert r.returncode == 0, r.stderr
    assert "copy2 cloned from src2 at one" in r.stdout, r.stdout
    assert vpsd.api("GET", "/vps/copy2")["state"] == "stopped"
    vpsd.api("POST", "/vps/copy2/start")
    assert sh(vpsd, "copy2", "cat /root/f; hostname") == (0, "one\ncopy2\n")
    assert sh(vpsd, "src2", "cat /root/f; hostname") == (0, "two\nsrc2\n")
    # the snapshot stays the source's, and nothing of the clone is left beside it
    assert [s["name"] for s in vpsd.api("GET", "/vps/src2/snapshots")] == ["one"]
    assert sorted(os.listdir(vpsd.data / "vps" / "src2" / "snapshots")) == ["one"]
    assert vpsd.api("GET", "/vps/copy2/snapshots") == []
    ev = [e for e in vpsd.api("GET", "/events?vps=copy2") if e["kind"] == "clone"]
    assert [e["message"] for e in ev] == ["src2@one"], ev
    # asynchronously: an operation that ends with the new VPS
    code, j = vpsd.request("POST", "/api/v1/vps/src2/clone?async=1", {"name": "copy3"})
    assert code == 202, j
    deadline = time.monotonic() + 120
    while (op := vpsd.api("GET", f"/operations/{j['operation']['id']}"))["state"] == "running":
        assert time.monotonic() < deadline, op
        time.sleep(0.2)
    assert op["state"] == "done" and op["action"] == "clone", op
    assert op["result"]["name"] == "copy3" and op["result"]["state"] == "stopped", op


def test_vm_clone_gets_a_new_mac_and_instance(vpsd, tmp_path):
    """A VM is not booted here (QEMU's software CPU is slow): its disk is the
    source's, and its seed is another instance, whose first boot makes new
    SSH host keys (cloud-init) and a new machine-id (the seed's bootcmd)."""
    r = subprocess.run([str(MKVMTEMPLATE), "debian-12"], capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stderr
    net = f"vc{os.getpid() % 10000}"
    vpsd.api("POST", "/networks", {"name": net, "ipv4": "10.231.72.1/24"}, expect=201)
    v = vpsd.api("POST", "/vps", {"name": "vm1", "kind": "vm", "engine": "qemu",
                                  "template": "debian-12", "ram": "256M", "swap": "64M",
                                  "disk": "1G", "network": net}, expect=201)
    marker = tmp_path / "marker"
    marker.write_text("precious\n")
    disk = vpsd.data / "vps" / "vm1" / "disk.img"
    assert debugfs(disk, f"write {marker} /root/marker").returncode == 0
    c = vpsd.api("POST", "/vps/vm1/clone", {"name": "vm2"}, expect=201)
    assert c["mac"] != v["mac"] and c["ipv4"] != v["ipv4"] and c["hostname"] == "vm2", (v, c)
    assert c["engine"] == "qemu" and c["swap"] == v["swap"], c
    assert "precious" in debugfs(vpsd.data / "vps" / "vm2" / "disk.img",
                                 "cat /root/marker").stdout

    def seed(name, leaf):
        out = tmp_path / f"{name}-{leaf}"
        subprocess.run(["xorriso", "-osirrox", "on", "-indev",
                        str(vpsd.data / "vps" / name / "seed.iso"), "-extract", f"/{leaf}",
                        str(out)], check=True, capture_output=True)
        return out.read_text()

    m1, m2 = json.loads(seed("vm1", "meta-data")), json.loads(seed("vm2", "meta-data"))
    assert m1["instance-id"] != m2["instance-id"] and m2["local-hostname"] == "vm2", (m1, m2)
    ud = json.loads(seed("vm2", "user-data").split("\n", 1)[1])
    assert ud["hostname"] == "vm2", ud
    step = ud["bootcmd"][0]
    assert step[:3] == ["cloud-init-per", "instance", "vps-machine-id"], step
    assert "systemd-machine-id-setup" in step[-1], step
    vpsd.api("DELETE", "/vps/vm2")
    vpsd.api("DELETE", "/vps/vm1")
    vpsd.api("DELETE", f"/networks/{net}")


# --- attacks --------------------------------------------------------------------------

PASSWORDS = {"alice": "alice's long secret", "bob": "bob's long secret"}


def test_hostile_clones_are_refused_and_make_nothing():
    d = start_vpsd()
    try:
        admin = unix(d)
        for name, pw in PASSWORDS.items():
            admin.api("POST", "/users", {"name": name, "password": pw, "role": "customer"},
                      expect=201)
        admin.api("PATCH", "/users/alice", {"quota": {"vps": 1}})
        admin.api("POST", "/plans", {"name": "small", "ram": "128M", "disk": "64M", "cpus": 1,
                                     "traffic": {"allowance": "5G", "action": "throttle",
                                                 "bw": "1M"}}, expect=201)
        alice, bob = tcp(d), tcp(d)
        alice.login("alice", PASSWORDS["alice"])
        bob.login("bob", PASSWORDS["bob"])
        alice.api("POST", "/vps", {"name": "a1", "kind": "ct", "template": "busybox",
                                   "plan": "small"}, expect=201)
        alice.api("POST", "/vps/a1/snapshots", {"name": "mine"}, expect=201)
        vdir = d.data / "vps"
        before = sorted(os.listdir(vdir)), sorted(os.listdir(vdir / "a1" / "snapshots"))

        # bob: the 404 of a VPS that does not exist, and nothing made
        nobody = bob.request("POST", "/vps/nosuch/clone", {"name": "b1"})
        for body in [{"name": "b1"}, {"name": "b1", "snapshot": "mine"}]:
            r = bob.request("POST", "/vps/a1/clone", body)
            assert r.status == 404 and r.json == json.loads(
                nobody.text.replace("nosuch", "a1")), (body, r.status, r.json)
        r = bob.request("POST", "/vps/a1/clone?async=1", {"name": "b1"})
        assert r.status == 404, r.json

        # alice past her quota of one VPS: refused with the numbers
        r = alice.request("POST", "/vps/a1/clone", {"name": "a2"})
        assert r.status == 403 and r.code == "quota", r.json
        assert "quota of user `alice`: vps: 1 of 1 used, 1 asked" in r.message, r.message
        admin.api("PATCH", "/users/alice", {"quota": {"vps": 5}})

        # bad names and bodies
        # a name is checked before it is any part of a path (the copy's snapshots/.clone-NAME)
        for body, status in [({"name": "../x"}, 400), ({"name": "x/../../../../../tmp/evil"}, 400),
                             ({"name": ".."}, 400), ({"name": "A B"}, 400), ({"name": ""}, 400),
                             ({"name": "x" * 200}, 400), ({"name": 7}, 400), ({}, 400),
                             ({"name": "a1"}, 409), ({"name": "ok", "owner": "bob"}, 400),
                             ({"name": "ok", "pool": "default"}, 400),
                             ({"name": "ok", "snapshot": "../mine"}, 400),
                             ({"name": "ok", "snapshot": 3}, 400),
                             ({"name": "ok", "snapshot": "nosuch"}, 404)]:
            r = alice.request("POST", "/vps/a1/clone", body)
            assert r.status == status, (body, r.status, r.json)
        r = cli(d, "clone", "a1", "../x")
        assert r.returncode != 0, r.stdout
        assert sorted(v["name"] for v in admin.api("GET", "/vps")) == ["a1"]
        assert (sorted(os.listdir(vdir)), sorted(os.listdir(vdir / "a1" / "snapshots"))) == before
        assert not os.path.exists("/tmp/evil")
        # bob's VPS of the same name as alice's clone would be: a 409, not a takeover
        bob.api("POST", "/vps", {"name": "b2", "kind": "ct", "template": "busybox",
                                 "plan": "small"}, expect=201)
        r = alice.request("POST", "/vps/a1/clone", {"name": "b2"})
        assert r.status == 409, r.json
        assert admin.api("GET", "/vps/b2")["owner"] == "bob"

        # within the quota: the clone is hers
        c = alice.api("POST", "/vps/a1/clone", {"name": "a2", "snapshot": "mine"}, expect=201)
        assert c["owner"] == "alice", c
        # on her plan, as the source: its traffic allowance holds for the clone too
        assert alice.api("GET", "/vps/a2/traffic")["allowance"] == 5 << 30
        assert sorted(v["name"] for v in alice.api("GET", "/vps")) == ["a1", "a2"]
        assert bob.request("GET", "/vps/a2").status == 404
        d.destroy_all_and_stop()  # a sanitizer's report fails the test
    finally:
        d.cleanup()


@pytest.mark.parametrize("kind,point", [("ct", "ctm-create-mounted"), ("ct", "create-made"),
                                        ("vm", "clone-created"), ("vm", "clone-filled")])
def test_kill9_mid_clone_leaves_no_half_vps(vpsd, kind, point):
    """A container's clone is one create (its pause points, the copy in
    place); a VM's a create, then its disks replaced (clone-*)."""
    if kind == "ct":
        ct(vpsd, "k1", start=True)
        assert sh(vpsd, "k1", "echo mine > /root/f && sync") == (0, "")
    else:
        r = subprocess.run([str(MKVMTEMPLATE), "debian-12"], capture_output=True, text=True,
                           timeout=1800)
        assert r.returncode == 0, r.stderr
        vpsd.api("POST", "/vps", {"name": "k1", "kind": "vm", "engine": "qemu",
                                  "template": "debian-12", "ram": "256M", "disk": "1G"},
                 expect=201)
    p = Paused(vpsd, point, "kc", "POST", "/api/v1/vps/k1/clone", {"name": "kc"})
    p.kill9()
    assert [v["name"] for v in vpsd.api("GET", "/vps")] == ["k1"]
    assert not (vpsd.data / "vps" / "kc").exists()
    assert vpsd.api("GET", "/vps/k1")["state"] == ("running" if kind == "ct" else "stopped")
    assert vpsd.api("GET", "/vps/k1/snapshots") == []
    ev = vpsd.api("GET", "/events?vps=kc")
    assert any(e["kind"] == "create-undone" for e in ev), ev
    # asked again, it is made; what the crash left in the source's snapshots is swept
    vpsd.api("POST", "/vps/k1/clone", {"name": "kc"}, expect=201)
    if kind == "ct":
        vpsd.api("POST", "/vps/kc/start")
        assert sh(vpsd, "kc", "cat /root/f") == (0, "mine\n")
    vpsd.api("POST", "/vps/k1/snapshots", {"name": "s"}, expect=201)
    assert sorted(os.listdir(vpsd.data / "vps" / "k1" / "snapshots")) == ["s"]


def test_a_hostile_sources_links_are_never_followed(vpsd):
    """The source's root plants links where the clone's identity is reset
    (to the host's files, by absolute path), a FIFO, a directory, and a
    set-uid file hard-linked twice: the clone removes the links without
    following them, shifts the set-uid file once and keeps its bit, and
    nothing on the host or in the source changes."""
    def digest(path):
        return subprocess.run(["sha256sum", path], capture_output=True, text=True,
                              check=True).stdout.split()[0]

    host_before = {p: digest(p) for p in ("/etc/shadow", "/etc/passwd", "/etc/hostname")}
    ct(vpsd, "evil", start=True)
    plant = ("mkdir -p /etc/ssh /var/lib && rm -f /etc/machine-id && "
             "ln -s /etc/shadow /etc/machine-id && "
             "ln -s /etc/passwd /etc/ssh/ssh_host_rsa_key && "
             "mkfifo /etc/ssh/ssh_host_fifo_key && mkdir /etc/ssh/ssh_host_dir_key && "
             "echo secret > /etc/ssh/ssh_host_ed25519_key && echo keep > /etc/ssh/sshd_config && "
             "rm -rf /var/lib/dbus && ln -s /etc /var/lib/dbus && "
             "cp /bin/busybox /root/su && chown 1000:1000 /root/su && chmod 4755 /root/su && "
             "ln /root/su /root/su2 && sync")
    assert sh(vpsd, "evil", plant) == (0, "")
    look = "ls /etc/ssh; readlink /etc/machine-id; stat -c %a:%u:%g:%h /root/su /root/su2"
    src_view = sh(vpsd, "evil", look)
    vpsd.api("POST", "/vps/evil/clone", {"name": "evil2"}, expect=201)
    vpsd.api("POST", "/vps/evil2/start")
    st, out = sh(vpsd, "evil2", "ls /etc/ssh; test -e /etc/machine-id || echo no-machine-id; "
                 "stat -c %a:%u:%g:%h /root/su /root/su2; readlink /var/lib/dbus; "
                 "md5sum /etc/shadow | cut -d' ' -f1")
    assert st == 0, out
    lines = out.split("\n")
    # the links, the FIFO and the key file gone; the directory and the config stay
    assert lines[:2] == ["ssh_host_dir_key", "sshd_config"], out
    assert lines[2] == "no-machine-id", out  # the link removed, not written through
    assert lines[3:5] == ["4755:1000:1000:2", "4755:1000:1000:2"], out
    assert lines[5] == "/etc", out  # dbus's link left alone, nothing removed through it
    assert lines[6] == sh(vpsd, "evil", "md5sum /etc/shadow | cut -d' ' -f1")[1].strip()
    base = uid_base(vpsd, "evil2")
    st_su = os.lstat(vpsd.data / "vps" / "evil2" / "ct" / "rootfs" / "root" / "su")
    assert (st_su.st_uid, st_su.st_mode & 0o7777) == (base + 1000, 0o4755), st_su
    # the source and the host unchanged
    assert sh(vpsd, "evil", look) == src_view
    assert {p: digest(p) for p in host_before} == host_before
