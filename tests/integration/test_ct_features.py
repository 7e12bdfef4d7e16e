# SPDX-License-Identifier: GPL-2.0-or-later
"""A container's OpenVZ switches and what OpenVZ sold with them (issue 22),
through the real daemon on its socket (docs/containers.md):

- `features` (tun, fuse, nesting) on a VPS, off by default: with each on, a
  TUN device made and used, a FUSE filesystem mounted and read, a
  user-namespaced container started inside; with them off, root inside
  tries each and is refused, and the host is unchanged;
- features in plans and through the CLI (`vps set NAME features=...`);
- vswap shown as sold: `free` shows the container's swap on a host with
  none, and `swapon`/`swapoff` inside answer 0 and change nothing;
- IO limits in bytes/s and IOPS through the API, in the container's cgroup,
  still there after a reboot inside; the reboot is a `rebooted` event, and
  the bandwidth limit is back on the new veth."""

import json
import os
import re
import shutil
import subprocess
import time
import uuid

import pytest

from framework.ct import copy_with_libs
from framework.vpsd import VPSD

from test_attack_host import with_helper
from test_vpsd import ct, vpsd  # noqa: F401 (vpsd: the fixture, a fresh daemon)

pytestmark = pytest.mark.skipif(not VPSD.exists(), reason=f"{VPSD} not built")

CLI = VPSD.parent.parent / "cli" / "vps"
# Debian's sshfs and OpenSSH's sftp-server (scripts/lib.sh installs both)
SSHFS = shutil.which("sshfs")
SFTP_SERVER = next((p for p in ("/usr/lib/openssh/sftp-server", "/usr/lib/sftp-server")
                    if os.path.exists(p)), None)


def unique(prefix):
    # cgroups (/vps-ct/NAME) and veths are host-wide: other runs must not collide
    return prefix + uuid.uuid4().hex[:6]


def ex(d, name, *args):
    return d.api("POST", f"/vps/{name}/exec", {"args": list(args)})


def out(d, name, *args):
    r = ex(d, name, *args)
    return r["stdout"] + r["stderr"]


def host_links():
    return set(os.listdir("/sys/class/net"))


def host_fuse_mounts():
    return [l for l in open("/proc/self/mountinfo") if " fuse.vpstest " in l]


def host_swaps():
    return (open("/proc/swaps").read(),
            subprocess.run(["swapon", "--show"], capture_output=True, text=True).stdout)


def init_pid(d, name):
    return d.api("GET", f"/vps/{name}")["monitor"]["pid"]


def wait_event(d, name, kind, after=0, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ev = [e for e in d.api("GET", f"/events?vps={name}") if e["kind"] == kind]
        if len(ev) > after:
            return ev
        time.sleep(0.2)
    raise AssertionError(f"no `{kind}` event for {name}: {d.api('GET', f'/events?vps={name}')}")


# ---- the switches on ----

def test_switches_on(vpsd):
    name = unique("fon")
    links, fuse_before = host_links(), host_fuse_mounts()
    v = ct(vpsd, name, features=["nesting", "tun", "fuse"], start=True)
    assert v["features"] == ["tun", "fuse", "nesting"], v
    with_helper(vpsd, name)
    # TUN: a device made inside, an address on it, a datagram routed to it read back
    r = ex(vpsd, name, "/sbin/vps-test", "tunuse", "vpn0")
    assert r["status"] == 0 and "tun vpn0 carried" in r["stdout"], r
    # FUSE: a filesystem of the container's own, mounted and read through the kernel
    ex(vpsd, name, "mkdir", "-p", "/mnt/f")
    r = ex(vpsd, name, "/sbin/vps-test", "fuse", "/mnt/f")
    assert r["status"] == 0 and "read hello from fuse" in r["stdout"], r
    assert "umount ok" in r["stdout"], r
    # sshfs, Debian's, over sftp-server in place of ssh (no daemon, no keys): the container's
    # /etc seen again through FUSE
    assert SSHFS and SFTP_SERVER, "sshfs or sftp-server missing (scripts/lib.sh installs them)"
    rootfs = vpsd.data / "vps" / name / "ct" / "rootfs"
    copy_with_libs(rootfs, SSHFS, SFTP_SERVER)
    fake = rootfs / "usr" / "local" / "bin" / "fake-ssh"
    fake.parent.mkdir(parents=True, exist_ok=True)
    fake.write_text(f"#!/bin/sh\nexec {SFTP_SERVER}\n")
    fake.chmod(0o755)
    ex(vpsd, name, "mkdir", "-p", "/mnt/s")
    r = ex(vpsd, name, SSHFS, "-o", "ssh_command=/usr/local/bin/fake-ssh", "x:/etc",
           "/mnt/s")
    assert r["status"] == 0, r
    try:
        assert "fuse.sshfs" in out(vpsd, name, "cat", "/proc/mounts")
        assert out(vpsd, name, "cat", "/mnt/s/hostname") == \
            out(vpsd, name, "cat", "/etc/hostname")
    finally:
        assert ex(vpsd, name, "umount", "/mnt/s")["status"] == 0
    # nesting: user namespaces, and a container inside with its own pid 1 and /proc
    assert out(vpsd, name, "/sbin/vps-test", "userns").strip() == \
        "unshare ok clone ok clone3 ok"
    r = ex(vpsd, name, "/sbin/vps-test", "nest")
    assert r["status"] == 0 and "proc ok pid 1 procs 1" in r["stdout"], r
    # and with the template's own tool, as a customer would: pid 1 of its own /proc
    r = ex(vpsd, name, "unshare", "-Urpf", "--mount-proc", "sh", "-c", "echo $$; ls /proc")
    assert r["status"] == 0 and r["stdout"].split()[0] == "1", r
    # only its own: sh, and ls if the shell forked it rather than exec'd it
    pids = sorted(int(x) for x in r["stdout"].split()[1:] if x.isdigit())
    assert pids[0] == 1 and pids[-1] <= 2, r
    # the clean proc nesting needs is there, read-only sysfs beside it
    mounts = out(vpsd, name, "cat", "/proc/mounts")
    assert "proc /dev/.vps/proc proc" in mounts and "sysfs /dev/.vps/sys sysfs ro" in mounts, \
        mounts
    # why the clean proc: without it the kernel refuses the nested container's /proc
    # (mount_too_revealing: the container's own /proc has locked mounts over its files)
    assert ex(vpsd, name, "umount", "/dev/.vps/proc")["status"] == 0
    r = ex(vpsd, name, "/sbin/vps-test", "nest")
    assert r["status"] != 0 and "proc EPERM" in r["stdout"], r
    # the host: no new device, no FUSE mount of the container's in its namespace
    assert "vpn0" not in host_links() - links
    assert host_fuse_mounts() == fuse_before


# ---- the switches off: root inside tries each (attack) ----

def test_switches_off_are_refused(vpsd):
    name = unique("foff")
    links, fuse_before = host_links(), host_fuse_mounts()
    v = ct(vpsd, name, start=True)
    assert v["features"] == [], v
    with_helper(vpsd, name)
    t = "/sbin/vps-test"
    # TUN: no node, and making one is refused (and the device cgroup would refuse its open)
    r = ex(vpsd, name, t, "tunuse", "vpn0")
    assert r["status"] != 0 and "tun open: ENOENT" in r["stdout"], r
    ex(vpsd, name, "mkdir", "-p", "/dev/net")
    assert out(vpsd, name, t, "mknod", "/dev/net/tun", "c", "10", "200").strip() == "EPERM"
    # FUSE: no /dev/fuse, none to be made, so nothing to mount with
    ex(vpsd, name, "mkdir", "-p", "/mnt/f")
    r = ex(vpsd, name, t, "fuse", "/mnt/f")
    assert "open ENOENT" in r["stdout"], r
    assert out(vpsd, name, t, "mknod", "/dev/fuse", "c", "10", "229").strip() == "EPERM"
    # Debian's sshfs, as a customer would try it: no mount
    rootfs = vpsd.data / "vps" / name / "ct" / "rootfs"
    copy_with_libs(rootfs, SSHFS, SFTP_SERVER)
    ex(vpsd, name, "mkdir", "-p", "/mnt/s")
    r = ex(vpsd, name, SSHFS, "-o", f"ssh_command={SFTP_SERVER}", "x:/etc", "/mnt/s")
    assert r["status"] != 0 and "fuse" in r["stderr"], r
    assert "fuse.sshfs" not in out(vpsd, name, "cat", "/proc/mounts")
    # a fuse mount with any other descriptor is not FUSE: the kernel wants /dev/fuse's
    assert out(vpsd, name, t, "mount", "x", "/mnt/f", "fuse",
               "fd=0,rootmode=40000,user_id=0,group_id=0").strip() in ("EINVAL", "EPERM")
    # nesting: no user namespace by any call, so no container inside
    assert out(vpsd, name, t, "userns").strip() == "unshare EPERM clone EPERM clone3 ENOSYS"
    r = ex(vpsd, name, t, "nest")
    assert r["status"] != 0 and "unshare EPERM" in r["stdout"], r
    r = ex(vpsd, name, "unshare", "-Urpf", "--mount-proc", "true")
    assert r["status"] != 0 and "Operation not permitted" in r["stderr"], r
    assert "/dev/.vps" not in out(vpsd, name, "cat", "/proc/mounts")
    # namespaces without a user namespace stay (systemd's PrivateTmp= and the like)
    r = ex(vpsd, name, "unshare", "-m", "true")
    assert r["status"] == 0, r
    # the host is as it was (other runs add and remove their own links meanwhile)
    assert "vpn0" not in host_links() - links
    assert host_fuse_mounts() == fuse_before


def test_features_change_plans_and_cli(vpsd):
    name = unique("fch")
    ct(vpsd, name, start=True)
    # bad lists are refused with the field named
    for bad, what in ((["vpn"], "`features[0]`"), (["tun", "tun"], "given twice"),
                      ("tun", "`features`")):
        st, j = vpsd.request("PATCH", f"/api/v1/vps/{name}", {"features": bad},
                             validate=False)
        assert st == 400 and what in j["error"]["message"], (bad, j)
    # the switches are devices and mounts: a change applies from the next start
    r = vpsd.api("PATCH", f"/vps/{name}", {"features": ["tun"]})
    assert r["live"] is False and r["vps"]["features"] == ["tun"], r
    assert ex(vpsd, name, "ls", "/dev/net/tun")["status"] != 0
    vpsd.api("POST", f"/vps/{name}/restart")
    assert ex(vpsd, name, "ls", "/dev/net/tun")["status"] == 0
    assert ex(vpsd, name, "ls", "/dev/fuse")["status"] != 0
    # the CLI: `vps set NAME features=...`, `features=` for none, `vps show`
    env = dict(os.environ, VPS_SOCKET=str(vpsd.sock))
    cli = [str(CLI)]
    r = subprocess.run(cli + ["set", name, "features=fuse,nesting"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r
    assert vpsd.api("GET", f"/vps/{name}")["features"] == ["fuse", "nesting"]
    r = subprocess.run(cli + ["show", name], env=env, capture_output=True, text=True)
    assert re.search(r"\nfeatures:\n  - fuse\n  - nesting\n", r.stdout), r.stdout
    r = subprocess.run(cli + ["set", name, "features=bogus"], env=env, capture_output=True,
                       text=True)
    assert r.returncode == 2 and "not a feature" in r.stderr, r
    r = subprocess.run(cli + ["set", name, "features="], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r
    assert vpsd.api("GET", f"/vps/{name}")["features"] == []
    # a plan carries them, and the IO limits, to the VPSes made from it
    vpsd.api("POST", "/plans", {"name": "vpn", "ram": "128M", "disk": "64M", "cpus": 1,
                                "features": ["tun"], "io_read_bps": "8M",
                                "io_write_iops": 200}, expect=201)
    p = vpsd.api("GET", "/plans/vpn")
    assert p["features"] == ["tun"] and p["io_read_bps"] == 8 << 20, p
    assert p["io_write_iops"] == 200 and p["io_write_bps"] == 0, p
    v = vpsd.api("POST", "/vps", {"name": unique("fpl"), "kind": "ct", "template": "busybox",
                                   "plan": "vpn"}, expect=201)
    assert v["features"] == ["tun"] and v["io_read_bps"] == 8 << 20, v
    assert v["io_write_iops"] == 200, v
    # the plan's switches and limits on a move to it
    vpsd.api("POST", f"/vps/{name}/plan", {"plan": "vpn"})
    r = vpsd.api("GET", f"/vps/{name}")
    assert r["features"] == ["tun"] and r["io_read_bps"] == 8 << 20, r


# ---- vswap as sold, swapon as a no-op ----

def test_vswap_shown_as_sold_and_swapon_is_a_noop(vpsd):
    name = unique("fsw")
    before = host_swaps()
    ct(vpsd, name, swap="64M", start=True)
    with_helper(vpsd, name)
    # busybox free (sysinfo(), which vps-ct answers): Swap total 64M in KiB
    free = out(vpsd, name, "free")
    swap = [l.split() for l in free.splitlines() if l.startswith("Swap:")]
    assert swap and int(swap[0][1]) == 65536, free
    # /proc/meminfo (procps free reads it), which vps-ctm serves: the same
    mem = out(vpsd, name, "cat", "/proc/meminfo")
    assert "\nSwapTotal:         65536 kB\n" in mem, mem
    # swapon and swapoff answer 0 without the kernel seeing them: any path, even none
    ex(vpsd, name, "dd", "if=/dev/zero", "of=/swapfile", "bs=1k", "count=64")
    for path in ("/swapfile", "/nonexistent"):
        assert out(vpsd, name, "/sbin/vps-test", "swap", "on", path).strip() == "swapon ok"
        assert out(vpsd, name, "/sbin/vps-test", "swap", "off", path).strip() == "swapoff ok"
    # busybox's own, as an installer runs them (mkswap first: a real swap signature)
    for cmd in (["mkswap", "/swapfile"], ["swapon", "/swapfile"], ["swapoff", "/swapfile"]):
        r = ex(vpsd, name, *cmd)
        assert r["status"] == 0, (cmd, r)
    # nothing changed on the host, nor in what the container is allowed
    assert host_swaps() == before
    free = out(vpsd, name, "free")
    swap = [l.split() for l in free.splitlines() if l.startswith("Swap:")]
    assert int(swap[0][1]) == 65536, free


# ---- IO limits through the API; a reboot keeps them and is an event ----

def blkio_file(pid, leaf):
    """The container's blkio (v1) or io (v2) file of this name, by its init's cgroup."""
    for line in open(f"/proc/{pid}/cgroup"):
        _, ctrls, path = line.rstrip("\n").split(":", 2)
        if "blkio" in ctrls.split(","):
            return f"/sys/fs/cgroup/blkio{path}/{leaf}"
        if ctrls == "" and os.path.exists(f"/sys/fs/cgroup{path}/io.max"):
            return f"/sys/fs/cgroup{path}/io.max"
    raise AssertionError(open(f"/proc/{pid}/cgroup").read())


def io_limits(pid):
    """{file: text} of the throttles, v1 or v2."""
    f = blkio_file(pid, "blkio.throttle.read_bps_device")
    if f.endswith("io.max"):
        return {"io.max": open(f).read()}
    d = os.path.dirname(f)
    return {k: open(f"{d}/blkio.throttle.{k}").read()
            for k in ("read_bps_device", "write_bps_device", "read_iops_device",
                      "write_iops_device")}


def test_io_limits_survive_a_reboot_which_is_an_event(vpsd):
    host = vpsd.api("GET", "/host")
    lim = host["limits"]["ct"]["limits"]
    if not (lim["io_bps"]["enforced"] and lim["io_iops"]["enforced"]):
        pytest.skip(f"this host enforces no IO throttle: {lim['io_bps']}")
    name = unique("fio")
    net = unique("n")
    n = vpsd.api("POST", "/networks", {"name": net, "ipv4": "10.231.22.1/24"}, expect=201)
    try:
        # a VPS's host device is `vps` + its id, and every fresh vpsd counts ids from 1:
        # skip the ids whose device another vpsd on this host holds now
        made = 0
        while os.path.exists(f"/sys/class/net/vps{made + 1}") and made < 50:
            ct(vpsd, unique("skip"))
            made += 1
        v = ct(vpsd, name, io_read_bps="20M", io_write_iops=300, network=net, bw=20_000_000,
               start=True)
        assert v["io_read_bps"] == 20 << 20 and v["io_write_iops"] == 300, v
        pid = init_pid(vpsd, name)
        lims = io_limits(pid)
        text = " ".join(lims.values())
        assert str(20 << 20) in text and "300" in text, lims
        # live: a write bandwidth on top, the read limit lifted
        r = vpsd.api("PATCH", f"/vps/{name}", {"io_write_bps": "10M", "io_read_bps": 0})
        assert r["live"] is True, r
        lims = io_limits(pid)
        text = " ".join(lims.values())
        assert str(10 << 20) in text and str(20 << 20) not in text and "300" in text, lims
        dev = json.loads((vpsd.data / "vps" / name / "ct.json").read_text())["net"]["host_ifname"]
        assert "tbf" in subprocess.run(["tc", "qdisc", "show", "dev", dev],
                                       capture_output=True, text=True).stdout
        # a reboot from inside: a new init, a new cgroup and veth; the limits are back
        vpsd.api("POST", f"/vps/{name}/exec", {"args": ["reboot"]})
        ev = wait_event(vpsd, name, "rebooted")
        assert "booted again (1" in ev[-1]["message"], ev
        deadline = time.monotonic() + 30
        while init_pid(vpsd, name) in (pid, None) and time.monotonic() < deadline:
            time.sleep(0.2)
        new = init_pid(vpsd, name)
        assert new != pid and vpsd.api("GET", f"/vps/{name}")["monitor"]["boots"] == 2
        lims = io_limits(new)
        text = " ".join(lims.values())
        assert str(10 << 20) in text and "300" in text, lims
        assert vpsd.api("GET", f"/vps/{name}")["state"] == "running"
        # the veth is new: the bandwidth limit was put back on it
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            q = subprocess.run(["tc", "qdisc", "show", "dev", dev], capture_output=True,
                               text=True).stdout
            if "tbf" in q:
                break
            time.sleep(0.2)
        assert "tbf" in q, q
        # every limit lifted, live: nothing of them left in the cgroup
        r = vpsd.api("PATCH", f"/vps/{name}", {"io_write_bps": 0, "io_write_iops": 0})
        assert r["live"] is True, r
        lims = io_limits(new)
        assert not any(re.search(r"\d+:\d+ [1-9]|[rw](bps|iops)=\d", t)
                       for t in lims.values()), lims
    finally:
        for x in vpsd.api("GET", "/vps"):
            vpsd.request("DELETE", f"/api/v1/vps/{x['name']}")
        vpsd.request("DELETE", f"/api/v1/networks/{net}")
    assert n["name"] == net
