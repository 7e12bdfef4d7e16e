# SPDX-License-Identifier: GPL-2.0-or-later
"""vps-ctm, the system-container monitor (src/ctm, docs/ctm.md), on the
busybox template: the life of a container (create, run, reboot and
poweroff inside, graceful and hard stops, destroy, the run lock), a login
on its console, configs it must refuse, its limits (memory, CPU, pids,
disk) live and at boot, `free` inside, bridged networking between two
containers, and /dev/net/tun on request. The `ctm` fixture (conftest.py,
framework/ctm.py) checks after every test that nothing was left on the
host: monitor, mount, loop device, cgroup, veth.

Run as root: /usr/bin/python3 -m pytest -q -p no:cacheprovider test_ctm.py"""

import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from framework.ct import INIT, wait_for
from framework.terminal import Terminal
from framework.ctm import (EXIT_CONFIG, EXIT_KILLED, EXIT_POWEROFF, VPS_CTM, Ctm, ctm as run_ctm,
                           ensure_lxcfs, template)

MIB = 1 << 20


@pytest.fixture(scope="module")
def lxcfs():
    why = ensure_lxcfs()
    if why:
        pytest.skip(f"lxcfs cannot run here: {why}")


def running(ct):
    """ct created and started."""
    ct.create()
    ct.start()
    return ct


# ---- lifecycle ----

def test_lifecycle(ctm):
    ct = ctm(hostname="box-one")
    ct.create()
    assert ct.dir.is_dir() and ct.disk_img.is_file() and not ct.mounted()
    st = ct.start()
    assert st["state"] == "running" and st["boots"] == 1 and st["init"] == "busybox"
    assert ct.exec("cat", "/run/boot").strip() == "rcS: up"
    assert ct.exec("hostname").strip() == "box-one"
    assert ct.mounted()
    r = ct.destroy(check=False)
    assert r.returncode != 0 and "running" in r.stderr, r
    assert ct.disk_img.is_file()

    # reboot inside: the monitor starts the init again
    ct.exec_r("reboot")
    st = ct.wait_state("running", timeout=30, boots=2)
    assert ct.exec("cat", "/run/boot").strip() == "rcS: up"
    assert ct.running()

    # poweroff inside: the monitor exits 0 and unmounts the disk
    ct.exec_r("poweroff")
    assert ct.wait(timeout=30) == EXIT_POWEROFF, ct.output()
    assert not ct.mounted() and not ct.cgroup_dirs()
    # an autoclear loop device is freed from a kernel work queue, a moment after its last close
    assert wait_for(lambda: not ct.loop_devices()), ct.loop_devices()
    assert not ct.control_sock.exists()
    ct.destroy()
    assert not ct.dir.exists()


def test_shutdown(ctm):
    """The init powers off when asked: exit 0 (EXIT_POWEROFF), where one
    killed at the stop timeout exits 5 (test_shutdown_timeout). The request
    gives it 60 s, not the default 10: busybox init calls sync() twice on
    its way down, which flushes the whole host's dirty pages (no per-container
    sync in Linux). While other work wrote disk images that went over 10 s
    in a suite run and in one of two runs of this file (2026-12-07); 2.3 GB
    of dirty pages made the shutdown 4 s slower."""
    ct = running(ctm())
    assert ct.ctl({"cmd": "shutdown", "timeout": 60})["ok"]
    assert ct.wait(timeout=30) == EXIT_POWEROFF, ct.output()
    assert not ct.mounted() and not ct.cgroup_dirs()


def test_shutdown_timeout(ctm):
    """An init that does not answer the stop signal is killed after the
    request's timeout: exit 5."""
    ct = running(ctm())
    pid = ct.state()["pid"]
    os.kill(pid, signal.SIGSTOP)
    t = time.monotonic()
    assert ct.ctl({"cmd": "shutdown", "timeout": 2})["ok"]
    assert ct.state()["state"] == "stopping"
    assert ct.wait(timeout=30) == EXIT_KILLED, ct.output()
    took = time.monotonic() - t
    assert 1.8 < took < 6, took
    assert not ct.mounted() and not ct.cgroup_dirs()


def test_stop(ctm):
    ct = running(ctm())
    assert ct.ctl({"cmd": "stop"})["ok"]
    assert ct.wait(timeout=30) == EXIT_KILLED, ct.output()
    assert not ct.mounted() and not ct.cgroup_dirs()


def test_run_twice_refused(ctm):
    ct = running(ctm())
    r = subprocess.run([str(ct.proc.args[0]), "run", str(ct.path)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0 and "lock" in r.stderr, r
    # the first one is untouched
    assert ct.state()["state"] == "running"
    assert ct.exec("true") == ""


def test_control_errors(ctm):
    ct = running(ctm())
    assert not ct.ctl("not json")["ok"]
    r = ct.ctl({"cmd": "fly"})
    assert not r["ok"] and "unknown command" in r["error"]
    r = ct.ctl({"cmd": "shutdown", "timeout": 0})
    assert not r["ok"] and "timeout" in r["error"]
    r = ct.ctl({"cmd": "set", "disk": "1G"})
    assert not r["ok"] and "disk" in r["error"]
    # disk-copy writes only a new file at an absolute path without `..`
    for to in ["relative.img", "/tmp/../etc/x", "/tmp/..", 7, None]:
        r = ct.ctl({"cmd": "disk-copy", "to": to})
        assert not r["ok"] and "`to`" in r["error"], (to, r)
    r = ct.ctl({"cmd": "disk-copy", "to": "/etc/hostname"})  # exists: never overwritten
    assert not r["ok"] and "File exists" in r["error"], r
    assert ct.state()["state"] == "running"  # thawed after the refusal
    assert ct.exec("true") == ""
    assert ct.state()["state"] == "running"



def nices(pid):
    """The nice value of each thread of PID (field 19 of /proc/PID/task/TID/stat)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        out[tid] = int(stat[stat.rindex(")") + 2:].split()[16])
    return out


def test_disk_copy_running_steps(ctm, tmp_path):
    """disk-copy of a running container: the copy is the disk as the container
    wrote it, the reply gives each step of the pause in ms (presync and the
    copy's file before it, the fsync after it), the container is thawed and
    the monitor back at its own priority (raised to nice -20 only for the pause)."""
    ct = running(ctm())
    ct.exec("sh", "-c", "echo snap-me > /root/marker; sync")
    before = nices(ct.proc.pid)
    to = tmp_path / "copy.img"
    r = ct.ctl({"cmd": "disk-copy", "to": str(to)})
    assert r["ok"], r
    ms = r["ms"]
    steps = ["before", "prefreeze", "freezer", "fifreeze", "copy", "fithaw", "thaw", "paused",
             "fsync"]
    assert sorted(ms) == sorted(steps), ms
    assert all(isinstance(ms[k], (int, float)) and ms[k] >= 0 for k in steps), ms
    inside = sum(ms[k] for k in ("freezer", "fifreeze", "copy", "thaw"))  # FITHAW after it
    assert inside <= ms["paused"] + 0.1 and ms["paused"] <= inside + 50, ms
    assert f"disk-copy `{ct.name}` (ms): " in ct.log.read_text()
    assert to.stat().st_size == ct.disk_img.stat().st_size and (to.stat().st_mode & 0o777) == 0o600
    r = subprocess.run(["debugfs", "-R", "cat /root/marker", str(to)], capture_output=True,
                       text=True, timeout=60)
    assert r.stdout.strip() == "snap-me", (r.stdout, r.stderr)
    fz = ct.cgroup("freezer")
    assert ((fz / "freezer.state").read_text().strip() == "THAWED" if (fz / "freezer.state").exists()
            else (fz / "cgroup.freeze").read_text().strip() == "0")
    assert ct.exec("cat", "/root/marker").strip() == "snap-me"
    assert nices(ct.proc.pid) == before
    # a copy that cannot be made leaves no file and the container running
    r = ct.ctl({"cmd": "disk-copy", "to": str(tmp_path / "no-such-dir" / "x.img")})
    assert not r["ok"] and "create" in r["error"], r
    assert not (tmp_path / "no-such-dir").exists() and ct.state()["state"] == "running"


# ---- console ----

def login(con, password):
    con.send("\r")
    con.read_until(rb"login: ", timeout=20)
    con.send("root\r")
    con.read_until(rb"Password: ", timeout=10)
    time.sleep(0.2)  # login turns echo off around the prompt
    con.send(password + "\r")
    con.read_until(rb"# ", timeout=10)


def test_console_login(ctm):
    ct = running(ctm(root_password="c0nsole pw"))
    with ct.console() as con:
        login(con, "c0nsole pw")
        con.send("echo $((6*7))\r")
        con.read_until(rb"\r\n42\r\n", timeout=10)
        assert b"c0nsole pw" not in con.data, "the password was echoed"
    # a second client sees what the console said before it came
    with ct.console() as con:
        con.read_until(rb"\r\n42\r\n", timeout=5)
        con.send("echo again$((1+1))\r")
        con.read_until(rb"again2", timeout=10)


@pytest.mark.parametrize("leave", ["escape", "sigterm"])
def test_console_client_on_a_terminal(ctm, leave):
    """`vps-ctm console` on a terminal of its own (src/sys/tty.c, the loop of
    `vps console` too): raw while attached, a login prompt; Ctrl-] detaches
    with 0, a SIGTERM ends it with 128+15; either way the terminal is as it
    was (a kill used to leave it raw)."""
    ct = running(ctm())
    with Terminal([VPS_CTM, "console", ct.path]) as t:
        t.read_until(b"Ctrl-] detaches")
        assert t.raw()
        t.type(b"\r")
        t.read_until(b"login:")
        if leave == "escape":
            t.type(b"\x1d")
        else:
            t.proc.send_signal(signal.SIGTERM)
        assert t.proc.wait(timeout=30) == (0 if leave == "escape" else 128 + signal.SIGTERM)
        assert t.restored()
    assert ct.running()  # the container does not notice a client leaving


def test_console_wrong_password(ctm):
    ct = running(ctm(root_password="right"))
    with ct.console() as con:
        con.send("\r")
        con.read_until(rb"login: ", timeout=20)
        con.send("root\r")
        con.read_until(rb"Password: ", timeout=10)
        time.sleep(0.2)
        con.send("wrong\r")
        con.read_until(rb"Login incorrect", timeout=15)


# ---- configs it refuses ----

GOOD = {"memory": "128M", "disk": "64M"}


@pytest.mark.parametrize("change,key", [
    ({"colour": "blue"}, "colour"),
    ({"name": "Bad_Name"}, "name"),
    ({"memory": "12Q"}, "memory"),
    ({"disk": "lots"}, "disk"),
    ({"net": {"bridge": "br0", "ipv4": "10.0.0.300/24"}}, "net.ipv4"),
    ({"net": {"bridge": "br0", "ipv4": "fd00::1/64"}}, "net.ipv4"),
    ({"net": {"bridge": "br0", "mac": "01:00:5e:00:00:01"}}, "net.mac"),
    ({"net": {"bridge": "br0", "mac": "02:00:00:00:01"}}, "net.mac"),
    ({"net": {"bridge": "br0", "speed": 10}}, "net.speed"),
    ({"ssh_keys": ["hello there"]}, "ssh_keys[0]"),
    ({"cpus": -1}, "cpus"),
    ({"dir": "relative/dir"}, "dir"),
    ({"rescue_dir": "rescue"}, "rescue_dir"),
    ({"rescue_dir": "/srv/../etc"}, "rescue_dir"),
    ({"rescue_dir": 7}, "rescue_dir"),
])
def test_bad_config(tmp_path, change, key):
    ct = Ctm(tmp_path, template(), **GOOD)
    ct.config.update(change)
    ct.write_config()
    try:
        r = ct.create(check=False)
        assert r.returncode == EXIT_CONFIG, r
        assert f"`{key}`" in r.stderr, r.stderr
        assert not ct.dir.exists()
        r = run_ctm("run", ct.path, timeout=30)
        assert r.returncode == EXIT_CONFIG and f"`{key}`" in r.stderr, r
    finally:
        ct.cleanup()


def test_missing_template(tmp_path):
    ct = Ctm(tmp_path, tmp_path / "no-such-template.tar.zst")
    try:
        r = ct.create(check=False)
        assert r.returncode != 0 and "template" in r.stderr, r
        assert "no-such-template" in r.stderr
        assert not ct.dir.exists()
    finally:
        ct.cleanup()


def test_create_failure_leaves_nothing(tmp_path):
    """A template tar cannot unpack: create fails after it made the disk
    and mounted it, and takes it all away again."""
    bad = tmp_path / "broken.tar"
    bad.write_bytes(b"this is not a tarball\n" * 100)
    ct = Ctm(tmp_path, bad)
    try:
        r = ct.create(check=False)
        assert r.returncode != 0 and "unpack" in r.stderr, r
        assert not ct.dir.exists()
        assert ct.leftovers() == []
    finally:
        ct.cleanup()


# ---- limits ----

def test_memory_oom(ctm):
    """A process that grows without bound is killed at the limit (no host
    swap here: at memory); the container goes on."""
    ct = running(ctm(memory="64M", swap="0"))
    mem = ct.cgroup("memory")
    r = ct.exec_r("sh", "-c", "tail /dev/zero; echo status=$?", timeout=120)
    assert "status=137" in r.stdout, r
    assert (mem / "memory.max_usage_in_bytes").exists()
    assert int((mem / "memory.max_usage_in_bytes").read_text()) <= 64 * MIB
    oom = dict(ln.split() for ln in (mem / "memory.oom_control").read_text().splitlines())
    assert int(oom.get("oom_kill", 1)) >= 1
    assert ct.state()["state"] == "running"
    assert ct.exec("cat", "/run/boot").strip() == "rcS: up"


def cpu_usage(ct, seconds=3.0):
    """Cores the container used over SECONDS."""
    f = ct.cgroup("cpuacct") / "cpuacct.usage"
    a, t0 = int(f.read_text()), time.monotonic()
    time.sleep(seconds)
    b, t1 = int(f.read_text()), time.monotonic()
    return (b - a) / 1e9 / (t1 - t0)


def test_cpu_limit(ctm):
    ct = running(ctm(cpus=0.5))
    hog = subprocess.Popen(
        [str(ct.proc.args[0]), "exec", str(ct.path), "--", "sh", "-c",
         "for i in 1 2; do timeout 30 sh -c 'while :; do :; done' & done; wait"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)  # the two loops running (exec of the ASan build takes a while)
        used = cpu_usage(ct, 4.0)
        # the cap is what is tested; the floor only says the hog ran (other
        # tests share this 2-core host)
        assert 0.15 < used < 0.7, used
        r = ct.ctl({"cmd": "set", "cpus": 1.0})
        assert r == {"ok": True, "live": True}, r
        assert int((ct.cgroup("cpu") / "cpu.cfs_quota_us").read_text()) == 100000
        time.sleep(0.5)
        # 1.0 of this host's 2 cores: less when other tests load the host
        more = cpu_usage(ct, 4.0)
        assert more < 1.25 and (more > used * 1.3 or more > 0.8), (used, more)
    finally:
        hog.kill()
        hog.wait()
        ct.exec_r("sh", "-c", "pkill -9 timeout; true")


def test_set_memory(ctm, lxcfs):
    ct = running(ctm(memory="128M"))
    mem = ct.cgroup("memory")
    assert int((mem / "memory.limit_in_bytes").read_text()) == 128 * MIB

    def memtotal():
        for ln in ct.exec("cat", "/proc/meminfo").splitlines():
            if ln.startswith("MemTotal:"):
                return int(ln.split()[1])
    assert memtotal() == 128 * 1024
    assert ct.ctl({"cmd": "set", "memory": "200M"}) == {"ok": True, "live": True}
    assert int((mem / "memory.limit_in_bytes").read_text()) == 200 * MIB
    assert memtotal() == 200 * 1024
    r = ct.ctl({"cmd": "set", "memory": "1M"})
    assert not r["ok"] and "memory" in r["error"]
    assert int((mem / "memory.limit_in_bytes").read_text()) == 200 * MIB


def test_pids_fork_bomb(ctm):
    ct = running(ctm(pids=64))
    pids = ct.cgroup("pids")
    assert (pids / "pids.max").read_text().strip() == "64"
    init = ct.state()["pid"]
    bomb = subprocess.Popen(
        [str(ct.proc.args[0]), "exec", str(ct.path), "--", "timeout", "-s", "KILL", "8",
         "sh", "-c", "f() { f | f & }; f; sleep 8"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    end = time.monotonic() + 4
    while time.monotonic() < end:
        peak = max(peak, int((pids / "pids.current").read_text()))
        time.sleep(0.02)
    assert peak <= 64
    assert int((pids / "pids.events").read_text().split()[1]) > 0  # forks refused
    # the host is fine
    assert subprocess.run(["true"]).returncode == 0
    # end the bomb from the host: whatever runs `f` in the container
    bomb.kill()
    bomb.wait()
    end = time.monotonic() + 20
    while time.monotonic() < end:
        left = 0
        for p in (pids / "cgroup.procs").read_text().split():
            try:
                cmd = Path(f"/proc/{p}/cmdline").read_bytes()
            except OSError:
                continue
            if int(p) != init and (b"f | f" in cmd or b"timeout" in cmd):
                left += 1
                try:
                    os.kill(int(p), signal.SIGKILL)
                except OSError:
                    pass
        if not left:
            break
        time.sleep(0.1)
    assert ct.exec("echo", "alive").strip() == "alive"
    assert ct.state()["state"] == "running"


def test_free(ctm, lxcfs):
    ct = running(ctm(memory="96M"))
    rows = {ln.split()[0].rstrip(":"): ln.split()[1:]
            for ln in ct.exec("free").splitlines()[1:]}
    assert int(rows["Mem"][0]) == 96 * 1024, rows


def test_disk_quota(ctm):
    ct = running(ctm(disk="64M"))
    r = ct.exec_r("dd", "if=/dev/zero", "of=/fill", "bs=1M", timeout=120)
    assert r.returncode != 0 and "No space left on device" in r.stderr, r
    st = ct.disk_img.stat()
    assert st.st_size == 64 * MIB
    assert st.st_blocks * 512 <= 64 * MIB
    stats = ct.ctl({"cmd": "stats"})
    assert stats["disk_allocated"] <= 64 * MIB
    assert ct.state()["state"] == "running"
    ct.exec("rm", "/fill")
    assert ct.exec("echo", "ok").strip() == "ok"


# ---- network ----

@pytest.fixture
def bridge():
    n = random.randint(1, 250)
    name = f"vpst{n}"
    subprocess.run(["ip", "link", "del", name], capture_output=True)
    for cmd in (["ip", "link", "add", name, "type", "bridge"],
                ["ip", "addr", "add", f"10.99.{n}.1/24", "dev", name],
                ["ip", "addr", "add", f"fd99:{n}::1/64", "dev", name, "nodad"],
                ["ip", "link", "set", name, "up"]):
        subprocess.run(cmd, check=True)
    yield name, n
    subprocess.run(["ip", "link", "del", name], capture_output=True)


def until(fn, seconds=10):
    """fn() until it is true (IPv6 DAD, bridge learning); its last value.
    A wait for a state, not a retry of a failure (framework/retry.py)."""
    end = time.monotonic() + seconds
    while True:
        r = fn()
        if r or time.monotonic() > end:
            return r
        time.sleep(0.3)


def test_network(ctm, bridge):
    br, n = bridge
    cts = []
    for i in (2, 3):
        cts.append(ctm(net={"bridge": br, "ipv4": f"10.99.{n}.{i}/24", "gw4": f"10.99.{n}.1",
                            "ipv6": f"fd99:{n}::{i}/64", "gw6": f"fd99:{n}::1",
                            "nameservers": ["10.99.0.53", "fd99::53"]}))
    for ct in cts:
        running(ct)
        assert os.path.exists(f"/sys/class/net/{ct.host_ifname}/brport")
    a, b = cts
    resolv = a.exec("cat", "/etc/resolv.conf")
    assert "nameserver 10.99.0.53" in resolv and "nameserver fd99::53" in resolv

    def host_ping(addr):
        return subprocess.run(["/bin/busybox", "ping", "-c1", "-W2", addr],
                              capture_output=True).returncode == 0

    def ct_ping(ct, *args):
        return ct.exec_r("ping", "-c1", "-W2", *args).returncode == 0

    for i in (2, 3):
        assert until(lambda: host_ping(f"10.99.{n}.{i}")), f"host -> .{i}"
        assert until(lambda: host_ping(f"fd99:{n}::{i}")), f"host -> ::{i}"
    assert until(lambda: ct_ping(a, f"10.99.{n}.3")), a.exec_r("ip", "addr").stdout
    assert until(lambda: ct_ping(a, "-6", f"fd99:{n}::3")), a.exec_r("ip", "-6", "addr").stdout
    assert until(lambda: ct_ping(b, f"10.99.{n}.1"))
    assert "default via 10.99" in a.exec("ip", "route")
    st = a.ctl({"cmd": "stats"})
    assert st["rx_packets"] > 0 and st["tx_packets"] > 0, st
    for ct in cts:
        assert ct.ctl({"cmd": "shutdown"})["ok"]
        assert ct.wait(timeout=30) == EXIT_POWEROFF
        assert not ct.veth_exists()


# ---- tun ----

def put_helper(ct):
    """The static test helper (tests/ct/init.c) into the running
    container's rootfs, as /vps-ct-init."""
    dst = ct.rootfs / "vps-ct-init"
    shutil.copyfile(INIT, dst)
    dst.chmod(0o755)
    return "/vps-ct-init"


def test_tun_off(ctm):
    ct = running(ctm())
    assert ct.exec_r("ls", "/dev/net/tun").returncode != 0
    helper = put_helper(ct)
    r = ct.exec_r(helper, "tun", "tun0")
    assert r.returncode != 0 and "tun open: ENOENT" in r.stdout, r
    # make the node by hand: mknod is refused (user namespace), and were
    # a node there, the device cgroup would refuse the open
    r = ct.exec_r("sh", "-c", "mkdir -p /dev/net && mknod /dev/net/tun c 10 200")
    assert r.returncode != 0, r
    r = ct.exec_r(helper, "tun", "tun0")
    assert r.returncode != 0 and "tun open:" in r.stdout, r
    devices = (ct.cgroup("devices") / "devices.list").read_text()
    assert "c 10:200" not in devices


def test_tun_on(ctm):
    """Works whatever the host's node's mode (0600 here, with no udev):
    vps-ctm binds a 0666 node of its own."""
    ct = running(ctm(tun=True))
    assert ct.exec("ls", "-l", "/dev/net/tun").startswith("c")
    helper = put_helper(ct)
    r = ct.exec_r(helper, "tun", "tun0")
    assert r.returncode == 0 and r.stdout.strip() == "tun tun0", r
    # the device goes with the file: not left in the container's netns
    assert "tun0" not in ct.exec("ip", "link")


def test_spec_is_json(ctm):
    ct = ctm(tun=True)
    r = ct.ctm("spec")
    assert r.returncode == 0, r
    spec = json.loads(r.stdout)
    assert spec["annotations"]["org.vps.console"] == "noctty"
    tun = [m for m in spec["mounts"] if m["destination"] == "/dev/net/tun"]
    assert tun and tun[0]["source"].endswith("/dev-net-tun"), spec["mounts"]
    assert spec["root"]["path"] == f"{ct.dir}/rootfs"
    assert not [m for m in spec["mounts"] if m["destination"] == "/mnt"], spec["mounts"]
    # rescue mode (docs/rescue.md): the rescue system's root, the container's own at /mnt
    ct.config["rescue_dir"] = f"{ct.dir}-rescue"
    ct.write_config()
    spec = json.loads(ct.ctm("spec").stdout)
    assert spec["root"]["path"] == f"{ct.dir}-rescue/rootfs", spec["root"]
    mnt = [m for m in spec["mounts"] if m["destination"] == "/mnt"]
    assert mnt == [{"destination": "/mnt", "type": "bind", "source": f"{ct.dir}/rootfs",
                    "options": ["rbind", "nosuid", "nodev"]}], mnt
    ct.config["rescue_dir"] = str(ct.dir)
    ct.write_config()
    r = ct.ctm("spec")
    assert r.returncode == EXIT_CONFIG and "`rescue_dir`: must not be `dir`" in r.stderr, r


def test_io_limits(ctm):
    """The disk limits hold on the container's own disk (its loop device),
    and change live: 20 MiB of direct writes at 5 MiB/s take ~4 s, at
    40 MiB/s well under 2."""
    ct = running(ctm(disk="256M", io_write_bps="5M"))

    def write20():
        t = time.monotonic()
        r = ct.exec_r("dd", "if=/dev/zero", "of=/f", "bs=1M", "count=20", "oflag=direct")
        assert r.returncode == 0, r
        return time.monotonic() - t
    slow = write20()
    assert 3.2 < slow < 8, slow
    assert ct.ctl({"cmd": "set", "io_write_bps": "40M"}) == {"ok": True, "live": True}
    fast = write20()
    assert fast < slow / 2, (slow, fast)
    r = ct.ctl({"cmd": "set", "io_write_bps": "fast"})
    assert not r["ok"] and "`io_write_bps`" in r["error"], r
