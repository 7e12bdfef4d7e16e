# SPDX-License-Identifier: GPL-2.0-or-later
"""vpsd through its API on its real socket (issue 6): the store, bad input,
a daemon restart and a kill -9 with VPSes running, crashes recorded,
onboot. kill -9 in the middle of every lifecycle operation is
test_vpsd_kill9.py; the CLI's own tests are test_cli.py."""

import os
import signal
import sqlite3
import subprocess
import time

import pytest

from framework.vpsd import VPSD, Vpsd

pytestmark = pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built")


@pytest.fixture
def vpsd():
    d = Vpsd().start()
    yield d
    d.cleanup()


def ct(d, name, **kw):
    body = {"name": name, "kind": "ct", "template": "busybox", "ram": "128M", "disk": "64M"}
    body.update(kw)
    return d.api("POST", "/vps", body, expect=201)


def mounted(path):
    return any(line.split()[4].startswith(str(path))
               for line in open("/proc/self/mountinfo"))


def keeper_alive(d, name):
    p = d.run / "vps" / name / "keeper.pid"
    try:
        os.kill(int(p.read_text()), 0)
        return True
    except (OSError, ValueError):
        return False


def consistent(d):
    """What the store says is what runs: the invariant a kill -9 must keep."""
    names = set()
    for v in d.api("GET", "/vps"):
        names.add(v["name"])
        assert v["state"] in ("stopped", "running", "stopping"), v
        if v["state"] in ("stopping", "running") and not keeper_alive(d, v["name"]):
            # a stop that went on without the daemon ended just now: the
            # watcher records it within a moment
            deadline = time.monotonic() + 5
            while v["state"] != "stopped" and time.monotonic() < deadline:
                time.sleep(0.1)
                v = d.api("GET", f"/vps/{v['name']}")
            assert v["state"] == "stopped", v
        if v["state"] == "stopping":  # a stop the daemon's death did not stop
            assert keeper_alive(d, v["name"]), v
        elif v["state"] == "running":
            assert keeper_alive(d, v["name"]), v
            r = d.api("POST", f"/vps/{v['name']}/exec", {"args": ["true"]})
            assert r["status"] == 0, r
        else:
            assert not keeper_alive(d, v["name"]), v
            assert not mounted(d.data / "vps" / v["name"]), v
    for entry in (d.data / "vps").iterdir():
        assert entry.name in names, f"{entry} has no record"
    # no mount and no loop device of a VPS that does not run
    running = {v["name"] for v in d.api("GET", "/vps") if v["state"] != "stopped"}
    for line in open("/proc/self/mountinfo"):
        mp = line.split()[4]
        if mp.startswith(str(d.data / "vps") + "/"):
            assert mp.split("/")[len((d.data / "vps").parts)] in running, f"{mp} left mounted"
    loops = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    for line in loops.splitlines():
        if str(d.data / "vps") + "/" in line:
            name = line.split(str(d.data / "vps") + "/")[1].split("/")[0]
            assert name in running, f"loop device left: {line}"
    for cg in ("memory", "pids"):
        base = f"/sys/fs/cgroup/{cg}/vps-ct"
        for n in os.listdir(base) if os.path.isdir(base) else []:
            if n.startswith("kd"):
                assert n in names and d.api("GET", f"/vps/{n}")["state"] != "stopped", n
    return names


def test_lifecycle_and_store(vpsd):
    v = ct(vpsd, "life1", start=True, root_password="pw", hostname="web")
    assert v["state"] == "running" and v["engine"] == "ctm"
    show = vpsd.api("GET", "/vps/life1")
    assert show["monitor"]["state"] == "running"
    assert show["stats"]["memory_limit"] == 128 << 20
    r = vpsd.api("POST", "/vps/life1/exec", {"args": ["cat", "/etc/hostname"]})
    assert r == {"status": 0, "stdout": "web\n", "stderr": ""}
    r = vpsd.api("PATCH", "/vps/life1", {"ram": "256M", "cpus": 0.5})
    assert r["live"] is True and r["vps"]["ram"] == 256 << 20
    r = vpsd.api("POST", "/vps/life1/exec", {"args": ["head", "-1", "/proc/meminfo"]})
    assert "262144 kB" in r["stdout"], r
    assert vpsd.api("POST", "/vps/life1/stop")["state"] == "stopped"
    assert vpsd.api("POST", "/vps/life1/start")["state"] == "running"
    assert vpsd.api("POST", "/vps/life1/restart")["state"] == "running"
    vpsd.api("DELETE", "/vps/life1")
    vpsd.api("GET", "/vps/life1", expect=404)
    assert not (vpsd.data / "vps" / "life1").exists()
    kinds = [e["kind"] for e in vpsd.api("GET", "/events?vps=life1")]
    assert kinds[0] == "create" and kinds[-1] == "destroyed", kinds
    for k in ("running", "stopping", "stopped", "set", "destroying"):
        assert k in kinds, kinds
    db = sqlite3.connect(vpsd.data / "vps.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == 19
    # one host, one node: itself (docs/cluster.md)
    assert db.execute("SELECT count(*), max(state) FROM nodes").fetchone() == (1, "online")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


@pytest.mark.parametrize("body, status, field", [
    ({"kind": "ct", "template": "busybox"}, 400, "`name`"),
    ({"name": "Bad_Name", "kind": "ct"}, 400, "`name`"),
    ({"name": "b1"}, 400, "`kind`"),
    ({"name": "b1", "kind": "lxc"}, 400, "`kind`"),
    ({"name": "b1", "kind": "ct", "template": "busybox", "ram": "lots"}, 400, "`ram`"),
    ({"name": "b1", "kind": "ct", "template": "busybox", "ram": "1M"}, 400, "`ram`"),
    ({"name": "b1", "kind": "ct", "template": "busybox", "cpus": -1}, 400, "`cpus`"),
    ({"name": "b1", "kind": "ct", "template": "busybox", "disk": "100K"}, 400, "`disk`"),
    ({"name": "b1", "kind": "ct", "template": "busybox", "color": "red"}, 400, "`color`"),
    ({"name": "b1", "kind": "ct", "template": "nope"}, 400, "`template`"),
    ({"name": "b1", "kind": "ct"}, 400, "`template`"),
    ({"name": "b1", "kind": "ct", "template": "busybox", "engine": "qemu"}, 400, "`engine`"),
    # an engine the parser knows, of another kind: the kinds say which they have
    ({"name": "b1", "kind": "vm", "template": "debian-12", "engine": "ctm"}, 400,
     "`engine`: kind vm has no engine `ctm` (vmm, qemu)"),
    ({"name": "b1", "kind": "ct", "template": "busybox", "engine": "ctm"}, 400, "`engine`"),
    ({"name": "b1", "kind": "vm", "engine": "xen"}, 400, "`engine`: expected one of"),
    ({"name": "b1", "kind": 7}, 400, "`kind`: expected one of ct, vm"),
    ({"name": "b1", "kind": "ct", "template": "busybox", "plan": "gold"}, 400, "`plan`"),
    ({"name": "b1", "kind": "ct", "template": "busybox", "ssh_keys": ["nope"]}, 400,
     "`ssh_keys[0]`"),
    ({"name": "b1", "kind": "ct", "template": "busybox", "onboot": "yes"}, 400, "`onboot`"),
])
def test_bad_create_bodies(vpsd, body, status, field):
    code, j = vpsd.request("POST", "/api/v1/vps", body)
    assert code == status and field in j["error"]["message"], (code, j)
    assert j["error"]["code"] == "bad_request"
    assert vpsd.api("GET", "/vps") == []
    assert list((vpsd.data / "vps").iterdir()) == []


def test_bad_requests(vpsd):
    code, j = vpsd.request("POST", "/api/v1/vps", "{not json")
    assert code == 400 and "not JSON" in j["error"]["message"]
    code, j = vpsd.request("GET", "/api/v1/vps/missing")
    assert code == 404 and j["error"]["message"] == "no VPS named `missing`", j
    code, j = vpsd.request("GET", "/api/v1/nothing")
    assert code == 404
    code, j = vpsd.request("PUT", "/api/v1/vps")
    assert code == 405
    ct(vpsd, "dup1")
    code, j = vpsd.request("POST", "/api/v1/vps",
                           {"name": "dup1", "kind": "ct", "template": "busybox"})
    assert code == 409 and "exists" in j["error"]["message"], j
    code, j = vpsd.request("PATCH", "/api/v1/vps/dup1", {"kind": "vm"})
    assert code == 400 and "`kind`: cannot be changed" in j["error"]["message"], j
    code, j = vpsd.request("PATCH", "/api/v1/vps/dup1", {"disk": "32M"})
    assert code == 400 and "cannot shrink" in j["error"]["message"], j
    code, j = vpsd.request("POST", "/api/v1/vps/dup1/stop", {"timeout": 0})
    assert code == 400 and "`timeout`" in j["error"]["message"], j
    code, j = vpsd.request("POST", "/api/v1/vps/dup1/exec", {"args": ["true"]})
    assert code == 409 and "stopped" in j["error"]["message"], j
    code, j = vpsd.request("POST", "/api/v1/vps/dup1/exec", {"args": "true"})
    assert code == 400 and "`args`" in j["error"]["message"], j
    code, j = vpsd.request("POST", "/api/v1/vps", b"x" * (2 << 20))
    assert code == 413
    # a plan in use cannot go (the store's foreign key)
    vpsd.api("POST", "/plans", {"name": "small", "ram": "128M", "disk": "64M", "cpus": 1},
             expect=201)
    ct(vpsd, "planned", plan="small")
    code, j = vpsd.request("DELETE", "/api/v1/plans/small")
    assert code == 409 and "in use" in j["error"]["message"], j
    assert vpsd.api("GET", "/vps/planned")["ram"] == 128 << 20


def test_restart_keeps_vps_running(vpsd):
    ct(vpsd, "keep1", start=True)
    pid = vpsd.api("GET", "/vps/keep1")["monitor"]["pid"]
    vpsd.stop()  # a clean stop of the daemon stops no VPS
    assert keeper_alive(vpsd, "keep1")
    vpsd.start()
    show = vpsd.api("GET", "/vps/keep1")
    assert show["state"] == "running" and show["monitor"]["pid"] == pid
    vpsd.kill9()
    vpsd.start()
    assert vpsd.api("GET", "/vps/keep1")["monitor"]["pid"] == pid
    kinds = [e["kind"] for e in vpsd.api("GET", "/events?vps=keep1")]
    assert kinds.count("adopted") == 2, kinds
    # the adopted VPS is still watched: its end is seen
    vpsd.api("POST", "/vps/keep1/exec", {"args": ["poweroff"]})
    deadline = time.monotonic() + 20
    while vpsd.api("GET", "/vps/keep1")["state"] != "stopped":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    consistent(vpsd)


def test_crash_is_recorded(vpsd):
    ct(vpsd, "crash1", start=True)
    pid = vpsd.api("GET", "/vps/crash1")["monitor"]["pid"]
    os.kill(pid, signal.SIGKILL)  # the container's init dies from outside
    deadline = time.monotonic() + 20
    while (v := vpsd.api("GET", "/vps/crash1"))["state"] != "stopped":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert v["last_exit"] == 4, v
    assert "crashed" in [e["kind"] for e in vpsd.api("GET", "/events?vps=crash1")]


def test_onboot_after_host_boot(vpsd):
    ct(vpsd, "boot1", onboot=True)
    ct(vpsd, "boot2")
    vpsd.stop()
    (vpsd.run / "booted").unlink()  # /run is empty after a host boot
    vpsd.start()
    assert vpsd.api("GET", "/vps/boot1")["state"] == "running"
    assert vpsd.api("GET", "/vps/boot2")["state"] == "stopped"
    vpsd.stop()
    vpsd.start()  # not a host boot: nothing more starts
    assert vpsd.api("GET", "/vps/boot2")["state"] == "stopped"


def test_reinstall(vpsd):
    ct(vpsd, "re1", start=True, disk="1G", ram="256M")
    vpsd.api("POST", "/vps/re1/exec", {"args": ["sh", "-c", "echo old > /root/data"]})
    v = vpsd.api("POST", "/vps/re1/reinstall",
                 {"template": "debian-12", "root_password": "fresh", "hostname": "deb1"})
    assert v["state"] == "running" and v["template"] == "debian-12", v
    r = vpsd.api("POST", "/vps/re1/exec",
                 {"args": ["sh", "-c", "ls /root; cat /etc/hostname /etc/debian_version"]})
    assert r["stdout"].split() == ["deb1", r["stdout"].split()[-1]], r
    assert r["stdout"].split()[-1].startswith("12."), r
    code, j = vpsd.request("POST", "/api/v1/vps/re1/reinstall", {"ram": "1G"})
    assert code == 400 and "`ram`" in j["error"]["message"], j
    code, j = vpsd.request("POST", "/api/v1/vps/re1/reinstall", {"template": "nope"})
    assert code == 400 and "`template`" in j["error"]["message"], j
    assert vpsd.api("GET", "/vps/re1")["state"] == "running"
    assert "reinstalled" in [e["kind"] for e in vpsd.api("GET", "/events?vps=re1")]


def test_iso_upload(vpsd):
    """An ISO streams to the host (PUT), a firmware-boot VM names it, and it
    cannot go while a VPS uses it."""
    data = os.urandom(3 << 20)
    assert vpsd.api("PUT", "/isos/inst-1.0", data, expect=201) == {"name": "inst-1.0",
                                                                    "size": len(data)}
    assert (vpsd.data / "isos" / "inst-1.0.iso").read_bytes() == data
    assert vpsd.api("GET", "/isos") == [{"name": "inst-1.0", "size": len(data)}]
    code, j = vpsd.request("PUT", "/api/v1/isos/../x", b"x")
    assert code in (400, 404), (code, j)
    v = vpsd.api("POST", "/vps", {"name": "fw1", "kind": "vm", "engine": "qemu",
                                  "iso": "inst-1.0", "ram": "256M", "disk": "1G"}, expect=201)
    assert v["boot"] == "firmware" and v["iso"].endswith("/isos/inst-1.0.iso"), v
    code, j = vpsd.request("DELETE", "/api/v1/isos/inst-1.0")
    assert code == 409 and "in use" in j["error"]["message"], j
    code, j = vpsd.request("POST", "/api/v1/vps", {"name": "fw2", "kind": "vm",
                                                    "engine": "qemu", "iso": "none"})
    assert code == 400 and "`iso`" in j["error"]["message"], j
    vpsd.api("DELETE", "/vps/fw1")
    vpsd.api("DELETE", "/isos/inst-1.0")
    assert not list((vpsd.data / "isos").iterdir())
