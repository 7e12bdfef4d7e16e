# SPDX-License-Identifier: GPL-2.0-or-later
"""The `vm` kind through the daemon, driven only by the CLI (`vps` with
VPS_SOCKET on a private vpsd), debian-12 template, a login on the serial
console (framework/console.py, on the socket the API names):

- vm/qemu on this machine, whose PVM /dev/kvm has no VMX/SVM: QEMU's
  software CPU. create, start, login and `hostname` and the SSH key (set by
  cloud-init from the read-only NoCloud seed), show (monitor, accel), a live
  balloon `set ram`, a graceful stop (power button, exit 0), a root password
  reset while stopped (a new seed) and a login with the new password after
  the next start, restart and a login by the VM's owner (a customer) over
  the panel's WebSocket console, a guest `reboot -f` (QEMU resets in place:
  same process, still running), stop --force, destroy (no file, process or
  run dir left).
- vm/vmm in the nested test host L1, where KVM is real: a private vpsd
  inside L1, create, start, login, a guest `reboot -f` (vps-vmm exits 3, the
  keeper starts it again, the daemon records `rebooted`), graceful stop,
  destroy. One cycle; a boot that hangs in the emulated SVM, or a cycle
  during which L1 stops answering, is retried once in all (framework/retry.py);
  a guest crash (exit status 4) or a failed forced stop fails the test.

See docs/vpsd.md ("VM kinds"). Run as root:
    VPS_BUILD=/work/main/build-test /usr/bin/python3 -m pytest -q test_vpsd_vm.py"""

import glob
import json
import os
import re
import shlex
import subprocess
import threading
import time
from pathlib import Path

import pytest
import websocket

from framework import artefacts
from framework.agent import ChannelError
from framework.console import Console
from framework.ct import BUILD
from framework.jail import SIGSYS, assert_jailed, kill_with_foreign_syscall
from framework.retry import ATTEMPTS, LAST, retry
from framework.vpsd import VPSD, Vpsd, free_port, raise_spec_errors

VPS = BUILD / "src" / "cli" / "vps"
MKVMTEMPLATE = artefacts.TOP / "src" / "host" / "templates" / "mkvmtemplate"
CONSOLE_PY = Path(__file__).resolve().parent / "framework" / "console.py"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHvpsdvmtestkeyvpsdvmtestkeyvpsdvmtest0 t@vps"
# software CPU: a boot to the login prompt is 30 to 60 s on this 2-core host
QEMU_LOGIN_TIMEOUT = 300
L1_LOGIN_TIMEOUT = 420


@pytest.fixture(scope="session")
def vm_template_cached(timings):
    """The debian-12 VM template, built on the host (into /var/cache/vps)
    before anything boots L1, so L1 finds it in its view of the host."""
    t0 = time.monotonic()
    r = subprocess.run([str(MKVMTEMPLATE), "debian-12"], capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stderr
    timings.append(("mkvmtemplate debian-12 (before L1)", time.monotonic() - t0))
    return Path(r.stdout.strip())


@pytest.fixture
def daemon():
    if not VPS.exists():
        pytest.fail(f"{VPS} is not built: ninja -C $VPS_BUILD")
    d = Vpsd().start()
    yield d
    d.cleanup()


def vps(d, *args, timeout=600):
    """The CLI, through a proxy that checks its answers against the description."""
    r = subprocess.run([str(VPS), *args], capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, VPS_SOCKET=str(d.checked().sock)),
                       stdin=subprocess.DEVNULL)
    raise_spec_errors()
    assert r.returncode == 0, r
    return r.stdout


def show(d, name):
    return json.loads(vps(d, "show", name, "--format", "json"))


def console_path(d, name):
    return d.api("GET", f"/vps/{name}/console")["path"]


def events(d, name):
    return [e["kind"] for e in d.api("GET", f"/events?vps={name}")]


def procs_under(path, prog=b""):
    """Pids whose command line names PATH (a VPS's monitor, its keeper);
    with PROG, only those whose argv[0] ends so."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes()
            except OSError:
                continue
            if str(path).encode() in cmd and cmd.split(b"\0")[0].endswith(prog):
                out.append(int(p.name))
    return out


def qemu_of(vdir):
    return procs_under(vdir / "disk.img", b"qemu-system-x86_64")


def until(cond, timeout, what):
    t0 = time.monotonic()
    while not (v := cond()):
        assert time.monotonic() - t0 < timeout, f"not {what} within {timeout} s"
        time.sleep(0.2)
    return v


@pytest.fixture
def tcp_daemon():
    """A vpsd listening on TCP too (d.port): the panel's WebSocket console."""
    if not VPS.exists():
        pytest.fail(f"{VPS} is not built: ninja -C $VPS_BUILD")
    port = free_port()
    d = Vpsd().start(extra=("--tcp", f"127.0.0.1:{port}"))
    d.port = port
    yield d
    d.cleanup()


def ws_console_login(d, name, token, password, timings, what):
    """The panel's console for a VM: its serial line over the WebSocket
    (ws.c), driven by a customer who owns it (TOKEN), logging in as root and
    running a command."""
    t0 = time.monotonic()
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{d.port}/api/v1/vps/{name}/console/ws", timeout=30,
        header=[f"Authorization: Bearer {token}"])
    try:
        seen, deadline = b"", time.monotonic() + QEMU_LOGIN_TIMEOUT
        for send, want in ((None, b"login:"), (b"root\r", b"assword:"),
                           (password.encode() + b"\r", b"# "),
                           (b"echo vm-$((40+2))-ws\r", b"vm-42-ws")):
            if send:
                ws.send_binary(send)
            seen = b""
            while want not in seen:
                assert time.monotonic() < deadline, seen[-800:]
                ws.settimeout(max(1, deadline - time.monotonic()))
                seen += ws.recv_data()[1]
            if want == b"login:":
                timings.append((f"vm/qemu {what} to login prompt over the WebSocket (TCG)",
                                time.monotonic() - t0))
    finally:
        ws.close()


def test_vm_qemu_lifecycle(tcp_daemon, vm_template_cached, timings, tmp_path):
    """The VM's owner is a customer, who logs in once (after the restart)
    over the panel's WebSocket console: one boot fewer than a VM of its own
    for that (test_vm_console_over_websocket was one)."""
    d = tcp_daemon
    d.api("POST", "/users", {"name": "vmowner", "role": "customer",
                             "password": "vm owner secret"}, expect=201)
    token = d.api("POST", "/tokens", {"name": "t", "expires_in": 3600, "user": "vmowner"},
                  expect=201)["token"]
    # the customer's own user-data beside the host's (docs/vpsd.md); test_vm_user_data.py
    # checks the seed itself
    ud = tmp_path / "user-data"
    ud.write_text("#cloud-config\nwrite_files:\n- path: /root/ud-ok\n  content: user-data ran\n")
    # memory reserve (the default) locks a VM's RAM and never balloons it:
    # oversell, so that the live `set ram` below goes through the balloon
    vps(d, "policy", "set", "memory", "oversell", "1.5")
    t0 = time.monotonic()
    out = vps(d, "create", "v1", "--kind", "vm", "--engine", "qemu", "--template", "debian-12",
              "--ram", "512M", "--cpus", "1", "--disk", "3G", "--password", "pw",
              "--ssh-key", KEY, "--user-data", str(ud), "--owner", "vmowner")
    timings.append(("vm/qemu create (debian-12, 3G disk)", time.monotonic() - t0))
    assert "v1" in out
    v = show(d, "v1")
    assert (v["kind"], v["engine"], v["state"], v["owner"]) == \
        ("vm", "qemu", "stopped", "vmowner"), v
    vdir = d.data / "vps" / "v1"
    assert (vdir / "disk.img").stat().st_size == 3 << 30
    rundir = d.run / "vps" / "v1"

    def boot(what, password):
        t0 = time.monotonic()
        vps(d, "start", "v1")
        with Console(console_path(d, "v1")) as c:
            c.login(password, QEMU_LOGIN_TIMEOUT)
            timings.append((f"vm/qemu {what}: start to root shell (TCG)",
                            time.monotonic() - t0))
            c.run("hostname; echo END-$((6*7))", "END-42")
            assert "v1\r\nEND-42" in c.tail(), c.tail()
            c.run("cat /root/.ssh/authorized_keys; echo END-$((6*7))", "END-42")
            assert KEY in c.tail(), c.tail()
            # the customer's user-data applied too (its write_files), with the host's password
            # and key above
            c.run("cat /root/ud-ok; echo; echo END-$((6*7))", "END-42")
            assert "user-data ran" in c.tail(), c.tail()
            # cloud-init's stages before the getty (local, network), by systemd's clock
            show = "systemctl show -P ExecMainStartTimestampMonotonic -P " \
                   "ExecMainExitTimestampMonotonic"
            c.run(f"echo CI $({show} cloud-init-local) $({show} cloud-init) END; "
                  "echo END-$((6*7))", "END-42")
            m = re.search(r"CI (\d+)\s+(\d+) (\d+)\s+(\d+) END", c.tail())
            assert m, c.tail()
            us = [int(x) for x in m.groups()]
            timings.append((f"vm/qemu {what}: cloud-init local + network stages (TCG)",
                            (us[1] - us[0] + us[3] - us[2]) / 1e6))

    boot("first boot", "pw")
    v = show(d, "v1")
    assert v["state"] == "running", v
    assert v["monitor"] == {"state": "running", "accel": "tcg"}, v
    assert v["stats"]["balloon_actual"] == 512 << 20, v
    qemu_pids = qemu_of(vdir)
    assert len(qemu_pids) == 1, qemu_pids
    # the jail (docs/security.md): QEMU as the VM's own uid, no capabilities,
    # no_new_privs, seccomp, an empty root and a mount namespace of its own
    assert assert_jailed(qemu_pids[0]) >= 1000000
    assert os.listdir(f"/proc/{qemu_pids[0]}/root") == []

    # balloon: live, down from what it booted with
    out = vps(d, "set", "v1", "ram=384M")
    assert "live" in out, out
    until(lambda: show(d, "v1")["stats"]["balloon_actual"] == 384 << 20, 60,
          "ballooned to 384M")
    assert show(d, "v1")["ram"] == 384 << 20

    # graceful: the power button, the guest powers off, QEMU exits 0
    t0 = time.monotonic()
    vps(d, "stop", "v1", "--timeout", "180")
    timings.append(("vm/qemu graceful stop (power button to exit, TCG)",
                    time.monotonic() - t0))
    v = show(d, "v1")
    assert v["state"] == "stopped" and v["last_exit"] == 0, v
    assert "stopped" in events(d, "v1")

    # a password reset of the stopped VM: a new seed, applied at the next boot
    seed = (vdir / "seed.iso").read_bytes()
    d.api("POST", "/vps/v1/password", {"password": "pw2"})
    new_seed = (vdir / "seed.iso").read_bytes()
    assert new_seed != seed and b"pw2" not in new_seed
    boot("second start, new password", "pw2")
    t0 = time.monotonic()
    vps(d, "restart", "v1")
    timings.append(("vm/qemu restart (graceful stop + start)", time.monotonic() - t0))
    # logged in as root over the owner's WebSocket; the serial console's
    # shell is that login's
    ws_console_login(d, "v1", token, "pw2", timings, "restart")
    with Console(console_path(d, "v1")) as c:
        c.run("echo SAME-$((6*7))", "SAME-42")
        pid = qemu_of(vdir)
        # a reboot inside: QEMU resets the guest in place. Forced (the
        # kernel's reboot(2) at once, after a sync): QEMU sees the same
        # reset, without systemd's shutdown of a guest just booted, slow
        # under TCG (the graceful path is the power button's, above)
        t0 = time.monotonic()
        c.send("sync; reboot -f")
        c.login("pw2", QEMU_LOGIN_TIMEOUT)
        timings.append(("vm/qemu guest reboot to root shell (TCG)", time.monotonic() - t0))
        c.run("hostname; echo END-$((6*7))", "END-42")
        assert "v1\r\nEND-42" in c.tail()
    v = show(d, "v1")
    assert v["state"] == "running" and v["monitor"]["state"] == "running", v
    assert qemu_of(vdir) == pid, "QEMU was not the same process"

    vps(d, "stop", "--force", "v1")
    v = show(d, "v1")
    assert v["state"] == "stopped", v
    assert not qemu_of(vdir) and not procs_under(rundir)

    vps(d, "destroy", "v1")
    assert d.api("GET", "/vps") == []
    assert not vdir.exists() and not rundir.exists()
    assert not procs_under(d.run / "vps"), "a keeper or QEMU outlived the destroy"
    assert not procs_under(vdir), "a keeper or QEMU outlived the destroy"
    ev = events(d, "v1")
    assert ev[0] == "create" and ev[-1] == "destroyed", ev


# ---- vm/vmm in L1 ----
# (512M disks: L1 keeps its writes in memory, and the daemon admits a disk
# only into the room its data directory has)

L1_BASE = "/var/tmp/vpsd-l1"


def l1_vps(l1, *args, timeout=600, check=True):
    cmd = f"VPS_SOCKET={L1_BASE}/run/vpsd.sock {shlex.join([str(VPS), *args])}"
    r = l1.run(cmd, timeout=timeout)
    if check:
        assert r.ok, r
    return r


def l1_show(l1, name):
    return json.loads(l1_vps(l1, "show", name, "--format", "json").stdout)


def l1_console(l1, *steps, timeout=L1_LOGIN_TIMEOUT, name="w1"):
    sock = f"{L1_BASE}/run/vps/{name}/console.sock"
    return l1.run(shlex.join(["python3", str(CONSOLE_PY), sock, str(timeout), *steps]),
                  timeout=timeout + 30)


LOGIN = ("login: ", "root", "Password: ", "pw", "# ")


def l1_boot_to_login(l1, what, timings, name="w1"):
    """The console of NAME until a root shell; a boot that hangs (no prompt, the
    monitor still running: the emulated SVM lost it) is stopped and started
    once more, through framework.retry. A guest crash (exit status 4) fails,
    as does a forced stop that does not stop it. Returns (seconds from the
    call to the shell, whether it retried)."""
    for attempt in ATTEMPTS:
        t0 = time.monotonic()
        r = l1_console(l1, *LOGIN, "hostname; echo END-$((6*7))", "END-42", name=name)
        if r.ok:
            assert f"{name}\r\nEND-42" in r.stdout, r
            return time.monotonic() - t0, attempt > 1
        v = l1_show(l1, name)
        if v["state"] != "running" or attempt == LAST:
            raise AssertionError(f"{what}: no login ({v}): {r}")
        retry(f"vm/vmm {what} in L1", f"no login prompt, monitor running: "
              f"{r.stderr.strip()[-200:]}")
        s = l1_vps(l1, "stop", "--force", name, check=False)
        if not s.ok:
            dmesg = l1.run("dmesg | tail -5", timeout=30).stdout.strip()
            raise AssertionError(f"{what}: forced stop of a hung boot failed: "
                                 f"{s.stderr.strip()}; L1 dmesg: {dmesg[-300:]}")
        l1_vps(l1, "start", name)


def l1_vpsd_start(l1):
    """A private vpsd in L1 (its data in L1's memory, under L1_BASE)."""
    l1.run(f"rm -rf {L1_BASE}; mkdir -p {L1_BASE}; chmod 711 {L1_BASE}; "
           f"setsid {VPSD} --data {L1_BASE}/data --run {L1_BASE}/run "
           f">{L1_BASE}/vpsd.log 2>&1 </dev/null & "
           f"for i in $(seq 100); do test -S {L1_BASE}/run/vpsd.sock && break; sleep 0.1; done",
           check=True, timeout=60)


def in_l1(l1, what, cycle, name):
    """CYCLE() against a private vpsd in L1; a cycle during which L1 stops
    answering runs once more in a fresh L1 (unless this test has used its
    retries: framework.retry.MAX_PER_TEST). Then vpsd's log and the
    monitors' last lines are printed, the VPS NAME destroyed and vpsd ended."""
    try:
        for attempt in ATTEMPTS:
            try:
                l1_vpsd_start(l1)
                cycle()
                break
            except ChannelError as e:
                if attempt == LAST:
                    raise
                retry(what, f"L1 stopped answering: {str(e).splitlines()[0]}")
                l1.restart()
    finally:
        l1_vpsd_clean(l1, name)


def l1_vpsd_clean(l1, name):
    """Print L1's vpsd log and the monitors' last lines, stop and destroy
    the VPS NAME, end that vpsd and remove its files."""
    if l1.healthy:
        log = l1.run(f"cat {L1_BASE}/vpsd.log; "
                     f"for f in {L1_BASE}/run/vps/*/monitor.log; do tail -5 $f; done",
                     timeout=30)
        print(log.stdout)
        l1.run(f"VPS_SOCKET={L1_BASE}/run/vpsd.sock {VPS} stop --force {name} >/dev/null 2>&1; "
               f"VPS_SOCKET={L1_BASE}/run/vpsd.sock {VPS} destroy {name} >/dev/null 2>&1; "
               f"kill $(pgrep -f '^{VPSD} --data {L1_BASE}') 2>/dev/null; "
               f"rm -rf {L1_BASE}", timeout=120)


def vmm_cycle(l1, timings):
    t0 = time.monotonic()
    l1_vps(l1, "create", "w1", "--kind", "vm", "--engine", "vmm", "--template", "debian-12",
           "--ram", "512M", "--cpus", "1", "--disk", "512M", "--password", "pw")
    timings.append(("vm/vmm in L1: create", time.monotonic() - t0))
    t0 = time.monotonic()
    l1_vps(l1, "start", "w1")
    timings.append(("vm/vmm in L1: start (monitor up)", time.monotonic() - t0))
    timings.append(("vm/vmm in L1: start returned to root shell",
                    l1_boot_to_login(l1, "first boot", timings)[0]))
    v = l1_show(l1, "w1")
    assert v["state"] == "running" and v["monitor"]["state"] == "running", v
    # the monitor's jail, from outside (docs/security.md)
    pid = f"$(cat {L1_BASE}/run/vps/w1/monitor.pid)"
    r = l1.run(f"grep -E '^(Uid|Gid|CapEff|CapPrm|NoNewPrivs|Seccomp):' /proc/{pid}/status; "
               f"echo root: $(ls -A /proc/{pid}/root)", check=True)
    st = dict(line.split(":", 1) for line in r.stdout.strip().splitlines())
    assert st["Uid"].split()[0] != "0" and len(set(st["Uid"].split())) == 1, st
    assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0, st
    assert st["NoNewPrivs"].strip() == "1" and st["Seccomp"].strip() == "2", st
    assert st["root"].split() in ([], ["proc"]), st  # the sanitizer build keeps /proc

    # a reboot inside: vps-vmm exits 3, the keeper starts it again. Forced,
    # after a sync, as under QEMU above: the same reset reaches vps-vmm,
    # without systemd's shutdown (the graceful stop below has that)
    t0 = time.monotonic()
    r = l1_console(l1, "", "sync; reboot -f", "reboot: Restarting system", timeout=120)
    assert r.ok or "console closed" in r.stderr, r
    run = f"{L1_BASE}/run/vps/w1"
    l1.run(f"for i in $(seq 600); do test -f {run}/restarted && break; sleep 0.1; done; "
           f"cat {run}/restarted", check=True, timeout=90)
    _, retried = l1_boot_to_login(l1, "reboot", timings)
    timings.append(("vm/vmm in L1: guest reboot to root shell", time.monotonic() - t0))
    v = l1_show(l1, "w1")
    assert v["state"] == "running", v
    # a lost boot after the reboot was started afresh: its count begins again
    assert v.get("reboots") == (None if retried else 1), v
    ev = [json.loads(line)["kind"] for line in
          l1_vps(l1, "events", "--vps", "w1", "--format", "json").stdout.splitlines()]
    assert "rebooted" in ev, ev

    t0 = time.monotonic()
    l1_vps(l1, "stop", "w1", "--timeout", "180", timeout=300)
    timings.append(("vm/vmm in L1: graceful stop", time.monotonic() - t0))
    v = l1_show(l1, "w1")
    assert v["state"] == "stopped" and v["last_exit"] == 0, v
    l1_vps(l1, "destroy", "w1")
    r = l1.run(f"ls -A {L1_BASE}/data/vps; ls -A {L1_BASE}/run/vps; "
               "ps -eo args | grep -E '^[^ ]*(vps-vmm --config|vpsd keep)' || true", check=True)
    assert r.stdout.strip() == "", r


def test_vm_vmm_lifecycle_in_l1(vm_template_cached, l1, timings):
    in_l1(l1, "vm/vmm cycle in L1", lambda: vmm_cycle(l1, timings), "w1")


def test_vm_qemu_jail_kills_foreign_syscall(daemon, vm_template_cached, tmp_path):
    """QEMU's sandbox (spawn=deny) answers an execve(2), made through gdb
    in the jailed monitor, by killing it; vpsd records the end, and the
    host is unchanged (no file where the call pointed)."""
    d = daemon
    # made and started in one request (`start`: true)
    out = vps(d, "create", "j1", "--kind", "vm", "--engine", "qemu", "--template", "debian-12",
              "--ram", "256M", "--cpus", "1", "--disk", "3G", "--password", "pw", "--start")
    assert show(d, "j1")["state"] == "running", out
    vdir = d.data / "vps" / "j1"
    pid = until(lambda: qemu_of(vdir), 60, "QEMU running")[0]
    assert_jailed(pid)
    # the keeper's part (docs/security.md): a cgroup of its own, pid 1 of its own namespace
    # (vps-vm/j1@HASH: this vpsd's run directory is not /run/vps)
    path = (d.run / "vps" / "j1" / "cgroup").read_text().strip()
    assert path.startswith("vps-vm/j1@"), path
    with open(f"/proc/{pid}/cgroup") as f:
        groups = {ln.split(":")[1]: ln.rstrip("\n").split(":", 2)[2] for ln in f}
    assert all(groups[c] == f"/{path}" for c in groups if c in ("pids", "memory", "")), groups
    with open(f"/proc/{pid}/status") as f:
        nspid = next(ln for ln in f if ln.startswith("NSpid:")).split()[1:]
    assert nspid == [str(pid), "1"], nspid
    cg = glob.glob(f"/sys/fs/cgroup/*/{path}") + glob.glob(f"/sys/fs/cgroup/{path}")
    assert cg, f"no cgroup {path}"
    kill_with_foreign_syscall(pid, "/usr/bin/qemu-system-x86_64",
                              '(int)execve("/bin/touch", 0, 0)', tmp_path)
    v = until(lambda: (x := show(d, "j1"))["state"] == "stopped" and x, 60, "stopped")
    assert v["last_exit"] == 128 + SIGSYS, v
    assert not [p for p in cg if os.path.exists(p)], "the cgroup outlived its VM"
    vps(d, "destroy", "j1")


def test_vm_cgroup_does_not_outlive_a_killed_keeper(daemon, vm_template_cached):
    """kill -9 of a VM's keeper (the monitor's parent, which removes the
    monitor's cgroup when it ends): vpsd sees the keeper gone, records the VM
    stopped, ends the monitor left in the cgroup and removes the cgroup. The
    same when vpsd was down as the keeper died: the next vpsd does it. (The
    monitor, pid 1 of its own namespace and of the VM's uid, would run on:
    nothing else ends it with its keeper.)"""
    d = daemon
    vps(d, "create", "k1", "--kind", "vm", "--engine", "qemu", "--template", "debian-12",
        "--ram", "256M", "--cpus", "1", "--disk", "3G", "--password", "pw")
    vps(d, "start", "k1")
    vdir = d.data / "vps" / "k1"
    pid = until(lambda: qemu_of(vdir), 60, "QEMU running")[0]
    path = (d.run / "vps" / "k1" / "cgroup").read_text().strip()
    cg = glob.glob(f"/sys/fs/cgroup/*/{path}") + glob.glob(f"/sys/fs/cgroup/{path}")
    assert cg, f"no cgroup {path}"
    keeper = int((d.run / "vps" / "k1" / "keeper.pid").read_text())
    os.kill(keeper, 9)
    until(lambda: show(d, "k1")["state"] == "stopped", 60, "stopped")
    until(lambda: not os.path.exists(f"/proc/{pid}"), 30, "the monitor ended")
    until(lambda: not [p for p in cg if os.path.exists(p)], 30, "the cgroup removed")
    # vpsd down when the keeper dies: the next vpsd ends what it left
    vps(d, "start", "k1")
    pid = until(lambda: qemu_of(vdir), 60, "QEMU running again")[0]
    assert [p for p in cg if os.path.exists(p)], "no cgroup at the second start"
    keeper = int((d.run / "vps" / "k1" / "keeper.pid").read_text())
    d.kill9()
    os.kill(keeper, 9)
    until(lambda: not os.path.exists(f"/proc/{keeper}"), 10, "the keeper ended")
    assert os.path.exists(f"/proc/{pid}"), "the monitor died with its keeper on its own"
    d.start(timeout=120)
    assert show(d, "k1")["state"] == "stopped"
    until(lambda: not os.path.exists(f"/proc/{pid}"), 30, "the monitor ended")
    until(lambda: not [p for p in cg if os.path.exists(p)], 30, "the cgroup removed")
    vps(d, "destroy", "k1")


def test_vm_keeper_killed_while_starting_leaves_nothing(daemon, vm_template_cached):
    """kill -9 of a VM's keeper once QEMU runs, while vpsd still waits for
    the VM to come up: however far the start got (vpsd had not read the
    keeper's pid yet, or QEMU, orphaned, went on to open its QMP socket and
    say `running`), the VM ends stopped with no monitor and no cgroup left,
    not `running` with no keeper watched and its QEMU running on."""
    d = daemon
    vps(d, "create", "w1", "--kind", "vm", "--engine", "qemu", "--template", "debian-12",
        "--ram", "256M", "--cpus", "1", "--disk", "3G", "--password", "pw")
    run, vdir = d.run / "vps" / "w1", d.data / "vps" / "w1"
    answer = []

    def start():
        try:
            answer.append(d.request("POST", "/api/v1/vps/w1/start"))
        except AssertionError as e:  # an answer the description does not allow
            answer.append(e)

    t = threading.Thread(target=start)
    t.start()
    keeper = until(lambda: (run / "keeper.pid").exists() and (run / "keeper.pid").read_text(),
                   30, "a keeper")
    path = until(lambda: (run / "cgroup").exists() and (run / "cgroup").read_text().strip(),
                 30, "the monitor's cgroup")
    cg = glob.glob(f"/sys/fs/cgroup/*/{path}") + glob.glob(f"/sys/fs/cgroup/{path}")
    assert cg, f"no cgroup {path}"
    # past the keeper's go-ahead: the monitor runs (a kill before it ends the child with it)
    until(lambda: (run / "monitor.pid").exists() and qemu_of(vdir), 30, "QEMU started")
    os.kill(int(keeper), 9)
    t.join(120)
    assert answer and not isinstance(answer[0], AssertionError), answer
    until(lambda: show(d, "w1")["state"] == "stopped", 60, "stopped")
    until(lambda: not qemu_of(vdir), 30, "no QEMU left")
    until(lambda: not [p for p in cg if os.path.exists(p)], 30, "the cgroup removed")
    vps(d, "destroy", "w1")


def test_vm_start_that_never_comes_up_leaves_nothing(daemon, vm_template_cached, tmp_path):
    """A start whose monitor runs but never comes up (here a stand-in for
    QEMU that opens no QMP socket, as a QEMU given a cut argv did) fails
    after vpsd's --start-timeout (10 s here; 60 by default), and the VPS it
    records stopped has nothing left running: its keeper ended (else it
    would start the monitor again) and its monitor, pid 1 of its own
    namespace, ended through its cgroup (else it would run on with the VM's
    disks and tap, its keeper gone)."""
    d = daemon
    mark = f"vps-fake-qemu-{os.getpid()}"
    fake = tmp_path / "fake-qemu"
    fake.write_text(f"#!/bin/bash\nexec -a {mark} sleep 600\n")
    fake.chmod(0o755)
    d.stop()
    d.start(env={"VPS_QEMU": str(fake)}, extra=("--start-timeout", "10"))
    vps(d, "create", "s1", "--kind", "vm", "--engine", "qemu", "--template", "debian-12",
        "--ram", "256M", "--cpus", "1", "--disk", "3G", "--password", "pw")

    def fakes():
        return procs_under(mark, mark.encode())

    answer = []
    t = threading.Thread(target=lambda: answer.append(d.request("POST", "/api/v1/vps/s1/start")))
    t.start()
    # the stand-in runs while the start waits for it
    until(fakes, 8, "the stand-in monitor running")
    t.join(60)
    code, j = answer[0]
    assert code != 200 and "did not start within 10 s" in j["error"]["message"], (code, j)
    assert show(d, "s1")["state"] == "stopped"
    # the keeper's command line names the run directory; the stand-in's, its mark
    until(lambda: not procs_under(d.run / "vps" / "s1") and not fakes(), 10,
          "the keeper and the monitor ended")
    path = (d.run / "vps" / "s1" / "cgroup").read_text().strip()
    assert not glob.glob(f"/sys/fs/cgroup/*/{path}") + glob.glob(f"/sys/fs/cgroup/{path}")
    vps(d, "destroy", "s1")
